/*
 * change.c - op change: the user's own password changed as the user, after
 * the write intent is durable (recovery.c). A wrong current password
 * counts towards the lockout like a wrong code; an unknown name costs the
 * directory what a real one does (password.c).
 */
#include "build.h"

#include <stdio.h>

#include "common/log.h"
#include "daemon/job.h"
#include "ldap/dir.h"

static void change_send(struct job *job);

static void
change_written(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->maybe_applied) {
		recovery_settle_later(job);
		return;
	}
	if (res->reason != DIR_OK) {
		recovery_intent_done(job);
		log_info("engine: request %s: change refused at %s: %s",
		    job->sreq->id, res->server ? res->server : "-", res->detail);
		password_refused(job, res);
		return;
	}
	job_timed(job, JOB_TIMING_CHANGE);
	recovery_succeeded(job, NULL);
}


/* A disabled account, or one outside allowed_groups, may not change its
 * password here, nor to one its entry's personal data refuses; who does
 * not know the password learns only that it is wrong, who does learns
 * why. */
static void
change_refused_checked(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		password_refused(job, res);
		return;
	}
	if (job->weak != 0) {
		password_answer_weak(job, job->weak);
		return;
	}
	job_error(job, job->who.disabled ? "account-disabled" : "not-allowed");
}

static void
change_looked_up(struct job *job)
{
	if (password_refuse_unknown(job))
		return;
	if (!job->who.disabled && job->who.allowed)
		job->weak = password_weak_for(job, job->req.user);
	if (job->who.disabled || !job->who.allowed || job->weak != 0) {
		job->truth = job->who.disabled ? "account disabled" :
		    !job->who.allowed ? "not in allowed_groups" :
		    "the new password breaks a rule on the entry's data";
		if (!job_away(job, JOB_DIRECTORY))
			return;
		dir_check_password(job_dir(job), job->who.dn,
		    job->req.old_password.s, job->req.old_password.len,
		    change_refused_checked, job);
		return;
	}
	recovery_intent_put(job, change_send);
}

/* The intent is durable: the change may go. */
static void
change_send(struct job *job)
{
	if (!job_committed(job) || !job_away(job, JOB_DIRECTORY))
		return;
	dir_change_password(job_dir(job), job->who.dn, job->req.old_password.s,
	    job->req.old_password.len, job->req.new_password.s,
	    job->req.new_password.len, change_written, job);
}

void
op_change(struct job *job)
{
	if (password_refuse_weak(job, job->req.user))
		return;
	job_lookup(job, job->req.user, change_looked_up);
}
