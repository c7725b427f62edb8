#!/bin/bash
# questions-load.sh - security-question checks are no lever (issue 12,
# items 4 and 5), against real slapd.
#
# - Parallel answers cannot pass the lockout: with lockout_failures = 5,
#   three tickets of one user answered wrongly in two rounds of three
#   parallel requests count five failures, and the sixth request is
#   refused (throttled) before its answers are checked; a right answer
#   afterwards is refused too. Before, the lock was checked only before the
#   asynchronous check: six failures, and a right answer in the last round
#   would have passed.
# - The hashing queue is bounded: forty decoy verifies dropped at once get
#   answers, some of them "busy" at once, instead of a queue that delays a
#   real user for a minute; the daemon then checks a real user's answers.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd qload

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
methods = email, questions
max_starts_per_hour = 100
max_attempts = 20
lockout_failures = 5
[questions]
attribute = $QUESTIONS_ATTR
required = 2"
spool_ini "$conf"
# Everything is queued at once: however slow the machine, none of it may be
# answered busy for waiting (the default [daemon] max_wait is 60 s).
sed -i "s|^metrics =|&\nmax_wait = 3600|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
batch() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- /usr/bin/python3 "$SRCDIR/tests/batch.py" "$tmp/queue"
	else
		/usr/bin/python3 "$SRCDIR/tests/batch.py" "$tmp/queue"
	fi
}
count() { grep -c "\"reason\": \"$2\"" <<<"$1"; }
two_q='[{"question":"Q1?","answer":"one"},{"question":"Q2?","answer":"two"}]'
right() { # QUESTIONS(JSON) -> the right answers
	python3 -c 'import json,sys; print(json.dumps([{"Q1?":"one","Q2?":"two"}[q] for q in json.loads(sys.argv[1])]))' "$1"
}
qstart() { sub "{\"v\":1,\"op\":\"start\",\"user\":\"$1\",\"method\":\"questions\"}"; }

for u in bob alice; do
	eval "pw=\$USER$([ $u = bob ] && echo 2 || echo 1)_PASSWORD"
	a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$u\",\"password\":\"$pw\",\"questions\":$two_q}")
	expect "$u registers two questions" "$a" status ok
done

# --- parallel wrong answers against the lockout ------------------------------------
t=()
for i in 1 2 3; do
	a=$(qstart bob)
	t+=("$(jget "$a" ticket)")
done
wrong() { for x in "${t[@]}"; do echo "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$x\",\"answers\":[\"no\",\"nope\"]}"; done; }
r1=$(wrong | batch)
check "round 1, three tickets in parallel: three bad-code" [ "$(count "$r1" bad-code)" -eq 3 ]
r2=$(wrong | batch)
check "round 2, three more in parallel: two checked (bad-code)" [ "$(count "$r2" bad-code)" -eq 2 ]
check "...and the third refused before its check (throttled)" [ "$(count "$r2" throttled)" -eq 1 ]
check "...so five failures were counted, and they locked bob" \
	grep -q "throttle: $USER2_DN: 5 failed proofs" "$log"
check "...the refusal says why" grep -q "failures in flight would lock self-service" "$log"
a=$(qstart bob)
x=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$x\",\"answers\":[\"one\",\"two\"]}")
expect "bob's right answers afterwards: throttled" "$a" reason throttled

# --- forty decoy checks at once -------------------------------------------------------
reqs=$(for i in $(seq 1 40); do
	a=$(qstart "nobody$i")
	echo "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$(jget "$a" ticket)\",\"answers\":[\"a\",\"b\"]}"
done)
r=$(batch <<<"$reqs")
check "forty decoy verifies at once: all answered" [ "$(grep -c '"status": "error"' <<<"$r")" -eq 40 ]
busy=$(count "$r" busy)
bad=$(count "$r" bad-code)
check "...those beyond the hashing queue at once with busy ($busy busy, $bad bad-code)" \
	[ "$busy" -ge 1 ] && [ $((busy + bad)) -eq 40 ]
check "...and the log says so" grep -q "the hashing queue is full" "$log"
a=$(qstart alice)
x=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$x\",\"answers\":$(right "$(jget "$a" questions)")}")
expect "then alice's right answers: verified" "$a" verified '["questions"]'
check "ssprd is still running" kill -0 "$daemon_pid"

finish
