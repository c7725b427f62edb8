/*
 * benchlib.c - the benchmark programs' shared helpers (see benchlib.h).
 */
#include "build.h"

#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/benchlib.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

unsigned long
bench_number(const char *s, unsigned long lo, unsigned long hi,
    void (*usage)(void))
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static void
out_of_memory(const char *prog)
{
	perror(prog);
	exit(1);
}

char **
bench_read_lines(const char *prog, const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[2048], **lines = NULL;
	size_t cap = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	*n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (*line == '\0')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((lines = realloc(lines, cap * sizeof(*lines))) == NULL)
				out_of_memory(prog);
		}
		if ((lines[(*n)++] = strdup(line)) == NULL)
			out_of_memory(prog);
	}
	fclose(f);
	if (*n == 0) {
		fprintf(stderr, "%s: no users in %s\n", prog, path);
		exit(1);
	}
	return lines;
}

void
bench_free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

double
bench_percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	return sorted[(size_t)(p * (double)(n - 1) + 0.5)];
}
