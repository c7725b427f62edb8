/*
 * totp.c - RFC 6238 codes, the otpauth URI and sealed secrets (see totp.h).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/hmac.h>
#include <nettle/sha1.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/totp.h"

/* What is sealed: the secret, then the registration time (8 bytes, big
 * endian). */
#define PLAIN_LEN	(TOTP_SECRET_LEN + 8)
#define BOX_LEN		(crypto_secretbox_MACBYTES + PLAIN_LEN)
#define SEAL_VERSION	1
/* Separates this use of the key from any other. */
#define SUBKEY_CONTEXT	"ssprd totp seal v1"

int64_t
totp_step(int64_t t, unsigned period)
{
	int64_t p = period;

	/* floor division, also for times before 1970 */
	return t >= 0 ? t / p : -((-t + p - 1) / p);
}

uint32_t
totp_code(const unsigned char *secret, size_t len, uint64_t step,
    unsigned digits)
{
	static const uint32_t mod[] = { 1000000, 10000000, 100000000 };
	struct hmac_sha1_ctx ctx;
	unsigned char msg[8], mac[SHA1_DIGEST_SIZE];
	unsigned off;
	uint32_t bin;

	if (digits < 6 || digits > 8)
		return 0;
	for (int i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (unsigned char)(step & 0xff);
	hmac_sha1_set_key(&ctx, len, secret);
	hmac_sha1_update(&ctx, sizeof(msg), msg);
	hmac_sha1_digest(&ctx, sizeof(mac), mac);
	/* RFC 4226 5.3: dynamic truncation */
	off = mac[sizeof(mac) - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	    (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	sodium_memzero(&ctx, sizeof(ctx));
	sodium_memzero(mac, sizeof(mac));
	return bin % mod[digits - 6];
}

enum totp_result
totp_check(const unsigned char *secret, size_t len, const char *code,
    int64_t now, int64_t last_used_step, int64_t *matched_step)
{
	char want[TOTP_DIGITS + 1];
	int64_t base = totp_step(now, TOTP_PERIOD), fresh = -1;
	bool replayed = false, well_formed;
	size_t n = strnlen(code, TOTP_DIGITS + 1);

	well_formed = n == TOTP_DIGITS &&
	    strspn(code, "0123456789") == TOTP_DIGITS;
	/* Every step of the window is computed and compared, so the time
	 * taken says nothing about which step (if any) matched. */
	for (int64_t s = base - 1; s <= base + 1; s++) {
		bool same;

		snprintf(want, sizeof(want), "%0*u", TOTP_DIGITS,
		    (unsigned)totp_code(secret, len, (uint64_t)(s < 0 ? 0 : s),
		    TOTP_DIGITS));
		same = well_formed &&
		    sodium_memcmp(want, code, TOTP_DIGITS) == 0 && s >= 0;
		if (same && s > last_used_step && fresh < 0)
			fresh = s;
		else if (same)
			replayed = true;
	}
	sodium_memzero(want, sizeof(want));
	if (fresh >= 0) {
		*matched_step = fresh;
		return TOTP_OK;
	}
	return replayed ? TOTP_REPLAY : TOTP_WRONG;
}

size_t
totp_base32(const unsigned char *in, size_t len, char *out, size_t outsize)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (outsize < TOTP_BASE32_LEN(len))
		return 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alphabet[(acc >> bits) & 0x1f];
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 0x1f];
	out[o] = '\0';
	return o;
}

unsigned char *
totp_new_secret(void)
{
	unsigned char *s = secret_alloc(TOTP_SECRET_LEN);

	randombytes_buf(s, TOTP_SECRET_LEN);
	return s;
}

/* Percent-encode s into out (room for 3 * strlen(s) + 1); returns the
 * length. */
static size_t
pct_encode(const char *s, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0x0f];
		}
	}
	out[o] = '\0';
	return o;
}

char *
totp_uri(const char *issuer, const char *user, const unsigned char *secret)
{
	static const char fmt[] = "otpauth://totp/%s:%s?secret=%s&issuer=%s"
	    "&algorithm=SHA1&digits=%d&period=%d";
	size_t ilen = strlen(issuer) * 3 + 1, ulen = strlen(user) * 3 + 1;
	char *iss = xmalloc(ilen), *usr = xmalloc(ulen);
	char b32[TOTP_BASE32_LEN(TOTP_SECRET_LEN)];
	char *uri;
	int n;
	size_t cap;

	pct_encode(issuer, iss);
	pct_encode(user, usr);
	totp_base32(secret, TOTP_SECRET_LEN, b32, sizeof(b32));
	cap = sizeof(fmt) + 2 * strlen(iss) + strlen(usr) + strlen(b32) + 16;
	uri = secret_alloc(cap);
	n = snprintf(uri, cap, fmt, iss, usr, b32, iss, TOTP_DIGITS,
	    TOTP_PERIOD);
	if (n < 0 || (size_t)n >= cap)
		fatalx("totp_uri: URI does not fit");	/* cap is computed */
	sodium_memzero(b32, sizeof(b32));
	free(iss);
	free(usr);
	return uri;
}

