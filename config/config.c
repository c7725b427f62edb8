/*
 * config.c - load ssprd.ini into an immutable struct config (see config.h).
 *
 * The file is read through inih with a reader of our own, which counts lines
 * (so every message names one), refuses lines inih would silently split
 * (longer than its buffer) or cut (NUL bytes), and recognises section headers
 * as they go by. Every key is described once, in the table `keys` below: its
 * section, type, default and range. Defaults are run through the same parsers
 * as the admin's values, so a default can never be invalid. Relations between
 * keys are checked after the whole file is read (check_relations()).
 *
 * Never aborts on a bad file; reports and returns NULL instead.
 */
#include "build.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>
#include <jansson.h>
#include <sodium.h>

#include "common/breach.h"
#include "common/utf8.h"
#include "config/config.h"
#include "config/values.h"

enum key_type {
	K_STRING,	/* header-safe text */
	K_PATH,		/* absolute path, not opened */
	K_DIR,		/* absolute path of a folder, read at load; "" = unset */
	K_FILE,		/* absolute path of a readable file; "" = unset */
	K_SECRET,	/* secret file: checked, not read */
	K_PASSWORD,	/* secret file: checked, its line read (password_fields[]) */
	K_HEADERS,	/* secret file of header lines, read the same way */
	K_KEY,		/* secret file of hex digits: read into totp.key; "" = unset */
	K_LINES,	/* a file of lines: banned words, question choices */
	K_UINT,
	K_BOOL,
	K_ENUM,
	K_DN,
	K_DN_LIST,	/* repeatable; "" adds nothing */
	K_URIS,		/* repeatable */
	K_FILTER,
	K_ATTR,
	K_ATTR_OPT,	/* attribute or "" / "(none)" for unset */
	K_METHODS,
	K_LISTEN,	/* host:port or "" for off */
	K_COMMAND,
	K_SASL_MECH,
	K_USER,		/* a user name */
	K_GROUP,	/* a group name, or "" for none */
	K_EMAIL_TEMPLATE,	/* file: headers, blank line, body */
	K_SMS_TEMPLATE,		/* file: text */
	K_URL,		/* smtp_url, url: checked by check_delivery() */
	K_EVENTS,	/* [email] notify */
};

static const char *const log_level_names[] = {
	"error", "warning", "info", "debug", NULL
};
static const char *const dir_type_names[] = { "ad", "openldap", NULL };
static const char *const bind_names[] = { "simple", "sasl", NULL };
static const char *const history_names[] = { "auto", "yes", "no", NULL };
static const char *const http_method_names[] = { "POST", "PUT", NULL };
static const char *const body_type_names[] = { "form", "json", NULL };
static const char *const backend_names[] = { "lmdb", "redis", NULL };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;		/* into struct config */
	const char *def;	/* NULL: no default */
	unsigned min, max;	/* K_UINT */
	const char *const *names;	/* K_ENUM */
};

#define O(f) offsetof(struct config, f)

