/*
 * transport.c - SMTP and HTTPS SMS delivery on libcurl's multi interface
 * (see transport.h).
 *
 * The glue is the one libcurl documents for event loops: libcurl says which
 * sockets to watch (sock_cb) and when to call it back (timer_cb); the loop
 * tells it what happened (cf->multi_socket_action()), and finished
 * transfers are collected by collect(). Nothing here blocks: name
 * resolution runs in libcurl's resolver thread, everything else is
 * non-blocking sockets.
 *
 * Never called from within a libcurl callback: cf->multi_add_handle()
 * and cf->multi_remove_handle() only from loop events and from the public
 * calls, so a done() that sends again is safe.
 */
#include "build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/curlfn.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/notify.h"
#include "daemon/transport.h"

#define RETRY_FIRST_MS	1000	/* first pause after a temporary failure */
#define RETRY_MAX_MS	30000	/* pauses double up to this */
#define CONNECT_MAX_MS	10000	/* one connection attempt at most */
#define DETAIL_MAX	512

enum kind { MAIL, SMS };

struct xfer {
	TAILQ_ENTRY(xfer) entry;
	struct transport *t;
	struct lane *lane;		/* whose multi handle carries it */
	enum kind kind;
	CURL *easy;
	bool in_multi;			/* added, not yet collected */
	bool unsendable;		/* failed before a try: errbuf says why */
	unsigned char *body;		/* secret_alloc() */
	size_t len, off;
	struct curl_slist *list;	/* recipients, or the SMS headers */
	struct timespec deadline;
	unsigned timeout;		/* s, for messages */
	unsigned tries;
	unsigned retry_ms;
	struct event *ev_retry;
	size_t answer;			/* bytes of the gateway's answer, unread */
	char target[128];		/* host, for messages */
	char errbuf[CURL_ERROR_SIZE];
	transport_done_fn *done;
	void *arg;
};

TAILQ_HEAD(xfers, xfer);

/* A socket libcurl asked us to watch. Kept on a list so that whatever
 * libcurl leaves behind at cleanup is freed too. */
struct watch {
	LIST_ENTRY(watch) entry;
	curl_socket_t fd;
	struct event *ev;
};

/*
 * One multi handle and its connection cache, for one set of delivery
 * settings. libcurl does not compare TLS settings when it reuses a
 * STARTTLS connection, so a reload that changes the relay, the CA, the
 * login or the gateway starts a new lane: no message goes out on a
 * session that the new settings did not verify. The old lane ends with
 * its last message.
 */
struct lane {
	LIST_ENTRY(lane) entry;
	struct transport *t;
	CURLM *multi;
	struct event *ev_timer;
	LIST_HEAD(, watch) watches;
	unsigned char key[crypto_generichash_BYTES];	/* of its settings */
	unsigned nxfers;
	unsigned mail_limit;		/* the max_connections it was given */
};

struct transport {
	struct event_base *base;
	struct lane *current;		/* the newest settings' lane */
	LIST_HEAD(, lane) lanes;	/* current and retiring */
	struct event *ev_sweep;		/* frees retired lanes, from the loop */
	struct xfers xfers;
	unsigned nxfers;
	unsigned nretrying;		/* waiting for their next try */
	unsigned nmail;
	bool closing;
};

static void collect(struct lane *l);

/* libcurl, once the first message needs it (common/curlfn.h). */
static const struct curlfn *cf;

static void
now_mono(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* ms from now until ts (negative: passed). */
static long
ms_until(const struct timespec *ts)
{
	struct timespec now;

	now_mono(&now);
	return (long)(ts->tv_sec - now.tv_sec) * 1000 +
	    (ts->tv_nsec - now.tv_nsec) / 1000000;
}

/* --- the loop glue -------------------------------------------------------- */

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct lane *l = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	cf->multi_socket_action(l->multi, fd, flags, &running);
	collect(l);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lane *l = arg;
	int running;

	cf->multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect(l);
}

