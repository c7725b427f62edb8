/*
 * service.c - how ssprd lives under systemd: signals, reload, stop, watchdog.
 *
 * Signals are libevent events, so no work ever runs inside a signal handler.
 * SIGHUP builds a complete new configuration beside the running one and swaps
 * it in only when it is valid; a broken file is refused with every problem
 * logged and the old configuration stays. SIGTERM/SIGINT stop taking new work,
 * wait for work in flight up to [daemon] shutdown_timeout, then leave the
 * loop; a second SIGTERM leaves at once.
 *
 * systemd hears READY=1 once the daemon can work, RELOADING=1 / READY=1
 * around a reload, STOPPING=1 at a stop, STATUS= lines for humans, and
 * WATCHDOG=1 at half the interval it asked for. Outside systemd sd_notify()
 * does nothing, so the same code runs there.
 *
 * libevent's own messages go through log.c too, one line per event,
 * "event: ..." and rate-limited: a condition libevent reports on every turn
 * of the loop must not flood the journal.
 */
#include "build.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "daemon/engine.h"
#include "daemon/metrics.h"
#include "daemon/spool.h"
#include "daemon/ssprd.h"
#include "ldap/dir.h"

#define STATUS_EVERY 5		/* seconds between STATUS= updates */

static void
on_libevent_log(int severity, const char *msg)
{
	static struct log_limit limit = LOG_LIMIT(10, 5);
	enum log_level level;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		level = LOG_LEVEL_DEBUG;
		break;
	case EVENT_LOG_MSG:
		level = LOG_LEVEL_INFO;
		break;
	case EVENT_LOG_WARN:
		level = LOG_LEVEL_WARNING;
		break;
	default:
		level = LOG_LEVEL_ERROR;
		break;
	}
	log_limited(&limit, level, 0, "event: %s", msg);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

static void
watchdog_start(struct ssprd *d)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	if (d->ev_watchdog == NULL || event_add(d->ev_watchdog, &tv) != 0)
		fatalx("service: cannot arm the watchdog timer");
	log_debug("service: watchdog ping every %llu ms",
	    (unsigned long long)(usec / 1000));
}

void
service_status(struct ssprd *d, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

/* "ready: 3 waiting, 1 in progress" */
static void
on_status(evutil_socket_t fd, short what, void *arg)
{
	struct ssprd *d = arg;

	if (d->spool == NULL)
		return;
	service_status(d, "%s: %u waiting, %u in progress",
	    d->stopping ? "stopping" : "ready", spool_waiting(d->spool),
	    spool_active(d->spool));
}

void
service_ready(struct ssprd *d)
{
	struct timeval every = { .tv_sec = STATUS_EVERY };

	sd_notify(0, "READY=1");
	service_status(d, "ready");
	d->ev_status = event_new(d->base, -1, EV_PERSIST, on_status, d);
	if (d->ev_status == NULL || event_add(d->ev_status, &every) != 0)
		fatalx("service: cannot arm the status timer");
	log_info("ssprd %s ready (config %s)", PACKAGE_VERSION, d->config_path);
}

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct config *
service_load_config(const char *path)
{
	struct config_diag diag = { 0 };
	struct config *cfg = config_load(path, &diag);

	for (size_t i = 0; i < diag.n; i++) {
		if (diag.is_error[i])
			log_errorx("config: %s", diag.lines[i]);
		else
			log_warnx("config: %s", diag.lines[i]);
	}
	config_diag_free(&diag);
	return cfg;
}

bool
service_reload(struct ssprd *d)
{
	struct config *next;
	char why[256];

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)monotonic_usec());
	log_info("config: reloading %s", d->config_path);
	next = service_load_config(d->config_path);
	if (next != NULL && !dir_reconfigurable(next, why, sizeof(why))) {
		log_errorx("config: %s", why);
		config_free(next);
		next = NULL;
	}
	if (next == NULL) {
		log_errorx("config: reload refused; the running configuration "
		    "stays in force");
		sd_notify(0, "READY=1");
		service_status(d, "ready; last reload refused (see log)");
		return false;
	}
	config_free(d->cfg);
	d->cfg = next;
	if (d->engine != NULL) {
		engine_reconfigure(d->engine, next);
		metrics_start(d, next);
	}
	if (!d->debug)
		log_set_level(next->daemon.log_level);
	log_info("config: reloaded %s", d->config_path);
	log_debug("config: now type %s, %zu URI(s), log_level %s",
	    config_dir_type_name(next->directory.type), next->directory.uris.n,
	    config_log_level_name(next->daemon.log_level));
	sd_notify(0, "READY=1");
	service_status(d, "ready");
	return true;
}

static void
leave(struct ssprd *d)
{
	event_base_loopexit(d->base, NULL);
}

static void
on_shutdown_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ssprd *d = arg;

	log_warnx("service: %u unit(s) of work still running after %u s; "
	    "leaving them to be resumed at the next start", d->inflight,
	    d->cfg->daemon.shutdown_timeout);
	leave(d);
}

void
service_stop(struct ssprd *d)
{
	struct timeval tv = { .tv_sec = d->cfg->daemon.shutdown_timeout };

	if (d->stopping) {
		log_warnx("service: second stop signal, leaving now");
		leave(d);
		return;
	}
	d->stopping = true;
	sd_notify(0, "STOPPING=1");
	if (d->spool != NULL)
		spool_pause(d->spool, true);
	log_info("service: stopping (%u unit(s) of work in flight)", d->inflight);
	if (d->inflight == 0) {
		leave(d);
		return;
	}
	d->ev_shutdown = evtimer_new(d->base, on_shutdown_deadline, d);
	if (d->ev_shutdown == NULL || evtimer_add(d->ev_shutdown, &tv) != 0)
		leave(d);
}

void
service_work_begin(struct ssprd *d)
{
	d->inflight++;
}

void
service_work_end(struct ssprd *d)
{
	if (d->inflight == 0)
		fatalx("service: work ended that never began");
	if (--d->inflight == 0 && d->stopping)
		leave(d);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ssprd *d = arg;

	switch (sig) {
	case SIGHUP:
		service_reload(d);
		break;
	case SIGTERM:
	case SIGINT:
		service_stop(d);
		break;
	}
}

static struct event *
signal_watch(struct ssprd *d, int sig)
{
	struct event *ev = evsignal_new(d->base, sig, on_signal, d);

	if (ev == NULL || event_add(ev, NULL) != 0)
		fatalx("service: cannot watch signal %d", sig);
	return ev;
}

void
service_init(struct ssprd *d)
{
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(on_libevent_log);
	d->ev_sigterm = signal_watch(d, SIGTERM);
	d->ev_sigint = signal_watch(d, SIGINT);
	d->ev_sighup = signal_watch(d, SIGHUP);
	watchdog_start(d);
}

void
service_free(struct ssprd *d)
{
	struct event **evs[] = {
		&d->ev_sigterm, &d->ev_sigint, &d->ev_sighup, &d->ev_watchdog,
		&d->ev_shutdown, &d->ev_status,
	};

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i] != NULL)
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
}
