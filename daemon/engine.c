/*
 * engine.c - from a claimed request to its answer (see engine.h), and the
 * job API the op modules use (job.h).
 *
 * Each request becomes a job: parse -> (recovery_resume()) -> its op's
 * entry point (job_dispatch()) -> steps, each a wait for one thing (a
 * lookup, the group commit, a directory operation, a timer...) -> the
 * answer. A job holds a reference to the configuration it started with and
 * to the directory pool of that configuration, so a reload never changes
 * the rules under a request. This file has the job's life and its one way
 * out (job_send(): the answer, the audit line, or at a stop no answer at
 * all, and then the one place a job is freed), the steps and their table,
 * the group commit, ticket holds, lookups, lockout reservations and back
 * pressure. struct engine is private to it.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/audit.h"
#include "daemon/challenge.h"
#include "daemon/decoy.h"
#include "daemon/eligible.h"
#include "daemon/engine.h"
#include "daemon/job.h"
#include "daemon/messages.h"
#include "daemon/questions.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "daemon/sweep.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

/* A directory pool and the configuration it was built from; retired ones
 * are freed when their last job ends. */
struct dirref {
	struct dir *dir;
	struct config *cfg;
	unsigned jobs;
	bool retired;
};

/* One job at a time per ticket (job_ticket_live()). */
struct ticket_hold {
	TAILQ_ENTRY(ticket_hold) entry;
	char id[REQ_TICKET_LEN + 1];
	struct job *owner;
	TAILQ_HEAD(, job) waiters;
};

struct reservation {
	TAILQ_ENTRY(reservation) entry;
	char acct[TICKET_ACCT_LEN];
	unsigned n;
};

struct burnt {
	TAILQ_ENTRY(burnt) entry;
	char id[TICKET_HEX + 1];
	int64_t until;
};

struct engine {
	struct event_base *base;
	struct engine_hooks hooks;
	struct store *store;
	struct notifier *notifier;
	struct spool *spool;
	struct config *cfg;
	struct dirref *dir;
	unsigned active;
	/* How long real starts and changes take to answer (moving averages,
	 * seconds, by enum job_timing): decoys wait as long, so timing tells
	 * nothing. */
	double secs[2];
	struct event *ev_sweep;
	struct event *ev_hold;		/* while held: is the backlog gone? */
	TAILQ_HEAD(, ticket_hold) tickets;	/* being worked on */
	/* Group commit: the store changes of a turn of the loop, committed
	 * in one transaction, and the jobs waiting for it. */
	struct {
		struct store_op *ops;
		size_t n, cap;
		TAILQ_HEAD(, job) jobs;
		struct event *ev;
		struct event *retry;	/* a shared store was away */
	} batch;
	bool held_notify;		/* spool held for the notifier */
	bool held_dir;			/* ...for a slow directory */
	struct qworkers *qworkers;	/* argon2id off the event loop */
	struct decoy_masks masks;	/* what real masked contacts look like */
	char *decoy_hash;		/* for answers nothing may match */
	/* Failed proofs that may be counted once a check in flight ends
	 * (answers: argon2id off the loop), per identity: the lockout
	 * counts them before it accepts another proof. */
	TAILQ_HEAD(, reservation) reserved;
	/* Tickets spent by a write whose record could not be saved: refused
	 * from then on, though the store still holds them. */
	TAILQ_HEAD(, burnt) burnt;
	bool closing;		/* shutting down: leave requests for next start */
};

static void engine_back_pressure(struct engine *e);

int64_t
job_now(void)
{
	return (int64_t)time(NULL);
}

/* --- directory pools ---------------------------------------------------- */

static struct dirref *
dirref_new(struct engine *e, struct config *cfg)
{
	struct dirref *r = xcalloc(1, sizeof(*r));

	r->cfg = config_ref(cfg);
	r->dir = dir_new(e->base, cfg);
	return r;
}

static void
dirref_release(struct dirref *r)
{
	if (r->jobs == 0 && r->retired) {
		dir_free(r->dir);
		config_free(r->cfg);
		free(r);
	}
}

/* --- jobs: the one way out ------------------------------------------------ */

static const char *
reason_message(const char *reason)
{
	static const struct {
		const char *reason, *message;
	} m[] = {
		{ "bad-request", "The request is not valid." },
		{ "bad-code", "The code is not correct." },
		{ "expired", "The code or ticket has expired. Please start again." },
		{ "too-many-attempts", "Too many wrong attempts. Please start again later." },
		{ "throttled", "Too many requests. Please wait and try again later." },
		{ "not-verified", "Please confirm your identity first." },
		{ "password-policy", "The new password does not meet the password rules." },
		{ "wrong-password", "The current password is not correct, or the account is locked." },
		{ "account-locked", "The account is locked." },
		{ "account-disabled", "The account is disabled." },
		{ "not-allowed", "Self-service is not available for this account or method." },
		{ "directory-unavailable", "The directory is not available right now. Please try again later." },
		{ "state-unavailable", "The service's state store is not available right now. Please try again later." },
		{ "internal", "Something went wrong. Please try again later." },
		{ "busy", "The service is busy. Please try again in a minute." },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(m[i].reason, reason) == 0)
			return m[i].message;
	return "Something went wrong. Please try again later.";
}

static void
who_clear(struct who *w)
{
	free(w->dn);
	free(w->mail);
	for (size_t i = 0; i < w->n_notify; i++)
		free(w->notify[i]);
	free(w->mobile);
	free(w->questions);
	free(w->totp);
	strlist_free(&w->personal);
	free(w->account);
	free(w->display_name);
	memset(w, 0, sizeof(*w));
}

