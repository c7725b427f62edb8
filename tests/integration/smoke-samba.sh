#!/bin/bash
# smoke-samba.sh - checks that the Samba AD fixture (tests/fixtures/samba.sh)
# behaves the way the ssprd tests rely on.
#
# Starts a fresh fixture in a subdirectory of a mktemp -d directory, runs the
# checks below with ldap-utils, and always stops and removes the fixture on
# exit (trap; a second signal does not interrupt the cleanup).
# Prints one "ok - ..." or "not ok - ..." line per check.
# Exit status: 0 all checks passed, 1 a check or the fixture failed,
# 0 with a TAP skip line (samba-tool or samba not installed, or not root).
#
# Checks:
#   (a) LDAPS simple bind as the service account, verified with the test CA
#   (b) with an unrelated CA as trust anchor the TLS handshake is refused
#   (c) a simple bind over plain ldap:// is refused (transport encryption)
#   (d) the service account resets alice's unicodePwd, and alice can bind with
#       the new password (proves the delegation); the old one no longer works
#   (e) a second reset right away works (minimum password age 0)
#   (f) the service account may write lockoutTime and pwdLastSet of a user
#   (g) the service account may not write any other attribute (description)
#   (h) a too-short password is refused with 0000052D
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
samba_sh=$here/../fixtures/samba.sh

if ! command -v samba-tool >/dev/null 2>&1 || ! command -v samba >/dev/null 2>&1; then
	echo "1..0 # SKIP samba-tool/samba not installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the Samba AD fixture must run as root"
	exit 0
fi
# One Samba fixture at a time (fixed ports): see samba_lock in tests/lib.sh.
exec 9>/tmp/ssprd-samba-fixture.lock
flock -w 600 9 || { echo "Bail out! no Samba fixture lock after 600 s"; exit 1; }
for t in ldapsearch ldapmodify iconv base64; do
	command -v "$t" >/dev/null 2>&1 || { echo "not ok - $t not installed"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smoke-samba.XXXXXX")
dc=$tmp/dc # the fixture directory; test scratch files stay in $tmp
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	trap '' INT TERM HUP # a second signal must not cut the cleanup short
	"$samba_sh" stop "$dc" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

failed=0
checks=0
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
notok() {
	checks=$((checks + 1))
	echo "not ok $checks - $*"
	failed=1
}
# Show a command's output as TAP diagnostics.
diag() { sed 's/^/#   /' "$tmp/out"; }

if ! "$samba_sh" start "$dc" 2>"$tmp/start.err"; then
	sed 's/^/# /' "$tmp/start.err"
	echo "not ok - fixture starts"
	exit 1
fi
echo "# $(tail -n 1 "$tmp/start.err")"
ok "fixture starts"
# shellcheck disable=SC1091
. "$dc/env"

export LDAPTLS_REQCERT=demand LDAPTLS_CACERT="$CA_FILE"

# unicodePwd value: "password" in double quotes, UTF-16LE, base64.
unicode_pwd() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }

# ldap TOOL URI BINDDN PASSWORD [args...]: run an ldap-utils tool with a
# simple bind; output in $tmp/out, returns the tool's exit status.
ldap() {
	local tool=$1 uri=$2 dn=$3 pw=$4 rc=0
	shift 4
	"$tool" -x -H "$uri" -o nettimeout=10 -D "$dn" -w "$pw" "$@" >"$tmp/out" 2>&1 || rc=$?
	return "$rc"
}
svc_password=$(cat "$SVC_PASSWORD_FILE")

# Base search of the domain object; succeeds only if the bind did.
bind_check() { # uri dn password
	ldap ldapsearch "$1" "$2" "$3" -b "$BASE_DN" -s base dn && grep -q "^dn: $BASE_DN\$" "$tmp/out"
}

# reset DN PASSWORD as the service account
reset_pw() {
	printf 'dn: %s\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: %s\n-\n' \
		"$1" "$(unicode_pwd "$2")" >"$tmp/reset.ldif"
	ldap ldapmodify "$LDAPS_URI" "$SVC_DN" "$svc_password" -f "$tmp/reset.ldif"
}

