/*
 * config.h - ssprd's configuration: one typed, immutable snapshot of the INI.
 *
 * config_load() reads an INI file (see ssprd.ini(5) and
 * config/ssprd.ini.example), validates every key and the relations between
 * keys, reads the secret files it names and returns a struct config that
 * nobody modifies afterwards. A reload builds a new snapshot beside the old
 * one and swaps the pointer only when the new one is complete, so a broken
 * file never replaces a working configuration.
 *
 * Problems are collected, not stopped at: config_load() reports every error
 * it finds as "FILE:LINE: message", in line order, so an admin fixes a file in
 * one pass. Warnings (things that work but look wrong, such as a notifier
 * command that is not installed yet) are reported the same way and do not fail
 * the load.
 *
 * Secrets (the bind password, the TOTP key) live in memory obtained from
 * sodium_malloc()
 * and are wiped when the snapshot is freed; they are never printed.
 */
#ifndef SSPRD_CONFIG_H
#define SSPRD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_USE __attribute__((warn_unused_result))

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum state_backend {
	STATE_LMDB,		/* [daemon] state_dir, one machine */
	STATE_REDIS,		/* shared by several instances */
};

enum dir_type {
	DIR_TYPE_AD,		/* replace/delete+add unicodePwd */
	DIR_TYPE_OPENLDAP,	/* RFC 3062 password modify + ppolicy */
};

enum bind_kind {
	BIND_SIMPLE,
	BIND_SASL,
};

enum enforce_history {
	HISTORY_AUTO,		/* send the policy-hints control when offered */
	HISTORY_YES,		/* refuse resets when it is not offered */
	HISTORY_NO,		/* never send it */
};

/* Challenge methods, as a bit set. */
enum method {
	METHOD_EMAIL = 1 << 0,
	METHOD_SMS = 1 << 1,
	METHOD_QUESTIONS = 1 << 2,
	METHOD_TOTP = 1 << 3,		/* RFC 6238 authenticator app */
};
/* The highest bit: loops over methods run METHOD_EMAIL..METHOD_LAST. */
#define METHOD_LAST METHOD_TOTP

/* Bytes of the [totp] key_file key (crypto_secretbox_KEYBYTES). */
#define CONFIG_TOTP_KEY_LEN 32

/* [questions] choices: at most this many, each at most this many bytes
 * (the longest question a register request may carry). */
#define CONFIG_CHOICES_MAX	100

/*
 * Per-language message templates ([daemon] templates_dir): one folder per
 * language tag, holding any of these files, in the order of daemon/
 * messages.h's enum message_kind (messages.c checks it).
 */
#define CONFIG_MSG_KINDS	6
#define CONFIG_LANGS_MAX	16
extern const char *const config_template_names[CONFIG_MSG_KINDS];
/* The single-file template of message kind (an English text; NULL when
 * not set or when kind has no such key) and, in *key when not NULL, that
 * key's name ("[email] code_template"). */
struct config;
struct breach;
const char *config_single_template(const struct config *cfg, unsigned kind,
    const char **key);
struct config_templates {
	char tag[4];			/* [a-z]{2,3}: a language code */
	char *text[CONFIG_MSG_KINDS];	/* NULL: not given for this language */
};
#define CONFIG_QUESTION_MAX	256

struct strlist {
	size_t n;
	char **v;		/* NULL-terminated */
};

/* Append a copy of s; whether s is in the list; free the list and its
 * strings. */
void strlist_add(struct strlist *l, const char *s);
bool strlist_has(const struct strlist *l, const char *s);
void strlist_free(struct strlist *l);

/* [email] notify: the user's own events that send them a notice. */
enum notify_event {
	NOTIFY_RESET = 1 << 0,
	NOTIFY_UNLOCK = 1 << 1,
	NOTIFY_CHANGE = 1 << 2,
	NOTIFY_REGISTER = 1 << 3,
};
#define NOTIFY_ALL (NOTIFY_RESET | NOTIFY_UNLOCK | NOTIFY_CHANGE | NOTIFY_REGISTER)

