#!/bin/bash
# throttle.sh - what a stranger can make ssprd do, and how often.
#
# With the default limits (max_starts_per_hour = 5, max_attempts = 5,
# lockout_failures = 5) and a client limit of 4 starts an hour: the 6th
# start in an hour sends nothing; the 6th code on a ticket fails even when
# it is right; 5 failed proofs across two tickets lock self-service, after
# which the right code is refused and a new start sends nothing; the client
# limit holds across users; the counters survive a restart; and throttled,
# locked, unknown and real starts answer with the same fields.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd thr

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "recovery_attribute = $RECOVERY_MAIL_ATTR
[policy]
min_length = 12
max_starts_per_client_hour = 4
max_failures_per_client_hour = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
keys() { python3 -c 'import json,sys; print(sorted(json.loads(sys.argv[1])))' "$1"; }
start() { sub "{\"v\":1,\"op\":\"start\",\"user\":\"$1\",\"method\":\"email\"}"; }

# --- 5 starts an hour per user and method -------------------------------------
for i in 1 2 3 4 5; do a=$(start alice); done
real_keys=$(keys "$a")
check "5 starts for alice: 5 codes sent" [ "$(msg_count "$mail")" -eq 5 ]
a=$(start alice)
expect "the 6th start answers ok" "$a" status ok
check "...with the same fields as a real start" [ "$(keys "$a")" = "$real_keys" ]
check "...and sends nothing" [ "$(msg_count "$mail")" -eq 5 ]
check "...and the log says it was throttled" grep -q "user=alice account=.* result=ok .*throttled: max_starts_per_hour" "$log"
a=$(start nosuchuser)
check "an unknown user's start has the same fields too" [ "$(keys "$a")" = "$real_keys" ]

# --- 5 wrong codes on one ticket ----------------------------------------------
a=$(start bob)
t=$(jget "$a" ticket)
code=$(last_code "$mail")
for i in 1 2 3 4; do
	a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"0000000$i\"}")
done
expect "4th wrong code: bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"00000005\"}")
expect "5th wrong code: too-many-attempts" "$a" reason too-many-attempts
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "the 6th, the right code: refused all the same" "$a" reason too-many-attempts
check "...and bob's 5 failures locked his self-service" grep -q "throttle: uid=bob,ou=people,dc=example,dc=org: 5 failed proofs" "$log"

# --- failures across tickets lock self-service ------------------------------------
a=$(start carol)
t1=$(jget "$a" ticket)
for i in 1 2 3; do sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t1\",\"code\":\"1111111$i\"}" >/dev/null; done
a=$(start carol)
t2=$(jget "$a" ticket)
code=$(last_code "$mail")
check "a new ticket for carol after 3 failures: a code is sent" grep -q "$code" "$(ls -1 "$mail"/*.msg | tail -n 1)"
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t2\",\"code\":\"22222221\"}")
expect "4th failure (on the new ticket): bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t2\",\"code\":\"22222222\"}")
expect "5th failure across tickets: bad-code" "$a" reason bad-code
check "...and self-service is locked (log)" grep -q "throttle: uid=carol,ou=people,dc=example,dc=org: 5 failed proofs within 24 h; self-service locked" "$log"
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t2\",\"code\":\"$code\"}")
expect "locked: the right code is refused" "$a" reason throttled
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t2\",\"code\":\"$code\",\"new_password\":\"Locked-Out-Pass-77\"}")
expect "locked: a reset too" "$a" reason throttled
before=$(msg_count "$mail")
a=$(start carol)
expect "locked: a start answers ok" "$a" status ok
check "...with the same fields" [ "$(keys "$a")" = "$real_keys" ]
check "...and sends nothing" [ "$(msg_count "$mail")" -eq "$before" ]

# --- wrong old passwords on change count too ------------------------------------------
chg() { # USER OLD [CLIENT]: a change with OLD as the old password
	local c=${3:+,\"client\":\"$3\"}
	sub "{\"v\":1,\"op\":\"change\",\"user\":\"$1\",\"old_password\":\"$2\",\"new_password\":\"Never-Set-Pass-2026\"$c}"
}
five_wrong() { for i in 1 2 3 4 5; do a=$(chg "$1" "$2-$i"); done; }
five_wrong erin not-erins
expect "5th wrong old password on change: wrong-password" "$a" reason wrong-password
a=$(chg erin "$USER6_PASSWORD")
expect "...then even the right one: throttled" "$a" reason throttled
# An unknown name is locked out alike: otherwise the 6th answer would tell
# a real name (throttled) from an unknown one (wrong-password).
five_wrong nosuchuser9 guess
expect "an unknown name: 5th wrong old password: wrong-password" "$a" reason wrong-password
a=$(chg nosuchuser9 guess-6)
expect "...then throttled, as erin was" "$a" reason throttled
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"nosuchuser9\",\"password\":\"guess-7\",\"email\":\"x@example.org\"}")
expect "...register too" "$a" reason throttled

# --- per client address -------------------------------------------------------------
before=$(msg_count "$mail")
for u in zoe nosuchuser3 dave nosuchuser2; do
	sub "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\",\"client\":\"198.51.100.9\"}" >/dev/null
done
sent=$(( $(msg_count "$mail") - before ))
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email","client":"198.51.100.9"}')
check "the client's 5th start in an hour (4 allowed) sends nothing" \
	[ "$(( $(msg_count "$mail") - before ))" -eq "$sent" ]
expect "...and answers ok" "$a" status ok
check "...the log says why" grep -q "user=zoe account=.* result=ok .*throttled: max_starts_per_client_hour" "$log"
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email","client":"198.51.100.10"}')
check "another client address still gets a code" [ "$(( $(msg_count "$mail") - before ))" -eq "$((sent + 1))" ]

# --- failed proofs per client address ---------------------------------------------
# One password tried against many names never locks any one name; the
# address that tries is blocked instead (3 failures an hour here).
for u in nosuchuserA nosuchuserB nosuchuserC; do a=$(chg "$u" Summer2026 203.0.113.7); done
expect "3 names, one wrong password each, from one address: wrong-password" "$a" reason wrong-password
a=$(chg zoe "$USER5_PASSWORD" 203.0.113.7)
expect "...then that address is throttled, even with zoe's right password" "$a" reason throttled
check "...the log says why" grep -q "user=zoe account=.* result=error reason=throttled .*max_failures_per_client_hour" "$log"
before=$(msg_count "$mail")
a=$(sub '{"v":1,"op":"start","user":"dave","method":"email","client":"203.0.113.7"}')
expect "...a start from it answers ok" "$a" status ok
check "...and sends nothing" [ "$(msg_count "$mail")" -eq "$before" ]
a=$(chg zoe not-zoes-password 203.0.113.8)
expect "another address is not blocked (wrong-password)" "$a" reason wrong-password

# --- the counters survive a restart ---------------------------------------------------
daemon_stop
daemon_start "$conf" "$log" || { not_ok "ssprd restarts"; finish; exit 1; }
before=$(msg_count "$mail")
a=$(start alice)
check "after a restart: alice's 7th start still sends nothing" [ "$(msg_count "$mail")" -eq "$before" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t2\",\"code\":\"$code\"}")
expect "after a restart: carol is still locked" "$a" reason throttled

daemon_stop
daemon_pid=
finish
