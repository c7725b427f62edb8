/*
 * dir.h - the directory, as the daemon sees it. The only API outside ldap/
 * that touches Active Directory or OpenLDAP.
 *
 * What this module takes off the caller's hands: connections (a pool of
 * [directory] connections, and a few more kept for users' own binds;
 * servers tried in the configured order with backoff and failover, dead
 * connections replaced), TLS (always verified),
 * binds (simple or SASL), escaping of user names into filters, the encoding
 * of passwords (UTF-16LE for AD), the choice of write (unicodePwd modify or
 * RFC 3062 password modify with the ppolicy control) and the meaning of the
 * server's answer (struct dir_result). The caller never sees an LDAP *, a
 * BerValue or a libldap result code.
 *
 * How to use it: dir_new() once per configuration; then start operations,
 * each with a callback that is called exactly once, from the event loop and
 * never from inside the call that started the operation (even an outcome
 * known at once waits for the next turn of the loop), with the outcome:
 * success, a reason from SPEC's list, DIR_UNAVAILABLE when no server
 * answered within [directory] timeout of the operation being sent (or no
 * connection became ready within it), or DIR_BUSY when connections are up
 * but the operation waited [daemon] max_wait in the queue behind others.
 * Operations queue while no connection is ready, and while every ready one
 * carries as many as its server answers in good time (the pool measures
 * that); they are never sent twice.
 * A write whose connection died after it was sent comes back with
 * maybe_applied set: whether it took effect must be decided by reading the
 * directory (see dir_lookup_user()'s pwd_changed).
 *
 * Ownership: strings passed in are copied (passwords into memory that is
 * wiped when the operation ends); results passed to callbacks live until the
 * callback returns.
 */
#ifndef SSPRD_DIR_H
#define SSPRD_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"

#ifndef MUST_USE
#define MUST_USE __attribute__((warn_unused_result))
#endif

struct dir;

/* Outcomes, mapped to SPEC's reason codes by dir_reason_code(). */
enum dir_reason {
	DIR_OK = 0,
	DIR_POLICY,		/* password-policy; see violations */
	DIR_WRONG_PASSWORD,	/* wrong-password */
	DIR_PASSWORD_EXPIRED,	/* right password, but expired or must change */
	DIR_ACCOUNT_LOCKED,	/* account-locked */
	DIR_ACCOUNT_DISABLED,	/* account-disabled */
	DIR_NOT_ALLOWED,	/* not-allowed: the service account may not do this */
	DIR_UNAVAILABLE,	/* directory-unavailable: try again later */
	DIR_INTERNAL,		/* internal: misconfiguration or a server bug */
	/* busy: the directory answers, but more slowly than work arrives;
	 * the operation waited [daemon] max_wait in ssprd's queue behind
	 * others and was never sent. */
	DIR_BUSY,
};

/* No answer from the directory, gone or busy: nothing was decided, and a
 * write with maybe_applied unset was not applied. */
static inline bool
dir_no_answer(enum dir_reason r)
{
	return r == DIR_UNAVAILABLE || r == DIR_BUSY;
}

/* Password policy violations the directory can name, as bits. */
enum dir_violation {
	DIR_V_TOO_SHORT = 1 << 0,
	DIR_V_TOO_LONG = 1 << 1,
	DIR_V_COMPLEXITY = 1 << 2,	/* quality / complexity rules */
	DIR_V_HISTORY = 1 << 3,
	DIR_V_TOO_YOUNG = 1 << 4,
	DIR_V_DIRECTORY = 1 << 5,	/* refused without saying which rule */
};

struct dir_result {
	enum dir_reason reason;
	unsigned violations;	/* enum dir_violation bits, with DIR_POLICY */
	bool maybe_applied;	/* a write was sent but its answer was lost */
	const char *server;	/* URI of the server that answered, or NULL */
	char detail[256];	/* the server's own words, for the log only */
};

const char *dir_reason_code(enum dir_reason r);	/* "password-policy", ... */
/* Violation names in SPEC's words, for bits set in v, into names (NULL-
 * terminated, at most 7 entries). */
void dir_violation_names(unsigned v, const char *names[7]);

/* The password rules the directory applies to a user (AD: the domain's,
 * or the resultant fine-grained policy; OpenLDAP: the ppolicy entry), as
 * read from it; known false when there is none or it could not be read. */
struct dir_pwpolicy {
	bool known;
	unsigned min_length;
	bool complexity;	/* AD's rule: 3 of 5 categories, no names */
	unsigned history;	/* passwords remembered */
	long long min_age;	/* seconds before a user may change again */
	unsigned check_quality;	/* OpenLDAP pwdCheckQuality */
};

