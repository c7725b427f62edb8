/*
 * request.c - parse requests strictly, build answers (see request.h).
 *
 * Guarantees: a request that parses has "v": 1, a known op, every field that
 * op requires, no field it does not accept, and every field within the
 * type, size and shape listed in request.h; anything else is refused with
 * one static sentence that never repeats what the request sent. Secrets are
 * copied into sodium_malloc() memory; the JSON tree is released (and, with
 * the allocator request_init() installs, wiped) before request_parse()
 * returns, on success and on failure alike. Nothing here logs a request.
 *
 * Text is taken exactly as sent: no trimming, no case folding, no Unicode
 * normalisation. Deciding what two spellings of a password mean is not the
 * parser's business, and silently changing a password is worse than
 * refusing it.
 */
#include "build.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/request.h"

/* Limits as text, so that messages cannot drift from the numbers. */
#define STR2(x) #x
#define STR(x) STR2(x)

#define MOBILE_DIGITS_MIN 6

static const char msg_json[] = "The request is not valid JSON.";
static const char msg_duplicate[] = "The request has a field twice.";
static const char msg_deep[] = "The request is nested too deeply.";
static const char msg_object[] = "The request is not a JSON object.";
static const char msg_version[] = "The request must carry \"v\": 1.";
static const char msg_no_op[] = "The request does not name an operation.";
static const char msg_bad_op[] =
    "The request names an operation this server does not know.";
static const char msg_unknown[] =
    "The request has a field this operation does not accept.";
static const char msg_both[] = "Send either a code or answers, not both.";
static const char msg_neither[] = "The request lacks a code or answers.";
static const char msg_register[] =
    "Register at least one of security questions, a mobile number, an "
    "email address or an authenticator app, or reconfirm.";

static bool parse_user(json_t *, struct request *);
static bool parse_method(json_t *, struct request *);
static bool parse_ticket(json_t *, struct request *);
static bool parse_client(json_t *, struct request *);
static bool parse_code(json_t *, struct request *);
static bool parse_answers(json_t *, struct request *);
static bool parse_old_password(json_t *, struct request *);
static bool parse_new_password(json_t *, struct request *);
static bool parse_password(json_t *, struct request *);
static bool parse_questions(json_t *, struct request *);
static bool parse_mobile(json_t *, struct request *);
static bool parse_email(json_t *, struct request *);
static bool parse_totp(json_t *, struct request *);
static bool parse_reconfirm(json_t *, struct request *);
static bool parse_lang(json_t *, struct request *);

enum field {
	F_USER,
	F_METHOD,
	F_TICKET,
	F_CLIENT,
	F_CODE,
	F_ANSWERS,
	F_OLD_PASSWORD,
	F_NEW_PASSWORD,
	F_PASSWORD,
	F_QUESTIONS,
	F_MOBILE,
	F_EMAIL,
	F_TOTP,
	F_RECONFIRM,
	F_LANG,
	F_COUNT
};

#define BIT(f) (1u << (f))

/*
 * Fields are checked in this order, so the same bad request always gets
 * the same message. "missing" is used where an op requires the field; every
 * field has one so that requiring a field later cannot leave a hole.
 */
