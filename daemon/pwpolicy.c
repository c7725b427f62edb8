/*
 * pwpolicy.c - length in characters, banned list, user name (see pwpolicy.h).
 *
 * Copies made for case folding live in locked memory (common/secret.h), and are
 * wiped; nothing here logs or keeps a password.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/secret.h"
#include "daemon/pwpolicy.h"

/* Shorter user names would match too many passwords by accident. */
#define USER_MATCH_MIN 3

static void
fold(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, *(char *const *)b);
}

static bool
banned(const struct config *cfg, const char *folded)
{
	const struct strlist *l = &cfg->policy.banned;

	return l->n > 0 && bsearch(folded, l->v, l->n, sizeof(*l->v), cmp_str) != NULL;
}

static bool
contains_user(const char *folded_pw, const char *user)
{
	size_t ulen = user ? strlen(user) : 0;
	char *u;
	bool found;

	if (ulen < USER_MATCH_MIN)
		return false;
	u = strdup(user);
	if (u == NULL)
		fatalx("pwpolicy: out of memory");
	fold(u, ulen);
	found = strstr(folded_pw, u) != NULL;
	free(u);
	return found;
}

unsigned
pwpolicy_check(const struct config *cfg, const char *user, const char *pw,
    size_t len)
{
	unsigned v = 0;
	long chars = utf8_chars(pw, len);
	char *folded;

	if (chars < 0)
		return PW_NOT_UTF8;
	if ((unsigned long)chars < cfg->policy.min_length)
		v |= PW_TOO_SHORT;
	if ((unsigned long)chars > cfg->policy.max_length)
		v |= PW_TOO_LONG;
	folded = secret_alloc(len + 1);
	if (folded == NULL)
		fatalx("pwpolicy: out of protected memory");
	memcpy(folded, pw, len);
	folded[len] = '\0';
	fold(folded, len);
	if (banned(cfg, folded))
		v |= PW_BANNED;
	if (contains_user(folded, user))
		v |= PW_CONTAINS_USER;
	secret_free(folded);
	return v;
}

void
pwpolicy_names(unsigned v, const char *names[6])
{
	static const struct {
		unsigned bit;
		const char *name;
	} map[] = {
		{ PW_TOO_SHORT, "too-short" },
		{ PW_TOO_LONG, "too-long" },
		{ PW_BANNED, "banned" },
		{ PW_CONTAINS_USER, "contains-user-name" },
		{ PW_NOT_UTF8, "complexity" },
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (v & map[i].bit)
			names[n++] = map[i].name;
	names[n] = NULL;
}
