/*
 * report.c - ssprctl report: who has registered what.
 *
 * Reads every user of [directory] user_filter at once (dir_scan_users():
 * paged searches, membership resolved for everybody in a few searches) and
 * counts, among the users in scope (enabled and in allowed_groups, or
 * everybody when that list is empty), for each method of [policy] methods:
 *   registered  the value registration writes is there: for email and sms
 *               a usable value of recovery_attribute (none when that key
 *               is unset), for questions any value of [questions] attribute
 *   usable      a start for the method would send a code or show questions
 *               (daemon/eligible.h: a usable value of recovery_attribute or
 *               attribute; at least [questions] required questions;
 *               for totp, registered and usable alike: a value of
 *               [totp] attribute)
 * how many could reset now (as many usable methods that count for them as
 * they need) and how many have nothing usable registered, and lists the
 * administrators in scope whose usable admin_methods are fewer than
 * admin_methods_required. With [policy] reconfirm_days, it also lists the
 * users in scope due to confirm their registration again: it reads when
 * each last did from ssprd's state (store_open_reader(): beside a running
 * ssprd, as its user or root), under the key ssprd keeps it on. Every judgement is
 * the daemon's own (eligible.c, challenge.c), on the entry as a lookup
 * reads it, so the report agrees with what start would do.
 *
 * Nothing is written to the directory. Exit status 0 when every search
 * completed, 1 when the directory could not be read (the reason on stderr,
 * nothing on stdout: partial counts would mislead).
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/xalloc.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "daemon/challenge.h"
#include "daemon/eligible.h"
#include "daemon/store.h"
#include "daemon/throttle.h"
#include "ldap/dir.h"

static const enum method methods[NMETHODS] = {
	METHOD_EMAIL, METHOD_SMS, METHOD_QUESTIONS, METHOD_TOTP,
};

struct method_count {
	size_t registered;
	size_t usable;
};

/* A user the report lists: an administrator in scope below
 * admin_methods_required (usable: what counts for them), or one due for
 * reconfirmation. */
struct short_admin {
	char *name;
	char *dn;
	unsigned usable;	/* enum method bits that count for admins */
};

struct report {
	const struct config *cfg;
	size_t matched;		/* entries of user_filter */
	size_t disabled;
	size_t not_allowed;	/* enabled, not in allowed_groups */
	size_t in_scope;
	size_t can_reset;	/* in scope, with enough usable methods */
	struct method_count m[NMETHODS];
	size_t admins;		/* in scope */
	struct short_admin *below;
	size_t n_below;
	size_t nothing;		/* in scope, nothing usable registered */
	/* With reconfirm_days: ssprd's state (read only), where it keeps
	 * when each account last confirmed its registration, and the users
	 * in scope due to do so again. */
	struct store *state;
	int64_t now;
	struct short_admin *due;
	size_t n_due;
};

static unsigned
count_bits(unsigned v)
{
	return (unsigned)__builtin_popcount(v);
}

/* Whether the recovery attribute (the first n mail or mobile values of u,
 * dir.h) holds a value that eligible_mail() / eligible_mobile() take. */
static bool
registered_contact(const struct dir_user *u, enum method m, size_t n)
{
	struct dir_user view = *u;

	if (m == METHOD_EMAIL) {
		view.mail.n = n;
		return eligible_mail(&view) != NULL;
	}
	view.mobile.n = n;
	return eligible_mobile(&view) != NULL;
}

static void
add_user(struct short_admin **list, size_t *n, const char *name,
    const char *dn, unsigned usable)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = (struct short_admin){
		.name = xstrdup(name),
		.dn = xstrdup(dn),
		.usable = usable,
	};
}

/* When the account last confirmed its registration, from the record
 * ssprd keeps under the same key it counts the account's failures on. */
static bool
reconfirm_due(const struct report *r, const struct dir_user *u,
    const struct eligible_user *e)
{
	char id[THROTTLE_ID_LEN];
	json_int_t confirmed = 0;
	json_t *j;

	throttle_id_account(store_hmac_key(r->state), u->dn, id);
	if ((j = store_get(r->state, STORE_ACCOUNTS, id)) != NULL) {
		confirmed = json_integer_value(json_object_get(j, "confirmed"));
		json_decref(j);
	}
	return eligible_reconfirm_due(r->cfg, eligible_registered(r->cfg, e),
	    confirmed, r->now);
}