static const struct key keys[] = {
	{ "daemon", "queue_dir", K_PATH, O(daemon.queue_dir), "/run/ssprd/queue", 0, 0, NULL },
	{ "daemon", "state_dir", K_PATH, O(daemon.state_dir), "/var/lib/ssprd", 0, 0, NULL },
	{ "daemon", "templates_dir", K_DIR, O(daemon.templates_dir), "", 0, 0, NULL },
	{ "daemon", "log_level", K_ENUM, O(daemon.log_level), "info", 0, 0, log_level_names },
	{ "daemon", "metrics", K_LISTEN, O(daemon.metrics_host), "127.0.0.1:9469", 0, 0, NULL },
	{ "daemon", "answer_ttl", K_UINT, O(daemon.answer_ttl), "3600", 60, 7 * 86400, NULL },
	{ "daemon", "rescan_interval", K_UINT, O(daemon.rescan_interval), "30", 1, 3600, NULL },
	{ "daemon", "shutdown_timeout", K_UINT, O(daemon.shutdown_timeout), "20", 1, 600, NULL },
	{ "daemon", "max_wait", K_UINT, O(daemon.max_wait), "60", 5, 3600, NULL },
	{ "daemon", "user", K_USER, O(daemon.user), "ssprd", 0, 0, NULL },
	{ "daemon", "submit_group", K_GROUP, O(daemon.submit_group), "ssprd-submit", 0, 0, NULL },

	{ "directory", "type", K_ENUM, O(directory.type), NULL, 0, 0, dir_type_names },
	{ "directory", "uri", K_URIS, O(directory.uris), NULL, 0, 0, NULL },
	{ "directory", "base_dn", K_DN, O(directory.base_dn), NULL, 0, 0, NULL },
	{ "directory", "user_filter", K_FILTER, O(directory.user_filter), NULL, 0, 0, NULL },
	{ "directory", "bind", K_ENUM, O(directory.bind), "simple", 0, 0, bind_names },
	{ "directory", "bind_dn", K_DN, O(directory.bind_dn), NULL, 0, 0, NULL },
	{ "directory", "bind_password_file", K_PASSWORD, O(directory.bind_password_file), NULL, 0, 0, NULL },
	{ "directory", "sasl_mech", K_SASL_MECH, O(directory.sasl_mech), "EXTERNAL", 0, 0, NULL },
	{ "directory", "sasl_authz_id", K_STRING, O(directory.sasl_authz_id), "", 0, 0, NULL },
	{ "directory", "sasl_keytab", K_SECRET, O(directory.sasl_keytab), "", 0, 0, NULL },
	{ "directory", "ca_file", K_FILE, O(directory.ca_file), "", 0, 0, NULL },
	{ "directory", "tls_cert_file", K_FILE, O(directory.tls_cert_file), "", 0, 0, NULL },
	{ "directory", "tls_key_file", K_SECRET, O(directory.tls_key_file), "", 0, 0, NULL },
	{ "directory", "starttls", K_BOOL, O(directory.starttls), "no", 0, 0, NULL },
	{ "directory", "connections", K_UINT, O(directory.connections), "4", 1, 64, NULL },
	{ "directory", "timeout", K_UINT, O(directory.timeout), "10", 1, 300, NULL },
	{ "directory", "unlock_on_reset", K_BOOL, O(directory.unlock_on_reset), "yes", 0, 0, NULL },
	{ "directory", "ppolicy_default", K_DN, O(directory.ppolicy_default), "", 0, 0, NULL },
	{ "directory", "enforce_history", K_ENUM, O(directory.enforce_history), "auto", 0, 0, history_names },

	{ "policy", "allowed_groups", K_DN_LIST, O(policy.allowed_groups), "", 0, 0, NULL },
	{ "policy", "admin_groups", K_DN_LIST, O(policy.admin_groups), "", 0, 0, NULL },
	{ "policy", "methods", K_METHODS, O(policy.methods), "email", 0, 0, NULL },
	{ "policy", "methods_required", K_UINT, O(policy.methods_required), "1", 1, 3, NULL },
	{ "policy", "admin_methods", K_METHODS, O(policy.admin_methods), NULL, 0, 0, NULL },
	{ "policy", "admin_methods_required", K_UINT, O(policy.admin_methods_required), "2", 1, 3, NULL },
	{ "policy", "min_length", K_UINT, O(policy.min_length), "15", 8, 256, NULL },
	{ "policy", "max_length", K_UINT, O(policy.max_length), "256", 8, 1024, NULL },
	{ "policy", "banned_passwords", K_LINES, O(policy.banned_passwords), "", 0, 0, NULL },
	{ "policy", "directory_rules", K_BOOL, O(policy.directory_rules), "yes", 0, 0, NULL },
	{ "policy", "min_score", K_UINT, O(policy.min_score), "5", 0, 100, NULL },
	{ "policy", "breached_file", K_FILE, O(policy.breached_file), "", 0, 0, NULL },
	{ "policy", "breached_min_count", K_UINT, O(policy.breached_min_count), "1", 1, 1000000000, NULL },
	{ "policy", "code_length", K_UINT, O(policy.code_length), "8", 6, 12, NULL },
	{ "policy", "code_ttl", K_UINT, O(policy.code_ttl), "600", 60, 86400, NULL },
	{ "policy", "ticket_lifetime", K_UINT, O(policy.ticket_lifetime), "3600", 60, 7 * 86400, NULL },
	{ "policy", "max_attempts", K_UINT, O(policy.max_attempts), "5", 1, 20, NULL },
	{ "policy", "max_starts_per_hour", K_UINT, O(policy.max_starts_per_hour), "5", 1, 100, NULL },
	{ "policy", "max_starts_per_client_hour", K_UINT, O(policy.max_starts_per_client_hour), "30", 1, 100000, NULL },
	{ "policy", "max_failures_per_client_hour", K_UINT, O(policy.max_failures_per_client_hour), "30", 1, 100000, NULL },
	{ "policy", "lockout_failures", K_UINT, O(policy.lockout_failures), "5", 1, 100, NULL },
	{ "policy", "lockout_time", K_UINT, O(policy.lockout_time), "86400", 60, 30 * 86400, NULL },
	{ "policy", "reconfirm_days", K_UINT, O(policy.reconfirm_days), "0", 0, 3650, NULL },

	{ "email", "command", K_COMMAND, O(email.command), "/usr/sbin/sendmail -t -oi", 0, 0, NULL },
	{ "email", "timeout", K_UINT, O(email.timeout), "30", 1, 600, NULL },
	{ "email", "attribute", K_ATTR, O(email.attribute), "mail", 0, 0, NULL },
	{ "email", "recovery_attribute", K_ATTR_OPT, O(email.recovery_attribute), NULL, 0, 0, NULL },
	{ "email", "from", K_STRING, O(email.from), "SSPR <ssprd@localhost>", 0, 0, NULL },
	{ "email", "code_template", K_EMAIL_TEMPLATE, O(email.code_template), "", 0, 0, NULL },
	{ "email", "notice_template", K_EMAIL_TEMPLATE, O(email.notice_template), "", 0, 0, NULL },
	{ "email", "admin_notice_template", K_EMAIL_TEMPLATE, O(email.admin_notice_template), "", 0, 0, NULL },
	{ "email", "smtp_url", K_URL, O(email.smtp_url), "", 0, 0, NULL },
	{ "email", "starttls", K_BOOL, O(email.starttls), "yes", 0, 0, NULL },
	{ "email", "smtp_user", K_STRING, O(email.smtp_user), "", 0, 0, NULL },
	{ "email", "smtp_password_file", K_PASSWORD, O(email.smtp_password_file), "", 0, 0, NULL },
	{ "email", "ca_file", K_FILE, O(email.ca_file), "", 0, 0, NULL },
	{ "email", "helo", K_STRING, O(email.helo), "", 0, 0, NULL },
	{ "email", "max_connections", K_UINT, O(email.max_connections), "4", 1, 64, NULL },
	{ "email", "notify", K_EVENTS, O(email.notify), "reset, unlock, change, register", 0, 0, NULL },

	{ "sms", "command", K_COMMAND, O(sms.command), NULL, 0, 0, NULL },
	{ "sms", "timeout", K_UINT, O(sms.timeout), "30", 1, 600, NULL },
	{ "sms", "attribute", K_ATTR, O(sms.attribute), "mobile", 0, 0, NULL },
	{ "sms", "recovery_attribute", K_ATTR_OPT, O(sms.recovery_attribute), NULL, 0, 0, NULL },
	{ "sms", "code_template", K_SMS_TEMPLATE, O(sms.code_template), "", 0, 0, NULL },
	{ "sms", "url", K_URL, O(sms.url), "", 0, 0, NULL },
	{ "sms", "method", K_ENUM, O(sms.method), "POST", 0, 0, http_method_names },
	{ "sms", "body", K_STRING, O(sms.body), "", 0, 0, NULL },
	{ "sms", "body_type", K_ENUM, O(sms.body_type), "form", 0, 0, body_type_names },
	{ "sms", "header_file", K_HEADERS, O(sms.header_file), "", 0, 0, NULL },
	{ "sms", "ca_file", K_FILE, O(sms.ca_file), "", 0, 0, NULL },

	{ "questions", "attribute", K_ATTR_OPT, O(questions.attribute), "", 0, 0, NULL },
	{ "questions", "required", K_UINT, O(questions.required), "3", 1, 10, NULL },
	{ "questions", "choices", K_LINES, O(questions.choices_file), "", 0, 0, NULL },

	{ "totp", "attribute", K_ATTR_OPT, O(totp.attribute), "", 0, 0, NULL },
	{ "totp", "key_file", K_KEY, O(totp.key_file), "", 0, 0, NULL },
	{ "totp", "issuer", K_STRING, O(totp.issuer), "ssprd", 0, 0, NULL },

	{ "state", "backend", K_ENUM, O(state.backend), "lmdb", 0, 0, backend_names },
	{ "state", "redis_url", K_STRING, O(state.redis_url), "", 0, 0, NULL },
	{ "state", "redis_password_file", K_PASSWORD, O(state.redis_password_file), "", 0, 0, NULL },
	{ "state", "redis_ca_file", K_FILE, O(state.redis_ca_file), "", 0, 0, NULL },
	{ "state", "redis_user", K_STRING, O(state.redis_user), "", 0, 0, NULL },
	{ "state", "key_prefix", K_STRING, O(state.key_prefix), "ssprd:", 0, 0, NULL },
	{ "state", "redis_sentinels", K_STRING, O(state.redis_sentinels_text), "", 0, 0, NULL },
	{ "state", "redis_master_name", K_STRING, O(state.redis_master_name), "", 0, 0, NULL },
	{ "state", "redis_min_replicas", K_UINT, O(state.redis_min_replicas), "0", 0, 16, NULL },
	{ "state", "instance", K_STRING, O(state.instance), "", 0, 0, NULL },

};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Where each K_PASSWORD or K_HEADERS file's content goes
 * (sodium_malloc()ed). */
static const struct {
	size_t key, content, len;
} password_fields[] = {
	{ O(directory.bind_password_file), O(directory.bind_password),
	  O(directory.bind_password_len) },
	{ O(email.smtp_password_file), O(email.smtp_password),
	  O(email.smtp_password_len) },
	{ O(sms.header_file), O(sms.headers), O(sms.headers_len) },
	{ O(state.redis_password_file), O(state.redis_password),
	  O(state.redis_password_len) },
};

static char **
password_field(struct config *cfg, size_t k, size_t **len)
{
	for (size_t i = 0; i < sizeof(password_fields) /
	    sizeof(password_fields[0]); i++) {
		if (password_fields[i].key != keys[k].off)
			continue;
		*len = (size_t *)(void *)((char *)cfg + password_fields[i].len);
		return (char **)(void *)((char *)cfg + password_fields[i].content);
	}
	abort();	/* a K_PASSWORD key without a field: a bug here */
}

static const char *const sections[] = {
	"daemon", "directory", "policy", "email", "sms", "questions", "totp",
	"state", NULL
};

struct loader {
	const char *path;
	FILE *f;
	char *buf;
	size_t bufsz;
	unsigned lineno;
	unsigned section_line[sizeof(sections) / sizeof(sections[0])];
	bool unknown_section;	/* keys are skipped until the next header */
	unsigned key_line[NKEYS];	/* 0: not set in the file */
	bool key_set[NKEYS];		/* set by file or default */
	struct config *cfg;
	struct config_diag *diag;
	struct pending { unsigned line, seq; char *text; bool error; } *msgs;
	size_t nmsgs;
	bool no_secrets;	/* config_load_public() */
	bool choices_full;	/* [questions] choices: said it has too many */
};

static void __attribute__((format(printf, 4, 5)))
diag_add(struct loader *ld, unsigned line, bool error, const char *fmt, ...)
{
	struct pending *p;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ld->msgs = xreallocarray(ld->msgs, ld->nmsgs + 1, sizeof(*ld->msgs));
	p = &ld->msgs[ld->nmsgs];
	p->line = line;
	p->seq = (unsigned)ld->nmsgs++;
	p->error = error;
	p->text = xasprintf("%s:%u: %s%s", ld->path, line,
	    error ? "" : "warning: ", msg ? msg : "(out of memory)");
	free(msg);
}

