/*
 * main.c - ssprd, the self-service password reset connector daemon.
 *
 * The story of the program, top to bottom: read the flags, load and check the
 * configuration, set up logging and the event loop, tell systemd we are
 * ready, dispatch events until told to stop. No logic lives here; each step
 * is a call into the module that owns it (see ssprd.h).
 */
#include "build.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "config/config.h"
#include "daemon/engine.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/redis.h"
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

/* mkdir -p, the last component with mode; 0 or -1 (errno set). */
static int
make_dirs(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/*
 * Make key's folder (and its parents) and give it to pw, as root. The
 * folder is opened without following a symlink and changed through that
 * descriptor: whoever could plant a link at that path must not get root to
 * hand any other folder to the daemon's user.
 */
static void
prepare_dir(const char *key, const char *path, mode_t mode,
    const struct passwd *pw)
{
	struct stat st;
	int fd;

	if (make_dirs(path, mode) != 0)
		fatal("cannot create [daemon] %s %s", key, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* With O_DIRECTORY, Linux reports a symlink as ENOTDIR. */
	if (fd == -1 && (errno == ELOOP || (errno == ENOTDIR &&
	    lstat(path, &st) == 0 && S_ISLNK(st.st_mode))))
		fatalx("[daemon] %s %s is a symlink: name the folder itself "
		    "(started as root, ssprd gives it to %s and never follows "
		    "a link to do so)", key, path, pw->pw_name);
	if (fd == -1)
		fatal("cannot open [daemon] %s %s", key, path);
	if (fchown(fd, pw->pw_uid, pw->pw_gid) != 0)
		fatal("cannot give [daemon] %s %s to %s", key, path,
		    pw->pw_name);
	close(fd);
}

/*
 * Started as root (outside systemd, which starts ssprd as its own user):
 * make the queue and state folders, give them to [daemon] user, and become
 * that user, for good, before anything else is opened. ssprd never runs as
 * root.
 */
static void
drop_privileges(struct ssprd *d)
{
	const char *user = d->cfg->daemon.user;
	struct passwd *pw;

	if (geteuid() != 0 && getuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("ssprd does not run as root, and there is no user %s to "
		    "become ([daemon] user)", user);
	if (pw->pw_uid == 0)
		fatalx("ssprd does not run as root: [daemon] user %s is root",
		    user);
	prepare_dir("queue_dir", d->cfg->daemon.queue_dir, 0750, pw);
	prepare_dir("state_dir", d->cfg->daemon.state_dir, 0700, pw);
	if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("cannot become %s", user);
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatalx("could become root again after dropping to %s", user);
	log_info("running as %s (uid %u), not root", user, (unsigned)pw->pw_uid);
}

/*
 * The mail and SMS commands run as the daemon's user. A process that is not
 * dumpable cannot be traced, its /proc/PID/mem and environ belong to root,
 * and it leaves no core: nothing running as that user can read the bind
 * password, the HMAC key or a request's password out of it. setuid()
 * resets the flag, so this comes after drop_privileges(); under systemd,
 * which starts ssprd as its user, it is what sets it at all.
 */
static void
protect_memory(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatal("cannot make the process undumpable");
	/* The unit's system call filter may refuse this; the unit sets
	 * LimitCORE=0 itself. */
	(void)setrlimit(RLIMIT_CORE, &none);
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
	d->store = store_open_config(d->cfg, false, err, sizeof(err));
	if (d->store == NULL)
		fatalx("store: %s", err);
}

/* The engine's hooks (engine.h): a stop waits for its work, and metrics
 * count its answers and the notifier's failures. */
static void
hook_work_begin(void *arg)
{
	service_work_begin(arg);
}

static void
hook_work_end(void *arg)
{
	service_work_end(arg);
}

static void
hook_answered(void *arg, const char *op, const char *result,
    const char *reason, double seconds)
{
	(void)arg;
	metrics_request(op, result, reason, seconds);
}

static void
hook_notify_failed(void *arg, const char *kind)
{
	(void)arg;
	metrics_notify_failure(kind);
}

static void
print_warning(const char *msg, void *arg)
{
	fprintf(stderr, "%s: warning: %s\n", (const char *)arg, msg);
}

/* ssprd -t: the file, then what only the daemon can check (a Redis
 * store's reach and persistence settings). */
static int
check_config(const char *path)
{
	struct config_diag diag = { 0 };
	struct config *cfg;
	int rc;

	if ((rc = config_check(path)) != 0)
		return rc;
	cfg = config_load(path, &diag);
	config_diag_free(&diag);
	if (cfg != NULL && cfg->state.backend == STATE_REDIS)
		(void)rstore_check(cfg, print_warning, (void *)(uintptr_t)path);
	config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ssprd d = { .config_path = SSPRD_CONFIG_FILE };
	const struct engine_hooks hooks = {
		.arg = &d,
		.work_begin = hook_work_begin,
		.work_end = hook_work_end,
		.answered = hook_answered,
		.notify_failed = hook_notify_failed,
	};
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
		return check_config(d.config_path);

	log_init(d.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	d.cfg = service_load_config(d.config_path);
	if (d.cfg == NULL)
		fatalx("config: %s is not usable; not starting", d.config_path);
	if (!d.debug)
		log_set_level(d.cfg->daemon.log_level);

	request_init();
	dir_init(d.cfg);	/* before the event base: it makes it thread-aware */
	d.base = event_base_new();
	if (d.base == NULL)
		fatalx("event: cannot create the event base");

	drop_privileges(&d);
	protect_memory();
	open_state(&d);
	d.notifier = notify_new(d.base);
	d.engine = engine_new(d.base, d.cfg, d.store, d.notifier, &hooks);
	d.spool = spool_open(d.base, d.cfg, engine_request, d.engine, err,
	    sizeof(err));
	if (d.spool == NULL)
		fatalx("spool: %s", err);
	engine_set_spool(d.engine, d.spool);

	service_init(&d);
	metrics_start(&d, d.cfg);
	spool_start(d.spool);
	service_ready(&d);

	if (event_base_dispatch(d.base) < 0)
		fatalx("event: the event loop failed");

	metrics_stop();
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
