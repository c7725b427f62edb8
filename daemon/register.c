/*
 * register.c - ops register and confirm: security questions, and recovery
 * contacts (an address, a mobile number) once their codes came back.
 *
 * register proves the current password with a bind as the user (a failure
 * counts towards the lockout, like a wrong code). Security questions are
 * hashed with argon2id on the worker threads and written at once. A new
 * address or number is written nowhere yet: a registration ticket holds
 * it, a code goes to it, and the answer says which methods are pending.
 * confirm checks a code against that ticket (attempts, expiry and the
 * lockout as for verify) and writes the one contact it confirms to its
 * [email] or [sms] recovery_attribute, never to the attribute other
 * systems own; the user is told at the address they had before. So a
 * password learnt once is not enough to plant a way back in: the new
 * contact must answer too, and the old one hears of it. A registration
 * ticket proves nothing for a reset (proof.c, start.c).
 * With [questions] choices, register takes no other question, so a
 * decoy's (start.c) cannot be told by its texts.
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
#include "daemon/messages.h"
#include "daemon/notify.h"
#include "daemon/questions.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "daemon/totp.h"
#include "ldap/dir.h"

static void codes_saved(struct job *job);
static bool contacts_throttled(struct job *job);
static void totp_offer(struct job *job);
static void contacts_start(struct job *job);
static void send_next_code(struct job *job);

static bool
wants_contacts(const struct job *job)
{
	return job->req.email != NULL || job->req.mobile != NULL ||
	    job->req.totp;
}

/* Where a confirmed contact (or app) is written, and what. */
static const char *
contact_attribute(const struct config *cfg, enum method m)
{
	return m == METHOD_EMAIL ? cfg->email.recovery_attribute :
	    m == METHOD_SMS ? cfg->sms.recovery_attribute :
	    m == METHOD_TOTP ? cfg->totp.attribute : NULL;
}

static const char *
contact_value(const struct ticket *t, enum method m)
{
	return m == METHOD_EMAIL ? t->reg_email : m == METHOD_SMS ?
	    t->reg_mobile : m == METHOD_TOTP ? t->reg_totp : NULL;
}

/* The methods of a registration ticket: confirmed, or still pending. */
static json_t *
contact_list(const struct ticket *t, bool confirmed)
{
	json_t *l = json_array();
	const enum method ms[] = { METHOD_EMAIL, METHOD_SMS, METHOD_TOTP };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		const struct pending_code *p =
		    &t->pending[challenge_method_index(ms[i])];

		if (contact_value(t, ms[i]) != NULL &&
		    (confirmed ? p->used : p->active))
			json_array_append_new(l,
			    json_string(config_method_name(ms[i])));
	}
	return l;
}

/* --- what is registered ------------------------------------------------------ */

/* The user of the lookup as the rules see them; questions written by this
 * request count. */
static void
who_eligible(const struct job *job, struct eligible_user *e)
{
	const struct who *w = &job->who;

	*e = (struct eligible_user){
		.found = w->found, .disabled = w->disabled,
		.allowed = w->allowed, .admin = w->admin,
		.mail = w->mail, .mobile = w->mobile,
		.questions = job->req.questions != NULL ||
		    eligible_questions(job->cfg, w->questions),
		.totp = w->totp != NULL && *w->totp != '\0',
	};
}

static json_t *
method_list(unsigned v)
{
	const enum method ms[] = {
		METHOD_EMAIL, METHOD_SMS, METHOD_QUESTIONS, METHOD_TOTP,
	};
	json_t *l = json_array();

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (v & ms[i])
			json_array_append_new(l,
			    json_string(config_method_name(ms[i])));
	return l;
}

/* When job->acct's registration was last confirmed (STORE_ACCOUNTS); 0:
 * never, or not known. */
static int64_t
confirmed_at(const struct job *job)
{
	json_t *j = store_get(job_store(job), STORE_ACCOUNTS, job->acct);
	int64_t t = 0;

	if (j != NULL) {
		t = json_integer_value(json_object_get(j, "confirmed"));
		json_decref(j);
	}
	return t;
}

