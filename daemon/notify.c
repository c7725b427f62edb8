/*
 * notify.c - running the mail and SMS commands, filling templates, masking
 * contacts (see notify.h).
 *
 * What a command gets: its argv as configured (plus "--" and the extra
 * argument), no shell; its own process group; an environment of PATH and
 * LANG only; "/" as its working directory; default signal dispositions and
 * an empty signal mask (the daemon ignores SIGPIPE, and ignored signals
 * survive exec); the message on stdin, then EOF; stdout and stderr into one
 * pipe of ours; no other descriptor.
 *
 * What the daemon is promised:
 * - Nothing here blocks the event loop. stdin is written only when the pipe
 *   has room, output is read only when there is some, so a command that
 *   never reads, never exits or never stops talking costs a timer, not a
 *   stall.
 * - Exits are seen through a pidfd (or, on a kernel without pidfd_open, a
 *   polling timer), never through SIGCHLD: the daemon's signal handling is
 *   not ours to change.
 * - A child is reaped only when we are finished with it. Until then its
 *   zombie keeps its PID, which is also its process group ID, from being
 *   reused, so signalling the group can never hit a stranger.
 * - done() is called exactly once per notify_run(): from the event loop, or
 *   from notify_free(); never from within notify_run(), even when the
 *   command cannot be started.
 * - The message lives in locked memory (common/secret.h) and is freed
 *   (secret_free() wipes it) as soon as it has been written or the command
 *   has exited.
 * - A command's output is drained and dropped unread: only its size is
 *   logged. Gateways echo what they were sent, and what they were sent
 *   holds a code, so the output is as secret as the message.
 */
#include "build.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/notify.h"
#include "daemon/transport.h"

#define DETAIL_MAX	300	/* a failure's description, see job_result() */
#define KILL_GRACE	2	/* s from SIGTERM to SIGKILL */
#define KILL_GIVEUP	5	/* s after SIGKILL before we stop waiting */
#define OUTPUT_GRACE	1	/* s we wait for output EOF after an exit */
#define EXIT_POLL_MS	100	/* exit polling when there is no pidfd */
#define SHUTDOWN_TERM_MS 500	/* notify_free(): SIGTERM to SIGKILL */
#define SHUTDOWN_KILL_MS 1000	/* notify_free(): SIGKILL to giving up */

#define PHONE_KEEP	2	/* trailing digits a masked number shows */
#define PHONE_MIN	6	/* fewer digits than this is not a number to show */
#define PHONE_MAX	20	/* E.164 allows 15; more is not a phone number */
#define SUFFIX_MAX	24	/* bytes of a domain's last label shown */

enum phase {
	RUNNING,
	TERMINATING,		/* timed out, SIGTERM sent */
	KILLING,		/* SIGKILL sent */
};

struct job {
	TAILQ_ENTRY(job) entry;
	struct notifier *n;
	char *prog;			/* argv[0], for messages */
	pid_t pid;			/* -1: never started */
	int pid_fd;
	int in_fd;			/* our end of its stdin */
	int out_fd;			/* our end of its stdout+stderr */
	struct event *ev_in;
	struct event *ev_out;
	struct event *ev_exit;		/* pidfd readable, or a poll timer */
	struct event *ev_timer;		/* timeout, kill steps, output grace */
	unsigned char *body;		/* secret_alloc(); NULL once written */
	size_t len, off;
	unsigned timeout;
	enum phase phase;
	bool exited;			/* a zombie now, not reaped yet */
	bool status_known;
	int how, code;			/* from waitid(): si_code, si_status */
	bool shutdown;			/* killed by notify_free() */
	size_t outlen;			/* bytes of output, drained unread */
	char failure[256];		/* why it never started */
	notify_done_fn *done;
	void *arg;
	/* A job waiting for its turn keeps its own copy of the command: a
	 * reload may free the configuration meanwhile. */
	struct command cmd;
	char *extra_arg;
};

TAILQ_HEAD(jobs, job);

struct notifier {
	struct event_base *base;
	struct jobs jobs;		/* started */
	unsigned njobs;
	struct jobs waiting;		/* for a free place, in order */
	unsigned nwaiting;
	struct transport *transport;	/* SMTP and HTTPS gateways */
	bool closing;
};

static void job_finish(struct job *);
static void start_next(struct notifier *);

