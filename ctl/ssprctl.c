/*
 * ssprctl.c - the admin's tool for ssprd.
 *
 *   ssprctl [-c FILE] check-config          judge the file as ssprd -t does
 *   ssprctl [-c FILE] test-bind [--user NAME]
 *                                           try every [directory] uri
 *   ssprctl [-c FILE] lookup USER           what ssprd knows of a user
 *   ssprctl [-c FILE] status                queue, connections, counters
 *   ssprctl [-c FILE] report [--json] [--page-size N]
 *                                           who has registered which
 *                                           method; admins short of
 *                                           admin_methods_required
 *   ssprctl [-c FILE] submit [--id ID] [--wait S]
 *                                           a JSON request from stdin
 *                                           through the spool, answer out
 *   ssprctl breach-import [--min-count N] INPUT OUTPUT
 *                                           build [policy] breached_file
 *                                           from a Pwned Passwords file
 *   ssprctl version
 *
 * Each subcommand is one function below; they share the configuration
 * loader and the directory layer with the daemon, so ssprctl judges a file
 * and a server exactly as ssprd would.
 *
 * test-bind walks each URI through resolution, TCP, TLS, the service
 * account's bind and the root DSE, one line per step; says what a failed
 * certificate check was about (unknown CA, name mismatch, expired); says
 * whether password history can be enforced; and, with --user, looks the
 * user up through the connection pool, as a request would, and says whether
 * they may use self-service. It never writes to the directory. Exit status:
 * 0 when every URI passed every step (and the user was found), 1 otherwise,
 * 2 for a usage error.
 */
#include "build.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "daemon/challenge.h"
#include "daemon/eligible.h"
#include "ldap/dir.h"

#ifndef SSPRD_CONFIG_FILE
#define SSPRD_CONFIG_FILE "/etc/ssprd/ssprd.ini"
#endif

/* Beyond the pool's own deadline ([directory] timeout), before test-bind
 * stops waiting for a lookup: the pool always answers first unless broken. */
#define LOOKUP_GRACE 5

/* report --page-size: 1 to this many entries per page. */
#define REPORT_PAGE_MAX 10000

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: ssprctl [-c FILE] COMMAND [OPTIONS]\n"
	    "commands:\n"
	    "  check-config   check the configuration file, as ssprd -t does\n"
	    "  test-bind [--user NAME]\n"
	    "                 try each directory URI (resolve, connect, TLS,\n"
	    "                 bind, root DSE); with --user, look NAME up and\n"
	    "                 say whether they may use self-service\n"
	    "  lookup USER    look USER up as a request would: DN, state,\n"
	    "                 groups, contacts, eligibility\n"
	    "  status         queue depth, oldest waiting request, directory\n"
	    "                 connections, counters (from [daemon] metrics)\n"
	    "  report [--json] [--page-size N]\n"
	    "                 users in scope, how many registered and can use\n"
	    "                 each method, admins below\n"
	    "                 admin_methods_required\n"
	    "  submit [--id ID] [--wait SECONDS]\n"
	    "                 read a JSON request on stdin, queue it, print\n"
	    "                 the answer (exit 0 ok, 1 error answer, 3 none)\n"
	    "  breach-import [--min-count N] INPUT OUTPUT\n"
	    "                 build the breached-password index OUTPUT from\n"
	    "                 INPUT (- for stdin), SHA-1 or NTLM HASH:COUNT\n"
	    "                 lines ordered by hash; lines counted below N\n"
	    "                 are left out\n"
	    "  version        print the version\n"
	    "  -c FILE  configuration file (default %s)\n",
	    SSPRD_CONFIG_FILE);
	exit(code);
}

/* --- test-bind ------------------------------------------------------------ */

static void
line(const char *mark, const char *step, const char *detail)
{
	printf("  %-6s %s: %s\n", mark, step, detail);
}

static void
on_step(void *arg, const char *step, bool ok, const char *detail)
{
	(void)arg;
	line(ok ? "[ok]" : "[FAIL]", step, detail);
}

/*
 * What the server offers for password history, and what ssprd will do with
 * it. Returns false when resets through this server cannot work as
 * configured.
 */
