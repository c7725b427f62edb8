/*
 * pwpolicy.c - ssprd's own password rules (see pwpolicy.h for the order
 * and the scoring).
 *
 * Copies made for case folding and normalising live in locked memory
 * (common/secret.h) and are wiped, as is the password's hash; nothing here
 * logs or keeps a password.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unictype.h>

#include <nettle/md4.h>
#include <nettle/sha1.h>
#include <sodium.h>

#include "common/breach.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/pwpolicy.h"

/* Shorter user names, and shorter terms, would match too many passwords
 * by accident. */
#define USER_MATCH_MIN 3
#define TERM_MIN 3
/* Terms this long or longer also match within one edit. */
#define FUZZY_MIN 4

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
	u = xstrdup(user);
	fold(u, ulen);
	found = strstr(folded_pw, u) != NULL;
	free(u);
	return found;
}

/* --- banned terms and personal data, scored ------------------------------ */

static char
norm(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	switch (c) {
	case '0': return 'o';
	case '3': return 'e';
	case '4': return 'a';
	case '5': return 's';
	case '7': return 't';
	case '@': return 'a';
	case '$': return 's';
	case '!': return 'i';
	default: return c;
	}
}

/* Normalised characters: equal, or a 1 standing for l or i. */
static bool
eq(char a, char b)
{
	return a == b || (a == '1' && (b == 'l' || b == 'i')) ||
	    (b == '1' && (a == 'l' || a == 'i'));
}

struct term {
	const char *s;		/* normalised */
	size_t len;
	unsigned kind;		/* PW_BANNED_WORD or PW_PERSONAL */
};

struct terms {
	struct term *v;
	size_t n, cap;
	char *text;		/* the normalised terms, one after another */
	size_t used, size;
};

static void
term_add(struct terms *t, const char *s, size_t len, unsigned kind)
{
	char *p;

	if (len < TERM_MIN || t->used + len + 1 > t->size)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	p = t->text + t->used;
	for (size_t i = 0; i < len; i++)
		p[i] = norm(s[i]);
	p[len] = '\0';
	t->used += len + 1;
	t->v[t->n++] = (struct term){ p, len, kind };
}

static bool
delimiter(char c)
{
	return strchr(" \t,.-_#+'@", c) != NULL;
}

/* A value from the directory entry as tokens: a mail address by its local
 * part, a name by its words. */
static void
personal_add(struct terms *t, const char *v)
{
	const char *at = strchr(v, '@');
	size_t len = at ? (size_t)(at - v) : strlen(v), i = 0;

	while (i < len) {
		size_t j;

		while (i < len && delimiter(v[i]))
			i++;
		for (j = i; j < len && !delimiter(v[j]); j++)
			;
		term_add(t, v + i, j - i, PW_PERSONAL);
		i = j;
	}
}

static void
terms_build(struct terms *t, const struct config *cfg,
    const struct pw_context *pc)
{
	const struct strlist *b = &cfg->policy.banned;
	size_t size = 1;

	for (size_t i = 0; i < b->n; i++)
		size += strlen(b->v[i]) + 1;
	if (pc->user != NULL)
		size += strlen(pc->user) + 1;
	for (size_t i = 0; pc->personal != NULL && i < pc->personal->n; i++)
		size += strlen(pc->personal->v[i]) + 1;
	memset(t, 0, sizeof(*t));
	t->text = xmalloc(size);
	t->size = size;
	for (size_t i = 0; i < b->n; i++)
		term_add(t, b->v[i], strlen(b->v[i]), PW_BANNED_WORD);
	if (pc->user != NULL)
		personal_add(t, pc->user);
	for (size_t i = 0; pc->personal != NULL && i < pc->personal->n; i++)
		personal_add(t, pc->personal->v[i]);
}

static void
terms_free(struct terms *t)
{
	free(t->v);
	free(t->text);
}

/* Equal characters from the front of a and b (at most n). */
static size_t
prefix(const char *a, const char *b, size_t n)
{
	size_t k = 0;

	while (k < n && eq(a[k], b[k]))
		k++;
	return k;
}

/* ... and from the back of a (alen) and b (blen), at most n. */
static size_t
suffix(const char *a, size_t alen, const char *b, size_t blen, size_t n)
{
	size_t k = 0;

	while (k < n && eq(a[alen - 1 - k], b[blen - 1 - k]))
		k++;
	return k;
}

