/*
 * test_spool.c - the queue folders against a real event loop and real
 * folders: claims, answers, resumption, refusals, limits, expiry, and how
 * fast a full new/ drains.
 *
 * Each test gets its own queue under SPOOL_TEST_DIR, else /dev/shm (the
 * daemon's queue lives on tmpfs too) when it has room, else $TMPDIR or /tmp.
 * An alarm() bounds every test, so a spool that blocks (a fifo opened
 * without O_NONBLOCK) fails the run instead of hanging it.
 */
#include "build.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

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

#include "daemon/spool.h"

#define MAX_HELD 1024

struct fx {
	char root[PATH_MAX];
	char q[PATH_MAX + 8];
	struct config cfg;
	struct event_base *base;
	struct spool *s;
	bool answer_now;		/* the callback answers at once */
	bool pause_now;			/* the callback pauses the spool */
	bool close_now;			/* the callback closes it */
	struct spool_request *held[MAX_HELD];	/* handed over, unanswered */
	size_t nheld;
	size_t ngot;			/* handed over, all told */
	size_t answered;
	size_t want;			/* run_until() target */
	double deadline;
	mode_t umask;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
base_dir(void)
{
	const char *d = getenv("SPOOL_TEST_DIR");
	struct statvfs vfs;

	if (d != NULL && *d != '\0')
		return d;
	if (statvfs("/dev/shm", &vfs) == 0 && access("/dev/shm", W_OK) == 0 &&
	    (unsigned long long)vfs.f_bavail * vfs.f_frsize >= 256ULL << 20)
		return "/dev/shm";
	d = getenv("TMPDIR");
	return d != NULL && *d != '\0' ? d : "/tmp";
}

/* q/REL, in one of a few rotating buffers so several fit in one call. */
static const char *
qpath(struct fx *f, const char *fmt, ...)
{
	static char buf[8][PATH_MAX + 320];
	static unsigned next;
	char rel[300];
	va_list ap;
	char *p = buf[next++ % 8];

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(p, sizeof(buf[0]), "%s/%s", f->q, rel);
	return p;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0660);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	unsigned char *buf = malloc(256 * 1024);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	n = read(fd, buf, 256 * 1024);
	assert_true(n >= 0);
	close(fd);
	*len = (size_t)n;
	return buf;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Entries in q/rel; dot names counted apart when dots is not NULL. */
static size_t
count_dir(struct fx *f, const char *rel, size_t *dots)
{
	DIR *d = opendir(qpath(f, "%s", rel));
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	if (dots != NULL)
		*dots = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.' && dots != NULL)
			(*dots)++;
		else
			n++;
	}
	closedir(d);
	return n;
}

/* As a front end does: write in tmp/, rename into new/. */
static void
put(struct fx *f, const char *name, const void *data, size_t len)
{
	const char *tmp = qpath(f, "tmp/.incoming");

	write_file(tmp, data, len);
	assert_int_equal(rename(tmp, qpath(f, "new/%s", name)), 0);
}

static void
put_str(struct fx *f, const char *name, const char *data)
{
	put(f, name, data, strlen(data));
}

