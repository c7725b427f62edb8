/*
 * test_webparse.c - ssprweb's parsers (web/parse.c) on what browsers send
 * and on what they should not: form bodies, cookies, query strings and
 * Accept-Language. fuzz/fuzz_web.c checks the same promises on random
 * bytes; these pin the exact answers.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "web/web.h"

/* The form of body, which must be accepted. */
static void
form_ok(const char *body, struct form *form)
{
	if (parse_form(body, strlen(body), form) != 0)
		fail_msg("refused: \"%s\"", body);
}

static void
form_refused(const char *body, size_t len)
{
	struct form form;

	memset(&form, 0xa5, sizeof(form));
	if (parse_form(body, len, &form) != -1)
		fail_msg("accepted: \"%.*s\"", (int)len, body);
	assert_int_equal(form.n, 0);
}

static void
test_form_decoding(void **state)
{
	struct form form;

	(void)state;
	form_ok("csrf=ab12&step=0&user=alice", &form);
	assert_int_equal(form.n, 3);
	assert_string_equal(parse_form_get(&form, "csrf"), "ab12");
	assert_string_equal(parse_form_get(&form, "step"), "0");
	assert_string_equal(parse_form_get(&form, "user"), "alice");
	assert_null(parse_form_get(&form, "code"));
	assert_null(parse_form_get(&form, "use"));
	parse_form_clear(&form);
	assert_int_equal(form.n, 0);

	/* + is a space, %XX a byte, in either case; UTF-8 comes through */
	form_ok("new_password=Blue+Harbor%2b42%21&user=zo%C3%ab&x=%25", &form);
	assert_string_equal(parse_form_get(&form, "new_password"), "Blue Harbor+42!");
	assert_string_equal(parse_form_get(&form, "user"), "zo\xc3\xab");
	assert_string_equal(parse_form_get(&form, "x"), "%");
	assert_int_equal(form.f[0].len, strlen("Blue Harbor+42!"));
	parse_form_clear(&form);

	/* empty values, a name without '=', empty pairs */
	form_ok("&code=&&answer1&", &form);
	assert_int_equal(form.n, 2);
	assert_string_equal(parse_form_get(&form, "code"), "");
	assert_string_equal(parse_form_get(&form, "answer1"), "");
	parse_form_clear(&form);

	form_ok("", &form);
	assert_int_equal(form.n, 0);

	/* the body's length is what counts, not a NUL after it */
	assert_int_equal(parse_form("user=bob&code=1", 8, &form), 0);
	assert_int_equal(form.n, 1);
	assert_string_equal(parse_form_get(&form, "user"), "bob");
	parse_form_clear(&form);
}

static void
test_form_refusals(void **state)
{
	char many[512] = "";
	struct form form;
	int i;

	(void)state;
	form_refused("user=a&user=b", 13);		/* a name twice */
	form_refused("User=a", 6);			/* not [a-z0-9_] */
	form_refused("us%65r=a", 8);			/* escaped name */
	form_refused("=a", 2);				/* empty name */
	form_refused("a23456789012345678901234567890123=1", 35);	/* 33 */
	form_refused("code=%G1", 8);			/* bad escapes */
	form_refused("code=%4", 7);
	form_refused("code=%", 6);
	form_refused("code=%00", 8);			/* NUL */
	form_refused("code=a\0b", 8);
	form_refused("user=%C3%28", 11);		/* not UTF-8 */
	form_refused("user=%FF", 8);
	form_refused("user=%ED%A0%80", 14);		/* a surrogate */

	/* 32 fields are fine, 33 are not */
	for (i = 0; i < PARSE_FIELDS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "%sf%d=%d", i > 0 ? "&" : "", i, i);
	form_ok(many, &form);
	assert_int_equal(form.n, PARSE_FIELDS_MAX);
	assert_string_equal(parse_form_get(&form, "f31"), "31");
	parse_form_clear(&form);
	strcat(many, "&f32=32");
	form_refused(many, strlen(many));

	/* a refusal after good fields leaves nothing behind */
	form_refused("user=alice&new_password=x&code=%ZZ", 35);
}

static void
cookie_is(const char *header, const char *name, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	if (parse_cookie(header, name, out, sizeof(out)) != 0)
		fail_msg("%s not found in \"%s\"", name, header);
	assert_string_equal(out, want);
}

