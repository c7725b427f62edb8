/*
 * engine.c - from a claimed request to its answer (see engine.h).
 *
 * Each request becomes a job that walks a short chain of callbacks:
 * parse -> (resume check) -> op function -> directory lookup -> store /
 * notifier / directory write -> answer. A job holds a reference to the
 * configuration it started with and to the directory pool of that
 * configuration, so a reload never changes the rules under a request.
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
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/engine.h"
#include "daemon/messages.h"
#include "daemon/pwpolicy.h"
#include "daemon/request.h"
#include "daemon/ssprd.h"
#include "ldap/dir.h"

#define NOTIFY_TIMEOUT 30		/* seconds a mail/SMS command may take */
#define INTENT_SWEEP_EVERY 3600		/* seconds */

/* A directory pool and the configuration it was built from; retired ones
 * are freed when their last job ends. */
struct dirref {
	struct dir *dir;
	struct config *cfg;
	unsigned jobs;
	bool retired;
};

struct engine {
	struct ssprd *d;
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
	bool closing;		/* shutting down: leave requests for next start */
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
	char code[CODE_MAX + 1];
	enum method sent_method;
	char sent_to[64];
	const char *truth;		/* for the audit line: why a decoy */
	bool recovering;		/* settling a write from before a crash */
	bool intent_after_answer;	/* drop the write intent once answered */
	double started;
	struct event *ev_delay;
	void (*after_delay)(struct job *);
	/* audit */
	const char *result;
	const char *reason;
};

static int64_t
now_secs(void)
{
	return (int64_t)time(NULL);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- directory pools ---------------------------------------------------- */

static struct dirref *
dirref_new(struct engine *e, struct config *cfg)
{
	struct dirref *r = xcalloc(1, sizeof(*r));

	r->cfg = config_ref(cfg);
	r->dir = dir_new(e->d->base, cfg);
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

/* Does [directory] differ between two snapshots? */
static bool
directory_changed(const struct config *a, const struct config *b)
{
	const typeof(a->directory) *x = &a->directory, *y = &b->directory;

#define DIFF_STR(f) ((x->f == NULL) != (y->f == NULL) || \
	(x->f != NULL && strcmp(x->f, y->f) != 0))
	if (x->type != y->type || x->bind != y->bind || x->starttls != y->starttls ||
	    x->connections != y->connections || x->timeout != y->timeout ||
	    x->unlock_on_reset != y->unlock_on_reset ||
	    x->enforce_history != y->enforce_history ||
	    x->uris.n != y->uris.n || DIFF_STR(base_dn) || DIFF_STR(user_filter) ||
	    DIFF_STR(bind_dn) || DIFF_STR(sasl_mech) || DIFF_STR(sasl_authz_id) ||
	    DIFF_STR(sasl_keytab) || DIFF_STR(ca_file) || DIFF_STR(tls_cert_file) ||
	    DIFF_STR(tls_key_file) || x->bind_password_len != y->bind_password_len ||
	    (x->bind_password != NULL && y->bind_password != NULL &&
	    sodium_memcmp(x->bind_password, y->bind_password,
	    x->bind_password_len) != 0))
		return true;
#undef DIFF_STR
	for (size_t i = 0; i < x->uris.n; i++)
		if (strcmp(x->uris.v[i], y->uris.v[i]) != 0)
			return true;
	/* lookups read these from the pool's own snapshot */
	return a->email.attribute != b->email.attribute ||
	    strcmp(a->email.attribute, b->email.attribute) != 0 ||
	    strcmp(a->sms.attribute, b->sms.attribute) != 0 ||
	    a->policy.allowed_groups.n != b->policy.allowed_groups.n ||
	    a->policy.admin_groups.n != b->policy.admin_groups.n;
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
		{ "wrong-password", "The current password is not correct." },
		{ "account-locked", "The account is locked." },
		{ "account-disabled", "The account is disabled." },
		{ "not-allowed", "Self-service is not available for this account or method." },
		{ "directory-unavailable", "The directory is not available right now. Please try again later." },
		{ "internal", "Something went wrong. Please try again later." },
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
	free(w->mobile);
	memset(w, 0, sizeof(*w));
}

static void
job_free(struct job *job)
{
	struct engine *e = job->e;

	if (job->ev_delay != NULL)
		event_free(job->ev_delay);
	if (job->parsed)
		request_free(&job->req);
	if (job->have_ticket)
		ticket_clear(&job->t);
	who_clear(&job->who);
	sodium_memzero(job->code, sizeof(job->code));
	if (job->dr != NULL) {
		job->dr->jobs--;
		dirref_release(job->dr);
	}
	config_free(job->cfg);
	free(job);
	e->active--;
	service_work_end(e->d);
}

static void
audit(struct job *job)
{
	const struct request *r = &job->req;
	const char *user = job->parsed && r->user ? r->user :
	    job->have_ticket && job->t.user ? job->t.user : "-";

	log_info("request id=%s op=%s user=%s result=%s reason=%s client=%s%s%s%s",
	    job->sreq->id, job->parsed ? request_op_name(r->op) : "-",
	    user, job->result,
	    job->reason ? job->reason : "-",
	    job->parsed && r->client ? r->client : "-",
	    job->truth ? " (" : "", job->truth ? job->truth : "",
	    job->truth ? ")" : "");
}

static void
job_send(struct job *job, json_t *answer)
{
	char *text;

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
	text = answer_dump(answer);
	audit(job);
	/* The intent outlives a crash until the answer is durable: a request
	 * resumed with a "done" intent is answered, never written again. */
	if (spool_answer(job->e->spool, job->sreq, text, strlen(text)) == 0 &&
	    job->intent_after_answer)
		store_del(job->e->store, STORE_INTENTS, job->sreq->id);
	free(text);
	job->sreq = NULL;
	job_free(job);
}

static void
job_ok(struct job *job, json_t *a)
{
	job->result = "ok";
	job_send(job, a ? a : answer_ok(job->sreq->id));
}

static void
job_error_v(struct job *job, const char *reason, const char *message,
    const char *const *violations)
{
	job->result = "error";
	job->reason = reason;
	job_send(job, answer_error(job->sreq->id, reason,
	    message ? message : reason_message(reason), violations));
}

static void
job_error(struct job *job, const char *reason)
{
	job_error_v(job, reason, NULL, NULL);
}

/* An answer from the directory layer as SPEC's reason and violations. */
static void
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

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	job->after_delay(job);
}

