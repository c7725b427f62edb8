/*
 * test_notify.c - running commands (real programs, a real event loop),
 * templates and masked contacts.
 *
 * The process is a child subreaper, so that what a command leaves behind
 * becomes our child and we can prove it is gone (PID 1 in a container may
 * never reap it). SIGPIPE is ignored, as in the daemon.
 */
#include "build.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "daemon/notify.h"
#include "daemon/transport.h"

static char dir[PATH_MAX];

struct result {
	int calls;
	bool ok;
	char detail[1024];
	double at;		/* seconds after the test's start */
};

struct fixture {
	struct event_base *base;
	struct notifier *n;
};

static struct timespec t0;

static double
since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0.tv_sec) +
	    (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
done_cb(bool ok, const char *detail, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->ok = ok;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	r->at = since_start();
}

static void
set_flag(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

static bool
all_called(const struct result *r, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (r[i].calls == 0)
			return false;
	return true;
}

/* Run the loop until every result has its call, or limit seconds; then a
 * little longer, so that a second call would be seen. */
static void
run(struct fixture *fx, struct result *r, size_t nr, int limit)
{
	struct timeval tv = { limit, 0 }, settle = { 0, 100 * 1000 };
	bool expired = false, settled = false;
	struct event *wd, *st;

	wd = evtimer_new(fx->base, set_flag, &expired);
	evtimer_add(wd, &tv);
	while (!expired && !all_called(r, nr))
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(wd);
	assert_false(expired);

	st = evtimer_new(fx->base, set_flag, &settled);
	evtimer_add(st, &settle);
	while (!settled)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(st);
	for (size_t i = 0; i < nr; i++)
		assert_int_equal(r[i].calls, 1);
	assert_int_equal(notify_running(fx->n), 0);
}

static void
path_of(char *buf, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		fail_msg("path too long: %s/%s", dir, name);
}

/* A /bin/sh script in the test directory; "@D" in the text stands for the
 * directory. */
static void
script(char *path, const char *name, const char *text)
{
	FILE *f;

	path_of(path, name);
	assert_non_null(f = fopen(path, "w"));
	fputs("#!/bin/sh\n", f);
	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			fputs(dir, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

/* The contents of a file in the test directory, or -1. */
static ssize_t
slurp(const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n, got = 0;
	int fd;

	path_of(path, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((size_t)got < size - 1 &&
	    (n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static pid_t
read_pid(const char *name)
{
	char buf[32];

	if (slurp(name, buf, sizeof(buf)) <= 0)
		return -1;
	return (pid_t)atol(buf);
}

/* Reap what a group left behind (it is ours as subreaper); true when no
 * process of the group remains, within limit_ms. */
static bool
group_gone(pid_t pgid, int limit_ms)
{
	const struct timespec nap = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited <= limit_ms; waited += 10) {
		while (waitpid(-pgid, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) == -1 && errno == ESRCH)
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

/* Reap the orphans a test's commands left to us. Only after notify_free():
 * before, this could take a child notify still watches. */
static void
reap_orphans(int limit_ms)
{
	const struct timespec nap = { 0, 10 * 1000 * 1000 };
	pid_t pid;

	for (int waited = 0;; waited += 10) {
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (pid == -1 || waited >= limit_ms)
			return;		/* none left, or still running */
		nanosleep(&nap, NULL);
	}
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->base = event_base_new()) == NULL)
		return -1;
	fx->n = notify_new(fx->base);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	notify_free(fx->n);
	reap_orphans(0);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

/* --- commands ------------------------------------------------------------- */

static void
test_body_on_stdin(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };
	size_t len = 300 * 1024;	/* several pipe buffers */
	char *body = malloc(len), *got = malloc(len + 1);

	assert_non_null(body);
	assert_non_null(got);
	for (size_t i = 0; i < len; i++)
		body[i] = (char)(i * 7 % 251);	/* NULs included */
	script(path, "cat.sh", "exec /bin/cat > @D/cat.out\n");
	notify_run(fx->n, &cmd, NULL, body, len, 10, done_cb, &r);
	assert_int_equal(notify_running(fx->n), 1);
	run(fx, &r, 1, 10);
	assert_true(r.ok);
	assert_string_equal(r.detail, "exit status 0");
	assert_int_equal(slurp("cat.out", got, len + 1), len);
	assert_memory_equal(got, body, len);
	free(body);
	free(got);
}

static void
test_empty_body(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL }, got[16];
	struct command cmd = { argv, 1 };
	struct result r = { 0 };

	/* cat must see EOF at once, or this times out. */
	script(path, "cat0.sh", "exec /bin/cat > @D/cat0.out\n");
	notify_run(fx->n, &cmd, NULL, "", 0, 5, done_cb, &r);
	run(fx, &r, 1, 10);
	assert_true(r.ok);
	assert_int_equal(slurp("cat0.out", got, sizeof(got)), 0);
	assert_true(r.at < 2);
}

static void
test_exit_status(void **state)
{
	struct fixture *fx = *state;
	char *a0[] = { "/bin/sh", "-c", "exit 3", NULL };
	char *a1[] = { "/bin/sh", "-c", "echo; echo 'first line'; echo second; "
	    "exit 4", NULL };
	char *a2[] = { "/bin/sh", "-c", "kill -KILL $$", NULL };
	struct command c0 = { a0, 3 }, c1 = { a1, 3 }, c2 = { a2, 3 };
	struct result r[3] = { { 0 } };

	notify_run(fx->n, &c0, NULL, "x", 1, 10, done_cb, &r[0]);
	notify_run(fx->n, &c1, NULL, "x", 1, 10, done_cb, &r[1]);
	notify_run(fx->n, &c2, NULL, "x", 1, 10, done_cb, &r[2]);
	run(fx, r, 3, 10);
	assert_false(r[0].ok);
	assert_string_equal(r[0].detail, "exit status 3");
	/* The output is never reported (see test_output_never_logged). */
	assert_false(r[1].ok);
	assert_string_equal(r[1].detail, "exit status 4");
	assert_false(r[2].ok);
	assert_string_equal(r[2].detail, "killed by signal 9");
}

/*
 * A gateway that echoes what it was sent, the code included, and fails:
 * neither the result nor the log (at debug level, stderr captured) may
 * hold a byte of its output, only the exit status.
 */
static void
test_output_never_logged(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], logpath[PATH_MAX], *argv[2] = { path, NULL };
	char *a1[] = { "/bin/sh", "-c", "/bin/cat; kill -KILL $$", NULL };
	struct command cmd = { argv, 1 }, c1 = { a1, 3 };
	struct result r[2] = { { 0 } };
	const char body[] = "Your password reset code is 73019284.\n";
	char got[16384];
	int fd, saved;

	script(path, "echo.sh", "echo 'gateway: rejected message:'\n"
	    "/bin/cat\necho 'relay refused us' >&2\nexit 75\n");
	path_of(logpath, "echo.log");
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_init(LOG_LEVEL_DEBUG);

	notify_run(fx->n, &cmd, NULL, body, strlen(body), 10, done_cb, &r[0]);
	/* Killed by a signal after talking: the same. */
	notify_run(fx->n, &c1, NULL, body, strlen(body), 10, done_cb, &r[1]);
	run(fx, r, 2, 10);

	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);

	assert_false(r[0].ok);
	assert_string_equal(r[0].detail, "exit status 75");
	assert_false(r[1].ok);
	assert_string_equal(r[1].detail, "killed by signal 9");
	assert_true(slurp("echo.log", got, sizeof(got)) > 0);
	if (strstr(got, "73019284") != NULL || strstr(got, "relay") != NULL ||
	    strstr(got, "gateway") != NULL)
		fail_msg("the command's output reached the log:\n%s", got);
	assert_non_null(strstr(got, "exit status 75"));
}

static void
test_long_output(void **state)
{
	struct fixture *fx = *state;
	char p0[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
	char *a0[] = { p0, NULL }, *a1[] = { p1, NULL }, *a2[] = { p2, NULL };
	struct command c0 = { a0, 1 }, c1 = { a1, 1 }, c2 = { a2, 1 };
	struct result r[3] = { { 0 } };

	/* Far more than a pipe holds: it must be drained, not block; and
	 * none of it is reported, however it is cut. */
	script(p0, "chatty.sh", "i=0\nwhile [ $i -lt 3000 ]; do\n"
	    "echo \"line $i ........................................\"\n"
	    "i=$((i + 1))\ndone\nexit 2\n");
	/* One line longer than what is kept. */
	script(p1, "longline.sh", "/usr/bin/head -c 5000 /dev/zero | "
	    "/usr/bin/tr '\\0' x\nexit 2\n");
	/* A two-byte character across the 512-byte cut: not split. */
	script(p2, "utf8cut.sh", "/usr/bin/head -c 511 /dev/zero | "
	    "/usr/bin/tr '\\0' x\nprintf '\\303\\251tail'\nexit 2\n");
	notify_run(fx->n, &c0, NULL, "", 0, 10, done_cb, &r[0]);
	notify_run(fx->n, &c1, NULL, "", 0, 10, done_cb, &r[1]);
	notify_run(fx->n, &c2, NULL, "", 0, 10, done_cb, &r[2]);
	run(fx, r, 3, 10);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(r[i].detail, "exit status 2");
}

static void
test_timeout(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct command cmd = { argv, 2 };
	struct result r = { 0 };

	notify_run(fx->n, &cmd, NULL, "x", 1, 1, done_cb, &r);
	run(fx, &r, 1, 10);
	assert_false(r.ok);
	assert_string_equal(r.detail, "timed out after 1 s");
	assert_true(r.at >= 0.9 && r.at < 2.0);
}

static void
test_timeout_term_ignored(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };

	/* The ignored SIGTERM is inherited by sleep: only SIGKILL ends it. */
	script(path, "noterm.sh", "trap '' TERM\n/bin/sleep 30\n");
	notify_run(fx->n, &cmd, NULL, "x", 1, 1, done_cb, &r);
	run(fx, &r, 1, 10);
	assert_false(r.ok);
	assert_string_equal(r.detail, "timed out after 1 s");
	assert_true(r.at >= 2.9 && r.at < 4.5);
}

struct group_probe {
	pid_t pgid;
	bool own_group;
	bool alive;
};

static void
probe_group(evutil_socket_t fd, short what, void *arg)
{
	struct group_probe *g = arg;

	(void)fd;
	(void)what;
	g->pgid = read_pid("group.pid");
	if (g->pgid <= 0)
		return;
	g->own_group = getpgid(g->pgid) == g->pgid && g->pgid != getpgrp();
	g->alive = kill(-g->pgid, 0) == 0;
}

static void
test_timeout_kills_group(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };
	struct group_probe g = { 0 };
	struct timeval half = { 0, 500 * 1000 };
	struct event *ev;
	bool gone;

	script(path, "group.sh", "echo $$ > @D/group.pid\n"
	    "/bin/sleep 30 &\n/bin/sleep 30\n");
	ev = evtimer_new(fx->base, probe_group, &g);
	evtimer_add(ev, &half);
	notify_run(fx->n, &cmd, NULL, "x", 1, 1, done_cb, &r);
	run(fx, &r, 1, 10);
	event_free(ev);
	assert_string_equal(r.detail, "timed out after 1 s");
	assert_true(g.pgid > 0);
	assert_true(g.own_group);
	assert_true(g.alive);
	gone = group_gone(g.pgid, 2000);
	if (!gone)
		kill(-g.pgid, SIGKILL);
	assert_true(gone);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

static void
test_never_reads_stdin(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };
	struct timeval every = { 0, 20 * 1000 };
	size_t len = 1024 * 1024;
	char *body = calloc(1, len);
	struct event *ev;
	int ticks = 0;

	assert_non_null(body);
	script(path, "deaf.sh", "/bin/sleep 1\nexit 0\n");
	ev = event_new(fx->base, -1, EV_PERSIST, tick, &ticks);
	event_add(ev, &every);
	notify_run(fx->n, &cmd, NULL, body, len, 10, done_cb, &r);
	free(body);		/* notify has its own copy */
	run(fx, &r, 1, 10);
	event_free(ev);
	/* Not reading is the command's business; its exit status decides. */
	assert_true(r.ok);
	assert_true(r.at >= 0.9);
	/* The loop ran the whole second: about 50 ticks, never 0. */
	assert_true(ticks >= 30);
}

static void
test_missing_program(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *a0[] = { "/nonexistent/ssprd/prog", NULL };
	char *a1[] = { path, NULL };
	struct command c0 = { a0, 1 }, c1 = { a1, 1 }, c2 = { NULL, 0 };
	struct result r[3] = { { 0 } };
	char want[PATH_MAX + 64];

	script(path, "noexec.sh", "exit 0\n");
	assert_int_equal(chmod(path, 0644), 0);
	notify_run(fx->n, &c0, NULL, "x", 1, 10, done_cb, &r[0]);
	notify_run(fx->n, &c1, "arg", "x", 1, 10, done_cb, &r[1]);
	notify_run(fx->n, &c2, NULL, "x", 1, 10, done_cb, &r[2]);
	/* Reported from the loop, not from within notify_run(). */
	assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 0);
	assert_int_equal(notify_running(fx->n), 3);
	run(fx, r, 3, 10);
	assert_false(r[0].ok);
	assert_string_equal(r[0].detail,
	    "cannot run /nonexistent/ssprd/prog: No such file or directory");
	assert_false(r[1].ok);
	snprintf(want, sizeof(want), "cannot run %s: Permission denied", path);
	assert_string_equal(r[1].detail, want);
	assert_false(r[2].ok);
	assert_string_equal(r[2].detail, "no command is configured");
}

/* The extra argument (an SMS number) comes after "--": a value that starts
 * with '-' can never be taken for an option by a getopt-style command. */
static void
test_extra_arg_after_dashes(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[] = { path, "-f", "two words", NULL };
	struct command cmd = { argv, 3 };
	struct result r[3] = { { 0 } };
	char got[256];

	script(path, "args.sh", "printf '[%s]\\n' \"$@\" > @D/args.out\n");
	notify_run(fx->n, &cmd, "+15550100001", "x", 1, 10, done_cb, &r[0]);
	run(fx, &r[0], 1, 10);
	assert_true(r[0].ok);
	assert_true(slurp("args.out", got, sizeof(got)) > 0);
	assert_string_equal(got, "[-f]\n[two words]\n[--]\n[+15550100001]\n");

	notify_run(fx->n, &cmd, NULL, "x", 1, 10, done_cb, &r[1]);
	run(fx, &r[1], 1, 10);
	assert_true(slurp("args.out", got, sizeof(got)) > 0);
	assert_string_equal(got, "[-f]\n[two words]\n");

	/* Even a number that slipped past every check stays an operand. */
	notify_run(fx->n, &cmd, "--123456", "x", 1, 10, done_cb, &r[2]);
	run(fx, &r[2], 1, 10);
	assert_true(slurp("args.out", got, sizeof(got)) > 0);
	assert_string_equal(got, "[-f]\n[two words]\n[--]\n[--123456]\n");
}

/* The hex mask of a "SigXxx:" line of /proc/PID/status. */
static unsigned long long
sig_mask(const char *status, const char *field)
{
	const char *p = strstr(status, field);

	assert_non_null(p);
	return strtoull(p + strlen(field), NULL, 16);
}

static void
test_clean_child(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };
	char got[4096], *line, *save;
	sigset_t usr1, old;
	int fd;

	/* What the daemon has that a command must not get: a secret in the
	 * environment, a descriptor without O_CLOEXEC, a blocked signal, an
	 * ignored SIGPIPE (set in main), a working directory. */
	setenv("SSPRD_TEST_SECRET", "hunter2", 1);
	assert_true((fd = open("/dev/null", O_RDONLY)) != -1);
	assert_int_equal(dup2(fd, 100), 100);
	close(fd);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	assert_int_equal(chdir(dir), 0);

	script(path, "env.sh", "/usr/bin/env > @D/env.out\n"
	    "pwd > @D/cwd.out\n"
	    "if [ -e /proc/$$/fd/100 ]; then echo open; else echo closed; fi"
	    " > @D/fd.out\n"
	    /* Not the shell's own mask: it blocks signals while it waits
	     * for a child. What it passes on, read by what it execs. */
	    "exec /bin/grep '^Sig' /proc/self/status > @D/sig.out\n");
	notify_run(fx->n, &cmd, NULL, "x", 1, 10, done_cb, &r);
	run(fx, &r, 1, 10);

	unsetenv("SSPRD_TEST_SECRET");
	close(100);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(chdir("/"), 0);
	assert_true(r.ok);

	assert_true(slurp("env.out", got, sizeof(got)) > 0);
	assert_non_null(strstr(got, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_non_null(strstr(got, "LANG=C.UTF-8\n"));
	for (line = strtok_r(got, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* What a shell adds by itself, and ours. */
		if (strncmp(line, "PATH=", 5) == 0 ||
		    strncmp(line, "LANG=", 5) == 0 ||
		    strncmp(line, "PWD=", 4) == 0 ||
		    strncmp(line, "OLDPWD=", 7) == 0 ||
		    strncmp(line, "SHLVL=", 6) == 0 ||
		    strncmp(line, "_=", 2) == 0)
			continue;
		fail_msg("unexpected variable in the environment: %s", line);
	}
	assert_true(slurp("cwd.out", got, sizeof(got)) > 0);
	assert_string_equal(got, "/\n");
	assert_true(slurp("fd.out", got, sizeof(got)) > 0);
	assert_string_equal(got, "closed\n");
	assert_true(slurp("sig.out", got, sizeof(got)) > 0);
	assert_int_equal(sig_mask(got, "SigBlk:") & (1ULL << (SIGUSR1 - 1)), 0);
	assert_int_equal(sig_mask(got, "SigIgn:") & (1ULL << (SIGPIPE - 1)), 0);
}

static void
test_concurrent(void **state)
{
	struct fixture *fx = *state;
	char paths[4][PATH_MAX], name[32], *argv[4][2];
	char *x5[] = { "/bin/sh", "-c", "sleep 0.3; exit 5", NULL };
	char *x6[] = { "/bin/sh", "-c", "exit 6", NULL };
	struct command cmd[4], c5 = { x5, 3 }, c6 = { x6, 3 };
	const char *bodies[4] = { "one", "two two", "three three three",
	    "four" };
	struct result r[6] = { { 0 } };
	char got[64], text[64];

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "cat%d.sh", i);
		snprintf(text, sizeof(text), "exec /bin/cat > @D/cat%d.out\n", i);
		script(paths[i], name, text);
		argv[i][0] = paths[i];
		argv[i][1] = NULL;
		cmd[i].argv = argv[i];
		cmd[i].argc = 1;
		notify_run(fx->n, &cmd[i], NULL, bodies[i], strlen(bodies[i]),
		    10, done_cb, &r[i]);
	}
	notify_run(fx->n, &c5, NULL, "x", 1, 10, done_cb, &r[4]);
	notify_run(fx->n, &c6, NULL, "x", 1, 10, done_cb, &r[5]);
	assert_int_equal(notify_running(fx->n), 6);
	run(fx, r, 6, 10);
	for (int i = 0; i < 4; i++) {
		assert_true(r[i].ok);
		snprintf(name, sizeof(name), "cat%d.out", i);
		assert_true(slurp(name, got, sizeof(got)) > 0);
		assert_string_equal(got, bodies[i]);
	}
	assert_string_equal(r[4].detail, "exit status 5");
	assert_string_equal(r[5].detail, "exit status 6");
	/* The quick one did not wait for the slow one. */
	assert_true(r[5].at < r[4].at);
}

static void
test_output_held_by_leftover(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], *argv[2] = { path, NULL };
	struct command cmd = { argv, 1 };
	struct result r = { 0 };
	pid_t bg;

	/* The command exits at once; what it started keeps its output
	 * open. That must not hold the report back for long. */
	script(path, "leftover.sh", "/bin/sleep 30 &\necho $! > @D/bg.pid\n"
	    "exit 0\n");
	notify_run(fx->n, &cmd, NULL, "x", 1, 10, done_cb, &r);
	run(fx, &r, 1, 10);
	bg = read_pid("bg.pid");
	if (bg > 0) {
		kill(bg, SIGKILL);
		waitpid(bg, NULL, 0);	/* ours: we are a subreaper */
	}
	assert_true(r.ok);
	assert_string_equal(r.detail, "exit status 0");
	assert_true(r.at < 2.5);
}

static void
check_pids(evutil_socket_t fd, short what, void *arg)
{
	char name[32];

	(void)fd;
	(void)what;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "free%d.pid", i);
		if (read_pid(name) <= 0)
			return;
	}
	*(bool *)arg = true;
}

