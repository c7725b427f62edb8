/*
 * challenge.c - tickets, codes and method counting (see challenge.h).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"

int
challenge_method_index(enum method m)
{
	switch (m) {
	case METHOD_EMAIL:
		return 0;
	case METHOD_SMS:
		return 1;
	case METHOD_QUESTIONS:
		return 2;
	case METHOD_TOTP:
		return 3;
	}
	return -1;
}

static enum method
method_of_index(int i)
{
	static const enum method m[NMETHODS] = {
		METHOD_EMAIL, METHOD_SMS, METHOD_QUESTIONS, METHOD_TOTP
	};

	return m[i];
}

void
challenge_new_id(char id[TICKET_HEX + 1])
{
	unsigned char raw[TICKET_HEX / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, TICKET_HEX + 1, raw, sizeof(raw));
}

void
challenge_new_code(unsigned digits, char code[CODE_MAX + 1])
{
	if (digits > CODE_MAX)
		digits = CODE_MAX;
	for (unsigned i = 0; i < digits; i++)
		code[i] = (char)('0' + randombytes_uniform(10));
	code[digits] = '\0';
}

static void
code_hash(const unsigned char *key, const char *ticket, enum method m,
    const char *code, size_t len, unsigned char out[CODE_HASH_LEN])
{
	crypto_generichash_state st;
	unsigned char mb = (unsigned char)m;

	crypto_generichash_init(&st, key, 32, CODE_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)ticket, TICKET_HEX);
	crypto_generichash_update(&st, &mb, 1);
	crypto_generichash_update(&st, (const unsigned char *)code, len);
	crypto_generichash_final(&st, out, CODE_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
challenge_await(struct ticket *t, enum method m, int64_t expires)
{
	struct pending_code *p = &t->pending[challenge_method_index(m)];

	if (p->used)
		return;
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->expires = expires;
}

void
challenge_set_verified(struct ticket *t, const unsigned char *key,
    enum method m, const char *code, size_t len)
{
	struct pending_code *p = &t->pending[challenge_method_index(m)];

	code_hash(key, t->id, m, code, len, p->hash);
	p->active = false;
	p->used = true;
	p->expires = 0;
	t->verified |= m;
}

void
challenge_set_code(struct ticket *t, const unsigned char *key, enum method m,
    const char *code, int64_t expires)
{
	struct pending_code *p = &t->pending[challenge_method_index(m)];

	code_hash(key, t->id, m, code, strlen(code), p->hash);
	p->expires = expires;
	p->active = true;
}

enum method
challenge_verify_code(struct ticket *t, const unsigned char *key,
    const char *code, size_t len, int64_t now, bool *expired, bool *again)
{
	unsigned char h[CODE_HASH_LEN];
	enum method found = 0, repeated = 0;
	bool any_live = false, any_dead = false;

	*expired = false;
	*again = false;
	for (int i = 0; i < NMETHODS; i++) {
		struct pending_code *p = &t->pending[i];
		enum method m = method_of_index(i);
		bool same;

		if ((!p->active && !p->used) || m == METHOD_QUESTIONS)
			continue;
		code_hash(key, t->id, m, code, len, h);
		same = sodium_memcmp(h, p->hash, CODE_HASH_LEN) == 0;
		if (p->used) {
			/* bounded by the ticket's life, not the code's */
			if (same && repeated == 0 && t->real)
				repeated = m;
			continue;
		}
		if (p->expires < now) {
			any_dead = true;
			continue;
		}
		any_live = true;
		if (same && found == 0 && t->real)
			found = m;
	}
	sodium_memzero(h, sizeof(h));
	if (found != 0) {
		struct pending_code *p =
		    &t->pending[challenge_method_index(found)];

		p->active = false;
		p->used = true;
		p->expires = 0;
		t->verified |= found;
	} else if (repeated != 0) {
		*again = true;
		return repeated;
	} else if (any_dead && !any_live) {
		*expired = true;
	}
	return found;
}

unsigned
challenge_counting_methods(const struct config *cfg, bool admin)
{
	return admin ? cfg->policy.admin_methods : cfg->policy.methods;
}

unsigned
challenge_required(const struct config *cfg, bool admin)
{
	return admin ? cfg->policy.admin_methods_required :
	    cfg->policy.methods_required;
}

unsigned
challenge_verified_count(const struct config *cfg, const struct ticket *t)
{
	return (unsigned)__builtin_popcount(t->verified &
	    challenge_counting_methods(cfg, t->admin));
}

void
challenge_decoy_mask(const unsigned char *key, const char *user, enum method m,
    char *out, size_t size)
{
	static const char *const tld[] = { "com", "org", "net", "de", "io" };
	unsigned char h[16];
	crypto_generichash_state st;
	unsigned char mb = (unsigned char)m;

	crypto_generichash_init(&st, key, 32, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"decoy", 5);
	crypto_generichash_update(&st, &mb, 1);
	crypto_generichash_update(&st, (const unsigned char *)user, strlen(user));
	crypto_generichash_final(&st, h, sizeof(h));
	if (m == METHOD_SMS)
		snprintf(out, size, "+*********%02u", (unsigned)(h[0] % 100));
	else
		snprintf(out, size, "%c***@%c***.%s", 'a' + h[0] % 26,
		    'a' + h[1] % 26, tld[h[2] % 5]);
}

/* --- JSON form, as kept in the store ------------------------------------- */

