/*
 * lookup.c - find a user, their contacts, groups and account state.
 *
 * The name goes into [directory] user_filter escaped per RFC 4515 (so
 * "*)(uid=*" is a name no one has, not a filter), and a search that matches
 * more than one entry finds no one: ssprd never guesses which account a
 * request means. Group membership is nested on both kinds of server: AD
 * evaluates it with the in-chain matching rule (1.2.840.113556.1.4.1941), one
 * search for allowed_groups and one for admin_groups; on OpenLDAP the
 * groupOfNames/groupOfUniqueNames that list the user are followed upwards,
 * breadth first, at most 8 levels. Every search is idempotent, so the pool may
 * resend it on another connection.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "config/values.h"
#include "ldap/dirint.h"

#define NAME_MAX_LEN 256
#define GROUP_DEPTH DIR_GROUP_DEPTH
#define IN_CHAIN "1.2.840.113556.1.4.1941"
#define UF_ACCOUNTDISABLE 0x2
#define UF_LOCKOUT 0x10
#define OPENLDAP_ADMIN_LOCK "000001010000Z"

struct lookup;
typedef void step_fn(struct lookup *lk, LDAP *ld, LDAPMessage *answer);

struct lookup {
	struct dir *dir;
	dir_user_fn *cb;
	dir_admins_fn *admins_cb;	/* set: an admin listing, not a user */
	void *arg;
	struct dir_user user;
	struct dir_result res;
	/* the search in flight */
	char *base;
	int scope;
	char *filter;
	char **attrs;
	int sizelimit;
	step_fn *step;
	/* OpenLDAP group walk */
	struct strlist frontier;
	struct strlist groups;		/* normalised DNs found so far */
	int depth;
	int ad_stage;			/* AD: 0 allowed next, 1 admin next, 2 done */
	unsigned searches;		/* sent so far */
	/* admin listing */
	struct strlist admin_dns;
	struct strlist admin_mails;
	/* the password policy step (policy_step()) */
	bool policy_read;
	dir_policy_fn *policy_cb;	/* set: dir_default_policy() */
	bool policy_answered;
};

static void lookup_search(struct lookup *lk, const char *base, int scope,
    char *filter, const char **attrs, int sizelimit, step_fn *step);
static void search_strings_free(struct lookup *lk);

static void
lookup_finish(void *arg)
{
	struct lookup *lk = arg;

	if (lk->policy_cb != NULL)
		lk->policy_cb(lk->policy_answered ? &lk->user.pwpolicy : NULL,
		    lk->arg);
	else if (lk->admins_cb != NULL)
		lk->admins_cb(&lk->res, &lk->admin_dns, &lk->admin_mails,
		    lk->arg);
	else
		lk->cb(&lk->res, &lk->user, lk->arg);
	strlist_free(&lk->admin_dns);
	strlist_free(&lk->admin_mails);
	dir_user_clear(&lk->user);
	search_strings_free(lk);
	strlist_free(&lk->frontier);
	strlist_free(&lk->groups);
	free(lk);
}

static bool policy_step(struct lookup *lk);

/* The lookup is over (lk->res says how): its caller hears of it from the
 * event loop, whatever call this comes from (dir.h). A user found is given
 * with the password policy that applies to them, read first when not
 * cached. */
static void
lookup_end(struct lookup *lk)
{
	if (lk->cb != NULL && lk->admins_cb == NULL && lk->user.found &&
	    lk->res.reason == DIR_OK && lk->user.policy_dn != NULL &&
	    !lk->policy_read && policy_step(lk))
		return;
	dir_later(lk->dir, lookup_finish, lk);
}

/* RFC 4515 escaping of one assertion value. */
char *
dir_escape_value(const char *v)
{
	struct berval in = { .bv_len = strlen(v), .bv_val = (char *)v }, out;
	char *copy;

	if (ldap_bv2escaped_filter_value(&in, &out) != 0)
		fatalx("ldap: out of memory escaping a filter value");
	copy = xstrdup(out.bv_val);
	ber_memfree(out.bv_val);
	return copy;
}