static const struct field_spec {
	const char *name;
	bool (*parse)(json_t *, struct request *);
	const char *missing;
	const char *invalid;
} fields[F_COUNT] = {
	[F_USER] = { "user", parse_user,
	    "The user name is missing.",
	    "The user name must be 1 to " STR(REQ_USER_MAX) " bytes of text "
	    "without control characters." },
	[F_METHOD] = { "method", parse_method,
	    "The verification method is missing.",
	    "The verification method must be \"email\", \"sms\", "
	    "\"questions\" or \"totp\"." },
	[F_TICKET] = { "ticket", parse_ticket,
	    "The ticket is missing.",
	    "The ticket is not valid." },
	[F_CLIENT] = { "client", parse_client,
	    "The client address is missing.",
	    "The client address is not a valid IP address." },
	[F_CODE] = { "code", parse_code,
	    "The code is missing.",
	    "The code must be 1 to " STR(REQ_CODE_MAX) " digits." },
	[F_ANSWERS] = { "answers", parse_answers,
	    "The answers are missing.",
	    "The answers must be a list of 1 to " STR(REQ_ANSWERS_MAX)
	    " texts of 1 to " STR(REQ_ANSWER_MAX) " bytes each." },
	[F_OLD_PASSWORD] = { "old_password", parse_old_password,
	    "The current password is missing.",
	    "The current password must be 1 to " STR(REQ_PASSWORD_MAX)
	    " bytes long." },
	[F_NEW_PASSWORD] = { "new_password", parse_new_password,
	    "The new password is missing.",
	    "The new password must be 1 to " STR(REQ_PASSWORD_MAX)
	    " bytes long." },
	[F_PASSWORD] = { "password", parse_password,
	    "The current password is missing.",
	    "The current password must be 1 to " STR(REQ_PASSWORD_MAX)
	    " bytes long." },
	[F_QUESTIONS] = { "questions", parse_questions,
	    "The security questions are missing.",
	    "The security questions must be a list of 1 to "
	    STR(REQ_ANSWERS_MAX) " entries, each with only a question of 1 to "
	    STR(REQ_QUESTION_MAX) " bytes without control characters and an "
	    "answer of 1 to " STR(REQ_ANSWER_MAX) " bytes." },
	[F_MOBILE] = { "mobile", parse_mobile,
	    "The mobile number is missing.",
	    "The mobile number must be up to " STR(REQ_MOBILE_MAX)
	    " characters: a + or a digit, then digits, spaces and hyphens, "
	    "with at least " STR(MOBILE_DIGITS_MIN) " digits." },
	[F_EMAIL] = { "email", parse_email,
	    "The email address is missing.",
	    "The email address is not valid." },
	[F_TOTP] = { "totp", parse_totp,
	    "The authenticator app field is missing.",
	    "The authenticator app field must be true." },
	[F_RECONFIRM] = { "reconfirm", parse_reconfirm,
	    "The reconfirm field is missing.",
	    "The reconfirm field must be true." },
	[F_LANG] = { "lang", parse_lang,
	    "The language is missing.",
	    "The language must be a language tag such as en or tr-TR." },
};

/*
 * "client" and "lang" are accepted on every op (request.h): a front end
 * that passes the caller's address and language along should not have to
 * know which ops look at them.
 */