json_t *
ticket_to_json(const struct ticket *t)
{
	json_t *j = json_object(), *pend = json_object();
	char hex[CODE_HASH_LEN * 2 + 1];

	json_object_set_new(j, "user", json_string(t->user));
	if (t->acct[0] != '\0')
		json_object_set_new(j, "acct", json_string(t->acct));
	if (t->dn != NULL)
		json_object_set_new(j, "dn", json_string(t->dn));
	json_object_set_new(j, "real", json_boolean(t->real));
	json_object_set_new(j, "admin", json_boolean(t->admin));
	json_object_set_new(j, "created", json_integer(t->created));
	json_object_set_new(j, "expires", json_integer(t->expires));
	json_object_set_new(j, "attempts", json_integer(t->attempts));
	json_object_set_new(j, "verified", json_integer(t->verified));
	json_object_set_new(j, "rev", json_integer(t->rev));
	for (int i = 0; i < NMETHODS; i++) {
		const struct pending_code *p = &t->pending[i];

		json_t *q;

		if (!p->active && !p->used)
			continue;
		sodium_bin2hex(hex, sizeof(hex), p->hash, CODE_HASH_LEN);
		q = json_array();
		for (unsigned k = 0; k < p->nq; k++)
			json_array_append_new(q, json_integer(p->qidx[k]));
		json_object_set_new(pend, config_method_name(method_of_index(i)),
		    json_pack("{s:s,s:I,s:o,s:b}", "hash", hex, "expires",
		    (json_int_t)p->expires, "asked", q, "used", p->used));
	}
	json_object_set_new(j, "pending", pend);
	if (t->registering) {
		json_t *reg = json_object();

		if (t->reg_email != NULL)
			json_object_set_new(reg, "email",
			    json_string(t->reg_email));
		if (t->reg_mobile != NULL)
			json_object_set_new(reg, "sms",
			    json_string(t->reg_mobile));
		if (t->reg_totp != NULL)
			json_object_set_new(reg, "totp",
			    json_string(t->reg_totp));
		if (t->reg_stamp != NULL)
			json_object_set_new(reg, "stamp",
			    json_string(t->reg_stamp));
		json_object_set_new(j, "register", reg);
	}
	return j;
}

int
ticket_from_json(const json_t *j, const char *id, struct ticket *t)
{
	const char *user = NULL, *dn = NULL, *acct = NULL;
	json_int_t created = 0, expires = 0, attempts = 0, verified = 0;
	int real = 0, admin = 0;
	json_t *pend = NULL, *reg;

	memset(t, 0, sizeof(*t));
	if (strlen(id) != TICKET_HEX ||
	    json_unpack((json_t *)j, "{s:s,s?s,s:b,s:b,s:I,s:I,s:I,s:I,s:o}",
	    "user", &user, "dn", &dn, "real", &real, "admin", &admin,
	    "created", &created, "expires", &expires, "attempts", &attempts,
	    "verified", &verified, "pending", &pend) != 0)
		return -1;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->rev = json_integer_value(json_object_get(j, "rev"));	/* 0: none */
	/* Tickets of earlier versions have none: the engine derives it. */
	acct = json_string_value(json_object_get(j, "acct"));
	if (acct != NULL && strlen(acct) + 1 == sizeof(t->acct))
		memcpy(t->acct, acct, sizeof(t->acct));
	t->user = xstrdup(user);
	t->dn = dn ? xstrdup(dn) : NULL;
	t->real = real;
	t->admin = admin;
	t->created = created;
	t->expires = expires;
	t->attempts = (unsigned)attempts;
	t->verified = (unsigned)verified;
	if ((reg = json_object_get(j, "register")) != NULL) {
		const char *v;

		t->registering = true;
		if ((v = json_string_value(json_object_get(reg, "email"))))
			t->reg_email = xstrdup(v);
		if ((v = json_string_value(json_object_get(reg, "sms"))))
			t->reg_mobile = xstrdup(v);
		if ((v = json_string_value(json_object_get(reg, "totp"))))
			t->reg_totp = xstrdup(v);
		if ((v = json_string_value(json_object_get(reg, "stamp"))))
			t->reg_stamp = xstrdup(v);
	}
	for (int i = 0; i < NMETHODS; i++) {
		json_t *p = json_object_get(pend,
		    config_method_name(method_of_index(i)));
		const char *hex = NULL;
		json_int_t exp = 0;
		size_t binlen = 0;
		json_t *asked = NULL;
		int used = 0;

		if (p == NULL)
			continue;
		if (json_unpack(p, "{s:s,s:I,s?o,s?b}", "hash", &hex, "expires",
		    &exp, "asked", &asked, "used", &used) != 0 ||
		    json_array_size(asked) > sizeof(t->pending[i].qidx) ||
		    sodium_hex2bin(t->pending[i].hash, CODE_HASH_LEN, hex,
		    strlen(hex), NULL, &binlen, NULL) != 0 ||
		    binlen != CODE_HASH_LEN) {
			ticket_clear(t);
			return -1;
		}
		t->pending[i].expires = exp;
		t->pending[i].used = used;
		t->pending[i].active = !used;
		for (size_t k = 0; k < json_array_size(asked); k++)
			t->pending[i].qidx[t->pending[i].nq++] = (unsigned char)
			    json_integer_value(json_array_get(asked, k));
	}
	return 0;
}

int64_t
ticket_expiry(const json_t *j)
{
	return json_integer_value(json_object_get(j, "expires"));
}

void
ticket_clear(struct ticket *t)
{
	free(t->user);
	free(t->dn);
	free(t->reg_email);
	free(t->reg_mobile);
	free(t->reg_totp);
	free(t->reg_stamp);
	sodium_memzero(t, sizeof(*t));
}