static void
job_later(struct job *job, double secs, void (*fn)(struct job *))
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	job->after_delay = fn;
	if (job->ev_delay == NULL)
		job->ev_delay = evtimer_new(job->e->d->base, on_delay, job);
	if (job->ev_delay == NULL || evtimer_add(job->ev_delay, &tv) != 0)
		fatalx("engine: cannot arm a timer");
}

/* --- tickets in the store -------------------------------------------------- */

static int
ticket_load(struct job *job, const char *id)
{
	json_t *j = store_get(job->e->store, STORE_TICKETS, id);
	int rc;

	if (j == NULL)
		return -1;
	rc = ticket_from_json(j, id, &job->t);
	json_decref(j);
	if (rc == 0)
		job->have_ticket = true;
	return rc;
}

static int
ticket_save(struct job *job)
{
	json_t *j = ticket_to_json(&job->t);
	int rc = store_put(job->e->store, STORE_TICKETS, job->t.id, j);

	json_decref(j);
	return rc;
}

/* Load the request's ticket and check it is alive; answers and returns -1
 * when not. */
static int
ticket_live(struct job *job)
{
	if (ticket_load(job, job->req.ticket) != 0 ||
	    job->t.expires < now_secs()) {
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
	w->found = u->found;
	if (!u->found)
		return;
	w->disabled = u->disabled;
	w->locked = u->locked;
	w->admin = u->admin;
	w->allowed = u->allowed;
	w->dn = xstrdup(u->dn);
	for (size_t i = 0; i < u->mail.n && w->mail == NULL; i++)
		if (message_address_ok(u->mail.v[i]))
			w->mail = xstrdup(u->mail.v[i]);
	if (u->mobile.n > 0)
		w->mobile = xstrdup(u->mobile.v[0]);
	snprintf(w->stamp, sizeof(w->stamp), "%s", u->pwd_changed);
}

typedef void looked_up_fn(struct job *job, const struct dir_result *res);

struct lookup_ctx {
	struct job *job;
	looked_up_fn *next;
};

static void
on_user(const struct dir_result *res, const struct dir_user *u, void *arg)
{
	struct lookup_ctx *ctx = arg;
	struct job *job = ctx->job;
	looked_up_fn *next = ctx->next;

	free(ctx);
	who_clear(&job->who);
	if (res->reason == DIR_OK)
		who_set(&job->who, u);
	else
		log_warnx("engine: request %s: lookup failed at %s: %s (%s)",
		    job->sreq->id, res->server ? res->server : "-",
		    dir_reason_code(res->reason), res->detail);
	next(job, res);
}

static void
job_lookup(struct job *job, const char *user, looked_up_fn *next)
{
	struct lookup_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->job = job;
	ctx->next = next;
	dir_lookup_user(job->dr->dir, user, on_user, ctx);
}

/* --- notices after a change ------------------------------------------------- */

struct notice {
	char id[SPOOL_ID_MAX + 1];
	char *to;
};

static void
on_notice_sent(bool ok, const char *detail, void *arg)
{
	struct notice *n = arg;

	if (ok)
		log_info("notify: request %s: notice sent to %s", n->id, n->to);
	else
		log_warnx("notify: request %s: notice to %s failed: %s", n->id,
		    n->to, detail);
	free(n->to);
	free(n);
}

static void
send_notice(struct job *job, const char *action)
{
	const struct config *cfg = job->cfg;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	struct notify_var vars[] = {
		{ "user", job->req.user ? job->req.user : job->t.user },
		{ "action", action },
		{ "time", when },
		{ "client", job->req.client ? job->req.client : "unknown" },
		{ NULL, NULL },
	};
	struct notice *n;
	const char *err;
	size_t len;
	char *msg;

	if (job->who.mail == NULL || cfg->email.command.argc == 0)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	msg = message_build(cfg, MSG_EMAIL_NOTICE, job->who.mail, vars, &len, &err);
	if (msg == NULL) {
		log_warnx("notify: request %s: no notice: %s", job->sreq->id, err);
		return;
	}
	n = xcalloc(1, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", job->sreq->id);
	n->to = xstrdup(job->who.mail);
	notify_run(job->e->notifier, &cfg->email.command, NULL, msg, len,
	    NOTIFY_TIMEOUT, on_notice_sent, n);
	sodium_free(msg);
}

/* --- start ------------------------------------------------------------------- */

static void start_answer(struct job *job);

static void
average(double *avg, double sample)
{
	*avg = *avg == 0 ? sample : 0.8 * *avg + 0.2 * sample;
}

static void
on_code_sent(bool ok, const char *detail, void *arg)
{
	struct job *job = arg;

	sodium_memzero(job->code, sizeof(job->code));
	if (!ok) {
		log_errorx("notify: request %s: sending the code failed: %s",
		    job->sreq->id, detail);
		job_error(job, "internal");
		return;
	}
	average(&job->e->start_secs, mono() - job->started);
	start_answer(job);
}

static void
start_answer(struct job *job)
{
	json_t *a = answer_ok(job->sreq->id);

	json_object_set_new(a, "ticket", json_string(job->t.id));
	json_object_set_new(a, "method",
	    json_string(config_method_name(job->req.method)));
	json_object_set_new(a, "sent_to", json_string(job->sent_to));
	json_object_set_new(a, "expires_in",
	    json_integer(job->cfg->policy.code_ttl));
	job_ok(job, a);
}

/* Decoys answer after about as long as a real start takes. */
static void
start_decoy(struct job *job, const char *truth)
{
	double jitter = 0.8 + 0.4 * (double)randombytes_uniform(1000) / 1000.0;

	job->truth = truth;
	if (!job->have_ticket) {
		challenge_new_id(job->t.id);
		job->t.user = xstrdup(job->req.user);
		job->t.created = now_secs();
		job->have_ticket = true;
	}
	job->t.real = false;
	job->t.expires = now_secs() + job->cfg->policy.code_ttl;
	challenge_decoy_mask(store_hmac_key(job->e->store), job->req.user,
	    job->req.method, job->sent_to, sizeof(job->sent_to));
	if (ticket_save(job) != 0) {
		job_error(job, "internal");
		return;
	}
	job_later(job, job->e->start_secs * jitter - (mono() - job->started),
	    start_answer);
}

static void
start_looked_up(struct job *job, const struct dir_result *res)
{
	const struct config *cfg = job->cfg;
	const struct who *w = &job->who;
	enum method m = job->req.method;
	const char *to = m == METHOD_EMAIL ? w->mail : w->mobile;
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

	if (res->reason != DIR_OK) {
		job_error(job, "directory-unavailable");
		return;
	}
	if (!w->found) {
		start_decoy(job, "decoy: no such user");
		return;
	}
	if (w->disabled) {
		start_decoy(job, "decoy: account disabled");
		return;
	}
	if (!w->allowed) {
		start_decoy(job, "decoy: not in allowed_groups");
		return;
	}
	if (to == NULL) {
		start_decoy(job, "decoy: no contact for this method");
		return;
	}
	if (w->admin && !(challenge_counting_methods(cfg, true) & m)) {
		start_decoy(job, "decoy: method does not count for admins");
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
	job->t.real = true;
	job->t.admin = w->admin;
	job->t.expires = now_secs() + cfg->policy.code_ttl;
	challenge_new_code(cfg->policy.code_length, job->code);
	challenge_set_code(&job->t, store_hmac_key(job->e->store), m, job->code,
	    job->t.expires);
	if (ticket_save(job) != 0) {
		job_error(job, "internal");
		return;
	}
	snprintf(minutes, sizeof(minutes), "%u", (cfg->policy.code_ttl + 59) / 60);
	if (m == METHOD_EMAIL) {
		notify_mask_email(to, job->sent_to, sizeof(job->sent_to));
		msg = message_build(cfg, MSG_EMAIL_CODE, to, vars, &len, &err);
	} else {
		notify_mask_phone(to, job->sent_to, sizeof(job->sent_to));
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
	    NOTIFY_TIMEOUT, on_code_sent, job);
	sodium_free(msg);
}

static void
op_start(struct job *job)
{
	const struct config *cfg = job->cfg;

	if (!(cfg->policy.methods & job->req.method) ||
	    job->req.method == METHOD_QUESTIONS) {
		/* questions: registration and answers are not part of this
		 * version; the method is refused for everyone alike */
		job_error(job, "not-allowed");
		return;
	}
	if (job->req.ticket[0] != '\0') {
		if (ticket_live(job) != 0)
			return;
		if (strcasecmp(job->t.user, job->req.user) != 0) {
			/* someone else's ticket: a fresh decoy, same shape */
			ticket_clear(&job->t);
			job->have_ticket = false;
			job->truth = "decoy: ticket of another user";
		}
	}
	job_lookup(job, job->req.user, start_looked_up);
}

/* --- verify -------------------------------------------------------------------- */

/* Check the code carried by the request against the ticket. Answers and
 * returns -1 on failure; 0 when it verified a method. */
static int
verify_code(struct job *job)
{
	const struct config *cfg = job->cfg;
	enum method m;
	bool expired;

	if (job->req.answers != NULL) {
		/* security questions are not part of this version */
		job_error(job, "not-allowed");
		return -1;
	}
	m = challenge_verify_code(&job->t, store_hmac_key(job->e->store),
	    job->req.code.s, job->req.code.len, now_secs(), &expired);
	if (m == 0) {
		job->t.attempts++;
		if (ticket_save(job) != 0) {
			job_error(job, "internal");
			return -1;
		}
		if (!job->t.real)
			job->truth = "decoy ticket";
		job_error(job, job->t.attempts >= cfg->policy.max_attempts ?
		    "too-many-attempts" : expired ? "expired" : "bad-code");
		return -1;
	}
	/* Time to choose a password, from now. */
	job->t.expires = now_secs() + cfg->policy.code_ttl;
	if (ticket_save(job) != 0) {
		job_error(job, "internal");
		return -1;
	}
	return 0;
}

static unsigned
remaining(const struct job *job)
{
	unsigned need = challenge_required(job->cfg, job->t.admin);
	unsigned have = challenge_verified_count(job->cfg, &job->t);

	return have >= need ? 0 : need - have;
}

static void
op_verify(struct job *job)
{
	json_t *a, *list;

	if (job->req.code.s == NULL && job->req.answers == NULL) {
		job_error(job, "bad-request");
		return;
	}
	if (ticket_live(job) != 0 || verify_code(job) != 0)
		return;
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

/* --- intents: a write recorded before it is sent ------------------------------ */

static int
intent_put(struct job *job, const char *state)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I}",
	    "op", request_op_name(job->req.op), "dn", job->who.dn,
	    "stamp", job->who.stamp, "state", state,
	    "at", (json_int_t)now_secs());
	int rc = store_put(job->e->store, STORE_INTENTS, job->sreq->id, j);

	json_decref(j);
	return rc;
}

static void
intent_done(struct job *job)
{
	store_del(job->e->store, STORE_INTENTS, job->sreq->id);
}

/* The write took effect: say so durably before anything else changes, so
 * a crash from here on leads to the answer, not to a second write. */
static void
intent_succeeded(struct job *job)
{
	json_t *j = store_get(job->e->store, STORE_INTENTS, job->sreq->id);

	if (j == NULL)
		return;
	json_object_set_new(j, "state", json_string("done"));
	if (store_put(job->e->store, STORE_INTENTS, job->sreq->id, j) != 0)
		log_warnx("engine: request %s: cannot record that the write "
		    "took effect", job->sreq->id);
	json_decref(j);
	job->intent_after_answer = true;
}

/* --- reset and unlock ------------------------------------------------------------ */

static void settle_later(struct job *job);

static void
reset_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	bool admin = job->t.admin;

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
	intent_succeeded(job);
	/* The ticket is spent: a reset happens once per ticket. */
	store_del(job->e->store, STORE_TICKETS, job->t.id);
	send_notice(job, job->req.op == OP_UNLOCK ? "unlocked" : "reset");
	if (admin)
		log_info("engine: request %s: an administrator's password was "
		    "%s", job->sreq->id,
		    job->req.op == OP_UNLOCK ? "unlocked" : "reset");
	job_ok(job, NULL);
}

