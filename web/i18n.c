/*
 * i18n.c - the portal's texts in the visitor's language, from gettext .po
 * catalogs.
 *
 * Translators work on po/LANG.po with their usual tools (poedit, msgmerge,
 * msgfmt --check); ssprweb reads those files as they are when it starts,
 * so no compiled .mo step sits between a translator and the page. The
 * msgids are the English texts, so English needs no catalog and any text
 * a catalog lacks (or marks fuzzy) is shown in English.
 *
 * Only what ssprweb's catalogs use is read: comments, "#, fuzzy", msgid and
 * msgstr with continuation lines and the C escapes \n \t \" \\. Anything
 * else (msgctxt, plural forms) is refused with the file and line, so a
 * catalog never half loads. The catalogs are immutable after loading.
 */
#include "build.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "web/web.h"

#define LANGS_MAX 16

struct entry {
	char *id, *str;
};

struct catalog {
	char lang[WEB_LANG_MAX];
	struct entry *e;
	size_t n;
};

static struct catalog cats[LANGS_MAX];
static size_t ncats;
static const char *langs[LANGS_MAX + 2] = { "en", NULL };

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

/* Append the C string literal at p ("...") to *buf; -1 when malformed. */
static int
literal(const char *p, char **buf, size_t *len)
{
	size_t cap;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '"')
		return -1;
	cap = *len + strlen(p) + 1;
	*buf = realloc(*buf, cap);
	if (*buf == NULL)
		abort();
	for (; *p != '"'; p++) {
		char c = *p;

		if (c == '\0')
			return -1;
		if (c == '\\') {
			switch (*++p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			default: return -1;
			}
		}
		(*buf)[(*len)++] = c;
	}
	(*buf)[*len] = '\0';
	for (p++; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	return *p == '\0' ? 0 : -1;
}

static int
load_po(const char *path, struct catalog *cat, char *err, size_t errsize)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	char *id = NULL, *str = NULL, **cur = NULL;
	size_t idlen = 0, strlen_ = 0, *curlen = NULL, cap = 0;
	unsigned lineno = 0;
	bool fuzzy = false, next_fuzzy = false;
	int rc = -1;

	if (f == NULL) {
		snprintf(err, errsize, "%s: cannot open", path);
		return -1;
	}
	for (;;) {
		bool eof = fgets(line, sizeof(line), f) == NULL;
		bool starts = !eof && strncmp(line, "msgid ", 6) == 0;

		lineno++;
		if (!eof && strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errsize, "%s:%u: line too long", path, lineno);
			goto out;
		}
		/* an entry ends where the next begins, or at the end */
		if ((eof || starts) && id != NULL) {
			if (str == NULL) {
				snprintf(err, errsize, "%s:%u: msgid without msgstr",
				    path, lineno);
				goto out;
			}
			if (id[0] != '\0' && str[0] != '\0' && !fuzzy) {
				if (cat->n == cap) {
					cap = cap ? 2 * cap : 64;
					cat->e = xreallocarray(cat->e, cap,
					    sizeof(*cat->e));
				}
				cat->e[cat->n].id = id;
				cat->e[cat->n].str = str;
				cat->n++;
			} else {
				free(id);
				free(str);
			}
			id = str = NULL;
			idlen = strlen_ = 0;
		}
		if (eof)
			break;
		if (starts) {
			fuzzy = next_fuzzy;
			next_fuzzy = false;
			cur = &id;
			curlen = &idlen;
			id = xstrdup("");
			if (literal(line + 6, cur, curlen) != 0)
				goto syntax;
		} else if (strncmp(line, "msgstr ", 7) == 0) {
			if (id == NULL || str != NULL)
				goto syntax;
			cur = &str;
			curlen = &strlen_;
			str = xstrdup("");
			if (literal(line + 7, cur, curlen) != 0)
				goto syntax;
		} else if (line[0] == '"') {
			if (cur == NULL || *cur == NULL || literal(line, cur, curlen) != 0)
				goto syntax;
		} else if (line[0] == '#') {
			if (strncmp(line, "#,", 2) == 0 && strstr(line, "fuzzy") != NULL)
				next_fuzzy = true;
		} else if (strspn(line, " \t\r\n") != strlen(line)) {
			snprintf(err, errsize, "%s:%u: only msgid, msgstr, strings and "
			    "comments are understood", path, lineno);
			goto out;
		}
	}
	qsort(cat->e, cat->n, sizeof(*cat->e), cmp_entry);
	rc = 0;
	goto out;
syntax:
	snprintf(err, errsize, "%s:%u: not a valid .po line", path, lineno);
out:
	free(id);
	free(str);
	fclose(f);
	return rc;
}

int
i18n_load(const char *dir, char *err, size_t errsize)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errsize, "%s: cannot open the catalogs' folder", dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), i;
		char path[4096];

		if (len < 4 || strcmp(de->d_name + len - 3, ".po") != 0)
			continue;
		if (len - 3 < 2 || len - 3 > 3) {
			snprintf(err, errsize, "%s/%s: a catalog is named after its "
			    "language: xx.po", dir, de->d_name);
			rc = -1;
			break;
		}
		for (i = 0; i < len - 3; i++)
			if (de->d_name[i] < 'a' || de->d_name[i] > 'z')
				break;
		if (i != len - 3 || ncats == LANGS_MAX) {
			snprintf(err, errsize, "%s/%s: not a language catalog (xx.po, "
			    "at most %d)", dir, de->d_name, LANGS_MAX);
			rc = -1;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		memcpy(cats[ncats].lang, de->d_name, len - 3);
		cats[ncats].lang[len - 3] = '\0';
		if ((rc = load_po(path, &cats[ncats], err, errsize)) == 0 &&
		    strcmp(cats[ncats].lang, "en") != 0)
			langs[1 + ncats] = cats[ncats].lang;
		ncats++;
	}
	closedir(d);
	langs[1 + ncats] = NULL;
	if (rc != 0)
		i18n_free();
	return rc;
}

void
i18n_free(void)
{
	size_t c, i;

	for (c = 0; c < ncats; c++) {
		for (i = 0; i < cats[c].n; i++) {
			free(cats[c].e[i].id);
			free(cats[c].e[i].str);
		}
		free(cats[c].e);
		memset(&cats[c], 0, sizeof(cats[c]));
	}
	ncats = 0;
	langs[1] = NULL;
}

const char *const *
i18n_languages(void)
{
	return langs;
}

bool
i18n_has(const char *lang)
{
	size_t i;

	for (i = 0; langs[i] != NULL; i++)
		if (strcmp(langs[i], lang) == 0)
			return true;
	return false;
}

const char *
i18n_get(const char *lang, const char *msgid)
{
	size_t c;

	for (c = 0; c < ncats; c++)
		if (strcmp(cats[c].lang, lang) == 0) {
			struct entry key = { (char *)msgid, NULL }, *e;

			e = bsearch(&key, cats[c].e, cats[c].n, sizeof(key),
			    cmp_entry);
			return e != NULL ? e->str : msgid;
		}
	return msgid;
}
