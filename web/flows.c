/*
 * flows.c - the four things a person comes for: reset a forgotten
 * password, unlock an account, change a known password, register recovery
 * information. Each is a few steps; each step is one form, and each form
 * is at most two requests to ssprd.
 *
 * A POST checks that its form belongs to the session's current step (a
 * form from an older page is not acted on), sends ssprd its request, and
 * when the answer comes records the outcome in the session and answers the
 * browser with a redirect to the flow's page, which GET renders from the
 * session. What the pages show comes only from ssprd's answers, and ssprd
 * answers an unknown user exactly as a real one, so the portal cannot tell
 * them apart either: it never tries.
 *
 * Form fields (stable, for tests and admins' automation): user, method,
 * code, answer1..answerN, new_password, new_password_confirm, old_password;
 * for registration also password (the current one), question1..questionN,
 * email, mobile and totp.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "web/web.h"

enum op { OP_NONE, OP_POLICY, OP_START, OP_VERIFY, OP_RESET, OP_UNLOCK,
	OP_CHANGE, OP_STATUS, OP_REGISTER, OP_CONFIRM, OP_POLICY_THEN_STATUS,
	OP_OWN_POLICY };

static json_t *policy;		/* ssprd's last policy answer */

const struct web_method web_methods[WEB_NMETHODS] = {
	{ M_EMAIL, "email", N_("A code sent to my email address"), N_("email") },
	{ M_SMS, "sms", N_("A code sent to my mobile phone (SMS)"),
	  N_("mobile phone (SMS)") },
	{ M_QUESTIONS, "questions", N_("My security questions"),
	  N_("security questions") },
	{ M_TOTP, "totp", N_("A code from my authenticator app"),
	  N_("authenticator app") },
};
#define methods web_methods
#define NMETHODS WEB_NMETHODS

static const struct {
	const char *name, *text;
} violations[] = {
	{ "too-short", N_("The password is too short.") },
	{ "too-long", N_("The password is too long.") },
	{ "banned", N_("The password is on the list of passwords that may not be used.") },
	{ "contains-user-name", N_("The password contains your user name.") },
	{ "complexity", N_("The password is not complex enough: mix upper and lower case letters, digits and symbols.") },
	{ "history", N_("You have used this password before.") },
	{ "too-young", N_("The password was changed too recently. Please try again later.") },
	{ "directory-policy", N_("The directory refused the password under its own rules.") },
	{ "banned-word", N_("The password is built mostly of common or banned words. Add more of your own.") },
	{ "personal-data", N_("The password is built mostly of your name or other personal data. Add more of your own.") },
	{ "contains-display-name", N_("The password contains a part of your name.") },
	{ "breached", N_("The password is known from data breaches: attackers try such passwords first. Choose another.") },
};
#define NVIOLATIONS (sizeof(violations) / sizeof(violations[0]))

static const struct {
	const char *reason, *text;
} reasons[] = {
	{ "bad-request", N_("Please check what you typed and try again.") },
	{ "bad-code", N_("The code or the answers are not correct.") },
	{ "expired", N_("The code has expired. Please start again.") },
	{ "too-many-attempts", N_("Too many wrong attempts. Please start again later.") },
	{ "throttled", N_("Too many attempts. Please wait and try again later.") },
	{ "busy", N_("The service is busy. Please try again in a minute.") },
	{ "not-verified", N_("Please confirm your identity first.") },
	{ "password-policy", N_("The new password does not meet the password rules.") },
	{ "wrong-password", N_("The user name or the current password is not correct, or the account is locked.") },
	{ "account-locked", N_("The account is locked.") },
	{ "account-disabled", N_("The account is disabled.") },
	{ "not-allowed", N_("Self-service is not available for this account or method.") },
	{ "directory-unavailable", N_("The directory is not available right now. Please try again later.") },
	{ "state-unavailable", N_("The service's state store is not available right now. Please try again later.") },
	{ "internal", N_("Something went wrong. Please try again later.") },
};

