/*
 * proof.c - ops verify, reset and unlock: the code or the answers a request
 * carries are checked against its ticket (a wrong one counts on the ticket
 * and towards the lockout), and reset and unlock, once the ticket holds
 * every method required, write the password or clear the lock after the
 * write intent is durable (recovery.c).
 *
 * Answers are checked off the event loop, against the hashes the
 * directory holds at verify time, all of them; answers to a decoy ticket
 * against a hash nothing matches, so they take as long and fail.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "daemon/challenge.h"
#include "daemon/job.h"
#include "daemon/questions.h"
#include "daemon/request.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "daemon/totp.h"
#include "ldap/dir.h"

static void proof_saved(struct job *job);
static void totp_looked_up(struct job *job);
static void reset_send(struct job *job);
static void reset_verified(struct job *job);
static void verify_answer(struct job *job);
static void verify_answers(struct job *job);

static void
failure_saved(struct job *job)
{
	if (job_committed(job))
		job_error(job, job->late_reason);
}

/* A wrong code or answer: counted on the ticket and towards the user's
 * lockout, then answered once the count is durable. */
void
proof_failed(struct job *job, bool expired)
{
	const struct config *cfg = job->cfg;

	job->t.attempts++;
	job_identify_ticket(job);
	if (throttle_failure(job_store(job), cfg, job->acct, job_who(job),
	    job->req.client_key, job_now()))
		job->truth = "this failure locked self-service";
	if (!job->t.real)
		job->truth = "decoy ticket";
	job->late_reason = job->t.attempts >= cfg->policy.max_attempts ?
	    "too-many-attempts" : expired ? "expired" : "bad-code";
	job_ticket_save(job, failure_saved);
}

/* No reservation for the check (job_failure_reserve()): the failures
 * under way would lock self-service, or a shared store failed to say. */
static void
refuse_unreserved(struct job *job)
{
	if (job->reserve_failed) {
		job->truth = "the state store could not reserve the check";
		job_error(job, "state-unavailable");
		return;
	}
	job->truth = "failures in flight would lock self-service";
	job_error(job, "throttled");
}

/* Check the code or answers the request carries; on success the ticket
 * has one more verified method (saved) and proof_saved() goes on with the
 * op; on failure the job is answered. Answers are checked off the event
 * loop. */
static void
prove(struct job *job)
{
	enum method m;
	bool expired, again;

	if (job->req.answers != NULL) {
		verify_answers(job);
		return;
	}
	m = challenge_verify_code(&job->t, store_hmac_key(job_store(job)),
	    job->req.code.s, job->req.code.len, job_now(), &expired, &again);
	if (m == 0 && job->t.pending[challenge_method_index(METHOD_TOTP)].active &&
	    job->req.code.len == TOTP_DIGITS) {
		/* an authenticator app's code: its secret is in the directory,
		 * read on real and decoy tickets alike. The failure it may be
		 * is reserved first, as for answers: parallel tickets cannot
		 * try more codes than lockout_failures. */
		if (!job_failure_reserve(job)) {
			refuse_unreserved(job);
			return;
		}
		job_lookup(job, job->t.user, totp_looked_up);
		return;
	}
	if (m == 0) {
		proof_failed(job, expired);
		return;
	}
	/* Time to choose a password, from now; a proof sent again (a form
	 * re-sent, a request resumed after a crash) adds no time. */
	if (!again)
		job_ticket_extend(job);
	job_ticket_save(job, proof_saved);
}

/* A sealed value nobody's key opens (made under a key thrown away), for
 * checks that must cost what a real one does. Not a secret. */
static const char *
decoy_sealed(void)
{
	static char *decoy;
	unsigned char key[TOTP_KEY_LEN], *secret;

	if (decoy == NULL) {
		randombytes_buf(key, sizeof(key));
		secret = totp_new_secret();
		decoy = totp_seal(key, "", secret, 0);
		secret_free(secret);
		sodium_memzero(key, sizeof(key));
	}
	return decoy;
}

