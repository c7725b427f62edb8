/*
 * password.c - what the ops that take a password share: ssprd's own rules
 * for a new one, a refusal from the directory counted as a failed proof
 * where it is one, and an unknown name answered as a wrong password at the
 * directory's own cost.
 */
#include "build.h"

#include <stdio.h>
#include <time.h>

#include "daemon/job.h"
#include "daemon/pwpolicy.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

void
password_answer_weak(struct job *job, unsigned bits)
{
	const char *names[PW_NAMES_MAX];

	pwpolicy_names(bits, names);
	job_error_v(job, "password-policy", NULL, names);
}

/* The new password against ssprd's own rules, before the lookup (without
 * personal data): answered password-policy with the violations when it
 * breaks any. */
bool
password_refuse_weak(struct job *job, const char *user)
{
	struct pw_context pc = { .user = user };
	unsigned v = pwpolicy_check(job->cfg, &pc, job->req.new_password.s,
	    job->req.new_password.len);

	if (v == 0)
		return false;
	password_answer_weak(job, v);
	return true;
}

unsigned
password_weak_for(struct job *job, const char *user)
{
	struct pw_context pc = { .user = user,
	    .personal = &job->who.personal, .dir = &job->who.pwpolicy,
	    .account = job->who.account,
	    .display_name = job->who.display_name,
	    /* AD and ppolicy apply the minimum age to a user's own change,
	     * not to the service account's reset */
	    .changed = job->req.op == OP_CHANGE ? job->who.stamp : NULL,
	    .now = time(NULL) };

	return pwpolicy_check(job->cfg, &pc, job->req.new_password.s,
	    job->req.new_password.len);
}

/*
 * The directory refused a change, or a bind with the current password. A
 * wrong password is a failed proof, like a wrong code: it counts towards
 * the lockout. So does a refusal because the directory locked or disabled
 * the account, and it is answered as a wrong password: the directory says
 * so whether or not the password was right, and only who proved it may
 * learn that (an unknown name is never locked there).
 */
void
password_refused(struct job *job, const struct dir_result *res)
{
	if (res->reason != DIR_WRONG_PASSWORD &&
	    res->reason != DIR_ACCOUNT_LOCKED &&
	    res->reason != DIR_ACCOUNT_DISABLED) {
		job_dir_error(job, res);
		return;
	}
	if (res->reason != DIR_WRONG_PASSWORD)
		job->truth = res->reason == DIR_ACCOUNT_LOCKED ?
		    "the directory says the account is locked" :
		    "the directory says the account is disabled";
	if (throttle_failure(job_store(job), job->cfg, job->acct, job_who(job),
	    job->req.client_key, job_now()))
		job->truth = "this failure locked self-service";
	job_error(job, "wrong-password");
}

/* The directory's answer for a name it does not know (see
 * password_refuse_unknown()): a wrong password, or no directory at all, as
 * for a real name. */
static void
unknown_user_checked(const struct dir_result *res, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	if (dir_no_answer(res->reason) || res->maybe_applied) {
		job_error(job, job_no_answer(res->reason));
		return;
	}
	job->truth = throttle_failure(job_store(job), job->cfg, job->acct,
	    job_who(job), job->req.client_key, job_now()) ?
	    "no such user; this failure locked self-service" : "no such user";
	job_error(job, "wrong-password");
}

/*
 * Ops that prove a password (change, register) after a lookup: a failed
 * lookup is directory-unavailable; the lockout is checked on the account
 * the name resolved to (or on the canonical name); and an unknown name
 * costs the directory what a real one does (the same operation, as a DN
 * that cannot exist under base_dn), is answered wrong-password and counted
 * as a failure: otherwise the name would never be locked out, and timing
 * or the lockout would tell who exists. True when the job was answered
 * (or will be).
 */
bool
password_refuse_unknown(struct job *job)
{
	char dn[1200];

	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return true;
	}
	job_identify(job, job->who.found ? job->who.dn : NULL, job->req.user);
	if (job_refuse_locked(job))
		return true;
	if (job->who.found)
		return false;
	snprintf(dn, sizeof(dn), "cn=ssprd-nobody-%.16s,%s", job->acct + 2,
	    job->cfg->directory.base_dn);
	if (!job_away(job, JOB_DIRECTORY))
		return true;
	if (job->req.op == OP_CHANGE)
		dir_change_password(job_dir(job), dn, job->req.old_password.s,
		    job->req.old_password.len, job->req.new_password.s,
		    job->req.new_password.len, unknown_user_checked, job);
	else
		dir_check_password(job_dir(job), dn, job->req.password.s,
		    job->req.password.len, unknown_user_checked, job);
	return true;
}
