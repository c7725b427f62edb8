/*
 * xalloc.h - allocation that cannot fail quietly.
 *
 * ssprd allocates little and at known points; running out of memory there is
 * not a state to limp on in (a half-built request or config is worse than a
 * restart by systemd), so these abort with a log line instead of returning
 * NULL.
 */
#ifndef SSPRD_XALLOC_H
#define SSPRD_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
