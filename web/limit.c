/*
 * limit.c - requests per client address, before anything else is done.
 *
 * ssprd throttles what matters (codes sent, failed proofs) keyed on the
 * account the directory resolves and on the client address ssprweb passes
 * on. This is the portal's own first line: at most [web]
 * requests_per_minute requests (pages and forms; not the style sheet,
 * script or logo) per address and minute, IPv6 counted per /64
 * (netaddr_group), so one client cannot fill the session table or the
 * spool. A fixed table of counters: a new address takes the slot of one
 * whose minute has passed, or else of the one that hashes there, so memory
 * is bounded whatever a flood of addresses does.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/netaddr.h"
#include "common/xalloc.h"
#include "web/web.h"

#define SLOTS 4096

struct slot {
	char key[NETADDR_GROUP_MAX];
	double start;
	unsigned count;
};

static struct slot *slots;
static unsigned per_minute;
static unsigned char hkey[crypto_shorthash_KEYBYTES];

int
limit_init(unsigned limit)
{
	per_minute = limit;
	slots = xcalloc(SLOTS, sizeof(*slots));
	randombytes_buf(hkey, sizeof(hkey));
	return 0;
}

void
limit_shutdown(void)
{
	free(slots);
	slots = NULL;
}

bool
limit_take(const char *client, double now)
{
	char key[NETADDR_GROUP_MAX];
	unsigned char h[crypto_shorthash_BYTES];
	struct slot *s;
	uint64_t i;

	if (per_minute == 0)
		return true;
	netaddr_group(client, key, sizeof(key));
	/* keyed hash: a stranger cannot aim his addresses at one slot */
	crypto_shorthash(h, (const unsigned char *)key, strlen(key), hkey);
	memcpy(&i, h, sizeof(i));
	s = &slots[i % SLOTS];
	if (strcmp(s->key, key) != 0 || now - s->start >= 60) {
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->start = now;
		s->count = 0;
	}
	if (s->count >= per_minute)
		return false;
	s->count++;
	return true;
}
