#!/bin/bash
# state-redis.sh - two ssprd instances sharing their state in one Redis.
#
# A throwaway slapd, one redis-server (append-only, fsync always, a
# password) and two ssprd instances A and B with their own spools and
# state_dir but the same [directory] and [state]: a ticket started on A is
# verified and spent on B; wrong codes split across A and B add up to the
# lockout; the same reset dropped on both at once is done once; kill -9 of
# A under load leaves B serving and A finishes its requests after a
# restart, no password written twice; Redis restarted under load: every
# request answered, old tickets still good, the daemons reconnect by
# themselves; without Redis a request waits max_wait and is answered
# state-unavailable; and a configuration without [state] still runs on
# LMDB.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"
. "$FIXTURES/redis.sh"
with_slapd state-redis
cleanup() {
	inst_cleanup A B C L
	redis_cleanup
	fixture_cleanup
}
trap cleanup EXIT

redis_start "$tmp/redis" >"$tmp/redis-start.log" 2>&1 || {
	not_ok "redis-server starts"; sed 's/^/# /' "$tmp/redis-start.log"; finish; exit 1; }
ok "redis-server starts on 127.0.0.1:$(redis_port "$tmp/redis")"
rport=$(redis_port "$tmp/redis")
# ssprd's copy of the password: 0600, its own (it may read it again when it
# reconnects, after dropping to nobody).
install -m 0600 "$tmp/redis/password" "$tmp/redis.secret"
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp/redis.secret"

prefix="ssprdt$$:"
state() { # INSTANCE [MAX_WAIT]
	cat <<INI
[policy]
min_length = 12
lockout_failures = 4
max_starts_per_hour = 100
[state]
backend = redis
redis_url = redis://127.0.0.1:$rport/3
redis_password_file = $tmp/redis.secret
key_prefix = $prefix
instance = inst-$1
INI
}
for n in A B; do
	inst_ini "$n" "$(state "$n")"
	# Everything is queued at once and Redis goes away for a while: no
	# request may be answered busy or state-unavailable for waiting.
	sed -i "s|^metrics =|&\nmax_wait = 300|" "$tmp/$n/ssprd.ini"
done
SUBMIT_WAIT=60

# --- a. a ticket started on A is verified and spent on B ---------------------
for n in A B; do
	"$SSPRD" -t -c "$tmp/$n/ssprd.ini" >"$tmp/$n.t.out" 2>&1
	rc=$?
	check "ssprd -t accepts the redis configuration ($n)" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/$n.t.out"
done
for n in A B; do
	inst_start "$n" || { not_ok "ssprd $n starts"; tail -n 20 "$tmp/$n/daemon.log" | sed 's/^/# /'; finish; exit 1; }
done
ok "ssprd A and B start on one Redis"

