/*
 * smtpsink.c - an SMTP server that accepts every message, for bench/e2e.
 *
 *   smtpsink PORT DIR
 *
 * Listens on 127.0.0.1:PORT (plain SMTP: ssprd may skip STARTTLS only for
 * a loopback relay), answers EHLO, MAIL, RCPT, DATA, RSET, NOOP and QUIT,
 * and writes each message's data to DIR/NNN.msg (line ends made LF again,
 * dot-stuffing undone), under a dot name and renamed, as bench/mailsink
 * does, so bench/e2e reads codes the same way. Counts sessions and
 * messages; prints "sessions=S messages=M" to stdout on SIGTERM. One
 * libevent loop, no process or thread per message: the relay is not what
 * is measured.
 */
#include "build.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static const char *dir;
static unsigned long sessions, messages;

struct session {
	bool in_data;
	FILE *f;
	char tmp[4096];
};

static void
reply(struct bufferevent *bev, const char *s)
{
	bufferevent_write(bev, s, strlen(s));
}

static void
end_session(struct bufferevent *bev, struct session *s)
{
	if (s->f != NULL) {
		fclose(s->f);
		unlink(s->tmp);
	}
	free(s);
	bufferevent_free(bev);
}

static void
data_line(struct session *s, char *line)
{
	if (line[0] == '.')
		line++;		/* dot-stuffing */
	fputs(line, s->f);
	fputc('\n', s->f);
}

static void
finish_message(struct bufferevent *bev, struct session *s)
{
	char final[4096];

	fclose(s->f);
	s->f = NULL;
	messages++;
	snprintf(final, sizeof(final), "%s/%08lu.msg", dir, messages);
	rename(s->tmp, final);
	s->in_data = false;
	reply(bev, "250 2.0.0 queued\r\n");
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (s->in_data) {
			if (strcmp(line, ".") == 0)
				finish_message(bev, s);
			else
				data_line(s, line);
		} else if (strncasecmp(line, "EHLO", 4) == 0 ||
		    strncasecmp(line, "HELO", 4) == 0) {
			reply(bev, "250-localhost\r\n250-8BITMIME\r\n"
			    "250 SIZE 10485760\r\n");
		} else if (strncasecmp(line, "MAIL", 4) == 0 ||
		    strncasecmp(line, "RCPT", 4) == 0 ||
		    strncasecmp(line, "RSET", 4) == 0 ||
		    strncasecmp(line, "NOOP", 4) == 0) {
			reply(bev, "250 2.0.0 ok\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			snprintf(s->tmp, sizeof(s->tmp), "%s/.in-%p-%lu", dir,
			    (void *)s, messages);
			if ((s->f = fopen(s->tmp, "w")) == NULL) {
				reply(bev, "451 4.3.0 cannot write\r\n");
			} else {
				s->in_data = true;
				reply(bev, "354 go ahead\r\n");
			}
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			reply(bev, "221 2.0.0 bye\r\n");
			bufferevent_flush(bev, EV_WRITE, BEV_FLUSH);
			free(line);
			end_session(bev, s);
			return;
		} else {
			reply(bev, "502 5.5.2 not here\r\n");
		}
		free(line);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		end_session(bev, arg);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(
	    evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	struct session *s = calloc(1, sizeof(*s));

	if (bev == NULL || s == NULL) {
		close(fd);
		free(s);
		return;
	}
	sessions++;
	bufferevent_setcb(bev, on_read, NULL, on_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	reply(bev, "220 localhost smtpsink\r\n");
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct event_base *base;
	struct evconnlistener *l;
	struct event *term;

	if (argc != 3) {
		fprintf(stderr, "usage: smtpsink PORT DIR\n");
		return 2;
	}
	dir = argv[2];
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	l = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 256,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (base == NULL || l == NULL) {
		perror("smtpsink: listen");
		return 1;
	}
	term = evsignal_new(base, SIGTERM, on_term, base);
	event_add(term, NULL);
	event_base_dispatch(base);
	printf("sessions=%lu messages=%lu\n", sessions, messages);
	return 0;
}