/* The folders, made by hand, for files that must be there before open. */
static void
make_dirs(struct fx *f)
{
	static const char *sub[] = { "tmp", "new", "cur", "out", "bad" };
	size_t i;

	assert_int_equal(mkdir(f->q, 0750), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(mkdir(qpath(f, "%s", sub[i]), 0700), 0);
}

static void
on_request(struct spool_request *req, void *arg)
{
	struct fx *f = arg;
	char json[128];
	int n;

	f->ngot++;
	if (f->pause_now)
		spool_pause(f->s, true);
	if (f->close_now) {
		spool_close(f->s);
		f->s = NULL;
		return;
	}
	if (f->answer_now) {
		n = snprintf(json, sizeof(json),
		    "{\"v\":1,\"id\":\"%s\",\"status\":\"ok\"}\n", req->id);
		assert_int_equal(spool_answer(f->s, req, json, (size_t)n), 0);
		f->answered++;
		return;
	}
	assert_true(f->nheld < MAX_HELD);
	f->held[f->nheld++] = req;
}

static void
open_spool(struct fx *f)
{
	char err[256] = "";

	f->s = spool_open(f->base, &f->cfg, on_request, f, err, sizeof(err));
	if (f->s == NULL)
		fail_msg("spool_open: %s", err);
}

static void
start_spool(struct fx *f)
{
	open_spool(f);
	spool_start(f->s);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	if (f->ngot >= f->want || now() >= f->deadline)
		event_base_loopbreak(f->base);
}

/* Run the loop until want requests have been handed over in all, or
 * seconds passed. */
static bool
run_until(struct fx *f, size_t want, double seconds)
{
	struct timeval tv = { 0, 2000 };
	struct event *tick = event_new(f->base, -1, EV_PERSIST, on_tick, f);

	assert_non_null(tick);
	f->want = want;
	f->deadline = now() + seconds;
	event_add(tick, &tv);
	event_base_dispatch(f->base);
	event_free(tick);
	return f->ngot >= want;
}

static void
run_for(struct fx *f, double seconds)
{
	(void)run_until(f, SIZE_MAX, seconds);
}

/* The oldest held request, taken off the list. */
static struct spool_request *
take_held(struct fx *f)
{
	struct spool_request *req;

	assert_true(f->nheld > 0);
	req = f->held[0];
	memmove(f->held, f->held + 1, --f->nheld * sizeof(f->held[0]));
	return req;
}

static void
answer_str(struct fx *f, struct spool_request *req, const char *json)
{
	assert_int_equal(spool_answer(f->s, req, json, strlen(json)), 0);
}

static void
set_mtime(const char *path, time_t ago)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
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

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/test_spool.XXXXXX", base_dir());
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->q, sizeof(f->q), "%s/q", f->root);
	f->cfg.daemon.queue_dir = f->q;
	f->cfg.daemon.rescan_interval = 3600;	/* inotify or nothing */
	f->cfg.daemon.answer_ttl = 3600;
	f->base = event_base_new();
	if (f->base == NULL)
		return -1;
	/* As under systemd's UMask=0077: modes must not depend on it. */
	f->umask = umask(077);
	alarm(60);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	alarm(0);
	umask(f->umask);
	spool_close(f->s);
	event_base_free(f->base);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