static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct lane *l = userp;
	struct watch *w = socketp;
	short events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			event_free(w->ev);
			LIST_REMOVE(w, entry);
			free(w);
			cf->multi_assign(l->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		w->fd = fd;
		LIST_INSERT_HEAD(&l->watches, w, entry);
		cf->multi_assign(l->multi, fd, w);
	} else {
		event_free(w->ev);
	}
	w->ev = event_new(l->t->base, fd, events, on_socket, l);
	if (w->ev == NULL || event_add(w->ev, NULL) != 0)
		fatalx("transport: cannot watch a socket");
	return 0;
}

static int
timer_cb(CURLM *multi, long ms, void *userp)
{
	struct lane *l = userp;
	struct timeval tv;

	if (ms < 0) {
		evtimer_del(l->ev_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(l->ev_timer, &tv);
	return 0;
}

static void lane_free(struct lane *l);

/* Retired lanes with nothing left go here, from a timer of their own:
 * never from within collect() or a done() it called, which may still be
 * reading the lane. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;
	struct lane *l, *next;

	for (l = LIST_FIRST(&t->lanes); l != NULL; l = next) {
		next = LIST_NEXT(l, entry);
		if (l != t->current && l->nxfers == 0)
			lane_free(l);
	}
}

static void
sweep_soon(struct transport *t)
{
	static const struct timeval now = { 0, 0 };

	evtimer_add(t->ev_sweep, &now);
}

struct transport *
transport_new(struct event_base *base)
{
	struct transport *t = xcalloc(1, sizeof(*t));

	t->base = base;
	TAILQ_INIT(&t->xfers);
	LIST_INIT(&t->lanes);
	if ((t->ev_sweep = evtimer_new(base, on_sweep, t)) == NULL)
		fatalx("transport: out of memory for an event");
	return t;
}

static struct lane *
lane_new(struct transport *t, const unsigned char *key)
{
	struct lane *l = xcalloc(1, sizeof(*l));

	l->t = t;
	memcpy(l->key, key, sizeof(l->key));
	LIST_INIT(&l->watches);
	if ((l->multi = cf->multi_init()) == NULL)
		fatalx("transport: libcurl cannot start");
	cf->multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	cf->multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	cf->multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	cf->multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	l->ev_timer = evtimer_new(t->base, on_timer, l);
	if (l->ev_timer == NULL)
		fatalx("transport: out of memory for an event");
	LIST_INSERT_HEAD(&t->lanes, l, entry);
	return l;
}

static void
lane_free(struct lane *l)
{
	struct watch *w;

	LIST_REMOVE(l, entry);
	if (l->t->current == l)
		l->t->current = NULL;
	cf->multi_cleanup(l->multi);	/* closes its sessions */
	while ((w = LIST_FIRST(&l->watches)) != NULL) {
		LIST_REMOVE(w, entry);
		event_free(w->ev);
		free(w);
	}
	event_free(l->ev_timer);
	free(l);
}

static void
hash_str(crypto_generichash_state *st, const char *s)
{
	static const unsigned char none = 0xff;

	/* NUL ends each value; 0xff (never in a string here) is "unset" */
	if (s == NULL)
		crypto_generichash_update(st, &none, 1);
	else
		crypto_generichash_update(st, (const unsigned char *)s,
		    strlen(s) + 1);
}

/* The lane for cfg's settings: one that has them (a job that began
 * before a reload sends under its own settings), or a new one, which
 * becomes the current and retires the others. */
static struct lane *
lane_for(struct transport *t, const struct config *cfg)
{
	unsigned char key[crypto_generichash_BYTES];
	crypto_generichash_state st;
	unsigned char flags[2] = { cfg->email.starttls, (unsigned char)
	    cfg->email.max_connections };
	struct lane *l;

	crypto_generichash_init(&st, NULL, 0, sizeof(key));
	hash_str(&st, cfg->email.smtp_url);
	hash_str(&st, cfg->email.smtp_user);
	hash_str(&st, cfg->email.smtp_password);
	hash_str(&st, cfg->email.ca_file);
	hash_str(&st, cfg->email.helo);
	hash_str(&st, cfg->sms.url);
	hash_str(&st, cfg->sms.ca_file);
	crypto_generichash_update(&st, flags, sizeof(flags));
	crypto_generichash_final(&st, key, sizeof(key));
	LIST_FOREACH(l, &t->lanes, entry)
		if (sodium_memcmp(key, l->key, sizeof(key)) == 0)
			return l;
	t->current = lane_new(t, key);
	sweep_soon(t);
	return t->current;
}

unsigned
transport_running(const struct transport *t)
{
	return t == NULL ? 0 : t->nxfers;
}

unsigned
transport_waiting(const struct transport *t)
{
	unsigned over;

	if (t == NULL)
		return 0;
	/* A session carries one message at a time. */
	over = t->current != NULL && t->current->mail_limit > 0 &&
	    t->nmail - t->nretrying > t->current->mail_limit ? t->nmail - t->nretrying -
	    t->current->mail_limit : 0;
	return t->nretrying + over;
}

/* --- one message ------------------------------------------------------------ */

static void
wipe_list(struct curl_slist *l)
{
	if (l == NULL)
		return;
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		sodium_memzero(p->data, strlen(p->data));
	cf->slist_free_all(l);
}

static void
xfer_free(struct xfer *x)
{
	struct transport *t = x->t;

	if (x->in_multi)
		cf->multi_remove_handle(x->lane->multi, x->easy);
	/* (cf is set whenever a list or a handle exists) */
	if (x->lane != NULL && --x->lane->nxfers == 0 &&
	    x->lane != t->current)
		sweep_soon(t);
	if (x->easy != NULL)
		cf->easy_cleanup(x->easy);
	wipe_list(x->list);
	if (x->ev_retry != NULL)
		event_free(x->ev_retry);
	secret_free(x->body);		/* wipes */
	TAILQ_REMOVE(&t->xfers, x, entry);
	t->nxfers--;
	if (x->kind == MAIL)
		t->nmail--;
	free(x);
}

static void
finish(struct xfer *x, bool ok, const char *detail)
{
	transport_done_fn *done = x->done;
	void *arg = x->arg;
	char copy[DETAIL_MAX];

	/* detail may be x's own (errbuf) */
	snprintf(copy, sizeof(copy), "%s", detail != NULL ? detail : "");
	xfer_free(x);
	done(ok, detail != NULL ? copy : NULL, arg);
}

static size_t
read_body(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;

	if (n > x->len - x->off)
		n = x->len - x->off;
	memcpy(buf, x->body + x->off, n);
	x->off += n;
	return n;
}

static int
seek_body(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* The gateway's answer may echo the message: counted, never kept. */
static size_t
drop_answer(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;

	x->answer += size * nmemb;
	return size * nmemb;
}

/* Start (or start again) the transfer, with what is left of the deadline
 * as its timeout. */
static void
attempt(struct xfer *x)
{
	long left = ms_until(&x->deadline);

	if (left < 1)
		left = 1;
	x->off = 0;
	x->answer = 0;
	x->errbuf[0] = '\0';
	x->tries++;
	cf->easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, left);
	cf->easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    left < CONNECT_MAX_MS ? left : (long)CONNECT_MAX_MS);
	if (cf->multi_add_handle(x->lane->multi, x->easy) != CURLM_OK)
		fatalx("transport: libcurl refused a transfer");
	x->in_multi = true;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;

	if (x->unsendable) {
		finish(x, false, x->errbuf);
		return;
	}
	x->t->nretrying--;
	attempt(x);
}

