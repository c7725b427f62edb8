/*
 * ops.c - one function per op of SPEC "Requests and answers": start,
 * verify, reset and unlock, change, policy. Each ends its job through
 * job_ok()/job_error*() exactly once (see engine.c).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/eligible.h"
#include "daemon/engine.h"
#include "daemon/job.h"
#include "daemon/messages.h"
#include "daemon/pwpolicy.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

/* --- start ------------------------------------------------------------------- */

void start_answer(struct job *job);

/* --- masks: decoys shaped like what real users get ------------------------ */

/* The first letter of the name asked for, folded, or 0 when it is not an
 * ASCII letter or digit. */
static char
name_letter(const char *name)
{
	while (*name == ' ')
		name++;
	if ((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9'))
		return *name;
	if (*name >= 'A' && *name <= 'Z')
		return (char)(*name - 'A' + 'a');
	return 0;
}

static void
learn_mask(struct engine *e, enum method m, const char *mask, const char *name)
{
	const char *at;
	size_t stars, i, free_slot = 16, least = 0;
	char first;

	if (m == METHOD_SMS) {
		e->phone_plus[*mask == '+']++;
		stars = strspn(mask + (*mask == '+'), "*");
		if (stars < 32)
			e->phone_stars[stars]++;
		return;
	}
	if ((at = strchr(mask, '@')) == NULL || strlen(at + 1) >= 48)
		return;
	first = *mask >= 'A' && *mask <= 'Z' ? (char)(*mask - 'A' + 'a') : *mask;
	if (first != 0 && first == name_letter(name))
		e->letter_named++;
	else
		e->letter_other++;
	for (i = 0; i < 16; i++) {
		if (e->domains[i].n == 0 && free_slot == 16)
			free_slot = i;
		if (e->domains[i].n > 0 && strcmp(e->domains[i].domain, at + 1) == 0) {
			e->domains[i].n++;
			return;
		}
		if (e->domains[i].n < e->domains[least].n)
			least = i;
	}
	i = free_slot < 16 ? free_slot : least;	/* the rarest makes room */
	snprintf(e->domains[i].domain, sizeof(e->domains[i].domain), "%s", at + 1);
	e->domains[i].n = 1;
}

/*
 * A decoy's sent_to, drawn from what real users got, by a keyed hash of
 * the identity, so the same every time for the same name (and for every
 * spelling of it). Email: the first letter is the name's own as often as
 * real addresses start with the name's letter, otherwise a letter from the
 * hash; the domain is the most common real one. SMS: with a '+' when most
 * real numbers are stored with one, as many stars as most real masks have,
 * and two digits from the hash. Before any real code was sent, the name's
 * letter and the hash choose.
 */
static void
decoy_mask(struct job *job)
{
	struct engine *e = job->e;
	char fallback[64], letter;
	unsigned best = 0, stars = 0, seen;
	const char *domain = NULL;
	unsigned char h[8];
	uint32_t r;

	crypto_generichash(h, sizeof(h), (const unsigned char *)job->acct,
	    strlen(job->acct), store_hmac_key(e->store), 32);
	challenge_decoy_mask(store_hmac_key(e->store), job->acct,
	    job->req.method, fallback, sizeof(fallback));
	if (job->req.method == METHOD_SMS) {
		for (unsigned i = 0; i < 32; i++)
			if (e->phone_stars[i] > best) {
				best = e->phone_stars[i];
				stars = i;
			}
		if (best == 0) {
			snprintf(job->sent_to, sizeof(job->sent_to), "%s", fallback);
			return;
		}
		snprintf(job->sent_to, sizeof(job->sent_to), "%s%.*s%02u",
		    e->phone_plus[1] >= e->phone_plus[0] ? "+" : "", (int)stars,
		    "********************************", (unsigned)(h[0] % 100));
		return;
	}
	r = (uint32_t)h[2] | (uint32_t)h[3] << 8 | (uint32_t)h[4] << 16;
	seen = e->letter_named + e->letter_other;
	letter = name_letter(job->req.user);
	if (letter == 0 || (seen > 0 && r % seen >= e->letter_named))
		letter = (char)('a' + h[1] % 26);
	for (unsigned i = 0; i < 16; i++)
		if (e->domains[i].n > best) {
			best = e->domains[i].n;
			domain = e->domains[i].domain;
		}
	if (domain == NULL)
		domain = strchr(fallback, '@') + 1;
	snprintf(job->sent_to, sizeof(job->sent_to), "%c***@%s", letter, domain);
}


static void
on_code_sent(bool ok, const char *detail, void *arg)
{
	struct job *job = arg;

	sodium_memzero(job->code, sizeof(job->code));
	if (!ok) {
		log_errorx("notify: request %s: sending the code failed: %s",
		    job->sreq->id, detail);
		job_notify_failed(job, "code");
		job_error(job, "internal");
		return;
	}
	average(&job->e->start_secs, mono() - job->started);
	start_answer(job);
}

void
start_answer(struct job *job)
{
	json_t *a = answer_ok(job->sreq->id);

	json_object_set_new(a, "ticket", json_string(job->t.id));
	json_object_set_new(a, "method",
	    json_string(config_method_name(job->req.method)));
	if (job->req.method == METHOD_QUESTIONS)
		json_object_set(a, "questions", job->asked);
	else
		json_object_set_new(a, "sent_to", json_string(job->sent_to));
	json_object_set_new(a, "expires_in",
	    json_integer(job->cfg->policy.code_ttl));
	job_ok(job, a);
}

/* code_ttl more, but never past [policy] ticket_lifetime from its start. */
void
ticket_extend(struct job *job)
{
	int64_t until = now_secs() + job->cfg->policy.code_ttl;
	int64_t last = job->t.created + job->cfg->policy.ticket_lifetime;

	job->t.expires = until < last ? until : last;
}

static void
decoy_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	job_like(job, job->e->start_secs, start_answer);
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
		job->t.created = now_secs();
		job->have_ticket = true;
	}
	/* A real ticket stays real (what it verified stays verified): this
	 * start just sends nothing. Only a new or decoy ticket is a decoy. */
	if (!job->t.dn)
		job->t.real = false;
	ticket_extend(job);
	if (job->req.method == METHOD_QUESTIONS) {
		start_decoy_questions(job);
	} else {
		challenge_new_code(job->cfg->policy.code_length, code);
		challenge_set_code(&job->t, store_hmac_key(job->e->store),
		    job->req.method, code, job->t.expires);
		sodium_memzero(code, sizeof(code));
		decoy_mask(job);
	}
	ticket_save_then(job, decoy_saved);
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
		learn_mask(job->e, m, job->sent_to, job->req.user);
		msg = message_build(cfg, MSG_EMAIL_CODE, to, vars, &len, &err);
	} else {
		notify_mask_phone(to, job->sent_to, sizeof(job->sent_to));
		learn_mask(job->e, m, job->sent_to, job->req.user);
		msg = message_build(cfg, MSG_SMS_CODE, to, vars, &len, &err);
	}
	if (msg == NULL) {
		sodium_memzero(job->code, sizeof(job->code));
		log_errorx("engine: request %s: cannot build the message: %s",
		    job->sreq->id, err);
		job_error(job, "internal");
		return;
	}
	notify_run(job->e->notifier, m == METHOD_EMAIL ? &cfg->email.command :
	    &cfg->sms.command, m == METHOD_SMS ? to : NULL, msg, len,
	    m == METHOD_EMAIL ? cfg->email.timeout : cfg->sms.timeout,
	    on_code_sent, job);
	secret_free(msg);
}

