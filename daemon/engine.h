/*
 * engine.h - the request state machine: one function per op of SPEC
 * "Requests and answers", between the spool (requests in, answers out) and
 * the directory, the store and the notifier.
 *
 * Guarantees:
 * - every request handed over by the spool gets exactly one answer, and one
 *   audit line (request ID, op, user, result, reason, client; never a
 *   password, code or answer);
 * - start answers the same way for unknown, disabled, ineligible and real
 *   users (a decoy ticket that can never verify, sent_to masked the same way,
 *   an answer delayed like a real one); the log says the truth;
 * - a password write is recorded as an intent in the store before it is
 *   sent, so a request resumed after a crash is settled from the directory
 *   (password-changed stamp, or a bind with the new password where the stamp
 *   cannot tell) and never written twice;
 * - buffers that held passwords and codes are wiped.
 */
#ifndef SSPRD_ENGINE_H
#define SSPRD_ENGINE_H

#include "config/config.h"
#include "daemon/notify.h"
#include "daemon/spool.h"
#include "daemon/store.h"

struct engine;
struct event_base;

/*
 * What the program around the engine wants to know; any member may be NULL.
 * The engine calls nothing of the program's otherwise, so it links alone
 * (the unit tests run it without ssprd's main, service or metrics).
 */
struct engine_hooks {
	void *arg;
	/* A request was claimed, and (later) its job ended: a stop waits
	 * for the work in between. */
	void (*work_begin)(void *arg);
	void (*work_end)(void *arg);
	/* An answered request: op, result ("ok" or "error"), reason ("" for
	 * ok), seconds from claim to answer. */
	void (*answered)(void *arg, const char *op, const char *result,
	    const char *reason, double seconds);
	/* A mail or SMS that could not be sent: "code", "notice" or
	 * "admin-notice". */
	void (*notify_failed)(void *arg, const char *kind);
};

/* cfg: the configuration to start with (the engine takes a reference). */
struct engine *engine_new(struct event_base *base, struct config *cfg,
    struct store *st, struct notifier *n, const struct engine_hooks *hooks);
/* The spool's callback (arg: the engine). */
void engine_request(struct spool_request *req, void *arg);
void engine_set_spool(struct engine *e, struct spool *s);
/* A new configuration: new requests use it; the directory pool is rebuilt
 * when [directory] changed (requests in flight finish on the old one). */
void engine_reconfigure(struct engine *e, struct config *cfg);
unsigned engine_active(const struct engine *e);
/* The directory pool new requests use (for metrics). */
struct dir *engine_dir(const struct engine *e);
/* From now on, requests that end are not answered but left in cur/ for the
 * next start (the stop cut them short). */
void engine_shutdown(struct engine *e);
/* Ends the directory pool (requests still in flight end through
 * engine_shutdown()'s rule); call before spool_close(). */
void engine_free(struct engine *e);

#endif
