/*
 * redis.c - the state in Redis (see redis.h).
 *
 * - Connecting: with redis_sentinels, each sentinel in turn is asked for
 *   the master of redis_master_name; otherwise redis_url names the server.
 *   Then AUTH, SELECT, and ROLE, which must say "master": a replica left
 *   behind by a failover is never written to. The scripts are loaded and
 *   the HMAC key read (or, in an empty Redis, set: SET NX, so the first
 *   instance's key is everyone's).
 * - Failing: a command without an answer, or answered READONLY, LOADING,
 *   MASTERDOWN or NOSCRIPT-after-reload, drops the connection. Callers get
 *   -1 / NULL and rstore_ready() false until a new connection is up.
 * - Nothing secret is sent except the AUTH password and the HMAC key (hex,
 *   as the LMDB store keeps it); replies that held either are wiped.
 */
#include "build.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis.h>
#include <async.h>
#include <adapters/libevent.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/challenge.h"
#include "daemon/redis.h"
#include "daemon/redistls.h"
#include "daemon/sweep.h"

#define CONNECT_MS	500	/* to a server or a sentinel */
#define COMMAND_MS	2000	/* for an answer */
#define WAIT_MS		500	/* WAIT for replicas */
#define REPLICAS_EVERY	1.0	/* seconds between ROLE's replica counts */
#define RETRY_MIN_MS	250
#define RETRY_MAX_MS	2000
#define HMAC_KEY_NAME	"hmac-key"

enum script {
	S_EVENTS_ADD,
	S_LEASE,
	S_UNLEASE,
	S_STEP_TAKE,
	S_TICKET_SET,
	S_RESERVE,
	S_COUNT
};

/* KEYS[1] the counter; ARGV now, window, keep, a unique member. Events at
 * or before now - window no longer count; the newest keep are kept. */
static const char *const scripts[S_COUNT] = {
	[S_EVENTS_ADD] =
	    "local k=KEYS[1] local now=tonumber(ARGV[1]) "
	    "local win=tonumber(ARGV[2]) local keep=tonumber(ARGV[3]) "
	    "redis.call('ZREMRANGEBYSCORE',k,'-inf',now-win) "
	    "redis.call('ZADD',k,now,ARGV[4]) "
	    "local n=redis.call('ZCARD',k) "
	    "if n>keep then redis.call('ZREMRANGEBYRANK',k,0,n-keep-1) n=keep end "
	    "if redis.call('PTTL',k)<win*1000 then "
	    "redis.call('PEXPIRE',k,win*1000) end "
	    "return n",
	/* KEYS[1] the lease; ARGV owner, milliseconds. Free, or already this
	 * instance's (a job of its earlier life): taken. */
	[S_LEASE] =
	    "local v=redis.call('GET',KEYS[1]) "
	    "if v==false or v==ARGV[1] then "
	    "redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[2]) return 1 end "
	    "return 0",
	[S_UNLEASE] =
	    "if redis.call('GET',KEYS[1])==ARGV[1] then "
	    "return redis.call('DEL',KEYS[1]) end return 0",
	/* KEYS[1] the last step; ARGV step, seconds. A step not above the
	 * last one was used. */
	[S_STEP_TAKE] =
	    "local cur=tonumber(redis.call('GET',KEYS[1]) or '-1') "
	    "if cur>=tonumber(ARGV[1]) then return 0 end "
	    "redis.call('SET',KEYS[1],ARGV[1],'EX',ARGV[2]) return 1",
	/* KEYS ticket, lease, tombstone; ARGV the record, its milliseconds,
	 * its rev, this instance (queue_ticket()). 0: fenced off. */
	[S_TICKET_SET] =
	    "if redis.call('EXISTS',KEYS[3])==1 then return 0 end "
	    "local l=redis.call('GET',KEYS[2]) "
	    "if l and l~=ARGV[4] then return 0 end "
	    "local cur=redis.call('GET',KEYS[1]) "
	    "if cur then local ok,t=pcall(cjson.decode,cur) "
	    "if ok and type(t)=='table' and tonumber(t.rev) and "
	    "tonumber(t.rev)>=tonumber(ARGV[3]) then return 0 end end "
	    "redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[2]) return 1",
	/* KEYS the failure counter, the reservations; ARGV now (s), the
	 * counter's window (s), the limit, a token, (unused), the
	 * reservation's life (ms). Failures counted plus checks under way,
	 * on every instance, stay below the limit; reservations expire by
	 * Redis's clock, not the instances'. */
	[S_RESERVE] =
	    "local t=redis.call('TIME') "
	    "local nowms=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000) "
	    "redis.call('ZREMRANGEBYSCORE',KEYS[2],'-inf',nowms) "
	    "local have=redis.call('ZCOUNT',KEYS[1],'('..(tonumber(ARGV[1])-"
	    "tonumber(ARGV[2])),'+inf') "
	    "if have+redis.call('ZCARD',KEYS[2])>=tonumber(ARGV[3]) then "
	    "return 0 end "
	    "redis.call('ZADD',KEYS[2],nowms+tonumber(ARGV[6]),ARGV[4]) "
	    "redis.call('PEXPIRE',KEYS[2],ARGV[6]) return 1",
};

struct rstore {
	redisContext	*c;
	char		*prefix;
	char		*instance;
	char		*host;		/* from redis_url; NULL with a socket */
	unsigned	 port;
	char		*socket;
	unsigned	 db;
	struct strlist	 sentinels;
	char		*master_name;
	char		*user;
	char		*password;	/* sodium_malloc(), or NULL */
	size_t		 password_len;
	unsigned	 min_replicas;
	unsigned	 replicas;	/* connected to the master, per ROLE */
	double		 replicas_at;	/* when read; 0: read again */
	bool		 degraded;	/* fewer than min_replicas connected */
	double		 wait_failed_at;	/* the last WAIT that timed out */
	char		 sha[S_COUNT][41];
	unsigned char	*hmac_key;	/* sodium_malloc(), read-only once set */
	bool		 have_key;
	char		 where[300];	/* the server now, for log lines */
	double		 next_try;	/* monotonic seconds */
	unsigned	 retry_ms;
	double		 down_since;	/* 0: up, or never tried */
	bool		 ever_up;
	bool		 reader;	/* ssprctl: makes no HMAC key */
	bool		 tls;		/* rediss:// (redistls.h) */
	char		*ca_file;	/* for it; NULL: the system's store */
	bool		 preached;	/* TLS: the probe's connection is up */
	size_t		 sentinel_first;	/* asked first: it answered last */
	/* The probe (rstore_attach()): asynchronous, on the event loop */
	struct event_base *base;
	redisAsyncContext *pac;		/* the step under way, or NULL */
	struct event	*ptimer;	/* its deadline */
	enum { P_IDLE, P_SENTINEL, P_MASTER } pstage;
	size_t		 psent;		/* the next sentinel to ask */
	char		*phost;		/* the master to try */
	unsigned	 pport;
	bool		 reached;	/* the probe reached phost:pport */
	/* Leases whose giving back failed: given back on the next
	 * connection, so another instance need not wait for them to
	 * expire. */
	struct strlist	 unleases;
};

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* --- connecting --------------------------------------------------------------- */

