/*
 * pages.c - the page of each step, rendered from the session alone.
 *
 * GET never changes what ssprd knows: it only shows the step the session
 * is at (starting the flow when the visitor arrives from elsewhere). Every
 * page has one main form with labelled fields, a way back to the start,
 * and the notice of what just happened, announced to screen readers
 * (role alert or status).
 */
#include "build.h"

#include <string.h>

#include <sodium.h>

#include "web/web.h"

#define methods web_methods
#define NMETHODS WEB_NMETHODS

static void
para(struct page *p, const char *msgid)
{
	evbuffer_add_printf(p->out, "<p>");
	html_escape(p->out, T(p, msgid));
	evbuffer_add_printf(p->out, "</p>\n");
}

static unsigned
policy_bits(const char *key)
{
	json_t *pol = flow_policy(), *v;
	unsigned bits = 0;
	size_t i, k;

	json_array_foreach(json_object_get(pol, key), i, v)
		for (k = 0; k < NMETHODS; k++)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), methods[k].name) == 0)
				bits |= methods[k].bit;
	return bits;
}

/* A small form whose one button ends the flow ("Start over"). */
static void
cancel_form(struct page *p, enum flow flow, const char *label)
{
	evbuffer_add_printf(p->out, "<form method=\"post\" action=\"%s%s\" "
	    "class=\"secondary\">\n<input type=\"hidden\" name=\"csrf\" "
	    "value=\"%s\">\n<input type=\"hidden\" name=\"cancel\" value=\"1\">\n"
	    "<button type=\"submit\" class=\"link\">", web_prefix,
	    flow_path(flow), p->csrf);
	html_escape(p->out, T(p, label));
	evbuffer_add_printf(p->out, "</button>\n</form>\n");
}

/* The password rules of the policy answer, before a new password is typed;
 * app.js reads data-min and data-max for its live check. */
static void
rules(struct page *p)
{
	json_t *pol = p->s != NULL && p->s->own_policy != NULL ?
	    p->s->own_policy : flow_policy(), *v;
	long min = (long)json_integer_value(json_object_get(pol, "min_length"));
	long max = (long)json_integer_value(json_object_get(pol, "max_length"));
	size_t i;

	evbuffer_add_printf(p->out, "<div class=\"rules\" id=\"rules\" "
	    "data-min=\"%ld\" data-max=\"%ld\" data-msg-short=\"", min, max);
	html_escape(p->out, T(p, "Too short so far."));
	evbuffer_add_printf(p->out, "\" data-msg-long=\"");
	html_escape(p->out, T(p, "Too long."));
	evbuffer_add_printf(p->out, "\" data-msg-differ=\"");
	html_escape(p->out, T(p, "The two passwords are not the same yet."));
	evbuffer_add_printf(p->out, "\" data-msg-fine=\"");
	html_escape(p->out, T(p, "Length and confirmation are fine."));
	evbuffer_add_printf(p->out, "\"><p>");
	html_escape(p->out, T(p, "The new password must follow these rules:"));
	evbuffer_add_printf(p->out, "</p><ul>");
	json_array_foreach(json_object_get(pol, "rules"), i, v) {
		const char *r = json_string_value(v);

		if (r == NULL)
			continue;
		evbuffer_add_printf(p->out, "<li>");
		if (strcmp(r, "min-length") == 0)
			html_text_n(p->out, T(p, "At least {n} characters."), min);
		else if (strcmp(r, "max-length") == 0)
			html_text_n(p->out, T(p, "At most {n} characters."), max);
		else if (strcmp(r, "not-banned") == 0)
			html_escape(p->out, T(p, "Not a password on the list of banned passwords."));
		else if (strcmp(r, "no-user-name") == 0)
			html_escape(p->out, T(p, "It may not contain your user name."));
		else if (strcmp(r, "banned-terms") == 0)
			html_escape(p->out, T(p, "It may not be built mostly of common words or your personal data (name, mail address)."));
		else if (strcmp(r, "complexity") == 0)
			html_escape(p->out, T(p, "It must mix three of: upper case letters, lower case letters, digits, symbols; and may not contain your account name or a part of your name."));
		else if (strcmp(r, "history") == 0)
			html_escape(p->out, T(p, "It may not be one of your recent passwords."));
		else if (strcmp(r, "min-age") == 0)
			html_escape(p->out, T(p, "A password you changed yourself cannot be changed again at once."));
		else if (strcmp(r, "not-breached") == 0)
			html_escape(p->out, T(p, "It may not be a password known from data breaches."));
		else
			html_escape(p->out, T(p, "The directory may have further rules, such as complexity or not reusing an old password."));
		evbuffer_add_printf(p->out, "</li>");
	}
	evbuffer_add_printf(p->out, "</ul><p class=\"live\" id=\"live\" "
	    "aria-live=\"polite\"></p></div>\n");
}