static void
test_free_while_running(void **state)
{
	struct fixture *fx = *state;
	char paths[3][PATH_MAX], *argv[3][2], name[32], text[256];
	char *am[] = { "/nonexistent/ssprd/prog", NULL };
	struct command cmd[3], cm = { am, 1 };
	struct result r[4] = { { 0 } };
	struct timeval every = { 0, 20 * 1000 }, limit = { 5, 0 };
	bool started = false, expired = false;
	struct event *ev, *wd;
	pid_t pgid[3];
	double t;

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "free%d.sh", i);
		/* The first notes that it was asked to stop; the last ignores
		 * SIGTERM, as does its sleep. */
		snprintf(text, sizeof(text), "%secho $$ > @D/free%d.pid\n"
		    "/bin/sleep 30 &\nwait\n", i == 0 ?
		    "trap 'echo term > @D/free0.term; exit 0' TERM\n" :
		    i == 2 ? "trap '' TERM\n" : "", i);
		script(paths[i], name, text);
		argv[i][0] = paths[i];
		argv[i][1] = NULL;
		cmd[i].argv = argv[i];
		cmd[i].argc = 1;
		notify_run(fx->n, &cmd[i], NULL, "x", 1, 30, done_cb, &r[i]);
	}
	ev = event_new(fx->base, -1, EV_PERSIST, check_pids, &started);
	event_add(ev, &every);
	wd = evtimer_new(fx->base, set_flag, &expired);
	evtimer_add(wd, &limit);
	while (!started && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(ev);
	event_free(wd);
	assert_true(started);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "free%d.pid", i);
		pgid[i] = read_pid(name);
	}
	/* Queued, its failure not yet reported: reported now. */
	notify_run(fx->n, &cm, NULL, "x", 1, 30, done_cb, &r[3]);

	t = since_start();
	notify_free(fx->n);
	fx->n = NULL;
	t = since_start() - t;
	for (int i = 0; i < 3; i++) {
		bool gone = group_gone(pgid[i], 1000);

		if (!gone)
			kill(-pgid[i], SIGKILL);
		assert_true(gone);
		assert_int_equal(r[i].calls, 1);
		assert_false(r[i].ok);
		assert_string_equal(r[i].detail, "shut down");
	}
	assert_int_equal(r[3].calls, 1);
	assert_string_equal(r[3].detail,
	    "cannot run /nonexistent/ssprd/prog: No such file or directory");
	/* Asked politely first. */
	assert_int_equal(slurp("free0.term", text, sizeof(text)), 5);
	/* Bounded: SIGTERM, a short wait, SIGKILL. */
	assert_true(t < 2.0);
}