static redisContext *
dial(const struct rstore *r, const char *host, unsigned port,
    const char *sock, char *err, size_t errlen)
{
	struct timeval tv = ms_tv(CONNECT_MS), cmd = ms_tv(COMMAND_MS);
	redisContext *c;

	if (r->tls && sock == NULL) {
		/* rediss://: hiredis gets the plain end of a TLS tunnel */
		int fd = redistls_open(host, port, r->ca_file, CONNECT_MS * 2,
		    err, errlen);

		if (fd == -1)
			return NULL;
		if ((c = redisConnectFd(fd)) == NULL)
			close(fd);
	} else {
		c = sock != NULL ? redisConnectUnixWithTimeout(sock, tv) :
		    redisConnectWithTimeout(host, (int)port, tv);
	}
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->err != 0 || redisSetTimeout(c, cmd) != REDIS_OK) {
		snprintf(err, errlen, "%s", c->errstr[0] != '\0' ? c->errstr :
		    "cannot set a timeout");
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A sentinel's "host:port" or "[v6]:port" (checked by the config): the
 * host (freed by the caller) and *port; NULL when it is not that. */
static char *
sentinel_host(const char *s, unsigned *port)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (s[0] == '[' && (colon == s || colon[-1] != ']')))
		return NULL;
	*port = (unsigned)atoi(colon + 1);
	return s[0] == '[' ? xstrndup(s + 1, (size_t)(colon - s - 2)) :
	    xstrndup(s, (size_t)(colon - s));
}

/* Ask the sentinels, in turn, for the master's address. */
static bool
ask_sentinels(struct rstore *r, char **host, unsigned *port, char *err,
    size_t errlen)
{
	for (size_t n = 0; n < r->sentinels.n; n++) {
		size_t i = (r->sentinel_first + n) % r->sentinels.n;
		const char *s = r->sentinels.v[i];
		unsigned p;
		char *h = sentinel_host(s, &p);
		redisContext *c;
		redisReply *rep;

		if (h == NULL)
			continue;
		c = dial(r, h, p, NULL, err, errlen);
		free(h);
		if (c == NULL)
			continue;
		rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
		    r->master_name);
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
		    rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[1]->type == REDIS_REPLY_STRING) {
			*host = xstrdup(rep->element[0]->str);
			*port = (unsigned)atoi(rep->element[1]->str);
			r->sentinel_first = i;
			freeReplyObject(rep);
			redisFree(c);
			return true;
		}
		snprintf(err, errlen, "sentinel %s does not name a master %s%s%s",
		    s, r->master_name, rep != NULL && rep->type ==
		    REDIS_REPLY_ERROR ? ": " : "", rep != NULL && rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "");
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(c);
	}
	if (r->sentinels.n > 1)
		snprintf(err + strlen(err), errlen - strlen(err),
		    " (nor does any other sentinel)");
	return false;
}

/* A command during the connection's set-up: true when it was answered
 * without an error (the reply is freed unless out is given). */
static bool
setup_cmd(redisContext *c, redisReply **out, char *err, size_t errlen,
    int argc, const char **argv, const size_t *lens)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);

	if (rep == NULL) {
		snprintf(err, errlen, "%s: %s", argv[0], c->errstr);
		return false;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", argv[0], rep->str);
		freeReplyObject(rep);
		return false;
	}
	if (out != NULL)
		*out = rep;
	else
		freeReplyObject(rep);
	return true;
}

/*
 * Commands that carry a secret (AUTH's password, the HMAC key) bypass
 * hiredis, whose buffers are freed unwiped: the request is built in, and
 * the answer read into, sodium_malloc() memory (wiped when freed), on the
 * connection's blocking socket, before or between hiredis's own commands
 * (nothing of theirs is pending then, and Redis sends one answer per
 * command). SECRET_CMD_MAX bounds both.
 */
#define SECRET_CMD_MAX	4096

struct secret_buf {
	char	*p;
	size_t	 len;
};

static void
sb_add(struct secret_buf *b, const char *s, size_t n)
{
	if (b->len + n <= SECRET_CMD_MAX) {
		memcpy(b->p + b->len, s, n);
	}
	b->len += n;
}

static void
sb_bulk(struct secret_buf *b, const char *s, size_t n)
{
	char head[32];

	snprintf(head, sizeof(head), "$%zu\r\n", n);
	sb_add(b, head, strlen(head));
	sb_add(b, s, n);
	sb_add(b, "\r\n", 2);
}

/*
 * Send argv (lens) and read one answer into *out (sodium_malloc()ed,
 * NUL-terminated, the caller frees it with sodium_free()): a status,
 * error or integer line as it came ("+OK", "-ERR ...", ":1"), a bulk
 * string as "$" and its bytes, a nil as "$-1". false with err filled.
 */
static bool
secret_call(redisContext *c, int argc, const char **argv, const size_t *lens,
    char **out, char *err, size_t errlen)
{
	struct secret_buf req = { sodium_malloc(SECRET_CMD_MAX), 0 };
	char *in = sodium_malloc(SECRET_CMD_MAX + 1), head[32];
	size_t off = 0, got = 0, need = 0;
	bool ok = false;

	*out = NULL;
	if (req.p == NULL || in == NULL) {
		snprintf(err, errlen, "cannot allocate secure memory");
		goto done;
	}
	snprintf(head, sizeof(head), "*%d\r\n", argc);
	sb_add(&req, head, strlen(head));
	for (int i = 0; i < argc; i++)
		sb_bulk(&req, argv[i], lens[i]);
	if (req.len > SECRET_CMD_MAX) {
		snprintf(err, errlen, "%s: too long", argv[0]);
		goto done;
	}
	while (off < req.len) {
		ssize_t n = write(c->fd, req.p + off, req.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", argv[0], n < 0 ?
			    strerror(errno) : "cannot send");
			goto done;
		}
		off += (size_t)n;
	}
	/* One answer: a line, or for a bulk string its line and its bytes. */
	for (;;) {
		char *eol = got > 0 ? memchr(in, '\n', got) : NULL;
		ssize_t n;

		if (eol != NULL && need == 0) {
			if (in[0] != '$')
				need = (size_t)(eol - in) + 1;
			else if (atol(in + 1) < 0)
				need = (size_t)(eol - in) + 1;
			else
				need = (size_t)(eol - in) + 1 +
				    (size_t)atol(in + 1) + 2;
			if (need > SECRET_CMD_MAX) {
				snprintf(err, errlen, "%s: answer too long",
				    argv[0]);
				goto done;
			}
		}
		if (need > 0 && got >= need)
			break;	/* (more than one answer: checked below) */
		n = read(c->fd, in + got, SECRET_CMD_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", argv[0], n < 0 ?
			    strerror(errno) : "connection closed");
			goto done;
		}
		got += (size_t)n;
	}
	if (got != need) {
		/* Redis sends one answer per command: bytes past it would be
		 * lost to hiredis's reader. The connection is not used. */
		snprintf(err, errlen, "%s: more than one answer", argv[0]);
		goto done;
	}
	if (in[0] == '-') {
		snprintf(err, errlen, "%s: %.*s", argv[0],
		    (int)strcspn(in + 1, "\r\n"), in + 1);
		goto done;
	}
	if (in[0] == '$' && atol(in + 1) >= 0) {
		size_t hl = (size_t)((char *)memchr(in, '\n', got) - in) + 1;
		size_t bl = need - hl - 2;

		memmove(in + 1, in + hl, bl);
		in[1 + bl] = '\0';
	} else {
		in[strcspn(in, "\r\n")] = '\0';
	}
	*out = in;
	in = NULL;
	ok = true;
done:
	if (req.p != NULL)
		sodium_free(req.p);
	if (in != NULL)
		sodium_free(in);
	return ok;
}

static bool
authenticate(struct rstore *r, redisContext *c, char *err, size_t errlen)
{
	const char *argv[3];
	size_t lens[3];
	int argc = 0;
	char *ans;

	if (r->password == NULL)
		return true;
	argv[argc] = "AUTH";
	lens[argc++] = 4;
	if (r->user != NULL) {
		argv[argc] = r->user;
		lens[argc++] = strlen(r->user);
	}
	argv[argc] = r->password;
	lens[argc++] = r->password_len;
	if (!secret_call(c, argc, argv, lens, &ans, err, errlen))
		return false;
	sodium_free(ans);
	return true;
}