static void
start_looked_up(struct job *job, const struct dir_result *res)
{
	const struct config *cfg = job->cfg;
	const struct who *w = &job->who;
	const struct eligible_user e = {
		.found = w->found, .disabled = w->disabled,
		.allowed = w->allowed, .admin = w->admin,
		.mail = w->mail, .mobile = w->mobile,
		.questions = questions_enough(job),
	};
	enum method m = job->req.method;
	const char *why;

	if (res->reason != DIR_OK) {
		job_error(job, job_no_answer(res));
		return;
	}
	/* Every counter on the account the name resolved to, whatever its
	 * spelling; an unknown name on its canonical form. */
	job_identify(job, w->found ? w->dn : NULL, job->req.user);
	job->throttled = throttle_start(job->e->store, cfg, job->acct,
	    job->req.method, job->req.client_key, now_secs());
	if (job->have_ticket) {
		char mine[TICKET_ACCT_LEN];

		memcpy(mine, job->acct, sizeof(mine));
		job_identify_ticket(job);
		if (strcmp(mine, job->acct) != 0) {
			/* someone else's ticket: a fresh decoy, same shape */
			memcpy(job->acct, mine, sizeof(mine));
			ticket_clear(&job->t);
			job->have_ticket = false;
			start_decoy(job, "decoy: ticket of another user");
			return;
		}
	}
	if (job->throttled != NULL) {
		start_decoy(job, job->throttled);
		return;
	}
	if ((why = eligible_start(cfg, &e, m)) != NULL) {
		start_decoy(job, why);
		return;
	}
	if (job->have_ticket && (!job->t.real ||
	    strcmp(job->t.dn ? job->t.dn : "", w->dn) != 0)) {
		start_decoy(job, "decoy: ticket belongs to another or no user");
		return;
	}
	if (!job->have_ticket) {
		challenge_new_id(job->t.id);
		job->t.user = xstrdup(job->req.user);
		job->t.dn = xstrdup(w->dn);
		job->t.created = now_secs();
		job->have_ticket = true;
	}
	memcpy(job->t.acct, job->acct, sizeof(job->t.acct));
	job->t.real = true;
	job->t.admin = w->admin;
	ticket_extend(job);
	if (m == METHOD_QUESTIONS) {
		start_questions(job);
		return;
	}
	challenge_new_code(cfg->policy.code_length, job->code);
	challenge_set_code(&job->t, store_hmac_key(job->e->store), m, job->code,
	    job->t.expires);
	ticket_save_then(job, send_code);
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
	if (job->req.ticket[0] != '\0' && ticket_live(job) != 0)
		return;
	/* Looked up first, whatever happens next: the counters are kept on
	 * the account the name resolves to, and a throttled start takes as
	 * long as any. */
	job_lookup(job, job->req.user, start_looked_up);
}