struct chain {
	struct notifier *n;
	struct command *next;
	struct result first, second;
};

static void
chain_cb(bool ok, const char *detail, void *arg)
{
	struct chain *c = arg;

	done_cb(ok, detail, &c->first);
	notify_run(c->n, c->next, NULL, "y", 1, 10, done_cb, &c->second);
}

static void
test_run_from_done(void **state)
{
	struct fixture *fx = *state;
	char *a0[] = { "/bin/sh", "-c", "exit 0", NULL };
	char *a1[] = { "/bin/sh", "-c", "exit 7", NULL };
	struct command c0 = { a0, 3 }, c1 = { a1, 3 };
	struct chain c = { fx->n, &c1, { 0 }, { 0 } };

	notify_run(fx->n, &c0, NULL, "x", 1, 10, chain_cb, &c);
	run(fx, &c.second, 1, 10);
	assert_int_equal(c.first.calls, 1);
	assert_true(c.first.ok);
	assert_string_equal(c.second.detail, "exit status 7");
}

/* More than NOTIFY_MAX_RUNNING at once: the rest wait, in order, never more
 * than the cap run together, and each gets its own message and argument
 * even though the caller's command was overwritten meanwhile (a reload). */
#define OVER 8
static void
test_running_cap(void **state)
{
	struct fixture *fx = *state;
	enum { N = NOTIFY_MAX_RUNNING + OVER };
	char path[PATH_MAX], prog[PATH_MAX], body[N][32], arg[32], got[64];
	char *argv[2] = { prog, NULL };
	struct command cmd = { argv, 1 };
	struct result r[N];
	FILE *f;
	int peak = 0, v;

	memset(r, 0, sizeof(r));
	/* Counts the copies running (itself included) into peak.log. The
	 * argument comes after "--". */
	script(path, "cap.sh", "[ \"$1\" = -- ] && shift\ntouch @D/run.$$\n"
	    "ls @D | grep -c '^run\\.' >> @D/peak.log\n"
	    "cat > @D/got.$1\nsleep 0.3\nrm -f @D/run.$$\n");
	snprintf(prog, sizeof(prog), "%s", path);
	for (int i = 0; i < N; i++) {
		snprintf(body[i], sizeof(body[i]), "body %d", i);
		snprintf(arg, sizeof(arg), "%d", i);
		notify_run(fx->n, &cmd, arg, body[i], strlen(body[i]), 10,
		    done_cb, &r[i]);
	}
	assert_int_equal(notify_running(fx->n), NOTIFY_MAX_RUNNING);
	assert_int_equal(notify_waiting(fx->n), OVER);
	/* The caller's command and argument are gone. */
	memset(prog, 'X', sizeof(prog) - 1);
	prog[sizeof(prog) - 1] = '\0';
	run(fx, r, N, 20);
	assert_int_equal(notify_waiting(fx->n), 0);
	for (int i = 0; i < N; i++) {
		assert_true(r[i].ok);
		snprintf(arg, sizeof(arg), "got.%d", i);
		assert_true(slurp(arg, got, sizeof(got)) > 0);
		assert_string_equal(got, body[i]);
	}
	/* The last ones started after the first ones ended. */
	assert_true(r[N - 1].at > r[0].at);
	path_of(path, "peak.log");
	assert_non_null(f = fopen(path, "r"));
	while (fscanf(f, "%d", &v) == 1)
		if (v > peak)
			peak = v;
	fclose(f);
	assert_true(peak >= 2);		/* they did run together */
	assert_true(peak <= NOTIFY_MAX_RUNNING);
}