void
job_who_clear(struct job *job)
{
	who_clear(&job->who);
}

static void ticket_give_back(struct job *job);

static void
job_free(struct job *job)
{
	struct engine *e = job->e;

	ticket_give_back(job);
	job_failure_release(job);
	if (job->ev_delay != NULL)
		event_free(job->ev_delay);
	if (job->parsed)
		request_free(&job->req);
	if (job->have_ticket)
		ticket_clear(&job->t);
	json_decref(job->asked);
	who_clear(&job->who);
	sodium_memzero(job->code, sizeof(job->code));
	sodium_memzero(job->code_sms, sizeof(job->code_sms));
	if (job->totp_uri != NULL)
		secret_free(job->totp_uri);
	if (job->dr != NULL) {
		job->dr->jobs--;
		dirref_release(job->dr);
	}
	config_free(job->cfg);
	free(job);
	e->active--;
	if (e->hooks.work_end != NULL)
		e->hooks.work_end(e->hooks.arg);
}

void
job_notify_failed(struct job *job, const char *kind)
{
	struct engine *e = job->e;

	if (e->hooks.notify_failed != NULL)
		e->hooks.notify_failed(e->hooks.arg, kind);
}

/* --- steps ---------------------------------------------------------------- */

#define STEP(s)		(1u << (s))
#define WAITS		(STEP(JOB_TICKET) | STEP(JOB_LOOKUP) | \
			 STEP(JOB_DIRECTORY) | STEP(JOB_COMMIT) | \
			 STEP(JOB_DELAY) | STEP(JOB_HASH) | STEP(JOB_NOTIFY))

/* From each step, the steps a job may go to: from running, to a wait or
 * to its answer; from a wait, back to running; from the answer, nowhere
 * (the job is freed). */
static const unsigned step_allowed[] = {
	[JOB_RUNNING] = WAITS | STEP(JOB_ANSWER),
	[JOB_TICKET] = STEP(JOB_RUNNING),
	[JOB_LOOKUP] = STEP(JOB_RUNNING),
	[JOB_DIRECTORY] = STEP(JOB_RUNNING),
	[JOB_COMMIT] = STEP(JOB_RUNNING),
	[JOB_DELAY] = STEP(JOB_RUNNING),
	[JOB_HASH] = STEP(JOB_RUNNING),
	[JOB_NOTIFY] = STEP(JOB_RUNNING),
	[JOB_ANSWER] = 0,
};

const char *
job_step_name(enum job_step step)
{
	static const char *const names[] = {
		[JOB_RUNNING] = "running", [JOB_TICKET] = "ticket",
		[JOB_LOOKUP] = "lookup", [JOB_DIRECTORY] = "directory",
		[JOB_COMMIT] = "commit", [JOB_DELAY] = "delay",
		[JOB_HASH] = "hash", [JOB_NOTIFY] = "notify",
		[JOB_ANSWER] = "answer",
	};

	return (unsigned)step < sizeof(names) / sizeof(names[0]) ?
	    names[step] : "?";
}

static void
step_to(struct job *job, enum job_step to)
{
	if (!(step_allowed[job->step] & STEP(to)))
		fatalx("engine: request %s: no step from %s to %s",
		    job->sreq->id, job_step_name(job->step), job_step_name(to));
	log_debug("engine: request %s: %s -> %s", job->sreq->id,
	    job_step_name(job->step), job_step_name(to));
	job->step = to;
}

bool
job_away(struct job *job, enum job_step step)
{
	if (job->step == JOB_ANSWER) {
		log_errorx("engine: request %s: %s after the answer was "
		    "decided; ignored", job->sreq->id, job_step_name(step));
		return false;
	}
	step_to(job, step);
	return true;
}

void
job_back(struct job *job, enum job_step step)
{
	if (job->step != step)
		fatalx("engine: request %s: back from %s while %s",
		    job->sreq->id, job_step_name(step),
		    job_step_name(job->step));
	step_to(job, JOB_RUNNING);
}

/* A wait the engine ends itself: then job->next runs. */
static bool
job_wait(struct job *job, enum job_step step, void (*next)(struct job *))
{
	if (!job_away(job, step))
		return false;
	job->next = next;
	return true;
}

static void
job_resume(struct job *job, enum job_step step)
{
	void (*next)(struct job *) = job->next;

	job_back(job, step);
	job->next = NULL;
	next(job);
}

/*
 * The one way out: the answer is written, audited and the job freed from
 * the event loop, on the turn after it was decided (job_send()), never
 * inside the helper that decided it. A caller that goes on with a job after
 * a helper answered it therefore finds it still there; any further step it
 * starts is refused (job_away() says so) instead of acting on a freed job.
 */
static void
job_send_now(struct job *job)
{
	json_t *answer = job->answer;
	char id[SPOOL_ID_MAX + 1];
	char *text;

	job->answer = NULL;

	if (job->e->closing) {
		/* Cut short by the stop: no answer now; the request stays in
		 * cur/ and is done (or settled) at the next start. */
		json_decref(answer);
		log_info("request id=%s left for the next start", job->sreq->id);
		spool_release(job->e->spool, job->sreq);
		job->sreq = NULL;
		job_free(job);
		return;
	}
	text = request_answer_dump(answer);
	audit_log(job);
	if (job->e->hooks.answered != NULL)
		job->e->hooks.answered(job->e->hooks.arg, job->parsed ?
		    request_op_name(job->req.op) : "-", job->result,
		    job->reason ? job->reason : "",
		    mono_now() - job->sreq->claimed_at);
	/* The intent outlives a crash until the answer is durable: a request
	 * resumed with a "done" intent is answered, never written again. */
	snprintf(id, sizeof(id), "%s", job->sreq->id);	/* sreq goes next */
	if (spool_answer(job->e->spool, job->sreq, text, strlen(text)) == 0 &&
	    job->intent_after_answer) {
		/* Nobody waits for this one: a crash before it commits leaves a
		 * done intent without a request, dropped when the ID comes
		 * again (resume()) or after a day (sweep.c). */
		struct store_op op = { STORE_INTENTS, id, NULL };

		job_commit_later(job, &op, 1);
	}
	/* an answer may hold a secret shown once (register's totp_uri) */
	sodium_memzero(text, strlen(text));
	free(text);
	job->sreq = NULL;
	engine_back_pressure(job->e);
	job_free(job);
}

