#!/bin/bash
# state-failover.sh - ssprd follows a Redis Sentinel failover under load.
#
# A throwaway slapd, a Redis master with one replica, three sentinels
# (quorum 2), and two ssprd instances A and B that find the master through
# the sentinels (redis_sentinels, redis_master_name) and count a commit
# failed unless one replica acknowledged it (redis_min_replicas = 1).
# A stream of start/verify/reset flows runs on both instances (start on
# one, verify on the other, reset on the first); the master is killed with
# SIGKILL; the sentinels promote the replica; the old master is started
# again and becomes the new master's replica (so that WAIT 1 can succeed
# again); the flows go on, and ssprd is never restarted. Then the figures:
# requests sent, answered ok, answered with an error (by reason), lost (no
# answer within FLOW_DEADLINE seconds) - must be 0 - and answered twice or
# written twice - must be 0. Every user binds with the password of their
# last reset answered ok.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-sentinel >/dev/null || skip_all "redis-sentinel is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"
. "$FIXTURES/redis.sh"
with_slapd state-failover
flows_pid=
cleanup() {
	[ -n "$flows_pid" ] && kill "$flows_pid" 2>/dev/null
	inst_cleanup A B
	redis_cleanup
	fixture_cleanup
}
trap cleanup EXIT

users=${FAILOVER_USERS:-16}
export FLOW_DEADLINE=${FLOW_DEADLINE:-300}
name=ssprdmaster

# --- Redis: master, replica, three sentinels -------------------------------
{
	redis_start "$tmp/m" &&
	redis_replica_start "$tmp/r" "$tmp/m" &&
	sentinel_start "$tmp/s1" "$name" "$tmp/m" &&
	sentinel_start "$tmp/s2" "$name" "$tmp/m" &&
	sentinel_start "$tmp/s3" "$name" "$tmp/m"
} >"$tmp/redis-start.log" 2>&1 || {
	not_ok "Redis master, replica and three sentinels start"
	sed 's/^/# /' "$tmp/redis-start.log"; finish; exit 1; }
ok "Redis master, replica and three sentinels start"
mport=$(redis_port "$tmp/m") rport=$(redis_port "$tmp/r")
sentinels=("$tmp/s1" "$tmp/s2" "$tmp/s3")
check "the sentinels know each other and the replica" \
	sentinels_ready "$name" 1 120 "${sentinels[@]}"
check "...and name 127.0.0.1:$mport the master" \
	sentinels_wait_master "$name" "127.0.0.1:$mport" 30 "${sentinels[@]}"
install -m 0600 "$tmp/m/password" "$tmp/redis.secret"
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp/redis.secret"

state() { # INSTANCE
	cat <<INI
[policy]
min_length = 12
max_starts_per_hour = 100
[state]
backend = redis
redis_url = redis://sentinel/2
redis_password_file = $tmp/redis.secret
key_prefix = ssprdf$$:
redis_sentinels = 127.0.0.1:$(redis_port "$tmp/s1") 127.0.0.1:$(redis_port "$tmp/s2") 127.0.0.1:$(redis_port "$tmp/s3")
redis_master_name = $name
redis_min_replicas = 1
instance = inst-$1
INI
}
for n in A B; do
	inst_ini "$n" "$(state "$n")"
	sed -i "s|^metrics =|&\nmax_wait = 120|" "$tmp/$n/ssprd.ini"
	"$SSPRD" -t -c "$tmp/$n/ssprd.ini" >"$tmp/$n.t.out" 2>&1
	rc=$?
	check "ssprd -t accepts the sentinel configuration ($n)" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/$n.t.out"
	inst_start "$n" || { not_ok "ssprd $n starts"; tail -n 20 "$tmp/$n/daemon.log" | sed 's/^/# /'; finish; exit 1; }
done
ok "ssprd A and B start, through the sentinels"
add_users fo "$users"

# --- the load, and the failover in its middle -------------------------------
mkdir -p "$tmp/flows"
python3 "$SRCDIR/tests/spoolflows.py" flows "$tmp/flows" fo "$users" "${#users}" \
	"$tmp/A/queue" "$tmp/A/mail" "$tmp/B/queue" "$tmp/B/mail" 2>"$tmp/flows.err" &
flows_pid=$!
progress() { cat "$tmp/flows/progress" 2>/dev/null || echo 0; }
at_least() { [ "$(progress)" -ge "$1" ]; }
check "the flows run: $users resets answered ok before the failover" wait_for 300 at_least "$users"
before=$(progress)
echo "# $(wc -l <"$tmp/flows/requests.jsonl") requests settled, $before resets ok; killing the master (127.0.0.1:$mport)"
redis_kill "$tmp/m"
check "the sentinels promote the replica (127.0.0.1:$rport)" \
	sentinels_wait_master "$name" "127.0.0.1:$rport" 120 "${sentinels[@]}"
echo "# $(progress) resets ok when the sentinels agreed on the new master"
redis_restart "$tmp/m" >"$tmp/redis-restart.log" 2>&1
check "the old master comes back as the new master's replica" wait_for 120 redis_in_sync "$tmp/m"
after=$(progress)
check "ssprd follows without a restart: $users more resets ok after the failover" \
	wait_for 300 at_least "$((after + users))"