static const struct op_spec {
	const char *name;
	unsigned allowed;
	unsigned required;
} ops[] = {
	[OP_START] = { "start",
	    BIT(F_USER) | BIT(F_METHOD) | BIT(F_TICKET) | BIT(F_CLIENT),
	    BIT(F_USER) | BIT(F_METHOD) },
	[OP_VERIFY] = { "verify",
	    BIT(F_TICKET) | BIT(F_CODE) | BIT(F_ANSWERS) | BIT(F_CLIENT),
	    BIT(F_TICKET) },
	[OP_RESET] = { "reset",
	    BIT(F_TICKET) | BIT(F_NEW_PASSWORD) | BIT(F_CODE) |
	    BIT(F_ANSWERS) | BIT(F_CLIENT),
	    BIT(F_TICKET) | BIT(F_NEW_PASSWORD) },
	[OP_UNLOCK] = { "unlock",
	    BIT(F_TICKET) | BIT(F_CODE) | BIT(F_ANSWERS) | BIT(F_CLIENT),
	    BIT(F_TICKET) },
	[OP_CHANGE] = { "change",
	    BIT(F_USER) | BIT(F_OLD_PASSWORD) | BIT(F_NEW_PASSWORD) |
	    BIT(F_CLIENT),
	    BIT(F_USER) | BIT(F_OLD_PASSWORD) | BIT(F_NEW_PASSWORD) },
	[OP_REGISTER] = { "register",
	    BIT(F_USER) | BIT(F_PASSWORD) | BIT(F_QUESTIONS) | BIT(F_MOBILE) |
	    BIT(F_EMAIL) | BIT(F_TOTP) | BIT(F_RECONFIRM) | BIT(F_CLIENT),
	    BIT(F_USER) | BIT(F_PASSWORD) },
	[OP_POLICY] = { "policy",
	    BIT(F_USER) | BIT(F_TICKET) | BIT(F_CLIENT),
	    0 },
	[OP_CONFIRM] = { "confirm",
	    BIT(F_TICKET) | BIT(F_CODE) | BIT(F_CLIENT),
	    BIT(F_TICKET) | BIT(F_CODE) },
	[OP_STATUS] = { "status",
	    BIT(F_USER) | BIT(F_PASSWORD) | BIT(F_CLIENT),
	    BIT(F_USER) | BIT(F_PASSWORD) },
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct {
	const char *name;
	enum method method;
} methods[] = {
	{ "email", METHOD_EMAIL },
	{ "sms", METHOD_SMS },
	{ "questions", METHOD_QUESTIONS },
	{ "totp", METHOD_TOTP },
};

/*
 * jansson's allocator: plain malloc, but free wipes the whole block first.
 * The request text passes through jansson's token buffers and every parsed
 * string is a jansson allocation, so without this a password would outlive
 * the request in freed heap. The block is plain malloc memory, so what
 * json_dumps() returns can still be released with free().
 */
static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void
request_init(void)
{
	/* Idempotent; sodium_malloc() needs it and the daemon may not have
	 * called it yet when the first request arrives. */
	if (sodium_init() < 0)
		fatalx("request: libsodium cannot be initialised");
	json_set_alloc_funcs(malloc, wiping_free);
}

const char *
request_op_name(enum op op)
{
	if ((size_t)op >= NOPS)
		return "unknown";
	return ops[op].name;
}

/* The string's bytes and length, or NULL when v is not a string. */
static const char *
string_of(json_t *v, size_t *len)
{
	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

static void
secret_set(struct secret *sec, const char *s, size_t len)
{
	/* Out of locked memory is not a state to limp on (see xalloc.h). */
	sec->s = secret_dup(s, len);
	sec->len = len;
}

static void
secret_clear(struct secret *sec)
{
	secret_free(sec->s);	/* wipes; NULL is fine */
	sec->s = NULL;
	sec->len = 0;
}

/* A secret: 1..max bytes of UTF-8 without NUL, otherwise exactly as sent. */
static bool
take_secret(json_t *v, size_t max, struct secret *sec)
{
	const char *s;
	size_t len;

	if ((s = string_of(v, &len)) == NULL || len == 0 || len > max)
		return false;
	/* jansson already refuses both; this keeps the promise if a flag
	 * passed to it ever changes. */
	if (utf8_chars(s, len) < 0)
		return false;
	secret_set(sec, s, len);
	return true;
}

static bool
parse_user(json_t *v, struct request *req)
{
	const char *s;
	size_t len;

	if ((s = string_of(v, &len)) == NULL || len == 0 ||
	    len > REQ_USER_MAX || !utf8_plain_text(s, len))
		return false;
	req->user = xstrdup(s);
	return true;
}

static bool
parse_method(json_t *v, struct request *req)
{
	const char *s;
	size_t len;

	if ((s = string_of(v, &len)) == NULL)
		return false;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(s, methods[i].name) == 0) {
			req->method = methods[i].method;
			return true;
		}
	}
	return false;
}

