/*
 * test_errmap.c - what each directory answer means: every rule of
 * dir_errmap() once, and every real server text we know, with the exact
 * reason and violation bits it must give; plus the detail copy (truncation,
 * control characters, missing message) and the reason/violation names.
 *
 * Server texts marked "Samba" are its check_password_restrictions messages
 * (source4/dsdb/samdb/ldb_modules/password_hash.c, code 0000052D or 00000056,
 * "Constraint violation" being ldb_strerror(19)); "slapd" ones come from
 * servers/slapd/overlays/ppolicy.c and servers/slapd/passwd.c; "AD" ones
 * are Windows Server's. Texts marked "made up" exist only to reach a rule.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <ldap.h>

#include "ldap/dir.h"
#include "ldap/errmap.h"

#define NO_PP	(-1)

static struct dir_answer
ad(enum dir_op_kind kind, int rc, const char *msg)
{
	struct dir_answer a = {
		.type = DIR_TYPE_AD, .kind = kind, .ldap_rc = rc,
		.message = msg, .ppolicy_error = NO_PP, .sent = true,
	};

	return a;
}

static struct dir_answer
ol(enum dir_op_kind kind, int rc, const char *msg, int pp)
{
	struct dir_answer a = {
		.type = DIR_TYPE_OPENLDAP, .kind = kind, .ldap_rc = rc,
		.message = msg, .ppolicy_error = pp, .sent = true,
	};

	return a;
}

/* Map A and insist on exactly this reason, these bits, this flag. */
static void
expect_full(struct dir_answer a, enum dir_reason reason, unsigned violations,
    bool maybe_applied)
{
	struct dir_result r;

	/* Garbage first: dir_errmap() must set every field itself. */
	memset(&r, 0x5a, sizeof(r));
	dir_errmap(&a, &r);
	if (r.reason != reason || r.violations != violations ||
	    r.maybe_applied != maybe_applied)
		print_error("rc %d pp %d \"%s\": got %s/0x%x/%d, want "
		    "%s/0x%x/%d\n", a.ldap_rc, a.ppolicy_error,
		    a.message != NULL ? a.message : "(null)",
		    dir_reason_code(r.reason), r.violations,
		    (int)r.maybe_applied, dir_reason_code(reason),
		    violations, (int)maybe_applied);
	assert_int_equal(r.reason, reason);
	assert_int_equal(r.violations, violations);
	assert_int_equal(r.maybe_applied, maybe_applied);
	assert_null(r.server);
}

static void
expect(struct dir_answer a, enum dir_reason reason, unsigned violations)
{
	expect_full(a, reason, violations, false);
}

/* ---- names ---- */

static void
reason_code_every_value(void **state)
{
	assert_string_equal(dir_reason_code(DIR_OK), "ok");
	assert_string_equal(dir_reason_code(DIR_POLICY), "password-policy");
	assert_string_equal(dir_reason_code(DIR_WRONG_PASSWORD),
	    "wrong-password");
	assert_string_equal(dir_reason_code(DIR_PASSWORD_EXPIRED),
	    "password-expired");
	assert_string_equal(dir_reason_code(DIR_ACCOUNT_LOCKED),
	    "account-locked");
	assert_string_equal(dir_reason_code(DIR_ACCOUNT_DISABLED),
	    "account-disabled");
	assert_string_equal(dir_reason_code(DIR_NOT_ALLOWED), "not-allowed");
	assert_string_equal(dir_reason_code(DIR_UNAVAILABLE),
	    "directory-unavailable");
	assert_string_equal(dir_reason_code(DIR_INTERNAL), "internal");
}

static void
reason_code_out_of_range_is_internal(void **state)
{
	assert_string_equal(dir_reason_code((enum dir_reason)99), "internal");
}

