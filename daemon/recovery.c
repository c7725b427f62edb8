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
 * request with that ID, and is dropped rather than settled
 * (recovery_resume()). And it names the request's ticket ("" for a change), which the sweep keeps
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
#include "daemon/job.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "ldap/dir.h"

/* --- intents: a write recorded before it is sent ------------------------------ */

void
recovery_intent_put(struct job *job, void (*next)(struct job *))
{
	/* "ticket": the sweep keeps the ticket while the intent may still
	 * need it (recheck() reads it). */
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}",
	    "op", request_op_name(job->req.op), "dn", job->who.dn,
	    "stamp", job->who.stamp, "state", "writing",
	    "at", (json_int_t)job_now(), "file", job->sreq->file,
	    "ticket", job->req.ticket);
	struct store_op op = { STORE_INTENTS, job->sreq->id, j };

	job_commit(job, &op, 1, next);
	json_decref(j);
}

void
recovery_intent_done(struct job *job)
{
	store_del(job_store(job), STORE_INTENTS, job->sreq->id);
}

/* The answer to a write that took effect, and the notices: to the user,
 * and to the other admins when an admin's password was reset or unlocked
 * (not for a write settled after a restart: the first run may have told
 * them). */
static void
succeeded_answer(struct job *job)
{
	enum message_action action = job->req.op == OP_CHANGE ?
	    MSG_ACT_CHANGED : job->req.op == OP_UNLOCK ? MSG_ACT_UNLOCKED :
	    MSG_ACT_RESET;

	notice_user(job, action);
	if (job->req.op != OP_CHANGE && job->t.admin && !job->settling) {
		log_info("engine: request %s: an administrator's password was "
		    "%s", job->sreq->id, message_action(NULL, action));
		notice_admins(job, action);
	}
	job_ok(job, NULL);
}

/*
 * The write took effect; if the record of it (and of the spent ticket)
 * could not be committed, it is tried once more. Should that fail too, the
 * ticket is refused from now on all the same (job_ticket_burn(): the
 * store still holds it, live), and the answer says what happened in the
 * directory: ok.
 */
static void
intent_recorded(struct job *job)
{
	bool reset = (job->req.op == OP_RESET || job->req.op == OP_UNLOCK) &&
	    job->req.ticket[0] != '\0';

	if (job->commit_rc == 0) {
		succeeded_answer(job);
		return;
	}
	if (!job->intent_retried) {
		log_warnx("engine: request %s: cannot record that the write "
		    "took effect; trying again", job->sreq->id);
		job->intent_retried = true;
		recovery_succeeded(job, reset ? job->req.ticket : NULL);
		return;
	}
	log_errorx("engine: request %s: cannot record that the write took "
	    "effect%s", job->sreq->id, reset ? "; its ticket is refused from "
	    "now on, though the store still holds it" : "");
	if (reset)
		job_ticket_burn(job, job->req.ticket);
	succeeded_answer(job);
}

/* The write took effect: say so durably before anything else changes, so
 * a crash from here on leads to the answer, not to a second write; then
 * the answer and the notices. A reset spends its ticket in the same
 * transaction. */
void
recovery_succeeded(struct job *job, const char *spent_ticket)
{
	json_t *j = store_get(job_store(job), STORE_INTENTS, job->sreq->id);
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
		succeeded_answer(job);	/* unlock, or a change without intent */
		return;
	}
	job_commit(job, ops, n, intent_recorded);
	json_decref(j);
}

/* --- resuming after a crash ------------------------------------------------------ */

static void
settled_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart had taken "
	    "effect; answering it", job->sreq->id);
	job->truth = "settled after restart";
	job->settling = true;
	recovery_succeeded(job, job->req.op == OP_RESET &&
	    job->req.ticket[0] != '\0' ? job->req.ticket : NULL);
}


static void
settled_not_applied(struct job *job)
{
	log_info("engine: request %s: the write before the restart did not take "
	    "effect; doing it now", job->sreq->id);
	recovery_intent_done(job);
	job_who_clear(job);
	job_dispatch(job);
}

static void
on_recheck_bind(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->reason == DIR_OK)
		settled_applied(job);
	else if (dir_no_answer(res->reason))
		job_error(job, job_no_answer(res->reason));	/* intent kept */
	else
		settled_not_applied(job);
}

/* A shared store (Redis) failed to answer: come back when it is there,
 * rather than settle a write from a record that could not be read. */
static bool
store_away(struct job *job, json_t *intent, void (*again)(struct job *))
{
	if (intent != NULL || store_ready(job_store(job)))
		return false;
	job_later(job, 0.25, again);
	return true;
}

static void
recheck_looked_up(struct job *job)
{
	json_t *intent = store_get(job_store(job), STORE_INTENTS, job->sreq->id);
	const char *before = json_string_value(json_object_get(intent, "stamp"));
	char stamp[32];

	if (store_away(job, intent, recheck_looked_up))
		return;

	snprintf(stamp, sizeof(stamp), "%s", before ? before : "");
	json_decref(intent);
	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));	/* intent kept */
		return;
	}
	if (!job->who.found) {
		recovery_intent_done(job);
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
		if (!job_away(job, JOB_DIRECTORY))
			return;
		dir_check_password(job_dir(job), job->who.dn,
		    job->req.new_password.s, job->req.new_password.len,
		    on_recheck_bind, job);
		return;
	}
	settled_not_applied(job);
}

static void
recheck(struct job *job)
{
	json_t *intent = store_get(job_store(job), STORE_INTENTS, job->sreq->id);
	const char *dn = json_string_value(json_object_get(intent, "dn"));
	const char *user = job->req.op == OP_CHANGE ? job->req.user : NULL;

	if (store_away(job, intent, recheck))
		return;
	if (user == NULL && job->req.ticket[0] != '\0') {
		if (job_ticket_load(job, job->req.ticket) == 0)
			user = job->t.user;
		else if (store_away(job, NULL, recheck)) {
			json_decref(intent);	/* absent, or unread? again */
			return;
		}
	}
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
recovery_settle_later(struct job *job)
{
	log_info("engine: request %s: a write's answer was lost; settling it "
	    "from the directory", job->sreq->id);
	job_later(job, job->cfg->directory.timeout, recheck);
}

bool
recovery_resume(struct job *job)
{
	json_t *intent = store_get(job_store(job), STORE_INTENTS, job->sreq->id);
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
		store_del(job_store(job), STORE_INTENTS, job->sreq->id);
		return false;
	}
	json_decref(intent);
	if (done)
		settled_applied(job);	/* known to have taken effect */
	else
		recovery_settle_later(job);
	return true;
}