/* How a term may match: exactly, then (terms of FUZZY_MIN or more) with
 * one character changed, one left out, one added. Every pass looks at the
 * whole password before the next is tried, so "-alice" is "-" and an
 * exact "alice", not "alice" with a "-" added. */
enum pass { EXACT, CHANGED, FEWER, MORE, PASSES };

/* The length of the window at p that term t matches in this pass (0:
 * none). */
static size_t
match_at(const char *p, size_t room, const struct term *t, enum pass pass)
{
	size_t m = t->len, a, s;
	unsigned diff = 0;

	switch (pass) {
	case EXACT:
	case CHANGED:
		if (room < m)
			return 0;
		for (size_t k = 0; k < m && diff <= (unsigned)pass; k++)
			diff += !eq(p[k], t->s[k]);
		return diff <= (unsigned)pass ? m : 0;
	case FEWER:
		if (room < m - 1)
			return 0;
		a = prefix(p, t->s, m - 1);
		s = suffix(p, m - 1, t->s, m, m - 1 - a);
		return a + s >= m - 1 ? m - 1 : 0;
	case MORE:
		if (room < m + 1)
			return 0;
		a = prefix(p, t->s, m);
		s = suffix(p, m + 1, t->s, m, m - a);
		return a + s >= m ? m + 1 : 0;
	default:
		return 0;
	}
}

static bool
unmarked(const unsigned char *mark, size_t i, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (mark[i + k])
			return false;
	return true;
}

/*
 * Which pairs, and which runs of three, of adjacent characters the
 * password has (64 Kibit maps, the runs by a hash; a 1 counts as l and i,
 * and l and i as 1). A term can match only if its first pair (run of
 * three, for terms of 6 or more) is there or, for a term of FUZZY_MIN or
 * more, its last: one edit never breaks both, as they share no character.
 * Most of a long banned list is ruled out by two bit tests instead of a
 * scan, and the runs of three keep a common pair from letting it all in.
 */
#define PAIRS_BYTES (65536 / 8)
#define RUN3_MIN 6

static unsigned
run3(unsigned char a, unsigned char b, unsigned char c)
{
	return ((unsigned)a * 961u + (unsigned)b * 31u + c) & 0xffffu;
}

static unsigned
alternatives(unsigned char c, unsigned char alt[3])
{
	unsigned n = 0;

	alt[n++] = c;
	if (c == '1') {
		alt[n++] = 'l';
		alt[n++] = 'i';
	} else if (c == 'l' || c == 'i') {
		alt[n++] = '1';
	}
	return n;
}

static void
bit_set(uint8_t *bits, unsigned k)
{
	bits[k >> 3] |= (uint8_t)(1u << (k & 7));
}

static bool
bit_in(const uint8_t *bits, unsigned k)
{
	return (bits[k >> 3] >> (k & 7)) & 1;
}

static void
pairs_fill(uint8_t *pairs, uint8_t *runs, const char *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char a[3], b[3], c[3];
		unsigned na = alternatives((unsigned char)p[i], a);
		unsigned nb = alternatives((unsigned char)p[i + 1], b);
		unsigned nc = i + 2 < len ?
		    alternatives((unsigned char)p[i + 2], c) : 0;

		for (unsigned x = 0; x < na; x++)
			for (unsigned y = 0; y < nb; y++) {
				bit_set(pairs, (unsigned)a[x] << 8 | b[y]);
				for (unsigned z = 0; z < nc; z++)
					bit_set(runs, run3(a[x], b[y], c[z]));
			}
	}
}

static bool
ends_in(const uint8_t *pairs, const uint8_t *runs, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	return n == 3 ? bit_in(runs, run3(u[0], u[1], u[2])) :
	    bit_in(pairs, (unsigned)u[0] << 8 | u[1]);
}

static bool
may_match(const uint8_t *pairs, const uint8_t *runs, const struct term *t)
{
	size_t n = t->len >= RUN3_MIN ? 3 : 2;

	return ends_in(pairs, runs, t->s, n) || (t->len >= FUZZY_MIN &&
	    ends_in(pairs, runs, t->s + t->len - n, n));
}

static int
longer_first(const void *a, const void *b)
{
	const struct term *x = *(const struct term *const *)a;
	const struct term *y = *(const struct term *const *)b;

	return (x->len < y->len) - (x->len > y->len);
}