static void
violation_names_all_in_bit_order(void **state)
{
	const char *names[7];

	memset(names, 0x5a, sizeof(names));
	dir_violation_names(DIR_V_DIRECTORY | DIR_V_TOO_YOUNG |
	    DIR_V_HISTORY | DIR_V_COMPLEXITY | DIR_V_TOO_LONG |
	    DIR_V_TOO_SHORT, names);
	assert_string_equal(names[0], "too-short");
	assert_string_equal(names[1], "too-long");
	assert_string_equal(names[2], "complexity");
	assert_string_equal(names[3], "history");
	assert_string_equal(names[4], "too-young");
	assert_string_equal(names[5], "directory-policy");
	assert_null(names[6]);
}

static void
violation_names_some(void **state)
{
	const char *names[7];

	memset(names, 0x5a, sizeof(names));
	dir_violation_names(DIR_V_TOO_YOUNG | DIR_V_TOO_SHORT, names);
	assert_string_equal(names[0], "too-short");
	assert_string_equal(names[1], "too-young");
	assert_null(names[2]);
}

static void
violation_names_none_and_unknown_bits(void **state)
{
	const char *names[7];

	memset(names, 0x5a, sizeof(names));
	dir_violation_names(0, names);
	assert_null(names[0]);

	memset(names, 0x5a, sizeof(names));
	dir_violation_names(~0x3fu, names);
	assert_null(names[0]);

	/* Every bit set: still at most six names and the NULL. */
	memset(names, 0x5a, sizeof(names));
	dir_violation_names(~0u, names);
	assert_string_equal(names[5], "directory-policy");
	assert_null(names[6]);
}

/* ---- success ---- */

static void
success_is_ok(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_SUCCESS, NULL), DIR_OK, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_SUCCESS, "", NO_PP), DIR_OK, 0);
}

static void
success_with_ppolicy_warning_is_ok(void **state)
{
	/* Warnings on a successful bind are not errors. */
	expect(ol(DIR_OPK_BIND, LDAP_SUCCESS, NULL, PP_changeAfterReset),
	    DIR_OK, 0);
	expect(ol(DIR_OPK_BIND, LDAP_SUCCESS, NULL, PP_passwordExpired),
	    DIR_OK, 0);
}

/* ---- transport ---- */

static void
server_down_after_sending_a_write_may_have_applied(void **state)
{
	struct dir_answer a = ad(DIR_OPK_RESET, LDAP_SERVER_DOWN, NULL);

	expect_full(a, DIR_UNAVAILABLE, 0, true);
	a = ol(DIR_OPK_CHANGE, LDAP_SERVER_DOWN, NULL, NO_PP);
	expect_full(a, DIR_UNAVAILABLE, 0, true);
}

static void
timeout_after_sending_a_write_may_have_applied(void **state)
{
	struct dir_answer a = ol(DIR_OPK_RESET, LDAP_TIMEOUT, NULL, NO_PP);

	expect_full(a, DIR_UNAVAILABLE, 0, true);
	a = ad(DIR_OPK_CHANGE, LDAP_TIMEOUT, NULL);
	expect_full(a, DIR_UNAVAILABLE, 0, true);
}

static void
lost_answer_before_sending_was_not_applied(void **state)
{
	struct dir_answer a = ad(DIR_OPK_RESET, LDAP_SERVER_DOWN, NULL);

	a.sent = false;
	expect_full(a, DIR_UNAVAILABLE, 0, false);
	a = ol(DIR_OPK_CHANGE, LDAP_TIMEOUT, NULL, NO_PP);
	a.sent = false;
	expect_full(a, DIR_UNAVAILABLE, 0, false);
}

static void
lost_answer_to_a_read_is_not_a_write(void **state)
{
	expect(ad(DIR_OPK_SEARCH, LDAP_SERVER_DOWN, NULL), DIR_UNAVAILABLE, 0);
	expect(ol(DIR_OPK_BIND, LDAP_TIMEOUT, NULL, NO_PP), DIR_UNAVAILABLE, 0);
}

static void
server_refusals_now_are_unavailable_and_not_applied(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONNECT_ERROR, NULL),
	    DIR_UNAVAILABLE, 0);
	expect(ol(DIR_OPK_RESET, LDAP_UNAVAILABLE, NULL, NO_PP),
	    DIR_UNAVAILABLE, 0);
	expect(ad(DIR_OPK_CHANGE, LDAP_BUSY, NULL), DIR_UNAVAILABLE, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_TIMELIMIT_EXCEEDED, NULL, NO_PP),
	    DIR_UNAVAILABLE, 0);
}

