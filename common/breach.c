/*
 * breach.c - the breached-password index: import and lookup (see breach.h).
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/breach.h"

#define MAGIC "SSPRDBR1"
#define FORMAT_VERSION 1
#define HEADER 64
#define RECORD 5
/* Average entries per bucket: at most this many (b is the smallest that
 * gives it, so at least half of it). */
#define BUCKET_TARGET 128

struct breach {
	const uint8_t *map;
	size_t size;
	enum breach_kind kind;
	uint64_t n;
	unsigned bits;
	uint64_t min_count;
	const uint8_t *records;
	const uint8_t *table;
};

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
say(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

size_t
breach_hash_len(enum breach_kind k)
{
	return k == BREACH_NTLM ? 16 : 20;
}

unsigned
breach_count_code(uint64_t count)
{
	/* 2^(j/8), j = 0..7, in 20-bit fixed point */
	static const uint64_t step[8] = { 1048576, 1143429, 1246863, 1359652,
	    1482642, 1616758, 1763024, 1922570 };
	unsigned k = 0, j = 0, code;
	uint64_t m;

	if (count < 64)
		return (unsigned)count;
	if (count >= (uint64_t)1 << 30)
		return 255;
	while ((count >> k) >= 128)
		k++;
	m = (count << 20) >> (k + 6);	/* count / (64 * 2^k), in [1, 2) */
	while (j < 7 && step[j + 1] <= m)
		j++;
	code = 64 + 8 * k + j;
	return code > 255 ? 255 : code;
}

/* --- lookup ------------------------------------------------------------- */

struct breach *
breach_open(const char *path, char *err, size_t errsize)
{
	struct breach *b;
	struct stat st;
	const uint8_t *m;
	uint64_t rec_off, tab_off, nb, prev;
	unsigned rec;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		say(err, errsize, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < HEADER) {
		say(err, errsize, "%s: not a breached-password index (too "
		    "short)", path);
		close(fd);
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		say(err, errsize, "%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		munmap((void *)m, (size_t)st.st_size);
		say(err, errsize, "out of memory");
		return NULL;
	}
	b->map = m;
	b->size = (size_t)st.st_size;
	if (memcmp(m, MAGIC, 8) != 0 || get32(m + 8) != FORMAT_VERSION) {
		say(err, errsize, "%s: not a breached-password index of this "
		    "version (make it again with ssprctl breach-import)", path);
		goto bad;
	}
	b->kind = (enum breach_kind)get32(m + 12);
	b->n = get64(m + 16);
	b->bits = get32(m + 24);
	rec = get32(m + 28);
	b->min_count = get64(m + 32);
	rec_off = get64(m + 40);
	tab_off = get64(m + 48);
	nb = (uint64_t)1 << (b->bits <= BREACH_BITS_MAX ? b->bits : 0);
	if ((b->kind != BREACH_SHA1 && b->kind != BREACH_NTLM) ||
	    b->bits > BREACH_BITS_MAX || rec != RECORD || rec_off != HEADER ||
	    get64(m + 56) != (uint64_t)st.st_size ||
	    b->n > ((uint64_t)st.st_size - HEADER) / RECORD ||
	    tab_off < HEADER + b->n * RECORD || tab_off % 8 != 0 ||
	    tab_off > (uint64_t)st.st_size ||
	    ((uint64_t)st.st_size - tab_off) / 8 != nb + 1 ||
	    ((uint64_t)st.st_size - tab_off) % 8 != 0) {
		say(err, errsize, "%s: damaged breached-password index "
		    "(header and size disagree)", path);
		goto bad;
	}
	b->records = m + rec_off;
	b->table = m + tab_off;
	/* The ends here; each bucket's bounds at its lookup (breach_find()):
	 * walking the whole table would bring it all into memory. */
	prev = get64(b->table + 8 * nb);
	if (get64(b->table) != 0 || prev != b->n) {
		say(err, errsize, "%s: damaged breached-password index "
		    "(bucket table)", path);
		goto bad;
	}
	/* Lookups go anywhere: read ahead would only fill the page cache. */
	(void)madvise((void *)m, b->size, MADV_RANDOM);
	return b;
bad:
	breach_close(b);
	return NULL;
}

void
breach_close(struct breach *b)
{
	if (b == NULL)
		return;
	munmap((void *)b->map, b->size);
	free(b);
}

enum breach_kind
breach_kind(const struct breach *b)
{
	return b->kind;
}

uint64_t
breach_entries(const struct breach *b)
{
	return b->n;
}

uint64_t
breach_min_count(const struct breach *b)
{
	return b->min_count;
}

unsigned
breach_bits(const struct breach *b)
{
	return b->bits;
}

int
breach_find(const struct breach *b, const uint8_t *hash)
{
	uint64_t k = b->bits ? be32(hash) >> (32 - b->bits) : 0;
	uint64_t lo = get64(b->table + 8 * k), hi = get64(b->table + 8 * k + 8);
	uint8_t fp[4];

	if (lo > hi || hi > b->n)
		return -1;	/* damaged: never read outside the records */
	memcpy(fp, hash + 4, 4);
	for (uint64_t i = lo; i < hi; i++) {
		const uint8_t *r = b->records + i * RECORD;

		if (memcmp(r, fp, 4) == 0)
			return r[4];
	}
	return -1;
}

/* --- import ------------------------------------------------------------- */

/* Hex digit values, -1 for anything else: one load per digit. */
static signed char hexv[256];

static void
hex_init(void)
{
	memset(hexv, -1, sizeof(hexv));
	for (int c = 0; c < 10; c++)
		hexv['0' + c] = (signed char)c;
	for (int c = 0; c < 6; c++) {
		hexv['A' + c] = (signed char)(10 + c);
		hexv['a' + c] = (signed char)(10 + c);
	}
}

/* "HASH:COUNT" into hash (n bytes, the first line sets n) and count. */
static bool
parse_line(const char *s, size_t len, uint8_t *hash, size_t *n,
    uint64_t *count)
{
	size_t h = 0, i;
	uint64_t c = 0;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && s[i] != ':'; i++)
		;
	if (i != 40 && i != 32)
		return false;
	if (*n != 0 && i != 2 * *n)
		return false;
	for (h = 0; h < i / 2; h++) {
		int a = hexv[(unsigned char)s[2 * h]];
		int b = hexv[(unsigned char)s[2 * h + 1]];

		if (a < 0 || b < 0)
			return false;
		hash[h] = (uint8_t)(a << 4 | b);
	}
	if (++i >= len)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || c > (UINT64_MAX - 9) / 10)
			return false;
		c = c * 10 + (uint64_t)(s[i] - '0');
	}
	*n = h;
	*count = c;
	return true;
}

