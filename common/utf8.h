/*
 * utf8.h - strict UTF-8: validation, character counts, UTF-16LE.
 *
 * Passwords are taken exactly as the user typed them: no normalisation, no
 * truncation. "Strict" means what RFC 3629 says: no overlong forms, no
 * surrogate code points, nothing above U+10FFFF; such input is refused, never
 * repaired.
 */
#ifndef SSPRD_UTF8_H
#define SSPRD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one code point at s (len bytes available). Returns its length in
 * bytes (1-4) and sets *cp, or 0 when the bytes there are not valid UTF-8. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Valid UTF-8 without NUL, C0 controls, DEL or C1 controls: text that may
 * end up in a log line, an LDAP filter or a mail, where a control character
 * is never meant and sometimes means harm. */
bool utf8_plain_text(const char *s, size_t len);

/* Characters (code points) in s, or -1 when s is not valid UTF-8 or holds
 * a NUL. */
long utf8_chars(const char *s, size_t len);

/*
 * Encode s as UTF-16LE into out (surrogate pairs above the BMP), optionally
 * between double quotes (AD's unicodePwd). out must hold
 * utf16le_size(len, quoted) bytes. Returns the bytes written, or 0 when s
 * is not valid UTF-8.
 */
size_t utf16le_size(size_t len, bool quoted);
size_t utf8_to_utf16le(const char *s, size_t len, bool quoted, unsigned char *out);

/*
 * The canonical spelling of a user name, for counting names the directory
 * did not resolve: Unicode NFKC (so fullwidth letters and no-break spaces
 * become their plain forms), full case folding, white space trimmed and
 * inner runs made one space, format characters (zero-width space, soft
 * hyphen) dropped. "  Bob\u00a0", "ＢＯＢ" and "bob" are one name.
 * Returns a new string (caller frees), or NULL when s is not valid UTF-8.
 */
char *utf8_canonical_name(const char *s, size_t len);

#endif
