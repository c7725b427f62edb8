#!/bin/bash
# submit-group.sh - a front end that runs as another account (issue 18,
# part 6). Through [daemon] submit_group it works: the account "daemon"
# plays the front end, ssprd runs as nobody, both in a throwaway group,
# and requests go through. Without the group, ssprd -t and the daemon's
# log say at once that such a front end cannot be served, and why; its
# requests do not get through.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root to make accounts and groups"
id daemon >/dev/null 2>&1 || skip_all "no account 'daemon' to play the front end"
command -v groupadd >/dev/null || skip_all "groupadd is not installed"
with_slapd submit-group
grp=ssprdt$$
cleanup() {
	groupdel "$grp" 2>/dev/null
	fixture_cleanup
}
trap cleanup EXIT
groupadd "$grp" && usermod -a -G "$grp" nobody && usermod -a -G "$grp" daemon
check "a throwaway group with nobody (ssprd) and daemon (the front end)" \
	bash -c "id -nG nobody | grep -qw $grp && id -nG daemon | grep -qw $grp"

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI"
spool_ini "$conf"
sed -i "s|^metrics =|metrics =\nsubmit_group = $grp|" "$conf"
log=$tmp/daemon.log
"$SSPRD" -t -c "$conf" >/dev/null 2>"$tmp/t.err"
check "ssprd -t: no warning about the queue with the group in place" \
	not_grep -F "submit_group" "$tmp/t.err"
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
front() { printf '%s' "$1" | runuser -u daemon -- "$SSPRCTL" -c "$conf" submit --wait "${SUBMIT_WAIT:-20}" 2>"$tmp/front.err"; }
a=$(front '{"v":1,"op":"policy"}')
expect "a request from the front end's own account gets through" "$a" status ok
a=$(front '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "...a start too" "$a" status ok
check "no warning about the queue in the log" not_grep -F "unreadable" "$log"
check "ssprd stops" daemon_stop

# --- without the group -----------------------------------------------------
sed -i -e "s|^submit_group = .*|submit_group = ssprd-nosuch$$|" \
	-e "s|^queue_dir = .*|queue_dir = $tmp/queue2|" "$conf"
"$SSPRD" -t -c "$conf" >/dev/null 2>"$tmp/t.err"
check "ssprd -t: a missing group is a warning that says who cannot submit" \
	grep -qF "submit_group ssprd-nosuch$$ does not exist: ssprd can read only requests its own account (nobody) wrote" "$tmp/t.err"
: >"$log"
daemon_start "$conf" "$log" || { not_ok "ssprd starts without the group"; cat "$log"; finish; exit 1; }
check "...and the log says so at start" grep -qF "no group ssprd-nosuch$$" "$log"
a=$(SUBMIT_WAIT=5 front '{"v":1,"op":"policy"}')
check "the front end's request does not get through" [ "$(jget "$a" status 2>/dev/null)" != ok ]
check "ssprd stops" daemon_stop

sed -i "s|^submit_group = .*|submit_group =|" "$conf"
"$SSPRD" -t -c "$conf" >/dev/null 2>"$tmp/t.err"
check "an empty submit_group: the same warning" \
	grep -qF "submit_group is empty: ssprd can read only requests its own account (nobody) wrote" "$tmp/t.err"
finish