static void
reset_write(struct job *job)
{
	if (job->req.op == OP_UNLOCK) {
		dir_unlock(job->dr->dir, job->who.dn, reset_written, job);
		return;
	}
	if (intent_put(job, "writing") != 0) {
		job_error(job, "internal");
		return;
	}
	dir_reset_password(job->dr->dir, job->who.dn, job->req.new_password.s,
	    job->req.new_password.len, reset_written, job);
}

static void
reset_looked_up(struct job *job, const struct dir_result *res)
{
	const struct who *w = &job->who;

	if (res->reason != DIR_OK) {
		job_error(job, "directory-unavailable");
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

static void
op_reset(struct job *job)
{
	unsigned v;

	if (ticket_live(job) != 0)
		return;
	if ((job->req.code.s != NULL || job->req.answers != NULL) &&
	    verify_code(job) != 0)
		return;
	if (!job->t.real || remaining(job) > 0) {
		if (!job->t.real)
			job->truth = "decoy ticket";
		job_error(job, "not-verified");
		return;
	}
	if (job->req.op == OP_RESET) {
		v = pwpolicy_check(job->cfg, job->t.user, job->req.new_password.s,
		    job->req.new_password.len);
		if (v != 0) {
			const char *names[6];

			pwpolicy_names(v, names);
			job_error_v(job, "password-policy", NULL, names);
			return;
		}
	}
	job_lookup(job, job->t.user, reset_looked_up);
}

/* --- change ---------------------------------------------------------------------- */

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
		job_dir_error(job, res);
		return;
	}
	intent_succeeded(job);
	average(&job->e->change_secs, mono() - job->started);
	send_notice(job, "changed");
	job_ok(job, NULL);
}

