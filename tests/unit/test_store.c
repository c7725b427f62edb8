/*
 * test_store.c - the LMDB state store: records in every database, key
 * order, persistence of records and of the HMAC key, the state directory's
 * permissions and single opener, sliding-window event counters, refused
 * keys, unreadable records, and that a put survives a kill -9 right after
 * it returns.
 */
#include "build.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>

#include "daemon/store.h"

static char dir[64];
static char err[512];
static char logfile[96];
static int saved_stderr = -1;

static const enum store_db all_dbs[] = {
	STORE_TICKETS, STORE_INTENTS, STORE_EVENTS, STORE_META,
	STORE_ACCOUNTS,
};
#define NDBS (sizeof(all_dbs) / sizeof(all_dbs[0]))

static void
rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (unlink(sub) == -1)
			rmtree(sub);
	}
	closedir(d);
	rmdir(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ssprd-test-store.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(logfile, sizeof(logfile), "%s.log", dir);
	err[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	chmod(dir, 0700);
	rmtree(dir);
	unlink(logfile);
	return 0;
}

static struct store *
open_ok(const char *path)
{
	struct store *st = store_open(path, err, sizeof(err));

	if (st == NULL)
		fail_msg("store_open(%s): %s", path, err);
	return st;
}

/* Send stderr (where the log goes) to a file until log_end(). */
static void
log_begin(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_stderr != -1 && fd != -1);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restore stderr and return what was logged (caller frees). */
static char *
log_end(void)
{
	FILE *f;
	char *buf = calloc(1, 65536);
	size_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	assert_non_null(buf);
	f = fopen(logfile, "r");
	assert_non_null(f);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, hay);
}

/* Write raw bytes under key in the named database, bypassing the store
 * (which must not be open in this process meanwhile). */