static void
local_admin_limit_and_other_are_internal(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_LOCAL_ERROR, NULL), DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_RESET, LDAP_ADMINLIMIT_EXCEEDED, NULL, NO_PP),
	    DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_RESET, LDAP_OTHER, "timeout while busy", NO_PP),
	    DIR_INTERNAL, 0);
	expect(ad(DIR_OPK_RESET, LDAP_OTHER, NULL), DIR_INTERNAL, 0);
}

/* ---- Active Directory / Samba: password writes ---- */

static void
samba_too_short(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: Constraint violation - check_password_restrictions: "
	    "the password is too short. It should be equal or longer than 7 "
	    "characters!"), DIR_POLICY, DIR_V_TOO_SHORT);
}

static void
samba_complexity(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: Constraint violation - check_password_restrictions: "
	    "the password does not meet the complexity criteria!"),
	    DIR_POLICY, DIR_V_COMPLEXITY);
}

static void
samba_too_young(void **state)
{
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: Constraint violation - check_password_restrictions: "
	    "password is too young to change!"), DIR_POLICY, DIR_V_TOO_YOUNG);
}

static void
samba_history(void **state)
{
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: Constraint violation - check_password_restrictions: "
	    "the password was already used (in history)!"),
	    DIR_POLICY, DIR_V_HISTORY);
}

static void
samba_miscellaneous_restriction_names_no_rule(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: Constraint violation - check_password_restrictions: "
	    "the password doesn't fit due to a miscellaneous restriction!"),
	    DIR_POLICY, DIR_V_DIRECTORY);
}

static void
ad_looser_wordings_of_rules(void **state)
{
	/* Made up: other wordings the substrings are meant to catch. */
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: the password is TOO LONG"), DIR_POLICY, DIR_V_TOO_LONG);
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: this password was used before"),
	    DIR_POLICY, DIR_V_HISTORY);
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: minimum password age not reached"),
	    DIR_POLICY, DIR_V_TOO_YOUNG);
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "0000052d: too short and no complexity"),
	    DIR_POLICY, DIR_V_TOO_SHORT | DIR_V_COMPLEXITY);
}

static void
real_ad_constraint_names_no_rule(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: AtrErr: DSID-03191083, #1:\n"
	    "\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), "
	    "data 0, Att 9005a (unicodePwd)\n"), DIR_POLICY, DIR_V_DIRECTORY);
}

static void
older_ad_policy_refusal_as_unwilling(void **state)
{
	/* AD: older servers answer a policy refusal with 53. */
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "0000052D: SvcErr: DSID-031A120C, problem 5003 (WILL_NOT_PERFORM), "
	    "data 0\n"), DIR_POLICY, DIR_V_DIRECTORY);
}

static void
samba_wrong_old_password(void **state)
{
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "00000056: Constraint violation - check_password_restrictions: "
	    "The old password specified doesn't match!"),
	    DIR_WRONG_PASSWORD, 0);
	/* Samba, older releases, for an account without an NT hash. */
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "00000056: Constraint violation - check_password_restrictions: "
	    "There's no old nt_hash, which is needed in order to change your "
	    "password!"), DIR_WRONG_PASSWORD, 0);
}

static void
ad_needs_secure_connection(void **state)
{
	/* Samba's wording (its unicodepwd_encrypted test), AD's code. */
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "00002077: Password modification over LDAP must be over an "
	    "encrypted connection"), DIR_INTERNAL, 0);
	/* AD */
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "00002077: SvcErr: DSID-031A0F1E, problem 5003 (WILL_NOT_PERFORM), "
	    "data 0\n"), DIR_INTERNAL, 0);
}

