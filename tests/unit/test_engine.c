/*
 * test_engine.c - the engine (daemon/engine.h) end to end in one process:
 * requests written into a real spool, a real LMDB store, a mail command
 * that files its messages, and the scripted directory of fakedir.h. Each
 * test checks something the engine could get wrong: decoys shaped like real
 * answers, lockout across tickets, answers only after their store change
 * committed, write intents across a crash (a forked child that dies at a
 * chosen step), two resets racing on one ticket, and writes whose answer
 * was lost.
 *
 * Waiting is counted in turns of the event loop, never in seconds; an
 * alarm() bounds every test so a hang fails the run.
 */
#include "build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "daemon/challenge.h"
#include "daemon/throttle.h"
#include "tests/unit/engine_fx.h"
#include "tests/unit/fakedir.h"

#define TEST_ALARM 120

#define ALICE_DN "cn=alice,ou=people,dc=example,dc=org"
#define ALICE_MAIL "alice@example.org"
#define OLD_PW "Old-Password-1"
#define NEW_PW "Fresh-Harbour-Lantern-7"

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	alarm(TEST_ALARM);
	fakedir_reset();
	*state = f;
	return f == NULL;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fx_destroy(f);
	assert_int_equal(fakedir_held(), 0);
	assert_int_equal(fakedir_counts.pools_live, 0);
	free(f);
	alarm(0);
	return 0;
}

static void
init_open(struct fx *f, const char *extra)
{
	snprintf(f->extra, sizeof(f->extra), "%s", extra ? extra : "");
	fx_init(f);
	fx_open(f);
}