static void
raw_put(const char *dbname, const char *key, const char *bytes)
{
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;

	snprintf(path, sizeof(path), "%s/ssprd.mdb", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)(uintptr_t)bytes;
	v.mv_size = strlen(bytes);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static json_t *
make_value(const char *what, int n)
{
	json_t *v = json_pack("{s:s, s:i}", "what", what, "n", n);

	assert_non_null(v);
	return v;
}

/* The stored timestamps of an events record, as "a,b,c". */
static void
events_list(struct store *st, const char *key, char *buf, size_t len)
{
	json_t *rec = store_get(st, STORE_EVENTS, key), *e;
	size_t i, off = 0;

	assert_non_null(rec);
	assert_true(json_is_array(json_object_get(rec, "t")));
	buf[0] = '\0';
	json_array_foreach(json_object_get(rec, "t"), i, e) {
		assert_true(json_is_integer(e));
		off += (size_t)snprintf(buf + off, len - off, "%s%lld",
		    i ? "," : "", (long long)json_integer_value(e));
	}
	json_decref(rec);
}

static void
test_round_trip_each_db(void **state)
{
	struct store *st = open_ok(dir);
	json_t *v, *got;
	size_t i, j;

	(void)state;
	/* The same key in every database, a different value in each. */
	for (i = 0; i < NDBS; i++) {
		v = make_value("round", (int)i);
		assert_int_equal(store_put(st, all_dbs[i], "same-key", v), 0);
		/* not consumed */
		assert_int_equal(v->refcount, 1);
		json_decref(v);
	}
	for (i = 0; i < NDBS; i++) {
		got = store_get(st, all_dbs[i], "same-key");
		assert_non_null(got);
		assert_int_equal(json_integer_value(json_object_get(got, "n")),
		    i);
		/* A new reference: ours alone. */
		assert_int_equal(got->refcount, 1);
		json_decref(got);
	}
	/* Deleting from one database leaves the others alone. */
	for (i = 0; i < NDBS; i++) {
		assert_int_equal(store_del(st, all_dbs[i], "same-key"), 0);
		assert_null(store_get(st, all_dbs[i], "same-key"));
		for (j = i + 1; j < NDBS; j++) {
			got = store_get(st, all_dbs[j], "same-key");
			assert_non_null(got);
			json_decref(got);
		}
	}
	/* Any JSON value, not only objects. */
	v = json_string("just a string");
	assert_int_equal(store_put(st, STORE_INTENTS, "s", v), 0);
	got = store_get(st, STORE_INTENTS, "s");
	assert_true(json_equal(v, got));
	json_decref(v);
	json_decref(got);
	store_close(st);
}

static void
test_overwrite(void **state)
{
	struct store *st = open_ok(dir);
	json_t *v1 = make_value("first", 1), *v2 = make_value("second", 2);
	json_t *got;

	(void)state;
	assert_int_equal(store_put(st, STORE_TICKETS, "t1", v1), 0);
	assert_int_equal(store_put(st, STORE_TICKETS, "t1", v2), 0);
	got = store_get(st, STORE_TICKETS, "t1");
	assert_true(json_equal(got, v2));
	assert_int_equal(store_count(st, STORE_TICKETS), 1);
	json_decref(got);
	json_decref(v1);
	json_decref(v2);
	store_close(st);
}

static void
test_missing(void **state)
{
	struct store *st = open_ok(dir);
	json_t *v = make_value("x", 0);

	(void)state;
	assert_null(store_get(st, STORE_TICKETS, "nope"));
	assert_int_equal(store_del(st, STORE_TICKETS, "nope"), 0);
	/* A neighbouring key is no match. */
	assert_int_equal(store_put(st, STORE_TICKETS, "nope2", v), 0);
	assert_null(store_get(st, STORE_TICKETS, "nope"));
	assert_int_equal(store_del(st, STORE_TICKETS, "nope"), 0);
	assert_int_equal(store_count(st, STORE_TICKETS), 1);
	assert_int_equal(store_events_count(st, "nobody", 1000, 60), 0);
	json_decref(v);
	store_close(st);
}

struct walk {
	char	seen[300][16];
	int	ns[300];
	int	count;
	int	stop_at;	/* return 7 after this many, 0: never */
};

static int
walk_fn(const char *key, json_t *value, void *arg)
{
	struct walk *w = arg;

	assert_true(w->count < 300);
	snprintf(w->seen[w->count], sizeof(w->seen[0]), "%s", key);
	w->ns[w->count] = (int)json_integer_value(json_object_get(value, "n"));
	w->count++;
	return w->stop_at != 0 && w->count == w->stop_at ? 7 : 0;
}

static void
test_foreach_order_and_stop(void **state)
{
	static const char *const keys[] = { "delta", "alpha", "charlie",
	    "bravo", "alpha2" };
	static const char *const sorted[] = { "alpha", "alpha2", "bravo",
	    "charlie", "delta" };
	struct store *st = open_ok(dir);
	struct walk *w = calloc(1, sizeof(*w));
	json_t *v;
	size_t i;

	(void)state;
	assert_non_null(w);
	assert_int_equal(store_foreach(st, STORE_TICKETS, walk_fn, w), 0);
	assert_int_equal(w->count, 0);

	for (i = 0; i < 5; i++) {
		v = make_value(keys[i], (int)i);
		assert_int_equal(store_put(st, STORE_TICKETS, keys[i], v), 0);
		json_decref(v);
	}
	/* Another database is not walked. */
	v = make_value("other", 99);
	assert_int_equal(store_put(st, STORE_INTENTS, "aaa", v), 0);
	json_decref(v);

	assert_int_equal(store_foreach(st, STORE_TICKETS, walk_fn, w), 0);
	assert_int_equal(w->count, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(w->seen[i], sorted[i]);
	assert_int_equal(w->ns[0], 1);	/* alpha's value came with it */

	memset(w, 0, sizeof(*w));
	w->stop_at = 2;
	assert_int_equal(store_foreach(st, STORE_TICKETS, walk_fn, w), 7);
	assert_int_equal(w->count, 2);
	assert_string_equal(w->seen[1], "alpha2");
	free(w);
	store_close(st);
}

/* More records than one read batch: order and early stop across batches. */
static void
test_foreach_many(void **state)
{
	struct store *st = open_ok(dir);
	struct walk *w = calloc(1, sizeof(*w));
	char key[16];
	json_t *v;
	int i;

	(void)state;
	assert_non_null(w);
	for (i = 249; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%03d", i);
		v = make_value("many", i);
		assert_int_equal(store_put(st, STORE_EVENTS, key, v), 0);
		json_decref(v);
	}
	assert_int_equal(store_count(st, STORE_EVENTS), 250);
	assert_int_equal(store_foreach(st, STORE_EVENTS, walk_fn, w), 0);
	assert_int_equal(w->count, 250);
	for (i = 0; i < 250; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		assert_string_equal(w->seen[i], key);
		assert_int_equal(w->ns[i], i);
	}
	memset(w, 0, sizeof(*w));
	w->stop_at = 130;
	assert_int_equal(store_foreach(st, STORE_EVENTS, walk_fn, w), 7);
	assert_int_equal(w->count, 130);
	assert_string_equal(w->seen[129], "k129");
	free(w);
	store_close(st);
}

static void
test_count(void **state)
{
	struct store *st = open_ok(dir);
	json_t *v = make_value("c", 0);
	char key[16];
	int i;

	(void)state;
	assert_int_equal(store_count(st, STORE_TICKETS), 0);
	assert_int_equal(store_count(st, STORE_INTENTS), 0);
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "t%d", i);
		assert_int_equal(store_put(st, STORE_TICKETS, key, v), 0);
	}
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "i%d", i);
		assert_int_equal(store_put(st, STORE_INTENTS, key, v), 0);
	}
	assert_int_equal(store_count(st, STORE_TICKETS), 10);
	assert_int_equal(store_count(st, STORE_INTENTS), 3);
	assert_int_equal(store_count(st, STORE_EVENTS), 0);
	assert_int_equal(store_del(st, STORE_TICKETS, "t4"), 0);
	assert_int_equal(store_del(st, STORE_TICKETS, "t4"), 0);
	assert_int_equal(store_count(st, STORE_TICKETS), 9);
	/* meta holds the HMAC key from the first open */
	assert_int_equal(store_count(st, STORE_META), 1);
	json_decref(v);
	store_close(st);
}

