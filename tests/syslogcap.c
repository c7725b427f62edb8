/*
 * syslogcap.c - an LD_PRELOAD shim for tests: what a process (or a library
 * in it, such as Cyrus SASL) sends to syslog(3) is appended to the file
 * named by $SYSLOGCAP_FILE instead, one line per message, so a test can
 * read what would reach the journal. Not part of ssprd.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void
capture(const char *fmt, va_list ap)
{
	const char *path = getenv("SYSLOGCAP_FILE");
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fclose(f);
}

void
vsyslog(int pri, const char *fmt, va_list ap)
{
	(void)pri;
	capture(fmt, ap);
}

void
syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void
__syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void
__vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}