/* ssprd's bad-request messages a person can act on, shown translated. */
static const char *const bad_request_texts[] = {
	N_("The mobile number must be up to 32 characters: a + or a digit, then digits, spaces and hyphens, with at least 6 digits."),
	N_("The email address is not valid."),
	N_("Please register more security questions."),
	N_("An answer may not be empty."),
	N_("Each security question must differ."),
	N_("Each security question must be one of those offered."),
	N_("The code must be 1 to 12 digits."),
	N_("The user name must be 1 to 256 bytes of text without control characters."),
};

const char *
flow_violation_text(unsigned bit)
{
	return bit < NVIOLATIONS ? violations[bit].text : "";
}

unsigned
flow_violation_count(void)
{
	return NVIOLATIONS;
}

const char *
flow_reason_text(const char *reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reason != NULL && strcmp(reasons[i].reason, reason) == 0)
			return reasons[i].text;
	return N_("Something went wrong. Please try again later.");
}

const char *
flow_path(enum flow flow)
{
	switch (flow) {
	case FLOW_RESET: return "/reset";
	case FLOW_UNLOCK: return "/unlock";
	case FLOW_CHANGE: return "/change";
	case FLOW_REGISTER: return "/register";
	default: return "/";
	}
}

json_t *
flow_policy(void)
{
	return policy;
}

static void
on_policy(json_t *a, void *arg)
{
	(void)arg;
	if (a != NULL && strcmp(json_string_value(json_object_get(a, "status")) ?
	    json_string_value(json_object_get(a, "status")) : "", "ok") == 0) {
		json_decref(policy);
		policy = json_deep_copy(a);
	}
}

void
flow_policy_refresh(void)
{
	static char token;	/* the callback's arg: no session */
	json_t *r = json_object();

	json_object_set_new(r, "op", json_string("policy"));
	queue_submit(r, on_policy, &token);
}

void
flow_shutdown(void)
{
	json_decref(policy);
	policy = NULL;
}

/* --- answers ---------------------------------------------------------------- */

static unsigned
method_bits(json_t *arr)
{
	unsigned bits = 0;
	size_t i, k;
	json_t *v;

	json_array_foreach(arr, i, v)
		for (k = 0; k < NMETHODS; k++)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), methods[k].name) == 0)
				bits |= methods[k].bit;
	return bits;
}

static const char *
str(json_t *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a, key));

	return v != NULL ? v : "";
}

static bool
is_ok(json_t *a)
{
	return strcmp(str(a, "status"), "ok") == 0;
}

static void
notice(struct session *s, const char *msgid, bool ok)
{
	s->notice = msgid;
	s->notice_ok = ok;
}

static void
error_notice(struct session *s, json_t *a)
{
	const char *reason = str(a, "reason");
	size_t i;

	notice(s, flow_reason_text(reason), false);
	if (strcmp(reason, "bad-request") == 0)
		for (i = 0; i < sizeof(bad_request_texts) / sizeof(bad_request_texts[0]); i++)
			if (strcmp(str(a, "message"), bad_request_texts[i]) == 0)
				notice(s, bad_request_texts[i], false);
	if (strcmp(reason, "password-policy") == 0) {
		json_t *v;
		size_t k;

		s->violations = 0;
		json_array_foreach(json_object_get(a, "violations"), i, v) {
			for (k = 0; k < NVIOLATIONS; k++)
				if (json_is_string(v) &&
				    strcmp(json_string_value(v), violations[k].name) == 0)
					break;
			/* a name ssprweb does not know: the directory's own rule */
			s->violations |= 1u << (k < NVIOLATIONS ? k : NVIOLATIONS - 1);
		}
	}
}

/* Reasons after which the ticket is of no more use. */
static bool
start_over(json_t *a)
{
	const char *r = str(a, "reason");

	return strcmp(r, "expired") == 0 || strcmp(r, "too-many-attempts") == 0 ||
	    strcmp(r, "not-verified") == 0 || strcmp(r, "throttled") == 0;
}

static void submit(struct session *s, enum op op, json_t *req);

static void
restart(struct session *s, json_t *a)
{
	const char *keep = s->notice;
	bool keep_ok = s->notice_ok;
	unsigned keep_v = s->violations;

	(void)a;
	session_reset_flow(s, s->flow);
	s->notice = keep;
	s->notice_ok = keep_ok;
	s->violations = keep_v;
}

