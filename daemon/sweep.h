/*
 * sweep.h - removing state that has outlived its use.
 *
 * Every start leaves a ticket, real or decoy, and every user name a stranger
 * sends leaves counters: without a sweep the state would grow until the
 * store is full (1 GiB of map), and from then on ssprd could keep no ticket
 * and no counter. sweep_store() removes, in transactions of at most
 * SWEEP_BATCH deletions:
 *
 * - tickets an hour past their expiry, which answer "expired" whether
 *   they are there or not; the hour is for a job that checked its ticket
 *   just before it expired and has not yet recorded its write intent;
 *   except tickets a write intent names (a reset being settled after a
 *   crash reads its ticket), and none at all while an intent of an older
 *   ssprd, which does not name its ticket, is left;
 * - counters whose newest event is older than every window they are
 *   counted over (an hour for starts, a day for failed proofs,
 *   [policy] lockout_time for a lockout);
 * - write intents older than a day: their request is gone (a reboot
 *   emptied the spool on tmpfs), so nothing will settle them.
 */
#ifndef SSPRD_SWEEP_H
#define SSPRD_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/store.h"

#define SWEEP_FIRST 2		/* seconds after the start */
#define SWEEP_EVERY 300		/* seconds between sweeps */
#define SWEEP_BATCH 1000	/* deletions per transaction */
#define SWEEP_INTENT_AGE 86400	/* seconds */
#define SWEEP_TICKET_GRACE 3600	/* seconds past a ticket's expiry */
#define SWEEP_MAX_KEYS 20000	/* per database and pass; then again soon */

struct sweep_result {
	size_t tickets;		/* expired tickets removed */
	size_t events;		/* stale counters removed */
	size_t intents;		/* abandoned write intents removed */
	bool tickets_kept;	/* an intent of an older ssprd kept them all */
	bool more;		/* a pass stopped at SWEEP_MAX_KEYS */
	bool failed;		/* a store error (logged); the rest waits */
};

void sweep_store(struct store *st, const struct config *cfg, int64_t now,
    struct sweep_result *r);

#endif
