/*
 * mailsink.c - tests/fixtures/mailsink.sh in one process, for bench/e2e.
 *
 *   mailsink DIR
 *
 * Reads one message on stdin and leaves it in DIR as a file of its own,
 * written under a temporary dot name and renamed to NNN.msg, so a reader
 * never sees half a message; exit status 0. The shell script runs seven
 * programs per message, which made the benchmark measure the sink; a
 * mailer such as msmtp is one program too.
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char buf[65536], tmp[4096], final[4096];
	struct timespec ts;
	ssize_t n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: mailsink DIR\n");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), "%s/.in.%ld", argv[1], (long)getpid());
	snprintf(final, sizeof(final), "%s/%lld%09ld-%ld.msg", argv[1],
	    (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
	if ((fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600)) == -1)
		goto fail;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || write(fd, buf, (size_t)n) != n)
			goto fail;
	}
	if (close(fd) == -1 || rename(tmp, final) == -1)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "mailsink: %s: %s\n", argv[1], strerror(errno));
	return 1;
}