static void
new_password_fields(struct page *p)
{
	html_input(p, "new_password", T(p, "New password"), "password",
	    "new-password", NULL, true);
	html_input(p, "new_password_confirm", T(p, "New password again"),
	    "password", "new-password", NULL, true);
}

static const char *
title_of(enum flow flow)
{
	switch (flow) {
	case FLOW_RESET: return N_("Reset a forgotten password");
	case FLOW_UNLOCK: return N_("Unlock my account");
	case FLOW_CHANGE: return N_("Change my password");
	case FLOW_REGISTER: return N_("Register recovery information");
	default: return N_("Self-service password");
	}
}

static void
home(struct page *p)
{
	static const struct {
		enum flow flow;
		const char *text;
	} tasks[] = {
		{ FLOW_RESET, N_("You forgot your password: confirm it is you, then choose a new one.") },
		{ FLOW_UNLOCK, N_("Your account is locked after too many wrong passwords: unlock it without changing the password.") },
		{ FLOW_CHANGE, N_("You know your password and want a new one.") },
		{ FLOW_REGISTER, N_("Add or check the email address, mobile number, security questions or authenticator app you can use to reset your password.") },
	};
	size_t i;

	html_begin(p, T(p, "Self-service password"));
	html_notice(p);
	evbuffer_add_printf(p->out, "<ul class=\"tasks\">\n");
	for (i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
		evbuffer_add_printf(p->out, "<li><a href=\"%s%s\">", web_prefix,
		    flow_path(tasks[i].flow));
		html_escape(p->out, T(p, title_of(tasks[i].flow)));
		evbuffer_add_printf(p->out, "</a><p>");
		html_escape(p->out, T(p, tasks[i].text));
		evbuffer_add_printf(p->out, "</p></li>\n");
	}
	evbuffer_add_printf(p->out, "</ul>\n");
	html_end(p);
}

static void
method_choice(struct page *p, enum flow flow)
{
	struct session *s = p->s;
	unsigned allowed = policy_bits("methods") & ~s->verified;
	bool first = true;
	size_t k;

	if (s->verified == 0)
		para(p, N_("How do you want to confirm it is you?"));
	html_form_begin(p, flow_path(flow), STEP_METHOD);
	evbuffer_add_printf(p->out, "<fieldset><legend>");
	html_escape(p->out, T(p, "Confirm it is me with"));
	evbuffer_add_printf(p->out, "</legend>\n");
	for (k = 0; k < NMETHODS; k++) {
		if (!(allowed & methods[k].bit))
			continue;
		evbuffer_add_printf(p->out, "<div class=\"choice\"><input type=\"radio\" "
		    "name=\"method\" id=\"m-%s\" value=\"%s\"%s><label for=\"m-%s\">",
		    methods[k].name, methods[k].name, first ? " checked" : "",
		    methods[k].name);
		html_escape(p->out, T(p, methods[k].label));
		evbuffer_add_printf(p->out, "</label></div>\n");
		first = false;
	}
	evbuffer_add_printf(p->out, "</fieldset>\n");
	html_form_end(p, T(p, "Continue"));
}

static void
code_step(struct page *p, enum flow flow)
{
	struct session *s = p->s;

	if (s->method == M_TOTP) {
		para(p, N_("Enter the 6-digit code your authenticator app shows now."));
	} else {
		evbuffer_add_printf(p->out, "<p>");
		html_escape(p->out, T(p, s->method == M_SMS ?
		    N_("If the account has this mobile number, a code was sent to it:") :
		    N_("If the account has this address, a code was sent to it:")));
		evbuffer_add_printf(p->out, " <strong>");
		html_escape(p->out, s->sent_to);
		evbuffer_add_printf(p->out, "</strong></p>\n");
	}
	html_form_begin(p, flow_path(flow), STEP_CODE);
	html_input(p, "code", T(p, "Code"), "text", "one-time-code", NULL, true);
	html_form_end(p, T(p, "Confirm"));
}

static void
answers_step(struct page *p, enum flow flow)
{
	struct session *s = p->s;
	unsigned i;

	para(p, N_("Answer your security questions."));
	html_form_begin(p, flow_path(flow), STEP_ANSWERS);
	for (i = 0; i < s->nquestions; i++) {
		char name[24];

		snprintf(name, sizeof(name), "answer%u", i + 1);
		html_input(p, name, s->questions[i], "text", "off", NULL, true);
	}
	html_form_end(p, T(p, "Confirm"));
}

