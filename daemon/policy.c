/*
 * policy.c - op policy: the password rules and the methods, the same answer
 * for every user (telling a stranger which accounts need admin methods
 * would tell them who the admins are).
 */
#include "build.h"

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
policy_read(const struct dir_pwpolicy *dp, void *arg)
{
	struct job *job = arg;
	const struct config *cfg = job->cfg;
	json_t *a = request_answer_ok(job->sreq->id), *rules = json_array();
	unsigned min = cfg->policy.min_length;
	bool known = dp != NULL && dp->known;

	job_back(job, JOB_DIRECTORY);
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

void
op_policy(struct job *job)
{
	if (!job_away(job, JOB_DIRECTORY))
		return;
	dir_default_policy(job_dir(job), policy_read, job);
}