int
breach_import(FILE *in, const char *out_path, uint64_t min_count,
    struct breach_import_stats *st, char *err, size_t errsize)
{
	const uint64_t fine_n = (uint64_t)1 << BREACH_BITS_MAX;
	uint32_t *fine = calloc(fine_n, sizeof(*fine));
	static const uint8_t zeros[8];
	uint8_t hash[20], prev[20], head[HEADER] = { 0 }, rec[RECORD];
	size_t hlen = 0, cap = 0, tmplen = strlen(out_path) + 16;
	char *line = NULL, *tmp = malloc(tmplen);
	ssize_t got;
	uint64_t count, n = 0, lines = 0, off, sum, pad;
	unsigned bits = 0;
	FILE *out = NULL;
	int fd = -1;

	memset(st, 0, sizeof(*st));
	hex_init();
	if (fine == NULL || tmp == NULL) {
		say(err, errsize, "out of memory");
		goto fail;
	}
	snprintf(tmp, tmplen, "%s.tmpXXXXXX", out_path);
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0644) != 0 ||
	    (out = fdopen(fd, "w")) == NULL) {
		say(err, errsize, "%s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		fd = -1;
		goto fail;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	if (fwrite(head, 1, HEADER, out) != HEADER)
		goto io;
	while ((got = getline(&line, &cap, in)) > 0) {
		lines++;
		if (!parse_line(line, (size_t)got, hash, &hlen, &count)) {
			say(err, errsize, "line %llu: not HASH:COUNT (40 hex "
			    "digits of SHA-1 or 32 of NTLM, the same on every "
			    "line, then a count)", (unsigned long long)lines);
			goto fail;
		}
		if (lines > 1 && memcmp(prev, hash, hlen) >= 0) {
			say(err, errsize, "line %llu: not in ascending order of "
			    "hash (or a duplicate); use the ordered-by-hash "
			    "download", (unsigned long long)lines);
			goto fail;
		}
		memcpy(prev, hash, hlen);
		if (count < min_count)
			continue;
		memcpy(rec, hash + 4, 4);
		rec[4] = (uint8_t)breach_count_code(count);
		if (fwrite_unlocked(rec, 1, RECORD, out) != RECORD)
			goto io;
		fine[be32(hash) >> (32 - BREACH_BITS_MAX)]++;
		n++;
	}
	if (ferror(in)) {
		say(err, errsize, "reading the input: %s", strerror(errno));
		goto fail;
	}
	if (lines == 0) {
		say(err, errsize, "the input has no lines");
		goto fail;
	}
	while (bits < BREACH_BITS_MAX &&
	    (n >> bits) > BUCKET_TARGET)
		bits++;
	off = HEADER + n * RECORD;
	pad = (8 - off % 8) % 8;
	if (pad > 0 && fwrite(zeros, 1, pad, out) != pad)
		goto io;
	off += pad;
	sum = 0;
	for (uint64_t k = 0; k <= ((uint64_t)1 << bits); k++) {
		uint8_t v[8];
		uint64_t span = fine_n >> bits;

		put64(v, sum);
		if (fwrite(v, 1, 8, out) != 8)
			goto io;
		if (k < ((uint64_t)1 << bits))
			for (uint64_t f = k * span; f < (k + 1) * span; f++)
				sum += fine[f];
	}
	memcpy(head, MAGIC, 8);
	put32(head + 8, FORMAT_VERSION);
	put32(head + 12, hlen == 16 ? BREACH_NTLM : BREACH_SHA1);
	put64(head + 16, n);
	put32(head + 24, bits);
	put32(head + 28, RECORD);
	put64(head + 32, min_count);
	put64(head + 40, HEADER);
	put64(head + 48, off);
	put64(head + 56, off + 8 * (((uint64_t)1 << bits) + 1));
	if (fflush(out) != 0 || pwrite(fd, head, HEADER, 0) != HEADER ||
	    fsync(fd) != 0)
		goto io;
	if (fclose(out) != 0) {
		out = NULL;
		goto io;
	}
	out = NULL;
	if (rename(tmp, out_path) != 0) {
		say(err, errsize, "%s: %s", out_path, strerror(errno));
		goto fail;
	}
	st->lines = lines;
	st->entries = n;
	st->bits = bits;
	st->bytes = off + 8 * (((uint64_t)1 << bits) + 1);
	free(line);
	free(fine);
	free(tmp);
	return 0;
io:
	say(err, errsize, "%s: %s", tmp, strerror(errno));
fail:
	if (out != NULL)
		fclose(out);
	if (fd >= 0 || out != NULL)
		unlink(tmp);
	free(line);
	free(fine);
	free(tmp);
	return -1;
}