static bool
matches(const char *re, const char *s)
{
	regex_t r;
	bool m;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

/* The keys of an object, sorted, comma-separated. */
static void
keys_of(const json_t *a, char *out, size_t size)
{
	const char *k[32];
	const char *key;
	json_t *v;
	size_t n = 0, o = 0;

	json_object_foreach((json_t *)a, key, v) {
		(void)v;
		if (n < 32)
			k[n++] = key;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(k[j - 1], k[j]) > 0; j--) {
			const char *t = k[j];

			k[j] = k[j - 1];
			k[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "",
		    k[i]);
}

/* --- 1. start: decoys look like real answers ----------------------------------- */

/* Everything a start answer shows, checked against a real one's shape. */
static void
check_start_shape(const json_t *a, const char *id, const char *name_letter)
{
	char keys[256], re[64];

	assert_string_equal(fx_outcome(a), "ok");
	keys_of(a, keys, sizeof(keys));
	assert_string_equal(keys, "expires_in,id,method,sent_to,status,ticket,v");
	assert_string_equal(fx_str(a, "id"), id);
	assert_true(matches("^[0-9a-f]{32}$", fx_str(a, "ticket")));
	assert_string_equal(fx_str(a, "method"), "email");
	assert_int_equal(json_integer_value(json_object_get(a, "expires_in")),
	    600);
	assert_true(json_is_integer(json_object_get(a, "v")));
	/* Real masks here all start with the user's letter and have the
	 * domain e***.org: decoys must too (protocol.md section 6). */
	snprintf(re, sizeof(re), "^%s\\*\\*\\*@e\\*\\*\\*\\.org$", name_letter);
	if (!matches(re, fx_str(a, "sent_to")))
		fail_msg("sent_to %s is not shaped like the real ones",
		    fx_str(a, "sent_to"));
}

static void
verify_answers(struct fx *f, const char *id, const char *ticket,
    const char *code, const char *want)
{
	json_t *a;

	fx_submit(f, id, "{\"v\":1,\"op\":\"verify\",\"ticket\":\"%s\","
	    "\"code\":\"%s\"}", ticket, code);
	a = fx_wait(f, id);
	if (strcmp(fx_outcome(a), want) != 0)
		fail_msg("%s: want %s, got %s", id, want, fx_outcome(a));
	json_decref(a);
}

static void
test_start_decoy_shapes(void **state)
{
	struct fx *f = *state;
	struct fake_user *u;
	json_t *real, *a, *again;
	char real_ticket[33], code[16];
	const struct {
		const char *id, *user, *letter;
	} decoys[] = {
		{ "d-unknown", "zed", "z" },
		{ "d-disabled", "dave", "d" },
		{ "d-notallowed", "nina", "n" },
		{ "d-nomail", "ina", "i" },
		{ "d-throttled", "alice", "a" },	/* third start this hour */
	};

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	fakedir_add("bob", "cn=bob,dc=example,dc=org", "bob@example.org",
	    OLD_PW);
	u = fakedir_add("dave", "cn=dave,dc=example,dc=org", "dave@example.org",
	    OLD_PW);
	u->disabled = true;
	u = fakedir_add("nina", "cn=nina,dc=example,dc=org", "nina@example.org",
	    OLD_PW);
	u->allowed = false;
	fakedir_add("ina", "cn=ina,dc=example,dc=org", NULL, OLD_PW);
	init_open(f, "max_starts_per_hour = 2\n");

	/* Two real starts teach the engine what real masks look like. */
	real = fx_start(f, "real-1", "alice", NULL);
	check_start_shape(real, "real-1", "a");
	assert_string_equal(fx_str(real, "sent_to"), "a***@e***.org");
	snprintf(real_ticket, sizeof(real_ticket), "%s", fx_str(real, "ticket"));
	a = fx_start(f, "real-2", "bob", NULL);
	check_start_shape(a, "real-2", "b");
	json_decref(a);
	assert_int_equal(fx_mails(f), 2);
	a = fx_start(f, "real-3", "alice", NULL);	/* alice's 2nd: sent */
	json_decref(a);
	assert_int_equal(fx_mails(f), 3);

	for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
		char vid[64];

		a = fx_start(f, decoys[i].id, decoys[i].user, NULL);
		check_start_shape(a, decoys[i].id, decoys[i].letter);
		assert_string_not_equal(fx_str(a, "ticket"), real_ticket);
		/* nothing sent */
		assert_int_equal(fx_mails(f), 3);
		/* a decoy ticket never verifies: bad-code, as a wrong code */
		snprintf(vid, sizeof(vid), "%s-verify", decoys[i].id);
		verify_answers(f, vid, fx_str(a, "ticket"), "12345678",
		    "bad-code");
		json_decref(a);
	}
	/* The same mask every time for the same name. */
	a = fx_start(f, "d-unknown-1", "zed", NULL);
	again = fx_start(f, "d-unknown-2", "zed", NULL);
	assert_string_equal(fx_str(a, "sent_to"), fx_str(again, "sent_to"));
	json_decref(a);
	json_decref(again);
	/* The throttled real user's decoy mask is the real mask. */
	a = fx_start(f, "d-throttled-2", "alice", NULL);
	assert_string_equal(fx_str(a, "sent_to"), fx_str(real, "sent_to"));
	json_decref(a);

	/* Another user's ticket on a start: a fresh decoy ticket, same shape,
	 * nothing sent, and the real ticket stays alice's and real. */
	a = fx_start(f, "d-other", "bob", real_ticket);
	check_start_shape(a, "d-other", "b");
	assert_string_not_equal(fx_str(a, "ticket"), real_ticket);
	json_decref(a);
	assert_int_equal(fx_mails(f), 3);
	fx_code_for(f, ALICE_MAIL, code);	/* real-1's or real-3's code */
	assert_true(code[0] != '\0');
	json_decref(real);

	/* Only real users were looked for in the directory's writes: none. */
	assert_int_equal(fakedir_counts.applied, 0);
}

/* --- 2. lockout counting ----------------------------------------------------------- */

static int
failures_of(struct fx *f, const char *dn)
{
	char acct[THROTTLE_ID_LEN];

	throttle_id_account(store_hmac_key(f->st), dn, acct);
	return throttle_failures(f->st, f->cfg, acct, (int64_t)time(NULL));
}

/* Two real tickets of one user; their codes. */
static void
two_tickets(struct fx *f, char ta[33], char ca[16], char tb[33], char cb[16])
{
	json_t *a;

	a = fx_start(f, "start-a", "alice", NULL);
	assert_string_equal(fx_outcome(a), "ok");
	snprintf(ta, 33, "%s", fx_str(a, "ticket"));
	json_decref(a);
	fx_code_for(f, ALICE_MAIL, ca);
	a = fx_start(f, "start-b", "alice", NULL);
	assert_string_equal(fx_outcome(a), "ok");
	snprintf(tb, 33, "%s", fx_str(a, "ticket"));
	json_decref(a);
	fx_code_for(f, ALICE_MAIL, cb);
	assert_true(ca[0] != '\0' && cb[0] != '\0');
	assert_string_not_equal(ta, tb);
}

/* A code that is neither of two. */
static const char *
wrong_code(const char *c1, const char *c2)
{
	static const char *const w[] = { "11111111", "22222222", "33333333" };

	for (size_t i = 0; i < 3; i++)
		if (strcmp(w[i], c1) != 0 && strcmp(w[i], c2) != 0)
			return w[i];
	return "44444444";
}

static void
test_lockout_across_tickets(void **state)
{
	struct fx *f = *state;
	char ta[33], tb[33], tc[33], ca[16], cb[16], cc[16];
	const char *bad;
	json_t *a;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, "lockout_failures = 3\nmax_attempts = 10\n"
	    "max_starts_per_hour = 20\n");
	two_tickets(f, ta, ca, tb, cb);
	a = fx_start(f, "start-c", "alice", NULL);
	snprintf(tc, sizeof(tc), "%s", fx_str(a, "ticket"));
	json_decref(a);
	fx_code_for(f, ALICE_MAIL, cc);
	bad = wrong_code(ca, cb);
	if (strcmp(bad, cc) == 0)
		bad = "99999999";

	verify_answers(f, "w1", ta, bad, "bad-code");
	verify_answers(f, "w2", tb, bad, "bad-code");
	assert_int_equal(failures_of(f, ALICE_DN), 2);
	/* Two of three: not locked yet, a right code still verifies. */
	verify_answers(f, "c-ok", tc, cc, "ok");
	/* The third, on the first ticket (two there, one on the other):
	 * the total locks, not the count per ticket. */
	verify_answers(f, "w3", ta, bad, "bad-code");
	assert_int_equal(failures_of(f, ALICE_DN), 3);
	/* Now the right code is refused on every ticket, and reset too. */
	verify_answers(f, "b-right", tb, cb, "throttled");
	verify_answers(f, "a-right", ta, ca, "throttled");
	fx_submit(f, "c-reset", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"%s\"}", tc, NEW_PW);
	a = fx_wait(f, "c-reset");
	assert_string_equal(fx_outcome(a), "throttled");
	json_decref(a);
	/* Refusals while locked do not count. */
	assert_int_equal(failures_of(f, ALICE_DN), 3);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 0);
}