/* The key a value is sealed under: BLAKE2b keyed with the key file's key,
 * over a context label and the owner. */
static void
subkey(const unsigned char key[TOTP_KEY_LEN], const char *owner,
    unsigned char out[crypto_secretbox_KEYBYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, TOTP_KEY_LEN,
	    crypto_secretbox_KEYBYTES);
	crypto_generichash_update(&st, (const unsigned char *)SUBKEY_CONTEXT,
	    sizeof(SUBKEY_CONTEXT));	/* with its NUL: a fixed-length prefix */
	crypto_generichash_update(&st, (const unsigned char *)owner,
	    strlen(owner));
	crypto_generichash_final(&st, out, crypto_secretbox_KEYBYTES);
	sodium_memzero(&st, sizeof(st));
}

char *
totp_seal(const unsigned char key[TOTP_KEY_LEN], const char *owner,
    const unsigned char *secret, int64_t registered_at)
{
	unsigned char k[crypto_secretbox_KEYBYTES];
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	unsigned char *plain = secret_alloc(PLAIN_LEN), box[BOX_LEN];
	char n64[sodium_base64_ENCODED_LEN(sizeof(nonce),
	    sodium_base64_VARIANT_ORIGINAL)];
	char c64[sodium_base64_ENCODED_LEN(BOX_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	uint64_t t = (uint64_t)registered_at;
	json_t *j;
	char *out;

	memcpy(plain, secret, TOTP_SECRET_LEN);
	for (int i = 7; i >= 0; i--, t >>= 8)
		plain[TOTP_SECRET_LEN + i] = (unsigned char)(t & 0xff);
	randombytes_buf(nonce, sizeof(nonce));
	subkey(key, owner, k);
	crypto_secretbox_easy(box, plain, PLAIN_LEN, nonce, k);
	sodium_memzero(k, sizeof(k));
	secret_free(plain);
	sodium_bin2base64(n64, sizeof(n64), nonce, sizeof(nonce),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(c64, sizeof(c64), box, sizeof(box),
	    sodium_base64_VARIANT_ORIGINAL);
	j = json_pack("{s:i,s:s,s:s,s:I}", "v", SEAL_VERSION, "n", n64,
	    "c", c64, "t", (json_int_t)registered_at);
	if (j == NULL)
		fatalx("totp_seal: out of memory");
	out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (out == NULL)
		fatalx("totp_seal: out of memory");
	return out;
}

/* Standard base64 of exactly want bytes. */
static int
unbase64(const char *s, unsigned char *out, size_t want)
{
	size_t len = 0;

	if (sodium_base642bin(out, want, s, strlen(s), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != want)
		return -1;
	return 0;
}

int
totp_open(const unsigned char key[TOTP_KEY_LEN], const char *owner,
    const char *value, unsigned char *secret_out, int64_t *registered_at)
{
	unsigned char k[crypto_secretbox_KEYBYTES];
	unsigned char nonce[crypto_secretbox_NONCEBYTES], box[BOX_LEN];
	unsigned char *plain;
	const char *n64 = NULL, *c64 = NULL;
	json_int_t v = 0, t = 0;
	uint64_t sealed_t = 0;
	json_t *j;
	int rc = -1;

	j = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		goto fail;
	if (json_unpack(j, "{s:I,s:s,s:s,s:I!}", "v", &v, "n", &n64, "c", &c64,
	    "t", &t) != 0 || v != SEAL_VERSION ||
	    unbase64(n64, nonce, sizeof(nonce)) != 0 ||
	    unbase64(c64, box, sizeof(box)) != 0) {
		json_decref(j);
		goto fail;
	}
	json_decref(j);
	plain = secret_alloc(PLAIN_LEN);
	subkey(key, owner, k);
	if (crypto_secretbox_open_easy(plain, box, sizeof(box), nonce, k) == 0) {
		for (int i = 0; i < 8; i++)
			sealed_t = sealed_t << 8 | plain[TOTP_SECRET_LEN + i];
		if ((int64_t)sealed_t == (int64_t)t) {
			memcpy(secret_out, plain, TOTP_SECRET_LEN);
			*registered_at = (int64_t)t;
			rc = 0;
		}
	}
	sodium_memzero(k, sizeof(k));
	secret_free(plain);
	if (rc == 0)
		return 0;
fail:
	sodium_memzero(secret_out, TOTP_SECRET_LEN);
	return -1;
}

char *
totp_owner(const char *dn)
{
	char *out = xstrdup(dn);

	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}
