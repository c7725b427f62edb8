#!/bin/bash
# web-browser.sh - ssprweb in a real browser (issue 16): headless Chromium,
# driven through WebDriver (Debian's chromium-driver and python3-selenium),
# against ssprweb + ssprd + the slapd fixture, with JavaScript on and off,
# in English and Turkish.
#
# tests/web/browser.py walks every flow as a person would (reset by email,
# by SMS, by security questions and by authenticator app; an
# administrator's two methods; unlock; change; registration of questions,
# a recovery address, a mobile number and an app with their codes), checks
# what the directory holds afterwards, that an unknown user sees the same
# pages as a real one, the security headers and cookie, and that a form
# without its CSRF token does nothing. Screenshots of every step go to
# $WEB_SHOTS (default: tests/web-shots/ in the build tree, kept as artifacts).
#
# WEB_ON=ad (web-browser-ad.sh) runs the reset flows against Samba AD
# instead, so the portal meets unicodePwd: by email without JavaScript in
# English, with it in Turkish, and an unknown user.
# WEB_SERVE=1 starts everything and waits (for a look at the pages by hand).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

SSPRWEB=${SSPRWEB:-$(dirname "$SSPRD")/ssprweb}
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
	skip_all "chromium and chromium-driver are not installed"
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	skip_all "python3-selenium is not installed"

if [ "${WEB_ON:-openldap}" = ad ]; then
	with_samba web-ad
	conf=$tmp/ssprd.ini
	write_ini "$conf" ad "$LDAPS_URI" "" "[policy]
allowed_groups = $GROUP_DN
admin_groups = $ADMIN_GROUP_DN
methods = email
min_length = 12
max_starts_per_hour = 100
max_starts_per_client_hour = 1000
lockout_failures = 50"
	# USER2's own rules: a fine-grained policy of 20 characters, which
	# the password step must show instead of everyone's 12
	check "a PSO (min length 20) for $USER2, readable by the service account" \
		ad_pso strict 20 "$USER2"
	export BROWSER_FLOWS=ad
else
with_slapd web
conf=$tmp/ssprd.ini
key=$tmp/totp.key
openssl rand -hex 32 >"$key"
chmod 600 "$key"
[ "$(id -u)" -ne 0 ] || chown nobody "$key"
printf '%s\n' "First pet?" "Street you grew up on?" "Favourite teacher?" \
	"City you were born in?" >"$tmp/questions.txt"
chmod 644 "$tmp/questions.txt"
write_ini "$conf" openldap "$LDAPS_URI" "" "recovery_attribute = $RECOVERY_MAIL_ATTR
[policy]
methods = email, sms, questions, totp
allowed_groups = $ALLOWED_GROUP_DN
admin_groups = $ADMINS_GROUP_DN
admin_methods = email, sms, totp
min_length = 12
max_starts_per_hour = 100
max_starts_per_client_hour = 1000
lockout_failures = 50
[sms]
command = $FIXTURES/mailsink.sh $tmp/sms
recovery_attribute = $RECOVERY_MOBILE_ATTR
[questions]
attribute = $QUESTIONS_ATTR
required = 3
choices = $tmp/questions.txt
[totp]
attribute = $TOTP_ATTR
key_file = $key
issuer = Example Corp"
fi
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

# ssprweb: its own session key, a logo, a free port; as the front end's
# user (nobody when the tests run as root, like ssprctl submit)
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
wkey=$tmp/ssprweb.key
openssl rand -hex 32 >"$wkey"
chmod 600 "$wkey"
cat >"$tmp/logo.svg" <<'SVG'
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="18" fill="#f0a500"/></svg>
SVG
wconf=$tmp/ssprweb.ini
cat >"$wconf" <<INI
[web]
listen = 127.0.0.1:$port
queue_dir = $tmp/queue
base_url = http://localhost:$port/
organisation = Example Corp
logo = $tmp/logo.svg
help_url = https://help.example.org/password
session_key_file = $wkey
data_dir = $SRCDIR/web
requests_per_minute = 0
INI
# (setpriv execs, so $! is ssprweb itself and gets the signals)
as_web=()
[ "$(id -u)" -ne 0 ] ||
	as_web=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --)
[ "$(id -u)" -ne 0 ] || chown nobody "$wkey"
check "ssprweb -t accepts the configuration" "${as_web[@]}" "$SSPRWEB" -t -c "$wconf"
wlog=$tmp/ssprweb.log
"${as_web[@]}" "$SSPRWEB" -c "$wconf" 2>>"$wlog" &
web_pid=$!
trap 'kill $web_pid 2>/dev/null; fixture_cleanup' EXIT
if ! wait_for 60 log_has "$wlog" "ssprweb: ready"; then
	not_ok "ssprweb starts"
	cat "$wlog"
	finish
	exit 1
fi
ok "ssprweb starts"

export WEB_URL=http://localhost:$port MAIL_DIR=$tmp/mail SMS_DIR=$tmp/sms
# kept after the run as the test's artifacts (make clean removes them)
export WEB_SHOTS=${WEB_SHOTS:-$PWD/tests/web-shots/${WEB_ON:-openldap}}
rm -rf "$WEB_SHOTS"
mkdir -p "$WEB_SHOTS"
echo "# screenshots: $WEB_SHOTS"
if [ -n "${WEB_SERVE:-}" ]; then
	echo "# serving on $WEB_URL (tmp $tmp); Ctrl-C ends"
	wait "$web_pid"
fi

/usr/bin/python3 "$SRCDIR/tests/web/browser.py" >"$tmp/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "${line#PASS }" ;;
	"FAIL "*) not_ok "${line#FAIL }" ;;
	*) echo "# $line" ;;
	esac
done <"$tmp/browser.out"
[ "$rc" -eq 0 ] || not_ok "browser.py ends cleanly (exit $rc)"

check "no password, code or otpauth secret in ssprweb's log" not_grep \
	-E 'Harbor|Lantern|otpauth|secret=' "$wlog"
kill -TERM "$web_pid"
wait "$web_pid"
check "ssprweb stops cleanly on SIGTERM" [ $? -eq 0 ]
daemon_stop
finish
