#!/bin/bash
# metrics.sh - the Prometheus endpoint and ssprctl status, after real work.
#
# A few requests through the spool against real slapd, then GET /metrics is
# parsed as Prometheus text (every sample line well formed, HELP/TYPE for
# every family, histograms cumulative and ending at +Inf == _count) and the
# figures are checked against what was done; ssprctl status summarises the
# same; a failing notifier shows in ssprd_notify_failures_total.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd met
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
sed -i "s|^metrics =\$|metrics = 127.0.0.1:$port|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
check "ssprd listens for metrics" grep -q "metrics: listening on 127.0.0.1:$port" "$log"

sub() { submit "$conf" "$1"; }
sub '{"v":1,"op":"policy"}' >/dev/null
sub '{"v":1,"op":"policy"}' >/dev/null
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
t=$(jget "$a" ticket)
sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"00000000\"}" >/dev/null
code=$(last_code "$tmp/mail")
sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"code\":\"$code\",\"new_password\":\"Metrics-Reset-2026\"}" >/dev/null
printf 'not json' >"$tmp/queue/tmp/junk.json" && mv "$tmp/queue/tmp/junk.json" "$tmp/queue/new/"
wait_for 10 test -e "$tmp/queue/out/junk.json"

scrape() {
	python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		"http://127.0.0.1:$port/metrics"
}
scrape >"$tmp/metrics.txt"
check "GET /metrics answers" [ -s "$tmp/metrics.txt" ]
sed -n '1,400p' "$tmp/metrics.txt" | grep -E '^ssprd_(requests_total|queue|directory_connections|directory_server_up|notify_failures|build)' | sed 's/^/# /'

check "the text parses as Prometheus exposition format" python3 - "$tmp/metrics.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read().splitlines()
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')
typed, helped, families = {}, set(), set()
for line in text:
    if line.startswith("# HELP "):
        helped.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(); typed[name] = kind; continue
    m = sample.match(line)
    assert m, "bad line: " + line
    name = m.group(1)
    base = re.sub(r'_(bucket|sum|count)$', '', name) if re.sub(r'_(bucket|sum|count)$', '', name) in typed else name
    assert base in typed and base in helped, "no TYPE/HELP for " + name
    families.add(base)
# histograms: cumulative buckets ending at +Inf == _count, per label set
hist = {}
for line in text:
    m = re.match(r'^(\w+)_bucket\{(.*)le="([^"]+)"\} (\d+)$', line)
    if m:
        hist.setdefault((m.group(1), m.group(2)), []).append((m.group(3), int(m.group(4))))
for (name, labels), buckets in hist.items():
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), "not cumulative: " + name + labels
    assert buckets[-1][0] == "+Inf", "no +Inf: " + name
    total = [l for l in text if l.startswith(name + "_count") and labels.rstrip(",") in l]
    assert total and int(total[0].split()[-1]) == buckets[-1][1], "+Inf != _count: " + name
PY
m() { awk -v k="$1" 'index($0, k) == 1 { print $NF; exit }' "$tmp/metrics.txt"; }
check "build info" [ "$(m 'ssprd_build_info{version=')" = 1 ]
check "two policy requests ok" [ "$(m 'ssprd_requests_total{op="policy",result="ok",reason=""}')" = 2 ]
check "one start ok" [ "$(m 'ssprd_requests_total{op="start",result="ok",reason=""}')" = 1 ]
check "one verify bad-code" [ "$(m 'ssprd_requests_total{op="verify",result="error",reason="bad-code"}')" = 1 ]
check "one reset ok" [ "$(m 'ssprd_requests_total{op="reset",result="ok",reason=""}')" = 1 ]
check "one unparsed bad-request" [ "$(m 'ssprd_requests_total{op="unparsed",result="error",reason="bad-request"}')" = 1 ]
check "answer latency of the policy requests: count 2" [ "$(m 'ssprd_answer_duration_seconds_count{op="policy"}')" = 2 ]
check "queue empty now" [ "$(m 'ssprd_queue_waiting ')" = 0 ] 
check "4 directory connections to the server" [ "$(m "ssprd_directory_connections{server=\"$LDAPS_URI\"}")" = 4 ]
check "the server is up" [ "$(m "ssprd_directory_server_up{server=\"$LDAPS_URI\"}")" = 1 ]
check "directory requests were timed" [ "$(m "ssprd_directory_request_duration_seconds_count{server=\"$LDAPS_URI\"}")" -ge 3 ]
check "no notifier failure" [ "$(m 'ssprd_notify_failures_total{kind="code"}')" = 0 ]
check "no gauge of messages running or waiting (it would tell real users)" \
	bash -c '! grep -q "^ssprd_notify_\(running\|waiting\)" "$1"' _ "$tmp/metrics.txt"
check "other paths: 404" bash -c "! python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:$port/\", timeout=5)' 2>/dev/null"

"$SSPRCTL" -c "$conf" status >"$tmp/status.out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/status.out"
check "ssprctl status: exit 0" [ "$rc" -eq 0 ]
check "...queue line" grep -q '^queue: 0 waiting (oldest 0 s), 0 in progress' "$tmp/status.out"
check "...the server with 4 connections" grep -qF "{server=\"$LDAPS_URI\"} 4" "$tmp/status.out"
check "...request counters" grep -qF '{op="reset",result="ok",reason=""} 1' "$tmp/status.out"

# The front end's account may not read the bind secret: submit and status
# do not need it.
if [ "$(id -u)" -eq 0 ]; then
	chown root "$SVC_PASSWORD_FILE"
	a=$(printf '{"v":1,"op":"policy"}' | runuser -u nobody -- "$SSPRCTL" -c "$conf" submit --wait 20 2>&1)
	expect "submit by an account that cannot read the bind secret" "$a" status ok
	check "status by such an account" runuser -u nobody -- "$SSPRCTL" -c "$conf" status
	chown nobody "$SVC_PASSWORD_FILE"
fi

# A notifier that fails is counted.
sed -i "s|^command = $FIXTURES/mailsink.sh .*|command = /bin/false|" "$conf"
kill -HUP "$daemon_pid"
wait_for 5 bash -c "grep -q 'config: reloaded' '$log'"
sub '{"v":1,"op":"start","user":"bob","method":"email"}' >/dev/null
scrape >"$tmp/metrics2.txt"
check "a failing code sender: ssprd_notify_failures_total{kind=\"code\"} 1" \
	grep -qx 'ssprd_notify_failures_total{kind="code"} 1' "$tmp/metrics2.txt"

daemon_stop
"$SSPRCTL" -c "$conf" status >/dev/null 2>&1
rc=$?
check "ssprctl status with ssprd stopped: exit 1" [ "$rc" -eq 1 ]
daemon_pid=
finish