static void
change_unknown(struct job *job)
{
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
		job_dir_error(job, res);
		return;
	}
	job_error(job, job->who.disabled ? "account-disabled" : "not-allowed");
}

static void
change_looked_up(struct job *job, const struct dir_result *res)
{
	double jitter = 0.8 + 0.4 * (double)randombytes_uniform(1000) / 1000.0;

	if (res->reason != DIR_OK) {
		job_error(job, "directory-unavailable");
		return;
	}
	if (!job->who.found) {
		/* as slow and as wrong as a wrong password */
		job->truth = "no such user";
		job_later(job, job->e->change_secs * jitter -
		    (mono() - job->started), change_unknown);
		return;
	}
	if (job->who.disabled || !job->who.allowed) {
		job->truth = job->who.disabled ? "account disabled" :
		    "not in allowed_groups";
		dir_check_password(job->dr->dir, job->who.dn,
		    job->req.old_password.s, job->req.old_password.len,
		    change_refused_checked, job);
		return;
	}
	if (intent_put(job, "writing") != 0) {
		job_error(job, "internal");
		return;
	}
	dir_change_password(job->dr->dir, job->who.dn, job->req.old_password.s,
	    job->req.old_password.len, job->req.new_password.s,
	    job->req.new_password.len, change_written, job);
}

