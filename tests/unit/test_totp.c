/*
 * test_totp.c - daemon/totp.h: the RFC 4226 and RFC 6238 test vectors, the
 * window of +-1 step, replay, base32 against RFC 4648, the otpauth URI, and
 * sealed secrets (round trip; wrong key, owner or byte refused).
 *
 * The expected values here come from the RFCs, not from ssprd; the URI is
 * also checked by code that is not ssprd's (tests/integration/totp.sh,
 * Python's hmac).
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/secret.h"
#include "daemon/totp.h"

/* RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1) */
static const unsigned char rfc_key[] = "12345678901234567890";
#define RFC_KEY_LEN 20

static unsigned char key[TOTP_KEY_LEN];

static void
code_str(uint64_t step, char out[TOTP_DIGITS + 1])
{
	snprintf(out, TOTP_DIGITS + 1, "%06u",
	    (unsigned)totp_code(rfc_key, RFC_KEY_LEN, step, TOTP_DIGITS));
}

static void
test_hotp_vectors(void **state)
{
	static const uint32_t want[10] = {
		755224, 287082, 359152, 969429, 338314,
		254676, 287922, 162583, 399871, 520489,
	};

	(void)state;
	for (uint64_t c = 0; c < 10; c++)
		assert_int_equal(totp_code(rfc_key, RFC_KEY_LEN, c, 6), want[c]);
}

static void
test_totp_vectors(void **state)
{
	static const struct { int64_t t; uint32_t code; } v[] = {
		{ 59, 94287082 },
		{ 1111111109, 7081804 },
		{ 1111111111, 14050471 },
		{ 1234567890, 89005924 },
		{ 2000000000, 69279037 },
		{ 20000000000, 65353130 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(totp_code(rfc_key, RFC_KEY_LEN,
		    (uint64_t)totp_step(v[i].t, 30), 8), v[i].code);
	/* the 6-digit form is the low six digits */
	assert_int_equal(totp_code(rfc_key, RFC_KEY_LEN, totp_step(59, 30), 6),
	    287082);
	assert_int_equal(totp_code(rfc_key, RFC_KEY_LEN, 1, 5), 0);
	assert_int_equal(totp_code(rfc_key, RFC_KEY_LEN, 1, 9), 0);
}

static void
test_step(void **state)
{
	(void)state;
	assert_int_equal(totp_step(0, 30), 0);
	assert_int_equal(totp_step(29, 30), 0);
	assert_int_equal(totp_step(30, 30), 1);
	assert_int_equal(totp_step(59, 30), 1);
	assert_int_equal(totp_step(1111111111, 30), 37037037);
	assert_int_equal(totp_step(-1, 30), -1);
	assert_int_equal(totp_step(-30, 30), -1);
	assert_int_equal(totp_step(-31, 30), -2);
}

static void
test_window(void **state)
{
	const int64_t now = 1111111111, base = now / 30;
	char c[TOTP_DIGITS + 1];
	int64_t got = 0;

	(void)state;
	for (int64_t d = -1; d <= 1; d++) {
		code_str((uint64_t)(base + d), c);
		got = 0;
		assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, -1,
		    &got), TOTP_OK);
		assert_int_equal(got, base + d);
	}
	/* two steps away: outside the window (and the RFC vectors show
	 * these codes differ from the three inside it) */
	code_str((uint64_t)(base - 2), c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, -1, &got),
	    TOTP_WRONG);
	code_str((uint64_t)(base + 2), c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, -1, &got),
	    TOTP_WRONG);
	/* the edges of a step: the window moves with now */
	code_str((uint64_t)(base + 1), c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, (base + 2) * 30 + 29,
	    -1, &got), TOTP_OK);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, (base + 3) * 30,
	    -1, &got), TOTP_WRONG);
}

