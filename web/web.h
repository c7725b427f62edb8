/*
 * web.h - ssprweb, the web portal in front of ssprd: one picture of the
 * program.
 *
 * ssprweb is the unprivileged half of self-service password reset. It
 * serves HTML forms over HTTP (TLS is the reverse proxy's job), keeps each
 * visitor's progress in a session held in memory, and turns each form into
 * one request in ssprd's spool (docs/protocol.md). It holds no directory
 * credential and never talks to the directory: everything it knows of a
 * user is what ssprd answered, and ssprd answers an unknown user exactly as
 * a real one, so the pages do too.
 *
 * Data flows one way: HTTP request -> parse (untrusted bytes to typed
 * values) -> session -> flow (which spool request to send) -> queue (the
 * spool) -> flow (the answer updates the session) -> 303 to a page that is
 * rendered from the session. A POST is never answered with a page, so a
 * reload never sends a form again.
 *
 * Files and their prefixes:
 *   conf.c     webconf_*   [web] section of ssprweb.ini
 *   parse.c    parse_*     forms, cookies, Accept-Language (pure; fuzzed)
 *   i18n.c     i18n_*      gettext .po catalogs, English as the msgid
 *   session.c  session_*   sessions: random id, idle timeout, bounded count
 *   queue.c    queue_*     the spool client: write, rename, await out/ID.json
 *   html.c     html_*      page frame, escaping, form fields
 *   flows.c    flow_*      reset, unlock, change, register
 *   qr.c       qr_*        otpauth URI -> inline SVG (libqrencode)
 *   limit.c    limit_*     requests per client address
 *   ssprweb.c  main, HTTP server, routing, headers
 */
#ifndef SSPRWEB_WEB_H
#define SSPRWEB_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "config/config.h"	/* enum log_level */

#define WEB_ID_HEX	64	/* a session id: 256 random bits in hex */
#define WEB_TICKET_MAX	32
#define WEB_USER_MAX	256
#define WEB_PASSWORD_MAX 4096
#define WEB_QUESTIONS_MAX 10
#define WEB_LANG_MAX	8

/* --- conf.c ---------------------------------------------------------------- */

struct webconf {
	char *listen_host;
	unsigned listen_port;
	char *queue_dir;
	char **trusted_proxies;		/* canonical addresses, NULL-ended */
	char *base_url;
	char *organisation;
	char *logo;			/* path of an image, or NULL */
	char *help_url;			/* or NULL */
	char *default_language;
	char *session_key_file;
	unsigned char *session_key;	/* 32 bytes, sodium_malloc'd */
	char *data_dir;			/* static/ and po/ */
	unsigned max_sessions;
	unsigned session_idle;		/* seconds */
	unsigned answer_timeout;	/* seconds to wait for ssprd */
	unsigned requests_per_minute;	/* per client address (group) */
	unsigned max_body;		/* bytes */
	unsigned timeout;		/* seconds to read a request */
	unsigned max_connections;
	enum log_level log_level;
};

/* Load and check path. On error returns NULL and writes a message naming
 * the file, line and key to err. */
struct webconf *webconf_load(const char *path, char *err, size_t errsize);
void webconf_free(struct webconf *c);

/* --- parse.c --------------------------------------------------------------- */

#define PARSE_FIELDS_MAX 32

struct form {
	unsigned n;
	struct {
		char *name;
		char *value;	/* secret memory: forms carry passwords */
		size_t len;	/* of value, which may hold no NUL */
	} f[PARSE_FIELDS_MAX];
};

/* Decode an application/x-www-form-urlencoded body of len bytes into form.
 * Refuses (-1) more than PARSE_FIELDS_MAX fields, a name twice, a name that
 * is not [a-z0-9_]{1,32}, a bad %-escape, a value with NUL or that is not
 * UTF-8. On -1 the form is empty. */
