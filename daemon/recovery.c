/*
 * recovery.c - exactly once for password writes.
 *
 * Before a write is sent, an intent (request ID, DN, the password-changed
 * stamp read just before) is recorded durably in the store; when the write
 * took effect the intent is marked done before anything else changes, and
 * removed only once the answer is durable. A request that comes back with
 * an intent (resumed after a crash, or whose answer the connection lost) is
 * settled from the directory: done intents are answered; otherwise, after
 * one directory timeout (so a write the server was still working on has
 * finished), a changed stamp means the write took effect, an unchanged one
 * that it did not, and where the stamp cannot tell (OpenLDAP's has
 * one-second resolution) a bind with the new password decides. A password
 * is never written twice. An intent also records its request file's
 * identity (inode, mtime, size): one found under the ID of a request taken
 * from new/, or recorded for another file, is the leftover of an earlier
 * request with that ID, and is dropped rather than settled (resume()). And
 * it names the request's ticket ("" for a change), which the sweep keeps
 * while the intent is there.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/engine.h"
#include "daemon/job.h"
#include "daemon/messages.h"
#include "daemon/pwpolicy.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "ldap/dir.h"

/* --- intents: a write recorded before it is sent ------------------------------ */

void
intent_put(struct job *job, const char *state, void (*then)(struct job *))
{
	/* "ticket": the sweep keeps the ticket while the intent may still
	 * need it (recheck() reads it). */
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}",
	    "op", request_op_name(job->req.op), "dn", job->who.dn,
	    "stamp", job->who.stamp, "state", state,
	    "at", (json_int_t)now_secs(), "file", job->sreq->file,
	    "ticket", job->req.ticket);
	struct store_op op = { STORE_INTENTS, job->sreq->id, j };

	job_commit(job, &op, 1, then);
	json_decref(j);
}

void
intent_done(struct job *job)
{
	store_del(job->e->store, STORE_INTENTS, job->sreq->id);
}

/*
 * The write took effect; if the record of it (and of the spent ticket)
 * could not be committed, it is tried once more. Should that fail too, the
 * ticket is refused from now on all the same (engine_burn_ticket(): the
 * store still holds it, live), and the answer says what happened in the
 * directory: ok.
 */
static void
intent_recorded(struct job *job)
{
	bool reset = (job->req.op == OP_RESET || job->req.op == OP_UNLOCK) &&
	    job->req.ticket[0] != '\0';

	if (job->commit_rc == 0) {
		job->after_intent(job);
		return;
	}
	if (!job->intent_retried) {
		log_warnx("engine: request %s: cannot record that the write "
		    "took effect; trying again", job->sreq->id);
		job->intent_retried = true;
		intent_succeeded(job, reset ? job->req.ticket : NULL,
		    job->after_intent);
		return;
	}
	log_errorx("engine: request %s: cannot record that the write took "
	    "effect%s", job->sreq->id, reset ? "; its ticket is refused from "
	    "now on, though the store still holds it" : "");
	if (reset)
		engine_burn_ticket(job->e, job->req.ticket, now_secs() +
		    job->cfg->policy.ticket_lifetime);
	job->after_intent(job);
}

/* The write took effect: say so durably before anything else changes, so
 * a crash from here on leads to the answer, not to a second write; then
 * runs (the answer, the notices). A reset spends its ticket in the same
 * transaction. */
void
intent_succeeded(struct job *job, const char *spent_ticket,
    void (*then)(struct job *))
{
	json_t *j = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	struct store_op ops[2];
	size_t n = 0;

	if (j != NULL) {
		json_object_set_new(j, "state", json_string("done"));
		ops[n++] = (struct store_op){ STORE_INTENTS, job->sreq->id, j };
		job->intent_after_answer = true;
	}
	if (spent_ticket != NULL)
		ops[n++] = (struct store_op){ STORE_TICKETS, spent_ticket, NULL };
	if (n == 0) {
		then(job);		/* unlock, or a change without intent */
		return;
	}
	job->after_intent = then;
	job_commit(job, ops, n, intent_recorded);
	json_decref(j);
}

/* --- resuming after a crash ------------------------------------------------------ */


static void settled_answer(struct job *job);

static void
settled_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart had taken "
	    "effect; answering it", job->sreq->id);
	job->truth = "settled after restart";
	intent_succeeded(job, job->req.op == OP_RESET &&
	    job->req.ticket[0] != '\0' ? job->req.ticket : NULL, settled_answer);
}