/* --- verify -------------------------------------------------------------------- */

/* Self-service locked for the request's identity (job_identify*(): too
 * many failed proofs), or its client blocked: answered "throttled", even
 * with the right code or password. */
bool
refuse_locked(struct job *job)
{
	if (throttle_client_blocked(job->e->store, job->cfg, job->req.client_key,
	    now_secs()))
		job->truth = "max_failures_per_client_hour";
	else if (throttle_locked(job->e->store, job->cfg, job->acct,
	    now_secs()))
		job->truth = "self-service locked after failed proofs";
	else
		return false;
	job_error(job, "throttled");
	return true;
}

/* The new password against ssprd's own rules: answered password-policy
 * with the violations when it breaks any. */
bool
refuse_weak_password(struct job *job, const char *user)
{
	unsigned v = pwpolicy_check(job->cfg, user, job->req.new_password.s,
	    job->req.new_password.len);
	const char *names[6];

	if (v == 0)
		return false;
	pwpolicy_names(v, names);
	job_error_v(job, "password-policy", NULL, names);
	return true;
}

static void
failure_saved(struct job *job)
{
	if (job_committed(job))
		job_error(job, job->late_reason);
}

/* A wrong code or answer: counted on the ticket and towards the user's
 * lockout, then answered once the count is durable. */
