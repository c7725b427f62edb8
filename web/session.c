/*
 * session.c - each visitor's progress through a flow, in memory only.
 *
 * The browser holds a cookie with nothing but the session's id: 256 random
 * bits from libsodium. Everything else (the user name typed, the ticket,
 * the password a registration needs for each step) stays here and is
 * wiped when the session ends. Sessions end after [web] session_idle
 * seconds without a request, or when [web] max_sessions are live and a new
 * one is needed (the least recently used goes first), or when ssprweb
 * stops. Nothing is written to disk, so a restart forgets every session:
 * the visitor starts the flow again, and ssprd's tickets simply expire.
 *
 * A CSRF token is the HMAC-SHA-256 of the session id under the session
 * key ([web] session_key_file): tied to the session, unguessable without
 * the key, and kept nowhere. Ids and tokens are compared in constant time.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "web/web.h"

static struct session **buckets;
static size_t nbuckets;		/* a power of two */
static struct session *oldest, *newest;
static unsigned count, max_count, idle;

/* The bucket of an id: its first 16 hex digits (random bits). */
static size_t
bucket_of(const char *id)
{
	uint64_t h = 0;
	int i;

	for (i = 0; i < 16; i++)
		h = h << 4 | (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return (size_t)(h & (nbuckets - 1));
}

int
session_init(unsigned max, unsigned idle_seconds)
{
	max_count = max;
	idle = idle_seconds;
	for (nbuckets = 64; nbuckets < 2 * (size_t)max; nbuckets *= 2)
		;
	buckets = xcalloc(nbuckets, sizeof(*buckets));
	return 0;
}

static void
lru_unlink(struct session *s)
{
	if (s->lru_prev != NULL)
		s->lru_prev->lru_next = s->lru_next;
	else
		oldest = s->lru_next;
	if (s->lru_next != NULL)
		s->lru_next->lru_prev = s->lru_prev;
	else
		newest = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void
lru_push(struct session *s)
{
	s->lru_prev = newest;
	s->lru_next = NULL;
	if (newest != NULL)
		newest->lru_next = s;
	else
		oldest = s;
	newest = s;
}

void
session_reset_flow(struct session *s, enum flow flow)
{
	unsigned i;

	for (i = 0; i < s->nquestions; i++)
		free(s->questions[i]);
	secret_free(s->password);
	secret_free(s->totp_uri);
	json_decref(s->own_policy);
	s->own_policy = NULL;
	s->nquestions = 0;
	s->password = s->totp_uri = NULL;
	sodium_memzero(s->user, sizeof(s->user));
	sodium_memzero(s->ticket, sizeof(s->ticket));
	s->flow = flow;
	s->step = flow == FLOW_REGISTER ? STEP_LOGIN : STEP_USER;
	s->method = s->verified = 0;
	s->sent_to[0] = '\0';
	s->registered = s->offered = s->pending = s->confirmed = 0;
	s->enough = s->reconfirm_due = false;
	s->required = 0;
}

static void
session_free(struct session *s)
{
	struct session **pp = &buckets[bucket_of(s->id)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	lru_unlink(s);
	session_reset_flow(s, FLOW_NONE);
	/* a session with a spool request under way is only detached: the
	 * request's callback owns it now and frees it (queue_cancel) */
	queue_cancel(s);
	sodium_memzero(s, sizeof(*s));
	free(s);
	count--;
}

struct session *
session_find(const char *id)
{
	struct session *s;

	if (strlen(id) != WEB_ID_HEX || strspn(id, "0123456789abcdef") != WEB_ID_HEX)
		return NULL;
	for (s = buckets[bucket_of(id)]; s != NULL; s = s->hnext)
		if (sodium_memcmp(s->id, id, WEB_ID_HEX) == 0)
			break;
	if (s == NULL)
		return NULL;
	if (!s->busy && mono_now() - s->last_used > idle) {
		session_free(s);
		return NULL;
	}
	s->last_used = mono_now();
	lru_unlink(s);
	lru_push(s);
	return s;
}

struct session *
session_new(void)
{
	struct session *s;
	unsigned char r[WEB_ID_HEX / 2];
	size_t b;

	session_sweep(mono_now());
	while (count >= max_count && oldest != NULL && !oldest->busy)
		session_free(oldest);
	if (count >= max_count)
		return NULL;	/* every session is waiting for ssprd */
	s = xcalloc(1, sizeof(*s));
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(s->id, sizeof(s->id), r, sizeof(r));
	s->last_used = mono_now();
	b = bucket_of(s->id);
	s->hnext = buckets[b];
	buckets[b] = s;
	lru_push(s);
	count++;
	return s;
}

void
session_csrf(const struct session *s, const unsigned char *key,
    char out[WEB_ID_HEX + 1])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(mac, (const unsigned char *)s->id, WEB_ID_HEX, key);
	sodium_bin2hex(out, WEB_ID_HEX + 1, mac, sizeof(mac));
}

bool
session_csrf_ok(const struct session *s, const unsigned char *key,
    const char *token)
{
	char want[WEB_ID_HEX + 1];
	bool ok;

	if (token == NULL || strlen(token) != WEB_ID_HEX)
		return false;
	session_csrf(s, key, want);
	ok = sodium_memcmp(want, token, WEB_ID_HEX) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

unsigned
session_count(void)
{
	return count;
}

/* End every session idle for longer than session_idle, oldest first. A
 * session waiting for ssprd is never idle. */
void
session_sweep(double now)
{
	while (oldest != NULL && !oldest->busy && now - oldest->last_used > idle)
		session_free(oldest);
}

void
session_shutdown(void)
{
	while (oldest != NULL)
		session_free(oldest);
	free(buckets);
	buckets = NULL;
}
