/*
 * test_questions.c - security questions: the stored form (round trip and
 * every kind of refusal), normalising answers, argon2id hashes and checks
 * through the worker pool, a loop that keeps running while hashes are
 * computed, shutdown with jobs queued, and many jobs at once.
 *
 * Hashes really are computed (interactive limits: tens of milliseconds and
 * 64 MiB each), so the answers used by most cases are hashed once, in the
 * group setup.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>

#include "daemon/questions.h"

#define WAIT_LIMIT 60		/* seconds: only against a hang */

static struct event_base *base;

/* Three answers, hashed once in the group setup. */
static const char *const answers3[] = { "Fluffy the Cat", "Paris", "blue" };
static char *hashes3[3];
static double hash_ms;		/* one hash, measured in the setup */

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- waiting on the loop ------------------------------------------------- */

static bool timed_out;

static void
on_wait_limit(evutil_socket_t fd, short what, void *arg)
{
	timed_out = true;
}

/* Run the loop until w has no job left whose callback is pending. */
static void
run_until_idle(struct qworkers *w)
{
	struct timeval tv = { .tv_sec = WAIT_LIMIT };
	struct event *limit = evtimer_new(base, on_wait_limit, NULL);

	timed_out = false;
	evtimer_add(limit, &tv);
	while (questions_busy(w) > 0 && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(limit);
	assert_false(timed_out);
}

/* --- callbacks ----------------------------------------------------------- */

struct hashed {
	int calls;
	bool failed;
	size_t n;
	char *hash[QUESTIONS_MAX];
};

static void
on_hashed(char **hashes, size_t n, void *arg)
{
	struct hashed *h = arg;

	h->calls++;
	h->n = n;
	h->failed = (hashes == NULL);
	/* The strings are ours only for the call. */
	for (size_t i = 0; hashes != NULL && i < n; i++)
		h->hash[i] = strdup(hashes[i]);
}

static void
hashed_clear(struct hashed *h)
{
	for (size_t i = 0; i < QUESTIONS_MAX; i++)
		free(h->hash[i]);
	memset(h, 0, sizeof(*h));
}

struct checked {
	int calls;
	bool all_match;
};

static void
on_checked(bool all_match, void *arg)
{
	struct checked *c = arg;

	c->calls++;
	c->all_match = all_match;
}

/* Check answers against hashes3 and return the verdict. */
static bool
check3(const char *a, const char *b, const char *c)
{
	struct qworkers *w = questions_workers_new(base, 2);
	const char *const given[] = { a, b, c };
	struct checked res = { 0 };

	questions_check(w, (const char *const *)hashes3, given, 3, on_checked,
	    &res);
	/* Never from inside questions_check(). */
	assert_int_equal(res.calls, 0);
	run_until_idle(w);
	assert_int_equal(res.calls, 1);
	questions_workers_free(w);
	return res.all_match;
}

/* --- setup --------------------------------------------------------------- */

static int
group_setup(void **state)
{
	struct qworkers *w;
	struct hashed h = { 0 };
	double t0;

	if (sodium_init() < 0)
		return -1;
	/* As dir_init() does in the daemon: before the base. */
	if (evthread_use_pthreads() != 0)
		return -1;
	if ((base = event_base_new()) == NULL)
		return -1;

	w = questions_workers_new(base, 1);
	t0 = now_mono();
	questions_hash(w, answers3, 3, on_hashed, &h);
	run_until_idle(w);
	questions_workers_free(w);
	if (h.calls != 1 || h.failed || h.n != 3)
		return -1;
	hash_ms = (now_mono() - t0) * 1000 / 3;
	printf("# one argon2id hash (interactive limits) takes %.0f ms here\n",
	    hash_ms);
	for (size_t i = 0; i < 3; i++) {
		hashes3[i] = h.hash[i];
		h.hash[i] = NULL;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	for (size_t i = 0; i < 3; i++)
		free(hashes3[i]);
	event_base_free(base);
	return 0;
}

/* --- the stored form ----------------------------------------------------- */

#define H1 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
#define H2 "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0b3RoZXJzYQ$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNob3RoZXI"

static void
assert_empty(const struct question_set *qs)
{
	assert_int_equal(qs->n, 0);
	for (size_t i = 0; i < QUESTIONS_MAX; i++) {
		assert_null(qs->question[i]);
		assert_null(qs->hash[i]);
	}
}

static void
test_parse_format_round_trip(void **state)
{
	const char *value = "{\"v\":1,\"q\":["
	    "{\"q\":\"Name of your first pet?\",\"h\":\"" H1 "\"},"
	    "{\"q\":\"Stadt, in der Sie geboren wurden? \xc3\x84\",\"h\":\""
	    H2 "\"}]}";
	struct question_set qs, again;
	char *out;

	assert_int_equal(questions_parse(value, &qs), 0);
	assert_int_equal(qs.n, 2);
	assert_string_equal(qs.question[0], "Name of your first pet?");
	assert_string_equal(qs.hash[0], H1);
	assert_string_equal(qs.question[1],
	    "Stadt, in der Sie geboren wurden? \xc3\x84");
	assert_string_equal(qs.hash[1], H2);

	out = questions_format(&qs);
	assert_non_null(out);
	assert_string_equal(out, value);
	assert_int_equal(questions_parse(out, &again), 0);
	assert_int_equal(again.n, 2);
	assert_string_equal(again.question[1], qs.question[1]);
	free(out);
	questions_clear(&again);

	/* Key order and spacing in the input do not matter. */
	questions_clear(&qs);
	assert_int_equal(questions_parse("{ \"q\" : [ { \"h\" : \"" H1 "\" , "
	    "\"q\" : \"x\" } ] , \"v\" : 1 }", &qs), 0);
	assert_int_equal(qs.n, 1);
	out = questions_format(&qs);
	assert_string_equal(out, "{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1
	    "\"}]}");
	free(out);
	questions_clear(&qs);
	assert_empty(&qs);

	/* Nothing to store. */
	assert_null(questions_format(&qs));
}

static void
test_format_refuses_what_parse_would(void **state)
{
	struct question_set qs = { 0 };

	qs.n = 1;
	qs.question[0] = "q";
	qs.hash[0] = "$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA";
	assert_null(questions_format(&qs));
	qs.hash[0] = H1;
	qs.question[0] = "";
	assert_null(questions_format(&qs));
	qs.question[0] = "not UTF-8 \xff";
	assert_null(questions_format(&qs));
	qs.question[0] = "fine";
	assert_non_null(qs.hash[0]);
	{
		char *out = questions_format(&qs);

		assert_non_null(out);
		free(out);
	}
}

static void
test_parse_rejects(void **state)
{
	char big[2048], item[600], longq[300], longh[300];
	struct question_set qs;
	size_t off;
	static const char *const bad[] = {
		NULL,
		"",
		"not JSON",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]",
		"[1]",
		"\"" H1 "\"",
		/* version */
		"{\"v\":2,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		"{\"v\":\"1\",\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		"{\"v\":1.0,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		"{\"v\":0,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		/* missing fields */
		"{\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		"{\"v\":1}",
		"{\"v\":1,\"q\":[{\"q\":\"x\"}]}",
		"{\"v\":1,\"q\":[{\"h\":\"" H1 "\"}]}",
		"{}",
		/* extra fields */
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}],\"x\":0}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\",\"a\":\"y\"}]}",
		/* duplicate keys: two readers could see two sets */
		"{\"v\":1,\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"}]}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"q\":\"y\",\"h\":\"" H1 "\"}]}",
		/* wrong types */
		"{\"v\":1,\"q\":{\"q\":\"x\",\"h\":\"" H1 "\"}}",
		"{\"v\":1,\"q\":[\"x\"]}",
		"{\"v\":1,\"q\":[{\"q\":1,\"h\":\"" H1 "\"}]}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":null}]}",
		/* empty list, empty question */
		"{\"v\":1,\"q\":[]}",
		"{\"v\":1,\"q\":[{\"q\":\"\",\"h\":\"" H1 "\"}]}",
		/* not argon2id */
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"$argon2i$v=19$m=4096,t=3,"
		    "p=1$c2FsdA$aGFzaA\"}]}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"$2y$10$abcdefghijklmnopqrstu"
		    "vabcdefghijklmnopqrstuvwxyz012\"}]}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"Fluffy\"}]}",
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"\"}]}",
		/* a NUL inside a string */
		"{\"v\":1,\"q\":[{\"q\":\"x\\u0000y\",\"h\":\"" H1 "\"}]}",
		/* a good set followed by a bad one: none of it kept */
		"{\"v\":1,\"q\":[{\"q\":\"x\",\"h\":\"" H1 "\"},"
		    "{\"q\":\"y\",\"h\":\"nope\"}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		qs.n = 99;	/* must be reset */
		if (questions_parse(bad[i], &qs) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_empty(&qs);
	}

	/* QUESTIONS_MAX is fine, one more is not. */
	snprintf(item, sizeof(item), "{\"q\":\"x\",\"h\":\"%s\"}", H1);
	for (int count = QUESTIONS_MAX; count <= QUESTIONS_MAX + 1; count++) {
		off = (size_t)snprintf(big, sizeof(big), "{\"v\":1,\"q\":[");
		for (int i = 0; i < count; i++)
			off += (size_t)snprintf(big + off, sizeof(big) - off,
			    "%s%s", i ? "," : "", item);
		snprintf(big + off, sizeof(big) - off, "]}");
		assert_true(off < sizeof(big) - 3);
		if (count == QUESTIONS_MAX) {
			assert_int_equal(questions_parse(big, &qs), 0);
			assert_int_equal(qs.n, QUESTIONS_MAX);
			questions_clear(&qs);
		} else {
			assert_int_equal(questions_parse(big, &qs), -1);
			assert_empty(&qs);
		}
	}

	/* 256 bytes of question or hash are fine, 257 are not. */
	for (size_t len = 256; len <= 257; len++) {
		memset(longq, 'q', len);
		longq[len] = '\0';
		memcpy(longh, H1, strlen(H1));
		memset(longh + strlen(H1), 'h', len - strlen(H1));
		longh[len] = '\0';

		snprintf(big, sizeof(big), "{\"v\":1,\"q\":[{\"q\":\"%s\","
		    "\"h\":\"%s\"}]}", longq, H1);
		assert_int_equal(questions_parse(big, &qs), len == 256 ? 0 : -1);
		questions_clear(&qs);
		snprintf(big, sizeof(big), "{\"v\":1,\"q\":[{\"q\":\"x\","
		    "\"h\":\"%s\"}]}", longh);
		assert_int_equal(questions_parse(big, &qs), len == 256 ? 0 : -1);
		questions_clear(&qs);
	}
}

