#!/bin/bash
# installed.sh - the installed tree, run the way an admin would.
#
# make install DESTDIR=... puts the programs, the example, the manual pages
# and the systemd files where configure said; the installed ssprd, started
# as root, becomes the configured unprivileged user before it touches the
# queue and serves requests against the slapd fixture; it refuses to start
# as root when it cannot become that user.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root: it checks how ssprd leaves root"
builddir=$(cd "$(dirname "$SSPRD")" && pwd)
[ -f "$builddir/Makefile" ] || skip_all "no build tree next to $SSPRD"

with_slapd inst
root=$tmp/root
# Not the outer make's jobserver: this is a make of its own.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install \
	DESTDIR="$root" >"$tmp/install.log" 2>&1
rc=$?
check "make install DESTDIR=... works" [ "$rc" -eq 0 ]
sed 's/^/# /' "$tmp/install.log" | tail -n 5
installed() { find "$root" -path "*/$1" -type f | head -n 1; }
for f in sbin/ssprd sbin/ssprctl etc/ssprd/ssprd.ini.example man/man8/ssprd.8 \
	man/man8/ssprctl.8 man/man5/ssprd.ini.5 systemd/system/ssprd.service \
	sysusers.d/ssprd.conf tmpfiles.d/ssprd-tmpfiles.conf \
	sbin/ssprweb man/man8/ssprweb.8 etc/ssprd/ssprweb.ini.example \
	systemd/system/ssprweb.service sysusers.d/ssprweb.conf \
	ssprd/web/static/style.css ssprd/web/static/app.js ssprd/web/po/tr.po; do
	check "installed: $f" [ -n "$(installed "$f")" ]
done
# the installed portal finds its style sheet, script and catalogs
web_data=$(dirname "$(dirname "$(installed ssprd/web/po/tr.po)")")
openssl rand -hex 32 >"$tmp/ssprweb.key"
chmod 600 "$tmp/ssprweb.key"
printf '[web]\nsession_key_file = %s\ndata_dir = %s\ndefault_language = tr\n' \
	"$tmp/ssprweb.key" "$web_data" >"$tmp/ssprweb.ini"
check "the installed ssprweb checks a configuration with its data" \
	"$(installed sbin/ssprweb)" -t -c "$tmp/ssprweb.ini"
check "ssprweb.service starts the installed binary" \
	grep -q "^ExecStart=.*/sbin/ssprweb -c " "$(installed systemd/system/ssprweb.service)"
ssprd=$(installed sbin/ssprd)
ssprctl=$(installed sbin/ssprctl)
unit=$(installed systemd/system/ssprd.service)
check "the unit starts the installed binary" grep -q "^ExecStart=.*/sbin/ssprd -c " "$unit"
check "the installed ssprd prints its version" "$ssprd" -V

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
SSPRD=$ssprd daemon_start "$conf" "$log" || { not_ok "the installed ssprd starts"; cat "$log"; finish; exit 1; }
check "started as root, it runs as nobody" grep -q "running as nobody (uid $(id -u nobody)), not root" "$log"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$daemon_pid/status")
check "...real, effective, saved and fs uid all nobody's ($uids)" \
	[ "$uids" = "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" ]
check "...no supplementary group of root's" bash -c \
	"! awk '/^Groups:/' /proc/$daemon_pid/status | grep -qw 0"
check "the queue belongs to nobody" [ "$(stat -c %U "$tmp/queue/new")" = nobody ]
check "the state dir too, mode 0700" [ "$(stat -c '%U %a' "$tmp/state")" = "nobody 700" ]
SSPRCTL=$ssprctl
a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "the installed daemon serves a start" "$a" status ok
check "...and the code is sent" wait_for 5 bash -c "ls '$tmp/mail'/*.msg >/dev/null 2>&1"
daemon_stop
rc=$?
daemon_pid=
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]

sed -i 's/^user = nobody$/user = no-such-user-here/' "$conf"
"$ssprd" -c "$conf" 2>"$tmp/refused.log"
rc=$?
check "as root with a user that does not exist: refuses to start" [ "$rc" -eq 1 ]
check "...and says why" grep -q "ssprd does not run as root, and there is no user no-such-user-here" "$tmp/refused.log"
sed -i 's/^user = no-such-user-here$/user = root/' "$conf"
"$ssprd" -c "$conf" 2>"$tmp/refused.log"
check "user = root is refused too" grep -q "user: may not be root" "$tmp/refused.log"

finish