a=$(isub A '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice on A: ok" "$a" status ok
t=$(jget "$a" ticket)
code=$(last_code "$tmp/A/mail")
check "the code arrived through A's mail command" [ -n "$code" ]
a=$(isub B "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "verify A's ticket on B: verified" "$a" remaining 0
pw='Shared-State-Pass-2026'
a=$(isub B "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"$pw\"}")
expect "reset on B: ok" "$a" status ok
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -w "$2" </dev/null >/dev/null 2>&1; }
check "alice binds with the new password" binds "$USER1_DN" "$pw"
a=$(isub A "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"Again-State-Pass-2026\"}")
expect "the ticket is spent for A too: expired" "$a" reason expired
keys=$(redis_cli "$tmp/redis" -n 3 --scan --pattern "$prefix*" | wc -l)
check "the state is in Redis db 3 under key_prefix ($keys keys)" [ "$keys" -gt 0 ]
other=$(redis_cli "$tmp/redis" -n 3 --scan | grep -v -c -F "$prefix")
check "...and nothing outside it ($other keys)" [ "$other" -eq 0 ]
check "no code or password in Redis's append-only files" \
	not_grep -r -a -F -e "$code" -e "$pw" "$tmp/redis/data"
# The ticket is the front end's bearer credential: Redis names it by a hash.
check "...nor the ticket's ID, though it was written, leased and spent there" \
	not_grep -r -a -F -e "$t" "$tmp/redis/data"

# --- b. wrong codes on A and B add up to the lockout (lockout_failures = 4) --
a=$(isub A '{"v":1,"op":"start","user":"bob","method":"email"}')
t=$(jget "$a" ticket)
code=$(last_code "$tmp/A/mail")
bob_t=$t bob_code=$code
n=0
for inst in A B A; do
	n=$((n + 1))
	a=$(isub "$inst" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"0000000$n\"}")
	expect "wrong code $n (on $inst): bad-code" "$a" reason bad-code
done
check "3 failures: not locked yet (neither log says so)" \
	not_grep -F "throttle: uid=bob," "$tmp/A/daemon.log" "$tmp/B/daemon.log"
a=$(isub B "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"00000004\"}")
expect "wrong code 4 (on B): bad-code" "$a" reason bad-code
check "...and self-service is locked for bob (log)" \
	grep -q "throttle: uid=bob,$PEOPLE_DN: 4 failed proofs within 24 h; self-service locked" \
	"$tmp/A/daemon.log" "$tmp/B/daemon.log"
for inst in A B; do
	a=$(isub "$inst" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
	expect "locked: the right code on $inst is refused" "$a" reason throttled
	before=$(msg_count "$tmp/$inst/mail")
	a=$(isub "$inst" '{"v":1,"op":"start","user":"bob","method":"email"}')
	expect "locked: a start on $inst answers ok" "$a" status ok
	check "...and sends nothing" [ "$(msg_count "$tmp/$inst/mail")" -eq "$before" ]
done
check "...the log of B says why" grep -q "user=bob account=.* result=ok .*throttled" "$tmp/B/daemon.log"

# --- c. the same reset dropped on A and B at once: done once ------------------
RACE=${RACE_TICKETS:-10}
add_users race "$RACE"
python3 "$SRCDIR/tests/spoolflows.py" prepare race "$RACE" 2 \
	"$tmp/A/queue" "$tmp/A/mail" "$tmp/B/queue" "$tmp/B/mail" \
	>"$tmp/race.tickets" 2>"$tmp/race.log"
sed 's/^/# /' "$tmp/race.log"
check "$RACE verified tickets (started on one instance, verified on the other)" \
	[ "$(grep -vc ' -$' "$tmp/race.tickets")" -eq "$RACE" ]
once=0
while read -r i t; do
	for n in A B; do
		printf '{"v":1,"op":"reset","ticket":"%s","new_password":"Race-Reset-%s-Pass"}' "$t" "$i" \
			>"$tmp/$n/queue/tmp/race$i.json"
		chmod 0644 "$tmp/$n/queue/tmp/race$i.json"
	done
	python3 -c 'import os, sys
for q in sys.argv[2:]:
    os.rename(q + "/tmp/" + sys.argv[1], q + "/new/" + sys.argv[1])' \
		"race$i.json" "$tmp/A/queue" "$tmp/B/queue"
	wait_for 120 test -e "$tmp/A/queue/out/race$i.json" -a -e "$tmp/B/queue/out/race$i.json"
	sa=$(jget "$(cat "$tmp/A/queue/out/race$i.json" 2>/dev/null || echo '{}')" status)
	sb=$(jget "$(cat "$tmp/B/queue/out/race$i.json" 2>/dev/null || echo '{}')" status)
	writes=$(passmods "race$i")
	if { [ "$sa" = ok ] && [ "$sb" = error ]; } || { [ "$sa" = error ] && [ "$sb" = ok ]; }; then
		if [ "$writes" -eq 1 ]; then
			once=$((once + 1))
		else
			echo "# race$i: $writes password writes"
		fi
	else
		echo "# race$i: A: $(cat "$tmp/A/queue/out/race$i.json" 2>/dev/null) B: $(cat "$tmp/B/queue/out/race$i.json" 2>/dev/null)"
	fi
done <"$tmp/race.tickets"
check "one reset on A and B at once: one ok, one error, one write ($once of $RACE tickets)" \
	[ "$once" -eq "$RACE" ]
binds=0
for i in $(seq -w 1 "$RACE"); do
	ldapwhoami -x -H "$LDAPS_URI" -D "uid=race$i,$PEOPLE_DN" -w "Race-Reset-$i-Pass" \
		</dev/null >/dev/null 2>&1 && binds=$((binds + 1))
done
check "...every user binds with the new password ($binds of $RACE)" [ "$binds" -eq "$RACE" ]

# answers_ok PREFIX N: every $tmp/{A,B}/queue/out/PREFIXnn.json (user nn's
# reset went to A for odd nn, B for even) is there and ok; prints
# "ok missing" counts, and the odd ones as comments on stderr.
inst_of() { [ $((10#$1 % 2)) -eq 1 ] && echo A || echo B; }
answers() { # PREFIX N [INSTANCE]: how many of its answers are in
	local i c=0
	for i in $(seq -w 1 "$2"); do
		[ -n "${3:-}" ] && [ "$(inst_of "$i")" != "$3" ] && continue
		[ -e "$tmp/$(inst_of "$i")/queue/out/$1$i.json" ] && c=$((c + 1))
	done
	echo "$c"
}
all_answered() { [ "$(answers "$1" "$2" ${3:+"$3"})" -ge "$4" ]; }
oks() { # PREFIX N
	local i c=0 f
	for i in $(seq -w 1 "$2"); do
		f=$tmp/$(inst_of "$i")/queue/out/$1$i.json
		if grep -q '"status":"ok"' "$f" 2>/dev/null; then
			c=$((c + 1))
		else
			echo "# $1$i: $(cat "$f" 2>/dev/null || echo 'no answer')" >&2
		fi
	done
	echo "$c"
}
# writes_ok PREFIX N: users with exactly one password modify in slapd's log
writes_once() {
	local i c=0 w
	for i in $(seq -w 1 "$2"); do
		w=$(passmods "$1$i")
		if [ "$w" -eq 1 ]; then c=$((c + 1)); else echo "# $1$i: $w password writes" >&2; fi
	done
	echo "$c"
}
binds_new() { # PREFIX N PASSWORD-STEM
	local i c=0
	for i in $(seq -w 1 "$2"); do
		ldapwhoami -x -H "$LDAPS_URI" -D "uid=$1$i,$PEOPLE_DN" -w "$3-$i-Pass" \
			</dev/null >/dev/null 2>&1 && c=$((c + 1))
	done
	echo "$c"
}
# drop_resets PREFIX TICKETS STEM: user nn's reset into A (odd) or B (even),
# all at once.
drop_resets() {
	local i t n
	while read -r i t; do
		n=$(inst_of "$i")
		printf '{"v":1,"op":"reset","ticket":"%s","new_password":"%s-%s-Pass"}' "$t" "$3" "$i" \
			>"$tmp/$n/queue/tmp/$1$i.json"
		chmod 0644 "$tmp/$n/queue/tmp/$1$i.json"
	done <"$2"
	drop "$tmp/A/queue" "$1*.json"
	drop "$tmp/B/queue" "$1*.json"
}

# --- d. kill -9 of A under load ------------------------------------------------
LOAD=${LOAD_USERS:-60}
add_users load "$LOAD"
python3 "$SRCDIR/tests/spoolflows.py" prepare load "$LOAD" 2 \
	"$tmp/A/queue" "$tmp/A/mail" "$tmp/B/queue" "$tmp/B/mail" \
	>"$tmp/load.tickets" 2>"$tmp/load.log"
sed 's/^/# /' "$tmp/load.log"
check "$LOAD verified tickets for the load" [ "$(grep -vc ' -$' "$tmp/load.tickets")" -eq "$LOAD" ]
onA=$(( (LOAD + 1) / 2 )) onB=$(( LOAD / 2 ))
# Kill A 0-29 ms after it took its first reset (moved it to cur/); the
# killer is ready before the resets are dropped (A is that fast).
python3 - "$tmp/A/queue" "$(inst_pid A)" "$tmp/killer.ready" <<'PY' &
import glob, os, random, signal, sys, time
open(sys.argv[3], "w").close()
end = time.time() + 120
while time.time() < end and not glob.glob(sys.argv[1] + "/cur/load*.json") \
        and not glob.glob(sys.argv[1] + "/out/load*.json"):
    time.sleep(0.0005)
time.sleep(random.randrange(30) / 1000)
os.kill(int(sys.argv[2]), signal.SIGKILL)
PY
killer=$!
wait_for 30 test -e "$tmp/killer.ready"
drop_resets load "$tmp/load.tickets" Load-Reset
wait "$killer"
inst_kill A
echo "# A killed with $(answers load "$LOAD" A) of its $onA resets answered, $(ls "$tmp/A/queue/cur" | wc -l) taken, $(ls "$tmp/A/queue/new" | wc -l) waiting"
check "while A is down, B answers all its $onB resets" wait_for 180 all_answered load "$LOAD" B "$onB"
a=$(isub B '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "...and a new request on B: ok" "$a" status ok
inst_start A || { not_ok "A restarts"; tail -n 20 "$tmp/A/daemon.log" | sed 's/^/# /'; }
check "after its restart, A answers all its $onA resets" wait_for 180 all_answered load "$LOAD" A "$onA"
n=$(oks load "$LOAD")
check "every reset answered ok ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
n=$(writes_once load "$LOAD")
check "no password written twice, none lost: one write per user ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
n=$(binds_new load "$LOAD" Load-Reset)
check "every user binds with the new password ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
check "no request left in A's new/ or cur/" \
	wait_for 10 bash -c "[ -z \"\$(find '$tmp/A/queue/new' '$tmp/A/queue/cur' -mindepth 1)\" ]"

# --- e. Redis restarted under load ----------------------------------------------
add_users rr "$LOAD"
python3 "$SRCDIR/tests/spoolflows.py" prepare rr "$LOAD" 2 \
	"$tmp/A/queue" "$tmp/A/mail" "$tmp/B/queue" "$tmp/B/mail" \
	>"$tmp/rr.tickets" 2>"$tmp/rr.log"
sed 's/^/# /' "$tmp/rr.log"
check "$LOAD verified tickets before the Redis restart" [ "$(grep -vc ' -$' "$tmp/rr.tickets")" -eq "$LOAD" ]
# Tickets kept for after the restart: one verified, one only started.
a=$(isub A '{"v":1,"op":"start","user":"carol","method":"email"}')
kept_started=$(jget "$a" ticket)
kept_code=$(last_code "$tmp/A/mail")
a=$(isub B '{"v":1,"op":"start","user":"erin","method":"email"}')
kept_verified=$(jget "$a" ticket)
a=$(isub A "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$kept_verified\",\"code\":\"$(last_code "$tmp/B/mail")\"}")
expect "a ticket verified before the restart (erin)" "$a" remaining 0
linesA=$(wc -l <"$tmp/A/daemon.log") linesB=$(wc -l <"$tmp/B/daemon.log")
drop_resets rr "$tmp/rr.tickets" Redis-Restart
redis_stop "$tmp/redis"
check "Redis stopped while the resets run" redis_gone "$tmp/redis"
echo "# Redis stopped with $(answers rr "$LOAD") of $LOAD resets answered"
sleep 3
redis_restart "$tmp/redis" >"$tmp/redis-restart.log" 2>&1
check "Redis starts again on port $rport with its append-only files" redis_pong "$tmp/redis"
check "every reset in flight is answered" wait_for 360 all_answered rr "$LOAD" "" "$LOAD"
n=$(oks rr "$LOAD")
check "...ok ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
n=$(writes_once rr "$LOAD")
check "...one password write per user ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
n=$(binds_new rr "$LOAD" Redis-Restart)
check "...every user binds with the new password ($n of $LOAD)" [ "$n" -eq "$LOAD" ]
both_up() { inst_alive A && inst_alive B; }
check "both daemons stayed up" both_up
a=$(isub B "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$kept_started\",\"code\":\"$kept_code\"}")
expect "a ticket started before the restart verifies after it (B)" "$a" remaining 0
a=$(isub A "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$kept_started\",\"new_password\":\"After-Restart-Pass-71\"}")
expect "...and resets (A)" "$a" status ok
a=$(isub B "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$kept_verified\",\"new_password\":\"After-Restart-Pass-72\"}")
expect "a ticket verified before the restart resets after it (B)" "$a" status ok
check "erin binds with it" binds "$USER6_DN" "After-Restart-Pass-72"
a=$(isub A "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$bob_t\",\"code\":\"$bob_code\"}")
expect "bob's lockout survived the restart too" "$a" reason throttled
# An instance notices the loss when it next needs Redis: both have by now.
for n in A B; do
	lines=$([ "$n" = A ] && echo "$linesA" || echo "$linesB")
	check "$n's log says it lost Redis and reconnected by itself" \
		wait_for 30 bash -c "tail -n +$((lines + 1)) '$tmp/$n/daemon.log' | grep -qE 'store: Redis at 127.0.0.1:$rport.* is in use again'"
done

# --- g. Redis gone for longer than max_wait: state-unavailable ------------------
inst_ini C "$(state C)"
sed -i "s|^metrics =|&\nmax_wait = 5|" "$tmp/C/ssprd.ini"
inst_start C || { not_ok "ssprd C (max_wait = 5) starts"; tail -n 20 "$tmp/C/daemon.log" | sed 's/^/# /'; }
redis_stop "$tmp/redis"
a=$(SUBMIT_WAIT=120 isub C '{"v":1,"op":"start","user":"zoe","method":"email"}')
expect "Redis down past max_wait: the start is answered state-unavailable" "$a" reason state-unavailable
check "...and C is still up" inst_alive C
redis_restart "$tmp/redis" >>"$tmp/redis-restart.log" 2>&1
got_ok() { a=$(SUBMIT_WAIT=30 isub C '{"v":1,"op":"start","user":"zoe","method":"email"}'); [ "$(jget "$a" status)" = ok ]; }
check "Redis back: C serves again without a restart" wait_for 120 got_ok
inst_stop C

# --- f. without [state]: LMDB as before -----------------------------------------
inst_ini L "[policy]
min_length = 12"
"$SSPRD" -t -c "$tmp/L/ssprd.ini" >"$tmp/L.t.out" 2>&1
check "ssprd -t accepts a configuration without [state]" [ $? -eq 0 ]
inst_start L || { not_ok "ssprd without [state] starts"; tail -n 20 "$tmp/L/daemon.log" | sed 's/^/# /'; }
a=$(isub L '{"v":1,"op":"start","user":"dave","method":"email"}')
expect "...and serves a start" "$a" status ok
check "...with its state in LMDB under state_dir" test -e "$tmp/L/state/ssprd.mdb"
check "ssprd without [state] stops (status 0)" inst_stop L

for n in A B; do
	check "ssprd $n stops (status 0)" inst_stop "$n"
done
[ "$t_failed" -eq 0 ] || for n in A B C; do
	echo "# --- $n's log, errors and warnings:"
	grep -iE "error|warn|redis|state" "$tmp/$n/daemon.log" 2>/dev/null | grep -v ' request id=' | tail -n 20 | sed 's/^/# /'
done
finish
