/*
 * parse.c - the bytes a browser sends, turned into values: form bodies,
 * cookies, query strings and Accept-Language.
 *
 * Everything here reads untrusted input and nothing else: no I/O, no
 * logging, no global state, so the fuzzer (fuzz/fuzz_web.c) can drive it
 * alone. Every function bounds what it reads by the length it was given
 * and what it writes by the size of its output, and refuses rather than
 * guesses: a form with a name twice, a bad %-escape or a value that is not
 * UTF-8 text is refused whole, never half taken.
 *
 * Form values may be passwords, so they live in secret memory (locked,
 * wiped on release) from the moment they are decoded.
 */
#include "build.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/secret.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "web/web.h"

/* Decode len bytes of a urlencoded component into out (which has room for
 * len + 1 bytes, since decoding never grows). Returns the decoded length,
 * or -1 on a bad escape. */
static long
urldecode(const char *in, size_t len, char *out, bool plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '%') {
			size_t n = 0;

			if (i + 2 >= len || sodium_hex2bin((unsigned char *)out + o,
			    1, in + i + 1, 2, NULL, &n, NULL) != 0 || n != 1)
				return -1;
			o++;
			i += 2;
		} else if (in[i] == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return (long)o;
}

static bool
name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 32)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return false;
	return true;
}

void
parse_form_clear(struct form *form)
{
	unsigned i;

	for (i = 0; i < form->n; i++) {
		free(form->f[i].name);
		secret_free(form->f[i].value);
	}
	form->n = 0;
}

int
parse_form(const char *body, size_t len, struct form *form)
{
	size_t pos = 0;

	form->n = 0;
	while (pos < len) {
		const char *pair = body + pos, *amp, *eq;
		size_t plen, nlen, vlen;
		char name[33], *value;
		long n;
		unsigned i;

		amp = memchr(pair, '&', len - pos);
		plen = amp != NULL ? (size_t)(amp - pair) : len - pos;
		pos += plen + 1;
		if (plen == 0)
			continue;
		eq = memchr(pair, '=', plen);
		nlen = eq != NULL ? (size_t)(eq - pair) : plen;
		vlen = eq != NULL ? plen - nlen - 1 : 0;
		if (form->n == PARSE_FIELDS_MAX || nlen > 32)
			goto bad;
		/* names are plain; a %-escaped name is refused by name_ok */
		memcpy(name, pair, nlen);
		name[nlen] = '\0';
		if (!name_ok(name, nlen))
			goto bad;
		for (i = 0; i < form->n; i++)
			if (strcmp(form->f[i].name, name) == 0)
				goto bad;
		value = secret_alloc(vlen + 1);
		n = urldecode(eq != NULL ? eq + 1 : "", vlen, value, true);
		if (n < 0 || utf8_chars(value, (size_t)n) < 0) {
			secret_free(value);
			goto bad;
		}
		form->f[form->n].name = xstrdup(name);
		form->f[form->n].value = value;
		form->f[form->n].len = (size_t)n;
		form->n++;
	}
	return 0;
bad:
	parse_form_clear(form);
	return -1;
}

const char *
parse_form_get(const struct form *form, const char *name)
{
	unsigned i;

	for (i = 0; i < form->n; i++)
		if (strcmp(form->f[i].name, name) == 0)
			return form->f[i].value;
	return NULL;
}

int
parse_cookie(const char *header, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = header;

	if (header == NULL || size == 0)
		return -1;
	while (*p != '\0') {
		const char *end;
		size_t vlen;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			const char *v = p + nlen + 1;

			vlen = (size_t)(end - v);
			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= size)
				return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

int
parse_query(const char *query, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = query;

	if (query == NULL || size == 0)
		return -1;
	while (*p != '\0') {
		const char *end = strchr(p, '&');
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t vlen = len - nlen - 1;
			char *tmp;
			long n;

			if (vlen >= size)
				return -1;
			tmp = xmalloc(vlen + 1);
			n = urldecode(p + nlen + 1, vlen, tmp, true);
			if (n < 0 || (size_t)n >= size || utf8_chars(tmp, (size_t)n) < 0) {
				free(tmp);
				return -1;
			}
			memcpy(out, tmp, (size_t)n + 1);
			free(tmp);
			return 0;
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return -1;
}

/* The quality of one Accept-Language entry's parameters (";q=0.5"), in
 * thousandths; 1000 without one, -1 when malformed. */
static int
quality(const char *p, const char *end)
{
	int q = 1000, scale = 100;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return q;
	if (*p++ != ';')
		return -1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return -1;
	p += 2;
	if (*p == '1')
		return 1000;
	if (*p != '0')
		return -1;
	q = 0;
	p++;
	if (p < end && *p == '.')
		for (p++; p < end && isdigit((unsigned char)*p) && scale > 0; p++) {
			q += (*p - '0') * scale;
			scale /= 10;
		}
	return q;
}

const char *
parse_accept_language(const char *header, const char *const *offered)
{
	const char *p = header, *best = NULL;
	int best_q = 0;

	if (header == NULL)
		return NULL;
	while (*p != '\0') {
		const char *end = strchr(p, ','), *tag, *semi;
		size_t tlen;
		int q;
		unsigned i;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		tag = p;
		while (p < end && (isalpha((unsigned char)*p) || *p == '-' ||
		    isdigit((unsigned char)*p) || *p == '*'))
			p++;
		semi = p;
		tlen = (size_t)(semi - tag);
		/* the primary subtag is what ssprweb has texts for */
		for (i = 0; i < tlen; i++)
			if (tag[i] == '-')
				break;
		q = quality(semi, end);
		if (q > best_q && i > 0 && i <= 8) {
			unsigned k;

			for (k = 0; offered[k] != NULL; k++)
				if (strlen(offered[k]) == i &&
				    strncasecmp(offered[k], tag, i) == 0) {
					best = offered[k];
					best_q = q;
					break;
				}
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return best;
}