static void
tally(void *arg, const struct dir_scan_user *su)
{
	struct report *r = arg;
	const struct config *cfg = r->cfg;
	const struct dir_user *u = &su->user;
	struct eligible_user e;
	unsigned have;

	r->matched++;
	if (u->disabled) {
		r->disabled++;
		return;
	}
	if (!u->allowed) {
		r->not_allowed++;
		return;
	}
	r->in_scope++;
	eligible_from_dir(cfg, u, &e);
	for (size_t i = 0; i < NMETHODS; i++) {
		enum method m = methods[i];
		struct method_count *c = &r->m[i];

		if (!(cfg->policy.methods & m))
			continue;
		switch (m) {
		case METHOD_EMAIL:
			c->usable += e.mail != NULL;
			c->registered += registered_contact(u, m,
			    su->mail_registered);
			break;
		case METHOD_SMS:
			c->usable += e.mobile != NULL;
			c->registered += registered_contact(u, m,
			    su->mobile_registered);
			break;
		case METHOD_QUESTIONS:
			c->usable += e.questions;
			c->registered += u->questions != NULL;
			break;
		case METHOD_TOTP:
			c->usable += e.totp;
			c->registered += e.totp;
			break;
		}
	}
	if (eligible_registered(cfg, &e) == 0)
		r->nothing++;
	else if (r->state != NULL && reconfirm_due(r, u, &e))
		add_user(&r->due, &r->n_due, su->name, u->dn, 0);
	/* The methods that count for this user and would start for real. */
	have = eligible_methods(cfg, &e);
	if (count_bits(have) >= challenge_required(cfg, u->admin))
		r->can_reset++;
	if (!u->admin)
		return;
	r->admins++;
	if (count_bits(have) >= cfg->policy.admin_methods_required)
		return;
	add_user(&r->below, &r->n_below, su->name, u->dn, have);
}

/* "email, sms" for the bits of v, or "none". */
static void
method_names(unsigned v, char *buf, size_t size)
{
	size_t used = 0;

	*buf = '\0';
	for (size_t i = 0; i < NMETHODS && used < size; i++)
		if (v & methods[i])
			used += (size_t)snprintf(buf + used, size - used, "%s%s",
			    used ? ", " : "", config_method_name(methods[i]));
	if (*buf == '\0')
		snprintf(buf, size, "none");
}

/* Whether a "registered" count means anything for method m. */
static bool
has_registered(const struct config *cfg, enum method m)
{
	return m == METHOD_EMAIL ? cfg->email.recovery_attribute != NULL :
	    m == METHOD_SMS ? cfg->sms.recovery_attribute != NULL : true;
}

static void
print_text(const struct report *r, const struct dir_scan_stats *st,
    double seconds)
{
	const struct config *cfg = r->cfg;
	char names[64];

	printf("directory %s (%s), base %s\n", st->server,
	    config_dir_type_name(cfg->directory.type), cfg->directory.base_dn);
	printf("users matching user_filter  %8zu\n", r->matched);
	printf("  disabled                  %8zu\n", r->disabled);
	printf("  not in allowed_groups     %8zu%s\n", r->not_allowed,
	    cfg->policy.allowed_groups.n == 0 ? "  (allowed_groups is empty: "
	    "everyone)" : "");
	printf("  in scope                  %8zu\n", r->in_scope);
	printf("    can reset               %8zu  (methods_required %u, "
	    "admin_methods_required %u)\n", r->can_reset,
	    cfg->policy.methods_required, cfg->policy.admin_methods_required);
	printf("    cannot reset            %8zu\n", r->in_scope - r->can_reset);
	printf("    nothing registered      %8zu\n", r->nothing);
	if (r->state != NULL)
		printf("    due for reconfirmation  %8zu  (reconfirm_days %u)\n",
		    r->n_due, cfg->policy.reconfirm_days);
	printf("methods (users in scope)  registered    usable\n");
	for (size_t i = 0; i < NMETHODS; i++) {
		char reg[32];

		if (!(cfg->policy.methods & methods[i]))
			continue;
		if (has_registered(cfg, methods[i]))
			snprintf(reg, sizeof(reg), "%zu", r->m[i].registered);
		else
			snprintf(reg, sizeof(reg), "-");
		printf("  %-22s %12s %9zu\n", config_method_name(methods[i]),
		    reg, r->m[i].usable);
	}
	method_names(cfg->policy.admin_methods, names, sizeof(names));
	printf("administrators in scope     %8zu  (admin_methods %s)\n",
	    r->admins, names);
	printf("  below admin_methods_required (%u): %zu\n",
	    cfg->policy.admin_methods_required, r->n_below);
	for (size_t i = 0; i < r->n_below; i++) {
		method_names(r->below[i].usable, names, sizeof(names));
		printf("    %s  %s  (usable: %s)\n", *r->below[i].name ?
		    r->below[i].name : "-", r->below[i].dn, names);
	}
	if (r->n_due > 0)
		printf("due for reconfirmation: %zu\n", r->n_due);
	for (size_t i = 0; i < r->n_due; i++)
		printf("    %s  %s\n", *r->due[i].name ? r->due[i].name : "-",
		    r->due[i].dn);
	printf("read in %.1f s: %u pages, %u searches\n", seconds, st->pages,
	    st->searches);
}