/* --- normalising --------------------------------------------------------- */

/* in normalised, in a buffer of exactly the documented size. */
static char *
norm(const char *in, size_t len)
{
	char *out = malloc(len + 1);

	memset(out, 'X', len + 1);
	questions_normalise(in, len, out);
	return out;
}

static void
assert_norm(const char *in, const char *want)
{
	char *out = norm(in, strlen(in));

	if (strcmp(out, want) != 0)
		fail_msg("normalise(\"%s\") = \"%s\", want \"%s\"", in, out,
		    want);
	free(out);
}

static void
test_normalise(void **state)
{
	char *out;

	/* trimming, inner runs */
	assert_norm("  Fluffy   the Cat ", "fluffy the cat");
	assert_norm("fluffy the cat", "fluffy the cat");
	assert_norm("a", "a");
	assert_norm("", "");
	assert_norm("   ", "");
	assert_norm(" \t\r\n", "");
	/* tabs, CR, LF */
	assert_norm("a\tb", "a b");
	assert_norm("a\r\nb", "a b");
	assert_norm("\nline one\n\tline two\r\n", "line one line two");
	/* U+00A0, alone and mixed with ASCII white space */
	assert_norm("\xc2\xa0x\xc2\xa0\xc2\xa0y\xc2\xa0", "x y");
	assert_norm("a \xc2\xa0\tb", "a b");
	assert_norm("\xc2\xa0", "");
	/* ASCII folded, the rest byte for byte */
	assert_norm("\xc3\x84" "BC", "\xc3\x84" "bc");
	assert_norm("\xc3\xa4" "bc", "\xc3\xa4" "bc");
	assert_norm("\xc3\x89" "COLE", "\xc3\x89" "cole");
	assert_norm("ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{", "abcdefghijklmnopqrstuvwxyz@[`{");
	assert_norm("MIXED case 123!", "mixed case 123!");
	/* other white space is not ours to fold: U+2003, vertical tab */
	assert_norm("a\xe2\x80\x83" "b", "a\xe2\x80\x83" "b");
	assert_norm("a\vb", "a\vb");
	/* a lead byte 0xc2 not followed by 0xa0 stays as it was */
	assert_norm("\xc2" "A", "\xc2" "a");
	assert_norm("x\xc2", "x\xc2");

	/* len is honoured: bytes after it are not read */
	out = norm("  AB  CD", 5);
	assert_string_equal(out, "ab");
	free(out);
}

