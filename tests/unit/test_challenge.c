/*
 * test_challenge.c - tickets and codes (daemon/challenge.h): the store's
 * JSON form keeps everything a ticket holds, a registration ticket's
 * contacts included; a code verifies its method once and is accepted
 * again on that ticket only.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/challenge.h"

static unsigned char key[32];

static void
test_registration_round_trip(void **state)
{
	struct ticket t = { 0 }, u;
	char code[CODE_MAX + 1];
	json_t *j;

	(void)state;
	challenge_new_id(t.id);
	t.user = strdup("alice");
	t.dn = strdup("uid=alice,ou=people,dc=example,dc=org");
	t.real = true;
	t.created = 1000;
	t.expires = 1600;
	t.registering = true;
	t.reg_email = strdup("alice.new@example.net");
	t.reg_mobile = strdup("+905550001122");
	challenge_new_code(8, code);
	challenge_set_code(&t, key, METHOD_EMAIL, code, 1600);
	j = ticket_to_json(&t);
	assert_int_equal(ticket_from_json(j, t.id, &u), 0);
	assert_true(u.registering);
	assert_string_equal(u.reg_email, "alice.new@example.net");
	assert_string_equal(u.reg_mobile, "+905550001122");
	assert_true(u.pending[challenge_method_index(METHOD_EMAIL)].active);
	json_decref(j);
	ticket_clear(&u);

	/* a reset ticket stays one */
	free(t.reg_email);
	free(t.reg_mobile);
	t.reg_email = t.reg_mobile = NULL;
	t.registering = false;
	j = ticket_to_json(&t);
	assert_null(json_object_get(j, "register"));
	assert_int_equal(ticket_from_json(j, t.id, &u), 0);
	assert_false(u.registering);
	assert_null(u.reg_email);
	json_decref(j);
	ticket_clear(&u);
	ticket_clear(&t);
}

static void
test_code_once_then_again(void **state)
{
	struct ticket t = { 0 };
	char code[CODE_MAX + 1], other[CODE_MAX + 1];
	bool expired, again;

	(void)state;
	challenge_new_id(t.id);
	t.user = strdup("bob");
	challenge_new_code(8, code);
	challenge_new_code(8, other);
	challenge_set_code(&t, key, METHOD_SMS, code, 2000);
	/* a decoy ticket never verifies, even with the code */
	assert_int_equal(challenge_verify_code(&t, key, code, strlen(code),
	    1000, &expired, &again), 0);
	t.real = true;
	assert_int_equal(challenge_verify_code(&t, key, other, strlen(other),
	    1000, &expired, &again), 0);
	assert_int_equal(challenge_verify_code(&t, key, code, strlen(code),
	    1000, &expired, &again), METHOD_SMS);
	assert_false(again);
	assert_int_equal(challenge_verify_code(&t, key, code, strlen(code),
	    1000, &expired, &again), METHOD_SMS);
	assert_true(again);
	/* past its expiry a pending code is refused as expired */
	challenge_set_code(&t, key, METHOD_EMAIL, other, 1500);
	assert_int_equal(challenge_verify_code(&t, key, other, strlen(other),
	    1600, &expired, &again), 0);
	assert_true(expired);
	ticket_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration_round_trip),
		cmocka_unit_test(test_code_once_then_again),
	};

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