/* The job's one timer: its answer's turn (JOB_ANSWER), or the end of a
 * delay (job_later()). */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	if (job->step == JOB_ANSWER)
		job_send_now(job);
	else
		job_resume(job, JOB_DELAY);
}

static void
job_timer(struct job *job, const struct timeval *tv)
{
	if (job->ev_delay == NULL)
		job->ev_delay = evtimer_new(job->e->base, on_timer, job);
	if (job->ev_delay == NULL || evtimer_add(job->ev_delay, tv) != 0)
		fatalx("engine: cannot arm a timer");
}

static void
job_send(struct job *job, json_t *answer)
{
	struct timeval now = { 0, 0 };

	if (job->step == JOB_ANSWER) {
		log_errorx("engine: request %s: answered twice; the first "
		    "answer stands", job->sreq->id);
		json_decref(answer);
		return;
	}
	step_to(job, JOB_ANSWER);
	job->answer = answer;
	job_timer(job, &now);	/* not pending: the job was running */
}

void
job_ok(struct job *job, json_t *a)
{
	job->result = "ok";
	job_send(job, a ? a : request_answer_ok(job->sreq->id));
}

void
job_error_v(struct job *job, const char *reason, const char *message,
    const char *const *violations)
{
	job->result = "error";
	job->reason = reason;
	job_send(job, request_answer_error(job->sreq->id, reason,
	    message ? message : reason_message(reason), violations));
}

void
job_error(struct job *job, const char *reason)
{
	job_error_v(job, reason, NULL, NULL);
}

/* An answer from the directory layer as SPEC's reason and violations. */
void
job_dir_error(struct job *job, const struct dir_result *res)
{
	const char *names[7];

	if (res->reason == DIR_POLICY) {
		dir_violation_names(res->violations, names);
		job_error_v(job, "password-policy", NULL, names);
		return;
	}
	/* An expired password proves nothing here and changes nothing. */
	job_error(job, res->reason == DIR_PASSWORD_EXPIRED ? "wrong-password" :
	    dir_reason_code(res->reason));
}

/* A lookup or check that got no answer: the directory is busy (the work
 * waited [daemon] max_wait in ssprd's queue), or not there. */
const char *
job_no_answer(enum dir_reason reason)
{
	return reason == DIR_BUSY ? "busy" : "directory-unavailable";
}

void
job_later(struct job *job, double secs, void (*next)(struct job *))
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	if (job_wait(job, JOB_DELAY, next))
		job_timer(job, &tv);
}

static void
average(double *avg, double sample)
{
	*avg = *avg == 0 ? sample : 0.8 * *avg + 0.2 * sample;
}

void
job_timed(struct job *job, enum job_timing t)
{
	average(&job->e->secs[t], mono_now() - job->started);
}

void
job_like(struct job *job, enum job_timing t, void (*next)(struct job *))
{
	double jitter = 0.8 + 0.4 * (double)randombytes_uniform(1000) / 1000.0;

	job_later(job, job->e->secs[t] * jitter - (mono_now() - job->started),
	    next);
}

/* --- tickets in the store -------------------------------------------------- */

int
job_ticket_load(struct job *job, const char *id)
{
	json_t *j = store_get(job->e->store, STORE_TICKETS, id);
	int rc;

	if (j == NULL)
		return -1;
	if (job->have_ticket) {
		ticket_clear(&job->t);
		job->have_ticket = false;
	}
	rc = ticket_from_json(j, id, &job->t);
	json_decref(j);
	if (rc == 0)
		job->have_ticket = true;
	return rc;
}

void
job_ticket_save(struct job *job, void (*next)(struct job *))
{
	json_t *j;
	struct store_op op = { STORE_TICKETS, job->t.id, NULL };

	job->t.rev++;
	j = ticket_to_json(&job->t);
	op.value = j;

	job_commit(job, &op, 1, next);
	json_decref(j);
}

void
job_ticket_extend(struct job *job)
{
	int64_t until = job_now() + job->cfg->policy.code_ttl;
	int64_t last = job->t.created + job->cfg->policy.ticket_lifetime;

	job->t.expires = until < last ? until : last;
}

/* --- group commit ---------------------------------------------------------------- */

/*
 * Every store change commits with an fdatasync (about 0.3 ms on a disk),
 * and the loop waits for it: one commit per change held ssprd to some 500
 * resets/s whatever else it did (bench/README.md). Changes that a job must
 * see durable before it acts gather here over a turn of the loop and go
 * in one transaction; then each job goes on. The flush is an active event:
 * it runs after the callbacks already due in this turn, so everything the
 * loop has to do now shares one commit. Two jobs never change one record
 * in a batch: tickets are held by one job at a time (ticket_live()),
 * intents are keyed by request ID.
 */