/* --- hashing and checking ------------------------------------------------ */

static void
test_hashes_are_argon2id(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		assert_non_null(hashes3[i]);
		assert_memory_equal(hashes3[i], "$argon2id$", 10);
		/* and they verify what was normalised */
		assert_int_equal(crypto_pwhash_str_verify(hashes3[i],
		    i == 0 ? "fluffy the cat" : i == 1 ? "paris" : "blue",
		    strlen(i == 0 ? "fluffy the cat" : i == 1 ? "paris" :
		    "blue")), 0);
	}
}

static void
test_check_right_answers(void **state)
{
	assert_true(check3("Fluffy the Cat", "Paris", "blue"));
	assert_true(check3("  fluffy   THE cat\n", "PARIS", "\tBlue\xc2\xa0"));
}

static void
test_check_one_wrong(void **state)
{
	assert_false(check3("Fluffy the Cat", "London", "blue"));
	assert_false(check3("Rex", "Paris", "blue"));
	assert_false(check3("Fluffy the Cat", "Paris", "bleu"));
	assert_false(check3("Fluffy theCat", "Paris", "blue"));
	/* answers in the wrong order */
	assert_false(check3("Paris", "Fluffy the Cat", "blue"));
	/* an empty answer never matches */
	assert_false(check3("Fluffy the Cat", "   ", "blue"));
}

