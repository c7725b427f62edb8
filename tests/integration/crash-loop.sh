#!/bin/bash
# crash-loop.sh - exactly once, under kill -9.
#
# Prepares verified tickets for CRASH_USERS users (default 60), drops all
# their reset requests into the spool at once, then kills ssprd with SIGKILL
# at CRASH_KILLS (default 15) random instants while it works, restarting it
# each time, and lets it finish. Then: every request has exactly one answer
# and it is ok; every user binds with the new password; and slapd's own log
# shows exactly one password modify per user, so no password was written
# twice and none was lost.
#
# CRASH_CARRY_CODE=1 (crash-loop-codes.sh): the tickets are only started,
# and each reset carries its code, so kills also fall between the proof
# being saved and the write intent: a resumed reset must find its code
# accepted again, not answered bad-code.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"


users=${CRASH_USERS:-60}
kills=${CRASH_KILLS:-15}
carry=${CRASH_CARRY_CODE:-0}
width=${#users}
SLAPD_LOGLEVEL=stats with_slapd crash

# Users crashNN with a mail address each.
add_users crash "$users"

conf=$tmp/ssprd.ini
mail=$tmp/mail
DIR_TIMEOUT=2 write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
# Everything is queued at once: however slow the machine, none of it may be
# answered busy for waiting (the default [daemon] max_wait is 60 s).
sed -i "s|^metrics =|&\nmax_wait = 3600|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }

# Verified tickets, one per user: all starts at once, the codes from the
# mail sink, then all verifies at once (python3: 1000 submits one by one
# would take minutes).
q=$tmp/queue
prepare() {
	python3 - "$q" "$mail" "$users" "$width" "$carry" >"$tmp/tickets" 2>"$tmp/prepare.log" <<'PY'
import glob, json, os, re, sys, time
q, mail, n, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
carry = sys.argv[5] == "1"

ids = [str(i).zfill(width) for i in range(1, n + 1)]

def send(kind, ids, reqs):
    n = len(ids)
    for i, body in zip(ids, reqs):
        path = f"{q}/tmp/{kind}{i}.json"
        with open(path, "w") as f:
            f.write(json.dumps(body))
        os.chmod(path, 0o644)
    for i in ids:
        os.rename(f"{q}/tmp/{kind}{i}.json", f"{q}/new/{kind}{i}.json")
    deadline = time.time() + 300
    answers = {}
    while len(answers) < n and time.time() < deadline:
        for i in ids:
            if i not in answers and os.path.exists(f"{q}/out/{kind}{i}.json"):
                with open(f"{q}/out/{kind}{i}.json") as f:
                    answers[i] = json.load(f)
                os.unlink(f"{q}/out/{kind}{i}.json")
        time.sleep(0.05)
    return answers

def codes_by_user():
    # The newest message per user: a retry sends a new code.
    codes = {}
    for path in sorted(glob.glob(f"{mail}/*.msg")):
        text = open(path).read()
        to = re.search(r"^To: crash(\d+)@", text, re.M)
        code = re.search(r"reset code is (\d+)", text)
        if to and code:
            codes[to.group(1)] = code.group(1)
    return codes

# With DIR_TIMEOUT=2 and 1000 starts queued on a busy machine, some
# lookups miss their deadline (directory-unavailable): those are tried
# again, up to four times (the start limit is five an hour).
verified = {}
todo = list(ids)
for attempt in range(4):
    if not todo:
        break
    starts = send("start", todo, [{"v": 1, "op": "start", "user": f"crash{i}",
                                   "method": "email"} for i in todo])
    codes = codes_by_user()
    tickets = {i: starts.get(i, {}).get("ticket", "") for i in todo}
    if carry:
        # the code goes with the reset: started and mailed is enough
        for i in todo:
            if tickets[i] and i in codes:
                verified[i] = tickets[i] + " " + codes[i]
        todo = [i for i in ids if i not in verified]
        continue
    verifies = send("verify", todo, [{"v": 1, "op": "verify",
                                      "ticket": tickets[i],
                                      "code": codes.get(i, "0")} for i in todo])
    for i in todo:
        if verifies.get(i, {}).get("remaining") == 0:
            verified[i] = tickets[i]
    todo = [i for i in ids if i not in verified]
    if todo:
        print(f"# round {attempt + 1}: {len(todo)} not verified, e.g. "
              f"{starts.get(todo[0])} {verifies.get(todo[0])}", file=sys.stderr)
for i in ids:
    print(i, verified.get(i, "-"))
PY
}
prepare
sed 's/^/# /' "$tmp/prepare.log"
prepared=$(grep -vc ' -$' "$tmp/tickets")
check "$prepared of $users tickets $([ "$carry" = 1 ] && echo started || echo verified)" [ "$prepared" -eq "$users" ]
passmod_before=$(grep -c ' PASSMOD ' "$SLAPD_LOG")

# All resets at once.
while read -r i t c; do
	if [ "$carry" = 1 ]; then
		printf '{"v":1,"op":"reset","ticket":"%s","code":"%s","new_password":"Crash-Reset-%s-Pass"}' \
			"$t" "$c" "$i" >"$q/tmp/reset$i.json"
	else
		printf '{"v":1,"op":"reset","ticket":"%s","new_password":"Crash-Reset-%s-Pass"}' \
			"$t" "$i" >"$q/tmp/reset$i.json"
	fi
done <"$tmp/tickets"
# All at once: the renames take milliseconds, not a process each.
drop "$q" "reset*.json"

answered() { ls "$q/out" | grep -c '^reset.*\.json$'; }
starts() { grep -c -F "ready (config $conf)" "$log"; }
# alive: the daemon runs (a zombie, not yet waited for, does not count).
alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$daemon_pid/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}
# progress WANT: WANT answers are in, or the daemon is gone and waiting
# longer would not help.
progress() { [ "$(answered)" -ge "$1" ] || ! alive; }
# Kill k comes once about k/(kills+1) of the answers are in, a random 0-49
# ms later, so the kills cover the whole run: fresh work, writes in flight,
# and recovery after the previous kill.
for k in $(seq 1 "$kills"); do
	want=$(( k * users / (kills + 1) ))
	wait_for 120 progress "$want"
	alive || break
	sleep "0.0$(( RANDOM % 5 ))$(( RANDOM % 10 ))"
	kill -9 "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
	echo "# kill $k: $(answered) of $users answered"
	ready_before=$(starts)
	"$SSPRD" -c "$conf" 2>>"$log" &
	daemon_pid=$!
