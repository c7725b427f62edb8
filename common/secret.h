/*
 * secret.h - memory for passwords, codes and answers.
 *
 * Every block is locked out of swap (as far as RLIMIT_MEMLOCK allows), kept
 * out of core dumps and wiped when freed. Small blocks (up to SECRET_SLOT
 * bytes: nearly every password and request; up to 2 KiB: messages) are
 * slots carved from libsodium sodium_malloc() slabs; bigger ones are
 * sodium_malloc() blocks of their own, with guard pages. One sodium_malloc() per password costs several system
 * calls and memory mappings; with slots a burst of ten thousand queued
 * resets stays cheap and within the kernel's mapping limit (bench/README.md).
 * Slots share a slab, so they have no guard page between them: an overrun
 * of one reaches its neighbour, not unprotected memory.
 *
 * Safe to call from any thread. Allocation failure is fatal.
 */
#ifndef SSPRD_SECRET_H
#define SSPRD_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define SECRET_SLOT 256

void *secret_alloc(size_t n);
/* A NUL-terminated copy of the len bytes at s. */
char *secret_dup(const char *s, size_t len);
/* Wipe and release; NULL is fine. */
void secret_free(void *p);
/* Is p a slot handed out by secret_alloc() (not a block of its own)? For
 * tests that check where a secret went. */
bool secret_is_slot(const void *p);

#endif
