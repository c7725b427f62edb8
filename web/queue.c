/*
 * queue.c - ssprweb as a front end of ssprd's spool (docs/protocol.md,
 * section 1).
 *
 * A request is written to tmp/ID.json (O_CREAT|O_EXCL|O_NOFOLLOW, mode
 * 0640: ssprd reads it through the shared group) and renamed into new/;
 * the answer is awaited with inotify on out/, backed by a look at each
 * pending answer's name every second in case an event was missed, and
 * removed once read. IDs are "web-" and 128 random bits in hex, so they
 * never repeat and a late answer (for a request given up on after
 * [web] answer_timeout) is recognised as ours and removed when it comes.
 *
 * Requests and answers carry passwords, codes and otpauth secrets: the
 * JSON text and every string in the objects are wiped before release.
 * Callbacks always run from the event loop, never inside queue_submit().
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "web/web.h"

#define ANSWER_MAX (64 * 1024)
#define ID_LEN (4 + 32)

struct pending {
	char id[ID_LEN + 1];
	queue_cb *cb;		/* NULL once cancelled */
	void *arg;
	time_t deadline;
	struct pending *next;
};

static struct event_base *evbase;
static const char *qdir;
static unsigned timeout_s;
static int inofd = -1;
static struct event *ino_ev, *tick_ev;
static struct pending *pendings;

/* Wipe every string in v (passwords, codes, answers, otpauth URIs). */
static void
wipe_json(json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
	else if (json_is_object(v))
		json_object_foreach(v, k, m)
			wipe_json(m);
	else if (json_is_array(v))
		json_array_foreach(v, i, m)
			wipe_json(m);
}

static void
release(json_t *v)
{
	if (v != NULL) {
		wipe_json(v);
		json_decref(v);
	}
}

/* The answer in path; NULL with *absent when there is no such file yet. */
static json_t *
read_answer(const char *path, bool *absent)
{
	char *buf = secret_alloc(ANSWER_MAX + 1);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;
	json_t *v = NULL;
	json_error_t e;

	*absent = fd < 0 && errno == ENOENT;
	if (fd < 0) {
		secret_free(buf);
		return NULL;
	}
	while (len < ANSWER_MAX &&
	    (n = read(fd, buf + len, ANSWER_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	v = json_loadb(buf, len, 0, &e);
	secret_free(buf);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Take out/ID.json if it is there: answer its request (or drop a late
 * one). */
static void
take(const char *name)
{
	char path[PATH_MAX], id[ID_LEN + 1];
	size_t len = strlen(name);
	struct pending **pp, *p;
	json_t *answer;
	bool absent;

	if (len != ID_LEN + 5 || strncmp(name, "web-", 4) != 0 ||
	    strcmp(name + ID_LEN, ".json") != 0)
		return;
	memcpy(id, name, ID_LEN);
	id[ID_LEN] = '\0';
	snprintf(path, sizeof(path), "%s/out/%s", qdir, name);
	for (pp = &pendings; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			break;
	answer = read_answer(path, &absent);
	if (absent)
		return;
	unlink(path);
	if ((p = *pp) == NULL) {
		release(answer);	/* a late answer, given up on */
		return;
	}
	*pp = p->next;
	if (answer == NULL)
		log_warnx("queue: answer %s is not a JSON object", id);
	if (p->cb != NULL)
		p->cb(answer, p->arg);
	release(answer);
	free(p);
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len > 0)
				take(ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* Once a second: answers inotify missed, and requests past their time. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pending **pp = &pendings, *p;
	time_t now = time(NULL);
	char name[ID_LEN + 6];

	(void)fd;
	(void)what;
	(void)arg;
	while ((p = *pp) != NULL) {
		snprintf(name, sizeof(name), "%s.json", p->id);
		take(name);
		if (*pp != p)
			continue;	/* answered, and unlinked */
		if (now >= p->deadline) {
			*pp = p->next;
			log_warnx("queue: no answer to %s within %u s (it stays "
			    "queued)", p->id, timeout_s);
			if (p->cb != NULL)
				p->cb(NULL, p->arg);
			free(p);
			continue;
		}
		pp = &p->next;
	}
}

int
queue_init(struct event_base *base, const char *dir, unsigned timeout)
{
	char out[PATH_MAX];
	struct timeval sec = { 1, 0 };

	evbase = base;
	qdir = dir;
	timeout_s = timeout;
	snprintf(out, sizeof(out), "%s/out", dir);
	inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inofd < 0 || inotify_add_watch(inofd, out, IN_MOVED_TO |
	    IN_CLOSE_WRITE) < 0) {
		log_warn("queue: cannot watch %s", out);
		return -1;
	}
	ino_ev = event_new(base, inofd, EV_READ | EV_PERSIST, on_inotify, NULL);
	tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(ino_ev, NULL);
	event_add(tick_ev, &sec);
	return 0;
}

void
queue_shutdown(void)
{
	while (pendings != NULL) {
		struct pending *p = pendings;

		pendings = p->next;
		free(p);
	}
	if (ino_ev != NULL)
		event_free(ino_ev);
	if (tick_ev != NULL)
		event_free(tick_ev);
	ino_ev = tick_ev = NULL;
	if (inofd >= 0)
		close(inofd);
	inofd = -1;
}

int
queue_submit(json_t *request, queue_cb *cb, void *arg)
{
	unsigned char r[16];
	char hex[33], tmp[PATH_MAX], dst[PATH_MAX];
	struct pending *p;
	char *text;
	int fd, rc = -1;

	json_object_set_new(request, "v", json_integer(1));
	text = json_dumps(request, JSON_COMPACT);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	p = xcalloc(1, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "web-%s", hex);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.json", qdir, p->id);
	snprintf(dst, sizeof(dst), "%s/new/%s.json", qdir, p->id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (text != NULL && fd >= 0 && fd_write_all(fd, text, strlen(text)) == 0 &&
	    close(fd) == 0 && (fd = -1, rename(tmp, dst) == 0)) {
		p->cb = cb;
		p->arg = arg;
		p->deadline = time(NULL) + (time_t)timeout_s;
		p->next = pendings;
		pendings = p;
		p = NULL;
		rc = 0;
	} else {
		log_warn("queue: cannot queue %s", tmp);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(p);
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	release(request);
	return rc;
}

void
queue_cancel(void *arg)
{
	struct pending *p;

	for (p = pendings; p != NULL; p = p->next)
		if (p->arg == arg)
			p->cb = NULL;
}
