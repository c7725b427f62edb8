/*
 * test_messages.c - the messages ssprd sends, per language: the built-in
 * English and Turkish texts, English for any other language, the admin's
 * template for English only, templates_dir's per-language files in their
 * order of precedence, the shipped template files equal to the built-in
 * texts, and header values that are not ASCII sent as RFC 2047 encoded
 * words that decode back to the text.
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

/* msg without its Date: line (a new string), to compare two builds. */
static char *
undated(const char *msg)
{
	char *out = strdup(msg), *d = strstr(out, "Date: ");

	assert_non_null(out);
	if (d != NULL && (d == out || d[-1] == '\n'))
		memmove(d, strchr(d, '\n') + 1, strlen(strchr(d, '\n') + 1) + 1);
	return out;
}

static const struct notify_var notice_vars[] = {
	{ "user", "zoë" }, { "action", "reset" }, { "time", "2026-12-03 10:00 UTC" },
	{ "client", "192.0.2.1" }, { "admin", "carol" }, { NULL, NULL },
};

/* Every kind in lang built from cfg equals the built-in text's build. */
static void
same_as_builtin(const char *lang)
{
	struct config_templates *saved = cfg.daemon.templates;
	unsigned n = cfg.daemon.ntemplates;

	for (int k = 0; k < MSG_KINDS; k++) {
		const struct notify_var *v = k == MSG_EMAIL_NOTICE ||
		    k == MSG_EMAIL_ADMIN_NOTICE ? notice_vars : code_vars;
		char *a, *b, *ua, *ub;

		a = build((enum message_kind)k, lang, v);
		cfg.daemon.templates = NULL;
		cfg.daemon.ntemplates = 0;
		b = build((enum message_kind)k, lang, v);
		cfg.daemon.templates = saved;
		cfg.daemon.ntemplates = n;
		ua = undated(a);
		ub = undated(b);
		if (strcmp(ua, ub) != 0)
			fail_msg("%s %s differs from the built-in text:\n%s\n---\n%s",
			    lang, config_template_names[k], ua, ub);
		free(ua);
		free(ub);
		secret_free(a);
		secret_free(b);
	}
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 17 * 1024);
	size_t n;

	if (f == NULL)
		fail_msg("cannot read %s", path);
	n = fread(buf, 1, 17 * 1024 - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* config/templates/{en,tr}: the built-in texts, to copy and edit. */
static void
test_shipped_templates(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	struct config_templates t[2] = { { .tag = "en" }, { .tag = "tr" } };
	char path[512];

	(void)state;
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < MSG_KINDS; k++) {
			snprintf(path, sizeof(path), "%s/config/templates/%s/%s",
			    srcdir ? srcdir : "..", t[i].tag, config_template_names[k]);
			t[i].text[k] = slurp(path);
		}
	cfg.daemon.templates = t;
	cfg.daemon.ntemplates = 2;
	same_as_builtin("en");
	same_as_builtin("tr");
	cfg.daemon.templates = NULL;
	cfg.daemon.ntemplates = 0;
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < MSG_KINDS; k++)
			free(t[i].text[k]);
}

/* Which text a language gets: templates_dir/LANG, then LANG's built-in
 * text, then the English key, then templates_dir/en, then built-in. */
static void
test_templates_dir_order(void **state)
{
	struct config_templates t[3] = { { .tag = "tr" }, { .tag = "de" },
	    { .tag = "en" } };
	char *msg;

	(void)state;
	t[0].text[MSG_SMS_CODE] = "TR-DIR {{code}}\n";
	t[1].text[MSG_SMS_CODE] = "DE-DIR {{code}}\n";
	t[2].text[MSG_EMAIL_NOTICE] = "Subject: EN-DIR\n\n{{action}}\n";
	cfg.daemon.templates = t;
	cfg.daemon.ntemplates = 3;
	cfg.sms.code_template = "EN-KEY {{code}}\n";

	/* 1. the language's own folder */
	msg = build(MSG_SMS_CODE, "tr", code_vars);
	assert_string_equal(msg, "TR-DIR 12345678\n");
	secret_free(msg);
	msg = build(MSG_SMS_CODE, "de", code_vars);
	assert_string_equal(msg, "DE-DIR 12345678\n");
	secret_free(msg);
	/* 2. Turkish has built-in texts: no English for it */
	msg = build(MSG_EMAIL_NOTICE, "tr", notice_vars);
	assert_null(strstr(msg, "EN-DIR"));
	assert_non_null(strstr(msg, "Merhaba zoë"));
	secret_free(msg);
	/* 3. the single-file key, for English and languages without texts */
	msg = build(MSG_SMS_CODE, "en", code_vars);
	assert_string_equal(msg, "EN-KEY 12345678\n");
	secret_free(msg);
	msg = build(MSG_SMS_CODE, "fr", code_vars);
	assert_string_equal(msg, "EN-KEY 12345678\n");
	secret_free(msg);
	msg = build(MSG_SMS_CODE, "", code_vars);
	assert_string_equal(msg, "EN-KEY 12345678\n");
	secret_free(msg);
	/* 4. templates_dir/en where no key is set */
	msg = build(MSG_EMAIL_NOTICE, "de", notice_vars);
	assert_non_null(strstr(msg, "Subject: EN-DIR\n"));
	secret_free(msg);
	msg = build(MSG_EMAIL_NOTICE, "en", notice_vars);
	assert_non_null(strstr(msg, "Subject: EN-DIR\n"));
	secret_free(msg);
	/* 5. built-in English, for what no file gives */
	msg = build(MSG_EMAIL_CODE, "de", code_vars);
	assert_non_null(strstr(msg, "Subject: Your password reset code\n"));
	secret_free(msg);

	cfg.sms.code_template = NULL;
	cfg.daemon.templates = NULL;
	cfg.daemon.ntemplates = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_english),
		cmocka_unit_test(test_turkish),
		cmocka_unit_test(test_long_header),
		cmocka_unit_test(test_custom_english),
		cmocka_unit_test(test_shipped_templates),
		cmocka_unit_test(test_templates_dir_order),
	};

	if (sodium_init() == -1)
		return 1;
	cfg.email.from = "SSPR <sspr@example.org>";
	return cmocka_run_group_tests_name("messages", tests, NULL, NULL);
}
