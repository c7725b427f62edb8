/*
 * store.c - ssprd's persistent state: small JSON records in LMDB (see
 * store.h).
 *
 * Guarantees:
 * - Every store_apply(), store_put(), store_del() and store_events_add()
 *   runs in its own write transaction that is committed (with LMDB's
 *   default fsync) before the call returns; a caller that got 0 may act at
 *   once. store_apply() makes several changes in one transaction: all or
 *   none, for the price of one sync (each costs about 0.3 ms on a disk).
 * - Nothing here aborts the daemon: a full map, an I/O error or a record
 *   that does not parse is logged ("store: ...") and reported as -1 / NULL.
 * - One opener per state directory: an flock(2) on DIR/ssprd.lock, taken
 *   before LMDB sees the directory, refuses both a second ssprd and a second
 *   store_open() in this process (LMDB itself allows neither to go well: a
 *   second environment on the same file in one process drops the first
 *   one's POSIX locks when it is closed). store_open_reader() (ssprctl, in
 *   another process) takes no flock: an LMDB reader beside the writer is
 *   what LMDB is made for.
 * - The HMAC key lives in sodium_malloc() memory, read-only while open, and
 *   is wiped by store_close().
 * - Every call opens and ends its own transaction, and MDB_NOTLS frees read
 *   transactions from their thread, so calls may come from any thread
 *   (writers queue on LMDB's writer lock). A forked child must not use a
 *   store its parent opened: LMDB forbids it.
 *
 * Values are stored as compact JSON text without a trailing NUL.
 */
#include "build.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/redis.h"
#include "daemon/store.h"

#define STORE_FILE	"ssprd.mdb"
#define STORE_LOCKFILE	"ssprd.lock"
/* Address space, not disk: the file grows only as pages are written. */
#define STORE_MAPSIZE	((size_t)1 << 30)
#define STORE_MAXDBS	8
#define STORE_NDBS	5
#define HMAC_KEY_NAME	"hmac-key"
/* How long a lock left by a process that is gone may take to be freed
 * (take_lock()), and how often it is tried meanwhile. */
#define LOCK_WAIT_MS	3000
#define LOCK_NAP_MS	20
/* Records handed to a store_foreach() callback per read transaction: a
 * short transaction keeps LMDB free to reuse pages, and a bounded batch
 * keeps memory small whatever the size of the database. */
#define FOREACH_BATCH	64

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi[STORE_NDBS];
	unsigned char	*hmac_key;	/* sodium_malloc(), read-only */
	int		 lockfd;
	char		*path;		/* DIR/ssprd.mdb, for log lines */
	struct rstore	*redis;		/* [state] backend = redis: all here */
};

static const char *const db_names[STORE_NDBS] = {
	[STORE_TICKETS] = "tickets",
	[STORE_INTENTS] = "intents",
	[STORE_EVENTS] = "events",
	[STORE_META] = "meta",
	[STORE_ACCOUNTS] = "accounts",
};

static const char *
db_name(enum store_db db)
{
	if ((unsigned)db >= STORE_NDBS)
		return "?";
	return db_names[db];
}

/*
 * Check db and key and point k at the key. Refused keys are logged here so
 * that every caller reports them the same way. LMDB refuses empty keys and
 * keys above its limit itself, but with an error that would not name ours.
 */
static int
make_key(enum store_db db, const char *key, MDB_val *k)
{
	size_t len;

	if ((unsigned)db >= STORE_NDBS) {
		log_warnx("store: no database number %d", (int)db);
		return -1;
	}
	if (key == NULL || *key == '\0') {
		log_warnx("store: empty key for %s refused", db_name(db));
		return -1;
	}
	len = strnlen(key, STORE_KEY_MAX + 1);
	if (len > STORE_KEY_MAX) {
		/* Not the key itself: it may be anything, at any length. */
		log_warnx("store: key for %s longer than %d bytes refused",
		    db_name(db), STORE_KEY_MAX);
		return -1;
	}
	k->mv_data = (void *)(uintptr_t)key;
	k->mv_size = len;
	return 0;
}

