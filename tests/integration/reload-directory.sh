#!/bin/bash
# reload-directory.sh - a reload keeps the directory connections unless
# something the directory layer reads changed.
#
# Every reload used to rebuild them: [email] attribute was compared as a
# pointer (always different). Now a [policy]-only reload binds nothing new
# (slapd's log counts the service account's binds), and a changed
# allowed_groups list of the same length is picked up: new connections, and
# a user outside the new group gets a decoy.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

SLAPD_LOGLEVEL=stats with_slapd reload

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
allowed_groups = $ALLOWED_GROUP_DN
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

binds() { grep -c "BIND dn=\"$SVC_DN\"" "$SLAPD_LOG"; }
reloads() { grep -c "config: reloaded" "$log"; }
# reload: SIGHUP, and wait until it took effect.
reload() {
	local n
	n=$(reloads)
	kill -HUP "$daemon_pid"
	wait_for 10 bash -c "[ \$(grep -c 'config: reloaded' '$log') -gt $n ]"
}

a=$(submit "$conf" '{"v":1,"op":"start","user":"bob","method":"email"}')
expect "bob starts: a code goes out" "$a" status ok
check "...bob is in allowed_groups: a real start" \
	not_grep "user=bob .*decoy" "$log"
b0=$(binds)

sed -i 's/^min_length = 12$/min_length = 14/' "$conf"
check "a [policy]-only reload takes effect" reload
a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "a start after it" "$a" status ok
b1=$(binds)
check "...and no new connection was bound ($b0 -> $b1 binds)" [ "$b1" -eq "$b0" ]
check "...the log says nothing of new connections" \
	not_grep "new connections" "$log"

sed -i "s|^allowed_groups = .*|allowed_groups = $ADMINS_GROUP_DN|" "$conf"
check "a reload with another allowed group (one for one)" reload
check "...makes new connections" wait_for 10 log_has "$log" "new connections"
a=$(submit "$conf" '{"v":1,"op":"start","user":"bob","method":"email"}')
expect "bob starts again: answered alike" "$a" status ok
check "...but bob is no longer allowed: a decoy" \
	grep -q "user=bob .*decoy: not in allowed_groups" "$log"
check "...bound anew ($b1 -> $(binds) binds)" [ "$(binds)" -gt "$b1" ]

daemon_stop
daemon_pid=
finish