static void
settled_answer(struct job *job)
{
	send_notice(job, job->req.op == OP_CHANGE ? "changed" : "reset");
	job_ok(job, NULL);
}

static void
settled_not_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart did not take "
	    "effect; doing it now", job->sreq->id);
	intent_done(job);
	who_clear(&job->who);
	dispatch(job);
}

static void
on_recheck_bind(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	if (res->reason == DIR_OK)
		settled_applied(job);
	else if (dir_no_answer(res->reason))
		job_error(job, job_no_answer(res));	/* intent kept */
	else
		settled_not_applied(job);
}

static void
recheck_looked_up(struct job *job, const struct dir_result *res)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	const char *before = json_string_value(json_object_get(intent, "stamp"));
	char stamp[32];

	snprintf(stamp, sizeof(stamp), "%s", before ? before : "");
	json_decref(intent);
	if (res->reason != DIR_OK) {
		job_error(job, job_no_answer(res));	/* intent kept */
		return;
	}
	if (!job->who.found) {
		intent_done(job);
		job_error(job, "not-verified");
		return;
	}
	if (strcmp(stamp, job->who.stamp) != 0) {
		settled_applied(job);
		return;
	}
	/* The stamp has one-second resolution on OpenLDAP: a write in the same
	 * second as the one before it leaves it unchanged. A bind with the new
	 * password decides. */
	if (job->cfg->directory.type == DIR_TYPE_OPENLDAP && *stamp != '\0') {
		dir_check_password(job->dr->dir, job->who.dn,
		    job->req.new_password.s, job->req.new_password.len,
		    on_recheck_bind, job);
		return;
	}
	settled_not_applied(job);
}

static void
recheck(struct job *job)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	const char *dn = json_string_value(json_object_get(intent, "dn"));
	const char *user = job->req.op == OP_CHANGE ? job->req.user : NULL;

	if (user == NULL && job->req.ticket[0] != '\0' &&
	    ticket_load(job, job->req.ticket) == 0)
		user = job->t.user;
	if (user == NULL || dn == NULL) {
		json_decref(intent);
		/* nothing left to compare with: the ticket is gone, so the
		 * reset completed before the crash */
		settled_applied(job);
		return;
	}
	json_decref(intent);
	job_lookup(job, user, recheck_looked_up);
}

/* A write whose answer was lost (a crash, a dropped connection): wait one
 * directory timeout so a write the server was still working on has
 * finished, then decide from the directory whether it took effect. */
void
settle_later(struct job *job)
{
	job->recovering = true;
	log_info("engine: request %s: a write's answer was lost; settling it "
	    "from the directory", job->sreq->id);
	job_later(job, job->cfg->directory.timeout, recheck);
}

bool
resume(struct job *job)
{
	json_t *intent = store_get(job->e->store, STORE_INTENTS, job->sreq->id);
	const char *file, *state;
	bool mine, done;

	if (intent == NULL)
		return false;
	/*
	 * Is it this request's? An intent names its request file (inode,
	 * mtime, size); one naming another file, or any intent met by a
	 * request taken from new/ (which has written none yet), is the
	 * leftover of an earlier request with this ID: a crash between that
	 * one's answer and the intent's removal, or a reboot that emptied
	 * the queue. The protocol lets a front end reuse an ID once it has
	 * its answer; settled from the leftover, this request would be
	 * answered without being done. Intents from before files were named
	 * are trusted for resumed requests, as they were.
	 */
	file = json_string_value(json_object_get(intent, "file"));
	mine = job->sreq->resumed &&
	    (file == NULL || strcmp(file, job->sreq->file) == 0);
	state = json_string_value(json_object_get(intent, "state"));
	done = state != NULL && strcmp(state, "done") == 0;
	if (!mine) {
		log_warnx("engine: request %s: dropping the write intent of an "
		    "earlier request with this ID (%s); this one is new",
		    job->sreq->id, state != NULL ? state : "?");
		json_decref(intent);
		store_del(job->e->store, STORE_INTENTS, job->sreq->id);
		return false;
	}
	json_decref(intent);
	if (done)
		settled_applied(job);	/* known to have taken effect */
	else
		settle_later(job);
	return true;
}

