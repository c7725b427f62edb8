#!/bin/bash
# manpages.sh - the manual pages format cleanly, and the documentation
# matches the code.
#
# Formatting: each page goes through man(1) (as a reader at 80 columns sees
# it) and through groff with every warning on; neither may say anything.
# Skipped when man or groff is not installed.
#
# Consistency, read from the sources so that it cannot drift:
# - every key of config/config.c's keys[] table has an entry in its section
#   of ssprd.ini(5), with its default (or "required" / "no default") and,
#   for numbers, its range; and ssprd.ini(5) lists no key that is not there;
# - every reason code of the reason_message() table has its row in
#   docs/protocol.md, with the same message; every violation name (ssprd's
#   own and the directory's), every op, and every spool refusal sentence
#   appear there too.
# What each op accepts and answers, and every bad-request message, are
# docs-agree.sh's.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

man_dir=$SRCDIR/man
protocol=$SRCDIR/docs/protocol.md
pages="ssprd.8 ssprctl.8 ssprd.ini.5 ssprweb.8"
ini5=$man_dir/ssprd.ini.5

for p in $pages; do
	check "man/$p exists" test -f "$man_dir/$p"
done
check "docs/protocol.md exists" test -f "$protocol"

# --- formatting ---------------------------------------------------------------
if command -v man >/dev/null 2>&1; then
	for p in $pages; do
		err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$man_dir/$p" 2>&1 >/dev/null)
		if [ -z "$err" ]; then
			ok "man --warnings: $p is clean"
		else
			not_ok "man --warnings: $p is clean"
			printf '%s\n' "$err" | sed 's/^/# /'
		fi
	done
else
	for p in $pages; do ok "man --warnings: $p # SKIP man is not installed"; done
fi
if command -v groff >/dev/null 2>&1; then
	for p in $pages; do
		err=$(groff -man -ww -z "$man_dir/$p" 2>&1)
		if [ -z "$err" ]; then
			ok "groff -ww: $p is clean"
		else
			not_ok "groff -ww: $p is clean"
			printf '%s\n' "$err" | sed 's/^/# /'
		fi
	done
else
	for p in $pages; do ok "groff -ww: $p # SKIP groff is not installed"; done
fi

# --- ssprd.ini(5) against keys[] -------------------------------------------------
# section|name|type|default|min|max, one line per key ("NULL" or "text").
keys=$(sed -n 's/^[[:space:]]*{ "\([a-z]*\)", "\([a-z_]*\)", \(K_[A-Z_]*\), O([^)]*), \(NULL\|"[^"]*"\), \([^,]*\), \([^,]*\), .*/\1|\2|\3|\4|\5|\6/p' \
	"$SRCDIR/config/config.c")
nkeys=$(printf '%s\n' "$keys" | grep -c .)
check "config.c's keys[] table was read ($nkeys keys)" [ "$nkeys" -ge 40 ]

# Each entry of the page, de-roffed onto one line: "section|name<TAB>text".
# An entry is a .TP whose tag line is ".B name", under ".SH [section]".
entries=$(awk '
	function flush() { if (cur != "") print cur "\t" text; cur = ""; text = "" }
	/^\.SH / {
		flush()
		sec = ($0 ~ /^\.SH \[[a-z]+\]$/) ? substr($0, 6, length($0) - 6) : ""
		next
	}
	/^\.TP/ { flush(); tag = 1; next }
	tag == 1 {
		tag = 0
		if (sec != "" && $0 ~ /^\.B [a-z_]+$/) { cur = sec "|" substr($0, 4); next }
	}
	cur != "" {
		line = $0
		sub(/^\.[A-Z]+ ?/, "", line)
		gsub(/\\-/, "-", line); gsub(/\\\(en/, "-", line); gsub(/\\~/, " ", line)
		gsub(/\\f[BIRP]/, "", line); gsub(/\\c/, "", line); gsub(/"/, "", line)
		text = text " " line
	}
	END { flush() }
' "$ini5")

missing=0 wrong=0
while IFS='|' read -r sec name type def min max; do
	entry=$(printf '%s\n' "$entries" | awk -F'\t' -v k="$sec|$name" '$1 == k { print $2; exit }')
	if [ -z "$entry" ]; then
		echo "# [$sec] $name has no entry in ssprd.ini(5)"
		missing=$((missing + 1))
		continue
	fi
	entry=$(printf '%s\n' "$entry" | tr -s ' ')
	case $def in
	NULL)	# required, or a default that depends on other keys
		grep -qE 'required|no default|default' <<<"$entry" ;;
	'""')
		grep -qF 'default empty' <<<"$entry" ;;
	*)
		grep -qF -- "default ${def//\"/}" <<<"$entry" ;;
	esac || {
		echo "# [$sec] $name: the entry does not give the default $def"
		wrong=$((wrong + 1))
	}
	if [ "$type" = K_UINT ] &&
	    ! grep -qE -- "(^|[^0-9])$((min))-$((max))([^0-9]|\$)" <<<"$entry"; then
		echo "# [$sec] $name: the entry does not give the range $((min))-$((max))"
		wrong=$((wrong + 1))
	fi
