/*
 * values.c - parse and check single INI values (see values.h).
 *
 * Guarantees: every accepted value is in range and well-formed (DNs parse as
 * LDAPv3, URIs are ldap/ldaps/ldapi with a host and nothing else, the user
 * filter is a valid RFC 4515 filter with exactly one %s, header texts cannot
 * inject headers). A secret file's type and permissions are checked on the
 * descriptor that is then read, so a file swapped in between check and read
 * is not read.
 */
#include "build.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "common/curlfn.h"

#include <ldap.h>
#include <sodium.h>

#include "common/utf8.h"
#include "config/values.h"

#define SECRET_MAX 4096

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 2, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

bool
strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
command_free(struct command *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	c->argv = NULL;
	c->argc = 0;
}

const char *
value_uint(const char *s, unsigned min, unsigned max, unsigned *out,
    char msg[VALUE_MSG_MAX])
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return "must be a whole number";
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return "must be a whole number";
	if (errno == ERANGE || v < min || v > max) {
		snprintf(msg, VALUE_MSG_MAX, "must be between %u and %u", min, max);
		return msg;
	}
	*out = (unsigned)v;
	return NULL;
}

const char *
value_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return NULL;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return NULL;
		}
	}
	return "must be yes or no";
}

const char *
value_enum(const char *s, const char *const *names, int *out,
    char msg[VALUE_MSG_MAX])
{
	size_t used;

	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return NULL;
		}
	}
	used = (size_t)snprintf(msg, VALUE_MSG_MAX, "must be one of:");
	for (int i = 0; names[i] != NULL && used < VALUE_MSG_MAX; i++)
		used += (size_t)snprintf(msg + used, VALUE_MSG_MAX - used, "%s %s",
		    i ? "," : "", names[i]);
	return msg;
}

const char *
value_abs_path(const char *s)
{
	if (s[0] != '/')
		return "must be an absolute path";
	if (strlen(s) >= PATH_MAX)
		return "path is too long";
	return NULL;
}

const char *
value_dn(const char *s)
{
	LDAPDN dn = NULL;
	int rc;

	if (*s == '\0')
		return "must be a distinguished name";
	rc = ldap_str2dn(s, &dn, LDAP_DN_FORMAT_LDAPV3);
	if (rc != LDAP_SUCCESS || dn == NULL) {
		ldap_dnfree(dn);
		return "is not a valid distinguished name (RFC 4514)";
	}
	ldap_dnfree(dn);
	return NULL;
}

static const char *
one_uri(const char *s, char msg[VALUE_MSG_MAX])
{
	LDAPURLDesc *u = NULL;
	const char *err = NULL;

	if (ldap_url_parse(s, &u) != LDAP_URL_SUCCESS) {
		snprintf(msg, VALUE_MSG_MAX, "'%.100s' is not an LDAP URI", s);
		return msg;
	}
	if (strcmp(u->lud_scheme, "ldap") != 0 &&
	    strcmp(u->lud_scheme, "ldaps") != 0 &&
	    strcmp(u->lud_scheme, "ldapi") != 0)
		err = "scheme must be ldap, ldaps or ldapi";
	else if (strcmp(u->lud_scheme, "ldapi") != 0 &&
	    (u->lud_host == NULL || *u->lud_host == '\0'))
		err = "must name a host";
	else if ((u->lud_dn != NULL && *u->lud_dn != '\0') ||
	    u->lud_attrs != NULL || u->lud_filter != NULL || u->lud_exts != NULL)
		err = "must be scheme://host[:port] only (no DN, attributes or filter)";
	if (err != NULL) {
		snprintf(msg, VALUE_MSG_MAX, "'%.100s': %s", s, err);
		err = msg;
	}
	ldap_free_urldesc(u);
	return err;
}

