/*
 * pool.c - the directory connections and the operations they carry.
 *
 * [directory] connections connections, each bound as the service account to
 * one server of the uri list. Opening a connection (TCP, TLS, bind, root DSE)
 * blocks inside libldap, so it runs on a short-lived worker thread
 * (session_open()); the bound handle then belongs to the event loop, which
 * sends requests without waiting and reads answers when the socket is
 * readable (ldap_result() with a zero timeout, until it has nothing more).
 *
 * User connections: whether a password is right is asked with a bind as the
 * user, which must be the only request in flight on its connection. A few
 * more connections (the user pool: [directory] connections of them, at most
 * USER_CONNS) are opened the same way, TLS verified alike, but never bound
 * by ssprd; each carries one user's bind (and, on OpenLDAP, their change
 * right after: check.c) at a time, and the next bind replaces that identity.
 * So a check costs one round trip, not a TCP and TLS handshake. They are
 * opened when the pool starts, not when a check first comes, and replaced
 * only when broken or timed out: how many are opened never depends on whose
 * password was checked (an invalidCredentials answer leaves the connection
 * as it is).
 *
 * Failover: a connection tries the servers in the configured order, skipping
 * those in backoff (1 s after a failure, doubling to 30 s). A connection that
 * ended up on a later server goes back to the first one when it is idle and
 * the first server is out of backoff (checked every 30 s).
 *
 * Guarantees:
 * - every operation ends exactly once: answered; DIR_UNAVAILABLE when its
 *   server does not answer within [directory] timeout of sending it, when
 *   no connection was ready for a whole timeout while it waited, or at
 *   shutdown; DIR_BUSY when connections were up but it waited [daemon]
 *   max_wait behind others (never sent);
 * - an operation waits in the queue while no connection is ready, and a lost
 *   connection never loses a queued operation;
 * - a connection carries at most as many operations as its server answers
 *   well within the timeout (pace(): 2 at first, halved when answers come
 *   slowly, grown by one as they come quickly, between 1 and
 *   DIR_MAX_IN_FLIGHT): a slow server makes work wait here, where the
 *   waiting does not count against the directory, not at the server;
 * - an operation that is not idempotent (a password write) is never sent
 *   twice: when its connection dies after it was sent, it ends with
 *   maybe_applied set, for the caller to settle by reading the directory;
 * - an operation that timed out after it was sent is abandoned; when its
 *   server answered nothing else meanwhile, the connection, which may be
 *   hung, is replaced and the operation ends DIR_UNAVAILABLE; when it did
 *   answer others (slow, not gone), a search is sent again (within
 *   max_wait) and a write ends with maybe_applied;
 * - writes to one entry are sent one at a time, in the order they were
 *   started (servers race on concurrent writes to one entry: slapd's
 *   ppolicy history, for one, answers "Type or value exists").
 */
#include "build.h"

#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>

#include "common/histogram.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "ldap/dirint.h"

#define BACKOFF_MAX 30		/* seconds */
#define BACKOFF_BUSY 1		/* seconds, at most, while operations wait */
#define FAILBACK_EVERY 30	/* seconds */
/*
 * User connections, at most. A check is one round trip and comes once per
 * change, register or status request, which people type: 4 carry hundreds
 * a second at a millisecond a bind, while every one more is a TLS session
 * idling at each domain controller. Fewer when [directory] connections says
 * ssprd should hold fewer open.
 */
#define USER_CONNS 4
/* users' binds waiting for one of them, at most (dir_op_submit()) */
#define USER_QUEUE_MAX 256

struct server {
	char *uri;
	unsigned failures;
	double next_try;		/* monotonic seconds */
	struct dir_server_info info;	/* from the last bind */
	bool info_valid;
	struct histogram latency;	/* sent -> answered, seconds */
	uint64_t failed_ops;		/* no answer: timeout, lost connection */
	/* Operations each connection to it carries at once (pace()). */
	unsigned limit;
	unsigned fast;			/* quick answers since the last change */
	double cut_at;			/* monotonic seconds of the last cut */
	double answered_at;		/* ...of its last answer */
};

/* Shared between the loop and one worker thread; the mutex guards
 * `abandoned` and the hand-over (see opening_done()). */
struct opening {
	pthread_mutex_t mu;
	bool abandoned;			/* the loop let go (opening_release()) */
	bool finished;			/* the worker is done with it */
	struct event *ev_done;		/* loop side; freed only under mu */
	struct session_cfg *sc;		/* shared, reference counted */
	/* in */
	size_t n;
	int order[16];			/* server indexes to try, in order */
	char *uris[16];
	enum session_as as;
	/* out */
	LDAP *ld;
	int server;			/* index that worked, or -1 */
	bool failed[16];		/* servers that refused or timed out */
	char why[16][256];		/* ... and what they said */
	struct dir_result res;
	struct dir_server_info info;
	struct conn *conn;		/* whom to tell */
	struct dir *dir;
};

enum conn_state { CONN_DOWN, CONN_OPENING, CONN_READY };

TAILQ_HEAD(opq, dir_op);

