# lib.sh - shared helpers for the shell tests (sourced, not run).
#
# Tests speak TAP: `ok`/`not_ok`/`check` print one result line each, and
# `finish` prints the plan and sets the exit status. `skip_all` skips the
# whole script (a missing server package, not root) with a reason, which the
# summary counts as skipped, never as passed.

t_count=0
t_failed=0

ok() {
	t_count=$((t_count + 1))
	echo "ok $t_count - $*"
}

not_ok() {
	t_count=$((t_count + 1))
	t_failed=$((t_failed + 1))
	echo "not ok $t_count - $*"
}

# check DESCRIPTION COMMAND...: one result from a command's exit status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

finish() {
	echo "1..$t_count"
	[ "$t_failed" -eq 0 ]
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# log_has FILE PATTERN: grep -q with a fixed string.
log_has() {
	grep -qF -- "$2" "$1"
}

# The built programs: from `make check`, or next to the source tree.
: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${SSPRD:=$SRCDIR/ssprd}"
: "${SSPRCTL:=$SRCDIR/ssprctl}"
: "${FIXTURES:=$SRCDIR/tests/fixtures}"
