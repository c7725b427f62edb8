/*
 * test_pwpolicy.c - ssprd's own password rules: the worked examples of the
 * scoring (normalisation, edit distance, personal data, the threshold),
 * the order of the other rules, and the breached-password index (import,
 * lookup, counts, refusals of bad input and of damaged files).
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/breach.h"
#include "config/config.h"
#include "daemon/pwpolicy.h"

static char dir[] = "/tmp/test_pwpolicy.XXXXXX";

static struct config *
policy(const char *const *banned, size_t n)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	cfg->policy.min_length = 8;
	cfg->policy.max_length = 256;
	cfg->policy.min_score = 5;
	cfg->policy.breached_min_count = 1;
	for (size_t i = 0; i < n; i++)
		strlist_add(&cfg->policy.banned, banned[i]);	/* sorted */
	return cfg;
}

static void
policy_free(struct config *cfg)
{
	strlist_free(&cfg->policy.banned);
	breach_close(cfg->policy.breached);
	free(cfg);
}

static const char *const contoso[] = { "contoso", "london", "password",
    "summer" };

static unsigned
score(const struct config *cfg, const struct pw_context *pc, const char *pw,
    unsigned *kinds)
{
	return pwpolicy_score(cfg, pc, pw, strlen(pw), kinds);
}

static unsigned
check(const struct config *cfg, const struct pw_context *pc, const char *pw)
{
	return pwpolicy_check(cfg, pc, pw, strlen(pw));
}

/* The worked examples of ssprd.ini(5), [policy] min_score. */
static void
test_worked_examples(void **state)
{
	struct config *cfg = policy(contoso, 4);
	struct pw_context pc = { 0 };
	unsigned k;

	(void)state;
	/* P@ssw0rd -> password: one term, nothing left: 1 */
	assert_int_equal(score(cfg, &pc, "P@ssw0rd", &k), 1);
	assert_int_equal(k, PW_BANNED_WORD);
	assert_int_equal(check(cfg, &pc, "P@ssw0rd"), PW_BANNED_WORD);
	/* Contoso!2024 -> contosoi2o2a: contoso + i 2 o 2 a: 6, allowed */
	assert_int_equal(score(cfg, &pc, "Contoso!2024", &k), 6);
	assert_int_equal(check(cfg, &pc, "Contoso!2024"), 0);
	/* C0nt0s0Summer -> contososummer: two terms: 2 */
	assert_int_equal(score(cfg, &pc, "C0nt0s0Summer", &k), 2);
	assert_int_equal(check(cfg, &pc, "C0nt0s0Summer"), PW_BANNED_WORD);
	/* one changed letter: passwerd is password; + "12": 3 */
	assert_int_equal(score(cfg, &pc, "Passwerd12", &k), 3);
	/* one added: pass-word; + "9": 2 */
	assert_int_equal(score(cfg, &pc, "Pass-word9", &k), 2);
	/* one left out: pasword; + "99": 3 */
	assert_int_equal(score(cfg, &pc, "Pasword99", &k), 3);
	/* 1 stands for l (or i): 1ondon is london; + "bridge": 7, allowed */
	assert_int_equal(score(cfg, &pc, "1ondonBridge", &k), 7);
	assert_int_equal(score(cfg, &pc, "1ondon12", &k), 3);
	/* nothing banned in it: every character a point */
	assert_int_equal(score(cfg, &pc, "correct horse", &k), 13);
	assert_int_equal(k, 0);
	/* the whole password on the list is still SPEC's "banned" */
	assert_int_equal(check(cfg, &pc, "PASSWORD"), PW_BANNED);
	policy_free(cfg);
}

static void
test_short_terms_exact(void **state)
{
	static const char *const cat[] = { "cat", "dog" };
	struct config *cfg = policy(cat, 2);
	struct pw_context pc = { 0 };
	unsigned k;

	(void)state;
	/* 3-letter terms match only exactly: "cut" is not "cat" */
	assert_int_equal(score(cfg, &pc, "cut", &k), 3);
	assert_int_equal(score(cfg, &pc, "c4t", &k), 1);
	assert_int_equal(score(cfg, &pc, "catdogcat", &k), 3);
	/* terms below 3 characters are ignored */
	policy_free(cfg);
	{
		static const char *const ab[] = { "ab" };

		cfg = policy(ab, 1);
		assert_int_equal(score(cfg, &pc, "abab", &k), 4);
		policy_free(cfg);
	}
}

