/*
 * test_config.c - the INI loader: defaults, every value type, every relation
 * between keys, and every error path with the line it must blame.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char tmpdir[] = "/tmp/ssprd-test-config.XXXXXX";
static char secret[256], ini[256], cafile[256], banned[256], script[256];

static void
write_file(const char *path, const char *body, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(secret, sizeof(secret), "%s/bind.secret", tmpdir);
	snprintf(ini, sizeof(ini), "%s/ssprd.ini", tmpdir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", tmpdir);
	snprintf(banned, sizeof(banned), "%s/banned.txt", tmpdir);
	snprintf(script, sizeof(script), "%s/send-sms", tmpdir);
	write_file(secret, "s3cret pass\n", 0600);
	write_file(cafile, "not parsed here\n", 0644);
	write_file(banned, "# comment\nPassword123\n\nletmein\r\nCorrectHorse\n", 0644);
	write_file(script, "#!/bin/sh\nexit 0\n", 0755);
	return 0;
}

static int
teardown(void **state)
{
	const char *files[] = { secret, ini, cafile, banned, script };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	return rmdir(tmpdir);
}

/* The smallest valid file; %s is where a test adds lines. */
static char *
minimal(const char *extra_directory, const char *rest)
{
	char *buf;

	if (asprintf(&buf,
	    "[directory]\n"				/* 1 */
	    "type = openldap\n"				/* 2 */
	    "uri = ldaps://127.0.0.1:636\n"		/* 3 */
	    "base_dn = dc=example,dc=org\n"		/* 4 */
	    "bind_dn = cn=svc,dc=example,dc=org\n"	/* 5 */
	    "bind_password_file = %s\n"			/* 6 */
	    "%s"					/* 7... */
	    "%s",
	    secret, extra_directory, rest) < 0)
		fail();
	return buf;
}

static struct config *
load_text(const char *text, struct config_diag *diag)
{
	write_file(ini, text, 0644);
	memset(diag, 0, sizeof(*diag));
	return config_load(ini, diag);
}

/* Expect the load to fail with a message at LINE containing WHAT. */
static void
expect_error(const char *text, unsigned line, const char *what)
{
	struct config_diag diag;
	struct config *cfg = load_text(text, &diag);
	char prefix[300];
	bool found = false;

	snprintf(prefix, sizeof(prefix), "%s:%u: ", ini, line);
	for (size_t i = 0; i < diag.n; i++) {
		if (strncmp(diag.lines[i], prefix, strlen(prefix)) == 0 &&
		    strstr(diag.lines[i], what) != NULL &&
		    strstr(diag.lines[i], "warning:") == NULL)
			found = true;
	}
	if (!found || cfg != NULL) {
		print_error("wanted error at line %u containing '%s'; got %zu "
		    "line(s):\n", line, what, diag.n);
		for (size_t i = 0; i < diag.n; i++)
			print_error("  %s\n", diag.lines[i]);
	}
	assert_null(cfg);
	assert_true(found);
	config_diag_free(&diag);
}

static void
expect_error_in(const char *extra_directory, const char *rest, unsigned line,
    const char *what)
{
	char *text = minimal(extra_directory, rest);

	expect_error(text, line, what);
	free(text);
}

static struct config *
expect_ok(const char *text)
{
	struct config_diag diag;
	struct config *cfg = load_text(text, &diag);

	if (cfg == NULL)
		for (size_t i = 0; i < diag.n; i++)
			print_error("  %s\n", diag.lines[i]);
	assert_non_null(cfg);
	config_diag_free(&diag);
	return cfg;
}

/* Load minimal() + REST, which must succeed; whether a warning at LINE
 * contains WHAT. */
static bool
warned_in(const char *rest, unsigned line, const char *what)
{
	char *text = minimal("", rest), prefix[300];
	struct config_diag diag;
	struct config *cfg = load_text(text, &diag);
	bool found = false;

	snprintf(prefix, sizeof(prefix), "%s:%u: warning: ", ini, line);
	for (size_t i = 0; i < diag.n; i++)
		found |= strncmp(diag.lines[i], prefix, strlen(prefix)) == 0 &&
		    strstr(diag.lines[i], what) != NULL;
	if (cfg == NULL)
		for (size_t i = 0; i < diag.n; i++)
			print_error("  %s\n", diag.lines[i]);
	assert_non_null(cfg);
	config_diag_free(&diag);
	config_free(cfg);
	free(text);
	return found;
}

static void
test_defaults(void **state)
{
	char *text = minimal("", "");
	struct config *cfg = expect_ok(text);

	assert_string_equal(cfg->daemon.queue_dir, "/run/ssprd/queue");
	assert_string_equal(cfg->daemon.state_dir, "/var/lib/ssprd");
	assert_int_equal(cfg->daemon.log_level, LOG_LEVEL_INFO);
	assert_string_equal(cfg->daemon.metrics_host, "127.0.0.1");
	assert_int_equal(cfg->daemon.metrics_port, 9469);
	assert_int_equal(cfg->daemon.answer_ttl, 3600);
	assert_string_equal(cfg->daemon.user, "ssprd");
	assert_int_equal(cfg->directory.type, DIR_TYPE_OPENLDAP);
	assert_int_equal(cfg->directory.uris.n, 1);
	assert_string_equal(cfg->directory.user_filter,
	    "(&(objectClass=inetOrgPerson)(uid=%s))");
	assert_int_equal(cfg->directory.bind, BIND_SIMPLE);
	assert_string_equal(cfg->directory.bind_password, "s3cret pass");
	assert_int_equal(cfg->directory.bind_password_len, 11);
	assert_null(cfg->directory.ca_file);
	assert_false(cfg->directory.starttls);
	assert_int_equal(cfg->directory.connections, 4);
	assert_int_equal(cfg->directory.timeout, 10);
	assert_true(cfg->directory.unlock_on_reset);
	assert_int_equal(cfg->directory.enforce_history, HISTORY_AUTO);
	assert_int_equal(cfg->policy.allowed_groups.n, 0);
	assert_int_equal(cfg->policy.methods, METHOD_EMAIL);
	assert_int_equal(cfg->policy.methods_required, 1);
	assert_int_equal(cfg->policy.admin_methods, METHOD_EMAIL);
	assert_int_equal(cfg->policy.admin_methods_required, 2);
	assert_int_equal(cfg->policy.min_length, 15);
	assert_int_equal(cfg->policy.max_length, 256);
	assert_int_equal(cfg->policy.code_length, 8);
	assert_int_equal(cfg->policy.code_ttl, 600);
	assert_int_equal(cfg->policy.max_attempts, 5);
	assert_int_equal(cfg->policy.max_starts_per_hour, 5);
	assert_int_equal(cfg->policy.lockout_failures, 5);
	assert_int_equal(cfg->policy.lockout_time, 86400);
	assert_int_equal(cfg->email.command.argc, 3);
	assert_string_equal(cfg->email.command.argv[0], "/usr/sbin/sendmail");
	assert_string_equal(cfg->email.attribute, "mail");
	assert_string_equal(cfg->sms.attribute, "mobile");
	assert_null(cfg->questions.attribute);
	assert_int_equal(cfg->questions.required, 3);
	assert_null(cfg->totp.attribute);
	assert_null(cfg->totp.key_file);
	assert_null(cfg->totp.key);
	assert_string_equal(cfg->totp.issuer, "ssprd");
	config_free(cfg);
	free(text);
}