bool
proof_totp(struct job *job, const char *sealed, const char *dn)
{
	const struct config *cfg = job->cfg;
	const struct pending_code *p =
	    &job->t.pending[challenge_method_index(METHOD_TOTP)];
	struct store *st = job_store(job);
	unsigned char *secret = secret_alloc(TOTP_SECRET_LEN);
	int64_t registered, step = -1;
	int64_t last = throttle_totp_last(st, job->acct, TOTP_PERIOD);
	enum totp_result r = TOTP_WRONG, checked;
	char *owner;
	bool opened;

	if (p->expires < job_now()) {
		secret_free(secret);
		proof_failed(job, true);
		return false;
	}
	if (cfg->totp.key != NULL) {
		/* Without a secret (a decoy, a user without an app) the same
		 * work: a sealed value opened, codes computed; never right. */
		owner = totp_owner(dn != NULL ? dn : "");
		opened = totp_open(cfg->totp.key, owner,
		    sealed != NULL ? sealed : decoy_sealed(), secret,
		    &registered) == 0 && sealed != NULL;
		if (!opened)
			randombytes_buf(secret, TOTP_SECRET_LEN);
		checked = totp_check(secret, TOTP_SECRET_LEN, job->req.code.s,
		    job_now(), last, &step);
		if (opened)
			r = checked;
		free(owner);
	}
	secret_free(secret);
	if (r == TOTP_OK) {
		switch (throttle_totp_use(st, job->acct, step, TOTP_PERIOD)) {
		case 1:
			break;
		case 0:		/* another instance took it just now */
			r = TOTP_REPLAY;
			break;
		default:	/* not the user's fault: nothing counted */
			job->truth = "the state store failed to record the step";
			job_error(job, "state-unavailable");
			return false;
		}
	}
	if (r == TOTP_REPLAY)
		job->truth = "an authenticator code used before";
	if (r != TOTP_OK) {
		proof_failed(job, false);
		return false;
	}
	challenge_set_verified(&job->t, store_hmac_key(st), METHOD_TOTP,
	    job->req.code.s, job->req.code.len);
	return true;
}

/*
 * An authenticator code on a ticket that awaits one: checked against the
 * secret the directory holds for the ticket's account (none for a decoy),
 * each step once per account. Right: the method is verified, and the same
 * code sent again on this ticket is accepted again (challenge.h).
 */
static void
totp_looked_up(struct job *job)
{
	bool real;

	job_failure_release(job);
	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	real = job->t.real && job->who.found && job->t.dn != NULL &&
	    strcmp(job->who.dn, job->t.dn) == 0;
	if (!proof_totp(job, real ? job->who.totp : NULL, job->t.dn))
		return;
	/* A failure counted meanwhile (another ticket, another client) may
	 * have locked the account: then even the right code is refused (the
	 * ticket, verified in memory only, is not saved). */
	if (job_refuse_locked(job))
		return;
	job_ticket_extend(job);
	job_ticket_save(job, proof_saved);
}

/* What each op does once its proof is on the ticket, durably: verify
 * answers; reset and unlock go on to the write. */
static void (*const after_proof[])(struct job *) = {
	[OP_VERIFY] = verify_answer,
	[OP_RESET] = reset_verified,
	[OP_UNLOCK] = reset_verified,
};

static void
proof_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	after_proof[job->req.op](job);
}

static unsigned
remaining(const struct job *job)
{
	unsigned need = challenge_required(job->cfg, job->t.admin);
	unsigned have = challenge_verified_count(job->cfg, &job->t);

	return have >= need ? 0 : need - have;
}

void
op_verify(struct job *job)
{
	if (job->req.code.s == NULL && job->req.answers == NULL) {
		job_error(job, "bad-request");
		return;
	}
	if (job_ticket_live(job) != 0)
		return;
	job_identify_ticket(job);
	if (job_refuse_locked(job))
		return;
	if (job->t.registering) {
		/* its codes went to contacts nobody has confirmed yet */
		job->truth = "a registration ticket";
		proof_failed(job, false);
		return;
	}
	prove(job);
}

static void
verify_answer(struct job *job)
{
	json_t *a, *list;

	a = request_answer_ok(job->sreq->id);
	list = json_array();
	for (unsigned m = METHOD_EMAIL; m <= METHOD_LAST; m <<= 1)
		if (job->t.verified & m)
			json_array_append_new(list,
			    json_string(config_method_name((enum method)m)));
	json_object_set_new(a, "verified", list);
	json_object_set_new(a, "remaining", json_integer(remaining(job)));
	job_ok(job, a);
}

static void
reset_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: directory refused the write at "
		    "%s: %s", job->sreq->id, res->server ? res->server : "-",
		    res->detail);
		if (res->maybe_applied) {
			recovery_settle_later(job);
			return;
		}
		recovery_intent_done(job);
		job_dir_error(job, res);
		return;
	}
	/* The ticket is spent: a reset happens once per ticket. */
	recovery_succeeded(job, job->t.id);
}

static void
reset_write(struct job *job)
{
	if (job->req.op == OP_UNLOCK) {
		if (job_away(job, JOB_DIRECTORY))
			dir_unlock(job_dir(job), job->who.dn, reset_written,
			    job);
		return;
	}
	recovery_intent_put(job, reset_send);
}

/* The intent is durable: the write may go. */
static void
reset_send(struct job *job)
{
	if (!job_committed(job) || !job_away(job, JOB_DIRECTORY))
		return;
	dir_reset_password(job_dir(job), job->who.dn, job->req.new_password.s,
	    job->req.new_password.len, reset_written, job);
}

