/*
 * fakedir.h - a scripted stand-in for ldap/dir.h, for unit tests of the
 * engine: linked instead of libssprd-ldap.a, it implements every dir_*
 * function the daemon's library calls, keeps its users in memory and
 * answers from the event loop (never inside the call, as dir.h promises).
 *
 * A test adds users, may script how the next operations of a kind end
 * (delayed, refused, held forever, or a write applied whose answer is lost)
 * and reads counters afterwards. One fake directory per process: every
 * struct dir that dir_new() returns shares it, as pools of one
 * configuration share one real directory.
 */
#ifndef SSPRD_FAKEDIR_H
#define SSPRD_FAKEDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "ldap/dir.h"

#define FAKE_USERS_MAX 16

struct fake_user {
	bool used;
	char name[64];		/* matched exactly by dir_lookup_user() */
	char dn[128];
	char mail[128];		/* "" for none */
	char mobile[64];	/* "" for none */
	bool disabled, locked, admin, allowed;
	char password[128];
	/* pwdLastSet / pwdChangedTime: moves at every applied password
	 * write unless stamp_frozen (OpenLDAP's one-second resolution);
	 * stamp_unknown reports "". */
	unsigned stamp;
	bool stamp_frozen, stamp_unknown;
};

/* Operation kinds, for scripts and counters. */
enum fake_kind {
	FAKE_LOOKUP,
	FAKE_RESET,		/* dir_reset_password */
	FAKE_CHANGE,		/* dir_change_password */
	FAKE_UNLOCK,
	FAKE_CHECK,		/* dir_check_password (a bind as the user) */
	FAKE_SET_ATTRS,
	FAKE_ADMINS,
	FAKE_KINDS
};

/* How one operation ends. */
enum fake_mode {
	FAKE_NORMAL = 0,	/* as the directory would: applied, answered */
	FAKE_FAIL,		/* answered with reason, not applied */
	FAKE_LOST,		/* applied, answered DIR_UNAVAILABLE with
				 * maybe_applied (the connection died) */
	FAKE_HOLD,		/* never answered until fakedir_release() */
};

struct fake_script {
	enum fake_mode mode;
	enum dir_reason reason;	/* with FAKE_FAIL */
	double delay;		/* seconds before the answer */
};

struct fakedir_counts {
	unsigned ops[FAKE_KINDS];	/* operations started, by kind */
	unsigned applied;		/* password writes that took effect */
	unsigned pools;			/* dir_new() calls */
	unsigned pools_live;		/* dir_new() minus dir_free() */
};

extern struct fakedir_counts fakedir_counts;

/* Forget users, scripts, counters (pending operations must be gone). */
void fakedir_reset(void);
struct fake_user *fakedir_add(const char *name, const char *dn,
    const char *mail, const char *password);
struct fake_user *fakedir_find(const char *name);

/* The next operation of kind k ends as s (scripts queue per kind; an
 * operation without one ends FAKE_NORMAL after the default delay). */
void fakedir_script(enum fake_kind k, struct fake_script s);
void fakedir_set_delay(double secs);

/* Called when a password write (reset or change) reaches the fake, before
 * anything is applied: a test can end its process there (a crash). */
extern void (*fakedir_write_hook)(enum fake_kind k, const char *dn);

/* Called right after a password write's callback returned (the engine's
 * reaction to the answer has run, the next turn of the loop has not). */
extern void (*fakedir_answered_hook)(enum fake_kind k,
    const struct dir_result *res);

/* Operations held (FAKE_HOLD) and not yet released. */
unsigned fakedir_held(void);
/* End the oldest held operation, from the event loop: applied or not,
 * answered with reason (maybe_applied when lost). */
void fakedir_release(bool apply, enum dir_reason reason, bool lost);

#endif