static void
need_sodium(void)
{
	/* sodium_malloc() needs it; ssprd -t may render before the daemon
	 * proper has called it. Cheap once done. */
	if (sodium_init() < 0)
		fatalx("notify: cannot initialise libsodium");
}

static struct event *
xevent_new(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event *ev;

	/* libevent fails here only for want of memory. */
	if ((ev = event_new(base, fd, what, cb, arg)) == NULL)
		fatalx("notify: out of memory for an event");
	return ev;
}

static void
ms_timeval(struct timeval *tv, unsigned ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

struct notifier *
notify_new(struct event_base *base)
{
	struct notifier *n;

	need_sodium();
	n = xcalloc(1, sizeof(*n));
	n->base = base;
	TAILQ_INIT(&n->jobs);
	TAILQ_INIT(&n->waiting);
	n->transport = transport_new(base);
	return n;
}

unsigned
notify_running(const struct notifier *n)
{
	return n->njobs + transport_running(n->transport);
}

unsigned
notify_waiting(const struct notifier *n)
{
	return n->nwaiting + transport_waiting(n->transport);
}

void
notify_send(struct notifier *n, const struct config *cfg,
    enum notify_channel ch, const char *to, const char *msg, size_t len,
    notify_done_fn *done, void *arg)
{
	if (n->closing) {
		done(false, "shut down", arg);
	} else if (ch == NOTIFY_MAIL && cfg->email.smtp_url != NULL) {
		transport_mail(n->transport, cfg, to, msg, len, done, arg);
	} else if (ch == NOTIFY_MAIL) {
		notify_run(n, &cfg->email.command, NULL, msg, len,
		    cfg->email.timeout, done, arg);
	} else if (cfg->sms.url != NULL) {
		transport_sms(n->transport, cfg, to, msg, len, done, arg);
	} else {
		notify_run(n, &cfg->sms.command, to, msg, len, cfg->sms.timeout,
		    done, arg);
	}
}

/* --- one command ---------------------------------------------------------- */

static void
close_input(struct job *j)
{
	if (j->ev_in != NULL) {
		event_free(j->ev_in);
		j->ev_in = NULL;
	}
	if (j->in_fd != -1) {
		close(j->in_fd);
		j->in_fd = -1;
	}
	if (j->body != NULL) {
		secret_free(j->body);	/* wipes it */
		j->body = NULL;
	}
}

static void
close_output(struct job *j)
{
	if (j->ev_out != NULL) {
		event_free(j->ev_out);
		j->ev_out = NULL;
	}
	if (j->out_fd != -1) {
		close(j->out_fd);
		j->out_fd = -1;
	}
}

static void
job_free(struct job *j)
{
	close_input(j);
	close_output(j);
	if (j->ev_exit != NULL)
		event_free(j->ev_exit);
	if (j->ev_timer != NULL)
		event_free(j->ev_timer);
	if (j->pid_fd != -1)
		close(j->pid_fd);
	for (size_t i = 0; i < j->cmd.argc; i++)
		free(j->cmd.argv[i]);
	free(j->cmd.argv);
	free(j->extra_arg);
	free(j->prog);
	free(j);
}

/* Both the leader and its group: a command may have left our group by
 * itself, and the group may outlive its leader. Only called before the
 * leader is reaped, so both IDs are still its own. */
static void
signal_job(struct job *j, int sig)
{
	if (kill(-j->pid, sig) == -1 && errno != ESRCH)
		log_warn("notify: signalling %s (group %ld)", j->prog,
		    (long)j->pid);
	if (kill(j->pid, sig) == -1 && errno != ESRCH)
		log_warn("notify: signalling %s (pid %ld)", j->prog,
		    (long)j->pid);
}

/* Has the command exited? WNOWAIT leaves the zombie in place (see the
 * guarantees above). */
static bool
poll_exit(struct job *j)
{
	siginfo_t si;

	if (j->exited)
		return true;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    -1) {
		if (errno == EINTR)
			return false;
		/* ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN
		 * somewhere?). It is gone all the same; only its status is
		 * lost. */
		log_warn("notify: waiting for %s (pid %ld)", j->prog,
		    (long)j->pid);
		j->exited = true;
		return true;
	}
	if (si.si_pid == 0)
		return false;
	j->exited = true;
	j->status_known = true;
	j->how = si.si_code;
	j->code = si.si_status;
	return true;
}

