/*
 * decoy.c - decoy masks shaped like real ones (see decoy.h).
 */
#include "build.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "daemon/challenge.h"
#include "common/xalloc.h"
#include "daemon/decoy.h"

/* The first letter of the name asked for, folded, or 0 when it is not an
 * ASCII letter or digit. */
static char
name_letter(const char *name)
{
	while (*name == ' ')
		name++;
	if ((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9'))
		return *name;
	if (*name >= 'A' && *name <= 'Z')
		return (char)(*name - 'A' + 'a');
	return 0;
}

void
decoy_learn(struct decoy_masks *dm, enum method m, const char *mask,
    const char *name)
{
	const char *at;
	size_t stars, i, free_slot = DECOY_DOMAINS, least = 0;
	char first;

	if (m == METHOD_SMS) {
		dm->phone_plus[*mask == '+']++;
		stars = strspn(mask + (*mask == '+'), "*");
		if (stars < DECOY_STARS)
			dm->phone_stars[stars]++;
		return;
	}
	if ((at = strchr(mask, '@')) == NULL || strlen(at + 1) >= DECOY_DOMAIN_MAX)
		return;
	first = *mask >= 'A' && *mask <= 'Z' ? (char)(*mask - 'A' + 'a') : *mask;
	if (first != 0 && first == name_letter(name))
		dm->letter_named++;
	else
		dm->letter_other++;
	for (i = 0; i < DECOY_DOMAINS; i++) {
		if (dm->domains[i].n == 0 && free_slot == DECOY_DOMAINS)
			free_slot = i;
		if (dm->domains[i].n > 0 && strcmp(dm->domains[i].domain, at + 1) == 0) {
			dm->domains[i].n++;
			return;
		}
		if (dm->domains[i].n < dm->domains[least].n)
			least = i;
	}
	i = free_slot < DECOY_DOMAINS ? free_slot : least;	/* the rarest makes room */
	snprintf(dm->domains[i].domain, sizeof(dm->domains[i].domain), "%s", at + 1);
	dm->domains[i].n = 1;
}

/*
 * A decoy's sent_to, drawn from what real users got, by a keyed hash of
 * the identity, so the same every time for the same name (and for every
 * spelling of it). Email: the first letter is the name's own as often as
 * real addresses start with the name's letter, otherwise a letter from the
 * hash; the domain is the most common real one. SMS: with a '+' when most
 * real numbers are stored with one, as many stars as most real masks have,
 * and two digits from the hash. Before any real code was sent, the name's
 * letter and the hash choose.
 */
void
decoy_mask(const struct decoy_masks *dm, const unsigned char *key,
    const char *acct, enum method m, const char *name, char *out,
    size_t size)
{
	char fallback[64], letter;
	unsigned best = 0, stars = 0, seen;
	const char *domain = NULL;
	unsigned char h[8];
	uint32_t r;

	crypto_generichash(h, sizeof(h), (const unsigned char *)acct,
	    strlen(acct), key, 32);
	challenge_decoy_mask(key, acct, m, fallback, sizeof(fallback));
	if (m == METHOD_SMS) {
		for (unsigned i = 0; i < DECOY_STARS; i++)
			if (dm->phone_stars[i] > best) {
				best = dm->phone_stars[i];
				stars = i;
			}
		if (best == 0) {
			snprintf(out, size, "%s", fallback);
			return;
		}
		snprintf(out, size, "%s%.*s%02u",
		    dm->phone_plus[1] >= dm->phone_plus[0] ? "+" : "", (int)stars,
		    "********************************", (unsigned)(h[0] % 100));
		return;
	}
	r = (uint32_t)h[2] | (uint32_t)h[3] << 8 | (uint32_t)h[4] << 16;
	seen = dm->letter_named + dm->letter_other;
	letter = name_letter(name);
	if (letter == 0 || (seen > 0 && r % seen >= dm->letter_named))
		letter = (char)('a' + h[1] % 26);
	for (unsigned i = 0; i < DECOY_DOMAINS; i++)
		if (dm->domains[i].n > best) {
			best = dm->domains[i].n;
			domain = dm->domains[i].domain;
		}
	if (domain == NULL)
		domain = strchr(fallback, '@') + 1;
	snprintf(out, size, "%c***@%s", letter, domain);
}

/*
 * Answers that must fail (a decoy ticket, a real one asked for something it
 * does not hold) are checked against this, as long as real ones take: an
 * argon2id string with the parameters real hashes have and a random salt
 * and digest, so checking it costs what checking a real one does and
 * nothing ever matches it. It is put together, not hashed: running
 * argon2id here (64 MiB) made every start peak at several times the
 * daemon's idle memory, questions or not.
 */
char *
decoy_hash_new(void)
{
	unsigned char salt[crypto_pwhash_argon2id_SALTBYTES], digest[32];
	char s64[sodium_base64_ENCODED_LEN(sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
	char d64[sodium_base64_ENCODED_LEN(sizeof(digest),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(digest, sizeof(digest));
	sodium_bin2base64(s64, sizeof(s64), salt, sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	sodium_bin2base64(d64, sizeof(d64), digest, sizeof(digest),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return xasprintf("$argon2id$v=19$m=%zu,t=%llu,p=1$%s$%s",
	    (size_t)(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE / 1024),
	    (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	    s64, d64);
}
