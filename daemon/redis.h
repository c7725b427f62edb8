/*
 * redis.h - the state in Redis, shared by several ssprd instances
 * ([state] backend = redis). store.c hands every call here when the store
 * was opened on Redis; nothing else calls these directly.
 *
 * The records are the ones store.h describes, under [state] key_prefix:
 *   PREFIX t:ID        a ticket (JSON), expiring an hour after the ticket
 *   PREFIX i:INST:ID   a write intent of instance INST (JSON), a day
 *   PREFIX a:ID        an account's registration confirmation (JSON)
 *   PREFIX m:NAME      the daemon's own keys (the HMAC key)
 *   PREFIX e:KEY       a counter: a sorted set of events, expiring with
 *                      its window
 *   PREFIX s:KEY       the last TOTP step used
 *   PREFIX l:ID        the lease of the instance working on ticket ID
 * Every check-and-change is one Lua script; a batch of changes is one
 * MULTI/EXEC. With [state] redis_min_replicas > 0, every change is
 * followed by WAIT and counts as failed unless that many replicas have it.
 *
 * Commands are sent synchronously on the caller's thread with a timeout
 * (loopback or LAN: tens of microseconds); once one fails, the store is
 * down and fails at once until a new connection is up again
 * (rstore_ready()): probed every 250 ms to 2 s, as callers ask, through
 * hiredis's asynchronous API on the event loop (rstore_attach()).
 */
#ifndef SSPRD_REDIS_H
#define SSPRD_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "daemon/store.h"

struct rstore;

/* Settings from cfg's [state]; connects when it can (an unreachable Redis
 * is not an error here: rstore_ready() says false until it is up). */
struct rstore *rstore_open(const struct config *cfg, bool reader,
    char *err, size_t errlen);
void rstore_close(struct rstore *r);
/* From now on a store that is down is probed asynchronously on base's
 * loop (a host that drops packets never stalls it); before, connections
 * are tried synchronously. -1 when no timer could be made. */
struct event_base;
int rstore_attach(struct rstore *r, struct event_base *base);
/* Connected, and the HMAC key is read: tries to connect when due. */
bool rstore_ready(struct rstore *r);
/* NULL until the first connection read it. */
const unsigned char *rstore_hmac_key(const struct rstore *r);

int rstore_apply(struct rstore *r, const struct store_op *ops, size_t n);
json_t *rstore_get(struct rstore *r, enum store_db db, const char *key);
size_t rstore_count(struct rstore *r, enum store_db db);
int rstore_events_add(struct rstore *r, const char *key, int64_t now,
    int64_t window, unsigned keep);
int rstore_events_count(struct rstore *r, const char *key, int64_t now,
    int64_t window);
int rstore_lease(struct rstore *r, const char *key, unsigned ms);
void rstore_unlease(struct rstore *r, const char *key);
/* A check that may count a failure on events (a counter of window
 * seconds): reserved under key with token for ms milliseconds when the
 * failures counted plus the checks reserved, on every instance, are
 * below limit (1), else 0; -1 on an error. */
int rstore_reserve(struct rstore *r, const char *events, const char *key,
    const char *token, int64_t now, int64_t window, unsigned limit,
    unsigned ms);
void rstore_unreserve(struct rstore *r, const char *key, const char *token);
int64_t rstore_step_last(struct rstore *r, const char *key);
int rstore_step_take(struct rstore *r, const char *key, int64_t step,
    unsigned ttl);

/*
 * For ssprd -t: connect once and read the server's persistence settings;
 * fn gets each warning (the durability the settings cannot give, or why
 * they could not be read). 0, or -1 when Redis could not be reached (fn
 * got the reason).
 */
int rstore_check(const struct config *cfg,
    void (*fn)(const char *msg, void *arg), void *arg);

#endif
