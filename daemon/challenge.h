/*
 * challenge.h - tickets and one-time codes: who has proved what.
 *
 * A ticket is what a front end holds between requests: 128 random bits,
 * shown as 32 hex digits. Behind it (in the store, as JSON) are the user it
 * was started for, which methods have a code pending and which are
 * verified, the wrong attempts so far, and whether it is real at all: a
 * start for an unknown, disabled or ineligible user gets a decoy ticket that
 * looks the same from outside and can never verify.
 *
 * Codes are code_length decimal digits drawn uniformly from libsodium's
 * generator. Only a keyed hash of a code is stored (BLAKE2b keyed with the
 * daemon's secret, over ticket, method and code), compared in constant time,
 * and a code verifies its method once: afterwards it stays on the ticket,
 * marked used, and is accepted again there without changing anything.
 */
#ifndef SSPRD_CHALLENGE_H
#define SSPRD_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"

#define TICKET_HEX 32
#define CODE_MAX 12
#define CODE_HASH_LEN 32
#define NMETHODS 4		/* email, sms, questions, totp */

struct pending_code {
	bool active;				/* waiting for its code/answers */
	/* Verified by this code (or these questions): the same proof sent
	 * again on this ticket is accepted again, never counted as a failure
	 * (a front end re-sending its form, a request resumed after a crash). */
	bool used;
	unsigned char hash[CODE_HASH_LEN];	/* codes */
	int64_t expires;
	unsigned nq;				/* questions: which were asked */
	unsigned char qidx[10];
};

#define TICKET_ACCT_LEN 35	/* THROTTLE_ID_LEN */

struct ticket {
	char id[TICKET_HEX + 1];
	/* Saved this many times (job_ticket_save()): a shared store keeps
	 * only a newer one (redis.c's fencing). */
	int64_t rev;
	char *user;		/* as the front end sent it */
	/* The identity every counter of this ticket's failures is kept on
	 * (throttle.h): the resolved account, or the canonical name. */
	char acct[TICKET_ACCT_LEN];
	char *dn;		/* NULL for a decoy */
	bool real;
	bool admin;
	int64_t created;
	int64_t expires;
	unsigned attempts;	/* wrong codes or answers */
	unsigned verified;	/* enum method bits */
	struct pending_code pending[NMETHODS];
	/* A registration ticket (op register): its codes went to the new
	 * contacts below, and confirm writes each one whose code came back.
	 * It never proves anything for a reset. */
	bool registering;
	char *reg_email;	/* the address to confirm, or NULL */
	char *reg_mobile;	/* the number to confirm, or NULL */
	char *reg_totp;		/* the sealed app secret to confirm, or NULL */
	char *reg_stamp;	/* the password-changed stamp register saw */
};

/* Index of a method bit in ticket->pending. */
int challenge_method_index(enum method m);

/* A fresh ticket ID (hex) and code (digits, NUL-terminated). */
void challenge_new_id(char id[TICKET_HEX + 1]);
void challenge_new_code(unsigned digits, char code[CODE_MAX + 1]);

/* Record a code for method m on t (keyed hash only). */
void challenge_set_code(struct ticket *t, const unsigned char *key,
    enum method m, const char *code, int64_t expires);

/*
 * Does code match a pending, unexpired code of t, or the code that already
 * verified a method of t? Every candidate is compared (constant time,
 * whatever matches). A pending match is marked used and its method
 * verified; a used one changes nothing and sets *again. Returns the method,
 * 0 for no match. *expired is set when the only candidates had expired.
 */
enum method challenge_verify_code(struct ticket *t, const unsigned char *key,
    const char *code, size_t len, int64_t now, bool *expired, bool *again);

/* A code for method m that ssprd does not send (an authenticator app's)
 * is awaited on t until expires; a method t verified already stays so. */
void challenge_await(struct ticket *t, enum method m, int64_t expires);

/*
 * Method m of t is verified by code, checked elsewhere (an authenticator
 * app's code): it is kept as used (keyed hash), so the same code sent again
 * on this ticket is accepted again by challenge_verify_code().
 */
void challenge_set_verified(struct ticket *t, const unsigned char *key,
    enum method m, const char *code, size_t len);

/* Methods that count for this user, and how many of them they need. */
unsigned challenge_counting_methods(const struct config *cfg, bool admin);
unsigned challenge_required(const struct config *cfg, bool admin);
/* Verified methods that count (as a number). */
unsigned challenge_verified_count(const struct config *cfg,
    const struct ticket *t);

/* What a decoy answer shows as sent_to: a masked address that is the same
 * for the same user every time (keyed hash), so repeated starts for an
 * unknown name look like repeated starts for a real one. */
void challenge_decoy_mask(const unsigned char *key, const char *user,
    enum method m, char *out, size_t size);

json_t *ticket_to_json(const struct ticket *t);
int ticket_from_json(const json_t *j, const char *id, struct ticket *t);
/* A stored ticket's expiry (seconds), without decoding the rest; 0 when it
 * has none. */
int64_t ticket_expiry(const json_t *j);
void ticket_clear(struct ticket *t);

#endif
