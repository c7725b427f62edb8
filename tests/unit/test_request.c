/*
 * test_request.c - the request parser refuses everything it should, keeps
 * what it accepts byte for byte, and answers have exactly the expected text.
 *
 * Refusals are checked by a word of their message, so a case that is
 * refused for the wrong reason (say, "not valid JSON" where a limit was
 * meant) fails instead of passing by accident. After every refusal the
 * request must be all zeros: nothing allocated may survive an error.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/request.h"

#define TICKET "0123456789abcdef0123456789abcdef"

static const char *last_msg;

static int
parse_len(const char *json, size_t len, struct request *req)
{
	last_msg = NULL;
	return request_parse((const unsigned char *)json, len, req, &last_msg);
}

static int
parse(const char *json, struct request *req)
{
	return parse_len(json, strlen(json), req);
}

static void
assert_zeroed(const struct request *req)
{
	static const struct request zero;

	assert_memory_equal(req, &zero, sizeof(zero));
}

/* Refused, with a message that says why (want is a word of it). */
static void
refused_len(const char *json, size_t len, const char *want)
{
	struct request req;

	memset(&req, 0xa5, sizeof(req));	/* request_parse must clear it */
	if (parse_len(json, len, &req) != -1)
		fail_msg("accepted: %.200s", json);
	assert_non_null(last_msg);
	if (strstr(last_msg, want) == NULL)
		fail_msg("%.200s: message \"%s\" lacks \"%s\"", json, last_msg,
		    want);
	assert_zeroed(&req);
}

static void
refused(const char *json, const char *want)
{
	refused_len(json, strlen(json), want);
}

static void
accepted(const char *json)
{
	struct request req;

	if (parse(json, &req) != 0)
		fail_msg("refused (%s): %.200s", last_msg, json);
	request_free(&req);
	assert_zeroed(&req);
}

/* n copies of s, in a new string. */
static char *
rep(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *r = xmalloc(len * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(r + i * len, s, len);
	r[len * n] = '\0';
	return r;
}

/*
 * Locked memory: a slot of common/secret.c, or a sodium_malloc() block of
 * its own. sodium_malloc() places the block against the guard page that
 * follows it, so its end is page aligned; a malloc() block's end almost
 * never is. This leans on libsodium's layout, but that layout is the whole
 * point of guard pages and has not changed since they were introduced.
 */
static void
assert_sodium(const struct secret *sec)
{
	uintptr_t end = (uintptr_t)(sec->s + sec->len + 1);

	if (secret_is_slot(sec->s))
		return;
	assert_int_equal(end % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
}

static void
assert_secret(const struct secret *sec, const char *want)
{
	assert_non_null(sec->s);
	assert_int_equal(sec->len, strlen(want));
	assert_memory_equal(sec->s, want, sec->len + 1);
	assert_sodium(sec);
}

static void
assert_no_secret(const struct secret *sec)
{
	assert_null(sec->s);
	assert_int_equal(sec->len, 0);
}

/* The members no op below sets, checked in one place. */
static void
assert_unset(const struct request *req, const char *which)
{
	for (const char *w = which; *w != '\0'; w++) {
		switch (*w) {
		case 'u': assert_null(req->user); break;
		case 'm': assert_int_equal(req->method, 0); break;
		case 't': assert_string_equal(req->ticket, ""); break;
		case 'c':
			assert_null(req->client);
			assert_null(req->client_key);
			break;
		case 'C': assert_no_secret(&req->code); break;
		case 'A':
			assert_null(req->answers);
			assert_int_equal(req->nanswers, 0);
			break;
		case 'o': assert_no_secret(&req->old_password); break;
		case 'n': assert_no_secret(&req->new_password); break;
		case 'p': assert_no_secret(&req->password); break;
		case 'q':
			assert_null(req->questions);
			assert_int_equal(req->nquestions, 0);
			break;
		case 'M': assert_null(req->mobile); break;
		case 'e': assert_null(req->email); break;
		default: fail_msg("assert_unset: bad letter %c", *w);
		}
	}
}

static int
setup(void **state)
{
	request_init();
	return 0;
}

/* --- every op with all its fields --- */

static void
test_start(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"start\",\"user\":\"alice\","
	    "\"method\":\"sms\",\"ticket\":\"" TICKET "\","
	    "\"client\":\"192.0.2.1\"}", &req), 0);
	assert_int_equal(req.op, OP_START);
	assert_string_equal(req.user, "alice");
	assert_int_equal(req.method, METHOD_SMS);
	assert_string_equal(req.ticket, TICKET);
	assert_string_equal(req.client, "192.0.2.1");
	assert_string_equal(req.client_key, "192.0.2.1");
	assert_unset(&req, "CAonpqMe");
	request_free(&req);
	assert_zeroed(&req);

	assert_int_equal(parse("{\"op\":\"start\",\"method\":\"email\","
	    "\"user\":\"bob\",\"v\":1}", &req), 0);
	assert_int_equal(req.op, OP_START);
	assert_string_equal(req.user, "bob");
	assert_int_equal(req.method, METHOD_EMAIL);
	assert_unset(&req, "tcCAonpqMe");
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"start\",\"user\":\"bob\","
	    "\"method\":\"questions\"}", &req), 0);
	assert_int_equal(req.method, METHOD_QUESTIONS);
	request_free(&req);
}

static void
test_verify(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"verify\",\"ticket\":\""
	    TICKET "\",\"code\":\"012345\"}", &req), 0);
	assert_int_equal(req.op, OP_VERIFY);
	assert_string_equal(req.ticket, TICKET);
	assert_secret(&req.code, "012345");
	assert_unset(&req, "umcAonpqMe");
	request_free(&req);
	assert_zeroed(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"verify\",\"ticket\":\""
	    TICKET "\",\"answers\":[\"Fluffy\",\" two words \",\"x\"],"
	    "\"client\":\"2001:db8::1\"}", &req), 0);
	assert_int_equal(req.op, OP_VERIFY);
	assert_string_equal(req.ticket, TICKET);
	assert_string_equal(req.client, "2001:db8::1");
	assert_string_equal(req.client_key, "2001:db8::/64");
	assert_int_equal(req.nanswers, 3);
	assert_secret(&req.answers[0], "Fluffy");
	assert_secret(&req.answers[1], " two words ");
	assert_secret(&req.answers[2], "x");
	assert_unset(&req, "umConpqMe");
	request_free(&req);
	assert_zeroed(&req);
}

