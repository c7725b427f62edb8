#!/bin/bash
# systemd-real.sh - the installed unit under a real systemd.
#
# A systemd booted as PID 1 of namespaces of its own (pid, mount, uts, ipc,
# cgroup) in a cgroup of its own, on an overlay of / whose changes live in a
# tmpfs: nothing it does reaches the host's files, units or cgroups. The
# network namespace is the host's, so the slapd fixture on the loopback is
# reachable. Inside: the tree `make install` makes, the users and folders
# its sysusers.d and tmpfiles.d files make, a configuration in the place
# the unit names, the bind secret in /etc/ssprd owned by the service user.
#
# Then: the unit starts and becomes active once ssprd says READY=1
# (Type=notify), sandboxed as the unit says; a reset goes through the spool
# as a front end (a member of ssprd-submit) sends it; `systemctl reload`
# with a broken file fails and leaves the daemon running on the old
# configuration; with a good file it succeeds and the new one is in force.
# At the end (also on failure) the system is powered off, or killed, and
# its cgroup removed; if this script itself is killed, the system dies with
# it. Every wait polls with a generous deadline: only states are checked,
# never how long they took.
#
# Skipped unless root, with /lib/systemd/systemd, a cgroup2 hierarchy we may
# make a cgroup in, and an unshare and overlay of / that work; and for a
# sanitizer build, which the unit's sandbox cannot host (see below).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$FIXTURES/sdbox.sh"

sdbox_usable || skip_all "$sdbox_why"
builddir=$(cd "$(dirname "$SSPRD")" && pwd)
[ -f "$builddir/Makefile" ] || skip_all "no build tree next to $SSPRD"
# LeakSanitizer stops the process with ptrace at exit, which the unit's
# system call filter refuses: every `ssprd -t` of ExecReload= would fail,
# and reports would go to the journal, not where the sanitizer run looks.
grep -qa -e __asan_init -e __ubsan_handle "$SSPRD" &&
	skip_all "ssprd is built with sanitizers, which the unit's sandbox stops"
# The unit hides /home, /root and /run/user (ProtectHome=) and /tmp
# (PrivateTmp=) from ssprd: a prefix there (make distcheck in a home
# folder) cannot run under it.
exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$builddir/systemd/ssprd.service" 2>/dev/null)
case $exe in
/home/* | /root/* | /run/user/* | /tmp/* | /var/tmp/*)
	skip_all "ssprd installs to ${exe%/*}, hidden from the unit by ProtectHome= or PrivateTmp=" ;;
esac
with_slapd real
trap 'sdbox_down; fixture_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# --- the installed tree, and what the system inside needs -------------------
dest=$tmp/dest
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install \
	DESTDIR="$dest" >"$tmp/install.log" 2>&1
rc=$?
check "make install DESTDIR=... works" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { tail -n 20 "$tmp/install.log" | sed 's/^/# /'; finish; exit 1; }
# installed PATH-SUFFIX: the path of an installed file, as the system sees it.
installed() {
	local f
	f=$(find "$dest" -path "*/$1" \( -type f -o -type l \) | head -n 1)
	[ -n "$f" ] && echo "${f#"$dest"}"
}
unit=$(installed systemd/system/ssprd.service)
sysusers=$(installed sysusers.d/ssprd.conf)
tmpfiles=$(installed tmpfiles.d/ssprd-tmpfiles.conf)
if [ -z "$unit" ] || [ -z "$sysusers" ] || [ -z "$tmpfiles" ]; then
	not_ok "make install puts the unit, sysusers.d and tmpfiles.d files"
	finish
	exit 1
fi
# The unit names the binary and the configuration file.
read -r sbin_ssprd conf < <(sed -n 's/^ExecStart=\([^ ]*\) -c \([^ ]*\)$/\1 \2/p' "$dest$unit")
ssprctl=$(dirname "$sbin_ssprd")/ssprctl
if [ -n "$conf" ] && [ -x "$dest$sbin_ssprd" ]; then
	ok "the unit's ExecStart names the installed ssprd ($sbin_ssprd -c $conf)"