static void
test_ad_default_filter(void **state)
{
	char text[1024];
	struct config *cfg;

	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://dc1.example.com\n"
	    "base_dn = DC=example,DC=com\nbind_dn = CN=svc,DC=example,DC=com\n"
	    "bind_password_file = %s\n", secret);
	cfg = expect_ok(text);
	assert_string_equal(cfg->directory.user_filter,
	    "(&(objectClass=user)(sAMAccountName=%s))");
	config_free(cfg);
}

static void
test_full_values(void **state)
{
	char *text, *rest;
	struct config *cfg;

	if (asprintf(&rest,
	    "uri = ldap://third.example.org:3389\n"
	    "starttls = yes\n"
	    "ca_file = %s\n"
	    "connections = 64\n"
	    "enforce_history = yes\n"
	    "[daemon]\n"
	    "log_level = debug\n"
	    "metrics = [::1]:9100\n"
	    "[policy]\n"
	    "allowed_groups = cn=sspr users,ou=groups,dc=example,dc=org\n"
	    "allowed_groups = cn=more,ou=groups,dc=example,dc=org\n"
	    "admin_groups = cn=admins,ou=groups,dc=example,dc=org\n"
	    "methods = email, sms,questions\n"
	    "methods_required = 2\n"
	    "admin_methods = sms\n"
	    "admin_methods_required = 1\n"
	    "banned_passwords = %s\n"
	    "[sms]\n"
	    "command = %s --from 'SSPR Desk' \"two words\" back\\ slash\n"
	    "[questions]\n"
	    "attribute = sspQuestions\n",
	    cafile, banned, script) < 0)
		fail();
	text = minimal("", rest);
	cfg = expect_ok(text);
	/* uri repeated: the second adds to the first (failover order) */
	assert_int_equal(cfg->directory.uris.n, 2);
	assert_string_equal(cfg->directory.uris.v[1], "ldap://third.example.org:3389");
	assert_true(cfg->directory.starttls);
	assert_string_equal(cfg->directory.ca_file, cafile);
	assert_int_equal(cfg->directory.connections, 64);
	assert_int_equal(cfg->directory.enforce_history, HISTORY_YES);
	assert_int_equal(cfg->daemon.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->daemon.metrics_host, "::1");
	assert_int_equal(cfg->daemon.metrics_port, 9100);
	assert_int_equal(cfg->policy.allowed_groups.n, 2);
	assert_string_equal(cfg->policy.allowed_groups.v[1],
	    "cn=more,ou=groups,dc=example,dc=org");
	assert_int_equal(cfg->policy.methods,
	    METHOD_EMAIL | METHOD_SMS | METHOD_QUESTIONS);
	assert_int_equal(cfg->policy.admin_methods, METHOD_SMS);
	assert_int_equal(cfg->sms.command.argc, 5);
	assert_string_equal(cfg->sms.command.argv[2], "SSPR Desk");
	assert_string_equal(cfg->sms.command.argv[3], "two words");
	assert_string_equal(cfg->sms.command.argv[4], "back slash");
	assert_string_equal(cfg->questions.attribute, "sspQuestions");
	/* banned: lower-cased, sorted, comments and blanks dropped */
	assert_int_equal(cfg->policy.banned.n, 3);
	assert_string_equal(cfg->policy.banned.v[0], "correcthorse");
	assert_string_equal(cfg->policy.banned.v[1], "letmein");
	assert_string_equal(cfg->policy.banned.v[2], "password123");
	config_free(cfg);
	free(text);
	free(rest);
}

static void
test_uri_continuation(void **state)
{
	char text[1024];
	struct config *cfg;

	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\n"
	    "uri = ldaps://dc1.example.com\n"
	    "      ldaps://dc2.example.com ldaps://dc3.example.com:3269\n"
	    "base_dn = DC=example,DC=com\nbind_dn = CN=svc,DC=example,DC=com\n"
	    "bind_password_file = %s\n", secret);
	cfg = expect_ok(text);
	assert_int_equal(cfg->directory.uris.n, 3);
	assert_string_equal(cfg->directory.uris.v[0], "ldaps://dc1.example.com");
	assert_string_equal(cfg->directory.uris.v[2], "ldaps://dc3.example.com:3269");
	config_free(cfg);
}

static void
test_sasl_external_ldapi(void **state)
{
	const char *text =
	    "[directory]\ntype = openldap\nuri = ldapi:///\n"
	    "base_dn = dc=example,dc=org\nbind = sasl\n";
	struct config *cfg = expect_ok(text);

	assert_int_equal(cfg->directory.bind, BIND_SASL);
	assert_string_equal(cfg->directory.sasl_mech, "EXTERNAL");
	assert_null(cfg->directory.bind_password);
	config_free(cfg);
}

/* ldap:// without StartTLS only under GSSAPI's encrypting layer. */
static void
test_gssapi_plain_ldap(void **state)
{
	const char *text =
	    "[directory]\ntype = ad\nuri = ldap://dc1.example.com\n"
	    "base_dn = DC=example,DC=com\nbind = sasl\nsasl_mech = GSSAPI\n";
	struct config *cfg = expect_ok(text);

	assert_string_equal(cfg->directory.sasl_mech, "GSSAPI");
	config_free(cfg);
	expect_error("[directory]\ntype = ad\nuri = ldap://dc1.example.com\n"
	    "base_dn = DC=example,DC=com\nbind = sasl\nsasl_mech = DIGEST-MD5\n"
	    "bind_dn = cn=x\nbind_password_file = /nonexistent\n", 3,
	    "would carry passwords in clear");
}

