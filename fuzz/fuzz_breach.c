/*
 * fuzz_breach.c - libFuzzer target for the breached-password index
 * (common/breach.c): the importer's parser and the reader of index files.
 *
 * An input whose first byte is even is a corpus text: breach_import()
 * must accept it or refuse it with a reason, and an index it writes must
 * open and find every hash the text held. An
 * input whose first byte is odd is the bytes of an index file as a
 * damaged or hostile one could be: breach_open() must refuse it or give
 * an index whose every lookup stays inside the mapping (ASan checks).
 *
 * Built by fuzz/run, not by automake.
 */
#include "build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/breach.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_breach: broken promise: %s "	\
		    "(%s:%d)\n", #cond, __FILE__, __LINE__);		\
		abort();						\
	}								\
} while (0)

static char dir[64], path[96];

static void
remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-breach.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/index", dir);
	atexit(remove_dir);
	return 0;
}

static int
hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Every "HASH:COUNT" line of an accepted text is found. */
static void
all_found(const struct breach *b, const char *text, size_t size)
{
	size_t hl = breach_hash_len(breach_kind(b)), i = 0;

	while (i < size) {
		const char *line = text + i, *nl = memchr(line, '\n', size - i);
		size_t len = nl ? (size_t)(nl - line) : size - i;
		uint8_t h[20];
		unsigned long long count = 0;

		i += len + 1;
		if (len < 2 * hl + 2)
			continue;
		for (size_t k = 0; k < hl; k++)
			h[k] = (uint8_t)(hexv(line[2 * k]) << 4 |
			    hexv(line[2 * k + 1]));
		for (size_t k = 2 * hl + 1; k < len && line[k] >= '0' &&
		    line[k] <= '9'; k++)
			count = count * 10 + (unsigned long long)(line[k] - '0');
		if (count < breach_min_count(b))
			continue;
		/* Found; its code is its own unless another line of the same
		 * bucket shares its four fingerprint bytes (the index's false
		 * positives: then the first one's code answers). */
		CHECK(breach_find(b, h) >= 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	struct breach *b;
	FILE *f;

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		struct breach_import_stats st;
		uint64_t min = data[0] >> 1;

		f = fmemopen((void *)(data + 1), size - 1, "r");
		if (f == NULL)
			return 0;
		if (breach_import(f, path, min, &st, err, sizeof(err)) != 0) {
			fclose(f);
			CHECK(err[0] != '\0');
			CHECK(access(path, F_OK) != 0);
			return 0;
		}
		fclose(f);
		b = breach_open(path, err, sizeof(err));
		CHECK(b != NULL);
		CHECK(breach_entries(b) == st.entries);
		all_found(b, (const char *)data + 1, size - 1);
		breach_close(b);
		unlink(path);
		return 0;
	}
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	b = breach_open(path, err, sizeof(err));
	if (b == NULL) {
		CHECK(err[0] != '\0');
	} else {
		uint8_t h[20] = { 0 };

		for (unsigned k = 0; k < 64; k++) {
			for (unsigned j = 0; j < 20; j++)
				h[j] = (uint8_t)(k * 37 + j * 11 + k * j);
			(void)breach_find(b, h);
		}
		memset(h, 0xff, sizeof(h));
		(void)breach_find(b, h);
		breach_close(b);
	}
	unlink(path);
	return 0;
}
