/*
 * dirbench.c - admin password resets through ssprd's directory layer
 * (ldap/dir.h), timed. The "b" of bench/run.
 *
 *   dirbench -c INI -n N -u USERFILE [-t TAG] [-w WINDOW]
 *
 * Loads INI as the daemon does, builds the pool (dir_init(cfg), dir_new()) on
 * a libevent loop and waits until every configured connection is bound, so
 * that connecting is not timed. Then starts N dir_reset_password() calls:
 * with WINDOW 0 (the default) all at once, leaving the pool to queue them
 * and spread them over its connections; with WINDOW W, W at a time, a new
 * one started from each callback (W concurrent users).
 *
 * Users are the DNs of USERFILE (one a line), round-robin; reset i sets
 * "TAG-i" on user i mod U, a password never used before in a run with a
 * fresh TAG (the fixture keeps a history). Latency is per reset, from the
 * dir_reset_password() call to its callback, queueing in the pool included.
 *
 * Prints one line:
 *   resets=N seconds=S rate=R failures=F p50_ms=.. p99_ms=.. cpu_us_per_op=..
 *   start_ms=.. window=W
 * from the first reset started to the last callback. start_ms is how long
 * the initial dir_reset_password() calls took (all N of them with WINDOW
 * 0): the loop reads no answer meanwhile. Exit status 0 when the
 * run completed (failures are counted, the first few described on stderr),
 * 1 when it could not run, 2 on usage errors. It never judges the figures.
 */
#include "build.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "bench/benchlib.h"
#include "common/log.h"
#include "config/config.h"
#include "ldap/dir.h"

#define READY_SECONDS	30	/* to wait for the pool's connections */
#define SHOW_FAILURES	5	/* failures described on stderr */

static struct event_base *base;
static struct dir *dir;
static char **users;
static size_t nusers;
static unsigned long n, window, next, done, failures;
static double *started;		/* per reset, monotonic seconds */
static double *latency;		/* per reset, seconds */
static const char *tag = "dirbench";
static double ready_deadline;
static bool pool_ready;

static void
usage(void)
{
	fprintf(stderr, "usage: dirbench -c INI -n N -u USERFILE [-t TAG] "
	    "[-w WINDOW]\n");
	exit(2);
}

static void start_more(void);

static void
on_reset(const struct dir_result *res, void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg;

	latency[i] = bench_now() - started[i];
	if (res->reason != DIR_OK && failures++ < SHOW_FAILURES)
		fprintf(stderr, "dirbench: %s: %s (%s)\n", users[i % nusers],
		    dir_reason_code(res->reason), res->detail);
	if (++done == n) {
		event_base_loopbreak(base);
		return;
	}
	if (window > 0)
		start_more();
}

/* Start resets until WINDOW are outstanding (all of them with WINDOW 0).
 * A callback may run from inside dir_reset_password() (a request that
 * could not be sent): `next` moves before each call, so that is safe. */
static void
start_more(void)
{
	char pw[64];

	while (next < n && (window == 0 || next - done < window)) {
		unsigned long i = next++;
		int len;

		len = snprintf(pw, sizeof(pw), "%s-%lu", tag, i);
		started[i] = bench_now();
		dir_reset_password(dir, users[i % nusers], pw, (size_t)len,
		    on_reset, (void *)(uintptr_t)i);
	}
}

/* Polled until every connection of the pool is bound. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;
	struct timeval tick = { 0, 10000 };
	struct dir_stats st;

	dir_get_stats(dir, &st);
	if (st.ready == st.connections) {
		pool_ready = true;
		event_base_loopbreak(base);
		return;
	}
	if (bench_now() > ready_deadline) {
		fprintf(stderr, "dirbench: only %u of %u connections ready after "
		    "%d s\n", st.ready, st.connections, READY_SECONDS);
		event_base_loopbreak(base);
		return;
	}
	evtimer_add(self, &tick);
}

int
main(int argc, char **argv)
{
	struct config_diag diag = { 0 };
	struct timeval tick = { 0, 10000 };
	const char *path = NULL, *userfile = NULL;
	struct config *cfg;
	struct event *ev_tick;
	double t0, t1, t_started, cpu0, cpu1;
	int ch;

	while ((ch = getopt(argc, argv, "c:n:t:u:w:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			n = bench_number(optarg, 1, 100000000, usage);
			break;
		case 't':
			tag = optarg;
			break;
		case 'u':
			userfile = optarg;
			break;
		case 'w':
			window = bench_number(optarg, 0, 100000000, usage);
			break;
		default:
			usage();
		}
	}
	if (path == NULL || userfile == NULL || n == 0 || optind != argc)
		usage();

	log_init(LOG_LEVEL_WARNING);
	if (sodium_init() < 0) {
		fprintf(stderr, "dirbench: libsodium failed to initialise\n");
		return 1;
	}
	users = bench_read_lines("dirbench", userfile, &nusers);
	started = calloc(n, sizeof(*started));
	latency = calloc(n, sizeof(*latency));
	if (started == NULL || latency == NULL) {
		perror("dirbench");
		return 1;
	}
	cfg = config_load(path, &diag);
	for (size_t i = 0; i < diag.n; i++)
		if (diag.is_error[i])
			fprintf(stderr, "%s\n", diag.lines[i]);
	config_diag_free(&diag);
	if (cfg == NULL)
		return 2;

	dir_init(cfg);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "dirbench: no event base\n");
		return 1;
	}
	dir = dir_new(base, cfg);

	/* Connect first, untimed. */
	ready_deadline = bench_now() + READY_SECONDS;
	ev_tick = evtimer_new(base, on_tick, event_self_cbarg());
	if (ev_tick == NULL || evtimer_add(ev_tick, &tick) != 0) {
		fprintf(stderr, "dirbench: cannot arm a timer\n");
		return 1;
	}
	event_base_dispatch(base);
	event_free(ev_tick);
	if (!pool_ready)
		return 1;

	cpu0 = bench_cpu_seconds();
	t0 = bench_now();
	start_more();
	t_started = bench_now();
	if (done < n)
		event_base_dispatch(base);
	t1 = bench_now();
	cpu1 = bench_cpu_seconds();

	bench_sort(latency, n);
	printf("resets=%lu seconds=%.3f rate=%.1f failures=%lu p50_ms=%.2f "
	    "p99_ms=%.2f cpu_us_per_op=%.1f start_ms=%.1f window=%lu\n", n,
	    t1 - t0, (double)n / (t1 - t0), failures,
	    bench_percentile(latency, n, 0.50) * 1e3,
	    bench_percentile(latency, n, 0.99) * 1e3, (cpu1 - cpu0) / (double)n * 1e6,
	    (t_started - t0) * 1e3, window);
	fflush(stdout);
	dir_free(dir);
	config_free(cfg);
	event_base_free(base);
	bench_free_lines(users, nusers);
	free(started);
	free(latency);
	return 0;
}
