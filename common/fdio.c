/*
 * fdio.c - whole writes to a file descriptor (the spool's request files,
 * written by ssprctl and ssprweb).
 */
#include "build.h"

#include <errno.h>
#include <unistd.h>

#include "common/fdio.h"

int
fd_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}