static void
test_personal_data(void **state)
{
	static const char *const who[] = { "Alice", "Liddell", "Alice Liddell",
	    "alice", "alice.liddell@example.org", "a.l@example.org" };
	const struct strlist personal = { .v = (char **)who, .n = 6 };
	struct config *cfg = policy(NULL, 0);
	struct pw_context pc = { .user = "alice", .personal = &personal };
	unsigned k;

	(void)state;
	/* liddell + "-" + alice + "7": 4 */
	assert_int_equal(score(cfg, &pc, "Liddell-Alice7", &k), 4);
	assert_int_equal(k, PW_PERSONAL);
	assert_int_equal(check(cfg, &pc, "Liddell-Alice7"),
	    PW_CONTAINS_USER | PW_PERSONAL);
	/* within one edit: l1dde1l; + "wonderland": allowed */
	assert_int_equal(score(cfg, &pc, "L1ddellWonderland", &k), 11);
	assert_int_equal(check(cfg, &pc, "L1ddellWonderland"), 0);
	assert_int_equal(check(cfg, &pc, "Liddel-24"), PW_PERSONAL);
	/* liddel (one left out) + "-2o2a": 6, allowed */
	assert_int_equal(check(cfg, &pc, "Liddel-2024"), 0);
	/* the mail address by its local part's words; "example" is not one */
	assert_int_equal(score(cfg, &pc, "example", &k), 7);
	/* without the entry (before the lookup) it is only characters */
	pc.personal = NULL;
	pc.user = NULL;
	assert_int_equal(check(cfg, &pc, "Liddel-24"), 0);
	policy_free(cfg);
}

static void
test_characters_counted(void **state)
{
	struct config *cfg = policy(contoso, 4);
	struct pw_context pc = { 0 };
	unsigned k;

	(void)state;
	/* six letters of two bytes each: six points, not twelve */
	assert_int_equal(score(cfg, &pc, "ğüşiöç", &k), 6);
	/* Turkish letters around a term */
	assert_int_equal(score(cfg, &pc, "ŞifrePassword", &k), 6);
	policy_free(cfg);
}

static void
test_rules_and_names(void **state)
{
	struct config *cfg = policy(contoso, 4);
	struct pw_context pc = { .user = "bob" };
	const char *names[PW_NAMES_MAX];

	(void)state;
	assert_int_equal(check(cfg, &pc, "short"), PW_TOO_SHORT);
	assert_int_equal(check(cfg, &pc, "\xff\xfe long enough"), PW_NOT_UTF8);
	assert_int_equal(check(cfg, &pc, "Bob's long phrase"),
	    PW_CONTAINS_USER);
	cfg->policy.min_score = 0;	/* off */
	assert_int_equal(check(cfg, &pc, "C0nt0s0Summer"), 0);
	pwpolicy_names(PW_TOO_SHORT | PW_BANNED_WORD | PW_PERSONAL |
	    PW_BREACHED, names);
	assert_string_equal(names[0], "too-short");
	assert_string_equal(names[1], "banned-word");
	assert_string_equal(names[2], "personal-data");
	assert_string_equal(names[3], "breached");
	assert_null(names[4]);
	policy_free(cfg);
}

