#!/bin/bash
# sweep.sh - ssprd removes state that has outlived its use (daemon/sweep.c).
#
# Every start leaves a ticket and every name a stranger sends leaves
# counters; without a sweep the store fills up (1 GiB) and ssprd can keep
# nothing more. Planted with tests/storetool while ssprd is stopped: two
# tickets over an hour past their expiry, one that a pending write intent
# names, one a minute past (within the grace), a counter a day old and a
# recent one; beside them a live ticket from a real start. A couple of
# seconds after ssprd starts, the sweep has removed the two old tickets and
# the old counter, logged it, and kept the rest; the live ticket still
# answers.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"
with_slapd sweep
log=$tmp/daemon.log
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"

st() { as_daemon "$STORETOOL" "$tmp/state" "$@"; }
absent() { st get "$1" "$2" >/dev/null; [ $? -eq 1 ]; }
present() { st get "$1" "$2" >/dev/null; }

daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }
a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
live=$(jget "$a" ticket)
check "a live ticket from a real start" [ -n "$live" ]
daemon_stop
daemon_pid=

now=$(date +%s)
plant() {
	st put tickets old1 "{\"user\":\"x\",\"created\":1,\"expires\":$((now - 3700))}" &&
	st put tickets old2 "{\"user\":\"y\",\"created\":1,\"expires\":$((now - 5000))}" &&
	st put tickets recent "{\"user\":\"w\",\"created\":1,\"expires\":$((now - 60))}" &&
	st put tickets held "{\"user\":\"z\",\"created\":1,\"expires\":$((now - 3700))}" &&
	st put intents pending1 "{\"op\":\"reset\",\"dn\":\"$USER1_DN\",\"stamp\":\"\",\"state\":\"writing\",\"at\":$now,\"file\":\"1:2:3\",\"ticket\":\"held\"}" &&
	st put events start:email:ghost "{\"t\":[$((now - 90000))]}" &&
	st put events fail:recent "{\"t\":[$((now - 100))]}"
}
check "planted: four expired tickets (one named by an intent, one within the grace), two counters" plant

daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }
check "the sweep logs what it removed" wait_for 15 log_has "$log" \
	"store: removed 2 expired ticket(s), 1 stale counter(s) and 0 abandoned write intent(s)"
a=$(submit "$conf" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$live\",\"code\":\"00000000\"}")
expect "the live ticket is still there (a wrong code: bad-code)" "$a" reason bad-code
daemon_stop
daemon_pid=

check "expired ticket old1 is gone" absent tickets old1
check "expired ticket old2 is gone" absent tickets old2
check "the expired ticket a write intent names stays" present tickets held
check "the live ticket stays" present tickets "$live"
check "a ticket expired a minute ago stays (an hour's grace)" present tickets recent
check "the day-old counter is gone" absent events start:email:ghost
check "the recent counter stays" present events fail:recent
check "the intent stays (its request may still come back)" present intents pending1
finish
