/*
 * session.c - open one TLS-protected connection to one server, bound as
 * the service account or left for the pool's user binds.
 *
 * This is the only blocking part of ldap/: libldap's TLS handshake and SASL
 * exchanges cannot be driven from an event loop, so the pool runs
 * session_open() on a worker thread and hands the handle to the loop
 * afterwards; ssprctl test-bind calls it directly. Every step is bounded by
 * [directory] timeout (LDAP_OPT_NETWORK_TIMEOUT for the TCP connect of each
 * address and for the TLS handshake, LDAP_OPT_TIMEOUT for each request),
 * and every wait is on the socket, never a loop: a server that accepts the
 * connection and then says nothing costs no CPU (tls_deadline()).
 *
 * Guarantees: certificates are always verified (LDAP_OPT_X_TLS_DEMAND, host
 * name included, TLS 1.2 at least) against ca_file or the system store; the
 * user's ldap.conf and ~/.ldaprc are ignored (LDAPNOINIT), so nothing outside
 * ssprd.ini changes how ssprd trusts a server; no password is sent before
 * TLS is up, except over ldapi:// (a local socket).
 */
#include "build.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>
#include <sasl/sasl.h>
#include <sodium.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "ldap/dirint.h"

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
/* Least SASL security strength accepted without TLS (DES-class and up). */
#define MIN_SSF 56
#define MIN_SSF_TEXT "56"

#define OID_POLICY_HINTS "1.2.840.113556.1.4.2239"
#define OID_POLICY_HINTS_DEPRECATED "1.2.840.113556.1.4.2066"
#define OID_AD_CAPABILITY "1.2.840.113556.1.4.800"

/* Whether Cyrus SASL's plugins were left unloaded (session_global_init). */
static bool sasl_plugins_off;
/* Whether libldap runs tls_deadline() on every connection. */
static bool hooked;

/* Simple binds (the service account's and the users') need no SASL
 * mechanism, and EXTERNAL is built into libsasl2; every other mechanism
 * comes from a plugin. */
static bool
needs_sasl_plugins(const struct config *cfg)
{
	return cfg->directory.bind == BIND_SASL &&
	    cfg->directory.sasl_mech != NULL &&
	    strcmp(cfg->directory.sasl_mech, "EXTERNAL") != 0;
}

/*
 * The TLS handshake, under the timeout and without spinning.
 *
 * libldap 2.5 and 2.6 (ldap_int_tls_start()), given a network timeout, make
 * the socket non-blocking for the handshake; but only on a connection
 * opened "async" (LDAP_OPT_CONNECT_ASYNC) do they wait for the socket
 * between handshake steps and give up once the timeout has passed. On any
 * other they call the handshake again at once, with no deadline: a server
 * that accepts the TCP connection and never answers costs a whole CPU
 * (read() failing with EAGAIN, ~5 000 times a second) for as long as it
 * stays silent. Opening async is no answer either: libldap then does not
 * wait for the TCP connect, so it never tries a host's next address.
 *
 * So the TCP connect stays synchronous (each address bounded by the
 * network timeout, tried in turn), and this callback, which libldap runs
 * once an address is connected and before the handshake, turns the handle
 * async for the handshake: it then waits in poll() and fails with
 * LDAP_TIMEOUT once the network timeout has passed since it began, on
 * ldaps:// and after StartTLS alike. The socket stays blocking (libldap
 * makes it so after a synchronous connect, and the async handshake leaves
 * it), so its reads and writes get the same bound: a read that gets nothing
 * for that long fails with EAGAIN, which the handshake takes as "wait", and
 * the deadline ends it. The bounds stay on the socket: no read or write of
 * the connection afterwards waits longer either (the pool shortens the
 * write bound, conn_ready()).
 *
 * libldap reads the async flag nowhere else but when it opens a connection;
 * session_open() turns it off again after the handshake, so that one
 * libldap might open later connects synchronously too. A handle without a
 * network timeout is left alone: its handshake blocks, and does not spin.
 */
static int
tls_deadline(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *ctx)
{
	struct timeval *tv = NULL;
	ber_socket_t fd = -1;
	int rc = -1;

	if (ldap_get_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) !=
	    LDAP_OPT_SUCCESS)
		return -1;
	if (tv == NULL)
		return 0;
	if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, sizeof(*tv)) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, sizeof(*tv)) == 0 &&
	    ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON) ==
	    LDAP_OPT_SUCCESS)
		rc = 0;
	ldap_memfree(tv);
	/* Not 0: libldap closes this socket and tries the next address. */
	return rc;
}

