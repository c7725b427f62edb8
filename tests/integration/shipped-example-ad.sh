#!/bin/bash
# shipped-example-ad.sh - the shipped ssprd.ini.example against Samba AD,
# with only what a site must fill in: self-service for administrators out
# of the box, registration with confirmations, reconfirmation and the
# report (issue 15, items 4 and 5 and its "done when").
#
# The example is copied with these changes and no others: the [directory]
# settings (uri, the DNs under DC=example,DC=com, bind_dn, the secret and
# CA files), the file of [totp] key_file, the folders and the user the
# daemon runs as, the metrics port off, and the mail command (a sink in
# $tmp, as the machine's sendmail is not the test's). Policy, methods and
# the [totp] attribute are the shipped ones.
#
# As shipped (no SMS gateway): carol, a Domain Admin, has only her mail;
# status says she is short of a second method and the report lists her.
# She registers the authenticator app (its code computed from the otpauth
# URI by Python's standard library, not by ssprd), then resets with email
# + app; the app's code used again is refused. With an SMS command added
# (the one thing a site with a gateway adds), bob registers email, mobile
# and the app in one request and confirms each. The report then counts
# exactly that. With reconfirm_days, status and the report say who is due,
# and register {"reconfirm":true} clears it.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

[ -x /usr/bin/python3 ] || skip_all "no /usr/bin/python3"
with_samba shipped-ad

key=$tmp/totp.key
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key"; echo >>"$key")
chown nobody "$key"
mail=$tmp/mail sms=$tmp/sms
conf=$tmp/ssprd.ini
log=$tmp/daemon.log
sed -e "s|DC=example,DC=com|$BASE_DN|g" \
	-e "s|^uri = .*|uri = $LDAPS_URI|" \
	-e "s|^bind_dn = .*|bind_dn = $SVC_DN|" \
	-e "s|^bind_password_file = .*|bind_password_file = $SVC_PASSWORD_FILE|" \
	-e "0,/^;ca_file =/s|^;ca_file =.*|ca_file = $CA_FILE|" \
	-e "s|^key_file = .*|key_file = $key|" \
	-e "s|^;queue_dir = .*|queue_dir = $tmp/queue|" \
	-e "s|^;state_dir = .*|state_dir = $tmp/state|" \
	-e "s|^;metrics = .*|metrics =|" \
	-e "s|^;user = .*|user = nobody|" \
	-e "s|^;command = /usr/sbin/sendmail.*|command = $FIXTURES/mailsink.sh $mail|" \
	"$SRCDIR/config/ssprd.ini.example" >"$conf"
# every setting the copy changes is one a site fills in
changed=$(diff "$SRCDIR/config/ssprd.ini.example" "$conf" | sed -n 's/^> \([a-z_]*\) =.*/\1/p' | sort | tr '\n' ' ')
check "the copy changes only the site's settings ($changed)" [ "$changed" = \
	"admin_groups base_dn bind_dn bind_password_file ca_file command key_file metrics queue_dir state_dir uri user " ]

"$SSPRD" -t -c "$conf" >"$tmp/t.out" 2>"$tmp/t.err"
check "ssprd -t accepts it" grep -qF "configuration OK" "$tmp/t.out"
check "...without the warning that administrators cannot reset" \
	not_grep -q "admins cannot reset" "$tmp/t.err"
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
binds() { ldapsearch -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") -b "" -s base </dev/null >/dev/null 2>&1; }
status() { sub "{\"v\":1,\"op\":\"status\",\"user\":\"$1\",\"password\":\"$2\"}"; }
# report: ssprctl report --json beside the running daemon, as root (the
# state it reads is the daemon's user's)
report() { "$SSPRCTL" -c "$conf" report --json >"$tmp/report.json" 2>"$tmp/report.err"; }
rget() { /usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k] if not isinstance(v, list) else [x[k] for x in v]
print(json.dumps(v, separators=(",", ":"), sort_keys=True))' "$tmp/report.json" "$1"; }
# a code of the app no request used yet: this step's, or the next one's
fresh() {
	local off=0
	[ "$(app "$1" 0 step)" -le "${2:-0}" ] && off=1
	app "$1" "$off"
}

admin=$USER3 admin_dn=$USER3_DN pw=$USER3_PASSWORD

# --- as shipped: an administrator with only a mail address -----------------------
a=$(status "$admin" "$pw")
expect "status of a Domain Admin: ok" "$a" status ok
expect "...registered: email" "$a" registered '["email"]'
expect "...offered: email and totp (no SMS gateway)" "$a" offered '["email","totp"]'
expect "...two methods required" "$a" required 2
expect "...not enough" "$a" enough false
expect "...never confirmed" "$a" confirmed_at null
check "...a wrong password: wrong-password" \
	grep -q '"reason":"wrong-password"' <<<"$(status "$admin" "wrong-$$")"
check "...an unknown user: the same" \
	grep -q '"reason":"wrong-password"' <<<"$(status "nosuchuser$$" "$pw")"
report
check "the report runs beside the daemon" [ -s "$tmp/report.json" ]
check "...and lists carol below admin_methods_required" \
	grep -q "\"$admin\"" <<<"$(rget admins.below_required.name)"

# --- carol registers the app and resets with email + app --------------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$admin\",\"password\":\"$pw\",\"totp\":true}")
expect "register the app: totp pending" "$a" pending '["totp"]'
uri=$(jget "$a" totp_uri)
t=$(jget "$a" ticket)
code=$(fresh "$uri")
used=$(app "$uri" 0 step)
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "confirm with the app's code" "$a" confirmed '["totp"]'
check "...the sealed secret is in $CLOUD_TOTP_ATTR" bash -c "ldapsearch -LLL -o ldif-wrap=no -x \
	-H '$LDAPS_URI' -D '$SVC_DN' -y '$SVC_PASSWORD_FILE' -b '$admin_dn' -s base \
	'(objectClass=*)' '$CLOUD_TOTP_ATTR' </dev/null | grep -q '^$CLOUD_TOTP_ATTR: {\"v\":1'"
a=$(status "$admin" "$pw")
expect "status: email and totp registered" "$a" registered '["email","totp"]'
expect "...enough" "$a" enough true
check "...confirmed just now" [ -n "$(jget "$a" confirmed_at)" ]

a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$admin\",\"method\":\"email\"}")
expect "reset: start by email" "$a" status ok
t=$(jget "$a" ticket)
ecode=$(last_code "$mail")
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$admin\",\"method\":\"totp\",\"ticket\":\"$t\"}")
expect "...and by app on the same ticket" "$a" ticket "$t"
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$ecode\"}")
expect "...the email code: one more needed" "$a" remaining 1
code=$(fresh "$uri" "$used")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "...the app's code: none remaining" "$a" remaining 0
newpw="Shipped-Admin-$$-Pw"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"$newpw\"}")
expect "...reset: ok" "$a" status ok
check "carol binds with the new password" binds "$admin_dn" "$newpw"