/* user_filter has exactly one %s (config.c checked). */
static char *
user_filter(const char *tmpl, const char *name)
{
	const char *pct = strstr(tmpl, "%s");
	char *esc = dir_escape_value(name), *f;

	f = xasprintf("%.*s%s%s", (int)(pct - tmpl), tmpl, esc, pct + 2);
	free(esc);
	return f;
}

/* --- the search op class -------------------------------------------------- */

static int
search_send(struct dir_op *op, LDAP *ld, int *msgid)
{
	struct lookup *lk = op->priv;
	struct timeval tv = { .tv_sec = dir_config(lk->dir)->directory.timeout };

	return ldap_search_ext(ld, lk->base, lk->scope, lk->filter, lk->attrs,
	    0, NULL, NULL, &tv, lk->sizelimit, msgid);
}

static void
search_done(struct dir_op *op, LDAP *ld, LDAPMessage *answer)
{
	struct lookup *lk = op->priv;

	lk->res.server = op->server ? op->server->uri : NULL;
	lk->step(lk, ld, answer);
}

static void
search_fail(struct dir_op *op, const struct dir_result *res)
{
	struct lookup *lk = op->priv;

	lk->res = *res;
	lk->user.found = false;
	lookup_end(lk);
}

static void
search_destroy(void *priv)
{
	/* The lookup outlives each of its searches; only the per-search
	 * strings go. (lookup_end() frees the lookup itself.) */
	(void)priv;
}

static const struct dir_op_class search_class = {
	.name = "search",
	.send = search_send,
	.done = search_done,
	.fail = search_fail,
	.destroy = search_destroy,
};

static void
search_strings_free(struct lookup *lk)
{
	free(lk->base);
	free(lk->filter);
	if (lk->attrs != NULL)
		for (size_t i = 0; lk->attrs[i] != NULL; i++)
			free(lk->attrs[i]);
	free(lk->attrs);
	lk->base = lk->filter = NULL;
	lk->attrs = NULL;
}

static void
lookup_search(struct lookup *lk, const char *base, int scope, char *filter,
    const char **attrs, int sizelimit, step_fn *step)
{
	struct dir_op *op;
	size_t n = 0;

	search_strings_free(lk);
	lk->base = xstrdup(base);
	lk->scope = scope;
	lk->filter = filter;
	while (attrs[n] != NULL)
		n++;
	lk->attrs = xcalloc(n + 1, sizeof(*lk->attrs));
	for (size_t i = 0; i < n; i++)
		lk->attrs[i] = xstrdup(attrs[i]);
	lk->sizelimit = sizelimit;
	lk->step = step;
	op = dir_op_new(lk->dir, &search_class, lk, DIR_OPK_SEARCH, true);
	/* The metrics time a lookup once: how many group searches follow
	 * depends on who the user is (none for a name that does not exist),
	 * and a count that tells must not be shown (issue 12). */
	op->follow_up = lk->searches++ > 0;
	dir_op_submit(op);
}

/* The result code of a search chain; res filled when it is not success. */
static int
chain_result(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	LDAPMessage *r = NULL;
	char *text = NULL;
	int err = LDAP_OTHER;

	for (LDAPMessage *m = ldap_first_message(ld, answer); m != NULL;
	    m = ldap_next_message(ld, m))
		if (ldap_msgtype(m) == LDAP_RES_SEARCH_RESULT)
			r = m;
	if (r == NULL || ldap_parse_result(ld, r, &err, NULL, &text, NULL, NULL,
	    0) != LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (err != LDAP_SUCCESS && err != LDAP_SIZELIMIT_EXCEEDED) {
		session_map_result(ld, dir_type(lk->dir), DIR_OPK_SEARCH, err,
		    text, NULL, true, &lk->res);
	}
	ldap_memfree(text);
	return err;
}

/* --- reading the user entry ---------------------------------------------- */

static void
values(LDAP *ld, LDAPMessage *e, const char *attr, struct strlist *out)
{
	struct berval **v;
	char *s;

	if (attr == NULL || (v = ldap_get_values_len(ld, e, attr)) == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++) {
		s = xstrndup(v[i]->bv_val, v[i]->bv_len);
		if (strlen(s) == v[i]->bv_len)	/* no NULs smuggled in */
			strlist_add(out, s);
		free(s);
	}
	ldap_value_free_len(v);
}

/* The first value of attr (NULL: none, or no attr), as values() reads it. */
static char *
first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
	struct strlist q = { 0 };
	char *v = NULL;

	values(ld, e, attr, &q);
	if (q.n > 0)
		v = xstrdup(q.v[0]);
	strlist_free(&q);
	return v;
}

