/*
 * notify.h - telling people: running the mail and SMS commands, message
 * templates, and the masked contacts shown to the front end.
 *
 * notify_run() starts a command ([email] or [sms] command, argv as
 * configured, no shell), writes the message to its stdin without blocking the
 * event loop, and reports once: exit status 0 in time, or why not (could not
 * start, exit status, killed by a signal, no exit within the timeout: then it
 * is killed). The message may hold a one-time code: it lives in locked
 * memory (common/secret.h) and is wiped as soon as it is written. At most
 * NOTIFY_MAX_RUNNING commands run at once; more wait for a place, in
 * order, and a command's timeout counts from its start. A command's
 * output is read and thrown away, never logged nor passed on: a gateway
 * that echoes its input would put the code there.
 *
 * Templates are text with {{name}} placeholders; unknown names and
 * placeholders left unfilled are errors, so a typo in an admin's template is
 * found by ssprd -t (see config) rather than mailed out.
 */
#ifndef SSPRD_NOTIFY_H
#define SSPRD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"

/* Commands running at once; a mail relay that hangs costs this many
 * processes, not one per reset. */
#define NOTIFY_MAX_RUNNING 32

struct notifier;

struct notifier *notify_new(struct event_base *base);
/* Kills what still runs (SIGTERM, then SIGKILL), reports those as failed. */
void notify_free(struct notifier *n);

typedef void notify_done_fn(bool ok, const char *detail, void *arg);

/* Run cmd with body on stdin; extra_arg, when not NULL, is appended after
 * a "--" (argv: cmd's words..., "--", extra_arg), so that it is an operand
 * even if it starts with '-'. done is called exactly once, from the event
 * loop; its detail names the failure (exit status, signal, timeout), never
 * the command's output. */
void notify_run(struct notifier *n, const struct command *cmd,
    const char *extra_arg, const char *body, size_t len, unsigned timeout,
    notify_done_fn *done, void *arg);

/* Send msg the way cfg says: [email] smtp_url or command, [sms] url or
 * command (daemon/transport.h for the first of each). to is the mail's
 * recipient (a command finds it in the message's To:) or the SMS number.
 * done is called exactly once, from the event loop. */
enum notify_channel { NOTIFY_MAIL, NOTIFY_SMS };
void notify_send(struct notifier *n, const struct config *cfg,
    enum notify_channel ch, const char *to, const char *msg, size_t len,
    notify_done_fn *done, void *arg);

/* Messages under way (commands and transfers), and those waiting for a
 * place, a connection or their next try. */
unsigned notify_running(const struct notifier *n);
unsigned notify_waiting(const struct notifier *n);

struct notify_var {
	const char *name;
	const char *value;
};

/* Fill {{name}} from vars (NULL-terminated by a NULL name). Returns a
 * string in locked memory (free with secret_free) and its length, or NULL
 * with *err set when the template names a variable not in vars. */
char *notify_render(const char *tmpl, const struct notify_var *vars,
    size_t *len, const char **err);

/* "alice@example.com" -> "a***@e***.com"; "+15550100001" -> "+*********01".
 * out must hold at least 64 bytes; the result always fits. */
void notify_mask_email(const char *addr, char *out, size_t size);
void notify_mask_phone(const char *number, char *out, size_t size);

/* A number fit to be sent to: a '+' or a digit first, then only digits
 * and the formatting characters notify_mask_phone() drops (space - . ( )
 * /), and 6 to 20 digits. Numbers from the directory are checked with it
 * before they reach the [sms] command, as registered ones are by the
 * request parser. */
bool notify_phone_ok(const char *number);

#endif
