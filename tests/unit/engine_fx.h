/*
 * engine_fx.h - what the engine's unit tests share: a temporary queue,
 * state store and mail folder, a configuration loaded from a temporary INI,
 * the engine on a real event loop with the scripted directory of fakedir.h,
 * and helpers that submit requests as a front end does and wait for the
 * answers by turns of the loop (never by the clock).
 *
 * Only the daemon's public headers are used: the tests must hold whatever
 * the engine's internals become.
 */
#ifndef SSPRD_ENGINE_FX_H
#define SSPRD_ENGINE_FX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "daemon/engine.h"
#include "daemon/notify.h"
#include "daemon/spool.h"
#include "daemon/store.h"

struct fx {
	char root[PATH_MAX];		/* everything below is in here */
	char q[PATH_MAX + 16];		/* queue_dir */
	char state[PATH_MAX + 16];	/* state_dir */
	char mail[PATH_MAX + 16];	/* the mail command's messages */
	char ini[PATH_MAX + 16];
	char extra[1024];		/* more INI lines, [policy] first */
	const char *dirtype;		/* "ad" (default) or "openldap" */
	const char *methods;		/* [policy] methods; NULL: email */
	struct event_base *base;
	struct config *cfg;
	struct store *st;
	struct notifier *n;
	struct engine *e;
	struct spool *sp;
	unsigned answered;		/* hooks.answered calls */
	unsigned begun, ended;		/* hooks.work_begin / work_end */
};

/* In a forked child, a failed check ends the child (status 99) instead of
 * jumping back into cmocka. */
extern bool fx_in_child;
void fx_fail(const char *file, int line, const char *what);
#define REQUIRE(x) do { if (!(x)) fx_fail(__FILE__, __LINE__, #x); } while (0)

/* A temporary root with the INI (policy lines from f->extra); then
 * fx_open() opens the store, the spool and the engine; fx_close() closes
 * them (requests not answered stay in cur/), fx_destroy() removes root. */
void fx_init(struct fx *f);
void fx_open(struct fx *f);
void fx_close(struct fx *f);
void fx_destroy(struct fx *f);

/* Write new/ID.json as a front end does (tmp/, 0640, rename). */
void fx_submit(struct fx *f, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Does out/ID.json exist? */
bool fx_answered(struct fx *f, const char *id);
/* out/ID.json parsed and removed; NULL if absent. */
json_t *fx_take(struct fx *f, const char *id);
/* Turn the loop until out/ID.json is there (at most a generous number of
 * turns), then take it. */
json_t *fx_wait(struct fx *f, const char *id);
/* One turn of the loop. */
void fx_turn(struct fx *f);

/* Answer fields. */
const char *fx_str(const json_t *a, const char *key);
/* status "ok", or the reason. */
const char *fx_outcome(const json_t *a);

/* Messages the mail command received, and the code in the one to addr
 * (removed once read); "" when none. */
unsigned fx_mails(struct fx *f);
void fx_code_for(struct fx *f, const char *addr, char code[16]);

/* start (email) for user; the answer. ticket may be NULL. */
json_t *fx_start(struct fx *f, const char *id, const char *user,
    const char *ticket);
/* start + the code sent + verify: a verified ticket (a real user with a
 * mail address). */
void fx_verified_ticket(struct fx *f, const char *user, const char *mail,
    char ticket[33]);

#endif
