/*
 * errmap.c - what a directory server's answer means: one LDAP result (or
 * libldap API error), its diagnostic message and the ppolicy response
 * control's error become one of SPEC's reasons plus policy violations.
 *
 * Guarantees: dir_errmap() never fails and never reads past the strings it
 * is given; every input, including a NULL or empty message and result codes
 * it has never heard of, gives a defined reason (DIR_INTERNAL when nothing
 * fits: an answer we cannot explain is our problem, not the user's). The
 * server's text is copied into result->detail for the log only, truncated on
 * a character boundary and with control characters replaced by spaces, so
 * that a hostile or broken server cannot forge log lines. maybe_applied is
 * set only for a reset or change that was sent and whose answer was lost.
 *
 * Where the texts come from (the tests quote them):
 * - Active Directory and Samba start the message with the Windows error in
 *   eight hex digits ("0000052D: ..."); a failed bind carries the real cause
 *   as "data XXX" (hex) further on. Samba's wording for password rules is
 *   in source4/dsdb/samdb/ldb_modules/password_hash.c (all prefixed by
 *   "check_password_restrictions:"); real AD names no rule at all.
 * - OpenLDAP's slapd says why in the ppolicy response control, which ssprd
 *   always asks for; its texts (servers/slapd/overlays/ppolicy.c and
 *   servers/slapd/passwd.c) are the fallback when the control is missing.
 */
#include "build.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "ldap/dir.h"
#include "ldap/errmap.h"

/* Windows error codes that lead AD's diagnostic messages. */
#define WERR_ACCESS_DENIED		0x00000005u
#define WERR_INVALID_PASSWORD		0x00000056u	/* wrong old password */
#define WERR_PASSWORD_RESTRICTION	0x0000052Du
#define WERR_DS_NEEDS_SECURE		0x00002077u	/* no TLS, or a bad modify */

/* The "data" sub-codes of a failed AD bind (Windows error numbers). */
#define AD_DATA_NO_SUCH_USER		0x525u
#define AD_DATA_WRONG_PASSWORD		0x52eu
#define AD_DATA_NOT_NOW			0x530u	/* logon hours */
#define AD_DATA_NOT_HERE		0x531u	/* workstation restriction */
#define AD_DATA_PASSWORD_EXPIRED	0x532u
#define AD_DATA_DISABLED		0x533u
#define AD_DATA_ACCOUNT_EXPIRED		0x701u
#define AD_DATA_MUST_CHANGE		0x773u
#define AD_DATA_LOCKED			0x775u

const char *
dir_reason_code(enum dir_reason r)
{
	switch (r) {
	case DIR_OK:
		return "ok";
	case DIR_POLICY:
		return "password-policy";
	case DIR_WRONG_PASSWORD:
		return "wrong-password";
	case DIR_PASSWORD_EXPIRED:
		/*
		 * Not one of SPEC's codes: an ssprd extension. Only a bind
		 * produces it (the right password, but expired or flagged
		 * must-change), and the engine decides whether to surface
		 * it or to fold it into another reason.
		 */
		return "password-expired";
	case DIR_ACCOUNT_LOCKED:
		return "account-locked";
	case DIR_ACCOUNT_DISABLED:
		return "account-disabled";
	case DIR_NOT_ALLOWED:
		return "not-allowed";
	case DIR_UNAVAILABLE:
		return "directory-unavailable";
	case DIR_INTERNAL:
		return "internal";
	case DIR_BUSY:
		return "busy";
	}
	/* A value outside the enum is a bug here, never the user's fault. */
	return "internal";
}

void
dir_violation_names(unsigned v, const char *names[7])
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} table[] = {
		{ DIR_V_TOO_SHORT, "too-short" },
		{ DIR_V_TOO_LONG, "too-long" },
		{ DIR_V_COMPLEXITY, "complexity" },
		{ DIR_V_HISTORY, "history" },
		{ DIR_V_TOO_YOUNG, "too-young" },
		{ DIR_V_DIRECTORY, "directory-policy" },
	};
	size_t i, n = 0;

	/* Six names at most, so the terminating NULL always fits in 7. */
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (v & table[i].bit)
			names[n++] = table[i].name;
	}
	names[n] = NULL;
}