static void
tls_deadline_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	/* nothing to undo: the bounds go with the socket */
}

void
session_global_init(const struct config *cfg)
{
	/* Before libldap reads its configuration files for the first time. */
	setenv("LDAPNOINIT", "1", 1);

	/*
	 * The first time libldap initialises Cyrus SASL, SASL loads every
	 * plugin installed, and with them libcrypto, libdb and the Kerberos
	 * libraries: about 3 MB of resident memory and code ssprd never runs
	 * when it binds simply or with EXTERNAL. Then point SASL's plugin
	 * path at a directory that holds no plugin and never can:
	 * /proc/self/fdinfo, whose entries are descriptor numbers, and SASL
	 * only opens names ending in .so or .la. (Not /dev/null: SASL then
	 * logs at every start that it is not a directory.) This is decided
	 * once per process: a reload that needs a plugin is refused
	 * (dir_reconfigurable()).
	 */
	if (cfg != NULL && !needs_sasl_plugins(cfg)) {
		static char nowhere[] = "/proc/self/fdinfo";

		if (sasl_set_path(SASL_PATH_TYPE_PLUGIN, nowhere) == SASL_OK)
			sasl_plugins_off = true;
	}

	/*
	 * Every handle of the process gets tls_deadline(): the pool's, the
	 * users' binds, and ssprctl test-bind's, the handshake without
	 * verification that fetches a certificate included. (libldap keeps
	 * a pointer to cb.) After the two settings above: setting a global
	 * option initialises libldap, and with it Cyrus SASL.
	 */
	if (!hooked) {
		static struct ldap_conncb cb = {
			.lc_add = tls_deadline,
			.lc_del = tls_deadline_del,
		};

		if (ldap_set_option(NULL, LDAP_OPT_CONNECT_CB, &cb) !=
		    LDAP_OPT_SUCCESS)
			fatalx("ldap: cannot bound the TLS handshake");
		hooked = true;
	}
}

bool
dir_reconfigurable(const struct config *next, char *why, size_t size)
{
	if (sasl_plugins_off && needs_sasl_plugins(next)) {
		snprintf(why, size, "sasl_mech = %s needs Cyrus SASL's plugins, "
		    "which ssprd loads only when it starts with a configuration "
		    "that uses one: restart ssprd to use it",
		    next->directory.sasl_mech);
		return false;
	}
	return true;
}

static bool
str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static bool
list_differs(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return true;
	return false;
}

/*
 * Everything ldap/ reads from a configuration, compared by content: the
 * session (below), the pool (connections, uris, timeout, max_wait), the
 * lookups (filter, attributes, groups, the password policy read) and the
 * writes (unlock_on_reset,
 * enforce_history). A pool keeps the snapshot it was built from, so any
 * difference here needs a new pool; none, and a reload keeps the
 * connections.
 */
bool
dir_config_differs(const struct config *a, const struct config *b)
{
	const typeof(a->directory) *x = &a->directory, *y = &b->directory;

	return x->type != y->type || list_differs(&x->uris, &y->uris) ||
	    str_differs(x->base_dn, y->base_dn) ||
	    str_differs(x->user_filter, y->user_filter) ||
	    x->bind != y->bind || str_differs(x->bind_dn, y->bind_dn) ||
	    x->bind_password_len != y->bind_password_len ||
	    (x->bind_password != NULL && y->bind_password != NULL &&
	    sodium_memcmp(x->bind_password, y->bind_password,
	    x->bind_password_len) != 0) ||
	    (x->bind_password == NULL) != (y->bind_password == NULL) ||
	    str_differs(x->sasl_mech, y->sasl_mech) ||
	    str_differs(x->sasl_authz_id, y->sasl_authz_id) ||
	    str_differs(x->sasl_keytab, y->sasl_keytab) ||
	    str_differs(x->ca_file, y->ca_file) ||
	    str_differs(x->tls_cert_file, y->tls_cert_file) ||
	    str_differs(x->tls_key_file, y->tls_key_file) ||
	    x->starttls != y->starttls || x->connections != y->connections ||
	    x->timeout != y->timeout ||
	    x->unlock_on_reset != y->unlock_on_reset ||
	    x->enforce_history != y->enforce_history ||
	    str_differs(x->ppolicy_default, y->ppolicy_default) ||
	    a->policy.directory_rules != b->policy.directory_rules ||
	    a->daemon.max_wait != b->daemon.max_wait ||
	    str_differs(a->email.attribute, b->email.attribute) ||
	    str_differs(a->sms.attribute, b->sms.attribute) ||
	    str_differs(a->email.recovery_attribute,
	    b->email.recovery_attribute) ||
	    str_differs(a->sms.recovery_attribute, b->sms.recovery_attribute) ||
	    str_differs(a->questions.attribute, b->questions.attribute) ||
	    str_differs(a->totp.attribute, b->totp.attribute) ||
	    list_differs(&a->policy.allowed_groups, &b->policy.allowed_groups) ||
	    list_differs(&a->policy.admin_groups, &b->policy.admin_groups);
}

