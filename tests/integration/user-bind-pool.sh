#!/bin/bash
# user-bind-pool.sh - users' own binds reuse a few kept TLS connections
# (issue 18, part 0).
#
# A change on OpenLDAP binds as the user and sends the password modify on
# that connection; a wrong old password is a bind answered invalidCredentials.
# Neither may cost a TCP connection and a TLS handshake: the pool keeps
# min([directory] connections, 4) connections for them, opened when ssprd
# starts, and re-binds one per request.
#
# 30 users change their passwords at once, then all 30 try again with the
# old (now wrong) password: every change is ok, every retry wrong-password,
# and ssprd_directory_connections_opened_total{pool="user"} does not move
# (slapd's own log agrees: it accepted no connection meanwhile). Then slapd
# restarts: the kept connections break, are opened again, and changes are
# served again; another burst opens nothing more. Nothing here is timed:
# every wait polls with a generous deadline.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

users=30
pool=4
with_slapd ubind
q=$tmp/queue
log=$tmp/daemon.log
conf=$tmp/ssprd.ini
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

add_users ub "$users"

write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
lockout_failures = 100"
spool_ini "$conf"
sed -i "s|^metrics =\$|metrics = 127.0.0.1:$port\nmax_wait = 3600|" "$conf"
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

scrape() {
	python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		"http://127.0.0.1:$port/metrics" 2>/dev/null
}
# opened POOL: ssprd_directory_connections_opened_total{pool=POOL}
opened() {
	scrape | sed -n "s/^ssprd_directory_connections_opened_total{pool=\"$1\"} //p"
}
# pool_open: every kept connection has been opened once
pool_open() { [ "$(opened user)" -ge "$pool" ] 2>/dev/null; }
# accepts: connections slapd has accepted so far (its "stats" log)
accepts() { grep -c ' ACCEPT from ' "$SLAPD_LOG"; }

# burst NAME OLD NEW FROM TO: users ubFROM..ubTO change OLD to NEW at once
# (the patterns get the user's number); waits for every answer.
burst() {
	local i
	for i in $(seq -w "$4" "$5"); do
		printf '{"v":1,"op":"change","user":"ub%s","old_password":"%s","new_password":"%s"}' \
			"$i" "${2//@/$i}" "${3//@/$i}" >"$q/tmp/$1-$i.json"
	done
	chmod 644 "$q/tmp/$1"-*.json
	drop "$q" "$1-*.json"
	wait_for 120 bash -c "[ \$(ls '$q/out' | grep -c '^$1-.*\\.json\$') -eq $(( 10#$5 - 10#$4 + 1 )) ]"
}
# answered NAME WHAT: how many answers of burst NAME contain WHAT
answered() { grep -l -F -- "$2" "$q/out/$1"-*.json 2>/dev/null | wc -l; }

check "the user connections are opened when ssprd starts" wait_for 60 pool_open
u0=$(opened user) s0=$(opened service) a0=$(accepts)
echo "# before: user $u0, service $s0 connection(s) opened; slapd accepted $a0"
check "...$pool of them, no more ($u0)" [ "$u0" -eq "$pool" ]

# --- 30 changes at once, then 30 wrong passwords ---------------------------------
check "$users changes answered" burst a 'Initial-Pass-@-x' 'Changed-Pass-@-long' 1 "$users"
n=$(answered a '"status":"ok"')
check "...every one ok ($n of $users)" [ "$n" -eq "$users" ]
check "$users changes with the old password answered" \
	burst b 'Initial-Pass-@-x' 'Other-Pass-@-longer' 1 "$users"
n=$(answered b '"reason":"wrong-password"')
check "...every one wrong-password ($n of $users)" [ "$n" -eq "$users" ]
u1=$(opened user) s1=$(opened service) a1=$(accepts)
echo "# after $((2 * users)) changes: user $u1, service $s1 connection(s) opened;" \
	"slapd accepted $a1"
check "no user connection opened for them ($u0 -> $u1)" [ "$u1" -eq "$u0" ]
check "...nor a service connection ($s0 -> $s1)" [ "$s1" -eq "$s0" ]
check "...and slapd accepted no connection meanwhile ($a0 -> $a1)" [ "$a1" -eq "$a0" ]
check "the new passwords bind (ub01, ub$users)" bash -c "
	exec >/dev/null 2>&1
	ldapwhoami -x -H '$LDAPS_URI' -D 'uid=ub01,$PEOPLE_DN' -w Changed-Pass-01-long &&
	ldapwhoami -x -H '$LDAPS_URI' -D 'uid=ub$users,$PEOPLE_DN' -w Changed-Pass-$users-long"

# --- slapd restarts: the kept connections are replaced ----------------------------
"$FIXTURES/slapd.sh" restart "$tmp/slapd" >/dev/null 2>&1
check "slapd restarted" "$FIXTURES/slapd.sh" status "$tmp/slapd"
# One change, tried again while the pool reconnects: directory-unavailable
# until then (nothing was written), then ok.
served() {
	local a
	a=$(submit "$conf" '{"v":1,"op":"change","user":"ub01","old_password":"Changed-Pass-01-long","new_password":"Restart-Pass-01-long"}')
	case $(jget "$a" status)/$(jget "$a" reason) in
	ok/*) return 0 ;;
	error/directory-unavailable | error/busy) sleep 0.5; return 1 ;;
	*) echo "# unexpected: $a"; return 2 ;;
	esac
}
check "after the restart a change is served again" wait_for 120 served
reopened() { [ "$(opened user)" -ge $((u1 + pool)) ] 2>/dev/null; }
check "the user connections are opened again" wait_for 60 reopened
u2=$(opened user)
echo "# after the restart: user $u2 connection(s) opened"
check "the log says why (connection lost)" grep -q "user binds: connection lost" "$log"
check "10 changes after the restart answered" \
	burst c 'Changed-Pass-@-long' 'Third-Pass-@-longest' 2 11
n=$(answered c '"status":"ok"')
check "...every one ok ($n of 10)" [ "$n" -eq 10 ]
u3=$(opened user)
check "...no user connection opened for them ($u2 -> $u3)" [ "$u3" -eq "$u2" ]

# --- no password in the log -----------------------------------------------------
check "no password in the log" not_grep -E 'Initial-Pass|Changed-Pass|Other-Pass|Third-Pass|Restart-Pass' "$log"
check "ssprd is still up" kill -0 "$daemon_pid"
check "ssprd stops cleanly" daemon_stop
daemon_pid=
finish
