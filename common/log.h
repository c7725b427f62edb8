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
void fatal(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));

#endif
