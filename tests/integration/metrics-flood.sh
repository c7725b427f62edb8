#!/bin/bash
# metrics-flood.sh - a local user flooding the metrics port costs nothing else.
#
# ssprd runs under systemd's default descriptor limit (prlimit
# --nofile=1024:1024) with metrics on a loopback port, and a helper holds
# 1100 idle connections to that port, reconnecting whenever ssprd closes
# one. Meanwhile a policy, a start and a change request are all answered,
# nothing goes to bad/, the log stays small (no line per failed accept()),
# the daemon stays up, and once the flood ends the metrics answer again.
#
# Then the same with a limit only a few descriptors above what the idle
# daemon holds, so that the flood exhausts them: accepting pauses instead of
# spinning, a request that arrives meanwhile waits in new/ (never bad/) and
# is answered once the flood ends, and the log stays small again.
#
# Nothing here depends on the machine's speed: every wait is a generous
# deadline on an outcome.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v prlimit >/dev/null || skip_all "prlimit (util-linux) is needed"
if [ "$(id -u)" -ne 0 ] && [ "$(ulimit -Hn)" != unlimited ] &&
	[ "$(ulimit -Hn)" -lt 1300 ]; then
	skip_all "the flood helper needs 1300 descriptors (hard limit $(ulimit -Hn))"
fi

with_slapd flood
flood_pid=
stop_flood() {
	[ -n "$flood_pid" ] || return 0
	kill -TERM "$flood_pid" 2>/dev/null
	wait "$flood_pid" 2>/dev/null
	flood_pid=
}
trap 'stop_flood; fixture_cleanup' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI"
spool_ini "$conf"
sed -i "s|^metrics =\$|metrics = 127.0.0.1:$port|" "$conf"
export SUBMIT_WAIT=120

# The flood: N connections to the port, each replaced as soon as ssprd
# closes it, until SIGTERM. epoll, not select(): more than FD_SETSIZE.
cat >"$tmp/flood.py" <<'PY'
import resource, selectors, signal, socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, max(hard, n + 64)))
sel = selectors.DefaultSelector()
def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    sel.register(s, selectors.EVENT_READ)
# In batches, so that the kernel's accept queue does not overflow on the
# way (its overflow leaves connections open on this side only).
for i in range(n):
    connect()
    if i % 32 == 31:
        time.sleep(0.02)
open(ready, "w").close()
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop:
    closed = 0
    for key, _ in sel.select(0.5):
        s = key.fileobj
        try:
            if s.recv(4096):
                continue
        except BlockingIOError:
            continue
        except OSError:
            pass
        sel.unregister(s)
        s.close()
        connect()
        closed += 1
    if closed:
        time.sleep(0.01)
PY

# start_limited NOFILE LOG: ssprd with that descriptor limit (soft and
# hard, as systemd sets it); sets $daemon_pid. The log is cut at 20 MB: a
# daemon that logs every failed accept() must not fill the disk.
start_limited() {
	: >>"$2"
	prlimit --nofile="$1:$1" -- "$SSPRD" -c "$conf" \
		2> >(stdbuf -o0 head -c 20000000 >>"$2") &
	daemon_pid=$!
	wait_for 10 log_has "$2" "ready (config $conf)"
}

# flood N: start the helper with N connections; returns once all are
# under way.
flood() {
	rm -f "$tmp/flood.ready"
	python3 "$tmp/flood.py" "$port" "$1" "$tmp/flood.ready" &
	flood_pid=$!
	wait_for 60 test -e "$tmp/flood.ready"
}

fds() {
	ls "/proc/$daemon_pid/fd" 2>/dev/null | wc -l
}

scrape() {
	python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		"http://127.0.0.1:$port/metrics"
}

scrape_ok() {
	scrape >/dev/null 2>&1
}

bad_empty() {
	[ -z "$(ls -A "$tmp/queue/bad")" ]
}

# bounded LOG: fewer than 200 lines and 100 KB (before the fix, libevent
# wrote a line per failed accept(): a million in seconds).
bounded() {
	local lines bytes
	lines=$(wc -l <"$1")
	bytes=$(wc -c <"$1")
	echo "# $1: $lines lines, $bytes bytes"
	[ "$lines" -lt 200 ] && [ "$bytes" -lt 100000 ]
}

sub() { submit "$conf" "$1"; }

# --- 1100 idle connections against 1024 descriptors ---------------------------

log=$tmp/daemon.log
start_limited 1024 "$log" || { not_ok "ssprd starts under 1024 descriptors"; tail -n 20 "$log" | sed 's/^/# /'; finish; exit 1; }
ok "ssprd starts under 1024 descriptors"
a=$(sub '{"v":1,"op":"policy"}')
expect "a policy request before the flood" "$a" status ok
idle=$(fds)
echo "# the idle daemon holds $idle descriptors"

flood 1100 || not_ok "the flood helper holds 1100 connections"
# At the cap (logged), or, without one, out of descriptors.
flooded() {
	grep -q 'metrics: .*connections open, the most allowed' "$log" ||
		[ "$(fds)" -ge 1000 ]
}
check "the flood reaches the daemon" wait_for 60 flooded
echo "# the daemon holds $(fds) descriptors under the flood"

a=$(sub '{"v":1,"op":"policy"}')
expect "policy answered during the flood" "$a" status ok
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start answered during the flood" "$a" status ok
a=$(sub "{\"v\":1,\"op\":\"change\",\"user\":\"bob\",\"old_password\":\"$USER2_PASSWORD\",\"new_password\":\"Flood-Change-2026-x\"}")
expect "change answered during the flood" "$a" status ok
check "nothing was moved to bad/" bad_empty
check "ssprd is still running" kill -0 "$daemon_pid"
check "the log stays small" bounded "$log"
stop_flood

check "metrics answer again after the flood" wait_for 60 scrape_ok
scrape >"$tmp/metrics.txt"
check "...and counted the change" \
	grep -qxF 'ssprd_requests_total{op="change",result="ok",reason=""} 1' "$tmp/metrics.txt"
daemon_stop
check "a clean stop" [ $? -eq 0 ]
daemon_pid=

# --- the flood takes every descriptor left -------------------------------------

log2=$tmp/daemon2.log
limit=$((idle + 8))
start_limited "$limit" "$log2" || { not_ok "ssprd starts under $limit descriptors"; tail -n 20 "$log2" | sed 's/^/# /'; finish; exit 1; }
ok "ssprd starts under $limit descriptors"
flood 100 || not_ok "the flood helper holds 100 connections"
check "accepting pauses when descriptors run out" \
	wait_for 60 log_has "$log2" "metrics: cannot accept a connection; pausing"

# Every descriptor is taken now, and the helper takes back each one ssprd
# frees (a connection's 10 s end): the claim, within moments, finds none.
sub '{"v":1,"op":"policy"}' >"$tmp/late.json" &
sub_pid=$!
check "a request that finds no descriptor waits in new/" \
	wait_for 60 grep -q 'spool: .*waits in new/ for free file descriptors' "$log2"
check "nothing was moved to bad/ meanwhile" bad_empty
check "ssprd is still running" kill -0 "$daemon_pid"
stop_flood
wait "$sub_pid"
expect "it is answered once the flood ends" "$(cat "$tmp/late.json")" status ok
check "nothing was moved to bad/" bad_empty
check "the log stays small" bounded "$log2"
check "metrics answer again" wait_for 60 scrape_ok
grep -E 'metrics:|spool:' "$log2" | sed -n '1,12p' | sed 's/^/# /'
daemon_stop
check "a clean stop" [ $? -eq 0 ]
daemon_pid=
finish
