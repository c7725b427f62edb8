/*
 * ssprctl.c - the admin's tool for ssprd.
 *
 * Each subcommand is one function below; they share the configuration
 * loader with the daemon, so ssprctl judges a file exactly as ssprd would.
 * Subcommands arrive with the parts of ssprd they exercise (test-bind with the
 * directory layer, submit and lookup with the queue, status with metrics).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#ifndef SSPRD_CONFIG_FILE
#define SSPRD_CONFIG_FILE "/etc/ssprd/ssprd.ini"
#endif

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: ssprctl [-c FILE] COMMAND\n"
	    "commands:\n"
	    "  check-config   check the configuration file, as ssprd -t does\n"
	    "  version        print the version\n"
	    "  -c FILE  configuration file (default %s)\n",
	    SSPRD_CONFIG_FILE);
	exit(code);
}

int
main(int argc, char **argv)
{
	const char *path = SSPRD_CONFIG_FILE;
	const char *cmd;
	int ch;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind >= argc)
		usage(2);
	cmd = argv[optind++];
	/* Options may also follow the command: ssprctl check-config -c FILE. */
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			usage(2);
		path = optarg;
	}
	if (optind != argc)
		usage(2);

	if (strcmp(cmd, "check-config") == 0)
		return config_check(path);
	if (strcmp(cmd, "version") == 0) {
		printf("ssprctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "ssprctl: unknown command '%s'\n", cmd);
	usage(2);
}