static void
batch_add(struct engine *e, const struct store_op *ops, size_t n)
{
	if (e->batch.n + n > e->batch.cap) {
		e->batch.cap = (e->batch.n + n) * 2;
		e->batch.ops = xreallocarray(e->batch.ops, e->batch.cap,
		    sizeof(*e->batch.ops));
	}
	for (size_t i = 0; i < n; i++) {
		struct store_op *op = &e->batch.ops[e->batch.n++];

		op->db = ops[i].db;
		op->key = xstrdup(ops[i].key);
		op->value = ops[i].value != NULL ?
		    json_incref((json_t *)ops[i].value) : NULL;
	}
	event_active(e->batch.ev, EV_TIMEOUT, 0);
}

void
job_commit(struct job *job, const struct store_op *ops, size_t n,
    void (*next)(struct job *))
{
	struct engine *e = job->e;

	if (!job_wait(job, JOB_COMMIT, next))
		return;
	TAILQ_INSERT_TAIL(&e->batch.jobs, job, committing);
	batch_add(e, ops, n);
}

bool
job_committed(struct job *job)
{
	if (job->commit_rc == 0)
		return true;
	job_error(job, store_shared(job->e->store) &&
	    !store_ready(job->e->store) ? "state-unavailable" : "internal");
	return false;
}

void
job_commit_later(struct job *job, const struct store_op *ops, size_t n)
{
	batch_add(job->e, ops, n);
}

/* The job has been in the engine longer than [daemon] max_wait. */
static bool
job_past_max_wait(const struct job *job)
{
	return mono_now() - job->started > (double)job->cfg->daemon.max_wait;
}

/*
 * A shared store (Redis) that is away: the changes are kept, ahead of any
 * gathered since, and tried again; every one is a put or a delete, so a
 * transaction that did go in before its answer was lost goes in again
 * unchanged. Jobs go on waiting until their [daemon] max_wait is up, then
 * are answered state-unavailable; their changes stay in the batch (a
 * spent ticket must still be recorded; an intent left behind for a write
 * that was never sent is dropped by recovery_resume() or expires).
 */
#define BATCH_RETRY_MS	250

static void
batch_keep(struct engine *e, struct store_op *ops, size_t n, void *joblist)
{
	TAILQ_HEAD(jl, job) *jobs = joblist;
	struct timeval tv = { 0, BATCH_RETRY_MS * 1000 };
	struct job *job, *next;

	ops = xreallocarray(ops, n + e->batch.n, sizeof(*ops));
	if (e->batch.n > 0)
		memcpy(ops + n, e->batch.ops, e->batch.n * sizeof(*ops));
	free(e->batch.ops);
	e->batch.ops = ops;
	e->batch.n += n;
	e->batch.cap = e->batch.n;
	for (job = TAILQ_FIRST(jobs); job != NULL; job = next) {
		next = TAILQ_NEXT(job, committing);
		if (!job_past_max_wait(job))
			continue;
		TAILQ_REMOVE(jobs, job, committing);
		job->commit_rc = -1;
		job->truth = "the state store was not available for [daemon] "
		    "max_wait";
		job_resume(job, JOB_COMMIT);
	}
	TAILQ_CONCAT(jobs, &e->batch.jobs, committing);
	TAILQ_CONCAT(&e->batch.jobs, jobs, committing);
	evtimer_add(e->batch.retry, &tv);
}

/* Commit what has gathered; then the jobs that waited, unless this is the
 * engine going away. */
static void
batch_flush(struct engine *e, bool go_on)
{
	struct store_op *ops = e->batch.ops;
	size_t n = e->batch.n;
	TAILQ_HEAD(, job) jobs = TAILQ_HEAD_INITIALIZER(jobs);
	struct job *job;
	int rc;

	if (n == 0)
		return;
	/* Jobs that go on may add to a new batch meanwhile. */
	TAILQ_CONCAT(&jobs, &e->batch.jobs, committing);
	e->batch.ops = NULL;
	e->batch.n = e->batch.cap = 0;
	rc = store_apply(e->store, ops, n);
	if (rc != 0 && go_on && store_shared(e->store)) {
		batch_keep(e, ops, n, &jobs);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		free((char *)ops[i].key);
		json_decref((json_t *)ops[i].value);
	}
	free(ops);
	while ((job = TAILQ_FIRST(&jobs)) != NULL) {
		TAILQ_REMOVE(&jobs, job, committing);
		job->commit_rc = rc;
		if (go_on)
			job_resume(job, JOB_COMMIT);
	}
}

static void
on_batch(evutil_socket_t fd, short what, void *arg)
{
	batch_flush(arg, true);
}

/*
 * Instances sharing a store (Redis) lease a ticket, on top of the hold
 * below: one instance at a time works on it, so two resets with one
 * ticket sent to two instances write once. The lease outlives any job
 * (max_wait plus a minute); it is this instance's (named by [state]
 * instance), so a restarted instance takes over what it held before a
 * crash, and another instance waits for it, polling, until it is given
 * back or expires, and then starts over with the ticket as it was left.
 */
#define LEASE_POLL	0.05	/* seconds */
#define STATE_POLL	0.25	/* seconds: is a shared store back? */

static unsigned
lease_ms(const struct job *job)
{
	return (job->cfg->daemon.max_wait + 60) * 1000;
}

