/*
 * histogram.h - Prometheus-style latency histograms (seconds).
 *
 * Fixed buckets suited to directory operations and request answers, from
 * a millisecond to ten seconds; cumulative counts are produced when
 * printed, as Prometheus expects.
 */
#ifndef SSPRD_HISTOGRAM_H
#define SSPRD_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#define HISTOGRAM_BUCKETS 12

struct histogram {
	uint64_t bucket[HISTOGRAM_BUCKETS];	/* not cumulative */
	uint64_t count;
	double sum;
};

void histogram_add(struct histogram *h, double seconds);
/* Print NAME_bucket{LABELS,le="..."} lines, _sum and _count; labels may be
 * "" or like `op="start"`. */
void histogram_print(FILE *f, const char *name, const char *labels,
    const struct histogram *h);

#endif
