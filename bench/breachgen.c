/*
 * breachgen - print a synthetic breached-password corpus in the Pwned
 * Passwords download format (SHA-1, ordered by hash, "HASH:COUNT\r\n"):
 *
 *   bench/breachgen N | ssprctl breach-import - OUTPUT
 *
 * No real corpus can be fetched where the benchmarks run; this one has
 * the same format, order and spread (bench/breachlib.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/breachlib.h"

int
main(int argc, char **argv)
{
	static const char hex[] = "0123456789ABCDEF";
	static char buf[1 << 20];
	size_t used = 0;
	uint64_t n;
	char *end;

	if (argc != 2 || (n = strtoull(argv[1], &end, 10)) == 0 ||
	    *end != '\0') {
		fprintf(stderr, "usage: breachgen N\n");
		return 2;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint8_t h[20];
		uint64_t count;
		char *p;

		if (used > sizeof(buf) - 80) {
			if (fwrite(buf, 1, used, stdout) != used)
				return 1;
			used = 0;
		}
		breach_synthetic(i, n, h, &count);
		p = buf + used;
		for (int k = 0; k < 20; k++) {
			*p++ = hex[h[k] >> 4];
			*p++ = hex[h[k] & 15];
		}
		used += 40 + (size_t)sprintf(p, ":%llu\r\n",
		    (unsigned long long)count);
	}
	if (fwrite(buf, 1, used, stdout) != used || fflush(stdout) != 0)
		return 1;
	return 0;
}
