#!/bin/bash
# e2e-ad.sh - ssprd end to end through the spool, against a real Active
# Directory (the Samba AD DC fixture).
#
# A front end's view, as in e2e-openldap.sh: requests dropped into the queue
# with ssprctl submit, codes read from the messages the email command
# received (mailsink.sh), effects checked independently with ldap-utils
# (binds as the users, attributes read as Administrator). ssprd works as the
# delegated service account (Reset Password right, lockoutTime and
# pwdLastSet only). Covers the email-code reset, unlock inside a reset and
# alone, change, AD's own password rules (complexity, history) as reasons,
# admins needing two methods, answers for the disabled user and
# Administrator shaped like real ones, changes refused for a disabled and a
# locked-out account, Turkish and emoji passwords, and no secret in the log
# or the state.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip_all "python3 is needed to read answers"
with_samba e2ead

mail=$tmp/mail
conf=$tmp/ssprd.ini
write_ini "$conf" ad "$LDAPS_URI" "" "[policy]
allowed_groups = $GROUP_DN
admin_groups = $ADMIN_GROUP_DN
methods = email
min_length = 12
max_starts_per_hour = 50"
sed -i -e "s|^metrics =|metrics =\nqueue_dir = $tmp/queue\nstate_dir = $tmp/state|" \
	-e "s|^command = /bin/true|command = $FIXTURES/mailsink.sh $mail|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; sed 's/^/# /' "$log"; finish; exit 1; }
ok "ssprd starts against AD and is ready"