static bool
parse_ticket(json_t *v, struct request *req)
{
	const char *s;
	size_t len;

	/* Lowercase only: one ticket, one spelling, one store key. */
	if ((s = string_of(v, &len)) == NULL || len != REQ_TICKET_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	memcpy(req->ticket, s, len + 1);
	return true;
}

/*
 * Kept in its canonical spelling, and counted under its group: respelling
 * an address ("2001:db8:0::1", "::ffff:192.0.2.1") or moving within one's
 * IPv6 /64 must not make a client new to the throttle.
 */
static bool
parse_client(json_t *v, struct request *req)
{
	char addr[NETADDR_MAX], key[NETADDR_GROUP_MAX];
	const char *s;
	size_t len;

	if ((s = string_of(v, &len)) == NULL || len == 0 ||
	    len > REQ_CLIENT_MAX)
		return false;
	if (netaddr_canonical(s, addr, sizeof(addr)) != 0)
		return false;
	netaddr_group(addr, key, sizeof(key));
	req->client = xstrdup(addr);
	req->client_key = xstrdup(key);
	return true;
}

static bool
parse_code(json_t *v, struct request *req)
{
	const char *s;
	size_t len;

	if ((s = string_of(v, &len)) == NULL || len == 0 || len > REQ_CODE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	secret_set(&req->code, s, len);
	return true;
}

static bool
parse_answers(json_t *v, struct request *req)
{
	size_t n;

	if (!json_is_array(v))
		return false;
	n = json_array_size(v);
	if (n == 0 || n > REQ_ANSWERS_MAX)
		return false;
	/* Counted before filled: request_free() copes with the empty rest. */
	req->answers = xcalloc(n, sizeof(*req->answers));
	req->nanswers = n;
	for (size_t i = 0; i < n; i++)
		if (!take_secret(json_array_get(v, i), REQ_ANSWER_MAX,
		    &req->answers[i]))
			return false;
	return true;
}

static bool
parse_old_password(json_t *v, struct request *req)
{
	return take_secret(v, REQ_PASSWORD_MAX, &req->old_password);
}

static bool
parse_new_password(json_t *v, struct request *req)
{
	return take_secret(v, REQ_PASSWORD_MAX, &req->new_password);
}

static bool
parse_password(json_t *v, struct request *req)
{
	return take_secret(v, REQ_PASSWORD_MAX, &req->password);
}

static bool
parse_qa(json_t *o, struct qa *qa)
{
	const char *s;
	size_t len;

	/* Exactly two members, both known: nothing rides along unchecked. */
	if (!json_is_object(o) || json_object_size(o) != 2)
		return false;
	if ((s = string_of(json_object_get(o, "question"), &len)) == NULL ||
	    len == 0 || len > REQ_QUESTION_MAX || !utf8_plain_text(s, len))
		return false;
	qa->question = xstrdup(s);
	return take_secret(json_object_get(o, "answer"), REQ_ANSWER_MAX,
	    &qa->answer);
}

static bool
parse_questions(json_t *v, struct request *req)
{
	size_t n;

	if (!json_is_array(v))
		return false;
	n = json_array_size(v);
	if (n == 0 || n > REQ_ANSWERS_MAX)
		return false;
	req->questions = xcalloc(n, sizeof(*req->questions));
	req->nquestions = n;
	for (size_t i = 0; i < n; i++)
		if (!parse_qa(json_array_get(v, i), &req->questions[i]))
			return false;
	return true;
}

static bool
parse_mobile(json_t *v, struct request *req)
{
	const char *s;
	size_t len, i = 0, digits = 0;

	if ((s = string_of(v, &len)) == NULL || len == 0 ||
	    len > REQ_MOBILE_MAX)
		return false;
	/* The number becomes the [sms] command's last argument: one that
	 * starts with '-' could be read as an option ("--123456"). */
	if (s[0] == '+')
		i++;
	else if (s[0] < '0' || s[0] > '9')
		return false;
	for (; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] != ' ' && s[i] != '-')
			return false;
	}
	if (digits < MOBILE_DIGITS_MIN)
		return false;
	req->mobile = xstrdup(s);
	return true;
}

/* register: "totp": true asks for an authenticator app; only true. */
static bool
parse_totp(json_t *v, struct request *req)
{
	if (!json_is_true(v))
		return false;
	req->totp = true;
	return true;
}

