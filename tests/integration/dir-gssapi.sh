#!/bin/bash
# dir-gssapi.sh - the service account binds with SASL GSSAPI and a keytab,
# against the Samba AD DC fixture in Kerberos mode (SAMBA_KERBEROS=1).
#
# The configurations under test hold no password at all: [directory]
# bind = sasl, sasl_mech = GSSAPI, sasl_keytab = svc-sspr's keytab (mode
# 0600), no bind_dn, no bind_password_file. Every directory operation goes
# through ldap/dir.h on a real event loop (tests/dirtool), and its effect is
# checked independently with ldap-utils.
#
# Checks:
#   (a) lookup over ldaps:// (TLS, no SASL security layer inside it)
#   (b) a reset over ldaps://, then a simple bind with the new password
#   (c) lookup over ldap:// without StartTLS: only possible under the
#       GSSAPI encryption layer (session.c demands ssf >= 56)
#   (d) a reset over that sealed ldap://: AD takes unicodePwd only over an
#       encrypted connection, and the seal counts as one
#   (e) keytabs that cannot get svc-sspr a ticket (an empty one, one of a
#       principal the KDC does not know, one with stale keys): the operation
#       fails at once with internal (the service account's credentials are
#       wrong: the pool fails what waits instead of letting it time out),
#       and the log says why in Kerberos terms.
#       The stale keytab's failures count as bad passwords: it locks
#       svc-sspr out, after which the right keytab is refused too, until
#       the account is unlocked.
#   (f) ssprd -t accepts the GSSAPI ldap:// configuration and rejects the
#       same URI with bind = simple (it would carry a password in clear)
#   (g) the keytab alone decides who ssprd is: a credential cache of
#       another user (alice, via KRB5CCNAME) is neither used nor written,
#       and no ticket is ever written to disk.
#
# Not tested: a reconnect after the service account's tickets ran out (ssprd
# counts on MIT krb5 getting new ones from the client keytab, named by
# KRB5_CLIENT_KTNAME). Samba's KDC refuses a service ticket when the TGT has
# less than about 5 minutes left: after `kinit -l` 30 s, 60 s, 90 s or
# 120 s, `kvno ldap/127.0.0.1` says "Ticket expired" at once; 301 s works.
# A test of expiry would wait over 5 minutes, twice in CI (plain and ASan).
#
# Kerberos is confined to the test: KRB5_CONFIG is the fixture's krb5.conf
# (KDC 127.0.0.1:88, no DNS), KRB5CCNAME points into the temp directory.
# Skipped (TAP skip_all) without root, samba-tool, kinit/ktutil or the Cyrus
# SASL GSSAPI plugin (Debian: libsasl2-modules-gssapi-mit). Holds the Samba
# fixture lock (/tmp/ssprd-samba-fixture.lock) while it runs: the fixture's
# ports are fixed, so only one AD fixture can run at a time.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

for t in kinit ktutil; do
	command -v "$t" >/dev/null || skip_all "$t is not installed (krb5-user)"
