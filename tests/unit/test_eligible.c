/*
 * test_eligible.c - the daemon's rules for who may use self-service
 * (daemon/eligible.h), the ones start and `ssprctl lookup` both call.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/eligible.h"

#define H1 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
#define Q(n) "{\"q\":\"Question " #n "?\",\"h\":\"" H1 "\"}"
#define THREE "{\"v\":1,\"q\":[" Q(1) "," Q(2) "," Q(3) "]}"
#define TWO "{\"v\":1,\"q\":[" Q(1) "," Q(2) "]}"

static struct config cfg;

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy.methods = METHOD_EMAIL | METHOD_SMS | METHOD_QUESTIONS;
	cfg.policy.admin_methods = METHOD_EMAIL | METHOD_SMS;
	cfg.policy.methods_required = 1;
	cfg.policy.admin_methods_required = 2;
	cfg.questions.required = 3;
	return 0;
}

/* A user in allowed_groups with every contact. */
static struct eligible_user
everything(void)
{
	return (struct eligible_user){ .found = true, .allowed = true,
	    .mail = "a@example.org", .mobile = "+15550100", .questions = true };
}

static void
test_real_start(void **state)
{
	struct eligible_user e = everything();

	(void)state;
	assert_null(eligible_start(&cfg, &e, METHOD_EMAIL));
	assert_null(eligible_start(&cfg, &e, METHOD_SMS));
	assert_null(eligible_start(&cfg, &e, METHOD_QUESTIONS));
	assert_int_equal(eligible_methods(&cfg, &e),
	    METHOD_EMAIL | METHOD_SMS | METHOD_QUESTIONS);
}

static void
test_decoys(void **state)
{
	struct eligible_user e;

	(void)state;
	e = everything();
	e.found = false;
	assert_string_equal(eligible_start(&cfg, &e, METHOD_EMAIL),
	    "decoy: no such user");
	e = everything();
	e.disabled = true;
	assert_string_equal(eligible_start(&cfg, &e, METHOD_EMAIL),
	    "decoy: account disabled");
	assert_int_equal(eligible_methods(&cfg, &e), 0);
	e = everything();
	e.allowed = false;
	assert_string_equal(eligible_start(&cfg, &e, METHOD_SMS),
	    "decoy: not in allowed_groups");
	e = everything();
	e.mobile = NULL;
	assert_string_equal(eligible_start(&cfg, &e, METHOD_SMS),
	    "decoy: no contact for this method");
	assert_int_equal(eligible_methods(&cfg, &e),
	    METHOD_EMAIL | METHOD_QUESTIONS);
}

/* Questions never count for admins here (admin_methods = email, sms). */
static void
test_admins(void **state)
{
	struct eligible_user e = everything();

	(void)state;
	e.admin = true;
	assert_string_equal(eligible_start(&cfg, &e, METHOD_QUESTIONS),
	    "decoy: method does not count for admins");
	assert_int_equal(eligible_methods(&cfg, &e), METHOD_EMAIL | METHOD_SMS);
}

/* A locked account is not refused: a reset writes the password anyway. */
static void
test_locked_is_not_a_rule(void **state)
{
	struct dir_user u = { .found = true, .allowed = true, .locked = true };
	struct eligible_user e;
	char *mail[] = { "a@example.org" };

	(void)state;
	u.mail.v = mail;
	u.mail.n = 1;
	eligible_from_dir(&cfg, &u, &e);
	assert_null(eligible_start(&cfg, &e, METHOD_EMAIL));
}

/* The contacts a code may go to, as the senders take them. */
static void
test_contacts(void **state)
{
	struct dir_user u = { .found = true, .allowed = true };
	char *mail[] = { "not an address", "b@example.org" };
	char *mobile[] = { "--123456", "+1 555 0100" };
	struct eligible_user e;

	(void)state;
	u.mail.v = mail;
	u.mail.n = 2;
	u.mobile.v = mobile;
	u.mobile.n = 2;
	assert_string_equal(eligible_mail(&u), "b@example.org");
	assert_string_equal(eligible_mobile(&u), "+1 555 0100");
	u.mobile.n = 1;
	assert_null(eligible_mobile(&u));
	eligible_from_dir(&cfg, &u, &e);
	assert_string_equal(eligible_start(&cfg, &e, METHOD_SMS),
	    "decoy: no contact for this method");
}

static void
test_questions_enough(void **state)
{
	(void)state;
	assert_true(eligible_questions(&cfg, THREE));
	assert_false(eligible_questions(&cfg, TWO));
	assert_false(eligible_questions(&cfg, "not json"));
	assert_false(eligible_questions(&cfg, NULL));
	cfg.questions.required = 2;
	assert_true(eligible_questions(&cfg, TWO));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_real_start, setup),
		cmocka_unit_test_setup(test_decoys, setup),
		cmocka_unit_test_setup(test_admins, setup),
		cmocka_unit_test_setup(test_locked_is_not_a_rule, setup),
		cmocka_unit_test_setup(test_contacts, setup),
		cmocka_unit_test_setup(test_questions_enough, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