a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$admin\",\"method\":\"totp\"}")
t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "the app's code used again, on a new ticket: bad-code" "$a" reason bad-code

# --- a site with an SMS gateway: bob registers all three ------------------------------
printf '[sms]\ncommand = %s %s\n' "$FIXTURES/mailsink.sh" "$sms" >>"$conf"
kill -HUP "$daemon_pid"
check "SIGHUP applies the [sms] command" \
	wait_for 10 log_has "$log" "config: reloaded $conf"
user=$USER2 user_pw=$USER2_PASSWORD
bmail=bob.recovery-$$@example.net bmobile=+905550002233
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$user_pw\",\"email\":\"$bmail\",\"mobile\":\"$bmobile\",\"totp\":true}")
expect "register email, mobile and app: all three pending" "$a" pending '["email","sms","totp"]'
t=$(jget "$a" ticket)
buri=$(jget "$a" totp_uri)
mcode=$(grep -o -E '[0-9]{6,12}' "$(grep -l "^To: $bmail" "$mail"/*.msg | tail -n 1)" | tail -n 1)
scode=$(last_code "$sms")
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$mcode\"}")
expect "confirm the mail code" "$a" confirmed '["email"]'
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$scode\"}")
expect "confirm the SMS code" "$a" confirmed '["email","sms"]'
a=$(sub "{\"v\":1,\"op\":\"confirm\",\"ticket\":\"$t\",\"code\":\"$(fresh "$buri")\"}")
expect "confirm the app's code" "$a" confirmed '["email","sms","totp"]'
expect "...nothing pending" "$a" pending '[]'
a=$(status "$user" "$user_pw")
expect "status of bob: all three registered" "$a" registered '["email","sms","totp"]'

# --- the report ---------------------------------------------------------------------
report
check "the report: exit 0" [ -s "$tmp/report.json" ]
expect_json() { local got; got=$(rget "$2"); check "$1 ($2 = $got)" [ "$got" = "$3" ]; }
expect_json "...two apps registered (carol, bob)" methods.totp.registered 2
expect_json "...one recovery address (bob)" methods.email.registered 1
expect_json "...one recovery mobile (bob)" methods.sms.registered 1
check "...carol no longer below admin_methods_required" \
	not_grep -q "\"$admin\"" <<<"$(rget admins.below_required.name)"
check "...Administrator (no mail, no app) still is" \
	grep -q '"Administrator"' <<<"$(rget admins.below_required.name)"
expect_json "...no reconfirmation asked (reconfirm_days = 0)" reconfirm null

# --- reconfirmation --------------------------------------------------------------------
sed -i "s|^;reconfirm_days = 0|reconfirm_days = 30|" "$conf"
kill -HUP "$daemon_pid"
check "reconfirm_days = 30 applied" \
	wait_for 10 bash -c "[ \$(grep -c 'config: reloaded $conf' '$log') -ge 2 ]"
alice=$USER1 alice_pw=$USER1_PASSWORD
a=$(status "$alice" "$alice_pw")
expect "alice, never confirmed, mail only: due" "$a" reconfirm_due true
a=$(status "$user" "$user_pw")
expect "bob, just confirmed: not due" "$a" reconfirm_due false
report
due=$(rget reconfirm.users.name)
check "the report lists alice as due ($due)" grep -q "\"$alice\"" <<<"$due"
check "...not bob or carol" not_grep -q -e "\"$user\"" -e "\"$admin\"" <<<"$due"
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$alice\",\"password\":\"$alice_pw\",\"reconfirm\":true}")
expect "alice reconfirms: ok" "$a" status ok
expect "...no longer due" "$a" reconfirm_due false
report
check "...and the report no longer lists her" not_grep -q "\"$alice\"" <<<"$(rget reconfirm.users.name)"
ndue=$(/usr/bin/python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$due")
expect_json "...the due count one less" reconfirm.due "$((ndue - 1))"

check "no secret reached the log" not_grep -q -e "$newpw" -e "$code" "$log"
daemon_stop
finish