/* A write failed: say which record and, for a full map, what it means. */
static void
log_write_error(const struct store *st, enum store_db db, const char *key,
    const char *what, int rc)
{
	if (rc == MDB_MAP_FULL)
		log_errorx("store: %s is full (%zu MiB): cannot %s %s/%s; "
		    "records are not being removed, or the map is too small",
		    st->path, STORE_MAPSIZE >> 20, what, db_name(db), key);
	else
		log_errorx("store: cannot %s %s/%s: %s", what, db_name(db), key,
		    mdb_strerror(rc));
}

static void
log_unreadable(enum store_db db, const char *key)
{
	log_warnx("store: unreadable record in %s/%s; ignoring it",
	    db_name(db), key);
}

/* The record's JSON, or NULL when it does not parse. */
static json_t *
parse_value(const MDB_val *v)
{
	json_error_t jerr;

	return json_loadb(v->mv_data, v->mv_size, JSON_DECODE_ANY, &jerr);
}

/* Put dump (compact JSON, consumed) under k in an open write txn. */
static int
put_text(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, char *dump)
{
	MDB_val v;
	int rc;

	v.mv_data = dump;
	v.mv_size = strlen(dump);
	rc = mdb_put(txn, dbi, k, &v, 0);
	free(dump);
	return rc;
}

/* ------------------------------------------------------------------------
 * Opening and closing
 */

/* The pid written into a lock file, or 0. */
static long
lock_holder(int fd)
{
	char buf[32], *end;
	ssize_t n;
	long pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end == buf || pid <= 0 ? 0 : pid;
}

/*
 * Take DIR/ssprd.lock. flock(2) locks belong to the open file description,
 * so a second open() of the file conflicts even inside this process (POSIX
 * fcntl locks would not). The lock file holds the holder's pid, to make
 * the refusal useful and for one more reason: a command the daemon was
 * starting when it was killed shares the description between its fork and
 * its exec (O_CLOEXEC, and closefrom() in the child, end that), so for a
 * moment after a crash the lock is held for a process that is gone. While
 * the recorded pid no longer exists, the lock is tried again for up to
 * LOCK_WAIT_MS; a live holder is refused at once.
 */
static int
take_lock(const char *dir, char *err, size_t errlen)
{
	const struct timespec nap = { 0, LOCK_NAP_MS * 1000000L };
	char path[PATH_MAX], buf[32];
	unsigned waited = 0;
	ssize_t n;
	long pid;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    STORE_LOCKFILE) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir %s: path too long", dir);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		if (saved != EWOULDBLOCK) {
			snprintf(err, errlen, "cannot lock %s: %s", path,
			    strerror(saved));
			close(fd);
			return -1;
		}
		pid = lock_holder(fd);
		if (pid > 0 && pid != (long)getpid() && waited < LOCK_WAIT_MS &&
		    kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
			nanosleep(&nap, NULL);
			waited += LOCK_NAP_MS;
			continue;
		}
		close(fd);
		if (pid == (long)getpid())
			snprintf(err, errlen, "state_dir %s is already open "
			    "in this process (pid %ld)", dir, pid);
		else if (pid > 0)
			snprintf(err, errlen, "state_dir %s is in use by "
			    "another ssprd (pid %ld)", dir, pid);
		else
			snprintf(err, errlen, "state_dir %s is in use by "
			    "another ssprd", dir);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		/* Only the message of a later refusal suffers. */
		log_warn("store: cannot write the pid into %s", path);
	}
	return fd;
}

/*
 * Read the HMAC key from meta, or make and store one. It is kept as a JSON
 * string of 64 hex digits; the text is built and parsed here by hand so
 * that no copy of it is left in jansson's (unwiped) heap memory.
 */