/* Score the normalised password p (len bytes, marks in mark). */
static unsigned
score(const char *p, unsigned char *mark, size_t len, const struct terms *t,
    unsigned *kinds)
{
	uint8_t pairs[PAIRS_BYTES], runs[PAIRS_BYTES];
	const struct term **order;
	size_t n = 0;
	unsigned points = 0;

	*kinds = 0;
	memset(pairs, 0, sizeof(pairs));
	memset(runs, 0, sizeof(runs));
	pairs_fill(pairs, runs, p, len);
	/* the candidates, longest first */
	order = xreallocarray(NULL, t->n ? t->n : 1, sizeof(*order));
	for (size_t k = 0; k < t->n; k++)
		if (t->v[k].len <= len + 1 && may_match(pairs, runs, &t->v[k]))
			order[n++] = &t->v[k];
	qsort(order, n, sizeof(*order), longer_first);
	for (size_t c = 0; c < n; c++) {
		const struct term *tm = order[c];
		size_t m = tm->len;

		{
			for (enum pass ps = EXACT; ps < PASSES; ps++) {
				if (ps > EXACT && m < FUZZY_MIN)
					break;
				for (size_t i = 0; i < len; i++) {
					size_t w = match_at(p + i, len - i, tm,
					    ps);

					if (w == 0 || !unmarked(mark, i, w))
						continue;
					memset(mark + i, 1, w);
					points++;
					*kinds |= tm->kind;
					i += w - 1;
				}
			}
		}
	}
	sodium_memzero(pairs, sizeof(pairs));	/* they tell of the password */
	sodium_memzero(runs, sizeof(runs));
	free(order);
	for (size_t i = 0; i < len; i++)
		if (!mark[i] && ((unsigned char)p[i] & 0xC0) != 0x80)
			points++;
	return points;
}

unsigned
pwpolicy_score(const struct config *cfg, const struct pw_context *pc,
    const char *pw, size_t len, unsigned *kinds)
{
	char *p = secret_alloc(2 * len + 1);
	unsigned char *mark;
	struct terms t;
	unsigned sc;

	if (p == NULL)
		fatalx("pwpolicy: out of protected memory");
	mark = (unsigned char *)p + len + 1;
	for (size_t i = 0; i < len; i++)
		p[i] = norm(pw[i]);
	p[len] = '\0';
	memset(mark, 0, len);
	terms_build(&t, cfg, pc);
	sc = score(p, mark, len, &t, kinds);
	terms_free(&t);
	secret_free(p);
	return sc;
}

/* --- breached passwords ------------------------------------------------- */

static bool
breached(const struct config *cfg, const char *pw, size_t len)
{
	const struct breach *b = cfg->policy.breached;
	uint8_t h[SHA1_DIGEST_SIZE];
	int code;

	if (b == NULL)
		return false;
	if (breach_kind(b) == BREACH_NTLM) {
		size_t n = utf16le_size(len, false);
		unsigned char *u = secret_alloc(n ? n : 1);
		struct md4_ctx c;

		if (u == NULL)
			fatalx("pwpolicy: out of protected memory");
		n = utf8_to_utf16le(pw, len, false, u);
		md4_init(&c);
		md4_update(&c, n, u);
		md4_digest(&c, MD4_DIGEST_SIZE, h);
		sodium_memzero(&c, sizeof(c));
		secret_free(u);
	} else {
		struct sha1_ctx c;

		sha1_init(&c);
		sha1_update(&c, len, (const uint8_t *)pw);
		sha1_digest(&c, SHA1_DIGEST_SIZE, h);
		sodium_memzero(&c, sizeof(c));
	}
	code = breach_find(b, h);
	sodium_memzero(h, sizeof(h));
	return code >= 0 &&
	    (unsigned)code >= breach_count_code(cfg->policy.breached_min_count);
}

/* --- the directory's own rules --------------------------------------------- */

/* AD's five categories: upper case, lower case, digits, symbols, letters
 * that are neither (as in most Asian scripts). */
static unsigned
categories(const char *pw, size_t len)
{
	static const char symbols[] = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/";
	unsigned seen = 0, n = 0;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)pw + i, len - i,
		    &cp);

		if (k == 0)
			break;
		i += k;
		if (cp >= '0' && cp <= '9')
			seen |= 4;
		else if (cp < 128 && cp != 0 && strchr(symbols, (int)cp))
			seen |= 8;
		else if (uc_is_upper(cp))
			seen |= 1;
		else if (uc_is_lower(cp))
			seen |= 2;
		else if (uc_is_alpha(cp))
			seen |= 16;
	}
	for (unsigned b = 1; b < 32; b <<= 1)
		n += (seen & b) != 0;
	return n;
}

static bool
display_delimiter(char c)
{
	return strchr(",.-_ #\t", c) != NULL;
}