/* The outcome in words: never the command's output (see above). */
static bool
job_result(const struct job *j, char *buf, size_t size)
{
	if (j->shutdown) {
		snprintf(buf, size, "shut down");
		return false;
	}
	if (j->pid == -1) {
		snprintf(buf, size, "%s", j->failure);
		return false;
	}
	if (j->phase != RUNNING) {
		snprintf(buf, size, "timed out after %u s", j->timeout);
		return false;
	}
	if (!j->status_known) {
		snprintf(buf, size, "exit status unknown");
		return false;
	}
	if (j->how == CLD_EXITED) {
		snprintf(buf, size, "exit status %d", j->code);
		return j->code == 0;
	}
	snprintf(buf, size, "killed by signal %d", j->code);
	return false;
}

/* Report and forget. The job is unlinked and freed before done() runs, so
 * done() may start another command or even free the notifier. */
static void
job_finish(struct job *j)
{
	struct notifier *n = j->n;
	notify_done_fn *done = j->done;
	void *arg = j->arg;
	char detail[DETAIL_MAX];
	bool ok;

	ok = job_result(j, detail, sizeof(detail));
	if (j->outlen > 0)
		log_debug("notify: %s: %s (%zu bytes of output, not logged)",
		    j->prog, detail, j->outlen);
	else
		log_debug("notify: %s: %s", j->prog, detail);
	if (j->exited) {
		/* A zombie by now, so this does not wait. */
		while (waitpid(j->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	TAILQ_REMOVE(&n->jobs, j, entry);
	n->njobs--;
	job_free(j);
	/* Before done(), which may free the notifier. */
	if (!n->closing)
		start_next(n);
	done(ok, detail, arg);
}

static void
on_exit_seen(struct job *j)
{
	struct timeval tv = { OUTPUT_GRACE, 0 };

	if (j->ev_exit != NULL)
		event_del(j->ev_exit);
	/* Nobody is left to read the rest. */
	close_input(j);
	/* A timed-out command is being killed: its stragglers too, now,
	 * while the zombie still holds the group ID. */
	if (j->phase != RUNNING && j->status_known)
		signal_job(j, SIGKILL);
	if (j->out_fd == -1) {
		job_finish(j);
		return;
	}
	/* Something the command started still holds its output. Wait a
	 * little for the rest of the output, not for that something. */
	evtimer_add(j->ev_timer, &tv);
}

static void
job_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	if (poll_exit(j))
		on_exit_seen(j);
}

static void
job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct timeval tv = { 0, 0 };

	(void)fd;
	(void)what;
	/* Never started, or exited and done waiting for its output. */
	if (j->pid == -1 || j->exited) {
		job_finish(j);
		return;
	}
	switch (j->phase) {
	case RUNNING:
		log_debug("notify: %s (pid %ld) timed out after %u s",
		    j->prog, (long)j->pid, j->timeout);
		j->phase = TERMINATING;
		signal_job(j, SIGTERM);
		signal_job(j, SIGCONT);	/* a stopped process cannot die */
		tv.tv_sec = KILL_GRACE;
		break;
	case TERMINATING:
		j->phase = KILLING;
		signal_job(j, SIGKILL);
		tv.tv_sec = KILL_GIVEUP;
		break;
	case KILLING:
		/* Stuck in the kernel. Reporting it beats waiting forever;
		 * its zombie, if it ever comes, stays unreaped. */
		log_warnx("notify: %s (pid %ld) survives SIGKILL; giving up on "
		    "it", j->prog, (long)j->pid);
		job_finish(j);
		return;
	}
	evtimer_add(j->ev_timer, &tv);
}

static void
job_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	ssize_t w;

	(void)fd;
	(void)what;
	while (j->off < j->len) {
		w = write(j->in_fd, j->body + j->off, j->len - j->off);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;	/* the pipe is full; wait for room */
			if (errno == EPIPE)
				log_debug("notify: %s stopped reading after "
				    "%zu of %zu bytes", j->prog, j->off,
				    j->len);
			else
				log_warn("notify: writing to %s", j->prog);
			break;
		}
		j->off += (size_t)w;
	}
	/* Written (or refused): wipe it, and give the command its EOF. */
	close_input(j);
}

