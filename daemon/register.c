/*
 * register.c - op register: security questions, a mobile number and an
 * alternate address.
 *
 * register proves the current password with a bind as the user (a failure
 * counts towards the lockout, like a wrong code), hashes the answers with
 * argon2id on the worker threads, and replaces the attributes in one modify.
 * With [questions] choices, register takes no other question, so a decoy's
 * (start.c) cannot be told by its texts.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/eligible.h"
#include "daemon/job.h"
#include "daemon/questions.h"
#include "ldap/dir.h"

static void
registered(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const struct config *cfg = job->cfg;
	json_t *a, *list;

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		log_warnx("engine: request %s: registration refused at %s: %s",
		    job->sreq->id, res->server ? res->server : "-", res->detail);
		job_error(job, dir_reason_code(res->reason));
		return;
	}
	a = request_answer_ok(job->sreq->id);
	list = json_array();
	if ((cfg->policy.methods & METHOD_EMAIL) &&
	    (job->req.email != NULL || job->who.mail != NULL))
		json_array_append_new(list, json_string("email"));
	if ((cfg->policy.methods & METHOD_SMS) &&
	    (job->req.mobile != NULL || job->who.mobile != NULL))
		json_array_append_new(list, json_string("sms"));
	if ((cfg->policy.methods & METHOD_QUESTIONS) &&
	    (job->req.questions != NULL ||
	    eligible_questions(cfg, job->who.questions)))
		json_array_append_new(list, json_string("questions"));
	json_object_set_new(a, "registered", list);
	notice_user(job, "used to update your recovery information");
	job_ok(job, a);
}

static void
write_registration(struct job *job, const char *questions_value)
{
	const struct config *cfg = job->cfg;
	struct dir_attr_change ch[3];
	size_t n = 0;

	if (questions_value != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->questions.attribute,
		    questions_value };
	if (job->req.mobile != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->sms.attribute,
		    job->req.mobile };
	if (job->req.email != NULL)
		ch[n++] = (struct dir_attr_change){ cfg->email.attribute,
		    job->req.email };
	if (job_away(job, JOB_DIRECTORY))
		dir_set_attributes(job_dir(job), job->who.dn, ch, n,
		    registered, job);
}

static void
on_hashed(char **hashes, size_t n, void *arg)
{
	struct job *job = arg;
	struct question_set qs = { 0 };
	char *value;

	job_back(job, JOB_HASH);
	if (hashes == NULL) {
		job_error(job, "internal");
		return;
	}
	qs.n = n;
	for (size_t i = 0; i < n; i++) {
		qs.question[i] = job->req.questions[i].question;
		qs.hash[i] = hashes[i];
	}
	value = questions_format(&qs);	/* borrowed strings: no clear */
	write_registration(job, value);
	free(value);
}

static void
register_proved(const struct dir_result *res, void *arg)
{
	struct job *job = arg;
	const char *answers[QUESTIONS_MAX];

	job_back(job, JOB_DIRECTORY);
	if (res->reason != DIR_OK) {
		password_refused(job, res);
		return;
	}
	if (job->who.disabled || !job->who.allowed) {
		job_error(job, job->who.disabled ? "account-disabled" :
		    "not-allowed");
		return;
	}
	if (job->req.questions == NULL) {
		write_registration(job, NULL);
		return;
	}
	if (job_refuse_hash_busy(job))
		return;
	for (size_t i = 0; i < job->req.nquestions; i++)
		answers[i] = job->req.questions[i].answer.s;
	if (job_away(job, JOB_HASH))
		questions_hash(job_qworkers(job), answers,
		    job->req.nquestions, on_hashed, job);
}

static void
register_looked_up(struct job *job)
{
	if (password_refuse_unknown(job) || !job_away(job, JOB_DIRECTORY))
		return;
	dir_check_password(job_dir(job), job->who.dn, job->req.password.s,
	    job->req.password.len, register_proved, job);
}

/* With [questions] choices, only those; otherwise any question. */
static bool
offered(const struct config *cfg, const char *question)
{
	const struct strlist *c = &cfg->questions.choices;

	return c->n == 0 || strlist_has(c, question);
}

void
op_register(struct job *job)
{
	const struct config *cfg = job->cfg;

	if (job->req.questions != NULL) {
		if (!(cfg->policy.methods & METHOD_QUESTIONS) ||
		    cfg->questions.attribute == NULL) {
			job_error(job, "not-allowed");
			return;
		}
		if (job->req.nquestions < cfg->questions.required) {
			job_error_v(job, "bad-request", "Please register more "
			    "security questions.", NULL);
			return;
		}
		for (size_t i = 0; i < job->req.nquestions; i++) {
			const struct secret *ans = &job->req.questions[i].answer;
			char *norm = secret_alloc(ans->len + 1);
			bool blank;

			questions_normalise(ans->s, ans->len, norm);
			blank = (*norm == '\0');
			secret_free(norm);
			if (blank) {
				job_error_v(job, "bad-request", "An answer may not "
				    "be empty.", NULL);
				return;
			}
		}
		for (size_t i = 0; i < job->req.nquestions; i++)
			for (size_t k = 0; k < i; k++)
				if (strcasecmp(job->req.questions[i].question,
				    job->req.questions[k].question) == 0) {
					job_error_v(job, "bad-request", "Each "
					    "security question must differ.", NULL);
					return;
				}
		for (size_t i = 0; i < job->req.nquestions; i++)
			if (!offered(cfg, job->req.questions[i].question)) {
				job_error_v(job, "bad-request", "Each security "
				    "question must be one of those offered.", NULL);
				return;
			}
	}
	if ((job->req.mobile != NULL && !(cfg->policy.methods & METHOD_SMS)) ||
	    (job->req.email != NULL && !(cfg->policy.methods & METHOD_EMAIL))) {
		job_error(job, "not-allowed");
		return;
	}
	job_lookup(job, job->req.user, register_looked_up);
}