static void
test_replay(void **state)
{
	const int64_t now = 1234567890, base = now / 30;
	char c[TOTP_DIGITS + 1];
	int64_t got = -7;

	(void)state;
	code_str((uint64_t)base, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, -1, &got),
	    TOTP_OK);
	assert_int_equal(got, base);
	/* the same step again: refused, and *matched_step left alone */
	got = -7;
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, base, &got),
	    TOTP_REPLAY);
	assert_int_equal(got, -7);
	/* an earlier step of the window, after a later one was used */
	code_str((uint64_t)(base - 1), c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, base, &got),
	    TOTP_REPLAY);
	/* the next step is still good */
	code_str((uint64_t)(base + 1), c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, base, &got),
	    TOTP_OK);
	assert_int_equal(got, base + 1);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c, now, base + 1,
	    &got), TOTP_REPLAY);
}

static void
test_wrong_codes(void **state)
{
	const int64_t now = 2000000000, base = now / 30;
	char c[TOTP_DIGITS + 1], w[TOTP_DIGITS + 2];
	int64_t got = -7;
	unsigned bad;

	(void)state;
	/* a six-digit code no step of the window has */
	for (bad = 0;; bad++) {
		bool clash = false;

		for (int64_t d = -1; d <= 1; d++)
			clash |= totp_code(rfc_key, RFC_KEY_LEN,
			    (uint64_t)(base + d), 6) == bad;
		if (!clash)
			break;
	}
	snprintf(w, sizeof(w), "%06u", bad);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, w, now, -1, &got),
	    TOTP_WRONG);
	assert_int_equal(got, -7);

	/* the right digits in the wrong form */
	code_str((uint64_t)base, c);
	snprintf(w, sizeof(w), "%s0", c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, w, now, -1, &got),
	    TOTP_WRONG);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, c + 1, now, -1, &got),
	    TOTP_WRONG);
	snprintf(w, sizeof(w), "%.5s ", c);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, w, now, -1, &got),
	    TOTP_WRONG);
	assert_int_equal(totp_check(rfc_key, RFC_KEY_LEN, "", now, -1, &got),
	    TOTP_WRONG);
	/* another secret */
	assert_int_equal(totp_check((const unsigned char *)"another secret", 14,
	    c, now, -1, &got), TOTP_WRONG);
	assert_int_equal(got, -7);
}

static void
test_base32(void **state)
{
	/* RFC 4648 section 10, without the padding */
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
	};
	char out[40];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in);

		assert_int_equal(totp_base32((const unsigned char *)v[i].in, n,
		    out, sizeof(out)), strlen(v[i].out));
		assert_string_equal(out, v[i].out);
		assert_int_equal(TOTP_BASE32_LEN(n), strlen(v[i].out) + 1);
	}
	assert_int_equal(totp_base32(rfc_key, RFC_KEY_LEN, out, sizeof(out)), 32);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	/* too small: nothing written past it */
	assert_int_equal(totp_base32((const unsigned char *)"foobar", 6, out, 10),
	    0);
}

static void
test_uri(void **state)
{
	char *uri;

	(void)state;
	uri = totp_uri("ACME", "alice", rfc_key);
	assert_string_equal(uri, "otpauth://totp/ACME:alice?"
	    "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME"
	    "&algorithm=SHA1&digits=6&period=30");
	secret_free(uri);
	/* everything but unreserved characters is encoded, ':' and '&'
	 * included, UTF-8 byte by byte */
	uri = totp_uri("ACME Co: R&D", "a.b_c-d~e@x.test/\xc3\xa9", rfc_key);
	assert_string_equal(uri, "otpauth://totp/ACME%20Co%3A%20R%26D:"
	    "a.b_c-d~e%40x.test%2F%C3%A9?"
	    "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co%3A%20R%26D"
	    "&algorithm=SHA1&digits=6&period=30");
	secret_free(uri);
}

static void
test_new_secret(void **state)
{
	unsigned char *a = totp_new_secret(), *b = totp_new_secret();

	(void)state;
	assert_memory_not_equal(a, b, TOTP_SECRET_LEN);
	secret_free(a);
	secret_free(b);
}