void
prove_failed(struct job *job, bool expired)
{
	const struct config *cfg = job->cfg;

	job->t.attempts++;
	job_identify_ticket(job);
	if (throttle_failure(job->e->store, cfg, job->acct, job_who(job),
	    job->req.client_key, now_secs()))
		job->truth = "this failure locked self-service";
	if (!job->t.real)
		job->truth = "decoy ticket";
	job->late_reason = job->t.attempts >= cfg->policy.max_attempts ?
	    "too-many-attempts" : expired ? "expired" : "bad-code";
	ticket_save_then(job, failure_saved);
}

/* Check the code or answers the request carries; on success the ticket
 * has one more verified method (saved) and next runs; on failure the job
 * is answered. Answers are checked off the event loop (register.c). */
static void
prove(struct job *job, void (*next)(struct job *))
{
	enum method m;
	bool expired, again;

	job->after_proof = next;
	if (job->req.answers != NULL) {
		verify_answers(job);
		return;
	}
	m = challenge_verify_code(&job->t, store_hmac_key(job->e->store),
	    job->req.code.s, job->req.code.len, now_secs(), &expired, &again);
	if (m == 0) {
		prove_failed(job, expired);
		return;
	}
	/* Time to choose a password, from now; a proof sent again (a form
	 * re-sent, a request resumed after a crash) adds no time. */
	if (!again)
		ticket_extend(job);
	ticket_save_then(job, proof_saved);
}

/* The proof is on the ticket, durably: what the request does next. */
void
proof_saved(struct job *job)
{
	if (!job_committed(job))
		return;
	job->after_proof(job);
}

static unsigned
remaining(const struct job *job)
{
	unsigned need = challenge_required(job->cfg, job->t.admin);
	unsigned have = challenge_verified_count(job->cfg, &job->t);

	return have >= need ? 0 : need - have;
}

static void verify_answer(struct job *job);

void
op_verify(struct job *job)
{
	if (job->req.code.s == NULL && job->req.answers == NULL) {
		job_error(job, "bad-request");
		return;
	}
	if (ticket_live(job) != 0)
		return;
	job_identify_ticket(job);
	if (refuse_locked(job))
		return;
	prove(job, verify_answer);
}

static void
verify_answer(struct job *job)
{
	json_t *a, *list;

	a = answer_ok(job->sreq->id);
	list = json_array();
	for (unsigned m = METHOD_EMAIL; m <= METHOD_QUESTIONS; m <<= 1)
		if (job->t.verified & m)
			json_array_append_new(list,
			    json_string(config_method_name((enum method)m)));
	json_object_set_new(a, "verified", list);
	json_object_set_new(a, "remaining", json_integer(remaining(job)));
	job_ok(job, a);
}

/* --- reset and unlock ------------------------------------------------------------ */


static void reset_done(struct job *job);

static void
reset_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: directory refused the write at "
		    "%s: %s", job->sreq->id, res->server ? res->server : "-",
		    res->detail);
		if (res->maybe_applied) {
			settle_later(job);
			return;
		}
		intent_done(job);
		job_dir_error(job, res);
		return;
	}
	/* The ticket is spent: a reset happens once per ticket. */
	intent_succeeded(job, job->t.id, reset_done);
}

static void
reset_done(struct job *job)
{
	send_notice(job, job->req.op == OP_UNLOCK ? "unlocked" : "reset");
	if (job->t.admin) {
		log_info("engine: request %s: an administrator's password was "
		    "%s", job->sreq->id,
		    job->req.op == OP_UNLOCK ? "unlocked" : "reset");
		send_admin_notices(job,
		    job->req.op == OP_UNLOCK ? "unlocked" : "reset");
	}
	job_ok(job, NULL);
}

static void reset_send(struct job *job);

static void
reset_write(struct job *job)
{
	if (job->req.op == OP_UNLOCK) {
		dir_unlock(job->dr->dir, job->who.dn, reset_written, job);
		return;
	}
	intent_put(job, "writing", reset_send);
}

/* The intent is durable: the write may go. */
static void
reset_send(struct job *job)
{
	if (!job_committed(job))
		return;
	dir_reset_password(job->dr->dir, job->who.dn, job->req.new_password.s,
	    job->req.new_password.len, reset_written, job);
}

