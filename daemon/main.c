/*
 * main.c - ssprd, the self-service password reset connector daemon.
 *
 * The story of the program, top to bottom: read the flags, load and check the
 * configuration, set up logging and the event loop, tell systemd we are
 * ready, dispatch events until told to stop. No logic lives here; each step
 * is a call into the module that owns it (see ssprd.h).
 */
#include "build.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "config/config.h"
#include "daemon/engine.h"
#include "daemon/notify.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/ssprd.h"
#include "daemon/store.h"
#include "ldap/dir.h"

#ifndef SSPRD_CONFIG_FILE
#define SSPRD_CONFIG_FILE "/etc/ssprd/ssprd.ini"
#endif

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: ssprd [-d] [-c FILE]   run in the foreground\n"
	    "       ssprd -t [-c FILE]     check the configuration and exit\n"
	    "       ssprd -V               print the version and exit\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -d       log at debug level whatever log_level says\n",
	    SSPRD_CONFIG_FILE);
	exit(code);
}

/* The state directory is systemd's StateDirectory= in production; made here
 * (0700) when ssprd runs elsewhere. */
static void
open_state(struct ssprd *d)
{
	const char *dir = d->cfg->daemon.state_dir;
	char err[256];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fatal("store: cannot create %s", dir);
	d->store = store_open(dir, err, sizeof(err));
	if (d->store == NULL)
		fatalx("store: %s", err);
}

int
main(int argc, char **argv)
{
	struct ssprd d = { .config_path = SSPRD_CONFIG_FILE };
	bool check_only = false;
	char err[256];
	int ch;

	while ((ch = getopt(argc, argv, "c:dhtV")) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'd':
			d.debug = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("ssprd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (check_only)
		return config_check(d.config_path);

	log_init(d.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	d.cfg = service_load_config(d.config_path);
	if (d.cfg == NULL)
		fatalx("config: %s is not usable; not starting", d.config_path);
	if (!d.debug)
		log_set_level(d.cfg->daemon.log_level);

	request_init();
	dir_init();		/* before the event base: it makes it thread-aware */
	d.base = event_base_new();
	if (d.base == NULL)
		fatalx("event: cannot create the event base");

	open_state(&d);
	d.notifier = notify_new(d.base);
	d.engine = engine_new(&d, d.store, d.notifier);
	d.spool = spool_open(d.base, d.cfg, engine_request, d.engine, err,
	    sizeof(err));
	if (d.spool == NULL)
		fatalx("spool: %s", err);
	engine_set_spool(d.engine, d.spool);

	service_init(&d);
	spool_start(d.spool);
	service_ready(&d);

	if (event_base_dispatch(d.base) < 0)
		fatalx("event: the event loop failed");

	/* Work cut short by the stop stays in cur/ for the next start. */
	engine_shutdown(d.engine);
	notify_free(d.notifier);
	engine_free(d.engine);
	spool_close(d.spool);
	store_close(d.store);
	log_info("ssprd stopped");
	service_free(&d);
	event_base_free(d.base);
	config_free(d.cfg);
	return d.exit_code;
}