static bool
ticket_lease(struct job *job)
{
	struct store *st = job->e->store;
	int rc;

	if (job->leased || !store_shared(st))
		return true;
	if ((rc = store_lease(st, job->req.ticket, lease_ms(job))) == 1) {
		job->leased = true;
		return true;
	}
	if (job_past_max_wait(job)) {
		job->truth = rc == 0 ? "another instance held the ticket for "
		    "longer than [daemon] max_wait" : "the state store was "
		    "not available for [daemon] max_wait";
		job_error(job, rc == 0 ? "busy" : "state-unavailable");
		return false;
	}
	job_later(job, LEASE_POLL * (0.5 + randombytes_uniform(1000) / 1000.0),
	    job_dispatch);
	return false;
}

/*
 * One job at a time works on a ticket. Checking answers takes a while
 * (argon2id, off the loop), and a job saves the ticket it loaded: ten
 * wrong guesses sent together would all load it before any failure was
 * saved and count as one, so max_attempts would not hold. A job whose
 * ticket is busy waits for it, then starts over with the ticket as the
 * other left it. The requests are already claimed (at most
 * SPOOL_MAX_ACTIVE), so the waiting costs no more than they do.
 */
static bool
ticket_take(struct job *job)
{
	struct engine *e = job->e;
	struct ticket_hold *h;

	if (job->hold != NULL)
		return ticket_lease(job); /* handed over by the job before */
	TAILQ_FOREACH(h, &e->tickets, entry)
		if (strcmp(h->id, job->req.ticket) == 0) {
			TAILQ_INSERT_TAIL(&h->waiters, job, waiting);
			step_to(job, JOB_TICKET);
			return false;
		}
	h = xcalloc(1, sizeof(*h));
	snprintf(h->id, sizeof(h->id), "%s", job->req.ticket);
	h->owner = job;
	TAILQ_INIT(&h->waiters);
	TAILQ_INSERT_TAIL(&e->tickets, h, entry);
	job->hold = h;
	return ticket_lease(job);
}

/* The job is done with its ticket: the next one waiting starts over. */
static void
ticket_give_back(struct job *job)
{
	struct ticket_hold *h = job->hold;
	struct job *next;

	if (h == NULL)
		return;
	if (job->leased) {
		store_unlease(job->e->store, h->id);
		job->leased = false;
	}
	job->hold = NULL;
	if ((next = TAILQ_FIRST(&h->waiters)) == NULL) {
		TAILQ_REMOVE(&job->e->tickets, h, entry);
		free(h);
		return;
	}
	TAILQ_REMOVE(&h->waiters, next, waiting);
	h->owner = next;
	next->hold = h;
	job_back(next, JOB_TICKET);
	job_later(next, 0, job_dispatch);
}

/* Past [policy] ticket_lifetime since it was created: no start, however
 * often repeated, keeps a ticket alive longer. */
static bool
ticket_too_old(const struct job *job)
{
	return job_now() - job->t.created >
	    (int64_t)job->cfg->policy.ticket_lifetime;
}

void
job_ticket_burn(struct job *job, const char *id)
{
	struct burnt *b = xcalloc(1, sizeof(*b));

	snprintf(b->id, sizeof(b->id), "%s", id);
	b->until = job_now() + job->cfg->policy.ticket_lifetime;
	/* Other instances: the lease is left to expire, by when the spend
	 * kept in the batch (batch_keep()) has gone in. */
	job->leased = false;
	TAILQ_INSERT_TAIL(&job->e->burnt, b, entry);
}

static bool
ticket_burnt(struct engine *e, const char *id)
{
	struct burnt *b, *next;
	int64_t now = job_now();

	for (b = TAILQ_FIRST(&e->burnt); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (b->until < now) {
			TAILQ_REMOVE(&e->burnt, b, entry);
			free(b);
		} else if (strcmp(b->id, id) == 0) {
			return true;
		}
	}
	return false;
}

/* 0: the ticket is loaded and live; -1: answered; 1: waiting for another
 * job that works on the same ticket (dispatched again after it). */
int
job_ticket_live(struct job *job)
{
	int rc;

	if (!ticket_take(job))
		return 1;
	if ((rc = job_ticket_load(job, job->req.ticket)) != 0 &&
	    !store_ready(job->e->store)) {
		/* not "expired": the store could not say */
		if (job_past_max_wait(job)) {
			job_error(job, "state-unavailable");
			return -1;
		}
		job_later(job, STATE_POLL, job_dispatch);
		return 1;
	}
	if (rc != 0 ||
	    job->t.expires < job_now() || ticket_too_old(job) ||
	    ticket_burnt(job->e, job->t.id)) {
		job_error(job, "expired");
		return -1;
	}
	if (job->t.attempts >= job->cfg->policy.max_attempts) {
		job_error(job, "too-many-attempts");
		return -1;
	}
	return 0;
}

/* --- lookups ----------------------------------------------------------------- */

static void
who_set(struct who *w, const struct dir_user *u)
{
	const char *c;

	w->found = u->found;
	if (!u->found)
		return;
	w->disabled = u->disabled;
	w->locked = u->locked;
	w->admin = u->admin;
	w->allowed = u->allowed;
	w->dn = xstrdup(u->dn);
	/* Only contacts a code may go to (eligible.h): without one, a start
	 * for that method is a decoy. */
	if ((c = eligible_mail(u)) != NULL)
		w->mail = xstrdup(c);
	for (size_t i = 0; i < u->mail.n && w->n_notify < WHO_NOTIFY_MAX; i++) {
		bool seen = false;

		if (!message_address_ok(u->mail.v[i]))
			continue;
		for (size_t k = 0; k < w->n_notify && !seen; k++)
			seen = strcasecmp(w->notify[k], u->mail.v[i]) == 0;
		if (!seen)
			w->notify[w->n_notify++] = xstrdup(u->mail.v[i]);
	}
	if ((c = eligible_mobile(u)) != NULL)
		w->mobile = xstrdup(c);
	if (u->questions != NULL)
		w->questions = xstrdup(u->questions);
	if (u->totp != NULL)
		w->totp = xstrdup(u->totp);
	for (size_t i = 0; i < u->personal.n; i++)
		strlist_add(&w->personal, u->personal.v[i]);
	for (size_t i = 0; i < u->mail.n; i++)
		strlist_add(&w->personal, u->mail.v[i]);
	if (u->account != NULL)
		w->account = xstrdup(u->account);
	if (u->display_name != NULL)
		w->display_name = xstrdup(u->display_name);
	w->pwpolicy = u->pwpolicy;
	snprintf(w->stamp, sizeof(w->stamp), "%s", u->pwd_changed);
}

