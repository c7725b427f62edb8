/*
 * questions.c - security questions: the stored form, normalising answers,
 * and hashing and checking them on a pool of worker threads (see
 * questions.h).
 *
 * Guarantees:
 * - questions_parse() accepts only exactly the documented shape, and leaves
 *   the set empty for anything else; questions_format() writes only sets
 *   that questions_parse() accepts, so what ssprd stores it can read back;
 * - hashes are argon2id, whatever libsodium's default algorithm is;
 * - answers live only in secret memory, normalised, and are wiped as soon as
 *   their job has run (or been dropped);
 * - hashing and checking never run on the event loop, and every callback is
 *   called on the loop thread, never from inside questions_hash() or
 *   questions_check() themselves, and at most once;
 * - a check runs every verification, whatever the earlier ones said, and
 *   succeeds only when there was at least one answer and all matched;
 * - an answer that is empty once normalised is never hashed (the hash job
 *   fails) and never matches;
 * - questions_workers_free() drops the jobs that have not started, waits for
 *   the running ones (bounded: pure computation, a fraction of a second per
 *   answer), and calls no callback of an unfinished or undelivered job.
 *
 * Threads: the job queue and the stopping flag are shared with the workers
 * and guarded by the mutex; the list of outstanding jobs and the busy count
 * belong to the loop thread alone. A job is the worker's from the moment it
 * leaves the queue until it is marked done; after that it is the loop's.
 */
#include "build.h"

#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/questions.h"

#define FORMAT_VERSION	1
#define TEXT_MAX	256	/* bytes of a question, and of a stored hash */
#define ARGON2ID_PREFIX	"$argon2id$"
#define THREADS_MAX	64

enum job_kind { JOB_HASH, JOB_CHECK };

struct qjob {
	struct qworkers *w;
	enum job_kind kind;
	size_t n;			/* answers to run (0 when refused) */
	size_t asked;			/* n as the caller gave it */
	char *answer[QUESTIONS_MAX];	/* normalised, secret memory */
	char *stored[QUESTIONS_MAX];	/* check: copies of the hashes */
	/* out, written by the worker */
	char made[QUESTIONS_MAX][crypto_pwhash_argon2id_STRBYTES];
	bool ok;			/* hash: all made; check: all matched */
	bool done;			/* under w->mu: the worker let go */
	/* whom to tell */
	struct event *ev_done;
	questions_hashed_fn *hashed_cb;
	questions_checked_fn *checked_cb;
	void *arg;
	TAILQ_ENTRY(qjob) queue;	/* waiting for a worker (w->mu) */
	LIST_ENTRY(qjob) all;		/* not yet delivered (loop only) */
};

struct qworkers {
	struct event_base *base;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* a job was queued, or stopping */
	TAILQ_HEAD(, qjob) queue;
	bool stopping;
	pthread_t *tids;
	unsigned nthreads;
	/* loop thread only */
	LIST_HEAD(, qjob) all;
	unsigned busy;
};

/* --- the stored form ----------------------------------------------------- */

static bool
good_question(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= TEXT_MAX;
}

static bool
good_hash(const char *s)
{
	return strlen(s) <= TEXT_MAX &&
	    strncmp(s, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) == 0;
}