static void
test_templates(void **state)
{
	char path[300], extra[600], *text;
	struct config *cfg;

	snprintf(path, sizeof(path), "%s/code.tmpl", tmpdir);
	snprintf(extra, sizeof(extra), "[email]\ncode_template = %s\n", path);
	text = minimal("", extra);

	write_file(path, "Subject: Code\n\nHi {{ user }}, {{code}} ({{minutes}} min)\n", 0644);
	cfg = expect_ok(text);
	assert_non_null(strstr(cfg->email.code_template, "{{code}}"));
	config_free(cfg);

	write_file(path, "Subject: Code\n\nHi {{user}}\n", 0644);
	expect_error(text, 8, "template must contain {{code}}");
	write_file(path, "Subject: Code\n\n{{code}} {{password}}\n", 0644);
	expect_error(text, 8, "has {{password}}, which this message does not fill");
	write_file(path, "Subject: Code\n\n{{code}} at {{time}}\n", 0644);
	expect_error(text, 8, "has {{time}}, which this message does not fill (it "
	    "fills: {{user}} {{code}} {{minutes}})");
	write_file(path, "Subject: Code\n\n{{code}} {{user\n", 0644);
	expect_error(text, 8, "has {{ without }}");
	write_file(path, "Hello {{code}}\n", 0644);
	expect_error(text, 8, "must start with header lines");
	write_file(path, "Subject: x\nTo: evil@example.com\n\n{{code}}\n", 0644);
	expect_error(text, 8, "may not set From: or To:");
	write_file(path, "X-Note: x\n\n{{code}}\n", 0644);
	expect_error(text, 8, "has no Subject: header");
	unlink(path);
	free(text);

	/* SMS templates have no headers */
	snprintf(path, sizeof(path), "%s/sms.tmpl", tmpdir);
	snprintf(extra, sizeof(extra), "[sms]\ncode_template = %s\n", path);
	text = minimal("", extra);
	write_file(path, "{{code}} is your code\n", 0644);
	cfg = expect_ok(text);
	assert_string_equal(cfg->sms.code_template, "{{code}} is your code\n");
	config_free(cfg);
	unlink(path);
	free(text);
}

static void
test_syntax_errors(void **state)
{
	expect_error("[daemon]\nthis line has no equals sign\n", 2, "syntax error");
	expect_error("[daemon\nlog_level = info\n", 1, "syntax error");
	expect_error("[nosuch]\nkey = 1\n", 1, "unknown section [nosuch]");
	expect_error_in("", "[daemon]\nlog_levle = info\n", 8,
	    "unknown key 'log_levle' in section [daemon]");
	expect_error_in("connections = 2\nconnections = 3\n", "", 8,
	    "'connections' is already set at line 7");
}

static void
test_long_line_and_nul(void **state)
{
	char text[2048], longv[400];

	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	snprintf(text, sizeof(text), "[daemon]\n; fine\nqueue_dir = /%s\n", longv);
	expect_error(text, 3, "line is longer than");

	write_file(ini, "", 0644);
	{
		FILE *f = fopen(ini, "w");
		static const char body[] = "[daemon]\nlog_level = in\0fo\n";

		fwrite(body, 1, sizeof(body) - 1, f);
		fclose(f);
	}
	{
		struct config_diag diag = { 0 };
		struct config *cfg = config_load(ini, &diag);
		char want[300];

		snprintf(want, sizeof(want), "%s:2: line contains a NUL byte", ini);
		assert_null(cfg);
		assert_true(diag.n >= 1);
		assert_string_equal(diag.lines[0], want);
		config_diag_free(&diag);
	}
}

static void
test_value_errors(void **state)
{
	expect_error_in("connections = many\n", "", 7, "connections: must be a whole number");
	expect_error_in("connections = 0\n", "", 7, "must be between 1 and 64");
	expect_error_in("connections = 65\n", "", 7, "must be between 1 and 64");
	expect_error_in("timeout = -1\n", "", 7, "timeout: must be a whole number");
	expect_error_in("timeout = 99999999999999999999\n", "", 7, "must be between");
	expect_error_in("starttls = maybe\n", "", 7, "starttls: must be yes or no");
	expect_error_in("enforce_history = sometimes\n", "", 7,
	    "must be one of: auto, yes, no");
	expect_error_in("", "[daemon]\nlog_level = verbose\n", 8,
	    "log_level: must be one of: error, warning, info, debug");
	expect_error_in("", "[daemon]\nqueue_dir = run/queue\n", 8,
	    "queue_dir: must be an absolute path");
	expect_error_in("", "[daemon]\nmetrics = 9469\n", 8, "metrics: must be host:port");
	expect_error_in("", "[daemon]\nmetrics = 127.0.0.1:0\n", 8,
	    "port must be between 1 and 65535");
	expect_error_in("", "[daemon]\nmetrics = :9469\n", 8, "must name a host");
	expect_error_in("", "[daemon]\nuser = Root User\n", 8, "user: must be a name");
	expect_error_in("", "[daemon]\nuser = root\n", 8, "user: may not be root");
	expect_error_in("", "[daemon]\nsubmit_group = Front End\n", 8,
	    "submit_group: must be a name");
	expect_error_in("", "[email]\nfrom = SSPR\t<x@y>\n", 8,
	    "from: may not contain control characters");
	expect_error_in("", "[email]\ncommand = sendmail -t\n", 8,
	    "command: must start with the absolute path");
	expect_error_in("", "[email]\ncommand = /bin/mail 'unterminated\n", 8,
	    "command: has an unterminated quote");
	expect_error_in("", "[email]\nattribute = mail;binary\n", 8,
	    "attribute: must be an attribute name");
	expect_error_in("", "[policy]\nmin_length = 7\n", 8, "must be between 8 and 256");
	expect_error_in("", "[policy]\ncode_length = 4\n", 8, "must be between 6 and 12");
	expect_error_in("", "[policy]\nmethods = email, fax\n", 8, "unknown method 'fax'");
	expect_error_in("", "[policy]\nmethods = email, email\n", 8,
	    "method 'email' is listed twice");
	expect_error_in("", "[policy]\nallowed_groups = not a dn\n", 8,
	    "allowed_groups: is not a valid distinguished name");
	expect_error_in("", "[questions]\nrequired = 11\n", 8, "must be between 1 and 10");
}

