/*
 * engine_fx.c - the fixture of engine_fx.h.
 */
#include "build.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/log.h"
#include "daemon/request.h"
#include "tests/unit/engine_fx.h"

/* Turns of the loop a request may take: far more than any needs (a turn
 * is one wake-up, whatever the machine's speed). */
#define FX_TURNS 20000

bool fx_in_child;

void
fx_fail(const char *file, int line, const char *what)
{
	if (fx_in_child) {
		fprintf(stderr, "child: %s:%d: %s\n", file, line, what);
		_exit(99);
	}
	fail_msg("%s:%d: %s", file, line, what);
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(text);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, len) == (ssize_t)len);
	REQUIRE(close(fd) == 0);
}

static void
on_begin(void *arg)
{
	((struct fx *)arg)->begun++;
}

static void
on_end(void *arg)
{
	((struct fx *)arg)->ended++;
}

static void
on_answered(void *arg, const char *op, const char *result, const char *reason,
    double secs)
{
	(void)op;
	(void)result;
	(void)reason;
	(void)secs;
	((struct fx *)arg)->answered++;
}

void
fx_init(struct fx *f)
{
	const char *tmp = getenv("TMPDIR");
	char secret[PATH_MAX + 16], script[PATH_MAX + 16], *text;
	struct config_diag diag;

	request_init();
	log_init(LOG_LEVEL_WARNING);
	snprintf(f->root, sizeof(f->root), "%s/ssprd-engine.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	REQUIRE(mkdtemp(f->root) != NULL);
	snprintf(f->q, sizeof(f->q), "%s/queue", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->mail, sizeof(f->mail), "%s/mail", f->root);
	snprintf(f->ini, sizeof(f->ini), "%s/ssprd.ini", f->root);
	snprintf(secret, sizeof(secret), "%s/bind.secret", f->root);
	snprintf(script, sizeof(script), "%s/mail.sh", f->root);
	REQUIRE(mkdir(f->state, 0700) == 0);
	REQUIRE(mkdir(f->mail, 0700) == 0);
	write_text(secret, "s3cret\n", 0600);
	/* A stand-in for sendmail: each message into its own file, written
	 * under a dot name and renamed, so a reader never sees half of it. */
	write_text(script, "#!/bin/sh\nt=$(mktemp \"$1/.m.XXXXXX\") || exit 1\n"
	    "cat >\"$t\" && mv \"$t\" \"$1/m${t##*.}.msg\"\n", 0700);
	REQUIRE(asprintf(&text,
	    "[daemon]\n"
	    "queue_dir = %s\n"
	    "state_dir = %s\n"
	    "metrics =\n"
	    "submit_group =\n"
	    "max_wait = 3600\n"
	    "[directory]\n"
	    "type = %s\n"
	    "uri = ldaps://127.0.0.1:9\n"
	    "base_dn = dc=example,dc=org\n"
	    "bind_dn = cn=svc,dc=example,dc=org\n"
	    "bind_password_file = %s\n"
	    "timeout = 1\n"
	    "[email]\n"
	    "command = %s %s\n"
	    "[policy]\n"
	    "methods = %s\n"
	    "min_length = 8\n"
	    "admin_methods_required = 1\n"
	    "%s",
	    f->q, f->state, f->dirtype ? f->dirtype : "ad", secret, script,
	    f->mail, f->methods ? f->methods : "email", f->extra) > 0);
	write_text(f->ini, text, 0600);
	free(text);
	memset(&diag, 0, sizeof(diag));
	f->cfg = config_load(f->ini, &diag);
	for (size_t i = 0; f->cfg == NULL && i < diag.n; i++)
		fprintf(stderr, "# %s\n", diag.lines[i]);
	REQUIRE(f->cfg != NULL);
}

void
fx_open(struct fx *f)
{
	struct engine_hooks hooks = {
		.arg = f,
		.work_begin = on_begin,
		.work_end = on_end,
		.answered = on_answered,
	};
	char err[512];

	f->base = event_base_new();
	REQUIRE(f->base != NULL);
	f->st = store_open(f->state, err, sizeof(err));
	if (f->st == NULL)
		fprintf(stderr, "# store: %s\n", err);
	REQUIRE(f->st != NULL);
	f->n = notify_new(f->base);
	REQUIRE(f->n != NULL);
	f->e = engine_new(f->base, f->cfg, f->st, f->n, &hooks);
	REQUIRE(f->e != NULL);
	f->sp = spool_open(f->base, f->cfg, engine_request, f->e, err,
	    sizeof(err));
	if (f->sp == NULL)
		fprintf(stderr, "# spool: %s\n", err);
	REQUIRE(f->sp != NULL);
	engine_set_spool(f->e, f->sp);
	spool_start(f->sp);
}

/* As ssprd's main does at a stop. */
void
fx_close(struct fx *f)
{
	if (f->e == NULL)
		return;
	engine_shutdown(f->e);
	notify_free(f->n);
	engine_free(f->e);
	spool_close(f->sp);
	store_close(f->st);
	event_base_free(f->base);
	f->e = NULL;
	f->n = NULL;
	f->sp = NULL;
	f->st = NULL;
	f->base = NULL;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fx_destroy(struct fx *f)
{
	fx_close(f);
	config_free(f->cfg);
	f->cfg = NULL;
	if (f->root[0] != '\0' && getenv("KEEP_TMP") == NULL)
		nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
fx_submit(struct fx *f, const char *id, const char *fmt, ...)
{
	char tmp[PATH_MAX + 128], dst[PATH_MAX + 128], *body;
	va_list ap;
	int fd, len;

	va_start(ap, fmt);
	len = vasprintf(&body, fmt, ap);
	va_end(ap);
	REQUIRE(len > 0);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.json", f->q, id);
	snprintf(dst, sizeof(dst), "%s/new/%s.json", f->q, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, body, (size_t)len) == len);
	REQUIRE(close(fd) == 0);
	REQUIRE(rename(tmp, dst) == 0);
	free(body);
}

bool
fx_answered(struct fx *f, const char *id)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/out/%s.json", f->q, id);
	return access(path, F_OK) == 0;
}

json_t *
fx_take(struct fx *f, const char *id)
{
	char path[PATH_MAX + 128];
	json_error_t jerr;
	json_t *a;

	snprintf(path, sizeof(path), "%s/out/%s.json", f->q, id);
	if (access(path, F_OK) != 0)
		return NULL;
	a = json_load_file(path, 0, &jerr);
	REQUIRE(a != NULL);
	REQUIRE(unlink(path) == 0);
	return a;
}

void
fx_turn(struct fx *f)
{
	REQUIRE(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
}

json_t *
fx_wait(struct fx *f, const char *id)
{
	for (unsigned i = 0; i < FX_TURNS && !fx_answered(f, id); i++)
		fx_turn(f);
	if (!fx_answered(f, id))
		fprintf(stderr, "# no answer to %s\n", id);
	REQUIRE(fx_answered(f, id));
	return fx_take(f, id);
}

const char *
fx_str(const json_t *a, const char *key)
{
	const char *s = json_string_value(json_object_get(a, key));

	return s ? s : "";
}

const char *
fx_outcome(const json_t *a)
{
	const char *status = fx_str(a, "status");

	return strcmp(status, "ok") == 0 ? "ok" : fx_str(a, "reason");
}

unsigned
fx_mails(struct fx *f)
{
	DIR *d = opendir(f->mail);
	struct dirent *de;
	unsigned n = 0;

	REQUIRE(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void
fx_code_for(struct fx *f, const char *addr, char code[16])
{
	DIR *d = opendir(f->mail);
	struct dirent *de;
	char to[256];

	code[0] = '\0';
	snprintf(to, sizeof(to), "To: %s\n", addr);
	REQUIRE(d != NULL);
	while ((de = readdir(d)) != NULL && code[0] == '\0') {
		char path[PATH_MAX + 300], buf[8192];
		const char *p;
		size_t n;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->mail, de->d_name);
		REQUIRE((fp = fopen(path, "r")) != NULL);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		if (strstr(buf, to) == NULL ||
		    (p = strstr(buf, "reset code is ")) == NULL)
			continue;
		p += strlen("reset code is ");
		n = strspn(p, "0123456789");
		REQUIRE(n > 0 && n < 16);
		memcpy(code, p, n);
		code[n] = '\0';
		REQUIRE(unlink(path) == 0);
	}
	closedir(d);
}

json_t *
fx_start(struct fx *f, const char *id, const char *user, const char *ticket)
{
	if (ticket != NULL)
		fx_submit(f, id, "{\"v\":1,\"op\":\"start\",\"user\":\"%s\","
		    "\"method\":\"email\",\"ticket\":\"%s\"}", user, ticket);
	else
		fx_submit(f, id, "{\"v\":1,\"op\":\"start\",\"user\":\"%s\","
		    "\"method\":\"email\"}", user);
	return fx_wait(f, id);
}

void
fx_verified_ticket(struct fx *f, const char *user, const char *mail,
    char ticket[33])
{
	static unsigned seq;
	char id[64], code[16];
	json_t *a;

	snprintf(id, sizeof(id), "vt-start-%u", ++seq);
	a = fx_start(f, id, user, NULL);
	REQUIRE(strcmp(fx_outcome(a), "ok") == 0);
	snprintf(ticket, 33, "%s", fx_str(a, "ticket"));
	json_decref(a);
	fx_code_for(f, mail, code);
	REQUIRE(code[0] != '\0');
	snprintf(id, sizeof(id), "vt-verify-%u", seq);
	fx_submit(f, id, "{\"v\":1,\"op\":\"verify\",\"ticket\":\"%s\","
	    "\"code\":\"%s\"}", ticket, code);
	a = fx_wait(f, id);
	REQUIRE(strcmp(fx_outcome(a), "ok") == 0);
	json_decref(a);
}
