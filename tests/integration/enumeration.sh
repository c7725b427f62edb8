#!/bin/bash
# enumeration.sh - who exists must not show in timing or answers (issue 12,
# item 2), against real slapd.
#
# Each channel the review found, measured:
# - verify with answers: a real ticket asked for the wrong number of
#   answers and a decoy ticket sent ten answers take as long (median of
#   five each within a factor of three: before, 0 against 10 argon2id
#   checks, a factor of some hundred);
# - change and register with a wrong password: an unknown name takes as
#   long as a real one (medians within a factor of three; before, a padding
#   learned from successful changes);
# - start: decoy email masks start with the name's letter as real ones do,
#   decoy SMS masks take the shape real numbers are stored in (no '+' here),
#   a user with more questions than required is asked the same set every
#   time, and a throttled start on a real ticket moves the code's expiry
#   with the ticket's, as a decoy's does.
# Timings are ratios within one run, never absolute: the machine's speed
# cancels out.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"

with_slapd enum

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
methods = email, sms, questions
max_starts_per_hour = 50
lockout_failures = 100
max_attempts = 20
[sms]
command = $FIXTURES/mailsink.sh $tmp/sms
recovery_attribute = $RECOVERY_MOBILE_ATTR
[questions]
attribute = $QUESTIONS_ATTR
required = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
# ms JSON: milliseconds from submitting the request to its answer.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	sub "$1" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# within A B FACTOR: A and B differ by no more than FACTOR either way.
within() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { a += 1; b += 1; exit !(a <= b * f && b <= a * f) }'; }

# --- verify with answers: real (wrong count) against decoy (ten answers) ----------
five_q='[{"question":"Q1?","answer":"one"},{"question":"Q2?","answer":"two"},
{"question":"Q3?","answer":"three"},{"question":"Q4?","answer":"four"},{"question":"Q5?","answer":"five"}]'
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"bob\",\"password\":\"$USER2_PASSWORD\",\"questions\":$five_q}")
expect "bob registers five questions" "$a" status ok

a=$(sub '{"v":1,"op":"start","user":"bob","method":"questions"}')
real_t=$(jget "$a" ticket)
a=$(sub '{"v":1,"op":"start","user":"nosuchuser","method":"questions"}')
decoy_t=$(jget "$a" ticket)
ten='["a","b","c","d","e","f","g","h","i","j"]'
real_ms=$(for i in 1 2 3 4 5; do ms "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$real_t\",\"answers\":[\"only one\"]}"; done | median)
decoy_ms=$(for i in 1 2 3 4 5; do ms "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$decoy_t\",\"answers\":$ten}"; done | median)
check "verify: a real ticket with one answer of three (${real_ms} ms) takes as long as a decoy with ten (${decoy_ms} ms)" \
	within "$real_ms" "$decoy_ms" 3
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$real_t\",\"answers\":[\"only one\"]}")
b=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$decoy_t\",\"answers\":$ten}")
check "...and both answer bad-code" [ "$(jget "$a" reason)/$(jget "$b" reason)" = "bad-code/bad-code" ]

# --- change and register with a wrong password -------------------------------------
change() { echo "{\"v\":1,\"op\":\"change\",\"user\":\"$1\",\"old_password\":\"wrong-password-1\",\"new_password\":\"Some-New-Pass-2026\"}"; }
register() { echo "{\"v\":1,\"op\":\"register\",\"user\":\"$1\",\"password\":\"wrong-password-1\",\"mobile\":\"+15550100999\"}"; }
real_ms=$(for i in 1 2 3 4 5; do ms "$(change alice)"; done | median)
unknown_ms=$(for i in 1 2 3 4 5; do ms "$(change "nobody$i")"; done | median)
check "change: a wrong password for alice (${real_ms} ms) and for unknown names (${unknown_ms} ms) take as long" \
	within "$real_ms" "$unknown_ms" 3
real_ms=$(for i in 1 2 3 4 5; do ms "$(register zoe)"; done | median)
unknown_ms=$(for i in 1 2 3 4 5; do ms "$(register "noone$i")"; done | median)
check "register: a wrong password for zoe (${real_ms} ms) and for unknown names (${unknown_ms} ms) take as long" \
	within "$real_ms" "$unknown_ms" 3

# --- start: masks -----------------------------------------------------------------------
for u in alice carol erin; do
	sub "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\"}" >/dev/null
done
bad=
for u in mallory nina oscar peter quentin; do
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\"}")
	s=$(jget "$a" sent_to)
	[ "${s:0:1}" = "${u:0:1}" ] || bad="$bad $u:$s"
done
check "decoy email masks start with the name's letter, as every real one here did${bad:+ (not:$bad)}" [ -z "$bad" ]

# Numbers stored without '+' (national form): real masks have none, nor
# may decoys.
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") >/dev/null <<LDIF
dn: $USER1_DN
changetype: modify
replace: mobile
mobile: 0555 0100 001
LDIF
a=$(sub '{"v":1,"op":"start","user":"alice","method":"sms"}')
real_mask=$(jget "$a" sent_to)
a=$(sub '{"v":1,"op":"start","user":"nosuchuser","method":"sms"}')
decoy_mask=$(jget "$a" sent_to)
check "a real SMS mask of a number stored without '+' ($real_mask) has none" [ "${real_mask:0:1}" != "+" ]
check "...nor has a decoy's ($decoy_mask), and it is as long" \
	[ "${decoy_mask:0:1}" != "+" ] && [ "${#decoy_mask}" -eq "${#real_mask}" ]

# --- start: questions -----------------------------------------------------------------
sets=$(for i in 1 2 3 4 5 6 7 8; do
	a=$(sub '{"v":1,"op":"start","user":"bob","method":"questions"}')
	jget "$a" questions
done | python3 -c '
import json, sys
seen = [json.loads(l) for l in sys.stdin if l.strip()]
print(len({frozenset(q) for q in seen}), len({tuple(q) for q in seen}))')
read -r nsets norders <<<"$sets"
check "bob (5 questions, 3 required), 8 starts: the same three every time ($nsets set)" [ "$nsets" = 1 ]
check "...in more than one order ($norders orders)" [ "$norders" -ge 2 ]

# --- start: a throttled start moves the code's expiry as a decoy's does ------------------
sed -i 's/^max_starts_per_hour = 50/max_starts_per_hour = 1/' "$conf"
kill -HUP "$daemon_pid"
wait_for 10 grep -q "reloaded" "$log"
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"zoe\",\"method\":\"email\"}")
zoe_t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"unknown-zz\",\"method\":\"email\"}")
decoy_t=$(jget "$a" ticket)
sleep 2	# the next starts' expiry is later by as much
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"zoe\",\"method\":\"email\",\"ticket\":\"$zoe_t\"}")
check "a second start for zoe in the hour is throttled" grep -q "account=.*zoe.* result=ok .*throttled: max_starts_per_hour" "$log"
sub "{\"v\":1,\"op\":\"start\",\"user\":\"unknown-zz\",\"method\":\"email\",\"ticket\":\"$decoy_t\"}" >/dev/null
daemon_stop
pending_alike() { # TICKET: the email code expires with the ticket
	as_daemon "$STORETOOL" "$tmp/state" get tickets "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)
assert t["pending"]["email"]["expires"] == t["expires"], t'
}
check "zoe's ticket after the throttled start: code and ticket expire together" pending_alike "$zoe_t"
check "a decoy ticket after a second start: the same" pending_alike "$decoy_t"

finish