/* The server must be a master: a replica refuses writes, and one that a
 * failover left behind would serve stale state. */
static bool
is_master(redisContext *c, char *err, size_t errlen)
{
	const char *argv[] = { "ROLE" };
	redisReply *rep = NULL;
	bool ok;

	if (!setup_cmd(c, &rep, err, errlen, 1, argv, NULL))
		return false;
	ok = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0;
	if (!ok)
		snprintf(err, errlen, "the server is not a master (ROLE says %s)",
		    rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
		    rep->element[0]->type == REDIS_REPLY_STRING ?
		    rep->element[0]->str : "something else");
	freeReplyObject(rep);
	return ok;
}

static bool
load_scripts(struct rstore *r, redisContext *c, char *err, size_t errlen)
{
	for (int i = 0; i < S_COUNT; i++) {
		const char *argv[] = { "SCRIPT", "LOAD", scripts[i] };
		redisReply *rep = NULL;

		if (!setup_cmd(c, &rep, err, errlen, 3, argv, NULL))
			return false;
		if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
			snprintf(err, errlen, "SCRIPT LOAD: an unexpected answer");
			freeReplyObject(rep);
			return false;
		}
		memcpy(r->sha[i], rep->str, 40);
		r->sha[i][40] = '\0';
		freeReplyObject(rep);
	}
	return true;
}

/*
 * The HMAC key every instance shares: SET NX with ours (a new one the
 * first time; after that the one this process runs with, so an emptied
 * Redis gets it back), then read what is there. Another key than the one
 * this process runs with means another state: refused.
 */
static bool
load_key(struct rstore *r, redisContext *c, bool reader, char *err,
    size_t errlen)
{
	char hex[STORE_HMAC_KEY_LEN * 2 + 3];
	unsigned char key[STORE_HMAC_KEY_LEN];
	char *name = xasprintf("%sm:%s", r->prefix, HMAC_KEY_NAME);
	const char *set[] = { "SET", name, hex, "NX" };
	const char *get[] = { "GET", name };
	size_t setlen[4], getlen[2], keylen;
	char *ans = NULL, *got = NULL;
	bool ok = false;

	if (r->have_key)
		memcpy(key, r->hmac_key, sizeof(key));
	else
		randombytes_buf(key, sizeof(key));
	hex[0] = '"';
	sodium_bin2hex(hex + 1, sizeof(hex) - 2, key, sizeof(key));
	hex[sizeof(hex) - 2] = '"';
	hex[sizeof(hex) - 1] = '\0';
	setlen[0] = 3;
	setlen[1] = strlen(name);
	setlen[2] = sizeof(hex) - 1;
	setlen[3] = 2;
	getlen[0] = 3;
	getlen[1] = strlen(name);
	/* A reader (ssprctl) only reads: it never makes the key. */
	if ((!reader && !secret_call(c, 4, set, setlen, &ans, err, errlen)) ||
	    !secret_call(c, 2, get, getlen, &got, err, errlen))
		goto out;
	if (reader && strcmp(got, "$-1") == 0) {
		snprintf(err, errlen, "%s holds no ssprd state yet", name);
		goto out;
	}
	if (got[0] != '$' || strlen(got) != sizeof(hex) ||
	    got[1] != '"' || got[sizeof(hex) - 1] != '"' ||
	    sodium_hex2bin(key, sizeof(key), got + 2, sizeof(hex) - 3, NULL,
	    &keylen, NULL) != 0 || keylen != sizeof(key)) {
		snprintf(err, errlen, "the HMAC key at %s is unreadable; delete "
		    "it to start afresh (pending tickets are lost)", name);
		goto out;
	}
	if (r->have_key) {
		if (sodium_memcmp(key, r->hmac_key, sizeof(key)) != 0) {
			snprintf(err, errlen, "%s holds another HMAC key than "
			    "this ssprd started with: it is another state; "
			    "restart ssprd to use it", name);
			goto out;
		}
	} else {
		(void)sodium_mprotect_readwrite(r->hmac_key);
		memcpy(r->hmac_key, key, sizeof(key));
		(void)sodium_mprotect_readonly(r->hmac_key);
		r->have_key = true;
	}
	ok = true;
out:
	if (ans != NULL)
		sodium_free(ans);
	if (got != NULL)
		sodium_free(got);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	free(name);
	return ok;
}

static char *config_get(redisContext *c, const char *name);

/*
 * An eviction policy other than noeviction, with a memory limit, lets
 * Redis drop keys ssprd gave a TTL (volatile-*) or any key (allkeys-*):
 * lockouts, TOTP steps, leases, intents, tickets. The message into buf,
 * or false when there is nothing to say (or CONFIG cannot say).
 */
static bool
eviction_risk(redisContext *c, const char *where, char *buf, size_t len)
{
	char *policy = config_get(c, "maxmemory-policy");
	char *max = config_get(c, "maxmemory");
	bool risk = policy != NULL && max != NULL &&
	    strcmp(policy, "noeviction") != 0 && strcmp(max, "0") != 0;

	if (risk)
		snprintf(buf, len, "[state] Redis at %s has maxmemory %s with "
		    "maxmemory-policy %s: when full it drops keys, lockouts, "
		    "TOTP steps and write intents among them (set "
		    "maxmemory-policy noeviction: Redis then refuses changes "
		    "and requests wait)", where, max, policy);
	free(policy);
	free(max);
	return risk;
}

/* A new, set-up connection to the master, or NULL with err filled. */
static redisContext *
connect_master(struct rstore *r, const char *known, unsigned known_port,
    char *where, size_t wlen, char *err, size_t errlen)
{
	char *host = NULL;
	unsigned port = r->port;
	redisContext *c;

	if (known != NULL) {
		host = xstrdup(known);
		port = known_port;
	} else if (r->sentinels.n > 0) {
		if (!ask_sentinels(r, &host, &port, err, errlen))
			return NULL;
	} else if (r->host != NULL) {
		host = xstrdup(r->host);
	}
	if (host != NULL)
		snprintf(where, wlen, strchr(host, ':') != NULL ? "[%s]:%u" :
		    "%s:%u", host, port);
	else
		snprintf(where, wlen, "unix:%s", r->socket);
	c = dial(r, host, port, r->socket, err, errlen);
	free(host);
	if (c == NULL)
		return NULL;
	if (!authenticate(r, c, err, errlen))
		goto fail;
	if (r->db != 0) {
		char db[16];
		const char *argv[] = { "SELECT", db };

		snprintf(db, sizeof(db), "%u", r->db);
		if (!setup_cmd(c, NULL, err, errlen, 2, argv, NULL))
			goto fail;
	}
	if (!is_master(c, err, errlen))
		goto fail;
	return c;
fail:
	redisFree(c);
	return NULL;
}

static void
drop(struct rstore *r, const char *reason)
{
	char why[256];

	/* reason may be the context's own errstr */
	snprintf(why, sizeof(why), "%s", reason);
	if (r->c != NULL) {
		redisFree(r->c);
		r->c = NULL;
	}
	if (r->down_since == 0) {
		r->down_since = mono_now();
		log_warnx("store: lost Redis at %s: %s; requests wait for it",
		    r->where, why);
	}
	r->retry_ms = RETRY_MIN_MS;
	r->next_try = mono_now() + RETRY_MIN_MS / 1000.0;
}

