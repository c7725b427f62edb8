#!/bin/bash
# web-catalog.sh - ssprweb's translations are complete and well formed
# (issue 16, item 4), checked with gettext's own tools.
#
# xgettext extracts every text the portal marks (T(p, "...") and
# N_("...")) from web/*.c; msgcmp says whether web/po/tr.po translates
# each, msgfmt --check whether the catalog is valid (and keeps {n}), and
# msgattrib lists anything untranslated or fuzzy. Every reason code and
# violation of docs/protocol.md (sections 4 and 5) must have its text in
# web/flows.c, so none reaches a person untranslated. Finally ssprweb -t
# loads the catalogs with its own reader.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

for t in xgettext msgcmp msgfmt msgattrib; do
	command -v $t >/dev/null || skip_all "$t (Debian package gettext) is not installed"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-catalog.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
po=$SRCDIR/web/po/tr.po

xgettext --keyword=T:2 --keyword=N_ --from-code=UTF-8 -o "$tmp/ssprweb.pot" \
	"$SRCDIR"/web/*.c 2>"$tmp/xgettext.err"
check "xgettext extracts the portal's texts" [ -s "$tmp/ssprweb.pot" ]
n=$(grep -c '^msgid "..*"' "$tmp/ssprweb.pot")
check "...more than a hundred of them ($n)" [ "$n" -gt 100 ]
if msgcmp "$po" "$tmp/ssprweb.pot" 2>"$tmp/msgcmp.err"; then
	ok "tr.po has every text of the portal"
else
	not_ok "tr.po has every text of the portal"
	sed 's/^/# /' "$tmp/msgcmp.err" | head -n 20
fi
check "msgfmt --check accepts tr.po" msgfmt --check --check-format -o /dev/null "$po"
check "nothing in tr.po is untranslated" [ -z "$(msgattrib --untranslated --no-obsolete "$po" | grep -v '^msgid ""$' | grep '^msgid ')" ]
check "nothing in tr.po is fuzzy" [ -z "$(msgattrib --only-fuzzy --no-obsolete "$po")" ]
check "placeholders survive: every {n} msgid keeps {n}" /usr/bin/python3 - "$po" <<'PY'
import sys
mid = None
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("msgid "):
        mid = line
    elif line.startswith("msgstr ") and mid and "{n}" in mid:
        assert "{n}" in line, (mid, line)
PY

# every reason and violation that docs/protocol.md lists has a text
reasons=$(sed -n '/^## 4. Reason codes/,/^## 5/p' "$SRCDIR/docs/protocol.md" |
	grep -oE '^\| `[a-z-]+`' | tr -d '|` ')
violations=$(sed -n '/^## 5. Violations/,/^## 6/p' "$SRCDIR/docs/protocol.md" |
	grep -oE '^\| `[a-z-]+`' | tr -d '|` ')
missing=
for r in $reasons $violations; do
	grep -qF "{ \"$r\", N_(" "$SRCDIR/web/flows.c" || missing="$missing $r"
done
check "every reason code and violation has a translated text (${missing:-all $(echo $reasons $violations | wc -w)})" \
	[ -z "$missing" ]

key=$tmp/key
openssl rand -hex 32 >"$key"
chmod 600 "$key"
printf '[web]\nsession_key_file = %s\ndata_dir = %s/web\ndefault_language = tr\n' \
	"$key" "$SRCDIR" >"$tmp/ssprweb.ini"
check "ssprweb reads the catalogs (default_language = tr)" \
	"$SSPRWEB" -t -c "$tmp/ssprweb.ini"
printf 'msgid "x"\nmsgctxt "y"\n' >"$tmp/bad.po"
mkdir -p "$tmp/bad/po" "$tmp/bad/static"
cp "$tmp/bad.po" "$tmp/bad/po/de.po"
cp "$SRCDIR"/web/static/* "$tmp/bad/static/"
printf '[web]\nsession_key_file = %s\ndata_dir = %s/bad\n' "$key" "$tmp" >"$tmp/bad.ini"
out=$("$SSPRWEB" -t -c "$tmp/bad.ini" 2>&1)
check "a catalog it cannot read is refused with file and line ($out)" \
	grep -q 'de.po:2: ' <<<"$out"
finish
