/*
 * fuzz_web.c - libFuzzer target for ssprweb's parsers (web/parse.c): form
 * bodies, cookies, query strings and Accept-Language, the untrusted bytes
 * every request brings.
 *
 * The input is cut at its first NUL byte: before it, a form body (given
 * with its length, NULs and all, as evhttp hands it over); after it, a
 * header value, as a C string (evhttp's headers hold no NUL). Beyond "no
 * crash, no leak, no out-of-bounds access" (ASan, UBSan, LSan) it checks
 * the promises web.h makes, aborting when one is broken:
 *
 *   - a refused form is empty; an accepted one has at most
 *     PARSE_FIELDS_MAX fields, names of [a-z0-9_]{1,32}, each once, and
 *     values that are UTF-8 without NUL, of the length it says;
 *   - parse_form_get finds exactly the fields the form has;
 *   - parse_cookie and parse_query write a NUL-terminated value shorter
 *     than the buffer, or answer -1 (always for a buffer of size 0); a
 *     cookie found is found again in a buffer just big enough and refused
 *     in one a byte smaller; a query's value is UTF-8 without NUL;
 *   - parse_accept_language answers NULL or one of the offered pointers.
 *
 * Built by fuzz/run, not by automake.
 */
#include "build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/utf8.h"
#include "web/web.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_web: broken promise: %s "		\
		    "(%s:%d)\n", #cond, __FILE__, __LINE__);		\
		abort();						\
	}								\
} while (0)

static bool
name_is_plain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return false;
	return true;
}

static void
check_form(const char *body, size_t len)
{
	static const char *const names[] = { "csrf", "step", "user", "method",
	    "code", "answer1", "new_password", "new_password_confirm",
	    "old_password", "lang", "x" };
	struct form form;

	memset(&form, 0xa5, sizeof(form));
	if (parse_form(body, len, &form) < 0) {
		CHECK(form.n == 0);
		return;
	}
	CHECK(form.n <= PARSE_FIELDS_MAX);
	for (unsigned i = 0; i < form.n; i++) {
		CHECK(name_is_plain(form.f[i].name));
		CHECK(strlen(form.f[i].value) == form.f[i].len);
		CHECK(utf8_chars(form.f[i].value, form.f[i].len) >= 0);
		CHECK(form.f[i].len <= len);
		CHECK(parse_form_get(&form, form.f[i].name) == form.f[i].value);
		for (unsigned k = 0; k < i; k++)
			CHECK(strcmp(form.f[i].name, form.f[k].name) != 0);
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const char *v = parse_form_get(&form, names[k]);
		bool present = false;

		for (unsigned i = 0; i < form.n; i++)
			present |= strcmp(form.f[i].name, names[k]) == 0;
		CHECK((v != NULL) == present);
	}
	parse_form_clear(&form);
	CHECK(form.n == 0);
}

/* f(header, name, out, size) with the promises of parse_cookie and
 * parse_query. */
static void
check_lookup(int (*f)(const char *, const char *, char *, size_t),
    const char *header, const char *name, bool exact)
{
	char out[128], again[128];
	size_t vlen;

	memset(out, 0x5a, sizeof(out));
	if (f(header, name, out, sizeof(out)) < 0)
		return;
	vlen = strnlen(out, sizeof(out));
	CHECK(vlen < sizeof(out));
	CHECK(strlen(out) <= strlen(header));
	CHECK(f(header, name, again, 0) < 0);
	if (!exact) {
		/* a query's value is decoded: text, never a NUL */
		CHECK(utf8_chars(out, vlen) >= 0);
		return;
	}
	/* a cookie's value as it is: found again in a buffer just big
	 * enough, and refused in one a byte smaller */
	CHECK(f(header, name, again, vlen + 1) == 0);
	CHECK(strcmp(again, out) == 0);
	if (vlen > 0)
		CHECK(f(header, name, again, vlen) < 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)	/* secret_alloc()'s slabs are sodium_malloc()'s */
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const offered[] = { "en", "tr", NULL };
	const uint8_t *nul = memchr(data, '\0', size);
	size_t blen = nul != NULL ? (size_t)(nul - data) : size;
	char *body, *header;
	const char *lang;

	/* exact-size copies, so ASan sees any read past the end */
	body = malloc(blen > 0 ? blen : 1);
	if (blen > 0)
		memcpy(body, data, blen);
	check_form(body, blen);
	free(body);

	if (nul == NULL)
		return 0;
	header = strndup((const char *)nul + 1, size - blen - 1);
	if (header == NULL)
		abort();
	check_lookup(parse_cookie, header, "__Host-ssprweb", true);
	check_lookup(parse_cookie, header, "s", true);
	check_lookup(parse_query, header, "lang", false);
	check_lookup(parse_query, header, "l", false);
	lang = parse_accept_language(header, offered);
	CHECK(lang == NULL || lang == offered[0] || lang == offered[1]);
	free(header);
	return 0;
}
