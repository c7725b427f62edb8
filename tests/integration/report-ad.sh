#!/bin/bash
# report-ad.sh - ssprctl report against Samba AD: membership by the in-chain
# rule, the AD defaults otherMailbox / otherMobile as recovery attributes,
# userAccountControl for disabled accounts, and AD's paged results.
#
# As Administrator: alice gets a registered address (otherMailbox) and
# three questions, bob a registered number (otherMobile), carol (in Domain
# Admins, hence an administrator) loses her mobile. dave is disabled by the
# fixture. The built-in accounts (Administrator, Guest, krbtgt, the DC's
# computer account, the service account) also match user_filter and are
# outside allowed_groups or disabled; their number depends on Samba, so
# only the sum is checked for them, every count of the users in scope
# exactly.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../lib.sh"

command -v ldapmodify >/dev/null || skip_all "ldap-utils are not installed"
with_samba report-ad

conf=$tmp/ssprd.ini
write_ini "$conf" ad "$LDAPS_URI" "" "[sms]
command = /bin/true
[questions]
attribute = $QUESTIONS_ATTR
required = 3
[policy]
allowed_groups = $GROUP_DN
admin_groups = $ADMIN_GROUP_DN
methods = email, sms, questions
methods_required = 1
admin_methods = email, sms
admin_methods_required = 2"

questions() {
	python3 -c '
import json, sys
n = int(sys.argv[1])
print(json.dumps({"v": 1, "q": [{"q": "Question %d?" % i,
    "h": "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"} for i in range(n)]}))
' "$1"
}

check "the users are given registrations (as Administrator)" bash -c \
	"ldapmodify -x -H '$LDAPS_URI' -D '$ADMIN_DN' -y '$ADMIN_PASSWORD_FILE' \
	>/dev/null 2>'$tmp/ldapmodify.log'" <<LDIF
dn: $USER1_DN
changetype: modify
replace: otherMailbox
otherMailbox: alice.recovery@example.org
-
replace: $QUESTIONS_ATTR
$QUESTIONS_ATTR: $(questions 3)

dn: $USER2_DN
changetype: modify
replace: otherMobile
otherMobile: +15550199002

dn: $USER3_DN
changetype: modify
delete: mobile
LDIF
[ -s "$tmp/ldapmodify.log" ] && sed 's/^/# /' "$tmp/ldapmodify.log"

counts() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
u = r["users"]
for k, v in u.items():
    print("users.%s=%s" % (k, v))
print("users.sum=%s" % (u["matched"] == u["disabled"] + u["not_allowed"] + u["in_scope"]))
for m, c in r["methods"].items():
    for k, v in c.items():
        print("%s.%s=%s" % (m, k, "null" if v is None else v))
a = r["admins"]
print("admins.in_scope=%s" % a["in_scope"])
print("admins.below=%s" % ",".join(sorted("%s:%s" % (b["name"], "+".join(b["usable"]))
    for b in a["below_required"])))
print("pages=%s" % r["pages"])
' "$tmp/$1.out" 2>&1
}

want=(users.sum=True users.in_scope=4 users.can_reset=3 users.cannot_reset=1
	email.registered=1 email.usable=4
	sms.registered=1 sms.usable=3
	questions.registered=1 questions.usable=1
	admins.in_scope=1 "admins.below=$USER3:email")

for size in default 2; do
	args=(--json)
	[ "$size" = default ] || args+=(--page-size "$size")
	"$SSPRCTL" -c "$conf" report "${args[@]}" >"$tmp/$size.out" 2>"$tmp/$size.err"
	check "report (page size $size): exit 0" test $? = 0
	counts "$size" >"$tmp/$size.counts"
	missing=
	for w in "${want[@]}"; do
		grep -qxF -- "$w" "$tmp/$size.counts" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then
		ok "report (page size $size): every count of the users in scope"
	else
		not_ok "report (page size $size): every count (missing:$missing)"
		sed 's/^/# /' "$tmp/$size.counts" "$tmp/$size.err"
	fi
done
pages=$(sed -n 's/^pages=//p' "$tmp/2.counts")
check "report --page-size 2: AD paged the answer ($pages pages)" \
	test "${pages:-0}" -gt 3

finish
