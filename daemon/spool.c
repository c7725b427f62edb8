/*
 * spool.c - the queue folders: claim, hand over, answer, quarantine.
 *
 * The file system is the state machine (see spool.h for the folders): a
 * request's state is the folder its file sits in, and every transition is
 * one rename(2). A request is ours once new/ID.json has become cur/ID.json;
 * it is done once out/ID.json is durable and cur/ID.json is gone. A crash
 * between any two steps leaves a state that the next start finishes: a file
 * in cur/ with its answer in out/ was answered and is removed, one without
 * is handed over again (resumed).
 *
 * What this module guarantees:
 * - Every path is a single name resolved against a folder descriptor opened
 *   once with O_NOFOLLOW, and no call follows a symlink in that name, so a
 *   front end that swaps a component cannot redirect a read, a write or an
 *   unlink. Names are checked (ID.json, ID of [A-Za-z0-9_-]{1,64}) before
 *   they are used to build any other name.
 * - Only regular files with one link and at most SPOOL_MAX_SIZE bytes are
 *   read; opens are non-blocking, so a fifo cannot stall the daemon.
 * - Claims and quarantines never replace an existing file
 *   (RENAME_NOREPLACE), so two requests with one ID cannot overwrite each
 *   other; the second goes to bad/ and the first one's answer stands.
 * - An answer is written under a temporary name, fsync'd, renamed and its
 *   folder fsync'd before the request file is removed.
 * - Request bytes live in locked memory (common/secret.h), wiped when freed; neither
 *   they nor answers are ever logged. File names are logged (log.c escapes
 *   control characters).
 *
 * Cost: new/ is read once into a list of names, which claims consume and
 * inotify events extend; it is read again only by the rescan timer, after
 * an inotify overflow, or when the list runs dry while it may be
 * incomplete. A claim is a few *at() calls whatever new/ holds. Claims run
 * from the event loop, SPOOL_CLAIM_BATCH per turn, so an owner may answer
 * (or pause, or even close the spool) from inside its callback.
 *
 * queue_dir, rescan_interval and answer_ttl are copied at spool_open(): a
 * reload that changes them takes effect with a new spool.
 *
 * What it never does: stop the daemon over a file. Access problems are
 * logged and the file is left where it is (tried again at the next scan) or
 * moved to bad/; only running out of memory is fatal.
 *
 * Nor does it blame a request for a shortage of file descriptors (EMFILE,
 * ENFILE), which passes: a request that cannot be opened for want of one
 * goes back to new/ (or stays in cur/, when resumed), and an answer that
 * cannot be created is kept in locked memory; claims then pause and both
 * are tried again every SPOOL_FD_RETRY seconds. Nothing is quarantined or
 * lost for it, and the loop never spins on it.
 */
#include "build.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/spool.h"

/* Claims per turn of the event loop: a full new/ must not starve signals,
 * directory replies or the watchdog. */
#define SPOOL_CLAIM_BATCH 32
/* Names kept from one scan of new/. A flooded new/ costs bounded memory;
 * what did not fit is found by scanning again once the list runs dry. */
#define SPOOL_LIST_MAX 65536
/* A temporary answer this old (seconds) is the leftover of a crash. */
#define SPOOL_TMP_TTL 60
/* How deep bad/ cleaning follows a directory that was dropped into new/. */
#define SPOOL_TREE_DEPTH 16
/* Seconds between tries while file descriptors are short. */
#define SPOOL_FD_RETRY 1

#define PROBLEM_NOT_REGULAR "The request file is not a regular file."
#define PROBLEM_TOO_LARGE "The request is larger than 64 KiB."
#define PROBLEM_LINKS "The request file has more than one name."
#define PROBLEM_UNREADABLE "The request file could not be read."

enum spool_dir {
	SD_TMP,
	SD_NEW,
	SD_CUR,
	SD_OUT,
	SD_BAD,
	SD_COUNT,
};

/* The front end's group writes tmp/ and new/ and reads (and may remove)
 * answers in out/; cur/ and bad/ hold request bytes only ssprd may read. */
static const struct {
	const char *name;
	mode_t mode;
} spool_dirs[SD_COUNT] = {
	[SD_TMP] = { "tmp", 0770 },
	[SD_NEW] = { "new", 0770 },
	[SD_CUR] = { "cur", 0700 },
	[SD_OUT] = { "out", 0770 },
	[SD_BAD] = { "bad", 0700 },
};

/* Names waiting to be looked at, oldest first. */
struct namelist {
	char **v;
	size_t head, n, cap;
};

struct spool_item {
	struct spool_request req;	/* first: spool_answer() gets &req */
	TAILQ_ENTRY(spool_item) entry;
	bool in_cur;		/* cur/ID.json is this request's file */
	/* Answered, but out/ could not take the answer for want of a file
	 * descriptor: kept (secret_alloc()) until it can. The owner has let
	 * go of req. */
	char *answer;
	size_t answer_len;
};

struct spool {
	struct event_base *base;
	spool_request_fn *fn;
	void *arg;
	char *queue_dir;		/* for messages only */
	unsigned rescan_interval, answer_ttl;

	int fd[SD_COUNT];		/* -1 for tmp/: only front ends use it */
	int inotify_fd;			/* -1: no watch, scans only */
	bool watching;
	struct event *ev_inotify, *ev_rescan, *ev_sweep, *ev_claim;
	struct event *ev_retry;		/* ends a descriptor shortage's pause */

