/*
 * register.c - security questions in the ops: registering them (with a
 * mobile number and an alternate address), asking them at start, checking
 * the answers at verify/reset.
 *
 * register proves the current password with a bind as the user (a failure
 * counts towards the lockout, like a wrong code), hashes the answers with
 * argon2id on the worker threads, and replaces the attributes in one modify.
 * start with method questions shows [questions] required questions drawn at
 * random from the user's; a decoy shows as many from [questions] choices
 * (or a built-in list), the same set for the same name every time, in a
 * random order like a real user's. With choices, register takes no other
 * question, so a decoy's cannot be told by its texts. Answers are checked
 * against the hashes read from the directory at verify time, all of them,
 * off the event loop; answers to a decoy ticket are checked against a hash
 * nothing matches, so they take as long and fail.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/eligible.h"
#include "daemon/job.h"
#include "daemon/questions.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

void start_answer(struct job *job);

static const char *const decoy_questions[] = {
	"What was the name of your first pet?",
	"In which city were you born?",
	"What was the name of your first school?",
	"What is your oldest cousin's first name?",
	"What was the make of your first car?",
	"What was your childhood nickname?",
	"In which street did you grow up?",
	"What is the middle name of your oldest sibling?",
	"What was the first concert you attended?",
	"What is your favourite book?",
};
#define NDECOY (sizeof(decoy_questions) / sizeof(decoy_questions[0]))

bool
questions_enough(const struct job *job)
{
	return eligible_questions(job->cfg, job->who.questions);
}

/* Draw k of n indices, uniformly, without repeats. */
static void
draw(unsigned n, unsigned k, unsigned char *out)
{
	unsigned char pool[QUESTIONS_MAX];

	for (unsigned i = 0; i < n; i++)
		pool[i] = (unsigned char)i;
	for (unsigned i = 0; i < k; i++) {
		unsigned j = i + randombytes_uniform(n - i);
		unsigned char t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
		out[i] = pool[i];
	}
}

/* k of n indices chosen by a keyed hash of the identity: the same set for
 * the same account (or name) every time. */
static void
keyed_set(const struct job *job, unsigned n, unsigned k, unsigned *set)
{
	unsigned char h[4 * QUESTIONS_MAX];
	unsigned pool[CONFIG_CHOICES_MAX > QUESTIONS_MAX ? CONFIG_CHOICES_MAX :
	    QUESTIONS_MAX];

	crypto_generichash(h, sizeof(h), (const unsigned char *)job->acct,
	    strlen(job->acct), store_hmac_key(job->e->store), 32);
	for (unsigned i = 0; i < n; i++)
		pool[i] = i;
	for (unsigned i = 0; i < k; i++) {	/* keyed partial shuffle */
		uint32_t r = (uint32_t)h[4 * i] | (uint32_t)h[4 * i + 1] << 8 |
		    (uint32_t)h[4 * i + 2] << 16 | (uint32_t)h[4 * i + 3] << 24;
		unsigned j = i + r % (n - i), t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
		set[i] = pool[i];
	}
}

static void
questions_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	average(&job->e->start_secs, mono() - job->started);
	start_answer(job);
}

/* The questions asked are pending on the ticket: which ones, until when. */
static void
set_pending(struct job *job, const unsigned *set, unsigned k)
{
	struct pending_code *p =
	    &job->t.pending[challenge_method_index(METHOD_QUESTIONS)];

	memset(p, 0, sizeof(*p));
	p->active = true;
	p->expires = job->t.expires;
	p->nq = k;
	for (unsigned i = 0; i < k; i++)
		p->qidx[i] = (unsigned char)set[i];
}

/*
 * A user with more questions registered than [questions] required is
 * asked the same ones every time (chosen by a keyed hash of the account),
 * in a fresh random order: restarting shows nobody more of them, and a
 * decoy's fixed set (below) looks the same.
 */
void
start_questions(struct job *job)
{
	struct question_set qs = { 0 };
	unsigned k = job->cfg->questions.required, set[QUESTIONS_MAX];
	unsigned shown[QUESTIONS_MAX] = { 0 };
	unsigned char order[QUESTIONS_MAX];

	if (questions_parse(job->who.questions, &qs) != 0 || qs.n < k) {
		questions_clear(&qs);
		job_error(job, "internal");
		return;
	}
	keyed_set(job, (unsigned)qs.n, k, set);
	draw(k, k, order);
	for (unsigned i = 0; i < k; i++)
		shown[i] = set[order[i]];
	set_pending(job, shown, k);
	job->asked = json_array();
	for (unsigned i = 0; i < k; i++)
		json_array_append_new(job->asked, json_string(qs.question[shown[i]]));
	questions_clear(&qs);
	ticket_save_then(job, questions_saved);
}

