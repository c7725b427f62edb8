#!/bin/bash
# reconfirm.sh - the status op, reconfirmation and the report's due list
# against slapd (issue 15, item 5; shipped-example-ad.sh does the same on
# Samba AD).
#
# With security questions the only method, a user starts with nothing
# registered: status says so (and nothing is due). Registering stamps the
# registration; a stamp older than reconfirm_days (set back in the state
# while ssprd is stopped) makes status and ssprctl report say it is due;
# register {"reconfirm": true} stamps it again. The report needs ssprd's
# state only with reconfirm_days, and says so when it cannot read it.
set -uo pipefail
: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"
. "$(dirname "$0")/../lib.sh"

with_slapd reconfirm

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "
[policy]
allowed_groups = $ALLOWED_GROUP_DN
methods = questions
reconfirm_days = 30
lockout_failures = 20
[questions]
attribute = $QUESTIONS_ATTR
required = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
status() { sub "{\"v\":1,\"op\":\"status\",\"user\":\"$1\",\"password\":\"$2\"}"; }
report() { "$SSPRCTL" -c "$1" report --json >"$tmp/report.json" 2>"$tmp/report.err"; }
rget() { python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k] if not isinstance(v, list) else [x[k] for x in v]
print(json.dumps(v, separators=(",", ":"), sort_keys=True))' "$tmp/report.json" "$1"; }
user=$USER1 pw=$USER1_PASSWORD

a=$(status "$user" "$pw")
expect "status before registering: ok" "$a" status ok
expect "...nothing registered" "$a" registered '[]'
expect "...questions offered" "$a" offered '["questions"]'
expect "...one method required" "$a" required 1
expect "...not enough" "$a" enough false
expect "...never confirmed" "$a" confirmed_at null
expect "...nothing to reconfirm" "$a" reconfirm_due false
expect "...reconfirm_days given" "$a" reconfirm_days 30
expect "a wrong password: wrong-password" "$(status "$user" "wrong-$$")" reason wrong-password
expect "an unknown user: the same" "$(status "nosuch$$" "$pw")" reason wrong-password
expect "a user outside allowed_groups, with the password: not-allowed" \
	"$(status "$USER4" "$USER4_PASSWORD")" reason not-allowed

report "$conf"
check "the report reads the state beside the running ssprd" [ -s "$tmp/report.json" ]
in_scope=$(rget users.in_scope)
expect_json() { local got; got=$(rget "$2"); check "$1 ($2 = $got)" [ "$got" = "$3" ]; }
expect_json "...nobody has anything registered" users.nothing_registered "$in_scope"
expect_json "...nobody is due" reconfirm.due 0

qs='[{"question":"First pet?","answer":"Rex"},{"question":"Birth city?","answer":"Ankara"},{"question":"First school?","answer":"Atatürk"}]'
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$pw\",\"questions\":$qs}")
expect "register questions: ok" "$a" registered '["questions"]'
first=$(jget "$a" confirmed_at)
check "...confirmed now ($first)" [ "$(( $(date +%s) - first ))" -le 60 ]
expect "...not due" "$a" reconfirm_due false
a=$(status "$user" "$pw")
expect "status: questions registered" "$a" registered '["questions"]'
expect "...enough" "$a" enough true
expect "...the same time" "$a" confirmed_at "$first"

# --- 31 days later -------------------------------------------------------------------
daemon_stop
records=$(as_daemon "$STORETOOL" "$tmp/state" list accounts)
check "the state holds one registration record" [ "$(wc -l <<<"$records")" -eq 1 ]
key=$(cut -f1 <<<"$records")
check "...keyed by a hash, not the name or DN" not_grep -q -i -e "$user" -e "dc=" <<<"$key"
old=$(( first - 31 * 86400 ))
as_daemon "$STORETOOL" "$tmp/state" put accounts "$key" "{\"confirmed\":$old}"
daemon_start "$conf" "$log" || { not_ok "ssprd starts again"; finish; exit 1; }
a=$(status "$user" "$pw")
expect "status 31 days on: due" "$a" reconfirm_due true
expect "...confirmed then" "$a" confirmed_at "$old"
report "$conf"
expect_json "the report: one due" reconfirm.due 1
expect_json "...alice" reconfirm.users.name "[\"$user\"]"
expect_json "...one user fewer with nothing registered" users.nothing_registered "$((in_scope - 1))"
"$SSPRCTL" -c "$conf" report >"$tmp/report.txt" 2>&1
check "...the text report says so too" grep -qE "^    due for reconfirmation +1  \(reconfirm_days 30\)" "$tmp/report.txt"
check "...and names her" grep -q "^    $user  $USER1_DN" "$tmp/report.txt"

a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"$pw\",\"reconfirm\":true}")
expect "register reconfirm: ok" "$a" status ok
expect "...not due" "$a" reconfirm_due false
check "...stamped now" [ "$(jget "$a" confirmed_at)" -ge "$first" ]
expect "status agrees" "$(status "$user" "$pw")" reconfirm_due false
expect "reconfirm with a wrong password: wrong-password" \
	"$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"$user\",\"password\":\"no-$$\",\"reconfirm\":true}")" \
	reason wrong-password

# --- the report without the state -----------------------------------------------------
sed "s|^state_dir = .*|state_dir = $tmp/nostate|" "$conf" >"$tmp/nostate.ini"
report "$tmp/nostate.ini"
check "without ssprd's state, the report with reconfirm_days exits 1" [ $? -eq 1 ]
check "...saying why" grep -q "cannot read when users last confirmed their registration (reconfirm_days = 30)" "$tmp/report.err"
check "...and prints no counts" [ ! -s "$tmp/report.json" ]
sed -i "s|^reconfirm_days = 30|reconfirm_days = 0|" "$tmp/nostate.ini"
report "$tmp/nostate.ini"
check "with reconfirm_days = 0 it needs no state" [ -s "$tmp/report.json" ]
expect_json "...and reports no reconfirmation" reconfirm null

daemon_stop
finish