static int
cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Hand the messages to the caller in line order. */
static void
flush_diag(struct loader *ld)
{
	struct config_diag *d = ld->diag;

	if (ld->nmsgs == 0)
		return;
	qsort(ld->msgs, ld->nmsgs, sizeof(*ld->msgs), cmp_pending);
	d->lines = xreallocarray(d->lines, d->n + ld->nmsgs, sizeof(*d->lines));
	d->is_error = xreallocarray(d->is_error, d->n + ld->nmsgs,
	    sizeof(*d->is_error));
	for (size_t i = 0; i < ld->nmsgs; i++) {
		d->is_error[d->n] = ld->msgs[i].error;
		d->lines[d->n++] = ld->msgs[i].text;
		if (ld->msgs[i].error)
			d->errors++;
	}
	free(ld->msgs);
	ld->msgs = NULL;
	ld->nmsgs = 0;
}

static int
section_index(const char *name)
{
	for (int i = 0; sections[i] != NULL; i++)
		if (strcmp(sections[i], name) == 0)
			return i;
	return -1;
}

static size_t
key_index(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return i;
	return NKEYS;
}

/* The line to blame for a key: where it was set, else its section header,
 * else the end of the file. */
static unsigned
blame_line(const struct loader *ld, size_t k)
{
	int s;

	if (ld->key_line[k] != 0)
		return ld->key_line[k];
	s = section_index(keys[k].section);
	if (s >= 0 && ld->section_line[s] != 0)
		return ld->section_line[s];
	return ld->lineno;
}

#define FIELD(cfg, k, type) ((type *)(void *)((char *)(cfg) + keys[k].off))

/* What each message fills (daemon/ops.c, engine.c): a template may use
 * these and no other. */
static const char *const *
template_fills(const char *key)
{
	static const char *const code[] = { "user", "code", "minutes", NULL };
	static const char *const notice[] = { "user", "action", "time", "client",
	    NULL };
	static const char *const admin[] = { "admin", "user", "action", "time",
	    NULL };

	if (strcmp(key, "code_template") == 0)
		return code;
	return strcmp(key, "notice_template") == 0 ? notice : admin;
}