/* "registered", "confirmed_at" and "reconfirm_due" of register, confirm
 * and status answers, for the user of the lookup. */
static unsigned
add_registered(struct job *job, json_t *a)
{
	struct eligible_user e;
	unsigned have;
	int64_t t = confirmed_at(job);

	who_eligible(job, &e);
	have = eligible_registered(job->cfg, &e);
	json_object_set_new(a, "registered", method_list(have));
	json_object_set_new(a, "confirmed_at",
	    t > 0 ? json_integer(t) : json_null());
	json_object_set_new(a, "reconfirm_due", json_boolean(
	    eligible_reconfirm_due(job->cfg, have, t, job_now())));
	return have;
}

/* Record job->acct's registration as confirmed now; then next. */
static void
stamp(struct job *job, void (*next)(struct job *))
{
	json_t *j = json_pack("{s:I}", "confirmed", (json_int_t)job_now());
	const struct store_op op = { STORE_ACCOUNTS, job->acct, j };

	job_commit(job, &op, 1, next);
	json_decref(j);
}

static void answer_register(struct job *job);

static void
register_stamped(struct job *job)
{
	if (job_committed(job))
		answer_register(job);
}

/* What the user has registered now; with contacts waiting for their
 * codes, which ones, and the ticket to confirm them on. */
static void
answer_register(struct job *job)
{
	const struct config *cfg = job->cfg;
	json_t *a;

	if (job->stamp) {
		job->stamp = false;
		stamp(job, register_stamped);
		return;
	}
	a = request_answer_ok(job->sreq->id);
	add_registered(job, a);
	if (job->have_ticket && job->t.registering) {
		json_object_set_new(a, "pending", contact_list(&job->t, false));
		json_object_set_new(a, "ticket", json_string(job->t.id));
		if (job->totp_uri != NULL)
			json_object_set_new(a, "totp_uri",
			    json_string(job->totp_uri));
		json_object_set_new(a, "expires_in",
		    json_integer(cfg->policy.code_ttl));
	}
	job_ok(job, a);
}

static void
questions_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: registration refused at %s: %s",
		    job->sreq->id, res->server ? res->server : "-", res->detail);
		job_error(job, dir_reason_code(res->reason));
		return;
	}
	notice_user(job, MSG_ACT_QUESTIONS);
	job->stamp = true;
	if (wants_contacts(job))
		contacts_start(job);
	else
		answer_register(job);
}

static void
on_hashed(char **hashes, size_t n, void *arg)
{
	struct job *job = arg;
	struct question_set qs = { 0 };
	struct dir_attr_change ch;
	char *value;

	job_back(job, JOB_HASH);
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
	ch = (struct dir_attr_change){ job->cfg->questions.attribute, value };
	if (job_away(job, JOB_DIRECTORY))
		dir_set_attributes(job_dir(job), job->who.dn, &ch, 1,
		    questions_written, job);
	free(value);
}

/* The bind as the user of register or status came back: true when the
 * password was right and the account may use self-service; otherwise
 * answered. */
static bool
proved(struct job *job, const struct dir_result *res)
{
	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		password_refused(job, res);
		return false;
	}
	if (job->who.disabled || !job->who.allowed) {
		job_error(job, job->who.disabled ? "account-disabled" :
		    "not-allowed");
		return false;
	}
	return true;
}

static void
register_proved(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const char *answers[QUESTIONS_MAX];

	if (!proved(job, res))
		return;
	/* Throttled before anything is written: questions are not stored
	 * only for the answer to say throttled. */
	if (wants_contacts(job) && contacts_throttled(job))
		return;
	job->stamp = job->req.reconfirm;
	if (job->req.questions == NULL) {
		if (wants_contacts(job))
			contacts_start(job);
		else
			answer_register(job);
		return;
	}
	if (job_refuse_hash_busy(job))
		return;
	for (size_t i = 0; i < job->req.nquestions; i++)
		answers[i] = job->req.questions[i].answer.s;
	if (job_away(job, JOB_HASH))
		questions_hash(job_qworkers(job), answers,
		    job->req.nquestions, on_hashed, job);
}