/* A word of the display name (3+ characters) in the folded password. */
static bool
contains_display_word(const char *folded_pw, const char *name)
{
	size_t len = strlen(name), i = 0;
	bool found = false;
	char *w;

	while (i < len && !found) {
		size_t j;

		while (i < len && display_delimiter(name[i]))
			i++;
		for (j = i; j < len && !display_delimiter(name[j]); j++)
			;
		if (j - i >= USER_MATCH_MIN) {
			w = xstrdup(name + i);
			w[j - i] = '\0';
			fold(w, j - i);
			found = strstr(folded_pw, w) != NULL;
			free(w);
		}
		i = j;
	}
	return found;
}

/* When the password was last set, in Unix seconds; 0 when unknown or
 * "must change at next logon". */
static time_t
changed_at(enum dir_type type, const char *s)
{
	struct tm tm = { 0 };
	char *end;

	if (s == NULL || *s == '\0')
		return 0;
	if (type == DIR_TYPE_AD) {
		long long ft = strtoll(s, &end, 10);

		if (*end != '\0' || ft <= 0)
			return 0;
		return (time_t)(ft / 10000000 - 11644473600LL);
	}
	end = strptime(s, "%Y%m%d%H%M%S", &tm);
	if (end == NULL)
		return 0;
	return timegm(&tm);
}

static unsigned
directory_rules(const struct config *cfg, const struct pw_context *pc,
    const char *folded, const char *pw, size_t len, unsigned long chars)
{
	const struct dir_pwpolicy *d = pc->dir;
	unsigned v = 0;
	time_t at;

	if (d == NULL || !d->known || !cfg->policy.directory_rules)
		return 0;
	if (chars < d->min_length)
		v |= PW_TOO_SHORT;
	if (cfg->directory.type == DIR_TYPE_AD && d->complexity) {
		if (categories(pw, len) < 3)
			v |= PW_COMPLEXITY;
		if (contains_user(folded, pc->account))
			v |= PW_CONTAINS_USER;
		if (pc->display_name != NULL &&
		    contains_display_word(folded, pc->display_name))
			v |= PW_CONTAINS_DISPLAY;
	}
	if (pc->changed != NULL && d->min_age > 0 &&
	    (at = changed_at(cfg->directory.type, pc->changed)) > 0 &&
	    pc->now < at + d->min_age)
		v |= PW_TOO_YOUNG;
	return v;
}

/* --- all of it ------------------------------------------------------------ */

unsigned
pwpolicy_check(const struct config *cfg, const struct pw_context *pc,
    const char *pw, size_t len)
{
	unsigned v = 0, kinds;
	long chars = utf8_chars(pw, len);
	char *folded;

	if (chars < 0)
		return PW_NOT_UTF8;
	if ((unsigned long)chars < cfg->policy.min_length)
		v |= PW_TOO_SHORT;
	if ((unsigned long)chars > cfg->policy.max_length)
		v |= PW_TOO_LONG;
	if (v & PW_TOO_LONG)
		return v;	/* and not worth scoring */
	folded = secret_alloc(len + 1);
	if (folded == NULL)
		fatalx("pwpolicy: out of protected memory");
	memcpy(folded, pw, len);
	folded[len] = '\0';
	fold(folded, len);
	if (banned(cfg, folded))
		v |= PW_BANNED;
	if (contains_user(folded, pc->user))
		v |= PW_CONTAINS_USER;
	v |= directory_rules(cfg, pc, folded, pw, len, (unsigned long)chars);
	secret_free(folded);
	/* (a password on the list whole is "banned", not also
	 * "banned-word") */
	if (cfg->policy.min_score > 0 &&
	    pwpolicy_score(cfg, pc, pw, len, &kinds) < cfg->policy.min_score)
		v |= kinds & ((v & PW_BANNED) ? ~(unsigned)PW_BANNED_WORD : ~0u);
	if (breached(cfg, pw, len))
		v |= PW_BREACHED;
	return v;
}

void
pwpolicy_names(unsigned v, const char *names[PW_NAMES_MAX])
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
		{ PW_BANNED_WORD, "banned-word" },
		{ PW_PERSONAL, "personal-data" },
		{ PW_BREACHED, "breached" },
		{ PW_COMPLEXITY, "complexity" },
		{ PW_CONTAINS_DISPLAY, "contains-display-name" },
		{ PW_TOO_YOUNG, "too-young" },
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (v & map[i].bit)
			names[n++] = map[i].name;
	names[n] = NULL;
}
