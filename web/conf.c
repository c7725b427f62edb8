/*
 * conf.c - ssprweb.ini: one [web] section, every key checked, every error
 * reported with the file, the line and the key (man ssprweb.ini(5) is in
 * docs/ssprweb.md).
 *
 * A key given twice, a key ssprweb does not know, or a section other than
 * [web] is an error, not something to ignore: a typo must not quietly
 * leave a default in force. The session key is read from its file (which
 * must be 0600 or stricter, as ssprd's secrets) into locked memory.
 */
#include "build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <sodium.h>

#include "common/netaddr.h"
#include "common/xalloc.h"
#include "config/values.h"
#include "web/web.h"

#ifndef SSPRWEB_DATA_DIR
#define SSPRWEB_DATA_DIR "/usr/share/ssprweb"
#endif

enum kind { K_STR, K_PATH, K_UINT, K_HOSTPORT, K_ADDRS, K_URL, K_LEVEL, K_LANG };

static const char *const level_names[] = { "error", "warning", "info", "debug",
	NULL };

#define O(f) offsetof(struct webconf, f)
static const struct key {
	const char *name;
	enum kind kind;
	size_t off;
	const char *def;
	unsigned min, max;
} keys[] = {
	{ "listen", K_HOSTPORT, O(listen_host), "127.0.0.1:8080", 0, 0 },
	{ "queue_dir", K_PATH, O(queue_dir), "/run/ssprd/queue", 0, 0 },
	{ "trusted_proxies", K_ADDRS, O(trusted_proxies), "", 0, 0 },
	{ "base_url", K_URL, O(base_url), "/", 0, 0 },
	{ "organisation", K_STR, O(organisation), "Self-service password", 1, 100 },
	{ "logo", K_PATH, O(logo), "", 0, 0 },
	{ "help_url", K_URL, O(help_url), "", 0, 0 },
	{ "default_language", K_LANG, O(default_language), "en", 0, 0 },
	{ "session_key_file", K_PATH, O(session_key_file),
	  "/etc/ssprd/ssprweb.key", 0, 0 },
	{ "data_dir", K_PATH, O(data_dir), SSPRWEB_DATA_DIR, 0, 0 },
	{ "max_sessions", K_UINT, O(max_sessions), "10000", 10, 1000000 },
	{ "session_idle", K_UINT, O(session_idle), "900", 60, 86400 },
	{ "answer_timeout", K_UINT, O(answer_timeout), "90", 5, 600 },
	{ "requests_per_minute", K_UINT, O(requests_per_minute), "60", 0, 100000 },
	{ "max_body", K_UINT, O(max_body), "16384", 1024, 65536 },
	{ "timeout", K_UINT, O(timeout), "10", 1, 300 },
	{ "log_level", K_LEVEL, O(log_level), "info", 0, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct load {
	struct webconf *c;
	const char *path;
	unsigned seen[NKEYS];	/* line of each key, 0 when not given */
	char *err;
	size_t errsize;
	bool failed;
	FILE *f;
	int lineno;
};

/* inih's reader: counts lines (Debian's inih passes none to handlers). */
static char *
reader(char *str, int num, void *stream)
{
	struct load *ld = stream;

	if (fgets(str, num, ld->f) == NULL)
		return NULL;
	ld->lineno++;
	return str;
}

/* Addresses, separated by blanks or commas, each made canonical. */
static const char *
addrs(const char *s, char ***out)
{
	char *copy = xstrdup(s), *save = NULL, *tok;
	size_t n = 0;

	*out = xcalloc(1, sizeof(char *));
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		char canon[NETADDR_MAX];

		if (netaddr_canonical(tok, canon, sizeof(canon)) != 0) {
			free(copy);
			return "must be IP addresses (no names, no prefixes)";
		}
		*out = xreallocarray(*out, n + 2, sizeof(char *));
		(*out)[n++] = xstrdup(canon);
		(*out)[n] = NULL;
	}
	free(copy);
	return NULL;
}

static void
free_addrs(struct webconf *c)
{
	size_t i;

	if (c->trusted_proxies != NULL)
		for (i = 0; c->trusted_proxies[i] != NULL; i++)
			free(c->trusted_proxies[i]);
	free(c->trusted_proxies);
	c->trusted_proxies = NULL;
}

static const char *
set(struct webconf *c, const struct key *k, const char *v, char msg[VALUE_MSG_MAX])
{
	void *f = (char *)c + k->off;
	const char *e = NULL;
	int idx;
	size_t len = strlen(v);

	switch (k->kind) {
	case K_STR:
		if (len < k->min || len > k->max || strpbrk(v, "\r\n") != NULL) {
			snprintf(msg, VALUE_MSG_MAX, "must be %u to %u characters of "
			    "text", k->min, k->max);
			return msg;
		}
		break;
	case K_PATH:
		if (len > 0 && (e = value_abs_path(v)) != NULL)
			return e;
		break;
	case K_URL:
		if (len > 0 && strncmp(v, "https://", 8) != 0 &&
		    strncmp(v, "http://", 7) != 0 && v[0] != '/')
			return "must be an http:// or https:// URL or a path "
			    "starting with /";
		if (strpbrk(v, " \t\"'<>\\") != NULL)
			return "must not contain blanks, quotes, < > or \\";
		break;
	case K_UINT:
		return value_uint(v, k->min, k->max, f, msg);
	case K_HOSTPORT:
		free(c->listen_host);
		c->listen_host = NULL;
		return value_host_port(v, &c->listen_host, &c->listen_port);
	case K_ADDRS:
		free_addrs(c);
		return addrs(v, f);
	case K_LEVEL:
		if ((e = value_enum(v, level_names, &idx, msg)) == NULL)
			c->log_level = (enum log_level)idx;
		return e;
	case K_LANG:
		if (len < 2 || len > 3 || strspn(v, "abcdefghijklmnopqrstuvwxyz") != len)
			return "must be a language code in lower case, such as en "
			    "or tr";
		break;
	}
	free(*(char **)f);
	*(char **)f = len > 0 ? xstrdup(v) : NULL;
	return NULL;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	int lineno = ld->lineno;
	char msg[VALUE_MSG_MAX];
	const char *e;
	size_t i;

	if (ld->failed)
		return 0;
	if (strcmp(section, "web") != 0) {
		snprintf(ld->err, ld->errsize, "%s:%d: unknown section [%s] (only "
		    "[web])", ld->path, lineno, section);
		ld->failed = true;
		return 0;
	}
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (i == NKEYS) {
		snprintf(ld->err, ld->errsize, "%s:%d: unknown key %s", ld->path,
		    lineno, name);
	} else if (ld->seen[i] != 0) {
		snprintf(ld->err, ld->errsize, "%s:%d: %s is set twice (first on "
		    "line %u)", ld->path, lineno, name, ld->seen[i]);
	} else if ((e = set(ld->c, &keys[i], value, msg)) != NULL) {
		snprintf(ld->err, ld->errsize, "%s:%d: %s: %s", ld->path, lineno,
		    name, e);
	} else {
		ld->seen[i] = (unsigned)lineno;
		return 1;
	}
	ld->failed = true;
	return 0;
}

struct webconf *
webconf_load(const char *path, char *err, size_t errsize)
{
	struct webconf *c = xcalloc(1, sizeof(*c));
	struct load ld = { c, path, { 0 }, err, errsize, false, NULL, 0 };
	char msg[VALUE_MSG_MAX];
	const char *e;
	size_t i;
	FILE *f;
	int rc;

	for (i = 0; i < NKEYS; i++)
		if ((e = set(c, &keys[i], keys[i].def, msg)) != NULL) {
			snprintf(err, errsize, "built-in default of %s: %s",
			    keys[i].name, e);
			goto fail;
		}
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		goto fail;
	}
	ld.f = f;
	rc = ini_parse_stream(reader, &ld, on_key, &ld);
	fclose(f);
	if (ld.failed)
		goto fail;
	if (rc != 0) {
		snprintf(err, errsize, "%s:%d: not a key = value line", path, rc);
		goto fail;
	}
	if (c->session_key_file == NULL) {
		snprintf(err, errsize, "%s: session_key_file must be set", path);
		goto fail;
	}
	if ((e = value_key_file(c->session_key_file, &c->session_key, msg)) != NULL) {
		snprintf(err, errsize, "%s: session_key_file: %s", path, e);
		goto fail;
	}
	if (c->logo != NULL && (e = value_readable_file(c->logo, msg)) != NULL) {
		snprintf(err, errsize, "%s: logo: %s", path, e);
		goto fail;
	}
	if (c->session_idle <= c->answer_timeout) {
		snprintf(err, errsize, "%s: session_idle must be longer than "
		    "answer_timeout", path);
		goto fail;
	}
	return c;
fail:
	webconf_free(c);
	return NULL;
}

void
webconf_free(struct webconf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].kind != K_UINT && keys[i].kind != K_LEVEL &&
		    keys[i].kind != K_HOSTPORT && keys[i].kind != K_ADDRS)
			free(*(char **)((char *)c + keys[i].off));
	free_addrs(c);
	free(c->listen_host);
	sodium_free(c->session_key);
	free(c);
}