static bool
report_history(const struct config *cfg, const struct dir_server_info *info)
{
	enum enforce_history eh = cfg->directory.enforce_history;
	const char *eh_name = eh == HISTORY_YES ? "yes" :
	    eh == HISTORY_NO ? "no" : "auto";
	char buf[512];

	if (cfg->directory.type == DIR_TYPE_OPENLDAP) {
		snprintf(buf, sizeof(buf), "ppolicy control %s; password modify "
		    "extended operation %s",
		    info->ppolicy ? "offered: slapd's password policy "
		    "(history, quality) is enforced on password writes, and "
		    "its refusals name the rule" : "not offered: the server "
		    "enforces no password policy (history included)",
		    info->passwd_exop ? "offered" : "not offered: resets and "
		    "changes cannot work");
		line(!info->passwd_exop ? "[FAIL]" : info->ppolicy ? "[ok]" :
		    "[warn]", "history", buf);
		return info->passwd_exop;
	}

	if (*info->policy_hints_oid != '\0') {
		snprintf(buf, sizeof(buf), "policy hints control offered (%s): %s "
		    "(enforce_history = %s)", info->policy_hints_oid,
		    eh == HISTORY_NO ? "resets will NOT enforce password history" :
		    "resets enforce password history", eh_name);
		line(eh == HISTORY_NO ? "[warn]" : "[ok]", "history", buf);
		return true;
	}
	switch (eh) {
	case HISTORY_YES:
		line("[FAIL]", "history", "policy hints control not offered: "
		    "resets through this server are refused (enforce_history = "
		    "yes)");
		return false;
	case HISTORY_NO:
		line("[ok]", "history", "policy hints control not offered, and "
		    "not wanted (enforce_history = no): resets do not enforce "
		    "password history");
		return true;
	case HISTORY_AUTO:
	default:
		line("[warn]", "history", "policy hints control not offered: "
		    "resets will NOT enforce password history (enforce_history "
		    "= auto; set yes to refuse such resets)");
		return true;
	}
}

/* "alice@example.org" -> "a***@example.org": enough to recognise it. */
static void
mask_mail(const char *mail, char *out, size_t size)
{
	const char *at = strchr(mail, '@');

	snprintf(out, size, "%.1s***%s", mail, at != NULL ? at : "");
}

/* "+4915112345678" -> "+***********78" */
static void
mask_mobile(const char *mobile, char *out, size_t size)
{
	size_t len = strlen(mobile), i;

	if (size == 0)
		return;
	for (i = 0; i < len && i + 1 < size; i++)
		out[i] = (i + 2 >= len || (i == 0 && mobile[0] == '+')) ?
		    mobile[i] : '*';
	out[i] = '\0';
}

static void
print_masked(const char *what, const struct strlist *l,
    void (*mask)(const char *, char *, size_t))
{
	char buf[256];

	printf("  %-10s ", what);
	if (l->n == 0)
		printf("none");
	for (size_t i = 0; i < l->n; i++) {
		mask(l->v[i], buf, sizeof(buf));
		printf("%s%s", i ? ", " : "", buf);
	}
	printf("\n");
}

struct user_check {
	const struct config *cfg;
	struct event_base *base;
	bool done;
	bool gave_up;	/* our own timer fired before the pool answered */
	bool found;	/* ... and the lookup succeeded */
};