/* register with questions and a new address, its sends throttled: answered
 * throttled before anything is written (the questions were written, then
 * the answer said throttled). */
static void
test_register_throttled_first(void **state)
{
	struct fx *f = *state;
	json_t *a;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	f->methods = "email, questions";
	init_open(f, "max_starts_per_hour = 1\nadmin_methods = email\n"
	    "[questions]\nattribute = q\nrequired = 1\n");
	fx_submit(f, "r1", "{\"v\":1,\"op\":\"register\",\"user\":\"alice\","
	    "\"password\":\"%s\",\"email\":\"one@example.net\"}", OLD_PW);
	a = fx_wait(f, "r1");
	assert_string_equal(fx_outcome(a), "ok");
	json_decref(a);
	fx_submit(f, "r2", "{\"v\":1,\"op\":\"register\",\"user\":\"alice\","
	    "\"password\":\"%s\",\"email\":\"two@example.net\","
	    "\"questions\":[{\"question\":\"Pet?\",\"answer\":\"Rex\"}]}",
	    OLD_PW);
	a = fx_wait(f, "r2");
	assert_string_equal(fx_outcome(a), "throttled");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_SET_ATTRS], 0);
}

static void
test_lockout_parallel_tickets(void **state)
{
	struct fx *f = *state;
	char ta[33], tb[33], ca[16], cb[16];
	const char *bad, *ids[] = { "pa1", "pb1", "pa2", "pb2", "pa3", "pb3" };
	unsigned bad_codes = 0, throttled = 0;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, "lockout_failures = 3\nmax_attempts = 10\n");
	two_tickets(f, ta, ca, tb, cb);
	bad = wrong_code(ca, cb);
	/* Six wrong codes, alternating tickets, all in new/ at once. */
	for (size_t i = 0; i < 6; i++)
		fx_submit(f, ids[i], "{\"v\":1,\"op\":\"verify\",\"ticket\":"
		    "\"%s\",\"code\":\"%s\"}", i % 2 ? tb : ta, bad);
	for (size_t i = 0; i < 6; i++) {
		json_t *a = fx_wait(f, ids[i]);
		const char *o = fx_outcome(a);

		if (strcmp(o, "bad-code") == 0)
			bad_codes++;
		else if (strcmp(o, "throttled") == 0)
			throttled++;
		else
			fail_msg("%s: unexpected %s", ids[i], o);
		json_decref(a);
	}
	/* Exactly lockout_failures were counted and answered as wrong; the
	 * rest found the account locked. */
	assert_int_equal(bad_codes, 3);
	assert_int_equal(throttled, 3);
	assert_int_equal(failures_of(f, ALICE_DN), 3);
	verify_answers(f, "a-right", ta, ca, "throttled");
	verify_answers(f, "b-right", tb, cb, "throttled");
}

