/*
 * notice.c - the mails after a change: to the user, at the address the
 * lookup found, and to every other administrator when an administrator's
 * password was reset or unlocked (as Entra does). Nobody waits for them:
 * the answer has gone, and a notice may end after its job and the engine
 * (it keeps what it needs: the notifier, the program's hooks).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "daemon/engine.h"
#include "daemon/job.h"
#include "daemon/messages.h"
#include "daemon/notify.h"
#include "ldap/dir.h"

/* A notice on its way; it may end after its job and the engine (the
 * hooks belong to the program, which outlives the notifier). */
struct notice {
	char id[SPOOL_ID_MAX + 1];
	char *to;
	struct engine_hooks hooks;
	const char *kind;	/* "notice" or "admin-notice" */
};

static struct notice *
notice_new(const struct engine_hooks *hooks, const char *id, const char *to,
    const char *kind)
{
	struct notice *n = xcalloc(1, sizeof(*n));

	snprintf(n->id, sizeof(n->id), "%s", id);
	n->to = xstrdup(to);
	n->hooks = *hooks;
	n->kind = kind;
	return n;
}

static void
on_notice_sent(bool ok, const char *detail, void *arg)
{
	struct notice *n = arg;

	if (ok) {
		log_info("notify: request %s: %s sent to %s", n->id, n->kind,
		    n->to);
	} else {
		log_warnx("notify: request %s: %s to %s failed: %s", n->id,
		    n->kind, n->to, detail);
		if (n->hooks.notify_failed != NULL)
			n->hooks.notify_failed(n->hooks.arg, n->kind);
	}
	free(n->to);
	free(n);
}

/* Which [email] notify event an action is. */
static unsigned
event_of(enum message_action action)
{
	switch (action) {
	case MSG_ACT_RESET:
		return NOTIFY_RESET;
	case MSG_ACT_CHANGED:
		return NOTIFY_CHANGE;
	case MSG_ACT_UNLOCKED:
		return NOTIFY_UNLOCK;
	default:
		return NOTIFY_REGISTER;	/* recovery information */
	}
}

void
notice_user(struct job *job, enum message_action action)
{
	const struct config *cfg = job->cfg;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	struct notify_var vars[] = {
		{ "user", job->req.user ? job->req.user : job->t.user },
		{ "action", message_action(job->req.lang, action) },
		{ "time", when },
		{ "client", job->req.client ? job->req.client : "unknown" },
		{ NULL, NULL },
	};
	struct notice *n;
	const char *err;
	size_t len;
	char *msg;

	if (!config_email_on(cfg))
		return;
	if (!(cfg->email.notify & event_of(action))) {
		log_debug("notify: request %s: no notice ([email] notify leaves "
		    "out %s)", job->sreq->id, message_action(NULL, action));
		return;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	/* To every address the lookup found, the owned one and the
	 * recovery ones alike. */
	for (size_t i = 0; i < job->who.n_notify; i++) {
		const char *to = job->who.notify[i];

		msg = message_build(cfg, MSG_EMAIL_NOTICE, job->req.lang, to,
		    vars, &len, &err);
		if (msg == NULL) {
			log_warnx("notify: request %s: no notice: %s",
			    job->sreq->id, err);
			return;
		}
		n = notice_new(job_hooks(job), job->sreq->id, to, "notice");
		notify_send(job_notifier(job), cfg, NOTIFY_MAIL, to, msg, len,
		    on_notice_sent, n);
		secret_free(msg);
	}
}


/* --- notices to the other admins ---------------------------------------- */

struct admin_notice {
	struct notifier *notifier;
	struct engine_hooks hooks;
	struct config *cfg;
	char id[SPOOL_ID_MAX + 1];
	char *user;
	char *dn;
	enum message_action action;
	char lang[4];
};

static void
on_admins(const struct dir_result *res, const struct strlist *dns,
    const struct strlist *mails, void *arg)
{
	struct admin_notice *an = arg;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	struct notify_var vars[] = {
		{ "admin", an->user },
		{ "user", an->user },
		{ "action", message_action(an->lang, an->action) },
		{ "time", when },
		{ NULL, NULL },
	};
	unsigned sent = 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (res->reason != DIR_OK)
		log_warnx("notify: request %s: cannot list the admins to tell: "
		    "%s (%s)", an->id, dir_reason_code(res->reason), res->detail);
	for (size_t i = 0; res->reason == DIR_OK && i < dns->n; i++) {
		const char *err;
		size_t len;
		char *msg;

		if (strcasecmp(dns->v[i], an->dn) == 0)
			continue;	/* the admin whose password it was */
		msg = message_build(an->cfg, MSG_EMAIL_ADMIN_NOTICE, an->lang,
		    mails->v[i], vars, &len, &err);
		if (msg == NULL) {
			log_warnx("notify: request %s: no admin notice to %s: %s",
			    an->id, mails->v[i], err);
			continue;
		}
		notify_send(an->notifier, an->cfg, NOTIFY_MAIL, mails->v[i], msg,
		    len, on_notice_sent,
		    notice_new(&an->hooks, an->id, mails->v[i], "admin-notice"));
		secret_free(msg);
		sent++;
	}
	log_info("notify: request %s: %u other admin(s) told that %s's password "
	    "was %s", an->id, sent, an->user, message_action(NULL, an->action));
	config_free(an->cfg);
	free(an->user);
	free(an->dn);
	free(an);
}

void
notice_admins(struct job *job, enum message_action action)
{
	struct admin_notice *an;

	if (job->who.dn == NULL || !config_email_on(job->cfg) ||
	    job_closing(job))
		return;
	an = xcalloc(1, sizeof(*an));
	an->notifier = job_notifier(job);
	an->hooks = *job_hooks(job);
	an->cfg = config_ref(job->cfg);
	snprintf(an->id, sizeof(an->id), "%s", job->sreq->id);
	an->user = xstrdup(job->t.user ? job->t.user : "?");
	an->dn = xstrdup(job->who.dn);
	an->action = action;
	memcpy(an->lang, job->req.lang, sizeof(an->lang));
	dir_admin_contacts(job_dir(job), on_admins, an);
}