test_request_and_answer(void **state)
{
	struct fx *f = *state;
	static const unsigned char body[] =
	    "{\"v\":1,\"op\":\"policy\"}\0\xff tail";
	static const char answer[] = "{\"v\":1,\"id\":\"r-1_A\",\"status\":\"ok\"}";
	struct spool_request *req;
	unsigned char *got;
	struct stat st;
	size_t len, dots;

	start_spool(f);
	put(f, "r-1_A.json", body, sizeof(body));
	/* rescan_interval is an hour: only inotify can bring it this fast. */
	assert_true(run_until(f, 1, 3));
	req = f->held[0];
	assert_string_equal(req->id, "r-1_A");
	assert_int_equal(req->len, sizeof(body));
	assert_memory_equal(req->data, body, sizeof(body));
	assert_int_equal(req->data[req->len], '\0');
	assert_null(req->problem);
	assert_false(req->resumed);
	assert_true(req->claimed_at > 0);
	assert_false(exists(qpath(f, "new/r-1_A.json")));
	assert_true(exists(qpath(f, "cur/r-1_A.json")));
	assert_int_equal(spool_active(f->s), 1);

	answer_str(f, take_held(f), answer);
	assert_int_equal(spool_active(f->s), 0);
	got = read_file(qpath(f, "out/r-1_A.json"), &len);
	assert_int_equal(len, strlen(answer));
	assert_memory_equal(got, answer, len);
	free(got);
	assert_int_equal(stat(qpath(f, "out/r-1_A.json"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_dir(f, "out", &dots), 1);
	assert_int_equal(dots, 0);
	assert_int_equal(count_dir(f, "cur", NULL), 0);
	run_for(f, 0.2);
	assert_int_equal(f->ngot, 1);
}

/* A file put there before the spool (and its watch) existed. */
static void
test_waiting_before_start(void **state)
{
	struct fx *f = *state;

	make_dirs(f);
	put_str(f, "early.json", "{}");
	start_spool(f);
	assert_true(run_until(f, 1, 3));
	assert_string_equal(f->held[0]->id, "early");
}

/* link(2) raises no event the spool watches: only the rescan finds it. */
static void
test_rescan_finds_unwatched(void **state)
{
	struct fx *f = *state;

	f->cfg.daemon.rescan_interval = 1;
	start_spool(f);
	run_for(f, 0.1);
	write_file(qpath(f, "tmp/x"), "{}", 2);
	assert_int_equal(link(qpath(f, "tmp/x"), qpath(f, "new/linked.json")), 0);
	assert_int_equal(unlink(qpath(f, "tmp/x")), 0);
	run_for(f, 0.3);
	assert_int_equal(f->ngot, 0);
	assert_true(run_until(f, 1, 3));
	assert_string_equal(f->held[0]->id, "linked");
	assert_null(f->held[0]->problem);
}

static void
test_answer_write_fails(void **state)
{
	struct fx *f = *state;
	size_t dots;

	start_spool(f);
	put_str(f, "fail.json", "{}");
	assert_true(run_until(f, 1, 3));
	/* A non-empty directory where the answer goes: rename(2) must fail. */
	assert_int_equal(mkdir(qpath(f, "out/fail.json"), 0700), 0);
	write_file(qpath(f, "out/fail.json/x"), "x", 1);
	assert_int_equal(spool_answer(f->s, take_held(f), "{}", 2), -1);
	assert_int_equal(spool_active(f->s), 0);
	assert_true(exists(qpath(f, "cur/fail.json")));
	assert_int_equal(count_dir(f, "out", &dots), 1);
	assert_int_equal(dots, 0);
}

static void
test_resumed(void **state)
{
	struct fx *f = *state;
	static const char body[] = "{\"v\":1,\"op\":\"reset\"}";

	make_dirs(f);
	write_file(qpath(f, "cur/again.json"), body, strlen(body));
	put_str(f, "later.json", "{}");
	start_spool(f);
	assert_true(run_until(f, 2, 3));
	/* cur/ goes first. */
	assert_string_equal(f->held[0]->id, "again");
	assert_true(f->held[0]->resumed);
	assert_int_equal(f->held[0]->len, strlen(body));
	assert_memory_equal(f->held[0]->data, body, strlen(body));
	assert_string_equal(f->held[1]->id, "later");
	assert_false(f->held[1]->resumed);
	answer_str(f, take_held(f), "{}");
	assert_false(exists(qpath(f, "cur/again.json")));
}

static void
test_resumed_already_answered(void **state)
{
	struct fx *f = *state;
	size_t len;
	unsigned char *got;

	make_dirs(f);
	write_file(qpath(f, "cur/done.json"), "{}", 2);
	write_file(qpath(f, "out/done.json"), "answer", 6);
	start_spool(f);
	run_for(f, 0.3);
	assert_int_equal(f->ngot, 0);
	assert_false(exists(qpath(f, "cur/done.json")));
	got = read_file(qpath(f, "out/done.json"), &len);
	assert_int_equal(len, 6);
	assert_memory_equal(got, "answer", 6);
	free(got);
}

/* What cur/ may hold after a crash that is not a request file. */
static void
test_resumed_problems(void **state)
{
	struct fx *f = *state;

	make_dirs(f);
	assert_int_equal(mkfifo(qpath(f, "cur/fifo.json"), 0600), 0);
	assert_int_equal(symlink("/etc/passwd", qpath(f, "cur/link.json")), 0);
	start_spool(f);
	assert_true(run_until(f, 2, 3));
	for (size_t i = 0; i < 2; i++) {
		assert_true(f->held[i]->resumed);
		assert_string_equal(f->held[i]->problem,
		    "The request file is not a regular file.");
		assert_null(f->held[i]->data);
	}
	assert_int_equal(count_dir(f, "cur", NULL), 0);
	assert_int_equal(count_dir(f, "bad", NULL), 2);
}

static void
test_bad_names(void **state)
{
	struct fx *f = *state;
	char long_name[80], log_path[PATH_MAX + 16], *log;
	const char *names[] = {
		"..x.json", "a b.json", "x.txt", long_name, ".json",
		"\xc3\xa9.json", "a\nb.json", "x.y.json", "ok.JSON",
	};
	size_t n = sizeof(names) / sizeof(names[0]), i, len;
	struct dirent *de;
	int fd, saved;
	DIR *d;

	memset(long_name, 'a', 65);
	strcpy(long_name + 65, ".json");
	/* Catch the log, to see the newline escaped. */
	snprintf(log_path, sizeof(log_path), "%s/log", f->root);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);

	start_spool(f);
	for (i = 0; i < n; i++)
		put_str(f, names[i], "{}");
	/* 64 characters is still an ID. */
	long_name[64] = '\0';
	strcat(long_name, ".json");
	put_str(f, long_name, "{}");
	assert_true(run_until(f, 1, 3));
	run_for(f, 0.3);

	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(f->ngot, 1);
	long_name[64] = '\0';
	assert_string_equal(f->held[0]->id, long_name);
	assert_int_equal(count_dir(f, "new", NULL), 0);
	assert_int_equal(count_dir(f, "bad", NULL), n);
	d = opendir(qpath(f, "bad"));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			assert_int_equal(strncmp(de->d_name, "bad-", 4), 0);
	closedir(d);
	log = (char *)read_file(log_path, &len);
	log[len] = '\0';
	assert_non_null(strstr(log, "new/a\\x0ab.json"));
	assert_null(strstr(log, "a\nb"));
	free(log);
}

static void
test_symlink(void **state)
{
	struct fx *f = *state;
	struct spool_request *req;
	DIR *d;
	struct dirent *de;
	struct stat st;
	char target[64];
	ssize_t n = 0;

	start_spool(f);
	assert_int_equal(symlink("/etc/passwd", qpath(f, "tmp/l")), 0);
	assert_int_equal(rename(qpath(f, "tmp/l"), qpath(f, "new/ln.json")), 0);
	assert_true(run_until(f, 1, 3));
	req = f->held[0];
	assert_string_equal(req->id, "ln");
	assert_string_equal(req->problem,
	    "The request file is not a regular file.");
	assert_null(req->data);
	assert_int_equal(req->len, 0);
	assert_false(exists(qpath(f, "cur/ln.json")));
	/* In bad/, still a symlink: moved, never followed. */
	d = opendir(qpath(f, "bad"));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			const char *p = qpath(f, "bad/%s", de->d_name);

			assert_int_equal(lstat(p, &st), 0);
			assert_true(S_ISLNK(st.st_mode));
			n = readlink(p, target, sizeof(target) - 1);
		}
	closedir(d);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/passwd");
	/* A problem request is answered like any other. */
	answer_str(f, take_held(f), "{\"status\":\"error\"}");
	assert_true(exists(qpath(f, "out/ln.json")));
	assert_int_equal(spool_active(f->s), 0);
}