static int
load_hmac_key(struct store *st, MDB_txn *txn, bool create, char *err,
    size_t errlen)
{
	char text[2 + STORE_HMAC_KEY_LEN * 2 + 1];
	unsigned char key[STORE_HMAC_KEY_LEN];
	size_t keylen;
	MDB_val k, v;
	int rc, ret = -1;

	k.mv_data = (void *)(uintptr_t)HMAC_KEY_NAME;
	k.mv_size = strlen(HMAC_KEY_NAME);
	rc = mdb_get(txn, st->dbi[STORE_META], &k, &v);
	if (rc == 0) {
		const char *p = v.mv_data;

		if (v.mv_size != sizeof(text) - 1 || p[0] != '"' ||
		    p[v.mv_size - 1] != '"' ||
		    sodium_hex2bin(key, sizeof(key), p + 1, v.mv_size - 2,
		    NULL, &keylen, NULL) != 0 || keylen != sizeof(key)) {
			/* A new key would silently void every stored hash;
			 * better that the admin decides. */
			snprintf(err, errlen, "%s: the HMAC key in meta/%s is "
			    "unreadable; move the file away to start afresh "
			    "(pending tickets are lost)", st->path,
			    HMAC_KEY_NAME);
			goto out;
		}
	} else if (rc == MDB_NOTFOUND && !create) {
		snprintf(err, errlen, "%s holds no ssprd state yet", st->path);
		goto out;
	} else if (rc == MDB_NOTFOUND) {
		randombytes_buf(key, sizeof(key));
		text[0] = '"';
		sodium_bin2hex(text + 1, sizeof(text) - 2, key, sizeof(key));
		text[sizeof(text) - 2] = '"';
		text[sizeof(text) - 1] = '\0';
		v.mv_data = text;
		v.mv_size = sizeof(text) - 1;
		if ((rc = mdb_put(txn, st->dbi[STORE_META], &k, &v, 0)) != 0) {
			snprintf(err, errlen, "%s: cannot store the HMAC key: "
			    "%s", st->path, mdb_strerror(rc));
			goto out;
		}
	} else {
		snprintf(err, errlen, "%s: cannot read the HMAC key: %s",
		    st->path, mdb_strerror(rc));
		goto out;
	}

	if ((st->hmac_key = sodium_malloc(sizeof(key))) == NULL) {
		snprintf(err, errlen, "cannot allocate secure memory: %s",
		    strerror(errno));
		goto out;
	}
	memcpy(st->hmac_key, key, sizeof(key));
	/* Best effort: a platform without it still works. */
	(void)sodium_mprotect_readonly(st->hmac_key);
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	return ret;
}

/* st->env on st->path with these extra flags (MDB_RDONLY or 0); -1 with
 * err filled (the caller closes st). */
static int
open_env(struct store *st, unsigned flags, char *err, size_t errlen)
{
	mdb_filehandle_t fd;
	int rc, fdflags;

	if ((rc = mdb_env_create(&st->env)) != 0) {
		snprintf(err, errlen, "%s: %s", st->path, mdb_strerror(rc));
		st->env = NULL;
		return -1;
	}
	if ((rc = mdb_env_set_mapsize(st->env, STORE_MAPSIZE)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) != 0) {
		snprintf(err, errlen, "%s: %s", st->path, mdb_strerror(rc));
		return -1;
	}
	/*
	 * MDB_NOTLS: read transactions are not tied to the calling thread,
	 * so the store does not care which thread (the event loop or a
	 * worker) uses it, as long as one at a time does. No MDB_NOSYNC or
	 * MDB_NOMETASYNC: a commit is on disk when it returns.
	 */
	rc = mdb_env_open(st->env, st->path, MDB_NOSUBDIR | MDB_NOTLS | flags, 0600);
	if (rc != 0) {
		snprintf(err, errlen, "cannot open %s: %s", st->path,
		    mdb_strerror(rc));
		return -1;
	}
	/* LMDB 0.9 leaves its data file descriptor open across exec(2);
	 * the commands ssprd runs have no business with the state. */
	if (mdb_env_get_fd(st->env, &fd) == 0 &&
	    ((fdflags = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) == -1)) {
		snprintf(err, errlen, "%s: cannot set close-on-exec: %s",
		    st->path, strerror(errno));
		return -1;
	}
	if (mdb_env_get_maxkeysize(st->env) < STORE_KEY_MAX) {
		snprintf(err, errlen, "%s: LMDB was built for keys of at most "
		    "%d bytes; ssprd needs %d", st->path,
		    mdb_env_get_maxkeysize(st->env), STORE_KEY_MAX);
		return -1;
	}
	return 0;
}

