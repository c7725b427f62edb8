/*
 * secret.c - slots and blocks for secrets (see secret.h).
 */
#include "build.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"

#define SLAB_SLOTS 256
#define SLAB_SIZE (SECRET_SLOT * SLAB_SLOTS)

struct slot {
	struct slot *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *free_slots;
static char **slabs;		/* sorted by address is not needed: few */
static size_t nslabs;

/* Is p a slot (inside one of our slabs)? */
static bool
is_slot(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	for (size_t i = 0; i < nslabs; i++) {
		uintptr_t b = (uintptr_t)slabs[i];

		if (a >= b && a < b + SLAB_SIZE)
			return true;
	}
	return false;
}

static void
grow(void)
{
	char *slab = sodium_malloc(SLAB_SIZE);

	if (slab == NULL)
		fatalx("secret: out of protected memory");
	slabs = xreallocarray(slabs, nslabs + 1, sizeof(*slabs));
	slabs[nslabs++] = slab;
	for (size_t i = SLAB_SLOTS; i-- > 0;) {
		struct slot *s = (struct slot *)(void *)(slab + i * SECRET_SLOT);

		s->next = free_slots;
		free_slots = s;
	}
}

void *
secret_alloc(size_t n)
{
	void *p;

	if (n > SECRET_SLOT) {
		if ((p = sodium_malloc(n)) == NULL)
			fatalx("secret: out of protected memory");
		return p;
	}
	pthread_mutex_lock(&mu);
	if (free_slots == NULL)
		grow();
	p = free_slots;
	free_slots = free_slots->next;
	pthread_mutex_unlock(&mu);
	return p;
}

char *
secret_dup(const char *s, size_t len)
{
	char *p = secret_alloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
secret_free(void *p)
{
	bool slot;

	if (p == NULL)
		return;
	pthread_mutex_lock(&mu);
	slot = is_slot(p);
	if (slot) {
		struct slot *s = p;

		sodium_memzero(p, SECRET_SLOT);
		s->next = free_slots;
		free_slots = s;
	}
	pthread_mutex_unlock(&mu);
	if (!slot)
		sodium_free(p);		/* wipes */
}