static void
test_directory(void **state)
{
	struct fx *f = *state;

	start_spool(f);
	assert_int_equal(mkdir(qpath(f, "tmp/d"), 0700), 0);
	write_file(qpath(f, "tmp/d/inner.json"), "{}", 2);
	assert_int_equal(rename(qpath(f, "tmp/d"), qpath(f, "new/dir.json")), 0);
	assert_true(run_until(f, 1, 3));
	assert_string_equal(f->held[0]->id, "dir");
	assert_string_equal(f->held[0]->problem,
	    "The request file is not a regular file.");
	assert_int_equal(count_dir(f, "bad", NULL), 1);
	assert_int_equal(count_dir(f, "new", NULL), 0);
}

static void
test_fifo(void **state)
{
	struct fx *f = *state;

	start_spool(f);
	assert_int_equal(mkfifo(qpath(f, "tmp/p"), 0600), 0);
	assert_int_equal(rename(qpath(f, "tmp/p"), qpath(f, "new/fifo.json")), 0);
	assert_true(run_until(f, 1, 3));
	assert_string_equal(f->held[0]->problem,
	    "The request file is not a regular file.");
	assert_int_equal(count_dir(f, "bad", NULL), 1);
	/* Still serving. */
	put_str(f, "after.json", "{}");
	assert_true(run_until(f, 2, 3));
	assert_null(f->held[1]->problem);
}

static void
test_hard_link(void **state)
{
	struct fx *f = *state;

	start_spool(f);
	write_file(qpath(f, "tmp/secret"), "{}", 2);
	assert_int_equal(link(qpath(f, "tmp/secret"), qpath(f, "tmp/h")), 0);
	assert_int_equal(rename(qpath(f, "tmp/h"), qpath(f, "new/h.json")), 0);
	assert_true(run_until(f, 1, 3));
	assert_non_null(f->held[0]->problem);
	assert_null(f->held[0]->data);
}

