/*
 * values.h - parsers for the value types of the INI file (config/ internal).
 *
 * Each parser takes the raw text of one value and either fills its output and
 * returns NULL, or returns a static or caller-buffered message that says what
 * is wrong, phrased to follow "key: ". None of them keeps a pointer to its
 * input. Allocation failures are fatal (the loader is not a place to limp on).
 */
#ifndef SSPRD_CONFIG_VALUES_H
#define SSPRD_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "common/xalloc.h"

/* Room for a composed message. */
#define VALUE_MSG_MAX 256

const char *value_uint(const char *s, unsigned min, unsigned max, unsigned *out,
    char msg[VALUE_MSG_MAX]);
const char *value_bool(const char *s, bool *out);
/* names is a NULL-terminated list; *out becomes the index of the match. */
const char *value_enum(const char *s, const char *const *names, int *out,
    char msg[VALUE_MSG_MAX]);
const char *value_abs_path(const char *s);
const char *value_dn(const char *s);
/* Appends each whitespace-separated URI of s to list. */
const char *value_uri_list(const char *s, struct strlist *list,
    char msg[VALUE_MSG_MAX]);
const char *value_user_filter(const char *s);
const char *value_attribute(const char *s);
/* Names of the methods in enum method bit order (email, sms, questions,
 * totp). */
const char *value_methods(const char *s, unsigned *out, char msg[VALUE_MSG_MAX]);
/* [email] notify: reset, unlock, change, register (enum notify_event);
 * "" is none. */
const char *value_events(const char *s, unsigned *out, char msg[VALUE_MSG_MAX]);
/* A URL whose scheme is one of schemes (NULL-terminated), with a host and
 * no user name, password, query or fragment; path only when path_ok. */
const char *value_url(const char *s, const char *const *schemes, bool path_ok,
    char msg[VALUE_MSG_MAX]);
/* Is the URL's host a loopback address or "localhost"? (s is a valid
 * value_url().) */
bool value_url_loopback(const char *s);
const char *value_host_port(const char *s, char **host, unsigned *port);
const char *value_header_text(const char *s);
const char *value_command(const char *s, struct command *out);

/*
 * A secret file must be a regular file that neither group nor other may
 * access. With want_content, its first line (at most 4 KiB, no NUL) is
 * returned in sodium_malloc()ed memory: the caller wipes it with
 * sodium_free().
 */
/* A secret file of HTTP header lines ("Name: value", one a line; [sms]
 * header_file), read whole into sodium_malloc()ed memory. */
const char *value_secret_headers(const char *path, char **content,
    size_t *len, char msg[VALUE_MSG_MAX]);
const char *value_secret_file(const char *path, bool want_content,
    char **content, size_t *len, char msg[VALUE_MSG_MAX]);
const char *value_readable_file(const char *path, char msg[VALUE_MSG_MAX]);
/*
 * A key file: a secret file (as above) whose one line is exactly
 * 2 * CONFIG_TOTP_KEY_LEN hexadecimal digits (either case). *key gets the
 * CONFIG_TOTP_KEY_LEN bytes in sodium_malloc()ed memory: the caller wipes
 * it with sodium_free().
 */
const char *value_key_file(const char *path, unsigned char **key,
    char msg[VALUE_MSG_MAX]);

/*
 * A message template file: at most 16 KiB of UTF-8 without NUL, {{name}}
 * placeholders only from allowed (what that message fills: a template that
 * names another would fail for real users only, and so tell them apart
 * from unknown ones), {{code}} present when need_code; with headers, the
 * text starts with "Name: value" lines including Subject: and a blank line,
 * and sets neither From: nor To: (ssprd does). *text gets a copy.
 */
const char *value_template(const char *path, bool headers,
    const char *const *allowed, bool need_code, char **text,
    char msg[VALUE_MSG_MAX]);

/* RFC 4515 structure check of a complete filter (no %s left in it). */
bool value_filter_ok(const char *f);

void command_free(struct command *c);

#endif
