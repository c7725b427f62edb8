#!/bin/bash
# client-address.sh - a client is counted on its address, not on how the
# front end spelled it.
#
# With max_failures_per_client_hour = 3: after 3 failed proofs from
# 2001:db8::1, the same address spelled 2001:0db8:0:0::1 is throttled, and
# so is another address of its /64 (2001:db8::2), while another /64
# (2001:db8:0:1::1) is not; after 3 from ::ffff:198.51.100.20, plain
# 198.51.100.20 is throttled and 198.51.100.21 is not. The audit log shows
# the canonical address.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd caddr

conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
max_failures_per_client_hour = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
chg() { # USER OLD CLIENT: a change with OLD as the old password
	sub "{\"v\":1,\"op\":\"change\",\"user\":\"$1\",\"old_password\":\"$2\",\"new_password\":\"Never-Set-Pass-2026\",\"client\":\"$3\"}"
}

# --- IPv6: one spelling, one /64 ----------------------------------------------------
for u in nosuchuserA nosuchuserB nosuchuserC; do a=$(chg "$u" Summer2026 2001:db8::1); done
expect "3 wrong passwords from 2001:db8::1: wrong-password" "$a" reason wrong-password
a=$(chg zoe "$USER5_PASSWORD" 2001:0db8:0:0::1)
expect "...then 2001:0db8:0:0::1 (the same address) is throttled" "$a" reason throttled
check "...and the audit log shows it as 2001:db8::1" \
	grep -q "user=zoe .*reason=throttled client=2001:db8::1 " "$log"
a=$(chg zoe not-zoes-password 2001:DB8::2)
expect "...so is 2001:DB8::2 (the same /64)" "$a" reason throttled
a=$(chg zoe not-zoes-password 2001:db8:0:1::1)
expect "...but not 2001:db8:0:1::1 (another /64): wrong-password" "$a" reason wrong-password

# --- IPv4-mapped is IPv4 ----------------------------------------------------------------
for u in nosuchuserD nosuchuserE nosuchuserF; do a=$(chg "$u" Summer2026 ::ffff:198.51.100.20); done
expect "3 wrong passwords from ::ffff:198.51.100.20: wrong-password" "$a" reason wrong-password
check "...logged as 198.51.100.20" \
	grep -q "user=nosuchuserF .*client=198.51.100.20\( \|$\)" "$log"
a=$(chg erin "$USER6_PASSWORD" 198.51.100.20)
expect "...then 198.51.100.20 is throttled" "$a" reason throttled
a=$(chg erin not-erins-password 198.51.100.21)
expect "...but not 198.51.100.21: wrong-password" "$a" reason wrong-password

daemon_stop
daemon_pid=
finish
