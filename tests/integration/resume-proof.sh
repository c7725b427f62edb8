#!/bin/bash
# resume-proof.sh - a reset that carries its code, killed after its proof
# was saved and before its write intent, is resumed and answered ok.
#
# tests/failsync.c lets the proof's commit through and kills ssprd
# (SIGKILL) at the next one, the write intent's, before it is durable. The
# state is checked to be exactly that (the ticket verified, no intent),
# then ssprd starts again and resumes the request from cur/: the code it
# carries has already verified the ticket and must be accepted again. It
# used to be answered bad-code, and the password was never written.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v cc >/dev/null || skip_all "a C compiler is needed for the failsync shim"
: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"
with_slapd resproof

cc -shared -fPIC -o "$tmp/failsync.so" "$SRCDIR/tests/failsync.c" -ldl ||
	{ echo "Bail out! cannot build tests/failsync.c"; exit 1; }
chmod 0755 "$tmp/failsync.so"

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
flag=$tmp/failsync.flag
FAILSYNC_FLAG=$flag FAILSYNC_KILL=1 LD_PRELOAD=$tmp/failsync.so \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice" "$a" status ok
t=$(jget "$a" ticket)
code=$(last_code "$mail")
# the first sweep (2 s after the start) commits on its own: let it pass
sleep 3

# One commit may go (the proof), the next (the intent) kills ssprd.
echo 1 >"$flag"
chmod 0644 "$flag"
q=$tmp/queue
printf '{"v":1,"op":"reset","ticket":"%s","code":"%s","new_password":"Resumed-Pass-2026"}' \
	"$t" "$code" >"$q/tmp/r1.json"
chmod 0644 "$q/tmp/r1.json"
mv "$q/tmp/r1.json" "$q/new/r1.json"
gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }
check "ssprd is killed at the write intent's commit" wait_for 20 gone
wait "$daemon_pid" 2>/dev/null
daemon_pid=
rm -f "$flag"

ticket=$(as_daemon "$STORETOOL" "$tmp/state" get tickets "$t")
verified=$(jget "$ticket" verified)
check "...after the proof was saved (the ticket is verified: $verified)" [ "$verified" = 1 ]
intent=$(as_daemon "$STORETOOL" "$tmp/state" get intents r1 2>/dev/null)
check "...and before the intent was (none for the request)" [ -z "$intent" ]
check "the request waits in cur/" [ -e "$q/cur/r1.json" ]
check "no answer yet" [ ! -e "$q/out/r1.json" ]

daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }
answered() { [ -s "$q/out/r1.json" ]; }
check "the resumed request is answered" wait_for 20 answered
a=$(cat "$q/out/r1.json" 2>/dev/null)
expect "...ok: its code is accepted again" "$a" status ok
check "alice binds with the new password" binds "$USER1_DN" Resumed-Pass-2026
check "no code in the log" not_grep -F "$code" "$log"

daemon_stop
daemon_pid=
finish
