#!/bin/bash
# tls-stall.sh - a server that takes the TCP connection but never answers
# the TLS handshake costs ssprd no CPU, and requests are still answered
# directory-unavailable within [directory] timeout.
#
# libldap 2.5, given LDAP_OPT_NETWORK_TIMEOUT, makes the socket
# non-blocking for the TLS handshake and then, unless the connection is
# "async", calls the handshake again and again without waiting for the
# socket: a read() that fails with EAGAIN as fast as the CPU allows, with no
# deadline, for as long as the server stays silent (issue 13: 16 s of CPU in
# 25 s under systemd). ldap/session.c now has the handshake wait for the
# socket, within [directory] timeout.
#
# The listener here accepts every connection on 127.0.0.1 and then says
# nothing: on ldaps://, not a byte; on ldap:// with starttls = yes, only
# the StartTLS success, then nothing. For each, ssprd's CPU time (utime +
# stime of all its threads, from /proc/PID/stat) over a window of
# STALL_WINDOW (default 12) seconds must stay under 5 % of one CPU: a
# ratio, so it does not depend on how fast the machine is. Every start
# dropped meanwhile is answered directory-unavailable within the timeout
# (3 s: "wait for a connection up to [directory] timeout", ssprd(8)) and a
# little slack, and the log says the server is unavailable (the handshake
# ended). ssprctl test-bind, on the same server, fails in time, without
# spinning either.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip_all "python3 is needed for the listener"
command -v openssl >/dev/null || skip_all "openssl is needed for the test CA"

timeout=3
window=${STALL_WINDOW:-12}
slack=2		# seconds: rescans, scheduling on a loaded machine

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-tlsstall.XXXXXX")
daemon_pid=
listener=
cleanup() {
	[ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] && { echo "# kept $tmp"; return; }
	rm -rf "$tmp"
}
trap cleanup EXIT

# What write_ini needs; no directory server answers anyway.
sh "$FIXTURES/ca.sh" "$tmp/pki" >/dev/null 2>&1 ||
	{ echo "Bail out! cannot make the test CA"; exit 1; }
chmod 0644 "$tmp/pki/ca.pem"
CA_FILE=$tmp/pki/ca.pem
BASE_DN=dc=example,dc=org
SVC_DN=cn=ssprd,dc=example,dc=org
SVC_PASSWORD_FILE=$tmp/svc.password
(umask 077; printf 'Svc-stall-secret' >"$SVC_PASSWORD_FILE")
daemon_tmp_ready