static void
test_reset(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"reset\",\"ticket\":\""
	    TICKET "\",\"new_password\":\"N3w pass!\",\"code\":\"999\","
	    "\"client\":\"10.0.0.1\"}", &req), 0);
	assert_int_equal(req.op, OP_RESET);
	assert_string_equal(req.ticket, TICKET);
	assert_secret(&req.new_password, "N3w pass!");
	assert_secret(&req.code, "999");
	assert_string_equal(req.client, "10.0.0.1");
	assert_unset(&req, "umAopqMe");
	request_free(&req);
	assert_zeroed(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"reset\",\"ticket\":\""
	    TICKET "\",\"new_password\":\"pw\",\"answers\":[\"a\"]}", &req), 0);
	assert_int_equal(req.nanswers, 1);
	assert_secret(&req.answers[0], "a");
	assert_secret(&req.new_password, "pw");
	assert_unset(&req, "umcCopqMe");
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"reset\",\"ticket\":\""
	    TICKET "\",\"new_password\":\"pw\"}", &req), 0);
	assert_unset(&req, "umcCAopqMe");
	request_free(&req);
}

static void
test_unlock(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"unlock\",\"ticket\":\""
	    TICKET "\"}", &req), 0);
	assert_int_equal(req.op, OP_UNLOCK);
	assert_string_equal(req.ticket, TICKET);
	assert_unset(&req, "umcCAonpqMe");
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"unlock\",\"ticket\":\""
	    TICKET "\",\"code\":\"123456789012\"}", &req), 0);
	assert_secret(&req.code, "123456789012");
	assert_unset(&req, "umcAonpqMe");
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"unlock\",\"ticket\":\""
	    TICKET "\",\"answers\":[\"a\",\"b\"],\"client\":\"::1\"}", &req),
	    0);
	assert_int_equal(req.nanswers, 2);
	assert_secret(&req.answers[1], "b");
	assert_string_equal(req.client, "::1");
	assert_unset(&req, "umConpqMe");
	request_free(&req);
}

static void
test_change(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"change\",\"user\":"
	    "\"DOMAIN\\\\carol\",\"old_password\":\"old\","
	    "\"new_password\":\"new\",\"client\":\"203.0.113.9\"}", &req), 0);
	assert_int_equal(req.op, OP_CHANGE);
	assert_string_equal(req.user, "DOMAIN\\carol");
	assert_secret(&req.old_password, "old");
	assert_secret(&req.new_password, "new");
	assert_string_equal(req.client, "203.0.113.9");
	assert_unset(&req, "mtCApqMe");
	request_free(&req);
	assert_zeroed(&req);
}

static void
test_register(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"dave\","
	    "\"password\":\"cur\",\"questions\":["
	    "{\"question\":\"First pet?\",\"answer\":\"Rex\"},"
	    "{\"answer\":\"Ankara\",\"question\":\"Birth city?\"}],"
	    "\"mobile\":\"+90 532 123-45-67\",\"email\":\"dave@example.com\","
	    "\"client\":\"198.51.100.7\"}", &req), 0);
	assert_int_equal(req.op, OP_REGISTER);
	assert_string_equal(req.user, "dave");
	assert_secret(&req.password, "cur");
	assert_int_equal(req.nquestions, 2);
	assert_string_equal(req.questions[0].question, "First pet?");
	assert_secret(&req.questions[0].answer, "Rex");
	assert_string_equal(req.questions[1].question, "Birth city?");
	assert_secret(&req.questions[1].answer, "Ankara");
	assert_string_equal(req.mobile, "+90 532 123-45-67");
	assert_string_equal(req.email, "dave@example.com");
	assert_string_equal(req.client, "198.51.100.7");
	assert_unset(&req, "mtCAon");
	request_free(&req);
	assert_zeroed(&req);

	/* Any one of the three is enough. */
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"d\","
	    "\"password\":\"p\",\"mobile\":\"123456\"}", &req), 0);
	assert_string_equal(req.mobile, "123456");
	assert_unset(&req, "mtcCAonqe");
	request_free(&req);
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"d\","
	    "\"password\":\"p\",\"email\":\"a@b\"}", &req), 0);
	assert_string_equal(req.email, "a@b");
	assert_unset(&req, "mtcCAonqM");
	request_free(&req);
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"d\","
	    "\"password\":\"p\",\"questions\":[{\"question\":\"q\","
	    "\"answer\":\"a\"}]}", &req), 0);
	assert_int_equal(req.nquestions, 1);
	assert_unset(&req, "mtcCAonMe");
	request_free(&req);
}

/* register "reconfirm": true alone; status: user and password. */
static void
test_reconfirm_status(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"d\","
	    "\"password\":\"p\",\"reconfirm\":true}", &req), 0);
	assert_true(req.reconfirm);
	assert_false(req.totp);
	assert_unset(&req, "mtcCAonqMe");
	request_free(&req);
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"d\","
	    "\"password\":\"p\",\"reconfirm\":false}",
	    "The reconfirm field must be true.");
	refused("{\"v\":1,\"op\":\"status\",\"user\":\"d\","
	    "\"password\":\"p\",\"reconfirm\":true}",
	    "does not accept");

	assert_int_equal(parse("{\"v\":1,\"op\":\"status\",\"user\":\"d\","
	    "\"password\":\"p\",\"client\":\"192.0.2.1\"}", &req), 0);
	assert_int_equal(req.op, OP_STATUS);
	assert_string_equal(req.user, "d");
	assert_secret(&req.password, "p");
	assert_string_equal(request_op_name(OP_STATUS), "status");
	assert_unset(&req, "mtCAonqMe");
	request_free(&req);
	refused("{\"v\":1,\"op\":\"status\",\"user\":\"d\"}",
	    "current password is missing");
	refused("{\"v\":1,\"op\":\"status\",\"password\":\"p\"}",
	    "user name is missing");
}

/* "lang" on any op: the primary subtag, in lower case, when it names a
 * language; a malformed tag is refused. */
