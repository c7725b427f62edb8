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
 * they need), and lists the administrators in scope whose usable
 * admin_methods are fewer than admin_methods_required. Every judgement is
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
#include "ldap/dir.h"

static const enum method methods[NMETHODS] = {
	METHOD_EMAIL, METHOD_SMS, METHOD_QUESTIONS, METHOD_TOTP,
};

struct method_count {
	size_t registered;
	size_t usable;
};

/* An administrator in scope below admin_methods_required. */
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
	/* A "due for reconfirmation" count belongs with the per-method
	 * counts, decided in tally() from the entry, once reconfirmation
	 * exists. */
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
	/* The methods that count for this user and would start for real. */
	have = eligible_methods(cfg, &e);
	if (count_bits(have) >= challenge_required(cfg, u->admin))
		r->can_reset++;
	if (!u->admin)
		return;
	r->admins++;
	if (count_bits(have) >= cfg->policy.admin_methods_required)
		return;
	r->below = xreallocarray(r->below, r->n_below + 1, sizeof(*r->below));
	r->below[r->n_below++] = (struct short_admin){
		.name = xstrdup(su->name),
		.dn = xstrdup(u->dn),
		.usable = have,
	};
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
	json_t *out, *ms, *below;
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
	out = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:o, s:{s:I, s:o, s:I, s:o}, s:I, s:I, s:f}",
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
	    "methods", ms,
	    "admins",
	    "in_scope", (json_int_t)r->admins,
	    "methods", json_methods(cfg->policy.admin_methods),
	    "required", (json_int_t)cfg->policy.admin_methods_required,
	    "below_required", below,
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

int
ctl_report(const struct config *cfg, bool json, unsigned page_size)
{
	struct report r = { .cfg = cfg };
	struct dir_scan_stats st;
	struct dir_result res;
	double start = now(), seconds;
	int status;

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
	for (size_t i = 0; i < r.n_below; i++) {
		free(r.below[i].name);
		free(r.below[i].dn);
	}
	free(r.below);
	return status;
}