const char *
value_uri_list(const char *s, struct strlist *list, char msg[VALUE_MSG_MAX])
{
	char *copy = xstrdup(s), *save = NULL, *tok;
	const char *err = NULL;
	size_t before = list->n;

	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if ((err = one_uri(tok, msg)) != NULL)
			break;
		strlist_add(list, tok);
	}
	free(copy);
	if (err == NULL && list->n == before)
		err = "must list at least one URI";
	return err;
}

/*
 * RFC 4515 structure, recursive descent over "(" filtercomp ")". Values are
 * checked for unescaped parentheses and well-formed \XX escapes; attribute
 * descriptions for their character set. Returns the position after the filter
 * or NULL.
 */
static const char *filter_parse(const char *p, int depth);

static const char *
filter_value(const char *p)
{
	while (*p != ')' && *p != '\0') {
		if (*p == '(')
			return NULL;
		if (*p == '\\') {
			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]))
				return NULL;
			p += 3;
			continue;
		}
		p++;
	}
	return p;
}

static const char *
filter_item(const char *p)
{
	const char *start = p;

	/* attr [":dn"] [":" rule] or ":" rule for extensible matches */
	while (isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == ';' ||
	    *p == ':')
		p++;
	if (p == start)
		return NULL;
	if (*p == '~' || *p == '>' || *p == '<') {
		p++;
		if (*p != '=')
			return NULL;
	} else if (*p != '=')
		return NULL;
	return filter_value(p + 1);
}

static const char *
filter_parse(const char *p, int depth)
{
	if (depth > 32 || *p != '(')
		return NULL;
	p++;
	switch (*p) {
	case '&':
	case '|':
		p++;
		if (*p != '(')
			return NULL;
		while (*p == '(') {
			if ((p = filter_parse(p, depth + 1)) == NULL)
				return NULL;
		}
		break;
	case '!':
		if ((p = filter_parse(p + 1, depth + 1)) == NULL)
			return NULL;
		break;
	default:
		if ((p = filter_item(p)) == NULL)
			return NULL;
		break;
	}
	return *p == ')' ? p + 1 : NULL;
}

bool
value_filter_ok(const char *f)
{
	const char *end = filter_parse(f, 0);

	return end != NULL && *end == '\0';
}

const char *
value_user_filter(const char *s)
{
	const char *p, *pct = NULL;
	char *probe;
	bool ok;

	for (p = s; (p = strchr(p, '%')) != NULL; p++) {
		if (p[1] != 's')
			return "may contain no % other than the one %s";
		if (pct != NULL)
			return "must contain %s exactly once";
		pct = p;
	}
	if (pct == NULL)
		return "must contain %s where the user name goes";
	probe = xasprintf("%.*sx%s", (int)(pct - s), s, pct + 2);
	ok = value_filter_ok(probe);
	free(probe);
	return ok ? NULL : "is not a valid LDAP filter (RFC 4515)";
}

const char *
value_attribute(const char *s)
{
	const char *p = s;

	if (isalpha((unsigned char)*p)) {
		while (isalnum((unsigned char)*p) || *p == '-')
			p++;
	} else if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
	}
	if (p == s || *p != '\0' || p - s > 128)
		return "must be an attribute name (letters, digits, hyphens) or an OID";
	return NULL;
}

/* A list of words from names (spaces or commas between), each at most
 * once, as bits 1 << index; what names the list in messages. */
static const char *
value_word_set(const char *s, const char *const *names, const char *what,
    unsigned *out, char msg[VALUE_MSG_MAX])
{
	char *copy = xstrdup(s), *save = NULL, *tok;
	const char *err = NULL;
	unsigned set = 0;
	int idx;

	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (value_enum(tok, names, &idx, msg) != NULL) {
			size_t used = (size_t)snprintf(msg, VALUE_MSG_MAX,
			    "unknown %s '%.40s' (", what, tok);

			for (int i = 0; names[i] != NULL && used < VALUE_MSG_MAX; i++)
				used += (size_t)snprintf(msg + used,
				    VALUE_MSG_MAX - used, "%s%s", i ? ", " : "",
				    names[i]);
			if (used < VALUE_MSG_MAX)
				snprintf(msg + used, VALUE_MSG_MAX - used, ")");
			err = msg;
			break;
		}
		if (set & (1u << idx)) {
			snprintf(msg, VALUE_MSG_MAX, "%s '%s' is listed twice", what,
			    tok);
			err = msg;
			break;
		}
		set |= 1u << idx;
	}
	free(copy);
	if (err == NULL)
		*out = set;
	return err;
}

