/*
 * fuzz_config.c - libFuzzer target for config_load() (config/config.c,
 * config/values.c and inih underneath).
 *
 * config_load() takes a path, so each input is written to a file in a
 * private directory made once per process, loaded, and unlinked. Whatever
 * the file says, config_load() must return either a snapshot (errors == 0)
 * or NULL with at least one error, every diagnostic must be a
 * "FILE:LINE: " line, and everything must be freed (LSan checks).
 *
 * Inputs naming /dev, /proc or /sys are skipped: the loader reads the files
 * a configuration names (bind password, templates, banned passwords), and a
 * device such as /dev/zero or /dev/stdin would make a hang, not a bug.
 *
 * Built by fuzz/run, not by automake.
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_config: broken promise: %s "	\
		    "(%s:%d)\n", #cond, __FILE__, __LINE__);		\
		abort();						\
	}								\
} while (0)

static char dir[64];
static char ini[96];

static void
remove_dir(void)
{
	unlink(ini);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	log_init(LOG_LEVEL_ERROR);
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		exit(1);
	}
	snprintf(ini, sizeof(ini), "%s/ssprd.ini", dir);
	atexit(remove_dir);
	return 0;
}

static bool
names_device(const uint8_t *data, size_t size)
{
	static const char *const bad[] = { "/dev", "/proc", "/sys" };

	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
		if (memmem(data, size, bad[b], strlen(bad[b])) != NULL)
			return true;
	return false;
}

static void
write_input(const uint8_t *data, size_t size)
{
	int fd = open(ini, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0) {
		perror("fuzz_config: open");
		abort();
	}
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz_config: write");
			abort();
		}
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		perror("fuzz_config: close");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_diag diag;
	struct config *cfg;
	size_t errors = 0, plen = strlen(ini);

	if (names_device(data, size))
		return -1;	/* not kept in the corpus */
	write_input(data, size);
	memset(&diag, 0, sizeof(diag));
	cfg = config_load(ini, &diag);
	unlink(ini);

	for (size_t i = 0; i < diag.n; i++) {
		CHECK(diag.lines[i] != NULL);
		CHECK(strncmp(diag.lines[i], ini, plen) == 0 &&
		    diag.lines[i][plen] == ':');
		if (diag.is_error[i])
			errors++;
	}
	CHECK(errors == diag.errors);
	if (cfg != NULL) {
		CHECK(diag.errors == 0);
		CHECK(cfg->directory.uris.n >= 1);
		CHECK(cfg->directory.uris.v[cfg->directory.uris.n] == NULL);
		CHECK(config_log_level_name(cfg->daemon.log_level) != NULL);
		CHECK(config_dir_type_name(cfg->directory.type) != NULL);
		/* A reference taken and dropped must not free it. */
		CHECK(config_ref(cfg) == cfg);
		config_free(cfg);
		CHECK(cfg->refs == 1);
		config_free(cfg);
	} else {
		CHECK(diag.errors >= 1);
	}
	config_diag_free(&diag);
	return 0;
}