static void
job_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	char buf[4096];
	ssize_t r;

	(void)fd;
	(void)what;
	r = read(j->out_fd, buf, sizeof(buf));
	if (r == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r > 0) {
		/* Drained so that a talkative command never blocks on a
		 * full pipe; counted, and wiped: it may echo the code. */
		j->outlen += (size_t)r;
		sodium_memzero(buf, (size_t)r);
		return;
	}
	if (r == -1)
		log_warn("notify: reading from %s", j->prog);
	close_output(j);
	if (j->exited)
		job_finish(j);
}

/* A pipe whose descriptors are all above 2: with one of ours at 0-2 (the
 * daemon started with a standard descriptor closed), the child's dup2()s
 * onto 0-2 could overwrite one another. */
static int
pipe_above_stdio(int fds[2])
{
	int i, fd;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		if ((fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			close(fds[0]);
			close(fds[1]);
			return -1;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	return 0;
}

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
spawn(struct job *j, const struct command *cmd, const char *extra_arg,
    int in_fd, int out_fd)
{
	static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char env_lang[] = "LANG=C.UTF-8";
	char *envp[] = { env_path, env_lang, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	char **argv;
	size_t i;
	int err;

	argv = xreallocarray(NULL, cmd->argc + 3, sizeof(*argv));
	for (i = 0; i < cmd->argc; i++)
		argv[i] = cmd->argv[i];
	/*
	 * "--" first: the extra argument (a mobile number) is data, and a
	 * gateway that parses options must not take "--123456" for one.
	 * The number was checked too (request.c, notify_phone_ok()); this is
	 * the second line. posix_spawn() takes char *const[] but does not
	 * write to it.
	 */
	if (extra_arg != NULL) {
		argv[i++] = (char *)(uintptr_t)"--";
		argv[i++] = (char *)(uintptr_t)extra_arg;
	}
	argv[i] = NULL;

	if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
		free(argv);
		return err;
	}
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		free(argv);
		return err;
	}
	sigfillset(&all);
	sigemptyset(&none);
	if ((err = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, out_fd, 2)) != 0 ||
	    (err = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (err = posix_spawn_file_actions_addchdir_np(&fa, "/")) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0 ||
	    (err = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (err = posix_spawnattr_setsigmask(&attr, &none)) != 0)
		goto out;
	/* posix_spawn(), not posix_spawnp(): the configured path is
	 * absolute, and a PATH search would use the daemon's PATH. */
	err = posix_spawn(&j->pid, argv[0], &fa, &attr, argv, envp);
	if (err != 0)
		j->pid = -1;
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	return err;
}

/* Start the command. -1 with j->failure set when it cannot be. */
static int
job_start(struct job *j, const struct command *cmd, const char *extra_arg)
{
	struct event_base *base = j->n->base;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	struct timeval tv;
	size_t len = j->len;
	int err;

	if (pipe_above_stdio(in) == -1 || pipe_above_stdio(out) == -1) {
		err = errno;
		goto fail;
	}
	/* Non-blocking on our ends only (pipe2(O_NONBLOCK) would set it on
	 * the command's too, and few programs expect EAGAIN on stdin). */
	if (set_nonblock(in[1]) == -1 || set_nonblock(out[0]) == -1) {
		err = errno;
		goto fail;
	}
	if ((err = spawn(j, cmd, extra_arg, in[0], out[1])) != 0)
		goto fail;
	close(in[0]);
	close(out[1]);
	j->in_fd = in[1];
	j->out_fd = out[0];

#ifdef SYS_pidfd_open
	j->pid_fd = (int)syscall(SYS_pidfd_open, j->pid, 0);
#endif
	if (j->pid_fd != -1) {
		j->ev_exit = xevent_new(base, j->pid_fd, EV_READ | EV_PERSIST,
		    job_exit_cb, j);
		event_add(j->ev_exit, NULL);
	} else {
		/* Before Linux 5.3: poll. Still no SIGCHLD. */
		j->ev_exit = xevent_new(base, -1, EV_PERSIST, job_exit_cb, j);
		ms_timeval(&tv, EXIT_POLL_MS);
		event_add(j->ev_exit, &tv);
	}
	j->ev_out = xevent_new(base, j->out_fd, EV_READ | EV_PERSIST,
	    job_read_cb, j);
	event_add(j->ev_out, NULL);
	if (len == 0) {
		close_input(j);
	} else {
		j->ev_in = xevent_new(base, j->in_fd, EV_WRITE | EV_PERSIST,
		    job_write_cb, j);
		event_add(j->ev_in, NULL);
	}
	return 0;

fail:
	snprintf(j->failure, sizeof(j->failure), "cannot run %s: %s",
	    j->prog, strerror(err));
	if (j->body != NULL) {
		secret_free(j->body);
		j->body = NULL;
	}
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
	}
	return -1;
}

/* Start j now: its timeout counts from here. */
static void
launch(struct notifier *n, struct job *j, const struct command *cmd,
    const char *extra_arg)
{
	struct timeval tv = { 0, 0 };

	TAILQ_INSERT_TAIL(&n->jobs, j, entry);
	n->njobs++;
	if (cmd->argc == 0)
		snprintf(j->failure, sizeof(j->failure),
		    "no command is configured");
	else if (job_start(j, cmd, extra_arg) == 0)
		tv.tv_sec = j->timeout;
	/* A failure is reported by the same timer, at once: done() always
	 * comes from the loop, so callers have one code path. */
	evtimer_add(j->ev_timer, &tv);
}

/* The oldest waiting job, if there is room for it. */
static void
start_next(struct notifier *n)
{
	struct job *j;

	if (n->njobs >= NOTIFY_MAX_RUNNING ||
	    (j = TAILQ_FIRST(&n->waiting)) == NULL)
		return;
	TAILQ_REMOVE(&n->waiting, j, entry);
	n->nwaiting--;
	launch(n, j, &j->cmd, j->extra_arg);
}

void
notify_run(struct notifier *n, const struct command *cmd,
    const char *extra_arg, const char *body, size_t len, unsigned timeout,
    notify_done_fn *done, void *arg)
{
	struct job *j;

	if (n->closing) {
		/* Called from a done() that notify_free() is making: there is
		 * no loop left to report from. */
		done(false, "shut down", arg);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->n = n;
	j->pid = -1;
	j->pid_fd = j->in_fd = j->out_fd = -1;
	/* Every command has a limit: 0 would otherwise mean "now". */
	j->timeout = timeout > 0 ? timeout : 1;
	j->done = done;
	j->arg = arg;
	j->prog = xstrdup(cmd->argc > 0 ? cmd->argv[0] : "(no command)");
	j->ev_timer = xevent_new(n->base, -1, 0, job_timer_cb, j);
	j->body = secret_alloc(len > 0 ? len : 1);	/* fatal when out */
	memcpy(j->body, body, len);
	j->len = len;

	if (n->njobs < NOTIFY_MAX_RUNNING) {
		launch(n, j, cmd, extra_arg);
		return;
	}
	j->cmd.argv = xcalloc(cmd->argc + 1, sizeof(*j->cmd.argv));
	for (size_t i = 0; i < cmd->argc; i++)
		j->cmd.argv[i] = xstrdup(cmd->argv[i]);
	j->cmd.argc = cmd->argc;
	j->extra_arg = extra_arg != NULL ? xstrdup(extra_arg) : NULL;
	TAILQ_INSERT_TAIL(&n->waiting, j, entry);
	n->nwaiting++;
}

/* Wait (bounded) for the leaders of the jobs being shut down to exit. */
static void
await_shutdown(struct notifier *n, unsigned ms)
{
	const struct timespec nap = { 0, 10 * 1000 * 1000 };
	struct timespec now, until;
	struct job *j;
	bool waiting;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		waiting = false;
		TAILQ_FOREACH(j, &n->jobs, entry)
			if (j->shutdown && !poll_exit(j))
				waiting = true;
		if (!waiting)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec &&
		    now.tv_nsec >= until.tv_nsec))
			return;
		nanosleep(&nap, NULL);
	}
}