static void
test_directory_errors(void **state)
{
	char text[1024];

	expect_error("[directory]\ntype = novell\n", 2, "type: must be one of: ad, openldap");
	/* type given but invalid: no second "required" message */
	snprintf(text, sizeof(text),
	    "[directory]\nuri = ldaps://x.example\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 1, "[directory] type is required");
	snprintf(text, sizeof(text),
	    "[daemon]\n[directory]\ntype = ad\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 2, "[directory] uri is required");
	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://x.example\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 1, "[directory] base_dn is required");
	expect_error("[directory]\ntype = ad\nuri = ldaps://x.example\n"
	    "base_dn = dc=x\n", 1, "[directory] bind_dn is required for bind = simple");
	expect_error("[directory]\ntype = ad\nuri = ldaps://x.example\n"
	    "base_dn = dc=x\nbind_dn = cn=a,dc=x\n", 1,
	    "[directory] bind_password_file is required for bind = simple");
	/* ldaps://127.0.0.1:636 is line 3 */
	snprintf(text, sizeof(text),
	    "[directory]\ntype = openldap\nuri = http://x.example\n"
	    "base_dn = dc=x\nbind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 3, "'http://x.example' is not an LDAP URI");
	expect_error_in("uri = ldaps://x.example/dc=example??sub\n", "", 7,
	    "must be scheme://host[:port] only");
	expect_error_in("uri = ldap://x.example\n", "", 7,
	    "ldap://x.example would carry passwords in clear");
	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldapi:///\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 3, "Active Directory has no ldapi:// listener");
	expect_error_in("user_filter = (uid=admin)\n", "", 7,
	    "must contain %s where the user name goes");
	expect_error_in("user_filter = (|(uid=%s)(mail=%s))\n", "", 7,
	    "must contain %s exactly once");
	expect_error_in("user_filter = (uid=%d)\n", "", 7,
	    "may contain no % other than the one %s");
	expect_error_in("user_filter = (&(uid=%s)\n", "", 7,
	    "is not a valid LDAP filter");
	expect_error_in("user_filter = uid=%s\n", "", 7,
	    "is not a valid LDAP filter");
	expect_error_in("user_filter = (uid=%s)(cn=x)\n", "", 7,
	    "is not a valid LDAP filter");
	expect_error_in("user_filter = (uid=%s\\zz)\n", "", 7,
	    "is not a valid LDAP filter");
	expect_error_in("bind = sasl\nsasl_mech = external\n", "", 8,
	    "sasl_mech: must be a SASL mechanism name");
	expect_error_in("bind = sasl\n", "", 1,
	    "sasl_mech = EXTERNAL over ldap(s):// needs tls_cert_file");
	snprintf(text, sizeof(text), "tls_cert_file = %s\n", cafile);
	expect_error_in(text, "", 7, "tls_cert_file and tls_key_file go together");
	expect_error_in("ca_file = /nonexistent/ca.pem\n", "", 7,
	    "ca_file: cannot read /nonexistent/ca.pem: No such file");
	expect_error_in("ca_file = ca.pem\n", "", 7, "ca_file: must be an absolute path");
	expect_error_in("base_dn = dc=a,,dc=b\n", "", 7, "already set at line 4");
	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://x.example\nbase_dn = dc=a,,dc=b\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", secret);
	expect_error(text, 4, "base_dn: is not a valid distinguished name");
}

static void
test_secret_files(void **state)
{
	char path[300], text[1024];

	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://x.example\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s/missing\n", tmpdir);
	expect_error(text, 6, "cannot read secret file");

	snprintf(path, sizeof(path), "%s/open.secret", tmpdir);
	write_file(path, "pw\n", 0640);
	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://x.example\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", path);
	expect_error(text, 6, "is accessible by group or other (mode 0640)");
	chmod(path, 0604);
	expect_error(text, 6, "is accessible by group or other (mode 0604)");
	write_file(path, "\n", 0600);
	expect_error(text, 6, "must hold one non-empty line");
	write_file(path, "two\nlines\n", 0600);
	expect_error(text, 6, "must hold one non-empty line");
	write_file(path, "crlf-ok\r\n", 0600);
	{
		struct config *cfg = expect_ok(text);

		assert_string_equal(cfg->directory.bind_password, "crlf-ok");
		config_free(cfg);
	}
	unlink(path);

	snprintf(text, sizeof(text),
	    "[directory]\ntype = ad\nuri = ldaps://x.example\nbase_dn = dc=x\n"
	    "bind_dn = cn=a,dc=x\nbind_password_file = %s\n", tmpdir);
	expect_error(text, 6, "is not a regular file");

	snprintf(text, sizeof(text), "tls_key_file = %s\n", cafile);	/* 0644 */
	expect_error_in(text, "", 7, "tls_key_file: secret file");
}

static void
test_policy_relations(void **state)
{
	char rest[512];

	expect_error_in("", "[policy]\nmethods_required = 2\n", 8,
	    "methods_required = 2 but methods lists only 1");
	snprintf(rest, sizeof(rest),
	    "[policy]\nmethods = email, questions\nadmin_methods = email, questions\n"
	    "[questions]\nattribute = q\n");
	expect_error_in("", rest, 9, "security questions never count for admins");
	expect_error_in("", "[policy]\nadmin_methods = sms\n", 8,
	    "admin_methods lists a method that methods does not");
	expect_error_in("", "[policy]\nmin_length = 40\nmax_length = 30\n", 8,
	    "min_length (40) is greater than max_length (30)");
	expect_error_in("", "[policy]\nmethods = email, sms\n", 8,
	    "methods includes sms but neither [sms] command nor url is set");
	expect_error_in("", "[policy]\nmethods = questions\n", 8,
	    "methods includes questions but [questions] attribute is not set");
	expect_error_in("", "[policy]\nbanned_passwords = /nonexistent\n", 8,
	    "banned_passwords: cannot read /nonexistent");
}

/* [totp]: required when offered, the key file's mode and form, the
 * issuer's form. */
static void
test_totp(void **state)
{
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
	char key[300], rest[1024], *text;
	struct config_diag diag;
	struct config *cfg;

	snprintf(key, sizeof(key), "%s/totp.key", tmpdir);
	write_file(key, hex, 0600);
	assert_string_equal(config_method_name(METHOD_TOTP), "totp");

	/* no [totp] section: blamed at the end of the file */
	expect_error_in("", "[policy]\nmethods = email totp\n", 8,
	    "[totp] attribute is required when methods includes totp");
	expect_error_in("", "[policy]\nmethods = email totp\n", 8,
	    "[totp] key_file is required when methods includes totp");
	/* at the section's header */
	expect_error_in("", "[totp]\nattribute = sspr-totp\n"
	    "[policy]\nmethods = email totp\n", 7,
	    "[totp] key_file is required when methods includes totp");
	expect_error_in("", "[policy]\nmethods = email hotp\n", 8,
	    "unknown method 'hotp' (email, sms, questions, totp)");

	/* a working one; totp counts for admins by default */
	snprintf(rest, sizeof(rest), "[policy]\nmethods = email totp\n"
	    "[totp]\nattribute = sspr-totp\nkey_file = %s\n"
	    "issuer = Example Corp \xc3\xa9\n", key);
	text = minimal("", rest);
	cfg = expect_ok(text);
	assert_int_equal(cfg->policy.methods, METHOD_EMAIL | METHOD_TOTP);
	assert_int_equal(cfg->policy.admin_methods, METHOD_EMAIL | METHOD_TOTP);
	assert_string_equal(cfg->totp.attribute, "sspr-totp");
	assert_string_equal(cfg->totp.key_file, key);
	assert_string_equal(cfg->totp.issuer, "Example Corp \xc3\xa9");
	assert_non_null(cfg->totp.key);
	for (unsigned i = 0; i < CONFIG_TOTP_KEY_LEN; i++)
		assert_int_equal(cfg->totp.key[i], i);
	config_free(cfg);

	/* an empty key_file is no key file */
	snprintf(rest, sizeof(rest), "[policy]\nmethods = email totp\n"
	    "[totp]\nattribute = sspr-totp\nkey_file =\n");
	expect_error_in("", rest, 11,
	    "[totp] key_file is required when methods includes totp");

	/* methods unset: email and each method configured, so the app's
	 * attribute alone gives admins their second method */
	snprintf(rest, sizeof(rest), "[totp]\nattribute = sspr-totp\n"
	    "key_file = %s\n", key);
	free(text);
	text = minimal("", rest);
	cfg = expect_ok(text);
	assert_int_equal(cfg->policy.methods, METHOD_EMAIL | METHOD_TOTP);
	assert_int_equal(cfg->policy.admin_methods, METHOD_EMAIL | METHOD_TOTP);
	config_free(cfg);
	free(text);
	text = minimal("", "[sms]\ncommand = /bin/true\n"
	    "[questions]\nattribute = q\n");
	cfg = expect_ok(text);
	assert_int_equal(cfg->policy.methods,
	    METHOD_EMAIL | METHOD_SMS | METHOD_QUESTIONS);
	assert_int_equal(cfg->policy.admin_methods, METHOD_EMAIL | METHOD_SMS);
	config_free(cfg);
	free(text);
	cfg = expect_ok(text = minimal("", ""));
	assert_int_equal(cfg->policy.methods, METHOD_EMAIL);
	config_free(cfg);
	free(text);
	snprintf(rest, sizeof(rest), "[policy]\nmethods = email totp\n"
	    "[totp]\nattribute = sspr-totp\nkey_file = %s\n"
	    "issuer = Example Corp \xc3\xa9\n", key);
	text = minimal("", rest);

	/* the key file's mode and form */
	chmod(key, 0640);
	expect_error(text, 11, "key_file: secret file");
	expect_error(text, 11, "is accessible by group or other (mode 0640)");
	/* ...not read, not checked, where secrets are not read */
	write_file(ini, text, 0644);
	memset(&diag, 0, sizeof(diag));
	cfg = config_load_public(ini, &diag);
	assert_non_null(cfg);
	assert_null(cfg->totp.key);
	config_free(cfg);
	config_diag_free(&diag);
	write_file(key, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1\n", 0600);	/* 63 digits */
	expect_error(text, 11, "must hold one line of 64 hexadecimal digits");
	write_file(key, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f0\n", 0600);	/* 65 */
	expect_error(text, 11, "must hold one line of 64 hexadecimal digits");
	write_file(key, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1g\n", 0600);
	expect_error(text, 11, "must hold one line of 64 hexadecimal digits");
	write_file(key, "0123456789abcdef0123456789abcdef", 0600);	/* raw */
	expect_error(text, 11, "must hold one line of 64 hexadecimal digits");
	write_file(key, hex, 0600);
	free(text);

	/* the issuer */
	snprintf(rest, sizeof(rest), "[totp]\nattribute = sspr-totp\n"
	    "key_file = %s\nissuer = ACME: IT\n", key);
	expect_error_in("", rest, 10, "issuer may not contain ':'");
	snprintf(rest, sizeof(rest), "[totp]\nissuer =\n");
	expect_error_in("", rest, 8, "issuer: may not be empty");
	snprintf(rest, sizeof(rest), "[totp]\nissuer = \xff\n");
	expect_error_in("", rest, 8, "issuer must be UTF-8 text");
	unlink(key);
}

/* [questions] choices: the file's questions, in order; each refusal names
 * the file's line and blames the key's. */
static void
test_question_choices(void **state)
{
	char path[300], rest[512], want[400];
	struct config *cfg;
	char *text;

	snprintf(path, sizeof(path), "%s/choices.txt", tmpdir);
	write_file(path, "# offered questions\nFirst pet?\n\nCity of birth?\r\n"
	    "Favourite song?\n", 0644);
	snprintf(rest, sizeof(rest), "[policy]\nmethods = email, questions\n"
	    "[questions]\nattribute = q\nrequired = 3\nchoices = %s\n", path);
	text = minimal("", rest);
	cfg = expect_ok(text);
	free(text);
	assert_int_equal(cfg->questions.choices.n, 3);
	assert_string_equal(cfg->questions.choices.v[0], "First pet?");
	assert_string_equal(cfg->questions.choices.v[1], "City of birth?");
	assert_string_equal(cfg->questions.choices.v[2], "Favourite song?");
	config_free(cfg);

	/* [questions] choices is line 12 of these files */
	snprintf(rest, sizeof(rest), "[policy]\nmethods = email, questions\n"
	    "[questions]\nattribute = q\nrequired = 4\nchoices = %s\n", path);
	snprintf(want, sizeof(want), "%s holds 3 question(s); required = 4", path);
	expect_error_in("", rest, 12, want);

	write_file(path, "First pet?\nfirst PET?\n", 0644);
	snprintf(want, sizeof(want), "%s:2: the same question twice", path);
	expect_error_in("", rest, 12, want);

	write_file(path, "One?\nTab\there?\n", 0644);
	snprintf(want, sizeof(want), "%s:2: a question must be 1 to 256 bytes", path);
	expect_error_in("", rest, 12, want);

	write_file(path, "One?\n\xc3\x28?\n", 0644);	/* not UTF-8 */
	expect_error_in("", rest, 12, want);

	{
		char *many = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&many, &len);

		for (int i = 0; i < 101; i++)
			fprintf(f, "Question %d?\n", i);
		fclose(f);
		write_file(path, many, 0644);
		free(many);
	}
	snprintf(want, sizeof(want), "%s:101: more than 100 questions", path);
	expect_error_in("", rest, 12, want);

	unlink(path);
	snprintf(want, sizeof(want), "choices: cannot read %s", path);
	expect_error_in("", rest, 12, want);
}

static void
test_many_errors_in_order(void **state)
{
	const char *text =
	    "[directory]\n"
	    "type = ad\n"
	    "connections = zero\n"
	    "uri = ftp://x\n"
	    "[bogus]\n"
	    "[policy]\n"
	    "min_length = 1\n";
	struct config_diag diag = { 0 };
	struct config *cfg = load_text(text, &diag);
	unsigned last = 0;

	assert_null(cfg);
	assert_true(diag.errors >= 5);
	for (size_t i = 0; i < diag.n; i++) {
		unsigned line;

		assert_int_equal(sscanf(diag.lines[i] + strlen(ini), ":%u:", &line), 1);
		assert_true(line >= last);
		last = line;
	}
	config_diag_free(&diag);
}

static void
test_warnings_do_not_fail(void **state)
{
	char *text = minimal("", "[email]\ncommand = /nonexistent/sendmail -t\n");
	struct config_diag diag;
	struct config *cfg = load_text(text, &diag);
	bool found = false;

	assert_non_null(cfg);
	assert_int_equal(diag.errors, 0);
	for (size_t i = 0; i < diag.n; i++)
		found |= strstr(diag.lines[i], ":8: warning: [email] command "
		    "/nonexistent/sendmail is not executable") != NULL;
	assert_true(found);
	config_diag_free(&diag);
	config_free(cfg);
	free(text);
}

static void
test_missing_file(void **state)
{
	struct config_diag diag = { 0 };
	struct config *cfg = config_load("/nonexistent/ssprd.ini", &diag);

	assert_null(cfg);
	assert_int_equal(diag.n, 1);
	assert_string_equal(diag.lines[0],
	    "/nonexistent/ssprd.ini:0: cannot open: No such file or directory");
	config_diag_free(&diag);
}

/* [daemon] templates_dir: a folder per language; every file read and
 * checked at load, errors naming the file; the shipped folder loads. */
static void
test_templates_dir(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	char dir[300], sub[340], file[400], rest[1200], *text;
	struct config_diag diag;
	struct config *cfg;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/templates", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/tr", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(file, sizeof(file), "%s/tr/sms-code.txt", dir);
	write_file(file, "Kod {{code}}\n", 0644);
	snprintf(file, sizeof(file), "%s/tr/email-code.txt", dir);
	write_file(file, "Subject: Kod\n\nKodunuz {{code}} ({{minutes}} dk)\n", 0644);

	/* good: the texts are in the configuration, by language and kind */
	snprintf(rest, sizeof(rest), "[daemon]\ntemplates_dir = %s\n", dir);
	text = minimal("", rest);
	cfg = load_text(text, &diag);
	free(text);
	assert_non_null(cfg);
	assert_int_equal(cfg->daemon.ntemplates, 1);
	assert_string_equal(cfg->daemon.templates[0].tag, "tr");
	assert_string_equal(cfg->daemon.templates[0].text[3], "Kod {{code}}\n");
	assert_non_null(cfg->daemon.templates[0].text[0]);
	assert_null(cfg->daemon.templates[0].text[1]);
	config_free(cfg);
	config_diag_free(&diag);

	/* a code template without {{code}}: refused, the file named */
	write_file(file, "Subject: Kod\n\nKodunuz yok\n", 0644);
	expect_error_in("", rest, 8, "tr/email-code.txt template must contain {{code}}");
	/* a placeholder the message does not fill */
	write_file(file, "Subject: Kod\n\n{{code}} {{time}}\n", 0644);
	expect_error_in("", rest, 8, "tr/email-code.txt has {{time}}");
	/* From: is ssprd's */
	write_file(file, "Subject: Kod\nFrom: x@example.org\n\n{{code}}\n", 0644);
	expect_error_in("", rest, 8, "may not set From:");
	write_file(file, "Subject: Kod\n\nKodunuz {{code}}\n", 0644);

	/* a misspelt file name is refused, not ignored */
	snprintf(file, sizeof(file), "%s/tr/email_code.txt", dir);
	write_file(file, "{{code}}\n", 0644);
	expect_error_in("", rest, 8, "tr/email_code.txt: not a message ssprd sends");
	unlink(file);

	/* a folder that no request's lang can name */
	snprintf(sub, sizeof(sub), "%s/Turkish", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	expect_error_in("", rest, 8, "Turkish: a language folder is named by");
	rmdir(sub);

	/* English twice: en/email-code.txt and [email] code_template */
	snprintf(sub, sizeof(sub), "%s/en", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(file, sizeof(file), "%s/en/email-code.txt", dir);
	write_file(file, "Subject: Code\n\nCode {{code}}\n", 0644);
	snprintf(rest, sizeof(rest), "[daemon]\ntemplates_dir = %s\n"
	    "[email]\ncode_template = %s\n", dir, file);
	expect_error_in("", rest, 8, "both give the English text of one message");

	/* a folder that is not there */
	expect_error_in("", "[daemon]\ntemplates_dir = /nonexistent/templates\n", 8,
	    "templates_dir: /nonexistent/templates: No such file or directory");

	unlink(file);
	rmdir(sub);
	snprintf(file, sizeof(file), "%s/tr/email-code.txt", dir);
	unlink(file);
	snprintf(file, sizeof(file), "%s/tr/sms-code.txt", dir);
	unlink(file);
	snprintf(sub, sizeof(sub), "%s/tr", dir);
	rmdir(sub);
	rmdir(dir);

	/* the shipped templates (config/templates) load as they are */
	snprintf(rest, sizeof(rest), "[daemon]\ntemplates_dir = %s/config/templates\n",
	    srcdir ? srcdir : "..");
	text = minimal("", rest);
	cfg = load_text(text, &diag);
	free(text);
	for (size_t i = 0; i < diag.n; i++)
		print_error("  %s\n", diag.lines[i]);
	assert_non_null(cfg);
	assert_int_equal(cfg->daemon.ntemplates, 2);
	for (unsigned i = 0; i < 2; i++)
		for (int k = 0; k < CONFIG_MSG_KINDS; k++)
			assert_non_null(cfg->daemon.templates[i].text[k]);
	config_free(cfg);
	config_diag_free(&diag);
}

/* The shipped example, with its secret file pointed at ours. */
static void
test_shipped_example(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	char path[512], key[300], *line = NULL, *text = NULL;
	size_t cap = 0, len = 0;
	FILE *in, *out;
	struct config *cfg;

	snprintf(key, sizeof(key), "%s/totp.key", tmpdir);
	write_file(key, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\n", 0600);
	snprintf(path, sizeof(path), "%s/config/ssprd.ini.example",
	    srcdir ? srcdir : "..");
	in = fopen(path, "r");
	assert_non_null(in);
	out = open_memstream(&text, &len);
	while (getline(&line, &cap, in) >= 0) {
		if (strncmp(line, "bind_password_file = ", 21) == 0)
			fprintf(out, "bind_password_file = %s\n", secret);
		else if (strncmp(line, "key_file = ", 11) == 0)
			fprintf(out, "key_file = %s\n", key);
		else
			fputs(line, out);
	}
	fclose(out);
	fclose(in);
	free(line);
	cfg = expect_ok(text);
	assert_int_equal(cfg->directory.type, DIR_TYPE_AD);
	assert_int_equal(cfg->directory.uris.n, 2);
	/* administrators have two methods as shipped, without SMS */
	assert_int_equal(cfg->policy.methods, METHOD_EMAIL | METHOD_TOTP);
	assert_int_equal(cfg->policy.admin_methods, METHOD_EMAIL | METHOD_TOTP);
	assert_int_equal(cfg->policy.admin_methods_required, 2);
	assert_string_equal(cfg->totp.attribute,
	    "msDS-cloudExtensionAttribute20");
	assert_non_null(cfg->totp.key);
	config_free(cfg);
	free(text);
	unlink(key);
}

static void
test_config_check_status(void **state)
{
	char *text = minimal("", "");

	write_file(ini, text, 0644);
	assert_int_equal(config_check(ini), 0);
	write_file(ini, "[directory]\ntype = x\n", 0644);
	assert_int_equal(config_check(ini), 1);
	free(text);
}

/* [email] smtp_url and [sms] url: what is refused, and what a good one
 * gives (issue 18). */
/* [state]: the backend's keys, read into the parts the store uses. */
/* backend = redis with URL loads, and reads as HOST, PORT and DB. */
static void
redis_url_reads(const char *url, const char *host, unsigned port, unsigned db)
{
	char rest[256], *text;
	struct config *cfg;

	snprintf(rest, sizeof(rest), "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = %s\n", url);
	text = minimal("", rest);
	cfg = expect_ok(text);
	free(text);
	assert_string_equal(cfg->state.redis_host, host);
	assert_int_equal(cfg->state.redis_port, port);
	assert_int_equal(cfg->state.redis_db, db);
	config_free(cfg);
}

static void
test_state(void **state)
{
	struct config *cfg;
	char *text;

	(void)state;
	text = minimal("", "");
	cfg = expect_ok(text);
	free(text);
	assert_int_equal(cfg->state.backend, STATE_LMDB);
	assert_string_equal(cfg->state.key_prefix, "ssprd:");
	assert_non_null(cfg->state.instance);	/* the host name */
	config_free(cfg);

	text = minimal("", "[state]\nbackend = redis\n"
	    "redis_url = redis://[::1]:6380/3\ninstance = site-a.1\n"
	    "key_prefix = sspr:prod:\n");
	cfg = expect_ok(text);
	free(text);
	assert_int_equal(cfg->state.backend, STATE_REDIS);
	assert_string_equal(cfg->state.redis_host, "::1");
	assert_int_equal(cfg->state.redis_port, 6380);
	assert_int_equal(cfg->state.redis_db, 3);
	assert_null(cfg->state.redis_socket);
	assert_string_equal(cfg->state.instance, "site-a.1");
	assert_string_equal(cfg->state.key_prefix, "sspr:prod:");
	config_free(cfg);

	redis_url_reads("redis://redis.example.org", "redis.example.org", 6379,
	    0);

	text = minimal("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = unix:/run/redis/redis.sock?db=2\n");
	cfg = expect_ok(text);
	free(text);
	assert_string_equal(cfg->state.redis_socket, "/run/redis/redis.sock");
	assert_int_equal(cfg->state.redis_db, 2);
	config_free(cfg);

	text = minimal("", "[state]\nbackend = redis\nredis_url = redis://x/1\n"
	    "instance = a\n"
	    "redis_sentinels = 127.0.0.1:26379 [::1]:26380, s3.example.org:26381\n"
	    "redis_master_name = ssprd-state\nredis_min_replicas = 1\n");
	cfg = expect_ok(text);
	free(text);
	assert_int_equal(cfg->state.redis_sentinels.n, 3);
	assert_string_equal(cfg->state.redis_sentinels.v[1], "[::1]:26380");
	assert_string_equal(cfg->state.redis_master_name, "ssprd-state");
	assert_int_equal(cfg->state.redis_min_replicas, 1);
	assert_int_equal(cfg->state.redis_db, 1);
	config_free(cfg);

	expect_error_in("", "[state]\nbackend = redis\n", 8,
	    "backend = redis needs redis_url or redis_sentinels");
	text = minimal("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = rediss://r.example.org:6380/4\n");
	cfg = expect_ok(text);
	free(text);
	assert_true(cfg->state.redis_tls);
	assert_string_equal(cfg->state.redis_host, "r.example.org");
	assert_int_equal(cfg->state.redis_port, 6380);
	assert_int_equal(cfg->state.redis_db, 4);
	config_free(cfg);
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = tls://r.example.org:6380\n", 9,
	    "rediss://HOST:PORT/DB (TLS)");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = redis://u:pw@r.example.org\n", 9,
	    "no user or password in the URL");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = redis://r.example.org:99999\n", 9,
	    "cannot read the host and port");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = redis://r.example.org:6379/16\n", 9,
	    "a number from 0 to 15");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = unix:run/redis.sock\n", 9, "absolute path");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = unix:/run/redis.sock?database=1\n", 9, "?db=N");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_url = http://r.example.org\n", 9,
	    "must be redis://HOST:PORT/DB");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_sentinels = 127.0.0.1:26379\n", 9,
	    "redis_sentinels needs redis_master_name");
	expect_error_in("", "[state]\nbackend = redis\n"
	    "redis_sentinels = 127.0.0.1\nredis_master_name = m\n", 9,
	    "127.0.0.1 is not HOST:PORT");
	expect_error_in("", "[state]\nkey_prefix = a b\n", 8,
	    "key_prefix: 1 to 64 letters");
	expect_error_in("", "[state]\ninstance = a/b\n", 8,
	    "instance: 1 to 64 letters");
	expect_error_in("", "[state]\nbackend = redis\nredis_url = redis://r:1\n"
	    "redis_user = ssprd\n", 10, "redis_user needs redis_password_file");
	expect_error_in("", "[state]\nbackend = redis\nredis_url = redis://r:1\n"
	    "redis_min_replicas = 17\n", 10, "redis_min_replicas");

	/* instance: required with redis (blamed on backend), optional with
	 * lmdb (the host name, tested above) */
	expect_error_in("", "[state]\nredis_url = redis://r\nbackend = redis\n",
	    9, "backend = redis needs instance: a name for this ssprd");
	expect_error_in("", "[state]\nbackend = redis\nredis_url = redis://r\n",
	    8, "different on every instance and kept across restarts");

	/* IPv6 only in brackets; brackets only around IPv6 */
	redis_url_reads("redis://[::1]/0", "::1", 6379, 0);
	redis_url_reads("redis://[fe80::1]", "fe80::1", 6379, 0);
	redis_url_reads("redis://[::ffff:192.0.2.1]:6380/4", "::ffff:192.0.2.1",
	    6380, 4);
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://fe80::1\n", 10,
	    "an IPv6 address must be in brackets");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://::1:6379/0\n", 10,
	    "an IPv6 address must be in brackets");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://[r.example.org]:6379\n", 10,
	    "only an IPv6 address goes in brackets");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://[::1\n", 10, "without its ']'");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://[::1]x:6379\n", 10, "only :PORT may follow");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://:6379\n", 10, "must be a name or an address");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_master_name = m\n"
	    "redis_sentinels = 10.0.0.1:26379 fe80::1:26379\n", 11,
	    "fe80::1:26379 is not HOST:PORT: an IPv6 address must be in "
	    "brackets");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_master_name = m\nredis_sentinels = [s1]:26379\n", 11,
	    "only an IPv6 address goes in brackets");
	expect_error_in("", "[state]\nbackend = redis\ninstance = a\n"
	    "redis_master_name = m\nredis_sentinels = [::1]\n", 11,
	    "[::1] is not HOST:PORT: the port is missing");

	/* keys that are set but not used draw a warning */
