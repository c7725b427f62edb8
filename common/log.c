/*
 * log.c - levels, journal priorities, one event per line (see log.h).
 */
#include "build.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define LOG_LINE_MAX 2048

static enum log_level threshold = LOG_LEVEL_INFO;
static bool journal;

/* Priorities as in syslog(3), which the journal reads from "<N>". */
static const struct {
	int prio;
	const char *name;
} levels[] = {
	[LOG_LEVEL_ERROR] = { 3, "error" },
	[LOG_LEVEL_WARNING] = { 4, "warning" },
	[LOG_LEVEL_INFO] = { 6, "info" },
	[LOG_LEVEL_DEBUG] = { 7, "debug" },
};

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd gave us; it only
 * counts while stderr is still that stream. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(enum log_level level)
{
	threshold = level;
	journal = stderr_is_journal();
}

void
log_set_level(enum log_level level)
{
	threshold = level;
}

bool
log_to_journal(void)
{
	return journal;
}

static void vlog(enum log_level level, int errnum, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
vlog(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 4 + 256];
	size_t n = 0;
	int len;

	if (level > threshold)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		return;

	if (journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", levels[level].prio);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s: ",
		    ts.tv_nsec / 1000000, levels[level].name);
	}
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			if (*p == '\\')
				n += (size_t)snprintf(line + n, sizeof(line) - n, "\\\\");
			else
				n += (size_t)snprintf(line + n, sizeof(line) - n,
				    "\\x%02x", *p);
		} else {
			line[n++] = (char)*p;
		}
	}
	if ((size_t)len >= sizeof(msg))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "...");
	if (errnum != 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(errnum));
	line[n++] = '\n';
	/* One write(2) per event keeps lines whole between processes. */
	(void)!write(STDERR_FILENO, line, n);
}

#define LOGGER(name, level, with_errno)				\
void									\
name(const char *fmt, ...)						\
{									\
	int saved = errno;						\
	va_list ap;							\
									\
	va_start(ap, fmt);						\
	vlog(level, with_errno ? saved : 0, fmt, ap);			\
	va_end(ap);							\
	errno = saved;							\
}

LOGGER(log_error, LOG_LEVEL_ERROR, true)
LOGGER(log_errorx, LOG_LEVEL_ERROR, false)
LOGGER(log_warn, LOG_LEVEL_WARNING, true)
LOGGER(log_warnx, LOG_LEVEL_WARNING, false)
LOGGER(log_info, LOG_LEVEL_INFO, false)
LOGGER(log_debug, LOG_LEVEL_DEBUG, false)

/* Limiters are static structs that libevent's worker threads may reach
 * too (its log callback): one lock for all, held for a few comparisons. */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(enum log_level level, const char *fmt, ...)
    LOG_FMT(2, 3);

static void
log_line(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

void
log_limited(struct log_limit *limit, enum log_level level, int errnum,
    const char *fmt, ...)
{
	int saved = errno;
	char msg[LOG_LINE_MAX], more[64] = "";
	unsigned long held;
	double now;
	va_list ap;
	bool pass;

	if (level > threshold)
		return;
	now = mono_now();
	pthread_mutex_lock(&limit_lock);
	if (limit->passed == 0 || now - limit->start >= limit->interval) {
		limit->start = now;
		limit->passed = 0;
	}
	pass = limit->passed < limit->burst;
	held = limit->held;
	if (pass) {
		limit->passed++;
		limit->held = 0;
	} else {
		limit->held++;
	}
	pthread_mutex_unlock(&limit_lock);
	if (!pass) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more like it held back)",
		    held);
	log_line(level, "%s%s%s%s", msg, errnum ? ": " : "",
	    errnum ? strerror(errnum) : "", more);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
