/*
 * status.c - ssprctl status: what ssprd is doing, from its metrics.
 *
 * Reads GET /metrics from [daemon] metrics (the same text Prometheus
 * scrapes; there is no other control channel to secure) and prints a
 * summary: queue depth and the oldest waiting request, directory
 * connections per server, requests by op and result, notifier failures.
 * Exit status 0 when ssprd answered, 1 when it did not (or metrics are off).
 */
#include "build.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "ctl/ctl.h"

#define BODY_MAX (1024 * 1024)

static char *
fetch(const char *host, unsigned port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct timeval tv = { .tv_sec = 5 };
	char service[8], req[256], *buf, *body;
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) != 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		snprintf(err, errlen, "cannot reach ssprd's metrics at %s:%u: %s",
		    host, port, strerror(errno));
		if (fd != -1)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n",
	    host);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		snprintf(err, errlen, "cannot send: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	buf = xmalloc(BODY_MAX + 1);
	while (len < BODY_MAX && (n = read(fd, buf + len, BODY_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strstr(buf, " 200 ") == NULL ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		snprintf(err, errlen, "unexpected answer from %s:%u", host, port);
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

/* The value of the first sample line that starts with prefix. */
static double
value(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p != NULL && *p) {
		if (strncmp(p, prefix, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
			const char *sp = strchr(p, ' ');

			return sp ? strtod(sp + 1, NULL) : 0;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* Print every sample line of metric (without its name), indented. */
static void
samples(const char *text, const char *metric, const char *title)
{
	const char *p = text;
	size_t n = strlen(metric);
	bool any = false;

	while (p != NULL && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (strncmp(p, metric, n) == 0 && p[n] == '{') {
			if (!any)
				printf("%s\n", title);
			any = true;
			printf("  %.*s\n", (int)(len - n), p + n);
		}
		p = end ? end + 1 : NULL;
	}
	if (!any)
		printf("%s\n  none yet\n", title);
}

int
ctl_status(const struct config *cfg)
{
	char err[256], *text;

	if (cfg->daemon.metrics_host == NULL) {
		fprintf(stderr, "ssprctl: [daemon] metrics is off: status reads "
		    "it, so turn it on (e.g. metrics = 127.0.0.1:9469)\n");
		return 1;
	}
	text = fetch(cfg->daemon.metrics_host, cfg->daemon.metrics_port, err,
	    sizeof(err));
	if (text == NULL) {
		fprintf(stderr, "ssprctl: %s (is ssprd running?)\n", err);
		return 1;
	}
	printf("ssprd at %s:%u\n", cfg->daemon.metrics_host,
	    cfg->daemon.metrics_port);
	printf("queue: %.0f waiting (oldest %.0f s), %.0f in progress\n",
	    value(text, "ssprd_queue_waiting"),
	    value(text, "ssprd_queue_oldest_waiting_seconds"),
	    value(text, "ssprd_queue_in_progress"));
	samples(text, "ssprd_directory_connections",
	    "directory connections (bound, per server):");
	samples(text, "ssprd_directory_server_up", "directory servers up:");
	samples(text, "ssprd_requests_total", "requests answered:");
	samples(text, "ssprd_notify_failures_total", "notifier failures:");
	printf("tickets in the store: %.0f\n", value(text, "ssprd_tickets"));
	free(text);
	return 0;
}
