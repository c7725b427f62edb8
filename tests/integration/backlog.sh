#!/bin/bash
# backlog.sh - a slow mail command under a burst of changes.
#
# Notices go out after the answer, so only ssprd bounds them: at most
# NOTIFY_MAX_RUNNING (32) mail commands run at once, the rest wait in
# order, and past 64 waiting the spool takes no new request until they have
# all started (daemon/engine.c, "back pressure").
#
# 150 users change their passwords at once. The mail command notes how many
# copies of it run, then waits for a gate the test opens once the hold is
# logged (so the hold does not depend on how fast this machine answers
# compared with how fast it sends), then takes 0.1 s a message. Every change
# is answered ok, every notice arrives, never more than 32 commands run
# together, the hold is logged and released, and a request dropped while it
# holds is answered after the release, not before.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

users=150
with_slapd backlog
q=$tmp/queue
log=$tmp/daemon.log
conf=$tmp/ssprd.ini

add_users back "$users"

# The gated mailer: one file per message; run/PID while it runs. It waits
# for $tmp/gate/open at most 100 s (the test sets the command's timeout to
# 120 s).
mkdir -p "$tmp/mail/run" "$tmp/gate"
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp/mail/run"
cat >"$tmp/slowmail.sh" <<EOF
#!/bin/sh
d=$tmp/mail
: > "\$d/run/\$\$"
ls "\$d/run" | wc -l >> "\$d/peak.\$\$"
cat > "\$d/.msg.\$\$"
n=0
while [ ! -e "$tmp/gate/open" ] && [ \$n -lt 1000 ]; do
	sleep 0.1
	n=\$((n + 1))
done
sleep 0.1
mv "\$d/.msg.\$\$" "\$d/\$\$.msg"
rm -f "\$d/run/\$\$"
EOF
chmod 755 "$tmp/slowmail.sh"

write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
# Everything is queued at once: however slow the machine, none of it may be
# answered busy for waiting (the default [daemon] max_wait is 60 s).
sed -i "s|^metrics =|&\nmax_wait = 3600|" "$conf"
sed -i "s|^command = .*mailsink.sh.*|command = $tmp/slowmail.sh\ntimeout = 120|" "$conf"
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }

for i in $(seq -w 1 "$users"); do
	printf '{"v":1,"op":"change","user":"back%s","old_password":"Initial-Pass-%s-x","new_password":"Changed-Pass-%s-long"}' \
		"$i" "$i" "$i" >"$q/tmp/change$i.json"
done
chmod 644 "$q/tmp/"change*.json
drop "$q" "change*.json"

check "the hold is logged" wait_for 60 log_has "$log" "taking no new request until they are sent"
printf '{"v":1,"op":"policy"}' >"$q/tmp/late.json"
chmod 644 "$q/tmp/late.json"
mv "$q/tmp/late.json" "$q/new/"
sleep 1
check "a request dropped during the hold waits in new/" test -e "$q/new/late.json"
touch "$tmp/gate/open"
check "and released" wait_for 60 log_has "$log" "the messages are out; taking requests again"
check "all $users changes answered" wait_for 60 bash -c \
	"[ \$(ls '$q/out' | grep -c '^change.*\\.json\$') -eq $users ]"
oks=$(grep -l '"status":"ok"' "$q/out/"change*.json | wc -l)
check "every change is ok ($oks of $users)" [ "$oks" -eq "$users" ]
check "the request dropped during the hold is answered" wait_for 30 test -e "$q/out/late.json"
release=$(grep -n "taking requests again" "$log" | head -n 1 | cut -d: -f1)
late=$(grep -n "request id=late " "$log" | head -n 1 | cut -d: -f1)
check "after the release (log lines $release < ${late:-none})" \
	[ -n "$late" ] && [ -n "$release" ] && [ "$late" -gt "$release" ]
check "every notice arrives" wait_for 60 bash -c \
	"[ \$(ls '$tmp/mail' | grep -c '\\.msg\$') -eq $users ]"
peak=$(cat "$tmp/mail"/peak.* | sort -n | tail -n 1)
check "at most 32 mail commands at once (peak $peak)" [ "$peak" -le 32 ]
check "and they did overlap" [ "$peak" -ge 2 ]
check "ssprd is still up" kill -0 "$daemon_pid"

daemon_stop
daemon_pid=
finish
