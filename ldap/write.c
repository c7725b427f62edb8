/*
 * write.c - password writes and unlocks, for Active Directory and OpenLDAP.
 *
 * AD: a reset replaces unicodePwd with the password in double quotes,
 * UTF-16LE (surrogate pairs above the BMP), plus lockoutTime: 0 in the same
 * modify when unlock_on_reset, plus the policy-hints control when the server
 * offers it and enforce_history is not "no" (with "yes" and no control, the
 * reset is refused before anything is sent). A change deletes the old value
 * and adds the new one in one modify, so the server checks the old password.
 * An unlock replaces lockoutTime with 0.
 *
 * OpenLDAP: the RFC 3062 password modify extended operation with the
 * ppolicy request control. slapd verifies an old password only when the
 * user changes their own entry, so a change binds as the user on one of the
 * pool's user connections and sends oldPasswd there (check.c); an unlock
 * deletes pwdAccountLockedTime. A failed write is reported as it is: never
 * retried as another kind of write, never sent twice (writes are not
 * idempotent for the pool). Unlocks are idempotent and may be resent.
 *
 * Passwords are copied into secret memory (common/secret.h) and wiped when
 * the operation ends. (libldap's own encoding buffer for the request is outside
 * our reach; it is freed as soon as the request is written.)
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "ldap/dirint.h"

enum write_kind { W_RESET, W_CHANGE, W_UNLOCK, W_ATTRS };

struct write {
	struct dir *dir;
	enum write_kind kind;
	char *dn;
	char *new_pw;		/* secret memory, NUL-terminated */
	size_t new_len;
	char *old_pw;
	size_t old_len;
	dir_done_fn *cb;
	void *arg;
	/* W_ATTRS: attributes to replace (value NULL: remove) */
	size_t nattrs;
	char *attr[DIR_ATTRS_MAX];
	char *value[DIR_ATTRS_MAX];
};

/* "password" as UTF-16LE in protected memory; NULL when not valid UTF-8. */
static struct berval *
unicode_pwd(const char *pw, size_t len, struct berval *bv)
{
	size_t size = utf16le_size(len, true);
	unsigned char *buf = secret_alloc(size);

	bv->bv_len = utf8_to_utf16le(pw, len, true, buf);
	bv->bv_val = (char *)buf;
	if (bv->bv_len == 0) {
		secret_free(buf);
		return NULL;
	}
	return bv;
}

/* BER SEQUENCE { flags INTEGER 1 }: "enforce password history". */
static int
policy_hints_value(struct berval *out)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	int rc = -1;

	if (ber == NULL)
		return -1;
	if (ber_printf(ber, "{i}", (ber_int_t)1) >= 0 && ber_flatten2(ber, out, 1) == 0)
		rc = 0;
	ber_free(ber, 1);
	return rc;
}