static void
test_seal_round_trip(void **state)
{
	unsigned char *s = totp_new_secret(), out[TOTP_SECRET_LEN];
	int64_t t = 0;
	char *v, *w;

	(void)state;
	v = totp_seal(key, "uid=alice,dc=example", s, 1700000000);
	assert_non_null(strstr(v, "{\"v\":1,\"n\":\""));
	assert_non_null(strstr(v, ",\"t\":1700000000}"));
	assert_int_equal(totp_open(key, "uid=alice,dc=example", v, out, &t), 0);
	assert_memory_equal(out, s, TOTP_SECRET_LEN);
	assert_int_equal(t, 1700000000);
	/* a fresh nonce each time */
	w = totp_seal(key, "uid=alice,dc=example", s, 1700000000);
	assert_string_not_equal(v, w);
	assert_int_equal(totp_open(key, "uid=alice,dc=example", w, out, &t), 0);
	assert_memory_equal(out, s, TOTP_SECRET_LEN);
	free(w);
	free(v);
	secret_free(s);
}

static void
test_seal_refused(void **state)
{
	static const unsigned char zero[TOTP_SECRET_LEN];
	unsigned char *s = totp_new_secret(), out[TOTP_SECRET_LEN];
	unsigned char other[TOTP_KEY_LEN];
	int64_t t = 5;
	char *v, *bad, *p;

	(void)state;
	v = totp_seal(key, "alice", s, 1700000000);
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(totp_open(other, "alice", v, out, &t), -1);
	assert_memory_equal(out, zero, sizeof(out));	/* wiped */
	assert_int_equal(t, 5);
	/* copied onto another account */
	assert_int_equal(totp_open(key, "bob", v, out, &t), -1);
	assert_int_equal(totp_open(key, "alice ", v, out, &t), -1);

	/* the owner is the whole DN, folded: two long DNs that differ only
	 * past 1100 bytes are two owners */
	{
		char *dn = malloc(1301), *o1, *o2, *w;

		memset(dn, 'X', 1300);
		dn[1300] = '\0';
		o1 = totp_owner(dn);
		assert_int_equal(strlen(o1), 1300);
		assert_int_equal(o1[0], 'x');
		dn[1250] = 'Y';
		o2 = totp_owner(dn);
		w = totp_seal(key, o1, s, 1700000000);
		assert_int_equal(totp_open(key, o1, w, out, &t), 0);
		assert_int_equal(totp_open(key, o2, w, out, &t), -1);
		free(w);
		free(o1);
		free(o2);
		free(dn);
	}

	/* every character of the ciphertext changed in turn */
	p = strstr(v, "\"c\":\"") + 5;
	for (; *p != '"'; p++) {
		char was = *p;

		*p = was == 'A' ? 'B' : 'A';
		assert_int_equal(totp_open(key, "alice", v, out, &t), -1);
		*p = was;
	}
	/* and of the nonce */
	p = strstr(v, "\"n\":\"") + 5;
	for (; *p != '"'; p++) {
		char was = *p;

		*p = was == 'A' ? 'B' : 'A';
		assert_int_equal(totp_open(key, "alice", v, out, &t), -1);
		*p = was;
	}
	assert_int_equal(totp_open(key, "alice", v, out, &t), 0);

	/* the clear time is bound to the sealed one */
	bad = strdup(v);
	p = strstr(bad, "1700000000");
	p[9] = '1';
	assert_int_equal(totp_open(key, "alice", bad, out, &t), -1);
	free(bad);

	/* not ours */
	assert_int_equal(totp_open(key, "alice", "", out, &t), -1);
	assert_int_equal(totp_open(key, "alice", "JBSWY3DPEHPK3PXP", out, &t), -1);
	assert_int_equal(totp_open(key, "alice", "{}", out, &t), -1);
	assert_int_equal(asprintf(&bad, "%.*s,\"x\":1}", (int)strlen(v) - 1, v) > 0,
	    1);
	assert_int_equal(totp_open(key, "alice", bad, out, &t), -1);
	free(bad);
	bad = strdup(v);
	bad[5] = '2';		/* {"v":2 */
	assert_int_equal(totp_open(key, "alice", bad, out, &t), -1);
	free(bad);
	free(v);
	secret_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hotp_vectors),
		cmocka_unit_test(test_totp_vectors),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_wrong_codes),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_new_secret),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_refused),
	};

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 11 + 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