const char *
value_methods(const char *s, unsigned *out, char msg[VALUE_MSG_MAX])
{
	static const char *const names[] = { "email", "sms", "questions", "totp",
	    NULL };

	return value_word_set(s, names, "method", out, msg);
}

const char *
value_events(const char *s, unsigned *out, char msg[VALUE_MSG_MAX])
{
	/* in the order of enum notify_event */
	static const char *const names[] = { "reset", "unlock", "change",
	    "register", NULL };

	return value_word_set(s, names, "event", out, msg);
}

const char *
value_host_port(const char *s, char **host, unsigned *port)
{
	const char *colon, *h = s;
	size_t hlen;
	unsigned long p;
	char *end;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return "must be host:port or [ipv6]:port";
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return "must be host:port or [ipv6]:port";
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0)
		return "must name a host or address to listen on";
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || p < 1 || p > 65535)
		return "port must be between 1 and 65535";
	*host = xstrndup(h, hlen);
	*port = (unsigned)p;
	return NULL;
}

const char *
value_header_text(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "may not contain control characters";
	return *s ? NULL : "may not be empty";
}

/* Split like a shell: blanks separate words, '...' and "..." quote, a
 * backslash escapes the next character (outside single quotes). No
 * expansion of any kind. */
const char *
value_command(const char *s, struct command *out)
{
	struct command c = { 0 };
	size_t len = strlen(s);
	char *word = xmalloc(len + 1);
	const char *err = NULL;
	const char *p = s;

	for (;;) {
		size_t w = 0;
		bool have = false;
		char quote = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		while (*p != '\0' && (quote || (*p != ' ' && *p != '\t'))) {
			have = true;
			if (quote == '\'' && *p == '\'') {
				quote = 0;
			} else if (quote == '\'') {
				word[w++] = *p;
			} else if (*p == '\\') {
				if (p[1] == '\0') {
					err = "ends with a lone backslash";
					goto out;
				}
				word[w++] = *++p;
			} else if (quote == '"' && *p == '"') {
				quote = 0;
			} else if (quote == 0 && (*p == '\'' || *p == '"')) {
				quote = *p;
			} else {
				word[w++] = *p;
			}
			p++;
		}
		if (quote) {
			err = "has an unterminated quote";
			goto out;
		}
		if (have) {
			word[w] = '\0';
			c.argv = xreallocarray(c.argv, c.argc + 2, sizeof(*c.argv));
			c.argv[c.argc++] = xstrdup(word);
			c.argv[c.argc] = NULL;
		}
	}
	if (c.argc == 0)
		err = "may not be empty";
	else if (c.argv[0][0] != '/')
		err = "must start with the absolute path of the program";
out:
	free(word);
	if (err != NULL)
		command_free(&c);
	else
		*out = c;
	return err;
}

static const char *
errno_msg(const char *what, const char *path, char msg[VALUE_MSG_MAX])
{
	snprintf(msg, VALUE_MSG_MAX, "cannot %s %.150s: %s", what, path,
	    strerror(errno));
	return msg;
}

const char *
value_readable_file(const char *path, char msg[VALUE_MSG_MAX])
{
	struct stat st;
	int fd;

	if (path[0] != '/')
		return "must be an absolute path";
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno_msg("read", path, msg);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(msg, VALUE_MSG_MAX, "%.150s is not a regular file", path);
		return msg;
	}
	close(fd);
	return NULL;
}