/*
 * The probe: while the store is down and the loop runs, a connection is
 * made only to a server that answered an asynchronous one first (hiredis's
 * libevent adapter), so an unreachable host or sentinel never stalls the
 * loop. Steps, each with PROBE_MS to finish: the sentinels are asked in
 * turn for the master (P_SENTINEL), or redis_url's server is used; then
 * the master must answer a PING (any answer, NOAUTH included: it is there)
 * (P_MASTER). Then ensure() connects to it synchronously, as before. A
 * failed probe is tried again after the back-off.
 *
 * hiredis frees a context whose connect failed, and calls the reply
 * callbacks of one being freed with NULL: r->pac names the one step that
 * counts, and a callback for any other context, or without a reply, does
 * nothing.
 */
#define PROBE_MS	1000

static void probe_start(struct rstore *r);
static void probe_sentinel(struct rstore *r);
static bool ensure(struct rstore *r);
static void unlease_pending(struct rstore *r);

static void
probe_failed(struct rstore *r, const char *why)
{
	r->pstage = P_IDLE;
	r->preached = false;
	log_debug("store: Redis probe: %s", why);
	r->next_try = mono_now() + r->retry_ms / 1000.0;
	r->retry_ms = r->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    r->retry_ms * 2;
}

/* The step failed: the next sentinel, or the end of this probe. */
static void
probe_next(struct rstore *r, const char *why)
{
	r->pac = NULL;
	r->preached = false;
	evtimer_del(r->ptimer);
	if (r->pstage == P_SENTINEL)
		probe_sentinel(r);
	else
		probe_failed(r, why);
}

static void
on_probe_connect(const redisAsyncContext *ac, int status)
{
	struct rstore *r = ac->data;
	struct timeval now = { 0, 0 };

	if (ac != r->pac)
		return;
	if (status != REDIS_OK) {
		probe_next(r, "cannot connect");
		return;
	}
	/* Over TLS the probe cannot speak: a server (or sentinel) that
	 * takes the connection is there. Its context goes on the next turn
	 * (on_probe_timeout()), not inside hiredis's callback. */
	if (r->tls) {
		r->preached = true;
		evtimer_add(r->ptimer, &now);
	}
}

static void
on_probe_disconnect(const redisAsyncContext *ac, int status)
{
	struct rstore *r = ac->data;

	(void)status;
	if (ac == r->pac)
		probe_next(r, "disconnected");
}

static void
on_probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rstore *r = arg;
	redisAsyncContext *ac = r->pac;

	(void)fd;
	(void)what;
	r->pac = NULL;		/* its callbacks now do nothing */
	if (ac != NULL)
		redisAsyncFree(ac);
	if (r->preached) {
		/* TLS: reachable; the synchronous connection asks the
		 * sentinels itself, or goes to the server probed */
		r->preached = false;
		if (r->pstage == P_SENTINEL) {
			free(r->phost);
			r->phost = NULL;
			/* the synchronous connection asks it first, not the
			 * dead ones before it */
			r->sentinel_first = r->psent - 1;
		}
		r->pstage = P_IDLE;
		r->reached = true;
		r->next_try = 0;
		(void)ensure(r);
		return;
	}
	probe_next(r, "no answer in time");
}

static bool
probe_open(struct rstore *r, const char *host, unsigned port,
    const char *sock)
{
	struct timeval tv = ms_tv(PROBE_MS);
	redisAsyncContext *ac = sock != NULL ? redisAsyncConnectUnix(sock) :
	    redisAsyncConnect(host, (int)port);

	if (ac == NULL)
		return false;
	if (ac->err != 0) {
		redisAsyncFree(ac);
		return false;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return false;
	}
	redisAsyncSetConnectCallback(ac, on_probe_connect);
	redisAsyncSetDisconnectCallback(ac, on_probe_disconnect);
	r->pac = ac;
	evtimer_add(r->ptimer, &tv);
	return true;
}

/* The step is done: its context goes (after this callback) and no longer
 * counts. */
static void
probe_done(struct rstore *r, redisAsyncContext *ac)
{
	r->pac = NULL;
	evtimer_del(r->ptimer);
	redisAsyncDisconnect(ac);
}

/* The step could not even be sent: its context goes now (outside any of
 * its callbacks). */
static void
probe_abandon(struct rstore *r)
{
	redisAsyncContext *ac = r->pac;

	r->pac = NULL;
	r->preached = false;
	evtimer_del(r->ptimer);
	if (ac != NULL)
		redisAsyncFree(ac);
}

static void
on_probe_ping(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rstore *r = ac->data;

	(void)priv;
	if (ac != r->pac || reply == NULL)
		return;
	probe_done(r, ac);
	r->pstage = P_IDLE;
	r->reached = true;
	r->next_try = 0;
	(void)ensure(r);	/* connect now: requests poll for it */
}

static void
probe_master(struct rstore *r)
{
	r->pstage = P_MASTER;
	if (!probe_open(r, r->phost, r->pport, r->phost == NULL ? r->socket :
	    NULL) || (!r->tls && redisAsyncCommand(r->pac, on_probe_ping, NULL,
	    "PING") != REDIS_OK)) {
		probe_abandon(r);
		probe_failed(r, "cannot reach the master");
	}
}

static void
on_probe_sentinel(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rstore *r = ac->data;
	redisReply *rep = reply;

	(void)priv;
	if (ac != r->pac || rep == NULL)
		return;
	probe_done(r, ac);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		probe_sentinel(r);	/* the next one may know */
		return;
	}
	free(r->phost);
	r->phost = xstrdup(rep->element[0]->str);
	r->pport = (unsigned)atoi(rep->element[1]->str);
	probe_master(r);
}

static void
probe_sentinel(struct rstore *r)
{
	r->pstage = P_SENTINEL;
	while (r->psent < r->sentinels.n) {
		unsigned p;
		char *h = sentinel_host(r->sentinels.v[r->psent++], &p);
		bool opened;

		if (h == NULL)
			continue;
		opened = probe_open(r, h, p, NULL);
		free(h);
		if (!opened)
			continue;
		if (r->tls)
			return;		/* connect only: on_probe_connect() */
		if (redisAsyncCommand(r->pac, on_probe_sentinel, NULL,
		    "SENTINEL get-master-addr-by-name %s", r->master_name) ==
		    REDIS_OK)
			return;
		probe_abandon(r);
	}
	probe_failed(r, "no sentinel named a master");
}

static void
probe_start(struct rstore *r)
{
	if (mono_now() < r->next_try)
		return;
	if (r->sentinels.n > 0) {
		r->psent = 0;
		probe_sentinel(r);
		return;
	}
	free(r->phost);
	r->phost = r->host != NULL ? xstrdup(r->host) : NULL;
	r->pport = r->port;
	probe_master(r);
}