/*
 * "lang": a language tag (RFC 5646 in its common shapes: a primary subtag
 * of 2 to 8 letters, then subtags of 1 to 8 letters or digits, joined by
 * hyphens). Only the primary subtag is kept, and only when it is 2 or 3
 * letters (a language): the messages are chosen by it.
 */
static bool
parse_lang(json_t *v, struct request *req)
{
	const char *s;
	size_t len, run = 0, primary = 0;

	if ((s = string_of(v, &len)) == NULL || len == 0 || len > REQ_LANG_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '-' || c == '\0') {
			if (run == 0 || run > 8)
				return false;
			if (primary == 0)
				primary = run;
			run = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (primary > 0 && c >= '0' && c <= '9')) {
			run++;
		} else {
			return false;
		}
	}
	if (primary >= 2 && primary <= 3)
		for (size_t i = 0; i < primary; i++)
			req->lang[i] = (char)(s[i] | 0x20);	/* letters */
	return true;
}

/* register: "reconfirm": true says what is registered is still right. */
static bool
parse_reconfirm(json_t *v, struct request *req)
{
	if (!json_is_true(v))
		return false;
	req->reconfirm = true;
	return true;
}

static bool
parse_email(json_t *v, struct request *req)
{
	const char *s, *at = NULL;
	size_t len;

	if ((s = string_of(v, &len)) == NULL || len == 0 ||
	    len > REQ_EMAIL_MAX || !utf8_plain_text(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		/*
		 * The address goes into a mail header as is. Beyond the
		 * header separators, quotes, comments, escapes, group colons
		 * and domain literals are refused too: legal, but rare enough
		 * that supporting them is not worth a way to smuggle syntax.
		 * Non-ASCII stays allowed (SMTPUTF8 addresses exist).
		 */
		switch (s[i]) {
		case ' ':
		case '<':
		case '>':
		case ',':
		case ';':
		case ':':
		case '"':
		case '(':
		case ')':
		case '[':
		case ']':
		case '\\':
			return false;
		case '@':
			if (at != NULL)
				return false;
			at = s + i;
			break;
		}
	}
	/* utf8_plain_text() refused tabs, newlines and the other controls. */
	if (at == NULL || at == s || at == s + len - 1)
		return false;
	req->email = xstrdup(s);
	return true;
}

static int
find_op(const char *name, enum op *op)
{
	for (size_t i = 0; i < NOPS; i++) {
		if (strcmp(name, ops[i].name) == 0) {
			*op = (enum op)i;
			return 0;
		}
	}
	return -1;
}

static int
find_field(const char *name)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(name, fields[f].name) == 0)
			return f;
	return -1;
}

/* Everything after json_loadb(): root is the parsed tree, never NULL. */
static const char *
parse_root(json_t *root, struct request *req)
{
	const struct op_spec *spec;
	const char *key;
	json_t *v, *value;
	unsigned allowed;
	int f;

	if (!json_is_object(root))
		return msg_object;

	v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return msg_version;

	v = json_object_get(root, "op");
	if (v == NULL)
		return msg_no_op;
	if (!json_is_string(v) || find_op(json_string_value(v), &req->op) != 0)
		return msg_bad_op;
	spec = &ops[req->op];
	allowed = spec->allowed | BIT(F_LANG);	/* every op */

	/* Unknown names first, before any value is looked at or copied. */
	json_object_foreach(root, key, value) {
		if (strcmp(key, "v") == 0 || strcmp(key, "op") == 0)
			continue;
		if ((f = find_field(key)) < 0 || !(allowed & BIT(f)))
			return msg_unknown;
	}

	for (f = 0; f < F_COUNT; f++) {
		if (!(allowed & BIT(f)))
			continue;
		if ((v = json_object_get(root, fields[f].name)) == NULL) {
			if (spec->required & BIT(f))
				return fields[f].missing;
			continue;
		}
		if (!fields[f].parse(v, req))
			return fields[f].invalid;
	}

	switch (req->op) {
	case OP_VERIFY:
		if (req->code.s == NULL && req->answers == NULL)
			return msg_neither;
		/* FALLTHROUGH */
	case OP_RESET:
	case OP_UNLOCK:
		if (req->code.s != NULL && req->answers != NULL)
			return msg_both;
		break;
	case OP_REGISTER:
		if (req->questions == NULL && req->mobile == NULL &&
		    req->email == NULL && !req->totp && !req->reconfirm)
			return msg_register;
		break;
	default:
		break;
	}
	return NULL;
}