done <<<"$keys"
check "every key of keys[] has an entry in its section of ssprd.ini(5)" [ "$missing" -eq 0 ]
check "...with its default and range" [ "$wrong" -eq 0 ]

extra=0
while IFS=$'\t' read -r k _; do
	[ -n "$k" ] || continue
	if ! grep -qF -- "$k|" <<<"$keys"; then
		echo "# ssprd.ini(5) documents [${k%%|*}] ${k#*|}, which keys[] does not have"
		extra=$((extra + 1))
	fi
done <<<"$entries"
check "ssprd.ini(5) documents no key that keys[] lacks" [ "$extra" -eq 0 ]

# --- docs/protocol.md against the code -----------------------------------------
reasons=$(sed -n '/^reason_message(/,/^}/s/^[[:space:]]*{ "\([a-z-]*\)", "\([^"]*\)" },$/\1|\2/p' \
	"$SRCDIR/daemon/engine.c" "$SRCDIR/daemon/ops.c")
nreasons=$(printf '%s\n' "$reasons" | grep -c .)
check "the reason_message() table was read ($nreasons reasons)" [ "$nreasons" -ge 13 ]
bad=0
while IFS='|' read -r reason message; do
	[ -n "$reason" ] || continue
	if ! grep -qF -- "| \`$reason\` | $message |" "$protocol"; then
		echo "# $reason: no row '| \`$reason\` | $message |' in docs/protocol.md"
		bad=$((bad + 1))
	fi
done <<<"$reasons"
check "every reason code is in docs/protocol.md with its message" [ "$bad" -eq 0 ]

violations=$(sed -n 's/^[[:space:]]*{ \(DIR_V\|PW\)_[A-Z_0-9]*, "\([a-z-]*\)" },$/\2/p' \
	"$SRCDIR/ldap/errmap.c" "$SRCDIR/daemon/pwpolicy.c" | sort -u)
bad=0
for v in $violations; do
	grep -qF -- "| \`$v\` |" "$protocol" || { echo "# violation $v is not in docs/protocol.md"; bad=$((bad + 1)); }
done
check "every violation name is in docs/protocol.md ($(printf '%s\n' "$violations" | grep -c .))" \
	[ "$bad" -eq 0 -a -n "$violations" ]

op_names=$(sed -n 's/^[[:space:]]*\[OP_[A-Z]*\] = { "\([a-z]*\)",$/\1/p' "$SRCDIR/daemon/request.c")
bad=0
for op in $op_names; do
	grep -qF -- "### \`$op\`" "$protocol" || { echo "# op $op has no section in docs/protocol.md"; bad=$((bad + 1)); }
done
check "every op has its section in docs/protocol.md ($(printf '%s\n' "$op_names" | grep -c .))" \
	[ "$bad" -eq 0 -a -n "$op_names" ]

problems=$(sed -n 's/^#define PROBLEM_[A-Z_]* "\(.*\)"$/\1/p' "$SRCDIR/daemon/spool.c")
bad=0
while IFS= read -r sentence; do
	[ -n "$sentence" ] || continue
	grep -qF -- "$sentence" "$protocol" || { echo "# spool refusal '$sentence' is not in docs/protocol.md"; bad=$((bad + 1)); }
done <<<"$problems"
check "every spool refusal sentence is in docs/protocol.md" [ "$bad" -eq 0 -a -n "$problems" ]

# --- ssprd(8) against the metrics endpoint -----------------------------------------
if [ -f "$SRCDIR/daemon/metrics.c" ]; then
	metrics=$(grep -o '# TYPE ssprd_[a-z_]*' "$SRCDIR/daemon/metrics.c" | sed 's/^# TYPE //' | sort -u)
	bad=0
	for m in $metrics; do
		grep -qw -- "$m" "$man_dir/ssprd.8" ||
			{ echo "# metric $m is not described in ssprd(8)"; bad=$((bad + 1)); }
	done
	check "every metric is described in ssprd(8) ($(printf '%s\n' "$metrics" | grep -c .))" \
		[ "$bad" -eq 0 -a -n "$metrics" ]
fi

finish