static void
test_persistence_and_key(void **state)
{
	unsigned char key1[STORE_HMAC_KEY_LEN], zero[STORE_HMAC_KEY_LEN];
	char other[128];
	struct store *st = open_ok(dir), *st2;
	json_t *v, *got;
	const char *hex;
	size_t i;

	(void)state;
	memcpy(key1, store_hmac_key(st), sizeof(key1));
	memset(zero, 0, sizeof(zero));
	assert_memory_not_equal(key1, zero, sizeof(key1));
	for (i = 0; i < NDBS; i++) {
		v = make_value("persist", (int)i + 10);
		assert_int_equal(store_put(st, all_dbs[i], "p", v), 0);
		json_decref(v);
	}
	store_close(st);

	st = open_ok(dir);
	assert_memory_equal(store_hmac_key(st), key1, sizeof(key1));
	for (i = 0; i < NDBS; i++) {
		got = store_get(st, all_dbs[i], "p");
		assert_non_null(got);
		v = make_value("persist", (int)i + 10);
		assert_true(json_equal(got, v));
		json_decref(v);
		json_decref(got);
	}
	/* The key is kept in meta as 64 hex digits. */
	got = store_get(st, STORE_META, "hmac-key");
	assert_true(json_is_string(got));
	hex = json_string_value(got);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
	json_decref(got);

	/* Another state directory, another key (both open at once). */
	snprintf(other, sizeof(other), "%s/other", dir);
	assert_int_equal(mkdir(other, 0700), 0);
	st2 = open_ok(other);
	assert_memory_not_equal(store_hmac_key(st2), key1, sizeof(key1));
	assert_null(store_get(st2, STORE_TICKETS, "p"));
	store_close(st2);
	store_close(st);
}

