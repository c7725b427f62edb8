/*
 * throttle.c - start limits and the self-service lockout (see throttle.h).
 *
 * A store error counts as "over the limit": when the counters cannot be
 * kept, ssprd sends nothing rather than sending without limit.
 */
#include "build.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "daemon/throttle.h"

#define HOUR 3600

static void
key(char *out, size_t size, const char *kind, const char *a, const char *b)
{
	size_t n = (size_t)snprintf(out, size, "%s:%s:%s", kind, a, b ? b : "");

	for (size_t i = 0; i < n && i < size; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

bool
throttle_locked(struct store *st, const struct config *cfg, const char *user,
    int64_t now)
{
	char k[STORE_KEY_MAX + 1];

	key(k, sizeof(k), "locked", user, NULL);
	return store_events_count(st, k, now, cfg->policy.lockout_time) != 0;
}

const char *
throttle_start(struct store *st, const struct config *cfg, const char *user,
    enum method m, const char *client, int64_t now)
{
	char k[STORE_KEY_MAX + 1];
	int n;

	if (throttle_locked(st, cfg, user, now))
		return "throttled: self-service locked after failed proofs";
	if (throttle_client_blocked(st, cfg, client, now))
		return "throttled: max_failures_per_client_hour";
	key(k, sizeof(k), "start", config_method_name(m), user);
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

bool
throttle_failure(struct store *st, const struct config *cfg, const char *user,
    const char *client, int64_t now)
{
	char k[STORE_KEY_MAX + 1];
	int n;

	if (client != NULL) {
		key(k, sizeof(k), CLIENT_FAILURES, client, NULL);
		store_events_add(st, k, now, HOUR,
		    cfg->policy.max_failures_per_client_hour);
	}

	key(k, sizeof(k), "fail", user, NULL);
	n = store_events_add(st, k, now, THROTTLE_FAILURE_WINDOW,
	    cfg->policy.lockout_failures);
	if (n < 0 || (unsigned)n < cfg->policy.lockout_failures)
		return false;
	key(k, sizeof(k), "locked", user, NULL);
	if (store_events_count(st, k, now, cfg->policy.lockout_time) == 0) {
		store_events_add(st, k, now, cfg->policy.lockout_time, 1);
		log_warnx("throttle: %s: %u failed proofs within 24 h; "
		    "self-service locked for %u s", user,
		    cfg->policy.lockout_failures, cfg->policy.lockout_time);
		return true;
	}
	return false;
}