static int
send_ad(struct write *w, LDAP *ld, const struct dir_server_info *srv, int *msgid)
{
	const struct config *cfg = dir_config(w->dir);
	struct berval newv = { 0 }, oldv = { 0 }, zero = { 1, "0" };
	struct berval *newvals[] = { &newv, NULL }, *oldvals[] = { &oldv, NULL };
	struct berval *zerovals[] = { &zero, NULL };
	LDAPMod m_del = { .mod_op = LDAP_MOD_DELETE | LDAP_MOD_BVALUES,
	    .mod_type = "unicodePwd", .mod_bvalues = oldvals };
	LDAPMod m_new = { .mod_op = LDAP_MOD_BVALUES, .mod_type = "unicodePwd",
	    .mod_bvalues = newvals };
	LDAPMod m_lock = { .mod_op = LDAP_MOD_REPLACE | LDAP_MOD_BVALUES,
	    .mod_type = "lockoutTime", .mod_bvalues = zerovals };
	LDAPMod *mods[4] = { NULL };
	LDAPControl hints = { 0 }, *ctrls[2] = { NULL };
	size_t n = 0;
	int rc;

	switch (w->kind) {
	case W_ATTRS:		/* sent by send_attrs() */
		return LDAP_PARAM_ERROR;
	case W_UNLOCK:
		mods[n++] = &m_lock;
		break;
	case W_RESET:
		if (*srv->policy_hints_oid != '\0' &&
		    cfg->directory.enforce_history != HISTORY_NO) {
			if (policy_hints_value(&hints.ldctl_value) != 0)
				return LDAP_NO_MEMORY;
			hints.ldctl_oid = (char *)srv->policy_hints_oid;
			hints.ldctl_iscritical = 1;
			ctrls[0] = &hints;
		} else if (cfg->directory.enforce_history == HISTORY_YES) {
			log_errorx("ldap: %s offers no policy hints control and "
			    "enforce_history = yes: refusing the reset of %s",
			    srv->uri, w->dn);
			return LDAP_UNWILLING_TO_PERFORM;
		}
		if (unicode_pwd(w->new_pw, w->new_len, &newv) == NULL)
			return LDAP_PARAM_ERROR;
		m_new.mod_op = LDAP_MOD_REPLACE | LDAP_MOD_BVALUES;
		mods[n++] = &m_new;
		if (cfg->directory.unlock_on_reset)
			mods[n++] = &m_lock;
		break;
	case W_CHANGE:
		if (unicode_pwd(w->old_pw, w->old_len, &oldv) == NULL)
			return LDAP_PARAM_ERROR;
		if (unicode_pwd(w->new_pw, w->new_len, &newv) == NULL) {
			secret_free(oldv.bv_val);
			return LDAP_PARAM_ERROR;
		}
		m_new.mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
		mods[n++] = &m_del;
		mods[n++] = &m_new;
		break;
	}
	rc = ldap_modify_ext(ld, w->dn, mods, ctrls[0] ? ctrls : NULL, NULL, msgid);
	secret_free(newv.bv_val);
	secret_free(oldv.bv_val);
	ber_memfree(hints.ldctl_value.bv_val);
	return rc;
}

static int
send_openldap(struct write *w, LDAP *ld, int *msgid)
{
	struct berval user = { strlen(w->dn), w->dn };
	struct berval newpw = { w->new_len, w->new_pw };
	struct berval oldpw = { w->old_len, w->old_pw };
	LDAPControl ppreq = { .ldctl_oid = LDAP_CONTROL_PASSWORDPOLICYREQUEST };
	LDAPControl *ctrls[] = { &ppreq, NULL };
	LDAPMod m_unlock = { .mod_op = LDAP_MOD_DELETE,
	    .mod_type = "pwdAccountLockedTime" };
	LDAPMod *mods[] = { &m_unlock, NULL };

	if (w->kind == W_UNLOCK)
		return ldap_modify_ext(ld, w->dn, mods, NULL, NULL, msgid);
	return ldap_passwd(ld, &user, w->kind == W_CHANGE ? &oldpw : NULL,
	    &newpw, ctrls, NULL, msgid);
}

/* One modify replacing (or removing) each attribute: the directory applies
 * all or none. */
static int
send_attrs(struct write *w, LDAP *ld, int *msgid)
{
	LDAPMod mod[DIR_ATTRS_MAX], *mods[DIR_ATTRS_MAX + 1];
	struct berval bv[DIR_ATTRS_MAX], *vals[DIR_ATTRS_MAX][2];

	for (size_t i = 0; i < w->nattrs; i++) {
		memset(&mod[i], 0, sizeof(mod[i]));
		mod[i].mod_op = (w->value[i] ? LDAP_MOD_REPLACE : LDAP_MOD_DELETE) |
		    LDAP_MOD_BVALUES;
		mod[i].mod_type = w->attr[i];
		if (w->value[i] != NULL) {
			bv[i].bv_val = w->value[i];
			bv[i].bv_len = strlen(w->value[i]);
			vals[i][0] = &bv[i];
			vals[i][1] = NULL;
			mod[i].mod_bvalues = vals[i];
		}
		mods[i] = &mod[i];
	}
	mods[w->nattrs] = NULL;
	return ldap_modify_ext(ld, w->dn, mods, NULL, NULL, msgid);
}

static int
write_send(struct dir_op *op, LDAP *ld, int *msgid)
{
	struct write *w = op->priv;

	if (w->kind == W_ATTRS)
		return send_attrs(w, ld, msgid);
	if (dir_type(w->dir) == DIR_TYPE_AD)
		return send_ad(w, ld, op->server, msgid);
	return send_openldap(w, ld, msgid);
}