static json_t *
request(struct session *s, const char *op)
{
	json_t *r = json_object();

	json_object_set_new(r, "op", json_string(op));
	(void)s;
	return r;
}

/* What the answer to a proof (verify) means for the flow. */
static void
proved(struct session *s, json_t *a)
{
	json_t *r;

	s->verified = method_bits(json_object_get(a, "verified"));
	if (json_integer_value(json_object_get(a, "remaining")) > 0) {
		s->step = STEP_METHOD;
		notice(s, N_("Confirmed. Your account needs one more way to confirm it is you."), true);
		return;
	}
	if (s->flow == FLOW_RESET) {
		/* The rules of the password step are the user's own: the
		 * policy asked with the verified ticket (AD's fine-grained
		 * policy, an OpenLDAP pwdPolicySubentry). */
		r = request(s, "policy");
		json_object_set_new(r, "ticket", json_string(s->ticket));
		submit(s, OP_OWN_POLICY, r);
		return;
	}
	r = request(s, "unlock");
	json_object_set_new(r, "ticket", json_string(s->ticket));
	submit(s, OP_UNLOCK, r);
}

static void
on_answer(json_t *a, void *arg)
{
	struct session *s = arg;
	enum op op = (enum op)s->op;
	json_t *r;

	s->busy = false;
	s->op = OP_NONE;
	if (op == OP_OWN_POLICY) {
		/* Whatever the answer, the password step follows: without
		 * the user's rules it shows everyone's, and the reset itself
		 * says what is wrong with the ticket or the password. */
		json_decref(s->own_policy);
		s->own_policy = a != NULL && is_ok(a) &&
		    json_is_true(json_object_get(a, "own_rules")) ?
		    json_deep_copy(a) : NULL;
		s->step = STEP_PASSWORD;
	} else if (a == NULL) {
		notice(s, N_("The service did not answer in time. Please try again in a minute."), false);
	} else if (op == OP_POLICY || op == OP_POLICY_THEN_STATUS) {
		if (is_ok(a)) {
			json_decref(policy);
			policy = json_deep_copy(a);
		}
		if (op == OP_POLICY && policy != NULL) {
			s->step = STEP_METHOD;
		} else if (op == OP_POLICY_THEN_STATUS && s->password != NULL) {
			r = request(s, "status");
			json_object_set_new(r, "user", json_string(s->user));
			json_object_set_new(r, "password", json_string(s->password));
			submit(s, OP_STATUS, r);
		} else {
			error_notice(s, a);
		}
	} else if (!is_ok(a)) {
		error_notice(s, a);
		if (op == OP_STATUS || (op == OP_REGISTER &&
		    strcmp(str(a, "reason"), "wrong-password") == 0)) {
			session_reset_flow(s, FLOW_REGISTER);
			error_notice(s, a);
		} else if (op == OP_CONFIRM && start_over(a)) {
			s->step = STEP_REGISTER;
		} else if (op != OP_CHANGE && op != OP_REGISTER && start_over(a)) {
			restart(s, a);
		}
	} else {
		switch (op) {
		case OP_START: {
			json_t *q, *v;
			size_t i;

			snprintf(s->ticket, sizeof(s->ticket), "%s", str(a, "ticket"));
			snprintf(s->sent_to, sizeof(s->sent_to), "%s", str(a, "sent_to"));
			for (i = 0; i < s->nquestions; i++)
				free(s->questions[i]);
			s->nquestions = 0;
			q = json_object_get(a, "questions");
			json_array_foreach(q, i, v)
				if (json_is_string(v) && s->nquestions < WEB_QUESTIONS_MAX)
					s->questions[s->nquestions++] =
					    xstrdup(json_string_value(v));
			s->step = s->method == M_QUESTIONS ? STEP_ANSWERS : STEP_CODE;
			break;
		}
		case OP_VERIFY:
			proved(s, a);
			break;
		case OP_RESET:
			s->step = STEP_DONE;
			notice(s, N_("Your password has been reset. You can now sign in with the new password."), true);
			break;
		case OP_UNLOCK:
			s->step = STEP_DONE;
			notice(s, N_("Your account is unlocked. You can sign in again with your password."), true);
			break;
		case OP_CHANGE:
			s->step = STEP_DONE;
			notice(s, N_("Your password has been changed."), true);
			break;
		case OP_STATUS:
			s->registered = method_bits(json_object_get(a, "registered"));
			s->offered = method_bits(json_object_get(a, "offered"));
			s->required = (int)json_integer_value(json_object_get(a, "required"));
			s->enough = json_is_true(json_object_get(a, "enough"));
			s->reconfirm_due = json_is_true(json_object_get(a, "reconfirm_due"));
			s->step = STEP_REGISTER;
			break;
		case OP_REGISTER:
			s->registered = method_bits(json_object_get(a, "registered"));
			s->reconfirm_due = json_is_true(json_object_get(a, "reconfirm_due"));
			s->pending = method_bits(json_object_get(a, "pending"));
			s->confirmed = 0;
			if (s->pending != 0) {
				snprintf(s->ticket, sizeof(s->ticket), "%s", str(a, "ticket"));
				secret_free(s->totp_uri);
				s->totp_uri = NULL;
				if (*str(a, "totp_uri") != '\0')
					s->totp_uri = secret_dup(str(a, "totp_uri"),
					    strlen(str(a, "totp_uri")));
				s->step = STEP_CONFIRM;
			} else {
				notice(s, N_("Your recovery information is saved."), true);
			}
			break;
		case OP_CONFIRM:
			s->pending = method_bits(json_object_get(a, "pending"));
			s->confirmed = method_bits(json_object_get(a, "confirmed"));
			s->registered |= s->confirmed;
			if (s->pending == 0) {
				secret_free(s->totp_uri);
				s->totp_uri = NULL;
				s->step = STEP_REGISTER;
				notice(s, N_("Confirmed. Your recovery information is saved."), true);
			} else {
				notice(s, N_("Confirmed. Please enter the next code."), true);
			}
			break;
		default:
			break;
		}
	}
	if (!s->busy && s->req != NULL) {
		struct evhttp_request *req = s->req;

		s->req = NULL;
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
		    NULL, NULL);
		web_redirect(req, flow_path(s->flow));
	}
}