static void
reset_page(struct page *p, enum flow flow)
{
	struct session *s = p->s;

	switch (s->step) {
	case STEP_USER:
		para(p, flow == FLOW_RESET ?
		    N_("Enter your user name. You will then confirm it is you, and choose a new password.") :
		    N_("Enter your user name. You will then confirm it is you, and your account will be unlocked."));
		html_form_begin(p, flow_path(flow), STEP_USER);
		html_input(p, "user", T(p, "User name"), "text", "username",
		    s->user, true);
		html_form_end(p, T(p, "Continue"));
		return;
	case STEP_METHOD:
		method_choice(p, flow);
		break;
	case STEP_CODE:
		code_step(p, flow);
		break;
	case STEP_ANSWERS:
		answers_step(p, flow);
		break;
	case STEP_PASSWORD:
		rules(p);
		html_form_begin(p, flow_path(flow), STEP_PASSWORD);
		new_password_fields(p);
		html_form_end(p, T(p, "Set the new password"));
		break;
	default:
		return;
	}
	cancel_form(p, flow, N_("Start over"));
}

static void
change_page(struct page *p)
{
	struct session *s = p->s;

	if (s->step == STEP_DONE)
		return;
	rules(p);
	html_form_begin(p, "/change", STEP_USER);
	html_input(p, "user", T(p, "User name"), "text", "username", s->user, true);
	html_input(p, "old_password", T(p, "Current password"), "password",
	    "current-password", NULL, true);
	new_password_fields(p);
	html_form_end(p, T(p, "Change my password"));
}

static void
method_list(struct page *p, unsigned bits)
{
	const char *sep = "";
	size_t k;

	for (k = 0; k < NMETHODS; k++)
		if (bits & methods[k].bit) {
			evbuffer_add_printf(p->out, "%s", sep);
			html_escape(p->out, T(p, methods[k].short_label));
			sep = ", ";
		}
}

static void
register_form(struct page *p)
{
	struct session *s = p->s;
	json_t *pol = flow_policy(), *choices = json_object_get(pol, "question_choices");
	long nq = (long)json_integer_value(json_object_get(pol, "questions_required"));
	long i;

	evbuffer_add_printf(p->out, "<p>");
	if (s->registered != 0) {
		html_escape(p->out, T(p, "Registered now:"));
		evbuffer_add_printf(p->out, " <strong id=\"registered\">");
		method_list(p, s->registered);
		evbuffer_add_printf(p->out, "</strong>");
	} else {
		html_escape(p->out, T(p, "You have not registered any way to reset your password yet."));
	}
	evbuffer_add_printf(p->out, "</p>\n");
	if (!s->enough) {
		evbuffer_add_printf(p->out, "<p>");
		html_text_n(p->out, T(p, "To reset your password on your own you need {n} of these."),
		    s->required);
		evbuffer_add_printf(p->out, "</p>\n");
	}
	if (s->reconfirm_due && s->registered != 0) {
		para(p, N_("Please check that your recovery information is still correct."));
		html_form_begin(p, "/register", STEP_REGISTER);
		evbuffer_add_printf(p->out, "<input type=\"hidden\" name=\"reconfirm\" value=\"1\">\n");
		html_form_end(p, T(p, "It is still correct"));
	}
	html_form_begin(p, "/register", STEP_REGISTER);
	if ((s->offered & M_QUESTIONS) && nq > 0) {
		evbuffer_add_printf(p->out, "<fieldset><legend>");
		html_escape(p->out, T(p, "Security questions"));
		evbuffer_add_printf(p->out, "</legend>\n");
		for (i = 1; i <= nq && i <= WEB_QUESTIONS_MAX; i++) {
			char qn[32], an[32], ql[160], al[160];

			snprintf(qn, sizeof(qn), "question%ld", i);
			snprintf(an, sizeof(an), "answer%ld", i);
			snprintf(ql, sizeof(ql), "%s %ld", T(p, "Question"), i);
			snprintf(al, sizeof(al), "%s %ld", T(p, "Answer"), i);
			if (json_array_size(choices) > 0) {
				size_t k;
				json_t *v;

				evbuffer_add_printf(p->out, "<div class=\"field\"><label "
				    "for=\"f-%s\">", qn);
				html_escape(p->out, ql);
				evbuffer_add_printf(p->out, "</label>\n<select id=\"f-%s\" "
				    "name=\"%s\">", qn, qn);
				json_array_foreach(choices, k, v) {
					evbuffer_add_printf(p->out, "<option%s>",
					    (long)k == i - 1 ? " selected" : "");
					html_escape(p->out, json_string_value(v));
					evbuffer_add_printf(p->out, "</option>");
				}
				evbuffer_add_printf(p->out, "</select></div>\n");
			} else {
				html_input(p, qn, ql, "text", "off", NULL, false);
			}
			html_input(p, an, al, "text", "off", NULL, false);
		}
		evbuffer_add_printf(p->out, "</fieldset>\n");
	}
	if (s->offered & M_EMAIL)
		html_input(p, "email", T(p, "Recovery email address"), "email",
		    "email", NULL, false);
	if (s->offered & M_SMS)
		html_input(p, "mobile", T(p, "Mobile number for codes by SMS"), "tel",
		    "tel", NULL, false);
	if (s->offered & M_TOTP) {
		evbuffer_add_printf(p->out, "<div class=\"choice\"><input type=\"checkbox\" "
		    "name=\"totp\" id=\"f-totp\" value=\"1\"><label for=\"f-totp\">");
		html_escape(p->out, T(p, (s->registered & M_TOTP) ?
		    "Set up a new authenticator app (replaces the current one)" :
		    "Set up an authenticator app"));
		evbuffer_add_printf(p->out, "</label></div>\n");
	}
	html_form_end(p, T(p, "Save"));
}