/* What went wrong, and whether another try may go better. */
static bool
temporary(const struct xfer *x, CURLcode rc, long code)
{
	if (x->kind == MAIL && code >= 400)
		return code < 500;
	if (x->kind == SMS && code >= 300)
		return code == 429 || code == 502 || code == 503 || code == 504;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		/* certificates, TLS refused, login denied, a deadline */
		return false;
	}
}

static void
describe(const struct xfer *x, CURLcode rc, long code, char *out, size_t size)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(out, size, "%s: no delivery within %u s (%u tr%s)",
		    x->target, x->timeout, x->tries, x->tries == 1 ? "y" : "ies");
	else if (x->kind == SMS && rc == CURLE_OK)
		snprintf(out, size, "%s: HTTP status %ld (%zu bytes of answer, "
		    "not kept)", x->target, code, x->answer);
	else if (code >= 400)
		snprintf(out, size, "%s: %s %ld: %.200s", x->target,
		    x->kind == MAIL ? "SMTP" : "HTTP", code,
		    *x->errbuf ? x->errbuf : cf->easy_strerror(rc));
	else
		snprintf(out, size, "%s: %.200s", x->target,
		    *x->errbuf ? x->errbuf : cf->easy_strerror(rc));
}

static void
ended(struct xfer *x, CURLcode rc)
{
	char detail[DETAIL_MAX];
	long code = 0, left;
	struct timeval tv;
	bool connect_limit;

	cf->multi_remove_handle(x->lane->multi, x->easy);
	x->in_multi = false;
	cf->easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK && (x->kind == MAIL || (code >= 200 && code < 300))) {
		finish(x, true, NULL);
		return;
	}
	left = ms_until(&x->deadline);
	/* A timeout with time left was the connection's own limit
	 * (CONNECT_MAX_MS): another try may reach the server. */
	connect_limit = rc == CURLE_OPERATION_TIMEDOUT &&
	    left > (long)x->retry_ms;
	if (connect_limit)
		snprintf(detail, sizeof(detail), "%s: no connection within %d s",
		    x->target, CONNECT_MAX_MS / 1000);
	else
		describe(x, rc, code, detail, sizeof(detail));
	if (x->t->closing || (!connect_limit && !temporary(x, rc, code)) ||
	    left <= (long)x->retry_ms) {
		finish(x, false, detail);
		return;
	}
	log_info("notify: %s; trying again in %u ms", detail, x->retry_ms);
	tv.tv_sec = x->retry_ms / 1000;
	tv.tv_usec = (x->retry_ms % 1000) * 1000;
	x->retry_ms = x->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    x->retry_ms * 2;
	x->t->nretrying++;
	evtimer_add(x->ev_retry, &tv);
}