static void
test_size_limit(void **state)
{
	struct fx *f = *state;
	unsigned char *big = malloc(SPOOL_MAX_SIZE + 1);
	struct spool_request *exact, *over;

	assert_non_null(big);
	for (size_t i = 0; i <= SPOOL_MAX_SIZE; i++)
		big[i] = (unsigned char)('a' + i % 26);
	start_spool(f);
	put(f, "exact.json", big, SPOOL_MAX_SIZE);
	assert_true(run_until(f, 1, 3));
	put(f, "over.json", big, SPOOL_MAX_SIZE + 1);
	assert_true(run_until(f, 2, 3));
	exact = f->held[0];
	over = f->held[1];
	assert_string_equal(exact->id, "exact");
	assert_null(exact->problem);
	assert_int_equal(exact->len, SPOOL_MAX_SIZE);
	assert_memory_equal(exact->data, big, SPOOL_MAX_SIZE);
	assert_string_equal(over->id, "over");
	assert_string_equal(over->problem, "The request is larger than 64 KiB.");
	assert_null(over->data);
	assert_int_equal(count_dir(f, "bad", NULL), 1);
	assert_false(exists(qpath(f, "cur/over.json")));
	free(big);
}

static void
test_duplicate_of_answered(void **state)
{
	struct fx *f = *state;
	unsigned char *got;
	size_t len;

	start_spool(f);
	write_file(qpath(f, "out/dup.json"), "earlier", 7);
	put_str(f, "dup.json", "{\"again\":1}");
	run_for(f, 0.4);
	assert_int_equal(f->ngot, 0);
	assert_int_equal(count_dir(f, "bad", NULL), 1);
	assert_int_equal(count_dir(f, "new", NULL), 0);
	assert_int_equal(count_dir(f, "cur", NULL), 0);
	got = read_file(qpath(f, "out/dup.json"), &len);
	assert_int_equal(len, 7);
	assert_memory_equal(got, "earlier", 7);
	free(got);
}

/* A second file with the ID of one being handled must not replace it. */
static void
test_duplicate_in_progress(void **state)
{
	struct fx *f = *state;
	unsigned char *got;
	size_t len;

	start_spool(f);
	put_str(f, "same.json", "first");
	assert_true(run_until(f, 1, 3));
	put_str(f, "same.json", "second");
	run_for(f, 0.4);
	assert_int_equal(f->ngot, 1);
	assert_int_equal(count_dir(f, "bad", NULL), 1);
	got = read_file(qpath(f, "cur/same.json"), &len);
	assert_int_equal(len, 5);
	assert_memory_equal(got, "first", 5);
	free(got);
}

static void
test_max_active(void **state)
{
	struct fx *f = *state;
	const size_t total = SPOOL_MAX_ACTIVE + 44;
	char name[32];
	size_t i;

	make_dirs(f);
	for (i = 0; i < total; i++) {
		snprintf(name, sizeof(name), "m%zu.json", i);
		put_str(f, name, "{}");
	}
	start_spool(f);
	assert_true(run_until(f, SPOOL_MAX_ACTIVE, 5));
	run_for(f, 0.3);
	assert_int_equal(f->ngot, SPOOL_MAX_ACTIVE);
	assert_int_equal(spool_active(f->s), SPOOL_MAX_ACTIVE);
	assert_int_equal(spool_waiting(f->s), 44);
	assert_int_equal(count_dir(f, "new", NULL), 44);

	/* Ten answers, ten more: at once, not at the (hourly) rescan. */
	for (i = 0; i < 10; i++)
		answer_str(f, take_held(f), "{}");
	assert_true(run_until(f, SPOOL_MAX_ACTIVE + 10, 2));
	run_for(f, 0.2);
	assert_int_equal(f->ngot, SPOOL_MAX_ACTIVE + 10);
	assert_int_equal(spool_waiting(f->s), 34);

	while (f->ngot < total) {
		while (f->nheld > 0)
			answer_str(f, take_held(f), "{}");
		assert_true(run_until(f, f->ngot + 1, 2));
	}
	while (f->nheld > 0)
		answer_str(f, take_held(f), "{}");
	assert_int_equal(spool_waiting(f->s), 0);
	assert_int_equal(spool_active(f->s), 0);
	assert_int_equal(count_dir(f, "out", NULL), total);
	assert_int_equal(count_dir(f, "cur", NULL), 0);
	assert_int_equal(count_dir(f, "new", NULL), 0);
}

