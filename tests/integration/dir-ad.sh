#!/bin/bash
# dir-ad.sh - the directory layer against a real Active Directory (Samba AD DC).
#
# Every operation goes through ldap/dir.h on a real event loop (tests/dirtool)
# as the delegated service account (Reset Password right, lockoutTime and
# pwdLastSet only), and its effect is checked independently with ldap-utils:
# lookups (nested groups through the in-chain rule, disabled accounts,
# adminCount), unicodePwd resets and changes with Turkish and emoji passwords
# (UTF-16LE with surrogate pairs) followed by binds with them, every password
# rule Samba enforces mapped to its violation, lockout by bad binds and unlock
# (alone and inside a reset), enforce_history against a server without the
# policy-hints control, and an unknown CA refused.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

: "${DIRTOOL:?DIRTOOL must name tests/dirtool (run through make check)}"
with_samba dirad

ini=$tmp/ssprd.ini
write_ini "$ini" ad "$LDAPS_URI" "" "[policy]
allowed_groups = $GROUP_DN
admin_groups = $ADMIN_GROUP_DN"

dt() { "$DIRTOOL" -c "$ini" "$@" 2>>"$tmp/dirtool.err"; }
# Samba has no whoami: a bind plus a base search proves the password.
binds() {
	ldapsearch -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") -b "" -s base \
		</dev/null >/dev/null 2>&1
}
not_binds() { ! binds "$@"; }

# --- lookups ---------------------------------------------------------------
out=$(dt lookup "$USER1")
expect_field "lookup $USER1: found" "$out" found 1
expect_field "lookup $USER1: DN" "$out" dn "$USER1_DN"
expect_field "lookup $USER1: mail" "$out" mail "$USER1_MAIL"
expect_field "lookup $USER1: in SSPR Users (in-chain rule)" "$out" allowed 1
expect_field "lookup $USER1: not an admin" "$out" admin 0
check "lookup $USER1: pwdLastSet read" [ -n "$(field "$out" pwd_changed)" ]
out=$(dt lookup "$USER3")
expect_field "lookup $USER3: admin through Domain Admins" "$out" admin 1
out=$(dt lookup "$USER4")
expect_field "lookup $USER4: disabled" "$out" disabled 1
expect_field "lookup $USER4: not in allowed_groups" "$out" allowed 0
out=$(dt lookup Administrator)
expect_field "lookup Administrator: admin (adminCount=1)" "$out" admin 1
out=$(dt lookup "$USER5")
expect_field "lookup by a non-ASCII name ($USER5)" "$out" found 1
for evil in '*)(sAMAccountName=*' '*' "$USER1)(|(cn=*"; do
	out=$(dt lookup "$evil")
	expect_field "filter injection '$evil' finds nobody" "$out" found 0
done

# --- the admins to tell: Domain Admins (in-chain) and adminCount=1 ---------------
out=$(dt admins -)
check "admins: carol (Domain Admins) with her mail" \
	grep -qxF "admin=$USER3_DN mail=$USER3_MAIL" <<<"$out"
check "admins: not alice" bash -c "! grep -qF '$USER1_DN' <<<\"$out\""
check "admins: Administrator (adminCount=1) left out: no mail" \
	bash -c "! grep -qF '$ADMIN_DN' <<<\"$out\""

# --- resets, changes and binds --------------------------------------------------
turkish='Şifre-İğüşçö-2026'
emoji='Pass-😀-🔑-word-42'
before=$(field "$(dt lookup "$USER1")" pwd_changed)
out=$(printf '%s\n' "$turkish" | dt reset "$USER1_DN")
expect_field "unicodePwd reset to a Turkish password" "$out" result ok
check "$USER1 binds with it" binds "$USER1_DN" "$turkish"
check "$USER1's old password no longer binds" not_binds "$USER1_DN" "$USER1_PASSWORD"
after=$(field "$(dt lookup "$USER1")" pwd_changed)
check "pwdLastSet moved ($before -> $after)" [ "$before" != "$after" ]
out=$(printf '%s\n%s\n' "$turkish" "$emoji" | dt change "$USER1_DN")
expect_field "change (delete old + add new) to an emoji password" "$out" result ok
check "$USER1 binds with the emoji password (surrogate pairs)" binds "$USER1_DN" "$emoji"
out=$(printf '%s\n' "$emoji" | dt check "$USER1_DN")
expect_field "check_password accepts it" "$out" result ok
out=$(printf 'wrong-old-Pw1\nAnother-Pass-9\n' | dt change "$USER1_DN")
expect_field "change with a wrong old password: wrong-password" "$out" result wrong-password
check "...and nothing changed" binds "$USER1_DN" "$emoji"