/* --- 3. group commit: an answer only after its change is in the store ------- */

#define BATCH 8

static void
test_group_commit_order(void **state)
{
	struct fx *f = *state;
	char ids[BATCH][32], tickets[BATCH][33], codes[BATCH][16];
	char users[BATCH][16], mails[BATCH][40], dn[64];
	bool seen[BATCH];
	unsigned left;

	for (unsigned i = 0; i < BATCH; i++) {
		snprintf(users[i], sizeof(users[i]), "user%u", i);
		snprintf(mails[i], sizeof(mails[i]), "user%u@example.org", i);
		snprintf(dn, sizeof(dn), "cn=user%u,dc=example,dc=org", i);
		fakedir_add(users[i], dn, mails[i], OLD_PW);
	}
	init_open(f, "max_attempts = 10\n");

	/* Starts, all at once: when each answer appears, its ticket is
	 * already in the store. */
	for (unsigned i = 0; i < BATCH; i++) {
		snprintf(ids[i], sizeof(ids[i]), "s%u", i);
		fx_submit(f, ids[i], "{\"v\":1,\"op\":\"start\",\"user\":\"%s\","
		    "\"method\":\"email\"}", users[i]);
		seen[i] = false;
	}
	left = BATCH;
	for (unsigned turn = 0; left > 0; turn++) {
		assert_true(turn < 20000);
		fx_turn(f);
		for (unsigned i = 0; i < BATCH; i++) {
			json_t *a, *t;

			if (seen[i] || !fx_answered(f, ids[i]))
				continue;
			a = fx_take(f, ids[i]);
			assert_string_equal(fx_outcome(a), "ok");
			snprintf(tickets[i], 33, "%s", fx_str(a, "ticket"));
			t = store_get(f->st, STORE_TICKETS, tickets[i]);
			if (t == NULL)
				fail_msg("%s answered before its ticket was "
				    "stored", ids[i]);
			json_decref(t);
			json_decref(a);
			seen[i] = true;
			left--;
		}
	}
	assert_int_equal(fx_mails(f), BATCH);
	for (unsigned i = 0; i < BATCH; i++) {
		fx_code_for(f, mails[i], codes[i]);
		assert_true(codes[i][0] != '\0');
	}

	/* Verifies, half right and half wrong, and resets with the code
	 * inline for two of the right ones, all at once. */
	for (unsigned i = 0; i < BATCH; i++) {
		snprintf(ids[i], sizeof(ids[i]), "v%u", i);
		seen[i] = false;
		if (i >= 6)
			fx_submit(f, ids[i], "{\"v\":1,\"op\":\"reset\","
			    "\"ticket\":\"%s\",\"code\":\"%s\","
			    "\"new_password\":\"%s\"}", tickets[i], codes[i],
			    NEW_PW);
		else
			fx_submit(f, ids[i], "{\"v\":1,\"op\":\"verify\","
			    "\"ticket\":\"%s\",\"code\":\"%s\"}", tickets[i],
			    i % 2 ? wrong_code(codes[i], codes[i]) : codes[i]);
	}
	left = BATCH;
	for (unsigned turn = 0; left > 0; turn++) {
		assert_true(turn < 20000);
		fx_turn(f);
		for (unsigned i = 0; i < BATCH; i++) {
			struct ticket t;
			json_t *a, *j;

			if (seen[i] || !fx_answered(f, ids[i]))
				continue;
			a = fx_take(f, ids[i]);
			j = store_get(f->st, STORE_TICKETS, tickets[i]);
			if (i >= 6) {
				json_t *in = store_get(f->st, STORE_INTENTS,
				    ids[i]);

				assert_string_equal(fx_outcome(a), "ok");
				/* spent before the answer: never reused */
				if (j != NULL)
					fail_msg("%s: ok before the ticket was "
					    "spent", ids[i]);
				/* the write was recorded as done (or the
				 * record already dropped), never "writing" */
				if (in != NULL)
					assert_string_equal(fx_str(in, "state"),
					    "done");
				json_decref(in);
			} else {
				assert_non_null(j);
				assert_int_equal(ticket_from_json(j, tickets[i],
				    &t), 0);
				if (i % 2) {
					assert_string_equal(fx_outcome(a),
					    "bad-code");
					assert_int_equal(t.attempts, 1);
				} else {
					assert_string_equal(fx_outcome(a),
					    "ok");
					assert_true(t.verified & METHOD_EMAIL);
				}
				ticket_clear(&t);
			}
			json_decref(j);
			json_decref(a);
			seen[i] = true;
			left--;
		}
	}
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 2);
	assert_int_equal(fakedir_counts.applied, 2);
	assert_string_equal(fakedir_find("user6")->password, NEW_PW);
	assert_string_equal(fakedir_find("user7")->password, NEW_PW);
	assert_string_equal(fakedir_find("user5")->password, OLD_PW);
}