else
	not_ok "the unit's ExecStart names the installed ssprd and a file"
	grep '^ExecStart=' "$dest$unit" | sed 's/^/# /'
	finish
	exit 1
fi

# Secrets and the CA where an admin would put them; a mail sink in /usr
# (exec is allowed there) writing where the service may write.
mailbox=/run/ssprd/test-mail
sink=/usr/local/libexec/ssprd-test/mailsink.sh
mkdir -p "$dest/etc/ssprd" "$dest$(dirname "$conf")" "$dest$(dirname "$sink")"
install -m 0600 "$SVC_PASSWORD_FILE" "$dest/etc/ssprd/bind.secret"
install -m 0644 "$CA_FILE" "$dest/etc/ssprd/ca.pem"
install -m 0755 "$FIXTURES/mailsink.sh" "$dest$sink"
# conf_write MIN_LENGTH [EMAIL-LINES]: the configuration, min_length being
# how we tell one configuration from another through the policy answer.
conf_write() {
	cat >"$tmp/ssprd.ini" <<INI
[daemon]
metrics =
[directory]
type = openldap
uri = $LDAPS_URI
base_dn = $BASE_DN
bind_dn = $SVC_DN
bind_password_file = /etc/ssprd/bind.secret
ca_file = /etc/ssprd/ca.pem
timeout = 5
[policy]
min_length = $1
[email]
${2:-command = $sink $mailbox}
INI
}
conf_write 12
install -m 0644 "$tmp/ssprd.ini" "$dest$conf"
# The front end's own copy: ssprctl reads queue_dir from a file too, and
# must go on working while the daemon's file is broken.
front=/etc/ssprd-test/front.ini
install -D -m 0644 "$tmp/ssprd.ini" "$dest$front"

# --- boot -------------------------------------------------------------------
# ssprd.service and ssprweb.service are started by hand (tests/fixtures/sdbox.sh).
if sdbox_boot "$tmp/box" "$dest" ssprd.service ssprweb.service; then
	ok "systemd $(in_box systemctl --version | awk 'NR == 1 { print $2 }') boots as PID 1 of its namespaces"
else
	not_ok "systemd boots as PID 1 of its namespaces"
	finish
	exit 1
fi
in_box systemctl --failed --no-legend --plain 2>/dev/null | sed 's/^/# failed at boot: /'
check "...in a cgroup namespace rooted at its own cgroup" \
	[ "$(in_box sed -n 's/^0:://p' /proc/1/cgroup)" = /init.scope ]

# --- install, users, folders ------------------------------------------------
in_box systemd-sysusers "$sysusers" >"$tmp/sysusers.out" 2>&1
check "systemd-sysusers $sysusers" [ $? -eq 0 ]
in_box systemd-tmpfiles --create "$tmpfiles" >"$tmp/tmpfiles.out" 2>&1
check "systemd-tmpfiles --create $tmpfiles" [ $? -eq 0 ]
has_users() {
	in_box sh -c 'getent passwd ssprd && getent group ssprd-submit' >/dev/null 2>&1
}
check "the user ssprd and the group ssprd-submit exist" has_users
in_box chown ssprd:ssprd /etc/ssprd/bind.secret
# A prefix systemd does not search (make distcheck's): link the unit in.
if grep -qxF "$(dirname "$unit")" <<<"$(in_box systemd-analyze --system unit-paths)"; then
	frag=$(in_box systemctl show -P FragmentPath ssprd)
	check "systemctl finds the unit where make install put it ($frag)" \
		[ "$frag" = "$unit" ]
else
	link_unit() { in_box systemctl link "$unit" >/dev/null 2>&1; }
	check "systemctl link $unit (not in systemd's search path)" link_unit
fi

