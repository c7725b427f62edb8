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
 * Counters live in the store (STORE_EVENTS), so they survive restarts.
 * Every per-user counter and lock is keyed on an identity (throttle_id_*):
 * the account the directory resolved the name to, whatever spelling the
 * request used ("alice ", "ALICE" and "ａｌｉｃｅ" are one account); a name
 * it did not resolve is keyed on its canonical spelling (utf8.h), so
 * variants of one unknown name share a counter too and unknown names are
 * limited like real ones. Identities are keyed hashes: the state holds no
 * names. Client addresses are keyed as request.c groups them.
 */
#ifndef SSPRD_THROTTLE_H
#define SSPRD_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/store.h"

#define THROTTLE_FAILURE_WINDOW 86400	/* seconds: failures counted over */

/* "a:" or "n:", then 32 hex digits. */
#define THROTTLE_ID_LEN 35

/* The identity of the account at dn (as the directory returns it; ASCII
 * case ignored), keyed with the store's secret. */
void throttle_id_account(const unsigned char *key, const char *dn,
    char id[THROTTLE_ID_LEN]);
/* The identity of a name the directory did not resolve: its canonical
 * spelling, keyed likewise. */
void throttle_id_name(const unsigned char *key, const char *name,
    char id[THROTTLE_ID_LEN]);

/* Record a start for the identity id; returns why it must send nothing, or
 * NULL when it may. */
const char *throttle_start(struct store *st, const struct config *cfg,
    const char *id, enum method m, const char *client, int64_t now);

/* Record a failed proof for id (and client, when not NULL); true when this
 * locked it. who names it in the log line that says so. */
bool throttle_failure(struct store *st, const struct config *cfg,
    const char *id, const char *who, const char *client, int64_t now);

/* Failed proofs recorded for id within THROTTLE_FAILURE_WINDOW (-1 on a
 * store error). */
int throttle_failures(struct store *st, const struct config *cfg,
    const char *id, int64_t now);

/* Has client (NULL: none given) reached max_failures_per_client_hour? */
bool throttle_client_blocked(struct store *st, const struct config *cfg,
    const char *client, int64_t now);

/* Is self-service locked for id now? */
bool throttle_locked(struct store *st, const struct config *cfg,
    const char *id, int64_t now);

/*
 * Instances sharing a store: a proof check under way for id, reserved
 * under token (unique) so that failures counted plus checks under way,
 * across instances, stay below lockout_failures (1), or not (0), or -1 on
 * an error; and its end. The reservation also ends by itself after
 * max_wait plus a minute.
 */
int throttle_failure_reserve(struct store *st, const struct config *cfg,
    const char *id, const char *token, int64_t now);
void throttle_failure_unreserve(struct store *st, const char *id,
    const char *token);

/*
 * Authenticator-app steps, each usable once per identity (RFC 6238, 5.2):
 * the last step accepted for id, or -1; and recording step as used, kept
 * as an event at the step's start time so the sweep drops it in time:
 * 1, or 0 when the step (or a later one) was used already (a shared store
 * reserves it atomically: two instances never both accept it), or -1 on a
 * store error (the code is then neither accepted nor counted as wrong).
 */
int64_t throttle_totp_last(struct store *st, const char *id, unsigned period);
int throttle_totp_use(struct store *st, const char *id, int64_t step,
    unsigned period);

#endif
