/*
 * scan.c - every user that matches user_filter, with the membership a
 * lookup would find for each (ssprctl report).
 *
 * Blocking, on one connection opened by session_open() exactly as the pool
 * opens one (TLS verified, the service account's bind), to the first
 * [directory] uri that accepts it. Every search that can return many
 * entries uses the simple paged results control (RFC 2696, marked
 * critical: a server that cannot page refuses the search rather than
 * stopping at its size limit unnoticed), and each page is bounded by
 * [directory] timeout.
 *
 * Membership is decided once for everybody, never with a search per user:
 *   - AD: one paged search for the users in any of allowed_groups, nested,
 *     with the in-chain matching rule (as lookup.c's per-user filter), and
 *     one for admin_groups; adminCount=1 comes from each entry.
 *   - OpenLDAP: the DNs of every groupOfNames/groupOfUniqueNames under
 *     base_dn (one paged search), then the member lists of allowed_groups
 *     and admin_groups read downwards, DIR_GROUP_DEPTH levels, one base
 *     search per group reached: the same groups, to the same depth, that
 *     lookup.c walks upwards from one user.
 * The members go into sets of normalised DNs; then one paged search reads
 * every user entry with dir_read_user(), the lookup's own reader.
 */
#include "build.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

#include "common/xalloc.h"
#include "ldap/dirint.h"

#define GROUPS_FILTER \
	"(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"

/* --- a set of DNs ----------------------------------------------------------- */

/* Open addressing on normalised, ASCII-lowercased DNs (what lookup.c
 * compares with strcasecmp). */
struct dnset {
	char **slot;
	size_t cap;		/* a power of two, or 0 */
	size_t n;
};

static char *
dn_key(const char *dn)
{
	char *k = dir_normalise_dn(dn);

	for (char *p = k; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t
dnset_find(const struct dnset *set, const char *key)
{
	size_t i = hash(key) & (set->cap - 1);

	while (set->slot[i] != NULL && strcmp(set->slot[i], key) != 0)
		i = (i + 1) & (set->cap - 1);
	return i;
}

static void dnset_put(struct dnset *set, char *key);

static void
dnset_grow(struct dnset *set)
{
	struct dnset bigger = { .cap = set->cap ? set->cap * 2 : 64 };

	bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i] != NULL)
			dnset_put(&bigger, set->slot[i]);
	free(set->slot);
	*set = bigger;
}

/* Takes key (a dn_key()); frees it when it is there already. */
static void
dnset_put(struct dnset *set, char *key)
{
	size_t i;

	if (2 * (set->n + 1) > set->cap)
		dnset_grow(set);
	i = dnset_find(set, key);
	if (set->slot[i] != NULL) {
		free(key);
		return;
	}
	set->slot[i] = key;
	set->n++;
}

/* Adds dn; true when it was not there yet. */
static bool
dnset_add(struct dnset *set, const char *dn)
{
	size_t before = set->n;

	dnset_put(set, dn_key(dn));
	return set->n > before;
}

static bool
dnset_has(const struct dnset *set, const char *dn)
{
	char *key;
	bool found;

	if (set->n == 0)
		return false;
	key = dn_key(dn);
	found = set->slot[dnset_find(set, key)] != NULL;
	free(key);
	return found;
}

static void
dnset_free(struct dnset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof(*set));
}

/* --- paged searches ------------------------------------------------------- */

struct scan {
	const struct config *cfg;
	LDAP *ld;
	unsigned page_size;
	struct dir_scan_stats *st;
	struct dir_result *res;
	/* membership */
	struct dnset groups;		/* OpenLDAP: every group under base_dn */
	struct dnset allowed;
	struct dnset admins;
	/* the user search */
	const char *name_attr;
	dir_scan_fn *fn;
	void *arg;
};

typedef void entry_fn(struct scan *s, LDAPMessage *e, void *arg);

