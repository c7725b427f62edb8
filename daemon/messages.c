/*
 * messages.c - built-in message templates and email assembly (see
 * messages.h).
 */
#include "build.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "daemon/messages.h"

static const char email_code[] =
    "Subject: Your password reset code\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "your password reset code is {{code}}\n"
    "\n"
    "It is valid for {{minutes}} minutes and can be used once.\n"
    "If you did not ask for it, ignore this message: your password stays\n"
    "as it is, and nobody can use the code without access to this mailbox.\n";

static const char email_notice[] =
    "Subject: Your password was {{action}}\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "your password was {{action}} through self-service at {{time}}.\n"
    "\n"
    "If this was not you, contact your helpdesk at once: someone may have\n"
    "access to your account or to your recovery methods.\n";

static const char email_admin_notice[] =
    "Subject: Administrator password {{action}}: {{admin}}\n"
    "\n"
    "The password of the administrator account {{admin}} was {{action}}\n"
    "through self-service at {{time}}.\n"
    "\n"
    "You receive this notice because you are an administrator too. If the\n"
    "change was not expected, treat it as a security incident.\n";

static const char sms_code[] =
    "{{code}} is your password reset code. It is valid for {{minutes}} "
    "minutes. If you did not ask for it, ignore this message.\n";

static const char email_confirm[] =
    "Subject: Confirm your recovery address\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "to confirm this address for resetting your password, enter the code\n"
    "{{code}}\n"
    "\n"
    "It is valid for {{minutes}} minutes. If you did not register this\n"
    "address, ignore this message: it will not be used.\n";

static const char sms_confirm[] =
    "{{code}} confirms this number for resetting your password. It is "
    "valid for {{minutes}} minutes. If you did not register it, ignore "
    "this message.\n";

bool
message_address_ok(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t len = strlen(addr);

	if (len == 0 || len > 254 || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,;\"()[]\\", *p))
			return false;
	return true;
}

static const char *
template_of(const struct config *cfg, enum message_kind kind)
{
	switch (kind) {
	case MSG_EMAIL_CODE:
		return cfg->email.code_template ? cfg->email.code_template :
		    email_code;
	case MSG_EMAIL_NOTICE:
		return cfg->email.notice_template ? cfg->email.notice_template :
		    email_notice;
	case MSG_EMAIL_ADMIN_NOTICE:
		return cfg->email.admin_notice_template ?
		    cfg->email.admin_notice_template : email_admin_notice;
	case MSG_SMS_CODE:
		return cfg->sms.code_template ? cfg->sms.code_template : sms_code;
	case MSG_EMAIL_CONFIRM:
		return email_confirm;
	case MSG_SMS_CONFIRM:
		return sms_confirm;
	}
	return NULL;
}

char *
message_build(const struct config *cfg, enum message_kind kind, const char *to,
    const struct notify_var *vars, size_t *len, const char **err)
{
	char *body, *msg, head[1024], date[64];
	size_t blen, hlen;
	time_t now = time(NULL);
	struct tm tm;

	body = notify_render(template_of(cfg, kind), vars, &blen, err);
	if (body == NULL || kind == MSG_SMS_CODE || kind == MSG_SMS_CONFIRM) {
		*len = blen;
		return body;
	}
	if (!message_address_ok(to)) {
		secret_free(body);
		*err = "the address is not a plain email address";
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* The template's own headers follow these; its blank line ends them. */
	hlen = (size_t)snprintf(head, sizeof(head),
	    "From: %s\nTo: %s\nDate: %s\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=UTF-8\n"
	    "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n",
	    cfg->email.from, to, date);
	if (hlen >= sizeof(head)) {
		secret_free(body);
		*err = "the From: or To: address is too long";
		return NULL;
	}
	msg = secret_alloc(hlen + blen + 1);
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, blen + 1);
	secret_free(body);
	*len = hlen + blen;
	return msg;
}