static void
client_gone(struct evhttp_connection *conn, void *arg)
{
	struct session *s = arg;

	(void)conn;
	s->req = NULL;
}

static const char *submit_client, *submit_lang;

static void
submit(struct session *s, enum op op, json_t *req)
{
	if (submit_client != NULL && submit_client[0] != '\0')
		json_object_set_new(req, "client", json_string(submit_client));
	if (submit_lang != NULL)
		json_object_set_new(req, "lang", json_string(submit_lang));
	s->op = (int)op;
	s->busy = true;
	if (queue_submit(req, on_answer, s) != 0) {
		s->busy = false;
		s->op = OP_NONE;
		notice(s, N_("Something went wrong. Please try again later."), false);
	}
}

/* --- posts ------------------------------------------------------------------ */

static bool
text_ok(const char *v, size_t max)
{
	size_t len = v != NULL ? strlen(v) : 0;

	return len >= 1 && len <= max && utf8_plain_text(v, len);
}

/* The digits of a code as typed ("123 456", "123-456"). */
static bool
code_of(const char *v, char out[13])
{
	size_t n = 0;

	if (v == NULL)
		return false;
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '-')
			continue;
		if (*v < '0' || *v > '9' || n == 12)
			return false;
		out[n++] = *v;
	}
	out[n] = '\0';
	return n > 0;
}

static json_t *
secret_string(const char *v)
{
	return json_string(v != NULL ? v : "");
}

