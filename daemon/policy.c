/*
 * policy.c - op policy: the password rules and the methods, the same answer
 * for every user (telling a stranger which accounts need admin methods
 * would tell them who the admins are); the rules of the user's own
 * directory policy only with a ticket that proved who they are.
 */
#include "build.h"

#include <string.h>

#include "daemon/challenge.h"
#include "daemon/job.h"
#include "daemon/request.h"
#include "ldap/dir.h"

static json_t *
method_list(unsigned set)
{
	json_t *l = json_array();

	for (unsigned m = METHOD_EMAIL; m <= METHOD_LAST; m <<= 1)
		if (set & m)
			json_array_append_new(l,
			    json_string(config_method_name((enum method)m)));
	return l;
}

/* The rules are the same for every user, and so is the answer: telling a
 * stranger which accounts need admin methods, or a stricter fine-grained
 * password policy, would tell them who the admins are. Both sets are
 * given, with the directory's default rules (the domain's, or OpenLDAP's
 * default ppolicy) merged in: the stricter of each. user, when sent,
 * changes nothing. */
static void
policy_answer(struct job *job, const struct dir_pwpolicy *dp, bool own)
{
	const struct config *cfg = job->cfg;
	json_t *a = request_answer_ok(job->sreq->id), *rules = json_array();
	unsigned min = cfg->policy.min_length;
	bool known = dp != NULL && dp->known;

	if (own)
		json_object_set_new(a, "own_rules", json_true());
	if (known && dp->min_length > min)
		min = dp->min_length;
	json_object_set_new(a, "min_length", json_integer(min));
	json_object_set_new(a, "max_length", json_integer(cfg->policy.max_length));
	json_array_append_new(rules, json_string("min-length"));
	json_array_append_new(rules, json_string("max-length"));
	if (cfg->policy.banned.n > 0)
		json_array_append_new(rules, json_string("not-banned"));
	json_array_append_new(rules, json_string("no-user-name"));
	if (cfg->policy.min_score > 0) {
		json_array_append_new(rules, json_string("banned-terms"));
		json_object_set_new(a, "min_score",
		    json_integer(cfg->policy.min_score));
	}
	if (cfg->policy.breached != NULL)
		json_array_append_new(rules, json_string("not-breached"));
	if (known) {
		json_t *d = json_object();

		if (dp->complexity && cfg->directory.type == DIR_TYPE_AD)
			json_array_append_new(rules, json_string("complexity"));
		if (dp->history > 0)
			json_array_append_new(rules, json_string("history"));
		if (dp->min_age > 0)
			json_array_append_new(rules, json_string("min-age"));
		json_object_set_new(d, "min_length",
		    json_integer(dp->min_length));
		json_object_set_new(d, "complexity",
		    json_boolean(dp->complexity));
		json_object_set_new(d, "history", json_integer(dp->history));
		json_object_set_new(d, "min_age", json_integer(dp->min_age));
		json_object_set_new(a, "directory", d);
	}
	json_array_append_new(rules, json_string("directory-policy"));
	json_object_set_new(a, "rules", rules);
	json_object_set_new(a, "methods", method_list(cfg->policy.methods));
	json_object_set_new(a, "methods_required",
	    json_integer(cfg->policy.methods_required));
	json_object_set_new(a, "admin_methods",
	    method_list(cfg->policy.admin_methods));
	json_object_set_new(a, "admin_methods_required",
	    json_integer(cfg->policy.admin_methods_required));
	if (cfg->policy.methods & METHOD_QUESTIONS) {
		json_object_set_new(a, "questions_required",
		    json_integer(cfg->questions.required));
		if (cfg->questions.choices.n > 0) {
			json_t *c = json_array();

			for (size_t i = 0; i < cfg->questions.choices.n; i++)
				json_array_append_new(c,
				    json_string(cfg->questions.choices.v[i]));
			json_object_set_new(a, "question_choices", c);
		}
	}
	job_ok(job, a);
}

static void
policy_read(const struct dir_pwpolicy *dp, void *arg)
{
	struct job *job = arg;

	job_back(job, JOB_DIRECTORY);
	policy_answer(job, dp, false);
}

static void
policy_default(struct job *job)
{
	if (!job_away(job, JOB_DIRECTORY))
		return;
	dir_default_policy(job_dir(job), policy_read, job);
}

/* The user of a verified ticket, looked up again: their own policy. */
static void
policy_looked_up(struct job *job)
{
	if (job->looked_up != DIR_OK) {
		job_error(job, job_no_answer(job->looked_up));
		return;
	}
	if (!job->who.found || job->t.dn == NULL ||
	    strcmp(job->who.dn, job->t.dn) != 0 || !job->who.pwpolicy.known) {
		policy_default(job);
		return;
	}
	policy_answer(job, &job->who.pwpolicy, true);
}

/*
 * With a ticket whose every required method is verified, the answer holds
 * that user's own rules (a fine-grained policy, a ppolicy of their own):
 * who proved the account may learn them. Any other ticket - a decoy, one
 * still to be verified, a registration's - gets the answer everyone gets;
 * an expired one expired, as for every op that takes a ticket.
 */
void
op_policy(struct job *job)
{
	if (job->req.ticket[0] == '\0') {
		policy_default(job);
		return;
	}
	if (job_ticket_live(job) != 0)
		return;
	if (!job->t.real || job->t.registering ||
	    challenge_verified_count(job->cfg, &job->t) <
	    challenge_required(job->cfg, job->t.admin)) {
		policy_default(job);
		return;
	}
	job_lookup(job, job->t.user, policy_looked_up);
}
