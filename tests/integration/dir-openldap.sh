#!/bin/bash
# dir-openldap.sh - the directory layer against a real slapd (ppolicy, TLS).
#
# Every operation goes through ldap/dir.h on a real event loop (tests/dirtool)
# and its effect is checked independently with the OpenLDAP tools: lookups
# with nested groups and a filter-injection attempt, resets and changes with
# Turkish and emoji passwords followed by binds with them, each ppolicy
# violation mapped, lockout by bad binds and unlock, many resets in flight at
# once, failover from a refused URI, a wrong CA refused before any bind, and
# a server that accepts TCP but never answers.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v ldapwhoami >/dev/null || skip_all "ldap-utils are not installed"
: "${DIRTOOL:?DIRTOOL must name tests/dirtool (run through make check)}"

with_slapd dirol
hung_pid=
trap '[ -n "$hung_pid" ] && kill "$hung_pid" 2>/dev/null; fixture_cleanup' EXIT

ini=$tmp/ssprd.ini
write_ini "$ini" openldap "$LDAPS_URI" "" "[policy]
allowed_groups = $ALLOWED_GROUP_DN
admin_groups = $ADMINS_GROUP_DN"

dt() { "$DIRTOOL" -c "$ini" "$@" 2>>"$tmp/dirtool.err"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }

# --- lookups ---------------------------------------------------------------
out=$(dt lookup "$USER1")
expect_field "lookup $USER1: found" "$out" found 1
expect_field "lookup $USER1: DN as the server returns it" "$out" dn "$USER1_DN"
expect_field "lookup $USER1: mail" "$out" mail "$USER1_MAIL"
expect_field "lookup $USER1: in allowed_groups" "$out" allowed 1
expect_field "lookup $USER1: not an admin" "$out" admin 0
out=$(dt lookup "$USER3")
expect_field "lookup $USER3: admin through admin_groups" "$out" admin 1
# An outcome known at once (an empty name is nobody, without asking) still
# reaches the callback from the event loop, not inside dir_lookup_user().
out=$(dt -w lookup "")
expect_field "lookup of an empty name: not found" "$out" found 0
check "...told from the event loop, not inside the call" \
	not_grep inline=1 <<<"$out"
out=$(dt lookup "$USER4")
expect_field "lookup $USER4: not in allowed_groups" "$out" allowed 0
out=$(dt lookup "$USER6")
expect_field "lookup $USER6: allowed through a nested group" "$out" allowed 1
for evil in '*)(uid=*' '*' "$USER1)(|(uid=*" 'a\2a'; do
	out=$(dt lookup "$evil")
	expect_field "filter injection '$evil' finds nobody" "$out" found 0
done
out=$(dt lookup nosuchuser)
expect_field "an unknown user is not an error" "$out" result ok

# --- the admins to tell (nested groups walked downwards) ----------------------
out=$(dt admins -)
check "admins: carol (in the admins group) with her mail" \
	grep -qxF "admin=$USER3_DN mail=$USER3_MAIL" <<<"$out"
expect_field "admins: only her" "$(tail -n 1 <<<"$out")" admins 1

# --- resets, changes and binds with non-ASCII passwords -----------------------
turkish='Şifre-İğüşçö-2026'
emoji='Pass-😀-🔑-word-42'
out=$(printf '%s\n' "$turkish" | dt reset "$USER1_DN")
expect_field "reset $USER1 to a Turkish password" "$out" result ok
check "$USER1 binds with the Turkish password (ldapwhoami)" binds "$USER1_DN" "$turkish"
not_binds() { ! binds "$@"; }
check "$USER1's old password no longer binds" not_binds "$USER1_DN" "$USER1_PASSWORD"
out=$(printf '%s\n' "$turkish" | dt check "$USER1_DN")
expect_field "check_password accepts the Turkish password" "$out" result ok
out=$(printf 'not-it\n' | dt check "$USER1_DN")
expect_field "check_password refuses a wrong one" "$out" result wrong-password

