#!/bin/bash
# daemon-signals.sh - the daemon's life under systemd-style supervision.
#
# Runs ssprd in the foreground with a fake $NOTIFY_SOCKET (a datagram socket
# read by a small python3 listener) and checks: READY=1 at start; SIGHUP with
# a broken file is refused, logged with FILE:LINE, and the daemon keeps
# running on the old configuration; SIGHUP with a good file applies it
# (log_level = debug takes effect); RELOADING=1/READY=1 around reloads;
# watchdog pings at half of WATCHDOG_USEC; SIGTERM stops with STOPPING=1 and
# exit status 0; SIGINT does the same.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip_all "python3 is needed for the notify listener"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-sig.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

umask 077
printf 'pw' >"$tmp/secret"
umask 022
SVC_PASSWORD_FILE=$tmp/secret daemon_tmp_ready
write_config() { # LOG_LEVEL [EXTRA LINE]
	cat >"$tmp/ssprd.ini" <<INI
[daemon]
$(daemon_user_line)
queue_dir = $tmp/queue
state_dir = $tmp/state
log_level = $1
metrics =
$2
[directory]
type = openldap
uri = ldaps://127.0.0.1:1
base_dn = dc=example,dc=org
bind_dn = cn=svc,dc=example,dc=org
bind_password_file = $tmp/secret
[email]
command = /bin/true
INI
}

# A stand-in for systemd's notification socket.
python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
PY
pids+=($!)
disown $!
wait_for 5 test -S "$tmp/notify.sock" || { not_ok "notify listener starts"; finish; exit 1; }
chmod 0666 "$tmp/notify.sock"	# the daemon may be nobody by now

start_daemon() { # LOGFILE
	# WATCHDOG_PID must name the daemon itself, hence the exec.
	NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=400000 \
		bash -c 'export WATCHDOG_PID=$$; exec "$0" -c "$1"' \
		"$SSPRD" "$tmp/ssprd.ini" 2>"$1" &
	daemon=$!
	pids+=("$daemon")
}

write_config info ""
start_daemon "$tmp/daemon.log"
check "the daemon starts and logs that it is ready" \
	wait_for 10 log_has "$tmp/daemon.log" "ready (config $tmp/ssprd.ini)"
check "systemd hears READY=1" wait_for 5 log_has "$tmp/notify.log" "READY=1"
check "watchdog pings arrive (WATCHDOG_USEC=400000)" \
	wait_for 5 log_has "$tmp/notify.log" "WATCHDOG=1"

# A broken file: unknown key at line 7, bad value at line 15.
write_config info "colour = blue"
sed -i 's|^command = /bin/true|command = true|' "$tmp/ssprd.ini"
kill -HUP "$daemon"
check "a broken file on SIGHUP is refused" \
	wait_for 10 log_has "$tmp/daemon.log" "reload refused; the running configuration stays in force"
check "...with the unknown key's FILE:LINE in the log" \
	log_has "$tmp/daemon.log" "$tmp/ssprd.ini:7: unknown key 'colour' in section [daemon]"
check "...and the bad command's FILE:LINE" \
	log_has "$tmp/daemon.log" "$tmp/ssprd.ini:15: command: must start with the absolute path"
check "...and the daemon is still running" kill -0 "$daemon"
check "systemd heard RELOADING=1 then READY=1" \
	wait_for 5 grep -q "RELOADING=1" "$tmp/notify.log"

# Nothing from the refused file is in force: still log_level info.
check "the old configuration stays (no debug lines)" \
	bash -c "! grep -q ' debug: ' '$tmp/daemon.log'"

# A good file with log_level = debug: applied.
write_config debug ""
kill -HUP "$daemon"
check "a good file on SIGHUP is applied" \
	wait_for 10 log_has "$tmp/daemon.log" "config: reloaded $tmp/ssprd.ini"
check "...and its log_level = debug is in force" \
	wait_for 5 log_has "$tmp/daemon.log" "debug: config: now type openldap, 1 URI(s), log_level debug"
check "...still running" kill -0 "$daemon"
three_readies() { [ "$(grep -c "READY=1" "$tmp/notify.log")" -ge 3 ]; }
check "READY=1 after each reload (3 in all: start and two reloads)" \
	wait_for 5 three_readies

kill -TERM "$daemon"
wait "$daemon"
rc=$?
check "SIGTERM stops the daemon with exit status 0" [ "$rc" -eq 0 ]
check "systemd heard STOPPING=1" log_has "$tmp/notify.log" "STOPPING=1"
check "the log says it stopped" log_has "$tmp/daemon.log" "ssprd stopped"

start_daemon "$tmp/daemon2.log"
wait_for 10 log_has "$tmp/daemon2.log" "ready" || :
kill -INT "$daemon"
wait "$daemon"
rc=$?
check "SIGINT stops it too, exit status 0" [ "$rc" -eq 0 ]

# A daemon refuses to start on a broken file, saying why.
write_config loud ""
"$SSPRD" -c "$tmp/ssprd.ini" 2>"$tmp/daemon3.log"
rc=$?
check "start-up with a broken file exits 1" [ "$rc" -eq 1 ]
check "...naming FILE:LINE" \
	log_has "$tmp/daemon3.log" "error: config: $tmp/ssprd.ini:5: log_level: must be one of"

finish
