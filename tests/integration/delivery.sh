#!/bin/bash
# delivery.sh - mail by SMTP and SMS through an HTTPS gateway, in process,
# against real servers on loopback (issue 18, parts 1 to 3): aiosmtpd with
# STARTTLS and AUTH required (tests/fixtures/smtpd.py), an HTTPS gateway
# stub (tests/fixtures/smsgw.py), both with the test CA, and slapd.
#
# Shown: codes and notices arrive over TLS with authentication, every
# message of the run on one SMTP session; a 451 is tried again and
# delivered, a 550 is not and the start answers internal; a relay that
# never speaks ends at the deadline; a certificate from another CA, and a
# server that offers no STARTTLS, are refused; smtps:// works; SMS leave as
# a Twilio-style form and as a generic JSON body, with their secret header,
# and a 503 is tried again. ssprd -t refuses plain SMTP to a non-loopback
# host and the other unsafe or ambiguous settings. No code, password or
# gateway secret reaches the log.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null ||
	skip_all "python3-aiosmtpd is not installed"
with_slapd delivery

pki=$tmp/pki
sh "$FIXTURES/ca.sh" "$pki" >/dev/null
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	fixture_cleanup
}
trap cleanup EXIT

# A server in the background; waits for DIR/ready.
serve() { # DIR SCRIPT ARGS...
	local dir=$1
	shift
	/usr/bin/python3 "$@" --dir "$dir" >"$dir.log" 2>&1 &
	pids+=($!)
	wait_for 30 test -e "$dir/ready"
}

smtp_pw='relay-Secret-Pw-81'
printf '%s\n' "$smtp_pw" >"$tmp/smtp.secret"
sms_token='c21zLXVzZXI6c21zLXRva2VuLTQ0'	# base64 of a made-up user:token
printf 'Authorization: Basic %s\n' "$sms_token" >"$tmp/sms.headers"
printf 'X-Api-Key: gw-key-9931\r\nX-Tenant: tenant-7\n' >"$tmp/sms-json.headers"
chmod 600 "$tmp"/smtp.secret "$tmp"/sms*.headers
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp"/smtp.secret "$tmp"/sms*.headers
secrets=("$smtp_pw" "$sms_token" gw-key-9931)

p_smtp=$(free_port) p_smtps=$(free_port) p_plain=$(free_port)
p_stall=$(free_port) p_sms=$(free_port)
srv="$FIXTURES/smtpd.py --cert $pki/server.pem --key $pki/server.key \
	--user relay --password-file $tmp/smtp.secret"
check "an SMTP server with STARTTLS and AUTH required starts" \
	serve "$tmp/smtp" $srv --port "$p_smtp" --tls starttls --control "$tmp/smtp.ctl"
check "an SMTPS server starts" serve "$tmp/smtps" $srv --port "$p_smtps" --tls smtps
check "a server without TLS starts" \
	serve "$tmp/plain" "$FIXTURES/smtpd.py" --port "$p_plain" --tls none
check "a relay that never speaks starts" \
	serve "$tmp/stall" "$FIXTURES/smtpd.py" --port "$p_stall" --stall
check "the HTTPS SMS gateway starts" serve "$tmp/sms" "$FIXTURES/smsgw.py" \
	--port "$p_sms" --cert "$pki/server.pem" --key "$pki/server.key" \
	--control "$tmp/sms.ctl"

conf=$tmp/ssprd.ini
# make_conf SMTP-URL [EMAIL-EXTRA [SMS-LINES]]; the SMS lines default to a
# Twilio-style gateway
twilio="url = https://127.0.0.1:$p_sms/2010-04-01/Accounts/AC0123/Messages.json
body = To={{number}}&From=%2B15550100999&Body={{text}}
header_file = $tmp/sms.headers"
make_conf() {
	write_ini "$conf.new" openldap "$LDAPS_URI" "" "smtp_url = $1
smtp_user = relay
smtp_password_file = $tmp/smtp.secret
ca_file = ${CA:-$pki/ca.pem}
helo = ssprd.test
max_connections = 1
timeout = ${TIMEOUT:-8}
${2:-}
[sms]
${3:-$twilio}
ca_file = $pki/ca.pem
timeout = 8
[policy]
allowed_groups = $ALLOWED_GROUP_DN
methods = email, sms
max_starts_per_hour = 100
max_starts_per_client_hour = 10000"
	sed -i '/^command = \/bin\/true$/d' "$conf.new"
	spool_ini "$conf.new"
	mv "$conf.new" "$conf"
}
log=$tmp/daemon.log
reload() {
	local n
	n=$(grep -c 'config: reloaded' "$log")
	kill -HUP "$daemon_pid"
	wait_for 20 bash -c "[ \$(grep -c 'config: reloaded' '$log') -gt $n ]"
}