struct session_cfg *
session_cfg_new(const struct config *cfg)
{
	struct session_cfg *sc = xcalloc(1, sizeof(*sc));
	const typeof(cfg->directory) *c = &cfg->directory;

	sc->type = c->type;
	sc->ca_file = xstrdup(c->ca_file ? c->ca_file : SYSTEM_CA_FILE);
	sc->tls_cert_file = c->tls_cert_file ? xstrdup(c->tls_cert_file) : NULL;
	sc->tls_key_file = c->tls_key_file ? xstrdup(c->tls_key_file) : NULL;
	sc->starttls = c->starttls;
	sc->timeout = c->timeout;
	sc->bind = c->bind;
	sc->bind_dn = c->bind_dn ? xstrdup(c->bind_dn) : NULL;
	if (c->bind_password != NULL) {
		sc->bind_password = sodium_malloc(c->bind_password_len + 1);
		if (sc->bind_password == NULL)
			abort();
		memcpy(sc->bind_password, c->bind_password,
		    c->bind_password_len + 1);
		sc->bind_password_len = c->bind_password_len;
	}
	sc->sasl_mech = c->sasl_mech ? xstrdup(c->sasl_mech) : NULL;
	sc->sasl_authz_id = c->sasl_authz_id ? xstrdup(c->sasl_authz_id) : NULL;
	if (c->sasl_keytab != NULL) {
		static unsigned generation;
		char cc[64];

		setenv("KRB5_CLIENT_KTNAME", c->sasl_keytab, 1);
		/* Tickets got with the keytab stay in this process, in a cache
		 * of this configuration's own: never a ticket of whoever ran
		 * kinit as this user, none written to disk, none left over
		 * from the keytab of a previous configuration. */
		snprintf(cc, sizeof(cc), "MEMORY:ssprd-%u", ++generation);
		setenv("KRB5CCNAME", cc, 1);
	}
	return sc;
}

void
session_cfg_free(struct session_cfg *sc)
{
	if (sc == NULL)
		return;
	free(sc->ca_file);
	free(sc->tls_cert_file);
	free(sc->tls_key_file);
	free(sc->bind_dn);
	if (sc->bind_password != NULL)
		sodium_free(sc->bind_password);
	free(sc->sasl_mech);
	free(sc->sasl_authz_id);
	free(sc);
}

int
session_ppolicy_error(LDAP *ld, LDAPControl **ctrls)
{
	LDAPControl *c;
	LDAPPasswordPolicyError err = PP_noError;
	ber_int_t expire = -1, grace = -1;

	if (ctrls == NULL)
		return -1;
	c = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, ctrls, NULL);
	if (c == NULL)
		return -1;
	if (ldap_parse_passwordpolicy_control(ld, c, &expire, &grace, &err) !=
	    LDAP_SUCCESS || err == PP_noError)
		return -1;
	return (int)err;
}

void
session_map_result(LDAP *ld, enum dir_type type, enum dir_op_kind kind, int rc,
    const char *msg, LDAPControl **ctrls, bool sent, struct dir_result *res)
{
	struct dir_answer a = {
		.type = type, .kind = kind, .ldap_rc = rc, .message = msg,
		.ppolicy_error = session_ppolicy_error(ld, ctrls), .sent = sent,
	};
	char *diag = NULL;

	if ((msg == NULL || *msg == '\0') && ld != NULL &&
	    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) ==
	    LDAP_OPT_SUCCESS && diag != NULL)
		a.message = diag;
	dir_errmap(&a, res);
	ldap_memfree(diag);
}

