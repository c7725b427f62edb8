#!/bin/bash
# state-inflight.sh - checks under way count against the lockout on every
# instance at once (issue 19): two ssprd instances on one Redis, bob with
# security questions, lockout_failures = 5, and six of his tickets (three
# started on A, three on B) answered wrongly, the six dropped on A and B
# at the same moment. Checking answers takes a while (argon2id), so all six
# are under way together. Each instance reserving for itself would let
# both run their three: six failures, one past the limit. Reserved in
# Redis, five are checked (bad-code) and one is refused before its check
# (throttled), whichever instance sees it; bob is locked on both.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"
. "$FIXTURES/redis.sh"
with_slapd state-inflight
cleanup() {
	inst_cleanup A B
	redis_cleanup
	fixture_cleanup
}
trap cleanup EXIT

redis_start "$tmp/redis" >"$tmp/redis-start.log" 2>&1 || {
	not_ok "redis-server starts"; sed 's/^/# /' "$tmp/redis-start.log"; finish; exit 1; }
rport=$(redis_port "$tmp/redis")
install -m 0600 "$tmp/redis/password" "$tmp/redis.secret"
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp/redis.secret"

for n in A B; do
	inst_ini "$n" "[policy]
min_length = 12
methods = email, questions
max_starts_per_hour = 100
max_attempts = 20
lockout_failures = 5
[questions]
attribute = $QUESTIONS_ATTR
required = 2
[state]
backend = redis
redis_url = redis://127.0.0.1:$rport/0
redis_password_file = $tmp/redis.secret
instance = inflight-$n"
	# however slow the machine, nothing may be answered busy for waiting
	sed -i "s|^metrics =|&\nmax_wait = 3600|" "$tmp/$n/ssprd.ini"
	inst_start "$n" || { not_ok "ssprd $n starts"; tail -n 20 "$tmp/$n/daemon.log" | sed 's/^/# /'; finish; exit 1; }
done
ok "ssprd A and B start on one Redis"

two_q='[{"question":"Q1?","answer":"one"},{"question":"Q2?","answer":"two"}]'
a=$(isub A "{\"v\":1,\"op\":\"register\",\"user\":\"bob\",\"password\":\"$USER2_PASSWORD\",\"questions\":$two_q}")
expect "bob registers two questions (on A)" "$a" status ok

declare -A tickets
for n in A B; do
	tickets[$n]=
	for i in 1 2 3; do
		a=$(isub "$n" '{"v":1,"op":"start","user":"bob","method":"questions"}')
		tickets[$n]+="$(jget "$a" ticket) "
	done
done
check "six tickets of bob's, three started on each instance" \
	[ "$(echo ${tickets[A]} ${tickets[B]} | wc -w)" -eq 6 ]

batch() { # INSTANCE: the wrong answers for its tickets, dropped at once
	local x
	for x in ${tickets[$1]}; do
		echo "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$x\",\"answers\":[\"no\",\"nope\"]}"
	done | if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- /usr/bin/python3 "$SRCDIR/tests/batch.py" "$tmp/$1/queue" 600
	else
		/usr/bin/python3 "$SRCDIR/tests/batch.py" "$tmp/$1/queue" 600
	fi
}
batch A >"$tmp/A.out" &
pa=$!
batch B >"$tmp/B.out" &
pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
check "all six answered" [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]
count() { cat "$tmp/A.out" "$tmp/B.out" | grep -c "\"reason\": \"$1\""; }
bad=$(count bad-code) thr=$(count throttled)
echo "# bad-code $bad (A $(grep -c bad-code "$tmp/A.out"), B $(grep -c bad-code "$tmp/B.out")), throttled $thr"
check "five checked and refused as bad-code, across both instances" [ "$bad" -eq 5 ]
check "...the sixth refused before its check (throttled)" [ "$thr" -eq 1 ]
check "...one instance says why" \
	bash -c "cat '$tmp/A/daemon.log' '$tmp/B/daemon.log' | grep -q 'failures in flight would lock self-service'"
check "...five failures counted, and they locked bob" \
	bash -c "cat '$tmp/A/daemon.log' '$tmp/B/daemon.log' | grep -q 'throttle: $USER2_DN: 5 failed proofs'"
check "no reservation is left in Redis" \
	[ "$(redis-cli -p "$rport" -a "$(cat "$tmp/redis/password")" --no-auth-warning --scan --pattern 'ssprd:r:*' | wc -l)" -eq 0 ]
for n in A B; do
	a=$(isub "$n" '{"v":1,"op":"start","user":"bob","method":"questions"}')
	x=$(jget "$a" ticket)
	a=$(isub "$n" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$x\",\"answers\":[\"one\",\"two\"]}")
	expect "bob's right answers afterwards, on $n: throttled" "$a" reason throttled
done
for n in A B; do
	check "ssprd $n stops cleanly" inst_stop "$n"
done
finish