static bool
value(LDAP *ld, LDAPMessage *e, const char *attr, char *out, size_t size)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	bool found = false;

	if (v != NULL && v[0] != NULL && v[0]->bv_len < size) {
		memcpy(out, v[0]->bv_val, v[0]->bv_len);
		out[v[0]->bv_len] = '\0';
		found = true;
	}
	ldap_value_free_len(v);
	return found;
}

static long long
value_int(LDAP *ld, LDAPMessage *e, const char *attr, long long dflt)
{
	char buf[32], *end;
	long long v;

	if (!value(ld, e, attr, buf, sizeof(buf)))
		return dflt;
	v = strtoll(buf, &end, 10);
	return *end == '\0' ? v : dflt;
}

/* Personal data, for the password rules (dir.h). */
static const char *const personal_attrs[] = { "givenName", "sn", "cn",
    "displayName" };

/* A user entry -> u (dirint.h). */
void
dir_read_user(const struct config *cfg, LDAP *ld, LDAPMessage *e,
    struct dir_user *u, size_t *mail_registered, size_t *mobile_registered)
{
	char *dn = ldap_get_dn(ld, e);
	char buf[64];

	u->found = true;
	u->dn = xstrdup(dn ? dn : "");
	ldap_memfree(dn);
	/* The registered (confirmed) contacts first: codes go there when
	 * there is one (eligible.h takes the first usable value). */
	values(ld, e, cfg->email.recovery_attribute, &u->mail);
	if (mail_registered != NULL)
		*mail_registered = u->mail.n;
	values(ld, e, cfg->email.attribute, &u->mail);
	values(ld, e, cfg->sms.recovery_attribute, &u->mobile);
	if (mobile_registered != NULL)
		*mobile_registered = u->mobile.n;
	values(ld, e, cfg->sms.attribute, &u->mobile);
	u->questions = first_value(ld, e, cfg->questions.attribute);
	u->totp = first_value(ld, e, cfg->totp.attribute);
	for (size_t i = 0; i < sizeof(personal_attrs) / sizeof(*personal_attrs);
	    i++)
		values(ld, e, personal_attrs[i], &u->personal);
	values(ld, e, cfg->directory.type == DIR_TYPE_AD ? "sAMAccountName" :
	    "uid", &u->personal);
	u->account = first_value(ld, e, cfg->directory.type == DIR_TYPE_AD ?
	    "sAMAccountName" : "uid");
	u->display_name = first_value(ld, e, "displayName");
	if (cfg->policy.directory_rules) {
		if (cfg->directory.type == DIR_TYPE_AD) {
			u->policy_dn = first_value(ld, e, "msDS-ResultantPSO");
			if (u->policy_dn == NULL && dir_domain_of(u->dn) != NULL)
				u->policy_dn = xstrdup(dir_domain_of(u->dn));
		} else {
			u->policy_dn = first_value(ld, e, "pwdPolicySubentry");
			if (u->policy_dn == NULL &&
			    cfg->directory.ppolicy_default != NULL)
				u->policy_dn =
				    xstrdup(cfg->directory.ppolicy_default);
		}
	}
	if (cfg->directory.type == DIR_TYPE_AD) {
		long long uac = value_int(ld, e, "userAccountControl", 0);
		long long computed = value_int(ld, e,
		    "msDS-User-Account-Control-Computed", -1);

		u->disabled = (uac & UF_ACCOUNTDISABLE) != 0;
		u->locked = computed >= 0 ? (computed & UF_LOCKOUT) != 0 :
		    value_int(ld, e, "lockoutTime", 0) != 0;
		u->admin = value_int(ld, e, "adminCount", 0) == 1;
		value(ld, e, "pwdLastSet", u->pwd_changed, sizeof(u->pwd_changed));
	} else {
		if (value(ld, e, "pwdAccountLockedTime", buf, sizeof(buf))) {
			if (strcmp(buf, OPENLDAP_ADMIN_LOCK) == 0)
				u->disabled = true;
			else
				u->locked = true;
		}
		value(ld, e, "pwdChangedTime", u->pwd_changed,
		    sizeof(u->pwd_changed));
	}
	u->allowed = cfg->policy.allowed_groups.n == 0;
}

