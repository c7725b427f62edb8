#!/bin/bash
# intent-reuse.sh - a write intent left by an earlier request never answers
# a new request that reuses its ID.
#
# The protocol lets a front end reuse an ID once it has collected the
# answer. A crash between writing an answer and dropping that request's
# write intent leaves a "done" intent under the ID; a reboot that empties
# the tmpfs queue leaves a "writing" one. Either must not be taken for the
# new request's: only a request resumed from cur/ is settled from its
# intent, and a new one drops what it finds (logged) and does its work.
#
# Both leftovers are planted with tests/storetool while ssprd is stopped
# (no crash can be timed to that instant); then a reset under the same ID
# must be written for real: the user binds with the new password. The same
# for a request resumed from cur/ that meets a leftover: an intent records
# the identity of its request file (inode, mtime, size), and one recorded
# for another file is dropped.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"
with_slapd reuse
q=$tmp/queue
log=$tmp/daemon.log
conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }

# verified_ticket: a ticket of alice's with her email code verified.
verified_ticket() {
	local a t
	a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
	t=$(jget "$a" ticket)
	a=$(submit "$conf" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$(last_code "$mail")\"}")
	[ "$(jget "$a" remaining)" = 0 ] && echo "$t"
}

# as_daemon COMMAND...: the state belongs to ssprd's user.
# intent_absent ID: storetool finds no intent under ID (exit 1, not 3).
intent_absent() {
	as_daemon "$STORETOOL" "$tmp/state" get intents "$1" >/dev/null
	[ $? -eq 1 ]
}

# plant ID STATE [FILE]: while ssprd is stopped, a leftover STATE intent
# under ID (naming FILE when given); sets $t to a fresh verified ticket.
plant() {
	local file=${3:+,\"file\":\"$3\"}
	daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }
	t=$(verified_ticket)
	check "a verified ticket for $1" [ -n "$t" ]
	daemon_stop
	daemon_pid=
	check "a '$2' intent${3:+ of another file} planted under ID $1" \
		as_daemon "$STORETOOL" "$tmp/state" put intents "$1" \
		"{\"op\":\"reset\",\"dn\":\"$USER1_DN\",\"stamp\":\"\",\"state\":\"$2\",\"at\":$(date +%s)$file}"
}

# written_for_real ID PASSWORD: ssprd starts, answers the reset waiting
# under ID ok, alice binds with PASSWORD, and the leftover is logged and
# gone.
written_for_real() {
	daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }
	check "the reset under $1 is answered" wait_for 30 test -e "$q/out/$1.json"
	expect "...ok" "$(cat "$q/out/$1.json" 2>/dev/null || echo '{}')" status ok
	check "...and really written: alice binds with it" binds "$USER1_DN" "$2"
	check "...the leftover is logged" log_has "$log" "request $1: dropping the write intent of an earlier request"
	daemon_stop
	daemon_pid=
	check "...and gone from the state" intent_absent "$1"
}

# A new request under a reused ID, taken from new/.
for state in done writing; do
	id=reuse-$state
	plant "$id" "$state"
	pw="Reused-Id-$state-2026"
	printf '{"v":1,"op":"reset","ticket":"%s","new_password":"%s"}' "$t" "$pw" >"$q/tmp/$id.json"
	chmod 644 "$q/tmp/$id.json"
	mv "$q/tmp/$id.json" "$q/new/"
	written_for_real "$id" "$pw"
done

# A request resumed from cur/ (its claim was followed by a crash before its
# own intent was written) meets a leftover under its ID: the intent names
# another file (inode, mtime, size), so it is not this request's.
id=reuse-resumed
plant "$id" done "1:1.000000001:1"
pw="Resumed-Request-2026"
printf '{"v":1,"op":"reset","ticket":"%s","new_password":"%s"}' "$t" "$pw" |
	as_daemon sh -c "cat > '$q/cur/$id.json'"
check "the request waits in cur/, as after a crash" test -e "$q/cur/$id.json"
written_for_real "$id" "$pw"
finish