static void
test_check_edge_cases(void **state)
{
	struct qworkers *w = questions_workers_new(base, 2);
	const char *const one[] = { "Paris" };
	const char *const garbage[] = { "$argon2id$nonsense" };
	struct checked none = { 0 }, bad = { 0 }, good = { 0 };

	/* Nothing to check is not a match. */
	questions_check(w, NULL, NULL, 0, on_checked, &none);
	questions_check(w, garbage, one, 1, on_checked, &bad);
	questions_check(w, (const char *const *)&hashes3[1], one, 1,
	    on_checked, &good);
	run_until_idle(w);
	assert_int_equal(none.calls, 1);
	assert_false(none.all_match);
	assert_int_equal(bad.calls, 1);
	assert_false(bad.all_match);
	assert_int_equal(good.calls, 1);
	assert_true(good.all_match);
	questions_workers_free(w);
}

static void
test_hash_failures(void **state)
{
	struct qworkers *w = questions_workers_new(base, 1);
	const char *const eleven[QUESTIONS_MAX + 1] = { "a", "b", "c", "d",
	    "e", "f", "g", "h", "i", "j", "k" };
	const char *const blank[] = { "x", " \t" };
	struct hashed zero = { 0 }, many = { 0 }, empty = { 0 };

	questions_hash(w, NULL, 0, on_hashed, &zero);
	questions_hash(w, eleven, QUESTIONS_MAX + 1, on_hashed, &many);
	questions_hash(w, blank, 2, on_hashed, &empty);
	assert_int_equal(zero.calls + many.calls + empty.calls, 0);
	run_until_idle(w);
	assert_int_equal(zero.calls, 1);
	assert_true(zero.failed);
	assert_int_equal(many.calls, 1);
	assert_true(many.failed);
	assert_int_equal(many.n, QUESTIONS_MAX + 1);
	assert_int_equal(empty.calls, 1);
	assert_true(empty.failed);
	questions_workers_free(w);
}

static void
test_two_hashes_differ(void **state)
{
	struct qworkers *w = questions_workers_new(base, 2);
	const char *const same[] = { "Paris", "Paris" };
	struct hashed h = { 0 };

	questions_hash(w, same, 2, on_hashed, &h);
	run_until_idle(w);
	assert_int_equal(h.calls, 1);
	assert_false(h.failed);
	assert_int_equal(h.n, 2);
	assert_memory_equal(h.hash[0], "$argon2id$", 10);
	assert_memory_equal(h.hash[1], "$argon2id$", 10);
	/* A salt of its own each time. */
	assert_string_not_equal(h.hash[0], h.hash[1]);
	assert_string_not_equal(h.hash[0], hashes3[1]);
	assert_int_equal(crypto_pwhash_str_verify(h.hash[0], "paris", 5), 0);
	assert_int_equal(crypto_pwhash_str_verify(h.hash[1], "paris", 5), 0);
	hashed_clear(&h);
	questions_workers_free(w);
}

