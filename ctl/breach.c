/*
 * breach.c - ssprctl breach-import: the Pwned Passwords download format
 * into the index ssprd maps ([policy] breached_file; common/breach.h).
 */
#include "build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/breach.h"
#include "ctl/ctl.h"

int
ctl_breach_import(const char *input, const char *output, uint64_t min_count)
{
	struct breach_import_stats st;
	struct timespec t0, t1;
	char err[512] = "";
	FILE *in = stdin;
	double secs;
	int rc;

	if (strcmp(input, "-") != 0 && (in = fopen(input, "r")) == NULL) {
		fprintf(stderr, "ssprctl: %s: %s\n", input, strerror(errno));
		return 1;
	}
	setvbuf(in, NULL, _IOFBF, 1 << 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = breach_import(in, output, min_count, &st, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (in != stdin)
		fclose(in);
	if (rc != 0) {
		fprintf(stderr, "ssprctl: breach-import: %s: %s\n",
		    in == stdin ? "stdin" : input, err);
		return 1;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: %llu entries of %llu lines (count >= %llu), %llu bytes "
	    "(%.2f per entry), %u bucket bits, %.1f s (%.0f lines/s)\n",
	    output, (unsigned long long)st.entries,
	    (unsigned long long)st.lines, (unsigned long long)min_count,
	    (unsigned long long)st.bytes,
	    st.entries ? (double)st.bytes / (double)st.entries : 0.0, st.bits,
	    secs, secs > 0 ? (double)st.lines / secs : 0.0);
	return 0;
}
