/*
 * job.h - what engine.c, ops.c and recovery.c share (daemon/ internal).
 *
 *   engine.c    jobs: from a claimed request to its one answer; lookups,
 *               tickets, notices, dispatch, the engine's life
 *   ops.c       one function per op: start, verify, reset/unlock, change,
 *               policy
 *   recovery.c  write intents, and settling a write whose answer was lost
 */
#ifndef SSPRD_JOB_H
#define SSPRD_JOB_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/challenge.h"
#include "daemon/engine.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "ldap/dir.h"

/* A directory pool and the configuration it was built from; retired ones
 * are freed when their last job ends. */
struct dirref {
	struct dir *dir;
	struct config *cfg;
	unsigned jobs;
	bool retired;
};

/* One job at a time per ticket (engine.c, ticket_live()). */
struct ticket_hold {
	TAILQ_ENTRY(ticket_hold) entry;
	char id[REQ_TICKET_LEN + 1];
	struct job *owner;
	TAILQ_HEAD(, job) waiters;
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
	 * seconds): decoys wait as long, so timing tells nothing. */
	double start_secs;
	double change_secs;
	struct event *ev_sweep;
	struct event *ev_hold;		/* while held: is the backlog gone? */
	TAILQ_HEAD(, ticket_hold) tickets;	/* being worked on */
	/* Group commit (engine.c): the store changes of a turn of the loop,
	 * committed in one transaction, and the jobs waiting for it. */
	struct {
		struct store_op *ops;
		size_t n, cap;
		TAILQ_HEAD(, job) jobs;
		struct event *ev;
	} batch;
	bool held_notify;		/* spool held for the notifier */
	bool held_dir;			/* ...for a slow directory */
	struct qworkers *qworkers;	/* argon2id off the event loop */
	/* What real masked contacts look like, so decoys look the same: the
	 * masked email domains seen (and how often), and how many stars real
	 * phone masks have. */
	struct {
		char domain[48];
		unsigned n;
	} domains[16];
	unsigned phone_stars[32];
	unsigned phone_plus[2];		/* real masks without, with '+' */
	/* Real masked addresses whose first letter is, or is not, the first
	 * letter of the name asked for. */
	unsigned letter_named, letter_other;
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

/* What a job needs from a lookup, copied out of the callback. */
struct who {
	bool found;
	bool disabled;
	bool locked;
	bool admin;
	bool allowed;
	char *dn;
	char *mail;		/* first usable address, or NULL */
	char *mobile;
	char *questions;	/* [questions] attribute value, or NULL */
	char stamp[32];		/* password-changed stamp */
};

struct job {
	struct engine *e;
	struct spool_request *sreq;
	struct config *cfg;
	struct dirref *dr;
	struct request req;
	bool parsed;
	struct ticket t;
	bool have_ticket;
	struct who who;
	/* The identity every per-user counter of this request is kept on
	 * (throttle.h); set by job_identify*() once it is known. */
	char acct[TICKET_ACCT_LEN];
	bool reserved;			/* holds a reservation (failure_reserve) */
	bool answers_real;		/* answers go to the user's own hashes */
	bool intent_retried;		/* intent_recorded(): a second commit */
	char code[CODE_MAX + 1];
	enum method sent_method;
	char sent_to[64];
	const char *truth;		/* for the audit line: why a decoy */
	const char *throttled;		/* start: why it may send nothing */
	json_t *asked;			/* start questions: the texts shown */
	void (*after_proof)(struct job *);	/* verify/reset: what next */
	const char *late_reason;	/* job_error_like(), prove_failed() */
	bool recovering;		/* settling a write from before a crash */
	bool intent_after_answer;	/* drop the write intent once answered */
	double started;
	struct event *ev_delay;
	void (*after_delay)(struct job *);
	struct ticket_hold *hold;	/* the ticket this job works on */
	TAILQ_ENTRY(job) waiting;	/* for another job's ticket */
	TAILQ_ENTRY(job) committing;	/* for the group commit */
	void (*after_commit)(struct job *);
	int commit_rc;			/* of the group commit: 0 or -1 */
	void (*after_intent)(struct job *);	/* intent_succeeded() */
	/* The answer, decided and waiting for the next turn of the loop
	 * (job_send()); answering: no further step may start. */
	json_t *answer;
	bool answering;
	/* audit */
	const char *result;
	const char *reason;
};