static void
test_lang(void **state)
{
	static const struct {
		const char *tag;
		const char *want;
	} ok[] = {
		{ "tr-TR", "tr" }, { "EN", "en" }, { "de-1996", "de" },
		{ "zh-Hant-TW", "zh" }, { "ast", "ast" }, { "x-klingon", "" },
		{ "abcdefgh", "" },
	};
	static const char *const bad[] = {
		"tr_TR", "1tr", "tr-", "-tr", "tr--TR", "tr TR", "abcdefghi",
		"tr-abcdefghi", "t\u00fcrk",
	};
	struct request req;
	char json[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(json, sizeof(json), "{\"v\":1,\"op\":\"policy\","
		    "\"lang\":\"%s\"}", ok[i].tag);
		assert_int_equal(parse(json, &req), 0);
		assert_string_equal(req.lang, ok[i].want);
		request_free(&req);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"v\":1,\"op\":\"start\","
		    "\"user\":\"u\",\"method\":\"email\",\"lang\":\"%s\"}",
		    bad[i]);
		refused(json, "The language must be a language tag");
	}
	refused("{\"v\":1,\"op\":\"policy\",\"lang\":\"\"}",
	    "The language must be a language tag");
	refused("{\"v\":1,\"op\":\"policy\",\"lang\":5}",
	    "The language must be a language tag");
	refused("{\"v\":1,\"op\":\"policy\",\"lang\":"
	    "\"en-aaaaaaaa-bbbbbbbb-cccccccc-dddddd\"}",	/* 36 */
	    "The language must be a language tag");
	/* every op takes it */
	assert_int_equal(parse("{\"v\":1,\"op\":\"confirm\",\"ticket\":\""
	    TICKET "\",\"code\":\"1\",\"lang\":\"tr\"}", &req), 0);
	assert_string_equal(req.lang, "tr");
	request_free(&req);
	assert_int_equal(parse("{\"v\":1,\"op\":\"change\",\"user\":\"u\","
	    "\"old_password\":\"o\",\"new_password\":\"n\",\"lang\":\"tr\"}",
	    &req), 0);
	request_free(&req);
}

static void
test_policy(void **state)
{
	struct request req;

	assert_int_equal(parse("{\"v\":1,\"op\":\"policy\"}", &req), 0);
	assert_int_equal(req.op, OP_POLICY);
	assert_unset(&req, "umtcCAonpqMe");
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"policy\",\"user\":\"eve\","
	    "\"client\":\"::ffff:192.0.2.1\"}", &req), 0);
	assert_int_equal(req.op, OP_POLICY);
	assert_string_equal(req.user, "eve");
	assert_string_equal(req.client, "192.0.2.1");	/* canonical */
	assert_string_equal(req.client_key, "192.0.2.1");
	assert_unset(&req, "mtCAonpqMe");
	request_free(&req);
}

static void
test_op_names(void **state)
{
	assert_string_equal(request_op_name(OP_START), "start");
	assert_string_equal(request_op_name(OP_VERIFY), "verify");
	assert_string_equal(request_op_name(OP_RESET), "reset");
	assert_string_equal(request_op_name(OP_UNLOCK), "unlock");
	assert_string_equal(request_op_name(OP_CHANGE), "change");
	assert_string_equal(request_op_name(OP_REGISTER), "register");
	assert_string_equal(request_op_name(OP_POLICY), "policy");
	assert_string_equal(request_op_name((enum op)99), "unknown");
}

/* --- refusals --- */

static const struct {
	const char *json;
	const char *want;
} missing[] = {
	{ "{\"op\":\"policy\"}", "\"v\": 1" },
	{ "{\"v\":1}", "does not name an operation" },
	{ "{\"v\":1,\"op\":\"start\",\"method\":\"sms\"}", "user name is missing" },
	{ "{\"v\":1,\"op\":\"start\",\"user\":\"a\"}", "method is missing" },
	{ "{\"v\":1,\"op\":\"verify\",\"code\":\"1\"}", "ticket is missing" },
	{ "{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\"}",
	    "lacks a code or answers" },
	{ "{\"v\":1,\"op\":\"reset\",\"new_password\":\"p\"}",
	    "ticket is missing" },
	{ "{\"v\":1,\"op\":\"reset\",\"ticket\":\"" TICKET "\"}",
	    "new password is missing" },
	{ "{\"v\":1,\"op\":\"unlock\"}", "ticket is missing" },
	{ "{\"v\":1,\"op\":\"change\",\"old_password\":\"o\","
	    "\"new_password\":\"n\"}", "user name is missing" },
	{ "{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"new_password\":\"n\"}",
	    "current password is missing" },
	{ "{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":\"o\"}",
	    "new password is missing" },
	{ "{\"v\":1,\"op\":\"register\",\"password\":\"p\",\"email\":\"a@b\"}",
	    "user name is missing" },
	{ "{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"email\":\"a@b\"}",
	    "current password is missing" },
	{ "{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\"}",
	    "at least one" },
};

static void
test_missing(void **state)
{
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		refused(missing[i].json, missing[i].want);
}

