/*
 * secret.c - slots and blocks for secrets (see secret.h).
 *
 * Two sizes of slot: SECRET_SLOT bytes (passwords, codes, request files)
 * and SECRET_BIG_SLOT bytes (the mail and SMS messages that carry a code).
 * Each size has its own slabs and free list. A slot is wiped when freed,
 * so a free list only ever holds zeroes past its link.
 */
#include "build.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"

#define SECRET_BIG_SLOT 2048

struct slot {
	struct slot *next;
};

struct slot_size {
	size_t		 size;		/* bytes in a slot */
	size_t		 per_slab;	/* slots in a slab */
	struct slot	*free_slots;
	char		**slabs;	/* few: a linear search is enough */
	size_t		 nslabs;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot_size sizes[] = {
	{ SECRET_SLOT, 256, NULL, NULL, 0 },		/* 64 KiB slabs */
	{ SECRET_BIG_SLOT, 32, NULL, NULL, 0 },		/* 64 KiB slabs */
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The slot size p belongs to, or NULL when p is a block of its own. */
static struct slot_size *
size_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	for (size_t k = 0; k < NSIZES; k++)
		for (size_t i = 0; i < sizes[k].nslabs; i++) {
			uintptr_t b = (uintptr_t)sizes[k].slabs[i];

			if (a >= b && a < b + sizes[k].size * sizes[k].per_slab)
				return &sizes[k];
		}
	return NULL;
}

static void
grow(struct slot_size *z)
{
	char *slab = sodium_malloc(z->size * z->per_slab);

	if (slab == NULL)
		fatalx("secret: out of protected memory");
	z->slabs = xreallocarray(z->slabs, z->nslabs + 1, sizeof(*z->slabs));
	z->slabs[z->nslabs++] = slab;
	for (size_t i = z->per_slab; i-- > 0;) {
		struct slot *s = (struct slot *)(void *)(slab + i * z->size);

		s->next = z->free_slots;
		z->free_slots = s;
	}
}

void *
secret_alloc(size_t n)
{
	struct slot_size *z = NULL;
	void *p;

	for (size_t k = 0; k < NSIZES && z == NULL; k++)
		if (n <= sizes[k].size)
			z = &sizes[k];
	if (z == NULL) {
		if ((p = sodium_malloc(n)) == NULL)
			fatalx("secret: out of protected memory");
		return p;
	}
	pthread_mutex_lock(&mu);
	if (z->free_slots == NULL)
		grow(z);
	p = z->free_slots;
	z->free_slots = z->free_slots->next;
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

bool
secret_is_slot(const void *p)
{
	bool slot;

	pthread_mutex_lock(&mu);
	slot = size_of(p) != NULL;
	pthread_mutex_unlock(&mu);
	return slot;
}

void
secret_free(void *p)
{
	struct slot_size *z;

	if (p == NULL)
		return;
	pthread_mutex_lock(&mu);
	if ((z = size_of(p)) != NULL) {
		struct slot *s = p;

		sodium_memzero(p, z->size);
		s->next = z->free_slots;
		z->free_slots = s;
	}
	pthread_mutex_unlock(&mu);
	if (z == NULL)
		sodium_free(p);		/* wipes */
}
