/*
 * questions.h - security questions: what is stored, and checking answers.
 *
 * The directory holds, in [questions] attribute, one value: compact JSON
 * {"v":1,"q":[{"q":"question text","h":"$argon2id$..."}, ...]}. Only
 * argon2id hashes of answers are kept (libsodium crypto_pwhash_str,
 * interactive limits), never answers. Answers are normalised before hashing
 * and before checking: surrounding white space trimmed, inner runs of white
 * space made one space, ASCII letters folded to lower case (other characters
 * compared as typed), so "  Fluffy   the Cat " matches "fluffy the cat".
 *
 * Hashing and checking cost tens of milliseconds of CPU and memory each, so
 * they run on a small pool of worker threads, never on the event loop; the
 * result comes back through the event loop. A check of several answers
 * always checks every one of them and says only whether all matched.
 */
#ifndef SSPRD_QUESTIONS_H
#define SSPRD_QUESTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#define QUESTIONS_MAX 10

struct question_set {
	size_t n;
	char *question[QUESTIONS_MAX];
	char *hash[QUESTIONS_MAX];	/* crypto_pwhash_str() strings */
};

/* Parse an attribute value; 0, or -1 when it is not ours. */
int questions_parse(const char *value, struct question_set *qs);
/* The attribute value for qs (caller frees), or NULL when qs is empty. */
char *questions_format(const struct question_set *qs);
void questions_clear(struct question_set *qs);

struct qworkers;

/* threads: how many hashes may run at once (2 is plenty). The event loop
 * must be thread-aware (dir_init() before event_base_new()). */
struct qworkers *questions_workers_new(struct event_base *base, unsigned threads);
/* Waits for hashes in progress, then frees; their callbacks are not called. */
void questions_workers_free(struct qworkers *w);

/* Hash n answers (normalised first); cb gets n hash strings (owned by the
 * callee only for the call) or NULL on failure. The answers are copied
 * into secret memory and wiped. */
typedef void questions_hashed_fn(char **hashes, size_t n, void *arg);
void questions_hash(struct qworkers *w, const char *const *answers, size_t n,
    questions_hashed_fn *cb, void *arg);

/* Check n answers against n hashes; cb(true) only when every one matches.
 * n == 0, or an answer empty once normalised, is never a match (and such an
 * answer is never hashed either: the hash job fails). */
typedef void questions_checked_fn(bool all_match, void *arg);
void questions_check(struct qworkers *w, const char *const *hashes,
    const char *const *answers, size_t n, questions_checked_fn *cb, void *arg);

/* Normalise an answer as described above into out (size >= len + 1). */
void questions_normalise(const char *in, size_t len, char *out);

/* Jobs queued or running (for tests and status). */
unsigned questions_busy(const struct qworkers *w);

#endif