void
notify_free(struct notifier *n)
{
	struct job *j;

	if (n == NULL || n->closing)
		return;
	n->closing = true;
	transport_free(n->transport);	/* what is under way: shut down */

	/* Never started: reported as shut down, their messages wiped. */
	while ((j = TAILQ_FIRST(&n->waiting)) != NULL) {
		notify_done_fn *done = j->done;
		void *arg = j->arg;

		TAILQ_REMOVE(&n->waiting, j, entry);
		n->nwaiting--;
		job_free(j);		/* wipes the message */
		done(false, "shut down", arg);
	}

	/* Every running command at once, so that they die in parallel. */
	TAILQ_FOREACH(j, &n->jobs, entry) {
		if (j->pid == -1 || j->exited)
			continue;
		j->shutdown = true;
		signal_job(j, SIGTERM);
		signal_job(j, SIGCONT);
	}
	await_shutdown(n, SHUTDOWN_TERM_MS);
	/* Leaders that are gone still hold their group ID as zombies, so
	 * this reaches what they left behind. */
	TAILQ_FOREACH(j, &n->jobs, entry)
		if (j->shutdown && (!j->exited || j->status_known))
			signal_job(j, SIGKILL);
	await_shutdown(n, SHUTDOWN_KILL_MS);

	/* Commands that had finished, or never started, report what they
	 * got; the ones killed here report "shut down". */
	while ((j = TAILQ_FIRST(&n->jobs)) != NULL) {
		if (j->shutdown && !j->exited)
			log_warnx("notify: %s (pid %ld) survives SIGKILL; "
			    "giving up on it", j->prog, (long)j->pid);
		job_finish(j);
	}
	free(n);
}

