/*
 * test_messages.c - the messages ssprd sends, per language: the built-in
 * English and Turkish texts, English for any other language, the admin's
 * template for English only, and header values that are not ASCII sent as
 * RFC 2047 encoded words that decode back to the text.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/secret.h"
#include "config/config.h"
#include "daemon/messages.h"

static struct config cfg;

static const struct notify_var code_vars[] = {
	{ "user", "zoë" },
	{ "code", "12345678" },
	{ "minutes", "10" },
	{ NULL, NULL },
};

static char *
build(enum message_kind kind, const char *lang, const struct notify_var *v)
{
	const char *err = NULL;
	size_t len;
	char *msg = message_build(&cfg, kind, lang, "zoe@example.org", v,
	    &len, &err);

	if (msg == NULL)
		fail_msg("message_build: %s", err);
	assert_int_equal(strlen(msg), len);
	return msg;
}

/* The value of header name, its encoded words decoded and its folds
 * joined (a new string). */
static char *
header(const char *msg, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = msg, *end = strstr(msg, "\n\n");
	char *out = calloc(1, 1024);
	size_t o = 0;

	while (p < end && !(strncmp(p, name, nlen) == 0 && p[nlen] == ':'))
		p = strchr(p, '\n') + 1;
	if (p >= end)
		fail_msg("no %s: header", name);
	p += nlen + 1;
	for (;;) {
		const char *nl = strchr(p, '\n');

		/* every header line is ASCII and within 78 characters */
		for (const char *q = p; q < nl; q++)
			assert_true((unsigned char)*q < 0x80);
		assert_true(nl - p <= 78);
		while (p < nl) {
			const char *w = strstr(p, "=?UTF-8?B?");
			const char *we;
			size_t bin = 0;

			if (w == NULL || w >= nl) {
				memcpy(out + o, p, (size_t)(nl - p));
				o += (size_t)(nl - p);
				p = nl;
				break;
			}
			memcpy(out + o, p, (size_t)(w - p));
			o += (size_t)(w - p);
			w += 10;
			we = strstr(w, "?=");
			assert_int_equal(sodium_base642bin((unsigned char *)out + o,
			    1023 - o, w, (size_t)(we - w), NULL, &bin, NULL,
			    sodium_base64_VARIANT_ORIGINAL), 0);
			o += bin;
			p = we + 2;
		}
		if (nl[1] != ' ')
			break;
		p = nl + 2;		/* a fold: the words join */
	}
	out[o] = '\0';
	/* the leading blank after the colon */
	if (out[0] == ' ')
		memmove(out, out + 1, o);
	return out;
}

static void
test_english(void **state)
{
	char *msg = build(MSG_EMAIL_CODE, "", code_vars), *subj;

	(void)state;
	subj = header(msg, "Subject");
	assert_string_equal(subj, "Your password reset code");
	assert_non_null(strstr(msg, "Subject: Your password reset code\n"));
	assert_non_null(strstr(msg, "\nHello zoë,\n"));	/* body: 8bit */
	assert_non_null(strstr(msg, "your password reset code is 12345678"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8"));
	free(subj);
	secret_free(msg);
	/* other languages: English */
	msg = build(MSG_EMAIL_CODE, "de", code_vars);
	assert_non_null(strstr(msg, "Subject: Your password reset code\n"));
	secret_free(msg);
	assert_string_equal(message_language("de"), "en");
	assert_string_equal(message_language(NULL), "en");
	assert_string_equal(message_language("tr"), "tr");
}

static void
test_turkish(void **state)
{
	char *msg = build(MSG_EMAIL_CODE, "tr", code_vars), *subj;
	const struct notify_var notice[] = {
		{ "user", "zoë" },
		{ "action", message_action("tr", MSG_ACT_RESET) },
		{ "time", "2026-12-03 10:00 UTC" },
		{ "client", "192.0.2.1" },
		{ NULL, NULL },
	};

	(void)state;
	subj = header(msg, "Subject");
	assert_string_equal(subj, "Parola sıfırlama kodunuz");
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(msg, "parola sıfırlama kodunuz: 12345678\n"));
	free(subj);
	secret_free(msg);

	msg = build(MSG_EMAIL_NOTICE, "tr", notice);
	subj = header(msg, "Subject");
	assert_string_equal(subj, "Hesabınızda işlem: parola sıfırlandı");
	assert_non_null(strstr(msg, "parola sıfırlandı.\n"));
	free(subj);
	secret_free(msg);

	msg = build(MSG_SMS_CODE, "tr", code_vars);
	assert_string_equal(msg, "12345678 parola sıfırlama kodunuzdur. 10 "
	    "dakika geçerlidir. Siz istemediyseniz bu mesajı dikkate "
	    "almayın.\n");
	secret_free(msg);
	assert_string_equal(message_action("tr", MSG_ACT_NEW_APP),
	    "bir doğrulama uygulaması kaydedildi");
	assert_string_equal(message_action("xx", MSG_ACT_CHANGED), "changed");
}

/* A long value that is not ASCII: several encoded words on folded lines,
 * none split inside a character. */
static void
test_long_header(void **state)
{
	const struct notify_var v[] = {
		{ "admin", "çğıöşü-ÇĞİÖŞÜ-çğıöşü-ÇĞİÖŞÜ-çğıöşü-ÇĞİÖŞÜ-çğıöşü" },
		{ "user", "x" },
		{ "action", message_action("tr", MSG_ACT_UNLOCKED) },
		{ "time", "t" },
		{ NULL, NULL },
	};
	char *msg, *subj, want[256];

	(void)state;
	msg = build(MSG_EMAIL_ADMIN_NOTICE, "tr", v);
	subj = header(msg, "Subject");
	snprintf(want, sizeof(want), "Yönetici hesabında işlem: %s: %s",
	    v[0].value, v[2].value);
	assert_string_equal(subj, want);
	assert_non_null(strstr(msg, "?=\n =?UTF-8?B?"));
	free(subj);
	secret_free(msg);
}

/* The admin's template is English's; Turkish keeps its own text. */
static void
test_custom_english(void **state)
{
	char *msg;

	(void)state;
	cfg.email.code_template = "Subject: Kod / Code\n\nCode {{code}}\n";
	msg = build(MSG_EMAIL_CODE, "en", code_vars);
	assert_non_null(strstr(msg, "Subject: Kod / Code\n\nCode 12345678\n"));
	secret_free(msg);
	msg = build(MSG_EMAIL_CODE, "tr", code_vars);
	assert_null(strstr(msg, "Kod / Code"));
	secret_free(msg);
	cfg.email.code_template = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_english),
		cmocka_unit_test(test_turkish),
		cmocka_unit_test(test_long_header),
		cmocka_unit_test(test_custom_english),
	};

	if (sodium_init() == -1)
		return 1;
	cfg.email.from = "SSPR <sspr@example.org>";
	return cmocka_run_group_tests_name("messages", tests, NULL, NULL);
}