	struct namelist resume;		/* from cur/ at start */
	struct namelist fresh;		/* from new/ */
	unsigned waiting;		/* new/ as of the last scan, adjusted */
	bool dirty;			/* new/ may hold names not in fresh */

	/* Names in new/ that cannot be moved aside (a directory a front end
	 * made: renaming it needs write access to it, which the daemon lacks)
	 * and have been answered or logged once: not looked at again. */
	struct strlist stuck;

	TAILQ_HEAD(, spool_item) items;	/* handed over, not answered */
	unsigned active;
	unsigned bad_seq;

	bool started, paused, held;
	bool short_of_fds;		/* claims wait for ev_retry */
	bool claiming;			/* inside the owner's callback */
	bool closing;			/* spool_close() came from the callback */
};

static void spool_schedule(struct spool *);

/* Lines that a descriptor shortage repeats every SPOOL_FD_RETRY seconds. */
static struct log_limit fd_limit = LOG_LIMIT(10, 1);

/* A want of file descriptors (ours or the system's): it passes. */
static bool
spool_fd_shortage(int e)
{
	return e == EMFILE || e == ENFILE;
}

/* Pause claims until ev_retry: claiming more now would only fail again. */
static void
spool_short_of_fds(struct spool *s)
{
	struct timeval tv = { .tv_sec = SPOOL_FD_RETRY };

	s->short_of_fds = true;
	if (!evtimer_pending(s->ev_retry, NULL))
		evtimer_add(s->ev_retry, &tv);
}

/*
 * "ID.json" with ID 1-64 of [A-Za-z0-9_-]: copies ID into id. Anything else
 * (dots, slashes, spaces, bytes beyond ASCII) is not a request name, so a
 * name that passes can be pasted into another folder's path as it is.
 */
