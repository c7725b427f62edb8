/*
 * transport.h - mail by SMTP and SMS through an HTTPS gateway, in process,
 * on libcurl's multi interface driven by the daemon's event loop.
 *
 * One multi handle carries every message, so its connection cache keeps
 * SMTP sessions open between messages: one session to the relay carries
 * many messages, at most [email] max_connections at once; more wait in
 * libcurl's queue. TLS is always verified (certificate and host name);
 * smtp:// must upgrade with STARTTLS unless config.c allowed a loopback
 * relay without it.
 *
 * Each message has a deadline ([email] or [sms] timeout, from its send).
 * A temporary failure (SMTP 4xx, HTTP 429/502/503/504, a connection lost
 * or refused) is tried again after 1, 2, 4 ... s while the deadline
 * allows; a permanent one (SMTP 5xx, any other HTTP status, a certificate
 * that does not verify, a refused login) ends the message at once. done()
 * is told once, from the event loop (never from within the send call), with
 * a detail that names the failure and never holds the message, the
 * gateway's answer or a password.
 *
 * The message lives in locked memory (common/secret.h), wiped when done;
 * the SMS headers (they may hold the gateway's credentials) are wiped from
 * libcurl's list when the message is done. libcurl's own copies (of the
 * SMTP password, of what it has sent) are in its memory, which ssprd
 * cannot wipe: the same as for libldap's copy of a bind password.
 *
 * A message whose connection is lost after the relay or the gateway had
 * it (after SMTP's final ".", after an HTTP request was sent) is tried
 * again, and may then arrive twice: a second code that works like the
 * first, or a second notice. Nothing is ever lost silently instead.
 */
#ifndef SSPRD_TRANSPORT_H
#define SSPRD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"

struct transport;

typedef void transport_done_fn(bool ok, const char *detail, void *arg);

struct transport *transport_new(struct event_base *base);
/* Ends what is still under way: done(false, "shut down"). */
void transport_free(struct transport *t);

/* msg is a whole message (headers, blank line, body; LF or CRLF line
 * ends), sent to rcpt from [email] from's address over cfg's smtp_url. */
void transport_mail(struct transport *t, const struct config *cfg,
    const char *rcpt, const char *msg, size_t len, transport_done_fn *done,
    void *arg);

/* text goes to number through [sms] url, in [sms] body. */
void transport_sms(struct transport *t, const struct config *cfg,
    const char *number, const char *text, size_t len,
    transport_done_fn *done, void *arg);

/* Messages under way, and of those how many wait: for a connection (more
 * than max_connections at once) or for their next try. */
unsigned transport_running(const struct transport *t);
unsigned transport_waiting(const struct transport *t);

/* Escape s for an [sms] body of this type: form (percent-encoded) or
 * JSON (inside the template's quotes). Returns locked memory (free with
 * secret_free()) or NULL when s is not UTF-8. */
char *transport_escape(enum body_type type, const char *s, size_t len,
    size_t *out_len);

/* The addr-spec of an [email] from ("SSPR <a@b>" -> "a@b"); out holds at
 * least 256 bytes. */
void transport_from_address(const char *from, char *out, size_t size);

#endif