static void
ad_access_denied(void **state)
{
	/* AD */
	expect(ad(DIR_OPK_RESET, LDAP_INSUFFICIENT_ACCESS,
	    "00000005: SecErr: DSID-031A11E8, problem 4003 "
	    "(INSUFF_ACCESS_RIGHTS), data 0\n"), DIR_NOT_ALLOWED, 0);
	/* The code alone decides, whatever the result code. */
	expect(ad(DIR_OPK_RESET, LDAP_OTHER, "00000005: SecErr: DSID-0"),
	    DIR_NOT_ALLOWED, 0);
}

static void
ad_insufficient_access_without_code(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_INSUFFICIENT_ACCESS, NULL),
	    DIR_NOT_ALLOWED, 0);
}

static void
ad_constraint_without_code_names_no_rule(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION, NULL),
	    DIR_POLICY, DIR_V_DIRECTORY);
	/* Only 0000052D reads the rules from the text. */
	expect(ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000202F: value too short"), DIR_POLICY, DIR_V_DIRECTORY);
}

static void
ad_unwilling_speaking_of_password_policy(void **state)
{
	/* Made up: no leading code, the words decide. */
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "the new password violates the password policy"),
	    DIR_POLICY, DIR_V_DIRECTORY);
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "Password restrictions not met"), DIR_POLICY, DIR_V_DIRECTORY);
}

static void
ad_unwilling_otherwise_is_internal(void **state)
{
	/* Samba: we sent no old password ("restrictions" is an identifier). */
	expect(ad(DIR_OPK_CHANGE, LDAP_UNWILLING_TO_PERFORM,
	    "check_password_restrictions: You need to provide the old "
	    "password in order to change it!"), DIR_INTERNAL, 0);
	/* Samba, plain LDAP without the hex code. */
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "Password modification over LDAP must be over an encrypted "
	    "connection"), DIR_INTERNAL, 0);
	expect(ad(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM, NULL),
	    DIR_INTERNAL, 0);
}

static void
ad_other_results_are_internal(void **state)
{
	expect(ad(DIR_OPK_RESET, LDAP_NO_SUCH_OBJECT,
	    "0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), "
	    "data 0, best match of:\n\t'DC=example,DC=com'\n"), DIR_INTERNAL, 0);
	/* Samba: a plain simple bind on ldap:// */
	expect(ad(DIR_OPK_BIND, LDAP_STRONG_AUTH_REQUIRED,
	    "BindSimple: Transport encryption required."), DIR_INTERNAL, 0);
}

/* ---- Active Directory / Samba: binds ---- */

static void
expect_ad_bind(const char *data, enum dir_reason reason)
{
	char msg[128];

	/* AD and Samba both answer a failed bind like this. */
	snprintf(msg, sizeof(msg), "80090308: LdapErr: DSID-0C09041C, "
	    "comment: AcceptSecurityContext error, data %s, v4563", data);
	expect(ad(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS, msg), reason, 0);
}

static void
ad_bind_52e_wrong_password(void **state)
{
	expect_ad_bind("52e", DIR_WRONG_PASSWORD);
}

static void
ad_bind_525_no_such_user_is_wrong_password(void **state)
{
	expect_ad_bind("525", DIR_WRONG_PASSWORD);
}

static void
ad_bind_530_not_permitted_now(void **state)
{
	expect_ad_bind("530", DIR_NOT_ALLOWED);
}

static void
ad_bind_531_not_permitted_here(void **state)
{
	expect_ad_bind("531", DIR_NOT_ALLOWED);
}

static void
ad_bind_532_password_expired(void **state)
{
	expect_ad_bind("532", DIR_PASSWORD_EXPIRED);
}

static void
ad_bind_773_must_change(void **state)
{
	expect_ad_bind("773", DIR_PASSWORD_EXPIRED);
}

static void
ad_bind_533_disabled(void **state)
{
	expect_ad_bind("533", DIR_ACCOUNT_DISABLED);
}

static void
ad_bind_701_account_expired(void **state)
{
	expect_ad_bind("701", DIR_ACCOUNT_DISABLED);
}

static void
ad_bind_775_locked(void **state)
{
	expect_ad_bind("775", DIR_ACCOUNT_LOCKED);
	/* The sub-code may end the message. */
	expect(ad(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS,
	    "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext "
	    "error, data 775"), DIR_ACCOUNT_LOCKED, 0);
}

