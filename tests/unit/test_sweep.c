/*
 * test_sweep.c - removing state that has outlived its use, on a real LMDB
 * store: expired tickets go unless a write intent names them; nothing goes
 * while an intent of an older ssprd (naming no ticket) is left; counters
 * go once outside every window, [policy] lockout_time included; intents go
 * after a day; a flood is removed SWEEP_MAX_KEYS a pass.
 */
#include "build.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "daemon/store.h"
#include "daemon/sweep.h"

#define NOW 2000000000	/* seconds */

static char dir[64];
static struct store *st;
static struct config cfg;

static int
remove_one(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb, (void)type, (void)f;
	return remove(path);
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ssprd-test-sweep.XXXXXX");
	if (mkdtemp(dir) == NULL || (st = store_open(dir, err, sizeof(err))) == NULL)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy.lockout_time = 86400;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(st);
	return nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
put(enum store_db db, const char *key, const char *fmt, ...)
{
	char text[512];
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	v = json_loads(text, 0, NULL);
	assert_non_null(v);
	assert_int_equal(store_put(st, db, key, v), 0);
	json_decref(v);
}

static bool
has(enum store_db db, const char *key)
{
	json_t *v = store_get(st, db, key);

	json_decref(v);
	return v != NULL;
}

static void
ticket(const char *id, long long expires)
{
	put(STORE_TICKETS, id, "{\"user\":\"u\",\"created\":1,\"expires\":%lld}",
	    expires);
}

static void
intent(const char *id, const char *op, const char *ticket_field, long long at)
{
	put(STORE_INTENTS, id, "{\"op\":\"%s\",\"dn\":\"uid=u\",\"stamp\":\"\","
	    "\"state\":\"pending\",\"at\":%lld,\"file\":\"1:2:3\"%s}", op, at,
	    ticket_field);
}

static void
test_tickets_counters_intents(void **state)
{
	static const struct { enum store_db db; const char *key; bool stays; }
	after[] = {
		{ STORE_INTENTS, "abandoned", false },
		{ STORE_INTENTS, "reset1", true },
		{ STORE_INTENTS, "change1", true },
		{ STORE_TICKETS, "expired", false },
		{ STORE_TICKETS, "just-expired", true },
		/* its intent was abandoned in the same sweep: nothing keeps it */
		{ STORE_TICKETS, "long-expired", false },
		{ STORE_TICKETS, "no-expiry", false },
		{ STORE_TICKETS, "live", true },
		{ STORE_TICKETS, "in-use", true },
		{ STORE_EVENTS, "start:email:old", false },
		{ STORE_EVENTS, "empty", false },
		{ STORE_EVENTS, "fail:recent", true },
		{ STORE_EVENTS, "start:email:new", true },
	};
	struct sweep_result r;

	(void)state;
	ticket("expired", NOW - SWEEP_TICKET_GRACE - 1);
	ticket("just-expired", NOW - SWEEP_TICKET_GRACE + 1);	/* grace */
	ticket("long-expired", NOW - 10 * 86400);
	ticket("live", NOW + 600);
	ticket("in-use", NOW - 86400);	/* expired, but an intent names it */
	put(STORE_TICKETS, "no-expiry", "{\"user\":\"u\"}");
	intent("reset1", "reset", ",\"ticket\":\"in-use\"", NOW - 60);
	intent("change1", "change", ",\"ticket\":\"\"", NOW - 60);
	intent("abandoned", "reset", ",\"ticket\":\"long-expired\"",
	    NOW - 86400 - 1);
	put(STORE_EVENTS, "start:email:old", "{\"t\":[%d,%d]}", NOW - 90000,
	    NOW - 86401);
	put(STORE_EVENTS, "fail:recent", "{\"t\":[%d,%d]}", NOW - 90000,
	    NOW - 80000);
	put(STORE_EVENTS, "start:email:new", "{\"t\":[%d]}", NOW - 10);
	put(STORE_EVENTS, "empty", "{\"t\":[]}");

	sweep_store(st, &cfg, NOW, &r);
	assert_false(r.failed);
	assert_false(r.more);
	assert_false(r.tickets_kept);
	assert_int_equal(r.intents, 1);
	assert_int_equal(r.tickets, 3);
	assert_int_equal(r.events, 2);

	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
		if (has(after[i].db, after[i].key) != after[i].stays)
			fail_msg("%s: %s", after[i].key, after[i].stays ?
			    "removed" : "still there");

	/* A second sweep finds nothing more. */
	sweep_store(st, &cfg, NOW, &r);
	assert_int_equal(r.tickets + r.events + r.intents, 0);
}

/* A lockout lasts lockout_time, which may be longer than a day. */
static void
test_lockout_time_horizon(void **state)
{
	struct sweep_result r;

	(void)state;
	cfg.policy.lockout_time = 7 * 86400;
	put(STORE_EVENTS, "locked:bob", "{\"t\":[%d]}", NOW - 3 * 86400);
	put(STORE_EVENTS, "locked:eve", "{\"t\":[%d]}", NOW - 8 * 86400);
	sweep_store(st, &cfg, NOW, &r);
	assert_int_equal(r.events, 1);
	assert_true(has(STORE_EVENTS, "locked:bob"));
	assert_false(has(STORE_EVENTS, "locked:eve"));
}

/* An intent written before intents named their ticket: recheck() might
 * need any ticket, so none goes until that intent is gone. */
static void
test_old_intent_keeps_tickets(void **state)
{
	struct sweep_result r;

	(void)state;
	ticket("expired", NOW - 86400);
	intent("old", "reset", "", NOW - 60);
	sweep_store(st, &cfg, NOW, &r);
	assert_true(r.tickets_kept);
	assert_int_equal(r.tickets, 0);
	assert_true(has(STORE_TICKETS, "expired"));

	/* A day on, the old intent is dropped and the ticket with it. */
	sweep_store(st, &cfg, NOW + 86400, &r);
	assert_false(r.tickets_kept);
	assert_int_equal(r.intents, 1);
	assert_int_equal(r.tickets, 1);
	assert_false(has(STORE_TICKETS, "expired"));
}

/* A flood: SWEEP_MAX_KEYS a pass, "more" until the last. */
static void
test_flood_in_passes(void **state)
{
	size_t total = SWEEP_MAX_KEYS + 2345, left = total, passes = 0;
	struct store_op ops[500];
	char keys[500][16];
	json_t *v = json_pack("{s:I}", "expires", (json_int_t)(NOW - 86400));
	struct sweep_result r;

	(void)state;
	for (size_t i = 0; i < total; i += 500) {
		for (size_t j = 0; j < 500; j++) {
			snprintf(keys[j], sizeof(keys[j]), "t%06zu", i + j);
			ops[j] = (struct store_op){ STORE_TICKETS, keys[j], v };
		}
		assert_int_equal(store_apply(st, ops, 500), 0);
	}
	json_decref(v);
	total = left = store_count(st, STORE_TICKETS);
	do {
		sweep_store(st, &cfg, NOW, &r);
		assert_false(r.failed);
		assert_true(r.tickets <= SWEEP_MAX_KEYS);
		left -= r.tickets;
		passes++;
	} while (r.more && passes < 10);
	assert_int_equal(passes, 2);
	assert_int_equal(left, 0);
	assert_int_equal(store_count(st, STORE_TICKETS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tickets_counters_intents,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout_time_horizon,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_intent_keeps_tickets,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_in_passes,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