static void
reset_looked_up(struct job *job)
{
	const struct who *w = &job->who;

	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	if (!w->found || strcmp(w->dn, job->t.dn ? job->t.dn : "") != 0) {
		job->truth = "the ticket's account is gone";
		job_error(job, "not-verified");
		return;
	}
	if (w->disabled) {
		job_error(job, "account-disabled");
		return;
	}
	if (!w->allowed) {
		job_error(job, "not-allowed");
		return;
	}
	/* Became an admin since the ticket was started: admin rules apply. */
	if (w->admin && !job->t.admin) {
		job->t.admin = true;
		if (remaining(job) > 0) {
			job_error(job, "not-verified");
			return;
		}
	}
	/* The user proved who they are: the rules may use, and name, what
	 * the entry holds (the same code may be sent again with a better
	 * password). */
	if (job->req.op == OP_RESET) {
		unsigned weak = password_weak_for(job, job->t.user);

		if (weak != 0) {
			password_answer_weak(job, weak);
			return;
		}
	}
	reset_write(job);
}

void
op_reset(struct job *job)
{
	if (job_ticket_live(job) != 0)
		return;
	job_identify_ticket(job);
	if (job_refuse_locked(job))
		return;
	if ((job->req.code.s != NULL || job->req.answers != NULL) &&
	    !job->t.registering)
		prove(job);
	else
		reset_verified(job);	/* a registration ticket: refused */
}

static void
reset_verified(struct job *job)
{
	if (!job->t.real || job->t.registering || remaining(job) > 0) {
		if (!job->t.real)
			job->truth = "decoy ticket";
		else if (job->t.registering)
			job->truth = "a registration ticket";
		job_error(job, "not-verified");
		return;
	}
	if (job->req.op == OP_RESET && password_refuse_weak(job, job->t.user))
		return;
	job_lookup(job, job->t.user, reset_looked_up);
}

static void
on_answers_checked(bool all_match, void *arg)
{
	struct job *job = arg;
	int qi = challenge_method_index(METHOD_QUESTIONS);

	job_back(job, JOB_HASH);
	job_failure_release(job);
	if (!all_match || !job->answers_real || !job->t.real) {
		proof_failed(job, false);
		return;
	}
	/* A failure counted meanwhile (another ticket, another client) may
	 * have locked the account: then even right answers are refused. */
	if (job_refuse_locked(job))
		return;
	/* The questions stay on the ticket, used: the same answers sent again
	 * are accepted again (challenge.h), and add no time. */
	if (!job->t.pending[qi].used) {
		job->t.pending[qi].active = false;
		job->t.pending[qi].used = true;
		job->t.pending[qi].expires = 0;
		job->t.verified |= METHOD_QUESTIONS;
		job_ticket_extend(job);
	}
	job_ticket_save(job, proof_saved);
}

/*
 * Exactly as many hashes on every path: the questions pending (or
 * [questions] required), whatever the request sends, each answer against
 * the user's own hash only when the ticket is real, its questions are
 * pending, the request answers all of them and the directory still holds
 * them; against the decoy hash otherwise. Missing answers are checked as
 * a placeholder, extra ones ignored.
 */
static void
answers_looked_up(struct job *job)
{
	int qi = challenge_method_index(METHOD_QUESTIONS);
	const struct pending_code *p = &job->t.pending[qi];
	struct question_set qs = { 0 };
	const char *hashes[QUESTIONS_MAX], *answers[QUESTIONS_MAX];
	bool asked = p->active || p->used;
	unsigned k = asked ? p->nq : job->cfg->questions.required;
	bool real;

	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	if (job_refuse_hash_busy(job))
		return;
	if (k == 0 || k > QUESTIONS_MAX)
		k = job->cfg->questions.required;
	real = job->t.real && asked && job->req.nanswers == p->nq &&
	    job->who.found && job->t.dn != NULL &&
	    strcmp(job->who.dn, job->t.dn) == 0 && job->who.questions != NULL &&
	    questions_parse(job->who.questions, &qs) == 0;
	for (unsigned i = 0; i < k; i++) {
		if (real && p->qidx[i] >= qs.n)
			real = false;	/* registered questions changed */
		answers[i] = i < job->req.nanswers ? job->req.answers[i].s : "-";
	}
	for (unsigned i = 0; i < k; i++)
		hashes[i] = real ? qs.hash[p->qidx[i]] : job_decoy_hash(job);
	job->answers_real = real;
	if (job_away(job, JOB_HASH))
		questions_check(job_qworkers(job), hashes, answers, k,
		    on_answers_checked, job);
	questions_clear(&qs);	/* questions_check() copied what it needs */
}

/*
 * Answers: an expired question set fails at once, on real and decoy
 * tickets alike. Otherwise the check is bounded: answered "throttled" when
 * the failures counted and those
 * of checks still in flight would reach the lockout (a failure is
 * reserved before the check, so parallel requests cannot try more answers
 * than lockout_failures); then the user is looked up, on every ticket; and
 * "busy" when the hashing queue is full by then.
 */
static void
verify_answers(struct job *job)
{
	int qi = challenge_method_index(METHOD_QUESTIONS);
	const struct pending_code *p = &job->t.pending[qi];

	if (p->active && p->expires < job_now()) {
		proof_failed(job, true);
		return;
	}
	if (!job_failure_reserve(job)) {
		refuse_unreserved(job);
		return;
	}
	job_lookup(job, job->t.user, answers_looked_up);
}