/* --- 4. write intents across a crash ------------------------------------------------ */

/* Where the child dies. */
enum crash_at {
	CRASH_WRITE_HELD,	/* the write sent, no answer yet */
	CRASH_BEFORE_SEND,	/* intent recorded, write not yet sent */
	CRASH_AFTER_ANSWER,	/* the directory said ok; nothing recorded yet */
	CRASH_DONE_RECORDED,	/* "done" recorded, the answer not written */
};

static struct store *crash_store;

static void
die_at_write(enum fake_kind k, const char *dn)
{
	(void)k;
	(void)dn;
	_exit(0);
}

/* The engine has taken the directory's ok; its record of it waits for the
 * group commit at the end of this turn, which never comes. */
static void
die_after_answer(enum fake_kind k, const struct dir_result *res)
{
	json_t *in = store_get(crash_store, STORE_INTENTS, "reset-1");

	(void)k;
	REQUIRE(res->reason == DIR_OK);
	REQUIRE(in != NULL);
	REQUIRE(strcmp(fx_str(in, "state"), "writing") == 0);
	_exit(0);
}

/* The child: a verified ticket, the reset submitted, death at the step. */
static void
crash_child(struct fx *f, enum crash_at at)
{
	char ticket[33];

	fx_in_child = true;
	fx_open(f);
	crash_store = f->st;
	fx_verified_ticket(f, "alice", ALICE_MAIL, ticket);
	switch (at) {
	case CRASH_WRITE_HELD:
		fakedir_script(FAKE_RESET, (struct fake_script){ .mode = FAKE_HOLD });
		break;
	case CRASH_BEFORE_SEND:
		fakedir_write_hook = die_at_write;
		break;
	case CRASH_AFTER_ANSWER:
		fakedir_answered_hook = die_after_answer;
		break;
	case CRASH_DONE_RECORDED:
		break;
	}
	fx_submit(f, "reset-1", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"%s\"}", ticket, NEW_PW);
	for (unsigned i = 0; i < 20000; i++) {
		json_t *in;

		fx_turn(f);
		REQUIRE(!fx_answered(f, "reset-1"));
		if (at == CRASH_WRITE_HELD && fakedir_held() == 1)
			_exit(0);
		if (at == CRASH_DONE_RECORDED &&
		    (in = store_get(f->st, STORE_INTENTS, "reset-1")) != NULL) {
			if (strcmp(fx_str(in, "state"), "done") == 0)
				_exit(0);
			json_decref(in);
		}
	}
	_exit(98);
}