/* Each field given each wrong JSON type. */
static void
test_wrong_types(void **state)
{
	static const struct {
		const char *prefix;	/* the request up to the field */
		const char *field;
		const char *want;
		bool array;		/* the right type is an array */
	} f[] = {
		{ "\"op\":\"start\",\"method\":\"sms\"", "user", "user name", false },
		{ "\"op\":\"start\",\"user\":\"u\"", "method", "method", false },
		{ "\"op\":\"unlock\"", "ticket", "ticket", false },
		{ "\"op\":\"policy\"", "client", "client address", false },
		{ "\"op\":\"verify\",\"ticket\":\"" TICKET "\"", "code",
		    "The code", false },
		{ "\"op\":\"verify\",\"ticket\":\"" TICKET "\"", "answers",
		    "The answers", true },
		{ "\"op\":\"change\",\"user\":\"u\",\"new_password\":\"n\"",
		    "old_password", "current password", false },
		{ "\"op\":\"change\",\"user\":\"u\",\"old_password\":\"o\"",
		    "new_password", "new password", false },
		{ "\"op\":\"register\",\"user\":\"u\",\"email\":\"a@b\"",
		    "password", "current password", false },
		{ "\"op\":\"register\",\"user\":\"u\",\"password\":\"p\"",
		    "questions", "security questions", true },
		{ "\"op\":\"register\",\"user\":\"u\",\"password\":\"p\"",
		    "mobile", "mobile number", false },
		{ "\"op\":\"register\",\"user\":\"u\",\"password\":\"p\"",
		    "email", "email address", false },
	};
	static const char *const values[] = {
		"null", "true", "false", "1", "123456", "1.5", "{}",
		"{\"a\":\"b\"}", "\"x\"", "[]", "[\"x\"]", "[1]",
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		for (size_t j = 0; j < sizeof(values) / sizeof(values[0]); j++) {
			char *json;

			/* A string may be right for a string field and a
			 * non-empty array of strings for an array one; those
			 * are tested elsewhere. */
			if (!f[i].array && strcmp(values[j], "\"x\"") == 0)
				continue;
			if (f[i].array && (strcmp(values[j], "[\"x\"]") == 0))
				continue;
			json = xasprintf("{\"v\":1,%s,\"%s\":%s}", f[i].prefix,
			    f[i].field, values[j]);
			refused(json, f[i].want);
			free(json);
		}
	}
	/* "x" is not a valid value of these string fields either. */
	refused("{\"v\":1,\"op\":\"start\",\"user\":\"u\",\"method\":\"x\"}",
	    "method");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":\"x\"}", "ticket");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"x\"}", "client");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"x\"}", "The code");
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\","
	    "\"mobile\":\"x\"}", "mobile");
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\","
	    "\"email\":\"x\"}", "email");
	/* Arrays of the wrong element type. */
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\","
	    "\"questions\":[\"x\"]}", "security questions");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"answers\":[\"a\",null]}", "The answers");
}

static void
test_version(void **state)
{
	refused("{\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":2,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":0,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":-1,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":\"1\",\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":1.0,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":true,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":null,\"op\":\"policy\"}", "\"v\": 1");
	refused("{\"v\":[1],\"op\":\"policy\"}", "\"v\": 1");
	accepted("{\"v\":1,\"op\":\"policy\"}");
}

static void
test_op(void **state)
{
	refused("{\"v\":1}", "does not name an operation");
	refused("{\"v\":1,\"op\":\"delete\"}", "does not know");
	refused("{\"v\":1,\"op\":\"START\"}", "does not know");
	refused("{\"v\":1,\"op\":\"\"}", "does not know");
	refused("{\"v\":1,\"op\":\"policy \"}", "does not know");
	refused("{\"v\":1,\"op\":1}", "does not know");
	refused("{\"v\":1,\"op\":null}", "does not know");
	refused("{\"v\":1,\"op\":[\"policy\"]}", "does not know");
}

static void
test_unknown_field(void **state)
{
	refused("{\"v\":1,\"op\":\"policy\",\"ZZZ\":1}", "does not accept");
	assert_null(strstr(last_msg, "ZZZ"));
	refused("{\"v\":1,\"op\":\"policy\",\"\":1}", "does not accept");
	refused("{\"v\":1,\"op\":\"policy\",\"User\":\"a\"}", "does not accept");
	/* Fields of another op. */
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"1\",\"user\":\"u\"}", "does not accept");
	refused("{\"v\":1,\"op\":\"start\",\"user\":\"u\",\"method\":\"sms\","
	    "\"new_password\":\"hunter2\"}", "does not accept");
	assert_null(strstr(last_msg, "hunter2"));
	refused("{\"v\":1,\"op\":\"policy\",\"email\":\"a@b\"}",
	    "does not accept");
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"o\",\"new_password\":\"n\",\"password\":\"p\"}",
	    "does not accept");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":\"" TICKET "\","
	    "\"new_password\":\"n\"}", "does not accept");
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\","
	    "\"email\":\"a@b\",\"method\":\"email\"}", "does not accept");
	/* Even a known field with a bad value loses to the unknown one. */
	refused("{\"v\":1,\"op\":\"policy\",\"user\":7,\"id\":1}",
	    "does not accept");
}

static void
test_code_or_answers(void **state)
{
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"1\",\"answers\":[\"a\"]}", "not both");
	refused("{\"v\":1,\"op\":\"reset\",\"ticket\":\"" TICKET "\","
	    "\"new_password\":\"n\",\"code\":\"1\",\"answers\":[\"a\"]}",
	    "not both");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"1\",\"answers\":[\"a\"]}", "not both");
}

static void
test_duplicate_keys(void **state)
{
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\",\"user\":\"b\"}",
	    "a field twice");
	refused("{\"v\":1,\"v\":1,\"op\":\"policy\"}", "a field twice");
	refused("{\"v\":1,\"op\":\"policy\",\"op\":\"start\"}",
	    "a field twice");
	refused("{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"p\","
	    "\"questions\":[{\"question\":\"q\",\"answer\":\"a\","
	    "\"answer\":\"b\"}]}", "a field twice");
}

static void
test_not_json(void **state)
{
	refused_len("", 0, "not valid JSON");
	refused(" \n\t", "not valid JSON");
	refused("{", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\"} x", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\"}{}", "not valid JSON");
	refused("{'v':1,'op':'policy'}", "not valid JSON");
	/* A NUL byte in the text, not in a string. */
	refused_len("{\"v\":1,\"op\":\"policy\"}\0", 23, "not valid JSON");
	refused("[{\"v\":1,\"op\":\"policy\"}]", "JSON object");
	refused("[]", "JSON object");
	/* Scalars at the top level: refused one way or another. */
	{
		struct request req;

		assert_int_equal(parse("\"policy\"", &req), -1);
		assert_zeroed(&req);
		assert_int_equal(parse("1", &req), -1);
		assert_zeroed(&req);
		assert_int_equal(parse("null", &req), -1);
		assert_zeroed(&req);
	}
}

static void
test_bad_utf8(void **state)
{
	/* Raw bytes that are not UTF-8, in a password, a user, a key. */
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"\xc3\x28\",\"new_password\":\"n\"}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\xc0\xaf\"}",
	    "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\xed\xa0\x80\"}",
	    "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\xf4\x90\x80\x80\"}",
	    "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\xff\"}",
	    "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"\xc3\x28\":1}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\xe2\x82\"}",
	    "not valid JSON");
}