/* The otpauth URI's secret, for typing into an app by hand. */
static void
totp_key(struct page *p, const char *uri)
{
	const char *k = strstr(uri, "secret=");
	size_t len;
	char key[128];

	if (k == NULL)
		return;
	k += 7;
	len = strcspn(k, "&");
	if (len >= sizeof(key))
		return;
	memcpy(key, k, len);
	key[len] = '\0';
	evbuffer_add_printf(p->out, "<p>");
	html_escape(p->out, T(p, "Or type this key into the app:"));
	evbuffer_add_printf(p->out, " <code id=\"totp-key\">");
	html_escape(p->out, key);
	evbuffer_add_printf(p->out, "</code></p>\n<details><summary>");
	html_escape(p->out, T(p, "Show the setup link"));
	evbuffer_add_printf(p->out, "</summary><code id=\"totp-uri\">");
	html_escape(p->out, uri);
	evbuffer_add_printf(p->out, "</code></details>\n");
	sodium_memzero(key, sizeof(key));
}

static void
confirm_page(struct page *p)
{
	struct session *s = p->s;

	if (s->pending & M_EMAIL)
		para(p, N_("We sent a code to the new email address. Enter it below to confirm the address."));
	if (s->pending & M_SMS)
		para(p, N_("We sent a code by SMS to the new mobile number. Enter it below to confirm the number."));
	if ((s->pending & M_TOTP) && s->totp_uri != NULL) {
		para(p, N_("Scan this code with your authenticator app, then enter the 6-digit code the app shows."));
		qr_svg(p->out, s->totp_uri, T(p, "QR code for your authenticator app"));
		totp_key(p, s->totp_uri);
	}
	html_form_begin(p, "/register", STEP_CONFIRM);
	html_input(p, "code", T(p, "Code"), "text", "one-time-code", NULL, true);
	html_form_end(p, T(p, "Confirm"));
}

static void
register_page(struct page *p)
{
	struct session *s = p->s;

	switch (s->step) {
	case STEP_LOGIN:
		para(p, N_("Sign in with your user name and current password to see and change your recovery information."));
		html_form_begin(p, "/register", STEP_LOGIN);
		html_input(p, "user", T(p, "User name"), "text", "username", s->user, true);
		html_input(p, "password", T(p, "Current password"), "password",
		    "current-password", NULL, true);
		html_form_end(p, T(p, "Sign in"));
		return;
	case STEP_REGISTER:
		register_form(p);
		break;
	case STEP_CONFIRM:
		confirm_page(p);
		break;
	default:
		return;
	}
	cancel_form(p, FLOW_REGISTER, N_("Sign out"));
}

void
flow_page(struct page *p, enum flow flow)
{
	struct session *s = p->s;

	if (flow == FLOW_NONE) {
		home(p);
		return;
	}
	if (s->flow != flow && !s->busy)
		session_reset_flow(s, flow);
	html_begin(p, T(p, title_of(flow)));
	html_notice(p);
	if (s->busy) {
		para(p, N_("Your previous request is still being handled. Please wait a moment and reload this page."));
	} else if (s->step == STEP_DONE) {
		evbuffer_add_printf(p->out, "<p><a href=\"%s/\">", web_prefix);
		html_escape(p->out, T(p, "All self-service tasks"));
		evbuffer_add_printf(p->out, "</a></p>\n");
		session_reset_flow(s, flow);
	} else if (flow == FLOW_CHANGE) {
		change_page(p);
	} else if (flow == FLOW_REGISTER) {
		register_page(p);
	} else {
		reset_page(p, flow);
	}
	html_end(p);
}