/* --- templates ------------------------------------------------------------ */

static const char err_unknown[] =
    "the template names a placeholder ssprd does not know";
static const char err_unfilled[] =
    "the template names a placeholder that has no value here";
static const char err_unclosed[] =
    "the template opens a placeholder with \"{{\" and never closes it";
static const char err_malformed[] =
    "the template has a placeholder that is not {{name}} "
    "(lower-case letters and _)";
static const char err_too_long[] = "the message would be too long";

static const struct notify_var *
find_var(const struct notify_var *vars, const char *name, size_t len)
{
	for (; vars != NULL && vars->name != NULL; vars++)
		if (strlen(vars->name) == len &&
		    memcmp(vars->name, name, len) == 0)
			return vars;
	return NULL;
}

/* One pass over the template: sizes the result (out NULL) or writes it.
 * Values are copied as they are, never scanned for placeholders. */
static const char *
render(const char *tmpl, const struct notify_var *vars, char *out,
    size_t *lenp)
{
	const struct notify_var *v;
	const char *p = tmpl, *q, *name;
	size_t len = 0, n, namelen;

	while (*p != '\0') {
		if (p[0] != '{' || p[1] != '{') {
			/* Copy up to the next "{{" in one go. */
			for (q = p + 1; *q != '\0' && (q[0] != '{' ||
			    q[1] != '{'); q++)
				;
			n = (size_t)(q - p);
			if (out != NULL)
				memcpy(out + len, p, n);
			len += n;
			p = q;
			continue;
		}
		if (strstr(p + 2, "}}") == NULL)
			return err_unclosed;
		for (q = p + 2; *q == ' ' || *q == '\t'; q++)
			;
		for (name = q; (*q >= 'a' && *q <= 'z') || *q == '_'; q++)
			;
		namelen = (size_t)(q - name);
		for (; *q == ' ' || *q == '\t'; q++)
			;
		if (namelen == 0 || q[0] != '}' || q[1] != '}')
			return err_malformed;
		if ((v = find_var(vars, name, namelen)) == NULL)
			return err_unknown;
		if (v->value == NULL)
			return err_unfilled;
		n = strlen(v->value);
		if (n >= SIZE_MAX - 1 - len)
			return err_too_long;
		if (out != NULL)
			memcpy(out + len, v->value, n);
		len += n;
		p = q + 2;
	}
	*lenp = len;
	return NULL;
}

char *
notify_render(const char *tmpl, const struct notify_var *vars, size_t *len,
    const char **err)
{
	const char *e;
	size_t n;
	char *out;

	need_sodium();
	/* Check and size first, so that the result (it may hold a code) is
	 * written once, into memory that is wiped when freed. */
	if ((e = render(tmpl, vars, NULL, &n)) != NULL) {
		/* A defined length even on failure: some callers pass it on
		 * before looking at the result. */
		if (len != NULL)
			*len = 0;
		if (err != NULL)
			*err = e;
		return NULL;
	}
	out = secret_alloc(n + 1);
	render(tmpl, vars, out, &n);
	out[n] = '\0';
	if (len != NULL)
		*len = n;
	return out;
}