static void
test_nul_and_surrogates(void **state)
{
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"abc\\u0000def\",\"new_password\":\"n\"}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"\\u0000\",\"new_password\":\"n\"}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\\u0000\"}",
	    "not valid JSON");
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"\\ud800\",\"new_password\":\"n\"}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"x\\udc00y\",\"new_password\":\"n\"}", "not valid JSON");
	refused("{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
	    "\"\\ud800\\u0041\",\"new_password\":\"n\"}", "not valid JSON");
}

/* Passwords come back exactly as sent: no trimming, no normalisation. */
static void
test_passwords_byte_exact(void **state)
{
	/* "Şifre İçin ğüı" and a grinning face, raw and escaped. */
	static const char turkish[] = "\xc5\x9e" "ifre \xc4\xb0\xc3\xa7in "
	    "\xc4\x9f\xc3\xbc\xc4\xb1";
	static const char emoji[] = "pw\xf0\x9f\x98\x80!";
	struct request req;
	char *json;

	json = xasprintf("{\"v\":1,\"op\":\"change\",\"user\":\"u\","
	    "\"old_password\":\"%s\",\"new_password\":\"%s\"}", turkish, emoji);
	assert_int_equal(parse(json, &req), 0);
	free(json);
	assert_secret(&req.old_password, turkish);
	assert_int_equal(req.old_password.len, 20);
	assert_secret(&req.new_password, emoji);
	assert_int_equal(req.new_password.len, 7);
	request_free(&req);

	assert_int_equal(parse("{\"v\":1,\"op\":\"change\",\"user\":\"u\","
	    "\"old_password\":\"\\u015eifre\","
	    "\"new_password\":\"pw\\ud83d\\ude00!\"}", &req), 0);
	assert_secret(&req.old_password, "\xc5\x9e" "ifre");
	assert_secret(&req.new_password, emoji);
	request_free(&req);

	/* Decomposed and composed forms stay distinct; spaces and controls
	 * stay where they are. */
	assert_int_equal(parse("{\"v\":1,\"op\":\"change\",\"user\":\"u\","
	    "\"old_password\":\"e\\u0301\",\"new_password\":\" \\t x \"}",
	    &req), 0);
	assert_secret(&req.old_password, "e\xcc\x81");
	assert_secret(&req.new_password, " \t x ");
	request_free(&req);
	assert_zeroed(&req);
}

/* --- limits, at and past each bound --- */

static void
test_user_limits(void **state)
{
	char *u, *json;

	u = rep("a", REQ_USER_MAX);
	json = xasprintf("{\"v\":1,\"op\":\"policy\",\"user\":\"%s\"}", u);
	accepted(json);
	free(json);
	json = xasprintf("{\"v\":1,\"op\":\"policy\",\"user\":\"%sb\"}", u);
	refused(json, "user name");
	free(json);
	free(u);

	/* Bytes, not characters: 128 two-byte letters fit, one more not. */
	u = rep("\xc3\xa9", REQ_USER_MAX / 2);
	json = xasprintf("{\"v\":1,\"op\":\"policy\",\"user\":\"%s\"}", u);
	accepted(json);
	free(json);
	json = xasprintf("{\"v\":1,\"op\":\"policy\",\"user\":\"%s\xc3\xa9\"}",
	    u);
	refused(json, "user name");
	free(json);
	free(u);

	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\"}", "user name");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\\nb\"}", "user name");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\\tb\"}", "user name");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"\\u001f\"}", "user name");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\\u007f\"}", "user name");
	refused("{\"v\":1,\"op\":\"policy\",\"user\":\"a\\u0085\"}", "user name");
	accepted("{\"v\":1,\"op\":\"policy\",\"user\":\"a b\\u00a0\\u0130\"}");
}

static void
test_password_limits(void **state)
{
	/* Each password field, as the text before and after its value. */
	static const struct {
		const char *before, *after, *want;
	} f[] = {
		{ "{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":\"",
		    "\",\"new_password\":\"n\"}", "current password" },
		{ "{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
		    "\"o\",\"new_password\":\"", "\"}", "new password" },
		{ "{\"v\":1,\"op\":\"reset\",\"ticket\":\"" TICKET "\","
		    "\"new_password\":\"", "\"}", "new password" },
		{ "{\"v\":1,\"op\":\"register\",\"user\":\"u\",\"password\":\"",
		    "\",\"email\":\"a@b\"}", "current password" },
	};
	char *max = rep("p", REQ_PASSWORD_MAX);
	char *over = rep("p", REQ_PASSWORD_MAX + 1);
	/* 1365 three-byte characters: 4095 bytes, one short of the limit. */
	char *wide = rep("\xe2\x82\xac", REQ_PASSWORD_MAX / 3);
	struct request req;
	char *json;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		json = xasprintf("%s%s%s", f[i].before, max, f[i].after);
		assert_int_equal(parse(json, &req), 0);
		assert_true(req.old_password.len == REQ_PASSWORD_MAX ||
		    req.new_password.len == REQ_PASSWORD_MAX ||
		    req.password.len == REQ_PASSWORD_MAX);
		request_free(&req);
		free(json);

		json = xasprintf("%s%s%s", f[i].before, over, f[i].after);
		refused(json, f[i].want);
		free(json);

		json = xasprintf("%s%s", f[i].before, f[i].after);
		refused(json, f[i].want);
		free(json);
	}

	/* Bytes, not characters. */
	json = xasprintf("%s%sx%s", f[1].before, wide, f[1].after);
	assert_int_equal(parse(json, &req), 0);
	assert_int_equal(req.new_password.len, REQ_PASSWORD_MAX);
	assert_sodium(&req.new_password);
	request_free(&req);
	free(json);
	json = xasprintf("%s%sxy%s", f[1].before, wide, f[1].after);
	refused(json, "new password");
	free(json);

	free(max);
	free(over);
	free(wide);
}

static char *
answers_json(size_t n, size_t len)
{
	char *one = rep("a", len);
	char *list = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s\"%s\"", list, i ? "," : "", one);

		free(list);
		list = next;
	}
	free(one);
	return list;
}