/*
 * Connections of one kind and the operations waiting for them: the service
 * pool (bound as the service account, as many operations in flight as
 * pace() allows) or the user pool (never bound by ssprd, one operation at a
 * time). An operation waits in its own pool's queue only.
 */
struct pool {
	bool user;
	struct conn *conns;
	size_t nconns;
	struct opq queue;
	unsigned queued;
	uint64_t opened;		/* connections opened, TLS and all */
};

struct conn {
	struct dir *dir;
	struct pool *pool;
	unsigned idx;
	enum conn_state state;
	LDAP *ld;
	int server;
	struct event *ev_read;
	struct event *ev_retry;
	double retry_at;		/* monotonic seconds, while DOWN */
	struct opening *job;
	TAILQ_HEAD(, dir_op) inflight;
	unsigned n_inflight;
};

/* A completion waiting for the event loop (dir_later()). */
struct later {
	TAILQ_ENTRY(later) entry;
	void (*fn)(void *);
	void *arg;
};
TAILQ_HEAD(laterq, later);

struct dir {
	struct event_base *base;
	struct config *cfg;
	struct session_cfg *sc;
	unsigned sc_refs;		/* held by workers, guarded by refs_mu */
	pthread_mutex_t refs_mu;
	pthread_cond_t refs_cv;		/* signalled as workers let go */
	struct server *servers;
	size_t nservers;
	struct pool svc;		/* bound as the service account */
	struct pool usr;		/* for users' own binds */
	struct event *ev_failback;
	/* Completions decided inside a call that started an operation (a
	 * send refused locally, shutting down): delivered by ev_later. */
	struct laterq later;
	struct event *ev_later;
	/* After a server refused the service account's credentials, no
	 * connection tries again before this (monotonic seconds): every
	 * attempt with bad credentials counts towards the account's lockout. */
	double bind_refused_until;
	bool closing;
};

static void conn_schedule(struct conn *c, double delay);
static void dispatch(struct dir *d);

static struct pool *
op_pool(struct dir_op *op)
{
	return op->as_user ? &op->dir->usr : &op->dir->svc;
}

static bool
pool_ready(const struct pool *p)
{
	for (size_t i = 0; i < p->nconns; i++)
		if (p->conns[i].state == CONN_READY)
			return true;
	return false;
}

