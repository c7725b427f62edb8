/*
 * test_dirconfig.c - dir_config_differs(): a reload keeps the directory
 * connections unless something the directory layer reads changed, compared
 * by content (two loads of one file are equal; pointers always differ).
 */
#include "build.h"

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/log.h"
#include "config/config.h"
#include "ldap/dir.h"

static char tmpdir[] = "/tmp/ssprd-test-dirconfig.XXXXXX";
static char secret[256], ini[256];

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		fail_msg("cannot write %s", path);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(secret, sizeof(secret), "%s/bind.secret", tmpdir);
	snprintf(ini, sizeof(ini), "%s/ssprd.ini", tmpdir);
	write_file(secret, "s3cret pass\n");
	chmod(secret, 0600);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(secret);
	unlink(ini);
	rmdir(tmpdir);
	return 0;
}

/* A configuration: the common part, then extra lines per section. */
static struct config *
load(const char *directory, const char *policy, const char *rest)
{
	struct config_diag diag = { 0 };
	struct config *cfg;
	char *text;

	if (asprintf(&text, "[directory]\ntype = openldap\n"
	    "uri = ldaps://127.0.0.1:636\nbase_dn = dc=example,dc=org\n"
	    "bind_dn = cn=svc,dc=example,dc=org\nbind_password_file = %s\n"
	    "%s[policy]\n%s%s", secret, directory, policy, rest) < 0)
		fail();
	write_file(ini, text);
	free(text);
	cfg = config_load(ini, &diag);
	for (size_t i = 0; cfg == NULL && i < diag.n; i++)
		print_error("%s\n", diag.lines[i]);
	config_diag_free(&diag);
	assert_non_null(cfg);
	return cfg;
}

static void
differs(const char *d1, const char *p1, const char *r1, const char *d2,
    const char *p2, const char *r2, bool want)
{
	struct config *a = load(d1, p1, r1), *b = load(d2, p2, r2);

	assert_int_equal(dir_config_differs(a, b), want);
	assert_int_equal(dir_config_differs(b, a), want);
	config_free(a);
	config_free(b);
}

#define GROUPS "allowed_groups = cn=a,dc=example,dc=org\n" \
	"allowed_groups = cn=b,dc=example,dc=org\n"
#define GROUPS2 "allowed_groups = cn=a,dc=example,dc=org\n" \
	"allowed_groups = cn=c,dc=example,dc=org\n"

static void
test_same_file_is_equal(void **state)
{
	(void)state;
	differs("", GROUPS, "[email]\ncommand = /bin/true\n",
	    "", GROUPS, "[email]\ncommand = /bin/true\n", false);
}

static void
test_policy_only_is_equal(void **state)
{
	(void)state;
	differs("", GROUPS "min_length = 10\n", "[email]\ncommand = /bin/true\n",
	    "", GROUPS "min_length = 14\nmax_attempts = 3\n",
	    "[email]\ncommand = /bin/true\ntimeout = 45\nfrom = Help <help@example.org>\n", false);
}

static void
test_groups_by_content(void **state)
{
	(void)state;
	/* same count, another group */
	differs("", GROUPS, "", "", GROUPS2, "", true);
	differs("", "admin_groups = cn=x,dc=example,dc=org\n", "",
	    "", "admin_groups = cn=y,dc=example,dc=org\n", "", true);
}

static void
test_what_ldap_reads(void **state)
{
	(void)state;
	differs("", "", "[email]\nattribute = mail\n",
	    "", "", "[email]\nattribute = otherMailbox\n", true);
	differs("", "", "[sms]\nattribute = mobile\n",
	    "", "", "[sms]\nattribute = pager\n", true);
	differs("", "", "[questions]\nattribute = ssprdQuestions\n",
	    "", "", "[questions]\nattribute = ssprdOther\n", true);
	differs("timeout = 5\n", "", "", "timeout = 6\n", "", "", true);
	differs("connections = 4\n", "", "", "connections = 2\n", "", "", true);
	differs("user_filter = (uid=%s)\n", "", "",
	    "user_filter = (mail=%s)\n", "", "", true);
	differs("unlock_on_reset = yes\n", "", "",
	    "unlock_on_reset = no\n", "", "", true);
	differs("", "", "[daemon]\nmax_wait = 60\n",
	    "", "", "[daemon]\nmax_wait = 30\n", true);
}

static void
test_directory_by_content(void **state)
{
	char a[300], b[300];

	(void)state;
	/* a second server: another one, or none */
	differs("uri = ldaps://10.0.0.2:636\n", "", "",
	    "uri = ldaps://10.0.0.3:636\n", "", "", true);
	differs("uri = ldaps://10.0.0.2:636\n", "", "", "", "", "", true);
	differs("enforce_history = yes\n", "", "",
	    "enforce_history = no\n", "", "", true);
	snprintf(a, sizeof(a), "ca_file = %s\n", ini);
	snprintf(b, sizeof(b), "ca_file = %s\n", secret);
	differs(a, "", "", b, "", "", true);
	differs(a, "", "", a, "", "", false);
}

/* The bind password is compared by its bytes: one file, one byte changed
 * between two loads (same path, same length). */
static void
test_password_by_content(void **state)
{
	struct config *a, *b, *c;

	(void)state;
	a = load("", "", "");
	write_file(secret, "s3cret pasS\n");
	b = load("", "", "");
	write_file(secret, "s3cret pass\n");
	c = load("", "", "");
	assert_true(dir_config_differs(a, b));
	assert_true(dir_config_differs(b, a));
	assert_false(dir_config_differs(a, c));
	config_free(a);
	config_free(b);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_file_is_equal),
		cmocka_unit_test(test_policy_only_is_equal),
		cmocka_unit_test(test_groups_by_content),
		cmocka_unit_test(test_what_ldap_reads),
		cmocka_unit_test(test_directory_by_content),
		cmocka_unit_test(test_password_by_content),
	};

	log_init(LOG_LEVEL_ERROR);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
