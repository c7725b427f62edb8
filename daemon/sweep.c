/*
 * sweep.c - removing state that has outlived its use (see sweep.h).
 *
 * Each database is walked once (store_foreach(): short read transactions,
 * none open while a record is looked at), the keys to remove are gathered,
 * at most SWEEP_MAX_KEYS of them a pass, and removed SWEEP_BATCH to a
 * transaction. The intents are walked first: they say which tickets must
 * stay.
 */
#include "build.h"

#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/sweep.h"
#include "daemon/throttle.h"

struct scan {
	int64_t now;
	int64_t horizon;	/* counters: the longest window */
	struct strlist gone;	/* keys to remove from the database walked */
	struct strlist keep;	/* tickets that intents name */
	bool old_intent;	/* an intent that does not name its ticket */
};

static int
full(const struct scan *s)
{
	return s->gone.n >= SWEEP_MAX_KEYS;
}

static int
intent_seen(const char *key, json_t *v, void *arg)
{
	struct scan *s = arg;
	json_t *at = json_object_get(v, "at");
	json_t *ticket = json_object_get(v, "ticket");
	const char *op = json_string_value(json_object_get(v, "op"));

	if (json_is_integer(at) &&
	    json_integer_value(at) < s->now - SWEEP_INTENT_AGE) {
		log_warnx("engine: dropping the write intent of request %s: "
		    "its request file is gone", key);
		strlist_add(&s->gone, key);
		return full(s);
	}
	if (json_is_string(ticket)) {
		if (json_string_length(ticket) > 0)
			strlist_add(&s->keep, json_string_value(ticket));
	} else if (op == NULL || strcmp(op, "change") != 0) {
		s->old_intent = true;	/* written before intents named it */
	}
	return 0;
}

static int
ticket_seen(const char *key, json_t *v, void *arg)
{
	struct scan *s = arg;

	/* An expired ticket answers "expired"; so does a missing one. */
	if (ticket_expiry(v) < s->now - SWEEP_TICKET_GRACE &&
	    !strlist_has(&s->keep, key))
		strlist_add(&s->gone, key);
	return full(s);
}

static int
counter_seen(const char *key, json_t *v, void *arg)
{
	struct scan *s = arg;

	/* Outside every window: it counts nothing any more. */
	if (store_events_newest(v) < s->now - s->horizon)
		strlist_add(&s->gone, key);
	return full(s);
}

/* Walk db with fn, remove what it gathered; the count, or -1. */
static long
sweep_db(struct store *st, enum store_db db, struct scan *s,
    int (*fn)(const char *, json_t *, void *))
{
	struct store_op ops[SWEEP_BATCH];
	size_t n, done = 0;
	long ret;

	if (store_foreach(st, db, fn, s) == -1) {
		strlist_free(&s->gone);
		return -1;
	}
	while (done < s->gone.n) {
		n = s->gone.n - done < SWEEP_BATCH ? s->gone.n - done :
		    SWEEP_BATCH;
		for (size_t i = 0; i < n; i++)
			ops[i] = (struct store_op){ db, s->gone.v[done + i], NULL };
		if (store_apply(st, ops, n) != 0)
			break;
		done += n;
	}
	ret = done == s->gone.n ? (long)done : -1;
	strlist_free(&s->gone);
	return ret;
}

void
sweep_store(struct store *st, const struct config *cfg, int64_t now,
    struct sweep_result *r)
{
	struct scan s = { .now = now };
	long n;

	memset(r, 0, sizeof(*r));
	if (store_shared(st))
		return;		/* Redis: every record has its TTL */
	s.horizon = THROTTLE_FAILURE_WINDOW;
	if ((int64_t)cfg->policy.lockout_time > s.horizon)
		s.horizon = cfg->policy.lockout_time;

	if ((n = sweep_db(st, STORE_INTENTS, &s, intent_seen)) < 0)
		goto failed;
	r->intents = (size_t)n;
	if (s.old_intent) {
		r->tickets_kept = true;
	} else {
		if ((n = sweep_db(st, STORE_TICKETS, &s, ticket_seen)) < 0)
			goto failed;
		r->tickets = (size_t)n;
	}
	if ((n = sweep_db(st, STORE_EVENTS, &s, counter_seen)) < 0)
		goto failed;
	r->events = (size_t)n;
	r->more = r->intents >= SWEEP_MAX_KEYS || r->tickets >= SWEEP_MAX_KEYS ||
	    r->events >= SWEEP_MAX_KEYS;
	strlist_free(&s.keep);
	return;
failed:
	r->failed = true;
	strlist_free(&s.keep);
}
