/*
 * spool.h - the queue folders: how requests arrive and answers leave.
 *
 * queue_dir/ holds tmp/ (front ends write there), new/ (they rename(2)
 * complete requests into it), cur/ (ssprd claims a request by renaming it
 * here), out/ (answers, ID.json, written to a temporary name, fsync'd and
 * renamed: never torn) and bad/ (what could not be taken as a request).
 *
 * The spool claims requests from new/ (inotify, plus a rescan every
 * [daemon] rescan_interval seconds as a fallback), at most SPOOL_MAX_ACTIVE
 * at a time, and hands each to its owner's callback as a struct
 * spool_request. At start-up it first hands over everything left in cur/
 * (marked resumed: the daemon died while working on it); a resumed request
 * whose answer is already in out/ was finished, so its file is removed and
 * it is not handed over again.
 *
 * A file that cannot be a request (bad name, symlink, not a regular file,
 * larger than SPOOL_MAX_SIZE, an ID that already has an answer waiting) is
 * moved to bad/ and logged; when its name still yields a usable ID it is
 * also handed over with `problem` set, so that the owner answers it
 * bad-request. Nothing in the spool can stop the daemon, and nothing is
 * retried forever: a request whose answer cannot be written stays in cur/
 * and is tried again at the next start.
 *
 * Running out of file descriptors (EMFILE, ENFILE) is not the request's
 * fault and passes: a request that cannot be opened goes back to new/, an
 * answer that cannot be created is kept in locked memory, and claims pause
 * while both are tried again every second; neither is ever moved to bad/.
 *
 * Answers not collected within [daemon] answer_ttl are removed, as is what
 * lies in bad/ after the same time. The spool never parses JSON and never
 * logs a request's contents.
 */
#ifndef SSPRD_SPOOL_H
#define SSPRD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"

#define SPOOL_ID_MAX 64
#define SPOOL_MAX_SIZE (64 * 1024)
#define SPOOL_MAX_ACTIVE 256

struct spool;

struct spool_request {
	char id[SPOOL_ID_MAX + 1];	/* 1-64 of [A-Za-z0-9_-] */
	unsigned char *data;	/* the file, NUL-terminated, in sodium_malloc()
				 * memory (it may hold passwords); NULL when
				 * problem is set */
	size_t len;
	bool resumed;		/* found in cur/ at start-up */
	const char *problem;	/* why the file was refused (a sentence safe to
				 * show), or NULL */
	double claimed_at;	/* monotonic seconds, for answer latency */
	double arrived;		/* when it was written (the file's mtime,
				 * seconds since the epoch), 0 if unknown */
	char file[64];		/* the file's identity: inode, mtime, size
				 * ("" when unknown); the same for a request
				 * resumed after a crash, another for a new
				 * file under the same ID */
};

/* The owner gets each request exactly once and must end it with
 * spool_answer(). */
typedef void spool_request_fn(struct spool_request *req, void *arg);

/* Create the folders if missing (mode 0770 for tmp/ new/ out/, 0700 for
 * cur/ and bad/), open the watch. Returns NULL with a message in err. */
struct spool *spool_open(struct event_base *base, const struct config *cfg,
    spool_request_fn *fn, void *arg, char *err, size_t errlen);

/* Hand over cur/ (resumed), then start watching new/. */
void spool_start(struct spool *s);

/*
 * Make json the answer of req: out/ID.json written durably, then the
 * request file removed from cur/, then req freed (its data wiped). Returns 0,
 * or -1 when the answer is not durable (yet): it could not be written
 * (logged; the request stays in cur/ for the next start), or file
 * descriptors ran short and the spool keeps it to write it again shortly
 * (see below). Either way the owner must not use req again.
 */
int spool_answer(struct spool *s, struct spool_request *req, const char *json,
    size_t len);

/* Let go of req without answering it (shutdown): its file stays in cur/
 * and is handed over again, resumed, at the next start. req is freed. */
void spool_release(struct spool *s, struct spool_request *req);

/* Stop or resume claiming new requests (shutdown; work already handed over
 * is not affected). */
void spool_pause(struct spool *s, bool paused);
/* The same for back pressure (the engine's): independent of a pause, so a
 * release never undoes a shutdown's pause. */
void spool_hold(struct spool *s, bool held);

/* Requests waiting in new/ (as of the last scan) and handed over but not yet
 * answered. */
unsigned spool_waiting(const struct spool *s);
unsigned spool_active(const struct spool *s);
/* Seconds since the oldest file in new/ was written (0: none); reads the
 * folder, so for scrapes, not for every request. */
double spool_oldest_waiting(const struct spool *s);

/* Requests handed over and not yet answered stay in cur/; their structs
 * are freed, so the owner must not use them afterwards. */
void spool_close(struct spool *s);

#endif