/* Every database and the HMAC key, made when create (otherwise in a read
 * transaction, whose commit keeps its database handles). -1 with err
 * filled. */
static int
open_dbs(struct store *st, bool create, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, create ? 0 : MDB_RDONLY,
	    &txn)) != 0) {
		snprintf(err, errlen, "%s: %s", st->path, mdb_strerror(rc));
		return -1;
	}

	for (size_t i = 0; i < STORE_NDBS; i++) {
		rc = mdb_dbi_open(txn, db_names[i], create ? MDB_CREATE : 0,
		    &st->dbi[i]);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot open database %s: %s%s",
			    st->path, db_names[i], mdb_strerror(rc),
			    rc == MDB_NOTFOUND ? " (made by an older ssprd: "
			    "start this one once)" : "");
			mdb_txn_abort(txn);
			return -1;
		}
	}
	if (load_hmac_key(st, txn, create, err, errlen) == -1) {
		mdb_txn_abort(txn);
		return -1;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "%s: cannot commit: %s", st->path,
		    mdb_strerror(rc));
		return -1;
	}
	return 0;
}

struct store *
store_open(const char *dir, char *err, size_t errlen)
{
	struct store *st;
	struct stat sb;
	int rc, dead;

	if (sodium_init() == -1) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return NULL;
	}
	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "state_dir %s: %s", dir, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state_dir %s is not a directory", dir);
		return NULL;
	}
	/* The records are hashes, but of short codes: a reader could try
	 * them all offline once it also has the key stored beside them. */
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "state_dir %s is accessible by group or "
		    "other (mode %04o); chmod 700 it", dir,
		    (unsigned)(sb.st_mode & 07777));
		return NULL;
	}

	st = xcalloc(1, sizeof(*st));
	st->path = xasprintf("%s/%s", dir, STORE_FILE);
	if ((st->lockfd = take_lock(dir, err, errlen)) == -1) {
		free(st->path);
		free(st);
		return NULL;
	}

	if (open_env(st, 0, err, errlen) == -1)
		goto fail;
	/* A reader slot left by a killed ssprd would pin old pages for
	 * good, and the map would only grow. */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0)
		log_warnx("store: cannot check %s for stale readers: %s",
		    st->path, mdb_strerror(rc));
	else if (dead > 0)
		log_info("store: cleared %d stale reader slot%s in %s", dead,
		    dead == 1 ? "" : "s", st->path);

	if (open_dbs(st, true, err, errlen) == -1)
		goto fail;
	return st;

fail:
	store_close(st);
	return NULL;
}

