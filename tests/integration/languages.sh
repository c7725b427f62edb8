#!/bin/bash
# languages.sh - a request's "lang" picks the language of what ssprd sends
# (issue 16, item 4, ssprd's half): Turkish codes by mail and SMS and a
# Turkish notice for "tr-TR", English without lang and for a language
# ssprd has no texts in. Mail subjects that are not ASCII arrive as RFC 2047
# encoded words, which Python's email package (not ssprd's code) decodes.
# Then [daemon] templates_dir: the admin's texts per language folder.
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

# --- [daemon] templates_dir: the admin's own texts per language -------------
# The shipped Turkish folder copied and edited, a German folder added:
# each language gets its own, others fall back to English. The daemon
# reads the folder once, at load: a reload with a broken file is refused
# and the texts in force stay.
tpl=$tmp/templates
mkdir -p "$tpl/tr" "$tpl/de"
cp "$SRCDIR"/config/templates/tr/*.txt "$tpl/tr/"
sed -i 's/^Subject: .*/Subject: Kurum parola kodu/' "$tpl/tr/email-code.txt"
printf 'Subject: Ihr Code\n\nHallo {{user}}, Ihr Code: {{code}} ({{minutes}} Minuten).\n' \
	>"$tpl/de/email-code.txt"
chmod -R go+rX "$tpl"
sed -i "s|^\[daemon\]$|[daemon]\ntemplates_dir = $tpl|" "$conf"
check "ssprd -t accepts the templates folder" "$SSPRD" -t -c "$conf"
kill -HUP "$daemon_pid"
check "...and the daemon reloads with it" wait_for 60 log_has "$log" "config: reloaded"

# mail_for LANG: the subject of the code mail a start with lang LANG brings
mail_for() {
	local n
	n=$(msg_count "$mail")
	sub "{\"v\":1,\"op\":\"start\",\"user\":\"$user\",\"method\":\"email\",\"lang\":\"$1\"}" >/dev/null
	wait_for 60 bash -c "[ \$(ls -1 $mail/*.msg 2>/dev/null | wc -l) -gt $n ]"
	subject "$(newest "$mail")"
}
got=$(mail_for tr)
check "lang tr: the folder's Turkish text ($got)" [ "$got" = "Kurum parola kodu" ]
got=$(mail_for de-AT)
check "lang de-AT: the German folder's text ($got)" [ "$got" = "Ihr Code" ]
check "...with its placeholders filled" grep -q "^Hallo $user, Ihr Code: [0-9]* (10 Minuten).$" "$(newest "$mail")"
got=$(mail_for fr)
check "lang fr, no folder: English ($got)" [ "$got" = "Your password reset code" ]

# the front end's own copy: ssprctl reads queue_dir from a file too, and
# must go on working while the daemon's file is broken
grep -v '^templates_dir' "$conf" >"$tmp/front.ini"
sub() { submit "$tmp/front.ini" "$1"; }
printf 'Subject: Ihr Code\n\nkein Code\n' >"$tpl/de/email-code.txt"
out=$("$SSPRD" -t -c "$conf" 2>&1)
check "a German text without {{code}}: ssprd -t names the file" \
	grep -q "$tpl/de/email-code.txt template must contain {{code}}" <<<"$out"
kill -HUP "$daemon_pid"
check "...a reload is refused" wait_for 60 log_has "$log" "reload refused"
got=$(mail_for de)
check "...and the German text in force stays ($got)" [ "$got" = "Ihr Code" ]

daemon_stop
finish
