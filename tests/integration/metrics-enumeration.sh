#!/bin/bash
# metrics-enumeration.sh - the metrics endpoint does not tell who exists
# (issue 12, item 2), against real slapd.
#
# The review scraped /metrics around single starts: the directory-request
# count rose by 1 for an unknown name, 2 for a user outside
# allowed_groups and 3 for an allowed one, and the notify gauges showed
# whether a message went. Here a start for each of an unknown name, dave
# (in no group), alice (allowed) and erin (allowed through a nested group)
# must move every counter, histogram count and the ticket gauge by the same
# amounts.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd menum
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
allowed_groups = $ALLOWED_GROUP_DN"
spool_ini "$conf"
sed -i "s|^metrics =\$|metrics = 127.0.0.1:$port|" "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
scrape() {
	python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		"http://127.0.0.1:$port/metrics"
}
# delta BEFORE AFTER: the samples that changed, as "name value" lines
# (counters, histogram counts, the ticket gauge; not durations).
delta() {
	python3 - "$1" "$2" <<'PY'
import sys
def read(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        base = name.split("{", 1)[0]
        if base.endswith("_total") or base.endswith("_count") or base == "ssprd_tickets":
            out[name] = float(value)
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
for k in sorted(set(a) | set(b)):
    d = b.get(k, 0) - a.get(k, 0)
    if d:
        print(k, d)
PY
}

sub '{"v":1,"op":"policy"}' >/dev/null	# the server connected, the loop warm
i=0
for u in nosuchuser dave alice erin; do
	scrape >"$tmp/before.$u"
	a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$u\",\"method\":\"email\"}")
	check "start $u: ok" [ "$(jget "$a" status)" = ok ]
	scrape >"$tmp/after.$u"
	delta "$tmp/before.$u" "$tmp/after.$u" >"$tmp/delta.$u"
	sed "s/^/# $u: /" "$tmp/delta.$u"
done
check "the log knows dave is not allowed" grep -q "user=dave account=.* (decoy: not in allowed_groups)" "$log"
check "...and codes went to alice and erin (allowed through nesting)" [ "$(msg_count "$tmp/mail")" -eq 2 ]
check "each start moved something (the request counter)" grep -q "ssprd_requests_total" "$tmp/delta.nosuchuser"
for u in dave alice erin; do
	check "the metrics moved alike for nosuchuser and $u" cmp -s "$tmp/delta.nosuchuser" "$tmp/delta.$u"
done
check "no gauge of messages running or waiting" \
	bash -c '! grep -q "^ssprd_notify_\(running\|waiting\)" "$1"' _ "$tmp/after.erin"

finish