/*
 * Run the flow in a child that dies at the step; then, in this process,
 * the directory as the crash left it (applied: the new password, the stamp
 * moved unless frozen), and the daemon started again on the same queue
 * and store. Returns the resumed request's answer.
 */
static json_t *
crash_and_resume(struct fx *f, enum crash_at at, bool applied, bool frozen)
{
	struct fake_user *u;
	pid_t pid;
	int status;
	json_t *a, *in;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	fx_init(f);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(f, at);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* What the directory holds after the crash. */
	u = fakedir_find("alice");
	u->stamp_frozen = frozen;
	if (applied) {
		snprintf(u->password, sizeof(u->password), "%s", NEW_PW);
		if (!frozen)
			u->stamp++;
	}
	memset(&fakedir_counts, 0, sizeof(fakedir_counts));

	fx_open(f);
	a = fx_wait(f, "reset-1");
	/* The intent goes once the answer is durable. */
	for (unsigned i = 0; i < 100 &&
	    (in = store_get(f->st, STORE_INTENTS, "reset-1")) != NULL; i++) {
		json_decref(in);
		fx_turn(f);
	}
	in = store_get(f->st, STORE_INTENTS, "reset-1");
	assert_null(in);
	return a;
}

static void
expect_resumed(json_t *a, unsigned writes)
{
	assert_string_equal(fx_outcome(a), "ok");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], writes);
	assert_string_equal(fakedir_find("alice")->password, NEW_PW);
}

static void
test_crash_write_held_applied(void **state)
{
	struct fx *f = *state;

	expect_resumed(crash_and_resume(f, CRASH_WRITE_HELD, true, false), 0);
	assert_int_equal(fakedir_counts.applied, 0);
}

static void
test_crash_write_held_not_applied(void **state)
{
	struct fx *f = *state;

	expect_resumed(crash_and_resume(f, CRASH_WRITE_HELD, false, false), 1);
	assert_int_equal(fakedir_counts.applied, 1);
}

/* OpenLDAP: a write in the same second leaves the stamp as it was; a bind
 * with the new password decides. */
static void
test_crash_openldap_frozen_applied(void **state)
{
	struct fx *f = *state;

	f->dirtype = "openldap";
	expect_resumed(crash_and_resume(f, CRASH_WRITE_HELD, true, true), 0);
	assert_true(fakedir_counts.ops[FAKE_CHECK] >= 1);
}

