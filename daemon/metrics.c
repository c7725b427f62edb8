/*
 * metrics.c - counters and the /metrics endpoint (see metrics.h).
 *
 * The endpoint is a small HTTP/1.x responder of its own on a libevent
 * listener rather than evhttp: libevent 2.1's evhttp has no cap on
 * connections, and anyone on the host may connect. What it guarantees, so
 * that scrapers (or a local user flooding the port) can never take the
 * descriptors that requests, answers and directory connections need:
 * - at most METRICS_MAX_CONNS connections at once; at the cap the listener
 *   is disabled (further connections wait in the kernel's backlog) until
 *   one closes;
 * - a connection is closed METRICS_DEADLINE seconds after it was accepted,
 *   whatever it sent or failed to send, and a request head larger than
 *   METRICS_MAX_HEAD bytes is refused: one request, one answer, closed;
 * - a failing accept() (EMFILE, ENFILE, ENOBUFS...) pauses accepting for
 *   METRICS_PAUSE seconds instead of spinning on a listening socket that
 *   stays readable, and the lines about it are rate-limited.
 */
#include "build.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/histogram.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/engine.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/spool.h"
#include "daemon/ssprd.h"
#include "daemon/store.h"
#include "ldap/dir.h"

/* Prometheus holds one connection, ssprctl status another: room enough. */
#define METRICS_MAX_CONNS 32
#define METRICS_DEADLINE 10	/* seconds from accept to close */
#define METRICS_MAX_HEAD 8192	/* bytes of request line and headers */
#define METRICS_PAUSE 1		/* seconds without accepting after an error */

#define OPS 10

/* The last one counts files that never became a request (bad JSON, a file
 * refused by the spool): op "unparsed". */
static const char *const op_names[OPS] = {
	"start", "verify", "reset", "unlock", "change", "register", "policy",
	"confirm", "status", "unparsed",
};

struct conn {
	struct bufferevent *bev;
	struct event *deadline;
	TAILQ_ENTRY(conn) entry;
};

struct counter {
	int op;
	char result[8];
	char reason[32];
	unsigned long long n;
};

static struct {
	struct ssprd *d;
	struct evconnlistener *listener;
	struct event *ev_resume;	/* ends a pause after accept() failed */
	bool accepting;			/* the listener is enabled */
	bool paused;			/* by a failed accept() */
	TAILQ_HEAD(, conn) conns;
	unsigned nconns;
	char *host;
	unsigned port;
	struct counter *counters;
	size_t ncounters;
	struct histogram answer[OPS];
	unsigned long long notify_failures[3];
} M = { .conns = TAILQ_HEAD_INITIALIZER(M.conns) };

static struct log_limit accept_limit = LOG_LIMIT(10, 1);
static struct log_limit cap_limit = LOG_LIMIT(60, 1);

static const char *const notify_kinds[3] = { "code", "notice", "admin-notice" };

static int
op_index(const char *op)
{
	for (int i = 0; i < OPS - 1; i++)
		if (strcmp(op_names[i], op) == 0)
			return i;
	return OPS - 1;
}

void
metrics_request(const char *op, const char *result, const char *reason,
    double seconds)
{
	int o = op_index(op);
	size_t i;


	histogram_add(&M.answer[o], seconds);
	for (i = 0; i < M.ncounters; i++)
		if (M.counters[i].op == o &&
		    strcmp(M.counters[i].result, result) == 0 &&
		    strcmp(M.counters[i].reason, reason) == 0)
			break;
	if (i == M.ncounters) {
		M.counters = xreallocarray(M.counters, M.ncounters + 1,
		    sizeof(*M.counters));
		memset(&M.counters[i], 0, sizeof(M.counters[i]));
		M.counters[i].op = o;
		snprintf(M.counters[i].result, sizeof(M.counters[i].result), "%s",
		    result);
		snprintf(M.counters[i].reason, sizeof(M.counters[i].reason), "%s",
		    reason);
		M.ncounters++;
	}
	M.counters[i].n++;
}

void
metrics_notify_failure(const char *kind)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(notify_kinds[i], kind) == 0)
			M.notify_failures[i]++;
}