static void
test_pause(void **state)
{
	struct fx *f = *state;

	start_spool(f);
	spool_pause(f->s, true);
	put_str(f, "p.json", "{}");
	run_for(f, 0.4);
	assert_int_equal(f->ngot, 0);
	assert_int_equal(spool_waiting(f->s), 1);
	assert_true(exists(qpath(f, "new/p.json")));
	spool_pause(f->s, false);
	assert_true(run_until(f, 1, 2));
	assert_string_equal(f->held[0]->id, "p");
	assert_int_equal(spool_waiting(f->s), 0);
}

/* As at shutdown: a pause from the callback stops the batch it came from. */
static void
test_pause_from_callback(void **state)
{
	struct fx *f = *state;

	make_dirs(f);
	put_str(f, "a.json", "{}");
	put_str(f, "b.json", "{}");
	put_str(f, "c.json", "{}");
	f->pause_now = true;
	start_spool(f);
	run_for(f, 0.4);
	assert_int_equal(f->ngot, 1);
	assert_int_equal(spool_waiting(f->s), 2);
	assert_int_equal(count_dir(f, "new", NULL), 2);
	f->pause_now = false;
	spool_pause(f->s, false);
	assert_true(run_until(f, 3, 2));
}

static void
test_close_keeps_unanswered(void **state)
{
	struct fx *f = *state;

	start_spool(f);
	put_str(f, "kept.json", "{\"k\":1}");
	assert_true(run_until(f, 1, 3));
	f->nheld = 0;		/* not ours to use after close */
	spool_close(f->s);
	f->s = NULL;
	assert_true(exists(qpath(f, "cur/kept.json")));
	start_spool(f);
	assert_true(run_until(f, 2, 3));
	assert_string_equal(f->held[0]->id, "kept");
	assert_true(f->held[0]->resumed);
	assert_memory_equal(f->held[0]->data, "{\"k\":1}", 7);
}

/* Closing from inside the callback must not pull the spool from under the
 * claim loop that called it. */
static void
test_close_from_callback(void **state)
{
	struct fx *f = *state;

	make_dirs(f);
	put_str(f, "a.json", "{}");
	put_str(f, "b.json", "{}");
	put_str(f, "c.json", "{}");
	f->close_now = true;
	start_spool(f);
	run_for(f, 0.3);
	assert_null(f->s);
	assert_int_equal(f->ngot, 1);
	assert_int_equal(count_dir(f, "cur", NULL), 1);
	assert_int_equal(count_dir(f, "new", NULL), 2);
}

