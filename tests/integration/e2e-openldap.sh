#!/bin/bash
# e2e-openldap.sh - ssprd end to end through the spool, against real slapd.
#
# A front end's view: requests dropped into the queue with ssprctl submit,
# codes read from the messages the email command received (mailsink.sh),
# effects checked with ldap-utils. Covers the email-code reset (in steps and
# with the code inline), change, every reason code the spool can produce,
# answers for unknown and ineligible users shaped like real ones, hostile
# files in the spool, and no secret in the log or the state.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd e2e

mail=$tmp/mail
printf 'Correct-Horse-Battery\n' >"$tmp/banned.txt"
conf=$tmp/ssprd.ini
DIR_TIMEOUT=3 write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
allowed_groups = $ALLOWED_GROUP_DN
admin_groups = $ADMINS_GROUP_DN
min_length = 12
max_attempts = 3
max_starts_per_hour = 50
lockout_failures = 50
banned_passwords = $tmp/banned.txt"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
ok "ssprd starts and is ready"

sub() { submit "$conf" "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
secrets=()	# every password and code used: none may reach the log or state

# --- ssprctl lookup ----------------------------------------------------------
"$SSPRCTL" -c "$conf" lookup alice >"$tmp/lookup.out" 2>&1
rc=$?
check "ssprctl lookup alice: exit 0" [ "$rc" -eq 0 ]
check "...shows her DN and that she is eligible" bash -c \
	"grep -qF '$USER1_DN' '$tmp/lookup.out' && grep -q 'eligible for self-service' '$tmp/lookup.out'"
"$SSPRCTL" -c "$conf" lookup nosuchuser >"$tmp/lookup.out" 2>&1
rc=$?
check "ssprctl lookup of an unknown user: exit 1" [ "$rc" -eq 1 ]

# --- policy ----------------------------------------------------------------
a=$(sub '{"v":1,"op":"policy"}')
expect "policy: min_length from the configuration" "$a" min_length 12
expect "policy: max_length" "$a" max_length 256

# --- the email-code reset, step by step -------------------------------------
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email","client":"192.0.2.10"}')
expect "start alice: ok" "$a" status ok
expect "start alice: masked address" "$a" sent_to "a***@e***.org"
expect "start alice: expires_in = code_ttl" "$a" expires_in 600
ticket=$(jget "$a" ticket)
check "start alice: a 128-bit ticket" bash -c "[[ '$ticket' =~ ^[0-9a-f]{32}$ ]]"
real_keys=$(python3 -c 'import json,sys; print(sorted(json.loads(sys.argv[1])))' "$a")
code=$(last_code "$mail")
secrets+=("$code")
check "the code arrived by email ($code)" [ -n "$code" ]
check "...addressed to alice" grep -q "^To: $USER1_MAIL" "$(ls -1 "$mail"/*.msg | tail -n 1)"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Too-Early-Pass-1\"}")
expect "reset before verifying: not-verified" "$a" reason not-verified
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"00000000\"}")
expect "a wrong code: bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "the right code: verified" "$a" verified '["email"]'
expect "...nothing remaining" "$a" remaining 0
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "the same code again on its ticket: accepted again, nothing more" "$a" verified '["email"]'
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"short-1\"}")
expect "too short: password-policy" "$a" violations '["too-short"]'
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"correct-horse-battery\"}")
expect "banned (case-insensitive)" "$a" violations '["banned"]'
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"My-ALICE-Pass-99\"}")
expect "contains the user name" "$a" violations '["contains-user-name"]'
pw1='Şifre-İğü-2026-Reset'
secrets+=("$pw1")
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"$pw1\"}")
expect "reset with a good password: ok" "$a" status ok
check "alice binds with the new password" binds "$USER1_DN" "$pw1"
check "the 'your password was changed' notice went to alice" \
	wait_for 5 bash -c "[ \$(ls -1 '$mail'/*.msg | wc -l) -gt $before ] && grep -q 'password was reset' \$(ls -1 '$mail'/*.msg | tail -n 1)"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Second-Reset-Pass-7\"}")