static void
reset_looked_up(struct job *job, const struct dir_result *res)
{
	const struct who *w = &job->who;

	if (res->reason != DIR_OK) {
		job_error(job, job_no_answer(res));
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
	reset_write(job);
}

static void reset_verified(struct job *job);

void
op_reset(struct job *job)
{
	if (ticket_live(job) != 0)
		return;
	job_identify_ticket(job);
	if (refuse_locked(job))
		return;
	if (job->req.code.s != NULL || job->req.answers != NULL)
		prove(job, reset_verified);
	else
		reset_verified(job);
}

static void
reset_verified(struct job *job)
{
	if (!job->t.real || remaining(job) > 0) {
		if (!job->t.real)
			job->truth = "decoy ticket";
		job_error(job, "not-verified");
		return;
	}
	if (job->req.op == OP_RESET && refuse_weak_password(job, job->t.user))
		return;
	job_lookup(job, job->t.user, reset_looked_up);
}

/* --- change ---------------------------------------------------------------------- */

static void change_done(struct job *job);
static void change_send(struct job *job);

static void
change_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (res->maybe_applied) {
		settle_later(job);
		return;
	}
	if (res->reason != DIR_OK) {
		intent_done(job);
		log_info("engine: request %s: change refused at %s: %s",
		    job->sreq->id, res->server ? res->server : "-", res->detail);
		password_refused(job, res);
		return;
	}
	average(&job->e->change_secs, mono() - job->started);
	intent_succeeded(job, NULL, change_done);
}

static void
change_done(struct job *job)
{
	send_notice(job, "changed");
	job_ok(job, NULL);
}

/*
 * The directory refused a change, or a bind with the current password. A
 * wrong password is a failed proof, like a wrong code: it counts towards
 * the lockout. So does a refusal because the directory locked or disabled
 * the account, and it is answered as a wrong password: the directory says
 * so whether or not the password was right, and only who proved it may
 * learn that (an unknown name is never locked there).
 */
void
password_refused(struct job *job, const struct dir_result *res)
{
	if (res->reason != DIR_WRONG_PASSWORD &&
	    res->reason != DIR_ACCOUNT_LOCKED &&
	    res->reason != DIR_ACCOUNT_DISABLED) {
		job_dir_error(job, res);
		return;
	}
	if (res->reason != DIR_WRONG_PASSWORD)
		job->truth = res->reason == DIR_ACCOUNT_LOCKED ?
		    "the directory says the account is locked" :
		    "the directory says the account is disabled";
	if (throttle_failure(job->e->store, job->cfg, job->acct, job_who(job),
	    job->req.client_key, now_secs()))
		job->truth = "this failure locked self-service";
	job_error(job, "wrong-password");
}

/* A disabled account, or one outside allowed_groups, may not change its
 * password here; who does not know the password learns only that it is
 * wrong, who does learns why. */
static void
change_refused_checked(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (res->reason != DIR_OK) {
		password_refused(job, res);
		return;
	}
	job_error(job, job->who.disabled ? "account-disabled" : "not-allowed");
}

/* The directory's answer for a name it does not know (see
 * refuse_unknown_user()): a wrong password, or no directory at all, as
 * for a real name. */
static void
unknown_user_checked(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (dir_no_answer(res->reason) || res->maybe_applied) {
		job_error(job, job_no_answer(res));
		return;
	}
	job->truth = throttle_failure(job->e->store, job->cfg, job->acct,
	    job_who(job), job->req.client_key, now_secs()) ?
	    "no such user; this failure locked self-service" : "no such user";
	job_error(job, "wrong-password");
}

/*
 * Ops that prove a password (change, register) after a lookup: a failed
 * lookup is directory-unavailable; the lockout is checked on the account
 * the name resolved to (or on the canonical name); and an unknown name
 * costs the directory what a real one does (the same operation, as a DN
 * that cannot exist under base_dn), is answered wrong-password and counted
 * as a failure: otherwise the name would never be locked out, and timing
 * or the lockout would tell who exists. True when the job was answered
 * (or will be).
 */