/* The attributes dir_read_user() reads, NULL-terminated; how many. */
size_t
dir_user_attrs(const struct config *cfg, const char *attrs[DIR_USER_ATTRS_MAX])
{
	size_t n = 0;

	attrs[n++] = cfg->email.attribute;
	attrs[n++] = cfg->sms.attribute;
	if (cfg->email.recovery_attribute != NULL)
		attrs[n++] = cfg->email.recovery_attribute;
	if (cfg->sms.recovery_attribute != NULL)
		attrs[n++] = cfg->sms.recovery_attribute;
	if (cfg->questions.attribute != NULL)
		attrs[n++] = cfg->questions.attribute;
	if (cfg->totp.attribute != NULL)
		attrs[n++] = cfg->totp.attribute;
	for (size_t i = 0; i < sizeof(personal_attrs) / sizeof(*personal_attrs);
	    i++)
		attrs[n++] = personal_attrs[i];
	if (cfg->policy.directory_rules)
		attrs[n++] = cfg->directory.type == DIR_TYPE_AD ?
		    "msDS-ResultantPSO" : "pwdPolicySubentry";
	if (cfg->directory.type == DIR_TYPE_AD) {
		attrs[n++] = "sAMAccountName";
		attrs[n++] = "userAccountControl";
		attrs[n++] = "msDS-User-Account-Control-Computed";
		attrs[n++] = "lockoutTime";
		attrs[n++] = "adminCount";
		attrs[n++] = "pwdLastSet";
	} else {
		attrs[n++] = "uid";
		attrs[n++] = "pwdAccountLockedTime";
		attrs[n++] = "pwdChangedTime";
	}
	attrs[n] = NULL;
	return n;
}

/* --- group membership ----------------------------------------------------- */

char *
dir_normalise_dn(const char *dn)
{
	char *out = NULL, *copy;

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &out,
	    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || out == NULL)
		return xstrdup(dn);
	copy = xstrdup(out);
	ldap_memfree(out);
	return copy;
}

static bool
list_has_dn(const struct strlist *normalised, const char *dn)
{
	char *n = dir_normalise_dn(dn);
	bool found = false;

	for (size_t i = 0; i < normalised->n && !found; i++)
		found = strcasecmp(normalised->v[i], n) == 0;
	free(n);
	return found;
}

static bool
any_member(const struct strlist *groups, const struct strlist *wanted)
{
	for (size_t i = 0; i < wanted->n; i++)
		if (list_has_dn(groups, wanted->v[i]))
			return true;
	return false;
}

/* (|(memberOf:IN_CHAIN:=G1)(memberOf:IN_CHAIN:=G2)...) */
char *
dir_in_chain_filter(const struct strlist *groups)
{
	char *f = xstrdup("(|"), *next, *esc;

	for (size_t i = 0; i < groups->n; i++) {
		esc = dir_escape_value(groups->v[i]);
		next = xasprintf("%s(memberOf:" IN_CHAIN ":=%s)", f, esc);
		free(esc);
		free(f);
		f = next;
	}
	next = xasprintf("%s)", f);
	free(f);
	return next;
}

static void ad_groups_next(struct lookup *lk);

