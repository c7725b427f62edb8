/*
 * ssprweb.c - the web portal's main program and HTTP front door.
 *
 * main() reads ssprweb.ini, loads the catalogs and the static files, and
 * serves HTTP with libevent's evhttp until SIGTERM. Every response gets
 * the same security headers; every page and form goes through the per
 * address limit first; every POST must carry the session's CSRF token
 * and a form body within [web] max_body. The body (it may hold passwords)
 * is wiped as soon as it is parsed.
 *
 * ssprweb runs as its own unprivileged user, a member of ssprd's submit
 * group, with nothing of ssprd's: no directory credential, no state, no
 * keys but its session key.
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "web/web.h"

#ifndef SSPRWEB_CONFIG_FILE
#define SSPRWEB_CONFIG_FILE "/etc/ssprd/ssprweb.ini"
#endif

#define COOKIE "__Host-ssprweb"
#define STATIC_MAX (512 * 1024)

const struct webconf *web_conf;

struct blob {
	const char *path;	/* as served */
	const char *type;
	char *data;
	size_t len;
};

static struct blob blobs[] = {
	{ "/static/style.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/static/app.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "/logo", NULL, NULL, 0 },
};
#define NBLOBS (sizeof(blobs) / sizeof(blobs[0]))

static char *prefix_buf;

static int
load_blob(struct blob *b, const char *file, char *err, size_t errsize)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_MAX) {
		snprintf(err, errsize, "%s: %s", file, fd < 0 ? strerror(errno) :
		    "not a regular file of at most 512 KiB");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	b->data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, b->data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errsize, "%s: short read", file);
		return -1;
	}
	b->len = (size_t)n;
	return 0;
}

static const char *
image_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (dot != NULL && (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0))
		return "image/jpeg";
	return "image/png";
}

/* Everything loaded before serving: catalogs, static files, the logo. */
static int
load_data(const struct webconf *c, char *err, size_t errsize)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/po", c->data_dir);
	if (i18n_load(path, err, errsize) != 0)
		return -1;
	if (!i18n_has(c->default_language)) {
		snprintf(err, errsize, "default_language %s: there is no %.900s/%s.po",
		    c->default_language, path, c->default_language);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/static/style.css", c->data_dir);
	if (load_blob(&blobs[0], path, err, errsize) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/static/app.js", c->data_dir);
	if (load_blob(&blobs[1], path, err, errsize) != 0)
		return -1;
	if (c->logo != NULL) {
		blobs[2].type = image_type(c->logo);
		if (load_blob(&blobs[2], c->logo, err, errsize) != 0)
			return -1;
	}
	return 0;
}

/* What load_data() and set_prefix() hold, and the configuration (NULL is
 * fine): released on every way out of main(). */
static void
free_data(struct webconf *c)
{
	i18n_free();
	for (size_t i = 0; i < NBLOBS; i++) {
		free(blobs[i].data);
		blobs[i].data = NULL;
	}
	free(prefix_buf);
	prefix_buf = NULL;
	if (c != NULL)
		webconf_free(c);
}

/* --- responses -------------------------------------------------------------- */

static void
security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; "
	    "script-src 'self'; style-src 'self'; img-src 'self'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
}

void
web_redirect(struct evhttp_request *req, const char *path)
{
	char loc[1024];

	snprintf(loc, sizeof(loc), "%s%s", web_prefix, path);
	security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
	evhttp_send_reply(req, 303, "See Other", NULL);
}

static void
plain_error(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer *b = evbuffer_new();

	security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	evbuffer_add_printf(b, "%s\n", text);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* --- who is asking ----------------------------------------------------------- */

/* The client's address: the peer's, or for a trusted proxy the last entry
 * of X-Forwarded-For (the address the proxy itself saw). */
static void
client_address(struct evhttp_request *req, char out[NETADDR_MAX])
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *peer = NULL;
	ev_uint16_t port;
	const char *xff;
	size_t i;

	evhttp_connection_get_peer(conn, &peer, &port);
	if (peer == NULL || netaddr_canonical(peer, out, NETADDR_MAX) != 0)
		snprintf(out, NETADDR_MAX, "%s", "");
	xff = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Forwarded-For");
	if (xff == NULL || out[0] == '\0')
		return;
	for (i = 0; web_conf->trusted_proxies[i] != NULL; i++)
		if (strcmp(web_conf->trusted_proxies[i], out) == 0) {
			const char *last = strrchr(xff, ',');
			char tmp[NETADDR_MAX + 8], canon[NETADDR_MAX];
			size_t len;

			last = last != NULL ? last + 1 : xff;
			while (*last == ' ' || *last == '\t')
				last++;
			len = strcspn(last, " \t");
			if (len < sizeof(tmp)) {
				memcpy(tmp, last, len);
				tmp[len] = '\0';
				if (netaddr_canonical(tmp, canon, sizeof(canon)) == 0)
					memcpy(out, canon, NETADDR_MAX);
			}
			return;
		}
}

