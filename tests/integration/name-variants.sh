#!/bin/bash
# name-variants.sh - one account, one set of counters, however its name is
# written (issue 12, item 1), against real slapd.
#
# OpenLDAP matches "alice ", "  bob  ", "bob" with a no-break space,
# fullwidth "ｂｏｂ" and "BOB" to the same entry. Before, every spelling had
# counters of its own: a locked account got real codes under another
# spelling, and the start limit was per spelling. Now: a locked account
# stays locked under every spelling (start sends nothing, register is
# refused), the start limit holds across spellings, variants of an unknown
# name share one counter, a ticket belongs to the account (not to the
# spelling), and the audit line quotes the name as sent and names the
# account.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd names

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "recovery_attribute = $RECOVERY_MAIL_ATTR
[policy]
min_length = 12
max_starts_per_hour = 3
lockout_failures = 5"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
# json NAME: NAME as a JSON string (escapes are the request's own).
start() { sub "{\"v\":1,\"op\":\"start\",\"user\":\"$1\",\"method\":\"email\"${2:+,\"ticket\":\"$2\"}}"; }
verify() { sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$1\",\"code\":\"$2\"}"; }
register() { sub "{\"v\":1,\"op\":\"register\",\"user\":\"$1\",\"password\":\"$2\",\"email\":\"new@example.org\"}"; }
change() { sub "{\"v\":1,\"op\":\"change\",\"user\":\"$1\",\"old_password\":\"$2\",\"new_password\":\"Some-New-Pass-2026\"}"; }

nbsp='\u00a0'
full_bob='\uff42\uff4f\uff42'	# ｂｏｂ

# --- a locked account stays locked under every spelling -----------------------
a=$(start alice)
t=$(jget "$a" ticket)
for i in 1 2 3 4 5; do a=$(verify "$t" "0000000$i"); done
check "alice: 5 wrong codes lock her self-service" \
	grep -q "throttle: $USER1_DN: 5 failed proofs" "$log"
n=$(msg_count "$mail")
a=$(start "alice ")
expect "start \"alice \" answers ok" "$a" status ok
check "...but sends nothing: the account is locked" [ "$(msg_count "$mail")" -eq "$n" ]
check "...and the audit line quotes the name and names the account" \
	grep -qF "user=\"alice \" account=$USER1_DN result=ok" "$log"
check "...and says why" grep -q "user=\"alice \" .*self-service locked" "$log"
for u in "ALICE" "  alice  " "alice$nbsp"; do
	start "$u" >/dev/null
done
check "ALICE, \"  alice  \", alice+no-break space: nothing sent either" \
	[ "$(msg_count "$mail")" -eq "$n" ]
check "...and the audit line shows the no-break space" \
	grep -qF "user=\"alice<U+00A0>\" account=$USER1_DN result=ok" "$log"

# --- the start limit holds across spellings --------------------------------------
n=$(msg_count "$mail")
for u in "bob" "  bob  " "bob$nbsp" "$full_bob" "BOB"; do
	a=$(start "$u")
	check "start \"$u\" answers ok" [ "$(jget "$a" status)" = ok ]
done
check "five spellings of bob, max_starts_per_hour = 3: three codes sent" \
	[ "$(msg_count "$mail")" -eq $((n + 3)) ]
check "...the fourth was throttled as bob's" \
	grep -q "account=$USER2_DN result=ok .*throttled: max_starts_per_hour" "$log"

# --- a ticket belongs to the account, not to the spelling --------------------------
a=$(start carol)
t=$(jget "$a" ticket)
code=$(last_code "$mail")
a=$(start "CAROL " "$t")
expect "start \"CAROL \" with carol's ticket keeps the ticket" "$a" ticket "$t"
n=$(msg_count "$mail")
a=$(start bob "$t")
check "start bob with carol's ticket gets another (decoy) ticket" \
	[ "$(jget "$a" ticket)" != "$t" ]
check "...and the log says so" grep -q "decoy: ticket of another user" "$log"
check "...no code is sent to anyone" [ "$(msg_count "$mail")" -eq "$n" ]
check "...and the audit line is the decoy's (bob, result ok)" \
	grep -q "user=bob account=$USER2_DN result=ok reason=- .*(decoy: ticket of another user)" "$log"
# the newest code is carol's second (\"CAROL \"): none went to bob
a=$(verify "$t" "$(last_code "$mail")")
expect "...carol's ticket is untouched: her code verifies it" "$a" verified '["email"]'

# --- wrong passwords under many spellings lock one account --------------------------
for u in "erin" "erin " "ERIN" "$(printf 'e\\uff52in')" "erin$nbsp"; do
	a=$(register "$u" "not-erins-password")
done
expect "five wrong passwords under five spellings of erin: wrong-password" "$a" reason wrong-password
check "...locked erin's self-service" grep -q "throttle: $USER6_DN: 5 failed proofs" "$log"
a=$(register "erin " "$USER6_PASSWORD")
expect "register \"erin \" with the right password: throttled" "$a" reason throttled
a=$(change "Erin" "$USER6_PASSWORD")
expect "change \"Erin\" with the right password: throttled" "$a" reason throttled

# --- variants of an unknown name share a counter ----------------------------------
for u in "mallory" "Mallory " "  MALLORY" "$(printf '\\uff4d\\uff41\\uff4c\\uff4c\\uff4f\\uff52\\uff59')" "mallory$nbsp"; do
	a=$(change "$u" "whatever-password")
done
expect "five spellings of an unknown name: wrong-password" "$a" reason wrong-password
a=$(change "MALLORY" "whatever-password")
expect "...the sixth, as one more spelling: throttled" "$a" reason throttled
a=$(change "mallory2" "whatever-password")
expect "another unknown name is not: wrong-password" "$a" reason wrong-password

finish