double
dir_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timeval
tv_of(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

const struct config *
dir_config(const struct dir *d)
{
	return d->cfg;
}

enum dir_type
dir_type(const struct dir *d)
{
	return d->cfg->directory.type;
}

/* --- session configuration shared with workers -------------------------- */

static struct session_cfg *
sc_hold(struct dir *d)
{
	pthread_mutex_lock(&d->refs_mu);
	d->sc_refs++;
	pthread_mutex_unlock(&d->refs_mu);
	return d->sc;
}

static void
sc_release(struct dir *d)
{
	bool last;

	pthread_mutex_lock(&d->refs_mu);
	last = (--d->sc_refs == 0);
	pthread_cond_broadcast(&d->refs_cv);
	pthread_mutex_unlock(&d->refs_mu);
	if (last) {
		session_cfg_free(d->sc);
		pthread_cond_destroy(&d->refs_cv);
		pthread_mutex_destroy(&d->refs_mu);
		free(d);
	}
}

/* --- operations ---------------------------------------------------------- */

static void
op_free(struct dir_op *op)
{
	if (op->ev_deadline != NULL)
		event_free(op->ev_deadline);
	if (op->cls->destroy != NULL)
		op->cls->destroy(op->priv);
	free(op);
}

/* --- completions from the event loop ------------------------------------- */

/*
 * Every callback reaches the caller from the event loop, never from inside
 * the call that started the operation (dir_*(), dir_op_submit()): the caller
 * may free what the callback is given as soon as it runs, and must not find
 * that done before its own call returns. Outcomes known at once (a send
 * refused by libldap, a pool shutting down, a name not worth asking about)
 * wait here for the next turn of the loop. dir_free() delivers what is left.
 */
void
dir_later(struct dir *d, void (*fn)(void *), void *arg)
{
	struct later *l = xcalloc(1, sizeof(*l));

	l->fn = fn;
	l->arg = arg;
	TAILQ_INSERT_TAIL(&d->later, l, entry);
	event_active(d->ev_later, 0, 0);
}

static void
later_run(struct dir *d)
{
	struct later *l;

	/* a callback may add more: they run in this same turn */
	while ((l = TAILQ_FIRST(&d->later)) != NULL) {
		TAILQ_REMOVE(&d->later, l, entry);
		l->fn(l->arg);
		free(l);
	}
}

static void
on_later(evutil_socket_t fd, short what, void *arg)
{
	later_run(arg);
}

static void
op_fail_now(void *arg)
{
	struct dir_op *op = arg;

	op->cls->fail(op, &op->res);
	op_free(op);
}

/* The op ends without an answer: res says why. Its caller hears of it on
 * the next turn of the loop. */
static void
op_end(struct dir_op *op, const struct dir_result *res)
{
	if (op->ev_deadline != NULL)
		event_del(op->ev_deadline);
	op->res = *res;
	dir_later(op->dir, op_fail_now, op);
}

static void
op_fail(struct dir_op *op, enum dir_reason reason, bool maybe_applied,
    const char *detail)
{
	struct dir_result res = { .reason = reason };

	res.maybe_applied = maybe_applied;
	res.server = op->server ? op->server->uri : NULL;
	snprintf(res.detail, sizeof(res.detail), "%s", detail);
	op_end(op, &res);
}

static void
op_fail_as(struct dir_op *op, enum dir_reason reason, const char *detail)
{
	op_fail(op, reason, false, detail);
}

static void
conn_forget_op(struct conn *c, struct dir_op *op)
{
	TAILQ_REMOVE(&c->inflight, op, entry);
	c->n_inflight--;
	op->conn = NULL;
}

static void conn_break(struct conn *c, const char *why);
static void pace(struct dir *d, struct server *s, const struct dir_op *op,
    double took);

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	static struct log_limit slow_limit = LOG_LIMIT(60, 2);
	struct dir_op *op = arg;
	struct dir *d = op->dir;
	struct conn *c = op->conn;
	struct timeval tv = { .tv_sec = d->cfg->directory.timeout };
	struct server *s;

	if (c == NULL) {
		double waited = dir_now_mono() - op->queued_at;
		unsigned max_wait = d->cfg->daemon.max_wait;
		struct pool *p = op_pool(op);
		bool ready = pool_ready(p);

		/* Connections are up: it waits because ssprd holds work back
		 * from a slow server, which is not the directory failing. */
		if (ready && waited < max_wait) {
			struct timeval again = tv_of(max_wait - waited <
			    d->cfg->directory.timeout ? max_wait - waited :
			    d->cfg->directory.timeout);

			evtimer_add(op->ev_deadline, &again);
			return;
		}
		TAILQ_REMOVE(&p->queue, op, entry);
		p->queued--;
		if (ready)
			op_fail_as(op, DIR_BUSY, "waited [daemon] max_wait "
			    "behind other operations");
		else
			op_fail(op, DIR_UNAVAILABLE, false,
			    "no directory connection became ready in time");
		return;
	}
	s = &d->servers[c->server];
	if (c->pool->user) {
		/* A bind cannot be abandoned (RFC 4511, 4.11), and who the
		 * connection is bound as is unknown after it: replace it. */
		conn_forget_op(c, op);
		s->failed_ops++;
		log_warnx("ldap: %s: a user bind got no answer within %u s; "
		    "replacing the connection", s->uri,
		    d->cfg->directory.timeout);
		op_fail(op, DIR_UNAVAILABLE, !op->idempotent,
		    "the directory did not answer in time");
		conn_break(c, "a user bind timed out");
		return;
	}
	pace(d, s, op, d->cfg->directory.timeout);
	ldap_abandon_ext(c->ld, op->msgid, NULL, NULL);
	conn_forget_op(c, op);
	/* The server answered other operations meanwhile: slow, not gone.
	 * A search goes back to the queue (max_wait bounds it), a write ends
	 * with maybe_applied; the connection stays. */
	if (s->answered_at > op->sent_at) {
		log_limited(&slow_limit, LOG_LEVEL_WARNING, 0, "ldap: %s: %s "
		    "got no answer within %u s while others did; %s", s->uri,
		    op->cls->name, d->cfg->directory.timeout, op->idempotent ?
		    "sending it again" : "settling it from the directory");
		if (!op->idempotent) {
			op_fail(op, DIR_UNAVAILABLE, true,
			    "the directory did not answer in time");
			return;
		}
		op->sent = false;
		op->server = NULL;
		TAILQ_INSERT_HEAD(&d->svc.queue, op, entry);
		d->svc.queued++;
		evtimer_add(op->ev_deadline, &tv);
		dispatch(d);
		return;
	}
	/* Sent and unanswered: do not trust the connection any more (a
	 * server that accepts and never answers looks so). */
	s->failed_ops++;
	log_warnx("ldap: %s: %s got no answer within %u s; replacing the "
	    "connection", c->dir->servers[c->server].uri, op->cls->name,
	    d->cfg->directory.timeout);
	op_fail(op, DIR_UNAVAILABLE, !op->idempotent,
	    "the directory did not answer in time");
	conn_break(c, "an operation timed out");
}

struct dir_op *
dir_op_new(struct dir *d, const struct dir_op_class *cls, void *priv,
    enum dir_op_kind kind, bool idempotent)
{
	struct dir_op *op = xcalloc(1, sizeof(*op));

	op->dir = d;
	op->cls = cls;
	op->priv = priv;
	op->kind = kind;
	op->idempotent = idempotent;
	op->msgid = -1;
	return op;
}

/*
 * An operation waits and no connection is ready or being opened: servers
 * in a long backoff (an outage while idle) are tried again within
 * BACKOFF_BUSY, so a server that came back serves what waits before its
 * deadline. Not when the service account's credentials were refused.
 */
