#!/bin/bash
# smoke-slapd.sh - check that the OpenLDAP test fixture (tests/fixtures/
# slapd.sh) behaves as the ssprd tests expect.
#
# Starts the fixture in a fresh mktemp -d directory, runs the checks below
# with the OpenLDAP command-line tools, prints one "ok - ..." or
# "not ok - ..." line per check (TAP, plan at the end), then always stops
# slapd and removes the directory (trap on EXIT/INT/TERM).
#
# Exit status: 0 all checks passed, 1 a check failed or the fixture did not
# start, 0 with a TAP skip line when slapd or ldap-utils are not installed.
# The check functions are only called through check():
# shellcheck disable=SC2317
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/../fixtures/slapd.sh

for tool in /usr/sbin/slapd /usr/sbin/slapadd /usr/sbin/slappasswd; do
	[[ -x $tool ]] || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
for tool in ldapwhoami ldappasswd ldapmodify ldapsearch openssl; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-slapd.XXXXXX")
cleanup() {
	sh "$fixture" stop "$dir" || :
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! sh "$fixture" start "$dir"; then
	echo "not ok - fixture starts"
	exit 1
fi
# shellcheck disable=SC1091
. "$dir/env"

# Every tool call below talks to 127.0.0.1 and trusts only the test CA,
# whatever /etc/ldap/ldap.conf or ~/.ldaprc say.
export LDAPTLS_CACERT=$CA_FILE LDAPTLS_REQCERT=demand
unset LDAPTLS_CERT LDAPTLS_KEY LDAPURI LDAPBINDDN LDAPBASE || :

n=0 failed=0
out=$dir/check.out
check() { # DESCRIPTION COMMAND...: pass if COMMAND succeeds
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$out"
		failed=$((failed + 1))
	fi
}

svc_whoami() { # CAFILE: simple bind as the service account over LDAPS
	LDAPTLS_CACERT=$1 ldapwhoami -x -H "$LDAPS_URI" -o nettimeout=5 \
		-D "$SVC_DN" -y "$SVC_PASSWORD_FILE"
}
svc_whoami_is_svc() {
	[[ $(svc_whoami "$CA_FILE") == "dn:$SVC_DN" ]]
}
wrong_ca_refused() {
	local err
	if err=$(svc_whoami "$OTHER_CA_FILE" 2>&1); then return 1; fi
	echo "$err"
	[[ $err == *"Can't contact LDAP server"* ]]	# TLS handshake failed
}
svc_sets_password() { # USER_DN PASSWORD
	ldappasswd -x -H "$LDAPS_URI" -D "$SVC_DN" -y "$SVC_PASSWORD_FILE" \
		-s "$2" "$1"
}
user_binds() { # USER_DN PASSWORD
	[[ $(ldapwhoami -x -H "$LDAPS_URI" -D "$1" -w "$2") == "dn:$1" ]]
}
user_bind_fails() { # USER_DN PASSWORD
	! ldapwhoami -x -H "$LDAPS_URI" -D "$1" -w "$2"
}
refused_by_ppolicy() { # EXPECTED-PPOLICY-ERROR USER_DN PASSWORD
	local res
	if res=$(ldappasswd -e ppolicy -x -H "$LDAPS_URI" -D "$SVC_DN" \
		-y "$SVC_PASSWORD_FILE" -s "$3" "$2" 2>&1); then
		return 1
	fi
	echo "$res"
	[[ $res == *"ppolicy: error=$1 "* ]]
}
# The service account writes passwords and what registration needs (mail,
# mobile, ssprdQuestions), nothing else.
svc_cannot_modify_description() {
	local rc=0
	printf 'dn: %s\nchangetype: modify\nreplace: description\ndescription: x\n' \
		"$USER2_DN" | ldapmodify -x -H "$LDAPS_URI" -D "$SVC_DN" \
		-y "$SVC_PASSWORD_FILE" || rc=$?
	[[ $rc -eq 50 ]]	# insufficientAccess
}
external_is_svc() {
	[[ $(LDAPTLS_CERT=$CLIENT_CERT LDAPTLS_KEY=$CLIENT_KEY \
		ldapwhoami -Y EXTERNAL -H "$LDAPS_URI" 2>/dev/null) == "dn:$SVC_DN" ]]
}

new1="Smoke-1-$RANDOM$RANDOM"
new2="Smoke-2-$RANDOM$RANDOM"

# (a) the service account binds over LDAPS, trusting the test CA
check "LDAPS simple bind as the service account" svc_whoami_is_svc
# (b) trusting an unrelated CA makes the TLS handshake fail
check "LDAPS with OTHER_CA_FILE as CA is refused" wrong_ca_refused
# (d) the service account resets a user's password; the user can bind with it
check "service account sets $USER1's password" svc_sets_password "$USER1_DN" "$new1"
check "$USER1 binds with the new password" user_binds "$USER1_DN" "$new1"
check "$USER1's old password no longer binds" \
	user_bind_fails "$USER1_DN" "$USER1_PASSWORD"
# (e) ppolicy refuses a too-short password (error 6 = passwordTooShort)
check "too-short password refused by ppolicy" \
	refused_by_ppolicy 6 "$USER1_DN" "short1"
# history: after one more change, the previous password is refused (8)
check "service account changes $USER1's password again" \
	svc_sets_password "$USER1_DN" "$new2"
check "password in history refused by ppolicy" \
	refused_by_ppolicy 8 "$USER1_DN" "$new1"
check "non-ASCII password of $USER5 binds" user_binds "$USER5_DN" "$USER5_PASSWORD"
check "service account cannot modify description" svc_cannot_modify_description
check "SASL EXTERNAL with the client certificate is the service account" \
	external_is_svc

echo "1..$n"
if [[ $failed -ne 0 ]]; then
	echo "# $failed of $n checks failed; slapd log: (last lines)"
	tail -n 20 "$SLAPD_LOG" | sed 's/^/#   /'
	exit 1
fi
exit 0
