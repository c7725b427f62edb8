/*
 * utf8.c - strict UTF-8 decoding and UTF-16LE encoding (see utf8.h).
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <uninorm.h>
#include <unictype.h>
#include <unistr.h>

#include "common/utf8.h"

size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool
utf8_plain_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (len > 0) {
		if ((n = utf8_decode(p, len, &cp)) == 0)
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		p += n;
		len -= n;
	}
	return true;
}

long
utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	uint32_t cp;
	size_t n;

	while (len > 0) {
		if ((n = utf8_decode(p, len, &cp)) == 0 || cp == 0)
			return -1;
		p += n;
		len -= n;
		count++;
	}
	return count;
}

size_t
utf16le_size(size_t len, bool quoted)
{
	/* Each UTF-8 byte yields at most one UTF-16 unit (4 bytes -> 2). */
	return 2 * len + (quoted ? 4 : 0);
}

static unsigned char *
put16(unsigned char *o, uint32_t u)
{
	o[0] = (unsigned char)(u & 0xff);
	o[1] = (unsigned char)(u >> 8);
	return o + 2;
}

size_t
utf8_to_utf16le(const char *s, size_t len, bool quoted, unsigned char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char *o = out;
	uint32_t cp;
	size_t n;

	if (quoted)
		o = put16(o, '"');
	while (len > 0) {
		if ((n = utf8_decode(p, len, &cp)) == 0 || cp == 0)
			return 0;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			o = put16(o, 0xd800 | (cp >> 10));
			o = put16(o, 0xdc00 | (cp & 0x3ff));
		} else {
			o = put16(o, cp);
		}
		p += n;
		len -= n;
	}
	if (quoted)
		o = put16(o, '"');
	return (size_t)(o - out);
}

char *
utf8_canonical_name(const char *s, size_t len)
{
	uint8_t *folded;
	size_t n = 0, o = 0, i = 0;
	char *out;
	bool space = false;

	if (utf8_chars(s, len) < 0)
		return NULL;
	/* Case folding with NFKC normalisation, as for caseless matching of
	 * compatibility-equivalent strings (Unicode 3.13, D146). */
	folded = u8_casefold((const uint8_t *)s, len, NULL, UNINORM_NFKC,
	    NULL, &n);
	if (folded == NULL)
		return NULL;
	out = malloc(n + 1);
	if (out == NULL) {
		free(folded);
		return NULL;
	}
	while (i < n) {
		ucs4_t c;
		int k = u8_mbtouc(&c, folded + i, n - i);

		if (k <= 0)
			break;
		if (uc_is_space(c) || uc_is_property_white_space(c)) {
			space = o > 0;
		} else if (uc_is_general_category(c, UC_CATEGORY_Cf)) {
			/* zero-width and other format characters: LDAP's
			 * string preparation maps them to nothing too */
		} else {
			if (space)
				out[o++] = ' ';
			space = false;
			memcpy(out + o, folded + i, (size_t)k);
			o += (size_t)k;
		}
		i += (size_t)k;
	}
	out[o] = '\0';
	free(folded);
	return out;
}