static void
hurry(struct dir *d, struct pool *p)
{
	double now = dir_now_mono();

	if (!p->user && d->bind_refused_until > now)
		return;
	for (size_t i = 0; i < p->nconns; i++)
		if (p->conns[i].state != CONN_DOWN)
			return;
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i].next_try > now + BACKOFF_BUSY)
			d->servers[i].next_try = now + BACKOFF_BUSY;
	for (size_t i = 0; i < p->nconns; i++)
		if (p->conns[i].retry_at > now + BACKOFF_BUSY)
			conn_schedule(&p->conns[i], BACKOFF_BUSY);
}

void
dir_op_submit(struct dir_op *op)
{
	struct dir *d = op->dir;
	struct pool *p = op_pool(op);
	struct timeval tv = { .tv_sec = d->cfg->directory.timeout };

	if (d->closing) {
		op_fail(op, DIR_UNAVAILABLE, false, "ssprd is shutting down");
		return;
	}
	/* Anyone can make ssprd check a password, and the few user
	 * connections take one at a time: past this many waiting, more are
	 * answered busy at once rather than piling up (and the service
	 * pool's work, which never waits behind them, goes on). */
	if (op->as_user && p->queued >= USER_QUEUE_MAX) {
		op_fail(op, DIR_BUSY, false, "too many password checks waiting");
		return;
	}
	op->ev_deadline = evtimer_new(d->base, on_deadline, op);
	if (op->ev_deadline == NULL || evtimer_add(op->ev_deadline, &tv) != 0)
		fatalx("ldap: cannot arm an operation deadline");
	op->queued_at = dir_now_mono();
	TAILQ_INSERT_TAIL(&p->queue, op, entry);
	p->queued++;
	dispatch(d);
	if (op->conn == NULL)
		hurry(d, p);
}

/* --- pacing -------------------------------------------------------------- */

/*
 * How many operations a connection to s carries at once, from how fast s
 * answers: an answer that took more than half the timeout halves the limit
 * (once per round: not again for operations sent before that cut), and
 * each run of `limit` answers within a quarter of it adds one.
 * What the limit keeps back waits in the queue, where its time is not the
 * directory's: a server that is slow but working is never made to look
 * dead by answers queued behind each other at the server.
 */
static void
pace(struct dir *d, struct server *s, const struct dir_op *op, double took)
{
	static struct log_limit slow_limit = LOG_LIMIT(60, 2);
	double timeout = d->cfg->directory.timeout;

	if (took > timeout / 2) {
		if (op->sent_at >= s->cut_at && s->limit > 1) {
			s->limit /= 2;
			s->cut_at = dir_now_mono();
			log_limited(&slow_limit, LOG_LEVEL_WARNING, 0,
			    "ldap: %s answered in %.2f s ([directory] timeout "
			    "%u s); at most %u operation(s) in flight per "
			    "connection", s->uri, took, d->cfg->directory.timeout,
			    s->limit);
		}
		s->fast = 0;
	} else if (took < timeout / 4 && s->limit < DIR_MAX_IN_FLIGHT &&
	    ++s->fast >= s->limit) {
		s->limit++;
		s->fast = 0;
	}
}

/* --- reading answers ----------------------------------------------------- */

static int conn_send(struct conn *c, struct dir_op *op);

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval zero = { 0, 0 };

	while (c->state == CONN_READY) {
		LDAPMessage *msg = NULL;
		struct dir_op *op;
		enum dir_step step;
		int rc, id;

		rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ALL, &zero, &msg);
		if (rc == 0)
			break;
		if (rc < 0) {
			conn_break(c, "connection lost");
			return;
		}
		id = ldap_msgid(msg);
		TAILQ_FOREACH(op, &c->inflight, entry)
			if (op->msgid == id)
				break;
		if (op == NULL) {
			/* An answer to an abandoned request. */
			ldap_msgfree(msg);
			continue;
		}
		conn_forget_op(c, op);
		/* A user's bind says nothing of how the server keeps up with
		 * the service account's work, and its time is the user's
		 * (a wrong password may be answered slowly on purpose). */
		if (!c->pool->user) {
			struct server *s = &c->dir->servers[c->server];

			s->answered_at = dir_now_mono();
			pace(c->dir, s, op, dir_now_mono() - op->sent_at);
			if (!op->follow_up)
				histogram_add(&s->latency,
				    dir_now_mono() - op->sent_at);
		}
		step = op->cls->more ? op->cls->more(op, c->ld, msg) :
		    DIR_STEP_LAST;
		if (step == DIR_STEP_NEXT) {
			ldap_msgfree(msg);
			conn_send(c, op);
			continue;
		}
		if (step == DIR_STEP_LAST_DROP) {
			/* Out of use before done() runs, so that nothing it
			 * starts can be sent on this connection. */
			conn_break(c, "an answer left the connection in doubt");
			op->cls->done(op, NULL, msg);
			ldap_msgfree(msg);
			op_free(op);
			break;
		}
		op->cls->done(op, c->ld, msg);
		ldap_msgfree(msg);
		op_free(op);
	}
	dispatch(c->dir);
}

/* --- sending ------------------------------------------------------------- */

static struct conn *
least_busy(struct dir *d, struct pool *p)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];

		if (c->state != CONN_READY || c->n_inflight >=
		    (p->user ? 1 : d->servers[c->server].limit))
			continue;
		if (best == NULL || c->n_inflight < best->n_inflight)
			best = c;
	}
	return best;
}

