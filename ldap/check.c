/*
 * check.c - a user's own bind, and on OpenLDAP their own password change,
 * on the connections the pool keeps for that (pool.c's user pool).
 *
 * Whether a password is right is asked the one way every directory answers
 * it: a simple bind as the user. The pool keeps a few TLS connections that
 * ssprd never binds as the service account; a check re-binds one of them as
 * the user, so it costs one round trip, not a TCP connection and a TLS
 * handshake. A bind must be the only request in flight on its connection
 * (RFC 4511, 4.2.1): each of these connections carries one check at a time,
 * and the next bind on it replaces the identity this one left.
 *
 * A change on OpenLDAP: slapd checks an old password (RFC 3062 oldPasswd)
 * only when the user changes their own entry, so right after a successful
 * bind the password modify extended operation, with the ppolicy request
 * control, goes over the same connection, as the user.
 *
 * Outcomes are mapped as session.c maps them (session_map_result()): a
 * successful bind is success whatever control comes with it; any other
 * answer is the user's reason (wrong password, locked, expired...). The
 * connection is kept after an answer, invalidCredentials included, and
 * replaced after a transport failure, a timeout (pool.c), or an answer that
 * says the server will not go on with it.
 *
 * Guarantees: the passwords are in secret memory (common/secret.h), never
 * logged; the new and old ones are wiped as soon as the change is written
 * to the connection, and the bind's when the operation ends (a bind whose
 * connection died before the answer is sent again on another one, as a
 * connection to the next server would have; a change never is: it ends with
 * maybe_applied).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

#include "common/secret.h"
#include "common/xalloc.h"
#include "ldap/dirint.h"

struct check {
	struct dir *dir;
	char *dn;
	char *pw;		/* secret memory */
	size_t len;
	char *new_pw;		/* secret memory; NULL: a check only */
	size_t new_len;
	bool changing;		/* bound: the change goes next */
	struct dir_result res;
	dir_done_fn *cb;
	void *arg;
};

static int
check_send(struct dir_op *op, LDAP *ld, int *msgid)
{
	struct check *k = op->priv;
	LDAPControl ppreq = { .ldctl_oid = LDAP_CONTROL_PASSWORDPOLICYREQUEST };
	LDAPControl *ctrls[] = { &ppreq, NULL };
	struct berval user = { strlen(k->dn), k->dn };
	struct berval oldpw = { k->len, k->pw };
	struct berval newpw = { k->new_len, k->new_pw };
	int rc;

	if (!k->changing)
		/* the ppolicy control tells "locked" from "wrong password" */
		return ldap_sasl_bind(ld, k->dn, LDAP_SASL_SIMPLE, &oldpw,
		    dir_type(k->dir) == DIR_TYPE_OPENLDAP ? ctrls : NULL, NULL,
		    msgid);
	rc = ldap_passwd(ld, &user, &oldpw, &newpw, ctrls, NULL, msgid);
	/* Written, or never to be: not sent again either way. */
	secret_free(k->pw);
	secret_free(k->new_pw);
	k->pw = k->new_pw = NULL;
	k->len = k->new_len = 0;
	return rc;
}

/* Answers after which the server will not go on with this connection, or
 * that could not be read: it is replaced. */
static bool
leaves_doubt(int rc)
{
	return rc < 0 || rc == LDAP_PROTOCOL_ERROR || rc == LDAP_BUSY ||
	    rc == LDAP_UNAVAILABLE;
}

static enum dir_step
check_more(struct dir_op *op, LDAP *ld, LDAPMessage *answer)
{
	struct check *k = op->priv;
	LDAPControl **ctrls = NULL;
	char *text = NULL;
	int rc, err = LDAP_OTHER;

	rc = ldap_parse_result(ld, answer, &err, NULL, &text, NULL, &ctrls, 0);
	if (rc == LDAP_SUCCESS)
		rc = err;
	if (!k->changing && rc == LDAP_SUCCESS) {
		if (k->new_pw != NULL) {
			ldap_memfree(text);
			ldap_controls_free(ctrls);
			/* From here on the request may change the password:
			 * never sent twice. */
			k->changing = true;
			op->kind = DIR_OPK_CHANGE;
			op->idempotent = false;
			return DIR_STEP_NEXT;
		}
		memset(&k->res, 0, sizeof(k->res));
	} else {
		/* An unreadable answer: the handle's own diagnostic may be
		 * the previous user's, so it is not asked. */
		session_map_result(rc < 0 ? NULL : ld, dir_type(k->dir),
		    op->kind, rc, text, ctrls, true, &k->res);
	}
	k->res.server = op->server ? op->server->uri : NULL;
	ldap_memfree(text);
	ldap_controls_free(ctrls);
	return leaves_doubt(rc) ? DIR_STEP_LAST_DROP : DIR_STEP_LAST;
}

static void
check_done(struct dir_op *op, LDAP *ld, LDAPMessage *answer)
{
	struct check *k = op->priv;

	k->cb(&k->res, k->arg);
}

static void
check_fail(struct dir_op *op, const struct dir_result *res)
{
	struct check *k = op->priv;
	struct dir_result r = *res;

	/* Lost during the bind: the change was never sent. */
	if (!k->changing)
		r.maybe_applied = false;
	k->cb(&r, k->arg);
}

static void
check_destroy(void *priv)
{
	struct check *k = priv;

	secret_free(k->pw);
	secret_free(k->new_pw);
	free(k->dn);
	free(k);
}

static const struct dir_op_class check_class = {
	.name = "user bind",
	.send = check_send,
	.more = check_more,
	.done = check_done,
	.fail = check_fail,
	.destroy = check_destroy,
};

/* An empty password is never sent: a simple bind without one is an
 * unauthenticated bind, which AD answers with success unless told not to
 * (RFC 4513 5.1.2). It is a wrong password, told from the loop. */
static void
refuse_empty(void *arg)
{
	struct check *k = arg;

	k->cb(&k->res, k->arg);
	check_destroy(k);
}

void
dir_user_bind(struct dir *d, const char *dn, const char *pw, size_t len,
    const char *new_pw, size_t new_len, dir_done_fn *cb, void *arg)
{
	struct check *k = xcalloc(1, sizeof(*k));
	struct dir_op *op;

	k->dir = d;
	k->dn = xstrdup(dn);
	k->pw = secret_dup(pw, len);
	k->len = len;
	if (new_pw != NULL) {
		k->new_pw = secret_dup(new_pw, new_len);
		k->new_len = new_len;
	}
	k->cb = cb;
	k->arg = arg;
	if (len == 0) {
		k->res.reason = DIR_WRONG_PASSWORD;
		snprintf(k->res.detail, sizeof(k->res.detail),
		    "an empty password is not sent");
		dir_later(d, refuse_empty, k);
		return;
	}
	/* Never sent twice, not even a bind whose connection died before its
	 * answer: the server may have counted it, and a wrong password sent
	 * again would count twice towards the account's lockout (AD's
	 * badPwdCount, ppolicy's pwdFailureTime). */
	op = dir_op_new(d, &check_class, k, DIR_OPK_BIND, false);
	op->as_user = true;
	/* a change is a write: one per entry at a time, as pool.c's */
	if (new_pw != NULL)
		op->serial = k->dn;
	dir_op_submit(op);
}
