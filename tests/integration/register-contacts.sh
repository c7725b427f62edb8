#!/bin/bash
# register-contacts.sh - a contact is registered only once its code came
# back, and only to the recovery attribute (issue 15, items 1 and 2).
#
# register with an address and a number writes nothing: a code goes to
# each new contact, the answer says both are pending and gives a
# registration ticket. confirm with a wrong code counts an attempt; the
# registration ticket proves nothing for verify or reset; confirm with the
# email code writes the address to [email] recovery_attribute (mail stays
# as it was) and tells the user at the addresses they had before (a later
# change: the owned one and the recovery one it replaces); the same
# code again is accepted again; the SMS code writes the number. Then reset
# codes go to the registered contacts. A wrong password registers nothing
# and sends nothing; too many wrong codes end the ticket.
#
# Against the slapd fixture (ssprdRecoveryMail / ssprdRecoveryMobile);
# register-contacts-ad.sh runs the same against Samba AD, where the
# defaults are otherMailbox / otherMobile.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

if [ "${REGISTER_ON:-openldap}" = ad ]; then
	with_samba regcontacts-ad
	type=ad uri=$LDAPS_URI
	rmail=otherMailbox rmobile=otherMobile recovery=""
	user=$USER1 user_dn=$USER1_DN pw=$USER1_PASSWORD old_mail=$USER1_MAIL
	old_mobile=$USER1_MOBILE
	asvc() { ldapsearch -LLL -x -H "$LDAPS_URI" -D "$SVC_DN" -y "$SVC_PASSWORD_FILE" "$@"; }
	# AD: unicodePwd, the quoted password in UTF-16LE, as Administrator
	admin_set_password() {
		ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y "$ADMIN_PASSWORD_FILE" \
			>/dev/null 2>&1 <<LDIF
dn: $1
changetype: modify
replace: unicodePwd
unicodePwd:: $(printf '"%s"' "$2" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
LDIF
	}
else
	with_slapd regcontacts
	type=openldap uri=$LDAPS_URI
	rmail=$RECOVERY_MAIL_ATTR rmobile=$RECOVERY_MOBILE_ATTR
	recovery="recovery_attribute = $rmail"
	user=$USER1 user_dn=$USER1_DN pw=$USER1_PASSWORD old_mail=$USER1_MAIL
	old_mobile=$USER1_MOBILE
	asvc() { ldapsearch -LLL -x -H "$LDAPS_URI" -D "$SVC_DN" -y "$SVC_PASSWORD_FILE" "$@"; }
	admin_set_password() {
		ldappasswd -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") \
			-s "$2" "$1" >/dev/null 2>&1 </dev/null
	}
fi
user2=$USER2 user2_dn=$USER2_DN pw2=$USER2_PASSWORD

mail=$tmp/mail sms=$tmp/sms
conf=$tmp/ssprd.ini
write_ini "$conf" "$type" "$uri" "" "$recovery
[policy]
methods = email, sms
admin_methods = email, sms
max_attempts = 3
lockout_failures = 10
max_starts_per_hour = 50
[sms]
command = $FIXTURES/mailsink.sh $sms
${recovery:+recovery_attribute = $rmobile}"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
attr() { asvc -b "$user_dn" -s base "(objectClass=*)" "$1" | sed -n "s/^$1: //p"; }
newest() { ls -1 "$1"/*.msg 2>/dev/null | sort | tail -n 1; }
new_mail=reg-$$@example.net new_mobile=+905550001122

# --- register: nothing written, a code to each new contact -------------------
nm=$(msg_count "$mail") ns=$(msg_count "$sms")
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"wrong-$$\",\"email\":\"$new_mail\"}")
expect "a wrong password: wrong-password" "$a" reason wrong-password
check "...and nothing is sent" [ "$(msg_count "$mail")" -eq "$nm" ]

a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$pw\",\"email\":\"$new_mail\",\"mobile\":\"$new_mobile\"}")
expect "register an address and a number: ok" "$a" status ok
expect "...both pending" "$a" pending '["email","sms"]'
t=$(jget "$a" ticket)
check "...with a registration ticket" grep -qxE '[0-9a-f]{32}' <<<"$t"
check "...nothing written to $rmail" [ -z "$(attr "$rmail")" ]
check "...nor to $rmobile" [ -z "$(attr "$rmobile")" ]
check "...mail is as it was" [ "$(attr mail)" = "$old_mail" ]
check "one message to the new address" [ "$(msg_count "$mail")" -eq $((nm + 1)) ]
f=$(newest "$mail")
check "...addressed to it" grep -qx "To: $new_mail" "$f"
check "...asking to confirm it" grep -q "^Subject: Confirm your recovery address" "$f"
ecode=$(last_code "$mail")
check "one SMS to the new number" grep -qx "argv: -- $new_mobile" "$(newest "$sms")"
scode=$(last_code "$sms")

# --- what the registration ticket cannot do ----------------------------------
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$ecode\"}")
expect "verify with the registration ticket and its code: bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"code\":\"$ecode\",\"new_password\":\"Never-Written-9x\"}")
expect "reset with it: not-verified" "$a" reason not-verified
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"00000000\"}")
expect "confirm with a wrong code: bad-code" "$a" reason bad-code

# --- confirm, one by one ---------------------------------------------------------
nm=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$ecode\"}")
expect "confirm the email code: ok" "$a" status ok
expect "...email confirmed" "$a" confirmed '["email"]'
expect "...sms still pending" "$a" pending '["sms"]'
check "...the address is in $rmail" [ "$(attr "$rmail")" = "$new_mail" ]
check "...mail is still as it was" [ "$(attr mail)" = "$old_mail" ]
check "...the number is not written yet" [ -z "$(attr "$rmobile")" ]
check "...a notice went to the address the user had before" \
	grep -qx "To: $old_mail" "$(newest "$mail")"
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$ecode\"}")
expect "the same code again: ok, still confirmed" "$a" confirmed '["email"]'
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$scode\"}")
expect "confirm the SMS code: ok" "$a" confirmed '["email","sms"]'
expect "...nothing pending" "$a" pending '[]'
check "...the number is in $rmobile" [ "$(attr "$rmobile")" = "$new_mobile" ]
check "...mobile is as it was" [ "$(attr mobile)" = "$old_mobile" ]

# --- codes go to the registered contacts ---------------------------------------
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"email\"}")
expect "start by email" "$a" status ok
check "...the code goes to the registered address" grep -qx "To: $new_mail" "$(newest "$mail")"
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"sms\"}")
expect "start by SMS" "$a" status ok
check "...the code goes to the registered number" grep -qx "argv: -- $new_mobile" "$(newest "$sms")"

# --- a later change is told at every address known before ------------------------
newer=reg2-$$@example.net
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$pw\",\"email\":\"$newer\"}")
expect "register another address: pending" "$a" pending '["email"]'
t4=$(jget "$a" ticket)
c4=$(last_code "$mail")
nm=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t4\",\"code\":\"$c4\"}")
expect "confirm it: ok" "$a" confirmed '["email"]'
# told_at ADDR: a message to ADDR among those since the confirm
told_at() { ls -1 "$mail"/*.msg | sort | tail -n "+$((nm + 1))" | xargs grep -lx "To: $1" >/dev/null 2>&1; }
check "...a notice went to the address it replaces" wait_for 10 told_at "$new_mail"
check "...and one to the owned address" wait_for 10 told_at "$old_mail"
check "...none to the new one" bash -c "! ls -1 $mail/*.msg | sort | tail -n +$((nm + 1)) | xargs grep -lx \"To: $newer\" >/dev/null 2>&1"

# --- attempts end a registration ticket -----------------------------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$pw\",\"mobile\":\"+905550003344\"}")
expect "register another number: pending" "$a" pending '["sms"]'
t2=$(jget "$a" ticket)
scode2=$(last_code "$sms")
sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t2\",\"code\":\"00000001\"}" >/dev/null
sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t2\",\"code\":\"00000002\"}" >/dev/null
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t2\",\"code\":\"00000003\"}")
expect "a third wrong code: too-many-attempts" "$a" reason too-many-attempts
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t2\",\"code\":\"$scode2\"}")
expect "the right code after that: too-many-attempts" "$a" reason too-many-attempts
check "...and the registered number stays" [ "$(attr "$rmobile")" = "$new_mobile" ]
a=$(sub '{"v":1,"op":"confirm","ticket":"0123456789abcdef0123456789abcdef","code":"123456"}')
expect "confirm on an unknown ticket: expired" "$a" reason expired

# --- a password changed since register: nothing is written ---------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user2\",\"password\":\"$pw2\",\"email\":\"planted-$$@example.net\"}")
expect "$user2 registers an address" "$a" pending '["email"]'
t3=$(jget "$a" ticket)
pcode=$(last_code "$mail")
admin_set_password "$user2_dn" "Helpdesk-Reset-26x" ||
	not_ok "the administrator resets $user2's password"
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t3\",\"code\":\"$pcode\"}")
expect "confirm after a helpdesk reset of the password: not-verified" "$a" reason not-verified
user_dn=$user2_dn
check "...and the address is not written" [ -z "$(attr "$rmail")" ]

check "the log never holds a code" not_grep "$ecode\|$scode" "$log"
daemon_stop
finish