/* res from a failed request (code rc, the server's text). */
static void
fail(struct scan *s, int rc, const char *text, const char *what)
{
	session_map_result(s->ld, s->cfg->directory.type, DIR_OPK_SEARCH, rc,
	    text, NULL, true, s->res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_ADMINLIMIT_EXCEEDED)
		snprintf(s->res->detail, sizeof(s->res->detail), "%s: the "
		    "server stopped at its limit for the service account (%s) "
		    "after %zu entries; allow it more (slapd: limits ... "
		    "size.prtotal=unlimited)", what, ldap_err2string(rc),
		    s->st->entries);
	else
		snprintf(s->res->detail, sizeof(s->res->detail), "%s: %s%s%s",
		    what, ldap_err2string(rc), text && *text ? ": " : "",
		    text ? text : "");
}

/*
 * Search base_dn's subtree for filter, a page at a time, calling fn for
 * each entry. Returns 0 when the server said success on the last page.
 */
static int
paged_search(struct scan *s, const char *what, const char *filter,
    char **attrs, entry_fn *fn, void *arg)
{
	struct timeval tv = { .tv_sec = s->cfg->directory.timeout };
	struct berval cookie = { 0, NULL };
	int rc, status = -1;
	bool failed = false;

	s->st->searches++;
	do {
		LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL };
		LDAPControl **sctrls = NULL, *resp;
		LDAPMessage *answer = NULL, *m;
		char *text = NULL;
		ber_int_t estimate;
		int msgid, err = LDAP_OTHER;
		bool last = false;

		rc = ldap_create_page_control(s->ld, (ber_int_t)s->page_size,
		    &cookie, 1, &page);
		if (rc == LDAP_SUCCESS) {
			ctrls[0] = page;
			rc = ldap_search_ext(s->ld, s->cfg->directory.base_dn,
			    LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL,
			    &tv, 0, &msgid);
		}
		ldap_control_free(page);
		if (rc != LDAP_SUCCESS) {
			fail(s, rc, NULL, what);
			break;
		}
		rc = ldap_result(s->ld, msgid, LDAP_MSG_ALL, &tv, &answer);
		if (rc <= 0) {
			fail(s, rc == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN, NULL,
			    what);
			ldap_msgfree(answer);
			break;
		}
		s->st->pages++;
		for (m = ldap_first_message(s->ld, answer); m != NULL;
		    m = ldap_next_message(s->ld, m)) {
			if (ldap_msgtype(m) == LDAP_RES_SEARCH_ENTRY) {
				s->st->entries++;
				fn(s, m, arg);
			} else if (ldap_msgtype(m) == LDAP_RES_SEARCH_RESULT) {
				last = true;
				if (ldap_parse_result(s->ld, m, &err, NULL,
				    &text, NULL, &sctrls, 0) != LDAP_SUCCESS)
					err = LDAP_OTHER;
			}
		}
		ber_memfree(cookie.bv_val);
		cookie = (struct berval){ 0, NULL };
		if (!last || err != LDAP_SUCCESS) {
			fail(s, last ? err : LDAP_OTHER, text, what);
			failed = true;
		} else if ((resp = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS,
		    sctrls, NULL)) == NULL ||
		    ldap_parse_pageresponse_control(s->ld, resp, &estimate,
		    &cookie) != LDAP_SUCCESS) {
			/* Without its cookie there is no next page to ask
			 * for: the answer may be incomplete. */
			fail(s, LDAP_CONTROL_NOT_FOUND, "no paged results "
			    "response control", what);
			failed = true;
		} else if (cookie.bv_len == 0) {
			status = 0;	/* that was the last page */
		}
		ldap_memfree(text);
		ldap_controls_free(sctrls);
		ldap_msgfree(answer);
	} while (status != 0 && !failed);
	ber_memfree(cookie.bv_val);
	return status;
}

static void
add_dn(struct scan *s, LDAPMessage *e, void *arg)
{
	struct dnset *set = arg;
	char *dn = ldap_get_dn(s->ld, e);

	if (dn != NULL)
		dnset_add(set, dn);
	ldap_memfree(dn);
}

/* user_filter with the name replaced by "*": every user it can find. */
static char *
every_user_filter(const char *tmpl)
{
	const char *pct = strstr(tmpl, "%s");

	return xasprintf("%.*s*%s", (int)(pct - tmpl), tmpl, pct + 2);
}