static void
test_cookie(void **state)
{
	char small[5];

	(void)state;
	cookie_is("__Host-ssprweb=0a1b", "__Host-ssprweb", "0a1b");
	cookie_is("theme=dark; __Host-ssprweb=0a1b; lang=tr", "__Host-ssprweb", "0a1b");
	cookie_is("a=1;b=2;\t c=3 ", "c", "3");
	cookie_is("c=", "c", "");
	/* a cookie whose name ends or begins like the one asked for */
	cookie_is("x__Host-ssprweb=1; __Host-ssprweb-2=2; __Host-ssprweb=3",
	    "__Host-ssprweb", "3");
	/* the first of two */
	cookie_is("s=1; s=2", "s", "1");

	assert_int_equal(parse_cookie("other=1", "s", small, sizeof(small)), -1);
	assert_int_equal(parse_cookie("", "s", small, sizeof(small)), -1);
	assert_int_equal(parse_cookie(NULL, "s", small, sizeof(small)), -1);
	assert_int_equal(parse_cookie("s", "s", small, sizeof(small)), -1);
	/* a value that does not fit is refused, not cut */
	assert_int_equal(parse_cookie("s=1234", "s", small, sizeof(small)), 0);
	assert_string_equal(small, "1234");
	assert_int_equal(parse_cookie("s=12345", "s", small, sizeof(small)), -1);
	assert_int_equal(parse_cookie("s=1", "s", small, 0), -1);
}

static void
test_query(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(parse_query("lang=tr", "lang", out, sizeof(out)), 0);
	assert_string_equal(out, "tr");
	assert_int_equal(parse_query("x=1&lang=en&lang=tr", "lang", out, sizeof(out)), 0);
	assert_string_equal(out, "en");
	assert_int_equal(parse_query("xlang=tr&lang=t%72", "lang", out, sizeof(out)), 0);
	assert_string_equal(out, "tr");
	assert_int_equal(parse_query("lang=", "lang", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(parse_query("language=tr", "lang", out, sizeof(out)), -1);
	assert_int_equal(parse_query("lang=%00", "lang", out, sizeof(out)), -1);
	assert_int_equal(parse_query("lang=%C3%28", "lang", out, sizeof(out)), -1);
	assert_int_equal(parse_query("lang=%4", "lang", out, sizeof(out)), -1);
	assert_int_equal(parse_query("lang=12345678", "lang", out, sizeof(out)), -1);
	assert_int_equal(parse_query(NULL, "lang", out, sizeof(out)), -1);
}

static const char *const offered[] = { "en", "tr", NULL };

static void
lang_is(const char *header, const char *want)
{
	const char *got = parse_accept_language(header, offered);

	if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0)
		fail_msg("\"%s\": got %s, want %s", header, got ? got : "NULL",
		    want ? want : "NULL");
	/* always one of the offered pointers */
	assert_true(got == NULL || got == offered[0] || got == offered[1]);
}

static void
test_accept_language(void **state)
{
	(void)state;
	lang_is("tr", "tr");
	lang_is("tr-TR", "tr");
	lang_is("TR-tr", "tr");
	lang_is("de-CH, de;q=0.9, tr;q=0.5, en;q=0.4", "tr");
	lang_is("en-US,en;q=0.9,tr;q=0.8", "en");
	lang_is("en;q=0.5, tr;q=0.8", "tr");
	lang_is("tr;Q=0.7,en;q=0.70", "tr");		/* ties: the first */
	lang_is("tr;q=0, en;q=0.1", "en");		/* q=0: not acceptable */
	lang_is("tr;q=0,en;q=0", NULL);
	lang_is("tr;q=0.000", NULL);
	lang_is("de, fr", NULL);
	lang_is("*", NULL);				/* no language of its own */
	lang_is("", NULL);
	lang_is(NULL, NULL);
	lang_is("trk, en-tr", "en");			/* primary subtags only */
	lang_is("tr;q=x, en", "en");			/* malformed entry skipped */
	lang_is(";;,,-, tr", "tr");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_decoding),
		cmocka_unit_test(test_form_refusals),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_accept_language),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
