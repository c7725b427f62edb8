/*
 * fdio.h - whole writes to a file descriptor.
 */
#ifndef SSPRD_FDIO_H
#define SSPRD_FDIO_H

#include <stddef.h>

/* Write all len bytes at p to fd, again after EINTR and short writes.
 * 0, or -1 with errno set. */
int fd_write_all(int fd, const void *p, size_t len);

#endif
