#!/bin/bash
# memory-peak.sh - ssprd's memory stays near its idle size through a start
# and a reset when security questions are off.
#
# The peak (VmHWM, the kernel's high-water mark of the resident set) after
# ready, a start, a verify and a reset must stay within MEMORY_PEAK_KB
# (default 24 MiB, about twice the idle size measured here): a unit with
# MemoryMax= sized from the idle figure must not kill it. It once ran
# argon2id (64 MiB) at every start to make the decoy answer hash, questions
# or not, and peaked at about 72 MB. A sanitizer build has its own memory
# and is not measured.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# (Not ldd | grep -q: under pipefail, grep leaving early can fail ldd with
# SIGPIPE, and a sanitizer build was then measured at 24-25 MB.)
grep -qa -e __asan_init -e __tsan_init "$SSPRD" &&
	skip_all "a sanitizer build: its memory is not ssprd's"
with_slapd mem

limit=${MEMORY_PEAK_KB:-24576}
conf=$tmp/ssprd.ini
mail=$tmp/mail
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$daemon_pid/status"; }
ready_hwm=$(kb VmHWM)
idle=$(kb VmRSS)
a=$(submit "$conf" '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice" "$a" status ok
t=$(jget "$a" ticket)
a=$(submit "$conf" "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"code\":\"$(last_code "$mail")\",\"new_password\":\"Memory-Peak-Pass-1\"}")
expect "reset alice" "$a" status ok
a=$(submit "$conf" '{"v":1,"op":"start","user":"nobody-here","method":"email"}')
expect "a decoy start" "$a" status ok
hwm=$(kb VmHWM)
echo "# idle VmRSS ${idle} kB; VmHWM ${ready_hwm} kB once ready, ${hwm} kB after the requests; limit ${limit} kB"
check "peak once ready within ${limit} kB (${ready_hwm} kB)" [ "$ready_hwm" -le "$limit" ]
check "peak after a start and a reset within ${limit} kB (${hwm} kB)" [ "$hwm" -le "$limit" ]

daemon_stop
daemon_pid=
finish