static const char *
choose_lang(struct evhttp_request *req, struct session *s, const char *query)
{
	char want[WEB_LANG_MAX];
	const char *accept;

	if (query != NULL && parse_query(query, "lang", want, sizeof(want)) == 0 &&
	    i18n_has(want))
		snprintf(s->lang, sizeof(s->lang), "%s", want);
	if (s->lang[0] != '\0')
		return s->lang;
	accept = parse_accept_language(evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Accept-Language"),
	    i18n_languages());
	return accept != NULL ? accept : web_conf->default_language;
}

static struct session *
session_of(struct evhttp_request *req, bool *fresh)
{
	const char *cookie = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Cookie");
	char id[WEB_ID_HEX + 1], header[256];
	struct session *s = NULL;

	*fresh = false;
	if (cookie != NULL && parse_cookie(cookie, COOKIE, id, sizeof(id)) == 0)
		s = session_find(id);
	if (s != NULL)
		return s;
	if ((s = session_new()) == NULL)
		return NULL;
	*fresh = true;
	snprintf(header, sizeof(header), "%s=%s; Path=/; HttpOnly; Secure; "
	    "SameSite=Strict", COOKIE, s->id);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
	    header);
	return s;
}

static enum flow
route(const char *path, bool *found)
{
	static const struct {
		const char *path;
		enum flow flow;
	} routes[] = {
		{ "/", FLOW_NONE }, { "/reset", FLOW_RESET },
		{ "/unlock", FLOW_UNLOCK }, { "/change", FLOW_CHANGE },
		{ "/register", FLOW_REGISTER },
	};
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(routes[i].path, path) == 0) {
			*found = true;
			return routes[i].flow;
		}
	*found = false;
	return FLOW_NONE;
}

static void
serve_blob(struct evhttp_request *req, const struct blob *b)
{
	struct evbuffer *out = evbuffer_new();

	security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    b->type);
	evbuffer_add_reference(out, b->data, b->len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
post(struct evhttp_request *req, struct session *s, bool fresh, enum flow flow,
    const char *client, const char *lang)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	size_t len = evbuffer_get_length(in);
	unsigned char *body = evbuffer_pullup(in, -1);
	struct form form = { 0 };
	int rc;

	if (type == NULL || strncmp(type, "application/x-www-form-urlencoded", 33) != 0) {
		sodium_memzero(body, len);
		plain_error(req, 415, "Unsupported Media Type", "forms only");
		return;
	}
	rc = parse_form((const char *)body, len, &form);
	sodium_memzero(body, len);
	evbuffer_drain(in, len);
	if (rc != 0) {
		plain_error(req, 400, "Bad Request", "The form could not be read.");
		return;
	}
	if (fresh || !session_csrf_ok(s, web_conf->session_key,
	    parse_form_get(&form, "csrf"))) {
		/* an old page, another site's form, or a lost session */
		s->notice = N_("This page was out of date. Please try again.");
		s->notice_ok = false;
		parse_form_clear(&form);
		web_redirect(req, flow_path(flow));
		return;
	}
	flow_post(req, s, flow, &form, client, lang);
	parse_form_clear(&form);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t plen = strlen(web_prefix), i;
	char client[NETADDR_MAX];
	struct session *s;
	struct page page;
	enum flow flow;
	bool found, fresh;

	(void)arg;
	if (path == NULL || (plen > 0 && (strncmp(path, web_prefix, plen) != 0)))
		goto not_found;
	path += plen;
	if (*path == '\0')
		path = "/";
	for (i = 0; i < NBLOBS; i++)
		if (blobs[i].data != NULL && strcmp(path, blobs[i].path) == 0) {
			serve_blob(req, &blobs[i]);
			return;
		}
	flow = route(path, &found);
	if (!found)
		goto not_found;
	client_address(req, client);
	if (!limit_take(client, mono_now())) {
		plain_error(req, 429, "Too Many Requests",
		    "Too many requests from your address. Please wait a minute.");
		return;
	}
	if ((s = session_of(req, &fresh)) == NULL) {
		plain_error(req, 503, "Service Unavailable",
		    "The service is busy. Please try again in a minute.");
		return;
	}
	memset(&page, 0, sizeof(page));
	page.conf = web_conf;
	page.s = s;
	page.path = path;
	page.lang = choose_lang(req, s, query);
	if (cmd == EVHTTP_REQ_POST) {
		post(req, s, fresh, flow, client, page.lang);
		return;
	}
	session_csrf(s, web_conf->session_key, page.csrf);
	page.out = evbuffer_new();
	flow_page(&page, flow);
	security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/html; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", page.out);
	evbuffer_free(page.out);
	return;
not_found:
	plain_error(req, 404, "Not Found", "There is no such page.");
}