/* Hash, store, read back, check: the whole enrolment and proof. */
static void
test_enrol_then_prove(void **state)
{
	struct qworkers *w = questions_workers_new(base, 2);
	const char *const given[] = { "Blue  Whale", "1984" };
	const char *const typed[] = { "blue whale ", " 1984" };
	struct question_set qs = { 0 }, back;
	struct hashed h = { 0 };
	struct checked c = { 0 };
	char *value;

	questions_hash(w, given, 2, on_hashed, &h);
	run_until_idle(w);
	assert_false(h.failed);
	qs.n = 2;
	qs.question[0] = strdup("Favourite animal?");
	qs.question[1] = strdup("A year?");
	qs.hash[0] = h.hash[0];
	qs.hash[1] = h.hash[1];
	h.hash[0] = h.hash[1] = NULL;
	value = questions_format(&qs);
	assert_non_null(value);
	assert_int_equal(questions_parse(value, &back), 0);
	questions_check(w, (const char *const *)back.hash, typed, back.n,
	    on_checked, &c);
	run_until_idle(w);
	assert_int_equal(c.calls, 1);
	assert_true(c.all_match);
	free(value);
	questions_clear(&qs);
	questions_clear(&back);
	questions_workers_free(w);
}

/* --- the loop and the pool ----------------------------------------------- */

static unsigned ticks;

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
}

static void
test_loop_stays_responsive(void **state)
{
	struct qworkers *w = questions_workers_new(base, 2);
	struct timeval every = { .tv_usec = 10000 };
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	const char *const one[] = { "answer" };
	struct hashed h[4];
	double t0;

	memset(h, 0, sizeof(h));
	ticks = 0;
	event_add(tick, &every);
	t0 = now_mono();
	for (size_t i = 0; i < 4; i++)
		questions_hash(w, one, 1, on_hashed, &h[i]);
	assert_int_equal(questions_busy(w), 4);
	run_until_idle(w);
	event_free(tick);
	printf("# 4 hashes on 2 threads: %.0f ms, %u ticks of 10 ms meanwhile\n",
	    (now_mono() - t0) * 1000, ticks);
	/* Not a speed test: only that the loop was not blocked. */
	assert_true(ticks >= 3);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(h[i].calls, 1);
		assert_false(h[i].failed);
		hashed_clear(&h[i]);
	}
	assert_int_equal(questions_busy(w), 0);
	questions_workers_free(w);
}

static void
test_free_with_jobs_queued(void **state)
{
	struct qworkers *w = questions_workers_new(base, 1);
	const char *const one[] = { "answer" };
	struct hashed h[6];
	struct checked c[6];

	memset(h, 0, sizeof(h));
	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < 6; i++) {
		questions_hash(w, one, 1, on_hashed, &h[i]);
		questions_check(w, (const char *const *)hashes3, answers3, 3,
		    on_checked, &c[i]);
	}
	assert_int_equal(questions_busy(w), 12);
	questions_workers_free(w);
	/* Whatever was running or done, nothing is delivered now or
	 * later: the jobs' events went with them. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(h[i].calls, 0);
		assert_int_equal(c[i].calls, 0);
	}

	/* And when a job has finished but its event has not run yet. */
	w = questions_workers_new(base, 1);
	questions_hash(w, one, 1, on_hashed, &h[0]);
	{
		/* Without running the loop, give the job ample time to
		 * finish (if it has not, the free waits for it: the case
		 * above). */
		double ms = hash_ms * 5 + 200;
		struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
		    .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000)
		    * 1e6) };

		nanosleep(&ts, NULL);
	}
	questions_workers_free(w);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(h[0].calls, 0);
}

#define MANY 20

static void
test_many_concurrent(void **state)
{
	struct qworkers *w = questions_workers_new(base, 4);
	struct checked c[MANY];
	static const char *const wrong[] = { "Fluffy the Cat", "Paris", "red" };
	const char *const *given;

	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < MANY; i++) {
		/* Every third one wrong, the rest right. */
		given = (i % 3 == 1) ? wrong : answers3;
		questions_check(w, (const char *const *)hashes3, given, 3,
		    on_checked, &c[i]);
	}
	assert_int_equal(questions_busy(w), MANY);
	run_until_idle(w);
	for (size_t i = 0; i < MANY; i++) {
		assert_int_equal(c[i].calls, 1);
		if (i % 3 == 1)
			assert_false(c[i].all_match);
		else
			assert_true(c[i].all_match);
	}
	questions_workers_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format_round_trip),
		cmocka_unit_test(test_format_refuses_what_parse_would),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_hashes_are_argon2id),
		cmocka_unit_test(test_check_right_answers),
		cmocka_unit_test(test_check_one_wrong),
		cmocka_unit_test(test_check_edge_cases),
		cmocka_unit_test(test_hash_failures),
		cmocka_unit_test(test_two_hashes_differ),
		cmocka_unit_test(test_enrol_then_prove),
		cmocka_unit_test(test_loop_stays_responsive),
		cmocka_unit_test(test_free_with_jobs_queued),
		cmocka_unit_test(test_many_concurrent),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