/* A user as the directory describes them. */
struct dir_user {
	bool found;		/* exactly one entry matched user_filter */
	char *dn;		/* as returned by the server */
	struct strlist mail;	/* [email] recovery_attribute, then attribute */
	struct strlist mobile;	/* the same for [sms] */
	char *questions;	/* [questions] attribute value, or NULL */
	char *totp;		/* [totp] attribute value (sealed), or NULL */
	/* Personal data the password rules look for (daemon/pwpolicy.h):
	 * givenName, sn, cn, displayName and the account name (AD
	 * sAMAccountName, OpenLDAP uid), every value as the entry holds it. */
	struct strlist personal;
	char *account;		/* AD sAMAccountName, OpenLDAP uid, or NULL */
	char *display_name;	/* displayName, or NULL */
	char *policy_dn;	/* where pwpolicy was read (or NULL) */
	struct dir_pwpolicy pwpolicy;
	bool disabled;		/* AD: userAccountControl ACCOUNTDISABLE */
	bool locked;		/* AD: lockoutTime != 0; OpenLDAP: pwdAccountLockedTime */
	bool admin;		/* in admin_groups, or AD adminCount = 1 */
	bool allowed;		/* in allowed_groups (or that list is empty) */
	/* When the password last changed, as the server says it (AD
	 * pwdLastSet, OpenLDAP pwdChangedTime): compare before and after a
	 * write whose answer was lost. Empty when unknown. */
	char pwd_changed[32];
};

/* What a connection learned about its server (root DSE). */
struct dir_server_info {
	const char *uri;
	char vendor[128];		/* vendorName / vendorVersion, or "" */
	char policy_hints_oid[32];	/* AD ...4.2239, else ...4.2066, else "" */
	bool ppolicy;			/* the ppolicy control is supported */
	bool passwd_exop;		/* RFC 3062 is supported */
};

typedef void dir_done_fn(const struct dir_result *res, void *arg);
typedef void dir_user_fn(const struct dir_result *res,
    const struct dir_user *user, void *arg);

/* Once per process, before the event base is created (it makes libevent
 * thread-aware and keeps libldap from reading ldap.conf / ~/.ldaprc), with
 * the configuration the process starts with (or NULL): when it binds simply
 * or with SASL EXTERNAL, Cyrus SASL's plugins are never loaded. */
void dir_init(const struct config *cfg);
/* Whether a configuration can replace the one the process started with: not
 * when it needs a SASL plugin that dir_init() left out (why says so). */
bool dir_reconfigurable(const struct config *next, char *why, size_t size);

/* The pool. dir_new() starts connecting at once, in the background; it keeps
 * a reference to cfg and a copy of the bind password. */
struct dir *dir_new(struct event_base *base, struct config *cfg) MUST_USE;
/* Ends every pending operation with DIR_UNAVAILABLE, closes connections. */
void dir_free(struct dir *d);

/* Find a user by name (escaped into user_filter) with their contacts,
 * groups and account state. Not found is a success with user->found false. */
void dir_lookup_user(struct dir *d, const char *name, dir_user_fn *cb, void *arg);

/* Admin reset: set the password without knowing the old one (AD: replace
 * unicodePwd, with lockoutTime: 0 when unlock_on_reset; OpenLDAP: password
 * modify extended operation with the ppolicy control). */
void dir_reset_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg);

/* User change: the server checks the old password (AD: delete old + add new
 * unicodePwd in one modify; OpenLDAP: a bind as the user, then password
 * modify with oldPasswd on that connection, one kept for user binds). */
void dir_change_password(struct dir *d, const char *dn, const char *old_pw,
    size_t old_len, const char *new_pw, size_t new_len, dir_done_fn *cb,
    void *arg);

/* Everyone to tell when an admin's password changes: members of
 * admin_groups (nested) and, on AD, accounts with adminCount=1, each with
 * its first [email] attribute value; those without one are left out. */
typedef void dir_admins_fn(const struct dir_result *res,
    const struct strlist *dns, const struct strlist *mails, void *arg);
void dir_admin_contacts(struct dir *d, dir_admins_fn *cb, void *arg);

/* Replace attributes of dn in one modify (value NULL: remove the attribute);
 * for registration (questions, mobile, mail). No secrets: values are not
 * wiped. */
#define DIR_ATTRS_MAX 4
struct dir_attr_change {
	const char *attr;
	const char *value;
};
void dir_set_attributes(struct dir *d, const char *dn,
    const struct dir_attr_change *changes, size_t n, dir_done_fn *cb,
    void *arg);

/* Unlock without a reset (AD: lockoutTime: 0; OpenLDAP: delete
 * pwdAccountLockedTime). */
void dir_unlock(struct dir *d, const char *dn, dir_done_fn *cb, void *arg);

/* Does this password bind as this DN? (A bind as the user on one of the
 * pool's connections kept for that: no new connection or TLS handshake per
 * check. Counts as a failed login at the server when wrong.) */
