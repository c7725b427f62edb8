#!/bin/bash
# languages.sh - a request's "lang" picks the language of what ssprd sends
# (issue 16, item 4, ssprd's half): Turkish codes by mail and SMS and a
# Turkish notice for "tr-TR", English without lang and for a language
# ssprd has no texts in. Mail subjects that are not ASCII arrive as RFC 2047
# encoded words, which Python's email package (not ssprd's code) decodes.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd languages

mail=$tmp/mail sms=$tmp/sms
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "
[policy]
methods = email, sms
max_starts_per_hour = 50
min_length = 12
[sms]
command = $FIXTURES/mailsink.sh $sms"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
newest() { ls -1 "$1"/*.msg 2>/dev/null | sort | tail -n 1; }
# subject FILE: the decoded Subject of a message as the mail sink took it
subject() {
	/usr/bin/python3 -c '
import sys
from email import message_from_binary_file, policy
m = message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
print(m["Subject"])' "$1"
}
# ascii_headers FILE: every header line is ASCII
ascii_headers() { sed '/^$/q' "$1" | LC_ALL=C grep -q -P '[^\x00-\x7f]' && return 1; return 0; }
user=$USER1

nm=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"email\",\"lang\":\"tr-TR\"}")
expect "start by email with lang tr-TR: ok" "$a" status ok
t=$(jget "$a" ticket)
wait_for 10 bash -c "[ \$(ls -1 $mail/*.msg 2>/dev/null | wc -l) -gt $nm ]"
m=$(newest "$mail")
check "the code's subject is Turkish ($(subject "$m"))" [ "$(subject "$m")" = "Parola sıfırlama kodunuz" ]
check "...sent as encoded words: every header line is ASCII" ascii_headers "$m"
check "...the body is Turkish" grep -q "^parola sıfırlama kodunuz: [0-9]*$" "$m"
code=$(last_code "$mail")

a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\",\"lang\":\"tr\"}")
expect "verify: ok" "$a" status ok
nm=$(msg_count "$mail")
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"Dil-Testi-Parola-26\",\"lang\":\"tr\"}")
expect "reset with lang tr: ok" "$a" status ok
check "a notice comes" wait_for 10 bash -c "[ \$(ls -1 $mail/*.msg 2>/dev/null | wc -l) -gt $nm ]"
m=$(newest "$mail")
check "...in Turkish ($(subject "$m"))" [ "$(subject "$m")" = "Hesabınızda işlem: parola sıfırlandı" ]
check "...its body too" grep -q "^parola sıfırlandı.$" "$m"

nm=$(msg_count "$sms")
a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"sms\",\"lang\":\"tr\"}")
expect "start by SMS with lang tr: ok" "$a" status ok
check "the SMS is Turkish" wait_for 10 bash -c "grep -q 'parola sıfırlama kodunuzdur' \$(ls -1 $sms/*.msg | sort | tail -n 1)"

for lang in "" de; do
	body=${lang:+,\"lang\":\"$lang\"}
	nm=$(msg_count "$mail")
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"email\"$body}")
	wait_for 10 bash -c "[ \$(ls -1 $mail/*.msg 2>/dev/null | wc -l) -gt $nm ]"
	m=$(newest "$mail")
	check "lang '${lang}': English ($(subject "$m"))" [ "$(subject "$m")" = "Your password reset code" ]
done

a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"email\",\"lang\":\"tr_TR\"}")
expect "a malformed lang: bad-request" "$a" reason bad-request

daemon_stop
finish