int parse_form(const char *body, size_t len, struct form *form);
/* The value of name, or NULL. */
const char *parse_form_get(const struct form *form, const char *name);
void parse_form_clear(struct form *form);

/* The value of cookie name in a Cookie header, copied to out (at most
 * size-1 bytes; longer values are refused). 0 when found, -1 otherwise. */
int parse_cookie(const char *header, const char *name, char *out, size_t size);

/* The best of the offered languages (e.g. {"en","tr",NULL}) for an
 * Accept-Language header, or NULL when none is acceptable. */
const char *parse_accept_language(const char *header, const char *const *offered);

/* A query string's value of name (first one), decoded; -1 when absent or
 * bad. */
int parse_query(const char *query, const char *name, char *out, size_t size);

/* --- i18n.c ---------------------------------------------------------------- */

/* Load every LANG.po in dir. English needs no catalog: the msgids are the
 * English texts. Returns 0, or -1 with a message naming file and line. */
int i18n_load(const char *dir, char *err, size_t errsize);
void i18n_free(void);
/* The languages there are texts for: "en" first, NULL-ended. */
const char *const *i18n_languages(void);
bool i18n_has(const char *lang);
/* msgid in lang, or msgid itself when there is no translation. */
const char *i18n_get(const char *lang, const char *msgid);

/* --- session.c ------------------------------------------------------------- */

enum flow { FLOW_NONE, FLOW_RESET, FLOW_UNLOCK, FLOW_CHANGE, FLOW_REGISTER };
enum step {
	STEP_USER,	/* reset/unlock: the user name */
	STEP_METHOD,	/* choose how to prove it */
	STEP_CODE,	/* a code (email, sms, totp) */
	STEP_ANSWERS,	/* security questions */
	STEP_PASSWORD,	/* reset: the new password */
	STEP_LOGIN,	/* register: user and current password */
	STEP_REGISTER,	/* register: what to register */
	STEP_CONFIRM,	/* register: codes for the new contacts */
	STEP_DONE,
};

/* Methods as bits, in ssprd's order. */
enum { M_EMAIL = 1, M_SMS = 2, M_QUESTIONS = 4, M_TOTP = 8 };
#define WEB_NMETHODS 4
struct web_method {
	unsigned bit;
	const char *name, *label, *short_label;	/* label: msgids */
};
extern const struct web_method web_methods[WEB_NMETHODS];	/* flows.c */

struct session {
	char id[WEB_ID_HEX + 1];
	double last_used;
	bool busy;			/* a spool request is under way */
	struct evhttp_request *req;	/* the POST waiting for it, or NULL */
	int op;				/* flows.c: what was asked */
	char lang[WEB_LANG_MAX];	/* chosen with the switch; "" = none */
	enum flow flow;
	enum step step;
	char user[WEB_USER_MAX + 1];
	char ticket[WEB_TICKET_MAX + 1];
	unsigned method;		/* the one started last */
	unsigned verified;
	char sent_to[128];
	char *questions[WEB_QUESTIONS_MAX];
	unsigned nquestions;
	char *password;			/* register: secret memory, or NULL */
	unsigned registered, offered, pending, confirmed;
	bool enough, reconfirm_due;
	int required;
	char *totp_uri;			/* secret memory, while pending */
	json_t *own_policy;		/* reset: the policy answer for the
					 * verified ticket, the user's rules */
	/* What the next page says: a msgid, and violations of a refused
	 * password. */
	const char *notice;
	bool notice_ok;
	unsigned violations;		/* bits of parse/flow violation table */
	struct session *lru_prev, *lru_next, *hnext;
};

int session_init(unsigned max, unsigned idle);
void session_shutdown(void);
/* The live session of id, touched; NULL when none. */
struct session *session_find(const char *id);
/* A new session (evicting the least recently used one when full). */
struct session *session_new(void);
/* Back to no flow; wipes what the flow held. */
void session_reset_flow(struct session *s, enum flow flow);
/* The CSRF token of s, 64 hex digits. */
void session_csrf(const struct session *s, const unsigned char *key,
    char out[WEB_ID_HEX + 1]);