# --- password rules ---------------------------------------------------------------
out=$(printf 'Sh0rt!\n' | dt reset "$USER2_DN")
expect_field "too short: violation too-short" "$out" violations too-short
out=$(printf 'alllowercaseletters\n' | dt reset "$USER2_DN")
expect_field "no complexity: violation complexity" "$out" violations complexity
out=$(printf '%s\n%s\n' "$emoji" "$turkish" | dt change "$USER1_DN")
expect_field "a change back to a previous password: violation history" "$out" violations history
samba_tool domain passwordsettings set --min-pwd-age=1
out=$(printf '%s\nYoung-Pass-word-1\n' "$emoji" | dt change "$USER1_DN")
expect_field "a change within the minimum age: violation too-young" "$out" violations too-young
samba_tool domain passwordsettings set --min-pwd-age=0

# --- lockout and unlock -------------------------------------------------------------
lock_out() {
	for _ in 1 2 3 4 5 6; do
		ldapsearch -x -H "$LDAPS_URI" -D "$1" -w Wrong-Password-0 -b "" -s base \
			</dev/null >/dev/null 2>&1
	done
}
lock_out "$USER2_DN"
out=$(dt lookup "$USER2")
expect_field "5 bad binds lock $USER2 (lookup says locked)" "$out" locked 1
out=$(printf '%s\n' "$USER2_PASSWORD" | dt check "$USER2_DN")
expect_field "the right password on a locked account: account-locked" "$out" result account-locked
out=$(dt unlock "$USER2_DN")
expect_field "unlock (lockoutTime: 0)" "$out" result ok
out=$(dt lookup "$USER2")
expect_field "...lookup says unlocked" "$out" locked 0
check "...and $USER2 binds again" binds "$USER2_DN" "$USER2_PASSWORD"
lock_out "$USER2_DN"
out=$(printf 'Reset-Unlocks-7x\n' | dt reset "$USER2_DN")
expect_field "a reset of a locked account (unlock_on_reset)" "$out" result ok
check "...unlocks it in the same modify: $USER2 binds" binds "$USER2_DN" "Reset-Unlocks-7x"
out=$(dt check "$USER4_DN" <<<"$USER4_PASSWORD")
expect_field "the right password on a disabled account: account-disabled" "$out" result account-disabled

# --- policy hints: Samba offers neither control -------------------------------------
check "enforce_history = auto warns that the control is missing" \
	grep -q "offers no policy hints control: password history is not enforced on resets" "$tmp/dirtool.err"
sed 's/^timeout = .*/&\nenforce_history = yes/' "$ini" >"$tmp/hist.ini"
out=$(printf 'Hist-Refused-9x\n' | "$DIRTOOL" -c "$tmp/hist.ini" reset "$USER2_DN" 2>"$tmp/hist.err")
expect_field "enforce_history = yes refuses the reset without the control" "$out" result internal
check "...says why in the log" grep -q "enforce_history = yes: refusing the reset" "$tmp/hist.err"
check "...and the password is unchanged" binds "$USER2_DN" "Reset-Unlocks-7x"
# The same refusal on a warm pool happens while the reset is being sent:
# its callback must still come from the event loop (it used to run inside
# dir_reset_password(), and the pool then read the freed operation).
out=$(printf 'Hist-Refused-9x\n' | "$DIRTOOL" -w -c "$tmp/hist.ini" reset "$USER2_DN" 2>"$tmp/hist.err")
expect_field "...on a warm pool too: internal" "$out" result internal
check "...told from the event loop, not inside the call that sent it" \
	not_grep inline=1 <<<"$out"
check "...and the password is unchanged" binds "$USER2_DN" "Reset-Unlocks-7x"

# --- TLS --------------------------------------------------------------------------
sed "s|^ca_file = .*|ca_file = $OTHER_CA_FILE|" "$ini" >"$tmp/wrongca.ini"
out=$(printf 'Never-Sent-Pass-1\n' | "$DIRTOOL" -c "$tmp/wrongca.ini" reset "$USER2_DN" 2>/dev/null)
expect_field "an unknown CA: directory-unavailable" "$out" result directory-unavailable
check "...and the password is unchanged" binds "$USER2_DN" "Reset-Unlocks-7x"

finish