static void
test_crash_openldap_frozen_not_applied(void **state)
{
	struct fx *f = *state;

	f->dirtype = "openldap";
	expect_resumed(crash_and_resume(f, CRASH_WRITE_HELD, false, true), 1);
	assert_true(fakedir_counts.ops[FAKE_CHECK] >= 1);
	assert_int_equal(fakedir_counts.applied, 1);
}

static void
test_crash_before_send(void **state)
{
	struct fx *f = *state;

	expect_resumed(crash_and_resume(f, CRASH_BEFORE_SEND, false, false), 1);
}

static void
test_crash_after_answer(void **state)
{
	struct fx *f = *state;

	expect_resumed(crash_and_resume(f, CRASH_AFTER_ANSWER, true, false), 0);
}

/* "done" is recorded: answered from the record, without asking the
 * directory anything. */
static void
test_crash_done_recorded(void **state)
{
	struct fx *f = *state;

	expect_resumed(crash_and_resume(f, CRASH_DONE_RECORDED, true, false), 0);
	assert_int_equal(fakedir_counts.ops[FAKE_CHECK], 0);
}

/* --- 5. two resets racing on one ticket ------------------------------------------- */

static void
race(struct fx *f, double write_delay)
{
	char ticket[33];
	json_t *a1, *a2;
	const char *o1, *o2;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, NULL);
	fx_verified_ticket(f, "alice", ALICE_MAIL, ticket);
	fakedir_set_delay(write_delay);
	fx_submit(f, "r1", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"First-Racer-Pass-1\"}", ticket);
	fx_submit(f, "r2", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"Second-Racer-Pass-2\"}", ticket);
	a1 = fx_wait(f, "r1");
	a2 = fx_wait(f, "r2");
	o1 = fx_outcome(a1);
	o2 = fx_outcome(a2);
	if (!((strcmp(o1, "ok") == 0 && strcmp(o2, "expired") == 0) ||
	    (strcmp(o2, "ok") == 0 && strcmp(o1, "expired") == 0)))
		fail_msg("want one ok and one expired; got %s and %s", o1, o2);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 1);
	assert_int_equal(fakedir_counts.applied, 1);
	assert_string_equal(fakedir_find("alice")->password,
	    strcmp(o1, "ok") == 0 ? "First-Racer-Pass-1" : "Second-Racer-Pass-2");
	assert_null(store_get(f->st, STORE_TICKETS, ticket));
	json_decref(a1);
	json_decref(a2);
}

static void
test_race_two_resets(void **state)
{
	race(*state, 0);
}

static void
test_race_two_resets_slow_write(void **state)
{
	race(*state, 0.2);
}

/* --- 6. a write whose answer was lost ------------------------------------------------ */

static json_t *
reset_with(struct fx *f, struct fake_script s, char ticket[33])
{
	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, NULL);
	fx_verified_ticket(f, "alice", ALICE_MAIL, ticket);
	fakedir_script(FAKE_RESET, s);
	fx_submit(f, "lost", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"%s\"}", ticket, NEW_PW);
	return fx_wait(f, "lost");
}

static void
expect_spent(struct fx *f, const char *ticket)
{
	json_t *a;

	fx_submit(f, "again", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"Another-Pass-99\"}", ticket);
	a = fx_wait(f, "again");
	assert_string_equal(fx_outcome(a), "expired");
	json_decref(a);
}

/* Applied, the answer lost: settled from the stamp, ok, not written
 * again, the ticket spent. */
static void
test_lost_answer_applied(void **state)
{
	struct fx *f = *state;
	char ticket[33];
	json_t *a = reset_with(f, (struct fake_script){ .mode = FAKE_LOST },
	    ticket);

	assert_string_equal(fx_outcome(a), "ok");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 1);
	assert_int_equal(fakedir_counts.applied, 1);
	assert_string_equal(fakedir_find("alice")->password, NEW_PW);
	assert_null(store_get(f->st, STORE_INTENTS, "lost"));
	expect_spent(f, ticket);
}

