/*
 * job.h - the request engine in one picture: the job a request becomes,
 * the job API that engine.c gives the op modules, and what each op module
 * exports, under one heading per file (daemon/ internal).
 *
 *   engine.c    a job's life: from a claimed request to its one answer;
 *               its steps, the group commit, ticket holds, lookups,
 *               lockout reservations, back pressure. struct engine is
 *               private to it; op modules see only the job_* functions.
 *   start.c     op start: codes, questions asked, decoys
 *   proof.c     ops verify, reset and unlock: codes and answers checked,
 *               the password written
 *   change.c    op change: the password changed as the user
 *   register.c  ops register, confirm and status: security questions,
 *               recovery contacts once a code sent to them came back,
 *               and what a user has registered
 *   policy.c    op policy: the rules, the same for everyone
 *   password.c  what change, register and reset share about passwords
 *   recovery.c  write intents, and settling a write whose answer was lost
 *   notice.c    the mails after a change: to the user, to the other admins
 *   decoy.c     what real masked contacts look like, so decoys look alike;
 *               the hash no answer matches
 *   audit.c     the audit line of an answered request
 *
 * Calls go one way, from op modules to the job API (and to the leaf
 * modules: challenge, store, throttle, notify, questions, dir); engine.c
 * calls back into them only through the op_* and recovery_resume()
 * entry points declared here.
 *
 * A job's steps (enum job_step) are explicit: a job runs (JOB_RUNNING) or
 * waits for exactly one thing, and what runs when the wait ends is its one
 * job->next. Every transition is checked against a table in engine.c and
 * logged at debug; a job is freed in one place only, on the turn of the
 * loop after its answer was decided (JOB_ANSWER).
 */
#ifndef SSPRD_JOB_H
#define SSPRD_JOB_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/challenge.h"
#include "daemon/messages.h"
#include "daemon/engine.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "ldap/dir.h"

struct decoy_masks;
struct dirref;
struct engine;
struct notifier;
struct qworkers;
struct ticket_hold;

#define WHO_NOTIFY_MAX 4

/* What a job needs from a lookup, copied out of the callback. */
struct who {
	bool found;
	bool disabled;
	bool locked;
	bool admin;
	bool allowed;
	char *dn;
	char *mail;		/* first usable address, or NULL */
	/* Every distinct usable address, recovery and owned (at most
	 * WHO_NOTIFY_MAX): notices go to all, so an address planted by
	 * whoever knew the password is not the only one told. */
	char *notify[WHO_NOTIFY_MAX];
	size_t n_notify;
	char *mobile;
	char *questions;	/* [questions] attribute value, or NULL */
	char *totp;		/* [totp] attribute value (sealed), or NULL */
	/* For the password rules: the entry's names and every mail value
	 * (dir_user's personal, then mail). */
	struct strlist personal;
	char *account;		/* for the directory's complexity rule */
	char *display_name;
	struct dir_pwpolicy pwpolicy;	/* the directory's rules for them */
	char stamp[32];		/* password-changed stamp */
};

/* What a job is doing: running on the loop, or waiting for one thing. */
enum job_step {
	JOB_RUNNING,		/* in an op's function */
	JOB_TICKET,		/* for another job done with its ticket */
	JOB_LOOKUP,		/* for a directory lookup (job_lookup()) */
	JOB_DIRECTORY,		/* for a directory bind, write or check */
	JOB_COMMIT,		/* for the group commit (job_commit()) */
	JOB_DELAY,		/* for a timer (job_later(), job_like()) */
	JOB_HASH,		/* for argon2id on a worker thread */
	JOB_NOTIFY,		/* for the code's mail or SMS */
	JOB_ANSWER,		/* answered; freed on the next turn */
};

/* Which real answers a decoy's timing copies (job_like()). */
enum job_timing {
	JOB_TIMING_START,	/* a start that sent a code or asked */
	JOB_TIMING_CHANGE,	/* a change the directory made */
};