static void
register_looked_up(struct job *job)
{
	if (password_refuse_unknown(job) || !job_away(job, JOB_DIRECTORY))
		return;
	dir_check_password(job_dir(job), job->who.dn, job->req.password.s,
	    job->req.password.len, register_proved, job);
}

/* --- contacts: codes to the new ones ---------------------------------------- */

/*
 * A registration ticket with a code for each new contact, saved before
 * any code is sent. Sending codes to new contacts is throttled as starts
 * are (max_starts_per_hour per user and method, per client), so a known
 * password cannot be used to flood someone else's phone or mailbox.
 */
static bool
contacts_throttled(struct job *job)
{
	const struct config *cfg = job->cfg;
	const char *why = NULL;

	if (job->req.email != NULL)
		why = throttle_start(job_store(job), cfg, job->acct, METHOD_EMAIL,
		    job->req.client_key, job_now());
	if (why == NULL && job->req.mobile != NULL)
		why = throttle_start(job_store(job), cfg, job->acct, METHOD_SMS,
		    job->req.client_key, job_now());
	if (why == NULL)
		return false;
	job->truth = why;
	job_error(job, "throttled");
	return true;
}

/* After contacts_throttled(), before anything is written. */
static void
contacts_start(struct job *job)
{
	const struct config *cfg = job->cfg;
	const unsigned char *key = store_hmac_key(job_store(job));

	challenge_new_id(job->t.id);
	job->t.user = xstrdup(job->req.user);
	job->t.dn = xstrdup(job->who.dn);
	memcpy(job->t.acct, job->acct, sizeof(job->t.acct));
	job->t.real = true;
	job->t.admin = job->who.admin;
	job->t.created = job_now();
	job->t.registering = true;
	job->t.reg_stamp = xstrdup(job->who.stamp);
	job->have_ticket = true;
	job_ticket_extend(job);
	if (job->req.email != NULL) {
		job->t.reg_email = xstrdup(job->req.email);
		challenge_new_code(cfg->policy.code_length, job->code);
		challenge_set_code(&job->t, key, METHOD_EMAIL, job->code,
		    job->t.expires);
	}
	if (job->req.mobile != NULL) {
		job->t.reg_mobile = xstrdup(job->req.mobile);
		challenge_new_code(cfg->policy.code_length, job->code_sms);
		challenge_set_code(&job->t, key, METHOD_SMS, job->code_sms,
		    job->t.expires);
	}
	if (job->req.totp)
		totp_offer(job);
	job_ticket_save(job, codes_saved);
}

static void
codes_saved(struct job *job)
{
	if (job_committed(job))
		send_next_code(job);
}

/*
 * A new authenticator secret: sealed for this account on the ticket (the
 * directory gets it once a code from the app came back), and shown once,
 * as an otpauth URI in the answer. Nothing is sent anywhere.
 */
static void
totp_offer(struct job *job)
{
	const struct config *cfg = job->cfg;
	unsigned char *secret = totp_new_secret();
	char *owner = totp_owner(job->who.dn);

	job->t.reg_totp = totp_seal(cfg->totp.key, owner, secret, job_now());
	free(owner);
	job->totp_uri = totp_uri(cfg->totp.issuer, job->req.user, secret);
	secret_free(secret);
	challenge_await(&job->t, METHOD_TOTP, job->t.expires);
}

static void
on_confirm_code_sent(bool ok, const char *detail, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_NOTIFY);
	if (!ok) {
		log_errorx("notify: request %s: sending a registration code "
		    "failed: %s", job->sreq->id, detail);
		job_notify_failed(job, "code");
		job_error(job, "internal");
		return;
	}
	send_next_code(job);
}

/* The ticket is durable: the email code, then the SMS code, then the
 * answer. Each code is wiped once its message is built. */