/* notify_free() reports the waiting ones as shut down, without running
 * them. */
static void
test_free_with_waiting(void **state)
{
	struct fixture *fx = *state;
	enum { N = NOTIFY_MAX_RUNNING + 2 };
	char path[PATH_MAX], *argv[2] = { path, NULL }, text[1024];
	struct command cmd = { argv, 1 };
	struct result r[N];
	int lines = 0;

	memset(r, 0, sizeof(r));
	script(path, "slow.sh", "echo ran >> @D/ran.log\nexec sleep 30\n");
	for (int i = 0; i < N; i++)
		notify_run(fx->n, &cmd, NULL, "x", 1, 30, done_cb, &r[i]);
	assert_int_equal(notify_waiting(fx->n), 2);
	notify_free(fx->n);
	fx->n = NULL;
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_false(r[i].ok);
		assert_string_equal(r[i].detail, "shut down");
	}
	/* The waiting ones never started. */
	if (slurp("ran.log", text, sizeof(text)) > 0)
		for (char *p = text; *p != '\0'; p++)
			lines += *p == '\n';
	assert_true(lines <= NOTIFY_MAX_RUNNING);
}

/* --- templates ------------------------------------------------------------ */

static const struct notify_var vars[] = {
	{ "user", "alice" },
	{ "code", "123456" },
	{ "minutes", "15" },
	{ "sly", "{{code}}" },
	{ "empty", "" },
	{ "unset", NULL },
	{ NULL, NULL },
};