static void
ad_member_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	int rc = chain_result(lk, ld, answer);
	bool member = ldap_count_entries(ld, answer) > 0;

	if (rc != LDAP_SUCCESS) {
		lk->user.found = false;
		lookup_end(lk);
		return;
	}
	if (lk->ad_stage == 1)
		lk->user.allowed |= member;
	else
		lk->user.admin |= member;
	ad_groups_next(lk);
}

/* At most two base searches on the user entry: allowed, then admin. */
static void
ad_groups_next(struct lookup *lk)
{
	const struct config *cfg = dir_config(lk->dir);
	static const char *none[] = { "1.1", NULL };

	if (lk->ad_stage == 0) {
		lk->ad_stage = 1;
		if (cfg->policy.allowed_groups.n > 0) {
			lookup_search(lk, lk->user.dn, LDAP_SCOPE_BASE,
			    dir_in_chain_filter(&cfg->policy.allowed_groups), none, 0,
			    ad_member_answer);
			return;
		}
	}
	if (lk->ad_stage == 1) {
		lk->ad_stage = 2;
		if (cfg->policy.admin_groups.n > 0 && !lk->user.admin) {
			lookup_search(lk, lk->user.dn, LDAP_SCOPE_BASE,
			    dir_in_chain_filter(&cfg->policy.admin_groups), none, 0,
			    ad_member_answer);
			return;
		}
	}
	lookup_end(lk);
}

static void openldap_groups_next(struct lookup *lk);

static void
openldap_group_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	struct strlist next = { 0 };

	if (chain_result(lk, ld, answer) != LDAP_SUCCESS) {
		lk->user.found = false;
		lookup_end(lk);
		return;
	}
	for (LDAPMessage *e = ldap_first_entry(ld, answer); e != NULL;
	    e = ldap_next_entry(ld, e)) {
		char *dn = ldap_get_dn(ld, e), *n;

		if (dn == NULL)
			continue;
		n = dir_normalise_dn(dn);
		if (!list_has_dn(&lk->groups, n)) {
			strlist_add(&lk->groups, n);
			strlist_add(&next, dn);
		}
		free(n);
		ldap_memfree(dn);
	}
	strlist_free(&lk->frontier);
	lk->frontier = next;
	lk->depth++;
	openldap_groups_next(lk);
}

static void
openldap_groups_next(struct lookup *lk)
{
	const struct config *cfg = dir_config(lk->dir);
	static const char *none[] = { "1.1", NULL };
	char *f, *next, *esc;

	if (lk->frontier.n == 0 || lk->depth >= GROUP_DEPTH) {
		const struct dir_user *u = &lk->user;

		lk->user.allowed = u->allowed ||
		    any_member(&lk->groups, &cfg->policy.allowed_groups);
		lk->user.admin = any_member(&lk->groups, &cfg->policy.admin_groups);
		lookup_end(lk);
		return;
	}
	f = xstrdup("(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(|");
	for (size_t i = 0; i < lk->frontier.n; i++) {
		esc = dir_escape_value(lk->frontier.v[i]);
		next = xasprintf("%s(member=%s)(uniqueMember=%s)", f, esc, esc);
		free(esc);
		free(f);
		f = next;
	}
	next = xasprintf("%s))", f);
	free(f);
	lookup_search(lk, cfg->directory.base_dn, LDAP_SCOPE_SUBTREE, next, none,
	    0, openldap_group_answer);
}

static void
user_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	const struct config *cfg = dir_config(lk->dir);
	int rc = chain_result(lk, ld, answer);
	int n = ldap_count_entries(ld, answer);

	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		lookup_end(lk);
		return;
	}
	if (n != 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		if (n > 1 || rc == LDAP_SIZELIMIT_EXCEEDED)
			log_warnx("ldap: user_filter matches more than one entry "
			    "for one name; treating it as unknown");
		lookup_end(lk);
		return;
	}
	dir_read_user(cfg, ld, ldap_first_entry(ld, answer), &lk->user, NULL,
	    NULL);
	if (cfg->policy.allowed_groups.n == 0 && cfg->policy.admin_groups.n == 0) {
		lookup_end(lk);
	} else if (cfg->directory.type == DIR_TYPE_AD) {
		ad_groups_next(lk);
	} else {
		strlist_add(&lk->frontier, lk->user.dn);
		openldap_groups_next(lk);
	}
}

