/*
 * ssprd.h - the daemon's one picture: shared state and what each file exports.
 *
 * Data flows one way: spool -> request -> engine -> (challenge | store |
 * pwpolicy | ldap/dir.h) -> answer -> spool. The daemon is single-threaded
 * around one libevent base; work that must not block the loop runs elsewhere
 * and reports back through events.
 */
#ifndef SSPRD_H
#define SSPRD_H

#include <stdbool.h>

#include <event2/event.h>

#include "config/config.h"

struct engine;
struct notifier;
struct spool;
struct store;

struct ssprd {
	struct event_base *base;
	const char *config_path;
	struct config *cfg;		/* current snapshot; replaced on reload */

	struct event *ev_sigterm;
	struct event *ev_sigint;
	struct event *ev_sighup;
	struct event *ev_watchdog;
	struct event *ev_shutdown;	/* deadline for in-flight work */
	struct event *ev_status;	/* STATUS= for systemd, now and then */

	struct store *store;
	struct notifier *notifier;
	struct engine *engine;
	struct spool *spool;

	bool debug;			/* -d: debug logging whatever the file says */
	unsigned inflight;		/* units of work that a stop waits for */
	bool stopping;
	int exit_code;
};

/* service.c: signals, reload, shutdown, systemd notifications */
struct config *service_load_config(const char *path);
void service_init(struct ssprd *d);
void service_ready(struct ssprd *d);
void service_status(struct ssprd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool service_reload(struct ssprd *d);
void service_stop(struct ssprd *d);
void service_work_begin(struct ssprd *d);
void service_work_end(struct ssprd *d);
void service_free(struct ssprd *d);

#endif