/* Not applied, though it may have been: settled, then written once. */
static void
test_lost_answer_not_applied(void **state)
{
	struct fx *f = *state;
	char ticket[33];
	json_t *a;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, NULL);
	fx_verified_ticket(f, "alice", ALICE_MAIL, ticket);
	fakedir_script(FAKE_RESET, (struct fake_script){ .mode = FAKE_HOLD });
	fx_submit(f, "lost", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"%s\"}", ticket, NEW_PW);
	for (unsigned i = 0; i < 20000 && fakedir_held() == 0; i++)
		fx_turn(f);
	assert_int_equal(fakedir_held(), 1);
	fakedir_release(false, DIR_UNAVAILABLE, true);
	a = fx_wait(f, "lost");
	assert_string_equal(fx_outcome(a), "ok");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 2);
	assert_int_equal(fakedir_counts.applied, 1);
	assert_string_equal(fakedir_find("alice")->password, NEW_PW);
	expect_spent(f, ticket);
}

/* A lost answer and no directory to settle it with: not ok, not
 * written again, and the ticket not spent (the intent is kept). */
static void
test_lost_answer_unsettled(void **state)
{
	struct fx *f = *state;
	char ticket[33];
	json_t *a, *in;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, NULL);
	fx_verified_ticket(f, "alice", ALICE_MAIL, ticket);
	fakedir_script(FAKE_LOOKUP, (struct fake_script){ 0 });	/* reset's */
	fakedir_script(FAKE_LOOKUP, (struct fake_script){ .mode = FAKE_FAIL,
	    .reason = DIR_UNAVAILABLE });			/* settling */
	fakedir_script(FAKE_RESET, (struct fake_script){ .mode = FAKE_LOST });
	fx_submit(f, "lost", "{\"v\":1,\"op\":\"reset\",\"ticket\":\"%s\","
	    "\"new_password\":\"%s\"}", ticket, NEW_PW);
	a = fx_wait(f, "lost");
	assert_string_equal(fx_outcome(a), "directory-unavailable");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_RESET], 1);
	in = store_get(f->st, STORE_INTENTS, "lost");
	assert_non_null(in);
	json_decref(in);
}

/* change: the same settling. */
static void
test_lost_change_applied(void **state)
{
	struct fx *f = *state;
	json_t *a;

	fakedir_add("alice", ALICE_DN, ALICE_MAIL, OLD_PW);
	init_open(f, NULL);
	fakedir_script(FAKE_CHANGE, (struct fake_script){ .mode = FAKE_LOST });
	fx_submit(f, "ch", "{\"v\":1,\"op\":\"change\",\"user\":\"alice\","
	    "\"old_password\":\"%s\",\"new_password\":\"%s\"}", OLD_PW, NEW_PW);
	a = fx_wait(f, "ch");
	assert_string_equal(fx_outcome(a), "ok");
	json_decref(a);
	assert_int_equal(fakedir_counts.ops[FAKE_CHANGE], 1);
	assert_int_equal(fakedir_counts.applied, 1);
	assert_null(store_get(f->st, STORE_INTENTS, "ch"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_start_decoy_shapes),
		T(test_lockout_across_tickets),
		T(test_lockout_parallel_tickets),
		T(test_register_throttled_first),
		T(test_group_commit_order),
		T(test_crash_write_held_applied),
		T(test_crash_write_held_not_applied),
		T(test_crash_openldap_frozen_applied),
		T(test_crash_openldap_frozen_not_applied),
		T(test_crash_before_send),
		T(test_crash_after_answer),
		T(test_crash_done_recorded),
		T(test_race_two_resets),
		T(test_race_two_resets_slow_write),
		T(test_lost_answer_applied),
		T(test_lost_answer_not_applied),
		T(test_lost_answer_unsettled),
		T(test_lost_change_applied),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