bool session_csrf_ok(const struct session *s, const unsigned char *key,
    const char *token);
unsigned session_count(void);
void session_sweep(double now);

/* --- queue.c --------------------------------------------------------------- */

/* Called once per request with ssprd's answer, or NULL after
 * answer_timeout. The answer is freed after the call. */
typedef void queue_cb(json_t *answer, void *arg);

int queue_init(struct event_base *base, const char *dir, unsigned timeout);
void queue_shutdown(void);
/* Submit a request (the object gains "v", and is wiped and released by
 * this call). -1 when it could not be queued (logged). */
int queue_submit(json_t *request, queue_cb *cb, void *arg);
/* Forget a pending request's callback (its answer is dropped). */
void queue_cancel(void *arg);

/* --- limit.c --------------------------------------------------------------- */

int limit_init(unsigned per_minute);
void limit_shutdown(void);
/* May client (a canonical address) make one more request now? */
bool limit_take(const char *client, double now);

/* --- html.c ---------------------------------------------------------------- */

/* One request being answered: what the page renders from. */
struct page {
	struct evbuffer *out;
	const struct webconf *conf;
	struct session *s;	/* may be NULL (static pages) */
	const char *lang;
	const char *path;	/* of the page, for the language switch */
	char csrf[WEB_ID_HEX + 1];
};

#define T(p, msgid) i18n_get((p)->lang, msgid)
#define N_(msgid) msgid

/* The path part of [web] base_url without its last "/": "" or "/sspr". */
extern const char *web_prefix;

void html_escape(struct evbuffer *out, const char *s);
/* text with "{n}" replaced by n, escaped. */
void html_text_n(struct evbuffer *out, const char *text, long n);
void html_begin(struct page *p, const char *title);
void html_end(struct page *p);
/* <form method=post action=path> with the CSRF token and the step. */
void html_form_begin(struct page *p, const char *action, enum step step);
void html_form_end(struct page *p, const char *button);
/* A labelled input. type: text, password, email, tel; autocomplete may be
 * NULL. */
void html_input(struct page *p, const char *name, const char *label,
    const char *type, const char *autocomplete, const char *value,
    bool required);
void html_notice(struct page *p);

/* --- flows.c --------------------------------------------------------------- */

/* What a flow's POST handler needs to finish the HTTP request later. */
struct exchange;

/* GET (pages.c): the page of s's step in flow (starting the flow if s is
 * elsewhere); FLOW_NONE is the home page. */
void flow_page(struct page *p, enum flow flow);
/* POST: act on the form. Calls web_redirect() when done (at once, or once
 * ssprd has answered). */
void flow_post(struct evhttp_request *req, struct session *s, enum flow flow,
    struct form *form, const char *client, const char *lang);
/* Violations: names from ssprd, bits in session.violations. */
const char *flow_violation_text(unsigned bit);
unsigned flow_violation_count(void);
/* ssprd's reason codes to the msgid shown for them. */
const char *flow_reason_text(const char *reason);
/* Path of a flow's page. */
const char *flow_path(enum flow flow);
/* Policy, as last answered by ssprd (fetched once, refreshed with each
 * flow's first step). */
json_t *flow_policy(void);
/* Ask ssprd for the policy again (at start, then every minute). */
void flow_policy_refresh(void);
void flow_shutdown(void);
/* The pages of each flow: pages.c */

/* --- qr.c ------------------------------------------------------------------ */

/* An inline SVG of text as a QR code, or -1. */
int qr_svg(struct evbuffer *out, const char *text, const char *label);

/* --- ssprweb.c ------------------------------------------------------------- */

extern const struct webconf *web_conf;
/* Finish req with 303 See Other to path (relative to base_url). */
void web_redirect(struct evhttp_request *req, const char *path);

#endif