struct store *
store_open_reader(const char *dir, char *err, size_t errlen)
{
	struct store *st;

	if (sodium_init() == -1) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->lockfd = -1;
	st->path = xasprintf("%s/%s", dir, STORE_FILE);
	if (access(st->path, F_OK) == -1) {
		snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
		goto fail;
	}
	if (open_env(st, MDB_RDONLY, err, errlen) == -1)
		goto fail;
	if (open_dbs(st, false, err, errlen) == -1)
		goto fail;
	return st;

fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	rstore_close(st->redis);
	if (st->hmac_key != NULL) {
		(void)sodium_mprotect_readwrite(st->hmac_key);
		sodium_memzero(st->hmac_key, STORE_HMAC_KEY_LEN);
		sodium_free(st->hmac_key);
	}
	if (st->env != NULL)
		mdb_env_close(st->env);
	/* The environment is closed first, so the next holder of the lock
	 * never meets our LMDB locks. The lock file stays: removing it
	 * would race with a new holder. */
	if (st->lockfd != -1) {
		(void)!ftruncate(st->lockfd, 0);
		close(st->lockfd);
	}
	free(st->path);
	free(st);
}

const unsigned char *
store_hmac_key(const struct store *st)
{
	if (st->redis != NULL)
		return rstore_hmac_key(st->redis);
	return st->hmac_key;
}

/* ------------------------------------------------------------------------
 * Records
 */

int
store_apply(struct store *st, const struct store_op *ops, size_t n)
{
	MDB_txn *txn;

	if (st->redis != NULL)
		return rstore_apply(st->redis, ops, n);
	MDB_val k;
	char *dump;
	size_t i, changed = 0;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		log_write_error(st, ops[0].db, ops[0].key, "write", rc);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (make_key(ops[i].db, ops[i].key, &k) == -1)
			goto abort;
		if (ops[i].value == NULL) {
			rc = mdb_del(txn, st->dbi[ops[i].db], &k, NULL);
			if (rc == MDB_NOTFOUND)
				continue;	/* absent: done already */
		} else {
			dump = json_dumps(ops[i].value,
			    JSON_COMPACT | JSON_ENCODE_ANY);
			if (dump == NULL) {
				log_warnx("store: cannot encode a value for "
				    "%s/%s", db_name(ops[i].db), ops[i].key);
				goto abort;
			}
			rc = put_text(txn, st->dbi[ops[i].db], &k, dump);
		}
		if (rc != 0) {
			log_write_error(st, ops[i].db, ops[i].key,
			    ops[i].value == NULL ? "delete" : "write", rc);
			goto abort;
		}
		changed++;
	}
	if (changed == 0) {
		/* Only deletes of absent keys: nothing to sync. */
		mdb_txn_abort(txn);
		return 0;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_write_error(st, ops[0].db, ops[0].key, "write", rc);
		return -1;
	}
	return 0;

abort:
	mdb_txn_abort(txn);
	return -1;
}

int
store_put(struct store *st, enum store_db db, const char *key,
    const json_t *value)
{
	struct store_op op = { db, key, value };

	return store_apply(st, &op, 1);
}

json_t *
store_get(struct store *st, enum store_db db, const char *key)
{
	MDB_txn *txn;
	MDB_val k, v;
	json_t *value = NULL;
	int rc;

	if (st->redis != NULL)
		return rstore_get(st->redis, db, key);
	if (make_key(db, key, &k) == -1)
		return NULL;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_errorx("store: cannot read %s/%s: %s", db_name(db), key,
		    mdb_strerror(rc));
		return NULL;
	}
	rc = mdb_get(txn, st->dbi[db], &k, &v);
	if (rc == 0) {
		/* v points into the map: parse before the txn ends. */
		if ((value = parse_value(&v)) == NULL)
			log_unreadable(db, key);
	} else if (rc != MDB_NOTFOUND)
		log_errorx("store: cannot read %s/%s: %s", db_name(db), key,
		    mdb_strerror(rc));
	mdb_txn_abort(txn);
	return value;
}

int
store_del(struct store *st, enum store_db db, const char *key)
{
	struct store_op op = { db, key, NULL };

	return store_apply(st, &op, 1);
}

struct batch_item {
	char	*key;
	json_t	*value;
};

/* Where a walk stopped: the raw bytes of the last key looked at. */
struct resume {
	char	*key;		/* NULL before the first batch */
	size_t	 len;
};

