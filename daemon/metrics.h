/*
 * metrics.h - Prometheus text on [daemon] metrics (GET /metrics).
 *
 * Counters are kept here as the daemon works (requests by op, result and
 * reason with answer latency; notifier failures); gauges are read when
 * scraped (queue depth and the age of the oldest waiting request,
 * directory connections and latency per server, commands running). The
 * endpoint is meant for loopback: it tells how busy ssprd is, never who
 * asked what. A port that cannot be bound is logged and the daemon goes on
 * without metrics. Whoever connects, the endpoint holds at most 32
 * connections, each for at most 10 seconds, and pauses rather than spins
 * when accept() fails: scrapes can never starve the spool or the directory
 * of file descriptors (see metrics.c).
 */
#ifndef SSPRD_METRICS_H
#define SSPRD_METRICS_H

#include "config/config.h"

struct ssprd;

/* Listen as cfg says (nothing when metrics is empty); again after a
 * reload, when the address changed. */
void metrics_start(struct ssprd *d, const struct config *cfg);
void metrics_stop(void);

/* One answered request: op and result ("ok" or "error"), reason ("" for
 * ok), seconds from claim to answer. */
void metrics_request(const char *op, const char *result, const char *reason,
    double seconds);
/* A mail or SMS command that failed: kind is "code", "notice" or
 * "admin-notice". */
void metrics_notify_failure(const char *kind);

#endif