static void
send_next_code(struct job *job)
{
	const struct config *cfg = job->cfg;
	bool sms = job->code[0] == '\0';
	char *code = sms ? job->code_sms : job->code;
	const char *to = sms ? job->t.reg_mobile : job->t.reg_email;
	char minutes[16];
	struct notify_var vars[] = {
		{ "user", job->req.user },
		{ "code", code },
		{ "minutes", minutes },
		{ NULL, NULL },
	};
	const char *err;
	size_t len;
	char *msg;

	if (code[0] == '\0') {
		answer_register(job);
		return;
	}
	snprintf(minutes, sizeof(minutes), "%u",
	    (cfg->policy.code_ttl + 59) / 60);
	msg = message_build(cfg, sms ? MSG_SMS_CONFIRM : MSG_EMAIL_CONFIRM,
	    job->req.lang, to,
	    vars, &len, &err);
	sodium_memzero(code, CODE_MAX + 1);
	if (msg == NULL) {
		log_errorx("engine: request %s: cannot build the message: %s",
		    job->sreq->id, err);
		job_error(job, "internal");
		return;
	}
	if (job_away(job, JOB_NOTIFY))
		notify_send(job_notifier(job), cfg, sms ? NOTIFY_SMS :
		    NOTIFY_MAIL, to, msg, len, on_confirm_code_sent, job);
	secret_free(msg);
}

/* --- confirm -------------------------------------------------------------------- */

static void
confirm_stamped(struct job *job)
{
	json_t *a;

	if (!job_committed(job))
		return;
	a = request_answer_ok(job->sreq->id);
	json_object_set_new(a, "confirmed", contact_list(&job->t, true));
	json_object_set_new(a, "pending", contact_list(&job->t, false));
	json_object_set_new(a, "confirmed_at", json_integer(job_now()));
	json_object_set_new(a, "reconfirm_due", json_false());
	job_ok(job, a);
}

static void
confirm_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: confirmed %s not written at %s: "
		    "%s", job->sreq->id, config_method_name(job->confirming),
		    res->server ? res->server : "-", res->detail);
		job_error(job, dir_no_answer(res->reason) ?
		    job_no_answer(res->reason) : "internal");
		return;
	}
	/* To the address the user had before, which the lookup found. */
	notice_user(job, job->confirming == METHOD_EMAIL ?
	    MSG_ACT_NEW_ADDRESS : job->confirming == METHOD_SMS ?
	    MSG_ACT_NEW_MOBILE : MSG_ACT_NEW_APP);
	stamp(job, confirm_stamped);
}

static void
confirm_looked_up(struct job *job)
{
	const struct config *cfg = job->cfg;
	struct dir_attr_change ch;

	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	if (!job->who.found || strcmp(job->who.dn, job->t.dn) != 0) {
		job->truth = "the ticket's account is gone";
		job_error(job, "not-verified");
		return;
	}
	/* What register proved must still hold: a password changed since
	 * (a helpdesk reset after a phished one) or an account disabled or
	 * taken out of allowed_groups plants nothing. */
	if (job->who.disabled || !job->who.allowed ||
	    job->t.reg_stamp == NULL ||
	    strcmp(job->t.reg_stamp, job->who.stamp) != 0) {
		job->truth = job->who.disabled ? "account disabled since" :
		    !job->who.allowed ? "not in allowed_groups any more" :
		    "the password changed since register";
		job_error(job, "not-verified");
		return;
	}
	ch.attr = contact_attribute(cfg, job->confirming);
	ch.value = contact_value(&job->t, job->confirming);
	if (ch.attr == NULL || !(cfg->policy.methods & job->confirming)) {
		job->truth = "no recovery_attribute for the method any more";
		job_error(job, "not-allowed");
		return;
	}
	if (job_away(job, JOB_DIRECTORY))
		dir_set_attributes(job_dir(job), job->who.dn, &ch, 1,
		    confirm_written, job);
}

/* The code is on the ticket, used, durably: the contact is written (again,
 * for a code sent again: the same value). */
