/*
 * html.c - the page around every step: frame, escaping, form fields.
 *
 * Every text that did not come from this file goes through html_escape(),
 * whether a translation, the organisation's name or what ssprd answered.
 * The page has no inline script and no inline style (the
 * Content-Security-Policy forbids both): style.css and app.js come from
 * ssprweb itself, and everything works without app.js.
 */
#include "build.h"

#include <stdio.h>
#include <string.h>

#include "web/web.h"

const char *web_prefix = "";

static const struct {
	const char *code, *name;
} lang_names[] = {
	{ "en", "English" },
	{ "tr", "T\xc3\xbcrk\xc3\xa7" "e" },
};

void
html_escape(struct evbuffer *out, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		evbuffer_add(out, run, (size_t)(s - run));
		evbuffer_add(out, rep, strlen(rep));
		run = s + 1;
	}
	evbuffer_add(out, run, (size_t)(s - run));
}

/* Text with "{n}" replaced by n: translations are not format strings. */
void
html_text_n(struct evbuffer *out, const char *text, long n)
{
	const char *at = strstr(text, "{n}");
	char num[24];

	if (at == NULL) {
		html_escape(out, text);
		return;
	}
	snprintf(num, sizeof(num), "%ld", n);
	{
		char head[512];
		size_t hl = (size_t)(at - text);

		if (hl >= sizeof(head))
			hl = sizeof(head) - 1;
		memcpy(head, text, hl);
		head[hl] = '\0';
		html_escape(out, head);
	}
	evbuffer_add(out, num, strlen(num));
	html_escape(out, at + 3);
}

static const char *
lang_name(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(lang_names) / sizeof(lang_names[0]); i++)
		if (strcmp(lang_names[i].code, code) == 0)
			return lang_names[i].name;
	return code;
}

void
html_begin(struct page *p, const char *title)
{
	const struct webconf *c = p->conf;
	const char *const *langs = i18n_languages();
	size_t i;

	evbuffer_add_printf(p->out, "<!doctype html>\n<html lang=\"%s\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>", p->lang);
	html_escape(p->out, title);
	evbuffer_add_printf(p->out, " \xe2\x80\x93 ");
	html_escape(p->out, c->organisation);
	evbuffer_add_printf(p->out, "</title>\n"
	    "<link rel=\"stylesheet\" href=\"%s/static/style.css\">\n"
	    "<script src=\"%s/static/app.js\" defer></script>\n"
	    "</head>\n<body>\n"
	    "<a class=\"skip\" href=\"#main\">", web_prefix, web_prefix);
	html_escape(p->out, T(p, "Skip to the form"));
	evbuffer_add_printf(p->out, "</a>\n<header class=\"top\">\n"
	    "<a class=\"brand\" href=\"%s/\">", web_prefix);
	if (c->logo != NULL)
		evbuffer_add_printf(p->out, "<img src=\"%s/logo\" alt=\"\">",
		    web_prefix);
	evbuffer_add_printf(p->out, "<span>");
	html_escape(p->out, c->organisation);
	evbuffer_add_printf(p->out, "</span></a>\n<nav class=\"langs\" aria-label=\"");
	html_escape(p->out, T(p, "Language"));
	evbuffer_add_printf(p->out, "\"><ul>");
	for (i = 0; langs[i] != NULL; i++) {
		bool cur = strcmp(langs[i], p->lang) == 0;

		evbuffer_add_printf(p->out, "<li><a href=\"%s%s?lang=%s\" lang=\"%s\" "
		    "hreflang=\"%s\"%s>", web_prefix, p->path, langs[i], langs[i],
		    langs[i], cur ? " aria-current=\"true\"" : "");
		html_escape(p->out, lang_name(langs[i]));
		evbuffer_add_printf(p->out, "</a></li>");
	}
	evbuffer_add_printf(p->out, "</ul></nav>\n</header>\n"
	    "<main id=\"main\">\n<h1>");
	html_escape(p->out, title);
	evbuffer_add_printf(p->out, "</h1>\n");
}

void
html_end(struct page *p)
{
	evbuffer_add_printf(p->out, "</main>\n<footer>\n");
	if (p->conf->help_url != NULL) {
		evbuffer_add_printf(p->out, "<a href=\"");
		html_escape(p->out, p->conf->help_url);
		evbuffer_add_printf(p->out, "\">");
		html_escape(p->out, T(p, "Help"));
		evbuffer_add_printf(p->out, "</a>\n");
	}
	evbuffer_add_printf(p->out, "<a href=\"%s/\">", web_prefix);
	html_escape(p->out, T(p, "All self-service tasks"));
	evbuffer_add_printf(p->out, "</a>\n</footer>\n</body>\n</html>\n");
}

void
html_form_begin(struct page *p, const char *action, enum step step)
{
	evbuffer_add_printf(p->out, "<form method=\"post\" action=\"%s%s\">\n"
	    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n"
	    "<input type=\"hidden\" name=\"step\" value=\"%d\">\n",
	    web_prefix, action, p->csrf, (int)step);
}

void
html_form_end(struct page *p, const char *button)
{
	evbuffer_add_printf(p->out, "<div class=\"actions\"><button type=\"submit\">");
	html_escape(p->out, button);
	evbuffer_add_printf(p->out, "</button></div>\n</form>\n");
}

void
html_input(struct page *p, const char *name, const char *label,
    const char *type, const char *autocomplete, const char *value,
    bool required)
{
	evbuffer_add_printf(p->out, "<div class=\"field\"><label for=\"f-%s\">",
	    name);
	html_escape(p->out, label);
	evbuffer_add_printf(p->out, "</label>\n<input id=\"f-%s\" name=\"%s\" "
	    "type=\"%s\"", name, name, type);
	if (autocomplete != NULL)
		evbuffer_add_printf(p->out, " autocomplete=\"%s\"", autocomplete);
	if (value != NULL && value[0] != '\0') {
		evbuffer_add_printf(p->out, " value=\"");
		html_escape(p->out, value);
		evbuffer_add_printf(p->out, "\"");
	}
	if (strcmp(type, "text") == 0 && strcmp(name, "code") == 0)
		evbuffer_add_printf(p->out, " inputmode=\"numeric\"");
	evbuffer_add_printf(p->out, "%s></div>\n", required ? " required" : "");
}

void
html_notice(struct page *p)
{
	struct session *s = p->s;
	unsigned i;

	if (s == NULL || s->notice == NULL)
		return;
	evbuffer_add_printf(p->out, "<div class=\"notice %s\" role=\"%s\" "
	    "id=\"notice\"><p>", s->notice_ok ? "ok" : "error",
	    s->notice_ok ? "status" : "alert");
	html_escape(p->out, T(p, s->notice));
	evbuffer_add_printf(p->out, "</p>");
	if (s->violations != 0) {
		evbuffer_add_printf(p->out, "<ul class=\"violations\">");
		for (i = 0; i < flow_violation_count(); i++)
			if (s->violations & (1u << i)) {
				evbuffer_add_printf(p->out, "<li>");
				html_escape(p->out, T(p, flow_violation_text(i)));
				evbuffer_add_printf(p->out, "</li>");
			}
		evbuffer_add_printf(p->out, "</ul>");
	}
	evbuffer_add_printf(p->out, "</div>\n");
	s->notice = NULL;
	s->notice_ok = false;
	s->violations = 0;
}