static bool
spool_id_from_name(const char *name, char id[SPOOL_ID_MAX + 1])
{
	size_t n = strlen(name), i;

	if (n <= 5 || n - 5 > SPOOL_ID_MAX || strcmp(name + n - 5, ".json") != 0)
		return false;
	for (i = 0; i < n - 5; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	memcpy(id, name, n - 5);
	id[n - 5] = '\0';
	return true;
}

static bool
namelist_empty(const struct namelist *l)
{
	return l->head == l->n;
}

static size_t
namelist_len(const struct namelist *l)
{
	return l->n - l->head;
}

static void
namelist_push(struct namelist *l, const char *name)
{
	/* Reuse the consumed front before growing, so a list that never runs
	 * dry under steady traffic does not grow without bound. */
	if (l->head > 0 && (l->head == l->n || l->n == l->cap)) {
		memmove(l->v, l->v + l->head, namelist_len(l) * sizeof(*l->v));
		l->n -= l->head;
		l->head = 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(name);
}

/* The oldest name, now the caller's to free; NULL when empty. */
static char *
namelist_pop(struct namelist *l)
{
	if (namelist_empty(l))
		return NULL;
	return l->v[l->head++];
}

static void
namelist_clear(struct namelist *l)
{
	while (!namelist_empty(l))
		free(l->v[l->head++]);
	l->head = l->n = 0;
}

static void
namelist_free(struct namelist *l)
{
	namelist_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

/*
 * Replace list with the names in folder which (all but "." and ".."), at
 * most SPOOL_LIST_MAX of them. Returns how many there were, which may be
 * more than were kept, or -1 when the folder cannot be read (logged).
 */
static long
spool_scan(struct spool *s, enum spool_dir which, struct namelist *list)
{
	struct dirent *de;
	long count = 0;
	DIR *d;
	int fd;

	namelist_clear(list);
	/* A fresh descriptor: readdir() needs its own file position. */
	fd = openat(s->fd[which], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (spool_fd_shortage(errno))
			log_limited(&fd_limit, LOG_LEVEL_WARNING, errno,
			    "spool: cannot read %s/ now",
			    spool_dirs[which].name);
		else
			log_warn("spool: cannot read %s/",
			    spool_dirs[which].name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		count++;
		if (namelist_len(list) < SPOOL_LIST_MAX)
			namelist_push(list, de->d_name);
	}
	if (errno != 0)
		log_warn("spool: reading %s/", spool_dirs[which].name);
	closedir(d);
	return count;
}

static void
spool_scan_new(struct spool *s)
{
	long count = spool_scan(s, SD_NEW, &s->fresh);

	if (count < 0) {
		/* Try again when the list runs dry rather than never. */
		s->dirty = true;
		return;
	}
	s->waiting = count > UINT_MAX ? UINT_MAX : (unsigned)count;
	/* Without a watch nothing reports what arrives while we drain, so look
	 * again when the list runs dry, until a scan finds nothing. */
	s->dirty = (size_t)count > namelist_len(&s->fresh) ||
	    (!s->watching && count > 0);
}

/*
 * Rename without replacing anything: a claim or quarantine must never
 * destroy another request's file.
 */
static int
spool_rename(int from, const char *name, int to, const char *newname)
{
	struct stat st;

	if (renameat2(from, name, to, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE. Only this process puts
	 * files into cur/ and bad/, so looking first is enough there. */
	if (fstatat(to, newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(from, name, to, newname);
}

/*
 * Move folder from's name to bad/ under a fresh name (carrying id when it is
 * usable, for whoever looks), and log why. 0, or -1 when it stays where it
 * is (logged unless it simply vanished).
 */
static int
spool_quarantine(struct spool *s, enum spool_dir from, const char *name,
    const char *id, const char *why)
{
	char bad[128];
	struct timespec ts;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(bad, sizeof(bad), "bad-%lld%09ld-%u%s%s",
		    (long long)ts.tv_sec, (long)ts.tv_nsec, ++s->bad_seq,
		    id ? "-" : "", id ? id : "");
		if (spool_rename(s->fd[from], name, s->fd[SD_BAD], bad) == 0) {
			/* answer_ttl counts from now, not from whenever a front
			 * end wrote the file, so an admin has that long to look.
			 * Never follows: the file may be a symlink. */
			(void)utimensat(s->fd[SD_BAD], bad, NULL,
			    AT_SYMLINK_NOFOLLOW);
			log_warnx("spool: %s/%s: %s; moved to bad/%s",
			    spool_dirs[from].name, name, why, bad);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	if (errno == ENOENT)
		log_debug("spool: %s/%s vanished", spool_dirs[from].name, name);
	else
		log_warn("spool: %s/%s: %s, but it cannot be moved to bad/",
		    spool_dirs[from].name, name, why);
	return -1;
}

/* The answer sentence for what st shows, or NULL when it can be a request;
 * *why gets the words for the log. */
static const char *
spool_check_stat(const struct stat *st, const char **why)
{
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		return PROBLEM_NOT_REGULAR;
	}
	if (st->st_nlink != 1) {
		/* A hard link could make us read a file its owner never
		 * meant to send. */
		*why = "has more than one link";
		return PROBLEM_LINKS;
	}
	if (st->st_size > SPOOL_MAX_SIZE) {
		*why = "larger than 64 KiB";
		return PROBLEM_TOO_LARGE;
	}
	return NULL;
}

static unsigned char *
spool_secure_alloc(size_t n)
{
	return secret_alloc(n);	/* fatal when out of locked memory */
}

/*
 * Read all of fd, which held size bytes when fstat()ed, into secret_alloc()
 * memory followed by a NUL. A file still growing may grow up to
 * SPOOL_MAX_SIZE; beyond, or on a read error, returns NULL with *problem and
 * *why set.
 */
static unsigned char *
spool_read(int fd, size_t size, size_t *lenp, const char **problem,
    const char **why)
{
	unsigned char *buf, *bigger, probe;
	size_t cap = size, len = 0;	/* cap: room before the NUL */
	ssize_t n;

	buf = spool_secure_alloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (len > SPOOL_MAX_SIZE) {
				*problem = PROBLEM_TOO_LARGE;
				*why = "grew beyond 64 KiB while read";
				goto fail;
			}
			/* Full: a byte more means it grew after fstat(). */
			n = read(fd, &probe, 1);
			if (n == 0)
				break;
			if (n == -1) {
				if (errno == EINTR)
					continue;
				goto ioerr;
			}
			bigger = spool_secure_alloc(SPOOL_MAX_SIZE + 2);
			memcpy(bigger, buf, len);
			secret_free(buf);
			buf = bigger;
			/* One byte past the limit is enough to refuse it. */
			cap = SPOOL_MAX_SIZE + 1;
			buf[len++] = probe;
			continue;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto ioerr;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;

ioerr:
	*problem = PROBLEM_UNREADABLE;
	*why = "cannot be read";
fail:
	secret_free(buf);
	return NULL;
}

static void
spool_hand_over(struct spool *s, const char *id, unsigned char *data,
    size_t len, bool resumed, const char *problem, bool in_cur,
    const struct stat *st)
{
	struct spool_item *item = xcalloc(1, sizeof(*item));

	snprintf(item->req.id, sizeof(item->req.id), "%s", id);
	/* Renames keep inode and mtime: a request resumed from cur/ has the
	 * identity it had when its work began. */
	if (st != NULL)
		item->req.arrived = (double)st->st_mtim.tv_sec +
		    (double)st->st_mtim.tv_nsec / 1e9;
	if (st != NULL)
		snprintf(item->req.file, sizeof(item->req.file),
		    "%ju:%jd.%09ld:%jd", (uintmax_t)st->st_ino,
		    (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
		    (intmax_t)st->st_size);
	item->req.data = data;
	item->req.len = len;
	item->req.resumed = resumed;
	item->req.problem = problem;
	item->req.claimed_at = mono_now();
	item->in_cur = in_cur;
	TAILQ_INSERT_TAIL(&s->items, item, entry);
	s->active++;
	s->fn(&item->req, s->arg);
}

/*
 * cur/name could not be opened for want of a descriptor: not its fault. A
 * fresh claim goes back to new/ as it came (it was never handed over, so it
 * is new again); a resumed request, or one whose way back is taken by a
 * newer file with its ID, waits in cur/ and is resumed after the pause.
 */
static void
spool_unclaim(struct spool *s, const char *name, bool resumed, int e)
{
	bool back = !resumed &&
	    spool_rename(s->fd[SD_CUR], name, s->fd[SD_NEW], name) == 0;

	if (back) {
		/* inotify reports it again; without a watch a scan must. */
		s->dirty = true;
	} else {
		namelist_push(&s->resume, name);
	}
	log_limited(&fd_limit, LOG_LEVEL_WARNING, e, "spool: %s: cannot open "
	    "it now; it waits in %s for free file descriptors", name,
	    back ? "new/" : "cur/");
	spool_short_of_fds(s);
}

/*
 * cur/name is ours (just claimed, or resumed): read it and hand it over, or
 * move it to bad/ and hand over its problem.
 */
static void
spool_load(struct spool *s, const char *name, const char *id, bool resumed)
{
	const char *problem = NULL, *why = NULL;
	unsigned char *data = NULL;
	struct stat st;
	size_t len = 0;
	int fd;

	/* Non-blocking: a fifo must not hang the daemon until a writer comes;
	 * no follow: a symlink is refused, not read through. */
	fd = openat(s->fd[SD_CUR], name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		if (errno == ENOENT) {
			log_warnx("spool: cur/%s vanished before it was read",
			    name);
			return;
		}
		if (spool_fd_shortage(errno)) {
			spool_unclaim(s, name, resumed, errno);
			return;
		}
		if (errno == ELOOP || errno == ENXIO) {
			problem = PROBLEM_NOT_REGULAR;
			why = "not a regular file";
		} else {
			log_warn("spool: cur/%s", name);
			problem = PROBLEM_UNREADABLE;
			why = "cannot be opened";
		}
	} else {
		if (fstat(fd, &st) == -1) {
			problem = PROBLEM_UNREADABLE;
			why = "cannot be examined";
		} else if ((problem = spool_check_stat(&st, &why)) == NULL)
			data = spool_read(fd, (size_t)st.st_size, &len,
			    &problem, &why);
		close(fd);
	}
	if (problem == NULL) {
		spool_hand_over(s, id, data, len, resumed, NULL, true, &st);
		return;
	}
	/* When it cannot even go to bad/, it stays ours in cur/, and the
	 * answer removes it. */
	spool_hand_over(s, id, NULL, 0, resumed, problem,
	    spool_quarantine(s, SD_CUR, name, id, why) == -1, NULL);
}

/* Why a new request with this ID cannot be taken, or NULL. */
static const char *
spool_id_busy(struct spool *s, const char *id, const char *name)
{
	struct spool_item *item;
	struct stat st;

	TAILQ_FOREACH(item, &s->items, entry)
		if (strcmp(item->req.id, id) == 0)
			return "its ID is being handled already";
	if (fstatat(s->fd[SD_OUT], name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return "its ID has an answer in out/ already";
	if (fstatat(s->fd[SD_CUR], name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return "its ID is in cur/ already";
	return NULL;
}

#define STUCK_MAX 1024

static void
spool_stuck(struct spool *s, const char *name)
{
	if (s->stuck.n < STUCK_MAX)
		strlist_add(&s->stuck, name);
}

/* Look at new/name: claim it, refuse it, or leave it (it vanished, or it
 * cannot be moved now; the next scan finds it again). */
static void
spool_take(struct spool *s, const char *name)
{
	char id[SPOOL_ID_MAX + 1];
	const char *problem, *why;
	struct stat st;

	if (strlist_has(&s->stuck, name))
		return;
	if (!spool_id_from_name(name, id)) {
		if (spool_quarantine(s, SD_NEW, name, NULL,
		    "not a request file name") != 0)
			spool_stuck(s, name);
		return;
	}
	if (fstatat(s->fd[SD_NEW], name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		/* ENOENT: listed twice (scan and inotify), or taken back. */
		if (errno != ENOENT)
			log_warn("spool: new/%s", name);
		return;
	}
	if ((why = spool_id_busy(s, id, name)) != NULL) {
		/* The earlier request's answer stands; this one gets none,
		 * since out/ID.json can only hold one. */
		spool_quarantine(s, SD_NEW, name, id, why);
		return;
	}
	if ((problem = spool_check_stat(&st, &why)) != NULL) {
		/* Answered even when it cannot be moved aside: once. */
		if (spool_quarantine(s, SD_NEW, name, id, why) != 0) {
			if (errno == ENOENT)
				return;
			spool_stuck(s, name);
		}
		spool_hand_over(s, id, NULL, 0, false, problem, false, NULL);
		return;
	}
	/* The claim. Only this process fills cur/, so EEXIST means a race
	 * with a file of the same ID that the checks above did not see. */
	if (spool_rename(s->fd[SD_NEW], name, s->fd[SD_CUR], name) == -1) {
		if (errno == EEXIST)
			spool_quarantine(s, SD_NEW, name, id,
			    "its ID is in cur/ already");
		else if (errno != ENOENT)
			log_warn("spool: new/%s: cannot claim it", name);
		return;
	}
	spool_load(s, name, id, false);
}

static void
spool_on_claim(evutil_socket_t fd, short what, void *arg)
{
	struct spool *s = arg;
	char id[SPOOL_ID_MAX + 1], *name;
	unsigned n;

	s->claiming = true;
	for (n = 0; !s->closing && !s->paused && !s->held &&
	    !s->short_of_fds && s->active < SPOOL_MAX_ACTIVE;
	    n++) {
		if (n == SPOOL_CLAIM_BATCH) {
			spool_schedule(s);
			break;
		}
		/* Left in cur/ by the last run: before anything new. */
		if ((name = namelist_pop(&s->resume)) != NULL) {
			if (spool_id_from_name(name, id))
				spool_load(s, name, id, true);
			free(name);
			continue;
		}
		if (namelist_empty(&s->fresh) && s->dirty)
			spool_scan_new(s);
		if ((name = namelist_pop(&s->fresh)) == NULL)
			break;
		if (s->waiting > 0)
			s->waiting--;
		spool_take(s, name);
		free(name);
	}
	s->claiming = false;
	if (s->closing)
		spool_close(s);
}

/* Claim from the event loop, never from inside spool_answer(): an owner
 * that answers in its callback must not recurse once per request. */
static void
spool_schedule(struct spool *s)
{
	if (s->started && !s->paused && !s->held && !s->short_of_fds &&
	    !s->closing)
		event_active(s->ev_claim, EV_TIMEOUT, 0);
}

/* Is new/NAME a regular file (without following a symlink)? */
static bool
spool_is_regular(const struct spool *s, const char *name)
{
	struct stat st;

	return fstatat(s->fd[SD_NEW], name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

static void
spool_on_inotify(evutil_socket_t fd, short what, void *arg)
{
	/* Aligned for struct inotify_event, as inotify(7) asks. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct spool *s = arg;
	bool overflow = false;
	ssize_t n;
	char *p;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (errno != EAGAIN)
				log_warn("spool: reading inotify events");
			break;
		}
		if (n == 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = true;
			} else if (ev->mask & IN_IGNORED) {
				/* new/ was removed or its file system
				 * unmounted: only the timer is left. */
				log_warnx("spool: new/ is no longer watched");
				s->watching = false;
			} else if (ev->len > 0 &&
			    ((ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) ||
			    ((ev->mask & IN_CREATE) &&
			    !spool_is_regular(s, ev->name)))) {
				/* A regular file created in place is taken
				 * when its writer closes it; anything else
				 * (symlink, directory, fifo) at once. */
				if (namelist_len(&s->fresh) < SPOOL_LIST_MAX)
					namelist_push(&s->fresh, ev->name);
				else
					s->dirty = true;
				if (s->waiting < UINT_MAX)
					s->waiting++;
			}
		}
	}
	if (overflow) {
		log_info("spool: inotify queue overflowed; scanning new/");
		spool_scan_new(s);
	}
	spool_schedule(s);
}

static void
spool_on_rescan(evutil_socket_t fd, short what, void *arg)
{
	struct spool *s = arg;

	spool_scan_new(s);
	spool_schedule(s);
}

/* Remove name from dirfd whatever it is; a directory (dropped into new/ and
 * quarantined) is emptied first, SPOOL_TREE_DEPTH levels at most. */
static int
spool_remove(int at, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (unlinkat(at, name, 0) == 0)
		return 0;
	/* Linux says EISDIR, POSIX EPERM. */
	if ((errno != EISDIR && errno != EPERM) || depth >= SPOOL_TREE_DEPTH)
		return -1;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)spool_remove(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	return unlinkat(at, name, AT_REMOVEDIR);
}

/*
 * answer_ttl: remove answers nobody collected and what bad/ holds, by mtime,
 * and temporary answers a crash left behind. An answer whose request file
 * is still in cur/ stays whatever its age: it is what tells the next start
 * that the request was done.
 */
static void
spool_sweep_dir(struct spool *s, enum spool_dir which, time_t now)
{
	char id[SPOOL_ID_MAX + 1];
	struct namelist names = { 0 };
	struct stat st;
	time_t ttl;
	char *name;
	int fd = s->fd[which];

	if (spool_scan(s, which, &names) <= 0) {
		namelist_free(&names);
		return;
	}
	while ((name = namelist_pop(&names)) != NULL) {
		ttl = s->answer_ttl;
		if (which == SD_OUT) {
			if (name[0] == '.' && strstr(name, ".json.tmp.") != NULL)
				ttl = SPOOL_TMP_TTL;
			else if (!spool_id_from_name(name, id) ||
			    fstatat(s->fd[SD_CUR], name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
				goto next;
		}
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    st.st_mtime > now - ttl)
			goto next;
		errno = 0;
		if (spool_remove(fd, name, 0) == -1 && errno != ENOENT)
			log_warn("spool: cannot remove expired %s/%s",
			    spool_dirs[which].name, name);
		else
			log_debug("spool: removed expired %s/%s",
			    spool_dirs[which].name, name);
next:
		free(name);
	}
	namelist_free(&names);
}

static void
spool_sweep(struct spool *s)
{
	time_t now = time(NULL);

	spool_sweep_dir(s, SD_OUT, now);
	spool_sweep_dir(s, SD_BAD, now);
}

static void
spool_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	spool_sweep(arg);
}

/* out/ID.json holds exactly json, durably, or nothing changed in out/.
 * 0, or -1: logged, unless errno tells of a descriptor shortage. */
static int
spool_write_answer(struct spool *s, const char *id, const char *json,
    size_t len)
{
	char final[SPOOL_ID_MAX + 8], tmp[SPOOL_ID_MAX + 48];
	char hex[2 * 8 + 1];
	unsigned char rnd[8];
	int out = s->fd[SD_OUT], fd;
	size_t off;
	ssize_t n;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(final, sizeof(final), "%s.json", id);
	/* A dot name: front ends look for ID.json only. Random: out/ is
	 * writable by the front end's group, who must not guess it. */
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%s", final, hex);
	fd = openat(out, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0640);
	if (fd == -1) {
		/* A shortage is the caller's to handle (and say). */
		if (!spool_fd_shortage(errno))
			log_warn("spool: out/%s: cannot create the answer", tmp);
		return -1;
	}
	/* The front end's group must read it whatever our umask is. */
	if (fchmod(fd, 0640) == -1)
		goto fail;
	for (off = 0; off < len; off += (size_t)n) {
		n = write(fd, json + off, len - off);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n == -1)
			goto fail;
	}
	if (fsync(fd) == -1)
		goto fail;
	n = close(fd);
	fd = -1;
	if (n == -1 || renameat(out, tmp, out, final) == -1)
		goto fail;
	if (fsync(out) == -1) {
		/* Visible but maybe not durable: keep the request file, so
		 * the next start decides by what survived. */
		log_warn("spool: out/%s: cannot sync out/", final);
		return -1;
	}
	return 0;

fail:
	log_warn("spool: out/%s: cannot write the answer", final);
	if (fd != -1)
		close(fd);
	(void)unlinkat(out, tmp, 0);
	return -1;
}

static void
spool_item_free(struct spool_item *item)
{
	if (item->req.data != NULL)
		secret_free(item->req.data);
	if (item->answer != NULL)
		secret_free(item->answer);
	free(item);
}

/* Forget a handed-over request: wipe and free it, and take more. */
static void
spool_forget(struct spool *s, struct spool_item *item)
{
	TAILQ_REMOVE(&s->items, item, entry);
	s->active--;
	spool_item_free(item);
	/* A slot is free: claim more now, not at the next rescan. */
	spool_schedule(s);
}

void
spool_release(struct spool *s, struct spool_request *req)
{
	spool_forget(s, (struct spool_item *)req);
}

/* The answer is durable: the request file goes. */
static void
spool_done(struct spool *s, struct spool_item *item)
{
	char name[SPOOL_ID_MAX + 8];

	if (!item->in_cur)
		return;
	snprintf(name, sizeof(name), "%s.json", item->req.id);
	if (unlinkat(s->fd[SD_CUR], name, 0) == -1 && errno != ENOENT)
		log_warn("spool: cur/%s: cannot remove it", name);
	/* Losing this unlink in a crash is harmless: the next start sees
	 * the answer and removes the file then. */
	else if (fsync(s->fd[SD_CUR]) == -1)
		log_warn("spool: cannot sync cur/");
}

/* Keep item's answer until out/ can take it (see spool_on_retry()). */
static void
spool_keep_answer(struct spool *s, struct spool_item *item, const char *json,
    size_t len, int e)
{
	if (item->answer == NULL) {
		item->answer = (char *)secret_alloc(len + 1);
		memcpy(item->answer, json, len);
		item->answer[len] = '\0';
		item->answer_len = len;
		log_limited(&fd_limit, LOG_LEVEL_WARNING, e, "spool: "
		    "out/%s.json: cannot create the answer now; kept, to be "
		    "written once file descriptors are free", item->req.id);
	}
	spool_short_of_fds(s);
}

int
spool_answer(struct spool *s, struct spool_request *req, const char *json,
    size_t len)
{
	struct spool_item *item = (struct spool_item *)req;
	int rc;

	rc = spool_write_answer(s, req->id, json, len);
	if (rc == -1 && spool_fd_shortage(errno)) {
		/* Not durable yet: -1 all the same, so that the owner keeps
		 * what a crash before the write would need. */
		spool_keep_answer(s, item, json, len, errno);
		return -1;
	}
	if (rc == 0)
		spool_done(s, item);
	spool_forget(s, item);
	return rc;
}

/*
 * Write the answers kept for want of descriptors. Returns false when the
 * shortage lasts (the rest stay kept). An answer that fails otherwise is
 * let go of as spool_answer() would have: its request stays in cur/.
 */
static bool
spool_write_kept(struct spool *s)
{
	struct spool_item *item, *next;

	for (item = TAILQ_FIRST(&s->items); item != NULL; item = next) {
		next = TAILQ_NEXT(item, entry);
		if (item->answer == NULL)
			continue;
		if (spool_write_answer(s, item->req.id, item->answer,
		    item->answer_len) == 0) {
			log_info("spool: out/%s.json: the kept answer is "
			    "written", item->req.id);
			spool_done(s, item);
		} else if (spool_fd_shortage(errno)) {
			return false;
		}
		spool_forget(s, item);
	}
	return true;
}

/* The pause of a descriptor shortage is over: kept answers first, then
 * claims (which try the unclaimed requests again). */
static void
spool_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct spool *s = arg;

	s->short_of_fds = false;
	if (!spool_write_kept(s)) {
		spool_short_of_fds(s);
		return;
	}
	spool_schedule(s);
}

/* Open (creating it if missing) a folder we work in; never through a
 * symlink, and it must be a directory. */
static int
spool_open_dir(int at, const char *name, mode_t mode, bool tighten,
    char *err, size_t errlen)
{
	struct stat st;
	bool created;
	int fd;

	created = mkdirat(at, name, mode) == 0;
	if (!created && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", name,
		    strerror(errno));
		return -1;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		int e = errno;

		/* With O_DIRECTORY, Linux reports a symlink as ENOTDIR. */
		if (e == ELOOP || (e == ENOTDIR &&
		    fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode)))
			snprintf(err, errlen, "%s: is a symlink", name);
		else
			snprintf(err, errlen, "%s: %s", name, e == ENOTDIR ?
			    "not a directory" : strerror(e));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* mkdir's mode went through the umask; the front end's group needs
	 * exactly these bits. Folders that hold request bytes lose any
	 * group or other access an admin gave them. */
	if ((created && (st.st_mode & 07777) != mode) ||
	    (tighten && (st.st_mode & 077) != 0)) {
		if (!created)
			log_warnx("spool: %s had mode %04o; setting %04o", name,
			    (unsigned)(st.st_mode & 07777), (unsigned)mode);
		if (fchmod(fd, mode) == -1)
			log_warn("spool: %s: cannot set mode %04o", name,
			    (unsigned)mode);
	}
	return fd;
}

static void
spool_watch(struct spool *s)
{
	char path[PATH_MAX];
	int wd;

	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd == -1) {
		log_warn("spool: no inotify; new/ is scanned every %u s",
		    s->rescan_interval);
		return;
	}
	/* inotify takes a path: the descriptor's own /proc link names the
	 * very folder we opened, whatever happened to queue_dir since. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd[SD_NEW]);
	wd = inotify_add_watch(s->inotify_fd, path,
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR);
	if (wd == -1 && errno == ENOENT) {
		/* No /proc: by name, at least never through a symlink. */
		snprintf(path, sizeof(path), "%s/new", s->queue_dir);
		wd = inotify_add_watch(s->inotify_fd, path,
		    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR |
		    IN_DONT_FOLLOW);
	}
	if (wd == -1) {
		log_warn("spool: cannot watch new/; it is scanned every %u s",
		    s->rescan_interval);
		close(s->inotify_fd);
		s->inotify_fd = -1;
		return;
	}
	s->watching = true;
}

/*
 * The front end's side: queue_dir and tmp/ new/ out/ belong to
 * [daemon] submit_group (queue_dir 2750, the three 2770, setgid so what is
 * created in them keeps the group). ssprd must be a member of the group
 * (systemd: SupplementaryGroups=). A group that does not exist leaves the
 * folders to the daemon's own group, with a log line.
 */
static bool
in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (getegid() == gid)
		return true;
	if ((n = getgroups(256, groups)) < 0)
		return true;	/* cannot tell: say nothing */
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static void
spool_share(const struct config *cfg, int root, const int *fd)
{
	static const enum spool_dir shared[] = { SD_TMP, SD_NEW, SD_OUT };
	const char *name = cfg->daemon.submit_group;
	struct group *gr;

	if (name == NULL) {
		log_warnx("spool: submit_group is empty: only requests this "
		    "account wrote can be read; another account's (a front "
		    "end's) would be refused as unreadable");
		return;
	}
	if ((gr = getgrnam(name)) == NULL) {
		log_warnx("spool: no group %s: the queue folders keep the "
		    "daemon's group, and only requests this account wrote can "
		    "be read; another account's (a front end's) would be "
		    "refused as unreadable. Create the group with both "
		    "accounts in it", name);
		return;
	}
	if (!in_group(gr->gr_gid))
		log_warnx("spool: this process is not in group %s: requests "
		    "another account (a front end) wrote cannot be read. "
		    "Make the account a member (systemd: "
		    "SupplementaryGroups=%s)", name, name);
	if (fchown(root, (uid_t)-1, gr->gr_gid) == -1 ||
	    fchmod(root, 02750) == -1)
		log_warn("spool: %s: cannot give it to group %s",
		    cfg->daemon.queue_dir, name);
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (fchown(fd[shared[i]], (uid_t)-1, gr->gr_gid) == -1 ||
		    fchmod(fd[shared[i]], 02770) == -1)
			log_warn("spool: %s/%s: cannot give it to group %s",
			    cfg->daemon.queue_dir, spool_dirs[shared[i]].name,
			    name);
}

struct spool *
spool_open(struct event_base *base, const struct config *cfg,
    spool_request_fn *fn, void *arg, char *err, size_t errlen)
{
	struct spool *s;
	struct stat st[3];
	char msg[256];
	int root, i;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "spool: libsodium cannot start");
		return NULL;
	}
	root = spool_open_dir(AT_FDCWD, cfg->daemon.queue_dir, 0750, false,
	    msg, sizeof(msg));
	if (root == -1) {
		snprintf(err, errlen, "spool: queue_dir %s", msg);
		return NULL;
	}

	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->fn = fn;
	s->arg = arg;
	s->queue_dir = xstrdup(cfg->daemon.queue_dir);
	s->rescan_interval = cfg->daemon.rescan_interval ?
	    cfg->daemon.rescan_interval : 1;
	s->answer_ttl = cfg->daemon.answer_ttl;
	s->inotify_fd = -1;
	TAILQ_INIT(&s->items);
	for (i = 0; i < SD_COUNT; i++)
		s->fd[i] = -1;
	for (i = 0; i < SD_COUNT; i++) {
		s->fd[i] = spool_open_dir(root, spool_dirs[i].name,
		    spool_dirs[i].mode, spool_dirs[i].mode == 0700, msg,
		    sizeof(msg));
		if (s->fd[i] == -1) {
			snprintf(err, errlen, "spool: %s/%s", s->queue_dir, msg);
			goto fail;
		}
	}
	spool_share(cfg, root, s->fd);
	close(root);
	root = -1;
	/* Claims and quarantines are renames between these three. */
	if (fstat(s->fd[SD_NEW], &st[0]) == -1 ||
	    fstat(s->fd[SD_CUR], &st[1]) == -1 ||
	    fstat(s->fd[SD_BAD], &st[2]) == -1 ||
	    st[0].st_dev != st[1].st_dev || st[0].st_dev != st[2].st_dev) {
		snprintf(err, errlen, "spool: %s: new/, cur/ and bad/ must be "
		    "on one file system", s->queue_dir);
		goto fail;
	}
	/* tmp/ is the front ends' own. */
	close(s->fd[SD_TMP]);
	s->fd[SD_TMP] = -1;

	spool_watch(s);
	if (s->inotify_fd != -1)
		s->ev_inotify = event_new(base, s->inotify_fd,
		    EV_READ | EV_PERSIST, spool_on_inotify, s);
	s->ev_rescan = event_new(base, -1, EV_PERSIST, spool_on_rescan, s);
	s->ev_sweep = event_new(base, -1, EV_PERSIST, spool_on_sweep, s);
	s->ev_claim = event_new(base, -1, 0, spool_on_claim, s);
	s->ev_retry = evtimer_new(base, spool_on_retry, s);
	if ((s->inotify_fd != -1 && s->ev_inotify == NULL) ||
	    s->ev_rescan == NULL || s->ev_sweep == NULL || s->ev_claim == NULL ||
	    s->ev_retry == NULL) {
		snprintf(err, errlen, "spool: cannot create events");
		goto fail;
	}
	return s;

fail:
	if (root != -1)
		close(root);
	spool_close(s);
	return NULL;
}

void
spool_start(struct spool *s)
{
	struct namelist names = { 0 };
	struct timeval tv = { 0, 0 };
	char id[SPOOL_ID_MAX + 1], *name;
	struct stat st;
	unsigned answered = 0;

	if (s->started)
		return;
	s->started = true;

	/* cur/ first. Requests answered just before a crash are settled now,
	 * before a sweep could take their answers and with them the proof. */
	(void)spool_scan(s, SD_CUR, &names);
	while ((name = namelist_pop(&names)) != NULL) {
		if (!spool_id_from_name(name, id))
			spool_quarantine(s, SD_CUR, name, NULL,
			    "not a request file name");
		else if (fstatat(s->fd[SD_OUT], name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			namelist_push(&s->resume, name);
		else if (unlinkat(s->fd[SD_CUR], name, 0) == -1)
			log_warn("spool: cur/%s: answered, but cannot remove it",
			    name);
		else {
			log_info("spool: %s was answered before the restart",
			    id);
			answered++;
		}
		free(name);
	}
	namelist_free(&names);
	if (answered > 0 && fsync(s->fd[SD_CUR]) == -1)
		log_warn("spool: cannot sync cur/");

	spool_scan_new(s);
	spool_sweep(s);
	if (s->ev_inotify != NULL)
		event_add(s->ev_inotify, NULL);
	tv.tv_sec = s->rescan_interval;
	event_add(s->ev_rescan, &tv);
	tv.tv_sec = s->answer_ttl / 4 < 60 ? s->answer_ttl / 4 : 60;
	if (tv.tv_sec == 0)
		tv.tv_sec = 1;
	event_add(s->ev_sweep, &tv);
	log_info("spool: %s: %zu to resume, %u waiting%s", s->queue_dir,
	    namelist_len(&s->resume), s->waiting,
	    s->watching ? "" : " (no inotify: scans only)");
	spool_schedule(s);
}

void
spool_pause(struct spool *s, bool paused)
{
	s->paused = paused;
	spool_schedule(s);
}

void
spool_hold(struct spool *s, bool held)
{
	s->held = held;
	spool_schedule(s);
}

unsigned
spool_waiting(const struct spool *s)
{
	size_t resume = namelist_len(&s->resume);

	return s->waiting + (resume > UINT_MAX - s->waiting ?
	    UINT_MAX - s->waiting : (unsigned)resume);
}

unsigned
spool_active(const struct spool *s)
{
	return s->active;
}

void
spool_close(struct spool *s)
{
	struct spool_item *item;
	int i;

	if (s == NULL)
		return;
	/* Called from the owner's callback: the claim loop is still on the
	 * stack and finishes the job when it unwinds. */
	if (s->claiming) {
		s->closing = true;
		return;
	}
	/* Kept answers get a last chance. Unanswered requests stay in cur/:
	 * the next start resumes them. */
	(void)spool_write_kept(s);
	while ((item = TAILQ_FIRST(&s->items)) != NULL) {
		TAILQ_REMOVE(&s->items, item, entry);
		spool_item_free(item);
	}
	namelist_free(&s->resume);
	strlist_free(&s->stuck);
	namelist_free(&s->fresh);
	if (s->ev_inotify != NULL)
		event_free(s->ev_inotify);
	if (s->ev_rescan != NULL)
		event_free(s->ev_rescan);
	if (s->ev_sweep != NULL)
		event_free(s->ev_sweep);
	if (s->ev_claim != NULL)
		event_free(s->ev_claim);
	if (s->ev_retry != NULL)
		event_free(s->ev_retry);
	if (s->inotify_fd != -1)
		close(s->inotify_fd);
	for (i = 0; i < SD_COUNT; i++)
		if (s->fd[i] != -1)
			close(s->fd[i]);
	free(s->queue_dir);
	free(s);
}

double
spool_oldest_waiting(const struct spool *s)
{
	struct timespec now;
	struct stat st;
	struct dirent *de;
	double oldest = 0;
	DIR *dir;
	int fd;

	if ((fd = openat(s->fd[SD_NEW], ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	while ((de = readdir(dir)) != NULL) {
		double age;

		if (de->d_name[0] == '.' ||
		    fstatat(s->fd[SD_NEW], de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		age = (double)(now.tv_sec - st.st_mtim.tv_sec);
		if (age > oldest)
			oldest = age;
	}
	closedir(dir);
	return oldest;
}
