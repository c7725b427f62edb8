/*
 * totp.h - time-based one-time passwords (RFC 6238) and their sealed secrets.
 *
 * A leaf module: HMAC-SHA1 from nettle (libsodium has no SHA-1, and
 * authenticator apps use SHA-1 unless told otherwise), randomness and
 * secretbox from libsodium, nothing of the engine.
 *
 * What ssprd offers is fixed: SHA-1, TOTP_DIGITS digits, TOTP_PERIOD
 * seconds, secrets of TOTP_SECRET_LEN bytes, the URI saying so explicitly
 * (apps that ignore the parameters use these defaults anyway).
 *
 * A registered secret lives in a directory attribute as a JSON text,
 * {"v":1,"n":"<nonce>","c":"<ciphertext>","t":<registered>}: n and c are
 * standard base64 (with padding), c is crypto_secretbox_easy() of the secret
 * and the registration time, under a key derived from the key file's key
 * and an owner string (a stable identity of the account). A value copied
 * onto another account, sealed under another key, or changed in any byte
 * does not open. t repeats the registration time in clear for people
 * reading the directory; totp_open() refuses a value whose clear t differs
 * from the sealed one.
 *
 * Secrets in memory: totp_new_secret() and totp_uri() return memory from
 * common/secret.h (locked, wiped when freed with secret_free()); every
 * intermediate buffer here is wiped before it is released.
 */
#ifndef SSPRD_TOTP_H
#define SSPRD_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN	20	/* bytes: RFC 4226's recommended 160 bits */
#define TOTP_DIGITS	6
#define TOTP_PERIOD	30	/* seconds */
#define TOTP_KEY_LEN	32	/* crypto_secretbox_KEYBYTES */
/* Base32 of n bytes, without padding, and its NUL. */
#define TOTP_BASE32_LEN(n)	(((n) * 8 + 4) / 5 + 1)

/* The time step of a Unix time: floor(t / period). period > 0; t < 0 gives
 * a negative step, which no code matches. */
int64_t totp_step(int64_t t, unsigned period);

/* RFC 4226 HOTP of counter step with RFC 6238's SHA-1: the dynamically
 * truncated HMAC, modulo 10^digits. digits is 6, 7 or 8; anything else
 * gives 0. The caller prints it with leading zeros (%0*u). */
uint32_t totp_code(const unsigned char *secret, size_t len, uint64_t step,
    unsigned digits);

enum totp_result {
	TOTP_OK,	/* matched a step not used before: *matched_step set */
	TOTP_WRONG,	/* no step of the window has this code, or not 6 digits */
	TOTP_REPLAY,	/* matched only steps at or before last_used_step */
};

/*
 * Check code (a string of exactly TOTP_DIGITS digits) against the steps of
 * now - 1, now and now + 1 (now in Unix seconds; TOTP_PERIOD steps). Every
 * step of the window is computed and compared in constant time
 * (sodium_memcmp), whatever matches. A step <= last_used_step never
 * verifies (each step once per user: the caller records *matched_step and
 * passes it next time; -1 for none). When the code matches a used step and
 * an unused one, the unused one wins.
 */
enum totp_result totp_check(const unsigned char *secret, size_t len,
    const char *code, int64_t now, int64_t last_used_step,
    int64_t *matched_step);

/* RFC 4648 base32, upper case, no padding, NUL-terminated. outsize must be
 * at least TOTP_BASE32_LEN(len); returns the length written (without the
 * NUL), 0 when out is too small. */
size_t totp_base32(const unsigned char *in, size_t len, char *out,
    size_t outsize);

/* TOTP_SECRET_LEN random bytes from libsodium, in secret memory (free with
 * secret_free()). Fatal when out of memory. */
unsigned char *totp_new_secret(void);

/* The owner string secrets are sealed for: the account's whole DN, ASCII
 * letters folded to lower case (AD and OpenLDAP compare DNs so); free()
 * it. Moving or renaming the account means registering the app again. */
char *totp_owner(const char *dn);

/*
 * The otpauth URI an authenticator app takes (from a QR code):
 *   otpauth://totp/ISSUER:USER?secret=BASE32&issuer=ISSUER&algorithm=SHA1
 *   &digits=6&period=30
 * with issuer and user percent-encoded (everything but RFC 3986 unreserved
 * characters, so ':' inside either cannot split the label). The secret is
 * TOTP_SECRET_LEN bytes. Returns secret memory (free with secret_free()).
 */
char *totp_uri(const char *issuer, const char *user,
    const unsigned char *secret);

/*
 * Seal secret (TOTP_SECRET_LEN bytes) registered at registered_at for the
 * account owner under key: the attribute value described above, malloc()ed
 * (not secret: it holds no clear secret). A fresh random nonce each time.
 */
char *totp_seal(const unsigned char key[TOTP_KEY_LEN], const char *owner,
    const unsigned char *secret, int64_t registered_at);

/*
 * Open an attribute value sealed by totp_seal() with the same key and
 * owner: 0 with secret_out (TOTP_SECRET_LEN bytes) and *registered_at
 * filled, -1 when value is not such a text, was sealed under another key or
 * owner, or was changed (secret_out is then wiped).
 */
int totp_open(const unsigned char key[TOTP_KEY_LEN], const char *owner,
    const char *value, unsigned char *secret_out, int64_t *registered_at);

#endif