enum http_method { HTTP_POST, HTTP_PUT };
enum body_type { BODY_FORM, BODY_JSON };

/* A notifier command, split into argv like a shell would (quotes, no
 * expansion). argv[0] is an absolute path; argv is NULL-terminated. */
struct command {
	char **argv;
	size_t argc;
};

struct config {
	char *path;			/* the file this was loaded from */
	unsigned refs;			/* config_ref() / config_free() */

	struct {
		char *queue_dir;
		char *state_dir;
		char *templates_dir;	/* NULL: none */
		/* its languages' templates, checked at load */
		struct config_templates *templates;
		unsigned ntemplates;
		enum log_level log_level;
		char *metrics_host;	/* NULL: metrics off */
		unsigned metrics_port;
		unsigned answer_ttl;		/* seconds */
		unsigned rescan_interval;	/* seconds */
		unsigned shutdown_timeout;	/* seconds */
		/* seconds a request may wait for ssprd (in new/, or its
		 * directory work in the pool's queue) before it is answered
		 * busy */
		unsigned max_wait;
		char *user;			/* account to drop to when started as root */
		char *submit_group;		/* the front end's group, or NULL */
	} daemon;

	struct {
		enum dir_type type;
		struct strlist uris;	/* failover order */
		char *base_dn;
		char *user_filter;	/* exactly one %s */
		enum bind_kind bind;
		char *bind_dn;
		char *bind_password_file;
		char *bind_password;	/* sodium_malloc()ed, NUL-terminated */
		size_t bind_password_len;
		char *sasl_mech;
		char *sasl_authz_id;
		char *sasl_keytab;
		char *ca_file;		/* NULL: the system store */
		char *tls_cert_file;	/* client certificate (SASL EXTERNAL) */
		char *tls_key_file;
		bool starttls;
		unsigned connections;
		unsigned timeout;	/* seconds per operation */
		bool unlock_on_reset;
		char *ppolicy_default;		/* OpenLDAP default policy DN, or NULL */
		enum enforce_history enforce_history;
	} directory;

	struct {
		struct strlist allowed_groups;	/* empty: everyone */
		struct strlist admin_groups;
		unsigned methods;		/* enum method bits */
		unsigned methods_required;
		unsigned admin_methods;
		unsigned admin_methods_required;
		unsigned min_length;		/* characters */
		unsigned max_length;
		char *banned_passwords;		/* file name or NULL */
		struct strlist banned;		/* its lines, ASCII case-folded, sorted */
		bool directory_rules;		/* check the directory's rules first */
		unsigned min_score;		/* banned terms' score; 0: off */
		char *breached_file;		/* index (common/breach.h) or NULL */
		struct breach *breached;	/* it, mapped; NULL when unset */
		unsigned breached_min_count;
		unsigned code_length;
		unsigned code_ttl;
		unsigned ticket_lifetime;	/* seconds from a ticket's start */
		unsigned max_attempts;
		unsigned max_starts_per_hour;
		unsigned max_starts_per_client_hour;
		unsigned max_failures_per_client_hour;
		unsigned lockout_failures;
		unsigned lockout_time;
		unsigned reconfirm_days;	/* 0: never */
	} policy;

	/* Message templates: the text of the configured file, or NULL for the
	 * built-in one. Email templates start with header lines (Subject: at
	 * least) and a blank line; {{name}} placeholders are checked at load. */
	struct {
		struct command command;
		unsigned timeout;	/* seconds the command may take */
		char *attribute;
		/* Where register writes a confirmed address (NULL: nowhere,
		 * register takes no email); codes go to its value first. */
		char *recovery_attribute;
		char *from;
		char *code_template;
		char *notice_template;
		char *admin_notice_template;
		/* SMTP submission instead of the command (NULL: the command).
		 * smtp_url is smtp://host[:port] or smtps://host[:port]. */
		char *smtp_url;
		bool starttls;		/* required on smtp:// (loopback may opt out) */
		char *smtp_user;		/* NULL: no AUTH */
		char *smtp_password_file;
		char *smtp_password;		/* sodium_malloc()ed, or NULL */
		size_t smtp_password_len;
		char *ca_file;			/* NULL: the system's CAs */
		char *helo;			/* NULL: this host's name */
		unsigned max_connections;	/* SMTP sessions at once */
		unsigned notify;		/* enum notify_event bits */
	} email;