/* Case-insensitive strstr(); strcasestr() is not in POSIX. */
static const char *
find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	}
	return NULL;
}

static bool
has_ci(const char *hay, const char *needle)
{
	return find_ci(hay, needle) != NULL;
}

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/*
 * Does a word of TEXT start with WORD? Prefix matches count ("restriction"
 * finds "restrictions"), but not inside identifiers: Samba prefixes all its
 * password texts with "check_password_restrictions:", which must not make
 * every one of them look like a policy refusal.
 */
static bool
has_word(const char *text, const char *word)
{
	const char *p = text;

	while ((p = find_ci(p, word)) != NULL) {
		if (p == text || !is_word_char(p[-1]))
			return true;
		p++;
	}
	return false;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* AD's leading "XXXXXXXX:" Windows error, if the message has one. */
static bool
ad_leading_code(const char *msg, unsigned *code)
{
	unsigned v = 0;
	int i, d;

	for (i = 0; i < 8; i++) {
		if ((d = hex_value(msg[i])) < 0)
			return false;	/* also stops at the NUL */
		v = v << 4 | (unsigned)d;
	}
	if (msg[8] != ':')
		return false;
	*code = v;
	return true;
}

/*
 * The "data XXX" sub-code of a failed bind ("..., data 52e, v4563"): one to
 * eight hex digits ending the word. The first well-formed one wins.
 */
static bool
ad_data_code(const char *msg, unsigned *code)
{
	const char *p = msg;

	while ((p = find_ci(p, "data ")) != NULL) {
		const char *q = p + 5;
		unsigned v = 0;
		int n = 0, d;

		if (p != msg && is_word_char(p[-1])) {
			p++;
			continue;
		}
		while (n < 8 && (d = hex_value(q[n])) >= 0) {
			v = v << 4 | (unsigned)d;
			n++;
		}
		if (n > 0 && !is_word_char(q[n])) {
			*code = v;
			return true;
		}
		p++;
	}
	return false;
}

/*
 * Which rules a refusal names, from its text. Substrings, case-insensitive,
 * because servers reword their messages between versions; the list covers
 * Samba's check_password_restrictions texts and slapd's ppolicy texts.
 */
static unsigned
violations_from_text(const char *msg)
{
	static const struct {
		const char	*text;
		unsigned	 bit;
	} table[] = {
		{ "too short", DIR_V_TOO_SHORT },
		{ "too long", DIR_V_TOO_LONG },
		{ "complexity", DIR_V_COMPLEXITY },
		{ "history", DIR_V_HISTORY },
		{ "already used", DIR_V_HISTORY },
		{ "password was used", DIR_V_HISTORY },
		/* slapd, when the new password is the current one */
		{ "not being changed from existing value", DIR_V_HISTORY },
		{ "too young", DIR_V_TOO_YOUNG },
		{ "minimum password age", DIR_V_TOO_YOUNG },
	};
	unsigned v = 0;
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (has_ci(msg, table[i].text))
			v |= table[i].bit;
	}
	/* Refused, but the server did not say which rule. */
	return v != 0 ? v : DIR_V_DIRECTORY;
}

static void
set_policy(struct dir_result *out, unsigned violations)
{
	out->reason = DIR_POLICY;
	out->violations = violations;
}

/*
 * Copy the server's words into detail: control characters (a newline in
 * AD's multi-line messages, or an injected one) become spaces, trailing
 * spaces go, and a cut never splits a UTF-8 sequence.
 */