struct job {
	struct engine *e;		/* opaque: see the job_* functions */
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
	bool reserved;			/* holds a reservation */
	bool reserve_failed;		/* ...could not get one: store error */
	bool answers_real;		/* answers go to the user's own hashes */
	bool intent_retried;		/* recovery.c: a second commit */
	bool settling;			/* recovery.c: a write from before */
	bool intent_after_answer;	/* drop the write intent once answered */
	char code[CODE_MAX + 1];
	char code_sms[CODE_MAX + 1];	/* register: the second code */
	char *totp_uri;			/* register: shown once (secret_alloc) */
	enum method confirming;		/* confirm: the method its code proved */
	bool stamp;			/* register: record the registration as
					 * confirmed now, before the answer */
	char sent_to[64];
	unsigned weak;			/* change: pwpolicy bits, told once the
					 * current password is proven */
	const char *truth;		/* for the audit line: why a decoy */
	const char *throttled;		/* start: why it may send nothing */
	const char *late_reason;	/* proof.c: answered once saved */
	json_t *asked;			/* start questions: the texts shown */
	double started;

	enum job_step step;
	void (*next)(struct job *);	/* what runs when the wait ends */
	enum dir_reason looked_up;	/* the last job_lookup()'s outcome */
	struct event *ev_delay;
	struct ticket_hold *hold;	/* the ticket this job works on */
	bool leased;			/* ...and its lease (a shared store) */
	TAILQ_ENTRY(job) waiting;	/* for another job's ticket */
	TAILQ_ENTRY(job) committing;	/* for the group commit */
	int commit_rc;			/* of the group commit: 0 or -1 */
	json_t *answer;			/* decided, sent on the next turn */
	/* audit */
	const char *result;
	const char *reason;
};

/* --- engine.c: the job API ---------------------------------------------- */

/* Answers: each job gets exactly one, written (and the job freed) on the
 * next turn of the loop; a second is logged and dropped. */
void job_ok(struct job *job, json_t *a);
void job_error_v(struct job *job, const char *reason, const char *message,
    const char *const *violations);
void job_error(struct job *job, const char *reason);
/* A directory answer as SPEC's reason and violations. */
void job_dir_error(struct job *job, const struct dir_result *res);
/* The reason for a directory operation that got no answer: "busy" or
 * "directory-unavailable". */
const char *job_no_answer(enum dir_reason reason);

/* Steps. job_away() before handing the job to another module's callback
 * (a dir_* operation, a hash, a message); false, logged, when the job was
 * answered already: the caller starts nothing. job_back() first thing in
 * that callback. Any other transition than the table allows is fatal. */
bool job_away(struct job *job, enum job_step step);
void job_back(struct job *job, enum job_step step);
const char *job_step_name(enum job_step step);

/* Waits the engine runs itself; then next runs. */
void job_later(struct job *job, double secs, void (*next)(struct job *));
/* When about as long as such real work takes has passed since the job
 * started (jittered by a fifth): decoys and unknown users answer like real
 * ones. job_timed() feeds the average with this job's time. */
void job_like(struct job *job, enum job_timing t, void (*next)(struct job *));
void job_timed(struct job *job, enum job_timing t);
/* A lookup of user; then job->looked_up is its outcome and job->who the
 * user (who.found false when there is none). */
void job_lookup(struct job *job, const char *user, void (*next)(struct job *));
/*
 * Group commit: ops are committed together with those of every other job
 * in this turn of the loop, in one transaction (one fdatasync); then next
 * runs with job->commit_rc 0 or -1. The job must not act on the changes
 * (answer, write to the directory) before then. job_commit_later() is for
 * changes nobody waits for.
 */
void job_commit(struct job *job, const struct store_op *ops, size_t n,
    void (*next)(struct job *));
void job_commit_later(struct job *job, const struct store_op *ops, size_t n);
/* In next: true when the changes are durable; otherwise the request has
 * been answered internal. */
bool job_committed(struct job *job);
/* Start the op of job->req again from its beginning (recovery.c). */
void job_dispatch(struct job *job);

/* Tickets. */
int job_ticket_load(struct job *job, const char *id);
/* The ticket, through the group commit. */
void job_ticket_save(struct job *job, void (*next)(struct job *));
/* 0: loaded and live; -1: answered; 1: another job works on the ticket,
 * this one is dispatched again after it (one job per ticket at a time). */
int job_ticket_live(struct job *job);
/* code_ttl more, but never past [policy] ticket_lifetime from its start. */
void job_ticket_extend(struct job *job);
/* Refuse ticket id for ticket_lifetime, whatever the store says. */
void job_ticket_burn(struct job *job, const char *id);

