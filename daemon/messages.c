/*
 * messages.c - built-in message templates and email assembly (see
 * messages.h).
 */
#include "build.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "daemon/messages.h"

static const char email_code[] =
    "Subject: Your password reset code\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "your password reset code is {{code}}\n"
    "\n"
    "It is valid for {{minutes}} minutes and can be used once.\n"
    "If you did not ask for it, ignore this message: your password stays\n"
    "as it is, and nobody can use the code without access to this mailbox.\n";

static const char email_notice[] =
    "Subject: Your password was {{action}}\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "your password was {{action}} through self-service at {{time}}.\n"
    "\n"
    "If this was not you, contact your helpdesk at once: someone may have\n"
    "access to your account or to your recovery methods.\n";

static const char email_admin_notice[] =
    "Subject: Administrator password {{action}}: {{admin}}\n"
    "\n"
    "The password of the administrator account {{admin}} was {{action}}\n"
    "through self-service at {{time}}.\n"
    "\n"
    "You receive this notice because you are an administrator too. If the\n"
    "change was not expected, treat it as a security incident.\n";

static const char sms_code[] =
    "{{code}} is your password reset code. It is valid for {{minutes}} "
    "minutes. If you did not ask for it, ignore this message.\n";

static const char email_confirm[] =
    "Subject: Confirm your recovery address\n"
    "\n"
    "Hello {{user}},\n"
    "\n"
    "to confirm this address for resetting your password, enter the code\n"
    "{{code}}\n"
    "\n"
    "It is valid for {{minutes}} minutes. If you did not register this\n"
    "address, ignore this message: it will not be used.\n";

static const char sms_confirm[] =
    "{{code}} confirms this number for resetting your password. It is "
    "valid for {{minutes}} minutes. If you did not register it, ignore "
    "this message.\n";

/* Turkish: the same messages. */
static const char tr_email_code[] =
    "Subject: Parola sıfırlama kodunuz\n"
    "\n"
    "Merhaba {{user}},\n"
    "\n"
    "parola sıfırlama kodunuz: {{code}}\n"
    "\n"
    "Kod {{minutes}} dakika geçerlidir ve bir kez kullanılabilir.\n"
    "Kodu siz istemediyseniz bu iletiyi dikkate almayın: parolanız\n"
    "değişmez ve bu posta kutusuna erişimi olmayan kimse kodu kullanamaz.\n";

static const char tr_email_notice[] =
    "Subject: Hesabınızda işlem: {{action}}\n"
    "\n"
    "Merhaba {{user}},\n"
    "\n"
    "{{time}} tarihinde self servis ile hesabınızda şu işlem yapıldı:\n"
    "{{action}}.\n"
    "\n"
    "Bunu siz yapmadıysanız hemen yardım masanıza başvurun: biri\n"
    "hesabınıza ya da kurtarma yöntemlerinize erişmiş olabilir.\n";

static const char tr_email_admin_notice[] =
    "Subject: Yönetici hesabında işlem: {{admin}}: {{action}}\n"
    "\n"
    "{{admin}} yönetici hesabında {{time}} tarihinde self servis ile şu\n"
    "işlem yapıldı: {{action}}.\n"
    "\n"
    "Bu bildirimi siz de yönetici olduğunuz için alıyorsunuz. Değişiklik\n"
    "beklenmiyorsa bunu bir güvenlik olayı olarak ele alın.\n";

static const char tr_sms_code[] =
    "{{code}} parola sıfırlama kodunuzdur. {{minutes}} dakika geçerlidir. "
    "Siz istemediyseniz bu mesajı dikkate almayın.\n";

static const char tr_email_confirm[] =
    "Subject: Kurtarma adresinizi doğrulayın\n"
    "\n"
    "Merhaba {{user}},\n"
    "\n"
    "bu adresi parola sıfırlama için doğrulamak üzere şu kodu girin:\n"
    "{{code}}\n"
    "\n"
    "Kod {{minutes}} dakika geçerlidir. Bu adresi siz kaydetmediyseniz bu\n"
    "iletiyi dikkate almayın: adres kullanılmayacaktır.\n";

static const char tr_sms_confirm[] =
    "{{code}} bu numarayı parola sıfırlama için doğrular. {{minutes}} "
    "dakika geçerlidir. Numarayı siz kaydetmediyseniz bu mesajı dikkate "
    "almayın.\n";

_Static_assert(MSG_KINDS == CONFIG_MSG_KINDS && MSG_EMAIL_CODE == 0 &&
    MSG_EMAIL_NOTICE == 1 && MSG_EMAIL_ADMIN_NOTICE == 2 && MSG_SMS_CODE == 3,
    "config.c's template tables follow enum message_kind");

/* The built-in texts of each language, by enum message_kind; the first
 * is English, the fallback. */
static const struct language {
	const char *tag;
	const char *text[MSG_KINDS];
	const char *action[MSG_ACTIONS];
} languages[] = {
	{ "en",
	    { email_code, email_notice, email_admin_notice, sms_code,
	      email_confirm, sms_confirm },
	    { "reset", "changed", "unlocked",
	      "used to update your recovery information",
	      "used to register a new recovery address",
	      "used to register a new recovery mobile number",
	      "used to register an authenticator app" } },
	{ "tr",
	    { tr_email_code, tr_email_notice, tr_email_admin_notice,
	      tr_sms_code, tr_email_confirm, tr_sms_confirm },
	    { "parola sıfırlandı", "parola değiştirildi", "hesap kilidi açıldı",
	      "kurtarma bilgileri güncellendi",
	      "yeni bir kurtarma adresi kaydedildi",
	      "yeni bir kurtarma cep telefonu numarası kaydedildi",
	      "bir doğrulama uygulaması kaydedildi" } },
};
#define NLANGUAGES (sizeof(languages) / sizeof(languages[0]))

