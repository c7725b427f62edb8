/*
 * dirtool.c - drive the directory layer (ldap/dir.h) from tests.
 *
 *   dirtool -c FILE lookup NAME
 *   dirtool -c FILE reset DN          new password on stdin
 *   dirtool -c FILE change DN         old password, then new, on stdin lines
 *   dirtool -c FILE unlock DN
 *   dirtool -c FILE check DN          password on stdin
 *   dirtool -c FILE admins -          the admins to tell, "admin=DN mail=ADDR"
 *                                     per line
 *   dirtool -c FILE batch-reset -     resets all in flight at once; stdin:
 *                                     lines "DN<TAB>password"
 *
 * With -w the command starts only once the pool is warm: a lookup of a name
 * that matches nobody has been answered, so a connection is bound.
 *
 * Runs the operation through the real pool, on a real event loop, exactly as
 * the daemon does, and prints one line per outcome:
 *   result=ok|REASON violations=a,b maybe_applied=0|1 server=URI detail=...
 * (lookup adds found= dn= mail= mobile= disabled= locked= admin= allowed=
 * pwd_changed=). A callback that runs inside the call that started its
 * operation (dir.h forbids it) prints "inline=1" and fails the run. Exit
 * status 0 when every outcome was ok. Passwords come on
 * stdin so they never show in ps. A test tool: not installed.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "config/config.h"
#include "ldap/dir.h"

static struct event_base *base;
static unsigned pending;
static int failures;
static bool starting;		/* inside a dir_*() call made by start() */

static void
print_result(const struct dir_result *res)
{
	const char *names[7];

	dir_violation_names(res->violations, names);
	printf("result=%s violations=", dir_reason_code(res->reason));
	for (int i = 0; names[i] != NULL; i++)
		printf("%s%s", i ? "," : "", names[i]);
	printf(" maybe_applied=%d server=%s detail=%s", res->maybe_applied,
	    res->server ? res->server : "-", res->detail);
	if (starting) {
		printf(" inline=1");
		failures++;
	}
	if (res->reason != DIR_OK)
		failures++;
}

static void
finished(void)
{
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void
on_done(const struct dir_result *res, void *arg)
{
	print_result(res);
	printf("\n");
	finished();
}

static void
print_list(const char *key, const struct strlist *l)
{
	printf(" %s=", key);
	for (size_t i = 0; i < l->n; i++)
		printf("%s%s", i ? "," : "", l->v[i]);
}

static void
on_user(const struct dir_result *res, const struct dir_user *u, void *arg)
{
	print_result(res);
	printf(" found=%d", u->found);
	if (u->found) {
		printf(" dn=%s", u->dn);
		print_list("mail", &u->mail);
		print_list("mobile", &u->mobile);
		printf(" disabled=%d locked=%d admin=%d allowed=%d pwd_changed=%s",
		    u->disabled, u->locked, u->admin, u->allowed, u->pwd_changed);
	}
	printf("\n");
	finished();
}

static void
on_admins(const struct dir_result *res, const struct strlist *dns,
    const struct strlist *mails, void *arg)
{
	for (size_t i = 0; i < dns->n; i++)
		printf("admin=%s mail=%s\n", dns->v[i], mails->v[i]);
	print_result(res);
	printf(" admins=%zu\n", dns->n);
	finished();
}

/* One line of stdin, without its newline, in protected memory. */
static char *
read_secret(size_t *len)
{
	char *buf = sodium_malloc(1025);
	size_t n;

	if (buf == NULL || fgets(buf, 1025, stdin) == NULL) {
		fprintf(stderr, "dirtool: expected a password on stdin\n");
		exit(2);
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	*len = n;
	return buf;
}

static void
start(struct dir *d, const char *cmd, const char *arg)
{
	char *pw, *old;
	size_t len, old_len;

	pending++;
	starting = true;
	if (strcmp(cmd, "lookup") == 0) {
		dir_lookup_user(d, arg, on_user, NULL);
	} else if (strcmp(cmd, "reset") == 0) {
		pw = read_secret(&len);
		dir_reset_password(d, arg, pw, len, on_done, NULL);
		sodium_free(pw);
	} else if (strcmp(cmd, "change") == 0) {
		old = read_secret(&old_len);
		pw = read_secret(&len);
		dir_change_password(d, arg, old, old_len, pw, len, on_done, NULL);
		sodium_free(old);
		sodium_free(pw);
	} else if (strcmp(cmd, "batch-reset") == 0) {
		char line[2048], *tab;

		pending--;
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if ((tab = strchr(line, '\t')) == NULL)
				continue;
			*tab = '\0';
			pending++;
			dir_reset_password(d, line, tab + 1, strlen(tab + 1),
			    on_done, NULL);
		}
		sodium_memzero(line, sizeof(line));
	} else if (strcmp(cmd, "admins") == 0) {
		dir_admin_contacts(d, on_admins, NULL);
	} else if (strcmp(cmd, "unlock") == 0) {
		dir_unlock(d, arg, on_done, NULL);
	} else if (strcmp(cmd, "check") == 0) {
		pw = read_secret(&len);
		dir_check_password(d, arg, pw, len, on_done, NULL);
		sodium_free(pw);
	} else {
		fprintf(stderr, "dirtool: unknown command %s\n", cmd);
		exit(2);
	}
	starting = false;
}

/* -w: the command waits for this lookup, so it meets a bound connection. */
struct warm {
	struct dir *d;
	const char *cmd, *arg;
};

static void
on_warm(const struct dir_result *res, const struct dir_user *u, void *arg)
{
	struct warm *w = arg;

	if (res->reason != DIR_OK) {
		fprintf(stderr, "dirtool: warming lookup failed: %s\n",
		    dir_reason_code(res->reason));
		failures++;
		finished();
		return;
	}
	start(w->d, w->cmd, w->arg);
	finished();
}

int
main(int argc, char **argv)
{
	struct config_diag diag = { 0 };
	struct config *cfg;
	const char *path = NULL;
	struct warm warm;
	bool warm_first = false;
	struct dir *d;
	int ch;

	while ((ch = getopt(argc, argv, "c:w")) != -1) {
		if (ch == 'c')
			path = optarg;
		else if (ch == 'w')
			warm_first = true;
		else
			return 2;
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc != 2) {
		fprintf(stderr, "usage: dirtool [-w] -c FILE COMMAND ARG\n");
		return 2;
	}
	log_init(getenv("DIRTOOL_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
	if (sodium_init() < 0)
		return 1;
	cfg = config_load(path, &diag);
	for (size_t i = 0; i < diag.n; i++)
		if (diag.is_error[i])
			fprintf(stderr, "%s\n", diag.lines[i]);
	config_diag_free(&diag);
	if (cfg == NULL)
		return 2;

	dir_init(cfg);
	base = event_base_new();
	d = dir_new(base, cfg);
	if (warm_first) {
		warm.d = d;
		warm.cmd = argv[0];
		warm.arg = argv[1];
		pending++;
		dir_lookup_user(d, "ssprd-dirtool-warming-nobody", on_warm, &warm);
	} else {
		start(d, argv[0], argv[1]);
	}
	if (pending > 0)
		event_base_dispatch(base);
	fflush(stdout);
	dir_free(d);
	config_free(cfg);
	event_base_free(base);
	return failures ? 1 : 0;
}
