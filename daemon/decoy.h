/*
 * decoy.h - what real masked contacts look like, so that decoys look the
 * same (decoy.c).
 *
 * Guarantees: decoy_mask() is the same for the same identity every time
 * (keyed hash), and drawn from what real answers showed: the most common
 * masked email domain, as often the name's own first letter as real
 * addresses start with it, the most common count of stars and use of '+'
 * in phone masks. Nothing here holds a real address: only domains, counts
 * and letters.
 */
#ifndef SSPRD_DECOY_H
#define SSPRD_DECOY_H

#include <stddef.h>

#include "config/config.h"

#define DECOY_DOMAINS		16
#define DECOY_DOMAIN_MAX	48
#define DECOY_STARS		32

struct decoy_masks {
	struct {
		char domain[DECOY_DOMAIN_MAX];
		unsigned n;
	} domains[DECOY_DOMAINS];
	unsigned phone_stars[DECOY_STARS];
	unsigned phone_plus[2];		/* real masks without, with '+' */
	/* Real masked addresses whose first letter is, or is not, the first
	 * letter of the name asked for. */
	unsigned letter_named, letter_other;
};

/* A real code was sent to mask (method m) for the name asked for. */
void decoy_learn(struct decoy_masks *dm, enum method m, const char *mask,
    const char *name);
/* A decoy's sent_to for identity acct (key: the store's keyed-hash key)
 * and the name asked for. */
void decoy_mask(const struct decoy_masks *dm, const unsigned char *key,
    const char *acct, enum method m, const char *name, char *out,
    size_t size);

/* An argon2id string with the parameters real answer hashes have and a
 * random salt and digest: checking an answer against it costs what a real
 * check does, and nothing ever matches it (caller frees). */
char *decoy_hash_new(void);

#endif