/* A string member of o, or NULL when it is missing or not a string. */
static const char *
member_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
questions_parse(const char *value, struct question_set *qs)
{
	json_t *root, *v, *list, *item;
	const char *q, *h;
	size_t i;

	memset(qs, 0, sizeof(*qs));
	if (value == NULL)
		return -1;
	/* Duplicate keys would let two readers see two different sets. */
	if ((root = json_loads(value, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	if (!json_is_object(root) || json_object_size(root) != 2)
		goto bad;
	v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != FORMAT_VERSION)
		goto bad;
	list = json_object_get(root, "q");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > QUESTIONS_MAX)
		goto bad;
	json_array_foreach(list, i, item) {
		if (!json_is_object(item) || json_object_size(item) != 2)
			goto bad;
		q = member_string(item, "q");
		h = member_string(item, "h");
		/* jansson refuses \u0000 by default, so strlen() is the
		 * whole string. */
		if (q == NULL || h == NULL || !good_question(q) || !good_hash(h))
			goto bad;
		qs->question[qs->n] = xstrdup(q);
		qs->hash[qs->n] = xstrdup(h);
		qs->n++;
	}
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	questions_clear(qs);
	return -1;
}

char *
questions_format(const struct question_set *qs)
{
	json_t *root, *list, *item, *q, *h;
	char *out;

	if (qs->n == 0 || qs->n > QUESTIONS_MAX)
		return NULL;
	root = json_object();
	list = json_array();
	json_object_set_new(root, "v", json_integer(FORMAT_VERSION));
	json_object_set_new(root, "q", list);
	for (size_t i = 0; i < qs->n; i++) {
		if (qs->question[i] == NULL || qs->hash[i] == NULL ||
		    !good_question(qs->question[i]) || !good_hash(qs->hash[i]))
			goto bad;
		/* json_string() refuses text that is not UTF-8. */
		q = json_string(qs->question[i]);
		h = json_string(qs->hash[i]);
		if (q == NULL || h == NULL) {
			json_decref(q);
			json_decref(h);
			goto bad;
		}
		item = json_object();
		json_object_set_new(item, "q", q);
		json_object_set_new(item, "h", h);
		json_array_append_new(list, item);
	}
	/* jansson keeps keys in insertion order: {"v":1,"q":[...]} */
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
bad:
	json_decref(root);
	return NULL;
}

void
questions_clear(struct question_set *qs)
{
	for (size_t i = 0; i < QUESTIONS_MAX; i++) {
		free(qs->question[i]);
		free(qs->hash[i]);
		qs->question[i] = qs->hash[i] = NULL;
	}
	qs->n = 0;
}

/* --- normalising --------------------------------------------------------- */

/* Bytes of white space at s (len available): 0, 1, or 2 for U+00A0. */
static size_t
space_at(const unsigned char *s, size_t len)
{
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')
		return 1;
	if (len >= 2 && s[0] == 0xc2 && s[1] == 0xa0)
		return 2;
	return 0;
}

void
questions_normalise(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, sp;
	bool gap = false;

	/* A run of white space becomes one space, written only when
	 * something follows it and something came before: that trims both
	 * ends. Output never outgrows input. */
	while (i < len) {
		if ((sp = space_at(s + i, len - i)) != 0) {
			gap = (o > 0);
			i += sp;
			continue;
		}
		if (gap) {
			out[o++] = ' ';
			gap = false;
		}
		/* Only ASCII is folded: case rules beyond it depend on the
		 * locale and the Unicode version, and an answer must match
		 * the same way for years. */
		if (s[i] >= 'A' && s[i] <= 'Z')
			out[o++] = (char)(s[i] - 'A' + 'a');
		else
			out[o++] = (char)s[i];
		i++;
	}
	out[o] = '\0';
}

/* --- jobs ---------------------------------------------------------------- */

static void
job_wipe_answers(struct qjob *job)
{
	for (size_t i = 0; i < QUESTIONS_MAX; i++) {
		secret_free(job->answer[i]);
		job->answer[i] = NULL;
	}
}

static void
job_free(struct qjob *job)
{
	job_wipe_answers(job);
	for (size_t i = 0; i < QUESTIONS_MAX; i++)
		free(job->stored[i]);
	if (job->ev_done != NULL)
		event_free(job->ev_done);
	sodium_memzero(job->made, sizeof(job->made));
	free(job);
}

static void
job_run(struct qjob *job)
{
	bool ok = job->n > 0;

	for (size_t i = 0; i < job->n; i++) {
		const char *a = job->answer[i];

		/* An empty answer is no secret: never stored, never a
		 * match (but still verified, for the timing). */
		if (a[0] == '\0')
			ok = false;
		if (job->kind == JOB_HASH) {
			if (!ok)
				break;	/* the job fails: no need to go on */
			if (crypto_pwhash_argon2id_str(job->made[i], a,
			    strlen(a), crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
			    crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0 ||
			    strncmp(job->made[i], ARGON2ID_PREFIX,
			    strlen(ARGON2ID_PREFIX)) != 0)
				ok = false;
		} else {
			/* No early exit: the time taken must not tell
			 * which answer was wrong. */
			if (crypto_pwhash_argon2id_str_verify(job->stored[i],
			    a, strlen(a)) != 0)
				ok = false;
		}
	}
	job->ok = ok;
	job_wipe_answers(job);
}

static void *
worker_main(void *arg)
{
	struct qworkers *w = arg;
	struct qjob *job;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stopping && TAILQ_EMPTY(&w->queue))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping)
			break;
		job = TAILQ_FIRST(&w->queue);
		TAILQ_REMOVE(&w->queue, job, queue);
		pthread_mutex_unlock(&w->mu);

		job_run(job);

		pthread_mutex_lock(&w->mu);
		/* Still under the mutex: the loop side takes it before it
		 * reads the result, so the hand-over is complete before
		 * the job can be freed. When stopping, nobody is listening:
		 * questions_workers_free() frees the job after the join. */
		job->done = true;
		if (!w->stopping)
			event_active(job->ev_done, 0, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* On the loop: a worker finished a job. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct qjob *job = arg;
	struct qworkers *w = job->w;
	char *hashes[QUESTIONS_MAX];
	bool ok;

	pthread_mutex_lock(&w->mu);
	ok = job->ok && job->done;
	pthread_mutex_unlock(&w->mu);

	LIST_REMOVE(job, all);
	w->busy--;
	if (job->kind == JOB_HASH) {
		for (size_t i = 0; i < job->n; i++)
			hashes[i] = job->made[i];
		job->hashed_cb(ok ? hashes : NULL, job->asked, job->arg);
	} else
		job->checked_cb(ok, job->arg);
	job_free(job);
}

static struct qjob *
job_new(struct qworkers *w, enum job_kind kind, const char *const *answers,
    size_t n)
{
	struct qjob *job = xcalloc(1, sizeof(*job));

	job->w = w;
	job->kind = kind;
	job->asked = n;
	/* A job with a bad count runs as an empty one, which fails: the
	 * answer still comes through the loop like any other. */
	if (n <= QUESTIONS_MAX && (n == 0 || answers != NULL))
		job->n = n;
	for (size_t i = 0; i < job->n; i++) {
		const char *a = answers[i] ? answers[i] : "";
		size_t len = strlen(a);

		job->answer[i] = secret_alloc(len + 1);
		questions_normalise(a, len, job->answer[i]);
	}
	job->ev_done = event_new(w->base, -1, 0, on_done, job);
	if (job->ev_done == NULL)
		fatalx("questions: cannot create an event");
	return job;
}

static void
job_queue(struct qworkers *w, struct qjob *job)
{
	LIST_INSERT_HEAD(&w->all, job, all);
	w->busy++;
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->queue, job, queue);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
questions_hash(struct qworkers *w, const char *const *answers, size_t n,
    questions_hashed_fn *cb, void *arg)
{
	struct qjob *job = job_new(w, JOB_HASH, answers, n);

	job->hashed_cb = cb;
	job->arg = arg;
	job_queue(w, job);
}

void
questions_check(struct qworkers *w, const char *const *hashes,
    const char *const *answers, size_t n, questions_checked_fn *cb, void *arg)
{
	struct qjob *job = job_new(w, JOB_CHECK, answers, n);

	if (job->n > 0 && hashes == NULL)
		job->n = 0;	/* fails, see job_new() */
	for (size_t i = 0; i < job->n; i++)
		job->stored[i] = xstrdup(hashes[i] ? hashes[i] : "");
	job->checked_cb = cb;
	job->arg = arg;
	job_queue(w, job);
}

/* --- the pool ------------------------------------------------------------ */

struct qworkers *
questions_workers_new(struct event_base *base, unsigned threads)
{
	struct qworkers *w = xcalloc(1, sizeof(*w));
	sigset_t all, old;

	if (sodium_init() < 0)
		fatalx("questions: libsodium cannot start");
	if (threads == 0)
		threads = 1;
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	w->base = base;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	TAILQ_INIT(&w->queue);
	LIST_INIT(&w->all);
	w->tids = xcalloc(threads, sizeof(*w->tids));
	/* Signals are the loop's business: the workers start with all of
	 * them blocked, so none is delivered to a thread that ignores it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&w->tids[i], NULL, worker_main, w);

		if (rc != 0) {
			errno = rc;
			fatal("questions: cannot start a worker thread");
		}
		w->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

void
questions_workers_free(struct qworkers *w)
{
	struct qjob *job;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	/* Jobs no worker has started are dropped: their callbacks would not
	 * be called anyway, so running them would only delay the exit. */
	TAILQ_INIT(&w->queue);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->tids[i], NULL);

	/* Every job is the loop's now: queued, finished while stopping, or
	 * finished with its event active but not yet run. */
	while ((job = LIST_FIRST(&w->all)) != NULL) {
		LIST_REMOVE(job, all);
		job_free(job);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->tids);
	free(w);
}

unsigned
questions_busy(const struct qworkers *w)
{
	/* Counted on the loop thread only, so no lock: jobs whose callback
	 * has not been called yet (queued, running, or waiting to be
	 * delivered). */
	return w->busy;
}