static void
test_answers_limits(void **state)
{
	struct request req;
	char *list, *json;

	list = answers_json(REQ_ANSWERS_MAX, REQ_ANSWER_MAX);
	json = xasprintf("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET
	    "\",\"answers\":[%s]}", list);
	assert_int_equal(parse(json, &req), 0);
	assert_int_equal(req.nanswers, REQ_ANSWERS_MAX);
	for (size_t i = 0; i < req.nanswers; i++) {
		assert_int_equal(req.answers[i].len, REQ_ANSWER_MAX);
		assert_sodium(&req.answers[i]);
	}
	request_free(&req);
	assert_zeroed(&req);
	free(json);
	free(list);

	list = answers_json(REQ_ANSWERS_MAX + 1, 1);
	json = xasprintf("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET
	    "\",\"answers\":[%s]}", list);
	refused(json, "The answers");
	free(json);
	free(list);

	/* The bad one last: the good ones before it must be freed. */
	list = answers_json(3, REQ_ANSWER_MAX);
	json = xasprintf("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET
	    "\",\"answers\":[%s,\"%s\"]}", list, "");
	refused(json, "The answers");
	free(json);
	free(list);
	list = answers_json(1, REQ_ANSWER_MAX + 1);
	json = xasprintf("{\"v\":1,\"op\":\"reset\",\"ticket\":\"" TICKET
	    "\",\"new_password\":\"n\",\"answers\":[\"ok\",%s]}", list);
	refused(json, "The answers");
	free(json);
	free(list);

	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"answers\":[]}", "The answers");
}

static void
test_code_limits(void **state)
{
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"1234567890123\"}", "The code");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"\"}", "The code");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"12a4\"}", "The code");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\" 1234\"}", "The code");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"-123\"}", "The code");
	/* Arabic-Indic digits are digits, but not ASCII ones. */
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"\\u0661\\u0662\"}", "The code");
	refused("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":123456}", "The code");
	accepted("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"123456789012\"}");
	accepted("{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
	    "\"code\":\"0\"}");
}

static void
test_ticket_limits(void **state)
{
	accepted("{\"v\":1,\"op\":\"unlock\",\"ticket\":"
	    "\"ffffffffffffffffffffffffffffffff\"}");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":"
	    "\"0123456789abcdef0123456789abcde\"}", "ticket");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":"
	    "\"0123456789abcdef0123456789abcdef0\"}", "ticket");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":"
	    "\"0123456789ABCDEF0123456789abcdef\"}", "ticket");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":"
	    "\"0123456789abcdeg0123456789abcdef\"}", "ticket");
	refused("{\"v\":1,\"op\":\"unlock\",\"ticket\":\"\"}", "ticket");
	refused("{\"v\":1,\"op\":\"start\",\"user\":\"u\",\"method\":\"sms\","
	    "\"ticket\":\"\"}", "ticket");
	refused("{\"v\":1,\"op\":\"start\",\"user\":\"u\",\"method\":\"sms\","
	    "\"ticket\":null}", "ticket");
}

static void
test_client_limits(void **state)
{
	accepted("{\"v\":1,\"op\":\"policy\",\"client\":\"0.0.0.0\"}");
	accepted("{\"v\":1,\"op\":\"policy\",\"client\":"
	    "\"2001:0db8:0000:0000:0000:ff00:0042:8329\"}");
	/* Longest IPv6 text (45) fits; anything past 64 is refused. */
	accepted("{\"v\":1,\"op\":\"policy\",\"client\":"
	    "\"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255\"}");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"\"}", "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"1.2.3\"}", "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"1.2.3.256\"}",
	    "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\" 1.2.3.4\"}", "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"example.com\"}",
	    "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"fe80::1%eth0\"}",
	    "client");
	refused("{\"v\":1,\"op\":\"policy\",\"client\":\"1.2.3.4/24\"}",
	    "client");
	{
		char *pad = rep("0", REQ_CLIENT_MAX);
		char *json = xasprintf("{\"v\":1,\"op\":\"policy\","
		    "\"client\":\"%s\"}", pad);

		refused(json, "client");
		free(json);
		free(pad);
	}
}

/* The client address is kept in one spelling, and counted under its
 * group: the same address sent another way, or another address of the
 * same IPv6 /64, must not be a new client to count. */
static void
client_is(const char *sent, const char *want, const char *want_key)
{
	struct request req;
	char *json = xasprintf("{\"v\":1,\"op\":\"policy\",\"client\":\"%s\"}",
	    sent);

	if (parse(json, &req) != 0)
		fail_msg("refused (%s): %s", last_msg, json);
	if (strcmp(req.client, want) != 0)
		fail_msg("%s: client \"%s\", want \"%s\"", sent, req.client,
		    want);
	if (strcmp(req.client_key, want_key) != 0)
		fail_msg("%s: client_key \"%s\", want \"%s\"", sent,
		    req.client_key, want_key);
	request_free(&req);
	assert_zeroed(&req);
	free(json);
}

static void
test_client_canonical(void **state)
{
	client_is("192.0.2.1", "192.0.2.1", "192.0.2.1");
	client_is("::ffff:192.0.2.1", "192.0.2.1", "192.0.2.1");
	client_is("::FFFF:c000:201", "192.0.2.1", "192.0.2.1");
	client_is("2001:db8::1", "2001:db8::1", "2001:db8::/64");
	client_is("2001:db8:0::1", "2001:db8::1", "2001:db8::/64");
	client_is("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1",
	    "2001:db8::/64");
	client_is("2001:db8::2", "2001:db8::2", "2001:db8::/64");
	client_is("2001:0db8:0000:0000:0000:ff00:0042:8329",
	    "2001:db8::ff00:42:8329", "2001:db8::/64");
	client_is("2001:db8:0:1::1", "2001:db8:0:1::1", "2001:db8:0:1::/64");
	client_is("::1", "::1", "::/64");
}

static char *
questions_json(size_t n, size_t qlen, size_t alen)
{
	char *q = rep("q", qlen), *a = rep("a", alen);
	char *list = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s{\"question\":\"%s\","
		    "\"answer\":\"%s\"}", list, i ? "," : "", q, a);

		free(list);
		list = next;
	}
	free(q);
	free(a);
	return list;
}

static void
register_questions(const char *list, bool ok)
{
	char *json = xasprintf("{\"v\":1,\"op\":\"register\",\"user\":\"u\","
	    "\"password\":\"p\",\"questions\":[%s]}", list);

	if (ok)
		accepted(json);
	else
		refused(json, "security questions");
	free(json);
}

