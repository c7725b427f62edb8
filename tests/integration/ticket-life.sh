#!/bin/bash
# ticket-life.sh - a ticket lives at most [policy] ticket_lifetime from its
# first start (issue 12, item 6), against real slapd.
#
# Before, every start (throttled and decoy ones too) and every proof gave a
# ticket code_ttl more, and its creation time was never looked at: a ticket
# could be kept alive for ever. The test ages tickets in the store (ssprd
# stopped, tests/storetool), as an hour of restarts would.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"

with_slapd life

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
ticket_lifetime = 3600"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
# age TICKET SECONDS: move the ticket's start SECONDS into the past,
# leaving it ten minutes to live by its expiry.
age() {
	local j
	j=$(as_daemon "$STORETOOL" "$tmp/state" get tickets "$1") || return 1
	j=$(python3 -c '
import json, sys, time
t = json.loads(sys.argv[1])
t["created"] = int(time.time()) - int(sys.argv[2])
t["expires"] = int(time.time()) + 600
for p in t["pending"].values():
    p["expires"] = t["expires"]
print(json.dumps(t))' "$j" "$2")
	as_daemon "$STORETOOL" "$tmp/state" put tickets "$1" "$j"
}

a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
old=$(jget "$a" ticket)
old_code=$(last_code "$mail")
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
young=$(jget "$a" ticket)
young_code=$(last_code "$mail")
a=$(sub '{"v":1,"op":"start","user":"nosuchuser","method":"email"}')
decoy=$(jget "$a" ticket)
daemon_stop
check "alice's ticket aged past the lifetime (3 601 s)" age "$old" 3601
check "bob's aged, but within it (3 000 s)" age "$young" 3000
check "the decoy's aged past it" age "$decoy" 3601
daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }

a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$old\",\"code\":\"$old_code\"}")
expect "the right code on a ticket older than ticket_lifetime: expired" "$a" reason expired
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"alice\",\"method\":\"email\",\"ticket\":\"$old\"}")
check "...a start on it does not revive it: no ticket" [ "$(jget "$a" ticket)" != "$old" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$decoy\",\"code\":\"12345678\"}")
expect "a decoy ticket as old: expired too" "$a" reason expired
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$young\",\"code\":\"$young_code\"}")
expect "bob's younger ticket still verifies" "$a" verified '["email"]'
daemon_stop
j=$(as_daemon "$STORETOOL" "$tmp/state" get tickets "$young")
check "...and its new expiry stops at its lifetime" python3 -c '
import json, sys
t = json.loads(sys.argv[1])
assert t["expires"] <= t["created"] + 3600, t' "$j"

finish