expect "the ticket is spent" "$a" reason expired
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(last_code "$mail")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"code\":\"$code\",\"new_password\":\"$pw1\"}")
expect "the same password again: the directory says history" "$a" violations '["history"]'

# --- reset with the code inline ----------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(last_code "$mail")
secrets+=("$code")
pw2='Pass-😀-Emoji-2026'
secrets+=("$pw2")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"code\":\"$code\",\"new_password\":\"$pw2\"}")
expect "reset with the code inline: ok" "$a" status ok
check "bob binds with the emoji password" binds "$USER2_DN" "$pw2"

# --- unknown and ineligible users look the same ---------------------------------
before=$(msg_count "$mail")
for who in nosuchuser dave; do
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$who\",\"method\":\"email\"}")
	expect "start $who: ok like a real one" "$a" status ok
	keys=$(python3 -c 'import json,sys; print(sorted(json.loads(sys.argv[1])))' "$a")
	check "start $who: the same fields as a real start" [ "$keys" = "$real_keys" ]
	check "start $who: sent_to looks masked" bash -c "[[ '$(jget "$a" sent_to)' =~ ^.\\*\\*\\*@.\\*\\*\\*\\.[a-z]+$ ]]"
	check "start $who: ...with the domain real users get (e***.org)" \
		bash -c "[[ '$(jget "$a" sent_to)' == *@e\\*\\*\\*.org ]]"
	decoy=$(jget "$a" ticket)
done
check "no message was sent for them" [ "$(msg_count "$mail")" -eq "$before" ]
check "the log tells the truth" grep -q "user=nosuchuser account=.* result=ok .*(decoy: no such user)" "$log"
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$decoy\",\"code\":\"12345678\"}")
expect "a decoy ticket never verifies" "$a" reason bad-code

# --- attempts, expiry, methods ----------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(last_code "$mail")
secrets+=("$code")
for i in 1 2; do sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"99999999\"}" >/dev/null; done
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"99999998\"}")
expect "the 3rd wrong code (max_attempts = 3): too-many-attempts" "$a" reason too-many-attempts
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "...and then even the right code" "$a" reason too-many-attempts
a=$(sub '{"v":1,"op":"verify","ticket":"0123456789abcdef0123456789abcdef","code":"12345678"}')
expect "an unknown ticket: expired" "$a" reason expired
a=$(sub '{"v":1,"op":"start","user":"alice","method":"sms"}')
expect "a method not configured: not-allowed" "$a" reason not-allowed

# --- admins need two methods ----------------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"carol","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(last_code "$mail")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "admin carol after one method: one remaining" "$a" remaining 1
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Admin-One-Method-1\"}")
expect "...and a reset is not-verified" "$a" reason not-verified

# --- change ---------------------------------------------------------------------------
pw3='Changed-By-E-2026x'
secrets+=("$pw3")
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"$USER6\",\"old_password\":\"$USER6_PASSWORD\",\"new_password\":\"$pw3\"}")
expect "change with the right old password: ok" "$a" status ok
check "erin binds with the changed password" binds "$USER6_DN" "$pw3"
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"$USER6\",\"old_password\":\"not-my-password\",\"new_password\":\"Another-Pass-2026\"}")
expect "change with a wrong old password: wrong-password" "$a" reason wrong-password
a=$(sub '{"v":1,"op":"change","user":"nosuchuser","old_password":"whatever-1","new_password":"Another-Pass-2026"}')
expect "change for an unknown user: wrong-password too" "$a" reason wrong-password
for _ in 1 2 3 4 5 6; do
	ldapwhoami -x -H "$LDAPS_URI" -D "$USER6_DN" -w bad-password </dev/null >/dev/null 2>&1
done
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"$USER6\",\"old_password\":\"$pw3\",\"new_password\":\"Locked-Out-Pass-1\"}")
# The directory says "locked" whatever password comes: only who proved the
# password may learn that, so it is answered like a wrong password.
expect "change on a locked account: wrong-password (locked, not said)" "$a" reason wrong-password
check "...and the log says the directory locked it" \
	grep -q "result=error reason=wrong-password .*(.*account is locked)" "$log"

