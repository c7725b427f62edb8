/*
 * submit.c - ssprctl submit: be a front end for one request.
 *
 * Follows SPEC's contract exactly: the request is written under tmp/ with a
 * name nobody else uses, made durable, renamed into new/ (so ssprd never
 * sees half a file), and the answer is read from out/ID.json and then
 * removed, as a front end must. The request may hold a password: it is read
 * into secret memory and wiped once written.
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fdio.h"
#include "common/secret.h"
#include "ctl/ctl.h"

#define REQUEST_MAX (64 * 1024)

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= 64 && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The answer, or NULL while there is none. */
static char *
read_answer(const char *path)
{
	char *buf = NULL;
	size_t len;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return NULL;
	buf = malloc(REQUEST_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	len = fread(buf, 1, REQUEST_MAX, f);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int
ctl_submit(const struct config *cfg, const char *given_id, unsigned wait)
{
	const char *q = cfg->daemon.queue_dir;
	char id[65], tmp[4096], dst[4096], out[4096];
	char *req = secret_alloc(REQUEST_MAX + 1), *answer = NULL;
	size_t len = 0, n;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	time_t deadline;
	int fd, rc;

	if (given_id != NULL) {
		if (!id_ok(given_id)) {
			fprintf(stderr, "ssprctl: an ID is 1-64 of A-Z a-z 0-9 _ -\n");
			return 2;
		}
		snprintf(id, sizeof(id), "%s", given_id);
	} else {
		unsigned char r[8];
		char hex[17];

		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
		snprintf(id, sizeof(id), "ctl-%s", hex);
	}
	while ((n = fread(req + len, 1, REQUEST_MAX + 1 - len, stdin)) > 0)
		len += n;
	if (len > REQUEST_MAX) {
		fprintf(stderr, "ssprctl: a request is at most 64 KiB\n");
		secret_free(req);
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.json", q, id);
	snprintf(dst, sizeof(dst), "%s/new/%s.json", q, id);
	snprintf(out, sizeof(out), "%s/out/%s.json", q, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || fd_write_all(fd, req, len) != 0 || fsync(fd) != 0 ||
	    close(fd) != 0 || rename(tmp, dst) != 0) {
		fprintf(stderr, "ssprctl: cannot queue %s: %s\n", tmp,
		    strerror(errno));
		unlink(tmp);
		secret_free(req);
		return 2;
	}
	secret_free(req);

	deadline = time(NULL) + (time_t)wait;
	while ((answer = read_answer(out)) == NULL && time(NULL) < deadline)
		nanosleep(&pause, NULL);
	if (answer == NULL) {
		fprintf(stderr, "ssprctl: no answer for %s within %u s (it stays "
		    "queued)\n", id, wait);
		return 3;
	}
	unlink(out);
	printf("%s\n", answer);
	rc = strstr(answer, "\"status\":\"ok\"") != NULL ? 0 : 1;
	free(answer);
	return rc;
}