/*
 * A decoy's questions: a set of [questions] required drawn from the
 * configured choices (or, without them, a built-in list) by a keyed hash
 * of the identity, so the same set for the same name every time, as a
 * user's are; then shown in a fresh random order at every start, and
 * pending on the ticket with the same expiry, as a real user's are.
 */
void
start_decoy_questions(struct job *job)
{
	const struct strlist *choices = &job->cfg->questions.choices;
	const char *const *list = choices->n > 0 ?
	    (const char *const *)choices->v : decoy_questions;
	unsigned n = choices->n > 0 ? (unsigned)choices->n : NDECOY;
	unsigned k = job->cfg->questions.required, set[QUESTIONS_MAX];
	unsigned shown[QUESTIONS_MAX] = { 0 };
	unsigned char order[QUESTIONS_MAX];

	if (k > n)
		k = n;		/* the configuration makes k <= n */
	keyed_set(job, n, k, set);
	draw(k, k, order);
	for (unsigned i = 0; i < k; i++)
		shown[i] = set[order[i]];
	set_pending(job, shown, k);
	json_decref(job->asked);
	job->asked = json_array();
	for (unsigned i = 0; i < k; i++)
		json_array_append_new(job->asked, json_string(list[shown[i]]));
}

/* --- checking answers ------------------------------------------------------- */

/*
 * Hashes waiting for a worker, at most: beyond it a request that would
 * hash answers "busy" (at once, and without counting a failure). With 2
 * workers at about 60 ms a hash, 16 waiting is about a second and a half
 * of work with [questions] required = 3.
 */
#define QUESTIONS_QUEUE_MAX 16

bool
questions_refuse_busy(struct job *job)
{
	if (questions_busy(job->e->qworkers) < QUESTIONS_QUEUE_MAX)
		return false;
	job->truth = "the hashing queue is full";
	job_error(job, "busy");
	return true;
}