static void
render_ok(const char *tmpl, const char *want)
{
	const char *err = NULL;
	size_t len = 999;
	char *s;

	s = notify_render(tmpl, vars, &len, &err);
	if (s == NULL)
		fail_msg("\"%s\": %s", tmpl, err);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	secret_free(s);
}

static void
render_fails(const char *tmpl, const char *want_in_err)
{
	const char *err = NULL;
	size_t len = 999;

	assert_null(notify_render(tmpl, vars, &len, &err));
	assert_int_equal(len, 0);
	assert_non_null(err);
	if (strstr(err, want_in_err) == NULL)
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", tmpl, err, want_in_err);
}

static void
test_render(void **state)
{
	(void)state;
	render_ok("Hello {{user}}, your code is {{code}}. It expires in "
	    "{{minutes}} minutes.", "Hello alice, your code is 123456. It "
	    "expires in 15 minutes.");
	render_ok("{{ code }}|{{code  }}|{{\tuser}}", "123456|123456|alice");
	render_ok("{{user}}{{code}}", "alice123456");
	render_ok("{{code}}", "123456");
	render_ok("no placeholders { here } }} {", "no placeholders { here } }} {");
	render_ok("", "");
	render_ok("[{{empty}}]", "[]");
	/* A value is not a template. */
	render_ok("x{{sly}}y", "x{{code}}y");
	render_ok("{x{{user}}}", "{xalice}");
}