/* engine.c */
int64_t now_secs(void);
double mono(void);
void average(double *avg, double sample);
void who_clear(struct who *w);
void job_ok(struct job *job, json_t *a);
void job_error_v(struct job *job, const char *reason, const char *message,
    const char *const *violations);
void job_error(struct job *job, const char *reason);
void job_dir_error(struct job *job, const struct dir_result *res);
/* The reason for a lookup that failed: "busy" or "directory-unavailable". */
const char *job_no_answer(const struct dir_result *res);
/* True (and logged) when job has been answered already: the caller must
 * not start what it is about to; what it started would be refused anyway.
 * Answers go out, and jobs are freed, from the event loop only. */
bool job_answering(struct job *job, const char *what);
void job_later(struct job *job, double secs, void (*fn)(struct job *));
void job_like(struct job *job, double avg, void (*fn)(struct job *));
void job_error_like(struct job *job, const char *reason, double avg);
int ticket_load(struct job *job, const char *id);
/*
 * Group commit: ops are committed together with those of every other job
 * in this turn of the loop, in one transaction (one fdatasync), and then
 * runs with job->commit_rc 0 or -1. The job must not act on the changes
 * (answer, write to the directory) before then. engine_commit_later() is
 * for changes nobody waits for.
 */
void job_commit(struct job *job, const struct store_op *ops, size_t n,
    void (*then)(struct job *));
void engine_commit_later(struct engine *e, const struct store_op *ops,
    size_t n);
/* In a continuation of job_commit(): true when the changes are durable;
 * otherwise the request has been answered internal. */
bool job_committed(struct job *job);
/* The ticket, through the group commit. */
void ticket_save_then(struct job *job, void (*then)(struct job *));
/* 0: loaded and live; -1: answered; 1: another job works on the ticket,
 * this one is dispatched again after it (one job per ticket at a time). */
int ticket_live(struct job *job);
typedef void looked_up_fn(struct job *job, const struct dir_result *res);
void job_lookup(struct job *job, const char *user, looked_up_fn *next);
void send_notice(struct job *job, const char *action);
/* A mail or SMS for job could not be sent (engine_hooks.notify_failed). */
void job_notify_failed(struct job *job, const char *kind);
/* The identity of the account at dn, or of name when dn is NULL. */
void job_identify(struct job *job, const char *dn, const char *name);
/* The identity of the ticket's user (the account it was started for). */
void job_identify_ticket(struct job *job);
/* Who job->acct is, for a log line: the account's DN, else the name. */
const char *job_who(const struct job *job);
/* One more failed proof may be on its way for job->acct: false (and
 * nothing reserved) when the failures counted and reserved already reach
 * lockout_failures. The reservation ends with failure_release() or
 * job_free(). */
bool failure_reserve(struct job *job);
void failure_release(struct job *job);
/* Refuse ticket id until until (seconds), whatever the store says. */
void engine_burn_ticket(struct engine *e, const char *id, int64_t until);
/* Hold or release the spool for the notifier's or the directory's
 * backlog. */
void back_pressure(struct engine *e);
void send_admin_notices(struct job *job, const char *action);
void dispatch(struct job *job);

/* ops.c */
bool refuse_locked(struct job *job);
void password_refused(struct job *job, const struct dir_result *res);
void ticket_extend(struct job *job);
bool refuse_weak_password(struct job *job, const char *user);
bool refuse_unknown_user(struct job *job, const struct dir_result *res);
void op_start(struct job *job);
void op_verify(struct job *job);
void op_reset(struct job *job);
void op_change(struct job *job);
void op_policy(struct job *job);

/* questions.c is the hashing; register.c the ops that use it */
bool questions_enough(const struct job *job);
void start_questions(struct job *job);
void start_decoy_questions(struct job *job);
void verify_answers(struct job *job);
/* The hashing queue is full: answered "busy" (true). */
bool questions_refuse_busy(struct job *job);
void prove_failed(struct job *job, bool expired);
void proof_saved(struct job *job);
void op_register(struct job *job);

/* recovery.c */
void intent_put(struct job *job, const char *state,
    void (*then)(struct job *));
void intent_done(struct job *job);
void intent_succeeded(struct job *job, const char *spent_ticket,
    void (*then)(struct job *));
void settle_later(struct job *job);
bool resume(struct job *job);

#endif