void
dir_lookup_user(struct dir *d, const char *name, dir_user_fn *cb, void *arg)
{
	const struct config *cfg = dir_config(d);
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	const char *attrs[DIR_USER_ATTRS_MAX];

	lk->dir = d;
	lk->cb = cb;
	lk->arg = arg;
	if (*name == '\0' || strlen(name) > NAME_MAX_LEN) {
		lookup_end(lk);		/* no such user, without asking */
		return;
	}
	dir_user_attrs(cfg, attrs);
	/* Two is enough to know that one name matched more than one entry. */
	lookup_search(lk, cfg->directory.base_dn, LDAP_SCOPE_SUBTREE,
	    user_filter(cfg->directory.user_filter, name), attrs, 2, user_answer);
}

/* --- the directory's password policy ------------------------------------- */

/* Read policies are kept this long (seconds), and forgotten on a reload
 * (dir_policy_flush()). */
#define POLICY_TTL 300
#define POLICY_CACHE 16

static struct {
	char *dn;
	struct dir_pwpolicy p;
	double at;
} policy_cache[POLICY_CACHE];

void
dir_policy_flush(void)
{
	for (size_t i = 0; i < POLICY_CACHE; i++) {
		free(policy_cache[i].dn);
		policy_cache[i].dn = NULL;
	}
}

static bool
policy_cached(const char *dn, struct dir_pwpolicy *out)
{
	double now = dir_now_mono();

	for (size_t i = 0; i < POLICY_CACHE; i++)
		if (policy_cache[i].dn != NULL &&
		    strcasecmp(policy_cache[i].dn, dn) == 0 &&
		    now - policy_cache[i].at < POLICY_TTL) {
			*out = policy_cache[i].p;
			return true;
		}
	return false;
}

static void
policy_keep(const char *dn, const struct dir_pwpolicy *p)
{
	size_t k = 0;

	for (size_t i = 0; i < POLICY_CACHE; i++) {
		if (policy_cache[i].dn == NULL ||
		    strcasecmp(policy_cache[i].dn, dn) == 0) {
			k = i;
			break;
		}
		if (policy_cache[i].at < policy_cache[k].at)
			k = i;
	}
	free(policy_cache[k].dn);
	policy_cache[k].dn = xstrdup(dn);
	policy_cache[k].p = *p;
	policy_cache[k].at = dir_now_mono();
}