done
gssapi_plugin() {
	local f
	for f in /usr/lib/sasl2/libgssapiv2.so* /usr/lib/*/sasl2/libgssapiv2.so* \
		/usr/lib64/sasl2/libgssapiv2.so*; do
		[ -e "$f" ] && return 0
	done
	return 1
}
gssapi_plugin || skip_all "the Cyrus SASL GSSAPI plugin is not installed (libsasl2-modules-gssapi-mit)"
: "${DIRTOOL:?DIRTOOL must name tests/dirtool (run through make check)}"
# Out-of-tree builds: ssprd is next to tests/dirtool's directory.
[ -x "$SSPRD" ] || SSPRD=$(cd "$(dirname "$DIRTOOL")/.." && pwd)/ssprd

t0=$(date +%s%N)
SAMBA_KERBEROS=1 with_samba gssapi
echo "# fixture with KDC up in $((($(date +%s%N) - t0) / 1000000)) ms (the wait for the Samba lock included)"
# A default cache that must never come into existence: ssprd keeps its
# tickets in memory.
export KRB5CCNAME=FILE:$tmp/default.ccache

check "fixture: KRB5_CONFIG is its own krb5.conf" [ "$KRB5_CONFIG" = "$SAMBA_DIR/private/krb5.conf" ]
check "fixture: svc-sspr's keytab has mode 0600" [ "$(stat -c %a "$SVC_KEYTAB")" = 600 ]

# gss_ini FILE URI KEYTAB [TIMEOUT]: a directory bound with GSSAPI only.
gss_ini() {
	cat >"$1" <<INI
[daemon]
metrics =
[directory]
type = ad
uri = $2
base_dn = $BASE_DN
bind = sasl
sasl_mech = GSSAPI
sasl_keytab = $3
ca_file = $CA_FILE
timeout = ${4:-5}
[policy]
allowed_groups = $GROUP_DN
admin_groups = $ADMIN_GROUP_DN
[email]
command = /bin/true
INI
}
gss_ini "$tmp/ldaps.ini" "$LDAPS_URI" "$SVC_KEYTAB"
gss_ini "$tmp/ldap.ini" "$LDAP_URI" "$SVC_KEYTAB"
check "the configurations name no password file" \
	bash -c '! grep -q "^bind_\(dn\|password_file\)" "$@"' _ "$tmp/ldaps.ini" "$tmp/ldap.ini"

dt() { # ini command args...
	local ini=$1
	shift
	"$DIRTOOL" -c "$ini" "$@" 2>>"$tmp/dirtool.err"
}
# Samba has no whoami: a bind plus a base search proves the password.
binds() {
	ldapsearch -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") -b "" -s base \
		</dev/null >/dev/null 2>&1
}
not_binds() { ! binds "$@"; }

# --- (a), (b): ldaps:// ---------------------------------------------------------
out=$(dt "$tmp/ldaps.ini" lookup "$USER1")
expect_field "(a) ldaps + GSSAPI: lookup $USER1 found" "$out" found 1
expect_field "(a) ...its DN" "$out" dn "$USER1_DN"
expect_field "(a) ...in SSPR Users" "$out" allowed 1
expect_field "(a) ...served by the ldaps:// URI" "$out" server "$LDAPS_URI"

pw_b='Kerb-Tls-Reset-1x'
out=$(printf '%s\n' "$pw_b" | dt "$tmp/ldaps.ini" reset "$USER2_DN")
expect_field "(b) ldaps + GSSAPI: reset $USER2" "$out" result ok
check "(b) ...$USER2 binds with the new password (simple bind over ldaps)" binds "$USER2_DN" "$pw_b"
check "(b) ...and no longer with the old one" not_binds "$USER2_DN" "$USER2_PASSWORD"

# --- (c), (d): ldap:// sealed by GSSAPI -------------------------------------------
out=$(dt "$tmp/ldap.ini" lookup "$USER1")
expect_field "(c) ldap:// without StartTLS + GSSAPI (sealed): lookup $USER1 found" "$out" found 1
expect_field "(c) ...served by the ldap:// URI" "$out" server "$LDAP_URI"
check "(c) ...and no bind was refused for a weak security layer" \
	bash -c '! grep -q "security layer is too weak" "$1"' _ "$tmp/dirtool.err"

pw_d='Kerb-Seal-Reset-2y'
out=$(printf '%s\n' "$pw_d" | dt "$tmp/ldap.ini" reset "$USER2_DN")
expect_field "(d) sealed ldap:// + GSSAPI: reset $USER2 (unicodePwd accepted)" "$out" result ok
expect_field "(d) ...served by the ldap:// URI" "$out" server "$LDAP_URI"
check "(d) ...$USER2 binds with the new password" binds "$USER2_DN" "$pw_d"
check "(d) ...and no longer with the previous one" not_binds "$USER2_DN" "$pw_b"

# --- (e) keytabs that get svc-sspr no ticket --------------------------------------
umask 077
printf '\005\002' >"$tmp/empty.keytab" # a keytab file with no entries
printf 'addent -password -p nobody@%s -k 1 -e aes256-cts-hmac-sha1-96\nNobody-Pass-1\nwkt %s\n' \
	"$REALM" "$tmp/other.keytab" | ktutil >/dev/null 2>&1
printf 'addent -password -p %s -k 1 -e aes256-cts-hmac-sha1-96\nNot-The-Password-1\nwkt %s\n' \
	"$SVC_PRINCIPAL" "$tmp/stale.keytab" | ktutil >/dev/null 2>&1
umask 022
check "(e) ktutil wrote the keytab of an unknown principal" [ -s "$tmp/other.keytab" ]
check "(e) ktutil wrote a keytab of svc-sspr with wrong keys" [ -s "$tmp/stale.keytab" ]

# bad_keytab NAME KEYTAB WHY: a lookup and a reset both fail, and the log
# gives WHY (the Kerberos reason) for the refused bind.
bad_keytab() {
	local ini=$tmp/$1.ini err=$tmp/$1.err out
	gss_ini "$ini" "$LDAPS_URI" "$2" 1
	out=$("$DIRTOOL" -c "$ini" lookup "$USER1" 2>"$err")
	expect_field "(e) $1 keytab: lookup is internal" "$out" result internal
	out=$(printf 'Never-Set-Pass-9\n' | "$DIRTOOL" -c "$ini" reset "$USER2_DN" 2>>"$err")
	expect_field "(e) $1 keytab: reset is internal" "$out" result internal
	check "(e) ...the log says: refused the service account's bind: internal (...$3...)" \
		grep -q "refused the service account's bind: internal (.*$3" "$err"
}
bad_keytab empty "$tmp/empty.keytab" "No Kerberos credentials available"
bad_keytab other "$tmp/other.keytab" "Client 'nobody@$REALM' not found in Kerberos database"
bad_keytab stale "$tmp/stale.keytab" "Preauthentication failed"
check "(e) ...and $USER2's password is unchanged" binds "$USER2_DN" "$pw_d"

# Wrong keys for svc-sspr are bad passwords to the KDC: every connection the
# pool opens counts, so a stale keytab locks the service account out (the
# fixture's threshold is 5), and then even the right keytab is refused.
svc_locked() {
	local t
	t=$(ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y "$ADMIN_PASSWORD_FILE" -b "$SVC_DN" -s base lockoutTime </dev/null 2>/dev/null |
		sed -n 's/^lockoutTime: //p')
	[ -n "$t" ] && [ "$t" != 0 ]
}
for _ in 1 2 3 4; do
	svc_locked && break
	"$DIRTOOL" -c "$tmp/stale.ini" lookup "$USER1" >/dev/null 2>>"$tmp/stale.err"
done
check "(e) the stale keytab has locked svc-sspr out (lockoutTime set)" svc_locked
gss_ini "$tmp/ldaps-short.ini" "$LDAPS_URI" "$SVC_KEYTAB" 1
out=$("$DIRTOOL" -c "$tmp/ldaps-short.ini" lookup "$USER1" 2>"$tmp/locked.err")
expect_field "(e) ...then even the right keytab: internal" "$out" result internal
check "(e) ...the log says: credentials have been revoked" \
	grep -q "refused the service account's bind: internal (.*Client's credentials have been revoked" "$tmp/locked.err"
samba-tool user unlock "$SVC_USER" -s "$SAMBA_CONF" -H "$SAMBA_DIR/private/sam.ldb" >/dev/null 2>&1
out=$(dt "$tmp/ldaps.ini" lookup "$USER1")
expect_field "(e) ...once unlocked (samba-tool user unlock), the keytab works again" "$out" found 1

# --- (f) the configuration check ---------------------------------------------------
"$SSPRD" -t -c "$tmp/ldap.ini" >"$tmp/t-gss.out" 2>"$tmp/t-gss.err"
check "(f) ssprd -t accepts GSSAPI over ldap:// without StartTLS" [ $? -eq 0 ]
sed -e 's/^bind = sasl$/bind = simple/' -e '/^sasl_/d' \
	-e "s|^base_dn = .*|&\nbind_dn = $SVC_DN\nbind_password_file = $SVC_PASSWORD_FILE|" \
	"$tmp/ldap.ini" >"$tmp/simple.ini"
"$SSPRD" -t -c "$tmp/simple.ini" >"$tmp/t-simple.out" 2>"$tmp/t-simple.err"
check "(f) ssprd -t rejects the same ldap:// with bind = simple" [ $? -eq 1 ]
check "(f) ...because it would carry passwords in clear" \
	grep -q "simple.ini:[0-9]*: $LDAP_URI would carry passwords in clear" "$tmp/t-simple.err"
cp "$SVC_KEYTAB" "$tmp/open.keytab"
chmod 644 "$tmp/open.keytab"
gss_ini "$tmp/open.ini" "$LDAP_URI" "$tmp/open.keytab"
"$SSPRD" -t -c "$tmp/open.ini" >/dev/null 2>"$tmp/t-open.err"
check "(f) ssprd -t rejects a keytab readable by others" \
	grep -q "sasl_keytab: .*accessible by group or other" "$tmp/t-open.err"

# --- (g) only the keytab counts ------------------------------------------------------
check "(g) no ticket was written to the default credential cache" [ ! -e "$tmp/default.ccache" ]
printf '%s' "$USER1_PASSWORD" | KRB5CCNAME=FILE:$tmp/alice.ccache kinit "$USER1@$REALM" >/dev/null 2>&1
check "(g) alice has a credential cache of her own" [ -s "$tmp/alice.ccache" ]
sum_before=$(cksum <"$tmp/alice.ccache")
# alice holds no reset right on bob: success proves the bind was svc-sspr's.
pw_g='Kerb-Own-Cache-3z'
out=$(printf '%s\n' "$pw_g" | KRB5CCNAME=FILE:$tmp/alice.ccache dt "$tmp/ldaps.ini" reset "$USER2_DN")
expect_field "(g) with alice's cache as KRB5CCNAME, the reset still binds as svc-sspr" "$out" result ok
check "(g) ...$USER2 binds with the new password" binds "$USER2_DN" "$pw_g"
out=$(KRB5CCNAME=FILE:$tmp/alice.ccache "$DIRTOOL" -c "$tmp/empty.ini" lookup "$USER1" 2>/dev/null)
expect_field "(g) an empty keytab does not fall back to alice's tickets" "$out" result internal
check "(g) ...and alice's cache was not touched" [ "$(cksum <"$tmp/alice.ccache")" = "$sum_before" ]

finish