static void
test_render_errors(void **state)
{
	(void)state;
	render_fails("Hi {{name}}", "does not know");
	render_fails("Hi {{ users }}", "does not know");
	render_fails("Hi {{unset}}", "no value");
	render_fails("Hi {{user", "never closes");
	render_fails("Hi {{user}", "never closes");
	render_fails("Hi {{", "never closes");
	render_fails("Hi {{User}}", "not {{name}}");
	render_fails("Hi {{}}", "not {{name}}");
	render_fails("Hi {{us-er}}", "not {{name}}");
	render_fails("Hi {{user code}}", "not {{name}}");
	render_fails("{{{user}}}", "not {{name}}");
	/* No variables at all: every name is unknown. */
	assert_null(notify_render("{{user}}", NULL, NULL, NULL));
}

/* --- masking -------------------------------------------------------------- */

static void
email_is(const char *addr, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	notify_mask_email(addr, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\" -> \"%s\", want \"%s\"", addr ? addr : "(null)",
		    out, want);
}

static void
phone_is(const char *number, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	notify_mask_phone(number, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\" -> \"%s\", want \"%s\"",
		    number ? number : "(null)", out, want);
}

static void
test_mask_email(void **state)
{
	(void)state;
	email_is("alice@example.com", "a***@e***.com");
	email_is("a@b.c", "a***@b***.c");
	email_is("bob@localhost", "b***@l***");
	email_is("alice@mail.example.co.uk", "a***@m***.uk");
	email_is("\"a@b\"@example.org", "\"***@e***.org");
	/* UTF-8: whole characters, never half of one. */
	email_is("\xc3\xa9lodie@ex\xc3\xa4mple.de", "\xc3\xa9***@e***.de");
	email_is("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
	    "\xe4\xb8\xad\xe5\x9b\xbd", "\xe7\x94\xa8***@\xe4\xbe\x8b***."
	    "\xe4\xb8\xad\xe5\x9b\xbd");
	email_is("\xf0\x9f\x98\x80@x.io", "\xf0\x9f\x98\x80***@x***.io");
	/* Odd input. */
	email_is("", "***");
	email_is(NULL, "***");
	email_is("alice", "***");
	email_is("@example.com", "***");
	email_is("alice@", "***");
	email_is("alice@.com", "***");
	email_is("alice@example.", "***");
	email_is(" alice@example.com", "***");
	email_is("alice@example.com\n", "***");
	email_is("\x01" "a@b.c", "***");
	email_is("\xc3@example.com", "***");		/* cut UTF-8 */
	email_is("\xc3\xa9@\xe4\xbe.de", "***");
	email_is("a@b.cccccccccccccccccccccccccccccccccccccccc", "***");
}

