/*
 * test_spool_fds.c - the queue folders when file descriptors run out, and
 * the log's rate limiter that keeps such an episode to a few lines.
 *
 * The shortage is real: the test lowers its own RLIMIT_NOFILE and opens
 * /dev/null until open(2) says EMFILE, so the spool's next openat() fails
 * the way it does in a daemon whose descriptors a flood took. Then: a
 * request claimed meanwhile waits in new/ (never bad/) and is handed over
 * once descriptors are back; an answer that cannot be created is kept and
 * written later, its request file staying in cur/ until then.
 */
#include "build.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
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

#include "common/log.h"
#include "daemon/spool.h"

#define MAX_HOG 4096

struct fx {
	char root[PATH_MAX];
	char q[PATH_MAX + 8];
	struct config cfg;
	struct event_base *base;
	struct spool *s;
	struct spool_request *held[8];
	size_t nheld;
	struct rlimit saved;
	int hog[MAX_HOG];	/* /dev/null, open to use every descriptor up */
	size_t nhog;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
qpath(struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX + 128];
	static unsigned next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", f->q, rel);
	return p;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t
count_dir(struct fx *f, const char *rel)
{
	DIR *d = opendir(qpath(f, rel));
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* As a front end does: write in tmp/, rename into new/. */
static void
put(struct fx *f, const char *name, const char *data)
{
	char dst[64];
	int fd = open(qpath(f, "tmp/.incoming"), O_WRONLY | O_CREAT | O_TRUNC,
	    0660);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(close(fd), 0);
	snprintf(dst, sizeof(dst), "new/%s", name);
	assert_int_equal(rename(qpath(f, "tmp/.incoming"), qpath(f, dst)), 0);
}

/* Take every descriptor left (below a lowered limit, to keep it short). */
static void
exhaust(struct fx *f)
{
	struct rlimit rl = f->saved;
	int fd;

	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		assert_true(f->nhog < MAX_HOG);
		f->hog[f->nhog++] = fd;
	}
	assert_int_equal(errno, EMFILE);
}

static void
release(struct fx *f)
{
	while (f->nhog > 0)
		close(f->hog[--f->nhog]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
}

static void
on_request(struct spool_request *req, void *arg)
{
	struct fx *f = arg;

	assert_true(f->nheld < sizeof(f->held) / sizeof(f->held[0]));
	f->held[f->nheld++] = req;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Turn the loop for seconds, or until done(f) holds. */
static bool
run(struct fx *f, double seconds, bool (*done)(struct fx *))
{
	struct timeval tv = { 0, 5000 };
	struct event *tick = event_new(f->base, -1, EV_PERSIST, on_tick,
	    f->base);
	double end = now() + seconds;
	bool ok = false;

	assert_non_null(tick);
	event_add(tick, &tv);
	while (now() < end && !(ok = done != NULL && done(f)))
		event_base_dispatch(f->base);
	event_free(tick);
	return ok;
}

static bool
handed_over(struct fx *f)
{
	return f->nheld > 0;
}

static bool
answered(struct fx *f)
{
	return exists(qpath(f, "out/r1.json"));
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char err[256] = "";

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/test_spool_fds.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->q, sizeof(f->q), "%s/q", f->root);
	f->cfg.daemon.queue_dir = f->q;
	f->cfg.daemon.rescan_interval = 3600;	/* inotify or nothing */
	f->cfg.daemon.answer_ttl = 3600;
	if (getrlimit(RLIMIT_NOFILE, &f->saved) != 0)
		return -1;
	f->base = event_base_new();
	if (f->base == NULL)
		return -1;
	f->s = spool_open(f->base, &f->cfg, on_request, f, err, sizeof(err));
	if (f->s == NULL) {
		fprintf(stderr, "spool_open: %s\n", err);
		return -1;
	}
	spool_start(f->s);
	alarm(60);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	alarm(0);
	release(f);
	spool_close(f->s);
	event_base_free(f->base);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A request that cannot be opened for want of a descriptor is not bad. */
static void
test_claim_waits(void **state)
{
	struct fx *f = *state;

	spool_pause(f->s, true);
	put(f, "r1.json", "{\"v\":1,\"op\":\"policy\"}");
	exhaust(f);
	spool_pause(f->s, false);
	assert_false(run(f, 1.5, handed_over));
	assert_true(exists(qpath(f, "new/r1.json")));
	assert_false(exists(qpath(f, "cur/r1.json")));

	release(f);
	/* Looked at before the loop turns again (opendir needs a
	 * descriptor): nothing went to bad/. */
	assert_int_equal(count_dir(f, "bad"), 0);
	assert_true(run(f, 5, handed_over));
	assert_string_equal(f->held[0]->id, "r1");
	assert_null(f->held[0]->problem);
	assert_false(f->held[0]->resumed);
	assert_string_equal((const char *)f->held[0]->data,
	    "{\"v\":1,\"op\":\"policy\"}");
	assert_int_equal(count_dir(f, "bad"), 0);
	assert_int_equal(spool_answer(f->s, f->held[0], "{}", 2), 0);
}

/* An answer that cannot be created is kept, and written once it can be. */
static void
test_answer_kept(void **state)
{
	static const char json[] = "{\"v\":1,\"id\":\"r1\",\"status\":\"ok\"}";
	struct fx *f = *state;
	char got[128];
	ssize_t n;
	int fd;

	put(f, "r1.json", "{\"v\":1,\"op\":\"policy\"}");
	assert_true(run(f, 5, handed_over));
	exhaust(f);
	/* Not durable yet: -1, so that the owner keeps what a crash needs. */
	assert_int_equal(spool_answer(f->s, f->held[0], json, strlen(json)), -1);
	assert_false(run(f, 1.5, answered));
	assert_true(exists(qpath(f, "cur/r1.json")));
	assert_int_equal(spool_active(f->s), 1);

	release(f);
	assert_true(run(f, 5, answered));
	fd = open(qpath(f, "out/r1.json"), O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(json));
	got[n] = '\0';
	assert_string_equal(got, json);
	assert_false(exists(qpath(f, "cur/r1.json")));
	assert_int_equal(spool_active(f->s), 0);
	assert_int_equal(count_dir(f, "bad"), 0);
}

/* A kept answer still unwritten at close: the request stays in cur/ for
 * the next start, as any unanswered one. */
static void
test_close_with_kept_answer(void **state)
{
	struct fx *f = *state;

	put(f, "r1.json", "{}");
	assert_true(run(f, 5, handed_over));
	exhaust(f);
	assert_int_equal(spool_answer(f->s, f->held[0], "{}", 2), -1);
	spool_close(f->s);
	f->s = NULL;
	release(f);
	assert_true(exists(qpath(f, "cur/r1.json")));
	assert_false(exists(qpath(f, "out/r1.json")));
}

/* The limiter: burst lines per interval, then a count of those held back
 * on the next line that passes. */
static void
test_log_limit(void **state)
{
	struct log_limit l = LOG_LIMIT(1, 2);
	char buf[4096];
	int pipefd[2], saved;
	ssize_t n;

	(void)state;
	log_init(LOG_LEVEL_INFO);
	assert_int_equal(pipe(pipefd), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(pipefd[1], STDERR_FILENO) >= 0);
	for (int i = 0; i < 1000; i++)
		log_limited(&l, LOG_LEVEL_WARNING, EMFILE, "test: line %d", i);
	/* Not logged at all below the threshold, and not counted. */
	log_limited(&l, LOG_LEVEL_DEBUG, 0, "test: debug");
	sleep(1);
	errno = ENOENT;
	log_limited(&l, LOG_LEVEL_WARNING, 0, "test: later");
	assert_int_equal(errno, ENOENT);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "test: line 0: Too many open files\n"));
	assert_non_null(strstr(buf, "test: line 1: Too many open files\n"));
	assert_null(strstr(buf, "test: line 2"));
	assert_null(strstr(buf, "debug"));
	assert_non_null(strstr(buf, "test: later (998 more like it held back)\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_kept_answer, setup,
		    teardown),
		cmocka_unit_test(test_log_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
