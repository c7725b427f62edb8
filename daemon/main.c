/*
 * main.c - ssprd, the self-service password reset connector daemon.
 *
 * The story of the program, top to bottom: read the flags, load and check the
 * configuration, set up logging and the event loop, tell systemd we are
 * ready, dispatch events until told to stop. No logic lives here; each step
 * is a call into the module that owns it (see ssprd.h).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "config/config.h"
#include "daemon/ssprd.h"

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

int
main(int argc, char **argv)
{
	struct ssprd d = { .config_path = SSPRD_CONFIG_FILE };
	bool check_only = false;
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

	d.base = event_base_new();
	if (d.base == NULL)
		fatalx("event: cannot create the event base");
	service_init(&d);
	service_ready(&d);

	if (event_base_dispatch(d.base) < 0)
		fatalx("event: the event loop failed");

	log_info("ssprd stopped");
	service_free(&d);
	event_base_free(d.base);
	config_free(d.cfg);
	return d.exit_code;
}