static void
report(session_report_fn *fn, void *arg, const char *step, bool ok,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
report(session_report_fn *fn, void *arg, const char *step, bool ok,
    const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(arg, step, ok, buf);
}

/* Options every handle gets, before it connects. */
static int
set_options(LDAP *ld, const struct session_cfg *sc)
{
	struct timeval tv = { .tv_sec = sc->timeout };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	int idle = 30, probes = 3, interval = 10;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle) ||
	    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes) ||
	    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &interval) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, sc->ca_file))
		return -1;
	if (sc->tls_cert_file != NULL &&
	    (ldap_set_option(ld, LDAP_OPT_X_TLS_CERTFILE, sc->tls_cert_file) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_KEYFILE, sc->tls_key_file)))
		return -1;
	/* A fresh TLS context for this handle, with exactly these options. */
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero))
		return -1;
	return 0;
}

struct sasl_defaults {
	const char *authcid;
	const char *password;
	const char *authzid;
};

static int
sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	struct sasl_defaults *d = defaults;
	sasl_interact_t *it;

	for (it = in; it->id != SASL_CB_LIST_END; it++) {
		const char *v = NULL;

		switch (it->id) {
		case SASL_CB_AUTHNAME:
			v = d->authcid;
			break;
		case SASL_CB_PASS:
			v = d->password;
			break;
		case SASL_CB_USER:
			v = d->authzid;
			break;
		default:
			v = it->defresult;
			break;
		}
		it->result = v ? v : "";
		it->len = (unsigned)strlen(it->result);
	}
	return LDAP_SUCCESS;
}

static bool
is_ldapi(const char *uri)
{
	return strncmp(uri, "ldapi:", 6) == 0;
}

/* ldap:// without StartTLS: GSSAPI's own encryption protects it. */
static bool
plain_ldap(const struct session_cfg *sc, const char *uri)
{
	return strncmp(uri, "ldap:", 5) == 0 && !sc->starttls;
}

/* Wait (bounded by the timeout) for the answer to msgid and map it,
 * ppolicy response control included. Returns the LDAP result code. */
static int
await_answer(LDAP *ld, const struct session_cfg *sc, enum dir_op_kind kind,
    int msgid, struct dir_result *res)
{
	struct timeval tv = { .tv_sec = sc->timeout };
	LDAPControl **sctrls = NULL;
	LDAPMessage *msg = NULL;
	char *text = NULL;
	int rc, err = LDAP_OTHER;

	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &msg);
	if (rc <= 0) {
		rc = rc == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN;
		session_map_result(NULL, sc->type, kind, rc, ldap_err2string(rc),
		    NULL, true, res);
		ldap_msgfree(msg);
		return rc;
	}
	rc = ldap_parse_result(ld, msg, &err, NULL, &text, NULL, &sctrls, 1);
	if (rc == LDAP_SUCCESS)
		rc = err;
	session_map_result(ld, sc->type, kind, rc, text, sctrls, true, res);
	ldap_memfree(text);
	ldap_controls_free(sctrls);
	return rc;
}

/* Simple bind, asynchronous under the hood so the ppolicy response control
 * comes back with the answer (it says "locked" where the code says only
 * "invalid credentials"). */
static int
bind_simple(LDAP *ld, const struct session_cfg *sc, const char *dn,
    const char *pw, size_t len, struct dir_result *res)
{
	struct berval cred = { .bv_len = len, .bv_val = (char *)pw };
	LDAPControl ppreq = { .ldctl_oid = LDAP_CONTROL_PASSWORDPOLICYREQUEST };
	LDAPControl *ctrls[] = { &ppreq, NULL };
	int msgid, rc;

	rc = ldap_sasl_bind(ld, dn, LDAP_SASL_SIMPLE, &cred,
	    sc->type == DIR_TYPE_OPENLDAP ? ctrls : NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS) {
		session_map_result(ld, sc->type, DIR_OPK_BIND, rc, NULL, NULL,
		    false, res);
		return rc;
	}
	return await_answer(ld, sc, DIR_OPK_BIND, msgid, res);
}

static int
bind_service(LDAP *ld, const struct session_cfg *sc, const char *uri,
    struct dir_result *res)
{
	struct sasl_defaults defs;
	int rc;

	if (sc->bind == BIND_SIMPLE)
		return bind_simple(ld, sc, sc->bind_dn, sc->bind_password,
		    sc->bind_password_len, res);

