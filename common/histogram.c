/*
 * histogram.c - fixed-bucket latency histograms (see histogram.h).
 */
#include "build.h"

#include "common/histogram.h"

static const double bounds[HISTOGRAM_BUCKETS - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10,
};

void
histogram_add(struct histogram *h, double seconds)
{
	size_t i = 0;

	while (i < HISTOGRAM_BUCKETS - 1 && seconds > bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}

void
histogram_print(FILE *f, const char *name, const char *labels,
    const struct histogram *h)
{
	const char *sep = *labels ? "," : "";
	uint64_t cum = 0;

	for (size_t i = 0; i < HISTOGRAM_BUCKETS - 1; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
		    bounds[i], (unsigned long long)cum);
	}
	cum += h->bucket[HISTOGRAM_BUCKETS - 1];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
	    (unsigned long long)cum);
	if (*labels) {
		fprintf(f, "%s_sum{%s} %.6f\n", name, labels, h->sum);
		fprintf(f, "%s_count{%s} %llu\n", name, labels,
		    (unsigned long long)h->count);
	} else {
		fprintf(f, "%s_sum %.6f\n", name, h->sum);
		fprintf(f, "%s_count %llu\n", name, (unsigned long long)h->count);
	}
}