# --- start --------------------------------------------------------------------
# prop NAME: a property of the unit.
prop() {
	in_box systemctl show -P "$1" ssprd 2>/dev/null
}
in_box systemctl start ssprd >"$tmp/start.out" 2>&1
rc=$?
check "systemctl start ssprd: exit 0" [ "$rc" -eq 0 ]
if [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; then
	ok "the unit is active (running)"
else
	not_ok "the unit is active (running) (got $(prop ActiveState)/$(prop SubState))"
	sed 's/^/# /' "$tmp/start.out"
	sdbox_diag
	finish
	exit 1
fi
text=$(prop StatusText)
check "...after READY=1: its status text is ssprd's ($text)" [ "${text%%:*}" = ready ]
main=$(prop MainPID)
st=/proc/$(box_main_pid ssprd.service)/status
# st_is KEY VALUE: the main process's status line KEY has VALUE.
st_is() {
	[ -n "$st" ] && [ "$(awk -v k="$1:" '$1 == k { print $2 }' "$st")" = "$2" ]
}
check "it runs as ssprd" st_is Uid "$(in_box id -u ssprd)"
check "...with no capabilities" st_is CapEff 0000000000000000
check "...under a seccomp filter" st_is Seccomp 2
check "...and no_new_privs" st_is NoNewPrivs 1

# --- one reset through the spool -------------------------------------------------
# sub JSON: the answer to a request, sent as a front end: nobody, in
# ssprd-submit, without capabilities.
sub() {
	printf '%s' "$1" | in_box setpriv --reuid=nobody --regid=nogroup \
		--groups=ssprd-submit --inh-caps=-all --bounding-set=-all \
		"$ssprctl" -c "$front" submit --wait "${SUBMIT_WAIT:-30}"
}
mail=/proc/$box/root$mailbox
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice: ok" "$a" status ok
ticket=$(jget "$a" ticket)
has_mail() { ls "$mail"/*.msg >/dev/null 2>&1; }
wait_for 20 has_mail
code=$(last_code "$mail")
check "the code arrived through the email command" [ -n "$code" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$ticket\",\"code\":\"$code\"}")
expect "verify: email verified" "$a" verified '["email"]'
pw=New-Real-Systemd-Pass-7
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$ticket\",\"new_password\":\"$pw\"}")
expect "reset: ok" "$a" status ok
binds() {
	ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1
}
check "alice binds with the new password" binds "$USER1_DN" "$pw"

# --- ssprweb, the portal, under its own unit --------------------------------------
# Its user (sysusers: ssprweb in ssprd-submit), its key and configuration
# where an admin puts them, then: the unit starts sandboxed, serves pages,
# passes a form through ssprd's spool, and cannot see ssprd's state or
# secrets even where file modes would let it.
web_unit=$(installed systemd/system/ssprweb.service)
web_sysusers=$(installed sysusers.d/ssprweb.conf)
read -r sbin_web web_conf < <(sed -n 's/^ExecStart=\([^ ]*\) -c \([^ ]*\)$/\1 \2/p' "$dest$web_unit")
web_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[web]\nlisten = 127.0.0.1:%s\norganisation = Real systemd test\n' "$web_port" \
	>"/proc/$box/root$web_conf"
in_box systemd-sysusers "$web_sysusers" >"$tmp/sysusers-web.out" 2>&1
check "systemd-sysusers $web_sysusers" [ $? -eq 0 ]
web_ids() { in_box id ssprweb 2>/dev/null | grep -q '(ssprd-submit)'; }
check "the user ssprweb exists, in ssprd-submit" web_ids
openssl rand -hex 32 >"/proc/$box/root/etc/ssprd/ssprweb.key"
in_box chown ssprweb /etc/ssprd/ssprweb.key
in_box chmod 600 /etc/ssprd/ssprweb.key
if ! grep -qxF "$(dirname "$web_unit")" <<<"$(in_box systemd-analyze --system unit-paths)"; then
	in_box systemctl link "$web_unit" >/dev/null 2>&1
fi
in_box systemctl start ssprweb >"$tmp/start-web.out" 2>&1
check "systemctl start ssprweb: exit 0" [ $? -eq 0 ]
wprop() { in_box systemctl show -P "$1" ssprweb 2>/dev/null; }
if [ "$(wprop ActiveState)/$(wprop SubState)" = active/running ]; then
	ok "ssprweb.service is active (running), after its READY=1"
else
	not_ok "ssprweb.service is active (running) (got $(wprop ActiveState)/$(wprop SubState))"
	sed 's/^/# /' "$tmp/start-web.out"
	in_box journalctl --no-pager -u ssprweb 2>&1 | tail -n 20 | sed 's/^/# journal: /'
fi
web_main=$(wprop MainPID)
web_pid=$(box_main_pid ssprweb.service)
wst_is() {
	[ -n "$web_pid" ] && [ "$(awk -v k="$1:" '$1 == k { print $2 }' "/proc/$web_pid/status")" = "$2" ]
}
check "ssprweb runs as ssprweb" wst_is Uid "$(in_box id -u ssprweb)"
check "...with no capabilities" wst_is CapEff 0000000000000000
check "...under a seccomp filter" wst_is Seccomp 2
check "...and no_new_privs" wst_is NoNewPrivs 1

url=http://localhost:$web_port
jar=$tmp/cookies
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/")
check "GET / answers 200 ($code)" [ "$code" = 200 ]
page=$(curl -s -c "$jar" -b "$jar" "$url/reset")
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$page" | head -n 1)
check "the reset page has a form with a CSRF token" [ -n "$csrf" ]
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
	--data-urlencode "csrf=$csrf" --data-urlencode step=0 --data-urlencode user=alice \
	--max-time 120 "$url/reset")
page=$(curl -s -c "$jar" -b "$jar" "$url/reset")
check "a form goes through ssprd's spool and back: 303 ($code)" [ "$code" = 303 ]
check "...then the method choice" grep -q 'name="method"' <<<"$page"
# In ssprweb's own mount namespace, what the unit hides is an empty node
# of mode 0 (InaccessiblePaths=), even to root; and as the ssprweb user
# (with ssprd-submit) ssprd's state and bind secret cannot be read.
in_web() { nsenter -t "$web_pid" -m "$@"; }
as_web() {
	in_web setpriv --reuid="$(in_box id -u ssprweb)" --regid="$(in_box id -g ssprweb)" \
		--groups="$(in_box getent group ssprd-submit | cut -d: -f3)" \
		--inh-caps=-all --bounding-set=-all "$@"
}
mode_in_web() { in_web stat -c %a "$1" 2>/dev/null; }
not() { ! "$@"; }
check "in ssprweb's namespace /var/lib/ssprd is hidden (mode $(mode_in_web /var/lib/ssprd))" \
	[ "$(mode_in_web /var/lib/ssprd)" = 0 ]
check "...and the bind secret too (mode $(mode_in_web /etc/ssprd/bind.secret))" \
	[ "$(mode_in_web /etc/ssprd/bind.secret)" = 0 ]
web_reads() { as_web "$@" >/dev/null 2>&1; }
check "as ssprweb there: ssprd's state cannot be listed" not web_reads ls /var/lib/ssprd
check "...nor the bind secret read" not web_reads cat /etc/ssprd/bind.secret
check "...while its own key is readable (the check is not blind)" web_reads cat /etc/ssprd/ssprweb.key
in_box systemctl stop ssprweb >/dev/null 2>&1
check "systemctl stop ssprweb: inactive" [ "$(wprop ActiveState)" = inactive ]

# --- reload ---------------------------------------------------------------------
# min_length_now: min_length of the configuration in force.
min_length_now() {
	jget "$(sub '{"v":1,"op":"policy"}')" min_length
}
box_conf=/proc/$box/root$conf
sed 's/^min_length = .*/min_length = twelve/' "$tmp/ssprd.ini" >"$box_conf"
in_box systemctl reload ssprd >"$tmp/reload.out" 2>&1
rc=$?
check "reload with a broken file: systemctl reload fails (exit $rc)" [ "$rc" -ne 0 ]
sed 's/^/# /' "$tmp/reload.out"
check "...the unit stays active" [ "$(prop ActiveState)" = active ]
check "...the same process ($main)" [ "$(prop MainPID)" = "$main" ]
got=$(min_length_now)
check "...serving with the old configuration (min_length $got)" [ "$got" = 12 ]
in_box journalctl --no-pager -u ssprd >"$tmp/journal.out" 2>&1
check "...the journal says what is wrong with the file" \
	grep -q 'min_length: must be a whole number' "$tmp/journal.out"
# The check stopped it: ssprd itself never read the broken file.
check "...and ssprd was not signalled (it never refused a reload)" \
	not_grep 'reload refused' "$tmp/journal.out"

conf_write 14
cat "$tmp/ssprd.ini" >"$box_conf"
in_box systemctl reload ssprd >"$tmp/reload.out" 2>&1
rc=$?
# Passing the check means it read the bind secret (ssprd's, mode 0600)
# inside the sandbox, as the daemon does.
check "reload with a good file: exit 0" [ "$rc" -eq 0 ]
sed 's/^/# /' "$tmp/reload.out"
# systemctl may come back before ssprd has read the file: wait for it.
min_length_is() { [ "$(min_length_now)" = "$1" ]; }
wait_for 30 min_length_is 14
got=$(min_length_now)
check "...the new configuration is in force (min_length $got)" [ "$got" = 14 ]
check "...same process, still active" \
	[ "$(prop MainPID)/$(prop ActiveState)" = "$main/active" ]

# --- mail by SMTP from inside the sandbox ------------------------------------------
# An SMTP server with STARTTLS and AUTH on the host's loopback (the system
# shares its network), its CA and the relay password where an admin puts
# them: the code leaves by SMTP from within the hardened unit, no process.
if /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
	sh "$FIXTURES/ca.sh" "$tmp/smtp-pki" >/dev/null
	smtp_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'relay-pw-%s\n' "$$" >"$tmp/smtp.secret"
	/usr/bin/python3 "$FIXTURES/smtpd.py" --port "$smtp_port" --dir "$tmp/smtp" \
		--cert "$tmp/smtp-pki/server.pem" --key "$tmp/smtp-pki/server.key" \
		--user relay --password-file "$tmp/smtp.secret" >"$tmp/smtpd.log" 2>&1 &
	smtpd_pid=$!
	wait_for 30 test -e "$tmp/smtp/ready"
	install -m 0644 "$tmp/smtp-pki/ca.pem" "/proc/$box/root/etc/ssprd/smtp-ca.pem"
	install -m 0600 "$tmp/smtp.secret" "/proc/$box/root/etc/ssprd/smtp.secret"
	in_box chown ssprd:ssprd /etc/ssprd/smtp.secret
	conf_write 15 "smtp_url = smtp://127.0.0.1:$smtp_port
smtp_user = relay
smtp_password_file = /etc/ssprd/smtp.secret
ca_file = /etc/ssprd/smtp-ca.pem"
	cat "$tmp/ssprd.ini" >"$box_conf"
	in_box systemctl reload ssprd >"$tmp/reload.out" 2>&1
	check "reload to mail by SMTP: exit 0" [ $? -eq 0 ]
	wait_for 30 min_length_is 15
	a=$(sub '{"v":1,"op":"start","user":"bob","method":"email"}')
	expect "start bob, mail by SMTP under the unit: ok" "$a" status ok
	smtp_env=$(ls "$tmp/smtp"/*.env 2>/dev/null | tail -n 1)
	check "...the code reached the SMTP server over STARTTLS, as relay" \
		grep -q '"auth": "relay", "tls": true' "${smtp_env:-/dev/null}"
	code=$(last_code "$tmp/smtp")
	a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$(jget "$a" ticket)\",\"code\":\"$code\"}")
	expect "...and it verifies" "$a" verified '["email"]'
	kill "$smtpd_pid" 2>/dev/null
else
	echo "# python3-aiosmtpd is not installed: SMTP under the unit not shown"
fi

if [ "$t_failed" -ne 0 ]; then
	in_box journalctl --no-pager -u ssprd 2>&1 | grep -v ' op=policy ' |
		tail -n 40 | sed 's/^/# journal: /'
fi

# --- power off --------------------------------------------------------------------
sdbox_down
check "systemctl poweroff ends the system" [ "$sdbox_powered_off" = yes ]
check "...and its cgroup is gone" [ ! -d "$sdbox_cg" ]

finish
