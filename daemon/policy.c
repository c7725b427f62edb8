/*
 * policy.c - op policy: the password rules and the methods, the same answer
 * for every user (telling a stranger which accounts need admin methods
 * would tell them who the admins are).
 */
#include "build.h"

#include "daemon/job.h"
#include "daemon/request.h"

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
 * stranger which accounts need admin methods would tell them who the admins
 * are. Both sets are given; user, when sent, changes nothing. */
void
op_policy(struct job *job)
{
	const struct config *cfg = job->cfg;
	json_t *a = request_answer_ok(job->sreq->id), *rules = json_array();

	json_object_set_new(a, "min_length", json_integer(cfg->policy.min_length));
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