static void
op_change(struct job *job)
{
	unsigned v = pwpolicy_check(job->cfg, job->req.user,
	    job->req.new_password.s, job->req.new_password.len);

	if (v != 0) {
		const char *names[6];

		pwpolicy_names(v, names);
		job_error_v(job, "password-policy", NULL, names);
		return;
	}
	job_lookup(job, job->req.user, change_looked_up);
}

/* --- policy ---------------------------------------------------------------------- */

static void
op_policy(struct job *job)
{
	const struct config *cfg = job->cfg;
	json_t *a = answer_ok(job->sreq->id), *rules = json_array(),
	    *methods = json_array();

	json_object_set_new(a, "min_length", json_integer(cfg->policy.min_length));
	json_object_set_new(a, "max_length", json_integer(cfg->policy.max_length));
	json_array_append_new(rules, json_string("min-length"));
	json_array_append_new(rules, json_string("max-length"));
	if (cfg->policy.banned.n > 0)
		json_array_append_new(rules, json_string("not-banned"));
	json_array_append_new(rules, json_string("no-user-name"));
	json_array_append_new(rules, json_string("directory-policy"));
	json_object_set_new(a, "rules", rules);
	for (unsigned m = METHOD_EMAIL; m <= METHOD_SMS; m <<= 1)
		if (cfg->policy.methods & m)
			json_array_append_new(methods,
			    json_string(config_method_name((enum method)m)));
	json_object_set_new(a, "methods", methods);
	json_object_set_new(a, "methods_required",
	    json_integer(cfg->policy.methods_required));
	job_ok(job, a);
}

