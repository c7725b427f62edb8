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
set -uo pipefail
. "$(dirname "$0")/../lib.sh"


users=${CRASH_USERS:-60}
kills=${CRASH_KILLS:-15}
SLAPD_LOGLEVEL=stats with_slapd crash

# Users crashNN with a mail address each.
for i in $(seq -w 1 "$users"); do
	cat <<LDIF
dn: uid=crash$i,$PEOPLE_DN
objectClass: inetOrgPerson
uid: crash$i
cn: Crash $i
sn: $i
mail: crash$i@example.org
userPassword: Initial-Pass-$i-x

LDIF
done >"$tmp/users.ldif"
check "$users test users added" bash -c "ldapadd -x -H '$LDAPS_URI' -D '$ADMIN_DN' \
	-y <(printf '%s' '$ADMIN_PASSWORD') -f '$tmp/users.ldif' >/dev/null"

conf=$tmp/ssprd.ini
mail=$tmp/mail
DIR_TIMEOUT=2 write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }

# Verified tickets, one per user.
tickets=()
prepared=0
for i in $(seq -w 1 "$users"); do
	a=$(submit "$conf" "{\"v\":1,\"op\":\"start\",\"user\":\"crash$i\",\"method\":\"email\"}")
	t=$(jget "$a" ticket)
	code=$(last_code "$mail")
	a=$(submit "$conf" "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
	[ "$(jget "$a" remaining)" = 0 ] && prepared=$((prepared + 1))
	tickets+=("$t")
done
check "$prepared of $users tickets verified" [ "$prepared" -eq "$users" ]
passmod_before=$(grep -c ' PASSMOD ' "$SLAPD_LOG")

# All resets at once.
q=$tmp/queue
for i in $(seq 1 "$users"); do
	n=$(printf '%02d' "$i")
	printf '{"v":1,"op":"reset","ticket":"%s","new_password":"Crash-Reset-%s-Pass"}' \
		"${tickets[$((i - 1))]}" "$n" >"$q/tmp/reset$n.json"
done
for i in $(seq -w 1 "$users"); do mv "$q/tmp/reset$i.json" "$q/new/"; done

answered() { ls "$q/out" | grep -c '^reset.*\.json$'; }
for k in $(seq 1 "$kills"); do
	# 0-99 ms: most kills land while requests are in flight
	sleep "0.0$(( RANDOM % 10 ))$(( RANDOM % 10 ))"
	kill -9 "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
	echo "# kill $k: $(answered) of $users answered"
	"$SSPRD" -c "$conf" 2>>"$log" &
	daemon_pid=$!
done
check "all $users answered after $kills kills" wait_for 120 bash -c "[ \$(ls '$q/out' | grep -c '^reset.*\\.json\$') -eq $users ]"

oks=0
for i in $(seq -w 1 "$users"); do
	a=$(cat "$q/out/reset$i.json" 2>/dev/null || echo '{}')
	if [ "$(jget "$a" status)" = ok ]; then
		oks=$((oks + 1))
	else
		echo "# reset$i: $a"
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

twice=0 missing=0
for i in $(seq -w 1 "$users"); do
	n=$(grep -c "PASSMOD id=\"uid=crash$i,$PEOPLE_DN\"" "$SLAPD_LOG")
	[ "$n" -gt 1 ] && twice=$((twice + 1))
	[ "$n" -lt 1 ] && missing=$((missing + 1))
done
check "no password written twice ($twice users had more than one write)" [ "$twice" -eq 0 ]
check "none lost ($missing users had no write)" [ "$missing" -eq 0 ]
echo "# password modifies during the crash loop: $(( $(grep -c ' PASSMOD ' "$SLAPD_LOG") - passmod_before ))"
settled=$(grep -c "settling it from the directory" "$log")
echo "# writes settled from the directory after a kill: $settled"

daemon_stop
daemon_pid=
[ "$t_failed" -eq 0 ] || grep -E "error|warning|settl" "$log" | tail -n 30 | sed 's/^/# /'
finish
