#!/bin/sh
# summary.sh BUILDDIR... - add up the results of `make check` runs.
#
# Reads automake's .trs files (one :test-result: line per TAP case), names
# every failed case, and prints "N passed, N failed, N skipped" as the last
# line. Exit status 1 when anything failed or errored, or when no test ran.
set -eu
trs=$(mktemp)
trap 'rm -f "$trs"' EXIT
for dir in "$@"; do
	[ -d "$dir" ] || continue
	# A failed distcheck leaves its own build below ours: not ours to count.
	find "$dir" -path "$dir/ssprd-*" -prune -o -name '*.trs' -print |
		while read -r f; do
			cat "$f" >>"$trs"
			if grep -q -E '^:test-result: (FAIL|XPASS|ERROR)' "$f"; then
				echo "---- ${f%.trs}.log (last 60 lines)"
				tail -n 60 "${f%.trs}.log"
			fi
		done
done
awk '/^:test-result: (PASS|XFAIL)/ { p++ }
     /^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
     /^:test-result: SKIP/ { s++ }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s
           exit (f > 0 || p == 0) }' "$trs"