/* --- resuming after a crash ------------------------------------------------------ */

static void dispatch(struct job *job);

static void
settled_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart had taken "
	    "effect; answering it", job->sreq->id);
	job->truth = "settled after restart";
	intent_succeeded(job);
	if (job->req.op == OP_RESET && job->req.ticket[0] != '\0')
		store_del(job->e->store, STORE_TICKETS, job->req.ticket);
	send_notice(job, job->req.op == OP_CHANGE ? "changed" : "reset");
	job_ok(job, NULL);
}

static void
settled_not_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart did not take "
	    "effect; doing it now", job->sreq->id);
	intent_done(job);
	who_clear(&job->who);
	dispatch(job);
}

static void
on_recheck_bind(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (res->reason == DIR_OK)
		settled_applied(job);
	else if (res->reason == DIR_UNAVAILABLE)
		job_error(job, "directory-unavailable");	/* intent kept */
	else
		settled_not_applied(job);
}

static void
recheck_looked_up(struct job *job, const struct dir_result *res)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	const char *before = json_string_value(json_object_get(intent, "stamp"));
	char stamp[32];

	snprintf(stamp, sizeof(stamp), "%s", before ? before : "");
	json_decref(intent);
	if (res->reason != DIR_OK) {
		job_error(job, "directory-unavailable");	/* intent kept */
		return;
	}
	if (!job->who.found) {
		intent_done(job);
		job_error(job, "not-verified");
		return;
	}
	if (strcmp(stamp, job->who.stamp) != 0) {
		settled_applied(job);
		return;
	}
	/* The stamp has one-second resolution on OpenLDAP: a write in the same
	 * second as the one before it leaves it unchanged. A bind with the new
	 * password decides. */
	if (job->cfg->directory.type == DIR_TYPE_OPENLDAP && *stamp != '\0') {
		dir_check_password(job->dr->dir, job->who.dn,
		    job->req.new_password.s, job->req.new_password.len,
		    on_recheck_bind, job);
		return;
	}
	settled_not_applied(job);
}