static const struct language *
language(const char *lang)
{
	for (size_t i = 0; lang != NULL && i < NLANGUAGES; i++)
		if (strcmp(lang, languages[i].tag) == 0)
			return &languages[i];
	return &languages[0];
}

const char *
message_language(const char *lang)
{
	return language(lang)->tag;
}

const char *
message_action(const char *lang, enum message_action a)
{
	return language(lang)->action[a];
}

bool
message_address_ok(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t len = strlen(addr);

	if (len == 0 || len > 254 || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,;\"()[]\\", *p))
			return false;
	return true;
}

/* The admin's template for kind in the language tag from templates_dir,
 * or NULL. */
static const char *
dir_template(const struct config *cfg, enum message_kind kind,
    const char *tag)
{
	for (unsigned i = 0; tag != NULL && i < cfg->daemon.ntemplates; i++)
		if (strcmp(cfg->daemon.templates[i].tag, tag) == 0)
			return cfg->daemon.templates[i].text[kind];
	return NULL;
}

/*
 * The text of kind for a request's lang, first found of:
 *   1. templates_dir/LANG/NAME (any language the admin wrote a folder for);
 *   2. the built-in text of LANG, when ssprd has texts of its own for it;
 *   3. the single-file key (code_template, ...), which is English;
 *   4. templates_dir/en/NAME;
 *   5. the built-in English text.
 */
static const char *
template_of(const struct config *cfg, enum message_kind kind,
    const char *lang)
{
	const struct language *l = language(lang);
	const char *t;

	if ((t = dir_template(cfg, kind, lang)) != NULL)
		return t;
	if (l != &languages[0])
		return l->text[kind];
	if ((t = config_single_template(cfg, kind, NULL)) != NULL)
		return t;
	if ((t = dir_template(cfg, kind, "en")) != NULL)
		return t;
	return languages[0].text[kind];
}

/* Bytes of s that start at most max bytes of whole UTF-8 characters. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * The header lines of an email template, rendered, with every value that
 * is not ASCII as RFC 2047 encoded words (UTF-8, base64; at most 45 bytes
 * of text each, so a word stays within 76 characters), folded onto
 * continuation lines. Bodies are 8bit (the MIME headers say so); headers
 * must be ASCII. A new buffer (secret_alloc()), the body copied as is.
 */
static char *
encode_headers(const char *msg, size_t len, size_t *outlen)
{
	const char *end = strstr(msg, "\n\n");
	size_t hlen = end != NULL ? (size_t)(end - msg) + 1 : len;
	size_t cap = hlen * 3 + (len - hlen) + 64, o = 0;
	char *out = secret_alloc(cap + 1);
	const char *line = msg;

	while (line < msg + hlen) {
		const char *nl = memchr(line, '\n', (size_t)(msg + hlen - line));
		size_t ll = nl != NULL ? (size_t)(nl - line) : (size_t)(msg +
		    hlen - line);
		const char *colon = memchr(line, ':', ll);
		bool ascii = true;

		for (size_t i = 0; i < ll; i++)
			ascii &= (unsigned char)line[i] < 0x80;
		if (ascii || colon == NULL) {
			memcpy(out + o, line, ll);
			o += ll;
		} else {
			const char *v = colon + 1;
			size_t vlen = ll - (size_t)(v - line);

			while (vlen > 0 && *v == ' ')
				v++, vlen--;
			memcpy(out + o, line, (size_t)(v - line));
			o += (size_t)(v - line);
			while (vlen > 0) {
				size_t n = utf8_cut(v, vlen, 45);

				o += (size_t)snprintf(out + o, cap - o, "%s=?UTF-8?B?",
				    o > 0 && out[o - 1] != ' ' ? "\n " : "");
				sodium_bin2base64(out + o, cap - o,
				    (const unsigned char *)v, n,
				    sodium_base64_VARIANT_ORIGINAL);
				o += strlen(out + o);
				memcpy(out + o, "?=", 2);
				o += 2;
				v += n;
				vlen -= n;
			}
		}
		out[o++] = '\n';
		line += ll + 1;
	}
	memcpy(out + o, msg + hlen, len - hlen);
	o += len - hlen;
	out[o] = '\0';
	*outlen = o;
	return out;
}

char *
message_build(const struct config *cfg, enum message_kind kind,
    const char *lang, const char *to, const struct notify_var *vars,
    size_t *len, const char **err)
{
	char *body, *msg, head[1024], date[64];
	size_t blen, hlen;
	time_t now = time(NULL);
	struct tm tm;

	body = notify_render(template_of(cfg, kind, lang), vars,
	    &blen, err);
	if (body == NULL || kind == MSG_SMS_CODE || kind == MSG_SMS_CONFIRM) {
		*len = blen;
		return body;
	}
	msg = encode_headers(body, blen, &blen);
	secret_free(body);
	body = msg;
	if (!message_address_ok(to)) {
		secret_free(body);
		*err = "the address is not a plain email address";
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* The template's own headers follow these; its blank line ends them. */
	hlen = (size_t)snprintf(head, sizeof(head),
	    "From: %s\nTo: %s\nDate: %s\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=UTF-8\n"
	    "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n",
	    cfg->email.from, to, date);
	if (hlen >= sizeof(head)) {
		secret_free(body);
		*err = "the From: or To: address is too long";
		return NULL;
	}
	msg = secret_alloc(hlen + blen + 1);
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, blen + 1);
	secret_free(body);
	*len = hlen + blen;
	return msg;
}