static const char *read_secret(const char *path, bool want_content,
    bool one_line, char **content, size_t *len, char msg[VALUE_MSG_MAX]);

const char *
value_secret_file(const char *path, bool want_content, char **content,
    size_t *len, char msg[VALUE_MSG_MAX])
{
	return read_secret(path, want_content, true, content, len, msg);
}

/* Each line "Name: value": a token, a colon, then text without control
 * characters but tab (RFC 9110 5.1, 5.5); no CR but in a CRLF. */
static const char *
header_lines_error(const char *s, size_t len, char msg[VALUE_MSG_MAX])
{
	unsigned line = 1;

	for (size_t i = 0; i < len; line++) {
		size_t name = 0;

		while (i + name < len && (isalnum((unsigned char)s[i + name]) ||
		    strchr("!#$%&'*+-.^_`|~", s[i + name]) != NULL))
			name++;
		if (name == 0 || i + name >= len || s[i + name] != ':')
			goto bad;
		for (i += name + 1; i < len && s[i] != '\n'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\r' && i + 1 < len && s[i + 1] == '\n')
				continue;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto bad;
		}
		i++;	/* the LF */
	}
	return NULL;
bad:
	snprintf(msg, VALUE_MSG_MAX, "line %u is not a header line "
	    "(Name: value, printable)", line);
	return msg;
}

const char *
value_secret_headers(const char *path, char **content, size_t *len,
    char msg[VALUE_MSG_MAX])
{
	const char *err = read_secret(path, true, false, content, len, msg);
	char why[VALUE_MSG_MAX];

	if (err == NULL && header_lines_error(*content, *len, why) != NULL) {
		sodium_free(*content);
		*content = NULL;
		snprintf(msg, VALUE_MSG_MAX, "%.100s: %.100s", path, why);
		return msg;
	}
	return err;
}

static const char *
read_secret(const char *path, bool want_content, bool one_line,
    char **content, size_t *len, char msg[VALUE_MSG_MAX])
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t used = 0;
	int fd;

	if (path[0] != '/')
		return "must be an absolute path";
	/* Secret files may be symlinks (systemd credentials, config
	 * management); the descriptor is what gets checked and read. */
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno_msg("read secret file", path, msg);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(msg, VALUE_MSG_MAX, "secret file %.150s is not a regular file",
		    path);
		return msg;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		snprintf(msg, VALUE_MSG_MAX,
		    "secret file %.150s is accessible by group or other (mode %04o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return msg;
	}
	if (!want_content) {
		close(fd);
		return NULL;
	}
	buf = sodium_malloc(SECRET_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return "cannot allocate protected memory for the secret";
	}
	while (used < SECRET_MAX &&
	    (n = read(fd, buf + used, SECRET_MAX - used)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sodium_free(buf);
			errno_msg("read secret file", path, msg);
			close(fd);
			return msg;
		}
		used += (size_t)n;
	}
	/* Anything beyond the limit means this is not a password file. */
	if (used == SECRET_MAX) {
		char extra;

		if (read(fd, &extra, 1) == 1) {
			close(fd);
			sodium_free(buf);
			snprintf(msg, VALUE_MSG_MAX,
			    "secret file %.150s is larger than %d bytes", path,
			    SECRET_MAX);
			return msg;
		}
	}
	close(fd);
	/* One trailing line end is the editor's, not the secret's. */
	if (used > 0 && buf[used - 1] == '\n')
		used--;
	if (used > 0 && buf[used - 1] == '\r')
		used--;
	buf[used] = '\0';
	if (used == 0 || memchr(buf, '\0', used) != NULL ||
	    (one_line && memchr(buf, '\n', used) != NULL)) {
		sodium_free(buf);
		snprintf(msg, VALUE_MSG_MAX, "secret file %.150s must hold %s",
		    path, one_line ? "one non-empty line" : "some text");
		return msg;
	}
	*content = buf;
	*len = used;
	return NULL;
}

#define TEMPLATE_MAX (16 * 1024)