static void
on_user(const struct dir_result *res, const struct dir_user *u, void *arg)
{
	struct job *job = arg;

	job->looked_up = res->reason;
	who_clear(&job->who);
	if (res->reason == DIR_OK)
		who_set(&job->who, u);
	else
		log_warnx("engine: request %s: lookup failed at %s: %s (%s)",
		    job->sreq->id, res->server ? res->server : "-",
		    dir_reason_code(res->reason), res->detail);
	job_resume(job, JOB_LOOKUP);
}

void
job_lookup(struct job *job, const char *user, void (*next)(struct job *))
{
	if (job_wait(job, JOB_LOOKUP, next))
		dir_lookup_user(job->dr->dir, user, on_user, job);
}

/* --- back pressure ---------------------------------------------------------- */

/*
 * The spool takes no new request while work already taken cannot go on;
 * requests in hand go on, and new ones wait in new/, where waiting costs
 * nothing and survives a crash ([daemon] max_wait bounds it: see
 * engine_request()).
 * - Notices are sent after the answer, so nothing else bounds them: a mail
 *   relay that hangs, with resets flowing, would pile up messages without
 *   limit. Held from ENGINE_NOTIFY_BACKLOG messages waiting for a place to
 *   run (notify.h) until they have all started.
 * - A directory that answers more slowly than requests come: the pool
 *   sends each connection only what its server answers in good time and
 *   queues the rest. Held while the oldest operation in that queue has
 *   waited ENGINE_DIR_WAIT with connections up, until the queue moves
 *   within a quarter of that again (or no connection is up: then what
 *   waits ends as directory-unavailable, and so would anything taken
 *   meanwhile, at its own deadline). A directory that keeps up never
 *   makes work wait that long, and is never held back.
 */
#define ENGINE_NOTIFY_BACKLOG	64
#define ENGINE_DIR_WAIT		1.0	/* seconds */
#define ENGINE_HOLD_POLL_MS	100

static void
hold_poll(struct engine *e)
{
	struct timeval tv = { 0, ENGINE_HOLD_POLL_MS * 1000 };

	evtimer_add(e->ev_hold, &tv);
}

static void
engine_back_pressure(struct engine *e)
{
	unsigned waiting = notify_waiting(e->notifier);
	struct dir_stats st;
	bool held = e->held_notify || e->held_dir;

	dir_get_stats(e->dir->dir, &st);
	if (!e->held_notify && waiting >= ENGINE_NOTIFY_BACKLOG) {
		e->held_notify = true;
		log_warnx("engine: %u messages wait to be sent by mail or SMS; "
		    "taking no new request until they are sent",
		    waiting);
	} else if (e->held_notify && waiting == 0) {
		e->held_notify = false;
		log_info("engine: the messages are out%s", e->held_dir ? "" :
		    "; taking requests again");
	}
	if (!e->held_dir && st.ready > 0 && st.queue_wait >= ENGINE_DIR_WAIT) {
		e->held_dir = true;
		log_debug("engine: %u directory operations wait for a slow "
		    "directory (the oldest %.1f s); new requests wait in new/",
		    st.queued, st.queue_wait);
	} else if (e->held_dir && (st.ready == 0 ||
	    st.queue_wait < ENGINE_DIR_WAIT / 4)) {
		e->held_dir = false;
		log_debug("engine: the directory caught up");
	}
	if (held != (e->held_notify || e->held_dir)) {
		held = !held;
		if (!held)
			log_debug("engine: taking new requests");
		if (e->spool != NULL)
			spool_hold(e->spool, held);
	}
	if (held)
		hold_poll(e);
}

static void
on_hold(evutil_socket_t fd, short what, void *arg)
{
	engine_back_pressure(arg);
}

/* --- identities and reservations ---------------------------------------------- */

void
job_identify(struct job *job, const char *dn, const char *name)
{
	const unsigned char *key = store_hmac_key(job->e->store);

	if (dn != NULL)
		throttle_id_account(key, dn, job->acct);
	else
		throttle_id_name(key, name, job->acct);
}

void
job_identify_ticket(struct job *job)
{
	if (job->t.acct[0] != '\0')
		memcpy(job->acct, job->t.acct, sizeof(job->acct));
	else
		job_identify(job, job->t.dn, job->t.user);
}

const char *
job_who(const struct job *job)
{
	if (job->who.dn != NULL)
		return job->who.dn;
	if (job->have_ticket && job->t.dn != NULL)
		return job->t.dn;
	if (job->parsed && job->req.user != NULL)
		return job->req.user;
	return job->have_ticket && job->t.user ? job->t.user : "-";
}

static struct reservation *
reservation_find(struct engine *e, const char *acct)
{
	struct reservation *r;

	TAILQ_FOREACH(r, &e->reserved, entry)
		if (strcmp(r->acct, acct) == 0)
			return r;
	return NULL;
}

