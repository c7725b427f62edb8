/*
 * eligible.h - who may use self-service, and with which methods: the
 * daemon's own rules, in one place, for start (ops.c) and for the verdict
 * of `ssprctl lookup`.
 *
 * A start is real (a code is sent, questions shown) only for a user found
 * once, not disabled, in allowed_groups, with a usable contact for the
 * method, and, for an administrator, a method that counts for admins
 * (admin_methods). Anything else gets a decoy of the same shape; the reason
 * goes to the audit line only. A locked account is not refused: a reset
 * unlocks it when [directory] unlock_on_reset is on, and writes the
 * password either way.
 */
#ifndef SSPRD_ELIGIBLE_H
#define SSPRD_ELIGIBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "ldap/dir.h"

/* What the rules look at. Pointers stay owned by whoever filled it. */
struct eligible_user {
	bool found;
	bool disabled;
	bool allowed;
	bool admin;
	const char *mail;	/* first value a code may be mailed to, or NULL */
	const char *mobile;	/* first value an SMS may go to, or NULL */
	bool questions;		/* at least [questions] required registered */
	bool totp;		/* an authenticator app registered */
};

/* From a lookup's answer (pointers into u). */
void eligible_from_dir(const struct config *cfg, const struct dir_user *u,
    struct eligible_user *out);
/* The first mail value a code may go to (messages.h), or NULL. */
const char *eligible_mail(const struct dir_user *u);
/* The first mobile value an SMS command may take (notify.h), or NULL. */
const char *eligible_mobile(const struct dir_user *u);
/* Does the [questions] attribute value hold enough usable questions? */
bool eligible_questions(const struct config *cfg, const char *value);

/* NULL when a start for method m is real; else why it is a decoy, for the
 * audit line ("decoy: ..."). */
const char *eligible_start(const struct config *cfg,
    const struct eligible_user *e, enum method m);
/* The methods that count for e (admin_methods for admins) whose start is
 * real. */
unsigned eligible_methods(const struct config *cfg,
    const struct eligible_user *e);
/* The methods of [policy] methods that e has something usable for (admins
 * included: every method, not only those that count for them). */
unsigned eligible_registered(const struct config *cfg,
    const struct eligible_user *e);
/* Whether a user with these registered methods, whose registration was last
 * confirmed at confirmed (seconds; 0: never, or not known), is due to look
 * at it again at now: [policy] reconfirm_days on, and something registered. */
bool eligible_reconfirm_due(const struct config *cfg, unsigned registered,
    int64_t confirmed, int64_t now);

#endif