#define SENTINELS "[state]\nbackend = redis\ninstance = a\n" \
	"redis_sentinels = 127.0.0.1:26379\nredis_master_name = m\n"
	assert_true(warned_in(SENTINELS "redis_url = redis://r.example.org:6379/2\n"
	    "redis_min_replicas = 1\n", 12,
	    "with redis_sentinels, redis_url's host is not used: only its /DB"));
	assert_false(warned_in(SENTINELS "redis_url = redis://sentinel/2\n"
	    "redis_min_replicas = 1\n", 12, "redis_url's host is not used"));
	assert_true(warned_in(SENTINELS, 10, "with redis_sentinels and "
	    "redis_min_replicas = 0, a failover may lose the last changes"));
	assert_true(warned_in(SENTINELS "redis_min_replicas = 0\n", 12,
	    "set redis_min_replicas = 1, with two replicas"));
	assert_false(warned_in(SENTINELS "redis_min_replicas = 1\n", 12,
	    "redis_min_replicas = 0"));
#undef SENTINELS
	assert_true(warned_in("[state]\nbackend = redis\ninstance = a\n"
	    "redis_url = redis://r\nredis_master_name = m\n", 11,
	    "redis_master_name is ignored without redis_sentinels"));
	assert_true(warned_in("[state]\nredis_master_name = m\n", 8,
	    "the redis_ keys are ignored unless backend = redis"));
}