static void
test_questions_limits(void **state)
{
	struct request req;
	char *list, *json;

	list = questions_json(REQ_ANSWERS_MAX, REQ_QUESTION_MAX,
	    REQ_ANSWER_MAX);
	json = xasprintf("{\"v\":1,\"op\":\"register\",\"user\":\"u\","
	    "\"password\":\"p\",\"questions\":[%s]}", list);
	assert_int_equal(parse(json, &req), 0);
	assert_int_equal(req.nquestions, REQ_ANSWERS_MAX);
	for (size_t i = 0; i < req.nquestions; i++) {
		assert_int_equal(strlen(req.questions[i].question),
		    REQ_QUESTION_MAX);
		assert_int_equal(req.questions[i].answer.len, REQ_ANSWER_MAX);
		assert_sodium(&req.questions[i].answer);
	}
	request_free(&req);
	assert_zeroed(&req);
	free(json);
	free(list);

	list = questions_json(REQ_ANSWERS_MAX + 1, 1, 1);
	register_questions(list, false);
	free(list);
	list = questions_json(1, REQ_QUESTION_MAX + 1, 1);
	register_questions(list, false);
	free(list);
	list = questions_json(2, 1, REQ_ANSWER_MAX + 1);
	register_questions(list, false);
	free(list);
	list = questions_json(1, 0, 1);
	register_questions(list, false);
	free(list);
	list = questions_json(1, 1, 0);
	register_questions(list, false);
	free(list);

	register_questions("", false);
	register_questions("{\"question\":\"q\"}", false);
	register_questions("{\"answer\":\"a\"}", false);
	register_questions("{}", false);
	register_questions("{\"question\":\"q\",\"answer\":\"a\",\"x\":1}",
	    false);
	register_questions("{\"question\":\"q\",\"x\":\"a\"}", false);
	register_questions("{\"question\":1,\"answer\":\"a\"}", false);
	register_questions("{\"question\":\"q\",\"answer\":[\"a\"]}", false);
	register_questions("{\"question\":\"a\\nb\",\"answer\":\"a\"}", false);
	register_questions("{\"question\":\"q\",\"answer\":\"a\"},[]", false);
	/* The answer is a secret: taken as typed, controls and all. */
	register_questions("{\"question\":\"Pet?\",\"answer\":\" R\\tx \"}",
	    true);
	register_questions("{\"question\":\"\\u00c7ocuk?\",\"answer\":\"\\u011f\"}",
	    true);
}

static void
register_mobile(const char *mobile, bool ok)
{
	char *json = xasprintf("{\"v\":1,\"op\":\"register\",\"user\":\"u\","
	    "\"password\":\"p\",\"mobile\":\"%s\"}", mobile);

	if (ok)
		accepted(json);
	else
		refused(json, "mobile number");
	free(json);
}

static void
test_mobile_limits(void **state)
{
	char *m;

	register_mobile("123456", true);
	register_mobile("+123456", true);
	register_mobile("+1 555-123-4567", true);
	register_mobile("12345", false);
	register_mobile("+12345", false);
	register_mobile("+1-2-3-4-5", false);
	register_mobile("", false);
	register_mobile("+", false);
	register_mobile("++123456", false);
	register_mobile("123+456789", false);
	register_mobile("(555) 1234567", false);
	register_mobile("555.123.4567", false);
	register_mobile("555123456x", false);
	register_mobile("\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666", false);
	register_mobile("123456\\n", false);
	/* A + or a digit first: the number becomes a command's argument,
	 * and "--123456" or "-123456" would be read as an option. */
	register_mobile("--123456", false);
	register_mobile("-123456", false);
	register_mobile("-1 555-123-4567", false);
	register_mobile(" 123456", false);
	register_mobile("1-23456", true);
	register_mobile("+1 23456", true);

	m = rep("1", REQ_MOBILE_MAX);
	register_mobile(m, true);
	free(m);
	m = rep("1", REQ_MOBILE_MAX + 1);
	register_mobile(m, false);
	free(m);
	m = rep(" ", REQ_MOBILE_MAX - 6);
	{
		char *full = xasprintf("123456%s", m);

		register_mobile(full, true);
		free(full);
		full = xasprintf("+123456%s", m);
		register_mobile(full, false);
		free(full);
	}
	free(m);
}

static void
register_email(const char *email, bool ok)
{
	char *json = xasprintf("{\"v\":1,\"op\":\"register\",\"user\":\"u\","
	    "\"password\":\"p\",\"email\":\"%s\"}", email);

	if (ok)
		accepted(json);
	else
		refused(json, "email address");
	free(json);
}

static void
test_email_limits(void **state)
{
	static const char *const bad[] = {
		"", "a", "@", "a@", "@b", "a@b@c", "a b@c", "a@b c", "a@b\\t",
		"a@b\\r\\nBcc: x@y", "a@b\\n", "<a@b>", "a<b@c", "a@b>", "a,b@c",
		"a@b;c", "\\\"a\\\"@b", "a(x)@b", "a\\\\b@c", "a@[1.2.3.4]",
		"g:a@b", "a@b\\u0085", "a@b\\u007f",
	};
	static const char *const good[] = {
		"a@b", "first.last+tag@example.co.uk", "\\u00e7@\\u00f6rnek.com",
		"o'brien@example.ie",
	};
	char *local, *e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		register_email(bad[i], false);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		register_email(good[i], true);

	local = rep("a", REQ_EMAIL_MAX - 2);
	e = xasprintf("%s@b", local);
	register_email(e, true);
	free(e);
	e = xasprintf("%sa@b", local);
	register_email(e, false);
	free(e);
	free(local);
}

/* --- hostile shapes --- */

static void
test_deep_nesting(void **state)
{
	const size_t size = 64 * 1024;
	char *buf = xmalloc(size + 1);
	struct request req;
	size_t i;

	memset(buf, '[', size);
	buf[size] = '\0';
	refused_len(buf, size, "nested too deeply");

	for (i = 0; i + 5 <= size; i += 5)
		memcpy(buf + i, "{\"a\":", 5);
	refused_len(buf, i, "nested too deeply");

	/* Deep but balanced, inside a field: refused either way, cleanly. */
	{
		char *open = rep("[", 20000), *close = rep("]", 20000);
		char *json = xasprintf("{\"v\":1,\"op\":\"policy\",\"user\":%s1%s}",
		    open, close);

		assert_int_equal(parse(json, &req), -1);
		assert_zeroed(&req);
		free(json);
		free(open);
		free(close);
	}
	free(buf);
}