# The silent server: accepts, keeps every connection open, says nothing
# (ldaps) or only "StartTLS: success" to the first request (starttls).
# Writes its port to DIR/port, and how many it accepted to DIR/accepted.
cat >"$tmp/silent.py" <<'PY'
import os, socket, sys, threading
d, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
def put(name, text):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
def ber_len(b, i):	# (length, index after it)
    n = b[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7f
    return int.from_bytes(b[i + 1:i + 1 + k], "big"), i + 1 + k
def starttls_ok(c):
    # LDAPMessage ::= SEQUENCE { messageID INTEGER, ExtendedRequest }
    b = b""
    while True:
        more = c.recv(4096)
        if not more:
            return
        b += more
        if len(b) >= 2:
            n, i = ber_len(b, 1)
            if len(b) >= i + n:
                break
    n, j = ber_len(b, i + 1)		# the INTEGER after the SEQUENCE header
    msgid = b[i:j + n]			# tag, length and value, as sent
    oid = b"1.3.6.1.4.1.1466.20037"
    op = b"\x0a\x01\x00\x04\x00\x04\x00" + b"\x8a" + bytes([len(oid)]) + oid
    op = b"\x78" + bytes([len(op)]) + op	# [APPLICATION 24] ExtendedResponse
    body = msgid + op
    c.sendall(b"\x30" + bytes([len(body)]) + body)
put("port", str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    put("accepted", str(len(held)))
    if mode == "starttls":
        threading.Thread(target=starttls_ok, args=(c,), daemon=True).start()
PY

# cpu_ticks PID: utime + stime of all of PID's threads, live and gone.
cpu_ticks() {
	local s rest
	s=$(cat "/proc/$1/stat") || return 1
	rest=${s##*) }		# from field 3 (state) on: comm may hold spaces
	set -- $rest
	echo $(( ${12} + ${13} ))
}
now() { date +%s.%N; }

# batch TAG N: drop N starts at once and wait until all are answered;
# prints how long that took, in seconds ("" when they were not, in time).
batch() {
	local i t0
	for i in $(seq 1 "$2"); do
		printf '{"v":1,"op":"start","user":"stall%s%s","method":"email","client":"198.51.100.%s"}' \
			"$1" "$i" "$i" >"$q/tmp/$1$i.json"
	done
	chmod 0644 "$q/tmp/$1"*.json
	t0=$(now)
	drop "$q" "$1*.json"
	answered() { [ "$(ls "$q/out" | grep -c "^$1[0-9]*\.json\$")" -ge "$2" ]; }
	wait_for $((timeout + slack)) answered "$1" "$2" || return 0
	python3 -c "print('%.1f' % ($(now) - $t0))"
}

# unavailable TAG: how many of TAG's answers are directory-unavailable.
unavailable() {
	local f n=0
	for f in "$q/out/$1"*.json; do
		[ "$(jget "$(cat "$f")" reason)" = directory-unavailable ] && n=$((n + 1))
	done
	echo "$n"
}

hz=$(getconf CLK_TCK)

# stall MODE: one daemon in front of one silent server (ldaps or starttls).
stall() {
	local mode=$1 d=$tmp/$1 uri extra=
	mkdir -p "$d"
	python3 "$tmp/silent.py" "$d" "$mode" &
	listener=$!
	wait_for 10 test -s "$d/port" ||
		{ echo "Bail out! the listener did not start"; exit 1; }
	if [ "$mode" = ldaps ]; then
		uri=ldaps://127.0.0.1:$(cat "$d/port")
	else
		uri=ldap://127.0.0.1:$(cat "$d/port")
		extra="starttls = yes"
	fi
	conf=$d/ssprd.ini
	DIR_TIMEOUT=$timeout write_ini "$conf" openldap "$uri" "$extra" "[policy]
max_starts_per_hour = 100
max_starts_per_client_hour = 100"
	sed -i -e "s|^metrics =|metrics =\nqueue_dir = $d/queue\nstate_dir = $d/state|" \
		-e "s|^command = /bin/true|command = $FIXTURES/mailsink.sh $tmp/mail|" "$conf"
	q=$d/queue
	log=$d/daemon.log
	daemon_start "$conf" "$log" ||
		{ not_ok "$mode: ssprd starts"; sed 's/^/# /' "$log"; return; }
	check "$mode: ssprd connects to the silent server" wait_for 10 test -s "$d/accepted"

	local c0 c1 w0 w1 took1 took2 rest pct secs wall n
	c0=$(cpu_ticks "$daemon_pid")
	w0=$(now)
	took1=$(batch a 5)
	sleep 4
	took2=$(batch b 5)
	# the rest of the window: the connections keep being tried meanwhile
	rest=$(python3 -c "print(max(0.0, $window - ($(now) - $w0)))")
	sleep "$rest"
	c1=$(cpu_ticks "$daemon_pid")
	w1=$(now)
	pct=$(python3 -c "print('%.1f' % (100.0 * ($c1 - $c0) / $hz / ($w1 - $w0)))")
	secs=$(python3 -c "print('%.2f' % (($c1 - $c0) / $hz))")
	wall=$(python3 -c "print('%.1f' % ($w1 - $w0))")
	echo "# $mode: ssprd used $secs s of CPU in $wall s ($pct % of one CPU);" \
		"the silent server accepted $(cat "$d/accepted") connection(s)"
	check "$mode: while the server is silent, ssprd uses under 5 % of one CPU ($pct %)" \
		python3 -c "import sys; sys.exit(0 if $pct < 5 else 1)"

	check "$mode: 5 starts are answered within timeout + $slack s (${took1:-not} in time)" \
		[ -n "$took1" ]
	n=$(unavailable a)
	check "$mode: ...directory-unavailable ($n of 5)" [ "$n" -eq 5 ]
	check "$mode: 5 more, 4 s later, too (${took2:-not} in time)" [ -n "$took2" ]
	n=$(unavailable b)
	check "$mode: ...directory-unavailable ($n of 5)" [ "$n" -eq 5 ]
	check "$mode: the handshake ends: the log says the server is unavailable" \
		grep -qF "ldap: $uri unavailable (" "$log"
	grep -F "ldap: $uri unavailable" "$log" | head -n 2 | sed 's/^/# log: /'

	check "$mode: ssprd stops" daemon_stop
	daemon_pid=

	# ssprctl test-bind: the same handshake, then (StartTLS) a second one
	# without verification to fetch the certificate; each ends in time.
	local out
	out=$(python3 - "$SSPRCTL" "$conf" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
try:
    rc = subprocess.run([sys.argv[1], "-c", sys.argv[2], "test-bind"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode
except subprocess.TimeoutExpired:
    rc = "killed"
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(rc, "%.1f" % (time.monotonic() - t0), "%.2f" % (r.ru_utime + r.ru_stime))
PY
)
	set -- $out
	echo "# $mode: ssprctl test-bind: exit $1 after $2 s, $3 s of CPU"
	check "$mode: ssprctl test-bind fails within 2 x timeout + $slack s ($2 s)" \
		python3 -c "import sys; sys.exit(0 if '$1' == '1' and $2 <= 2 * $timeout + $slack else 1)"
	# (its start, libraries and configuration, counts here too)
	check "$mode: ...and uses under 25 % of one CPU meanwhile ($3 s of CPU)" \
		python3 -c "import sys; sys.exit(0 if $3 < 0.25 * $2 else 1)"
	kill "$listener" 2>/dev/null
	wait "$listener" 2>/dev/null
	listener=
}

stall ldaps
stall starttls
finish