/* A shared reservation's name: this instance's and the request's. */
#define RESERVATION_TOKEN	256

static void
reservation_token(const struct job *job, char token[RESERVATION_TOKEN])
{
	snprintf(token, RESERVATION_TOKEN, "%s:%s", job->cfg->state.instance,
	    job->sreq->id);
}

bool
job_failure_reserve(struct job *job)
{
	struct engine *e = job->e;
	struct reservation *r;
	int have;

	/* Instances sharing the store reserve there: each instance's own
	 * count would let every one of them run the whole budget at once. */
	if (store_shared(e->store)) {
		char token[RESERVATION_TOKEN];

		reservation_token(job, token);
		switch (throttle_failure_reserve(e->store, job->cfg, job->acct,
		    token, job_now())) {
		case 1:
			job->reserved = true;
			return true;
		case 0:
			return false;
		default:
			/* not the user's doing: no "throttled" for it */
			job->reserve_failed = true;
			return false;
		}
	}
	r = reservation_find(e, job->acct);
	have = throttle_failures(e->store, job->cfg, job->acct, job_now());

	if (have < 0 || (unsigned)have + (r ? r->n : 0) >=
	    job->cfg->policy.lockout_failures)
		return false;
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		memcpy(r->acct, job->acct, sizeof(r->acct));
		TAILQ_INSERT_TAIL(&e->reserved, r, entry);
	}
	r->n++;
	job->reserved = true;
	return true;
}

void
job_failure_release(struct job *job)
{
	struct reservation *r;

	if (!job->reserved)
		return;
	job->reserved = false;
	if (store_shared(job->e->store)) {
		char token[RESERVATION_TOKEN];

		reservation_token(job, token);
		throttle_failure_unreserve(job->e->store, job->acct, token);
		return;
	}
	if ((r = reservation_find(job->e, job->acct)) == NULL)
		return;
	if (--r->n == 0) {
		TAILQ_REMOVE(&job->e->reserved, r, entry);
		free(r);
	}
}

/* Self-service locked for the request's identity (job_identify*(): too
 * many failed proofs), or its client blocked. */
bool
job_refuse_locked(struct job *job)
{
	struct store *st = job->e->store;

	if (throttle_client_blocked(st, job->cfg, job->req.client_key,
	    job_now()))
		job->truth = "max_failures_per_client_hour";
	else if (throttle_locked(st, job->cfg, job->acct, job_now()))
		job->truth = "self-service locked after failed proofs";
	else
		return false;
	job_error(job, "throttled");
	return true;
}

/*
 * Hashes waiting for a worker, at most: beyond it a request that would
 * hash answers "busy" (at once, and without counting a failure). With 2
 * workers at about 60 ms a hash, 16 waiting is about a second and a half
 * of work with [questions] required = 3.
 */
#define QUESTIONS_QUEUE_MAX 16

bool
job_refuse_hash_busy(struct job *job)
{
	if (questions_busy(job->e->qworkers) < QUESTIONS_QUEUE_MAX)
		return false;
	job->truth = "the hashing queue is full";
	job_error(job, "busy");
	return true;
}

/* --- what a job works with ---------------------------------------------------- */

struct store *
job_store(const struct job *job)
{
	return job->e->store;
}

struct dir *
job_dir(const struct job *job)
{
	return job->dr->dir;
}

struct notifier *
job_notifier(const struct job *job)
{
	return job->e->notifier;
}

struct qworkers *
job_qworkers(const struct job *job)
{
	return job->e->qworkers;
}

struct decoy_masks *
job_masks(const struct job *job)
{
	return &job->e->masks;
}

const struct engine_hooks *
job_hooks(const struct job *job)
{
	return &job->e->hooks;
}

bool
job_closing(const struct job *job)
{
	return job->e->closing;
}

const char *
job_decoy_hash(const struct job *job)
{
	return job->e->decoy_hash;
}

/* --- dispatch -------------------------------------------------------------------- */

void
job_dispatch(struct job *job)
{
	switch (job->req.op) {
	case OP_START:
		op_start(job);
		break;
	case OP_VERIFY:
		op_verify(job);
		break;
	case OP_RESET:
	case OP_UNLOCK:
		op_reset(job);
		break;
	case OP_CHANGE:
		op_change(job);
		break;
	case OP_POLICY:
		op_policy(job);
		break;
	case OP_REGISTER:
		op_register(job);
		break;
	case OP_CONFIRM:
		op_confirm(job);
		break;
	case OP_STATUS:
		op_status(job);
		break;
	}
}

static void job_begin(struct job *job);

void
engine_request(struct spool_request *sreq, void *arg)
{
	struct engine *e = arg;
	struct job *job = xcalloc(1, sizeof(*job));
	const char *msg = NULL;

	job->e = e;
	job->sreq = sreq;
	job->cfg = config_ref(e->cfg);
	job->dr = e->dir;
	job->dr->jobs++;
	job->started = mono_now();
	e->active++;
	if (e->hooks.work_begin != NULL)
		e->hooks.work_begin(e->hooks.arg);

	if (sreq->problem != NULL) {
		job_error_v(job, "bad-request", sreq->problem, NULL);
		return;
	}
	if (request_parse(sreq->data, sreq->len, &job->req, &msg) != 0) {
		job_error_v(job, "bad-request", msg, NULL);
		return;
	}
	job->parsed = true;
	job_begin(job);
}

/*
 * Nothing reads the state before it is there: with a shared store away,
 * a request waits here (a resumed one's intent above all must be read
 * before anything is decided), and is answered state-unavailable after
 * [daemon] max_wait.
 */