static void
confirm_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	job_lookup(job, job->t.user, confirm_looked_up);
}

void
op_confirm(struct job *job)
{
	const unsigned char *key = store_hmac_key(job_store(job));
	const struct pending_code *p =
	    &job->t.pending[challenge_method_index(METHOD_TOTP)];
	bool expired, again;

	if (job_ticket_live(job) != 0)
		return;
	job_identify_ticket(job);
	if (job_refuse_locked(job))
		return;
	if (!job->t.registering || !job->t.real) {
		job->truth = job->t.real ? "not a registration ticket" :
		    "decoy ticket";
		proof_failed(job, false);
		return;
	}
	job->confirming = challenge_verify_code(&job->t, key, job->req.code.s,
	    job->req.code.len, job_now(), &expired, &again);
	if (job->confirming == 0 && job->t.reg_totp != NULL && p->active &&
	    job->req.code.len == TOTP_DIGITS) {
		/* a code from the new app, checked against its secret */
		if (!proof_totp(job, job->t.reg_totp, job->t.dn))
			return;
		job->confirming = METHOD_TOTP;
	}
	if (job->confirming != METHOD_EMAIL && job->confirming != METHOD_SMS &&
	    job->confirming != METHOD_TOTP) {
		proof_failed(job, expired);
		return;
	}
	job_ticket_save(job, confirm_saved);
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
	/* A contact goes to its recovery attribute only: without one (or
	 * without the method), it cannot be registered here. */
	if ((job->req.totp && (!(cfg->policy.methods & METHOD_TOTP) ||
	    cfg->totp.attribute == NULL || cfg->totp.key == NULL)) ||
	    (job->req.mobile != NULL && (!(cfg->policy.methods & METHOD_SMS) ||
	    cfg->sms.recovery_attribute == NULL)) ||
	    (job->req.email != NULL && (!(cfg->policy.methods & METHOD_EMAIL) ||
	    cfg->email.recovery_attribute == NULL))) {
		job_error(job, "not-allowed");
		return;
	}
	job_lookup(job, job->req.user, register_looked_up);
}

/* --- status ------------------------------------------------------------------- */

/*
 * What a front end shows after the user's password: what is registered,
 * what may be registered here, whether that is enough to reset, and
 * whether the registration is due to be looked at again. Unknown names and
 * wrong passwords are answered wrong-password, at a real one's cost
 * (password_refuse_unknown()).
 */
static void
status_proved(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const struct config *cfg = job->cfg;
	struct eligible_user e;
	unsigned offered = 0, required;
	json_t *a;

	if (!proved(job, res))
		return;
	for (unsigned m = METHOD_EMAIL; m <= METHOD_LAST; m <<= 1)
		if ((cfg->policy.methods & m) &&
		    contact_attribute(cfg, (enum method)m) != NULL &&
		    (m != METHOD_TOTP || cfg->totp.key != NULL))
			offered |= m;
	if ((cfg->policy.methods & METHOD_QUESTIONS) &&
	    cfg->questions.attribute != NULL)
		offered |= METHOD_QUESTIONS;
	required = challenge_required(cfg, job->who.admin);
	who_eligible(job, &e);
	a = request_answer_ok(job->sreq->id);
	add_registered(job, a);
	json_object_set_new(a, "offered", method_list(offered));
	json_object_set_new(a, "required", json_integer(required));
	json_object_set_new(a, "enough", json_boolean(
	    (unsigned)__builtin_popcount(eligible_methods(cfg, &e)) >= required));
	json_object_set_new(a, "reconfirm_days",
	    json_integer(cfg->policy.reconfirm_days));
	job_ok(job, a);
}

static void
status_looked_up(struct job *job)
{
	if (password_refuse_unknown(job) || !job_away(job, JOB_DIRECTORY))
		return;
	dir_check_password(job_dir(job), job->who.dn, job->req.password.s,
	    job->req.password.len, status_proved, job);
}

void
op_status(struct job *job)
{
	job_lookup(job, job->req.user, status_looked_up);
}
