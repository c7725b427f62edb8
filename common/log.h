/*
 * log.h - one small logging API for every module.
 *
 * One event per line, always: control characters in a message (a user name
 * from a request, a server's diagnostic) are written as \xNN, so nothing a
 * stranger sends can forge a log line. Under systemd (stderr connected to the
 * journal, detected through $JOURNAL_STREAM) each line carries the
 * sd-daemon priority prefix "<N>"; elsewhere it carries a UTC timestamp and
 * the level name.
 *
 * log_warn() and log_error() append ": strerror(errno)"; the x variants do
 * not. fatal()/fatalx() log and exit(1): for states that must never happen.
 * Messages start with the object they concern ("config: ...", "spool: ...").
 *
 * Lines that a stranger can cause as often as he likes (a flood of
 * connections, descriptors running out) go through log_limited() and a
 * struct log_limit of their own: at most `burst` of them per `interval`
 * seconds reach the log, and the next one that does says how many were held
 * back meanwhile. Limiters may be shared between threads.
 */
#ifndef SSPRD_LOG_H
#define SSPRD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "config/config.h"

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

void log_init(enum log_level level);
void log_set_level(enum log_level level);
bool log_to_journal(void);

void log_error(const char *fmt, ...) LOG_FMT(1, 2);
void log_errorx(const char *fmt, ...) LOG_FMT(1, 2);
void log_warn(const char *fmt, ...) LOG_FMT(1, 2);
void log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void log_info(const char *fmt, ...) LOG_FMT(1, 2);
void log_debug(const char *fmt, ...) LOG_FMT(1, 2);

struct log_limit {
	unsigned interval;	/* seconds */
	unsigned burst;		/* lines per interval */
	double start;		/* this interval's start (monotonic seconds) */
	unsigned passed;	/* lines logged in this interval */
	unsigned long held;	/* lines held back since the last one logged */
};

#define LOG_LIMIT(seconds, lines) { .interval = (seconds), .burst = (lines) }

/* Like log_warn() and friends at level, with strerror(errnum) appended
 * unless errnum is 0, when limit lets the line through. errno is kept. */
void log_limited(struct log_limit *limit, enum log_level level, int errnum,
    const char *fmt, ...) LOG_FMT(4, 5);

void fatal(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));

#endif
