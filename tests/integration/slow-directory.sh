#!/bin/bash
# slow-directory.sh - a directory that is slow but working is not reported
# as a dead one.
#
# slapd runs on a duty cycle (SIGSTOP 99 ms, SIGCONT 1 ms: an overloaded
# DC), [directory] timeout = 2, and SLOW_USERS (default 400) starts are
# dropped at once. ssprd keeps on each connection only as many operations
# as the server answers well within the timeout and lets the rest wait
# (new/ while its own queue is long); a wait in ssprd does not count
# against the directory's timeout. So every start is answered ok, none
# directory-unavailable (before: 320 of 1 000 ok, the rest
# directory-unavailable within 8 s). Then the same with [daemon] max_wait =
# 5: whatever waited longer than that is answered busy, the rest ok, and
# still none directory-unavailable. A directory that is really gone is
# directory-unavailable (faults.sh).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

users=${SLOW_USERS:-1000}
stop=${SLOW_STOP:-0.5}
run=${SLOW_RUN:-0.005}
with_slapd slow
add_users slow "$users"

conf=$tmp/ssprd.ini
DIR_TIMEOUT=2 write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
max_starts_per_hour = 50"
spool_ini "$conf"
sed -i "s|^metrics =|&\nmax_wait = 600|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
q=$tmp/queue

# A warm pool first: the connections are bound before slapd slows down.
a=$(submit "$conf" '{"v":1,"op":"start","user":"slow001","method":"email"}')
expect "a start before the slowdown" "$a" status ok

duty=
slow_down() {
	/usr/bin/python3 - "$SLAPD_PID" "$stop" "$run" <<'PY' &
import os, signal, sys, time
pid, stop, run = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
try:
    while True:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(stop)
        os.kill(pid, signal.SIGCONT)
        time.sleep(run)
finally:
    os.kill(pid, signal.SIGCONT)
PY
	duty=$!
}
speed_up() {
	[ -n "$duty" ] && kill "$duty" 2>/dev/null && wait "$duty" 2>/dev/null
	duty=
	kill -CONT "$SLAPD_PID" 2>/dev/null
}
trap 'speed_up; fixture_cleanup' EXIT

# round NAME: drop one start per user, wait for every answer; prints the
# counts of each answer status/reason.
round() {
	local i
	for i in $(seq -w 1 "$users"); do
		printf '{"v":1,"op":"start","user":"slow%s","method":"email"}' "$i" \
			>"$q/tmp/$1$i.json"
	done
	chmod 644 "$q/tmp/$1"*.json
	drop "$q" "$1*.json"
	all_in() { [ "$(ls "$q/out" | grep -c "^$1")" -ge "$users" ]; }
	wait_for 600 all_in "$1"
	/usr/bin/python3 - "$q/out" "$1" <<'PY'
import collections, glob, json, os, sys
c = collections.Counter()
for f in glob.glob(os.path.join(sys.argv[1], sys.argv[2] + "*.json")):
    a = json.load(open(f))
    c[a.get("reason", a.get("status"))] += 1
print(" ".join(f"{k}={v}" for k, v in sorted(c.items())))
PY
}
count() { # COUNTS KEY
	local v
	v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p")
	echo "${v:-0}"
}

slow_down
t0=$(date +%s)
counts=$(round a)
t1=$(date +%s)
echo "# round 1 (max_wait 600): $counts in $((t1 - t0)) s"
check "round 1: every start answered ok ($(count "$counts" ok) of $users)" \
	[ "$(count "$counts" ok)" -eq "$users" ]
check "...none directory-unavailable ($(count "$counts" directory-unavailable))" \
	[ "$(count "$counts" directory-unavailable)" -eq 0 ]
check "...and no connection was replaced for a timeout" \
	not_grep "an operation timed out" "$log"
grep "while others did" "$log" | sed 's/^/# /'
grep "operation(s) in flight per connection" "$log" | sed 's/^/# /'

speed_up
daemon_stop
sed -i "s|^max_wait = 600|max_wait = 5|" "$conf"
daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }
a=$(submit "$conf" '{"v":1,"op":"start","user":"slow002","method":"email"}')
expect "a start before the second slowdown" "$a" status ok
slow_down
counts=$(round b)
echo "# round 2 (max_wait 5): $counts"
speed_up
check "round 2: every answer is ok or busy ($counts)" \
	[ $(( $(count "$counts" ok) + $(count "$counts" busy) )) -eq "$users" ]
check "...none directory-unavailable" \
	[ "$(count "$counts" directory-unavailable)" -eq 0 ]
if [ "$(count "$counts" busy)" -gt 0 ]; then
	check "...and the busy ones waited max_wait (the log says so)" \
		grep -q -e "reason=busy .*max_wait" -e "waited \[daemon\] max_wait" "$log"
fi

daemon_stop
daemon_pid=
finish
