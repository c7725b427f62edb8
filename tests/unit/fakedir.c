/*
 * fakedir.c - the scripted directory of fakedir.h (tests only).
 */
#include "build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/xalloc.h"
#include "tests/unit/fakedir.h"

struct fakedir_counts fakedir_counts;
void (*fakedir_write_hook)(enum fake_kind k, const char *dn);
void (*fakedir_answered_hook)(enum fake_kind k, const struct dir_result *res);

static struct fake_user users[FAKE_USERS_MAX];
static double default_delay;

#define SCRIPTS_MAX 32
static struct {
	struct fake_script s[SCRIPTS_MAX];
	size_t n;
} scripts[FAKE_KINDS];

struct fop;
struct dir {
	struct event_base *base;
	struct config *cfg;
	TAILQ_HEAD(, fop) ops;
};

struct fop {
	TAILQ_ENTRY(fop) entry;
	TAILQ_ENTRY(fop) held_entry;
	struct dir *d;
	enum fake_kind kind;
	struct fake_script s;
	char *name, *dn, *pw, *old_pw;
	dir_done_fn *done;
	dir_user_fn *user_cb;
	dir_admins_fn *admins_cb;
	void *arg;
	struct event *ev;
	bool released;		/* a held one, ended by fakedir_release() */
	bool rel_apply, rel_lost;
	enum dir_reason rel_reason;
};

static TAILQ_HEAD(, fop) held = TAILQ_HEAD_INITIALIZER(held);

void
fakedir_reset(void)
{
	memset(users, 0, sizeof(users));
	memset(scripts, 0, sizeof(scripts));
	memset(&fakedir_counts, 0, sizeof(fakedir_counts));
	default_delay = 0;
	fakedir_write_hook = NULL;
	fakedir_answered_hook = NULL;
}

struct fake_user *
fakedir_add(const char *name, const char *dn, const char *mail,
    const char *password)
{
	for (size_t i = 0; i < FAKE_USERS_MAX; i++) {
		struct fake_user *u = &users[i];

		if (u->used)
			continue;
		memset(u, 0, sizeof(*u));
		u->used = true;
		snprintf(u->name, sizeof(u->name), "%s", name);
		snprintf(u->dn, sizeof(u->dn), "%s", dn);
		snprintf(u->mail, sizeof(u->mail), "%s", mail ? mail : "");
		snprintf(u->password, sizeof(u->password), "%s", password);
		u->allowed = true;
		u->stamp = 1000;
		return u;
	}
	abort();
}

struct fake_user *
fakedir_find(const char *name)
{
	for (size_t i = 0; i < FAKE_USERS_MAX; i++)
		if (users[i].used && strcmp(users[i].name, name) == 0)
			return &users[i];
	return NULL;
}

static struct fake_user *
find_dn(const char *dn)
{
	for (size_t i = 0; i < FAKE_USERS_MAX; i++)
		if (users[i].used && strcasecmp(users[i].dn, dn) == 0)
			return &users[i];
	return NULL;
}

void
fakedir_script(enum fake_kind k, struct fake_script s)
{
	if (scripts[k].n == SCRIPTS_MAX)
		abort();
	scripts[k].s[scripts[k].n++] = s;
}

void
fakedir_set_delay(double secs)
{
	default_delay = secs;
}

unsigned
fakedir_held(void)
{
	unsigned n = 0;
	struct fop *op;

	TAILQ_FOREACH(op, &held, held_entry)
		n++;
	return n;
}

/* --- operations -------------------------------------------------------------- */

static void
fop_free(struct fop *op)
{
	TAILQ_REMOVE(&op->d->ops, op, entry);
	if (op->s.mode == FAKE_HOLD && !op->released)
		TAILQ_REMOVE(&held, op, held_entry);
	event_free(op->ev);
	free(op->name);
	free(op->dn);
	if (op->pw != NULL) {
		memset(op->pw, 0, strlen(op->pw));
		free(op->pw);
	}
	if (op->old_pw != NULL) {
		memset(op->old_pw, 0, strlen(op->old_pw));
		free(op->old_pw);
	}
	free(op);
}

static void
set_password(struct fake_user *u, const char *pw)
{
	snprintf(u->password, sizeof(u->password), "%s", pw);
	if (!u->stamp_frozen)
		u->stamp++;
	fakedir_counts.applied++;
}

/* What the server does with op, and says: DIR_OK or a refusal. */
static enum dir_reason
serve(struct fop *op)
{
	struct fake_user *u = op->dn ? find_dn(op->dn) : NULL;

	switch (op->kind) {
	case FAKE_RESET:
		if (u == NULL)
			return DIR_INTERNAL;
		set_password(u, op->pw);
		u->locked = false;
		return DIR_OK;
	case FAKE_CHANGE:
		if (u == NULL || strcmp(u->password, op->old_pw) != 0)
			return DIR_WRONG_PASSWORD;
		if (u->disabled)
			return DIR_ACCOUNT_DISABLED;
		set_password(u, op->pw);
		return DIR_OK;
	case FAKE_CHECK:
		if (u == NULL || strcmp(u->password, op->pw) != 0)
			return DIR_WRONG_PASSWORD;
		return u->disabled ? DIR_ACCOUNT_DISABLED : DIR_OK;
	case FAKE_UNLOCK:
		if (u == NULL)
			return DIR_INTERNAL;
		u->locked = false;
		return DIR_OK;
	case FAKE_SET_ATTRS:
		return u == NULL ? DIR_INTERNAL : DIR_OK;
	case FAKE_LOOKUP:
	case FAKE_ADMINS:
	case FAKE_KINDS:
		break;
	}
	return DIR_OK;
}

