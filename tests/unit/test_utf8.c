/*
 * test_utf8.c - strict UTF-8 and the UTF-16LE that AD's unicodePwd takes.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

static size_t
encode(const char *s, bool quoted, unsigned char *out)
{
	return utf8_to_utf16le(s, strlen(s), quoted, out);
}

static void
test_ascii_quoted(void **state)
{
	unsigned char out[64];
	const unsigned char want[] = { '"', 0, 'a', 0, 'B', 0, '1', 0, '"', 0 };

	assert_int_equal(encode("aB1", true, out), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(encode("aB1", false, out), 6);
}

static void
test_bmp(void **state)
{
	unsigned char out[64];
	/* Ş U+015E, İ U+0130, € U+20AC */
	const unsigned char want[] = { 0x5e, 0x01, 0x30, 0x01, 0xac, 0x20 };

	assert_int_equal(encode("\xc5\x9e\xc4\xb0\xe2\x82\xac", false, out), 6);
	assert_memory_equal(out, want, sizeof(want));
}

static void
test_surrogate_pairs(void **state)
{
	unsigned char out[64];
	/* 😀 U+1F600 = D83D DE00; 𝄞 U+1D11E = D834 DD1E */
	const unsigned char want[] = { 0x3d, 0xd8, 0x00, 0xde, 0x34, 0xd8, 0x1e, 0xdd };

	assert_int_equal(encode("\xf0\x9f\x98\x80\xf0\x9d\x84\x9e", false, out), 8);
	assert_memory_equal(out, want, sizeof(want));
	assert_true(utf16le_size(8, false) >= 8);
}

static void
test_invalid_refused(void **state)
{
	unsigned char out[64];
	const char *bad[] = {
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong */
		"\xed\xa0\x80",		/* a surrogate code point */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\x80",			/* lone continuation */
		"\xe2\x82",		/* truncated */
		"\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(encode(bad[i], true, out), 0);
		assert_int_equal(utf8_chars(bad[i], strlen(bad[i])), -1);
	}
	assert_int_equal(utf8_chars("a\0b", 3), -1);	/* no NUL inside */
}

static void
test_counts_characters(void **state)
{
	assert_int_equal(utf8_chars("", 0), 0);
	assert_int_equal(utf8_chars("abc", 3), 3);
	/* "Şifre" is 5 characters, 6 bytes */
	assert_int_equal(utf8_chars("\xc5\x9e" "ifre", 6), 5);
	/* one emoji is one character, four bytes */
	assert_int_equal(utf8_chars("\xf0\x9f\x98\x80", 4), 1);
}

static void
same_name(const char *a, const char *b)
{
	char *x = utf8_canonical_name(a, strlen(a));
	char *y = utf8_canonical_name(b, strlen(b));

	assert_non_null(x);
	assert_non_null(y);
	assert_string_equal(x, y);
	free(x);
	free(y);
}

/* The spellings a review used to reach one account with fresh counters. */
static void
test_canonical_name(void **state)
{
	char *c;

	same_name("bob", "bob ");
	same_name("bob", "  bob  ");
	same_name("bob", "bob\xc2\xa0");			/* no-break space */
	same_name("bob", "\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82");	/* fullwidth */
	same_name("bob", "BOB");
	same_name("bob", "b\xe2\x80\x8bob");		/* zero-width space */
	same_name("stra\xc3\x9f" "e", "STRASSE");	/* full case folding */
	same_name("mary ann", "Mary \t  Ann");
	c = utf8_canonical_name("  Mary   Ann ", 13);
	assert_string_equal(c, "mary ann");
	free(c);
	/* different names stay different */
	c = utf8_canonical_name("bobb", 4);
	assert_string_not_equal(c, "bob");
	free(c);
	assert_null(utf8_canonical_name("\xff", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_quoted),
		cmocka_unit_test(test_canonical_name),
		cmocka_unit_test(test_bmp),
		cmocka_unit_test(test_surrogate_pairs),
		cmocka_unit_test(test_invalid_refused),
		cmocka_unit_test(test_counts_characters),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