/* Label values are URIs and fixed names; escape what Prometheus needs. */
static void
label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
write_metrics(FILE *f)
{
	struct ssprd *d = M.d;
	struct dir *dir = engine_dir(d->engine);
	struct dir_server_stats ss;
	struct dir_stats st;
	char labels[64];

	fprintf(f, "# HELP ssprd_build_info ssprd's version.\n"
	    "# TYPE ssprd_build_info gauge\n"
	    "ssprd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);

	fprintf(f, "# HELP ssprd_requests_total Requests answered, by op, "
	    "result and reason.\n# TYPE ssprd_requests_total counter\n");
	for (size_t i = 0; i < M.ncounters; i++)
		fprintf(f, "ssprd_requests_total{op=\"%s\",result=\"%s\","
		    "reason=\"%s\"} %llu\n", op_names[M.counters[i].op],
		    M.counters[i].result, M.counters[i].reason, M.counters[i].n);

	fprintf(f, "# HELP ssprd_answer_duration_seconds From a request's "
	    "claim to its answer.\n"
	    "# TYPE ssprd_answer_duration_seconds histogram\n");
	for (int o = 0; o < OPS; o++) {
		if (M.answer[o].count == 0)
			continue;
		snprintf(labels, sizeof(labels), "op=\"%s\"", op_names[o]);
		histogram_print(f, "ssprd_answer_duration_seconds", labels,
		    &M.answer[o]);
	}

	fprintf(f, "# HELP ssprd_queue_waiting Requests waiting in new/.\n"
	    "# TYPE ssprd_queue_waiting gauge\nssprd_queue_waiting %u\n"
	    "# HELP ssprd_queue_in_progress Requests claimed, not yet answered.\n"
	    "# TYPE ssprd_queue_in_progress gauge\nssprd_queue_in_progress %u\n"
	    "# HELP ssprd_queue_oldest_waiting_seconds Age of the oldest "
	    "request in new/.\n# TYPE ssprd_queue_oldest_waiting_seconds gauge\n"
	    "ssprd_queue_oldest_waiting_seconds %.0f\n",
	    spool_waiting(d->spool), spool_active(d->spool),
	    spool_oldest_waiting(d->spool));

	fprintf(f, "# HELP ssprd_directory_connections Connections bound to "
	    "each server.\n# TYPE ssprd_directory_connections gauge\n");
	for (size_t i = 0; dir_server_stats(dir, i, &ss) == 0; i++) {
		fputs("ssprd_directory_connections{server=\"", f);
		label(f, ss.uri);
		fprintf(f, "\"} %u\n", ss.ready);
	}
	dir_get_stats(dir, &st);
	fprintf(f, "# HELP ssprd_directory_connections_opened_total Directory "
	    "connections opened (each a TCP connection and a TLS handshake), "
	    "by pool: the service account's, or those kept for users' own "
	    "binds.\n"
	    "# TYPE ssprd_directory_connections_opened_total counter\n"
	    "ssprd_directory_connections_opened_total{pool=\"service\"} %llu\n"
	    "ssprd_directory_connections_opened_total{pool=\"user\"} %llu\n",
	    (unsigned long long)st.opened, (unsigned long long)st.user_opened);
	fprintf(f, "# HELP ssprd_directory_server_up 1 when the server has a "
	    "bound connection and is not in backoff.\n"
	    "# TYPE ssprd_directory_server_up gauge\n");
	for (size_t i = 0; dir_server_stats(dir, i, &ss) == 0; i++) {
		fputs("ssprd_directory_server_up{server=\"", f);
		label(f, ss.uri);
		fprintf(f, "\"} %d\n", ss.ready > 0 && !ss.backoff);
	}
	fprintf(f, "# HELP ssprd_directory_failed_requests_total Requests sent "
	    "to a server that never got an answer.\n"
	    "# TYPE ssprd_directory_failed_requests_total counter\n");
	for (size_t i = 0; dir_server_stats(dir, i, &ss) == 0; i++) {
		fputs("ssprd_directory_failed_requests_total{server=\"", f);
		label(f, ss.uri);
		fprintf(f, "\"} %llu\n", (unsigned long long)ss.failed_ops);
	}
	fprintf(f, "# HELP ssprd_directory_request_duration_seconds From a "
	    "request sent to its answer, per server (a user lookup counts "
	    "once).\n"
	    "# TYPE ssprd_directory_request_duration_seconds histogram\n");
	for (size_t i = 0; dir_server_stats(dir, i, &ss) == 0; i++) {
		char *esc;
		size_t len;
		FILE *lf = open_memstream(&esc, &len);

		fputs("server=\"", lf);
		label(lf, ss.uri);
		fputc('"', lf);
		fclose(lf);
		histogram_print(f, "ssprd_directory_request_duration_seconds",
		    esc, ss.latency);
		free(esc);
	}

	fprintf(f, "# HELP ssprd_notify_failures_total Mail and SMS commands "
	    "that failed, by what they carried.\n"
	    "# TYPE ssprd_notify_failures_total counter\n");
	for (int i = 0; i < 3; i++)
		fprintf(f, "ssprd_notify_failures_total{kind=\"%s\"} %llu\n",
		    notify_kinds[i], M.notify_failures[i]);
	/* No gauge of commands running or messages waiting: only real users
	 * are sent codes, so it would tell who exists (issue 12). A backlog
	 * shows in the log and in ssprd_queue_oldest_waiting_seconds. */
	/* With Redis: everyone's tickets (SCAN, on the scrape only). */
	fprintf(f, "# HELP ssprd_tickets Tickets in the store.\n"
	    "# TYPE ssprd_tickets gauge\nssprd_tickets %zu\n",
	    store_count(d->store, STORE_TICKETS));
	fprintf(f, "# HELP ssprd_state_up Whether the state store can be used "
	    "now (always 1 with LMDB; with Redis: connected to a master with "
	    "enough replicas).\n"
	    "# TYPE ssprd_state_up gauge\nssprd_state_up %d\n",
	    store_ready(d->store) ? 1 : 0);
}

/* --- the HTTP side ------------------------------------------------------------ */

/* Accept while below the cap and not paused; otherwise leave connections
 * in the kernel's backlog. */
static void
listener_update(void)
{
	bool want = !M.paused && M.nconns < METRICS_MAX_CONNS;

	if (M.listener == NULL || want == M.accepting)
		return;
	if (want) {
		evconnlistener_enable(M.listener);
	} else {
		evconnlistener_disable(M.listener);
		if (!M.paused)
			log_limited(&cap_limit, LOG_LEVEL_WARNING, 0,
			    "metrics: %u connections open, the most allowed; "
			    "accepting more once one closes", M.nconns);
	}
	M.accepting = want;
}

static void
conn_close(struct conn *c)
{
	TAILQ_REMOVE(&M.conns, c, entry);
	M.nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
	listener_update();
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	conn_close(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(arg);
}

/* The answer is out (in the kernel's hands): done with this connection. */
static void
on_written(struct bufferevent *bev, void *arg)
{
	conn_close(arg);
}

/* Queue one answer and close once it is written; nothing more is read. */
static void
reply(struct conn *c, const char *status, const char *type, const char *body,
    size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status, type,
	    len, strncmp(status, "405", 3) == 0 ? "Allow: GET\r\n" : "");
	evbuffer_add(out, body, len);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, on_written, on_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
reply_text(struct conn *c, const char *status, const char *text)
{
	reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* "GET /metrics HTTP/1.1": the only request answered with metrics. */
static void
answer(struct conn *c, char *line)
{
	char *target, *version, *text;
	size_t len;
	FILE *f;

	if (line == NULL || (target = strchr(line, ' ')) == NULL ||
	    (version = strchr(target + 1, ' ')) == NULL ||
	    strncmp(version + 1, "HTTP/1.", 7) != 0) {
		reply_text(c, "400 Bad Request", "not an HTTP/1 request\n");
		return;
	}
	*target++ = '\0';
	*version = '\0';
	if (strcmp(line, "GET") != 0) {
		reply_text(c, "405 Method Not Allowed", "only GET /metrics here\n");
		return;
	}
	if (strcmp(target, "/metrics") != 0) {
		reply_text(c, "404 Not Found", "only GET /metrics here\n");
		return;
	}
	if ((f = open_memstream(&text, &len)) == NULL) {
		reply_text(c, "500 Internal Server Error", "out of memory\n");
		return;
	}
	write_metrics(f);
	fclose(f);
	reply(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text,
	    len);
	free(text);
}

/* Wait for the whole head (the blank line); the body of a GET, if any, is
 * never read. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char *line;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > METRICS_MAX_HEAD)
			reply_text(c, "431 Request Header Fields Too Large",
			    "request head too large\n");
		return;
	}
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	answer(c, line);
	free(line);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct timeval tv = { .tv_sec = METRICS_DEADLINE };
	struct conn *c;

	if (M.nconns >= METRICS_MAX_CONNS) {
		/* Accepted in the same burst as the last allowed one. */
		evutil_closesocket(fd);
		listener_update();
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(M.d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(M.d->base, on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL ||
	    evtimer_add(c->deadline, &tv) != 0 ||
	    bufferevent_enable(c->bev, EV_READ) != 0) {
		log_limited(&accept_limit, LOG_LEVEL_WARNING, 0,
		    "metrics: cannot set up a connection");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	TAILQ_INSERT_TAIL(&M.conns, c, entry);
	M.nconns++;
	listener_update();
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	M.paused = false;
	listener_update();
}

/* libevent calls this for accept() errors other than EAGAIN, EINTR and
 * ECONNABORTED. The listening socket stays readable while they last, so
 * accepting pauses instead of spinning. */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval tv = { .tv_sec = METRICS_PAUSE };
	int e = EVUTIL_SOCKET_ERROR();

	log_limited(&accept_limit, LOG_LEVEL_WARNING, e,
	    "metrics: cannot accept a connection; pausing for %d s",
	    METRICS_PAUSE);
	M.paused = true;
	listener_update();
	evtimer_add(M.ev_resume, &tv);
}

/* The first address of host that can be bound, listening. */
static struct evconnlistener *
listen_on(struct event_base *base, const char *host, unsigned port)
{
	struct evutil_addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
		.ai_flags = EVUTIL_AI_PASSIVE,
	}, *ai, *res = NULL;
	struct evconnlistener *l = NULL;
	char service[8];

	snprintf(service, sizeof(service), "%u", port);
	if (evutil_getaddrinfo(host, service, &hints, &res) != 0)
		return NULL;
	for (ai = res; ai != NULL && l == NULL; ai = ai->ai_next)
		l = evconnlistener_new_bind(base, on_accept, NULL,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC, -1, ai->ai_addr,
		    (int)ai->ai_addrlen);
	evutil_freeaddrinfo(res);
	return l;
}

void
metrics_stop(void)
{
	while (!TAILQ_EMPTY(&M.conns))
		conn_close(TAILQ_FIRST(&M.conns));
	if (M.listener != NULL)
		evconnlistener_free(M.listener);
	M.listener = NULL;
	if (M.ev_resume != NULL)
		event_free(M.ev_resume);
	M.ev_resume = NULL;
	M.accepting = M.paused = false;
	free(M.host);
	M.host = NULL;
	M.port = 0;
}

void
metrics_start(struct ssprd *d, const struct config *cfg)
{
	const char *host = cfg->daemon.metrics_host;
	unsigned port = cfg->daemon.metrics_port;

	M.d = d;
	if (M.listener != NULL && host != NULL && M.host != NULL &&
	    strcmp(M.host, host) == 0 && M.port == port)
		return;		/* unchanged */
	metrics_stop();
	if (host == NULL)
		return;
	M.ev_resume = evtimer_new(d->base, on_resume, NULL);
	M.listener = listen_on(d->base, host, port);
	if (M.listener == NULL || M.ev_resume == NULL) {
		log_error("metrics: cannot listen on %s:%u; going on without "
		    "metrics", host, port);
		metrics_stop();
		return;
	}
	evconnlistener_set_error_cb(M.listener, on_accept_error);
	M.accepting = true;
	M.host = xstrdup(host);
	M.port = port;
	log_info("metrics: listening on %s:%u (at most %d connections, "
	    "%d s each)", host, port, METRICS_MAX_CONNS, METRICS_DEADLINE);
}