/* The directory's rules: AD's complexity rule, the minimum age. */
static void
test_directory_rules(void **state)
{
	struct config *cfg = policy(NULL, 0);
	struct dir_pwpolicy dp = { .known = true, .min_length = 10,
	    .complexity = true, .min_age = 86400 };
	struct pw_context pc = { .dir = &dp, .account = "jsmith",
	    .display_name = "Doe, John-Paul\tX" };

	(void)state;
	cfg->directory.type = DIR_TYPE_AD;
	cfg->policy.directory_rules = true;
	cfg->policy.min_score = 0;
	assert_int_equal(check(cfg, &pc, "Short-1a"), PW_TOO_SHORT);
	assert_int_equal(check(cfg, &pc, "lowercaseonly"), PW_COMPLEXITY);
	assert_int_equal(check(cfg, &pc, "lower-and-symbols"), PW_COMPLEXITY);
	assert_int_equal(check(cfg, &pc, "lower-and-1-digit"), 0);
	assert_int_equal(check(cfg, &pc, "UPPERlower12"), 0);
	/* a letter that is neither upper nor lower case is a fifth kind */
	assert_int_equal(check(cfg, &pc, "lowercase\xe6\xbc\xa2\xe5\xad\x97x9"), 0);
	assert_int_equal(check(cfg, &pc, "\xc3\xa7\xc3\xb6z\xc3\x87\xc3\x96Zabcd"),
	    PW_COMPLEXITY);	/* non-ASCII upper and lower: still two */
	assert_int_equal(check(cfg, &pc, "Xx-JSMITH-harbour-1"), PW_CONTAINS_USER);
	/* words of 3+ characters, split at , . - _ space # tab */
	assert_int_equal(check(cfg, &pc, "Harbour-john-2024"), PW_CONTAINS_DISPLAY);
	assert_int_equal(check(cfg, &pc, "Harbour-PAUL-2024"), PW_CONTAINS_DISPLAY);
	assert_int_equal(check(cfg, &pc, "Harbour-x-Doe-2024"), PW_CONTAINS_DISPLAY);
	assert_int_equal(check(cfg, &pc, "Harbour-Jo-Pa-2024"), 0);
	/* complexity off: names and categories are the directory's business */
	dp.complexity = false;
	assert_int_equal(check(cfg, &pc, "lowercaseonly-john"), 0);
	/* the minimum age, for a change: AD's pwdLastSet (FILETIME) */
	pc.now = 1780000000;
	{
		char ft[32];

		/* set 1 hour before now: too young under a day */
		snprintf(ft, sizeof(ft), "%lld",
		    ((long long)pc.now - 3600 + 11644473600LL) * 10000000LL);
		pc.changed = ft;
		assert_int_equal(check(cfg, &pc, "Harbour-Lights-9"),
		    PW_TOO_YOUNG);
		snprintf(ft, sizeof(ft), "%lld",
		    ((long long)pc.now - 90000 + 11644473600LL) * 10000000LL);
		assert_int_equal(check(cfg, &pc, "Harbour-Lights-9"), 0);
		pc.changed = "0";	/* must change at next logon */
		assert_int_equal(check(cfg, &pc, "Harbour-Lights-9"), 0);
	}
	/* OpenLDAP's pwdChangedTime */
	cfg->directory.type = DIR_TYPE_OPENLDAP;
	pc.now = 1780000000;	/* 2026-05-28T20:26:40Z */
	pc.changed = "20260528200000Z";
	assert_int_equal(check(cfg, &pc, "Harbour-Lights-9"), PW_TOO_YOUNG);
	pc.changed = "20260520200000Z";
	assert_int_equal(check(cfg, &pc, "Harbour-Lights-9"), 0);
	/* switched off: nothing of the directory's */
	cfg->policy.directory_rules = false;
	pc.changed = "20260528200000Z";
	assert_int_equal(check(cfg, &pc, "Short-1a"), 0);
	policy_free(cfg);
}

/* --- the breached-password index ---------------------------------------- */

static char *
write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int
import(const char *text, const char *out, uint64_t min, char *err)
{
	struct breach_import_stats st;
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(in);
	rc = breach_import(in, out, min, &st, err, 256);
	fclose(in);
	return rc;
}

/* SHA-1 of "password" and "123456" (with counts of the real corpus's
 * order of magnitude), then a line out of order. */
static const char corpus[] =
    "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3730471\r\n"
    "7C4A8D09CA3762AF61E59520943DC26494F8941B:37359195\r\n"
    "0a0ff3d15fad5a1f5d82a1148df3a0a5c9d0a2f1:9\r\n";

static void
test_breach_import_and_lookup(void **state)
{
	char *out, err[256];
	struct config *cfg = policy(NULL, 0);
	struct pw_context pc = { 0 };
	char buf[200];

	(void)state;
	assert_true(asprintf(&out, "%s/sha1.idx", dir) > 0);
	/* the lowercase line is out of order after 7C4A...: refused */
	assert_int_equal(import(corpus, out, 1, err), -1);
	assert_non_null(strstr(err, "line 3"));
	assert_int_not_equal(access(out, F_OK), 0);	/* nothing left */
	/* in order */
	snprintf(buf, sizeof(buf), "%s%s",
	    "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:3730471\n",
	    "7C4A8D09CA3762AF61E59520943DC26494F8941B:37359195\n");
	assert_int_equal(import(buf, out, 1, err), 0);
	cfg->policy.breached = breach_open(out, err, sizeof(err));
	assert_non_null(cfg->policy.breached);
	assert_int_equal(breach_entries(cfg->policy.breached), 2);
	assert_int_equal(check(cfg, &pc, "password"), PW_BREACHED);
	cfg->policy.min_length = 6;
	cfg->policy.min_score = 0;
	assert_int_equal(check(cfg, &pc, "123456"), PW_BREACHED);
	assert_int_equal(check(cfg, &pc, "1234567"), 0);
	/* seen 37 million times: breached at any threshold up to there */
	cfg->policy.breached_min_count = 1000000;
	assert_int_equal(check(cfg, &pc, "123456"), PW_BREACHED);
	cfg->policy.breached_min_count = 100000000;
	assert_int_equal(check(cfg, &pc, "123456"), 0);
	breach_close(cfg->policy.breached);
	cfg->policy.breached = NULL;
	/* --min-count at import leaves the rarer one out */
	assert_int_equal(import(buf, out, 10000000, err), 0);
	cfg->policy.breached = breach_open(out, err, sizeof(err));
	assert_non_null(cfg->policy.breached);
	assert_int_equal(breach_entries(cfg->policy.breached), 1);
	assert_int_equal(breach_min_count(cfg->policy.breached), 10000000);
	cfg->policy.breached_min_count = 1;
	assert_int_equal(check(cfg, &pc, "password"), 0);
	assert_int_equal(check(cfg, &pc, "123456"), PW_BREACHED);
	free(out);
	policy_free(cfg);
}