static unsigned
count_bits(unsigned v)
{
	unsigned n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

static void
append(char *buf, size_t size, const char *s)
{
	size_t used = strlen(buf);

	snprintf(buf + used, size - used, "%s%s", used ? "; " : "", s);
}

static void
on_user(const struct dir_result *res, const struct dir_user *u, void *arg)
{
	struct user_check *uc = arg;
	const struct config *cfg = uc->cfg;
	struct eligible_user e;
	unsigned required, have;
	char why[768] = "", note[256] = "", buf[256];

	if (uc->done)
		return;
	uc->done = true;
	event_base_loopbreak(uc->base);
	if (uc->gave_up) {
		printf("  %-10s FAIL: no answer within %u s\n", "lookup:",
		    cfg->directory.timeout + LOOKUP_GRACE);
		return;
	}
	if (res->reason != DIR_OK) {
		printf("  %-10s FAIL: %s (%s)\n", "lookup:",
		    dir_reason_code(res->reason), res->detail);
		return;
	}
	if (!u->found) {
		printf("  %-10s no (no entry, or more than one, matches "
		    "user_filter)\n", "found:");
		printf("  %-10s not eligible: not found\n", "verdict:");
		return;
	}
	uc->found = true;
	printf("  %-10s yes, %s (answered by %s)\n", "found:", u->dn,
	    res->server ? res->server : "?");
	printf("  %-10s %s\n", "disabled:", u->disabled ? "yes" : "no");
	printf("  %-10s %s\n", "locked:", u->locked ? "yes" : "no");
	printf("  %-10s %s\n", "admin:", u->admin ?
	    "yes (admin_methods apply)" : "no");
	printf("  %-10s %s\n", "allowed:", cfg->policy.allowed_groups.n == 0 ?
	    "yes (allowed_groups is empty: everyone)" :
	    u->allowed ? "yes (in allowed_groups)" : "no (not in allowed_groups)");
	print_masked("email:", &u->mail, mask_mail);
	print_masked("mobile:", &u->mobile, mask_mobile);
	printf("  %-10s %s\n", "questions:", u->questions != NULL ?
	    "registered" : "none");

	/* The daemon's own rules (daemon/eligible.h): what a start for each
	 * method would do, and how many of them the user needs. */
	eligible_from_dir(cfg, u, &e);
	have = eligible_methods(cfg, &e);
	required = challenge_required(cfg, u->admin);
	if (u->disabled)
		append(why, sizeof(why), "the account is disabled");
	else if (!u->allowed)
		append(why, sizeof(why), "not in allowed_groups");
	else if (count_bits(have) < required) {
		snprintf(buf, sizeof(buf), "can use %u of the %u %s required",
		    count_bits(have), required,
		    u->admin ? "admin methods" : "methods");
		append(why, sizeof(why), buf);
		for (unsigned m = METHOD_EMAIL; m <= METHOD_LAST; m <<= 1) {
			const char *no;

			if (!(cfg->policy.methods & m) ||
			    (no = eligible_start(cfg, &e, (enum method)m)) == NULL)
				continue;
			if (strncmp(no, "decoy: ", 7) == 0)
				no += 7;
			snprintf(buf, sizeof(buf), "%s: %s",
			    config_method_name((enum method)m), no);
			append(why, sizeof(why), buf);
		}
	}
	/* Not refused: a reset writes the password either way. */
	if (u->locked)
		snprintf(note, sizeof(note), cfg->directory.unlock_on_reset ?
		    " (the account is locked; a reset unlocks it, "
		    "unlock_on_reset = yes)" : " (the account is locked; a "
		    "reset sets the password and leaves it locked, "
		    "unlock_on_reset = no)");
	if (*why == '\0')
		printf("  %-10s eligible for self-service%s\n", "verdict:", note);
	else
		printf("  %-10s not eligible: %s\n", "verdict:", why);
}

static void
on_lookup_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct user_check *uc = arg;

	(void)fd;
	(void)what;
	uc->gave_up = true;
	event_base_loopbreak(uc->base);
}

/* Look name up through the pool, on an event loop, as the daemon would.
 * Returns true when the lookup succeeded and found the user. */
static bool
check_user(struct config *cfg, const char *name)
{
	struct user_check uc = { .cfg = cfg };
	struct timeval tv = { .tv_sec = cfg->directory.timeout + LOOKUP_GRACE };
	struct event *timer;
	struct dir *d;

	printf("user %s\n", name);
	if ((uc.base = event_base_new()) == NULL) {
		fprintf(stderr, "ssprctl: cannot create an event loop\n");
		return false;
	}
	d = dir_new(uc.base, cfg);
	timer = evtimer_new(uc.base, on_lookup_timeout, &uc);
	if (timer == NULL || evtimer_add(timer, &tv) != 0) {
		fprintf(stderr, "ssprctl: cannot set a timer\n");
		exit(1);
	}
	dir_lookup_user(d, name, on_user, &uc);
	if (!uc.done)
		event_base_dispatch(uc.base);
	/* On our timeout this ends the lookup, and on_user says so. */
	dir_free(d);
	if (!uc.done)
		printf("  %-10s FAIL: no answer\n", "lookup:");
	event_free(timer);
	event_base_free(uc.base);
	return uc.found;
}

static int
test_bind(const char *path, const char *user)
{
	struct config_diag diag = { 0 };
	struct config *cfg;
	size_t failed = 0, n;
	int status = 0;

	cfg = config_load(path, &diag);
	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.lines[i]);
	config_diag_free(&diag);
	if (cfg == NULL)
		return 1;
	/* The pool's own complaints (a server down, no policy hints) repeat
	 * what the steps below say; keep only its errors. */
	log_init(LOG_LEVEL_ERROR);
	dir_init(cfg);

	n = cfg->directory.uris.n;
	printf("directory type %s, %zu URI(s), timeout %u s\n",
	    config_dir_type_name(cfg->directory.type), n,
	    cfg->directory.timeout);
	for (size_t i = 0; i < n; i++) {
		const char *uri = cfg->directory.uris.v[i];
		struct dir_server_info info;
		bool ok;

		printf("%s\n", uri);
		ok = dir_probe(cfg, uri, &info, on_step, NULL) == 0;
		if (ok && !report_history(cfg, &info))
			ok = false;
		if (!ok)
			failed++;
	}
	if (failed > 0)
		status = 1;

	if (user != NULL) {
		if (failed == n) {
			printf("user %s\n  %-10s not looked up: no server passed\n",
			    user, "lookup:");
			status = 1;
		} else if (!check_user(cfg, user)) {
			status = 1;
		}
	}
	if (failed > 0)
		printf("test-bind: %zu of %zu URI(s) failed\n", failed, n);
	else if (status != 0)
		printf("test-bind: every URI passed, but the user was not "
		    "found (or the lookup failed)\n");
	else
		printf("test-bind: every URI passed%s\n", user != NULL ?
		    ", and the user was found" : "");
	config_free(cfg);
	return status;
}

