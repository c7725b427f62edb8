/*
 * clock.h - the monotonic clock, in seconds, for deadlines and intervals
 * (never for what a user or a log reader sees as a date).
 */
#ifndef SSPRD_CLOCK_H
#define SSPRD_CLOCK_H

#include <time.h>

static inline double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
