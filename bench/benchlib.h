/*
 * benchlib.h - what the benchmark programs (rawldap, dirbench, spoolbench)
 * share: clocks, numbers from the command line, the user file, latency
 * percentiles. Errors print "PROG: ..." and exit 1; none of it is ssprd's
 * code, so rawldap stays a client without ssprd in it.
 */
#ifndef SSPRD_BENCHLIB_H
#define SSPRD_BENCHLIB_H

#include <stddef.h>

/* Monotonic seconds. */
double bench_now(void);
/* This process's user + system CPU seconds. */
double bench_cpu_seconds(void);
/* s as a decimal number within [lo, hi]; otherwise usage() (which exits). */
unsigned long bench_number(const char *s, unsigned long lo, unsigned long hi,
    void (*usage)(void));
/* The non-empty lines of path (at least one), without line ends; *n set. */
char **bench_read_lines(const char *prog, const char *path, size_t *n);
void bench_free_lines(char **lines, size_t n);
/* Sort v in place, then the p-quantile (0..1) of it; 0 when n is 0. */
void bench_sort(double *v, size_t n);
double bench_percentile(const double *sorted, size_t n, double p);

#endif