static json_t *
json_methods(unsigned v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < NMETHODS; i++)
		if (v & methods[i])
			json_array_append_new(a,
			    json_string(config_method_name(methods[i])));
	return a;
}

static int
print_json(const struct report *r, const struct dir_scan_stats *st,
    double seconds)
{
	const struct config *cfg = r->cfg;
	json_t *out, *ms, *below, *reconfirm;
	int rc;

	ms = json_object();
	for (size_t i = 0; i < NMETHODS; i++) {
		if (!(cfg->policy.methods & methods[i]))
			continue;
		json_object_set_new(ms, config_method_name(methods[i]),
		    json_pack("{s:o, s:I}", "registered",
		    has_registered(cfg, methods[i]) ?
		    json_integer((json_int_t)r->m[i].registered) : json_null(),
		    "usable", (json_int_t)r->m[i].usable));
	}
	below = json_array();
	for (size_t i = 0; i < r->n_below; i++)
		json_array_append_new(below, json_pack("{s:s, s:s, s:o}",
		    "name", r->below[i].name, "dn", r->below[i].dn,
		    "usable", json_methods(r->below[i].usable)));
	if (r->state != NULL) {
		json_t *due = json_array();

		for (size_t i = 0; i < r->n_due; i++)
			json_array_append_new(due, json_pack("{s:s, s:s}",
			    "name", r->due[i].name, "dn", r->due[i].dn));
		reconfirm = json_pack("{s:I, s:I, s:o}", "days",
		    (json_int_t)cfg->policy.reconfirm_days, "due",
		    (json_int_t)r->n_due, "users", due);
	} else {
		reconfirm = json_null();
	}
	out = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}, s:o, s:{s:I, s:o, s:I, s:o}, s:o, s:I, s:I, s:f}",
	    "server", st->server,
	    "type", config_dir_type_name(cfg->directory.type),
	    "base_dn", cfg->directory.base_dn,
	    "users",
	    "matched", (json_int_t)r->matched,
	    "disabled", (json_int_t)r->disabled,
	    "not_allowed", (json_int_t)r->not_allowed,
	    "in_scope", (json_int_t)r->in_scope,
	    "can_reset", (json_int_t)r->can_reset,
	    "cannot_reset", (json_int_t)(r->in_scope - r->can_reset),
	    "nothing_registered", (json_int_t)r->nothing,
	    "methods", ms,
	    "admins",
	    "in_scope", (json_int_t)r->admins,
	    "methods", json_methods(cfg->policy.admin_methods),
	    "required", (json_int_t)cfg->policy.admin_methods_required,
	    "below_required", below,
	    "reconfirm", reconfirm,
	    "pages", (json_int_t)st->pages,
	    "searches", (json_int_t)st->searches,
	    "seconds", (double)(long long)(seconds * 1000 + 0.5) / 1000);
	if (out == NULL) {
		fprintf(stderr, "ssprctl: report: cannot build the JSON "
		    "output\n");
		return 1;
	}
	rc = json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(out);
	return rc == 0 ? 0 : 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
free_users(struct short_admin *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].dn);
	}
	free(list);
}

int
ctl_report(const struct config *cfg, bool json, unsigned page_size)
{
	struct report r = { .cfg = cfg };
	struct dir_scan_stats st;
	struct dir_result res;
	double start = now(), seconds;
	char err[512];
	int status;

	if (cfg->policy.reconfirm_days > 0) {
		r.now = (int64_t)time(NULL);
		r.state = store_open_config(cfg, true, err, sizeof(err));
		if (r.state == NULL) {
			fprintf(stderr, "ssprctl: report: cannot read when users "
			    "last confirmed their registration (reconfirm_days "
			    "= %u): %s; run the report where ssprd runs, as its "
			    "user or root\n", cfg->policy.reconfirm_days, err);
			return 1;
		}
	}
	if (dir_scan_users(cfg, page_size, tally, &r, &st, &res) != 0) {
		fprintf(stderr, "ssprctl: report: cannot read the directory "
		    "(%s): %s: %s\n", res.server ? res.server : "no server",
		    dir_reason_code(res.reason), res.detail);
		status = 1;
	} else {
		seconds = now() - start;
		if (json) {
			status = print_json(&r, &st, seconds);
		} else {
			print_text(&r, &st, seconds);
			status = 0;
		}
		if (fflush(stdout) != 0)
			status = 1;
	}
	free_users(r.below, r.n_below);
	free_users(r.due, r.n_due);
	store_close(r.state);
	return status;
}