/* Parse one value into the config. Returns an error message or NULL. */
static const char *
set_value(struct loader *ld, size_t k, const char *v, char msg[VALUE_MSG_MAX])
{
	const struct key *key = &keys[k];
	struct config *cfg = ld->cfg;
	const char *err = NULL;
	char **str = FIELD(cfg, k, char *);
	bool empty = (*v == '\0');
	int idx;

	switch (key->type) {
	case K_STRING:
		if (empty && strcmp(key->name, "from") != 0 &&
		    strcmp(key->name, "issuer") != 0)
			break;		/* optional texts */
		if ((err = value_header_text(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_GROUP:
		if (empty)
			break;
		/* FALLTHROUGH */
	case K_USER:
		if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(v) ||
		    empty || v[0] == '-')
			err = "must be a name (lower case letters, digits, _ - .)";
		else if (key->type == K_USER && strcmp(v, "root") == 0)
			err = "may not be root: ssprd does not run as root";
		else
			*str = xstrdup(v);
		break;
	case K_PATH:
		if ((err = value_abs_path(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_FILE:
		if (empty)
			break;
		if ((err = value_readable_file(v, msg)) == NULL)
			*str = xstrdup(v);
		break;
	case K_DIR:
		if (empty)
			break;
		if ((err = value_abs_path(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_SECRET:
		if (empty)
			break;
		if (ld->no_secrets ||
		    (err = value_secret_file(v, false, NULL, NULL, msg)) == NULL)
			*str = xstrdup(v);
		break;
	case K_PASSWORD:
	case K_HEADERS:
		if (empty && key->def != NULL && *key->def == '\0')
			break;		/* optional, unset */
		if (ld->no_secrets) {
			*str = xstrdup(v);	/* not read, not checked */
			break;
		}
		{
			size_t *len;
			char **content = password_field(cfg, k, &len);

			err = key->type == K_HEADERS ?
			    value_secret_headers(v, content, len, msg) :
			    value_secret_file(v, true, content, len, msg);
		}
		if (err == NULL)
			*str = xstrdup(v);
		break;
	case K_KEY:
		if (empty)
			break;
		if (ld->no_secrets ||
		    (err = value_key_file(v, &cfg->totp.key, msg)) == NULL)
			*str = xstrdup(v);
		break;
	case K_LINES:
		if (empty)
			break;
		if ((err = value_readable_file(v, msg)) == NULL)
			*str = xstrdup(v);
		break;
	case K_UINT:
		err = value_uint(v, key->min, key->max, FIELD(cfg, k, unsigned), msg);
		break;
	case K_BOOL:
		err = value_bool(v, FIELD(cfg, k, bool));
		break;
	case K_ENUM:
		if ((err = value_enum(v, key->names, &idx, msg)) == NULL)
			*FIELD(cfg, k, int) = idx;
		break;
	case K_DN:
		if (empty && keys[k].def != NULL && *keys[k].def == '\0')
			break;		/* optional, unset */
		if ((err = value_dn(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_DN_LIST:
		if (empty)
			break;
		if ((err = value_dn(v)) == NULL)
			strlist_add(FIELD(cfg, k, struct strlist), v);
		break;
	case K_URIS:
		err = value_uri_list(v, FIELD(cfg, k, struct strlist), msg);
		break;
	case K_FILTER:
		if ((err = value_user_filter(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_ATTR_OPT:
		if (empty || strcmp(v, "(none)") == 0)
			break;
		/* FALLTHROUGH */
	case K_ATTR:
		if ((err = value_attribute(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_METHODS:
		err = value_methods(v, FIELD(cfg, k, unsigned), msg);
		break;
	case K_LISTEN:
		if (empty)
			break;
		err = value_host_port(v, &cfg->daemon.metrics_host,
		    &cfg->daemon.metrics_port);
		break;
	case K_COMMAND:
		err = value_command(v, FIELD(cfg, k, struct command));
		break;
	case K_URL:
		if (empty)
			break;
		if ((err = value_header_text(v)) == NULL)
			*str = xstrdup(v);
		break;
	case K_EVENTS:
		err = value_events(v, FIELD(cfg, k, unsigned), msg);
		break;
	case K_EMAIL_TEMPLATE:
	case K_SMS_TEMPLATE:
		if (empty)
			break;
		err = value_template(v, key->type == K_EMAIL_TEMPLATE,
		    template_fills(key->name), strcmp(key->name,
		    "code_template") == 0, str, msg);
		break;
	case K_SASL_MECH:
		if (empty || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		    strlen(v) || strlen(v) > 20)
			err = "must be a SASL mechanism name such as EXTERNAL or GSSAPI";
		else
			*str = xstrdup(v);
		break;
	}
	return err;
}

/* Keys that may be given more than once (lists), and continuation lines. */
static bool
repeatable(const struct key *key)
{
	return key->type == K_DN_LIST || key->type == K_URIS;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	char msg[VALUE_MSG_MAX];
	const char *err;
	size_t k;

	if (ld->unknown_section)
		return 1;	/* reported at its header */
	k = key_index(section, name);
	if (k == NKEYS) {
		diag_add(ld, ld->lineno, true, "unknown key '%s' in section [%s]",
		    name, section);
		return 1;
	}
	if (ld->key_line[k] != 0 && !repeatable(&keys[k])) {
		diag_add(ld, ld->lineno, true,
		    "'%s' is already set at line %u", name, ld->key_line[k]);
		return 1;
	}
	ld->key_line[k] = ld->lineno;
	if ((err = set_value(ld, k, value, msg)) != NULL)
		diag_add(ld, ld->lineno, true, "%s: %s", name, err);
	else
		ld->key_set[k] = true;
	return 1;	/* keep going: report every problem at once */
}

/* Section headers are tracked here, where the line number is known. */
static void
note_section(struct loader *ld, const char *line)
{
	const char *p = line + strspn(line, " \t"), *end;
	char name[64];
	int s;

	if (*p != '[')
		return;
	end = strchr(p, ']');
	if (end == NULL)
		return;		/* inih reports the syntax error */
	if ((size_t)(end - p - 1) >= sizeof(name)) {
		ld->unknown_section = true;
		diag_add(ld, ld->lineno, true, "unknown section");
		return;
	}
	memcpy(name, p + 1, (size_t)(end - p - 1));
	name[end - p - 1] = '\0';
	s = section_index(name);
	ld->unknown_section = (s < 0);
	if (s < 0)
		diag_add(ld, ld->lineno, true, "unknown section [%s]", name);
	else if (ld->section_line[s] == 0)
		ld->section_line[s] = ld->lineno;
}

static char *
reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	ssize_t n;

	n = getline(&ld->buf, &ld->bufsz, ld->f);
	if (n < 0)
		return NULL;
	ld->lineno++;
	if (memchr(ld->buf, '\0', (size_t)n) != NULL) {
		diag_add(ld, ld->lineno, true, "line contains a NUL byte");
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	if (n >= num) {
		diag_add(ld, ld->lineno, true,
		    "line is longer than %d characters; continue lists on "
		    "indented lines", num - 2);
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	memcpy(str, ld->buf, (size_t)n + 1);
	note_section(ld, str);
	return str;
}

static void
apply_defaults(struct loader *ld)
{
	char msg[VALUE_MSG_MAX];
	const char *err;

	for (size_t k = 0; k < NKEYS; k++) {
		if (ld->key_line[k] != 0 || keys[k].def == NULL)
			continue;
		if ((err = set_value(ld, k, keys[k].def, msg)) != NULL)
			diag_add(ld, blame_line(ld, k), true,
			    "default of %s (%s) is unusable: %s", keys[k].name,
			    keys[k].def, err);
		else
			ld->key_set[k] = true;
	}
}

static unsigned
count_bits(unsigned v)
{
	return (unsigned)__builtin_popcount(v);
}

#define KEY(section, name) key_index(section, name)
#define BLAME(section, name) blame_line(ld, KEY(section, name))
#define IS_SET(section, name) (ld->key_set[KEY(section, name)])
#define REQUIRE(section, name, why) do { \
	if (!IS_SET(section, name) && ld->key_line[KEY(section, name)] == 0) \
		diag_add(ld, BLAME(section, name), true, \
		    "[%s] %s is required%s", section, name, why); \
} while (0)

/* Plain ldap:// without StartTLS is acceptable only under a SASL security
 * layer that encrypts: GSSAPI, with a minimum strength enforced by
 * session.c. */
static bool
sealed_by_sasl(const struct config *cfg)
{
	return cfg->directory.bind == BIND_SASL &&
	    cfg->directory.sasl_mech != NULL &&
	    strcmp(cfg->directory.sasl_mech, "GSSAPI") == 0;
}

static void
check_directory(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	bool need_cert = false;

	REQUIRE("directory", "type", " (ad or openldap)");
	REQUIRE("directory", "uri", "");
	REQUIRE("directory", "base_dn", "");
	if (!IS_SET("directory", "user_filter") &&
	    ld->key_line[KEY("directory", "user_filter")] == 0)
		cfg->directory.user_filter = xstrdup(
		    cfg->directory.type == DIR_TYPE_AD ?
		    "(&(objectClass=user)(sAMAccountName=%s))" :
		    "(&(objectClass=inetOrgPerson)(uid=%s))");
	/* AD has attributes for another address and number that nothing
	 * else owns; OpenLDAP's schemas do not (ssprd.ini(5) shows one). */
	if (cfg->directory.type == DIR_TYPE_AD &&
	    !IS_SET("email", "recovery_attribute") &&
	    ld->key_line[KEY("email", "recovery_attribute")] == 0)
		cfg->email.recovery_attribute = xstrdup("otherMailbox");
	if (cfg->directory.type == DIR_TYPE_AD &&
	    !IS_SET("sms", "recovery_attribute") &&
	    ld->key_line[KEY("sms", "recovery_attribute")] == 0)
		cfg->sms.recovery_attribute = xstrdup("otherMobile");

	for (size_t i = 0; i < cfg->directory.uris.n; i++) {
		const char *u = cfg->directory.uris.v[i];

		if (strncmp(u, "ldapi:", 6) == 0) {
			if (cfg->directory.type == DIR_TYPE_AD)
				diag_add(ld, BLAME("directory", "uri"), true,
				    "%s: Active Directory has no ldapi:// listener",
				    u);
		} else if (strncmp(u, "ldaps:", 6) == 0) {
			need_cert = true;
		} else if (cfg->directory.starttls) {
			need_cert = true;
		} else if (!sealed_by_sasl(cfg)) {
			diag_add(ld, BLAME("directory", "uri"), true,
			    "%s would carry passwords in clear: use ldaps://, "
			    "set starttls = yes, or bind with GSSAPI", u);
		}
	}

	if (cfg->directory.bind == BIND_SIMPLE) {
		REQUIRE("directory", "bind_dn", " for bind = simple");
		REQUIRE("directory", "bind_password_file", " for bind = simple");
	} else if (cfg->directory.sasl_mech != NULL) {
		const char *mech = cfg->directory.sasl_mech;

		if (strcmp(mech, "EXTERNAL") == 0) {
			if (need_cert && cfg->directory.tls_cert_file == NULL)
				diag_add(ld, BLAME("directory", "sasl_mech"), true,
				    "sasl_mech = EXTERNAL over ldap(s):// needs "
				    "tls_cert_file and tls_key_file");
		} else if (strcmp(mech, "GSSAPI") != 0) {
			REQUIRE("directory", "bind_dn",
			    " (the SASL user name) for this mechanism");
			REQUIRE("directory", "bind_password_file",
			    " for this mechanism");
		}
	}
	if ((cfg->directory.tls_cert_file == NULL) !=
	    (cfg->directory.tls_key_file == NULL))
		diag_add(ld, BLAME("directory", "tls_cert_file"), true,
		    "tls_cert_file and tls_key_file go together");
}

static void
check_policy(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct config *c = cfg;
	unsigned admin;

	/* Unset, methods are email and every other method configured: so
	 * an authenticator app's attribute is enough to give admins their
	 * second method. */
	if (ld->key_line[KEY("policy", "methods")] == 0) {
		c->policy.methods = METHOD_EMAIL;
		if (config_sms_on(c))
			c->policy.methods |= METHOD_SMS;
		if (c->questions.attribute != NULL)
			c->policy.methods |= METHOD_QUESTIONS;
		if (c->totp.attribute != NULL)
			c->policy.methods |= METHOD_TOTP;
	}
	if (c->policy.methods == 0)
		diag_add(ld, BLAME("policy", "methods"), true,
		    "methods must list at least one of email, sms, questions, "
		    "totp");
	if (c->policy.methods_required > count_bits(c->policy.methods))
		diag_add(ld, BLAME("policy", "methods_required"), true,
		    "methods_required = %u but methods lists only %u",
		    c->policy.methods_required, count_bits(c->policy.methods));

	if (!IS_SET("policy", "admin_methods")) {
		c->policy.admin_methods = c->policy.methods &
		    (METHOD_EMAIL | METHOD_SMS | METHOD_TOTP);
	} else {
		admin = c->policy.admin_methods;
		if (admin & METHOD_QUESTIONS)
			diag_add(ld, BLAME("policy", "admin_methods"), true,
			    "admin_methods: security questions never count "
			    "for admins");
		if (admin & ~c->policy.methods)
			diag_add(ld, BLAME("policy", "admin_methods"), true,
			    "admin_methods lists a method that methods does not");
	}
	if (c->policy.admin_methods_required > count_bits(c->policy.admin_methods) &&
	    (c->policy.admin_groups.n > 0 || c->directory.type == DIR_TYPE_AD))
		diag_add(ld, BLAME("policy", "admin_methods_required"), false,
		    "admin_methods_required = %u but only %u admin methods are "
		    "available: admins cannot reset their passwords here",
		    c->policy.admin_methods_required,
		    count_bits(c->policy.admin_methods));

	if (c->policy.min_length > c->policy.max_length)
		diag_add(ld, BLAME("policy", "min_length"), true,
		    "min_length (%u) is greater than max_length (%u)",
		    c->policy.min_length, c->policy.max_length);

	if ((c->policy.methods & METHOD_SMS) && !config_sms_on(c))
		diag_add(ld, BLAME("policy", "methods"), true,
		    "methods includes sms but neither [sms] command nor url "
		    "is set");
	if ((c->policy.methods & METHOD_QUESTIONS) && c->questions.attribute == NULL)
		diag_add(ld, BLAME("policy", "methods"), true,
		    "methods includes questions but [questions] attribute is "
		    "not set");
}

/* The TOTP key is checked when it is read (set_value()); what is left is
 * whether totp has what it needs when offered, and the issuer's form. */
static void
check_totp(struct loader *ld)
{
	struct config *c = ld->cfg;

	/* Both have a default of "" (unset), so REQUIRE() cannot tell. */
	if ((c->policy.methods & METHOD_TOTP) && c->totp.attribute == NULL)
		diag_add(ld, BLAME("totp", "attribute"), true,
		    "[totp] attribute is required when methods includes totp");
	/* absent or empty; a file that failed was blamed where it is set */
	if ((c->policy.methods & METHOD_TOTP) && c->totp.key_file == NULL &&
	    (ld->key_line[KEY("totp", "key_file")] == 0 ||
	    IS_SET("totp", "key_file")))
		diag_add(ld, BLAME("totp", "key_file"), true,
		    "[totp] key_file is required when methods includes totp");
	if (c->totp.issuer != NULL && strchr(c->totp.issuer, ':') != NULL)
		diag_add(ld, BLAME("totp", "issuer"), true,
		    "issuer may not contain ':' (it ends the issuer in the "
		    "name an authenticator app shows)");
	if (c->totp.issuer != NULL &&
	    !utf8_plain_text(c->totp.issuer, strlen(c->totp.issuer)))
		diag_add(ld, BLAME("totp", "issuer"), true,
		    "issuer must be UTF-8 text");
}

/* Commands may be installed after the configuration is written, so a
 * missing one is a warning; the notifier reports it again when used. */
static void
check_command(struct loader *ld, const char *section, const struct command *c)
{
	if (c->argc == 0)
		return;
	if (access(c->argv[0], X_OK) != 0)
		diag_add(ld, BLAME(section, "command"), false,
		    "[%s] command %s is not executable here: %s", section,
		    c->argv[0], strerror(errno));
}

/* A hostname as EHLO announces it: letters, digits, '-' and '.'. */
static bool
helo_ok(const char *s)
{
	return *s != '\0' && strlen(s) <= 253 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-.") == strlen(s);
}

/* [email] from as SMTP's envelope sender will take it (daemon/
 * transport.c): the part in <>, or the whole; it must look like an
 * address. */
static bool
from_address_ok(const char *from)
{
	const char *lt = strrchr(from, '<'), *a = from, *end;
	size_t n;

	if (lt != NULL) {
		a = lt + 1;
		if ((end = strchr(a, '>')) == NULL)
			return false;
	} else {
		a += strspn(a, " \t");
		end = a + strcspn(a, " \t");
		if (*end != '\0' && end[strspn(end, " \t")] != '\0')
			return false;	/* words after it */
	}
	n = (size_t)(end - a);
	return n >= 3 && memchr(a, '@', n) != NULL && a[0] != '@' &&
	    a[n - 1] != '@' && strcspn(a, " \t<>\"") >= n;
}

/* [sms] body: {{number}} and {{text}} once each at least, nothing else
 * between braces; JSON bodies must parse with them filled. */
static const char *
sms_body_error(const char *body, enum body_type type)
{
	bool number = false, text = false;
	const char *p = body, *open, *close;

	while ((open = strstr(p, "{{")) != NULL) {
		if ((close = strstr(open + 2, "}}")) == NULL)
			return "has a {{ without }}";
		if ((size_t)(close - open - 2) == 6 &&
		    strncmp(open + 2, "number", 6) == 0)
			number = true;
		else if ((size_t)(close - open - 2) == 4 &&
		    strncmp(open + 2, "text", 4) == 0)
			text = true;
		else
			return "may name only {{number}} and {{text}}";
		p = close + 2;
	}
	if (!number || !text)
		return "must contain {{number}} and {{text}}";
	if (type == BODY_JSON) {
		/* Filled as the daemon fills them: escaped, between the
		 * template's own quotes. */
		char *filled = xstrdup(body), *q;
		json_t *j;

		while ((q = strstr(filled, "{{")) != NULL) {
			char *end = strstr(q, "}}") + 2;

			*q = 'x';
			memmove(q + 1, end, strlen(end) + 1);
		}
		j = json_loads(filled, JSON_DECODE_ANY, NULL);
		free(filled);
		if (j == NULL)
			return "is not JSON (with {{number}} and {{text}} inside "
			    "quotes, as \"{{text}}\")";
		json_decref(j);
	}
	return NULL;
}

/* Where mail and SMS go: each through its command, or by SMTP / an HTTPS
 * gateway; never both. Plain text is refused where it would cross a
 * network. */
static void
check_delivery(struct loader *ld)
{
	static const char *const smtp_schemes[] = { "smtp", "smtps", NULL };
	static const char *const https_scheme[] = { "https", NULL };
	struct config *c = ld->cfg;
	char msg[VALUE_MSG_MAX];
	const char *err;

	if (c->email.smtp_url != NULL) {
		const char *u = c->email.smtp_url;

		if ((err = value_url(u, smtp_schemes, false, msg)) != NULL)
			diag_add(ld, BLAME("email", "smtp_url"), true,
			    "smtp_url: %s", err);
		else if (strncasecmp(u, "smtp:", 5) == 0 && !c->email.starttls &&
		    !value_url_loopback(u))
			diag_add(ld, BLAME("email", "starttls"), true,
			    "starttls = no would send codes and the SMTP password "
			    "to %s in clear: only a loopback relay may go without "
			    "TLS (use smtps://, or starttls = yes)", u);
		if (ld->key_line[KEY("email", "command")] != 0)
			diag_add(ld, BLAME("email", "command"), true,
			    "[email] command and smtp_url are two ways of sending "
			    "mail: set one of them");
		command_free(&c->email.command);
		if (!from_address_ok(c->email.from))
			diag_add(ld, BLAME("email", "from"), true,
			    "from must hold an address (Name <user@example.org> "
			    "or user@example.org): SMTP sends it as the envelope "
			    "sender");
		if (c->email.helo == NULL) {
			char host[256];

			if (gethostname(host, sizeof(host)) != 0 ||
			    !helo_ok(host))
				snprintf(host, sizeof(host), "localhost");
			c->email.helo = xstrdup(host);
		} else if (!helo_ok(c->email.helo)) {
			diag_add(ld, BLAME("email", "helo"), true,
			    "helo must be a host name (letters, digits, - and .)");
		}
	}
	if ((c->email.smtp_user == NULL) != (c->email.smtp_password_file == NULL))
		diag_add(ld, BLAME("email", c->email.smtp_user == NULL ?
		    "smtp_password_file" : "smtp_user"), true,
		    "smtp_user and smtp_password_file go together");

	if (c->sms.url != NULL) {
		if ((err = value_url(c->sms.url, https_scheme, true, msg)) != NULL)
			diag_add(ld, BLAME("sms", "url"), true, "url: %s", err);
		if (c->sms.command.argc > 0)
			diag_add(ld, BLAME("sms", "command"), true,
			    "[sms] command and url are two ways of sending "
			    "SMS: set one of them");
		if (c->sms.body == NULL)
			diag_add(ld, BLAME("sms", "url"), true,
			    "[sms] body is required with url (what the gateway "
			    "is sent, with {{number}} and {{text}})");
		else if ((err = sms_body_error(c->sms.body, c->sms.body_type)))
			diag_add(ld, BLAME("sms", "body"), true, "body %s", err);
	}
}

/* Letters, digits and the characters in extra; 1 to max of them. */
static bool
word_ok(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/*
 * "host:port" or "[v6]:port" into *host and *port; NULL, or why not. An
 * IPv6 address must be in brackets, and only an IPv6 address may be: an
 * unbracketed "fe80::1" would otherwise read as host "fe80:" and port 1.
 * With defport 0 the port is required, else it defaults to defport.
 */
static const char *
host_port(const char *s, size_t len, unsigned defport, char **host,
    unsigned *port)
{
	const char *end = s + len, *after, *err = NULL;
	char *name, *num, *stop;
	unsigned long p = defport;

	if (len > 0 && *s == '[') {
		const char *close = memchr(s, ']', len);
		struct in6_addr a;

		if (close == NULL)
			return "a '[' without its ']'";
		name = xstrndup(s + 1, (size_t)(close - s - 1));
		if (strchr(name, ':') == NULL || inet_pton(AF_INET6, name, &a) != 1)
			err = "only an IPv6 address goes in brackets";
		after = close + 1;
	} else {
		const char *colon = memchr(s, ':', len);

		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(end - colon - 1)) != NULL)
			return "an IPv6 address must be in brackets ([::1]:6379)";
		after = colon != NULL ? colon : end;
		name = xstrndup(s, (size_t)(after - s));
		if (!word_ok(name, ".-_", 253))
			err = "the host must be a name or an address";
	}
	if (err == NULL && after < end && *after != ':')
		err = "only :PORT may follow the ']'";
	else if (err == NULL && after == end && defport == 0)
		err = "the port is missing";
	else if (err == NULL && after < end) {
		num = xstrndup(after + 1, (size_t)(end - after - 1));
		p = strtoul(num, &stop, 10);
		if (*stop != '\0' || !isdigit((unsigned char)*num) || p == 0 ||
		    p > 65535)
			err = "the port must be a number from 1 to 65535";
		free(num);
	}
	if (err != NULL) {
		free(name);
		return err;
	}
	*host = name;
	*port = (unsigned)p;
	return NULL;
}

/* A database number: digits, at most 15. */
static bool
db_number(const char *s, unsigned *db)
{
	char *end;
	unsigned long n;

	if (*s == '\0')
		return true;
	n = strtoul(s, &end, 10);
	if (*end != '\0' || !isdigit((unsigned char)*s) || n > 15)
		return false;
	*db = (unsigned)n;
	return true;
}

/* [state]: redis_url and redis_sentinels read into the parts ssprd uses. */
static void
check_redis_url(struct loader *ld)
{
	struct config *c = ld->cfg;
	const char *u = c->state.redis_url, *rest, *slash, *err;
	unsigned at = BLAME("state", "redis_url");

	if (strncasecmp(u, "unix:", 5) == 0) {
		const char *q = strchr(u + 5, '?');

		c->state.redis_socket = q != NULL ?
		    xstrndup(u + 5, (size_t)(q - u - 5)) : xstrdup(u + 5);
		if (c->state.redis_socket[0] != '/')
			diag_add(ld, at, true, "redis_url: unix: needs an "
			    "absolute path (unix:/run/redis/redis.sock)");
		else if (q != NULL && (strncmp(q, "?db=", 4) != 0 ||
		    !db_number(q + 4, &c->state.redis_db) || q[4] == '\0'))
			diag_add(ld, at, true, "redis_url: after the socket's "
			    "path only ?db=N (0 to 15) may follow");
		return;
	}
	if (strncasecmp(u, "rediss://", 9) == 0) {
		c->state.redis_tls = true;	/* verified: redistls.h */
		rest = u + 9;
	} else if (strncasecmp(u, "redis://", 8) == 0) {
		rest = u + 8;
	} else {
		diag_add(ld, at, true, "redis_url: must be redis://HOST:PORT/DB, "
		    "rediss://HOST:PORT/DB (TLS) or unix:/PATH");
		return;
	}
	if (strchr(rest, '@') != NULL) {
		diag_add(ld, at, true, "redis_url: no user or password in the "
		    "URL: use redis_user and redis_password_file");
		return;
	}
	slash = strchr(rest, '/');
	if ((err = host_port(rest, slash != NULL ? (size_t)(slash - rest) :
	    strlen(rest), 6379, &c->state.redis_host,
	    &c->state.redis_port)) != NULL) {
		diag_add(ld, at, true, "redis_url: cannot read the host and port "
		    "of %s: %s", u, err);
		return;
	}
	if (slash != NULL && !db_number(slash + 1, &c->state.redis_db))
		diag_add(ld, at, true, "redis_url: the database after / must "
		    "be a number from 0 to 15");
}

/* redis_sentinels into c->state.redis_sentinels, each checked. */
static void
check_sentinels(struct loader *ld)
{
	struct config *c = ld->cfg;
	char *copy = xstrdup(c->state.redis_sentinels_text), *save = NULL;
	unsigned at = BLAME("state", "redis_sentinels");

	for (char *w = strtok_r(copy, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save)) {
		const char *err;
		char *h = NULL;
		unsigned p;

		if ((err = host_port(w, strlen(w), 0, &h, &p)) != NULL) {
			diag_add(ld, at, true, "redis_sentinels: %s is not "
			    "HOST:PORT: %s", w, err);
			continue;
		}
		free(h);
		strlist_add(&c->state.redis_sentinels, w);
	}
	free(copy);
	if (c->state.redis_master_name == NULL)
		diag_add(ld, at, true, "redis_sentinels needs "
		    "redis_master_name: the name the sentinels monitor");
	else if (!word_ok(c->state.redis_master_name, ".-_", 64))
		diag_add(ld, BLAME("state", "redis_master_name"), true,
		    "redis_master_name: letters, digits, '.', '-' or '_'");
	if (c->state.redis_socket != NULL)
		diag_add(ld, BLAME("state", "redis_url"), true,
		    "with redis_sentinels, redis_url may only name the "
		    "database (redis://sentinel/DB): the sentinels name "
		    "the master");
	else if (c->state.redis_host != NULL &&
	    strcasecmp(c->state.redis_host, "sentinel") != 0)
		diag_add(ld, BLAME("state", "redis_url"), false,
		    "with redis_sentinels, redis_url's host is not used: only "
		    "its /DB (write redis://sentinel/DB)");
	if (c->state.redis_min_replicas == 0)
		diag_add(ld, ld->key_line[KEY("state", "redis_min_replicas")] ?
		    BLAME("state", "redis_min_replicas") : at, false,
		    "with redis_sentinels and redis_min_replicas = 0, a "
		    "failover may lose the last changes the old master "
		    "acknowledged (a spent ticket could come back, a counted "
		    "failure be forgotten): set redis_min_replicas = 1, with "
		    "two replicas");
}

static void
check_state(struct loader *ld)
{
	struct config *c = ld->cfg;
	char host[256];

	/* Under Redis the name owns intents and leases that outlive a
	 * process: two hosts of one name would share them, and a renamed
	 * host would lose its intents (a resumed request written again). So
	 * only the instance-local LMDB may default to the host name. */
	if (c->state.instance == NULL && c->state.backend == STATE_REDIS) {
		diag_add(ld, BLAME("state", "backend"), true, "backend = redis "
		    "needs instance: a name for this ssprd, different on every "
		    "instance and kept across restarts (it owns this "
		    "instance's write intents and ticket leases)");
	} else if (c->state.instance == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "ssprd");
		host[sizeof(host) - 1] = '\0';
		for (char *h = host; *h != '\0'; h++)
			if (!isalnum((unsigned char)*h) && strchr(".-_", *h) == NULL)
				*h = '_';
		c->state.instance = xstrdup(host);
	} else if (!word_ok(c->state.instance, ".-_", 64)) {
		diag_add(ld, BLAME("state", "instance"), true, "instance: 1 to "
		    "64 letters, digits, '.', '-' or '_'");
	}
	if (!word_ok(c->state.key_prefix, ":._-", 64))
		diag_add(ld, BLAME("state", "key_prefix"), true, "key_prefix: 1 "
		    "to 64 letters, digits, ':', '.', '-' or '_'");
	if (c->state.backend != STATE_REDIS) {
		const char *set = c->state.redis_url != NULL ? "redis_url" :
		    c->state.redis_sentinels_text != NULL ? "redis_sentinels" :
		    c->state.redis_master_name != NULL ? "redis_master_name" :
		    NULL;

		if (set != NULL)
			diag_add(ld, BLAME("state", set), false,
			    "the redis_ keys are ignored unless backend = redis");
		return;
	}
	if (c->state.redis_url == NULL && c->state.redis_sentinels_text == NULL) {
		diag_add(ld, BLAME("state", "backend"), true, "backend = redis "
		    "needs redis_url or redis_sentinels");
		return;
	}
	if (c->state.redis_url != NULL)
		check_redis_url(ld);
	if (c->state.redis_sentinels_text != NULL)
		check_sentinels(ld);
	else if (c->state.redis_master_name != NULL)
		diag_add(ld, BLAME("state", "redis_master_name"), false,
		    "redis_master_name is ignored without redis_sentinels");
	if (c->state.redis_password_file == NULL && c->state.redis_user != NULL)
		diag_add(ld, BLAME("state", "redis_user"), true,
		    "redis_user needs redis_password_file");
}

/* One word per line; blank lines and lines starting with # are skipped.
 * Stored ASCII-lower-cased and sorted for binary search. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Call fn for each line of path ([section] name), without its line end;
 * blank lines and lines starting with # are skipped. */
static void
each_line(struct loader *ld, const char *path, const char *section,
    const char *name, void (*fn)(struct loader *, char *, size_t, unsigned))
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		diag_add(ld, blame_line(ld, key_index(section, name)), true,
		    "cannot read %s: %s", path, strerror(errno));
		return;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		fn(ld, line, (size_t)n, lineno);
	}
	free(line);
	fclose(f);
}

static void
banned_word(struct loader *ld, char *line, size_t n, unsigned lineno)
{
	(void)lineno;
	for (size_t i = 0; i < n; i++)
		if (line[i] >= 'A' && line[i] <= 'Z')
			line[i] = (char)(line[i] - 'A' + 'a');
	strlist_add(&ld->cfg->policy.banned, line);
}

static void
load_banned(struct loader *ld)
{
	struct config *cfg = ld->cfg;

	if (cfg->policy.banned_passwords == NULL)
		return;
	each_line(ld, cfg->policy.banned_passwords, "policy",
	    "banned_passwords", banned_word);
	if (cfg->policy.banned.n > 0)
		qsort(cfg->policy.banned.v, cfg->policy.banned.n,
		    sizeof(*cfg->policy.banned.v), cmp_str);
}

/* The breached-password index: mapped, not read (common/breach.h). Not
 * for config_load_public(): front ends never look passwords up. */
static void
load_breached(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	unsigned at = BLAME("policy", "breached_file");
	char err[512];

	if (cfg->policy.breached_file == NULL || ld->no_secrets)
		return;
	cfg->policy.breached = breach_open(cfg->policy.breached_file, err,
	    sizeof(err));
	if (cfg->policy.breached == NULL) {
		diag_add(ld, at, true, "[policy] breached_file: %s", err);
		return;
	}
	if (breach_min_count(cfg->policy.breached) >
	    cfg->policy.breached_min_count)
		diag_add(ld, BLAME("policy", "breached_min_count"), false,
		    "[policy] breached_min_count %u is below the count the "
		    "index was imported with (%llu): passwords seen fewer "
		    "times are not in it", cfg->policy.breached_min_count,
		    (unsigned long long)breach_min_count(cfg->policy.breached));
}

/* One question a user may register, as register's requests carry them. */
static void
question_choice(struct loader *ld, char *line, size_t n, unsigned lineno)
{
	struct strlist *l = &ld->cfg->questions.choices;
	const char *file = ld->cfg->questions.choices_file;
	unsigned at = BLAME("questions", "choices");

	if (n > CONFIG_QUESTION_MAX || !utf8_plain_text(line, n)) {
		diag_add(ld, at, true, "%s:%u: a question must be 1 to %d "
		    "bytes of UTF-8 text without control characters", file,
		    lineno, CONFIG_QUESTION_MAX);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], line) == 0) {
			diag_add(ld, at, true, "%s:%u: the same question twice "
			    "(case aside)", file, lineno);
			return;
		}
	if (l->n == CONFIG_CHOICES_MAX) {
		if (!ld->choices_full)
			diag_add(ld, at, true, "%s:%u: more than %d questions",
			    file, lineno, CONFIG_CHOICES_MAX);
		ld->choices_full = true;
		return;
	}
	strlist_add(l, line);
}

static void
load_choices(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t before = ld->nmsgs;

	if (cfg->questions.choices_file == NULL)
		return;
	each_line(ld, cfg->questions.choices_file, "questions", "choices",
	    question_choice);
	if (ld->nmsgs == before &&
	    cfg->questions.choices.n < cfg->questions.required)
		diag_add(ld, BLAME("questions", "choices"), true,
		    "%s holds %zu question(s); required = %u needs as many "
		    "at least", cfg->questions.choices_file,
		    cfg->questions.choices.n, cfg->questions.required);
}

/* The file names of templates_dir, by enum message_kind. */
const char *const config_template_names[CONFIG_MSG_KINDS] = {
	"email-code.txt", "email-notice.txt", "email-admin-notice.txt",
	"sms-code.txt", "email-confirm.txt", "sms-confirm.txt",
};

/* One language folder of templates_dir: each file it has is read and
 * checked as the single template keys are; any other file is refused, so a
 * misspelt name is not silently ignored. */
static void
load_language(struct loader *ld, const char *dir, const char *tag)
{
	static const char *const fills_key[CONFIG_MSG_KINDS] = {
		"code_template", "notice_template", "admin_notice_template",
		"code_template", "code_template", "code_template",
	};
	struct config *cfg = ld->cfg;
	unsigned at = BLAME("daemon", "templates_dir");
	struct config_templates *t;
	char folder[PATH_MAX], file[PATH_MAX + NAME_MAX + 2], msg[VALUE_MSG_MAX];
	struct dirent *e;
	size_t n;
	DIR *d;

	snprintf(folder, sizeof(folder), "%s/%s", dir, tag);
	if ((d = opendir(folder)) == NULL) {
		diag_add(ld, at, true, "%s: cannot read: %s", folder, strerror(errno));
		return;
	}
	if (cfg->daemon.ntemplates == CONFIG_LANGS_MAX) {
		diag_add(ld, at, true, "%s: more than %d languages", dir,
		    CONFIG_LANGS_MAX);
		closedir(d);
		return;
	}
	t = &cfg->daemon.templates[cfg->daemon.ntemplates++];
	n = strlen(tag);	/* 2 or 3: load_templates() checked */
	if (n >= sizeof(t->tag))
		n = sizeof(t->tag) - 1;
	memcpy(t->tag, tag, n);
	t->tag[n] = '\0';
	while ((e = readdir(d)) != NULL) {
		const char *err;
		int k;

		if (e->d_name[0] == '.')
			continue;
		for (k = 0; k < CONFIG_MSG_KINDS; k++)
			if (strcmp(e->d_name, config_template_names[k]) == 0)
				break;
		if (k == CONFIG_MSG_KINDS) {
			diag_add(ld, at, true, "%s/%.40s: not a message ssprd "
			    "sends (the names are email-code.txt, "
			    "email-notice.txt, email-admin-notice.txt, "
			    "sms-code.txt, email-confirm.txt, sms-confirm.txt)",
			    folder, e->d_name);
			continue;
		}
		snprintf(file, sizeof(file), "%s/%s", folder, e->d_name);
		err = value_template(file, strncmp(e->d_name, "email-", 6) == 0,
		    template_fills(fills_key[k]),
		    strcmp(fills_key[k], "code_template") == 0, &t->text[k], msg);
		if (err != NULL)
			diag_add(ld, at, true, "%s", err);
	}
	closedir(d);
}

const char *
config_single_template(const struct config *cfg, unsigned kind,
    const char **key)
{
	static const char *const names[CONFIG_MSG_KINDS] = {
		"[email] code_template", "[email] notice_template",
		"[email] admin_notice_template", "[sms] code_template",
		NULL, NULL,
	};

	if (key != NULL)
		*key = kind < CONFIG_MSG_KINDS ? names[kind] : NULL;
	switch (kind) {
	case 0: return cfg->email.code_template;
	case 1: return cfg->email.notice_template;
	case 2: return cfg->email.admin_notice_template;
	case 3: return cfg->sms.code_template;
	default: return NULL;
	}
}

/* The single-file keys are the English texts: templates_dir/en may not
 * give the same message a second time. */
static void
english_once(struct loader *ld)
{
	const struct config *cfg = ld->cfg;

	for (unsigned i = 0; i < cfg->daemon.ntemplates; i++) {
		if (strcmp(cfg->daemon.templates[i].tag, "en") != 0)
			continue;
		for (unsigned k = 0; k < CONFIG_MSG_KINDS; k++) {
			const char *key;

			if (config_single_template(cfg, k, &key) != NULL &&
			    cfg->daemon.templates[i].text[k] != NULL)
				diag_add(ld, BLAME("daemon", "templates_dir"),
				    true, "%s/en/%s and %s both give the "
				    "English text of one message: keep one",
				    cfg->daemon.templates_dir,
				    config_template_names[k], key);
		}
	}
}

/* [daemon] templates_dir: a folder per language code ([a-z]{2,3}). */
static void
load_templates(struct loader *ld)
{
	const char *dir = ld->cfg->daemon.templates_dir;
	unsigned at = BLAME("daemon", "templates_dir");
	struct dirent *e;
	DIR *d;

	if (dir == NULL)
		return;
	if ((d = opendir(dir)) == NULL) {
		diag_add(ld, at, true, "templates_dir: %s: %s", dir, strerror(errno));
		return;
	}
	ld->cfg->daemon.templates = xcalloc(CONFIG_LANGS_MAX,
	    sizeof(*ld->cfg->daemon.templates));
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		if (n < 2 || n > 3 || strspn(e->d_name,
		    "abcdefghijklmnopqrstuvwxyz") != n) {
			diag_add(ld, at, true, "%s/%.40s: a language folder is "
			    "named by a two- or three-letter lower-case language "
			    "code such as tr (a request's lang is matched on that)",
			    dir, e->d_name);
			continue;
		}
		load_language(ld, dir, e->d_name);
	}
	closedir(d);
	english_once(ld);
}

static struct config *load(const char *path, struct config_diag *diag,
    bool no_secrets);

struct config *
config_load(const char *path, struct config_diag *diag)
{
	return load(path, diag, false);
}

struct config *
config_load_public(const char *path, struct config_diag *diag)
{
	return load(path, diag, true);
}

static struct config *
load(const char *path, struct config_diag *diag, bool no_secrets)
{
	struct loader ld = { .path = path, .diag = diag,
	    .no_secrets = no_secrets };
	struct config *cfg;
	int rc;

	ld.f = fopen(path, "re");
	if (ld.f == NULL) {
		diag_add(&ld, 0, true, "cannot open: %s", strerror(errno));
		flush_diag(&ld);
		return NULL;
	}
	if (sodium_init() < 0) {
		fclose(ld.f);
		diag_add(&ld, 0, true, "libsodium failed to initialise");
		flush_diag(&ld);
		return NULL;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->refs = 1;
	cfg->path = xstrdup(path);
	ld.cfg = cfg;

	rc = ini_parse_stream(reader, &ld, on_key, &ld);
	free(ld.buf);
	fclose(ld.f);
	if (rc > 0) {
		/* inih reports only its first syntax error. */
		diag_add(&ld, (unsigned)rc, true,
		    "syntax error: expected [section], key = value or a comment");
	} else if (rc < 0) {
		diag_add(&ld, 0, true, "cannot parse (out of memory)");
	}

	apply_defaults(&ld);
	check_delivery(&ld);
	check_state(&ld);
	check_directory(&ld);
	check_policy(&ld);
	check_totp(&ld);
	check_command(&ld, "email", &cfg->email.command);
	check_command(&ld, "sms", &cfg->sms.command);
	load_banned(&ld);
	load_breached(&ld);
	load_choices(&ld);
	load_templates(&ld);

	flush_diag(&ld);
	if (diag->errors > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	return cfg;
}

struct config *
config_ref(struct config *cfg)
{
	cfg->refs++;
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL || --cfg->refs > 0)
		return;
	for (size_t k = 0; k < NKEYS; k++) {
		switch (keys[k].type) {
		case K_UINT:
		case K_BOOL:
		case K_ENUM:
		case K_METHODS:
		case K_EVENTS:
			break;
		case K_DN_LIST:
		case K_URIS:
			strlist_free(FIELD(cfg, k, struct strlist));
			break;
		case K_COMMAND:
			command_free(FIELD(cfg, k, struct command));
			break;
		default:
			free(*FIELD(cfg, k, char *));
			break;
		}
	}
	for (size_t k = 0; k < NKEYS; k++) {
		size_t *len;
		char **content;

		if (keys[k].type != K_PASSWORD && keys[k].type != K_HEADERS)
			continue;
		content = password_field(cfg, k, &len);
		if (*content != NULL)
			sodium_free(*content);		/* wipes */
	}
	if (cfg->totp.key != NULL)
		sodium_free(cfg->totp.key);			/* wipes */
	strlist_free(&cfg->policy.banned);
	breach_close(cfg->policy.breached);
	strlist_free(&cfg->questions.choices);
	free(cfg->state.redis_host);
	free(cfg->state.redis_socket);
	strlist_free(&cfg->state.redis_sentinels);
	for (unsigned i = 0; i < cfg->daemon.ntemplates; i++)
		for (int k = 0; k < CONFIG_MSG_KINDS; k++)
			free(cfg->daemon.templates[i].text[k]);
	free(cfg->daemon.templates);
	free(cfg->path);
	free(cfg);
}

bool
config_email_on(const struct config *cfg)
{
	return cfg->email.command.argc > 0 || cfg->email.smtp_url != NULL;
}

bool
config_sms_on(const struct config *cfg)
{
	return cfg->sms.command.argc > 0 || cfg->sms.url != NULL;
}

void
config_diag_free(struct config_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		free(diag->lines[i]);
	free(diag->lines);
	free(diag->is_error);
	memset(diag, 0, sizeof(*diag));
}

const char *
config_log_level_name(enum log_level level)
{
	return log_level_names[level];
}

const char *
config_dir_type_name(enum dir_type type)
{
	return dir_type_names[type];
}

const char *
config_method_name(enum method m)
{
	switch (m) {
	case METHOD_EMAIL:
		return "email";
	case METHOD_SMS:
		return "sms";
	case METHOD_QUESTIONS:
		return "questions";
	case METHOD_TOTP:
		return "totp";
	}
	return "?";
}

/* Whether a front end of another account can reach the daemon: only
 * through the submit group (this machine's groups, so here and not in
 * config_load(), whose result must not depend on them). */
static void
check_submit_group(const struct config *cfg)
{
	const char *g = cfg->daemon.submit_group;

	if (g == NULL)
		fprintf(stderr, "%s: warning: [daemon] submit_group is empty: "
		    "ssprd can read only requests its own account (%s) wrote; "
		    "a front end running as another account, such as "
		    "ssprweb, would have every request refused as "
		    "unreadable\n", cfg->path, cfg->daemon.user);
	else if (getgrnam(g) == NULL)
		fprintf(stderr, "%s: warning: [daemon] submit_group %s does "
		    "not exist: ssprd can read only requests its own account "
		    "(%s) wrote; a front end running as another account, such "
		    "as ssprweb, would have every request refused as "
		    "unreadable. Create the group, with the front end's "
		    "account and %s as members (systemd: "
		    "SupplementaryGroups=%s)\n", cfg->path, g,
		    cfg->daemon.user, cfg->daemon.user, g);
}

int
config_check(const char *path)
{
	struct config_diag diag = { 0 };
	struct config *cfg = config_load(path, &diag);
	int rc = cfg != NULL ? 0 : 1;

	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.lines[i]);
	if (cfg != NULL)
		check_submit_group(cfg);
	if (cfg != NULL)
		printf("%s: configuration OK\n", path);
	config_diag_free(&diag);
	config_free(cfg);
	return rc;
}
