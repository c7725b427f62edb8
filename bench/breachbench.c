/*
 * breachbench - the breached-password index at scale: lookup latency,
 * false positives, memory, and the cost of the whole local check of one
 * password.
 *
 *   bench/breachbench INDEX N [CONFIG]
 *
 * INDEX was built from `bench/breachgen N` (bench/breachlib.h says how
 * entry i is made, so members are picked at random without the corpus).
 * Prints, one figure per line:
 *   - RSS (VmRSS, RssAnon, RssFile) before the index is opened, after, and
 *     after the lookups: the file is mapped, not loaded;
 *   - lookups of 1 000 000 random members (each must be found, with its
 *     count's code) and of 1 000 000 random non-members: p50, p99, max;
 *   - false positives among 10 000 000 random non-member hashes, and the
 *     rate the index's bucket sizes predict;
 *   - SHA-1 of a password plus the lookup, p50 and p99;
 *   - with CONFIG (an ssprd.ini whose [policy] breached_file is INDEX): the
 *     whole local check (pwpolicy_check(): length, banned terms, breached)
 *     of 100 000 random passwords, p50 and p99.
 * Exit status 0 unless something could not run or a member was not found.
 */
#include "build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha1.h>

#include "bench/benchlib.h"
#include "bench/breachlib.h"
#include "common/breach.h"
#include "config/config.h"
#include "daemon/pwpolicy.h"

#define LOOKUPS 1000000
#define FP_LOOKUPS 10000000
#define CHECKS 100000

static void
usage(void)
{
	fprintf(stderr, "usage: breachbench INDEX N [CONFIG]\n");
	exit(2);
}

static void
rss(const char *when)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	printf("rss %-28s", when);
	if (f == NULL) {
		printf(" (no /proc)\n");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0 ||
		    strncmp(line, "RssAnon:", 8) == 0 ||
		    strncmp(line, "RssFile:", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			printf("  %s", line);
		}
	printf("\n");
	fclose(f);
}

static uint64_t rng = 42;

static uint64_t
next(void)
{
	rng = splitmix64(rng);
	return rng;
}

static void
report(const char *what, double *t, size_t n)
{
	bench_sort(t, n);
	printf("%-34s p50 %.2f us  p99 %.2f us  max %.1f us  (%zu)\n", what,
	    bench_percentile(t, n, 0.5) * 1e6,
	    bench_percentile(t, n, 0.99) * 1e6, t[n - 1] * 1e6, n);
}

int
main(int argc, char **argv)
{
	static double t[LOOKUPS];
	struct breach *b;
	char err[512];
	uint64_t n, fp = 0, missing = 0, wrong = 0;
	double expect = 0;

	if (argc != 3 && argc != 4)
		usage();
	n = bench_number(argv[2], 1, 4000000000UL, usage);
	rss("before opening");
	b = breach_open(argv[1], err, sizeof(err));
	if (b == NULL) {
		fprintf(stderr, "breachbench: %s\n", err);
		return 1;
	}
	rss("after opening");
	printf("entries %" PRIu64 "\n", breach_entries(b));

	for (size_t k = 0; k < LOOKUPS; k++) {
		uint8_t h[20];
		uint64_t count, i = next() % n;
		double t0;
		int code;

		breach_synthetic(i, n, h, &count);
		t0 = bench_now();
		code = breach_find(b, h);
		t[k] = bench_now() - t0;
		if (code < 0)
			missing++;
		else if ((unsigned)code != breach_count_code(count))
			wrong++;
	}
	report("lookup, members", t, LOOKUPS);
	printf("members not found %" PRIu64 ", with another count %" PRIu64
	    "\n", missing, wrong);

	for (size_t k = 0; k < FP_LOOKUPS; k++) {
		uint8_t h[20];
		uint64_t r[3] = { next(), next(), next() };
		double t0 = 0;

		memcpy(h, r, 20);
		if (k < LOOKUPS)
			t0 = bench_now();
		if (breach_find(b, h) >= 0)
			fp++;
		if (k < LOOKUPS)
			t[k] = bench_now() - t0;
	}
	report("lookup, non-members", t, LOOKUPS);
	/* A non-member matches when an entry of its bucket has its 32
	 * fingerprint bits: on average entries per bucket / 2^32. */
	expect = (double)breach_entries(b) /
	    (double)((uint64_t)1 << (breach_bits(b))) / 4294967296.0;
	printf("false positives %" PRIu64 " of %d (%.2g); predicted rate "
	    "%.2g\n", fp, FP_LOOKUPS, (double)fp / FP_LOOKUPS, expect);

	for (size_t k = 0; k < LOOKUPS; k++) {
		char pw[32];
		uint8_t h[SHA1_DIGEST_SIZE];
		struct sha1_ctx c;
		int len = snprintf(pw, sizeof(pw), "Pw-%016" PRIx64, next());
		double t0 = bench_now();

		sha1_init(&c);
		sha1_update(&c, (size_t)len, (const uint8_t *)pw);
		sha1_digest(&c, sizeof(h), h);
		(void)breach_find(b, h);
		t[k] = bench_now() - t0;
	}
	report("SHA-1 + lookup of a password", t, LOOKUPS);

	if (argc == 4) {
		struct config_diag diag = { 0 };
		struct config *cfg = config_load(argv[3], &diag);
		static const char *const who[] = { "Alice", "Liddell",
		    "Alice Liddell", "alice", "alice.liddell@example.org" };
		const struct strlist personal = { .v = (char **)who, .n = 5 };
		struct pw_context pc = { .user = "alice",
		    .personal = &personal };
		uint64_t refused = 0;

		if (cfg == NULL) {
			for (size_t i = 0; i < diag.n; i++)
				fprintf(stderr, "breachbench: %s\n",
				    diag.lines[i]);
			return 1;
		}
		for (size_t k = 0; k < CHECKS; k++) {
			char pw[40];
			int len = snprintf(pw, sizeof(pw),
			    "Correct-Horse-%012" PRIx64, next() >> 16);
			double t0 = bench_now();

			refused += pwpolicy_check(cfg, &pc, pw, (size_t)len) != 0;
			t[k] = bench_now() - t0;
		}
		report("whole local check of a password", t, CHECKS);
		printf("banned terms %zu, refused %" PRIu64 " of %d\n",
		    cfg->policy.banned.n, refused, CHECKS);
		config_free(cfg);
		config_diag_free(&diag);
	}
	rss("after the lookups");
	breach_close(b);
	return missing > 0 || wrong > 0;
}
