# bench/lib.sh - what bench/run and bench/e2e share (sourced, not run).
#
# Expects SRCDIR (the source tree) and work (a private temporary folder)
# to be set by the caller.

say() { printf '%s\n' "$*" >&2; }

# field LINE KEY: the value of KEY=... in a result line.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# median NUMBER...: the middle value (the mean of the two middle ones).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio X Y: X / Y with two decimals.
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'; }

# bench_slapd: a throwaway slapd in $work/slapd with its log off; its env
# (LDAPS_URI, SVC_DN, ...) exported. Stopped by bench_cleanup.
bench_slapd() {
	say "starting slapd (log off)..."
	SLAPD_LOGLEVEL=${BENCH_SLAPD_LOGLEVEL:-0} "$SRCDIR/tests/fixtures/slapd.sh" start "$work/slapd" >/dev/null
	set -a
	# shellcheck disable=SC1091
	. "$work/slapd/env"
	set +a
	export LDAPTLS_CACERT="$CA_FILE" LDAPTLS_REQCERT=demand
	(umask 077 && printf '%s' "$ADMIN_PASSWORD" >"$work/admin.password")
}

bench_cleanup() {
	"$SRCDIR/tests/fixtures/slapd.sh" stop "$work/slapd" >/dev/null 2>&1 || true
	rm -rf "$work"
}

# bench_users PREFIX COUNT DNFILE: COUNT users PREFIXnnnnn under PEOPLE_DN,
# each with mail PREFIXnnnnn@example.org; their DNs, one a line, in DNFILE.
bench_users() {
	say "adding $2 users..."
	awk -v p="$1" -v n="$2" -v base="$PEOPLE_DN" -v dns="$3" 'BEGIN {
		srand()
		for (i = 1; i <= n; i++) {
			uid = sprintf("%s%05d", p, i)
			dn = "uid=" uid "," base
			print dn > dns
			printf "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\n", dn, uid
			printf "cn: Bench %d\nsn: Bench\nmail: %s@example.org\n", i, uid
			printf "userPassword: Initial-%s-%d\n\n", uid, int(rand() * 1e6)
		}
	}' >"$work/$1.ldif"
	ldapadd -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y "$work/admin.password" \
		-f "$work/$1.ldif" >/dev/null
}

# bench_ldappasswd COUNT DNFILE TAG: COUNT resets, one ldappasswd process
# each, round-robin over DNFILE; prints "rate failures".
bench_ldappasswd() {
	local dns fail=0 t0 t1 i
	mapfile -t dns <"$2"
	t0=$(date +%s%N)
	for ((i = 0; i < $1; i++)); do
		ldappasswd -x -H "$LDAPS_URI" -D "$SVC_DN" -y "$SVC_PASSWORD_FILE" \
			-s "Bench-$3-$i" "${dns[i % ${#dns[@]}]}" >/dev/null 2>&1 ||
			fail=$((fail + 1))
	done
	t1=$(date +%s%N)
	awk -v n="$1" -v ns=$((t1 - t0)) -v f="$fail" \
		'BEGIN { printf "%.1f %d\n", n / (ns / 1e9), f }'
}

# bench_machine: one line describing this machine and slapd.
bench_machine() {
	local cpu slapd_v
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
	slapd_v=$(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9][0-9.]*\).*/\1/p' | head -n 1)
	echo "$(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr), slapd ${slapd_v:-?}"
}