/* The files are private even under a permissive umask, and closed on
 * exec(2). */
static void
test_files_private(void **state)
{
	static const char *const names[] = { "ssprd.mdb", "ssprd.mdb-lock",
	    "ssprd.lock" };
	char path[128];
	struct store *st;
	struct stat sb;
	mode_t old = umask(0);
	char target[256];
	int fd, flags, found = 0;
	ssize_t n;
	size_t i;

	(void)state;
	st = open_ok(dir);
	umask(old);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	/* Nothing of the store survives an exec(2) of a command ssprd
	 * runs: every descriptor on a file in dir is close-on-exec. */
	for (fd = 0; fd < 1024; fd++) {
		if ((flags = fcntl(fd, F_GETFD)) == -1)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, dir, strlen(dir)) != 0)
			continue;
		if (!(flags & FD_CLOEXEC))
			fail_msg("%s (fd %d) is not close-on-exec", target, fd);
		found++;
	}
	assert_true(found >= 3);
	store_close(st);
}

static void
test_dir_refused(void **state)
{
	char want[256], missing[128], file[128];
	struct store *st;
	int fd;

	(void)state;
	assert_int_equal(chmod(dir, 0755), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "state_dir %s is accessible by group or "
	    "other (mode 0755); chmod 700 it", dir);
	assert_string_equal(err, want);
	/* Nothing was created in it. */
	snprintf(file, sizeof(file), "%s/ssprd.mdb", dir);
	assert_int_equal(access(file, F_OK), -1);

	assert_int_equal(chmod(dir, 0701), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_contains(err, "(mode 0701)");

	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_null(store_open(missing, err, sizeof(err)));
	assert_contains(err, missing);

	snprintf(file, sizeof(file), "%s/plain", dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	close(fd);
	assert_null(store_open(file, err, sizeof(err)));
	assert_contains(err, "not a directory");

	st = open_ok(dir);
	store_close(st);
}

static void
test_single_opener(void **state)
{
	char want[256];
	struct store *st, *st2;
	json_t *v = make_value("one", 1), *got;
	pid_t pid;
	int fds[2], status;
	char verdict;

	(void)state;
	st = open_ok(dir);
	assert_null(store_open(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "state_dir %s is already open in this "
	    "process (pid %ld)", dir, (long)getpid());
	assert_string_equal(err, want);
	/* The refusal did not disturb the first opener. */
	assert_int_equal(store_put(st, STORE_TICKETS, "a", v), 0);
	got = store_get(st, STORE_TICKETS, "a");
	assert_true(json_equal(got, v));
	json_decref(got);

	/* Another process is refused and told who holds it. */
	snprintf(want, sizeof(want), "state_dir %s is in use by another "
	    "ssprd (pid %ld)", dir, (long)getpid());
	/* The verdict comes through a pipe, not the exit status, which a
	 * leak checker (valgrind) may replace in the child. */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(fds[0]);
		st2 = store_open(dir, err, sizeof(err));
		verdict = st2 == NULL && strcmp(err, want) == 0 ? 'y' : 'n';
		(void)!write(fds[1], &verdict, 1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &verdict, 1), 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(verdict, 'y');

	store_close(st);
	st = open_ok(dir);
	got = store_get(st, STORE_TICKETS, "a");
	assert_true(json_equal(got, v));
	json_decref(got);
	json_decref(v);
	store_close(st);
}

/* A pid that no process has now: a child's, once reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* A child holds DIR/ssprd.lock, recorded for the pid gone, for hold_ms;
 * returns once it holds it. */
static pid_t
hold_lock_for_dead(unsigned hold_ms, pid_t gone)
{
	char path[PATH_MAX + 16], c;
	int fds[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/ssprd.lock", dir);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CREAT, 0600);
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld\n", (long)gone);

		if (fd == -1 || flock(fd, LOCK_EX) == -1 ||
		    ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		usleep(hold_ms * 1000);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

/*
 * After a crash the lock may still be held for a moment by a command the
 * dead daemon was starting (between its fork and exec): while the pid in
 * the lock file is gone, store_open() waits for the lock (about 3 s at
 * most) instead of refusing; held longer, it is refused as before.
 */
static void
test_lock_of_dead_holder(void **state)
{
	char want[256];
	struct store *st;
	pid_t gone = dead_pid(), holder;
	int status;

	(void)state;
	holder = hold_lock_for_dead(300, gone);
	st = open_ok(dir);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_close(st);

	holder = hold_lock_for_dead(6000, gone);
	assert_null(store_open(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "state_dir %s is in use by another "
	    "ssprd (pid %ld)", dir, (long)gone);
	assert_string_equal(err, want);
	kill(holder, SIGKILL);
	assert_int_equal(waitpid(holder, NULL, 0), holder);
}

static void
test_events_window(void **state)
{
	struct store *st = open_ok(dir);
	char list[256];
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(store_events_add(st, "ip:192.0.2.1",
		    1000 + i, 60, 100), i + 1);
	assert_int_equal(store_events_count(st, "ip:192.0.2.1", 1004, 60), 5);
	/* Counting writes nothing. */
	events_list(st, "ip:192.0.2.1", list, sizeof(list));
	assert_string_equal(list, "1000,1001,1002,1003,1004");
	/* At 1061 the window starts after 1001: 1000 and 1001 are out. */
	assert_int_equal(store_events_count(st, "ip:192.0.2.1", 1061, 60), 3);
	assert_int_equal(store_events_count(st, "ip:192.0.2.1", 1060, 60), 4);
	events_list(st, "ip:192.0.2.1", list, sizeof(list));
	assert_string_equal(list, "1000,1001,1002,1003,1004");
	assert_int_equal(store_events_add(st, "ip:192.0.2.1", 1061, 60, 100),
	    4);
	events_list(st, "ip:192.0.2.1", list, sizeof(list));
	assert_string_equal(list, "1002,1003,1004,1061");
	/* Keys are counted apart. */
	assert_int_equal(store_events_add(st, "ip:192.0.2.2", 1061, 60, 100),
	    1);
	/* Long after, everything old is gone. */
	assert_int_equal(store_events_count(st, "ip:192.0.2.1", 5000, 60), 0);
	assert_int_equal(store_events_add(st, "ip:192.0.2.1", 5000, 60, 100),
	    1);
	events_list(st, "ip:192.0.2.1", list, sizeof(list));
	assert_string_equal(list, "5000");
	/* A window wider than time itself does not overflow. */
	assert_int_equal(store_events_add(st, "wide", -5, INT64_MAX, 100), 1);
	assert_int_equal(store_events_add(st, "wide", 10, INT64_MAX, 100), 2);
	assert_int_equal(store_events_count(st, "wide", INT64_MIN + 1,
	    INT64_MAX), 2);
	store_close(st);
}

static void
test_events_keep(void **state)
{
	struct store *st = open_ok(dir);
	char list[256];
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(store_events_add(st, "user:alice", 2000 + i,
		    3600, 3), i < 3 ? i + 1 : 3);
	events_list(st, "user:alice", list, sizeof(list));
	assert_string_equal(list, "2007,2008,2009");
	assert_int_equal(store_events_count(st, "user:alice", 2009, 3600), 3);
	/* keep 0 still keeps the event just recorded */
	assert_int_equal(store_events_add(st, "user:bob", 2000, 3600, 0), 1);
	events_list(st, "user:bob", list, sizeof(list));
	assert_string_equal(list, "2000");
	store_close(st);
}

static void
test_events_clock_backwards(void **state)
{
	struct store *st = open_ok(dir);
	char list[256];

	(void)state;
	assert_int_equal(store_events_add(st, "k", 1000, 60, 100), 1);
	assert_int_equal(store_events_add(st, "k", 1001, 60, 100), 2);
	assert_int_equal(store_events_add(st, "k", 1002, 60, 100), 3);
	/* The clock steps back 12 s: the "future" events still count. */
	assert_int_equal(store_events_count(st, "k", 990, 60), 3);
	assert_int_equal(store_events_count(st, "k", 900, 60), 3);
	assert_int_equal(store_events_add(st, "k", 990, 60, 100), 4);
	/* They are kept as happening now, in order; they leave the window
	 * one window later, not one window after the bad clock's time. */
	events_list(st, "k", list, sizeof(list));
	assert_string_equal(list, "990,990,990,990");
	assert_int_equal(store_events_count(st, "k", 1049, 60), 4);
	assert_int_equal(store_events_count(st, "k", 1050, 60), 0);
	store_close(st);
}

static void
test_key_limits(void **state)
{
	char key[STORE_KEY_MAX + 2], *logged;
	struct store *st = open_ok(dir);
	json_t *v = make_value("long", 1), *got;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[STORE_KEY_MAX] = '\0';		/* the longest allowed */
	assert_int_equal(store_put(st, STORE_TICKETS, key, v), 0);
	got = store_get(st, STORE_TICKETS, key);
	assert_true(json_equal(got, v));
	json_decref(got);
	assert_int_equal(store_events_add(st, key, 1, 60, 5), 1);

	key[STORE_KEY_MAX] = 'k';		/* one byte too many */
	key[STORE_KEY_MAX + 1] = '\0';
	log_begin();
	assert_int_equal(store_put(st, STORE_TICKETS, key, v), -1);
	assert_null(store_get(st, STORE_TICKETS, key));
	assert_int_equal(store_del(st, STORE_TICKETS, key), -1);
	assert_int_equal(store_events_add(st, key, 1, 60, 5), -1);
	assert_int_equal(store_events_count(st, key, 1, 60), -1);
	assert_int_equal(store_put(st, STORE_TICKETS, "", v), -1);
	logged = log_end();
	assert_contains(logged, "store: key for tickets longer than 511 "
	    "bytes refused");
	assert_contains(logged, "store: key for events longer than 511 bytes");
	assert_contains(logged, "store: empty key for tickets refused");
	free(logged);
	/* The 511-byte record is the only one in tickets. */
	assert_int_equal(store_count(st, STORE_TICKETS), 1);
	json_decref(v);
	store_close(st);
}

static void
test_unreadable_records(void **state)
{
	struct store *st = open_ok(dir);
	struct walk *w = calloc(1, sizeof(*w));
	json_t *v = make_value("good", 5), *got;
	char *logged, list[64];

	(void)state;
	assert_non_null(w);
	assert_int_equal(store_put(st, STORE_TICKETS, "a-good", v), 0);
	assert_int_equal(store_put(st, STORE_TICKETS, "c-good", v), 0);
	store_close(st);
	raw_put("tickets", "b-bad", "{\"not\": json");
	raw_put("events", "ev", "{\"t\":[1,\"x\"]}");

	st = open_ok(dir);
	log_begin();
	assert_null(store_get(st, STORE_TICKETS, "b-bad"));
	assert_int_equal(store_foreach(st, STORE_TICKETS, walk_fn, w), 0);
	assert_int_equal(store_events_count(st, "ev", 1000, 60), 0);
	/* An unreadable counter starts afresh rather than stay wedged. */
	assert_int_equal(store_events_add(st, "ev", 1000, 60, 10), 1);
	logged = log_end();
	assert_contains(logged,
	    "store: unreadable record in tickets/b-bad; ignoring it");
	assert_contains(logged,
	    "store: unreadable record in events/ev; ignoring it");
	assert_int_equal(w->count, 2);
	assert_string_equal(w->seen[0], "a-good");
	assert_string_equal(w->seen[1], "c-good");
	assert_int_equal(store_count(st, STORE_TICKETS), 3);
	events_list(st, "ev", list, sizeof(list));
	assert_string_equal(list, "1000");
	/* It can be deleted or overwritten like any record. */
	assert_int_equal(store_put(st, STORE_TICKETS, "b-bad", v), 0);
	got = store_get(st, STORE_TICKETS, "b-bad");
	assert_true(json_equal(got, v));
	json_decref(got);
	free(logged);
	free(w);
	json_decref(v);
	store_close(st);
}

/* A damaged HMAC key stops the open: a new one would void every hash. */
static void
test_bad_hmac_key(void **state)
{
	struct store *st = open_ok(dir);

	(void)state;
	store_close(st);
	raw_put("meta", "hmac-key", "\"0123abcd\"");
	assert_null(store_open(dir, err, sizeof(err)));
	assert_contains(err, "HMAC key");
	/* The refused open released the directory. */
	raw_put("meta", "hmac-key", "\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\"");
	st = open_ok(dir);
	assert_int_equal(store_hmac_key(st)[0], 0x00);
	assert_int_equal(store_hmac_key(st)[31], 0x1f);
	store_close(st);
}

/* store_put has committed when it returns: a child killed at once with
 * SIGKILL (no store_close, no exit handlers) loses nothing. */
static void
test_durable_after_kill(void **state)
{
	unsigned char key[STORE_HMAC_KEY_LEN];
	json_t *v = make_value("durable", 42), *got;
	struct store *st;
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(fds[0]);
		st = store_open(dir, err, sizeof(err));
		if (st == NULL ||
		    store_put(st, STORE_INTENTS, "req-1", v) != 0 ||
		    store_events_add(st, "ev", 100, 60, 5) != 1)
			_exit(1);
		if (write(fds[1], store_hmac_key(st), STORE_HMAC_KEY_LEN) !=
		    STORE_HMAC_KEY_LEN)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], key, sizeof(key)), sizeof(key));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	st = open_ok(dir);
	got = store_get(st, STORE_INTENTS, "req-1");
	assert_non_null(got);
	assert_true(json_equal(got, v));
	assert_int_equal(store_events_count(st, "ev", 100, 60), 1);
	assert_memory_equal(store_hmac_key(st), key, sizeof(key));
	json_decref(got);
	json_decref(v);
	store_close(st);
}

/* A reader beside the open writer (another process: LMDB wants one
 * environment per file and process) sees what is committed and the same
 * HMAC key, writes nothing, and is refused where there is no state. */
static void
test_reader(void **state)
{
	json_t *v = make_value("confirmed", 7);
	struct store *st;
	int status;
	pid_t pid;

	(void)state;
	assert_null(store_open_reader(dir, err, sizeof(err)));
	assert_contains(err, "ssprd.mdb");
	st = open_ok(dir);
	assert_int_equal(store_put(st, STORE_ACCOUNTS, "a:1", v), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct store *r = store_open_reader(dir, err, sizeof(err));
		json_t *got;
		bool ok;

		if (r == NULL)
			_exit(2);
		got = store_get(r, STORE_ACCOUNTS, "a:1");
		ok = got != NULL && json_equal(got, v) &&
		    memcmp(store_hmac_key(r), store_hmac_key(st),
		    STORE_HMAC_KEY_LEN) == 0 &&
		    store_get(r, STORE_TICKETS, "a:1") == NULL &&
		    store_put(r, STORE_ACCOUNTS, "a:2", v) == -1;
		json_decref(got);
		store_close(r);
		_exit(ok ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the writer goes on */
	assert_int_equal(store_put(st, STORE_ACCOUNTS, "a:3", v), 0);
	assert_null(store_get(st, STORE_ACCOUNTS, "a:2"));
	json_decref(v);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_each_db,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach_order_and_stop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence_and_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_private, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_single_opener, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_of_dead_holder, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_keep, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_clock_backwards,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_hmac_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_durable_after_kill, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
