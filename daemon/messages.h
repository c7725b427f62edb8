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
};

/* Is addr usable as a To: address? */
bool message_address_ok(const char *addr);

/*
 * The complete message (for email: headers and body) in sodium_malloc()
 * memory (free with sodium_free), or NULL with *err set.
 */
char *message_build(const struct config *cfg, enum message_kind kind,
    const char *to, const struct notify_var *vars, size_t *len,
    const char **err);

#endif
