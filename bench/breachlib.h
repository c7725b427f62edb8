/*
 * breachlib.h - the synthetic breached-password corpus shared by
 * bench/breachgen (which writes it) and bench/breachbench (which looks its
 * entries up): entry i of n is computed from i alone, so the benchmark can
 * pick members at random without reading the corpus.
 *
 * Entry i's hash: its first 8 bytes, as a big-endian number, fall in the
 * i-th of n equal slices of 2^64 (so the corpus is in ascending order, as
 * the "ordered by hash" downloads are, and spread evenly like SHA-1); the
 * rest are pseudo-random. Counts: 1 to 8 for most, a long tail up to 10^6.
 */
#ifndef SSPRD_BENCH_BREACHLIB_H
#define SSPRD_BENCH_BREACHLIB_H

#include <stdint.h>

static inline uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline void
breach_synthetic(uint64_t i, uint64_t n, uint8_t hash[20], uint64_t *count)
{
	uint64_t slice = UINT64_MAX / n;
	uint64_t top = i * slice + splitmix64(4 * i) % slice;
	uint64_t r1 = splitmix64(4 * i + 1), r2 = splitmix64(4 * i + 2);
	uint64_t r3 = splitmix64(4 * i + 3);

	for (int k = 0; k < 8; k++) {
		hash[k] = (uint8_t)(top >> (56 - 8 * k));
		hash[8 + k] = (uint8_t)(r1 >> (8 * k));
	}
	for (int k = 0; k < 4; k++)
		hash[16 + k] = (uint8_t)(r2 >> (8 * k));
	*count = r3 % 10 < 9 ? 1 + r3 % 8 : 1 + (r3 >> 8) % 1000000;
}

#endif