/* --- membership ----------------------------------------------------------- */

/* AD: users of user_filter in any of groups, nested, into set. */
static int
ad_members(struct scan *s, const char *what, const struct strlist *groups,
    struct dnset *set)
{
	char *users = every_user_filter(s->cfg->directory.user_filter);
	char *chain = dir_in_chain_filter(groups);
	char *f = xasprintf("(&%s%s)", users, chain);
	char *none[] = { (char *)"1.1", NULL };
	int rc = paged_search(s, what, f, none, add_dn, set);

	free(f);
	free(chain);
	free(users);
	return rc;
}

/* OpenLDAP: group's member and uniqueMember values (one base search). */
static int
group_members(struct scan *s, const char *group, struct strlist *out)
{
	struct timeval tv = { .tv_sec = s->cfg->directory.timeout };
	char *attrs[] = { (char *)"member", (char *)"uniqueMember", NULL };
	LDAPMessage *answer = NULL, *e;
	int rc;

	s->st->searches++;
	rc = ldap_search_ext_s(s->ld, group, LDAP_SCOPE_BASE, GROUPS_FILTER,
	    attrs, 0, NULL, NULL, &tv, 1, &answer);
	if (rc == LDAP_NO_SUCH_OBJECT) {	/* gone since we listed it */
		ldap_msgfree(answer);
		return 0;
	}
	if (rc != LDAP_SUCCESS) {
		fail(s, rc, NULL, "reading a group's members");
		ldap_msgfree(answer);
		return -1;
	}
	if ((e = ldap_first_entry(s->ld, answer)) != NULL) {
		for (int a = 0; attrs[a] != NULL; a++) {
			struct berval **v = ldap_get_values_len(s->ld, e,
			    attrs[a]);

			for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
				char *dn = xstrndup(v[i]->bv_val, v[i]->bv_len);

				if (strlen(dn) == v[i]->bv_len)
					strlist_add(out, dn);
				free(dn);
			}
			ldap_value_free_len(v);
		}
	}
	ldap_msgfree(answer);
	return 0;
}

/* OpenLDAP: everyone in any of groups, nested, into set; only groups under
 * base_dn count, to DIR_GROUP_DEPTH levels, as in lookup.c. */
static int
openldap_members(struct scan *s, const struct strlist *groups,
    struct dnset *set)
{
	struct strlist frontier = { 0 };
	struct dnset seen = { 0 };
	int rc = 0;

	for (size_t i = 0; i < groups->n; i++)
		if (dnset_has(&s->groups, groups->v[i]) &&
		    dnset_add(&seen, groups->v[i]))
			strlist_add(&frontier, groups->v[i]);
	for (int depth = 0; depth < DIR_GROUP_DEPTH && frontier.n > 0 &&
	    rc == 0; depth++) {
		struct strlist next = { 0 };

		for (size_t g = 0; g < frontier.n && rc == 0; g++) {
			struct strlist members = { 0 };

			rc = group_members(s, frontier.v[g], &members);
			for (size_t i = 0; i < members.n; i++) {
				dnset_add(set, members.v[i]);
				if (dnset_has(&s->groups, members.v[i]) &&
				    dnset_add(&seen, members.v[i]))
					strlist_add(&next, members.v[i]);
			}
			strlist_free(&members);
		}
		strlist_free(&frontier);
		frontier = next;
	}
	strlist_free(&frontier);
	dnset_free(&seen);
	return rc;
}

static int
membership(struct scan *s)
{
	const struct config *cfg = s->cfg;
	const struct strlist *allowed = &cfg->policy.allowed_groups;
	const struct strlist *admin = &cfg->policy.admin_groups;
	char *none[] = { (char *)"1.1", NULL };

	if (allowed->n == 0 && admin->n == 0)
		return 0;
	if (cfg->directory.type == DIR_TYPE_AD) {
		if (allowed->n > 0 && ad_members(s, "allowed_groups", allowed,
		    &s->allowed) != 0)
			return -1;
		if (admin->n > 0 && ad_members(s, "admin_groups", admin,
		    &s->admins) != 0)
			return -1;
		return 0;
	}
	if (paged_search(s, "listing groups", GROUPS_FILTER, none, add_dn,
	    &s->groups) != 0)
		return -1;
	if (openldap_members(s, allowed, &s->allowed) != 0 ||
	    openldap_members(s, admin, &s->admins) != 0)
		return -1;
	return 0;
}