static void
job_begin(struct job *job)
{
	struct engine *e = job->e;
	struct spool_request *sreq = job->sreq;

	if (!store_ready(e->store)) {
		/* A resumed request may have a write in doubt: it waits for
		 * as long as it takes, to be settled, not answered blind. */
		if (!sreq->resumed && job_past_max_wait(job)) {
			job->truth = "the state store was not available for "
			    "[daemon] max_wait";
			job_error(job, "state-unavailable");
			return;
		}
		job_later(job, STATE_POLL, job_begin);
		return;
	}
	/* A leftover intent under a new request's ID is dropped there. */
	if ((sreq->resumed || job->req.op == OP_RESET ||
	    job->req.op == OP_CHANGE) && recovery_resume(job))
		return;
	/* No intent found, or the store failed to say: a failure leaves it
	 * not ready for a while, and this request waits rather than risk a
	 * second write. */
	if (!store_ready(e->store)) {
		job_later(job, STATE_POLL, job_begin);
		return;
	}
	/* Waited in new/ longer than the front end is told to wait: nothing
	 * is started for it any more (one resumed from cur/ was started). */
	if (!sreq->resumed && sreq->arrived > 0 &&
	    (double)time(NULL) - sreq->arrived > (double)e->cfg->daemon.max_wait) {
		job->truth = "waited longer than [daemon] max_wait in new/";
		job_error(job, "busy");
		return;
	}
	job_dispatch(job);
	engine_back_pressure(e);
}

/* --- the engine ------------------------------------------------------------------ */

/* State that has outlived its use (sweep.h): soon after the start, then
 * every SWEEP_EVERY seconds, or after a second while a flood left more. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	struct sweep_result r;
	struct timeval next = { .tv_sec = SWEEP_EVERY };

	sweep_store(e->store, e->cfg, job_now(), &r);
	if (r.tickets + r.events + r.intents > 0)
		log_info("store: removed %zu expired ticket(s), %zu stale "
		    "counter(s) and %zu abandoned write intent(s)%s", r.tickets,
		    r.events, r.intents, r.more ? "; more to remove" : "");
	if (r.tickets_kept)
		log_info("store: expired tickets are kept while a write intent "
		    "of an earlier ssprd version is left (it goes after a day)");
	if (r.more)
		next.tv_sec = 1;
	evtimer_add(e->ev_sweep, &next);
}

struct engine *
engine_new(struct event_base *base, struct config *cfg, struct store *st,
    struct notifier *n, const struct engine_hooks *hooks)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	struct timeval first = { .tv_sec = SWEEP_FIRST };

	e->base = base;
	if (hooks != NULL)
		e->hooks = *hooks;
	e->store = st;
	e->notifier = n;
	e->cfg = config_ref(cfg);
	e->dir = dirref_new(e, e->cfg);
	/* until real ones are measured */
	TAILQ_INIT(&e->tickets);
	TAILQ_INIT(&e->batch.jobs);
	TAILQ_INIT(&e->reserved);
	TAILQ_INIT(&e->burnt);
	e->secs[JOB_TIMING_START] = 0.05;
	e->secs[JOB_TIMING_CHANGE] = 0.1;
	e->qworkers = questions_workers_new(base, 2);
	e->decoy_hash = decoy_hash_new();
	e->ev_sweep = evtimer_new(base, on_sweep, e);
	if (e->ev_sweep == NULL || evtimer_add(e->ev_sweep, &first) != 0 ||
	    (e->ev_hold = evtimer_new(base, on_hold, e)) == NULL ||
	    (e->batch.ev = event_new(base, -1, 0, on_batch, e)) == NULL ||
	    (e->batch.retry = evtimer_new(base, on_batch, e)) == NULL)
		fatalx("engine: cannot arm a timer");
	return e;
}

void
engine_set_spool(struct engine *e, struct spool *s)
{
	e->spool = s;
	if (s != NULL && (e->held_notify || e->held_dir))
		spool_hold(s, true);
}

void
engine_reconfigure(struct engine *e, struct config *cfg)
{
	dir_policy_flush();	/* the directory's rules: read again */
	if (dir_config_differs(e->cfg, cfg)) {
		log_info("engine: what the directory layer reads changed: new "
		    "connections; requests in flight finish on the old ones");
		e->dir->retired = true;
		dirref_release(e->dir);
		e->dir = dirref_new(e, cfg);
	}
	config_free(e->cfg);
	e->cfg = config_ref(cfg);
}

struct dir *
engine_dir(const struct engine *e)
{
	return e->dir->dir;
}

unsigned
engine_active(const struct engine *e)
{
	return e->active;
}

void
engine_shutdown(struct engine *e)
{
	e->closing = true;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	e->closing = true;
	event_free(e->ev_sweep);
	event_free(e->ev_hold);
	batch_flush(e, false);
	event_free(e->batch.ev);
	event_free(e->batch.retry);
	questions_workers_free(e->qworkers);
	free(e->decoy_hash);
	while (!TAILQ_EMPTY(&e->reserved)) {
		struct reservation *r = TAILQ_FIRST(&e->reserved);

		TAILQ_REMOVE(&e->reserved, r, entry);
		free(r);
	}
	while (!TAILQ_EMPTY(&e->burnt)) {
		struct burnt *b = TAILQ_FIRST(&e->burnt);

		TAILQ_REMOVE(&e->burnt, b, entry);
		free(b);
	}
	e->dir->retired = true;
	dirref_release(e->dir);
	config_free(e->cfg);
	free(e);
}