static void
post_user(struct session *s, struct form *f)
{
	const char *user = parse_form_get(f, "user");

	if (!text_ok(user, WEB_USER_MAX)) {
		notice(s, N_("Please enter your user name."), false);
		return;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	submit(s, OP_POLICY, request(s, "policy"));
}

static void
post_method(struct session *s, struct form *f)
{
	const char *name = parse_form_get(f, "method");
	const struct web_method *m = NULL;
	unsigned allowed = policy != NULL ?
	    method_bits(json_object_get(policy, "methods")) : 0;
	json_t *r;
	size_t k;

	for (k = 0; name != NULL && k < NMETHODS; k++)
		if (strcmp(name, methods[k].name) == 0)
			m = &methods[k];
	if (m == NULL || !(allowed & m->bit) || (s->verified & m->bit)) {
		notice(s, N_("Please choose how to confirm it is you."), false);
		return;
	}
	s->method = m->bit;
	r = request(s, "start");
	json_object_set_new(r, "user", json_string(s->user));
	json_object_set_new(r, "method", json_string(m->name));
	if (s->ticket[0] != '\0')
		json_object_set_new(r, "ticket", json_string(s->ticket));
	submit(s, OP_START, r);
}

static void
post_code(struct session *s, struct form *f)
{
	char code[13];
	json_t *r;

	if (!code_of(parse_form_get(f, "code"), code)) {
		notice(s, N_("Please enter the code: digits only."), false);
		return;
	}
	r = request(s, "verify");
	json_object_set_new(r, "ticket", json_string(s->ticket));
	json_object_set_new(r, "code", json_string(code));
	sodium_memzero(code, sizeof(code));
	submit(s, OP_VERIFY, r);
}

static void
post_answers(struct session *s, struct form *f)
{
	json_t *r, *answers = json_array();
	unsigned i;

	for (i = 0; i < s->nquestions; i++) {
		char name[24];
		const char *v;

		snprintf(name, sizeof(name), "answer%u", i + 1);
		v = parse_form_get(f, name);
		if (v == NULL || v[0] == '\0' || strlen(v) > 512) {
			json_decref(answers);
			notice(s, N_("Please answer every question."), false);
			return;
		}
		json_array_append_new(answers, secret_string(v));
	}
	r = request(s, "verify");
	json_object_set_new(r, "ticket", json_string(s->ticket));
	json_object_set_new(r, "answers", answers);
	submit(s, OP_VERIFY, r);
}

/* new_password and new_password_confirm, the same; NULL otherwise. */
static const char *
new_password(struct session *s, struct form *f)
{
	const char *p = parse_form_get(f, "new_password");
	const char *c = parse_form_get(f, "new_password_confirm");

	if (p == NULL || p[0] == '\0' || strlen(p) > WEB_PASSWORD_MAX) {
		notice(s, N_("Please enter the new password."), false);
		return NULL;
	}
	if (c == NULL || strcmp(p, c) != 0) {
		notice(s, N_("The two new passwords are not the same."), false);
		return NULL;
	}
	return p;
}

static void
post_password(struct session *s, struct form *f)
{
	const char *p = new_password(s, f);
	json_t *r;

	if (p == NULL)
		return;
	r = request(s, "reset");
	json_object_set_new(r, "ticket", json_string(s->ticket));
	json_object_set_new(r, "new_password", secret_string(p));
	submit(s, OP_RESET, r);
}

static void
post_change(struct session *s, struct form *f)
{
	const char *user = parse_form_get(f, "user");
	const char *old = parse_form_get(f, "old_password");
	const char *p;
	json_t *r;

	if (!text_ok(user, WEB_USER_MAX)) {
		notice(s, N_("Please enter your user name."), false);
		return;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	if (old == NULL || old[0] == '\0' || strlen(old) > WEB_PASSWORD_MAX) {
		notice(s, N_("Please enter your current password."), false);
		return;
	}
	if ((p = new_password(s, f)) == NULL)
		return;
	r = request(s, "change");
	json_object_set_new(r, "user", json_string(user));
	json_object_set_new(r, "old_password", secret_string(old));
	json_object_set_new(r, "new_password", secret_string(p));
	submit(s, OP_CHANGE, r);
}

static void
post_login(struct session *s, struct form *f)
{
	const char *user = parse_form_get(f, "user");
	const char *pw = parse_form_get(f, "password");

	if (!text_ok(user, WEB_USER_MAX)) {
		notice(s, N_("Please enter your user name."), false);
		return;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	if (pw == NULL || pw[0] == '\0' || strlen(pw) > WEB_PASSWORD_MAX) {
		notice(s, N_("Please enter your current password."), false);
		return;
	}
	secret_free(s->password);
	s->password = secret_dup(pw, strlen(pw));
	submit(s, OP_POLICY_THEN_STATUS, request(s, "policy"));
}

static void
post_register(struct session *s, struct form *f)
{
	json_t *r = request(s, "register"), *qs = json_array();
	const char *email = parse_form_get(f, "email");
	const char *mobile = parse_form_get(f, "mobile");
	const char *totp = parse_form_get(f, "totp");
	bool any = false;
	unsigned i;

	if (parse_form_get(f, "reconfirm") != NULL) {
		json_object_set_new(r, "reconfirm", json_true());
		any = true;
	}
	for (i = 1; i <= WEB_QUESTIONS_MAX; i++) {
		char qn[24], an[24];
		const char *q, *a;
		json_t *o;

		snprintf(qn, sizeof(qn), "question%u", i);
		snprintf(an, sizeof(an), "answer%u", i);
		q = parse_form_get(f, qn);
		a = parse_form_get(f, an);
		if ((q == NULL || q[0] == '\0') && (a == NULL || a[0] == '\0'))
			continue;
		o = json_object();
		json_object_set_new(o, "question", json_string(q != NULL ? q : ""));
		json_object_set_new(o, "answer", secret_string(a));
		json_array_append_new(qs, o);
	}
	if (json_array_size(qs) > 0) {
		json_object_set_new(r, "questions", qs);
		any = true;
	} else {
		json_decref(qs);
	}
	if (email != NULL && email[0] != '\0') {
		json_object_set_new(r, "email", json_string(email));
		any = true;
	}
	if (mobile != NULL && mobile[0] != '\0') {
		json_object_set_new(r, "mobile", json_string(mobile));
		any = true;
	}
	if (totp != NULL) {
		json_object_set_new(r, "totp", json_true());
		any = true;
	}
	if (!any || s->password == NULL) {
		json_decref(r);
		notice(s, N_("Fill in at least one thing to register."), false);
		return;
	}
	json_object_set_new(r, "user", json_string(s->user));
	json_object_set_new(r, "password", secret_string(s->password));
	submit(s, OP_REGISTER, r);
}

static void
post_confirm(struct session *s, struct form *f)
{
	char code[13];
	json_t *r;

	if (!code_of(parse_form_get(f, "code"), code)) {
		notice(s, N_("Please enter the code: digits only."), false);
		return;
	}
	r = request(s, "confirm");
	json_object_set_new(r, "ticket", json_string(s->ticket));
	json_object_set_new(r, "code", json_string(code));
	sodium_memzero(code, sizeof(code));
	submit(s, OP_CONFIRM, r);
}

void
flow_post(struct evhttp_request *req, struct session *s, enum flow flow,
    struct form *form, const char *client, const char *lang)
{
	const char *step = parse_form_get(form, "step");

	if (s->busy) {
		notice(s, N_("Your previous request is still being handled. Please wait a moment."), false);
		web_redirect(req, flow_path(flow));
		return;
	}
	if (parse_form_get(form, "cancel") != NULL || s->flow != flow) {
		session_reset_flow(s, flow);
		web_redirect(req, flow_path(flow));
		return;
	}
	if (step == NULL || strtol(step, NULL, 10) != (long)s->step) {
		notice(s, N_("This page was out of date. Please try again."), false);
		web_redirect(req, flow_path(flow));
		return;
	}
	submit_client = client;
	submit_lang = lang;
	switch (s->step) {
	case STEP_USER:
		if (flow == FLOW_CHANGE)
			post_change(s, form);
		else
			post_user(s, form);
		break;
	case STEP_METHOD: post_method(s, form); break;
	case STEP_CODE: post_code(s, form); break;
	case STEP_ANSWERS: post_answers(s, form); break;
	case STEP_PASSWORD: post_password(s, form); break;
	case STEP_LOGIN: post_login(s, form); break;
	case STEP_REGISTER: post_register(s, form); break;
	case STEP_CONFIRM: post_confirm(s, form); break;
	case STEP_DONE: session_reset_flow(s, flow); break;
	}
	submit_client = submit_lang = NULL;
	if (s->busy) {
		s->req = req;
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
		    client_gone, s);
	} else {
		web_redirect(req, flow_path(flow));
	}
}