static void
write_done(struct dir_op *op, LDAP *ld, LDAPMessage *answer)
{
	struct write *w = op->priv;
	struct dir_result res;
	LDAPControl **ctrls = NULL;
	char *text = NULL;
	int err = LDAP_OTHER;

	if (ldap_parse_result(ld, answer, &err, NULL, &text, NULL, &ctrls, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	/* Unlocking an account that is not locked is success; so is removing
	 * an attribute that is not there. */
	if ((w->kind == W_UNLOCK || w->kind == W_ATTRS) &&
	    err == LDAP_NO_SUCH_ATTRIBUTE)
		err = LDAP_SUCCESS;
	session_map_result(ld, dir_type(w->dir), op->kind, err, text, ctrls,
	    true, &res);
	res.server = op->server ? op->server->uri : NULL;
	ldap_memfree(text);
	ldap_controls_free(ctrls);
	w->cb(&res, w->arg);
}

static void
write_fail(struct dir_op *op, const struct dir_result *res)
{
	struct write *w = op->priv;

	w->cb(res, w->arg);
}

static void
write_destroy(void *priv)
{
	struct write *w = priv;

	secret_free(w->new_pw);
	secret_free(w->old_pw);
	for (size_t i = 0; i < w->nattrs; i++) {
		free(w->attr[i]);
		free(w->value[i]);
	}
	free(w->dn);
	free(w);
}

static const struct dir_op_class write_class = {
	.name = "password write",
	.send = write_send,
	.done = write_done,
	.fail = write_fail,
	.destroy = write_destroy,
};

static const struct dir_op_class unlock_class = {
	.name = "unlock",
	.send = write_send,
	.done = write_done,
	.fail = write_fail,
	.destroy = write_destroy,
};

static void
submit(struct dir *d, struct write *w)
{
	/* replaces and unlocks are idempotent; password writes are not */
	bool unlock = (w->kind == W_UNLOCK || w->kind == W_ATTRS);
	struct dir_op *op;

	w->dir = d;
	op = dir_op_new(d, unlock ? &unlock_class : &write_class, w,
	    w->kind == W_CHANGE ? DIR_OPK_CHANGE : DIR_OPK_RESET, unlock);
	op->serial = w->dn;	/* one write per entry at a time */
	dir_op_submit(op);
}

void
dir_reset_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg)
{
	struct write *w = xcalloc(1, sizeof(*w));

	w->kind = W_RESET;
	w->dn = xstrdup(dn);
	w->new_pw = secret_dup(password, len);
	w->new_len = len;
	w->cb = cb;
	w->arg = arg;
	submit(d, w);
}

void
dir_change_password(struct dir *d, const char *dn, const char *old_pw,
    size_t old_len, const char *new_pw, size_t new_len, dir_done_fn *cb,
    void *arg)
{
	struct write *w;

	if (dir_type(d) == DIR_TYPE_OPENLDAP) {
		/* slapd checks an old password only for the user's own entry */
		dir_user_bind(d, dn, old_pw, old_len, new_pw, new_len, cb, arg);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->kind = W_CHANGE;
	w->dn = xstrdup(dn);
	w->old_pw = secret_dup(old_pw, old_len);
	w->old_len = old_len;
	w->new_pw = secret_dup(new_pw, new_len);
	w->new_len = new_len;
	w->cb = cb;
	w->arg = arg;
	submit(d, w);
}

void
dir_unlock(struct dir *d, const char *dn, dir_done_fn *cb, void *arg)
{
	struct write *w = xcalloc(1, sizeof(*w));

	w->kind = W_UNLOCK;
	w->dn = xstrdup(dn);
	w->cb = cb;
	w->arg = arg;
	submit(d, w);
}

void
dir_check_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg)
{
	dir_user_bind(d, dn, password, len, NULL, 0, cb, arg);
}

void
dir_set_attributes(struct dir *d, const char *dn,
    const struct dir_attr_change *changes, size_t n, dir_done_fn *cb,
    void *arg)
{
	struct write *w = xcalloc(1, sizeof(*w));

	if (n > DIR_ATTRS_MAX)
		fatalx("ldap: too many attributes in one change");
	w->kind = W_ATTRS;
	w->dn = xstrdup(dn);
	w->nattrs = n;
	for (size_t i = 0; i < n; i++) {
		w->attr[i] = xstrdup(changes[i].attr);
		w->value[i] = changes[i].value ? xstrdup(changes[i].value) : NULL;
	}
	w->cb = cb;
	w->arg = arg;
	submit(d, w);
}