static void
copy_detail(char *dst, size_t size, const char *msg, int rc)
{
	size_t n, i;

	if (msg == NULL || *msg == '\0')
		msg = ldap_err2string(rc);
	if (msg == NULL)
		msg = "";
	n = strlen(msg);
	if (n >= size) {
		n = size - 1;
		/* Back off over continuation bytes (10xxxxxx). */
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)msg[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static bool
is_write(enum dir_op_kind kind)
{
	return kind == DIR_OPK_RESET || kind == DIR_OPK_CHANGE;
}

/*
 * No server, or none able to answer now: worth trying again later. Only a
 * dead connection or a timeout can lose the answer to a request that was
 * sent; the others are the server's own answer, so nothing was applied.
 */
static bool
map_transport(const struct dir_answer *a, struct dir_result *out)
{
	switch (a->ldap_rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_TIMEOUT:
		out->maybe_applied = a->sent && is_write(a->kind);
		break;
	case LDAP_CONNECT_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_TIMELIMIT_EXCEEDED:
		break;
	default:
		return false;
	}
	out->reason = DIR_UNAVAILABLE;
	return true;
}

static void
map_ad_bind(unsigned data, struct dir_result *out)
{
	switch (data) {
	case AD_DATA_NOT_NOW:
	case AD_DATA_NOT_HERE:
		out->reason = DIR_NOT_ALLOWED;
		break;
	case AD_DATA_PASSWORD_EXPIRED:
	case AD_DATA_MUST_CHANGE:
		out->reason = DIR_PASSWORD_EXPIRED;
		break;
	case AD_DATA_DISABLED:
	case AD_DATA_ACCOUNT_EXPIRED:
		out->reason = DIR_ACCOUNT_DISABLED;
		break;
	case AD_DATA_LOCKED:
		out->reason = DIR_ACCOUNT_LOCKED;
		break;
	case AD_DATA_NO_SUCH_USER:	/* the same answer, on purpose */
	case AD_DATA_WRONG_PASSWORD:
	default:
		/* Still invalid credentials, whatever else the code says. */
		out->reason = DIR_WRONG_PASSWORD;
		break;
	}
}

static void
map_ad(const struct dir_answer *a, const char *msg, struct dir_result *out)
{
	unsigned code, data;

	if (ad_leading_code(msg, &code)) {
		switch (code) {
		case WERR_PASSWORD_RESTRICTION:
			/* 19 from Samba and newer AD, 53 from older AD. */
			set_policy(out, violations_from_text(msg));
			return;
		case WERR_INVALID_PASSWORD:
			out->reason = DIR_WRONG_PASSWORD;
			return;
		case WERR_DS_NEEDS_SECURE:
			/* We only write over TLS: this is our bug. */
			out->reason = DIR_INTERNAL;
			return;
		case WERR_ACCESS_DENIED:
			out->reason = DIR_NOT_ALLOWED;
			return;
		case AD_DATA_LOCKED:
		case AD_DATA_DISABLED:
		case AD_DATA_ACCOUNT_EXPIRED:
		case AD_DATA_PASSWORD_EXPIRED:
		case AD_DATA_MUST_CHANGE:
		case AD_DATA_NOT_NOW:
		case AD_DATA_NOT_HERE:
			/* The account's state as the leading code, as Samba
			 * answers a change on a locked-out account: "00000775:
			 * Password change not permitted, account locked out!" */
			map_ad_bind(code, out);
			return;
		default:
			break;	/* 80090308 and others: the result code says */
		}
	}

	switch (a->ldap_rc) {
	case LDAP_INVALID_CREDENTIALS:
		if (ad_data_code(msg, &data))
			map_ad_bind(data, out);
		else
			out->reason = DIR_WRONG_PASSWORD;
		break;
	case LDAP_INSUFFICIENT_ACCESS:
		out->reason = DIR_NOT_ALLOWED;
		break;
	case LDAP_CONSTRAINT_VIOLATION:
		set_policy(out, DIR_V_DIRECTORY);
		break;
	case LDAP_UNWILLING_TO_PERFORM:
		/*
		 * Mostly our mistakes (no TLS, no old password given); a
		 * refusal that speaks of a password policy or restriction
		 * is the policy's.
		 */
		if (has_word(msg, "password") && (has_word(msg, "policy") ||
		    has_word(msg, "restriction")))
			set_policy(out, DIR_V_DIRECTORY);
		else
			out->reason = DIR_INTERNAL;
		break;
	default:
		out->reason = DIR_INTERNAL;
		break;
	}
}

/* The ppolicy response control's error; false if it names none. */
static bool
map_ppolicy(const struct dir_answer *a, const char *msg,
    struct dir_result *out)
{
	switch (a->ppolicy_error) {
	case PP_passwordExpired:
	case PP_changeAfterReset:
		out->reason = DIR_PASSWORD_EXPIRED;
		break;
	case PP_accountLocked:
		out->reason = DIR_ACCOUNT_LOCKED;
		break;
	case PP_passwordModNotAllowed:
		out->reason = DIR_NOT_ALLOWED;
		break;
	case PP_mustSupplyOldPassword:
		/*
		 * slapd also sends this error when the old password was
		 * supplied but is wrong (pwdSafeModify); otherwise we failed
		 * to send the old password, which is our bug.
		 */
		if (has_ci(msg, "correct old password"))
			out->reason = DIR_WRONG_PASSWORD;
		else
			out->reason = DIR_INTERNAL;
		break;
	case PP_insufficientPasswordQuality:
		set_policy(out, DIR_V_COMPLEXITY);
		break;
	case PP_passwordTooShort:
		set_policy(out, DIR_V_TOO_SHORT);
		break;
	case PP_passwordTooYoung:
		set_policy(out, DIR_V_TOO_YOUNG);
		break;
	case PP_passwordInHistory:
		set_policy(out, DIR_V_HISTORY);
		break;
	case PP_passwordTooLong:
		set_policy(out, DIR_V_TOO_LONG);
		break;
	default:
		return false;	/* -1, PP_noError, or a value from the future */
	}
	return true;
}

static void
map_openldap(const struct dir_answer *a, const char *msg,
    struct dir_result *out)
{
	if (map_ppolicy(a, msg, out))
		return;

	/*
	 * No control: slapd's texts. The password modify operation answers
	 * a wrong old password with 53 and "unwilling to verify old
	 * password"; ppolicy with pwdSafeModify says "Must supply correct
	 * old password" and, when none was given, "Must supply old password".
	 */
	if (has_ci(msg, "unwilling to verify old password") ||
	    has_ci(msg, "must supply correct old password")) {
		out->reason = DIR_WRONG_PASSWORD;
		return;
	}
	if (has_ci(msg, "must supply old password")) {
		out->reason = DIR_INTERNAL;
		return;
	}

	switch (a->ldap_rc) {
	case LDAP_CONSTRAINT_VIOLATION:
		/*
		 * slapd says "Password fails quality checking policy" for a
		 * password too short, too long or of poor quality alike, so
		 * that text names no rule; "too young" and "history" ones do.
		 */
		set_policy(out, violations_from_text(msg));
		break;
	case LDAP_INVALID_CREDENTIALS:
		/* Only a bind or a change checks a password we were given. */
		if (a->kind == DIR_OPK_BIND || a->kind == DIR_OPK_CHANGE)
			out->reason = DIR_WRONG_PASSWORD;
		else
			out->reason = DIR_INTERNAL;
		break;
	case LDAP_INSUFFICIENT_ACCESS:
		out->reason = DIR_NOT_ALLOWED;
		break;
	default:
		/* 32 (our DN is wrong), 53, and anything unexplained. */
		out->reason = DIR_INTERNAL;
		break;
	}
}

void
dir_errmap(const struct dir_answer *a, struct dir_result *out)
{
	const char *msg = a->message != NULL ? a->message : "";

	memset(out, 0, sizeof(*out));
	copy_detail(out->detail, sizeof(out->detail), a->message, a->ldap_rc);

	/* Success is success: ppolicy warnings on a bind are not errors. */
	if (a->ldap_rc == LDAP_SUCCESS) {
		out->reason = DIR_OK;
		return;
	}
	if (map_transport(a, out))
		return;

	switch (a->type) {
	case DIR_TYPE_AD:
		map_ad(a, msg, out);
		break;
	case DIR_TYPE_OPENLDAP:
		map_openldap(a, msg, out);
		break;
	default:
		out->reason = DIR_INTERNAL;
		break;
	}
}
