#!/bin/bash
# systemd-unit.sh - the files that put ssprd under systemd.
#
# The unit is generated from systemd/ssprd.service.in the way the Makefile
# does it, then: systemd-analyze verify accepts it (the ExecStart binary is
# the built ssprd, behind a throwaway prefix), systemd-analyze security
# --offline rates its overall exposure at 2.0 or lower, and the settings the
# daemon depends on are there. The sysusers.d file is applied to an empty
# root (user, groups, membership) and the tmpfiles.d file is applied on top
# of it; /run/ssprd must come out the way the unit's RuntimeDirectory= makes
# it, so that neither undoes the other. Nothing is installed on the host.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v systemd-analyze >/dev/null ||
	skip_all "systemd-analyze is not installed"

src=$(cd "$SRCDIR" && pwd)
unit_in=$src/systemd/ssprd.service.in
sysusers=$src/systemd/ssprd.sysusers
tmpfiles=$src/systemd/ssprd.tmpfiles
[ -f "$unit_in" ] || { echo "Bail out! no $unit_in"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-systemd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# gen SBINDIR SYSCONFDIR: the unit, exactly as the Makefile makes it.
gen() {
	sed -e "s|@sbindir[@]|$1|g" -e "s|@sysconfdir[@]|$2|g" "$unit_in"
}

# key NAME: the last value the installed-path unit gives NAME ("" if none).
key() {
	sed -n "s/^$1=//p" "$unit" | tail -n 1
}

# skip DESCRIPTION REASON: one skipped result.
skip() {
	ok "$1 # SKIP $2"
}

# diag FILE: a file's lines as TAP diagnostics.
diag() {
	sed 's/^/# /' "$1"
}

mkdir -p "$tmp/unit"
unit=$tmp/unit/ssprd.service
gen /usr/sbin /etc >"$unit"

# --- the unit's text ----------------------------------------------------------

if grep -n '@[A-Za-z_]*@' "$unit" >"$tmp/left"; then
	not_ok "no @placeholder@ is left in the generated unit"
	diag "$tmp/left"
else
	ok "no @placeholder@ is left in the generated unit"
fi

# want LINE: the unit has exactly this line.
want() {
	if grep -qxF -- "$1" "$unit"; then ok "unit: $1"; else not_ok "unit: $1"; fi
}
want "Type=notify"
want "NotifyAccess=main"
want "ExecStart=/usr/sbin/ssprd -c /etc/ssprd/ssprd.ini"
want "Restart=on-failure"
want "User=ssprd"
want "Group=ssprd"
want "SupplementaryGroups=ssprd-submit"
want "RuntimeDirectory=ssprd"
want "RuntimeDirectoryPreserve=yes"
want "StateDirectory=ssprd"
want "StateDirectoryMode=0700"
want "ConfigurationDirectory=ssprd"
want "NoNewPrivileges=yes"
want "ProtectSystem=strict"
want "CapabilityBoundingSet="
# No core dump may hold the bind password (issue 12, item 6).
want "LimitCORE=0"

# A reload checks the file ExecStart= names before it signals, in that
# order (issue 13): a signal alone cannot fail, so `systemctl reload`
# would report success for a file ssprd refuses. systemd runs the
# ExecReload= lines one after another and stops at the first that fails.
conf=$(sed -n 's/^ExecStart=.* -c \([^ ]*\)$/\1/p' "$unit")
sed -n 's/^ExecReload=//p' "$unit" >"$tmp/reload"
printf '%s\n' "/usr/sbin/ssprd -t -c $conf" '/bin/kill -HUP $MAINPID' \
	>"$tmp/reload.want"
if [ -n "$conf" ] && cmp -s "$tmp/reload" "$tmp/reload.want"; then
	ok "ExecReload= checks $conf (ssprd -t), then signals"
else
	not_ok "ExecReload= checks the file ExecStart= names (ssprd -t), then signals"
	diag "$tmp/reload"
fi
# ...with an option the daemon has.
if [ -x "$SSPRD" ]; then
	check "ssprd -h offers -t (check the configuration and exit)" \
		grep -qE '^ +ssprd -t .*check the configuration' <("$SSPRD" -h)
else
	skip "ssprd -h offers -t" "no built ssprd at $SSPRD"
fi

# Above systemd's default soft limit (1024), so that a flood of metrics
# connections or a full queue leaves descriptors to spare.
nofile=$(key LimitNOFILE)
if [[ "$nofile" =~ ^[0-9]+$ ]] && [ "$nofile" -ge 4096 ]; then
	ok "LimitNOFILE=$nofile (4096 or more)"
else
	not_ok "LimitNOFILE is 4096 or more (got '$nofile')"
fi

wd=$(key WatchdogSec)
if [[ "$wd" =~ ^[0-9]+$ ]] && [ "$wd" -ge 2 ]; then
	ok "WatchdogSec=$wd (the daemon pings every ${wd}/2 s)"
else
	not_ok "WatchdogSec is a whole number of seconds (got '$wd')"
fi

# A stop must leave the daemon its whole [daemon] shutdown_timeout.
grace=$(sed -n 's/^;*[[:space:]]*shutdown_timeout[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' \
	"$src/config/ssprd.ini.example" | head -n 1)
stop=$(key TimeoutStopSec)
if [[ "$stop" =~ ^[0-9]+$ ]] && [ "$stop" -gt "${grace:-20}" ]; then
	ok "TimeoutStopSec=$stop is above shutdown_timeout (${grace:-20} s)"
else
	not_ok "TimeoutStopSec (got '$stop') is above shutdown_timeout (${grace:-20} s)"
fi

# --- systemd-analyze verify ---------------------------------------------------
# verify wants ExecStart to name an executable: give it the built daemon
# under a prefix of our own. It reports most problems (unknown keys, values
# it cannot parse) as warnings with status 0, so any line about the unit
# counts as a failure.

if [ -x "$SSPRD" ]; then
	mkdir -p "$tmp/prefix/sbin" "$tmp/prefix/etc/ssprd" "$tmp/verify"
	ln -s "$(cd "$(dirname "$SSPRD")" && pwd)/$(basename "$SSPRD")" \
		"$tmp/prefix/sbin/ssprd"
	gen "$tmp/prefix/sbin" "$tmp/prefix/etc" >"$tmp/verify/ssprd.service"

	# Documentation= is checked with man(1) once the source tree has its
	# man/ folder: every page named must be there as man/NAME.SECTION.
	man=no
	pages=$(sed -n 's/^Documentation=//p' "$unit" | tr ' ' '\n' |
		sed -n 's/^man:\(.*\)(\([0-9a-z]*\))$/\1.\2/p')
	if command -v man >/dev/null && [ -d "$src/man" ] && [ -n "$pages" ]; then
		man=yes
		for p in $pages; do
			mkdir -p "$tmp/man/man${p##*.}"
			ln -sf "$src/man/$p" "$tmp/man/man${p##*.}/$p"
		done
	else
		echo "# Documentation= not checked (no man(1) or no man/ yet)"
	fi

	MANPATH=$tmp/man systemd-analyze verify --man="$man" \
		"$tmp/verify/ssprd.service" >"$tmp/verify.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && ! grep -q 'ssprd' "$tmp/verify.out"; then
		ok "systemd-analyze verify accepts the unit (man pages: $man)"
	else
		not_ok "systemd-analyze verify accepts the unit (status $rc)"
		diag "$tmp/verify.out"
	fi
else
	skip "systemd-analyze verify accepts the unit" "no built ssprd at $SSPRD"
fi

# --- systemd-analyze security ---------------------------------------------------

# exposure UNIT_FILE PREFIX: systemd-analyze security --offline rates the
# unit at 2.0 or lower (PREFIX starts the TAP lines: "" or "ssprweb: ").
exposure() {
	local name out rc score
	name=$(basename "$1")
	out=$tmp/security-$name.out
	systemd-analyze security --offline=yes --no-pager "$1" >"$out" 2>&1
	rc=$?
	score=$(sed -n "s/.*Overall exposure level for ${name//./\\.}: \([0-9.]*\).*/\1/p" "$out")
	if [ -z "$score" ]; then
		not_ok "${2}systemd-analyze security rates the unit (status $rc)"
		diag "$out"
		return
	fi
	grep -F 'Overall exposure level' "$out" | diag /dev/stdin
	if awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		ok "${2}overall exposure $score is 2.0 or lower"
	else
		not_ok "${2}overall exposure $score is 2.0 or lower"
	fi
	# What still counts against it, for whoever reads the log.
	grep '^✗' "$out" | sed 's/  */ /g' | diag /dev/stdin
}
exposure "$unit" ""

# --- sysusers.d -----------------------------------------------------------------

user=$(key User)
group=$(key Group)
extra=$(key SupplementaryGroups)
root=$tmp/root
mkdir -p "$root/etc"

if ! command -v systemd-sysusers >/dev/null; then
	skip "sysusers.d file applies to an empty root" "no systemd-sysusers"
	sysusers_done=no
elif systemd-sysusers --root="$root" "$sysusers" >"$tmp/sysusers.out" 2>&1; then
	ok "sysusers.d file applies to an empty root"
	sysusers_done=yes
else
	not_ok "sysusers.d file applies to an empty root"
	diag "$tmp/sysusers.out"
	sysusers_done=no
fi

if [ "$sysusers_done" = yes ]; then
	pw=$(grep "^$user:" "$root/etc/passwd")
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	if [ -n "$pw" ] && [ "$uid" -lt 1000 ]; then
		ok "User=$user is a system user (uid $uid)"
	else
		not_ok "User=$user is a system user ('$pw')"
	fi
	case $shell in
	*/nologin | */false) ok "$user has no login shell ($shell)" ;;
	*) not_ok "$user has no login shell (got '$shell')" ;;
	esac
	# ProtectHome=yes hides /home, /root and /run/user from the service.
	case $home in
	/home/* | /root* | /run/user/*) not_ok "$user's home is visible to it (got $home)" ;;
	*) ok "$user's home is visible to it ($home)" ;;
	esac
	grgid=$(awk -F: -v g="$group" '$1 == g { print $3 }' "$root/etc/group")
	if [ -n "$grgid" ] && [ "$grgid" = "$gid" ]; then
		ok "Group=$group is $user's primary group"
	else
		not_ok "Group=$group is $user's primary group (gid '$gid', group '$grgid')"
	fi
	members=$(awk -F: -v g="$extra" '$1 == g { print $4 }' "$root/etc/group")
	if grep -q "^$extra:" "$root/etc/group" &&
		[[ ",$members," == *",$user,"* ]]; then
		ok "$user is a member of SupplementaryGroups=$extra"
	else
		not_ok "$user is a member of SupplementaryGroups=$extra (members '$members')"
	fi
fi

# --- tmpfiles.d -----------------------------------------------------------------

# The /run/ssprd line must say what RuntimeDirectory= does: same owner,
# group and mode, and no age (tmpfiles --clean never touches the queue).
rundir=/run/$(key RuntimeDirectory)
runmode=$(key RuntimeDirectoryMode)
line=$(awk -v p="$rundir" '$1 !~ /^#/ && $2 == p' "$tmpfiles")
read -r t_type _ t_mode t_user t_group t_age _ <<<"$line"
if [ "$t_type" = d ] && [ "$((8#$t_mode))" = "$((8#${runmode:-0755}))" ] &&
	[ "$t_user" = "$user" ] && [ "$t_group" = "$group" ] &&
	{ [ -z "$t_age" ] || [ "$t_age" = - ]; }; then
	ok "tmpfiles.d makes $rundir as RuntimeDirectory= does ($t_mode $t_user:$t_group)"
else
	not_ok "tmpfiles.d makes $rundir as RuntimeDirectory= does (line '$line'; unit $runmode $user:$group)"
fi

if ! command -v systemd-tmpfiles >/dev/null; then
	skip "tmpfiles.d file applies" "no systemd-tmpfiles"
elif [ "$sysusers_done" != yes ]; then
	skip "tmpfiles.d file applies" "it needs the users from sysusers.d"
else
	systemd-tmpfiles --create --root="$root" "$tmpfiles" \
		>"$tmp/tmpfiles.out" 2>&1
	rc=$?
	# Not root: everything but giving the folder to ssprd must work.
	if [ "$(id -u)" -ne 0 ] && [ "$rc" -ne 0 ] &&
		! grep -v 'fchownat().*Operation not permitted' "$tmp/tmpfiles.out" |
		grep -q .; then
		rc=0
		owner="(owner not checked: not root)"
	else
		owner=
	fi
	if [ "$rc" -eq 0 ] && [ -d "$root$rundir" ]; then
		ok "tmpfiles.d file applies to the same root"
		read -r g_mode g_uid g_gid < <(stat -c '%a %u %g' "$root$rundir")
		w_mode=$(printf '%o' "$((8#$t_mode))")
		if [ "$g_mode" = "$w_mode" ] && { [ -n "$owner" ] ||
			[ "$g_uid:$g_gid" = "$uid:$gid" ]; }; then
			ok "$rundir comes out mode $w_mode, $user:$group${owner:+ $owner}"
		else
			not_ok "$rundir comes out mode $w_mode, $user:$group (got $g_mode $g_uid:$g_gid; want ids $uid:$gid)"
		fi
	else
		not_ok "tmpfiles.d file applies to the same root (status $rc)"
		diag "$tmp/tmpfiles.out"
	fi
fi

# --- ssprweb.service ----------------------------------------------------------
# The portal's unit, generated the same way: verify, its exposure, the
# settings its promises rest on (its own user in ssprd-submit, only the
# spool writable, ssprd's state and secrets hidden), and its sysusers.d
# file on top of ssprd's.
wunit=$tmp/unit/ssprweb.service
sed -e "s|@sbindir[@]|/usr/sbin|g" -e "s|@sysconfdir[@]|/etc|g" \
	-e "s|@docdir[@]|/usr/share/doc/ssprd|g" "$src/systemd/ssprweb.service.in" >"$wunit"
if grep -n '@[A-Za-z_]*@' "$wunit" >"$tmp/left"; then
	not_ok "ssprweb: no @placeholder@ is left in the generated unit"
	diag "$tmp/left"
else
	ok "ssprweb: no @placeholder@ is left in the generated unit"
fi
for line in Type=notify User=ssprweb SupplementaryGroups=ssprd-submit \
	ReadWritePaths=-/run/ssprd/queue InaccessiblePaths=-/var/lib/ssprd \
	InaccessiblePaths=-/etc/ssprd/bind.secret InaccessiblePaths=-/etc/ssprd/totp.key \
	ProtectSystem=strict NoNewPrivileges=yes CapabilityBoundingSet= \
	"ExecStart=/usr/sbin/ssprweb -c /etc/ssprd/ssprweb.ini"; do
	check "ssprweb: the unit has $line" grep -qxF -- "$line" "$wunit"
done
if [ -x "${SSPRWEB:-}" ]; then
	mkdir -p "$tmp/wprefix/sbin" "$tmp/wverify"
	ln -s "$(cd "$(dirname "$SSPRWEB")" && pwd)/$(basename "$SSPRWEB")" \
		"$tmp/wprefix/sbin/ssprweb"
	sed -e "s|@sbindir[@]|$tmp/wprefix/sbin|g" -e "s|@sysconfdir[@]|$tmp/wprefix/etc|g" \
		-e "s|@docdir[@]|$tmp/wprefix/doc|g" "$src/systemd/ssprweb.service.in" \
		>"$tmp/wverify/ssprweb.service"
	systemd-analyze verify --man=no "$tmp/wverify/ssprweb.service" >"$tmp/wverify.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && ! grep -q 'ssprweb' "$tmp/wverify.out"; then
		ok "ssprweb: systemd-analyze verify accepts the unit"
	else
		not_ok "ssprweb: systemd-analyze verify accepts the unit (status $rc)"
		diag "$tmp/wverify.out"
	fi
else
	skip "ssprweb: systemd-analyze verify accepts the unit" "no built ssprweb"
fi
exposure "$wunit" "ssprweb: "
if command -v systemd-sysusers >/dev/null && [ "$(id -u)" -eq 0 ]; then
	wroot=$tmp/wroot
	mkdir -p "$wroot/etc"
	systemd-sysusers --root="$wroot" "$sysusers" "$src/systemd/ssprweb.sysusers" \
		>"$tmp/wsysusers.out" 2>&1
	check "ssprweb: its sysusers.d file applies on top of ssprd's" [ $? -eq 0 ]
	members() { awk -F: -v g="$1" '$1 == g { print $4 }' "$wroot/etc/group"; }
	check "ssprweb: the user ssprweb exists" grep -q '^ssprweb:' "$wroot/etc/passwd"
	check "ssprweb: it is a member of ssprd-submit ($(members ssprd-submit))" \
		grep -qw ssprweb <<<"$(members ssprd-submit)"
	check "ssprweb: and of no group of ssprd's state ($(members ssprd))" \
		not_grep -w ssprweb <<<"$(members ssprd)"
else
	skip "ssprweb: its sysusers.d file applies on top of ssprd's" "not root or no systemd-sysusers"
fi

finish