# (a)
if bind_check "$LDAPS_URI" "$SVC_DN" "$svc_password"; then
	ok "LDAPS simple bind as the service account ($SVC_USER)"
else
	diag
	notok "LDAPS simple bind as the service account ($SVC_USER)"
fi

# (b) libldap reports a failed handshake as "Can't contact LDAP server" (-1);
# (a) just showed that the server itself is reachable.
rc=0
LDAPTLS_CACERT=$OTHER_CA_FILE ldap ldapsearch "$LDAPS_URI" "$SVC_DN" "$svc_password" \
	-b "$BASE_DN" -s base dn || rc=$?
if [ "$rc" -ne 0 ] && grep -q "Can't contact LDAP server" "$tmp/out" && ! grep -q "^dn:" "$tmp/out"; then
	ok "TLS handshake refused when trusting an unrelated CA"
else
	diag
	notok "TLS handshake refused when trusting an unrelated CA (rc=$rc)"
fi

# (c) strongerAuthRequired (8), "Transport encryption required".
rc=0
bind_check "$LDAP_URI" "$SVC_DN" "$svc_password" || rc=$?
if [ "$rc" -eq 8 ] && grep -q "Transport encryption required" "$tmp/out"; then
	ok "simple bind over plain ldap:// refused (transport encryption required)"
else
	diag
	notok "simple bind over plain ldap:// refused (rc=$rc, want 8)"
fi

# (d)
new1='NewPassw0rd-1'
if reset_pw "$USER1_DN" "$new1"; then
	ok "service account resets unicodePwd of $USER1"
	if bind_check "$LDAPS_URI" "$USER1_DN" "$new1"; then
		ok "$USER1 binds with the new password"
	else
		diag
		notok "$USER1 binds with the new password"
	fi
	rc=0
	bind_check "$LDAPS_URI" "$USER1_DN" "$USER1_PASSWORD" || rc=$?
	if [ "$rc" -eq 49 ]; then
		ok "$USER1's old password is rejected (invalidCredentials)"
	else
		diag
		notok "$USER1's old password is rejected (rc=$rc, want 49)"
	fi
else
	diag
	notok "service account resets unicodePwd of $USER1"
fi

# (e)
new2='NewPassw0rd-2'
if reset_pw "$USER1_DN" "$new2" && bind_check "$LDAPS_URI" "$USER1_DN" "$new2"; then
	ok "second reset in a row works (minimum password age 0)"
else
	diag
	notok "second reset in a row works (minimum password age 0)"
fi

# (f) lockoutTime may only be set to 0; pwdLastSet to 0 or -1 (-1 = now).
printf 'dn: %s\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n-\nreplace: pwdLastSet\npwdLastSet: -1\n-\n' \
	"$USER2_DN" >"$tmp/unlock.ldif"
if ldap ldapmodify "$LDAPS_URI" "$SVC_DN" "$svc_password" -f "$tmp/unlock.ldif"; then
	ok "service account writes lockoutTime and pwdLastSet of $USER2"
else
	diag
	notok "service account writes lockoutTime and pwdLastSet of $USER2"
fi

# (g) insufficientAccessRights (50).
printf 'dn: %s\nchangetype: modify\nreplace: description\ndescription: not allowed\n-\n' \
	"$USER1_DN" >"$tmp/descr.ldif"
rc=0
ldap ldapmodify "$LDAPS_URI" "$SVC_DN" "$svc_password" -f "$tmp/descr.ldif" || rc=$?
if [ "$rc" -eq 50 ]; then
	ok "service account cannot modify description of $USER1 (insufficient access)"
else
	diag
	notok "service account cannot modify description of $USER1 (rc=$rc, want 50)"
fi

# (h) constraintViolation (19) with 0000052D.
rc=0
reset_pw "$USER2_DN" 'Sh0rt!' || rc=$?
if [ "$rc" -eq 19 ] && grep -q 0000052D "$tmp/out"; then
	ok "too-short password refused with 0000052D"
else
	diag
	notok "too-short password refused with 0000052D (rc=$rc, want 19)"
fi

echo "1..$checks"
exit "$failed"