/* Is an operation with this serial key in flight, in either pool (a user's
 * change and an admin's reset of one entry go one at a time too)? */
static bool
serial_busy(const struct dir *d, const char *key)
{
	const struct pool *pools[] = { &d->svc, &d->usr };
	const struct dir_op *op;

	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < pools[k]->nconns; i++)
			TAILQ_FOREACH(op, &pools[k]->conns[i].inflight, entry)
				if (op->serial != NULL &&
				    strcasecmp(op->serial, key) == 0)
					return true;
	return false;
}

/* The first operation queued in p that may go now. */
static struct dir_op *
next_sendable(const struct dir *d, const struct pool *p)
{
	struct dir_op *op, *prev;

	TAILQ_FOREACH(op, &p->queue, entry) {
		if (op->serial == NULL)
			return op;
		if (serial_busy(d, op->serial))
			continue;
		/* ...and no earlier queued op for the same entry */
		for (prev = TAILQ_PREV(op, opq, entry); prev != NULL;
		    prev = TAILQ_PREV(prev, opq, entry))
			if (prev->serial != NULL &&
			    strcasecmp(prev->serial, op->serial) == 0)
				break;
		if (prev == NULL)
			return op;
	}
	return NULL;
}

/*
 * Send op on c, which has room for it. Returns LDAP_SUCCESS when it is in
 * flight there; otherwise it went back to the head of its queue (nothing
 * reached the server, and it may go again) or ended, and when the
 * connection failed, c was replaced.
 */
static int
conn_send(struct conn *c, struct dir_op *op)
{
	struct dir *d = c->dir;
	struct timeval timeout = { .tv_sec = d->cfg->directory.timeout };
	int rc, msgid = -1;

	op->server = &d->servers[c->server].info;
	rc = op->cls->send(op, c->ld, &msgid);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT) {
		/* Nothing reached the server: the op goes back to the head of
		 * the queue, unless it is the later step of one whose earlier
		 * ones were answered here (a change after its user's bind),
		 * which cannot move to another connection. */
		if (!op->sent || op->idempotent) {
			struct pool *p = op_pool(op);

			op->sent = false;
			op->server = NULL;
			TAILQ_INSERT_HEAD(&p->queue, op, entry);
			p->queued++;
		} else {
			op_fail(op, DIR_UNAVAILABLE, false, "the connection "
			    "was lost before the request was sent");
		}
		conn_break(c, "sending failed");
		return rc;
	}
	if (rc != LDAP_SUCCESS) {
		struct dir_result res;

		session_map_result(NULL, d->cfg->directory.type, op->kind, rc,
		    ldap_err2string(rc), NULL, false, &res);
		res.server = d->servers[c->server].uri;
		op_end(op, &res);
		return rc;
	}
	op->sent = true;
	op->sent_at = dir_now_mono();
	/* The directory's time starts now, not when it was queued. */
	evtimer_add(op->ev_deadline, &timeout);
	op->msgid = msgid;
	op->conn = c;
	TAILQ_INSERT_TAIL(&c->inflight, op, entry);
	c->n_inflight++;
	return LDAP_SUCCESS;
}

static void
dispatch_pool(struct dir *d, struct pool *p)
{
	struct dir_op *op;
	struct conn *c;

	while ((c = least_busy(d, p)) != NULL &&
	    (op = next_sendable(d, p)) != NULL) {
		TAILQ_REMOVE(&p->queue, op, entry);
		p->queued--;
		conn_send(c, op);
	}
}

static void
dispatch(struct dir *d)
{
	dispatch_pool(d, &d->svc);
	dispatch_pool(d, &d->usr);
}

/* --- opening connections on worker threads ------------------------------- */

static void opening_free(struct opening *job);

static void *
opening_run(void *arg)
{
	struct opening *job = arg;
	bool abandoned;

	job->server = -1;
	for (size_t i = 0; i < job->n; i++) {
		job->ld = session_open(job->sc, job->uris[i], job->as,
		    &job->info, &job->res, NULL, NULL);
		if (job->ld != NULL) {
			job->server = job->order[i];
			break;
		}
		/* A refused bind is the account's problem, not the
		 * server's (nor is a connection refused for user binds
		 * by the configuration): no point trying the next one. */
		if (job->res.reason != DIR_UNAVAILABLE) {
			job->server = job->order[i];
			break;
		}
		job->failed[i] = true;
		snprintf(job->why[i], sizeof(job->why[i]), "%s", job->res.detail);
	}
	pthread_mutex_lock(&job->mu);
	job->finished = true;
	abandoned = job->abandoned;
	if (!abandoned)
		event_active(job->ev_done, 0, 0);
	pthread_mutex_unlock(&job->mu);
	if (abandoned)
		opening_free(job);
	return NULL;
}

static void
opening_free(struct opening *job)
{
	struct dir *d = job->dir;

	if (job->ld != NULL)
		ldap_unbind_ext_s(job->ld, NULL, NULL);
	for (size_t i = 0; i < job->n; i++)
		free(job->uris[i]);
	pthread_mutex_destroy(&job->mu);
	free(job);
	sc_release(d);
}