bool
refuse_unknown_user(struct job *job, const struct dir_result *res)
{
	char dn[1200];

	if (res->reason != DIR_OK) {
		job_error(job, job_no_answer(res));
		return true;
	}
	job_identify(job, job->who.found ? job->who.dn : NULL, job->req.user);
	if (refuse_locked(job))
		return true;
	if (job->who.found)
		return false;
	snprintf(dn, sizeof(dn), "cn=ssprd-nobody-%.16s,%s", job->acct + 2,
	    job->cfg->directory.base_dn);
	if (job->req.op == OP_CHANGE)
		dir_change_password(job->dr->dir, dn, job->req.old_password.s,
		    job->req.old_password.len, job->req.new_password.s,
		    job->req.new_password.len, unknown_user_checked, job);
	else
		dir_check_password(job->dr->dir, dn, job->req.password.s,
		    job->req.password.len, unknown_user_checked, job);
	return true;
}

static void
change_looked_up(struct job *job, const struct dir_result *res)
{
	if (refuse_unknown_user(job, res))
		return;
	if (job->who.disabled || !job->who.allowed) {
		job->truth = job->who.disabled ? "account disabled" :
		    "not in allowed_groups";
		dir_check_password(job->dr->dir, job->who.dn,
		    job->req.old_password.s, job->req.old_password.len,
		    change_refused_checked, job);
		return;
	}
	intent_put(job, "writing", change_send);
}

/* The intent is durable: the change may go. */
static void
change_send(struct job *job)
{
	if (!job_committed(job))
		return;
	dir_change_password(job->dr->dir, job->who.dn, job->req.old_password.s,
	    job->req.old_password.len, job->req.new_password.s,
	    job->req.new_password.len, change_written, job);
}

void
op_change(struct job *job)
{
	if (refuse_weak_password(job, job->req.user))
		return;
	job_lookup(job, job->req.user, change_looked_up);
}

/* --- policy ---------------------------------------------------------------------- */

static json_t *
method_list(unsigned set)
{
	json_t *l = json_array();

	for (unsigned m = METHOD_EMAIL; m <= METHOD_QUESTIONS; m <<= 1)
		if (set & m)
			json_array_append_new(l,
			    json_string(config_method_name((enum method)m)));
	return l;
}

/* The rules are the same for every user, and so is the answer: telling a
 * stranger which accounts need admin methods would tell them who the admins
 * are. Both sets are given; user, when sent, changes nothing. */
void
op_policy(struct job *job)
{
	const struct config *cfg = job->cfg;
	json_t *a = answer_ok(job->sreq->id), *rules = json_array();

	json_object_set_new(a, "min_length", json_integer(cfg->policy.min_length));
	json_object_set_new(a, "max_length", json_integer(cfg->policy.max_length));
	json_array_append_new(rules, json_string("min-length"));
	json_array_append_new(rules, json_string("max-length"));
	if (cfg->policy.banned.n > 0)
		json_array_append_new(rules, json_string("not-banned"));
	json_array_append_new(rules, json_string("no-user-name"));
	json_array_append_new(rules, json_string("directory-policy"));
	json_object_set_new(a, "rules", rules);
	json_object_set_new(a, "methods", method_list(cfg->policy.methods));
	json_object_set_new(a, "methods_required",
	    json_integer(cfg->policy.methods_required));
	json_object_set_new(a, "admin_methods",
	    method_list(cfg->policy.admin_methods));
	json_object_set_new(a, "admin_methods_required",
	    json_integer(cfg->policy.admin_methods_required));
	if (cfg->policy.methods & METHOD_QUESTIONS) {
		json_object_set_new(a, "questions_required",
		    json_integer(cfg->questions.required));
		if (cfg->questions.choices.n > 0) {
			json_t *c = json_array();

			for (size_t i = 0; i < cfg->questions.choices.n; i++)
				json_array_append_new(c,
				    json_string(cfg->questions.choices.v[i]));
			json_object_set_new(a, "question_choices", c);
		}
	}
	job_ok(job, a);
}