	defs.authcid = sc->bind_dn;
	defs.password = sc->bind_password;
	defs.authzid = sc->sasl_authz_id;
	/* Over TLS, no SASL security layer on top (AD refuses one inside
	 * LDAPS); without TLS (GSSAPI on ldap://, config.c allows nothing
	 * else) one that encrypts; over ldapi:// the socket is local. */
	if (!is_ldapi(uri))
		ldap_set_option(ld, LDAP_OPT_X_SASL_SECPROPS,
		    plain_ldap(sc, uri) ? "minssf=" MIN_SSF_TEXT : "maxssf=0");
	/* The server's name for SASL (GSSAPI: the service principal
	 * ldap/<host>) is the host of the configured URI, never a name
	 * found by reverse DNS: without TLS that principal is all that
	 * authenticates the server. (libldap would also replace a
	 * loopback address by this machine's own name.) */
	ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON);
	rc = ldap_sasl_interactive_bind_s(ld, NULL, sc->sasl_mech, NULL, NULL,
	    LDAP_SASL_QUIET, sasl_interact, &defs);
	session_map_result(ld, sc->type, DIR_OPK_BIND, rc, NULL, NULL, true, res);
	if (rc == LDAP_SUCCESS && plain_ldap(sc, uri)) {
		ber_len_t ssf = 0;

		if (ldap_get_option(ld, LDAP_OPT_X_SASL_SSF, &ssf) !=
		    LDAP_OPT_SUCCESS || ssf < MIN_SSF) {
			res->reason = DIR_INTERNAL;
			snprintf(res->detail, sizeof(res->detail),
			    "the SASL security layer is too weak (ssf %lu, "
			    "need %d) on a connection without TLS",
			    (unsigned long)ssf, MIN_SSF);
			return LDAP_CONFIDENTIALITY_REQUIRED;
		}
	}
	return rc;
}

static bool
has_value(struct berval **vals, const char *v)
{
	for (size_t i = 0; vals != NULL && vals[i] != NULL; i++)
		if (vals[i]->bv_len == strlen(v) &&
		    memcmp(vals[i]->bv_val, v, vals[i]->bv_len) == 0)
			return true;
	return false;
}

static void
first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *out, size_t size)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);

	if (v != NULL && v[0] != NULL)
		snprintf(out, size, "%.*s", (int)v[0]->bv_len, v[0]->bv_val);
	ldap_value_free_len(v);
}

static int
read_root_dse(LDAP *ld, const struct session_cfg *sc, struct dir_server_info *info,
    struct dir_result *res)
{
	char *attrs[] = { "supportedControl", "supportedExtension",
	    "supportedCapabilities", "vendorName", "vendorVersion", NULL };
	struct timeval tv = { .tv_sec = sc->timeout };
	struct berval **ctl, **ext, **cap;
	LDAPMessage *msg = NULL, *e;
	char name[64] = "", version[64] = "";
	int rc;

	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, &tv, 1, &msg);
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(ld, msg)) == NULL) {
		session_map_result(ld, sc->type, DIR_OPK_SEARCH,
		    rc == LDAP_SUCCESS ? LDAP_NO_SUCH_OBJECT : rc, NULL, NULL,
		    true, res);
		ldap_msgfree(msg);
		return -1;
	}
	ctl = ldap_get_values_len(ld, e, "supportedControl");
	ext = ldap_get_values_len(ld, e, "supportedExtension");
	cap = ldap_get_values_len(ld, e, "supportedCapabilities");
	if (has_value(ctl, OID_POLICY_HINTS))
		snprintf(info->policy_hints_oid, sizeof(info->policy_hints_oid),
		    "%s", OID_POLICY_HINTS);
	else if (has_value(ctl, OID_POLICY_HINTS_DEPRECATED))
		snprintf(info->policy_hints_oid, sizeof(info->policy_hints_oid),
		    "%s", OID_POLICY_HINTS_DEPRECATED);
	info->ppolicy = has_value(ctl, LDAP_CONTROL_PASSWORDPOLICYREQUEST);
	info->passwd_exop = has_value(ext, LDAP_EXOP_MODIFY_PASSWD);
	first_value(ld, e, "vendorName", name, sizeof(name));
	first_value(ld, e, "vendorVersion", version, sizeof(version));
	if (*name == '\0' && has_value(cap, OID_AD_CAPABILITY))
		snprintf(name, sizeof(name), "Active Directory");
	snprintf(info->vendor, sizeof(info->vendor), "%s%s%s", name,
	    *version ? " " : "", version);
	ldap_value_free_len(ctl);
	ldap_value_free_len(ext);
	ldap_value_free_len(cap);
	ldap_msgfree(msg);
	return 0;
}