static void
test_mask_small_buffers(void **state)
{
	char out[80];

	(void)state;
	for (size_t size = 0; size < 16; size++) {
		memset(out, 'Z', sizeof(out));
		notify_mask_email("\xc3\xa9lodie@example.com", out, size);
		if (size > 0)
			assert_true(strlen(out) < size);
		for (size_t i = size; i < sizeof(out); i++)
			assert_int_equal(out[i], 'Z');
		memset(out, 'Z', sizeof(out));
		notify_mask_phone("+1 555-010-0001", out, size);
		if (size > 0)
			assert_true(strlen(out) < size);
		for (size_t i = size; i < sizeof(out); i++)
			assert_int_equal(out[i], 'Z');
	}
	/* Too small for the mask: "***" (cut), never half a character. */
	notify_mask_email("\xc3\xa9lodie@example.com", out, 8);
	assert_string_equal(out, "***");
	notify_mask_email("\xc3\xa9lodie@example.com", out, 2);
	assert_string_equal(out, "*");
	notify_mask_email("a@b.c", out, 12);
	assert_string_equal(out, "a***@b***.c");
}

static void
test_mask_phone(void **state)
{
	(void)state;
	phone_is("+1 555-010-0001", "+*********01");
	phone_is("+15550100001", "+*********01");
	phone_is("0171 1234567", "*********67");
	phone_is("(030) 123.456/78", "*********78");
	phone_is("123456", "****56");
	/* Odd input. */
	phone_is("", "***");
	phone_is(NULL, "***");
	phone_is("12345", "***");
	phone_is("+", "***");
	phone_is("call me", "***");
	phone_is("555-0100 ext 1", "***");
	phone_is("1+5550100001", "***");
	phone_is("++15550100001", "***");
	phone_is("+1\t5550100001", "***");
	phone_is("123456789012345678901", "***");
}