static void
collect(struct lane *l)
{
	CURLMsg *m;
	int left;

	while ((m = cf->multi_info_read(l->multi, &left)) != NULL) {
		struct xfer *x;

		if (m->msg != CURLMSG_DONE)
			continue;
		cf->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		ended(x, m->data.result);
	}
}

static struct xfer *
xfer_new(struct transport *t, const struct config *cfg, enum kind kind,
    unsigned timeout, transport_done_fn *done, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct xfer *x = xcalloc(1, sizeof(*x));

	x->t = t;
	x->kind = kind;
	x->done = done;
	x->arg = arg;
	x->timeout = timeout > 0 ? timeout : 1;
	x->retry_ms = RETRY_FIRST_MS;
	now_mono(&x->deadline);
	x->deadline.tv_sec += x->timeout;
	x->ev_retry = evtimer_new(t->base, on_retry, x);
	if (x->ev_retry == NULL)
		fatalx("transport: out of memory for an event");
	TAILQ_INSERT_TAIL(&t->xfers, x, entry);
	t->nxfers++;
	if (kind == MAIL)
		t->nmail++;
	if (cf == NULL && (cf = curlfn_get(x->errbuf, sizeof(x->errbuf))) ==
	    NULL) {
		/* reported from the loop, as every other outcome */
		x->unsendable = true;
		evtimer_add(x->ev_retry, &now);
		return x;
	}
	x->lane = lane_for(t, cfg);
	x->lane->nxfers++;
	if ((x->easy = cf->easy_init()) == NULL)
		fatalx("transport: libcurl cannot start a transfer");
	cf->easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	cf->easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	cf->easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	/* straight to the relay or gateway: no proxy from the environment
	 * (ALL_PROXY, HTTPS_PROXY) may take a session elsewhere */
	cf->easy_setopt(x->easy, CURLOPT_PROXY, "");
	cf->easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	cf->easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	cf->easy_setopt(x->easy, CURLOPT_READFUNCTION, read_body);
	cf->easy_setopt(x->easy, CURLOPT_READDATA, x);
	cf->easy_setopt(x->easy, CURLOPT_SEEKFUNCTION, seek_body);
	cf->easy_setopt(x->easy, CURLOPT_SEEKDATA, x);
	return x;
}

