/*
 * fuzz_request.c - libFuzzer target for request_parse() (daemon/request.c).
 *
 * Feeds arbitrary bytes to the parser as a queue file's contents. Beyond
 * "no crash, no leak, no out-of-bounds access" (ASan, UBSan, LSan), it
 * checks the promises request.h makes, aborting when one is broken:
 *
 *   - a refusal returns -1 with a message and leaves the request all zeros;
 *   - an accepted request respects the field limits of SPEC section 2;
 *   - request_free() leaves the request all zeros.
 *
 * Accepted requests also go through request_answer_ok()/request_answer_error() and
 * request_answer_dump(), the way the daemon answers them.
 *
 * Built by fuzz/run, not by automake.
 */
#include "build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "daemon/request.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_request: broken promise: %s "	\
		    "(%s:%d)\n", #cond, __FILE__, __LINE__);		\
		abort();						\
	}								\
} while (0)

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
check_secret(const struct secret *sec, size_t max)
{
	if (sec->s == NULL) {
		CHECK(sec->len == 0);
		return;
	}
	CHECK(sec->len >= 1 && sec->len <= max);
	CHECK(strlen(sec->s) == sec->len);
}

static void
check_text(const char *s, size_t max)
{
	if (s != NULL)
		CHECK(strlen(s) >= 1 && strlen(s) <= max);
}

static void
check_accepted(const struct request *req)
{
	size_t tlen = strlen(req->ticket);

	CHECK(strcmp(request_op_name(req->op), "unknown") != 0);
	check_text(req->user, REQ_USER_MAX);
	check_text(req->client, REQ_CLIENT_MAX);
	check_text(req->email, REQ_EMAIL_MAX);
	check_text(req->mobile, REQ_MOBILE_MAX);
	CHECK(tlen == 0 || tlen == REQ_TICKET_LEN);
	for (size_t i = 0; i < tlen; i++)
		CHECK((req->ticket[i] >= '0' && req->ticket[i] <= '9') ||
		    (req->ticket[i] >= 'a' && req->ticket[i] <= 'f'));
	check_secret(&req->code, REQ_CODE_MAX);
	for (size_t i = 0; req->code.s != NULL && i < req->code.len; i++)
		CHECK(req->code.s[i] >= '0' && req->code.s[i] <= '9');
	CHECK(req->nanswers <= REQ_ANSWERS_MAX);
	CHECK((req->answers == NULL) == (req->nanswers == 0));
	for (size_t i = 0; i < req->nanswers; i++) {
		CHECK(req->answers[i].s != NULL);
		check_secret(&req->answers[i], REQ_ANSWER_MAX);
	}
	CHECK(req->code.s == NULL || req->answers == NULL);
	check_secret(&req->old_password, REQ_PASSWORD_MAX);
	check_secret(&req->new_password, REQ_PASSWORD_MAX);
	check_secret(&req->password, REQ_PASSWORD_MAX);
	CHECK(req->nquestions <= REQ_ANSWERS_MAX);
	CHECK((req->questions == NULL) == (req->nquestions == 0));
	for (size_t i = 0; i < req->nquestions; i++) {
		CHECK(req->questions[i].question != NULL);
		check_text(req->questions[i].question, REQ_QUESTION_MAX);
		CHECK(req->questions[i].answer.s != NULL);
		check_secret(&req->questions[i].answer, REQ_ANSWER_MAX);
	}
	switch (req->op) {
	case OP_START:
		CHECK(req->user != NULL && req->method != 0);
		break;
	case OP_VERIFY:
		CHECK(req->code.s != NULL || req->answers != NULL);
		/* FALLTHROUGH */
	case OP_UNLOCK:
		CHECK(tlen == REQ_TICKET_LEN);
		break;
	case OP_RESET:
		CHECK(tlen == REQ_TICKET_LEN && req->new_password.s != NULL);
		break;
	case OP_CHANGE:
		CHECK(req->user != NULL && req->old_password.s != NULL &&
		    req->new_password.s != NULL);
		break;
	case OP_REGISTER:
		CHECK(req->user != NULL && req->password.s != NULL);
		CHECK(req->questions != NULL || req->mobile != NULL ||
		    req->email != NULL);
		break;
	case OP_POLICY:
		break;
	}
}

/* Answer the way the daemon does, with text taken from the request. */
static void
answer(const struct request *req)
{
	static const char *const violations[] = { "min-length", "history",
		NULL };
	const char *id = req->user != NULL ? req->user : "fuzz";
	json_t *a;
	char *text;

	a = request_answer_ok(id);
	CHECK(a != NULL);
	json_object_set_new(a, "op", json_string(request_op_name(req->op)));
	if (req->ticket[0] != '\0')
		json_object_set_new(a, "ticket", json_string(req->ticket));
	text = request_answer_dump(a);
	CHECK(text != NULL);
	free(text);

	a = request_answer_error(id, "password-policy", "The password is too short.",
	    violations);
	CHECK(a != NULL);
	text = request_answer_dump(a);
	CHECK(text != NULL);
	free(text);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_LEVEL_ERROR);
	request_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	const char *msg = NULL;

	memset(&req, 0xa5, sizeof(req));	/* request_parse must clear it */
	if (request_parse(data, size, &req, &msg) != 0) {
		CHECK(msg != NULL && msg[0] != '\0');
		CHECK(all_zero(&req, sizeof(req)));
		/* The refusal itself becomes an answer. */
		free(request_answer_dump(request_answer_error("fuzz", "bad-request", msg,
		    NULL)));
		return 0;
	}
	check_accepted(&req);
	answer(&req);
	request_free(&req);
	CHECK(all_zero(&req, sizeof(req)));
	return 0;
}