/* Every {{ name }} in t names a known placeholder; *has_code when one is
 * {{code}}. */
static const char *
check_placeholders(const char *t, const char *const *allowed, bool *has_code,
    char msg[VALUE_MSG_MAX])
{
	const char *p = t, *end;

	*has_code = false;
	while ((p = strstr(p, "{{")) != NULL) {
		char name[32];
		size_t n;
		bool known = false;

		p += 2;
		if ((end = strstr(p, "}}")) == NULL)
			return "has {{ without }}";
		while (*p == ' ')
			p++;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		if (n == 0 || n >= sizeof(name) || p + n + strspn(p + n, " ") != end)
			return "has a placeholder that is not {{name}}";
		memcpy(name, p, n);
		name[n] = '\0';
		for (size_t i = 0; allowed[i] != NULL; i++)
			known |= strcmp(name, allowed[i]) == 0;
		if (!known) {
			size_t used = (size_t)snprintf(msg, VALUE_MSG_MAX,
			    "has {{%s}}, which this message does not fill (it "
			    "fills:", name);

			for (size_t i = 0; allowed[i] != NULL && used < VALUE_MSG_MAX; i++)
				used += (size_t)snprintf(msg + used,
				    VALUE_MSG_MAX - used, " {{%s}}", allowed[i]);
			if (used < VALUE_MSG_MAX)
				snprintf(msg + used, VALUE_MSG_MAX - used, ")");
			return msg;
		}
		*has_code |= strcmp(name, "code") == 0;
		p = end + 2;
	}
	return NULL;
}

static const char *
check_headers(const char *t)
{
	const char *line = t;
	bool subject = false;

	for (;;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t name = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-");

		if (len == 0 || (len == 1 && line[0] == '\r'))
			break;		/* the blank line after the headers */
		if (nl == NULL)
			return "has no blank line between headers and body";
		if (name == 0 || line[name] != ':')
			return "must start with header lines (Subject: ...) "
			    "and a blank line";
		if (strncasecmp(line, "From:", 5) == 0 ||
		    strncasecmp(line, "To:", 3) == 0)
			return "may not set From: or To: (ssprd sets them)";
		subject |= strncasecmp(line, "Subject:", 8) == 0;
		line = nl + 1;
	}
	return subject ? NULL : "has no Subject: header";
}

const char *
value_template(const char *path, bool headers, const char *const *allowed,
    bool need_code, char **text, char msg[VALUE_MSG_MAX])
{
	char why[VALUE_MSG_MAX];
	const char *err;
	char *buf;
	FILE *f;
	size_t n;
	bool has_code;

	if ((err = value_readable_file(path, msg)) != NULL)
		return err;
	if ((f = fopen(path, "re")) == NULL)
		return errno_msg("read", path, msg);
	buf = xmalloc(TEMPLATE_MAX + 2);
	n = fread(buf, 1, TEMPLATE_MAX + 1, f);
	fclose(f);
	buf[n] = '\0';
	err = NULL;
	if (n > TEMPLATE_MAX)
		err = "template is larger than 16 KiB";
	else if (utf8_chars(buf, n) < 0)
		err = "template is not UTF-8 text";
	else if ((err = check_placeholders(buf, allowed, &has_code, why)) == NULL) {
		if (need_code && !has_code)
			err = "template must contain {{code}}";
		else if (headers)
			err = check_headers(buf);
	}
	if (err != NULL) {
		snprintf(msg, VALUE_MSG_MAX, "%.80s %.170s", path, err);
		free(buf);
		return msg;
	}
	*text = buf;
	return NULL;
}