static void
ad_bind_unknown_data_is_wrong_password(void **state)
{
	expect_ad_bind("52f", DIR_WRONG_PASSWORD);
}

static void
ad_bind_without_data_is_wrong_password(void **state)
{
	expect(ad(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS, NULL),
	    DIR_WRONG_PASSWORD, 0);
	/* Made up: "metadata" is not a data sub-code. */
	expect(ad(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS,
	    "bad metadata 775, sorry"), DIR_WRONG_PASSWORD, 0);
}

static void
ad_ignores_ppolicy_field(void **state)
{
	struct dir_answer a = ad(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS,
	    "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext "
	    "error, data 52e, v4563");

	a.ppolicy_error = PP_accountLocked;
	expect(a, DIR_WRONG_PASSWORD, 0);
}

/* ---- OpenLDAP: the ppolicy response control ---- */

static void
pp_password_expired_on_failed_bind(void **state)
{
	expect(ol(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS, NULL,
	    PP_passwordExpired), DIR_PASSWORD_EXPIRED, 0);
}

static void
pp_account_locked(void **state)
{
	expect(ol(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS, NULL,
	    PP_accountLocked), DIR_ACCOUNT_LOCKED, 0);
}

static void
pp_change_after_reset(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_SEARCH, LDAP_INSUFFICIENT_ACCESS,
	    "Operations are restricted to bind/unbind/abandon/StartTLS/modify "
	    "password", PP_changeAfterReset), DIR_PASSWORD_EXPIRED, 0);
}

static void
pp_password_mod_not_allowed(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_CHANGE, LDAP_INSUFFICIENT_ACCESS,
	    "User alteration of password is not allowed",
	    PP_passwordModNotAllowed), DIR_NOT_ALLOWED, 0);
}

static void
pp_must_supply_old_password(void **state)
{
	/* slapd (pwdSafeModify, none given) */
	expect(ol(DIR_OPK_CHANGE, LDAP_INSUFFICIENT_ACCESS,
	    "Must supply old password to be changed as well as new one",
	    PP_mustSupplyOldPassword), DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_INSUFFICIENT_ACCESS, NULL,
	    PP_mustSupplyOldPassword), DIR_INTERNAL, 0);
}

static void
pp_must_supply_correct_old_password(void **state)
{
	/* slapd (pwdSafeModify, a wrong one given) */
	expect(ol(DIR_OPK_CHANGE, LDAP_UNWILLING_TO_PERFORM,
	    "Must supply correct old password to change to new one",
	    PP_mustSupplyOldPassword), DIR_WRONG_PASSWORD, 0);
}

static void
pp_insufficient_quality(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "Password fails quality checking policy",
	    PP_insufficientPasswordQuality), DIR_POLICY, DIR_V_COMPLEXITY);
}

static void
pp_too_short_wins_over_text(void **state)
{
	/* slapd: the same text for a short password; the control says. */
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "Password fails quality checking policy", PP_passwordTooShort),
	    DIR_POLICY, DIR_V_TOO_SHORT);
}

static void
pp_too_young(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is too young to change", PP_passwordTooYoung),
	    DIR_POLICY, DIR_V_TOO_YOUNG);
}

static void
pp_in_history(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is in history of old passwords", PP_passwordInHistory),
	    DIR_POLICY, DIR_V_HISTORY);
}

static void
pp_too_long(void **state)
{
	/* slapd */
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "Password fails quality checking policy", PP_passwordTooLong),
	    DIR_POLICY, DIR_V_TOO_LONG);
}

static void
pp_no_error_falls_back_on_text(void **state)
{
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is in history of old passwords", PP_noError),
	    DIR_POLICY, DIR_V_HISTORY);
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is in history of old passwords", 42),
	    DIR_POLICY, DIR_V_HISTORY);
}

/* ---- OpenLDAP: no control, slapd's texts ---- */