out=$(printf '%s\n%s\n' "$turkish" "$emoji" | dt change "$USER1_DN")
expect_field "change with the right old password (to an emoji password)" "$out" result ok
check "$USER1 binds with the emoji password" binds "$USER1_DN" "$emoji"
out=$(printf 'wrong-old-pw\nWhatever-Pass-77\n' | dt change "$USER1_DN")
expect_field "change with a wrong old password" "$out" result wrong-password
check "...and the password did not change" binds "$USER1_DN" "$emoji"

# --- policy violations --------------------------------------------------------
out=$(printf 'short\n' | dt reset "$USER2_DN")
expect_field "too short: password-policy" "$out" result password-policy
expect_field "too short: violation too-short" "$out" violations too-short
out=$(printf '%s\n' "$turkish" | dt reset "$USER1_DN")
expect_field "a password in history: violation history" "$out" violations history
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") \
	>/dev/null 2>&1 <<LDIF
dn: $POLICY_DN
changetype: modify
replace: pwdMinAge
pwdMinAge: 3600
LDIF
out=$(printf '%s\nYoung-Pass-word-1\n' "$emoji" | dt change "$USER1_DN")
expect_field "a change within pwdMinAge: violation too-young" "$out" violations too-young
ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") \
	>/dev/null 2>&1 <<LDIF
dn: $POLICY_DN
changetype: modify
replace: pwdMinAge
pwdMinAge: 0
LDIF

# --- lockout and unlock ---------------------------------------------------------
for _ in 1 2 3 4 5 6; do
	ldapwhoami -x -H "$LDAPS_URI" -D "$USER2_DN" -w wrong-password >/dev/null 2>&1
done
out=$(dt lookup "$USER2")
expect_field "5 bad binds lock $USER2 (lookup says locked)" "$out" locked 1
out=$(printf '%s\n' "$USER2_PASSWORD" | dt check "$USER2_DN")
expect_field "the right password on a locked account: account-locked" "$out" result account-locked
out=$(dt unlock "$USER2_DN")
expect_field "unlock" "$out" result ok
out=$(dt lookup "$USER2")
expect_field "...lookup says unlocked" "$out" locked 0
check "...and $USER2 binds again" binds "$USER2_DN" "$USER2_PASSWORD"
out=$(dt unlock "$USER2_DN")
expect_field "unlocking an unlocked account is fine" "$out" result ok

# --- many in flight ---------------------------------------------------------------
# Six users, seven resets each, all started at once: the pool spreads them
# over its connections and sends writes to one entry one at a time.
for i in $(seq 1 7); do
	for n in 1 2 3 4 5 6; do
		dn_var=USER${n}_DN
		printf '%s\tMany-In-Flight-%s-%s-x\n' "${!dn_var}" "$n" "$i"
	done
done >"$tmp/many"
"$DIRTOOL" -c "$ini" batch-reset - <"$tmp/many" >"$tmp/many.out" 2>>"$tmp/dirtool.err"
ok_count=$(grep -c '^result=ok ' "$tmp/many.out")
check "42 resets in flight at once: all answered ($(wc -l <"$tmp/many.out"))" [ "$(wc -l <"$tmp/many.out")" -eq 42 ]
check "...all succeed ($ok_count ok)" [ "$ok_count" -eq 42 ]
# Writes to one entry go in the order they were started: the last wins.
check "...in order: each user binds with their last new password" bash -c '
	for n in 1 2 3 4 5 6; do
		dn_var=USER${n}_DN
		ldapwhoami -x -H "$LDAPS_URI" -D "${!dn_var}" -w "Many-In-Flight-$n-7-x" \
			</dev/null >/dev/null 2>&1 || exit 1
	done'

