/*
 * breach.h - an offline index of breached passwords' hashes, built by
 * `ssprctl breach-import` from the Pwned Passwords download format and
 * mapped read-only by ssprd.
 *
 * Input: lines "HASH:COUNT" in ascending order of HASH (40 hex digits of
 * SHA-1, or 32 of NTLM; upper or lower case; "\r\n" or "\n"), as the
 * downloadable "ordered by hash" files are. Out-of-order or duplicate lines
 * are refused with their line number: the index is built in one pass.
 *
 * The file (all integers little-endian):
 *   0   "SSPRDBR1"
 *   8   u32 version (1), u32 hash kind (enum breach_kind)
 *   16  u64 entries
 *   24  u32 bucket bits b (0..22), u32 record size (5)
 *   32  u64 min_count (lines below it were left out at import)
 *   40  u64 offset of the records (64)
 *   48  u64 offset of the bucket table
 *   56  u64 file size
 *   64  records, one per entry in input order: 4 fingerprint bytes (the
 *       hash's bytes 4..7), 1 count code (breach_count_code())
 *   ... zero padding to 8 bytes, then the table: 2^b + 1 u64, the index of
 *       the first record whose hash starts with each b-bit prefix, and n.
 *
 * A lookup reads the table entry for the hash's first b bits and compares
 * the fingerprint with that bucket's records: b is chosen so that a bucket
 * holds 64 to 128 entries on average, so a lookup touches one or two pages,
 * and a hash not in the corpus matches only when one of its bucket's
 * entries has the same 32 fingerprint bits: a false positive rate of about
 * bucket size / 2^32 (3e-8 at 128). 5 bytes per entry plus the table (8
 * bytes per 64 to 128 entries).
 */
#ifndef SSPRD_BREACH_H
#define SSPRD_BREACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum breach_kind {
	BREACH_SHA1 = 1,	/* SHA-1 of the password's UTF-8 bytes */
	BREACH_NTLM = 2,	/* MD4 of its UTF-16LE form */
};

#define BREACH_BITS_MAX 22

struct breach;

/* Map PATH read-only and check its structure (header, sizes, the bucket
 * table's ends; each bucket's bounds are checked at its lookup, so opening
 * reads two pages, not the table). NULL with a reason in err. */
struct breach *breach_open(const char *path, char *err, size_t errsize);
void breach_close(struct breach *b);

enum breach_kind breach_kind(const struct breach *b);
uint64_t breach_entries(const struct breach *b);
uint64_t breach_min_count(const struct breach *b);
unsigned breach_bits(const struct breach *b);		/* b */
size_t breach_hash_len(enum breach_kind k);	/* 20 or 16 */

/* The count code of the entry whose hash is hash (breach_hash_len()
 * bytes), or -1 when there is none. */
int breach_find(const struct breach *b, const uint8_t *hash);

/* A count as one byte: exact below 64, then 8 steps per doubling (each
 * code's counts within 9 % of each other), 255 for 2^30 and more.
 * Monotonic: count >= min implies code(count) >= code(min). */
unsigned breach_count_code(uint64_t count);

struct breach_import_stats {
	uint64_t lines;		/* read */
	uint64_t entries;	/* kept */
	unsigned bits;		/* b */
	uint64_t bytes;		/* the file's size */
};

/*
 * Read in (to its end) and write the index to out_path, through a
 * temporary file in the same folder renamed into place once complete and
 * synced. Lines whose COUNT is below min_count are left out. 0, or -1 with
 * the reason (and line number) in err; nothing is left at out_path then.
 */
int breach_import(FILE *in, const char *out_path, uint64_t min_count,
    struct breach_import_stats *st, char *err, size_t errsize);

#endif