/* Identities, lockout and reservations. */
/* The identity of the account at dn, or of name when dn is NULL. */
void job_identify(struct job *job, const char *dn, const char *name);
/* The identity of the ticket's user (the account it was started for). */
void job_identify_ticket(struct job *job);
/* Who job->acct is, for a log line: the account's DN, else the name. */
const char *job_who(const struct job *job);
void job_who_clear(struct job *job);
/* Self-service locked for job->acct (too many failed proofs), or its
 * client blocked: answered "throttled" (true), even with the right proof. */
bool job_refuse_locked(struct job *job);
/* One more failed proof may be on its way for job->acct: false (and
 * nothing reserved) when the failures counted and reserved already reach
 * lockout_failures. Released by job_failure_release() or at the answer. */
bool job_failure_reserve(struct job *job);
void job_failure_release(struct job *job);
/* The hashing queue is full: answered "busy" (true). */
bool job_refuse_hash_busy(struct job *job);

/* What the job works with. */
int64_t job_now(void);
struct store *job_store(const struct job *job);
struct dir *job_dir(const struct job *job);
struct notifier *job_notifier(const struct job *job);
struct qworkers *job_qworkers(const struct job *job);
struct decoy_masks *job_masks(const struct job *job);
const struct engine_hooks *job_hooks(const struct job *job);
/* The engine is stopping: requests are left for the next start. */
bool job_closing(const struct job *job);
/* For answers nothing may match (see engine.c). */
const char *job_decoy_hash(const struct job *job);
/* A mail or SMS could not be sent: kind "code", "notice", "admin-notice". */
void job_notify_failed(struct job *job, const char *kind);

/* --- the ops (engine.c dispatches) ------------------------------------------ */

void op_start(struct job *job);			/* start.c */
void op_verify(struct job *job);		/* proof.c */
void op_reset(struct job *job);			/* proof.c: reset, unlock */
void op_change(struct job *job);		/* change.c */
void op_register(struct job *job);		/* register.c */
void op_confirm(struct job *job);		/* register.c */
void op_status(struct job *job);		/* register.c */
void op_policy(struct job *job);		/* policy.c */

/* --- proof.c ------------------------------------------------------------------ */

/* A wrong code or answer: counted on the ticket and towards the lockout,
 * then answered (bad-code, expired or too-many-attempts) once durable. */
void proof_failed(struct job *job, bool expired);
/* job's code against sealed (a [totp] attribute value) of the account at
 * dn, on a ticket awaiting one (NULLs: wrong). True: its step is recorded
 * as used for job->acct and the ticket's totp verified (in memory). False:
 * answered as a failed proof (expired, wrong, or used before). */
bool proof_totp(struct job *job, const char *sealed, const char *dn);

/* --- password.c --------------------------------------------------------------- */

/* The new password against ssprd's own rules: answered password-policy
 * with the violations when it breaks any (true). */
bool password_refuse_weak(struct job *job, const char *user);
/* The same rules with what the lookup found (job->who's personal data):
 * the bits, answered by the caller (password_answer_weak()) when and as
 * it may. */
unsigned password_weak_for(struct job *job, const char *user);
void password_answer_weak(struct job *job, unsigned bits);
/* The directory refused a password or a bind: answered, counted as a
 * failed proof where it is one. */
void password_refused(struct job *job, const struct dir_result *res);
/* After a lookup by change or register: true when the job was answered
 * (or will be): no directory, locked, or an unknown name (which costs
 * the directory what a real one does). */
bool password_refuse_unknown(struct job *job);

/* --- recovery.c --------------------------------------------------------------- */

/* Record the write intent durably; then next runs (job_committed()). */
void recovery_intent_put(struct job *job, void (*next)(struct job *));
void recovery_intent_done(struct job *job);
/* The write took effect: recorded durably (a reset's ticket spent in the
 * same transaction), then answered ok with its notices. */
void recovery_succeeded(struct job *job, const char *spent_ticket);
/* A write whose answer was lost: settled from the directory. */
void recovery_settle_later(struct job *job);
/* A request with a write intent: settled (true), or the intent was an
 * earlier request's and is dropped (false: do the op). */
bool recovery_resume(struct job *job);

/* --- notice.c ----------------------------------------------------------------- */

/* Tell the user what was done, at every address the lookup found (the
 * recovery ones and the owned one: who.notify). */
void notice_user(struct job *job, enum message_action action);
/* Entra tells every other admin when an admin resets: so does ssprd. */
void notice_admins(struct job *job, enum message_action action);

#endif