void dir_check_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg);

/* The directory's password rules for users without a policy of their own
 * (AD: the domain's, from the DC= part of base_dn; OpenLDAP: [directory]
 * ppolicy_default), from the cache or read. cb's policy is NULL when the
 * directory did not answer. */
typedef void dir_policy_fn(const struct dir_pwpolicy *p, void *arg);
void dir_default_policy(struct dir *d, dir_policy_fn *cb, void *arg);
/* Forget the cached policies (a reload): read again on the next lookup. */
void dir_policy_flush(void);

/* Connection state, for status and metrics: the service account's
 * connections, then those kept for users' own binds (dir_check_password(),
 * and dir_change_password() on OpenLDAP). */
struct dir_stats {
	unsigned connections;	/* configured */
	unsigned ready;		/* bound and usable */
	unsigned queued;	/* operations waiting for a connection */
	double queue_wait;	/* seconds the oldest of them has waited */
	unsigned in_flight;	/* operations sent, answer pending */
	uint64_t opened;	/* connections opened (TLS handshakes) so far */
	unsigned user_connections;	/* kept for user binds */
	unsigned user_ready;
	unsigned user_queued;	/* user binds waiting for one */
	uint64_t user_opened;	/* ...opened so far */
};
void dir_get_stats(const struct dir *d, struct dir_stats *st);

/* Per configured server i (0..): -1 past the last one. The pointers stay
 * valid while d lives. */
struct histogram;
struct dir_server_stats {
	const char *uri;
	unsigned ready;			/* connections bound to it */
	bool backoff;			/* refusing or unreachable lately */
	const struct histogram *latency;	/* request sent -> answer */
	uint64_t failed_ops;		/* sent, never answered */
};
int dir_server_stats(const struct dir *d, size_t i, struct dir_server_stats *st);

void dir_user_clear(struct dir_user *u);

/* Does anything the directory layer reads differ between a and b (compared
 * by content)? Then a pool built from a must be replaced to follow b. */
bool dir_config_differs(const struct config *a, const struct config *b);

/* --- probing one server (ssprctl test-bind) ------------------------------ */

/* Told about each step of a probe, in order: "resolve", then session.c's
 * steps ("connect" or "starttls", "bind", "root-dse"), and after a failed TLS
 * handshake "certificate", which says what is wrong with the server's
 * certificate. detail is one line, valid during the call. */
typedef void dir_probe_fn(void *arg, const char *step, bool ok,
    const char *detail);

/*
 * Walk one URI through everything the pool does when it opens a connection
 * (name resolution, TCP, TLS with verification, the service account's bind,
 * the root DSE), blocking, each step bounded by [directory] timeout. Call
 * dir_init() first. Fills info (when not NULL) from the root DSE; its uri
 * points at uri. Returns 0 when every step succeeded, -1 otherwise.
 */
int dir_probe(const struct config *cfg, const char *uri,
    struct dir_server_info *info, dir_probe_fn *report, void *arg);

/* --- every user at once, blocking (ssprctl report) ----------------------- */

/* Entries per page of a paged search (RFC 2696), unless told otherwise;
 * AD's default MaxPageSize is 1000. */
#define DIR_SCAN_PAGE_SIZE 500

/* One user as a scan hands it over. user is filled as dir_lookup_user()
 * fills it (found is true; allowed and admin decided by the same groups);
 * its first mail_registered mail values, and first mobile_registered
 * mobile values, are those of the [email] / [sms] recovery_attribute. name
 * is the value of the attribute user_filter compares the name with ("" when
 * the entry has none). Valid during the callback only. */
struct dir_scan_user {
	struct dir_user user;
	const char *name;
	size_t mail_registered;
	size_t mobile_registered;
};
typedef void dir_scan_fn(void *arg, const struct dir_scan_user *u);

struct dir_scan_stats {
	const char *server;	/* the URI read from, or NULL */
	unsigned searches;	/* search requests (paged or not) */
	unsigned pages;		/* pages of paged searches fetched */
	size_t entries;		/* entries received, groups included */
	size_t users;		/* user entries handed to the callback */
};

/*
 * Call fn for every entry under base_dn matching user_filter (its %s
 * replaced by *), on one connection to the first [directory] uri that
 * accepts the service account's bind (session.c's TLS and bind), with paged
 * searches of page_size entries (0: DIR_SCAN_PAGE_SIZE); group membership
 * is resolved in a few searches for everybody, never one per user. Call
 * dir_init() first. Returns 0 when every search completed; -1 with res
 * filled (reason and detail) when one did not, and then fn may have seen
 * only some users. st is filled either way.
 */
int dir_scan_users(const struct config *cfg, unsigned page_size,
    dir_scan_fn *fn, void *arg, struct dir_scan_stats *st,
    struct dir_result *res);

#endif