/* --- the users ------------------------------------------------------------ */

/* The attribute user_filter compares the name with ("uid" in
 * "(&(objectClass=inetOrgPerson)(uid=%s))"), else the usual one. */
static const char *
name_attribute(const struct config *cfg, char *buf, size_t size)
{
	const char *f = cfg->directory.user_filter, *pct = strstr(f, "%s");
	const char *end = pct, *start;

	if (end > f && end[-1] == '=') {
		end--;
		start = end;
		while (start > f && (isalnum((unsigned char)start[-1]) ||
		    start[-1] == '-'))
			start--;
		if (start < end && (start == f || start[-1] == '(') &&
		    (size_t)(end - start) < size) {
			snprintf(buf, size, "%.*s", (int)(end - start), start);
			return buf;
		}
	}
	return cfg->directory.type == DIR_TYPE_AD ? "sAMAccountName" : "uid";
}

static void
user_entry(struct scan *s, LDAPMessage *e, void *arg)
{
	struct dir_scan_user su = { 0 };
	struct berval **v;
	char *name = NULL;

	(void)arg;
	dir_read_user(s->cfg, s->ld, e, &su.user, &su.mail_registered,
	    &su.mobile_registered);
	if (dnset_has(&s->allowed, su.user.dn))
		su.user.allowed = true;
	if (dnset_has(&s->admins, su.user.dn))
		su.user.admin = true;
	if ((v = ldap_get_values_len(s->ld, e, s->name_attr)) != NULL &&
	    v[0] != NULL)
		name = xstrndup(v[0]->bv_val, v[0]->bv_len);
	ldap_value_free_len(v);
	su.name = name != NULL ? name : "";
	s->st->users++;
	s->fn(s->arg, &su);
	free(name);
	dir_user_clear(&su.user);
}

static int
scan_users(struct scan *s)
{
	const char *attrs[DIR_USER_ATTRS_MAX + 1];
	char buf[128], *filter;
	size_t n;
	int rc;

	n = dir_user_attrs(s->cfg, attrs);
	s->name_attr = name_attribute(s->cfg, buf, sizeof(buf));
	attrs[n++] = s->name_attr;
	attrs[n] = NULL;
	filter = every_user_filter(s->cfg->directory.user_filter);
	rc = paged_search(s, "reading users", filter, (char **)attrs,
	    user_entry, NULL);
	free(filter);
	return rc;
}

int
dir_scan_users(const struct config *cfg, unsigned page_size,
    dir_scan_fn *fn, void *arg, struct dir_scan_stats *st,
    struct dir_result *res)
{
	struct scan s = { .cfg = cfg, .page_size = page_size, .st = st,
	    .res = res, .fn = fn, .arg = arg };
	struct session_cfg *sc = session_cfg_new(cfg);
	const char *tried = NULL;	/* the last URI tried */
	int rc = -1;

	memset(st, 0, sizeof(*st));
	memset(res, 0, sizeof(*res));
	if (page_size == 0)
		s.page_size = DIR_SCAN_PAGE_SIZE;
	for (size_t i = 0; i < cfg->directory.uris.n && s.ld == NULL; i++) {
		tried = cfg->directory.uris.v[i];
		s.ld = session_open(sc, tried, SESSION_SERVICE, NULL, res,
		    NULL, NULL);
	}
	if (s.ld == NULL)
		goto out;
	st->server = res->server;
	if (membership(&s) == 0 && scan_users(&s) == 0)
		rc = 0;
	ldap_unbind_ext_s(s.ld, NULL, NULL);
out:
	dnset_free(&s.groups);
	dnset_free(&s.allowed);
	dnset_free(&s.admins);
	session_cfg_free(sc);
	if (rc != 0 && res->reason == DIR_OK)
		res->reason = DIR_INTERNAL;
	res->server = st->server != NULL ? st->server : tried;
	return rc;
}