static void
on_answers_checked(bool all_match, void *arg)
{
	struct job *job = arg;
	int qi = challenge_method_index(METHOD_QUESTIONS);

	failure_release(job);
	if (!all_match || !job->answers_real || !job->t.real) {
		prove_failed(job, false);
		return;
	}
	/* A failure counted meanwhile (another ticket, another client) may
	 * have locked the account: then even right answers are refused. */
	if (refuse_locked(job))
		return;
	/* The questions stay on the ticket, used: the same answers sent again
	 * are accepted again (challenge.h), and add no time. */
	if (!job->t.pending[qi].used) {
		job->t.pending[qi].active = false;
		job->t.pending[qi].used = true;
		job->t.pending[qi].expires = 0;
		job->t.verified |= METHOD_QUESTIONS;
		ticket_extend(job);
	}
	ticket_save_then(job, proof_saved);
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
answers_looked_up(struct job *job, const struct dir_result *res)
{
	int qi = challenge_method_index(METHOD_QUESTIONS);
	const struct pending_code *p = &job->t.pending[qi];
	struct question_set qs = { 0 };
	const char *hashes[QUESTIONS_MAX], *answers[QUESTIONS_MAX];
	bool asked = p->active || p->used;
	unsigned k = asked ? p->nq : job->cfg->questions.required;
	bool real;

	if (res->reason != DIR_OK) {
		job_error(job, job_no_answer(res));
		return;
	}
	if (questions_refuse_busy(job))
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
		hashes[i] = real ? qs.hash[p->qidx[i]] : job->e->decoy_hash;
	job->answers_real = real;
	questions_check(job->e->qworkers, hashes, answers, k,
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
void
verify_answers(struct job *job)
{
	int qi = challenge_method_index(METHOD_QUESTIONS);
	const struct pending_code *p = &job->t.pending[qi];

	if (p->active && p->expires < now_secs()) {
		prove_failed(job, true);
		return;
	}
	if (!failure_reserve(job)) {
		job->truth = "failures in flight would lock self-service";
		job_error(job, "throttled");
		return;
	}
	job_lookup(job, job->t.user, answers_looked_up);
}

/* --- register ------------------------------------------------------------- */

static void
registered(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const struct config *cfg = job->cfg;
	json_t *a, *list;

	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: registration refused at %s: %s",
		    job->sreq->id, res->server ? res->server : "-", res->detail);
		job_error(job, dir_reason_code(res->reason));
		return;
	}
	a = answer_ok(job->sreq->id);
	list = json_array();
	if ((cfg->policy.methods & METHOD_EMAIL) &&
	    (job->req.email != NULL || job->who.mail != NULL))
		json_array_append_new(list, json_string("email"));
	if ((cfg->policy.methods & METHOD_SMS) &&
	    (job->req.mobile != NULL || job->who.mobile != NULL))
		json_array_append_new(list, json_string("sms"));
	if ((cfg->policy.methods & METHOD_QUESTIONS) &&
	    (job->req.questions != NULL || questions_enough(job)))
		json_array_append_new(list, json_string("questions"));
	json_object_set_new(a, "registered", list);
	send_notice(job, "used to update your recovery information");
	job_ok(job, a);
}

static void
write_registration(struct job *job, const char *questions_value)
{
	const struct config *cfg = job->cfg;
	struct dir_attr_change ch[3];
	size_t n = 0;

	if (questions_value != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->questions.attribute,
		    questions_value };
	if (job->req.mobile != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->sms.attribute,
		    job->req.mobile };
	if (job->req.email != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->email.attribute,
		    job->req.email };
	dir_set_attributes(job->dr->dir, job->who.dn, ch, n, registered, job);
}

static void
on_hashed(char **hashes, size_t n, void *arg)
{
	struct job *job = arg;
	struct question_set qs = { 0 };
	char *value;

	if (hashes == NULL) {
		job_error(job, "internal");
		return;
	}
	qs.n = n;
	for (size_t i = 0; i < n; i++) {
		qs.question[i] = job->req.questions[i].question;
		qs.hash[i] = hashes[i];
	}
	value = questions_format(&qs);	/* borrowed strings: no clear */
	write_registration(job, value);
	free(value);
}

static void
register_proved(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const char *answers[QUESTIONS_MAX];

	if (res->reason != DIR_OK) {
		password_refused(job, res);
		return;
	}
	if (job->who.disabled || !job->who.allowed) {
		job_error(job, job->who.disabled ? "account-disabled" :
		    "not-allowed");
		return;
	}
	if (job->req.questions == NULL) {
		write_registration(job, NULL);
		return;
	}
	if (questions_refuse_busy(job))
		return;
	for (size_t i = 0; i < job->req.nquestions; i++)
		answers[i] = job->req.questions[i].answer.s;
	questions_hash(job->e->qworkers, answers, job->req.nquestions,
	    on_hashed, job);
}

static void
register_looked_up(struct job *job, const struct dir_result *res)
{
	if (refuse_unknown_user(job, res))
		return;
	dir_check_password(job->dr->dir, job->who.dn, job->req.password.s,
	    job->req.password.len, register_proved, job);
}

/* With [questions] choices, only those; otherwise any question. */
static bool
offered(const struct config *cfg, const char *question)
{
	const struct strlist *c = &cfg->questions.choices;

	return c->n == 0 || strlist_has(c, question);
}

void
op_register(struct job *job)
{
	const struct config *cfg = job->cfg;

	if (job->req.questions != NULL) {
		if (!(cfg->policy.methods & METHOD_QUESTIONS) ||
		    cfg->questions.attribute == NULL) {
			job_error(job, "not-allowed");
			return;
		}
		if (job->req.nquestions < cfg->questions.required) {
			job_error_v(job, "bad-request", "Please register more "
			    "security questions.", NULL);
			return;
		}
		for (size_t i = 0; i < job->req.nquestions; i++) {
			const struct secret *ans = &job->req.questions[i].answer;
			char *norm = secret_alloc(ans->len + 1);
			bool blank;

			questions_normalise(ans->s, ans->len, norm);
			blank = (*norm == '\0');
			secret_free(norm);
			if (blank) {
				job_error_v(job, "bad-request", "An answer may not "
				    "be empty.", NULL);
				return;
			}
		}
		for (size_t i = 0; i < job->req.nquestions; i++)
			for (size_t k = 0; k < i; k++)
				if (strcasecmp(job->req.questions[i].question,
				    job->req.questions[k].question) == 0) {
					job_error_v(job, "bad-request", "Each "
					    "security question must differ.", NULL);
					return;
				}
		for (size_t i = 0; i < job->req.nquestions; i++)
			if (!offered(cfg, job->req.questions[i].question)) {
				job_error_v(job, "bad-request", "Each security "
				    "question must be one of those offered.", NULL);
				return;
			}
	}
	if ((job->req.mobile != NULL && !(cfg->policy.methods & METHOD_SMS)) ||
	    (job->req.email != NULL && !(cfg->policy.methods & METHOD_EMAIL))) {
		job_error(job, "not-allowed");
		return;
	}
	job_lookup(job, job->req.user, register_looked_up);
}
