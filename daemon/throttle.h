/*
 * throttle.h - limits on what a stranger can make ssprd do.
 *
 * Per user and method: max_starts_per_hour starts (each one may send a code
 * to a real person). Per client address: max_starts_per_client_hour starts.
 * Per user, across tickets: lockout_failures failed proofs (wrong codes)
 * within 24 hours lock self-service for that user for lockout_time seconds;
 * a new ticket never resets the count. Per client address, across users:
 * max_failures_per_client_hour failed proofs in an hour block that address
 * (one password tried against many names never locks any one of them). A
 * throttled or locked start is answered like any other and sends nothing;
 * verify, reset, unlock, change and register answer "throttled" while the
 * user is locked or the address blocked.
 *
 * Counters live in the store (STORE_EVENTS), so they survive restarts. Users
 * are counted by name as the front end sends it, folded to lower case, so
 * unknown names are limited like real ones.
 */
#ifndef SSPRD_THROTTLE_H
#define SSPRD_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/store.h"

#define THROTTLE_FAILURE_WINDOW 86400	/* seconds: failures counted over */

/* Record a start; returns why it must send nothing, or NULL when it may. */
const char *throttle_start(struct store *st, const struct config *cfg,
    const char *user, enum method m, const char *client, int64_t now);

/* Record a failed proof for user (and client, when not NULL); true when
 * this locked the user. */
bool throttle_failure(struct store *st, const struct config *cfg,
    const char *user, const char *client, int64_t now);

/* Has client (NULL: none given) reached max_failures_per_client_hour? */
bool throttle_client_blocked(struct store *st, const struct config *cfg,
    const char *client, int64_t now);

/* Is self-service locked for user now? */
bool throttle_locked(struct store *st, const struct config *cfg,
    const char *user, int64_t now);

#endif
