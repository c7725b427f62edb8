/*
 * store.h - ssprd's persistent state in LMDB under [daemon] state_dir.
 *
 * Five named databases of small JSON records: tickets (by ticket ID),
 * intents (by request ID: "this request is about to write the directory",
 * recorded durably before the write), events (throttling and lockout
 * counters: timestamps per key), meta (the daemon's own keys) and accounts
 * (per account, when its registration was last confirmed; never swept). Every
 * write is committed before the call returns (LMDB's default durability:
 * the data survives kill -9 and power loss), so a caller may act on it at
 * once. Nothing secret is ever passed in: the state holds keyed hashes of
 * codes and answers, never codes, answers or passwords.
 *
 * The environment file is created 0600 in a directory that must not be
 * readable by others (state_dir is 0700 under systemd's StateDirectory).
 * Only one ssprd may open a state directory: store_open() holds an
 * flock(2) on DIR/ssprd.lock while open, and a second opener, in this
 * process or another, gets an error naming the holder's pid.
 */
#ifndef SSPRD_STORE_H
#define SSPRD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"

#define STORE_KEY_MAX 511	/* LMDB's default key size limit */
#define STORE_HMAC_KEY_LEN 32

enum store_db {
	STORE_TICKETS,
	STORE_INTENTS,
	STORE_EVENTS,
	STORE_META,
	STORE_ACCOUNTS,		/* per account (throttle_id_account()): when its
				 * registration was last confirmed */
};

struct store;

/* Open (creating if needed) DIR/ssprd.mdb. NULL with err filled. */
struct store *store_open(const char *dir, char *err, size_t errlen);
void store_close(struct store *st);
/*
 * Open DIR/ssprd.mdb to read only, beside the ssprd that holds it (LMDB
 * readers do not block its writer, nor it them): for ssprctl. Creates
 * nothing and takes no lock; writes through it fail. NULL with err filled
 * when there is no state there yet.
 */
struct store *store_open_reader(const char *dir, char *err, size_t errlen);

/* One change: value NULL deletes key (absent is fine). */
struct store_op {
	enum store_db	 db;
	const char	*key;
	const json_t	*value;		/* not consumed */
};

/* The n changes in one transaction, all or none: 0 or -1 (logged). */
int store_apply(struct store *st, const struct store_op *ops, size_t n);
/* 0 or -1 (logged). value is not consumed. */
int store_put(struct store *st, enum store_db db, const char *key,
    const json_t *value);
/* A new reference, or NULL when absent (or unreadable: logged). */
json_t *store_get(struct store *st, enum store_db db, const char *key);
/* 0 (also when absent) or -1. */
int store_del(struct store *st, enum store_db db, const char *key);
/* Calls fn for every record until it returns non-zero; fn may not call
 * back into the store. Returns fn's last value, or -1 on a store error. */
int store_foreach(struct store *st, enum store_db db,
    int (*fn)(const char *key, json_t *value, void *arg), void *arg);
/* Records in db. */
size_t store_count(struct store *st, enum store_db db);

/*
 * Sliding-window counters in STORE_EVENTS: record one event for key at time
 * now (seconds) and return how many events key has within the last window
 * seconds, this one included; at most keep timestamps are kept. -1 on a
 * store error. store_events_count() only counts.
 */
int store_events_add(struct store *st, const char *key, int64_t now,
    int64_t window, unsigned keep);
int store_events_count(struct store *st, const char *key, int64_t now,
    int64_t window);
/* The newest event of a STORE_EVENTS record as store_foreach() hands it;
 * 0 when it holds none, or none that store_events_add() could read. */
int64_t store_events_newest(const json_t *record);

/* The daemon's secret for keyed hashes (codes, decoys): made at the first
 * open from libsodium's generator and kept in STORE_META. */
const unsigned char *store_hmac_key(const struct store *st);

/*
 * [state]: LMDB under [daemon] state_dir (store_open(), or
 * store_open_reader() with reader), or Redis (redis.h), shared by several
 * instances. A Redis that cannot be reached is not an error here.
 */
struct store *store_open_config(const struct config *cfg, bool reader,
    char *err, size_t errlen);
/* The daemon's loop, on which a Redis store that is down is probed
 * (redis.h); 0, or -1 when that cannot be set up. */
struct event_base;
int store_attach(struct store *st, struct event_base *base);
/* Shared with other instances (Redis): tickets need a lease, records
 * expire by themselves (no sweep). */
bool store_shared(const struct store *st);
/* Usable now (always, for LMDB): a Redis store connects when due. */
bool store_ready(struct store *st);
/* Shared stores only: take the lease on key for ms milliseconds (1), or
 * not, another instance holds it (0), or -1. LMDB: always 1. */
int store_lease(struct store *st, const char *key, unsigned ms);
void store_unlease(struct store *st, const char *key);
/* Shared stores only: the last TOTP step used under key (-1: none or an
 * error), and reserving one: 1 when step is above the last, 0 when not
 * (replayed), -1 on an error. */
/* Shared stores only: see rstore_reserve() in redis.h. */
int store_reserve(struct store *st, const char *events, const char *key,
    const char *token, int64_t now, int64_t window, unsigned limit,
    unsigned ms);
void store_unreserve(struct store *st, const char *key, const char *token);
int64_t store_step_last(struct store *st, const char *key);
int store_step_take(struct store *st, const char *key, int64_t step,
    unsigned ttl);

#endif
