/*
 * request.h - requests in, answers out: the JSON of SPEC "Requests and
 * answers".
 *
 * request_parse() is strict: valid UTF-8, no NUL, "v": 1, a known "op",
 * exactly the fields that op allows with the types and sizes below, nothing
 * else. Anything wrong is bad-request with one sentence safe to show the
 * user. Secrets (passwords, codes, answers) are copied into sodium_malloc()
 * memory and wiped by request_free(); jansson's own buffers are wiped when
 * freed (request_init() installs a wiping allocator), so a parsed request
 * leaves no password behind in the heap.
 *
 * Answers are built here too, so that every answer has "v": 1, "id" and
 * "status", and every error a stable "reason" and a "message".
 */
#ifndef SSPRD_REQUEST_H
#define SSPRD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"

/* Field limits (bytes of UTF-8 unless said otherwise). */
#define REQ_USER_MAX 256
#define REQ_PASSWORD_MAX 4096
#define REQ_CODE_MAX 12		/* digits */
#define REQ_ANSWERS_MAX 10	/* entries */
#define REQ_ANSWER_MAX 512
#define REQ_QUESTION_MAX CONFIG_QUESTION_MAX	/* 256 */
#define REQ_CLIENT_MAX 64	/* an IPv4 or IPv6 address */
#define REQ_EMAIL_MAX 254
#define REQ_MOBILE_MAX 32
#define REQ_TICKET_LEN 32	/* hex digits of a 128-bit ticket */
#define REQ_LANG_MAX 35		/* a language tag, such as tr-TR */

enum op {
	OP_START,
	OP_VERIFY,
	OP_RESET,
	OP_UNLOCK,
	OP_CHANGE,
	OP_REGISTER,
	OP_POLICY,
	OP_CONFIRM,
	OP_STATUS,
};

/* A secret string: sodium_malloc()ed, NUL-terminated; NULL when absent. */
struct secret {
	char *s;
	size_t len;
};

struct qa {
	char *question;
	struct secret answer;
};

struct request {
	enum op op;
	char *user;			/* start, change, register; policy: optional */
	enum method method;		/* start */
	char ticket[REQ_TICKET_LEN + 1];	/* "" when absent */
	char *client;			/* optional on every op; canonical
					 * (common/netaddr.h) */
	char *client_key;		/* with client: what it is counted
					 * under (its IPv6 /64); else NULL */
	struct secret code;		/* verify, reset */
	struct secret *answers;		/* verify, reset */
	size_t nanswers;
	struct secret old_password;	/* change */
	struct secret new_password;	/* reset, change */
	struct secret password;		/* register, status: the current password */
	struct qa *questions;		/* register */
	size_t nquestions;
	char *mobile;			/* register */
	char *email;			/* register */
	bool totp;			/* register: an authenticator app */
	bool reconfirm;			/* register: what is registered is right */
	/* Optional on every op: the primary subtag of "lang", in lower case
	 * ("tr" for "tr-TR"); "" when absent. The messages' language. */
	char lang[4];
};

/* Once, before any JSON is parsed: the wiping allocator for jansson. */
void request_init(void);

/* 0 and *req filled, or -1 with *msg set to a static sentence. */
int request_parse(const unsigned char *data, size_t len, struct request *req,
    const char **msg);
void request_free(struct request *req);

const char *request_op_name(enum op op);

/* {"v":1,"id":ID,"status":"ok"}: add fields with json_object_set_new(),
 * then request_answer_dump(). */
json_t *request_answer_ok(const char *id);
/* {"v":1,"id":ID,"status":"error","reason":R,"message":M[,"violations":[...]]}
 * violations: NULL-terminated, or NULL for none. */
json_t *request_answer_error(const char *id, const char *reason, const char *message,
    const char *const *violations);
/* Compact JSON text (caller frees); consumes the reference to a. */
char *request_answer_dump(json_t *a);

#endif
