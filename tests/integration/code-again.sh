#!/bin/bash
# code-again.sh - a proof sent again on its ticket is accepted again.
#
# A front end re-sends its form after a refusal: a reset that carried its
# code (or answers) and was refused on the password rules is sent again with
# the same code and a better password, and must succeed; the repeat never
# counts as a wrong attempt (max_attempts = 2 here: one counted repeat and
# one wrong code would make too-many-attempts). The same for verify sent
# twice, and for security answers. A code of another method, or one never
# sent, still fails.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd again

mail=$tmp/mail
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
methods = email, questions
min_length = 12
max_attempts = 2
lockout_failures = 3
max_starts_per_hour = 50
[questions]
attribute = $QUESTIONS_ATTR
required = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
reset_req() { # TICKET CODE PASSWORD
	printf '{"v":1,"op":"reset","ticket":"%s","code":"%s","new_password":"%s"}' "$1" "$2" "$3"
}

# --- a code carried by reset, re-sent after a policy refusal -----------------
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice" "$a" status ok
t=$(jget "$a" ticket)
code=$(last_code "$mail")
a=$(sub "$(reset_req "$t" "$code" short)")
expect "reset with the code and a short password: password-policy" "$a" reason password-policy
a=$(sub "$(reset_req "$t" "$code" Again-Good-Pass-1)")
expect "the same reset, same code, a good password: ok" "$a" status ok
check "alice binds with it" binds "$USER1_DN" Again-Good-Pass-1
a=$(sub "$(reset_req "$t" "$code" Again-Good-Pass-2)")
expect "...and the ticket is spent after the write" "$a" reason expired

# --- verify twice, then a wrong code: the repeat did not count ---------------
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
t=$(jget "$a" ticket)
code=$(last_code "$mail")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "verify bob" "$a" remaining 0
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "the same code again: ok, still verified" "$a" verified '["email"]'
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"00000000\"}")
expect "a wrong code after it: bad-code (one attempt of two)" "$a" reason bad-code
a=$(sub "$(reset_req "$t" "$code" Second-Good-Pass-12)")
expect "reset with the first code: ok" "$a" status ok
check "bob binds with it" binds "$USER2_DN" Second-Good-Pass-12

# --- security answers re-sent ------------------------------------------------
qa='[{"question":"First pet?","answer":"Rex"},{"question":"Town?","answer":"Ankara"},{"question":"Food?","answer":"Borek"}]'
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"erin\",\"password\":\"$USER6_PASSWORD\",\"questions\":$qa}")
expect "register erin's questions" "$a" status ok
a=$(sub '{"v":1,"op":"start","user":"erin","method":"questions"}')
t=$(jget "$a" ticket)
answers=$(python3 -c '
import json, sys
m = {"First pet?": "rex", "Town?": "ankara", "Food?": "borek"}
print(json.dumps([m[q] for q in json.loads(sys.argv[1])]))' "$(jget "$a" questions)")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"answers\":$answers,\"new_password\":\"short\"}")
expect "reset with the answers and a short password: password-policy" "$a" reason password-policy
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"answers\":$answers,\"new_password\":\"Fine-Answers-Pass-1x\"}")
expect "the same answers again, a good password: ok" "$a" status ok
check "erin binds with it" binds "$USER6_DN" Fine-Answers-Pass-1x

# --- what must still fail ----------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"dave","method":"email"}')
t=$(jget "$a" ticket)
code=$(last_code "$mail")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "verify dave" "$a" remaining 0
other=$(( (10#$code + 1) % 100000000 ))
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$(printf '%0*d' ${#code} "$other")\"}")
expect "a code one off the used one: bad-code" "$a" reason bad-code
check "no code in the log" not_grep -F "$code" "$log"

daemon_stop
daemon_pid=
finish