static void
fail_transport(LDAP *ld, const struct session_cfg *sc, int rc,
    struct dir_result *res)
{
	session_map_result(ld, sc->type, DIR_OPK_SEARCH, rc, NULL, NULL, false,
	    res);
	/* Whatever the code, a connection that could not be set up means the
	 * directory is unavailable to us; the detail says why. */
	res->reason = DIR_UNAVAILABLE;
	res->violations = 0;
}

LDAP *
session_open(const struct session_cfg *sc, const char *uri,
    enum session_as as, struct dir_server_info *info, struct dir_result *res,
    session_report_fn *rep, void *arg)
{
	LDAP *ld = NULL;
	bool service = (as == SESSION_SERVICE);
	int rc;

	memset(res, 0, sizeof(*res));
	res->server = uri;
	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		fail_transport(NULL, sc, rc, res);
		report(rep, arg, "initialise", false, "%s", res->detail);
		return NULL;
	}
	if (set_options(ld, sc) != 0) {
		fail_transport(ld, sc, LDAP_LOCAL_ERROR, res);
		res->reason = DIR_INTERNAL;
		snprintf(res->detail, sizeof(res->detail),
		    "cannot set up TLS options (CA file %s)", sc->ca_file);
		report(rep, arg, "tls-setup", false, "%s", res->detail);
		goto fail;
	}
	/* ldap_connect() does TCP and, for ldaps://, the TLS handshake. */
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		fail_transport(ld, sc, rc, res);
		report(rep, arg, "connect", false, "%s", res->detail);
		goto fail;
	}
	if (plain_ldap(sc, uri)) {
		/* config.c allows this for GSSAPI only; never leave it
		 * for user binds: their passwords would cross in clear */
		if (sc->bind != BIND_SASL || !service) {
			fail_transport(ld, sc, LDAP_CONFIDENTIALITY_REQUIRED, res);
			res->reason = DIR_INTERNAL;
			report(rep, arg, "starttls", false,
			    "ldap:// without StartTLS carries no password");
			goto fail;
		}
		report(rep, arg, "connect", true, "TCP established; no TLS, the "
		    "GSSAPI layer must encrypt (ssf >= %d)", MIN_SSF);
	} else if (strncmp(uri, "ldap:", 5) == 0) {
		if ((rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
			fail_transport(ld, sc, rc, res);
			report(rep, arg, "starttls", false, "%s", res->detail);
			goto fail;
		}
		report(rep, arg, "starttls", true, "TLS established");
	} else {
		report(rep, arg, "connect", true, "%s",
		    is_ldapi(uri) ? "local socket" : "TCP and TLS established, "
		    "certificate verified");
	}
	/* Async was for the handshake only (tls_deadline()). */
	if (ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_OFF) !=
	    LDAP_OPT_SUCCESS) {
		fail_transport(ld, sc, LDAP_LOCAL_ERROR, res);
		res->reason = DIR_INTERNAL;
		report(rep, arg, "connect", false, "%s", res->detail);
		goto fail;
	}

	if (!service)
		goto done;
	if ((rc = bind_service(ld, sc, uri, res)) != LDAP_SUCCESS) {
		report(rep, arg, "bind", false, "%s (%s)",
		    dir_reason_code(res->reason), res->detail);
		goto fail;
	}
	report(rep, arg, "bind", true, "bound as %s",
	    sc->bind == BIND_SIMPLE ? sc->bind_dn : sc->sasl_mech);

	if (info != NULL) {
		memset(info, 0, sizeof(*info));
		info->uri = uri;
		if (read_root_dse(ld, sc, info, res) != 0) {
			report(rep, arg, "root-dse", false, "%s", res->detail);
			goto fail;
		}
		report(rep, arg, "root-dse", true,
		    "vendor \"%s\"; policy hints control %s; ppolicy control %s; "
		    "password modify %s", info->vendor,
		    *info->policy_hints_oid ? info->policy_hints_oid : "not offered",
		    info->ppolicy ? "offered" : "not offered",
		    info->passwd_exop ? "offered" : "not offered");
	}
done:
	memset(res, 0, sizeof(*res));
	res->server = uri;
	return ld;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}