/*
 * Copy up to FOREACH_BATCH readable records after r (from the start before
 * the first batch) into items, and move r to the last key looked at,
 * readable or not. Returns the number copied, or -1; *done when the end
 * was reached.
 */
static int
read_batch(struct store *st, enum store_db db, struct resume *r,
    struct batch_item *items, bool *done)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_cursor_op op;
	int rc, n = 0, seen = 0;

	*done = false;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_errorx("store: cannot read %s: %s", db_name(db),
		    mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, st->dbi[db], &cur)) != 0) {
		mdb_txn_abort(txn);
		log_errorx("store: cannot read %s: %s", db_name(db),
		    mdb_strerror(rc));
		return -1;
	}
	if (r->key == NULL)
		op = MDB_FIRST;
	else {
		/* The first key >= the last one seen; that one itself is
		 * skipped if it is still there. */
		k.mv_data = r->key;
		k.mv_size = r->len;
		op = MDB_SET_RANGE;
	}
	while (seen < FOREACH_BATCH &&
	    (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		if (op == MDB_SET_RANGE && k.mv_size == r->len &&
		    memcmp(k.mv_data, r->key, r->len) == 0) {
			op = MDB_NEXT;
			continue;
		}
		op = MDB_NEXT;
		seen++;
		free(r->key);
		r->key = xmalloc(k.mv_size);
		memcpy(r->key, k.mv_data, k.mv_size);
		r->len = k.mv_size;
		/* Copied out now: k and v point into the map, which only
		 * this transaction keeps valid. */
		items[n].key = xstrndup(k.mv_data, k.mv_size);
		if ((items[n].value = parse_value(&v)) == NULL) {
			log_unreadable(db, items[n].key);
			free(items[n].key);
			continue;
		}
		n++;
	}
	if (rc == MDB_NOTFOUND)
		*done = true;
	else if (rc != 0) {
		log_errorx("store: cannot read %s: %s", db_name(db),
		    mdb_strerror(rc));
		while (n > 0) {
			n--;
			free(items[n].key);
			json_decref(items[n].value);
		}
		n = -1;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/*
 * Walk db in key order, in batches: each batch is copied out of a short
 * read transaction that has ended before fn sees any of it. The walk is
 * therefore not one snapshot, but no transaction is open while fn runs.
 * (fn still may not call back into the store, as store.h says.) fn
 * borrows value: json_incref() it to keep it.
 */
int
store_foreach(struct store *st, enum store_db db,
    int (*fn)(const char *key, json_t *value, void *arg), void *arg)
{
	struct batch_item items[FOREACH_BATCH];
	struct resume r = { NULL, 0 };
	bool done = false;
	int i, n, ret = 0;

	if (st->redis != NULL)
		return 0;	/* records expire by themselves there */
	if ((unsigned)db >= STORE_NDBS) {
		log_warnx("store: no database number %d", (int)db);
		return -1;
	}
	while (!done && ret == 0) {
		if ((n = read_batch(st, db, &r, items, &done)) == -1) {
			ret = -1;
			break;
		}
		for (i = 0; i < n; i++) {
			if (ret == 0)
				ret = fn(items[i].key, items[i].value, arg);
			free(items[i].key);
			json_decref(items[i].value);
		}
	}
	free(r.key);
	return ret;
}

size_t
store_count(struct store *st, enum store_db db)
{
	MDB_txn *txn;
	MDB_stat ms;
	int rc;

	if (st->redis != NULL)
		return rstore_count(st->redis, db);
	if ((unsigned)db >= STORE_NDBS) {
		log_warnx("store: no database number %d", (int)db);
		return 0;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_errorx("store: cannot read %s: %s", db_name(db),
		    mdb_strerror(rc));
		return 0;
	}
	rc = mdb_stat(txn, st->dbi[db], &ms);
	mdb_txn_abort(txn);
	if (rc != 0) {
		log_errorx("store: cannot count %s: %s", db_name(db),
		    mdb_strerror(rc));
		return 0;
	}
	return ms.ms_entries;
}

/* ------------------------------------------------------------------------
 * Sliding-window counters: {"t":[ts, ...]} in ascending order.
 *
 * An event at t is within the window at now when t > now - window. A
 * timestamp later than now (the clock went backwards) counts as within.
 */

/* now - window, saturated: a huge window takes in everything. */
static int64_t
window_start(int64_t now, int64_t window)
{
	int64_t start;

	if (window < 0)
		window = 0;
	if (__builtin_sub_overflow(now, window, &start))
		return INT64_MIN;
	return start;
}

static bool
within(int64_t t, int64_t start)
{
	return t > start || start == INT64_MIN;
}

/*
 * The timestamps of an events record, in *ts (caller frees) and *n.
 * -1 when the record is not {"t":[integers]}.
 */
static int
events_of(const json_t *rec, int64_t **ts, size_t *n)
{
	json_t *arr = json_object_get(rec, "t"), *e;
	size_t i;

	*ts = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return -1;
	*ts = xreallocarray(NULL, json_array_size(arr) + 1, sizeof(**ts));
	json_array_foreach(arr, i, e) {
		if (!json_is_integer(e)) {
			free(*ts);
			*ts = NULL;
			return -1;
		}
		(*ts)[(*n)++] = json_integer_value(e);
	}
	return 0;
}

static int
parse_events(const MDB_val *v, int64_t **ts, size_t *n)
{
	json_t *rec = parse_value(v);
	int rc;

	if (rec == NULL) {
		*ts = NULL;
		*n = 0;
		return -1;
	}
	rc = events_of(rec, ts, n);
	json_decref(rec);
	return rc;
}

int64_t
store_events_newest(const json_t *record)
{
	int64_t *ts, newest = 0;
	size_t n;

	if (events_of(record, &ts, &n) == -1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ts[i] > newest)
			newest = ts[i];
	free(ts);
	return newest;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * In one write transaction: read key's timestamps, move any later than now
 * back to now (so a clock that jumped back counts them for at most one
 * more window, not until it catches up), drop those outside the window,
 * add now, keep the newest keep, write the list back. An unreadable record
 * is logged and started afresh: a counter must not stay wedged.
 */
int
store_events_add(struct store *st, const char *key, int64_t now,
    int64_t window, unsigned keep)
{
	int64_t start = window_start(now, window), *ts = NULL;
	size_t n = 0, i, m, from;
	json_t *rec, *arr;
	MDB_txn *txn;
	MDB_val k, v;
	char *dump;
	int rc;

	if (st->redis != NULL)
		return rstore_events_add(st->redis, key, now, window, keep);
	if (make_key(STORE_EVENTS, key, &k) == -1)
		return -1;
	/* The event just recorded is always kept; the result is an int. */
	if (keep == 0)
		keep = 1;
	if (keep > INT_MAX)
		keep = INT_MAX;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		log_write_error(st, STORE_EVENTS, key, "write", rc);
		return -1;
	}
	rc = mdb_get(txn, st->dbi[STORE_EVENTS], &k, &v);
	if (rc == 0) {
		if (parse_events(&v, &ts, &n) == -1) {
			log_unreadable(STORE_EVENTS, key);
			n = 0;
		}
	} else if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		log_write_error(st, STORE_EVENTS, key, "read", rc);
		return -1;
	}
	if (ts == NULL)
		ts = xreallocarray(NULL, 1, sizeof(*ts));

	for (i = m = 0; i < n; i++) {
		if (ts[i] > now)
			ts[i] = now;
		if (within(ts[i], start))
			ts[m++] = ts[i];
	}
	ts[m++] = now;
	/* Sorted on every write, so a record put by hand cannot upset the
	 * "newest keep" cut. */
	qsort(ts, m, sizeof(*ts), cmp_int64);
	from = m > keep ? m - keep : 0;

	rec = json_object();
	arr = json_array();
	for (i = from; i < m; i++)
		json_array_append_new(arr, json_integer(ts[i]));
	json_object_set_new(rec, "t", arr);
	dump = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	free(ts);
	if (dump == NULL) {
		mdb_txn_abort(txn);
		log_warnx("store: cannot encode events/%s", key);
		return -1;
	}
	if ((rc = put_text(txn, st->dbi[STORE_EVENTS], &k, dump)) != 0) {
		mdb_txn_abort(txn);
		log_write_error(st, STORE_EVENTS, key, "write", rc);
		return -1;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_write_error(st, STORE_EVENTS, key, "write", rc);
		return -1;
	}
	return (int)(m - from);
}

int
store_events_count(struct store *st, const char *key, int64_t now,
    int64_t window)
{
	int64_t start = window_start(now, window), *ts;
	size_t n, i;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, count = 0;

	if (st->redis != NULL)
		return rstore_events_count(st->redis, key, now, window);
	if (make_key(STORE_EVENTS, key, &k) == -1)
		return -1;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_errorx("store: cannot read events/%s: %s", key,
		    mdb_strerror(rc));
		return -1;
	}
	rc = mdb_get(txn, st->dbi[STORE_EVENTS], &k, &v);
	if (rc == 0) {
		if (parse_events(&v, &ts, &n) == -1)
			log_unreadable(STORE_EVENTS, key);
		else {
			for (i = 0; i < n; i++)
				if (within(ts[i], start) && count < INT_MAX)
					count++;
			free(ts);
		}
	} else if (rc != MDB_NOTFOUND) {
		log_errorx("store: cannot read events/%s: %s", key,
		    mdb_strerror(rc));
		count = -1;
	}
	mdb_txn_abort(txn);
	return count;
}