static void
recheck(struct job *job)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	const char *dn = json_string_value(json_object_get(intent, "dn"));
	const char *user = job->req.op == OP_CHANGE ? job->req.user : NULL;

	if (user == NULL && job->req.ticket[0] != '\0' &&
	    ticket_load(job, job->req.ticket) == 0)
		user = job->t.user;
	if (user == NULL || dn == NULL) {
		json_decref(intent);
		/* nothing left to compare with: the ticket is gone, so the
		 * reset completed before the crash */
		settled_applied(job);
		return;
	}
	json_decref(intent);
	job_lookup(job, user, recheck_looked_up);
}

/* A write whose answer was lost (a crash, a dropped connection): wait one
 * directory timeout so a write the server was still working on has
 * finished, then decide from the directory whether it took effect. */
static void
settle_later(struct job *job)
{
	job->recovering = true;
	log_info("engine: request %s: a write's answer was lost; settling it "
	    "from the directory", job->sreq->id);
	job_later(job, job->cfg->directory.timeout, recheck);
}

static bool
resume(struct job *job)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	bool done;

	if (intent == NULL)
		return false;
	done = strcmp(json_string_value(json_object_get(intent, "state")) ?
	    json_string_value(json_object_get(intent, "state")) : "", "done") == 0;
	json_decref(intent);
	if (done)
		settled_applied(job);	/* known to have taken effect */
	else
		settle_later(job);
	return true;
}

/* --- dispatch -------------------------------------------------------------------- */

static void
dispatch(struct job *job)
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
		/* registration of questions and contacts is not part of this
		 * version */
		job_error(job, "not-allowed");
		break;
	}
}

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
	job->started = mono();
	e->active++;
	service_work_begin(e->d);

	if (sreq->problem != NULL) {
		job_error_v(job, "bad-request", sreq->problem, NULL);
		return;
	}
	if (request_parse(sreq->data, sreq->len, &job->req, &msg) != 0) {
		job_error_v(job, "bad-request", msg, NULL);
		return;
	}
	job->parsed = true;
	if ((sreq->resumed || job->req.op == OP_RESET ||
	    job->req.op == OP_CHANGE) && resume(job))
		return;
	dispatch(job);
}

/* --- the engine ------------------------------------------------------------------ */

/* Intents whose request is gone (a reboot emptied the spool on tmpfs) are
 * removed after a day. */
static int
sweep_one(const char *key, json_t *value, void *arg)
{
	struct strlist *old = arg;
	json_int_t at = json_integer_value(json_object_get(value, "at"));

	if (at < now_secs() - 86400)
		strlist_add(old, key);
	return 0;
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	struct strlist old = { 0 };

	store_foreach(e->store, STORE_INTENTS, sweep_one, &old);
	for (size_t i = 0; i < old.n; i++) {
		log_warnx("engine: dropping the write intent of request %s: its "
		    "request file is gone", old.v[i]);
		store_del(e->store, STORE_INTENTS, old.v[i]);
	}
	strlist_free(&old);
}

struct engine *
engine_new(struct ssprd *d, struct store *st, struct notifier *n)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	struct timeval every = { .tv_sec = INTENT_SWEEP_EVERY };

	e->d = d;
	e->store = st;
	e->notifier = n;
	e->cfg = config_ref(d->cfg);
	e->dir = dirref_new(e, e->cfg);
	/* until real ones are measured */
	e->start_secs = 0.05;
	e->change_secs = 0.1;
	e->ev_sweep = event_new(d->base, -1, EV_PERSIST, on_sweep, e);
	if (e->ev_sweep == NULL || event_add(e->ev_sweep, &every) != 0)
		fatalx("engine: cannot arm a timer");
	return e;
}

void
engine_set_spool(struct engine *e, struct spool *s)
{
	e->spool = s;
}

void
engine_reconfigure(struct engine *e, struct config *cfg)
{
	if (directory_changed(e->cfg, cfg)) {
		log_info("engine: [directory] changed: new connections; requests "
		    "in flight finish on the old ones");
		e->dir->retired = true;
		dirref_release(e->dir);
		e->dir = dirref_new(e, cfg);
	}
	config_free(e->cfg);
	e->cfg = config_ref(cfg);
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
	e->dir->retired = true;
	dirref_release(e->dir);
	config_free(e->cfg);
	free(e);
}