int
request_parse(const unsigned char *data, size_t len, struct request *req,
    const char **msg)
{
	json_error_t error;
	json_t *root;
	const char *problem;

	memset(req, 0, sizeof(*req));
	/*
	 * Duplicate keys are refused: two "user"s could be read differently
	 * by a front end and by us. NUL inside strings stays refused (no
	 * JSON_ALLOW_NUL): C strings would silently cut a password short.
	 * Only the error's code is used: its text may quote the input.
	 */
	root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    &error);
	if (root == NULL) {
		switch (json_error_code(&error)) {
		case json_error_duplicate_key:
			*msg = msg_duplicate;
			break;
		case json_error_stack_overflow:
			*msg = msg_deep;
			break;
		default:
			*msg = msg_json;
			break;
		}
		sodium_memzero(&error, sizeof(error));
		return -1;
	}
	problem = parse_root(root, req);
	json_decref(root);
	if (problem != NULL) {
		request_free(req);
		*msg = problem;
		return -1;
	}
	return 0;
}

void
request_free(struct request *req)
{
	free(req->user);
	free(req->client);
	free(req->client_key);
	secret_clear(&req->code);
	for (size_t i = 0; i < req->nanswers; i++)
		secret_clear(&req->answers[i]);
	free(req->answers);
	secret_clear(&req->old_password);
	secret_clear(&req->new_password);
	secret_clear(&req->password);
	for (size_t i = 0; i < req->nquestions; i++) {
		free(req->questions[i].question);
		secret_clear(&req->questions[i].answer);
	}
	free(req->questions);
	free(req->mobile);
	free(req->email);
	sodium_memzero(req, sizeof(*req));
}

/* Building an answer fails only when memory does (or on a caller's bug). */
static void
set(json_t *o, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		fatalx("request: cannot build an answer (\"%s\")", key);
}

static json_t *
answer_new(const char *id, const char *status)
{
	json_t *a;

	if ((a = json_object()) == NULL)
		fatalx("request: out of memory");
	set(a, "v", json_integer(1));
	set(a, "id", id != NULL ? json_string(id) : json_null());
	set(a, "status", json_string(status));
	return a;
}

json_t *
request_answer_ok(const char *id)
{
	return answer_new(id, "ok");
}

json_t *
request_answer_error(const char *id, const char *reason, const char *message,
    const char *const *violations)
{
	json_t *a, *list;

	a = answer_new(id, "error");
	set(a, "reason", json_string(reason));
	set(a, "message", json_string(message));
	if (violations != NULL && violations[0] != NULL) {
		if ((list = json_array()) == NULL)
			fatalx("request: out of memory");
		for (size_t i = 0; violations[i] != NULL; i++) {
			json_t *s = json_string(violations[i]);

			if (s == NULL || json_array_append_new(list, s) != 0)
				fatalx("request: cannot build an answer "
				    "(\"violations\")");
		}
		set(a, "violations", list);
	}
	return a;
}

char *
request_answer_dump(json_t *a)
{
	char *text;

	/* UTF-8 as is (no JSON_ENSURE_ASCII): the spool speaks UTF-8. */
	if (a == NULL || (text = json_dumps(a, JSON_COMPACT)) == NULL)
		fatalx("request: cannot write an answer");
	json_decref(a);
	return text;
}