/* --- masking -------------------------------------------------------------- */

/* Copy the mask, or "***" when it does not fit: a cut mask could end in
 * half a character. */
static void
put_mask(char *out, size_t size, const char *mask, size_t len)
{
	if (size == 0)
		return;
	if (len >= size) {
		mask = "***";
		len = 3;
		if (len >= size)
			len = size - 1;
	}
	memcpy(out, mask, len);
	out[len] = '\0';
}

/* Bytes of the character at s if it is one to show: valid UTF-8, not a
 * control character, space or separator. 0 otherwise. */
static size_t
show_char(const char *s, size_t len)
{
	uint32_t cp;
	size_t n;

	if ((n = utf8_decode((const unsigned char *)s, len, &cp)) == 0)
		return 0;
	if (cp <= 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
	    cp == '.' || cp == '@')
		return 0;
	return n;
}

/* A top-level label: ASCII letters, digits and '-', or non-ASCII
 * characters (an internationalised TLD). */
static bool
suffix_ok(const char *s)
{
	size_t len = strlen(s), n;
	uint32_t cp;

	if (len == 0 || len > SUFFIX_MAX)
		return false;
	while (len > 0) {
		if ((n = utf8_decode((const unsigned char *)s, len, &cp)) == 0)
			return false;
		if (cp < 0x80 ? !((cp >= 'a' && cp <= 'z') ||
		    (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
		    cp == '-') : cp < 0xa0)
			return false;
		s += n;
		len -= n;
	}
	return true;
}

void
notify_mask_email(const char *addr, char *out, size_t size)
{
	const char *at, *dom, *dot;
	char mask[64];
	size_t n1, n2;
	int len;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL || at == addr)
		goto weird;
	dom = at + 1;
	if ((n1 = show_char(addr, (size_t)(at - addr))) == 0 ||
	    (n2 = show_char(dom, strlen(dom))) == 0)
		goto weird;
	if ((dot = strrchr(dom, '.')) != NULL && !suffix_ok(dot + 1))
		goto weird;
	/* At most 4 + 4 + 4 + 3 + 1 + SUFFIX_MAX bytes: it fits. */
	len = snprintf(mask, sizeof(mask), "%.*s***@%.*s***%s", (int)n1, addr,
	    (int)n2, dom, dot != NULL ? dot : "");
	if (len < 0 || (size_t)len >= sizeof(mask))
		goto weird;
	put_mask(out, size, mask, (size_t)len);
	return;
weird:
	put_mask(out, size, "***", 3);
}

/* The digits of a phone number, PHONE_MIN..PHONE_MAX of them, with
 * *plus set when a '+' leads them; 0 when it is not a number. Formatting
 * characters are allowed (and dropped by the callers); '+' only before
 * the first digit. */
static size_t
phone_digits(const char *number, bool *plus)
{
	size_t digits = 0;

	*plus = false;
	if (number == NULL)
		return 0;
	for (const char *p = number; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '+' && !*plus && digits == 0)
			*plus = true;
		else if (*p != ' ' && *p != '-' && *p != '.' && *p != '(' &&
		    *p != ')' && *p != '/')
			return 0;
	}
	if (digits < PHONE_MIN || digits > PHONE_MAX)
		return 0;
	return digits;
}

bool
notify_phone_ok(const char *number)
{
	bool plus;

	/* The first character decides whether a command could read the
	 * number as an option; the rest must be a number to show. */
	if (number == NULL || !(number[0] == '+' ||
	    (number[0] >= '0' && number[0] <= '9')))
		return false;
	return phone_digits(number, &plus) > 0;
}

void
notify_mask_phone(const char *number, char *out, size_t size)
{
	char mask[64];
	const char *p;
	size_t digits, seen = 0, len = 0;
	bool plus;

	if ((digits = phone_digits(number, &plus)) == 0)
		goto weird;
	if (plus)
		mask[len++] = '+';
	for (p = number; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			continue;
		mask[len++] = seen++ < digits - PHONE_KEEP ? '*' : *p;
	}
	mask[len] = '\0';
	put_mask(out, size, mask, len);
	return;
weird:
	put_mask(out, size, "***", 3);
}
