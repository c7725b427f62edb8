/*
 * messages.h - the texts ssprd sends: codes by email and SMS, and the
 * "your password was changed" notices. Admins replace any of them with a
 * template file ([email] code_template, notice_template,
 * admin_notice_template, [sms] code_template); these are the built-in ones.
 *
 * An email is the template's headers (Subject: ...) with From:, To:,
 * Date:, MIME and Auto-Submitted headers added by ssprd, then the body:
 * what `sendmail -t` reads. Addresses from the directory are used only when
 * they are plain addr-spec text (no CR, LF, comma, angle brackets).
 */
#ifndef SSPRD_MESSAGES_H
#define SSPRD_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/notify.h"

enum message_kind {
	MSG_EMAIL_CODE,
	MSG_EMAIL_NOTICE,
	MSG_EMAIL_ADMIN_NOTICE,
	MSG_SMS_CODE,
	/* register: a code to the new address or number (built in). */
	MSG_EMAIL_CONFIRM,
	MSG_SMS_CONFIRM,
	MSG_KINDS
};

/* What a notice tells ({{action}}), in the message's language. */
enum message_action {
	MSG_ACT_RESET,
	MSG_ACT_CHANGED,
	MSG_ACT_UNLOCKED,
	MSG_ACT_QUESTIONS,	/* recovery information updated */
	MSG_ACT_NEW_ADDRESS,
	MSG_ACT_NEW_MOBILE,
	MSG_ACT_NEW_APP,
	MSG_ACTIONS
};

/* Is addr usable as a To: address? */
bool message_address_ok(const char *addr);

/*
 * The complete message (for email: headers and body) in sodium_malloc()
 * memory (free with sodium_free), or NULL with *err set. lang is a
 * request's "lang" (request.h; NULL or "": English): messages exist in
 * English and Turkish, and any other language gets English. An admin's
 * template file replaces the English text. Header values that are not
 * ASCII are sent as RFC 2047 encoded words.
 */
char *message_build(const struct config *cfg, enum message_kind kind,
    const char *lang, const char *to, const struct notify_var *vars,
    size_t *len, const char **err);
/* The language messages for lang are in ("en" or "tr"). */
const char *message_language(const char *lang);
/* The text of a notice's {{action}} in lang. */
const char *message_action(const char *lang, enum message_action a);

#endif