/* Connected, or a connection tried when one is due. */
static bool
ensure(struct rstore *r)
{
	char err[512] = "", where[300];
	redisContext *c;

	if (r->c != NULL)
		return true;
	snprintf(where, sizeof(where), "%s", r->where);
	if (mono_now() < r->next_try)
		return false;
	if (r->base != NULL && !r->reached) {
		/* Only where the probe got an answer: a connect to a host
		 * that drops packets would stall the loop. */
		if (r->pstage == P_IDLE)
			probe_start(r);
		return false;
	}
	c = connect_master(r, r->reached ? r->phost : NULL, r->pport, where,
	    sizeof(where), err, sizeof(err));
	r->reached = false;
	if (c != NULL && (!load_scripts(r, c, err, sizeof(err)) ||
	    !load_key(r, c, r->reader, err, sizeof(err)))) {
		redisFree(c);
		c = NULL;
	}
	if (c == NULL) {
		if (r->down_since == 0) {
			r->down_since = mono_now();
			log_warnx("store: cannot use Redis at %s: %s; requests "
			    "wait for it", where, err);
		} else {
			log_debug("store: Redis at %s: %s", where, err);
		}
		r->next_try = mono_now() + r->retry_ms / 1000.0;
		r->retry_ms = r->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
		    r->retry_ms * 2;
		return false;
	}
	r->c = c;
	r->replicas_at = 0;
	snprintf(r->where, sizeof(r->where), "%s", where);
	{
		char msg[1024];

		if (eviction_risk(c, where, msg, sizeof(msg)))
			log_warnx("store: %s", msg + strlen("[state] "));
	}
	if (r->down_since != 0)
		log_info("store: Redis at %s is in use%s (after %.1f s)", where,
		    r->ever_up ? " again" : "", mono_now() - r->down_since);
	else
		log_info("store: Redis at %s is in use", where);
	r->down_since = 0;
	r->ever_up = true;
	r->retry_ms = RETRY_MIN_MS;
	if (r->unleases.n > 0)
		unlease_pending(r);
	return r->c != NULL;
}

/* --- commands ---------------------------------------------------------------- */

/*
 * Every error answer drops the connection: ssprd sends nothing a serving
 * master refuses, so a refusal (READONLY after a failover, LOADING,
 * MASTERDOWN, NOPERM from an ACL, MISCONF, OOM...) means this server cannot
 * keep the state now. The store is then not ready until a new connection
 * is up, and a read that failed is never taken for an absent record.
 */
static bool
fatal_error(const redisReply *rep)
{
	(void)rep;
	return true;
}

/*
 * Enough replicas online to take a change (redis_min_replicas, per INFO
 * replication, read at most once a second): every change then waits (WAIT) until that
 * many have it, so no failover can lose it. With fewer, changes fail at
 * once, without the WAIT_MS stall (a replica that is down or still
 * syncing could be promoted all the same, so going on without would lose
 * what it lacks), and rstore_ready() says false: requests wait, as for a
 * Redis that is away. Logged when it starts and ends. false also when the
 * ROLE command lost the connection (r->c is then NULL).
 */
/* Replicas online with a lag of at most REPLICA_LAG seconds, per INFO
 * replication ("slaveN:ip=...,state=online,offset=...,lag=L"); -1 when the
 * server is not a master. A replica that stopped answering stays listed
 * online until repl-timeout, but its lag grows. */
#define REPLICA_LAG	2

static int
count_replicas(const char *info)
{
	const char *line = info;
	int n = 0;
	bool master = false;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n'), *lag;
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char buf[512];

		snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ?
		    len : sizeof(buf) - 1), line);
		buf[strcspn(buf, "\r")] = '\0';
		if (strcmp(buf, "role:master") == 0)
			master = true;
		else if (strncmp(buf, "slave", 5) == 0 &&
		    strstr(buf, "state=online") != NULL &&
		    (lag = strstr(buf, "lag=")) != NULL &&
		    atoi(lag + 4) <= REPLICA_LAG)
			n++;
		line = end != NULL ? end + 1 : NULL;
	}
	return master ? n : -1;
}

static bool
replicas_enough(struct rstore *r)
{
	redisReply *rep;
	int n;

	if (r->min_replicas == 0)
		return true;
	/* A WAIT that timed out: no change for a while, rather than a stall
	 * of WAIT_MS for each. */
	if (mono_now() - r->wait_failed_at < REPLICAS_EVERY)
		return false;
	if (r->replicas_at == 0 || mono_now() - r->replicas_at > REPLICAS_EVERY) {
		if ((rep = redisCommand(r->c, "INFO replication")) == NULL) {
			drop(r, r->c->errstr);
			return false;
		}
		n = rep->type == REDIS_REPLY_STRING ? count_replicas(rep->str) :
		    -1;
		freeReplyObject(rep);
		if (n < 0) {
			drop(r, "no longer a master (INFO replication)");
			return false;
		}
		r->replicas = (unsigned)n;
		r->replicas_at = mono_now();
	}
	if (r->replicas < r->min_replicas) {
		if (!r->degraded)
			log_warnx("store: Redis at %s has %u replica(s) online and "
			    "current, fewer than redis_min_replicas %u: no change "
			    "is made until they are back; requests wait",
			    r->where, r->replicas, r->min_replicas);
		r->degraded = true;
		return false;
	}
	if (r->degraded)
		log_info("store: Redis at %s: %u replica(s) online again",
		    r->where, r->replicas);
	r->degraded = false;
	return true;
}

/*
 * Send argc commands' worth: one command, then (writes, with
 * redis_min_replicas) a WAIT. The command's reply, or NULL (logged; a lost
 * connection or a replica that did not acknowledge also drops it).
 */
static redisReply *
run(struct rstore *r, bool write, int argc, const char **argv,
    const size_t *lens)
{
	redisReply *rep = NULL, *w = NULL;
	bool wait;
	char n[16];

	if (!ensure(r))
		return NULL;
	if (write && !replicas_enough(r))
		return NULL;
	wait = write && r->min_replicas > 0;
	redisAppendCommandArgv(r->c, argc, argv, lens);
	if (wait) {
		snprintf(n, sizeof(n), "%u", r->min_replicas);
		redisAppendCommand(r->c, "WAIT %s %d", n, WAIT_MS);
	}
	if (redisGetReply(r->c, (void **)&rep) != REDIS_OK ||
	    (wait && redisGetReply(r->c, (void **)&w) != REDIS_OK)) {
		drop(r, r->c->errstr);
		goto fail;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		char why[300];

		snprintf(why, sizeof(why), "%s: %s", argv[0], rep->str);
		drop(r, why);
		goto fail;
	}
	if (wait && (w->type != REDIS_REPLY_INTEGER ||
	    w->integer < (long long)r->min_replicas)) {
		r->replicas_at = 0;	/* count them again */
		r->wait_failed_at = mono_now();
		log_warnx("store: Redis at %s: %lld of %u replica(s) confirmed "
		    "a change within %d ms; counted as failed", r->where,
		    w->type == REDIS_REPLY_INTEGER ? w->integer : -1LL,
		    r->min_replicas, WAIT_MS);
		goto fail;
	}
	if (w != NULL)
		freeReplyObject(w);
	return rep;
fail:
	if (rep != NULL)
		freeReplyObject(rep);
	if (w != NULL)
		freeReplyObject(w);
	return NULL;
}

/*
 * A ticket's records (t: the ticket, l: its lease, g: its tombstone) are
 * named by a hash of its ID (BLAKE2b, 128 bits): the ID is the bearer
 * credential a front end holds, and whoever can read Redis should not
 * learn it (with it, and the keyed hash of a pending code beside the HMAC
 * key, a code could be found offline and the reset taken over).
 */