/* --- freeing --- */

static void
test_request_free(void **state)
{
	struct request req;

	/* Zeroed: nothing to do, twice. */
	memset(&req, 0, sizeof(req));
	request_free(&req);
	assert_zeroed(&req);
	request_free(&req);
	assert_zeroed(&req);

	/* Everything set, then freed twice. */
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"user\":\"u\","
	    "\"password\":\"p\",\"questions\":[{\"question\":\"q\","
	    "\"answer\":\"a\"}],\"mobile\":\"123456\",\"email\":\"a@b\","
	    "\"client\":\"::1\"}", &req), 0);
	assert_sodium(&req.password);
	request_free(&req);
	assert_zeroed(&req);
	request_free(&req);
	assert_zeroed(&req);

	/* Partly filled by hand, as a caller might on its own error path. */
	req.user = xstrdup("u");
	req.answers = xcalloc(3, sizeof(*req.answers));
	req.nanswers = 3;
	req.answers[0].s = sodium_malloc(2);
	memcpy(req.answers[0].s, "x", 2);
	req.answers[0].len = 1;
	req.questions = xcalloc(2, sizeof(*req.questions));
	req.nquestions = 2;
	request_free(&req);
	assert_zeroed(&req);
}

static void
test_wiping_allocator(void **state)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	assert_true(m == malloc);
	assert_true(f != free);
	/* The installed free must accept NULL and real blocks. */
	f(NULL);
	f(malloc(100));
}

/* Error messages are static text: nothing from the request shows up. */
static void
test_messages_do_not_echo(void **state)
{
	static const char *const reqs[] = {
		"{\"v\":1,\"op\":\"change\",\"user\":\"u\",\"old_password\":"
		    "\"SECRETxyz\",\"new_password\":\"SECRETxyz\\u0000\"}",
		"{\"v\":1,\"op\":\"change\",\"user\":\"SECRETxyz\\n\","
		    "\"old_password\":\"o\",\"new_password\":\"n\"}",
		"{\"v\":1,\"op\":\"SECRETxyz\"}",
		"{\"v\":1,\"op\":\"verify\",\"ticket\":\"" TICKET "\","
		    "\"code\":\"SECRETxyz\"}",
		"{\"v\":1,\"op\":\"policy\",\"SECRETxyz\":1}",
		"SECRETxyz",
		"{\"v\":1,\"op\":\"policy\",\"user\":\"SECRETxyz\"",
	};

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct request req;

		assert_int_equal(parse(reqs[i], &req), -1);
		assert_non_null(last_msg);
		assert_null(strstr(last_msg, "SECRET"));
		assert_zeroed(&req);
	}
}

/* --- answers --- */

static void
assert_dump(json_t *a, const char *want)
{
	char *text = request_answer_dump(a);

	assert_string_equal(text, want);
	free(text);
}

static void
test_answer_ok(void **state)
{
	json_t *a;

	assert_dump(request_answer_ok("r1"), "{\"v\":1,\"id\":\"r1\",\"status\":\"ok\"}");
	/* No ID (a request too broken to have one): null, not a crash. */
	assert_dump(request_answer_ok(NULL), "{\"v\":1,\"id\":null,\"status\":\"ok\"}");

	a = request_answer_ok("abc-123_X");
	json_object_set_new(a, "ticket", json_string(TICKET));
	json_object_set_new(a, "expires_in", json_integer(900));
	assert_dump(a, "{\"v\":1,\"id\":\"abc-123_X\",\"status\":\"ok\","
	    "\"ticket\":\"" TICKET "\",\"expires_in\":900}");
}

static void
test_answer_error(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const two[] = { "too-short", "banned", NULL };

	assert_dump(request_answer_error("r2", "bad-request",
	    "The request is not valid JSON.", NULL),
	    "{\"v\":1,\"id\":\"r2\",\"status\":\"error\","
	    "\"reason\":\"bad-request\","
	    "\"message\":\"The request is not valid JSON.\"}");
	assert_dump(request_answer_error("r3", "throttled", "Try later.", none),
	    "{\"v\":1,\"id\":\"r3\",\"status\":\"error\","
	    "\"reason\":\"throttled\",\"message\":\"Try later.\"}");
	assert_dump(request_answer_error("r4", "password-policy",
	    "The new password does not meet the policy.", two),
	    "{\"v\":1,\"id\":\"r4\",\"status\":\"error\","
	    "\"reason\":\"password-policy\","
	    "\"message\":\"The new password does not meet the policy.\","
	    "\"violations\":[\"too-short\",\"banned\"]}");
	/* UTF-8 stays UTF-8; quotes and controls are escaped. */
	assert_dump(request_answer_error("r5", "internal",
	    "\xc5\x9e" "ifre \"x\"\n", NULL),
	    "{\"v\":1,\"id\":\"r5\",\"status\":\"error\","
	    "\"reason\":\"internal\","
	    "\"message\":\"\xc5\x9e" "ifre \\\"x\\\"\\n\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_unlock),
		cmocka_unit_test(test_change),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_reconfirm_status),
		cmocka_unit_test(test_lang),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_op),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_code_or_answers),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_nul_and_surrogates),
		cmocka_unit_test(test_passwords_byte_exact),
		cmocka_unit_test(test_user_limits),
		cmocka_unit_test(test_password_limits),
		cmocka_unit_test(test_answers_limits),
		cmocka_unit_test(test_code_limits),
		cmocka_unit_test(test_ticket_limits),
		cmocka_unit_test(test_client_limits),
		cmocka_unit_test(test_client_canonical),
		cmocka_unit_test(test_questions_limits),
		cmocka_unit_test(test_mobile_limits),
		cmocka_unit_test(test_email_limits),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_request_free),
		cmocka_unit_test(test_wiping_allocator),
		cmocka_unit_test(test_messages_do_not_echo),
		cmocka_unit_test(test_answer_ok),
		cmocka_unit_test(test_answer_error),
	};

	return cmocka_run_group_tests_name("request", tests, setup, NULL);
}