/* The DC= part of a DN (the AD domain's own entry), or NULL. */
const char *
dir_domain_of(const char *dn)
{
	for (const char *p = dn; p != NULL && *p != '\0';) {
		if (strncasecmp(p, "dc=", 3) == 0)
			return p;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* AD ages are negative counts of 100 ns. */
static long long
ad_age(LDAP *ld, LDAPMessage *e, const char *attr)
{
	long long v = value_int(ld, e, attr, 0);

	return v < 0 ? -v / 10000000 : 0;
}

static void
policy_parse(const struct config *cfg, LDAP *ld, LDAPMessage *e,
    struct dir_pwpolicy *p)
{
	char buf[16];

	memset(p, 0, sizeof(*p));
	if (e == NULL)
		return;
	if (cfg->directory.type == DIR_TYPE_AD) {
		if (value(ld, e, "msDS-MinimumPasswordLength", buf, sizeof(buf))) {
			p->known = true;
			p->min_length = (unsigned)value_int(ld, e,
			    "msDS-MinimumPasswordLength", 0);
			p->complexity = value(ld, e,
			    "msDS-PasswordComplexityEnabled", buf, sizeof(buf)) &&
			    strcasecmp(buf, "TRUE") == 0;
			p->history = (unsigned)value_int(ld, e,
			    "msDS-PasswordHistoryLength", 0);
			p->min_age = ad_age(ld, e, "msDS-MinimumPasswordAge");
		} else if (value(ld, e, "minPwdLength", buf, sizeof(buf))) {
			p->known = true;
			p->min_length = (unsigned)value_int(ld, e,
			    "minPwdLength", 0);
			p->complexity = (value_int(ld, e, "pwdProperties", 0) &
			    1) != 0;
			p->history = (unsigned)value_int(ld, e,
			    "pwdHistoryLength", 0);
			p->min_age = ad_age(ld, e, "minPwdAge");
		}
	} else if (value(ld, e, "objectClass", buf, sizeof(buf))) {
		p->known = true;
		p->min_length = (unsigned)value_int(ld, e, "pwdMinLength", 0);
		p->history = (unsigned)value_int(ld, e, "pwdInHistory", 0);
		p->check_quality = (unsigned)value_int(ld, e,
		    "pwdCheckQuality", 0);
		p->min_age = value_int(ld, e, "pwdMinAge", 0);
	}
}

static void
policy_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	const struct config *cfg = dir_config(lk->dir);
	LDAPMessage *e = ldap_first_entry(ld, answer);

	/* Not readable (access, a PSO the service account may not see) or
	 * gone: the user is given without the directory's rules, which the
	 * directory still applies at the write. */
	policy_parse(cfg, ld, e, &lk->user.pwpolicy);
	if (!lk->user.pwpolicy.known)
		log_info("ldap: the password policy %s could not be read; "
		    "its rules are left to the directory", lk->user.policy_dn);
	policy_keep(lk->user.policy_dn, &lk->user.pwpolicy);
	lk->policy_answered = true;
	lookup_end(lk);
}

/* Start reading lk->user.policy_dn, or take it from the cache; false when
 * the lookup may end now. */
static bool
policy_step(struct lookup *lk)
{
	static const char *ad[] = { "minPwdLength", "pwdProperties",
	    "pwdHistoryLength", "minPwdAge", "msDS-MinimumPasswordLength",
	    "msDS-PasswordComplexityEnabled", "msDS-PasswordHistoryLength",
	    "msDS-MinimumPasswordAge", NULL };
	static const char *ol[] = { "objectClass", "pwdMinLength",
	    "pwdInHistory", "pwdCheckQuality", "pwdMinAge", NULL };

	lk->policy_read = true;
	if (policy_cached(lk->user.policy_dn, &lk->user.pwpolicy)) {
		lk->policy_answered = true;
		return false;
	}
	lookup_search(lk, lk->user.policy_dn, LDAP_SCOPE_BASE,
	    xstrdup("(objectClass=*)"),
	    dir_type(lk->dir) == DIR_TYPE_AD ? ad : ol, 1, policy_answer);
	return true;
}

void
dir_default_policy(struct dir *d, dir_policy_fn *cb, void *arg)
{
	const struct config *cfg = dir_config(d);
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	const char *dn = cfg->directory.type == DIR_TYPE_AD ?
	    dir_domain_of(cfg->directory.base_dn) :
	    cfg->directory.ppolicy_default;

	lk->dir = d;
	lk->cb = NULL;
	lk->policy_cb = cb;
	lk->arg = arg;
	if (!cfg->policy.directory_rules || dn == NULL) {
		lk->policy_answered = true;	/* known: false */
		lookup_end(lk);
		return;
	}
	lk->user.policy_dn = xstrdup(dn);
	lk->user.found = true;
	if (!policy_step(lk))
		lookup_end(lk);
}

/* --- admins and their addresses ------------------------------------------- */

#define ADMINS_MAX 1000

/* Each entry of answer with a mail value is an admin to tell; with
 * members, a group whose members are walked next (OpenLDAP). */
static void
admins_collect(struct lookup *lk, LDAP *ld, LDAPMessage *answer,
    struct strlist *next)
{
	const struct config *cfg = dir_config(lk->dir);

	for (LDAPMessage *e = ldap_first_entry(ld, answer); e != NULL;
	    e = ldap_next_entry(ld, e)) {
		struct strlist mail = { 0 };
		char *dn = ldap_get_dn(ld, e);

		if (dn == NULL)
			continue;
		values(ld, e, cfg->email.attribute, &mail);
		if (mail.n > 0 && lk->admin_dns.n < ADMINS_MAX &&
		    !list_has_dn(&lk->admin_dns, dn)) {
			strlist_add(&lk->admin_dns, dn);
			strlist_add(&lk->admin_mails, mail.v[0]);
		}
		strlist_free(&mail);
		if (next != NULL) {
			values(ld, e, "member", next);
			values(ld, e, "uniqueMember", next);
		}
		ldap_memfree(dn);
	}
}

static void admins_walk(struct lookup *lk);

static void
admins_walk_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	struct strlist members = { 0 };

	if (chain_result(lk, ld, answer) != LDAP_SUCCESS) {
		lookup_end(lk);
		return;
	}
	admins_collect(lk, ld, answer, &members);
	strlist_free(&lk->frontier);
	for (size_t i = 0; i < members.n; i++) {
		char *n = dir_normalise_dn(members.v[i]);

		if (!list_has_dn(&lk->groups, n)) {
			strlist_add(&lk->groups, n);
			strlist_add(&lk->frontier, members.v[i]);
		}
		free(n);
	}
	strlist_free(&members);
	lk->depth++;
	admins_walk(lk);
}