static void
test_breach_ntlm(void **state)
{
	/* NTLM (MD4 of UTF-16LE) of "Password1" */
	static const char ntlm[] = "64F12CDDAA88057E06A81B54E73B949B:111\n";
	struct config *cfg = policy(NULL, 0);
	struct pw_context pc = { 0 };
	char *out, err[256];

	(void)state;
	cfg->policy.min_score = 0;
	assert_true(asprintf(&out, "%s/ntlm.idx", dir) > 0);
	assert_int_equal(import(ntlm, out, 1, err), 0);
	cfg->policy.breached = breach_open(out, err, sizeof(err));
	assert_non_null(cfg->policy.breached);
	assert_int_equal(breach_kind(cfg->policy.breached), BREACH_NTLM);
	assert_int_equal(check(cfg, &pc, "Password1"), PW_BREACHED);
	assert_int_equal(check(cfg, &pc, "Password2"), 0);
	free(out);
	policy_free(cfg);
}

static void
test_breach_bad_input(void **state)
{
	static const char *const bad[] = {
		"",						/* no lines */
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8\n",	/* no count */
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD:1\n",	/* 39 digits */
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDX:1\n",	/* not hex */
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1x\n",	/* count */
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n"
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n",	/* duplicate */
		"64F12CDDAA88057E06A81B54E73B949B:1\n"
		"7C4A8D09CA3762AF61E59520943DC26494F8941B:1\n",	/* mixed */
	};
	char *out, err[256];

	(void)state;
	assert_true(asprintf(&out, "%s/bad.idx", dir) > 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		assert_int_equal(import(bad[i], out, 1, err), -1);
		assert_true(err[0] != '\0');
		assert_int_not_equal(access(out, F_OK), 0);
	}
	free(out);
}

static void
test_breach_damaged(void **state)
{
	char *out, *junk, err[256];
	struct breach *b;
	FILE *f;
	long size;

	(void)state;
	assert_true(asprintf(&out, "%s/damaged.idx", dir) > 0);
	assert_int_equal(import("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n",
	    out, 1, err), 0);
	junk = write_file("junk.idx", "not an index at all, but long enough "
	    "to hold a header of sixty-four bytes......");
	assert_null(breach_open(junk, err, sizeof(err)));
	assert_non_null(strstr(err, "not a breached-password index"));
	/* cut short by one byte */
	f = fopen(out, "r+");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	assert_int_equal(ftruncate(fileno(f), size - 1), 0);
	fclose(f);
	assert_null(breach_open(out, err, sizeof(err)));
	assert_non_null(strstr(err, "damaged"));
	/* a bucket table that does not add up */
	assert_int_equal(import("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n",
	    out, 1, err), 0);
	f = fopen(out, "r+");
	fseek(f, -8, SEEK_END);
	fputc(7, f);
	fclose(f);
	assert_null(breach_open(out, err, sizeof(err)));
	assert_non_null(strstr(err, "bucket table"));
	assert_null(b = breach_open("/nonexistent/x.idx", err, sizeof(err)));
	free(out);
	free(junk);
}

static void
test_count_codes(void **state)
{
	unsigned prev = 0;

	(void)state;
	for (uint64_t c = 0; c < 64; c++)
		assert_int_equal(breach_count_code(c), c);
	/* monotonic, and 8 codes per doubling */
	for (uint64_t c = 1; c < ((uint64_t)1 << 31); c += c / 50 + 1) {
		unsigned code = breach_count_code(c);

		assert_true(code >= prev);
		prev = code;
	}
	assert_int_equal(breach_count_code(64), 64);
	assert_int_equal(breach_count_code(128), 72);
	assert_int_equal(breach_count_code((uint64_t)1 << 30), 255);
	assert_int_equal(breach_count_code(UINT64_MAX), 255);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_examples),
		cmocka_unit_test(test_short_terms_exact),
		cmocka_unit_test(test_personal_data),
		cmocka_unit_test(test_characters_counted),
		cmocka_unit_test(test_rules_and_names),
		cmocka_unit_test(test_directory_rules),
		cmocka_unit_test(test_breach_import_and_lookup),
		cmocka_unit_test(test_breach_ntlm),
		cmocka_unit_test(test_breach_bad_input),
		cmocka_unit_test(test_breach_damaged),
		cmocka_unit_test(test_count_codes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