/* --- lookup, submit --------------------------------------------------------- */

/* The configuration, its errors printed. submit and status run as the
 * front end's account, which may not read the bind secret: public loads
 * skip secret files. */
static struct config *
load_config(const char *path, bool public)
{
	struct config_diag diag = { 0 };
	struct config *cfg = public ? config_load_public(path, &diag) :
	    config_load(path, &diag);

	for (size_t i = 0; i < diag.n; i++)
		if (diag.is_error[i])
			fprintf(stderr, "%s\n", diag.lines[i]);
	config_diag_free(&diag);
	return cfg;
}

static int
lookup(const char *path, const char *user)
{
	struct config *cfg = load_config(path, false);
	int status;

	if (cfg == NULL)
		return 1;
	log_init(LOG_LEVEL_ERROR);
	dir_init(cfg);
	status = check_user(cfg, user) ? 0 : 1;
	config_free(cfg);
	return status;
}

static int
report(const char *path, bool json, unsigned page_size)
{
	struct config *cfg = load_config(path, false);
	int status;

	if (cfg == NULL)
		return 1;
	log_init(LOG_LEVEL_ERROR);
	dir_init(cfg);
	status = ctl_report(cfg, json, page_size);
	config_free(cfg);
	return status;
}

static int
submit(const char *path, const char *id, unsigned wait)
{
	struct config *cfg = load_config(path, true);
	int status;

	if (cfg == NULL)
		return 2;
	status = ctl_submit(cfg, id, wait);
	config_free(cfg);
	return status;
}

/* --- main ----------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "id", required_argument, NULL, 'i' },
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "min-count", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = SSPRD_CONFIG_FILE;
	const char *user = NULL, *id = NULL;
	unsigned wait = 60, page_size = 0;
	unsigned long long min_count = 1;
	bool json = false;
	const char *cmd;
	char *end;
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
	while ((ch = getopt_long(argc, argv, "c:u:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'u':
			if (strcmp(cmd, "test-bind") != 0)
				usage(2);
			user = optarg;
			break;
		case 'i':
		case 'w':
			if (strcmp(cmd, "submit") != 0)
				usage(2);
			if (ch == 'i')
				id = optarg;
			else
				wait = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'j':
		case 'p':
			if (strcmp(cmd, "report") != 0)
				usage(2);
			if (ch == 'j') {
				json = true;
				break;
			}
			page_size = (unsigned)strtoul(optarg, &end, 10);
			if (*optarg < '1' || *optarg > '9' || *end != '\0' ||
			    page_size > REPORT_PAGE_MAX)
				usage(2);
			break;
		case 'm':
			if (strcmp(cmd, "breach-import") != 0)
				usage(2);
			errno = 0;
			min_count = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0)
				usage(2);
			break;
		default:
			usage(2);
		}
	}
	if (strcmp(cmd, "breach-import") == 0) {
		if (optind + 2 != argc || *argv[optind] == '\0' ||
		    *argv[optind + 1] == '\0')
			usage(2);
		return ctl_breach_import(argv[optind], argv[optind + 1],
		    min_count);
	}
	if (strcmp(cmd, "lookup") == 0 && optind + 1 == argc)
		user = argv[optind++];
	if (optind != argc)
		usage(2);

	if (strcmp(cmd, "check-config") == 0)
		return config_check(path);
	if (strcmp(cmd, "test-bind") == 0) {
		if (user != NULL && *user == '\0')
			usage(2);
		return test_bind(path, user);
	}
	if (strcmp(cmd, "lookup") == 0) {
		if (user == NULL || *user == '\0')
			usage(2);
		return lookup(path, user);
	}
	if (strcmp(cmd, "submit") == 0)
		return submit(path, id, wait);
	if (strcmp(cmd, "report") == 0)
		return report(path, json, page_size);
	if (strcmp(cmd, "status") == 0) {
		struct config *cfg = load_config(path, true);
		int status;

		if (cfg == NULL)
			return 1;
		status = ctl_status(cfg);
		config_free(cfg);
		return status;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("ssprctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "ssprctl: unknown command '%s'\n", cmd);
	usage(2);
}
