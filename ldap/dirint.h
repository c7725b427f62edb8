/*
 * dirint.h - what the files of ldap/ share with each other (never included
 * outside ldap/).
 *
 *   session.c  opening one TLS-protected connection, bound as the service
 *              account or left for user binds (blocking, with timeouts; run
 *              on a worker thread by pool.c, directly by ssprctl test-bind)
 *   pool.c     the connections, the operation queues, deadlines, failover
 *   check.c    a user's own bind (and OpenLDAP change) on a user connection
 *   lookup.c   finding a user and their groups
 *   scan.c     every user and their groups at once (ssprctl report)
 *   write.c    password writes and unlocks, AD and OpenLDAP
 *   errmap.c   the server's answer -> struct dir_result
 */
#ifndef SSPRD_DIRINT_H
#define SSPRD_DIRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <ldap.h>

#include "config/config.h"
#include "ldap/dir.h"
#include "ldap/errmap.h"

/* Operations one connection carries at once (LDAP multiplexes by msgid). */
#define DIR_MAX_IN_FLIGHT 16

/* What a session needs from the configuration; owned by the pool, copied
 * from struct config so a reload cannot pull it away from a worker. */
struct session_cfg {
	enum dir_type type;
	char *ca_file;
	char *tls_cert_file;
	char *tls_key_file;
	bool starttls;
	unsigned timeout;
	enum bind_kind bind;
	char *bind_dn;
	char *bind_password;		/* sodium_malloc()ed */
	size_t bind_password_len;
	char *sasl_mech;
	char *sasl_authz_id;
};

/* How session_open() leaves a connection: bound as the service account,
 * or with TLS up and no bind at all, for the pool's user binds. */
enum session_as {
	SESSION_SERVICE,
	SESSION_UNBOUND,
};

/*
 * One request to the directory, as pool.c carries it. The file that builds a
 * request gives a class: send() writes it on a bound handle (returning an
 * LDAP code; *msgid set on success), done() receives the complete answer
 * (a whole search chain) and fail() is told when no answer will come
 * (deadline passed, connection lost, pool shut down; res says which).
 * Exactly one of done()/fail() is called, then destroy(). The pool frees the
 * op itself.
 *
 * An operation of several requests on one connection (a user's bind, then
 * their change: check.c) has more(), told of each answer first: it returns
 * DIR_STEP_NEXT to have send() called again at once on the same connection
 * (a full timeout for that request too), DIR_STEP_LAST when the answer is the
 * last (done() follows), or DIR_STEP_LAST_DROP when it is the last and leaves
 * the connection in doubt (taken out of use before done() runs, which then
 * gets a NULL handle).
 */
enum dir_step { DIR_STEP_LAST, DIR_STEP_NEXT, DIR_STEP_LAST_DROP };
struct dir_op;
struct dir_op_class {
	const char *name;
	int (*send)(struct dir_op *op, LDAP *ld, int *msgid);
	void (*done)(struct dir_op *op, LDAP *ld, LDAPMessage *answer);
	void (*fail)(struct dir_op *op, const struct dir_result *res);
	void (*destroy)(void *priv);
	enum dir_step (*more)(struct dir_op *op, LDAP *ld, LDAPMessage *answer);
};

struct dir_op {
	TAILQ_ENTRY(dir_op) entry;
	struct dir *dir;
	const struct dir_op_class *cls;
	void *priv;
	enum dir_op_kind kind;
	bool idempotent;	/* safe to send again after a lost connection */
	/* Goes over a user connection (check.c), one at a time, never over
	 * the service account's. */
	bool as_user;
	/* A later step of one request (a lookup's group searches): not timed
	 * for the metrics, so each request counts once, however many steps
	 * the user's entry makes it take. */
	bool follow_up;
	const char *serial;	/* ops with equal keys (a DN) go one at a time */
	bool sent;
	double queued_at;	/* monotonic seconds */
	double sent_at;
	int msgid;
	struct conn *conn;	/* while sent */
	const struct dir_server_info *server;	/* while sent */
	struct event *ev_deadline;
	struct dir_result res;	/* why it ended unanswered (op_end()) */
};

