#!/bin/bash
# methods.sh - SMS codes, several methods on one ticket, admins, and a
# sender that hangs.
#
# SMS: the [sms] command gets "--" and the number as its last arguments and
# the text on stdin; the answer shows the number masked. A mobile number
# that could pass for an option ("--123456") cannot be registered. With
# methods_required = 2 a ticket gathers email and SMS before a reset; an
# admin (admin_groups) needs admin_methods_required = 2 of admin_methods. A
# sender that never exits is killed after [sms] timeout and the request
# answered internal, while other requests are answered meanwhile. A sender
# that echoes the message (the code) and fails: answered internal, and the
# log has its exit status, never its output.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd meth

mail=$tmp/mail
sms=$tmp/sms
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
admin_groups = $ADMINS_GROUP_DN
methods = email, sms
methods_required = 2
admin_methods = email, sms
admin_methods_required = 2
min_length = 12
[sms]
command = $FIXTURES/mailsink.sh $sms
timeout = 2"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }

# alice becomes an admin too, so each of alice and carol has another admin
# to tell when their password is reset.
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") \
	>/dev/null 2>&1 <<LDIF
dn: $ADMINS_GROUP_DN
changetype: modify
add: member
member: $USER1_DN
LDIF

# --- two methods for a user -------------------------------------------------
for who in 1 3; do
	name_var=USER$who dn_var=USER${who}_DN mobile_var=USER${who}_MOBILE
	name=${!name_var} dn=${!dn_var} mobile=${!mobile_var}
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$name\",\"method\":\"sms\"}")
	expect "$name: start by SMS" "$a" status ok
	expect "$name: the number, masked" "$a" sent_to "+*********${mobile: -2}"
	t=$(jget "$a" ticket)
	f=$(ls -1 "$sms"/*.msg | tail -n 1)
	check "$name: the SMS command got \"--\", then the number, as its last arguments" \
		grep -qx "argv: -- $mobile" "$f"
	code=$(last_code "$sms")
	a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
	expect "$name: SMS verified, one method remaining" "$a" remaining 1
	a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"One-Method-Only-1\"}")
	expect "$name: a reset with one of two methods: not-verified" "$a" reason not-verified
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$name\",\"method\":\"email\",\"ticket\":\"$t\"}")
	expect "$name: email added to the same ticket" "$a" ticket "$t"
	code=$(last_code "$mail")
	a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
	expect "$name: both verified" "$a" verified '["email","sms"]'
	expect "$name: nothing remaining" "$a" remaining 0
	a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"Two-Methods-Pass-$who\"}")
	expect "$name: reset with two methods" "$a" status ok
	check "$name binds with the new password" binds "$dn" "Two-Methods-Pass-$who"
done
check "carol is an admin (the log)" grep -q "an administrator's password was reset" "$log"
admin_notice_to() { # ADDR ADMIN: a notice to ADDR about ADMIN's reset
	grep -l "^To: $1" "$mail"/*.msg 2>/dev/null |
		xargs -r grep -l "Subject: Administrator password reset: $2" | grep -q .
}
check "carol was told of alice's reset" wait_for 5 admin_notice_to "$USER3_MAIL" alice
check "alice was told of carol's reset" wait_for 5 admin_notice_to "$USER1_MAIL" carol
check "nobody got an admin notice about themselves" bash -c \
	"! grep -l '^To: $USER1_MAIL' '$mail'/*.msg | xargs grep -q 'Administrator password reset: alice'"
check "the log counts the admins told" grep -q "1 other admin(s) told that carol's password was reset" "$log"

# --- a number that could pass for an option -----------------------------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$USER2\",\"password\":\"$USER2_PASSWORD\",\"mobile\":\"--123456\"}")
expect "register with mobile \"--123456\": bad-request" "$a" reason bad-request
check "...naming the mobile number" bash -c "[[ \$1 == *'The mobile number must be'*'a + or a digit'* ]]" _ "$(jget "$a" message)"
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$USER2\",\"password\":\"$USER2_PASSWORD\",\"mobile\":\"-1 555 0100 222\"}")
expect "...and with \"-1 555 0100 222\"" "$a" reason bad-request
# The same value put into the directory by other means is no number to
# send to: the SMS start for dave is a decoy, the command never runs.
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") \
	>/dev/null 2>&1 <<LDIF
dn: $USER4_DN
changetype: modify
replace: mobile
mobile: --123456
LDIF
n=$(msg_count "$sms")
a=$(sub '{"v":1,"op":"start","user":"dave","method":"sms"}')
expect "a directory mobile of \"--123456\": start answers ok" "$a" status ok
check "...but nothing goes to the SMS command" [ "$(msg_count "$sms")" -eq "$n" ]
check "...and the log says there is no number for it" \
	grep -q "user=dave account=.* result=ok .*decoy: no contact for this method" "$log"

# --- a code for one method does not verify another -----------------------------------
a=$(sub '{"v":1,"op":"start","user":"bob","method":"sms"}')
t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"bob\",\"method\":\"email\",\"ticket\":\"$t\"}")
code=$(last_code "$mail")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "the email code verifies email only" "$a" verified '["email"]'
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "...and sent again, still only email: it cannot verify SMS as well" "$a" verified '["email"]'
expect "...SMS still remaining" "$a" remaining 1

# --- a start for a method without contact keeps a real ticket real ------------------
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER4\",\"method\":\"email\"}")
t=$(jget "$a" ticket)
code=$(last_code "$mail")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "$USER4 (no mobile) verified by email" "$a" verified '["email"]'
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER4\",\"method\":\"sms\",\"ticket\":\"$t\"}")
expect "...an SMS start on the ticket answers like any" "$a" ticket "$t"
before=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$USER4\",\"method\":\"email\",\"ticket\":\"$t\"}")
check "...and the ticket is still real: an email start on it sends a code" \
	wait_for 5 bash -c "[ \$(ls -1 '$mail'/*.msg | wc -l) -gt $before ]"

# --- a sender that hangs ----------------------------------------------------------
printf '#!/bin/sh\nexec sleep 60\n' >"$tmp/hang.sh"
chmod +x "$tmp/hang.sh"
sed -i "s|^command = $FIXTURES/mailsink.sh $sms|command = $tmp/hang.sh|" "$conf"
kill -HUP "$daemon_pid"
wait_for 5 bash -c "[ \$(grep -c 'config: reloaded' '$log') -ge 1 ]"
q=$tmp/queue
printf '{"v":1,"op":"start","user":"bob","method":"sms"}' >"$q/tmp/hang.json"
mv "$q/tmp/hang.json" "$q/new/hang.json"
a=$(sub '{"v":1,"op":"policy"}')
expect "while the SMS sender hangs, other requests are answered" "$a" status ok
check "...before the hanging one" [ ! -e "$q/out/hang.json" ]
check "the hanging sender is killed after [sms] timeout" wait_for 10 test -e "$q/out/hang.json"
expect "...and its request answered internal" "$(cat "$q/out/hang.json")" reason internal
check "...and the log says why" grep -q "sending the code failed: timed out after 2 s" "$log"

# --- a sender that echoes the message and fails -------------------------------------
# As a gateway that rejects a message and quotes it back would. The copy it
# keeps in echoed.txt is how the test learns the code.
printf '#!/bin/sh\n/usr/bin/tee %s/echoed.txt\necho "gateway: rejected"\nexit 1\n' \
	"$sms" >"$tmp/echo.sh"
chmod +x "$tmp/echo.sh"
sed -i "s|^command = $tmp/hang.sh|command = $tmp/echo.sh|" "$conf"
kill -HUP "$daemon_pid"
wait_for 5 bash -c "[ \$(grep -c 'config: reloaded' '$log') -ge 2 ]"
a=$(sub '{"v":1,"op":"start","user":"bob","method":"sms"}')
expect "a sender that echoes the message and exits 1: internal" "$a" reason internal
code=$(grep -o -E '[0-9]{6,12}' "$sms/echoed.txt" 2>/dev/null | tail -n 1)
check "...it was sent the code (echoed.txt)" [ -n "$code" ]
check "...the log has its exit status" grep -q "sending the code failed: exit status 1\$" "$log"
check "...but not the code it echoed" bash -c '! grep -q -- "$1" "$2"' _ "${code:-no code}" "$log"
check "...nor any of its output" bash -c '! grep -q "gateway: rejected" "$1"' _ "$log"

daemon_stop
daemon_pid=
finish
