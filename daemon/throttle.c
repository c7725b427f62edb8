/*
 * throttle.c - start limits and the self-service lockout (see throttle.h).
 *
 * A store error counts as "over the limit": when the counters cannot be
 * kept, ssprd sends nothing rather than sending without limit.
 */
#include "build.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/utf8.h"
#include "daemon/throttle.h"

#define HOUR 3600

static void
id_hash(const unsigned char *key, char kind, const char *s, size_t len,
    char id[THROTTLE_ID_LEN])
{
	crypto_generichash_state st;
	unsigned char h[16], k = (unsigned char)kind;

	crypto_generichash_init(&st, key, 32, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"throttle", 8);
	crypto_generichash_update(&st, &k, 1);
	crypto_generichash_update(&st, (const unsigned char *)s, len);
	crypto_generichash_final(&st, h, sizeof(h));
	id[0] = kind;
	id[1] = ':';
	sodium_bin2hex(id + 2, THROTTLE_ID_LEN - 2, h, sizeof(h));
}

void
throttle_id_account(const unsigned char *key, const char *dn,
    char id[THROTTLE_ID_LEN])
{
	size_t len = strlen(dn);
	char *low = malloc(len + 1);

	if (low == NULL)
		fatal("throttle: out of memory");
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)tolower((unsigned char)dn[i]);
	id_hash(key, 'a', low, len, id);
	free(low);
}

void
throttle_id_name(const unsigned char *key, const char *name,
    char id[THROTTLE_ID_LEN])
{
	char *canon = utf8_canonical_name(name, strlen(name));

	/* request.c lets only valid UTF-8 through; anything else is
	 * counted as sent */
	id_hash(key, 'n', canon ? canon : name, strlen(canon ? canon : name),
	    id);
	free(canon);
}

static void
key(char *out, size_t size, const char *kind, const char *a, const char *b)
{
	snprintf(out, size, "%s:%s:%s", kind, a, b ? b : "");
}

bool
throttle_locked(struct store *st, const struct config *cfg, const char *id,
    int64_t now)
{
	char k[STORE_KEY_MAX + 1];

	key(k, sizeof(k), "locked", id, NULL);
	return store_events_count(st, k, now, cfg->policy.lockout_time) != 0;
}

const char *
throttle_start(struct store *st, const struct config *cfg, const char *id,
    enum method m, const char *client, int64_t now)
{
	char k[STORE_KEY_MAX + 1];
	int n;

	if (throttle_locked(st, cfg, id, now))
		return "throttled: self-service locked after failed proofs";
	if (throttle_client_blocked(st, cfg, client, now))
		return "throttled: max_failures_per_client_hour";
	key(k, sizeof(k), "start", config_method_name(m), id);
	n = store_events_add(st, k, now, HOUR, cfg->policy.max_starts_per_hour + 1);
	if (n < 0 || (unsigned)n > cfg->policy.max_starts_per_hour)
		return "throttled: max_starts_per_hour for this user and method";
	if (client != NULL) {
		key(k, sizeof(k), "client", client, NULL);
		n = store_events_add(st, k, now, HOUR,
		    cfg->policy.max_starts_per_client_hour + 1);
		if (n < 0 || (unsigned)n > cfg->policy.max_starts_per_client_hour)
			return "throttled: max_starts_per_client_hour";
	}
	return NULL;
}

/* Failed proofs from one client address, across users. */
#define CLIENT_FAILURES "clientfail"

bool
throttle_client_blocked(struct store *st, const struct config *cfg,
    const char *client, int64_t now)
{
	char k[STORE_KEY_MAX + 1];
	int n;

	if (client == NULL)
		return false;
	key(k, sizeof(k), CLIENT_FAILURES, client, NULL);
	n = store_events_count(st, k, now, HOUR);
	return n < 0 || (unsigned)n >= cfg->policy.max_failures_per_client_hour;
}

int
throttle_failures(struct store *st, const struct config *cfg, const char *id,
    int64_t now)
{
	char k[STORE_KEY_MAX + 1];

	key(k, sizeof(k), "fail", id, NULL);
	return store_events_count(st, k, now, THROTTLE_FAILURE_WINDOW);
}

bool
throttle_failure(struct store *st, const struct config *cfg, const char *id,
    const char *who, const char *client, int64_t now)
{
	char k[STORE_KEY_MAX + 1];
	int n;

	if (client != NULL) {
		key(k, sizeof(k), CLIENT_FAILURES, client, NULL);
		store_events_add(st, k, now, HOUR,
		    cfg->policy.max_failures_per_client_hour);
	}

	key(k, sizeof(k), "fail", id, NULL);
	n = store_events_add(st, k, now, THROTTLE_FAILURE_WINDOW,
	    cfg->policy.lockout_failures);
	if (n < 0 || (unsigned)n < cfg->policy.lockout_failures)
		return false;
	key(k, sizeof(k), "locked", id, NULL);
	if (store_events_count(st, k, now, cfg->policy.lockout_time) == 0) {
		store_events_add(st, k, now, cfg->policy.lockout_time, 1);
		log_warnx("throttle: %s: %u failed proofs within 24 h; "
		    "self-service locked for %u s", who,
		    cfg->policy.lockout_failures, cfg->policy.lockout_time);
		return true;
	}
	return false;
}

int
throttle_failure_reserve(struct store *st, const struct config *cfg,
    const char *id, const char *token, int64_t now)
{
	char k[STORE_KEY_MAX + 1], r[STORE_KEY_MAX + 1];

	key(k, sizeof(k), "fail", id, NULL);
	key(r, sizeof(r), "checking", id, NULL);
	return store_reserve(st, k, r, token, now, THROTTLE_FAILURE_WINDOW,
	    cfg->policy.lockout_failures, (cfg->daemon.max_wait + 60) * 1000);
}

void
throttle_failure_unreserve(struct store *st, const char *id,
    const char *token)
{
	char r[STORE_KEY_MAX + 1];

	key(r, sizeof(r), "checking", id, NULL);
	store_unreserve(st, r, token);
}

int64_t
throttle_totp_last(struct store *st, const char *id, unsigned period)
{
	char k[STORE_KEY_MAX + 1];
	json_t *rec;
	int64_t t;

	key(k, sizeof(k), "totp", id, NULL);
	if (store_shared(st))
		return store_step_last(st, k);
	if ((rec = store_get(st, STORE_EVENTS, k)) == NULL)
		return -1;
	t = store_events_newest(rec);
	json_decref(rec);
	return t > 0 ? t / (int64_t)period : -1;
}

/* How long a shared store keeps the last step: well past the steps
 * totp_check() accepts, whatever the instances' clocks say. */
#define TOTP_STEP_KEEP	600

int
throttle_totp_use(struct store *st, const char *id, int64_t step,
    unsigned period)
{
	char k[STORE_KEY_MAX + 1];

	key(k, sizeof(k), "totp", id, NULL);
	/* Instances race for a step: one script reserves it. */
	if (store_shared(st))
		return store_step_take(st, k, step, 3 * period > TOTP_STEP_KEEP ?
		    3 * period : TOTP_STEP_KEEP);
	return store_events_add(st, k, step * (int64_t)period, 3 * period,
	    1) > 0 ? 1 : -1;
}
