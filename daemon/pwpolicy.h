/*
 * pwpolicy.h - ssprd's own password rules, checked before the directory
 * sees a password (the directory's rules come after, through ldap/).
 *
 * In this order, each as cheap as a map lookup or cheaper:
 *   1. UTF-8 (a password that is not is unusable: "complexity");
 *   2. length in characters (code points), not bytes: too-short, too-long;
 *   3. the banned list, whole password, ASCII case folded: banned;
 *   4. the typed user name, as a substring, ASCII case folded (3+
 *      characters): contains-user-name;
 *   5. banned terms and personal data, scored as Microsoft Entra Password
 *      Protection does (below): banned-word, personal-data;
 *   6. the breached-password index ([policy] breached_file): breached;
 *   7. with the user's entry and [policy] directory_rules on, the
 *      directory's own rules as it would apply them: its minimum length
 *      (too-short); AD's complexity rule when the domain or the user's
 *      fine-grained policy turns it on - three of upper case, lower case,
 *      digits, symbols and other letters (complexity), not the account
 *      name (contains-user-name) nor a display name word of 3+ characters
 *      (contains-display-name), ASCII case ignored; and for a change, its
 *      minimum password age (too-young).
 *
 * Scoring (5): the password is normalised (ASCII lower case; 0->o 3->e
 * 4->a 5->s 7->t @->a $->s !->i, and 1 matching l or i); then each term -
 * every line of banned_passwords and, for this user, the tokens of the
 * directory entry's given name, surname, display name, account name and
 * mail local parts - is looked for in it, longest term first, exactly or,
 * for terms of 4 characters or more, within one edit (a character changed,
 * added or left out). Terms shorter than 3 characters are ignored. Each
 * match scores 1 point and uses its characters up; each character left
 * scores 1 more. A score below [policy] min_score (default 5) is refused,
 * naming banned-word and/or personal-data by which kind of term matched.
 *
 * A password is never changed: the normalised copy lives in locked memory
 * and is wiped; what the user typed is what is sent. Violations never echo
 * the password or the term that matched.
 */
#ifndef SSPRD_PWPOLICY_H
#define SSPRD_PWPOLICY_H

#include <stddef.h>

#include <time.h>

#include "config/config.h"
#include "ldap/dir.h"

enum pw_violation {
	PW_TOO_SHORT = 1 << 0,
	PW_TOO_LONG = 1 << 1,
	PW_BANNED = 1 << 2,
	PW_CONTAINS_USER = 1 << 3,
	PW_NOT_UTF8 = 1 << 4,		/* reported as "complexity": unusable */
	PW_BANNED_WORD = 1 << 5,
	PW_PERSONAL = 1 << 6,
	PW_BREACHED = 1 << 7,
	PW_COMPLEXITY = 1 << 8,
	PW_CONTAINS_DISPLAY = 1 << 9,
	PW_TOO_YOUNG = 1 << 10,
};

#define PW_NAMES_MAX 12

/* What is known of the user whose password it is. */
struct pw_context {
	const char *user;		/* the name typed (or the ticket's); may be NULL */
	const struct strlist *personal;	/* values from the entry; may be NULL */
	/* The directory's rules (step 7): NULL, or not known, for none. */
	const struct dir_pwpolicy *dir;
	const char *account;		/* AD sAMAccountName / uid, or NULL */
	const char *display_name;	/* or NULL */
	/* For a change (NULL for a reset): when the password was last set,
	 * as the directory says it (AD pwdLastSet, OpenLDAP
	 * pwdChangedTime), and the time now. */
	const char *changed;
	time_t now;
};

/* The violations of pw (len bytes), as bits. */
unsigned pwpolicy_check(const struct config *cfg, const struct pw_context *pc,
    const char *pw, size_t len);

/* SPEC's names for the bits in v, into names (NULL-terminated). */
void pwpolicy_names(unsigned v, const char *names[PW_NAMES_MAX]);

/* The score of step 5 alone (tests and the docs' worked examples), with
 * which kinds of term matched in *kinds (PW_BANNED_WORD, PW_PERSONAL). */
unsigned pwpolicy_score(const struct config *cfg, const struct pw_context *pc,
    const char *pw, size_t len, unsigned *kinds);

#endif
