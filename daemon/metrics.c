/*
 * metrics.c - counters and the /metrics endpoint (see metrics.h).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

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

#define OPS 8

/* The last one counts files that never became a request (bad JSON, a file
 * refused by the spool): op "unparsed". */
static const char *const op_names[OPS] = {
	"start", "verify", "reset", "unlock", "change", "register", "policy",
	"unparsed",
};

struct counter {
	int op;
	char result[8];
	char reason[32];
	unsigned long long n;
};

static struct {
	struct ssprd *d;
	struct evhttp *http;
	char *host;
	unsigned port;
	struct counter *counters;
	size_t ncounters;
	struct histogram answer[OPS];
	unsigned long long notify_failures[3];
} M;

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
	    "request sent to its answer, per server.\n"
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
	fprintf(f, "# HELP ssprd_notify_running Mail and SMS commands running.\n"
	    "# TYPE ssprd_notify_running gauge\nssprd_notify_running %u\n",
	    notify_running(d->notifier));
	fprintf(f, "# HELP ssprd_notify_waiting Messages waiting for a mail or "
	    "SMS command to run.\n# TYPE ssprd_notify_waiting gauge\n"
	    "ssprd_notify_waiting %u\n", notify_waiting(d->notifier));
	fprintf(f, "# HELP ssprd_tickets Tickets in the store.\n"
	    "# TYPE ssprd_tickets gauge\nssprd_tickets %zu\n",
	    store_count(d->store, STORE_TICKETS));
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out;
	char *text;
	size_t len;
	FILE *f;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    strcmp(evhttp_request_get_uri(req), "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only GET /metrics here");
		return;
	}
	if ((f = open_memstream(&text, &len)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	write_metrics(f);
	fclose(f);
	out = evbuffer_new();
	evbuffer_add(out, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

void
metrics_stop(void)
{
	if (M.http != NULL)
		evhttp_free(M.http);
	M.http = NULL;
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
	if (M.http != NULL && host != NULL && M.host != NULL &&
	    strcmp(M.host, host) == 0 && M.port == port)
		return;		/* unchanged */
	metrics_stop();
	if (host == NULL)
		return;
	M.http = evhttp_new(d->base);
	if (M.http == NULL ||
	    evhttp_bind_socket(M.http, host, (ev_uint16_t)port) != 0) {
		log_error("metrics: cannot listen on %s:%u; going on without "
		    "metrics", host, port);
		if (M.http != NULL)
			evhttp_free(M.http);
		M.http = NULL;
		return;
	}
	evhttp_set_allowed_methods(M.http, EVHTTP_REQ_GET);
	evhttp_set_gencb(M.http, on_request, NULL);
	M.host = xstrdup(host);
	M.port = port;
	log_info("metrics: listening on %s:%u", host, port);
}
