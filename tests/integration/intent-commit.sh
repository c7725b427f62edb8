#!/bin/bash
# intent-commit.sh - a reset whose spent ticket cannot be saved does not
# leave the ticket usable (issue 12, item 6), against real slapd.
#
# The password is written; then the commit that records it and spends the
# ticket fails (tests/failsync.c makes fdatasync on the store fail, as a
# failing disk would). Before, ssprd logged it, answered ok, and the
# ticket stayed usable: a second reset with it wrote again. Now the commit
# is tried once more, and when that fails too the ticket is refused from
# then on (expired), though the store still holds it.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v cc >/dev/null || skip_all "a C compiler is needed for the failsync shim"
with_slapd icommit

cc -shared -fPIC -o "$tmp/failsync.so" "$SRCDIR/tests/failsync.c" -ldl ||
	{ echo "Bail out! cannot build tests/failsync.c"; exit 1; }
chmod 0755 "$tmp/failsync.so"

conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
flag=$tmp/failsync.flag
# An ASan build wants its runtime first; the shim comes before it here.
FAILSYNC_FLAG=$flag LD_PRELOAD=$tmp/failsync.so \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }

a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$(last_code "$mail")\"}")
expect "alice verifies her code" "$a" verified '["email"]'

# One commit may go (the write intent), then every one fails.
echo 1 >"$flag"
chmod 0644 "$flag"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"First-New-Pass-2026\"}")
rm -f "$flag"
expect "the reset is written and answered ok" "$a" status ok
check "alice binds with the new password" binds "$USER1_DN" "First-New-Pass-2026"
check "the first failed commit is tried again" \
	grep -q "cannot record that the write took effect; trying again" "$log"
check "...and the second failure refuses the ticket" \
	grep -q "its ticket is refused from now on" "$log"
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"Second-New-Pass-2026\"}")
expect "the same ticket again: expired" "$a" reason expired
check "...and the password stays the first one" binds "$USER1_DN" "First-New-Pass-2026"
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"12345678\"}")
expect "a verify with it: expired too" "$a" reason expired

finish