	struct {
		struct command command;
		unsigned timeout;
		char *attribute;
		char *recovery_attribute;	/* as for email */
		char *code_template;
		/* An HTTPS gateway instead of the command (NULL: the command). */
		char *url;
		enum http_method method;
		char *body;			/* {{number}}, {{text}} */
		enum body_type body_type;
		char *header_file;
		char *headers;			/* its lines; sodium_malloc()ed */
		size_t headers_len;
		char *ca_file;			/* NULL: the system's CAs */
	} sms;

	struct {
		char *attribute;	/* NULL: questions unavailable */
		unsigned required;
		char *choices_file;	/* file name or NULL */
		struct strlist choices;	/* its questions, in its order */
	} questions;

	struct {
		char *attribute;	/* NULL: totp unavailable */
		char *key_file;		/* NULL when attribute is */
		/* CONFIG_TOTP_KEY_LEN bytes decoded from key_file,
		 * sodium_malloc()ed; NULL without key_file and in
		 * config_load_public() snapshots */
		unsigned char *key;
		char *issuer;		/* shown by authenticator apps */
	} totp;

	struct {
		enum state_backend backend;
		char *redis_url;		/* NULL: unset */
		char *redis_password_file;	/* NULL: no AUTH */
		char *redis_password;		/* sodium_malloc()ed */
		size_t redis_password_len;
		char *redis_user;		/* NULL: the default user */
		char *key_prefix;
		char *redis_sentinels_text;	/* as written */
		char *redis_master_name;
		unsigned redis_min_replicas;
		char *instance;			/* the host name by default */
		/* check_state(): from redis_url and redis_sentinels */
		char *redis_host;		/* NULL with a unix socket */
		unsigned redis_port;
		char *redis_socket;		/* NULL over TCP */
		bool redis_tls;			/* rediss:// */
		char *redis_ca_file;		/* for it; NULL: the system's */
		unsigned redis_db;
		struct strlist redis_sentinels;	/* "host:port" */
	} state;
};

/* Diagnostics from a load: each is "FILE:LINE: message" (warnings say
 * "warning: " after the location). Owned by the caller; free with
 * config_diag_free(). */
struct config_diag {
	size_t n;
	size_t errors;		/* how many of them are errors */
	char **lines;
	bool *is_error;		/* per line: error (true) or warning */
};

/*
 * Load and validate PATH. On success returns a new snapshot (free with
 * config_free()) and diag may hold warnings; on failure returns NULL and diag
 * holds at least one error. diag must be zeroed by the caller.
 */
struct config *config_load(const char *path, struct config_diag *diag) MUST_USE;
/* The same, without reading or checking secret files (the bind password,
 * keys, keytabs): for the parts of ssprctl a front end's account runs
 * (submit, status), which need only [daemon] and may not read secrets. */
struct config *config_load_public(const char *path, struct config_diag *diag)
    MUST_USE;
/* Snapshots are shared by reference (the directory pool keeps the one it was
 * built from across a reload); config_free() drops one reference. */
struct config *config_ref(struct config *cfg);
void config_free(struct config *cfg);
void config_diag_free(struct config_diag *diag);

/* ssprd -t / ssprctl check-config: print every diagnostic to stderr, then
 * "PATH: configuration OK" to stdout when the file is usable. Returns the
 * exit status: 0 usable, 1 not. */
int config_check(const char *path);

/* Whether mail / SMS can be sent: a command or SMTP / an HTTPS gateway. */
bool config_email_on(const struct config *cfg);
bool config_sms_on(const struct config *cfg);

/* Names for enums, for logs and ssprctl. */
const char *config_log_level_name(enum log_level level);
const char *config_dir_type_name(enum dir_type type);
const char *config_method_name(enum method m);

#endif