/* pool.c: everything the request files need from the pool */
struct dir_op *dir_op_new(struct dir *d, const struct dir_op_class *cls,
    void *priv, enum dir_op_kind kind, bool idempotent);
void dir_op_submit(struct dir_op *op);
const struct config *dir_config(const struct dir *d);
/* Monotonic seconds, for deadlines and caches. */
double dir_now_mono(void);
/* Call fn(arg) on the next turn of the event loop: how an outcome known at
 * once reaches a callback (dir.h: callbacks never run inside the call that
 * started the operation). */
void dir_later(struct dir *d, void (*fn)(void *), void *arg);
enum dir_type dir_type(const struct dir *d);

/* check.c: bind as a user on one of the pool's user connections and, with
 * new_pw, change their own password right after on the same connection
 * (OpenLDAP: only the user may have slapd check an old password). cb gets
 * the mapped outcome. */
void dir_user_bind(struct dir *d, const char *dn, const char *pw, size_t len,
    const char *new_pw, size_t new_len, dir_done_fn *cb, void *arg);

/* lookup.c: what a lookup and a scan (scan.c) share, so that both read a
 * user entry, and decide membership, the same way. */
#define DIR_USER_ATTRS_MAX 24
/* The DC= part of dn (an AD domain's own entry), or NULL. */
const char *dir_domain_of(const char *dn);
/* The attributes of a user entry dir_read_user() looks at, NULL-terminated
 * (the array holds DIR_USER_ATTRS_MAX); returns how many. */
size_t dir_user_attrs(const struct config *cfg,
    const char *attrs[DIR_USER_ATTRS_MAX]);
/* Fill u (zeroed by the caller) from entry e: found, DN, contacts (recovery
 * attribute values first; *mail_registered / *mobile_registered, when not
 * NULL, say how many of them came from it), questions, account state,
 * adminCount on AD. allowed is set only when allowed_groups is empty; group
 * membership is the caller's to add. */
void dir_read_user(const struct config *cfg, LDAP *ld, LDAPMessage *e,
    struct dir_user *u, size_t *mail_registered, size_t *mobile_registered);
/* RFC 4515 escaping of one assertion value (xalloc'ed). */
char *dir_escape_value(const char *v);
/* dn in LDAPv3 normal form (xalloc'ed; a copy of dn when it does not
 * parse); compare the results case-insensitively. */
char *dir_normalise_dn(const char *dn);
/* AD: (|(memberOf:1.2.840.113556.1.4.1941:=G1)...) for nested membership
 * of any of groups (xalloc'ed). */
char *dir_in_chain_filter(const struct strlist *groups);
/* OpenLDAP: how deep lookup.c follows nested groups. */
#define DIR_GROUP_DEPTH 8

/* ssprctl test-bind listens to each step; the daemon passes NULL. */
typedef void session_report_fn(void *arg, const char *step, bool ok,
    const char *detail);

void session_global_init(const struct config *cfg);
struct session_cfg *session_cfg_new(const struct config *cfg);
void session_cfg_free(struct session_cfg *sc);

/*
 * Connect to uri and verify TLS; then, as SESSION_SERVICE, bind as the
 * service account and read the root DSE into info (when not NULL); as
 * SESSION_UNBOUND, stop there (info untouched): the caller binds as users
 * later, and is refused a connection that carries no TLS (ldap:// without
 * StartTLS). Blocking, bounded by sc->timeout per step. Returns the handle,
 * or NULL with res filled (DIR_UNAVAILABLE for transport and TLS failures,
 * the mapped reason for a refused bind).
 */
LDAP *session_open(const struct session_cfg *sc, const char *uri,
    enum session_as as, struct dir_server_info *info, struct dir_result *res,
    session_report_fn *report, void *arg);

/* The ppolicy response control's error in ctrls, or -1. */
int session_ppolicy_error(LDAP *ld, LDAPControl **ctrls);
/* Fill res from a result code, the handle's diagnostic and controls. */
void session_map_result(LDAP *ld, enum dir_type type, enum dir_op_kind kind,
    int rc, const char *matched_msg, LDAPControl **ctrls, bool sent,
    struct dir_result *res);

#endif