/* --- the program ------------------------------------------------------------- */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("ssprweb: %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(arg);
}

static void
on_minute(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	session_sweep(mono_now());
	flow_policy_refresh();
}

/* web_prefix: the path of base_url, without its last "/". */
static void
set_prefix(const char *base)
{
	const char *p = base;
	size_t len;

	if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
		p = strchr(strstr(p, "//") + 2, '/');
		if (p == NULL)
			p = "/";
	}
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	prefix_buf = xstrndup(p, len);
	web_prefix = prefix_buf;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ssprweb [-t] [-c file]\n"
	    "  -c file  configuration (default %s)\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version\n", SSPRWEB_CONFIG_FILE);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = SSPRWEB_CONFIG_FILE;
	struct webconf *conf;
	struct event_base *base;
	struct evhttp *http;
	struct event *sigterm, *sigint, *minute;
	struct timeval sixty = { 60, 0 };
	char err[1024];
	bool test = false;
	int ch;

	while ((ch = getopt(argc, argv, "c:thV")) != -1)
		switch (ch) {
		case 'c': path = optarg; break;
		case 't': test = true; break;
		case 'V': printf("ssprweb %s\n", PACKAGE_VERSION); return 0;
		default: usage();
		}
	if (optind != argc)
		usage();
	log_init(LOG_LEVEL_INFO);
	if (sodium_init() < 0) {
		log_errorx("ssprweb: libsodium cannot start");
		return 1;
	}
	if ((conf = webconf_load(path, err, sizeof(err))) == NULL ||
	    load_data(conf, err, sizeof(err)) != 0) {
		log_errorx("ssprweb: %s", err);
		free_data(conf);
		return 1;
	}
	web_conf = conf;
	set_prefix(conf->base_url);
	if (test) {
		printf("ssprweb: %s is fine\n", path);
		free_data(conf);
		return 0;
	}
	log_set_level(conf->log_level);
	umask(027);	/* requests are read by ssprd through the group */
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST);
	evhttp_set_max_body_size(http, conf->max_body);
	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_timeout(http, (int)conf->timeout);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket_with_handle(http, conf->listen_host,
	    (ev_uint16_t)conf->listen_port) == NULL) {
		log_errorx("ssprweb: cannot listen on %s:%u", conf->listen_host,
		    conf->listen_port);
		return 1;
	}
	if (queue_init(base, conf->queue_dir, conf->answer_timeout) != 0)
		return 1;
	session_init(conf->max_sessions, conf->session_idle);
	limit_init(conf->requests_per_minute);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	minute = event_new(base, -1, EV_PERSIST, on_minute, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(minute, &sixty);
	flow_policy_refresh();
	log_info("ssprweb: ready on %s:%u (config %s)", conf->listen_host,
	    conf->listen_port, path);
	sd_notify(0, "READY=1");
	event_base_dispatch(base);
	sd_notify(0, "STOPPING=1");

	event_free(sigterm);
	event_free(sigint);
	event_free(minute);
	evhttp_free(http);
	session_shutdown();
	queue_shutdown();
	limit_shutdown();
	flow_shutdown();
	event_base_free(base);
	free_data(conf);
	return 0;
}