static void
slapd_quality_text_names_no_rule(void **state)
{
	/* Also sent for too short and too long: it names no rule. */
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "Password fails quality checking policy", NO_PP),
	    DIR_POLICY, DIR_V_DIRECTORY);
}

static void
slapd_too_young_text(void **state)
{
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is too young to change", NO_PP),
	    DIR_POLICY, DIR_V_TOO_YOUNG);
}

static void
slapd_history_text(void **state)
{
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is in history of old passwords", NO_PP),
	    DIR_POLICY, DIR_V_HISTORY);
}

static void
slapd_same_as_current_text(void **state)
{
	expect(ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is not being changed from existing value", NO_PP),
	    DIR_POLICY, DIR_V_HISTORY);
}

static void
slapd_other_constraint_names_no_rule(void **state)
{
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "Password policy only allows one password value", NO_PP),
	    DIR_POLICY, DIR_V_DIRECTORY);
	expect(ol(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION, NULL, NO_PP),
	    DIR_POLICY, DIR_V_DIRECTORY);
}

static void
slapd_wrong_old_password_on_exop(void **state)
{
	/* slapd passwd.c */
	expect(ol(DIR_OPK_CHANGE, LDAP_UNWILLING_TO_PERFORM,
	    "unwilling to verify old password", NO_PP),
	    DIR_WRONG_PASSWORD, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_UNWILLING_TO_PERFORM,
	    "Must supply correct old password to change to new one", NO_PP),
	    DIR_WRONG_PASSWORD, 0);
}

static void
slapd_must_supply_old_password_text(void **state)
{
	expect(ol(DIR_OPK_CHANGE, LDAP_INSUFFICIENT_ACCESS,
	    "Must supply old password to be changed as well as new one",
	    NO_PP), DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_UNWILLING_TO_PERFORM,
	    "must supply old password", NO_PP), DIR_INTERNAL, 0);
}

static void
openldap_invalid_credentials(void **state)
{
	expect(ol(DIR_OPK_BIND, LDAP_INVALID_CREDENTIALS, NULL, NO_PP),
	    DIR_WRONG_PASSWORD, 0);
	expect(ol(DIR_OPK_CHANGE, LDAP_INVALID_CREDENTIALS, NULL, NO_PP),
	    DIR_WRONG_PASSWORD, 0);
	/* No password of the user's was involved: not the user's fault. */
	expect(ol(DIR_OPK_RESET, LDAP_INVALID_CREDENTIALS, NULL, NO_PP),
	    DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_SEARCH, LDAP_INVALID_CREDENTIALS, NULL, NO_PP),
	    DIR_INTERNAL, 0);
}

static void
openldap_insufficient_access(void **state)
{
	expect(ol(DIR_OPK_RESET, LDAP_INSUFFICIENT_ACCESS, NULL, NO_PP),
	    DIR_NOT_ALLOWED, 0);
	/* slapd, without the control */
	expect(ol(DIR_OPK_CHANGE, LDAP_INSUFFICIENT_ACCESS,
	    "User alteration of password is not allowed", NO_PP),
	    DIR_NOT_ALLOWED, 0);
}

static void
openldap_no_such_object_and_others_are_internal(void **state)
{
	expect(ol(DIR_OPK_RESET, LDAP_NO_SUCH_OBJECT, NULL, NO_PP),
	    DIR_INTERNAL, 0);
	/* slapd passwd.c */
	expect(ol(DIR_OPK_RESET, LDAP_UNWILLING_TO_PERFORM,
	    "operation not supported for current user", NO_PP),
	    DIR_INTERNAL, 0);
	expect(ol(DIR_OPK_RESET, LDAP_STRONG_AUTH_REQUIRED,
	    "only authenticated users may change passwords", NO_PP),
	    DIR_INTERNAL, 0);
}

static void
unknown_directory_type_is_internal(void **state)
{
	struct dir_answer a = ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: too short");

	a.type = (enum dir_type)77;
	expect(a, DIR_INTERNAL, 0);
}

/* ---- detail ---- */

struct guarded {
	struct dir_result	r;
	unsigned char		guard[64];
};