static void
answer_lookup(struct fop *op, struct dir_result *res)
{
	struct dir_user du;
	struct fake_user *u = fakedir_find(op->name);

	memset(&du, 0, sizeof(du));
	if (res->reason == DIR_OK && u != NULL) {
		du.found = true;
		du.dn = xstrdup(u->dn);
		if (u->mail[0] != '\0')
			strlist_add(&du.mail, u->mail);
		if (u->mobile[0] != '\0')
			strlist_add(&du.mobile, u->mobile);
		du.disabled = u->disabled;
		du.locked = u->locked;
		du.admin = u->admin;
		du.allowed = u->allowed;
		if (!u->stamp_unknown)
			snprintf(du.pwd_changed, sizeof(du.pwd_changed),
			    "%u", u->stamp);
	}
	op->user_cb(res, &du, op->arg);
	dir_user_clear(&du);
}

static void
answer_admins(struct fop *op, struct dir_result *res)
{
	struct strlist dns = { 0, NULL }, mails = { 0, NULL };

	for (size_t i = 0; res->reason == DIR_OK && i < FAKE_USERS_MAX; i++)
		if (users[i].used && users[i].admin && users[i].mail[0]) {
			strlist_add(&dns, users[i].dn);
			strlist_add(&mails, users[i].mail);
		}
	op->admins_cb(res, &dns, &mails, op->arg);
	strlist_free(&dns);
	strlist_free(&mails);
}

static void
finish(struct fop *op, struct dir_result *res)
{
	if (op->kind == FAKE_LOOKUP)
		answer_lookup(op, res);
	else if (op->kind == FAKE_ADMINS)
		answer_admins(op, res);
	else
		op->done(res, op->arg);
	if ((op->kind == FAKE_RESET || op->kind == FAKE_CHANGE) &&
	    fakedir_answered_hook != NULL)
		fakedir_answered_hook(op->kind, res);
	fop_free(op);
}

static void
on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct fop *op = arg;
	struct dir_result res;

	(void)fd;
	(void)what;
	memset(&res, 0, sizeof(res));
	res.server = "fake://dir";
	if (op->released) {
		if (op->rel_apply)
			(void)serve(op);
		res.reason = op->rel_reason;
		res.maybe_applied = op->rel_lost;
	} else if (op->s.mode == FAKE_FAIL) {
		res.reason = op->s.reason;
	} else if (op->s.mode == FAKE_LOST) {
		(void)serve(op);
		res.reason = DIR_UNAVAILABLE;
		res.maybe_applied = true;
	} else {
		res.reason = serve(op);
	}
	snprintf(res.detail, sizeof(res.detail), "fake: %s",
	    dir_reason_code(res.reason));
	finish(op, &res);
}

static void
arm(struct fop *op, double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	if (evtimer_add(op->ev, &tv) != 0)
		abort();
}

static struct fop *
fop_new(struct dir *d, enum fake_kind k, const char *dn, void *arg)
{
	struct fop *op = xcalloc(1, sizeof(*op));

	op->d = d;
	op->kind = k;
	op->arg = arg;
	op->dn = dn ? xstrdup(dn) : NULL;
	op->s.delay = default_delay;
	if (scripts[k].n > 0) {
		op->s = scripts[k].s[0];
		memmove(&scripts[k].s[0], &scripts[k].s[1],
		    --scripts[k].n * sizeof(scripts[k].s[0]));
	}
	op->ev = evtimer_new(d->base, on_answer, op);
	if (op->ev == NULL)
		abort();
	TAILQ_INSERT_TAIL(&d->ops, op, entry);
	fakedir_counts.ops[k]++;
	return op;
}

/* Never inside the caller: even an immediate answer waits for the loop. */
static void
fop_go(struct fop *op)
{
	if (op->s.mode == FAKE_HOLD) {
		TAILQ_INSERT_TAIL(&held, op, held_entry);
		return;
	}
	arm(op, op->s.delay);
}

void
fakedir_release(bool apply, enum dir_reason reason, bool lost)
{
	struct fop *op = TAILQ_FIRST(&held);

	if (op == NULL)
		abort();
	TAILQ_REMOVE(&held, op, held_entry);
	op->released = true;
	op->rel_apply = apply;
	op->rel_reason = reason;
	op->rel_lost = lost;
	arm(op, 0);
}

/* --- dir.h ------------------------------------------------------------------- */

void
dir_init(const struct config *cfg)
{
	(void)cfg;
}

bool
dir_reconfigurable(const struct config *next, char *why, size_t size)
{
	(void)next;
	(void)why;
	(void)size;
	return true;
}