/* What may reach the [sms] command from the directory: the shape the
 * request parser asks of registered numbers, plus the formatting
 * characters a directory may store. */
static void
test_phone_ok(void **state)
{
	char m[64];

	(void)state;
	assert_true(notify_phone_ok("+15550100001"));
	assert_true(notify_phone_ok("+1 555-010-0001"));
	assert_true(notify_phone_ok("0171 1234567"));
	assert_true(notify_phone_ok("030 123.456/78"));
	assert_true(notify_phone_ok("0(30) 1234567"));
	assert_true(notify_phone_ok("123456"));
	assert_true(notify_phone_ok("+ 1 555 0100"));
	assert_true(notify_phone_ok("12345678901234567890"));	/* 20 */
	/* Read as options by a command that parses them. */
	assert_false(notify_phone_ok("--123456"));
	assert_false(notify_phone_ok("-123456"));
	assert_false(notify_phone_ok("-1 555 0100"));
	assert_false(notify_phone_ok("--help"));
	/* Not starting with + or a digit. */
	assert_false(notify_phone_ok(" 123456"));
	assert_false(notify_phone_ok("(030) 1234567"));
	assert_false(notify_phone_ok(".123456"));
	assert_false(notify_phone_ok("/123456"));
	/* Not a number. */
	assert_false(notify_phone_ok(NULL));
	assert_false(notify_phone_ok(""));
	assert_false(notify_phone_ok("+"));
	assert_false(notify_phone_ok("12345"));
	assert_false(notify_phone_ok("123456789012345678901"));	/* 21 */
	assert_false(notify_phone_ok("++15550100001"));
	assert_false(notify_phone_ok("1+5550100001"));
	assert_false(notify_phone_ok("+1\t5550100001"));
	assert_false(notify_phone_ok("+15550100001\n"));
	assert_false(notify_phone_ok("555-0100 ext 1"));
	assert_false(notify_phone_ok("+1555010000x"));
	assert_false(notify_phone_ok("+1555;0100001"));
	assert_false(notify_phone_ok("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4"
	    "\xd9\xa5\xd9\xa6"));	/* Arabic-Indic digits */
	/* Agrees with the mask: an accepted number is always shown masked,
	 * never as "***". */
	notify_mask_phone("+1 555-010-0001", m, sizeof(m));
	assert_string_equal(m, "+*********01");
	notify_mask_phone("--123456", m, sizeof(m));
	assert_string_equal(m, "****56");	/* why the mask is no check */
}

/* What an SMS gateway's body gets: {{number}} and {{text}} escaped so that
 * nothing in them can end the value or add a field; the envelope sender
 * taken out of [email] from. */
static void
test_transport_escape(void **state)
{
	static const struct { enum body_type type; const char *in, *out; } c[] = {
		{ BODY_FORM, "+1 555-0100", "%2B1%20555-0100" },
		{ BODY_FORM, "code 1234&To=+999\n", "code%201234%26To%3D%2B999%0A" },
		{ BODY_FORM, "\xc3\xbc.~_", "%C3%BC.~_" },
		{ BODY_JSON, "say \"hi\"\\ \n\t\x01", "say \\\"hi\\\"\\\\ \\n\\u0009\\u0001" },
		{ BODY_JSON, "Şifre \xf0\x9f\x98\x80", "Şifre \xf0\x9f\x98\x80" },
	};
	char from[256], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		out = transport_escape(c[i].type, c[i].in, strlen(c[i].in), &len);
		assert_non_null(out);
		assert_string_equal(out, c[i].out);
		assert_int_equal(len, strlen(c[i].out));
		secret_free(out);
	}
	/* not UTF-8: refused, not passed on */
	assert_null(transport_escape(BODY_JSON, "\xff\xfe", 2, &len));
	transport_from_address("SSPR <ssprd@example.org>", from, sizeof(from));
	assert_string_equal(from, "ssprd@example.org");
	transport_from_address("  noreply@example.org", from, sizeof(from));
	assert_string_equal(from, "noreply@example.org");
	transport_from_address("\"A <b>\" <c@example.org>", from, sizeof(from));
	assert_string_equal(from, "c@example.org");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_body_on_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_never_logged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_term_ignored, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_never_reads_stdin, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_program, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_extra_arg_after_dashes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clean_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_held_by_leftover, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_while_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_running_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_with_waiting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_run_from_done, setup,
		    teardown),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_mask_email),
		cmocka_unit_test(test_mask_small_buffers),
		cmocka_unit_test(test_mask_phone),
		cmocka_unit_test(test_phone_ok),
		cmocka_unit_test(test_transport_escape),
	};
	const char *tmp = getenv("TMPDIR");
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX];
	int rc;

	signal(SIGPIPE, SIG_IGN);		/* as the daemon does */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/test_notify.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	reap_orphans(2000);

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			path_of(path, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	return rc;
}