static void
test_delivery(void **state)
{
	char rest[1024], hdr[512], *text;
	struct config *cfg;

	(void)state;
	expect_error_in("", "[email]\nsmtp_url = ftp://relay.example.org\n", 8,
	    "smtp_url: must start with smtp:// or smtps://");
	expect_error_in("", "[email]\nsmtp_url = smtps://u:p@relay.example.org\n",
	    8, "may not hold a user name or password");
	expect_error_in("", "[email]\nsmtp_url = smtps://relay.example.org/x\n",
	    8, "may not have a path");
	expect_error_in("", "[email]\nsmtp_url = smtp://192.0.2.25\n"
	    "starttls = no\n", 9, "only a loopback relay may go without TLS");
	expect_error_in("", "[email]\ncommand = /bin/true\n"
	    "smtp_url = smtps://relay.example.org\n", 8,
	    "two ways of sending mail");
	expect_error_in("", "[email]\nsmtp_url = smtps://relay.example.org\n"
	    "smtp_user = relay\n", 9,
	    "smtp_user and smtp_password_file go together");
	expect_error_in("", "[email]\nsmtp_url = smtps://r.example.org\n"
	    "helo = bad name\n", 9, "helo must be a host name");
	expect_error_in("", "[email]\nnotify = reset, fax\n", 8,
	    "unknown event 'fax' (reset, unlock, change, register)");
	expect_error_in("", "[sms]\nurl = http://gw.example.org/send\n"
	    "body = to={{number}}&text={{text}}\n", 8,
	    "url: must start with https://");
	expect_error_in("", "[sms]\nurl = https://gw.example.org/send\n", 8,
	    "[sms] body is required with url");
	expect_error_in("", "[sms]\nurl = https://gw.example.org/send\n"
	    "body = to={{number}}\n", 9, "must contain {{number}} and {{text}}");
	expect_error_in("", "[sms]\nurl = https://gw.example.org/send\n"
	    "body = to={{number}}&text={{text}}&c={{code}}\n", 9,
	    "may name only {{number}} and {{text}}");
	expect_error_in("", "[sms]\nurl = https://gw.example.org/send\n"
	    "body_type = json\nbody = {\"to\": {{number}}, \"t\": \"{{text}}\"}\n",
	    10, "is not JSON");
	expect_error_in("", "[sms]\nurl = https://gw.example.org/send\n"
	    "command = /bin/true\nbody = to={{number}}&t={{text}}\n", 9,
	    "two ways of sending SMS");

	/* the scheme's case changes nothing */
	expect_error_in("", "[email]\nsmtp_url = SMTP://192.0.2.25\n"
	    "starttls = no\n", 9, "only a loopback relay may go without TLS");
	expect_error_in("", "[email]\nsmtp_url = smtps://relay.example.org\n"
	    "from = SSPR\n", 9, "from must hold an address");
	/* header lines: each Name: value, no lone CR */
	snprintf(hdr, sizeof(hdr), "%s/headers", tmpdir);
	write_file(hdr, "Authorization: Basic eA==\r\nX-Key: k\rX-Evil: 1\n",
	    0600);
	snprintf(rest, sizeof(rest), "[sms]\nurl = https://gw.example.org/s\n"
	    "body = to={{number}}&t={{text}}\nheader_file = %s\n", hdr);
	expect_error_in("", rest, 10, "line 2 is not a header line");
	write_file(hdr, "Authorization: Basic eA==\nNo colon here\n", 0600);
	expect_error_in("", rest, 10, "line 2 is not a header line");
	write_file(hdr, "Authorization: Basic eA==\r\nX-Tenant: t 7\n", 0600);
	text = minimal("", rest);
	cfg = expect_ok(text);
	assert_string_equal(cfg->sms.headers,
	    "Authorization: Basic eA==\r\nX-Tenant: t 7");
	config_free(cfg);
	free(text);

	/* a good one: the command is dropped, sms is on, the password read */
	snprintf(rest, sizeof(rest), "[email]\nsmtp_url = smtp://relay.example.org:587\n"
	    "smtp_user = relay\nsmtp_password_file = %s\nnotify = reset register\n"
	    "[sms]\nurl = https://gw.example.org/v1/send\nbody_type = json\n"
	    "body = {\"to\": \"{{number}}\", \"text\": \"{{text}}\"}\n"
	    "header_file = %s\n", secret, hdr);
	text = minimal("", rest);
	cfg = expect_ok(text);
	assert_int_equal(cfg->email.command.argc, 0);
	assert_true(config_email_on(cfg));
	assert_true(config_sms_on(cfg));
	assert_true(cfg->email.starttls);
	assert_non_null(cfg->email.smtp_password);
	assert_int_equal(cfg->email.smtp_password_len,
	    cfg->directory.bind_password_len);
	assert_non_null(cfg->email.helo);
	assert_int_equal(cfg->email.notify, NOTIFY_RESET | NOTIFY_REGISTER);
	assert_int_equal(cfg->sms.body_type, BODY_JSON);
	assert_true(cfg->policy.methods & METHOD_SMS);
	config_free(cfg);
	free(text);

	/* defaults: every notice; loopback may go without STARTTLS */
	text = minimal("", "[email]\nsmtp_url = smtp://127.0.0.1:25\n"
	    "starttls = no\n");
	cfg = expect_ok(text);
	assert_int_equal(cfg->email.notify, NOTIFY_ALL);
	assert_false(cfg->email.starttls);
	assert_false(config_sms_on(cfg));
	config_free(cfg);
	free(text);
	unlink(hdr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_ad_default_filter),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_uri_continuation),
		cmocka_unit_test(test_sasl_external_ldapi),
		cmocka_unit_test(test_gssapi_plain_ldap),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_long_line_and_nul),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_directory_errors),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_policy_relations),
		cmocka_unit_test(test_question_choices),
		cmocka_unit_test(test_totp),
		cmocka_unit_test(test_delivery),
		cmocka_unit_test(test_many_errors_in_order),
		cmocka_unit_test(test_warnings_do_not_fail),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_templates_dir),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_config_check_status),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