struct dir *
dir_new(struct event_base *base, struct config *cfg)
{
	struct dir *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->cfg = config_ref(cfg);
	TAILQ_INIT(&d->ops);
	fakedir_counts.pools++;
	fakedir_counts.pools_live++;
	return d;
}

void
dir_free(struct dir *d)
{
	struct fop *op;

	if (d == NULL)
		return;
	while ((op = TAILQ_FIRST(&d->ops)) != NULL) {
		struct dir_result res;

		memset(&res, 0, sizeof(res));
		res.reason = DIR_UNAVAILABLE;
		finish(op, &res);
	}
	config_free(d->cfg);
	free(d);
	fakedir_counts.pools_live--;
}

void
dir_lookup_user(struct dir *d, const char *name, dir_user_fn *cb, void *arg)
{
	struct fop *op = fop_new(d, FAKE_LOOKUP, NULL, arg);

	op->name = xstrdup(name);
	op->user_cb = cb;
	fop_go(op);
}

static void
password_op(struct dir *d, enum fake_kind k, const char *dn, const char *old,
    size_t old_len, const char *pw, size_t len, dir_done_fn *cb, void *arg)
{
	struct fop *op;

	if ((k == FAKE_RESET || k == FAKE_CHANGE) && fakedir_write_hook != NULL)
		fakedir_write_hook(k, dn);
	op = fop_new(d, k, dn, arg);
	op->done = cb;
	if (pw != NULL) {
		op->pw = xcalloc(1, len + 1);
		memcpy(op->pw, pw, len);
	}
	if (old != NULL) {
		op->old_pw = xcalloc(1, old_len + 1);
		memcpy(op->old_pw, old, old_len);
	}
	fop_go(op);
}

void
dir_reset_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg)
{
	password_op(d, FAKE_RESET, dn, NULL, 0, password, len, cb, arg);
}

void
dir_change_password(struct dir *d, const char *dn, const char *old_pw,
    size_t old_len, const char *new_pw, size_t new_len, dir_done_fn *cb,
    void *arg)
{
	password_op(d, FAKE_CHANGE, dn, old_pw, old_len, new_pw, new_len, cb,
	    arg);
}

void
dir_check_password(struct dir *d, const char *dn, const char *password,
    size_t len, dir_done_fn *cb, void *arg)
{
	password_op(d, FAKE_CHECK, dn, NULL, 0, password, len, cb, arg);
}

void
dir_unlock(struct dir *d, const char *dn, dir_done_fn *cb, void *arg)
{
	password_op(d, FAKE_UNLOCK, dn, NULL, 0, NULL, 0, cb, arg);
}

void
dir_set_attributes(struct dir *d, const char *dn,
    const struct dir_attr_change *changes, size_t n, dir_done_fn *cb,
    void *arg)
{
	(void)changes;
	(void)n;
	password_op(d, FAKE_SET_ATTRS, dn, NULL, 0, NULL, 0, cb, arg);
}

void
dir_admin_contacts(struct dir *d, dir_admins_fn *cb, void *arg)
{
	struct fop *op = fop_new(d, FAKE_ADMINS, NULL, arg);

	op->admins_cb = cb;
	fop_go(op);
}

void
dir_get_stats(const struct dir *d, struct dir_stats *st)
{
	const struct fop *op;

	memset(st, 0, sizeof(*st));
	st->connections = 1;
	st->ready = 1;
	TAILQ_FOREACH(op, &d->ops, entry)
		st->in_flight++;
}

int
dir_server_stats(const struct dir *d, size_t i, struct dir_server_stats *st)
{
	(void)d;
	(void)i;
	memset(st, 0, sizeof(*st));
	return -1;
}

/* What the fake reads of a configuration: the type and the timeout. */
bool
dir_config_differs(const struct config *a, const struct config *b)
{
	return a->directory.type != b->directory.type ||
	    a->directory.timeout != b->directory.timeout;
}

int
dir_probe(const struct config *cfg, const char *uri,
    struct dir_server_info *info, dir_probe_fn *report, void *arg)
{
	(void)cfg;
	(void)uri;
	(void)info;
	report(arg, "connect", false, "fake directory: no probing");
	return -1;
}

/* The directory's password policy: the fake has none (known false),
 * delivered on the next turn of the loop as the real one is. */
struct fake_policy_call {
	dir_policy_fn *cb;
	void *arg;
};

static void
fake_policy_answer(evutil_socket_t fd, short what, void *arg)
{
	struct fake_policy_call *c = arg;
	struct dir_pwpolicy none = { 0 };

	(void)fd;
	(void)what;
	c->cb(&none, c->arg);
	free(c);
}

void
dir_default_policy(struct dir *d, dir_policy_fn *cb, void *arg)
{
	struct fake_policy_call *c = calloc(1, sizeof(*c));
	struct timeval now = { 0, 0 };

	if (c == NULL)
		abort();
	c->cb = cb;
	c->arg = arg;
	if (event_base_once(d->base, -1, EV_TIMEOUT, fake_policy_answer, c,
	    &now) != 0)
		abort();
}

void
dir_policy_flush(void)
{
}
