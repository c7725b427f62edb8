#!/bin/bash
# daemon-hardening.sh - what the daemon's own user cannot get out of it, and
# what root will not do for a symlink.
#
# 1. Started as its user (as systemd does: no setuid() inside, which would
#    clear the flag by itself), ssprd makes itself undumpable: its
#    /proc/PID/environ and mem belong to root, and another process of the
#    same user (a mail or SMS command) cannot read them. The spool still
#    watches new/ through /proc/self/fd and answers.
# 2. Started as root, ssprd refuses a queue_dir or state_dir that is a
#    symlink, with a message naming it, and the folder the link points to
#    keeps its owner (root would otherwise hand it to [daemon] user).
#
# The directory is unreachable on purpose: none of this needs one.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (to start ssprd as another user)"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) is needed"
command -v python3 >/dev/null || skip_all "python3 is needed to read answers"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-hard.XXXXXX")
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"
umask 077
printf 'pw' >"$tmp/secret"
umask 022
chown nobody "$tmp/secret"

# write_config QUEUE_DIR STATE_DIR
write_config() {
	cat >"$tmp/ssprd.ini" <<INI
[daemon]
user = nobody
queue_dir = $1
state_dir = $2
metrics =
rescan_interval = 3600
[directory]
type = openldap
uri = ldaps://127.0.0.1:1
base_dn = dc=example,dc=org
bind_dn = cn=svc,dc=example,dc=org
bind_password_file = $tmp/secret
timeout = 1
[email]
command = /bin/true
INI
}

# as_nobody COMMAND...: run as nobody, no supplementary groups.
as_nobody() {
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" \
		--clear-groups -- "$@"
}

# cannot_open PATH: open(2) for reading fails for nobody (and python3 as
# nobody does start: /usr/bin's, not root's own).
cannot_open() {
	as_nobody /usr/bin/python3 -c 'print("up")' | grep -qx up &&
		! as_nobody /usr/bin/python3 -c 'import sys; open(sys.argv[1], "rb")' \
			"$1" 2>/dev/null
}

# --- undumpable ----------------------------------------------------------------

mkdir -p "$tmp/run"
chown nobody "$tmp/run"
write_config "$tmp/run/queue" "$tmp/run/state"
log=$tmp/daemon.log
: >"$log"
setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
	-- "$SSPRD" -c "$tmp/ssprd.ini" 2>"$log" &
daemon_pid=$!
if wait_for 10 log_has "$log" "ready (config $tmp/ssprd.ini)"; then
	ok "ssprd started as nobody is ready"
else
	not_ok "ssprd started as nobody is ready"
	sed 's/^/# /' "$log"
fi
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$daemon_pid/status")
check "it runs as nobody (uid $uid)" [ "$uid" = "$(id -u nobody)" ]
owner=$(stat -c %U "/proc/$daemon_pid/environ")
check "its /proc/PID/environ belongs to root, not nobody (got $owner)" [ "$owner" = root ]
check "its /proc/PID/mem belongs to root" [ "$(stat -c %U "/proc/$daemon_pid/mem")" = root ]
check "another process of nobody cannot open its /proc/PID/environ" \
	cannot_open "/proc/$daemon_pid/environ"
check "...nor its /proc/PID/mem" cannot_open "/proc/$daemon_pid/mem"
check "new/ is still watched through /proc/self/fd" \
	bash -c "! grep -qE 'no inotify|cannot watch new/' '$log'"
a=$(printf '{"v":1,"op":"policy"}' |
	as_nobody "$SSPRCTL" -c "$tmp/ssprd.ini" submit --wait 30 2>&1)
check "a request is answered (status $(jget "$a" status 2>/dev/null))" \
	[ -n "$(jget "$a" status 2>/dev/null)" ]
kill -TERM "$daemon_pid"
wait "$daemon_pid"
check "a clean stop" [ $? -eq 0 ]
daemon_pid=

# Started as root, it drops to nobody and is undumpable all the same.
rm -rf "$tmp/run"
write_config "$tmp/run/queue" "$tmp/run/state"
"$SSPRD" -c "$tmp/ssprd.ini" 2>"$log" &
daemon_pid=$!
wait_for 10 log_has "$log" "ready (config $tmp/ssprd.ini)"
check "started as root: /proc/PID/environ belongs to root" \
	[ "$(stat -c %U "/proc/$daemon_pid/environ")" = root ]
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=

# --- symlinked folders -----------------------------------------------------------

# refused KEY: KEY (queue_dir or state_dir) is a symlink to a root-owned
# folder; ssprd started as root must exit 1, say so, and leave the folder
# as it was.
refused() {
	local key=$1 q=$tmp/q-$1 s=$tmp/s-$1 rc
	mkdir -m 0700 "$tmp/target-$key"
	if [ "$key" = queue_dir ]; then
		ln -s "$tmp/target-$key" "$q"
	else
		ln -s "$tmp/target-$key" "$s"
	fi
	write_config "$q" "$s"
	timeout 20 "$SSPRD" -c "$tmp/ssprd.ini" >"$tmp/$key.log" 2>&1
	rc=$?
	check "$key a symlink: ssprd refuses to start (exit $rc)" [ "$rc" -eq 1 ]
	if grep -qF "[daemon] $key $tmp/" "$tmp/$key.log" &&
		grep -q "is a symlink" "$tmp/$key.log"; then
		ok "...and says that $key is a symlink"
	else
		not_ok "...and says that $key is a symlink"
		sed 's/^/# /' "$tmp/$key.log"
	fi
	check "...and the folder it points to still belongs to root" \
		[ "$(stat -c %U "$tmp/target-$key")" = root ]
}
refused queue_dir
refused state_dir
finish
