/*
 * start.c - op start: a ticket, and a code sent or questions asked; or a
 * decoy shaped like it for an unknown, disabled, ineligible or throttled
 * user (or another user's ticket), saved and timed like a real start.
 *
 * A user with more questions registered than [questions] required is
 * asked a fixed set (chosen by a keyed hash of the account) in a fresh
 * order; a decoy shows as many from [questions] choices (or a built-in
 * list), the same set for the same name every time, in a random order
 * like a real user's.
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
#include "daemon/decoy.h"
#include "daemon/eligible.h"
#include "daemon/job.h"
#include "daemon/messages.h"
#include "daemon/notify.h"
#include "daemon/questions.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

static void start_answer(struct job *job);

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

static bool
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
	    strlen(job->acct), store_hmac_key(job_store(job)), 32);
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
	job_timed(job, JOB_TIMING_START);
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
static void
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
	job_ticket_save(job, questions_saved);
}

/*
 * A decoy's questions: a set of [questions] required drawn from the
 * configured choices (or, without them, a built-in list) by a keyed hash
 * of the identity, so the same set for the same name every time, as a
 * user's are; then shown in a fresh random order at every start, and
 * pending on the ticket with the same expiry, as a real user's are.
 */
static void
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

static void
on_code_sent(bool ok, const char *detail, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_NOTIFY);
	sodium_memzero(job->code, sizeof(job->code));
	if (!ok) {
		log_errorx("notify: request %s: sending the code failed: %s",
		    job->sreq->id, detail);
		job_notify_failed(job, "code");
		job_error(job, "internal");
		return;
	}
	job_timed(job, JOB_TIMING_START);
	start_answer(job);
}

static void
start_answer(struct job *job)
{
	json_t *a = request_answer_ok(job->sreq->id);

	json_object_set_new(a, "ticket", json_string(job->t.id));
	json_object_set_new(a, "method",
	    json_string(config_method_name(job->req.method)));
	if (job->req.method == METHOD_QUESTIONS)
		json_object_set(a, "questions", job->asked);
	else if (job->req.method != METHOD_TOTP)
		json_object_set_new(a, "sent_to", json_string(job->sent_to));
	json_object_set_new(a, "expires_in",
	    json_integer(job->cfg->policy.code_ttl));
	job_ok(job, a);
}

/* The ticket of a start that sends nothing is saved: an authenticator-app
 * start, real or decoy, answers now; every other decoy after about as
 * long as a real start that sent something takes. */
static void
unsent_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	if (job->req.method == METHOD_TOTP)
		start_answer(job);
	else
		job_like(job, JOB_TIMING_START, start_answer);
}

/* Decoys answer after about as long as a real start takes. They save their
 * ticket through the same group commit as a real start, and change it as a
 * real start does: a fresh code (one nobody is sent) or question set for
 * the method, and the ticket's and the code's expiry alike. */
static void
start_decoy(struct job *job, const char *truth)
{
	char code[CODE_MAX + 1];

	job->truth = truth;
	if (!job->have_ticket) {
		challenge_new_id(job->t.id);
		job->t.user = xstrdup(job->req.user);
		memcpy(job->t.acct, job->acct, sizeof(job->t.acct));
		job->t.created = job_now();
		job->have_ticket = true;
	}
	/* A real ticket stays real (what it verified stays verified): this
	 * start just sends nothing. Only a new or decoy ticket is a decoy. */
	if (!job->t.dn)
		job->t.real = false;
	job_ticket_extend(job);
	if (job->req.method == METHOD_QUESTIONS) {
		start_decoy_questions(job);
	} else if (job->req.method == METHOD_TOTP) {
		challenge_await(&job->t, METHOD_TOTP, job->t.expires);
	} else {
		challenge_new_code(job->cfg->policy.code_length, code);
		challenge_set_code(&job->t, store_hmac_key(job_store(job)),
		    job->req.method, code, job->t.expires);
		sodium_memzero(code, sizeof(code));
		decoy_mask(job_masks(job), store_hmac_key(job_store(job)),
		    job->acct, job->req.method, job->req.user, job->sent_to,
		    sizeof(job->sent_to));
	}
	job_ticket_save(job, unsent_saved);
}

