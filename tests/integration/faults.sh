#!/bin/bash
# faults.sh - directory faults under load.
#
# The rule (ldap/pool.c): an operation waits for a connection up to
# [directory] timeout after it was started; if none becomes ready it is
# answered directory-unavailable; nothing is lost (every request gets an
# answer).
#
# (a) slapd outage of 10 s while 40 lookup-based requests (starts from
#     distinct client addresses) are queued: with timeout = 15 all are
#     answered ok after recovery; with timeout = 5 those whose deadline
#     passed are directory-unavailable, the rest ok. Every request has
#     exactly one answer, the daemon stays up, a request after is ok.
# (b) failover: URI #1 is a TCP proxy in front of slapd, URI #2 slapd's real
#     ldaps port. With resets flowing the proxy is killed: every reset
#     begun after ssprd connected to URI #2 is answered ok (the test waits
#     for at least two of them, however slow the machine); every reset is
#     answered ok or directory-unavailable, and each user binds with the
#     last password answered ok. The time from the kill to the first ok
#     through URI #2 is printed as a figure (target 2 s), not asserted:
#     it depends on the machine's speed.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

SLAPD_LOGLEVEL=0 with_slapd faults
q=$tmp/queue
log=$tmp/daemon.log
conf=$tmp/ssprd.ini

# ts2epoch: ssprd log timestamps (2026-11-25T17:18:41.497Z) to epoch seconds.
log_epoch() {
	python3 -c '
import sys, datetime
s = sys.argv[1].rstrip("Z")
print("%.3f" % datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc).timestamp())
' "$1"
}

make_conf() {	# make_conf TIMEOUT URIS
	DIR_TIMEOUT=$1 write_ini "$conf" openldap "$2" "" "[policy]
min_length = 12
max_starts_per_hour = 100
max_starts_per_client_hour = 100"
	spool_ini "$conf"
}

drop() {	# drop NAME JSON
	printf '%s' "$2" >"$q/tmp/$1.json" && mv "$q/tmp/$1.json" "$q/new/$1.json"
}

# --- (a) outage ----------------------------------------------------------------
outage() {	# outage TIMEOUT TAG
	local to=$1 tag=$2 i n ok_n unav_n other_n once
	make_conf "$to" "$LDAPS_URI"
	: >"$log"
	daemon_start "$conf" "$log" || { not_ok "ssprd starts (timeout $to)"; sed "s/^/# /" "$log" | tail -n 5; return; }
	a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
	expect "timeout $to: a start before the outage is ok" "$a" status ok
	"$FIXTURES/slapd.sh" stop "$tmp/slapd" >/dev/null 2>&1
	local t0=$(date +%s.%N)
	# 20 requests right after the stop, 20 more 9 s into the outage: their
	# deadline (14 s with timeout 5) leaves the pool's 1 s retry and a slow
	# slapd start on a loaded machine room after the restart at 10 s
	for i in $(seq -w 1 20); do
		drop "$tag$i" "{\"v\":1,\"op\":\"start\",\"user\":\"nosuch$tag$i\",\"method\":\"email\",\"client\":\"198.51.100.$((10#$i))\"}"
	done
	sleep 9
	for i in $(seq -w 21 40); do
		drop "$tag$i" "{\"v\":1,\"op\":\"start\",\"user\":\"nosuch$tag$i\",\"method\":\"email\",\"client\":\"198.51.100.$((10#$i))\"}"
	done
	sleep 1
	"$FIXTURES/slapd.sh" restart "$tmp/slapd" >/dev/null 2>&1
	local t1=$(date +%s.%N)
	echo "# timeout $to: slapd down for $(python3 -c "print('%.1f' % ($t1 - $t0))") s"
	check "timeout $to: all 40 answered" wait_for 40 bash -c \
		"[ \$(ls '$q/out' | grep -c '^$tag[0-9]*\\.json\$') -eq 40 ]"
	local t2=$(date +%s.%N)
	echo "# timeout $to: the last answer $(python3 -c "print('%.1f' % ($t2 - $t1))") s after the restart"
	ok_n=0 unav_n=0 other_n=0 once=0
	local early_unav=0 late_unav=0
	for i in $(seq -w 1 40); do
		a=$(cat "$q/out/$tag$i.json" 2>/dev/null || echo '{}')
		if [ "$(jget "$a" status)" = ok ]; then
			ok_n=$((ok_n + 1))
		elif [ "$(jget "$a" reason)" = directory-unavailable ]; then
			unav_n=$((unav_n + 1))
			[ "$((10#$i))" -le 20 ] && early_unav=$((early_unav + 1)) || late_unav=$((late_unav + 1))
		else
			other_n=$((other_n + 1))
			echo "# $tag$i: $a"
		fi
		[ "$(grep -c " request id=$tag$i " "$log")" -eq 1 ] && once=$((once + 1))
	done
	echo "# timeout $to: ok $ok_n, directory-unavailable $unav_n (queued at 0 s: $early_unav, at 9 s: $late_unav), other $other_n"
	check "timeout $to: exactly one answer (audit line) per request ($once of 40)" [ "$once" -eq 40 ]
	check "timeout $to: no other answer than ok or directory-unavailable" [ "$other_n" -eq 0 ]
	if [ "$to" -ge 15 ]; then
		check "timeout $to > 10 s outage: every request ok ($ok_n of 40)" [ "$ok_n" -eq 40 ]
	else
		check "timeout $to: the 20 queued at 0 s (deadline 5 s) are directory-unavailable ($early_unav)" \
			[ "$early_unav" -eq 20 ]
		check "timeout $to: the 20 queued at 9 s (deadline 14 s) are ok ($((20 - late_unav)))" \
			[ "$late_unav" -eq 0 ]
	fi
	check "timeout $to: the daemon is still up" kill -0 "$daemon_pid"
	a=$(submit "$conf" '{"v":1,"op":"start","user":"bob","method":"email"}')
	expect "timeout $to: a request after recovery is ok" "$a" status ok
	daemon_stop
	daemon_pid=
	grep -E "ldap: " "$log" | tail -n 8 | sed 's/^/# log: /'
}