static void
detail_long_message_truncated_without_overflow(void **state)
{
	char msg[1001];
	struct guarded g;
	struct dir_answer a;
	size_t i;

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	a = ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION, msg);
	memset(&g, 0xa5, sizeof(g));
	dir_errmap(&a, &g.r);
	assert_int_equal(strlen(g.r.detail), sizeof(g.r.detail) - 1);
	assert_memory_equal(g.r.detail, msg, sizeof(g.r.detail) - 1);
	for (i = 0; i < sizeof(g.guard); i++)
		assert_int_equal(g.guard[i], 0xa5);
	assert_int_equal(g.r.reason, DIR_POLICY);
}

static void
detail_cut_keeps_utf8_whole(void **state)
{
	char msg[400];
	struct dir_result r;
	struct dir_answer a;
	size_t n;

	/* 254 ASCII bytes, then two-byte characters across the limit. */
	memset(msg, 'a', 254);
	for (n = 254; n + 2 < sizeof(msg); n += 2) {
		msg[n] = (char)0xc3;
		msg[n + 1] = (char)0xa9;	/* é */
	}
	msg[n] = '\0';
	a = ol(DIR_OPK_RESET, LDAP_OTHER, msg, NO_PP);
	dir_errmap(&a, &r);
	assert_int_equal(strlen(r.detail), 254);
	assert_memory_equal(r.detail, msg, 254);
}

static void
detail_control_characters_become_spaces(void **state)
{
	struct dir_result r;
	struct dir_answer a = ad(DIR_OPK_RESET, LDAP_CONSTRAINT_VIOLATION,
	    "0000052D: AtrErr: DSID-03191083, #1:\n"
	    "\t0: 0000052D: x\r\x1b[31m\x7f" "end\n");

	dir_errmap(&a, &r);
	assert_string_equal(r.detail,
	    "0000052D: AtrErr: DSID-03191083, #1:  0: 0000052D: x  [31m end");
}

static void
detail_null_or_empty_message_describes_code(void **state)
{
	struct dir_result r;
	struct dir_answer a = ol(DIR_OPK_RESET, LDAP_INSUFFICIENT_ACCESS, NULL,
	    NO_PP);

	dir_errmap(&a, &r);
	assert_string_equal(r.detail, ldap_err2string(LDAP_INSUFFICIENT_ACCESS));
	assert_true(strlen(r.detail) > 0);

	a = ad(DIR_OPK_RESET, LDAP_SERVER_DOWN, "");
	dir_errmap(&a, &r);
	assert_string_equal(r.detail, ldap_err2string(LDAP_SERVER_DOWN));
	assert_true(strlen(r.detail) > 0);
}

static void
detail_keeps_server_words(void **state)
{
	struct dir_result r;
	struct dir_answer a = ol(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "Password is too young to change", PP_passwordTooYoung);

	dir_errmap(&a, &r);
	assert_string_equal(r.detail, "Password is too young to change");
}

/* Samba answers a change on a locked-out account with the account's state
 * as the leading code (seen against the Samba AD fixture). */