# --- ssprd -t ---------------------------------------------------------------
bad() { # DESCRIPTION PATTERN SMTP-URL EXTRA [SMS]
	make_conf "$3" "$4" "${5:-}"
	"$SSPRD" -t -c "$conf" >"$tmp/t.out" 2>&1
	local rc=$?
	check "$1: ssprd -t refuses it" [ "$rc" -ne 0 ]
	check "...and says why ($2)" grep -qF -- "$2" "$tmp/t.out" || cat "$tmp/t.out"
}
bad "plain smtp:// to another host without STARTTLS" "in clear: only a loopback relay" \
	"smtp://192.0.2.25:25" "starttls = no"
bad "plain http:// for the SMS gateway" "url: must start with https://" \
	"smtp://127.0.0.1:$p_smtp" "" "url = http://127.0.0.1:$p_sms/send
body = to={{number}}&text={{text}}"
bad "a JSON body that is not JSON" "body is not JSON" "smtp://127.0.0.1:$p_smtp" "" \
	"url = https://127.0.0.1:$p_sms/send
body_type = json
body = {\"to\": {{number}}, \"text\": \"{{text}}\"}"
bad "both a command and smtp_url" "two ways of sending mail" \
	"smtp://127.0.0.1:$p_smtp" "command = /bin/cat"
bad "a password in the URL" "may not hold a user name or password" \
	"smtps://relay:pw@127.0.0.1:$p_smtps" ""
make_conf "smtp://127.0.0.1:$p_plain" "starttls = no"
check "starttls = no to a loopback relay: accepted" "$SSPRD" -t -c "$conf"

# --- codes and notices by SMTP ------------------------------------------------
make_conf "smtp://127.0.0.1:$p_smtp"
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
sub() { submit "$conf" "$1"; }
mbox=$tmp/smtp
newest() { ls -1 "$1"/*."$2" 2>/dev/null | sort | tail -n 1; }
envget() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if isinstance(v,str) else json.dumps(v))' "$(newest "$mbox" env)" "$1"; }

a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start by email over SMTP: ok" "$a" status ok
ticket=$(jget "$a" ticket)
code=$(last_code "$mbox")
secrets+=("$code")
check "the code arrived at the SMTP server ($code)" [ -n "$code" ]
check "...over TLS (STARTTLS)" [ "$(envget tls)" = true ]
check "...authenticated as relay" [ "$(envget auth)" = relay ]
check "...to alice's address" [ "$(envget rcpt_tos)" = "[\"$USER1_MAIL\"]" ]
check "...from [email] from's address" [ "$(envget mail_from)" = "ssprd@localhost" ]
msg=$(newest "$mbox" msg)
check "...the template's headers: To, Subject, Auto-Submitted, MIME" bash -c \
	"grep -q '^To: $USER1_MAIL' '$msg' && grep -q '^Subject: ' '$msg' &&
	 grep -q '^Auto-Submitted: auto-generated' '$msg' && grep -q '^MIME-Version: 1.0' '$msg'"
check "...every line ends in CRLF, as SMTP wants" /usr/bin/python3 -c '
import sys; d = open(sys.argv[1], "rb").read()
sys.exit(0 if d.count(b"\n") > 3 and d.count(b"\n") == d.count(b"\r\n") else 1)' "$msg"
pw1='Delivered-By-Smtp-2026'
secrets+=("$pw1")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"code\":\"$code\",\"new_password\":\"$pw1\"}")
expect "reset with the mailed code: ok" "$a" status ok
check "the notice arrived by SMTP too" wait_for 20 bash -c \
	"grep -l 'password was reset' '$mbox'/*.msg | grep -q ."
for u in bob carol erin zoe; do
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\"}")
	[ "$(jget "$a" status)" = ok ] || not_ok "start $u: $a"
	secrets+=("$(last_code "$mbox")")
done
n=$(ls -1 "$mbox"/*.msg | wc -l)
sessions=$(cat "$mbox"/*.env | /usr/bin/python3 -c '
import json, re, sys
print(len({json.loads(x)["session"] for x in re.findall(r"\{[^}]*\}", sys.stdin.read())}))')
check "$n messages, all on one SMTP session (max_connections = 1): $sessions session(s)" \
	test "$n" -ge 6 -a "$sessions" -eq 1

# --- temporary and permanent refusals -----------------------------------------
echo 451 >"$tmp/smtp.ctl"
before=$(ls -1 "$mbox"/*.msg | wc -l)
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
expect "a 451 first: tried again, the start is ok" "$a" status ok
check "...the message arrived on the second try" [ "$(ls -1 "$mbox"/*.msg | wc -l)" -eq $((before + 1)) ]
check "...the log says it tries again" log_has "$log" "SMTP 451"
secrets+=("$(last_code "$mbox")")
echo 550 >"$tmp/smtp.ctl"
a=$(sub '{"v":1,"op":"start","user":"carol","method":"email"}')
expect "a 550: not tried again, the start answers internal" "$a" reason internal
check "...the log names the refusal" log_has "$log" "SMTP 550"

# --- SMS, Twilio-style form ---------------------------------------------------
reqget() { /usr/bin/python3 -c '
import json, sys
from urllib.parse import parse_qs
r = json.load(open(sys.argv[1]))
k = sys.argv[2]
if k.startswith("form."):
    print(parse_qs(r["body"])[k[5:]][0])
elif k.startswith("json."):
    print(json.loads(r["body"])[k[5:]])
elif k.startswith("h."):
    print(r["headers"].get(k[2:], ""))
else:
    print(r[k])' "$(newest "$tmp/sms" req)" "$1"; }
export -f reqget newest
export tmp
a=$(sub '{"v":1,"op":"start","user":"alice","method":"sms"}')
expect "start by SMS through the gateway: ok" "$a" status ok
expect "...masked number" "$a" sent_to "+*********01"
ticket=$(jget "$a" ticket)
check "the gateway got a POST to the account's path" bash -c \
	"[ \"\$(reqget method)\" = POST ] && [ \"\$(reqget path)\" = /2010-04-01/Accounts/AC0123/Messages.json ]"
check "...form-encoded" [ "$(reqget h.content-type)" = application/x-www-form-urlencoded ]
check "...with the secret header from header_file" [ "$(reqget h.authorization)" = "Basic $sms_token" ]
check "...To is alice's number, decoded back exactly" [ "$(reqget form.To)" = "$USER1_MOBILE" ]
check "...From as the template has it" [ "$(reqget form.From)" = "+15550100999" ]
code=$(reqget form.Body | grep -o -E '[0-9]{6,12}' | tail -n 1)
secrets+=("$code")
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "the code from the SMS verifies" "$a" verified '["sms"]'
echo 503 >"$tmp/sms.ctl"
before=$(ls -1 "$tmp/sms"/*.req | wc -l)
a=$(sub '{"v":1,"op":"start","user":"bob","method":"sms"}')
expect "a 503 first: tried again, the start is ok" "$a" status ok
check "...two requests reached the gateway" [ "$(ls -1 "$tmp/sms"/*.req | wc -l)" -eq $((before + 2)) ]
secrets+=("$(reqget form.Body | grep -o -E '[0-9]{6,12}' | tail -n 1)")
echo 400 >"$tmp/sms.ctl"
a=$(sub '{"v":1,"op":"start","user":"carol","method":"sms"}')
expect "a 400: not tried again, internal" "$a" reason internal
check "...the log has the status, not the gateway's answer" bash -c \
	"grep -q 'HTTP status 400' '$log' && ! grep -q 'queued' '$log'"

# --- SMS, a generic JSON gateway ----------------------------------------------
make_conf "smtp://127.0.0.1:$p_smtp" "" "url = https://127.0.0.1:$p_sms/v1/messages
method = PUT
body_type = json
body = {\"to\": \"{{number}}\", \"message\": \"{{text}}\", \"tag\": \"ssprd\"}
header_file = $tmp/sms-json.headers"
check "reload: a JSON gateway" reload
a=$(sub '{"v":1,"op":"start","user":"erin","method":"sms"}')
expect "start by SMS as JSON: ok" "$a" status ok
check "...a PUT of application/json with both header lines of the file" bash -c \
	"[ \"\$(reqget method)\" = PUT ] && [ \"\$(reqget h.content-type)\" = application/json ] &&
	 [ \"\$(reqget h.x-api-key)\" = gw-key-9931 ] && [ \"\$(reqget h.x-tenant)\" = tenant-7 ]"
txt=$(reqget json.message)
check "...the JSON parses and the text holds the code" bash -c \
	"printf '%s' \"\$1\" | grep -q -E '[0-9]{6,12}'" _ "$txt"
check "...the template's other field as written" [ "$(reqget json.tag)" = ssprd ]
check "...to erin's number" [ "$(reqget json.to)" = "$USER6_MOBILE" ]
secrets+=("$(printf '%s' "$txt" | grep -o -E '[0-9]{6,12}' | tail -n 1)")

# --- [email] notify: the notices the admin chose --------------------------------
make_conf "smtp://127.0.0.1:$p_smtp" "notify = reset, unlock, register"
check "reload: notify without change" reload
notices() { grep -l 'password was changed' "$mbox"/*.msg 2>/dev/null | wc -l; }
before=$(notices)
pw2='Changed-By-Rob-2026-x'
secrets+=("$pw2" "$USER2_PASSWORD")
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"bob\",\"old_password\":\"$USER2_PASSWORD\",\"new_password\":\"$pw2\"}")
expect "bob changes his own password: ok" "$a" status ok
# With one session, messages leave in order: once a later code is in, a
# notice sent before it would be too.
a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
code=$(last_code "$mbox")
secrets+=("$code")
check "...no notice for a change (a later code arrived, no notice before it)" \
	bash -c "[ -n '$code' ] && [ \$(grep -l 'password was changed' '$mbox'/*.msg 2>/dev/null | wc -l) -eq $before ]"
make_conf "smtp://127.0.0.1:$p_smtp"
check "reload: notify with every event (the default)" reload
pw3='Changed-Again-Rob-2026-y'
secrets+=("$pw3")
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"bob\",\"old_password\":\"$pw2\",\"new_password\":\"$pw3\"}")
expect "bob changes it again: ok" "$a" status ok
check "...and now the notice comes" wait_for 20 bash -c \
	"[ \$(grep -l 'password was changed' '$mbox'/*.msg 2>/dev/null | wc -l) -gt $before ]"

# --- transport failures: deadline, certificate, no STARTTLS; smtps works -----
# Only the CA differs from the settings that just delivered: the session
# they verified must not be reused.
CA=$pki/other-ca.pem make_conf "smtp://127.0.0.1:$p_smtp"
check "reload: trusting another CA" reload
before=$(ls -1 "$mbox"/*.msg | wc -l)
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "a certificate that does not verify: refused, internal" "$a" reason internal
check "...nothing reached the server" [ "$(ls -1 "$mbox"/*.msg | wc -l)" -eq "$before" ]
check "...the log says the certificate did not verify" bash -c \
	"grep 'sending the code failed' '$log' | tail -n 1 | grep -qi 'certificate'"
TIMEOUT=3 make_conf "smtp://127.0.0.1:$p_stall"
check "reload: a relay that never speaks, timeout 3 s" reload
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "the start answers internal after the deadline" "$a" reason internal
check "...the log says no delivery within 3 s" log_has "$log" "no delivery within 3 s"
make_conf "smtp://127.0.0.1:$p_plain"
check "reload: a server that offers no STARTTLS" reload
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "no STARTTLS on offer: refused, internal" "$a" reason internal
check "...the log says why" bash -c \
	"grep 'sending the code failed' '$log' | tail -n 1 | grep -q 'STARTTLS'"
check "...nothing reached it" [ -z "$(ls "$tmp/plain"/*.msg 2>/dev/null)" ]
make_conf "smtps://127.0.0.1:$p_smtps"
check "reload: smtps://" reload
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "over smtps://: ok" "$a" status ok
check "...the code arrived over TLS" bash -c "grep -q '\"tls\": true' \$(ls -1 '$tmp/smtps'/*.env | tail -n 1)"
secrets+=("$(last_code "$tmp/smtps")")

# --- nothing secret in the log ------------------------------------------------
leaked=0
for s in "${secrets[@]}"; do
	[ -n "$s" ] && grep -qF -- "$s" "$log" && { leaked=1; echo "# leaked: $s"; }
done
check "no code, password or gateway secret in the log (${#secrets[@]} checked)" [ "$leaked" -eq 0 ]
check "ssprd stops cleanly" daemon_stop
finish