# --- account-disabled: disabled between verification and reset -----------------------
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER5\",\"method\":\"email\"}")
ticket=$(jget "$a" ticket)
code=$(last_code "$mail")
secrets+=("$code")
sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}" >/dev/null
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") >/dev/null 2>&1 <<LDIF
dn: $USER5_DN
changetype: modify
replace: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z
LDIF
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Disabled-Pass-2026\"}")
expect "reset of an account disabled meanwhile: account-disabled" "$a" reason account-disabled

# --- hostile spool entries --------------------------------------------------------------
q=$tmp/queue
drop() { printf '%s' "$2" >"$q/tmp/$1" && mv "$q/tmp/$1" "$q/new/$1"; }
answer_of() { wait_for 10 test -e "$q/out/$1.json" && cat "$q/out/$1.json" || echo '{}'; }
drop badjson.json '{"v":1,"op":'
a=$(answer_of badjson)
expect "truncated JSON: bad-request" "$a" reason bad-request
printf '{"v":1,"op":"start","user":"\xc3\x28","method":"email"}' >"$q/tmp/badutf8.json"
mv "$q/tmp/badutf8.json" "$q/new/badutf8.json"
expect "invalid UTF-8: bad-request" "$(answer_of badutf8)" reason bad-request
head -c 70000 /dev/zero | tr '\0' ' ' >"$q/tmp/huge.json"
mv "$q/tmp/huge.json" "$q/new/huge.json"
expect "a 70 kB file: bad-request" "$(answer_of huge)" reason bad-request
python3 -c 'print("[" * 30000 + "]" * 30000)' >"$q/tmp/deep.json"
mv "$q/tmp/deep.json" "$q/new/deep.json"
expect "deep nesting: bad-request" "$(answer_of deep)" reason bad-request
ln -s /etc/passwd "$q/new/link.json"
expect "a symlink: bad-request, not followed" "$(answer_of link)" reason bad-request
mkdir "$q/new/adir.json"
expect "a directory: bad-request" "$(answer_of adir)" reason bad-request
drop 'odd name!.json' '{"v":1,"op":"policy"}'
drop '../escape.json' '{"v":1,"op":"policy"}' 2>/dev/null
drop 'x.txt' '{"v":1,"op":"policy"}'
check "odd names are moved aside to bad/" wait_for 10 bash -c "[ ! -e '$q/new/odd name!.json' ] && [ ! -e '$q/new/x.txt' ]"
check "...and logged" grep -q "spool: .*odd name" "$log"
a=$(sub '{"v":1,"op":"policy"}')
expect "the daemon still serves" "$a" status ok

# --- internal, directory-unavailable -------------------------------------------------------
sed -i "s|^command = $FIXTURES/mailsink.sh .*|command = /bin/false|" "$conf"
kill -HUP "$daemon_pid"
wait_for 5 bash -c "[ \$(grep -c 'config: reloaded' '$log') -ge 1 ]"
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "the email command fails: internal" "$a" reason internal
sed -i "s|^command = /bin/false|command = $FIXTURES/mailsink.sh $mail|" "$conf"
kill -HUP "$daemon_pid"
"$FIXTURES/slapd.sh" stop "$tmp/slapd" >/dev/null 2>&1
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "slapd stopped: directory-unavailable" "$a" reason directory-unavailable
"$FIXTURES/slapd.sh" restart "$tmp/slapd" >/dev/null 2>&1
for _ in 1 2 3 4 5 6 7 8 9 10; do
	a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
	[ "$(jget "$a" status)" = ok ] && break
	sleep 1
done
expect "slapd back: served again (the pool reconnects)" "$a" status ok

# --- no secrets in the log or the state --------------------------------------------------
leaks=0
for s in "${secrets[@]}" "$USER6_PASSWORD"; do
	[ -n "$s" ] || continue
	if grep -rqaF -- "$s" "$log" "$tmp/state"; then
		leaks=$((leaks + 1))
		echo "# found in log or state: a secret of length ${#s}"
	fi
done
check "no password or code in the log or the state (${#secrets[@]} checked)" [ "$leaks" -eq 0 ]
check "one audit line per request" bash -c "[ \$(grep -c ' request id=' '$log') -ge 40 ]"

daemon_stop
rc=$?
daemon_pid=
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
finish