# --- other transports and binds -----------------------------------------------------
write_ini "$tmp/starttls.ini" openldap "$LDAP_URI" "starttls = yes"
out=$("$DIRTOOL" -c "$tmp/starttls.ini" lookup "$USER1" 2>>"$tmp/dirtool.err")
expect_field "ldap:// with StartTLS" "$out" found 1
cat >"$tmp/external.ini" <<INI
[daemon]
metrics =
[directory]
type = openldap
uri = $LDAPS_URI
base_dn = $BASE_DN
bind = sasl
sasl_mech = EXTERNAL
ca_file = $CA_FILE
tls_cert_file = $CLIENT_CERT
tls_key_file = $CLIENT_KEY
[email]
command = /bin/true
INI
out=$("$DIRTOOL" -c "$tmp/external.ini" lookup "$USER1" 2>>"$tmp/dirtool.err")
expect_field "SASL EXTERNAL with a client certificate over LDAPS" "$out" found 1
sed -e "s|^uri = .*|uri = $LDAPI_URI|" -e '/^tls_/d' "$tmp/external.ini" >"$tmp/ldapi.ini"
out=$(printf 'Over-Ldapi-Pass-3\n' | "$DIRTOOL" -c "$tmp/ldapi.ini" reset "$USER2_DN" 2>>"$tmp/dirtool.err")
expect_field "SASL EXTERNAL over ldapi://: a reset" "$out" result ok
check "...took effect" binds "$USER2_DN" "Over-Ldapi-Pass-3"

# --- an outage: operations wait for the server, then complete --------------------
"$FIXTURES/slapd.sh" stop "$tmp/slapd" >/dev/null 2>&1
DIR_TIMEOUT=8 write_ini "$tmp/outage.ini" openldap "$LDAPS_URI"
"$DIRTOOL" -c "$tmp/outage.ini" lookup "$USER1" >"$tmp/outage.out" 2>>"$tmp/dirtool.err" &
waiter=$!
sleep 1.5
"$FIXTURES/slapd.sh" restart "$tmp/slapd" >/dev/null 2>&1
wait "$waiter"
out=$(cat "$tmp/outage.out")
expect_field "a lookup started while slapd was down completes once it is back" "$out" found 1

# --- failover, wrong CA, a server that never answers --------------------------------
dead_port=$(( LDAPS_PORT + 7 ))
while grep -q ":$dead_port " <<<"$(ss -ltn)"; do dead_port=$((dead_port + 1)); done
write_ini "$tmp/failover.ini" openldap "ldaps://127.0.0.1:$dead_port $LDAPS_URI"
out=$(printf 'Failover-Pass-1x\n' | "$DIRTOOL" -c "$tmp/failover.ini" reset "$USER2_DN" 2>>"$tmp/dirtool.err")
expect_field "failover: first URI refused, reset done through the second" "$out" result ok
expect_field "...by the second server" "$out" server "$LDAPS_URI"
check "...and it took effect" binds "$USER2_DN" "Failover-Pass-1x"

binds_before=$(grep -c "BIND dn=\"$SVC_DN\"" "$SLAPD_LOG")
sed "s|^ca_file = .*|ca_file = $OTHER_CA_FILE|" "$ini" >"$tmp/wrongca.ini"
out=$(printf 'Never-Sent-Pass-1\n' | "$DIRTOOL" -c "$tmp/wrongca.ini" reset "$USER2_DN" 2>>"$tmp/dirtool.err")
expect_field "a server certificate from an unknown CA: directory-unavailable" "$out" result directory-unavailable
binds_after=$(grep -c "BIND dn=\"$SVC_DN\"" "$SLAPD_LOG")
check "...and no bind reached the server (no password sent)" [ "$binds_before" -eq "$binds_after" ]
check "...and the password is unchanged" binds "$USER2_DN" "Failover-Pass-1x"

hung_port=$(( dead_port + 1 ))
while grep -q ":$hung_port " <<<"$(ss -ltn)"; do hung_port=$((hung_port + 1)); done
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, never answer
' "$hung_port" &
hung_pid=$!
wait_for 5 bash -c "grep -q ':$hung_port ' <<<\"\$(ss -ltn)\""
DIR_TIMEOUT=2 write_ini "$tmp/hung.ini" openldap "ldaps://127.0.0.1:$hung_port"
start_ns=$(date +%s%N)
out=$(timeout 30 "$DIRTOOL" -c "$tmp/hung.ini" lookup "$USER1" 2>>"$tmp/dirtool.err")
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
expect_field "a server that accepts TCP and never answers: directory-unavailable (${elapsed_ms} ms)" \
	"$out" result directory-unavailable

finish