done
# The last start (an earlier one may have been killed before it was
# ready) must come up; a daemon that cannot restart fails here, at once.
came_up() { [ "$(starts)" -gt "$ready_before" ] || ! alive; }
wait_for 15 came_up
restarted() { [ "$(starts)" -gt "$ready_before" ] && [ "$k" -eq "$kills" ] && alive; }
if restarted; then
	ok "ssprd came back after each of the $kills kills"
else
	not_ok "ssprd came back after each of the $kills kills (gone before kill $k)"
	tail -n 5 "$log" | sed 's/^/# /'
fi
wait_for 300 progress "$users"
check "all $users answered after $kills kills ($(answered))" [ "$(answered)" -eq "$users" ]

oks=0
for i in $(seq -w 1 "$users"); do
	if grep -q '"status":"ok"' "$q/out/reset$i.json" 2>/dev/null; then
		oks=$((oks + 1))
	else
		echo "# reset$i: $(cat "$q/out/reset$i.json" 2>/dev/null)"
	fi
done
check "every answer is ok ($oks of $users)" [ "$oks" -eq "$users" ]
left() { find "$q/new" "$q/cur" -mindepth 1 | wc -l; }
check "no request left in new/ or cur/" wait_for 10 bash -c "[ \$(find '$q/new' '$q/cur' -mindepth 1 | wc -l) -eq 0 ]"


binds=0
for i in $(seq -w 1 "$users"); do
	ldapwhoami -x -H "$LDAPS_URI" -D "uid=crash$i,$PEOPLE_DN" -w "Crash-Reset-$i-Pass" \
		</dev/null >/dev/null 2>&1 && binds=$((binds + 1))
done
check "every user binds with the new password ($binds of $users)" [ "$binds" -eq "$users" ]

# One pass over slapd's log: password modifies per user.
read -r twice missing < <(awk -v n="$users" -v w="$width" '
	/ PASSMOD id="uid=crash[0-9]+,/ {
		match($0, /uid=crash[0-9]+,/); c[substr($0, RSTART + 9, RLENGTH - 10)]++ }
	END {
		for (i = 1; i <= n; i++) {
			k = sprintf("%0" w "d", i)
			if (c[k] > 1) twice++
			if (c[k] < 1) missing++
		}
		print twice + 0, missing + 0
	}' "$SLAPD_LOG")
check "no password written twice ($twice users had more than one write)" [ "$twice" -eq 0 ]
check "none lost ($missing users had no write)" [ "$missing" -eq 0 ]
echo "# password modifies during the crash loop: $(( $(grep -c ' PASSMOD ' "$SLAPD_LOG") - passmod_before ))"
settled=$(grep -c "settling it from the directory" "$log")
echo "# writes settled from the directory after a kill: $settled"

daemon_stop
daemon_pid=
[ "$t_failed" -eq 0 ] || grep -E "error|warning|settl" "$log" | tail -n 30 | sed 's/^/# /'
finish