static void
test_answer_ttl(void **state)
{
	struct fx *f = *state;

	f->cfg.daemon.answer_ttl = 4;	/* swept every second */
	make_dirs(f);
	write_file(qpath(f, "out/old.json"), "{}", 2);
	set_mtime(qpath(f, "out/old.json"), 7200);
	write_file(qpath(f, "out/young.json"), "{}", 2);
	write_file(qpath(f, "out/.old.json.tmp.aa"), "{", 1);
	set_mtime(qpath(f, "out/.old.json.tmp.aa"), 120);
	write_file(qpath(f, "out/.busy.json.tmp.bb"), "{", 1);
	set_mtime(qpath(f, "out/.busy.json.tmp.bb"), 10);
	write_file(qpath(f, "out/notes.txt"), "x", 1);
	set_mtime(qpath(f, "out/notes.txt"), 7200);
	write_file(qpath(f, "bad/bad-1"), "x", 1);
	set_mtime(qpath(f, "bad/bad-1"), 7200);
	assert_int_equal(mkdir(qpath(f, "bad/bad-2"), 0700), 0);
	write_file(qpath(f, "bad/bad-2/inner"), "x", 1);
	set_mtime(qpath(f, "bad/bad-2"), 7200);
	write_file(qpath(f, "bad/bad-3"), "x", 1);

	/* At start. */
	start_spool(f);
	run_for(f, 0.2);
	assert_false(exists(qpath(f, "out/old.json")));
	assert_false(exists(qpath(f, "out/.old.json.tmp.aa")));
	assert_false(exists(qpath(f, "bad/bad-1")));
	assert_false(exists(qpath(f, "bad/bad-2")));
	assert_true(exists(qpath(f, "out/young.json")));
	assert_true(exists(qpath(f, "out/.busy.json.tmp.bb")));
	assert_true(exists(qpath(f, "out/notes.txt")));
	assert_true(exists(qpath(f, "bad/bad-3")));

	/* By the timer; an answer whose request is still in cur/ stays. */
	put_str(f, "k.json", "{}");
	assert_true(run_until(f, 1, 3));
	write_file(qpath(f, "out/k.json"), "{}", 2);
	set_mtime(qpath(f, "out/k.json"), 7200);
	set_mtime(qpath(f, "out/young.json"), 10);
	set_mtime(qpath(f, "bad/bad-3"), 10);
	run_for(f, 1.6);
	assert_false(exists(qpath(f, "out/young.json")));
	assert_false(exists(qpath(f, "bad/bad-3")));
	assert_true(exists(qpath(f, "out/k.json")));
	assert_true(exists(qpath(f, "out/notes.txt")));
}

static void
test_open_modes(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *rel;
		mode_t mode;
	} want[] = {
		{ ".", 0750 }, { "tmp", 0770 }, { "new", 0770 },
		{ "out", 0770 }, { "cur", 0700 }, { "bad", 0700 },
	};
	struct stat st;

	open_spool(f);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(stat(qpath(f, "%s", want[i].rel), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, want[i].mode);
	}
}

static void
test_open_refuses(void **state)
{
	struct fx *f = *state;
	char real[PATH_MAX + 8], err[256];

	/* queue_dir a symlink to a good directory. */
	snprintf(real, sizeof(real), "%s/real", f->root);
	assert_int_equal(mkdir(real, 0750), 0);
	assert_int_equal(symlink(real, f->q), 0);
	err[0] = '\0';
	assert_null(spool_open(f->base, &f->cfg, on_request, f, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "symlink"));
	assert_int_equal(unlink(f->q), 0);

	/* queue_dir a file. */
	write_file(f->q, "x", 1);
	err[0] = '\0';
	assert_null(spool_open(f->base, &f->cfg, on_request, f, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "not a directory"));
	assert_int_equal(unlink(f->q), 0);

	/* cur/ a symlink to elsewhere. */
	assert_int_equal(mkdir(f->q, 0750), 0);
	assert_int_equal(symlink(real, qpath(f, "cur")), 0);
	err[0] = '\0';
	assert_null(spool_open(f->base, &f->cfg, on_request, f, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "cur"));
}

static void
test_drain_10000(void **state)
{
	struct fx *f = *state;
	const size_t total = 10000;
	char name[32];
	double t0, t;
	size_t i;

	alarm(300);
	make_dirs(f);
	for (i = 0; i < total; i++) {
		snprintf(name, sizeof(name), "d%05zu.json", i);
		put_str(f, name, "{\"v\":1,\"op\":\"policy\"}");
	}
	f->answer_now = true;
	t0 = now();
	start_spool(f);
	assert_true(run_until(f, total, 240));
	t = now() - t0;
	printf("# drain: %zu requests claimed, read and answered in %.2f s "
	    "(%.0f/s) under %s\n", total, t, (double)total / t, base_dir());
	assert_int_equal(f->answered, total);
	assert_int_equal(count_dir(f, "out", NULL), total);
	assert_int_equal(count_dir(f, "cur", NULL), 0);
	assert_int_equal(count_dir(f, "new", NULL), 0);
	assert_int_equal(spool_waiting(f->s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_and_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescan_finds_unwatched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumed_already_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumed_problems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_of_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_in_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_keeps_unanswered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_10000, setup, teardown),
	};

	/* SPOOL_TEST_FILTER=test_drain_10000 SPOOL_TEST_DIR=/var/tmp: the
	 * drain figure on another file system. */
	if (getenv("SPOOL_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("SPOOL_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