sub() { echo >>"$tmp/requests"; submit "$conf" "$1"; }
expect() { # DESCRIPTION ANSWER KEY VALUE
	local got
	got=$(jget "$2" "$3")
	if [ "$got" = "$4" ]; then ok "$1"; else not_ok "$1 (want $3=$4, got '$got')"; echo "# $2"; fi
}
keys_of() { python3 -c 'import json,sys; print(sorted(json.loads(sys.argv[1])))' "$1"; }
# Samba has no whoami: a bind plus a base search proves the password.
binds() {
	ldapsearch -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") -b "" -s base \
		</dev/null >/dev/null 2>&1
}
not_binds() { ! binds "$@"; }
# attr DN NAME: one attribute's value, read as Administrator.
attr() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y "$ADMIN_PASSWORD_FILE" -b "$1" -s base "$2" </dev/null 2>/dev/null |
		sed -n "s/^$2: //p"
}
lock_out() { # DN: more bad binds than the threshold (5)
	for _ in 1 2 3 4 5 6; do
		ldapsearch -x -H "$LDAPS_URI" -D "$1" -w Wrong-Password-0 -b "" -s base \
			</dev/null >/dev/null 2>&1
	done
}
locked() { local t; t=$(attr "$1" lockoutTime); [ "${t:-0}" -gt 0 ]; }
unlocked() { local t; t=$(attr "$1" lockoutTime); [ "${t:-0}" -eq 0 ]; }
# code_for ADDRESS: the code in the newest code message sent to ADDRESS.
code_for() {
	local f
	for f in $(ls -1 "$mail"/*.msg 2>/dev/null | sort -r); do
		grep -q "^To: $1" "$f" && grep -q 'reset code is' "$f" || continue
		grep -o -E '[0-9]{6,12}' "$f" | tail -n 1
		return 0
	done
	return 1
}
# notice_for ADDRESS WORD BEFORE: a notice "your password was WORD" to
# ADDRESS arrives among the messages after the first BEFORE ones.
notice_for() {
	wait_for 5 bash -c '
		for f in $(ls -1 "$1"/*.msg 2>/dev/null | sort | tail -n +$(($4 + 1))); do
			grep -q "^To: $2" "$f" && grep -q "your password was $3" "$f" && exit 0
		done
		exit 1' _ "$mail" "$1" "$2" "$3"
}
secrets=("$(cat "$SVC_PASSWORD_FILE")")	# none may reach the log or state

a=$(sub '{"v":1,"op":"policy"}')
expect "policy: min_length from the configuration" "$a" min_length 12

# --- 1. the email-code reset of alice ----------------------------------------
pw_tr='Şifre-İğü-2026-AD'
secrets+=("$pw_tr" "$USER1_PASSWORD")
stamp0=$(attr "$USER1_DN" pwdLastSet)
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email","client":"192.0.2.20"}')
expect "start alice: ok" "$a" status ok
expect "start alice: masked address" "$a" sent_to "a***@s***.test"
real_keys=$(keys_of "$a")
ticket=$(jget "$a" ticket)
code=$(code_for "$USER1_MAIL")
secrets+=("$code")
check "the code arrived by email to $USER1_MAIL" [ -n "$code" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "verify alice: verified by email" "$a" verified '["email"]'
expect "...nothing remaining" "$a" remaining 0
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"$pw_tr\"}")
expect "reset alice to a Turkish password: ok" "$a" status ok
check "alice binds with the Turkish password" binds "$USER1_DN" "$pw_tr"
check "alice's old password no longer binds" not_binds "$USER1_DN" "$USER1_PASSWORD"
check "the 'password was reset' notice went to alice" notice_for "$USER1_MAIL" reset "$before"
stamp1=$(attr "$USER1_DN" pwdLastSet)
check "pwdLastSet changed ($stamp0 -> $stamp1)" \
	bash -c "[ -n '$stamp1' ] && [ '$stamp0' != '$stamp1' ]"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Second-Reset-AD-7x\"}")
expect "the ticket is spent" "$a" reason expired

# --- 2. a reset unlocks a locked-out account ---------------------------------
pw_bob='Unlocked-By-Reset-26'
secrets+=("$pw_bob" "$USER2_PASSWORD")
lock_out "$USER2_DN"
check "6 bad binds lock bob out (lockoutTime > 0)" locked "$USER2_DN"
check "...so not even his password binds" not_binds "$USER2_DN" "$USER2_PASSWORD"
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
expect "start for locked-out bob: ok" "$a" status ok
ticket=$(jget "$a" ticket)
code=$(code_for "$USER2_MAIL")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "verify bob: nothing remaining" "$a" remaining 0
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"$pw_bob\"}")
expect "reset of locked-out bob: ok" "$a" status ok
check "bob binds with the new password at once" binds "$USER2_DN" "$pw_bob"
check "...lockoutTime is 0" unlocked "$USER2_DN"
check "the 'password was reset' notice went to bob" notice_for "$USER2_MAIL" reset "$before"

# --- 3. unlock alone ---------------------------------------------------------
lock_out "$USER2_DN"
check "bob is locked out again" locked "$USER2_DN"
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(code_for "$USER2_MAIL")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"unlock\",\"ticket\":\"$ticket\"}")
expect "unlock before verifying: not-verified" "$a" reason not-verified
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "verify bob again: nothing remaining" "$a" remaining 0
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"unlock\",\"ticket\":\"$ticket\"}")
expect "unlock with a verified ticket: ok" "$a" status ok
check "...lockoutTime is 0" unlocked "$USER2_DN"
check "...bob binds with his current password" binds "$USER2_DN" "$pw_bob"
check "the 'password was unlocked' notice went to bob" notice_for "$USER2_MAIL" unlocked "$before"
a=$(sub "{\"v\":1,\"op\":\"unlock\",\"ticket\":\"$ticket\"}")
expect "the ticket is spent by the unlock" "$a" reason expired

# --- 4. change with the old password (and 8: an emoji password) --------------
pw_emoji='Pass-😀-AD-2026x'
secrets+=("$pw_emoji")
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"alice\",\"old_password\":\"$pw_tr\",\"new_password\":\"$pw_emoji\"}")
expect "change alice with the right old password to an emoji one: ok" "$a" status ok
check "alice binds with the emoji password" binds "$USER1_DN" "$pw_emoji"
check "...and no longer with the Turkish one" not_binds "$USER1_DN" "$pw_tr"
check "the 'password was changed' notice went to alice" notice_for "$USER1_MAIL" changed "$before"
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"alice\",\"old_password\":\"Not-Her-Password-9\",\"new_password\":\"Another-AD-Pass-2026\"}")
expect "change with a wrong old password: wrong-password" "$a" reason wrong-password
check "...and nothing changed" binds "$USER1_DN" "$pw_emoji"
a=$(sub '{"v":1,"op":"change","user":"nosuchuser","old_password":"Whatever-Pass-1","new_password":"Another-AD-Pass-2026"}')
expect "change for an unknown user: wrong-password too" "$a" reason wrong-password
secrets+=("Not-Her-Password-9" "Another-AD-Pass-2026" "Whatever-Pass-1")

# --- 5. the directory's own rules, as reasons --------------------------------
weak='alllowercaseletters'
secrets+=("$weak")
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
ticket=$(jget "$a" ticket)
code=$(code_for "$USER1_MAIL")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"code\":\"$code\",\"new_password\":\"$weak\"}")
expect "a reset to a password AD finds not complex: password-policy" "$a" reason password-policy
expect "...violations [complexity]" "$a" violations '["complexity"]'
check "...and alice's password is unchanged" binds "$USER1_DN" "$pw_emoji"
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"alice\",\"old_password\":\"$pw_emoji\",\"new_password\":\"$weak\"}")
expect "a change to it: violations [complexity] too" "$a" violations '["complexity"]'
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"alice\",\"old_password\":\"$pw_emoji\",\"new_password\":\"$pw_tr\"}")
expect "a change back to a previous password: password-policy" "$a" reason password-policy
expect "...violations [history]" "$a" violations '["history"]'
check "...and alice still binds with the emoji password" binds "$USER1_DN" "$pw_emoji"

# --- 6. admins ---------------------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"carol","method":"email"}')
expect "start carol (Domain Admins) by email: ok" "$a" status ok
ticket=$(jget "$a" ticket)
code=$(code_for "$USER3_MAIL")
secrets+=("$code" "Admin-One-Method-26")
check "...the code was sent to carol" [ -n "$code" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "carol after email: verified [email]" "$a" verified '["email"]'
expect "...one method remaining (admin_methods_required = 2)" "$a" remaining 1
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"Admin-One-Method-26\"}")
expect "...and a reset is not-verified" "$a" reason not-verified
check "...carol's password is unchanged" binds "$USER3_DN" "$USER3_PASSWORD"

# --- 6, 7. Administrator and disabled dave: starts look like real ones -------
before=$(msg_count "$mail")
for who in Administrator dave; do
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$who\",\"method\":\"email\"}")
	expect "start $who: ok like a real one" "$a" status ok
	check "start $who: the same fields as a real start" [ "$(keys_of "$a")" = "$real_keys" ]
	check "start $who: sent_to looks masked" bash -c "[[ '$(jget "$a" sent_to)' =~ ^.\\*\\*\\*@.\\*\\*\\*\\.[a-z]+$ ]]"
	check "start $who: a 128-bit ticket" bash -c "[[ '$(jget "$a" ticket)' =~ ^[0-9a-f]{32}$ ]]"
	expect "start $who: expires_in = code_ttl" "$a" expires_in 600
	decoy=$(jget "$a" ticket)
	a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$decoy\",\"code\":\"12345678\"}")
	expect "start $who: its ticket never verifies" "$a" reason bad-code
done
sleep 0.5
check "no message was sent for them" [ "$(msg_count "$mail")" -eq "$before" ]
check "the log says why for Administrator (decoy)" grep -q "user=Administrator account=.* result=ok .*(decoy: " "$log"
check "the log says why for dave (decoy: account disabled)" \
	grep -q "user=dave account=.* result=ok .*(decoy: account disabled)" "$log"
stamp0=$(attr "$USER4_DN" pwdLastSet)
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"dave\",\"old_password\":\"$USER4_PASSWORD\",\"new_password\":\"Disabled-Change-2026\"}")
expect "change for disabled dave (not in allowed_groups either): refused" "$a" status error
check "...dave's password is unchanged (pwdLastSet)" [ "$(attr "$USER4_DN" pwdLastSet)" = "$stamp0" ]
secrets+=("$USER4_PASSWORD" "Disabled-Change-2026")

# --- 8. a Turkish password for zoë; then a change while locked out ---------
pw_zoe='Şifre-İğüşçöÖ-2026'
secrets+=("$pw_zoe" "$USER5_PASSWORD")
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER5\",\"method\":\"email\"}")
expect "start $USER5 (non-ASCII name): ok" "$a" status ok
ticket=$(jget "$a" ticket)
code=$(code_for "$USER5_MAIL")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"code\":\"$code\",\"new_password\":\"$pw_zoe\"}")
expect "reset $USER5 with the code inline: ok" "$a" status ok
check "$USER5 binds with the new password" binds "$USER5_DN" "$pw_zoe"
lock_out "$USER5_DN"
check "$USER5 is locked out" locked "$USER5_DN"
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"$USER5\",\"old_password\":\"$pw_zoe\",\"new_password\":\"Locked-Out-Pass-2026\"}")
# AD says "locked" (775) whatever password comes: only who proved the
# password may learn that, so it is answered like a wrong password.
expect "change on a locked-out account: wrong-password (locked, not said)" "$a" reason wrong-password
check "...and the log says the directory locked it" \
	grep -q "reason=wrong-password .*(.*account is locked)" "$log"
secrets+=("Locked-Out-Pass-2026")

# --- security questions against AD (a confidential schema attribute) ---------
sed -i -e 's/^methods = email$/methods = email, questions/' "$conf"
printf '[questions]\nattribute = %s\nrequired = 3\n' "$QUESTIONS_ATTR" >>"$conf"
kill -HUP "$daemon_pid"
wait_for 5 bash -c "grep -q 'config: reloaded' '$log'"
qa='[{"question":"Pet?","answer":"Rex the Dog"},{"question":"Town?","answer":"Ankara"},{"question":"Food?","answer":"Börek"}]'
secrets+=("Rex the Dog" "Ankara" "Börek")
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$USER2\",\"password\":\"$pw_bob\",\"questions\":$qa}")
expect "AD: register three questions for $USER2" "$a" registered '["email","questions"]'
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER2\",\"method\":\"questions\"}")
t=$(jget "$a" ticket)
answers=$(python3 -c '
import json, sys
m = {"Pet?": "rex  THE dog", "Town?": "ankara", "Food?": "Börek"}
print(json.dumps([m[q] for q in json.loads(sys.argv[1])], ensure_ascii=False))' "$(jget "$a" questions)")
pw_q='Questions-Reset-AD-2026'
secrets+=("$pw_q")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"answers\":$answers,\"new_password\":\"$pw_q\"}")
expect "AD: reset with the answers" "$a" status ok
check "AD: $USER2 binds with it" binds "$USER2_DN" "$pw_q"

# --- 8b. a write refused before it is sent, on a warm pool -------------------
# enforce_history = yes and Samba offers no policy-hints control: the reset
# is refused while it is being sent, after lookups warmed the connections.
# The refusal must reach the job from the event loop (it once ran inside
# dir_reset_password() and the pool then read the freed operation: ASan's
# heap-use-after-free in the sanitizer run).
sed -i 's/^timeout = .*/&\nenforce_history = yes/' "$conf"
kill -HUP "$daemon_pid"
check "reload with enforce_history = yes" \
	wait_for 10 log_has "$log" "config: reloaded $conf"
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email","client":"192.0.2.20"}')
ticket=$(jget "$a" ticket)
code=$(code_for "$USER1_MAIL")
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "enforce_history = yes: alice verified" "$a" remaining 0
pw_h='History-Refused-AD-9x'
secrets+=("$pw_h")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"$pw_h\"}")
expect "...the reset is refused: internal" "$a" reason internal
check "...the daemon is still up" kill -0 "$daemon_pid"
check "...and alice's password is unchanged" not_binds "$USER1_DN" "$pw_h"
sed -i '/^enforce_history = yes$/d' "$conf"
kill -HUP "$daemon_pid"
wait_for 10 bash -c "[ \$(grep -c 'config: reloaded' '$log') -ge 2 ]"

# --- 9. no secrets in the log or the state -----------------------------------
leaks=0
for s in "${secrets[@]}"; do
	[ -n "$s" ] || continue
	if grep -rqaF -- "$s" "$log" "$tmp/state"; then
		leaks=$((leaks + 1))
		echo "# found in log or state: a secret of length ${#s}"
	fi
done
check "no password or code in the log or the state (${#secrets[@]} checked)" [ "$leaks" -eq 0 ]
nreq=$(wc -l <"$tmp/requests")
check "one audit line per request ($nreq)" [ "$(grep -c ' request id=.* result=' "$log")" -eq "$nreq" ]

# --- 10. SIGTERM -------------------------------------------------------------
daemon_stop
rc=$?
daemon_pid=
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
finish