const char *
value_key_file(const char *path, unsigned char **key, char msg[VALUE_MSG_MAX])
{
	char *text = NULL;
	unsigned char *k;
	size_t len = 0, binlen = 0;
	const char *err;

	if ((err = value_secret_file(path, true, &text, &len, msg)) != NULL)
		return err;
	k = sodium_malloc(CONFIG_TOTP_KEY_LEN);
	if (k == NULL) {
		sodium_free(text);
		return "cannot allocate protected memory for the key";
	}
	if (len != 2 * CONFIG_TOTP_KEY_LEN ||
	    sodium_hex2bin(k, CONFIG_TOTP_KEY_LEN, text, len, NULL, &binlen,
	    NULL) != 0 || binlen != CONFIG_TOTP_KEY_LEN) {
		sodium_free(text);
		sodium_free(k);
		snprintf(msg, VALUE_MSG_MAX, "key file %.150s must hold one line "
		    "of %d hexadecimal digits (openssl rand -hex %d)", path,
		    2 * CONFIG_TOTP_KEY_LEN, CONFIG_TOTP_KEY_LEN);
		return msg;
	}
	sodium_free(text);	/* wipes */
	*key = k;
	return NULL;
}

const char *
value_url(const char *s, const char *const *schemes, bool path_ok,
    char msg[VALUE_MSG_MAX])
{
	static const CURLUPart absent[] = { CURLUPART_USER, CURLUPART_PASSWORD,
	    CURLUPART_OPTIONS, CURLUPART_QUERY, CURLUPART_FRAGMENT };
	const struct curlfn *cf = curlfn_get(msg, VALUE_MSG_MAX);
	const char *err = NULL;
	char *part = NULL;
	bool known = false;
	CURLU *u;

	if (cf == NULL)
		return msg;
	if ((u = cf->url()) == NULL)
		return "cannot parse a URL (out of memory)";
	if (cf->url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK) {
		err = "must be a URL such as smtps://mail.example.com";
		goto out;
	}
	if (cf->url_get(u, CURLUPART_SCHEME, &part, 0) == CURLUE_OK)
		for (size_t i = 0; schemes[i] != NULL; i++)
			known = known || strcmp(part, schemes[i]) == 0;
	cf->free(part);
	part = NULL;
	if (!known) {
		size_t used = (size_t)snprintf(msg, VALUE_MSG_MAX,
		    "must start with");

		for (size_t i = 0; schemes[i] != NULL && used < VALUE_MSG_MAX; i++)
			used += (size_t)snprintf(msg + used, VALUE_MSG_MAX - used,
			    "%s %s://", i ? " or" : "", schemes[i]);
		err = msg;
		goto out;
	}
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		if (cf->url_get(u, absent[i], &part, 0) == CURLUE_OK) {
			err = absent[i] == CURLUPART_USER ||
			    absent[i] == CURLUPART_PASSWORD ?
			    "may not hold a user name or password (they have keys "
			    "of their own)" : "may not have a query or fragment";
			goto out;
		}
	}
	if (!path_ok && cf->url_get(u, CURLUPART_PATH, &part, 0) == CURLUE_OK &&
	    strcmp(part, "/") != 0 && *part != '\0')
		err = "may not have a path";
out:
	cf->free(part);
	cf->url_cleanup(u);
	return err;
}

bool
value_url_loopback(const char *s)
{
	const struct curlfn *cf;
	char *host = NULL, why[128];
	bool loop = false;
	CURLU *u;

	/* value_url() loaded it, or the URL was refused */
	if ((cf = curlfn_get(why, sizeof(why))) == NULL)
		return false;
	u = cf->url();
	if (u != NULL && cf->url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
	    cf->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		struct in_addr a4;
		struct in6_addr a6;
		size_t n = strlen(host);

		if (strcasecmp(host, "localhost") == 0)
			loop = true;
		else if (inet_pton(AF_INET, host, &a4) == 1)
			loop = (ntohl(a4.s_addr) >> 24) == 127;
		else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
			host[n - 1] = '\0';
			loop = inet_pton(AF_INET6, host + 1, &a6) == 1 &&
			    IN6_IS_ADDR_LOOPBACK(&a6);
		}
	}
	cf->free(host);
	cf->url_cleanup(u);
	return loop;
}