/* The loop lets go of a job: freed here when its worker is done, else by
 * the worker when it returns. */
static void
opening_release(struct opening *job)
{
	bool finished;

	pthread_mutex_lock(&job->mu);
	job->abandoned = true;
	event_free(job->ev_done);
	job->ev_done = NULL;
	finished = job->finished;
	pthread_mutex_unlock(&job->mu);
	if (finished)
		opening_free(job);
}

static void on_opened(evutil_socket_t fd, short what, void *arg);

static struct opening *
opening_start(struct dir *d, struct conn *c)
{
	struct opening *job = xcalloc(1, sizeof(*job));
	double now = dir_now_mono();
	pthread_attr_t attr;
	pthread_t tid;

	pthread_mutex_init(&job->mu, NULL);
	job->dir = d;
	job->conn = c;
	job->as = c->pool->user ? SESSION_UNBOUND : SESSION_SERVICE;
	job->sc = sc_hold(d);
	for (size_t i = 0; i < d->nservers && job->n < 16; i++) {
		if (d->servers[i].next_try > now)
			continue;
		job->order[job->n] = (int)i;
		job->uris[job->n++] = xstrdup(d->servers[i].uri);
	}
	job->ev_done = event_new(d->base, -1, 0, on_opened, job);
	if (job->ev_done == NULL)
		fatalx("ldap: cannot create an event");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, opening_run, job) != 0)
		fatal("ldap: cannot start a connection thread");
	pthread_attr_destroy(&attr);
	return job;
}

static void
server_failed(struct dir *d, int i, const char *why)
{
	struct server *s = &d->servers[i];
	unsigned backoff;

	/* Several connections find a server down at once: one failure. */
	if (s->next_try > dir_now_mono())
		return;
	s->failures++;
	backoff = s->failures >= 6 ? BACKOFF_MAX : 1u << (s->failures - 1);
	if (backoff > BACKOFF_MAX)
		backoff = BACKOFF_MAX;
	/* Work is waiting: look again soon, or a server that is back finds
	 * its requests already answered directory-unavailable. */
	if (d->svc.queued + d->usr.queued > 0 && backoff > BACKOFF_BUSY)
		backoff = BACKOFF_BUSY;
	s->next_try = dir_now_mono() + backoff;
	log_warnx("ldap: %s unavailable (%s); next try in %u s", s->uri, why,
	    backoff);
}

static double
earliest_retry(struct dir *d)
{
	double t = -1, now = dir_now_mono();

	for (size_t i = 0; i < d->nservers; i++)
		if (t < 0 || d->servers[i].next_try < t)
			t = d->servers[i].next_try;
	return t > now ? t - now : 1;
}

static void
conn_ready(struct conn *c, LDAP *ld, int server, const struct dir_server_info *info)
{
	struct dir *d = c->dir;
	struct server *s = &d->servers[server];
	struct timeval send_limit = { .tv_sec = 1 };
	int fd = -1;

	if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		conn_schedule(c, 1);
		return;
	}
	c->pool->opened++;
	if (c->pool->user) {
		/* The service connections keep what the root DSE says. */
		if (s->failures > 0)
			log_info("ldap: connected to %s for user binds",
			    s->uri);
	} else if (s->failures > 0 || !s->info_valid) {
		log_info("ldap: connected to %s (%s)", s->uri,
		    *info->vendor ? info->vendor : "vendor not announced");
		if (d->cfg->directory.type == DIR_TYPE_AD &&
		    *info->policy_hints_oid == '\0' &&
		    d->cfg->directory.enforce_history != HISTORY_NO)
			log_warnx("ldap: %s offers no policy hints control: "
			    "password history is not enforced on resets%s", s->uri,
			    d->cfg->directory.enforce_history == HISTORY_YES ?
			    ", so resets through it are refused "
			    "(enforce_history = yes)" : "");
	}
	s->failures = 0;
	s->next_try = 0;
	if (!c->pool->user) {
		s->info = *info;
		s->info.uri = s->uri;
		s->info_valid = true;
	}
	/* Requests are written by libldap with plain blocking writes. They are
	 * small; a send buffer that stays full means a server that stopped
	 * reading, and the loop must not wait on it for long: such a write
	 * fails after this, and the connection is replaced. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_limit,
	    sizeof(send_limit)) != 0)
		log_warn("ldap: cannot limit socket writes");
	c->ld = ld;
	c->server = server;
	c->state = CONN_READY;
	c->ev_read = event_new(d->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	if (c->ev_read == NULL || event_add(c->ev_read, NULL) != 0)
		fatalx("ldap: cannot watch a connection");
	dispatch(d);
}

/* Nothing queued in p can succeed while the service account is refused
 * (or, for the user pool, the configuration refuses its connections). */
static void
fail_queue(struct pool *p, const struct dir_result *why)
{
	struct dir_op *op;

	while ((op = TAILQ_FIRST(&p->queue)) != NULL) {
		struct dir_result res = *why;

		TAILQ_REMOVE(&p->queue, op, entry);
		p->queued--;
		res.maybe_applied = false;
		/* ssprd's or the service account's trouble, never the user's */
		res.reason = DIR_INTERNAL;
		op_end(op, &res);
	}
}