/* OpenLDAP: read the admin groups, then their members, level by level
 * (entryDN equality), following nested groups at most GROUP_DEPTH deep. */
static void
admins_walk(struct lookup *lk)
{
	const struct config *cfg = dir_config(lk->dir);
	const char *attrs[] = { cfg->email.attribute, "member", "uniqueMember",
	    NULL };
	char *f, *next, *esc;

	if (lk->frontier.n == 0 || lk->depth >= GROUP_DEPTH) {
		lookup_end(lk);
		return;
	}
	f = xstrdup("(|");
	for (size_t i = 0; i < lk->frontier.n && i < ADMINS_MAX; i++) {
		esc = dir_escape_value(lk->frontier.v[i]);
		next = xasprintf("%s(entryDN=%s)", f, esc);
		free(esc);
		free(f);
		f = next;
	}
	next = xasprintf("%s)", f);
	free(f);
	lookup_search(lk, cfg->directory.base_dn, LDAP_SCOPE_SUBTREE, next,
	    attrs, ADMINS_MAX, admins_walk_answer);
}

static void
admins_ad_answer(struct lookup *lk, LDAP *ld, LDAPMessage *answer)
{
	int rc = chain_result(lk, ld, answer);

	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
		admins_collect(lk, ld, answer, NULL);
	lookup_end(lk);
}

void
dir_admin_contacts(struct dir *d, dir_admins_fn *cb, void *arg)
{
	const struct config *cfg = dir_config(d);
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	const char *attrs[] = { cfg->email.attribute, NULL };

	lk->dir = d;
	lk->admins_cb = cb;
	lk->arg = arg;
	if (cfg->directory.type == DIR_TYPE_AD) {
		/* adminCount=1 accounts and (nested) admin group members */
		char *groups = dir_in_chain_filter(&cfg->policy.admin_groups);
		char *f = xasprintf("(&(objectClass=user)(|(adminCount=1)%s))",
		    cfg->policy.admin_groups.n > 0 ? groups : "");

		free(groups);
		lookup_search(lk, cfg->directory.base_dn, LDAP_SCOPE_SUBTREE, f,
		    attrs, ADMINS_MAX, admins_ad_answer);
		return;
	}
	for (size_t i = 0; i < cfg->policy.admin_groups.n; i++) {
		char *n = dir_normalise_dn(cfg->policy.admin_groups.v[i]);

		strlist_add(&lk->groups, n);
		strlist_add(&lk->frontier, cfg->policy.admin_groups.v[i]);
		free(n);
	}
	admins_walk(lk);
}