outage 15 o15x
outage 5 o5x

# --- (b) failover ----------------------------------------------------------------
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/proxy.py" <<'PY'
import asyncio, sys
lport, tport = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", tport)
    except Exception:
        cw.close(); return
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", lport)
    print("listening", flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PY
python3 "$tmp/proxy.py" "$pport" "$LDAPS_PORT" >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!
trap 'kill -9 $proxy_pid 2>/dev/null; fixture_cleanup' EXIT
wait_for 5 log_has "$tmp/proxy.log" listening || not_ok "the proxy starts"
uri1=ldaps://127.0.0.1:$pport
make_conf 5 "$uri1 $LDAPS_URI"
: >"$log"
rm -f "$tmp"/mail/*.msg
daemon_start "$conf" "$log" || { not_ok "ssprd starts (failover)"; finish; exit 1; }
check "ssprd connects through the proxy (URI #1)" wait_for 5 log_has "$log" "ldap: connected to $uri1"

# resets flowing: alice bob zoe in turn, a fresh password each time
users=(alice bob zoe)
declare -A dns=([alice]=$USER1_DN [bob]=$USER2_DN [zoe]=$USER5_DN)
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
reset_loop() {	# one line per reset: user password status reason end begin
	local n=0 u a t code pw b
	while [ ! -e "$tmp/stop" ]; do
		u=${users[$((n % 3))]}
		n=$((n + 1))
		pw="Fo-Pass-$n-$RANDOM-Xyzzy"
		b=$(date +%s.%N)
		a=$(submit "$conf" "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\"}")
		if [ "$(jget "$a" status)" != ok ]; then
			echo "$u - start $(jget "$a" reason) $(date +%s.%N) $b"
			continue
		fi
		t=$(jget "$a" ticket)
		code=$(last_code "$tmp/mail")
		a=$(submit "$conf" "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"code\":\"$code\",\"new_password\":\"$pw\"}")
		r=$(jget "$a" reason)
		echo "$u $pw $(jget "$a" status) ${r:--} $(date +%s.%N) $b"
	done
}
reset_loop >"$tmp/resets.txt" 2>&1 &
loop_pid=$!
# wait for resets before the kill, then for two begun after ssprd connected
# to URI #2 (counted, not timed: a slow machine takes longer, that is all)
wait_for 120 test -s "$tmp/resets.txt" || not_ok "a reset answered before the kill"
kill -9 "$proxy_pid"; wait "$proxy_pid" 2>/dev/null
t_kill=$(date +%s.%N)
check "ssprd connected to URI #2 after the kill" wait_for 60 log_has "$log" "ldap: connected to $LDAPS_URI"
line=$(grep -F "ldap: connected to $LDAPS_URI" "$log" | head -n 1)
t_conn=$(log_epoch "${line%% *}")
after_conn() { awk -v c="$t_conn" '$6 > c' "$tmp/resets.txt"; }
two_after() { [ "$(after_conn | wc -l)" -ge 2 ]; }
wait_for 120 two_after
touch "$tmp/stop"
wait "$loop_pid"

echo "# resets begun after ssprd connected to URI #2: $(after_conn | wc -l)"
after_conn | awk '$3 != "ok"' | sed 's/^/# not ok after the failover: /'
check "at least two resets begun after the failover" two_after
check "every reset begun after the failover is ok" test -z "$(after_conn | awk '$3 != "ok"')"
t_ok=$(awk -v k="$t_kill" -v c="$t_conn" '$1 != "-" && $3 == "ok" && $5 > k && $5 > c { print $5; exit }' "$tmp/resets.txt")
[ -n "$t_ok" ] && echo "# failover figure (target 2 s, not asserted): URI #2 connected $(python3 -c "print('%.2f' % ($t_conn - $t_kill))") s after the kill; first reset ok through it $(python3 -c "print('%.2f' % ($t_ok - $t_kill))") s after the kill"
total=$(grep -c . "$tmp/resets.txt")
okr=$(awk '$3 == "ok"' "$tmp/resets.txt" | wc -l)
unav=$(awk '$3 == "error" && $4 == "directory-unavailable"' "$tmp/resets.txt" | wc -l)
other=$(awk '!($3 == "ok" || ($3 == "error" && $4 == "directory-unavailable"))' "$tmp/resets.txt")
echo "# resets: $total, ok $okr, directory-unavailable $unav"
[ -n "$other" ] && printf '%s\n' "$other" | sed 's/^/# other: /'
check "every reset answered ok or directory-unavailable (none lost)" [ -z "$other" ]
for u in "${users[@]}"; do
	pw=$(awk -v u="$u" '$1 == u && $3 == "ok" { p = $2 } END { print p }' "$tmp/resets.txt")
	if [ -n "$pw" ]; then
		check "$u binds with the last password answered ok" binds "${dns[$u]}" "$pw"
	else
		not_ok "$u had a reset answered ok"
	fi
done
check "the daemon is still up" kill -0 "$daemon_pid"
daemon_stop
rc=$?
daemon_pid=
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
grep -E "ldap: " "$log" | tail -n 8 | sed 's/^/# log: /'
finish