static void
on_opened(evutil_socket_t fd, short what, void *arg)
{
	struct opening *job = arg;
	struct dir *d = job->dir;
	struct conn *c = job->conn;
	LDAP *ld = job->ld;

	for (size_t i = 0; i < job->n; i++)
		if (job->failed[i])
			server_failed(d, job->order[i], job->why[i]);
	job->ld = NULL;
	c->job = NULL;
	if (ld != NULL) {
		conn_ready(c, ld, job->server, &job->info);
	} else if (job->server >= 0 && c->pool->user) {
		/* Not the server's fault, and not one that fixes itself:
		 * TLS cannot be set up, or the URI carries no TLS for the
		 * users' passwords. */
		log_errorx("ldap: %s: no connection for user binds: %s (%s)",
		    d->servers[job->server].uri,
		    dir_reason_code(job->res.reason), job->res.detail);
		fail_queue(c->pool, &job->res);
		conn_schedule(c, BACKOFF_MAX);
	} else if (job->server >= 0) {
		/* The server refused the service account: say so loudly, it
		 * will not fix itself; and end what waits, at once. */
		log_errorx("ldap: %s refused the service account's bind: %s (%s)",
		    d->servers[job->server].uri, dir_reason_code(job->res.reason),
		    job->res.detail);
		d->bind_refused_until = dir_now_mono() + BACKOFF_MAX;
		fail_queue(c->pool, &job->res);
		conn_schedule(c, BACKOFF_MAX);
	} else {
		conn_schedule(c, earliest_retry(d));
	}
	opening_release(job);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct dir *d = c->dir;
	double now = dir_now_mono();

	if (c->state != CONN_DOWN || d->closing)
		return;
	if (!c->pool->user && d->bind_refused_until > now) {
		conn_schedule(c, d->bind_refused_until - now);
		return;
	}
	c->state = CONN_OPENING;
	c->job = opening_start(c->dir, c);
}

static void
conn_schedule(struct conn *c, double delay)
{
	struct timeval tv = tv_of(delay);

	c->state = CONN_DOWN;
	c->retry_at = dir_now_mono() + delay;
	if (evtimer_add(c->ev_retry, &tv) != 0)
		fatalx("ldap: cannot schedule a reconnect");
}

static void
conn_close(struct conn *c)
{
	if (c->ev_read != NULL) {
		event_free(c->ev_read);
		c->ev_read = NULL;
	}
	if (c->ld != NULL) {
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		c->ld = NULL;
	}
}

/* The connection is gone or untrusted. Sent idempotent operations go back
 * to the queue; sent writes end with maybe_applied. */
static void
conn_break(struct conn *c, const char *why)
{
	struct dir *d = c->dir;
	struct dir_op *op;

	if (c->state != CONN_READY)
		return;
	log_warnx("ldap: %s: %s%s; %u operation(s) in flight",
	    d->servers[c->server].uri, c->pool->user ? "user binds: " : "",
	    why, c->n_inflight);
	conn_close(c);
	while ((op = TAILQ_LAST(&c->inflight, opq)) != NULL) {
		conn_forget_op(c, op);
		if (op->idempotent) {
			op->sent = false;
			op->server = NULL;
			TAILQ_INSERT_HEAD(&c->pool->queue, op, entry);
			c->pool->queued++;
		} else {
			op_fail(op, DIR_UNAVAILABLE, true,
			    "the connection was lost before the answer came");
		}
	}
	conn_schedule(c, 0);
}

/* Connections that failed over go home when the first server is back. */
static void
on_failback(evutil_socket_t fd, short what, void *arg)
{
	struct dir *d = arg;

	struct pool *pools[] = { &d->svc, &d->usr };

	if (d->servers[0].next_try > dir_now_mono())
		return;
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < pools[k]->nconns; i++) {
			struct conn *c = &pools[k]->conns[i];

			if (c->state != CONN_READY || c->server == 0 ||
			    c->n_inflight > 0)
				continue;
			log_info("ldap: moving a%s connection from %s back "
			    "to %s", pools[k]->user ? " user bind" : "",
			    d->servers[c->server].uri, d->servers[0].uri);
			conn_close(c);
			conn_schedule(c, 0);
		}
}

/* --- the pool ------------------------------------------------------------ */

static bool initialised;

void
dir_init(const struct config *cfg)
{
	session_global_init(cfg);
	/* Workers wake the loop with event_active(): the base must have
	 * locks, so this comes before event_base_new(). */
	if (evthread_use_pthreads() != 0)
		fatalx("ldap: libevent has no thread support");
	initialised = true;
}

static void
pool_start(struct dir *d, struct pool *p, bool user, size_t n)
{
	p->user = user;
	TAILQ_INIT(&p->queue);
	p->nconns = n;
	p->conns = xcalloc(n, sizeof(*p->conns));
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &p->conns[i];

		c->dir = d;
		c->pool = p;
		c->idx = (unsigned)i;
		c->server = -1;
		TAILQ_INIT(&c->inflight);
		c->ev_retry = evtimer_new(d->base, on_retry, c);
		if (c->ev_retry == NULL)
			fatalx("ldap: cannot create a timer");
		conn_schedule(c, 0);
	}
}

