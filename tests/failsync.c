/*
 * failsync.c - an LD_PRELOAD shim for tests: makes LMDB's commits fail on
 * demand, as a full or failing disk would.
 *
 * While the file named by $FAILSYNC_FLAG exists, fdatasync(2) and fsync(2)
 * on a file whose name ends in ".mdb" let as many calls through as the
 * number the flag file holds (0 when empty), then fail with EIO. Other
 * files (the spool's answers) are never touched. With $FAILSYNC_KILL set,
 * the process kills itself (SIGKILL) instead of failing: a crash at that
 * commit, which LMDB has not made durable yet (its meta page is written
 * after the sync). Not part of ssprd.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed;

static int
should_fail(int fd)
{
	const char *flag = getenv("FAILSYNC_FLAG");
	char link[64], path[4096];
	ssize_t n;
	FILE *f;
	int allow = 0;

	if (flag == NULL || (f = fopen(flag, "r")) == NULL) {
		passed = 0;
		return 0;
	}
	if (fscanf(f, "%d", &allow) != 1)
		allow = 0;
	fclose(f);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 4)
		return 0;
	path[n] = '\0';
	if (strcmp(path + n - 4, ".mdb") != 0)
		return 0;
	if (passed < allow) {
		passed++;
		return 0;
	}
	if (getenv("FAILSYNC_KILL") != NULL)
		raise(SIGKILL);
	return 1;
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	if (should_fail(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	if (should_fail(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