/* Whom the transfer trusts: ca_file alone when given (not the system's
 * CAs as well), else the system's. */
static void
trust(struct xfer *x, const char *ca_file)
{
	if (ca_file == NULL)
		return;
	cf->easy_setopt(x->easy, CURLOPT_CAINFO, ca_file);
	cf->easy_setopt(x->easy, CURLOPT_CAPATH, NULL);
}

/* "smtps://relay.example.com:465" -> "relay.example.com:465", for logs. */
static void
url_target(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");

	snprintf(out, size, "%s", p != NULL ? p + 3 : url);
	out[strcspn(out, "/?#")] = '\0';
}

/* --- mail ----------------------------------------------------------------------- */

void
transport_from_address(const char *from, char *out, size_t size)
{
	const char *lt = strrchr(from, '<'), *gt;
	size_t n;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
		from = lt + 1;
		n = (size_t)(gt - from);
	} else {
		from += strspn(from, " \t");
		n = strcspn(from, " \t");
	}
	snprintf(out, size, "%.*s", (int)n, from);
}

/* SMTP wants CRLF line ends; the templates have LF. A lone CR or LF
 * becomes CRLF; the result ends with CRLF. */
static unsigned char *
to_crlf(const char *msg, size_t len, size_t *out_len)
{
	unsigned char *out = secret_alloc(2 * len + 2);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;	/* the LF after it writes both */
		if (msg[i] == '\r' || msg[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = (unsigned char)msg[i];
		}
	}
	if (o < 2 || out[o - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	*out_len = o;
	return out;
}

void
transport_mail(struct transport *t, const struct config *cfg,
    const char *rcpt, const char *msg, size_t len, transport_done_fn *done,
    void *arg)
{
	const char *url = cfg->email.smtp_url;
	struct xfer *x = xfer_new(t, cfg, MAIL, cfg->email.timeout, done, arg);
	char from[256], *full;
	size_t ulen = strlen(url);

	if (x->unsendable)
		return;
	url_target(url, x->target, sizeof(x->target));
	x->body = to_crlf(msg, len, &x->len);
	/* The URL's path is the name EHLO announces. */
	full = xasprintf("%s%s%s", url, ulen > 0 && url[ulen - 1] == '/' ?
	    "" : "/", cfg->email.helo != NULL ? cfg->email.helo : "localhost");
	cf->easy_setopt(x->easy, CURLOPT_URL, full);
	free(full);
	cf->easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	cf->easy_setopt(x->easy, CURLOPT_USE_SSL, (long)(cfg->email.starttls ||
	    strncasecmp(url, "smtps:", 6) == 0 ? CURLUSESSL_ALL :
	    CURLUSESSL_NONE));
	trust(x, cfg->email.ca_file);
	if (cfg->email.smtp_user != NULL && cfg->email.smtp_password != NULL) {
		cf->easy_setopt(x->easy, CURLOPT_USERNAME, cfg->email.smtp_user);
		cf->easy_setopt(x->easy, CURLOPT_PASSWORD,
		    cfg->email.smtp_password);
	}
	transport_from_address(cfg->email.from, from, sizeof(from));
	cf->easy_setopt(x->easy, CURLOPT_MAIL_FROM, from);
	x->list = cf->slist_append(NULL, rcpt);
	if (x->list == NULL)
		fatalx("transport: out of memory");
	cf->easy_setopt(x->easy, CURLOPT_MAIL_RCPT, x->list);
	cf->easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
	cf->easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
	if (x->lane->mail_limit == 0) {
		x->lane->mail_limit = cfg->email.max_connections;
		cf->multi_setopt(x->lane->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		    (long)x->lane->mail_limit);
	}
	attempt(x);
}

/* --- SMS ------------------------------------------------------------------------ */

char *
transport_escape(enum body_type type, const char *s, size_t len,
    size_t *out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out;
	size_t o = 0;

	if (utf8_chars(s, len) < 0)
		return NULL;
	out = secret_alloc(6 * len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (type == BODY_FORM) {
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			    c == '_' || c == '~') {
				out[o++] = (char)c;
			} else {
				out[o++] = '%';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", c);
		} else {
			out[o++] = (char)c;	/* UTF-8 passes as it is */
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* The header file's lines, each "Name: value"; and Content-Type unless
 * the file names one. */
static struct curl_slist *
sms_headers(const struct config *cfg)
{
	struct curl_slist *l = NULL, *n;
	bool typed = false;
	const char *p = cfg->sms.headers, *end;

	while (p != NULL && *p != '\0') {
		char *line;
		size_t len;

		end = p + strcspn(p, "\r\n");
		len = (size_t)(end - p);
		if (len > 0 && *p != '#') {
			line = secret_dup(p, len);
			if (strncasecmp(line, "content-type:", 13) == 0)
				typed = true;
			n = cf->slist_append(l, line);
			secret_free(line);
			if (n == NULL)
				fatalx("transport: out of memory");
			l = n;
		}
		p = end + strspn(end, "\r\n");
	}
	if (!typed) {
		n = cf->slist_append(l, cfg->sms.body_type == BODY_JSON ?
		    "Content-Type: application/json" :
		    "Content-Type: application/x-www-form-urlencoded");
		if (n == NULL)
			fatalx("transport: out of memory");
		l = n;
	}
	/* no "Expect: 100-continue" round trip for a few hundred bytes */
	if ((n = cf->slist_append(l, "Expect:")) == NULL)
		fatalx("transport: out of memory");
	return n;
}

void
transport_sms(struct transport *t, const struct config *cfg,
    const char *number, const char *text, size_t len,
    transport_done_fn *done, void *arg)
{
	struct xfer *x = xfer_new(t, cfg, SMS, cfg->sms.timeout, done, arg);
	char *num, *txt, *body;
	size_t num_len, txt_len;
	const char *err = NULL;

	if (x->unsendable)
		return;
	url_target(cfg->sms.url, x->target, sizeof(x->target));
	num = transport_escape(cfg->sms.body_type, number, strlen(number),
	    &num_len);
	txt = transport_escape(cfg->sms.body_type, text, len, &txt_len);
	if (num == NULL || txt == NULL) {
		body = NULL;
		err = "the text is not UTF-8";
	} else {
		const struct notify_var vars[] = {
			{ "number", num }, { "text", txt }, { NULL, NULL },
		};

		body = notify_render(cfg->sms.body, vars, &x->len, &err);
	}
	secret_free(num);
	secret_free(txt);
	if (body == NULL) {
		/* reported from the loop, as every other outcome */
		static const struct timeval now = { 0, 0 };

		snprintf(x->errbuf, sizeof(x->errbuf),
		    "%s: cannot fill [sms] body: %s", x->target, err);
		x->body = secret_alloc(1);
		x->unsendable = true;
		evtimer_add(x->ev_retry, &now);
		return;
	}
	x->body = (unsigned char *)body;
	cf->easy_setopt(x->easy, CURLOPT_URL, cfg->sms.url);
	cf->easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "https");
	cf->easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	trust(x, cfg->sms.ca_file);
	x->list = sms_headers(cfg);
	cf->easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->list);
	cf->easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, drop_answer);
	cf->easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	cf->easy_setopt(x->easy, CURLOPT_POST, 1L);
	cf->easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
	cf->easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	if (cfg->sms.method == HTTP_PUT)
		cf->easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "PUT");
	attempt(x);
}

void
transport_free(struct transport *t)
{
	struct xfer *x;
	struct lane *l;

	if (t == NULL)
		return;
	t->closing = true;
	while ((x = TAILQ_FIRST(&t->xfers)) != NULL)
		finish(x, false, "shut down");
	while ((l = LIST_FIRST(&t->lanes)) != NULL)
		lane_free(l);
	event_free(t->ev_sweep);
	free(t);
}