/* The ticket with the code's hash is durable: send the code. */
static void
send_code(struct job *job)
{
	const struct config *cfg = job->cfg;
	enum method m = job->req.method;
	const char *to = m == METHOD_EMAIL ? job->who.mail : job->who.mobile;
	char minutes[16];
	struct notify_var vars[] = {
		{ "user", job->req.user },
		{ "code", job->code },
		{ "minutes", minutes },
		{ NULL, NULL },
	};
	const char *err;
	size_t len;
	char *msg;

	if (!job_committed(job))
		return;		/* job_free() wipes the code */
	snprintf(minutes, sizeof(minutes), "%u", (cfg->policy.code_ttl + 59) / 60);
	if (m == METHOD_EMAIL) {
		notify_mask_email(to, job->sent_to, sizeof(job->sent_to));
		decoy_learn(job_masks(job), m, job->sent_to, job->req.user);
		msg = message_build(cfg, MSG_EMAIL_CODE, job->req.lang, to, vars, &len, &err);
	} else {
		notify_mask_phone(to, job->sent_to, sizeof(job->sent_to));
		decoy_learn(job_masks(job), m, job->sent_to, job->req.user);
		msg = message_build(cfg, MSG_SMS_CODE, job->req.lang, to, vars, &len, &err);
	}
	if (msg == NULL) {
		sodium_memzero(job->code, sizeof(job->code));
		log_errorx("engine: request %s: cannot build the message: %s",
		    job->sreq->id, err);
		job_error(job, "internal");
		return;
	}
	if (!job_away(job, JOB_NOTIFY)) {
		sodium_memzero(job->code, sizeof(job->code));
		secret_free(msg);
		return;
	}
	notify_send(job_notifier(job), cfg, m == METHOD_EMAIL ? NOTIFY_MAIL :
	    NOTIFY_SMS, to, msg, len, on_code_sent, job);
	secret_free(msg);
}

/* The user is who the ticket was started for, eligible and not throttled:
 * a real ticket (kept, or new) with a code sent or questions asked. */
static void
start_real(struct job *job)
{
	const struct config *cfg = job->cfg;
	enum method m = job->req.method;

	if (!job->have_ticket) {
		challenge_new_id(job->t.id);
		job->t.user = xstrdup(job->req.user);
		job->t.dn = xstrdup(job->who.dn);
		job->t.created = job_now();
		job->have_ticket = true;
	}
	memcpy(job->t.acct, job->acct, sizeof(job->t.acct));
	job->t.real = true;
	job->t.admin = job->who.admin;
	job_ticket_extend(job);
	if (m == METHOD_QUESTIONS) {
		start_questions(job);
		return;
	}
	if (m == METHOD_TOTP) {
		challenge_await(&job->t, METHOD_TOTP, job->t.expires);
		job_ticket_save(job, unsent_saved);
		return;
	}
	challenge_new_code(cfg->policy.code_length, job->code);
	challenge_set_code(&job->t, store_hmac_key(job_store(job)), m, job->code,
	    job->t.expires);
	job_ticket_save(job, send_code);
}

/* Why this start is a decoy (for the audit line), or NULL when it is real.
 * The ticket of another identity is dropped: the decoy gets a fresh one. */
static const char *
start_decoy_why(struct job *job)
{
	const struct who *w = &job->who;
	const struct eligible_user e = {
		.found = w->found, .disabled = w->disabled,
		.allowed = w->allowed, .admin = w->admin,
		.mail = w->mail, .mobile = w->mobile,
		.questions = questions_enough(job),
		.totp = w->totp != NULL && *w->totp != '\0',
	};
	const char *why;

	if (job->have_ticket) {
		char mine[TICKET_ACCT_LEN];

		memcpy(mine, job->acct, sizeof(mine));
		job_identify_ticket(job);
		if (strcmp(mine, job->acct) != 0) {
			/* someone else's ticket: a fresh decoy, same shape */
			memcpy(job->acct, mine, sizeof(mine));
			ticket_clear(&job->t);
			job->have_ticket = false;
			return "decoy: ticket of another user";
		}
	}
	if (job->have_ticket && job->t.registering) {
		/* never extended or changed by a start: a fresh decoy */
		ticket_clear(&job->t);
		job->have_ticket = false;
		return "decoy: a registration ticket";
	}
	if (job->throttled != NULL)
		return job->throttled;
	if ((why = eligible_start(job->cfg, &e, job->req.method)) != NULL)
		return why;
	if (job->have_ticket && (!job->t.real ||
	    strcmp(job->t.dn ? job->t.dn : "", w->dn) != 0))
		return "decoy: ticket belongs to another or no user";
	return NULL;
}

static void
start_looked_up(struct job *job)
{
	const char *why;

	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	/* Every counter on the account the name resolved to, whatever its
	 * spelling; an unknown name on its canonical form. */
	job_identify(job, job->who.found ? job->who.dn : NULL, job->req.user);
	job->throttled = throttle_start(job_store(job), job->cfg, job->acct,
	    job->req.method, job->req.client_key, job_now());
	if ((why = start_decoy_why(job)) != NULL)
		start_decoy(job, why);
	else
		start_real(job);
}

void
op_start(struct job *job)
{
	const struct config *cfg = job->cfg;

	if (!(cfg->policy.methods & job->req.method)) {
		/* not offered here: refused for everyone alike */
		job_error(job, "not-allowed");
		return;
	}
	if (job->req.ticket[0] != '\0' && job_ticket_live(job) != 0)
		return;
	/* Looked up first, whatever happens next: the counters are kept on
	 * the account the name resolves to, and a throttled start takes as
	 * long as any. */
	job_lookup(job, job->req.user, start_looked_up);
}
