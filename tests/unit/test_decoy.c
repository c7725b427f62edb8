/*
 * test_decoy.c - decoy masks shaped like real ones (daemon/decoy.h): the
 * same for the same identity, drawn from what real answers showed, and the
 * decoy answer hash shaped like a real one.
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

#include "daemon/decoy.h"

static unsigned char key[32];

static void
mask(const struct decoy_masks *dm, const char *acct, enum method m,
    const char *name, char *out)
{
	decoy_mask(dm, key, acct, m, name, out, 64);
}

/* Before any real code was sent: the keyed fallback, the same every time
 * for the same identity, and another for another. */
static void
test_before_any_real(void **state)
{
	struct decoy_masks dm = { 0 };
	char a[64], b[64], c[64];

	(void)state;
	mask(&dm, "acct-1", METHOD_EMAIL, "zoe", a);
	mask(&dm, "acct-1", METHOD_EMAIL, "zoe", b);
	mask(&dm, "acct-2", METHOD_EMAIL, "zoe", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strstr(a, "***@"));
	mask(&dm, "acct-1", METHOD_SMS, "zoe", a);
	assert_int_equal(a[0], '+');
}

/* The most common real domain is the decoy's; a domain seen once does not
 * win over one seen three times. */
static void
test_common_domain(void **state)
{
	struct decoy_masks dm = { 0 };
	char out[64];

	(void)state;
	decoy_learn(&dm, METHOD_EMAIL, "b***@rare.test", "bob");
	for (int i = 0; i < 3; i++)
		decoy_learn(&dm, METHOD_EMAIL, "a***@example.org", "alice");
	mask(&dm, "acct-9", METHOD_EMAIL, "nobody", out);
	assert_string_equal(strchr(out, '@'), "@example.org");
	assert_string_equal(strchr(out, '*'), "***@example.org");
}

/* Real addresses all start with the name's letter: so do decoys'. None
 * do: a decoy's letter comes from the hash, for most names another. */
static void
test_first_letter(void **state)
{
	struct decoy_masks named = { 0 }, other = { 0 };
	char out[64], acct[32];
	unsigned same = 0;

	(void)state;
	for (int i = 0; i < 10; i++) {
		decoy_learn(&named, METHOD_EMAIL, "m***@example.org", "mallory");
		decoy_learn(&other, METHOD_EMAIL, "x***@example.org", "mallory");
	}
	for (int i = 0; i < 50; i++) {
		snprintf(acct, sizeof(acct), "acct-%d", i);
		mask(&named, acct, METHOD_EMAIL, "Quentin", out);
		assert_int_equal(out[0], 'q');
		mask(&other, acct, METHOD_EMAIL, "Quentin", out);
		same += out[0] == 'q';
	}
	assert_true(same < 10);
}

/* Phone masks: as many stars as most real ones, a '+' when most real
 * numbers have one, two digits. */
static void
test_phone_shape(void **state)
{
	struct decoy_masks dm = { 0 };
	char out[64];

	(void)state;
	for (int i = 0; i < 3; i++)
		decoy_learn(&dm, METHOD_SMS, "*******12", "x");
	decoy_learn(&dm, METHOD_SMS, "+*********34", "y");
	mask(&dm, "acct-1", METHOD_SMS, "z", out);
	assert_int_equal(strlen(out), 9);
	assert_int_equal(strspn(out, "*"), 7);
	assert_true(out[7] >= '0' && out[7] <= '9');
	for (int i = 0; i < 4; i++)
		decoy_learn(&dm, METHOD_SMS, "+*******56", "w");
	mask(&dm, "acct-1", METHOD_SMS, "z", out);
	assert_int_equal(out[0], '+');
}

/* A domain too long to keep is not learnt; the rarest makes room when
 * every slot is taken. */
static void
test_domains_bounded(void **state)
{
	struct decoy_masks dm = { 0 };
	char mask_[128], out[64];

	(void)state;
	snprintf(mask_, sizeof(mask_), "a***@%0*d.test", DECOY_DOMAIN_MAX, 0);
	decoy_learn(&dm, METHOD_EMAIL, mask_, "a");
	assert_int_equal(dm.domains[0].n, 0);
	for (int i = 0; i < DECOY_DOMAINS + 4; i++) {
		snprintf(mask_, sizeof(mask_), "a***@d%d.test", i);
		decoy_learn(&dm, METHOD_EMAIL, mask_, "a");
	}
	decoy_learn(&dm, METHOD_EMAIL, "a***@d19.test", "a");
	mask(&dm, "acct-1", METHOD_EMAIL, "a", out);
	assert_string_equal(strchr(out, '@'), "@d19.test");
}

/* The decoy hash: an argon2id string with real parameters, fresh every
 * time, and no answer verifies against it. */
static void
test_decoy_hash(void **state)
{
	char *a = decoy_hash_new(), *b = decoy_hash_new();

	(void)state;
	assert_int_equal(strncmp(a, "$argon2id$v=19$m=", 17), 0);
	assert_string_not_equal(a, b);
	assert_int_not_equal(crypto_pwhash_str_verify(a, "", 0), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(a, "decoy", 5), 0);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_any_real),
		cmocka_unit_test(test_common_domain),
		cmocka_unit_test(test_first_letter),
		cmocka_unit_test(test_phone_shape),
		cmocka_unit_test(test_domains_bounded),
		cmocka_unit_test(test_decoy_hash),
	};

	if (sodium_init() < 0)
		return 1;
	/* a fixed key: the same draws on every run */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