static char *
tkey(const struct rstore *r, char kind, const char *id)
{
	unsigned char h[16];
	char hex[sizeof(h) * 2 + 1];

	crypto_generichash(h, sizeof(h), (const unsigned char *)id, strlen(id),
	    NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return xasprintf("%s%c:%s", r->prefix, kind, hex);
}

static char *
rkey(const struct rstore *r, enum store_db db, const char *key)
{
	switch (db) {
	case STORE_TICKETS:
		return tkey(r, 't', key);
	case STORE_INTENTS:
		return xasprintf("%si:%s:%s", r->prefix, r->instance, key);
	case STORE_EVENTS:
		return xasprintf("%se:%s", r->prefix, key);
	case STORE_META:
		return xasprintf("%sm:%s", r->prefix, key);
	case STORE_ACCOUNTS:
		return xasprintf("%sa:%s", r->prefix, key);
	}
	abort();
}

/* Milliseconds a record of db lives, 0 for ever. */
static long long
ttl_ms(enum store_db db, const json_t *value)
{
	int64_t left;

	switch (db) {
	case STORE_TICKETS:
		left = ticket_expiry(value) + SWEEP_TICKET_GRACE - (int64_t)time(NULL);
		return left < 60 ? 60000 : (long long)left * 1000;
	case STORE_INTENTS:
		return (long long)SWEEP_INTENT_AGE * 1000;
	default:
		return 0;
	}
}

/* Read count replies of a pipeline; false (logged, and the connection
 * dropped if it failed) unless each is an answer of the kind expected:
 * status for the queued ones, then EXEC's array without an error. */
static bool
read_replies(struct rstore *r, size_t queued, bool wait)
{
	redisReply *rep;
	bool ok = true, lost = false;
	const char *why = NULL;
	char whybuf[256];

	for (size_t i = 0; i < queued + 2 + (wait ? 1 : 0); i++) {
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK) {
			lost = true;
			snprintf(whybuf, sizeof(whybuf), "%s", r->c->errstr);
			why = whybuf;
			break;
		}
		if (i <= queued) {		/* MULTI's OK, then QUEUED */
			if (rep->type == REDIS_REPLY_ERROR) {
				snprintf(whybuf, sizeof(whybuf), "%s", rep->str);
				why = whybuf;
				lost = lost || fatal_error(rep);
				ok = false;
			}
		} else if (i == queued + 1) {	/* EXEC */
			if (rep->type != REDIS_REPLY_ARRAY) {
				snprintf(whybuf, sizeof(whybuf), "%s",
				    rep->type == REDIS_REPLY_ERROR ? rep->str :
				    "EXEC: the transaction was not run");
				why = whybuf;
				lost = lost || (rep->type == REDIS_REPLY_ERROR &&
				    fatal_error(rep));
				ok = false;
			} else {
				for (size_t k = 0; k < rep->elements; k++)
					if (rep->element[k]->type ==
					    REDIS_REPLY_ERROR) {
						ok = false;
						snprintf(whybuf, sizeof(whybuf),
						    "%s", rep->element[k]->str);
						why = whybuf;
					}
			}
		} else if (rep->type != REDIS_REPLY_INTEGER ||
		    rep->integer < (long long)r->min_replicas) {	/* WAIT */
			r->replicas_at = 0;
			r->wait_failed_at = mono_now();
			log_warnx("store: Redis at %s: %lld of %u replica(s) "
			    "confirmed a change within %d ms; counted as failed",
			    r->where, rep->type == REDIS_REPLY_INTEGER ?
			    rep->integer : -1LL, r->min_replicas, WAIT_MS);
			ok = false;
		}
		freeReplyObject(rep);
	}
	if (lost)
		drop(r, why != NULL ? why : "the connection failed");
	else if (!ok && why != NULL)
		log_warnx("store: Redis: a change was refused: %s", why);
	return ok && !lost;
}

/* A pipeline being built: the strings it owns until it is sent. */
struct pipe {
	struct rstore	*r;
	size_t		 queued;
	char		**owned;
	size_t		 nowned, cap;
};

static const char *
own(struct pipe *p, char *str)
{
	if (p->nowned == p->cap) {
		p->cap = p->cap * 2 + 8;
		p->owned = xreallocarray(p->owned, p->cap, sizeof(*p->owned));
	}
	p->owned[p->nowned++] = str;
	return str;
}

static void
queue(struct pipe *p, int argc, const char **argv)
{
	size_t lens[12];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisAppendCommandArgv(p->r->c, argc, argv, lens);
	p->queued++;
}

/*
 * A ticket's changes are fenced, so that a change kept for a retry
 * (batch_keep()) can never undo a later one made elsewhere: a put goes
 * in only when its "rev" is above the stored one's, no other instance
 * holds the ticket's lease, and the ticket was not spent; spending it
 * deletes it and leaves a tombstone (g:ID) for a day.
 */
static void
queue_ticket(struct pipe *p, const struct store_op *op)
{
	struct rstore *r = p->r;
	const char *t = own(p, rkey(r, STORE_TICKETS, op->key));
	const char *l = own(p, tkey(r, 'l', op->key));
	const char *g = own(p, tkey(r, 'g', op->key));
	const char *day = own(p, xasprintf("%lld",
	    (long long)SWEEP_INTENT_AGE * 1000));

	if (op->value == NULL) {
		const char *del[] = { "DEL", t };
		const char *stone[] = { "SET", g, "1", "PX", day };

		queue(p, 2, del);
		queue(p, 5, stone);
	} else {
		char *v = json_dumps(op->value, JSON_COMPACT);
		json_t *rev = json_object_get(op->value, "rev");
		const char *argv[] = { "EVALSHA", r->sha[S_TICKET_SET], "3", t,
		    l, g, own(p, v != NULL ? v : xstrdup("{}")),
		    own(p, xasprintf("%lld", ttl_ms(STORE_TICKETS, op->value))),
		    own(p, xasprintf("%lld", json_is_integer(rev) ?
		    (long long)json_integer_value(rev) : 0LL)), r->instance };

		queue(p, 10, argv);
	}
}

/* A write intent; the ticket it names, and this instance's lease on it,
 * then live a day: if this instance dies after the write, no other may
 * work on the ticket before the intent is settled (by this instance,
 * restarted: the lease is its own). */
static void
queue_intent(struct pipe *p, const struct store_op *op)
{
	struct rstore *r = p->r;
	const char *k = own(p, rkey(r, STORE_INTENTS, op->key));
	const char *ticket;

	if (op->value == NULL) {
		const char *del[] = { "DEL", k };

		queue(p, 2, del);
		return;
	}
	ticket = json_string_value(json_object_get(op->value, "ticket"));
	{
		/* The ticket named by its hashed name (tkey()), not its ID. */
		json_t *copy = json_copy((json_t *)op->value);
		char *v;

		if (ticket != NULL && *ticket != '\0') {
			char *name = tkey(r, 't', ticket);

			json_object_set_new(copy, "ticket",
			    json_string(name + strlen(r->prefix) + 2));
			free(name);
		}
		v = json_dumps(copy, JSON_COMPACT);
		json_decref(copy);
		{
			const char *set[] = { "SET", k, own(p, v != NULL ? v :
			    xstrdup("{}")), "PX", own(p, xasprintf("%lld",
			    ttl_ms(STORE_INTENTS, op->value))) };

			queue(p, 5, set);
		}
	}
	if (ticket != NULL && *ticket != '\0') {
		const char *day = own(p, xasprintf("%lld",
		    (long long)SWEEP_INTENT_AGE * 1000));
		const char *l[] = { "PEXPIRE", own(p, tkey(r, 'l', ticket)),
		    day };
		const char *t[] = { "PEXPIRE", own(p, rkey(r, STORE_TICKETS,
		    ticket)), day };

		queue(p, 3, l);
		queue(p, 3, t);
	}
}

int
rstore_apply(struct rstore *r, const struct store_op *ops, size_t n)
{
	struct pipe p = { .r = r };
	bool wait;
	int rc;

	if (n == 0)
		return 0;
	if (!ensure(r))
		return -1;
	if (!replicas_enough(r))
		return -1;
	wait = r->min_replicas > 0;
	redisAppendCommand(r->c, "MULTI");
	for (size_t i = 0; i < n; i++) {
		const struct store_op *op = &ops[i];
		const char *k;

		if (op->db == STORE_TICKETS) {
			queue_ticket(&p, op);
			continue;
		}
		if (op->db == STORE_INTENTS) {
			queue_intent(&p, op);
			continue;
		}
		k = own(&p, rkey(r, op->db, op->key));
		if (op->value == NULL) {
			const char *del[] = { "DEL", k };

			queue(&p, 2, del);
		} else {
			char *v = json_dumps(op->value, JSON_COMPACT);
			const char *set[] = { "SET", k, own(&p, v != NULL ? v :
			    xstrdup("{}")) };

			queue(&p, 3, set);	/* accounts, meta: no TTL */
		}
	}
	redisAppendCommand(r->c, "EXEC");
	if (wait)
		redisAppendCommand(r->c, "WAIT %u %d", r->min_replicas, WAIT_MS);
	rc = read_replies(r, p.queued, wait) ? 0 : -1;
	for (size_t i = 0; i < p.nowned; i++)
		free(p.owned[i]);
	free(p.owned);
	return rc;
}

