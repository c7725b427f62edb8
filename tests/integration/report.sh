#!/bin/bash
# report.sh - ssprctl report against a real slapd: exact counts, the
# administrators short of admin_methods_required, paging, and 10 000 users.
#
# The fixture's users are changed directly as its rootdn (the report reads
# the directory, it does not care who wrote it): alice gets a registered
# (recovery) address and three questions; bob a registered number and only
# two questions (registered, but fewer than [questions] required = 3);
# carol, the administrator, loses her mobile (one of the two admin_methods
# she needs); zoe's recovery address is not an address (not registered,
# her mail still usable); erin is disabled by an administrative lock; dave
# stays outside allowed_groups. Every count of --json is then checked,
# with the default page size and with pages of 2 entries.
#
# Then 10 000 users are added in one ldapadd, all in one group nested in
# allowed_groups (so the group walk meets a 10 000-member group): every one
# with mail, every 4th with a mobile, every 10th with a recovery address,
# and ten of them administrators with mail only. The report on them is
# timed and the time printed as a diagnostic line, never asserted; its
# counts, and that it took more than one page, are.
#
# A directory that cannot be read is exit status 1 with the reason on
# stderr and nothing on stdout.
set -uo pipefail
: "${STORETOOL:?STORETOOL must name tests/storetool (run through make check)}"
# shellcheck disable=SC1091
. "$(dirname "$0")/../lib.sh"

command -v ldapmodify >/dev/null || skip_all "ldap-utils are not installed"
with_slapd report

BULK=10000

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "recovery_attribute = $RECOVERY_MAIL_ATTR
[sms]
command = /bin/true
recovery_attribute = $RECOVERY_MOBILE_ATTR
[questions]
attribute = $QUESTIONS_ATTR
required = 3
[policy]
allowed_groups = $ALLOWED_GROUP_DN
admin_groups = $ADMINS_GROUP_DN
methods = email, sms, questions
methods_required = 1
admin_methods = email, sms
admin_methods_required = 2"

as_admin() {
	ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y <(printf '%s' "$ADMIN_PASSWORD") "$@" >"$tmp/ldapmodify.log" 2>&1
}

# questions N: a [questions] attribute value with N questions, in the
# shape ssprd stores (the hashes need only look like argon2id ones).
questions() {
	python3 -c '
import json, sys
n = int(sys.argv[1])
print(json.dumps({"v": 1, "q": [{"q": "Question %d?" % i,
    "h": "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"} for i in range(n)]}))
' "$1"
}

check "the fixture's users are given registrations" as_admin <<LDIF
dn: $USER1_DN
changetype: modify
replace: $RECOVERY_MAIL_ATTR
$RECOVERY_MAIL_ATTR: alice.recovery@example.org
-
replace: $QUESTIONS_ATTR
$QUESTIONS_ATTR: $(questions 3)

dn: $USER2_DN
changetype: modify
replace: $RECOVERY_MOBILE_ATTR
$RECOVERY_MOBILE_ATTR: +15550199002
-
replace: $QUESTIONS_ATTR
$QUESTIONS_ATTR: $(questions 2)

dn: $USER3_DN
changetype: modify
delete: mobile

dn: $USER5_DN
changetype: modify
replace: $RECOVERY_MAIL_ATTR
$RECOVERY_MAIL_ATTR: not-an-address

dn: $USER6_DN
changetype: modify
replace: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z
LDIF

# run NAME ARGS...: ssprctl report's stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err, exit status in $tmp/NAME.rc.
run() {
	local name=$1
	shift
	"$SSPRCTL" -c "$conf" report "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}

# counts NAME: the numbers of a --json report, one "path=value" a line.
counts() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for k, v in r["users"].items():
    print("users.%s=%s" % (k, v))
for m, c in r["methods"].items():
    for k, v in c.items():
        print("%s.%s=%s" % (m, k, "null" if v is None else v))
a = r["admins"]
print("admins.in_scope=%s" % a["in_scope"])
print("admins.required=%s" % a["required"])
print("admins.below=%s" % ",".join(sorted("%s:%s" % (b["name"], "+".join(b["usable"]))
    for b in a["below_required"])))
print("admins.below_count=%s" % len(a["below_required"]))
print("pages=%s" % r["pages"])
if r.get("reconfirm"):
    print("reconfirm.due=%s" % r["reconfirm"]["due"])
' "$tmp/$1.out" 2>&1
}

# expect_counts NAME DESCRIPTION EXPECTED...: every expected path=value in
# the report; one TAP result.
expect_counts() {
	local name=$1 desc=$2 want missing=
	shift 2
	counts "$name" >"$tmp/$name.counts"
	for want in "$@"; do
		grep -qxF -- "$want" "$tmp/$name.counts" || missing="$missing $want"
	done
	if [ -z "$missing" ]; then
		ok "$desc"
	else
		not_ok "$desc (missing:$missing)"
		sed 's/^/# /' "$tmp/$name.counts"
	fi
}

small=(users.matched=6 users.disabled=1 users.not_allowed=1
	users.in_scope=4 users.can_reset=3 users.cannot_reset=1
	email.registered=1 email.usable=4
	sms.registered=1 sms.usable=3
	questions.registered=2 questions.usable=1
	admins.in_scope=1 admins.required=2 admins.below=carol:email
	admins.below_count=1)

run small --json
check "report --json: exit 0" test "$(cat "$tmp/small.rc")" = 0
check "report --json: nothing on stderr" test ! -s "$tmp/small.err"
expect_counts small "report --json: every count of the fixture" "${small[@]}"