touch "$tmp/flows/stop"
wait_flows() { ! kill -0 "$flows_pid" 2>/dev/null; }
wait_for "$((FLOW_DEADLINE + 120))" wait_flows
check "the flows end" wait_flows
flows_pid=
sed 's/^/# flows: /' "$tmp/flows.err" | tail -n 5
both_up() { inst_alive A && inst_alive B; }
check "both instances stayed up" both_up

# --- figures ---------------------------------------------------------------------
sleep 2	# an answer given twice would appear by now
python3 - "$tmp" "$SLAPD_LOG" "$users" >"$tmp/figures" <<'PY'
import collections, glob, json, os, re, sys
tmp, slapd_log, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = [json.loads(l) for l in open(f"{tmp}/flows/requests.jsonl")]
ok = sum(1 for r in recs if r["answer"] and r["answer"].get("status") == "ok")
lost = [r for r in recs if r["answer"] is None]
errors = collections.Counter(r["answer"].get("reason", "?") for r in recs
                             if r["answer"] and r["answer"].get("status") != "ok")
by_op = collections.Counter((r["op"], r["answer"].get("status") if r["answer"] else "lost")
                            for r in recs)
# answered twice: a second answer in out/, or two audit lines for one ID
late = [f for n in "AB" for f in glob.glob(f"{tmp}/{n}/queue/out/f*.json")]
audit = collections.Counter()
for n in "AB":
    for line in open(f"{tmp}/{n}/daemon.log", errors="replace"):
        m = re.search(r" request id=(f[0-9a-f]{32}) ", line)
        if m:
            audit[m.group(1)] += 1
twice_answered = len(late) + sum(1 for v in audit.values() if v > 1)
# written twice: per user, password modifies beyond the resets sent; and
# tickets whose reset was answered ok more than once
passmod = collections.Counter()
for line in open(slapd_log, errors="replace"):
    m = re.search(r' PASSMOD id="uid=fo(\d+),', line)
    if m:
        passmod[m.group(1)] += 1
sent = collections.Counter(r["user"][2:] for r in recs if r["op"] == "reset")
oks = collections.Counter(r["user"][2:] for r in recs if r["op"] == "reset"
                          and r["answer"] and r["answer"].get("status") == "ok")
tok = collections.Counter(r["ticket"] for r in recs if r["op"] == "reset"
                          and r["answer"] and r["answer"].get("status") == "ok")
written_twice = sum(max(0, passmod[u] - sent[u]) for u in passmod) + \
    sum(1 for v in tok.values() if v > 1)
written_unsaid = sum(max(0, passmod[u] - oks[u]) for u in passmod)
slow = sorted(r["took"] for r in recs if r["answer"])
print(f"sent={len(recs)} ok={ok} error={sum(errors.values())} lost={len(lost)} "
      f"answered_twice={twice_answered} written_twice={written_twice} "
      f"written_but_answered_error={written_unsaid} resets_ok={sum(oks.values())} "
      f"password_writes={sum(passmod.values())}")
print("errors by reason: " + (", ".join(f"{k}={v}" for k, v in sorted(errors.items())) or "none"))
print("by op: " + ", ".join(f"{o}/{s}={v}" for (o, s), v in sorted(by_op.items())))
if slow:
    print(f"answer time: median {slow[len(slow)//2]:.2f} s, max {slow[-1]:.2f} s")
for r in lost[:5]:
    print(f"lost: {r['instance']} {r['op']} {r['id']} {r['user']}")
PY
sed 's/^/# /' "$tmp/figures"
fig() { sed -n "1s/.*\\b$1=\\([0-9]*\\).*/\\1/p" "$tmp/figures"; }
check "requests sent: $(fig sent), answered ok: $(fig ok)" [ "$(fig ok)" -gt 0 ]
check "no request lost ($(fig lost))" [ "$(fig lost)" = 0 ]
check "no request answered twice ($(fig answered_twice))" [ "$(fig answered_twice)" = 0 ]
check "no password written twice ($(fig written_twice))" [ "$(fig written_twice)" = 0 ]

binds=0 want=0
while read -r i pw; do
	want=$((want + 1))
	ldapwhoami -x -H "$LDAPS_URI" -D "uid=fo$i,$PEOPLE_DN" -w "$pw" </dev/null >/dev/null 2>&1 &&
		binds=$((binds + 1)) || echo "# fo$i does not bind with the password of its last ok reset"
done <"$tmp/flows/passwords"
check "every user binds with the password of their last reset answered ok ($binds of $want)" \
	[ "$binds" -eq "$want" ]
for n in A B; do
	echo "# $n's log on Redis and the sentinels:"
	grep -iE "redis|sentinel|master|state" "$tmp/$n/daemon.log" | grep -v ' request id=' |
		tail -n 8 | sed 's/^/#   /'
	check "$n's log says it went on with the new master" \
		grep -qE "store: Redis at 127.0.0.1:$rport.* is in use again" "$tmp/$n/daemon.log"
	check "ssprd $n stops (status 0)" inst_stop "$n"
done
finish