json_t *
rstore_get(struct rstore *r, enum store_db db, const char *key)
{
	char *k;
	const char *argv[2];
	redisReply *rep;
	json_t *j = NULL;
	json_error_t e;

	if (db == STORE_EVENTS)
		return NULL;	/* counters are sorted sets: see redis.h */
	k = rkey(r, db, key);
	argv[0] = "GET";
	argv[1] = k;
	rep = run(r, false, 2, argv, NULL);
	if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
		j = json_loadb(rep->str, rep->len, 0, &e);
		if (j == NULL)
			log_warnx("store: %s is unreadable: %s", k, e.text);
	}
	if (rep != NULL)
		freeReplyObject(rep);
	free(k);
	return j;
}

/* Keys of db, counted with SCAN (for the metrics: not on a request's
 * path). */
size_t
rstore_count(struct rstore *r, enum store_db db)
{
	char *match = db == STORE_TICKETS ? xasprintf("%st:*", r->prefix) :
	    rkey(r, db, "*"), cursor[32] = "0";
	size_t n = 0;

	do {
		const char *argv[] = { "SCAN", cursor, "MATCH", match, "COUNT",
		    "1000" };
		redisReply *rep = run(r, false, 6, argv, NULL);

		if (rep == NULL)
			break;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		n += rep->element[1]->elements;
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	free(match);
	return n;
}

/* EVALSHA of script s on one key: its integer, or -1. */
static long long
eval(struct rstore *r, enum script s, bool write, const char *key,
    int nargs, const char **args)
{
	const char *argv[8];
	size_t lens[8];
	int argc = 0;
	redisReply *rep;
	long long v = -1;

	if (!ensure(r))
		return -1;
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = r->sha[s];
	lens[argc++] = 40;
	argv[argc] = "1";
	lens[argc++] = 1;
	argv[argc] = key;
	lens[argc++] = strlen(key);
	for (int i = 0; i < nargs && argc < 8; i++) {
		argv[argc] = args[i];
		lens[argc++] = strlen(args[i]);
	}
	if ((rep = run(r, write, argc, argv, lens)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	freeReplyObject(rep);
	return v;
}

int
rstore_events_add(struct rstore *r, const char *key, int64_t now,
    int64_t window, unsigned keep)
{
	char *k = rkey(r, STORE_EVENTS, key), snow[24], swin[24], skeep[16];
	char member[24 + 1 + 17];
	unsigned char rnd[8];
	const char *args[4] = { snow, swin, skeep, member };
	long long n;

	if (keep == 0)
		keep = 1;
	if (keep > INT_MAX)
		keep = INT_MAX;
	if (window < 0)
		window = 0;
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(swin, sizeof(swin), "%" PRId64, window);
	snprintf(skeep, sizeof(skeep), "%u", keep);
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(member, sizeof(member), "%" PRId64 ":", now);
	sodium_bin2hex(member + strlen(member), 17, rnd, sizeof(rnd));
	n = eval(r, S_EVENTS_ADD, true, k, 4, args);
	free(k);
	return n < 0 ? -1 : n > INT_MAX ? INT_MAX : (int)n;
}

int
rstore_events_count(struct rstore *r, const char *key, int64_t now,
    int64_t window)
{
	char *k = rkey(r, STORE_EVENTS, key), from[32];
	const char *argv[] = { "ZCOUNT", k, from, "+inf" };
	redisReply *rep;
	int n = -1;

	snprintf(from, sizeof(from), "(%" PRId64, now - (window < 0 ? 0 :
	    window));
	if ((rep = run(r, false, 4, argv, NULL)) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			n = rep->integer > INT_MAX ? INT_MAX : (int)rep->integer;
		freeReplyObject(rep);
	}
	free(k);
	return n;
}

int
rstore_lease(struct rstore *r, const char *key, unsigned ms)
{
	char *k = tkey(r, 'l', key), sms[16];
	const char *args[2] = { r->instance, sms };
	long long v;

	snprintf(sms, sizeof(sms), "%u", ms);
	v = eval(r, S_LEASE, true, k, 2, args);
	free(k);
	return v < 0 ? -1 : v > 0;
}

#define UNLEASES_MAX	4096

void
rstore_unlease(struct rstore *r, const char *key)
{
	char *k = tkey(r, 'l', key);
	const char *args[1] = { r->instance };

	/* Failing, it is tried again once Redis is back (past the cap, the
	 * lease is left to expire). */
	if (eval(r, S_UNLEASE, false, k, 1, args) < 0 &&
	    r->unleases.n < UNLEASES_MAX && !strlist_has(&r->unleases, key))
		strlist_add(&r->unleases, key);
	free(k);
}

/* On a new connection: the leases that could not be given back. */
static void
unlease_pending(struct rstore *r)
{
	struct strlist todo = r->unleases;

	memset(&r->unleases, 0, sizeof(r->unleases));
	for (size_t i = 0; i < todo.n && r->c != NULL; i++)
		rstore_unlease(r, todo.v[i]);
	for (size_t i = 0; i < todo.n && r->c == NULL; i++)
		if (!strlist_has(&r->unleases, todo.v[i]))
			strlist_add(&r->unleases, todo.v[i]);
	if (todo.n > 0)
		log_debug("store: gave back %zu ticket lease(s) held when Redis "
		    "was lost", todo.n - r->unleases.n);
	strlist_free(&todo);
}

int
rstore_reserve(struct rstore *r, const char *events, const char *key,
    const char *token, int64_t now, int64_t window, unsigned limit,
    unsigned ms)
{
	char *e = rkey(r, STORE_EVENTS, events);
	char *k = xasprintf("%sr:%s", r->prefix, key);
	char snow[24], swin[24], slim[16], snowms[32], sms[16];
	const char *argv[] = { "EVALSHA", r->sha[S_RESERVE], "2", e, k, snow,
	    swin, slim, token, snowms, sms };
	size_t lens[11];
	struct timespec ts;
	redisReply *rep;
	long long v = -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(swin, sizeof(swin), "%" PRId64, window);
	snprintf(slim, sizeof(slim), "%u", limit);
	snprintf(snowms, sizeof(snowms), "%lld",
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	snprintf(sms, sizeof(sms), "%u", ms);
	for (int i = 0; i < 11; i++)
		lens[i] = strlen(argv[i]);
	if (ensure(r) && (rep = run(r, true, 11, argv, lens)) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			v = rep->integer;
		freeReplyObject(rep);
	}
	free(e);
	free(k);
	if (v < 0)	/* the ZADD may have gone in before a WAIT failed */
		rstore_unreserve(r, key, token);
	return v < 0 ? -1 : v > 0;
}

void
rstore_unreserve(struct rstore *r, const char *key, const char *token)
{
	char *k = xasprintf("%sr:%s", r->prefix, key);
	const char *argv[] = { "ZREM", k, token };

	/* Failing, the reservation ends with its life. */
	redisReply *rep = run(r, false, 3, argv, NULL);

	if (rep != NULL)
		freeReplyObject(rep);
	free(k);
}

int64_t
rstore_step_last(struct rstore *r, const char *key)
{
	char *k = xasprintf("%ss:%s", r->prefix, key);
	const char *argv[] = { "GET", k };
	redisReply *rep = run(r, false, 2, argv, NULL);
	int64_t v = -1;

	if (rep != NULL) {
		if (rep->type == REDIS_REPLY_STRING)
			v = strtoll(rep->str, NULL, 10);
		freeReplyObject(rep);
	}
	free(k);
	return v;
}

int
rstore_step_take(struct rstore *r, const char *key, int64_t step,
    unsigned ttl)
{
	char *k = xasprintf("%ss:%s", r->prefix, key), sstep[24], sttl[16];
	const char *args[2] = { sstep, sttl };
	long long v;

	snprintf(sstep, sizeof(sstep), "%" PRId64, step);
	snprintf(sttl, sizeof(sttl), "%u", ttl > 0 ? ttl : 1);
	v = eval(r, S_STEP_TAKE, true, k, 2, args);
	free(k);
	return v < 0 ? -1 : v > 0;
}

/* --- opening ----------------------------------------------------------------- */

static void
settings(struct rstore *r, const struct config *cfg)
{
	r->prefix = xstrdup(cfg->state.key_prefix);
	r->instance = xstrdup(cfg->state.instance);
	r->host = cfg->state.redis_host ? xstrdup(cfg->state.redis_host) : NULL;
	r->port = cfg->state.redis_port;
	r->socket = cfg->state.redis_socket ?
	    xstrdup(cfg->state.redis_socket) : NULL;
	r->db = cfg->state.redis_db;
	for (size_t i = 0; i < cfg->state.redis_sentinels.n; i++)
		strlist_add(&r->sentinels, cfg->state.redis_sentinels.v[i]);
	r->master_name = cfg->state.redis_master_name ?
	    xstrdup(cfg->state.redis_master_name) : NULL;
	r->user = cfg->state.redis_user ? xstrdup(cfg->state.redis_user) : NULL;
	r->min_replicas = cfg->state.redis_min_replicas;
	r->tls = cfg->state.redis_tls;
	r->ca_file = cfg->state.redis_ca_file != NULL ?
	    xstrdup(cfg->state.redis_ca_file) : NULL;
	r->retry_ms = RETRY_MIN_MS;
	snprintf(r->where, sizeof(r->where), "%s",
	    r->sentinels.n > 0 ? "(the sentinels' master)" :
	    cfg->state.redis_url != NULL ? cfg->state.redis_url : "?");
}

/* The AUTH password, in guarded memory; false when none can be had. */
static bool
copy_password(struct rstore *r, const struct config *cfg)
{
	size_t n = cfg->state.redis_password_len;

	if (cfg->state.redis_password == NULL)
		return true;
	if ((r->password = sodium_malloc(n + 1)) == NULL)
		return false;
	memcpy(r->password, cfg->state.redis_password, n);
	r->password[n] = '\0';
	r->password_len = n;
	return true;
}

struct rstore *
rstore_open(const struct config *cfg, bool reader, char *err, size_t errlen)
{
	struct rstore *r = xcalloc(1, sizeof(*r));

	r->reader = reader;
	if (sodium_init() == -1) {
		snprintf(err, errlen, "cannot initialise libsodium");
		free(r);
		return NULL;
	}
	settings(r, cfg);
	if (!copy_password(r, cfg))
		goto nomem;
	if ((r->hmac_key = sodium_malloc(STORE_HMAC_KEY_LEN)) == NULL)
		goto nomem;
	(void)sodium_mprotect_readonly(r->hmac_key);
	(void)ensure(r);
	return r;
nomem:
	snprintf(err, errlen, "cannot allocate secure memory: %s",
	    strerror(errno));
	rstore_close(r);
	return NULL;
}

void
rstore_close(struct rstore *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	if (r->pac != NULL) {
		redisAsyncContext *ac = r->pac;

		r->pac = NULL;
		redisAsyncFree(ac);
	}
	if (r->ptimer != NULL)
		event_free(r->ptimer);
	free(r->phost);
	if (r->hmac_key != NULL) {
		(void)sodium_mprotect_readwrite(r->hmac_key);
		sodium_free(r->hmac_key);		/* wipes */
	}
	if (r->password != NULL)
		sodium_free(r->password);		/* wipes */
	free(r->prefix);
	free(r->instance);
	free(r->host);
	free(r->socket);
	strlist_free(&r->sentinels);
	strlist_free(&r->unleases);
	free(r->master_name);
	free(r->user);
	free(r->ca_file);
	free(r);
}

int
rstore_attach(struct rstore *r, struct event_base *base)
{
	if ((r->ptimer = evtimer_new(base, on_probe_timeout, r)) == NULL)
		return -1;
	r->base = base;
	return 0;
}

bool
rstore_ready(struct rstore *r)
{
	return ensure(r) && r->have_key && replicas_enough(r);
}

const unsigned char *
rstore_hmac_key(const struct rstore *r)
{
	return r->hmac_key;
}

/* --- ssprd -t ---------------------------------------------------------------- */

/* CONFIG GET name: its value, or NULL (CONFIG may be renamed away). */
static char *
config_get(redisContext *c, const char *name)
{
	redisReply *rep = redisCommand(c, "CONFIG GET %s", name);
	char *v = NULL;

	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 2 && rep->element[1]->type == REDIS_REPLY_STRING)
		v = xstrdup(rep->element[1]->str);
	if (rep != NULL)
		freeReplyObject(rep);
	return v;
}

int
rstore_check(const struct config *cfg,
    void (*fn)(const char *msg, void *arg), void *arg)
{
	struct rstore *r = xcalloc(1, sizeof(*r));
	char err[512] = "", where[300], msg[1024];
	redisContext *c;
	char *aof, *fsync;
	int rc = 0;

	settings(r, cfg);
	(void)copy_password(r, cfg);
	if ((c = connect_master(r, NULL, 0, where, sizeof(where), err,
	    sizeof(err))) == NULL) {
		snprintf(msg, sizeof(msg), "[state] cannot use Redis at %s now: "
		    "%s (ssprd will start and wait for it)", where, err);
		fn(msg, arg);
		rstore_close(r);
		return -1;
	}
	aof = config_get(c, "appendonly");
	fsync = config_get(c, "appendfsync");
	if (aof == NULL || fsync == NULL) {
		snprintf(msg, sizeof(msg), "[state] cannot read Redis's "
		    "persistence settings at %s (CONFIG GET refused): check "
		    "appendonly yes and appendfsync always by hand", where);
		fn(msg, arg);
	} else if (strcmp(aof, "yes") != 0) {
		snprintf(msg, sizeof(msg), "[state] Redis at %s has appendonly "
		    "%s: a restart loses every ticket, counter, lockout and "
		    "write intent since the last snapshot (set appendonly yes "
		    "and appendfsync always)", where, aof);
		fn(msg, arg);
	} else if (strcmp(fsync, "always") != 0) {
		snprintf(msg, sizeof(msg), "[state] Redis at %s has appendfsync "
		    "%s: a power loss may lose the last second of changes (a "
		    "spent ticket, a failure count); appendfsync always loses "
		    "none%s", where, fsync, cfg->state.redis_min_replicas > 0 ?
		    " (redis_min_replicas keeps them on a replica meanwhile)" :
		    "");
		fn(msg, arg);
	}
	free(aof);
	free(fsync);
	if (eviction_risk(c, where, msg, sizeof(msg)))
		fn(msg, arg);
	redisFree(c);
	rstore_close(r);
	return rc;
}
