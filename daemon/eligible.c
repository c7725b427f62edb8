/*
 * eligible.c - who may use self-service, and with which methods (see
 * eligible.h).
 */
#include "build.h"

#include <stddef.h>

#include "daemon/challenge.h"
#include "daemon/eligible.h"
#include "daemon/messages.h"
#include "daemon/notify.h"
#include "daemon/questions.h"

const char *
eligible_mail(const struct dir_user *u)
{
	for (size_t i = 0; i < u->mail.n; i++)
		if (message_address_ok(u->mail.v[i]))
			return u->mail.v[i];
	return NULL;
}

const char *
eligible_mobile(const struct dir_user *u)
{
	/* Only a number of the shape an SMS command can take as its
	 * argument (a '+' or a digit first): a value such as "--123456"
	 * would be an option to it. */
	for (size_t i = 0; i < u->mobile.n; i++)
		if (notify_phone_ok(u->mobile.v[i]))
			return u->mobile.v[i];
	return NULL;
}

bool
eligible_questions(const struct config *cfg, const char *value)
{
	struct question_set qs = { 0 };
	bool enough;

	if (value == NULL || questions_parse(value, &qs) != 0)
		return false;
	enough = qs.n >= cfg->questions.required;
	questions_clear(&qs);
	return enough;
}

void
eligible_from_dir(const struct config *cfg, const struct dir_user *u,
    struct eligible_user *out)
{
	*out = (struct eligible_user){ .found = u->found };
	if (!u->found)
		return;
	out->disabled = u->disabled;
	out->allowed = u->allowed;
	out->admin = u->admin;
	out->mail = eligible_mail(u);
	out->mobile = eligible_mobile(u);
	out->questions = eligible_questions(cfg, u->questions);
	out->totp = u->totp != NULL && *u->totp != '\0';
}

const char *
eligible_start(const struct config *cfg, const struct eligible_user *e,
    enum method m)
{
	bool contact = m == METHOD_EMAIL ? e->mail != NULL :
	    m == METHOD_SMS ? e->mobile != NULL :
	    m == METHOD_QUESTIONS ? e->questions :
	    m == METHOD_TOTP ? e->totp : false;

	if (!e->found)
		return "decoy: no such user";
	if (e->disabled)
		return "decoy: account disabled";
	if (!e->allowed)
		return "decoy: not in allowed_groups";
	if (!contact)
		return "decoy: no contact for this method";
	if (e->admin && !(challenge_counting_methods(cfg, true) & m))
		return "decoy: method does not count for admins";
	return NULL;
}

unsigned
eligible_methods(const struct config *cfg, const struct eligible_user *e)
{
	unsigned counting = challenge_counting_methods(cfg, e->admin), have = 0;

	for (unsigned m = METHOD_EMAIL; m <= METHOD_LAST; m <<= 1)
		if ((counting & m) && (cfg->policy.methods & m) &&
		    eligible_start(cfg, e, (enum method)m) == NULL)
			have |= m;
	return have;
}

unsigned
eligible_registered(const struct config *cfg, const struct eligible_user *e)
{
	unsigned have = 0;

	have |= e->mail != NULL ? METHOD_EMAIL : 0;
	have |= e->mobile != NULL ? METHOD_SMS : 0;
	have |= e->questions ? METHOD_QUESTIONS : 0;
	have |= e->totp ? METHOD_TOTP : 0;
	return have & cfg->policy.methods;
}

bool
eligible_reconfirm_due(const struct config *cfg, unsigned registered,
    int64_t confirmed, int64_t now)
{
	int64_t days = cfg->policy.reconfirm_days;

	return days > 0 && registered != 0 &&
	    (confirmed <= 0 || now - confirmed >= days * 86400);
}