/* ------------------------------------------------------------------------
 * The backend from [state]
 */

struct store *
store_open_config(const struct config *cfg, bool reader, char *err,
    size_t errlen)
{
	struct store *st;

	if (cfg->state.backend != STATE_REDIS)
		return reader ? store_open_reader(cfg->daemon.state_dir, err,
		    errlen) : store_open(cfg->daemon.state_dir, err, errlen);
	st = xcalloc(1, sizeof(*st));
	st->lockfd = -1;
	st->path = xstrdup("redis");
	if ((st->redis = rstore_open(cfg, reader, err, errlen)) == NULL) {
		store_close(st);
		return NULL;
	}
	return st;
}

int
store_attach(struct store *st, struct event_base *base)
{
	return st->redis == NULL ? 0 : rstore_attach(st->redis, base);
}

bool
store_shared(const struct store *st)
{
	return st->redis != NULL;
}

bool
store_ready(struct store *st)
{
	return st->redis == NULL || rstore_ready(st->redis);
}

int
store_lease(struct store *st, const char *key, unsigned ms)
{
	return st->redis == NULL ? 1 : rstore_lease(st->redis, key, ms);
}

void
store_unlease(struct store *st, const char *key)
{
	if (st->redis != NULL)
		rstore_unlease(st->redis, key);
}

int
store_reserve(struct store *st, const char *events, const char *key,
    const char *token, int64_t now, int64_t window, unsigned limit,
    unsigned ms)
{
	return st->redis == NULL ? -1 : rstore_reserve(st->redis, events, key,
	    token, now, window, limit, ms);
}

void
store_unreserve(struct store *st, const char *key, const char *token)
{
	if (st->redis != NULL)
		rstore_unreserve(st->redis, key, token);
}

int64_t
store_step_last(struct store *st, const char *key)
{
	return st->redis == NULL ? -1 : rstore_step_last(st->redis, key);
}

int
store_step_take(struct store *st, const char *key, int64_t step,
    unsigned ttl)
{
	return st->redis == NULL ? -1 :
	    rstore_step_take(st->redis, key, step, ttl);
}
