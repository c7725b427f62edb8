/*
 * pwpolicy.h - ssprd's own password rules, checked before the directory
 * sees a password (the directory's rules come after, through ldap/).
 *
 * Length is counted in characters (code points), not bytes; the banned
 * list and the user-name rule compare case-insensitively (ASCII letters
 * folded; other characters compared as typed). A password is never
 * normalised or trimmed: what the user typed is what is checked and sent.
 */
#ifndef SSPRD_PWPOLICY_H
#define SSPRD_PWPOLICY_H

#include <stddef.h>

#include "config/config.h"

enum pw_violation {
	PW_TOO_SHORT = 1 << 0,
	PW_TOO_LONG = 1 << 1,
	PW_BANNED = 1 << 2,
	PW_CONTAINS_USER = 1 << 3,
	PW_NOT_UTF8 = 1 << 4,		/* reported as "complexity": unusable */
};

/* The violations of pw (len bytes) for user (may be NULL), as bits. */
unsigned pwpolicy_check(const struct config *cfg, const char *user,
    const char *pw, size_t len);

/* SPEC's names for the bits in v, into names (NULL-terminated; room for 6). */
void pwpolicy_names(unsigned v, const char *names[6]);

#endif
