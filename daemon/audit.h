/*
 * audit.h - one line per answered request, at info: request ID, op, the
 * user as sent, the account the directory resolved it to, result, reason,
 * client, and for decoys why (the truth the answer hides). Never a
 * password, code or answer. A name that is not plain is quoted, with every
 * character a reader could not see or tell apart written as <U+XXXX>, so
 * "alice " and "alice<U+00A0>" cannot be mistaken for alice.
 */
#ifndef SSPRD_AUDIT_H
#define SSPRD_AUDIT_H

struct job;

void audit_log(const struct job *job);

#endif