run paged --json --page-size 2
expect_counts paged "report --json --page-size 2: the same counts" "${small[@]}"
pages=$(sed -n 's/^pages=//p' "$tmp/paged.counts")
check "report --page-size 2: more than one page per search ($pages)" \
	test "${pages:-0}" -gt 4

run text
check "report (text): exit 0" test "$(cat "$tmp/text.rc")" = 0
check "report (text): users in scope" \
	grep -qE '^  in scope +4$' "$tmp/text.out"
check "report (text): the email line" \
	grep -qE '^  email +1 +4$' "$tmp/text.out"
check "report (text): carol is listed, with her DN" \
	log_has "$tmp/text.out" "    carol  $USER3_DN  (usable: email)"
check "report (text): pages and seconds" \
	grep -qE '^read in [0-9.]+ s: [0-9]+ pages, [0-9]+ searches$' "$tmp/text.out"

# --- no directory -----------------------------------------------------------------
cp "$conf" "$tmp/dead.ini"
sed -i "s|^uri = .*|uri = ldaps://127.0.0.1:1|" "$tmp/dead.ini"
"$SSPRCTL" -c "$tmp/dead.ini" report --json >"$tmp/dead.out" 2>"$tmp/dead.err"
check "no directory: exit 1" test $? = 1
check "no directory: nothing on stdout" test ! -s "$tmp/dead.out"
check "no directory: the reason and the URI on stderr" \
	log_has "$tmp/dead.err" "ssprctl: report: cannot read the directory (ldaps://127.0.0.1:1): directory-unavailable"

"$SSPRCTL" -c "$conf" status --json >/dev/null 2>&1
check "--json with another command: usage error (2)" test $? = 2
"$SSPRCTL" -c "$conf" report --page-size 0 >/dev/null 2>&1
check "--page-size 0: usage error (2)" test $? = 2

# --- 10 000 users ---------------------------------------------------------------
bulk_dn="cn=bulk,$GROUPS_DN"
python3 - "$PEOPLE_DN" "$bulk_dn" "$ADMINS_GROUP_DN" "$BULK" \
	"$RECOVERY_MAIL_ATTR" >"$tmp/bulk.ldif" <<'EOF'
import sys
people, group, admins, n, recovery = sys.argv[1:6]
n = int(n)
dns = []
for i in range(1, n + 1):
    uid = "bulk%05d" % i
    dn = "uid=%s,%s" % (uid, people)
    dns.append(dn)
    print("dn: %s" % dn)
    print("objectClass: inetOrgPerson\nobjectClass: ssprdAccount")
    print("uid: %s\ncn: Bulk %d\nsn: %d" % (uid, i, i))
    print("mail: %s@example.org" % uid)
    if i % 4 == 0:
        print("mobile: +1555%07d" % i)
    if i % 10 == 0:
        print("%s: %s.r@example.org" % (recovery, uid))
    print()
print("dn: %s\nobjectClass: groupOfNames\ncn: bulk" % group)
for dn in dns:
    print("member: %s" % dn)
print()
# ten administrators, mail only: short of admin_methods_required
print("dn: %s\nchangetype: modify\nadd: member" % admins)
for i in range(1, n + 1, n // 10):
    print("member: %s" % dns[i - 1])
print()
EOF
# ldapmodify -a: the entries are adds, the admins' record a modify.
check "$BULK users, their group and ten admins added in one run" \
	as_admin -a -f "$tmp/bulk.ldif"
check "the bulk group is nested in allowed_groups" as_admin <<LDIF
dn: $ALLOWED_GROUP_DN
changetype: modify
add: member
member: $bulk_dn
LDIF

run bulk --json
check "report on $BULK users: exit 0" test "$(cat "$tmp/bulk.rc")" = 0
expect_counts bulk "report on $BULK users: every count" \
	users.matched=$((BULK + 6)) users.disabled=1 users.not_allowed=1 \
	users.in_scope=$((BULK + 4)) users.can_reset=$((BULK - 10 + 3)) \
	users.cannot_reset=11 \
	email.registered=$((BULK / 10 + 1)) email.usable=$((BULK + 4)) \
	sms.registered=1 sms.usable=$((BULK / 4 + 3)) \
	questions.registered=2 questions.usable=1 \
	admins.in_scope=11 admins.below_count=11
pages=$(sed -n 's/^pages=//p' "$tmp/bulk.counts")
check "report on $BULK users: more than one page ($pages)" test "${pages:-0}" -gt 1
seconds=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["seconds"])' \
	"$tmp/bulk.out" 2>/dev/null)
echo "# report on $BULK users: ${seconds:-?} s, ${pages:-?} pages"

# With reconfirm_days, the registration times come from ssprd's state (one
# record read per user): nobody ever confirmed here, so every user in scope
# with something registered is due.
mkdir -m 700 "$tmp/state"
"$STORETOOL" "$tmp/state" put accounts a:nobody '{"confirmed":1}' ||
	not_ok "a state is made"
sed -e "s|^metrics =|metrics =\nstate_dir = $tmp/state|" "$conf" >"$tmp/due.ini"
echo "reconfirm_days = 180" >>"$tmp/due.ini"
conf=$tmp/due.ini
run due --json
check "report with reconfirm_days on $BULK users: exit 0" test "$(cat "$tmp/due.rc")" = 0
expect_counts due "...everyone in scope with something registered is due" \
	users.nothing_registered=0 reconfirm.due=$((BULK + 4))
seconds=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["seconds"])' \
	"$tmp/due.out" 2>/dev/null)
echo "# report with reconfirm_days on $BULK users: ${seconds:-?} s"

finish