static void
ad_change_on_locked_account(void **state)
{
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "00000775: Password change not permitted, account locked out! at "
	    "../../source4/dsdb/samdb/ldb_modules/password_hash.c:3929:setup_io"),
	    DIR_ACCOUNT_LOCKED, 0);
	expect(ad(DIR_OPK_CHANGE, LDAP_CONSTRAINT_VIOLATION,
	    "00000533: account disabled"), DIR_ACCOUNT_DISABLED, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ad_change_on_locked_account),
		cmocka_unit_test(reason_code_every_value),
		cmocka_unit_test(reason_code_out_of_range_is_internal),
		cmocka_unit_test(violation_names_all_in_bit_order),
		cmocka_unit_test(violation_names_some),
		cmocka_unit_test(violation_names_none_and_unknown_bits),

		cmocka_unit_test(success_is_ok),
		cmocka_unit_test(success_with_ppolicy_warning_is_ok),

		cmocka_unit_test(
		    server_down_after_sending_a_write_may_have_applied),
		cmocka_unit_test(timeout_after_sending_a_write_may_have_applied),
		cmocka_unit_test(lost_answer_before_sending_was_not_applied),
		cmocka_unit_test(lost_answer_to_a_read_is_not_a_write),
		cmocka_unit_test(
		    server_refusals_now_are_unavailable_and_not_applied),
		cmocka_unit_test(local_admin_limit_and_other_are_internal),

		cmocka_unit_test(samba_too_short),
		cmocka_unit_test(samba_complexity),
		cmocka_unit_test(samba_too_young),
		cmocka_unit_test(samba_history),
		cmocka_unit_test(samba_miscellaneous_restriction_names_no_rule),
		cmocka_unit_test(ad_looser_wordings_of_rules),
		cmocka_unit_test(real_ad_constraint_names_no_rule),
		cmocka_unit_test(older_ad_policy_refusal_as_unwilling),
		cmocka_unit_test(samba_wrong_old_password),
		cmocka_unit_test(ad_needs_secure_connection),
		cmocka_unit_test(ad_access_denied),
		cmocka_unit_test(ad_insufficient_access_without_code),
		cmocka_unit_test(ad_constraint_without_code_names_no_rule),
		cmocka_unit_test(ad_unwilling_speaking_of_password_policy),
		cmocka_unit_test(ad_unwilling_otherwise_is_internal),
		cmocka_unit_test(ad_other_results_are_internal),

		cmocka_unit_test(ad_bind_52e_wrong_password),
		cmocka_unit_test(ad_bind_525_no_such_user_is_wrong_password),
		cmocka_unit_test(ad_bind_530_not_permitted_now),
		cmocka_unit_test(ad_bind_531_not_permitted_here),
		cmocka_unit_test(ad_bind_532_password_expired),
		cmocka_unit_test(ad_bind_773_must_change),
		cmocka_unit_test(ad_bind_533_disabled),
		cmocka_unit_test(ad_bind_701_account_expired),
		cmocka_unit_test(ad_bind_775_locked),
		cmocka_unit_test(ad_bind_unknown_data_is_wrong_password),
		cmocka_unit_test(ad_bind_without_data_is_wrong_password),
		cmocka_unit_test(ad_ignores_ppolicy_field),

		cmocka_unit_test(pp_password_expired_on_failed_bind),
		cmocka_unit_test(pp_account_locked),
		cmocka_unit_test(pp_change_after_reset),
		cmocka_unit_test(pp_password_mod_not_allowed),
		cmocka_unit_test(pp_must_supply_old_password),
		cmocka_unit_test(pp_must_supply_correct_old_password),
		cmocka_unit_test(pp_insufficient_quality),
		cmocka_unit_test(pp_too_short_wins_over_text),
		cmocka_unit_test(pp_too_young),
		cmocka_unit_test(pp_in_history),
		cmocka_unit_test(pp_too_long),
		cmocka_unit_test(pp_no_error_falls_back_on_text),

		cmocka_unit_test(slapd_quality_text_names_no_rule),
		cmocka_unit_test(slapd_too_young_text),
		cmocka_unit_test(slapd_history_text),
		cmocka_unit_test(slapd_same_as_current_text),
		cmocka_unit_test(slapd_other_constraint_names_no_rule),
		cmocka_unit_test(slapd_wrong_old_password_on_exop),
		cmocka_unit_test(slapd_must_supply_old_password_text),
		cmocka_unit_test(openldap_invalid_credentials),
		cmocka_unit_test(openldap_insufficient_access),
		cmocka_unit_test(openldap_no_such_object_and_others_are_internal),
		cmocka_unit_test(unknown_directory_type_is_internal),

		cmocka_unit_test(detail_long_message_truncated_without_overflow),
		cmocka_unit_test(detail_cut_keeps_utf8_whole),
		cmocka_unit_test(detail_control_characters_become_spaces),
		cmocka_unit_test(detail_null_or_empty_message_describes_code),
		cmocka_unit_test(detail_keeps_server_words),
	};

	return cmocka_run_group_tests_name("errmap", tests, NULL, NULL);
}