/* Every operation of p ends DIR_UNAVAILABLE; its connections close. */
static void
pool_stop(struct pool *p)
{
	struct dir_op *op;

	while ((op = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, op, entry);
		p->queued--;
		op_fail(op, DIR_UNAVAILABLE, false, "ssprd is shutting down");
	}
	for (size_t i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];

		while ((op = TAILQ_FIRST(&c->inflight)) != NULL) {
			conn_forget_op(c, op);
			op_fail(op, DIR_UNAVAILABLE, !op->idempotent,
			    "ssprd is shutting down");
		}
		conn_close(c);
		if (c->job != NULL)
			opening_release(c->job);
		event_free(c->ev_retry);
	}
}

struct dir *
dir_new(struct event_base *base, struct config *cfg)
{
	struct timeval every = { .tv_sec = FAILBACK_EVERY };
	struct dir *d = xcalloc(1, sizeof(*d));

	if (!initialised)
		fatalx("ldap: dir_init() was not called before the event base");

	d->base = base;
	d->cfg = config_ref(cfg);
	d->sc = session_cfg_new(cfg);
	d->sc_refs = 1;
	pthread_mutex_init(&d->refs_mu, NULL);
	pthread_cond_init(&d->refs_cv, NULL);
	TAILQ_INIT(&d->later);
	d->ev_later = event_new(base, -1, 0, on_later, d);
	if (d->ev_later == NULL)
		fatalx("ldap: cannot create an event");
	d->nservers = cfg->directory.uris.n;
	d->servers = xcalloc(d->nservers, sizeof(*d->servers));
	for (size_t i = 0; i < d->nservers; i++) {
		d->servers[i].uri = xstrdup(cfg->directory.uris.v[i]);
		d->servers[i].info.uri = d->servers[i].uri;
		/* slow start: a server earns its place in flight */
		d->servers[i].limit = 2;
	}
	pool_start(d, &d->svc, false, cfg->directory.connections);
	pool_start(d, &d->usr, true, cfg->directory.connections < USER_CONNS ?
	    cfg->directory.connections : USER_CONNS);
	d->ev_failback = event_new(base, -1, EV_PERSIST, on_failback, d);
	if (d->ev_failback == NULL || event_add(d->ev_failback, &every) != 0)
		fatalx("ldap: cannot create a timer");
	return d;
}

/* Abandoned workers finish their connection attempt and free it; give
 * them the time one attempt may take, so a clean stop leaves nothing
 * behind. One that is still stuck after that is left to the exit. */
static void
wait_for_workers(struct dir *d)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)d->cfg->directory.timeout + 1;
	pthread_mutex_lock(&d->refs_mu);
	while (d->sc_refs > 1 &&
	    pthread_cond_timedwait(&d->refs_cv, &d->refs_mu, &until) == 0)
		;
	pthread_mutex_unlock(&d->refs_mu);
}

void
dir_free(struct dir *d)
{
	if (d == NULL)
		return;
	d->closing = true;
	pool_stop(&d->svc);
	pool_stop(&d->usr);
	event_free(d->ev_failback);
	/* what ended above, and anything its callbacks started */
	later_run(d);
	event_free(d->ev_later);
	wait_for_workers(d);
	for (size_t i = 0; i < d->nservers; i++)
		free(d->servers[i].uri);
	free(d->servers);
	free(d->svc.conns);
	free(d->usr.conns);
	config_free(d->cfg);
	d->cfg = NULL;
	sc_release(d);		/* frees d once no worker holds it */
}

void
dir_get_stats(const struct dir *d, struct dir_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->connections = (unsigned)d->svc.nconns;
	st->queued = d->svc.queued;
	if (!TAILQ_EMPTY(&d->svc.queue))
		st->queue_wait = dir_now_mono() -
		    TAILQ_FIRST(&d->svc.queue)->queued_at;
	for (size_t i = 0; i < d->svc.nconns; i++) {
		if (d->svc.conns[i].state == CONN_READY)
			st->ready++;
		st->in_flight += d->svc.conns[i].n_inflight;
	}
	st->opened = d->svc.opened;
	st->user_connections = (unsigned)d->usr.nconns;
	for (size_t i = 0; i < d->usr.nconns; i++)
		if (d->usr.conns[i].state == CONN_READY)
			st->user_ready++;
	st->user_queued = d->usr.queued;
	st->user_opened = d->usr.opened;
}

int
dir_server_stats(const struct dir *d, size_t i, struct dir_server_stats *st)
{
	if (i >= d->nservers)
		return -1;
	memset(st, 0, sizeof(*st));
	st->uri = d->servers[i].uri;
	st->latency = &d->servers[i].latency;
	st->failed_ops = d->servers[i].failed_ops;
	st->backoff = d->servers[i].next_try > dir_now_mono();
	for (size_t k = 0; k < d->svc.nconns; k++)
		if (d->svc.conns[k].state == CONN_READY &&
		    d->svc.conns[k].server == (int)i)
			st->ready++;
	return 0;
}
