# lib.sh - shared helpers for the shell tests (sourced, not run).
#
# Tests speak TAP: `ok`/`not_ok`/`check` print one result line each, and
# `finish` prints the plan and sets the exit status. `skip_all` skips the
# whole script (a missing server package, not root) with a reason, which the
# summary counts as skipped, never as passed.

t_count=0
t_failed=0

ok() {
	t_count=$((t_count + 1))
	echo "ok $t_count - $*"
}

not_ok() {
	t_count=$((t_count + 1))
	t_failed=$((t_failed + 1))
	echo "not ok $t_count - $*"
}

# check DESCRIPTION COMMAND...: one result from a command's exit status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# not_grep ARGS...: true when grep -q ARGS finds nothing (for check).
not_grep() {
	! grep -q "$@"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

finish() {
	echo "1..$t_count"
	[ "$t_failed" -eq 0 ]
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# log_has FILE PATTERN: grep -q with a fixed string.
log_has() {
	grep -qF -- "$2" "$1"
}

# The built programs: from `make check`, or next to the source tree.
: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${SSPRD:=$SRCDIR/ssprd}"
: "${SSPRCTL:=$SRCDIR/ssprctl}"
: "${FIXTURES:=$SRCDIR/tests/fixtures}"

# write_ini FILE TYPE URIS [EXTRA-DIRECTORY-LINES [EXTRA-SECTIONS]]: an
# ssprd.ini for a fixture whose env is loaded (BASE_DN, SVC_DN,
# SVC_PASSWORD_FILE, CA_FILE). Notifier commands are /bin/true.
write_ini() {
	cat >"$1" <<INI
[daemon]
$(daemon_user_line)
metrics =
[directory]
type = $2
uri = $3
base_dn = $BASE_DN
bind_dn = $SVC_DN
bind_password_file = $SVC_PASSWORD_FILE
ca_file = $CA_FILE
timeout = ${DIR_TIMEOUT:-5}
${4:-}
[email]
command = /bin/true
${5:-}
INI
}

# ssprd never runs as root: when the tests run as root (CI), the daemon
# drops to nobody, so the files it uses after that must be reachable.
daemon_user_line() {
	[ "$(id -u)" -eq 0 ] && echo "user = nobody"
}

# daemon_tmp_ready: make $tmp usable by the daemon's user: traversable,
# mail and SMS sinks it may write, the bind secret (read again on SIGHUP)
# its own. A no-op when the tests do not run as root.
daemon_tmp_ready() {
	[ "$(id -u)" -eq 0 ] || return 0
	chmod 0755 "$tmp"
	mkdir -p "$tmp/mail" "$tmp/sms"
	chown nobody "$tmp/mail" "$tmp/sms"
	if [ -n "${SVC_PASSWORD_FILE:-}" ]; then
		chown nobody "$SVC_PASSWORD_FILE"
		chmod a+x "$(dirname "$SVC_PASSWORD_FILE")"
	fi
	return 0
}

# field LINE KEY: the value of KEY=... in a dirtool output line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# expect_field DESCRIPTION LINE KEY VALUE: one TAP result.
expect_field() {
	local got
	got=$(field "$2" "$3")
	if [ "$got" = "$4" ]; then
		ok "$1"
	else
		not_ok "$1 (want $3=$4, got '$got')"
		echo "# $2"
	fi
}

# samba_tool ARGS...: samba-tool on the Samba AD fixture's own database,
# quietly (after with_samba).
samba_tool() {
	samba-tool "$@" -s "$SAMBA_DIR/etc/smb.conf" -H "$SAMBA_DIR/private/sam.ldb" >/dev/null 2>&1
}

# ad_pso NAME MIN_LENGTH USER: a fine-grained password policy NAME
# (MIN_LENGTH, complexity, history 3, no ages) applied to USER, and read on
# the Password Settings Container granted to the service account, as
# ssprd.ini(5) tells an admin to (by default only administrators read it).
ad_pso() {
	local sid
	samba_tool domain passwordsettings pso create "$1" 1 --min-pwd-length="$2" \
		--complexity=on --history-length=3 --min-pwd-age=0 --max-pwd-age=0 &&
		samba_tool domain passwordsettings pso apply "$1" "$3" || return 1
	sid=$(ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y "$ADMIN_PASSWORD_FILE" -b "$SVC_DN" -s base objectSid </dev/null |
		sed -n 's/^objectSid:: //p' | python3 -c 'import base64,sys,struct
b=base64.b64decode(sys.stdin.read().strip())
n=b[1]; auth=int.from_bytes(b[2:8],"big")
subs=struct.unpack("<%dI"%n,b[8:8+4*n])
print("S-%d-%d-%s"%(b[0],auth,"-".join(map(str,subs))))')
	[ -n "$sid" ] && samba_tool dsacl set \
		--objectdn="CN=Password Settings Container,CN=System,$BASE_DN" \
		--sddl="(A;CI;RPLCRC;;;$sid)"
}

# samba_lock: the Samba AD fixture listens on fixed ports, so tests that
# start it take this lock first (held until the script exits); make -j runs
# them one after another instead of into each other.
samba_lock() {
	exec 9>/tmp/ssprd-samba-fixture.lock
	flock -w 600 9 || { echo "Bail out! no Samba fixture lock after 600 s"; exit 1; }
}

# --- driving the daemon ------------------------------------------------------

# jget JSON KEY: a top-level field of a JSON answer ("" when absent; arrays
# and objects as compact JSON).
jget() {
	python3 -c '
import json, sys
v = json.loads(sys.argv[1]).get(sys.argv[2], "")
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
' "$1" "$2"
}

# daemon_start CONF LOG: run ssprd in the background; sets $daemon_pid.
daemon_start() {
	"$SSPRD" -c "$1" 2>>"$2" &
	daemon_pid=$!
	wait_for 10 log_has "$2" "ready (config $1)"
}

# daemon_stop: SIGTERM and wait; the daemon's exit status.
daemon_stop() {
	kill -TERM "$daemon_pid" 2>/dev/null
	wait "$daemon_pid"
}

# as_daemon COMMAND...: run it as the daemon's user (nobody when the tests
# run as root), e.g. tests/storetool on the daemon's state.
as_daemon() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# submit CONF JSON: the answer (ssprctl submit), on stdout. As root, as
# the daemon's user (nobody), the front end's place: its request files are
# 0640, readable by the daemon through owner or group only.
submit() {
	if [ "$(id -u)" -eq 0 ]; then
		printf '%s' "$2" | runuser -u nobody -- "$SSPRCTL" -c "$1" submit \
			--wait "${SUBMIT_WAIT:-20}"
	else
		printf '%s' "$2" | "$SSPRCTL" -c "$1" submit --wait "${SUBMIT_WAIT:-20}"
	fi
}

# last_code MAILDIR: the code in the newest message (mailsink.sh).
last_code() {
	local f
	f=$(ls -1 "$1"/*.msg 2>/dev/null | sort | tail -n 1)
	[ -n "$f" ] && grep -o -E '[0-9]{6,12}' "$f" | tail -n 1
}

# msg_count MAILDIR
msg_count() {
	ls -1 "$1"/*.msg 2>/dev/null | wc -l
}

# --- a daemon in front of a throwaway slapd --------------------------------

# with_slapd NAME: skip unless slapd and python3 are here; make $tmp, start
# a throwaway slapd in $tmp/slapd and export its env; on exit kill the
# daemon, stop slapd and remove $tmp. Bails out when the fixture does not
# start.
with_slapd() {
	[ -x /usr/sbin/slapd ] || skip_all "slapd is not installed"
	command -v python3 >/dev/null || skip_all "python3 is needed to read answers"
	fixture_up slapd.sh slapd slapd "$1"
}

# with_samba NAME: the same with a throwaway Samba AD DC in $tmp/ad
# (SAMBA_KERBEROS=1 for its Kerberos mode); skips unless samba-tool is here
# and we are root, and holds samba_lock (fixed ports) until the script ends.
with_samba() {
	command -v samba-tool >/dev/null || skip_all "samba-tool is not installed"
	[ "$(id -u)" -eq 0 ] || skip_all "the Samba AD fixture must run as root"
	samba_lock
	fixture_up samba.sh ad "Samba AD" "$1"
}

# fixture_up SCRIPT DIR WHAT NAME: what with_slapd and with_samba share.
fixture_up() {
	fixture_script=$1 fixture_dir=$2
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-$4.XXXXXX")
	daemon_pid=
	trap fixture_cleanup EXIT
	"$FIXTURES/$1" start "$tmp/$2" >"$tmp/start.log" 2>&1 || {
		not_ok "$3 fixture starts"
		tail -n 30 "$tmp/start.log" | sed 's/^/# /'
		finish
		exit 1
	}
	set -a
	. "$tmp/$2/env"
	set +a
	export LDAPTLS_CACERT=$CA_FILE LDAPTLS_REQCERT=demand
	daemon_tmp_ready
}

# fixture_cleanup: the EXIT trap of fixture_up; a test that traps EXIT
# itself calls it last. KEEP_TMP=1 keeps $tmp (logs, state) to look at.
fixture_cleanup() {
	[ -n "${daemon_pid:-}" ] && kill -9 "$daemon_pid" 2>/dev/null
	"$FIXTURES/$fixture_script" stop "$tmp/$fixture_dir" >/dev/null 2>&1
	[ -n "${KEEP_TMP:-}" ] && { echo "# kept $tmp"; return; }
	rm -rf "$tmp"
}

# spool_ini CONF: a write_ini file made ready for the daemon: queue and
# state under $tmp, the email command a mail sink into $tmp/mail.
spool_ini() {
	sed -i -e "s|^metrics =|metrics =\nqueue_dir = $tmp/queue\nstate_dir = $tmp/state|" \
		-e "s|^command = /bin/true|command = $FIXTURES/mailsink.sh $tmp/mail|" "$1"
}

# expect DESCRIPTION ANSWER KEY VALUE: one TAP result on an answer's field.
expect() {
	local got
	got=$(jget "$2" "$3")
	if [ "$got" = "$4" ]; then
		ok "$1"
	else
		not_ok "$1 (want $3=$4, got '$got')"
		echo "# $2"
	fi
}

# app URI [OFFSET [step]]: the code an authenticator app shows now (+OFFSET
# steps), computed from the otpauth URI alone (Python's standard library,
# not ssprd's code); a third argument prints the step instead.
app() {
	/usr/bin/python3 - "$@" <<'PY'
import base64, hashlib, hmac, struct, sys, time
from urllib.parse import urlsplit, parse_qs
uri, off = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
q = parse_qs(urlsplit(uri).query)
assert q["algorithm"] == ["SHA1"] and q["digits"] == ["6"] and q["period"] == ["30"]
s = q["secret"][0]
secret = base64.b32decode(s + "=" * (-len(s) % 8))
step = int(time.time()) // 30 + off
if len(sys.argv) > 3:
    print(step); sys.exit()
h = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 10**6))
PY
}

# drop QUEUE PATTERN: rename every QUEUE/tmp/PATTERN into QUEUE/new/ in one
# process. (One mv for many files stats each target after the rename and
# complains when ssprd has claimed it already.)
drop() {
	python3 -c '
import glob, os, sys
q = sys.argv[1]
for f in sorted(glob.glob(os.path.join(q, "tmp", sys.argv[2]))):
    os.rename(f, os.path.join(q, "new", os.path.basename(f)))
' "$1" "$2"
}

# add_users PREFIX COUNT: users PREFIXnn (seq -w numbering) in the slapd
# fixture, each with mail PREFIXnn@example.org and the password
# Initial-Pass-nn-x; one TAP result.
add_users() {
	local i
	for i in $(seq -w 1 "$2"); do
		printf 'dn: uid=%s%s,%s\nobjectClass: inetOrgPerson\nuid: %s%s\n' \
			"$1" "$i" "$PEOPLE_DN" "$1" "$i"
		printf 'cn: %s %s\nsn: %s\nmail: %s%s@example.org\n' "$1" "$i" "$i" "$1" "$i"
		printf 'userPassword: Initial-Pass-%s-x\n\n' "$i"
	done >"$tmp/$1.ldif"
	check "$2 test users added" bash -c "ldapadd -x -H '$LDAPS_URI' -D '$ADMIN_DN' \
		-y <(printf '%s' '$ADMIN_PASSWORD') -f '$tmp/$1.ldif' >/dev/null"
}

# --- several ssprd instances on one shared state (Redis) ------------------------

# inst_ini NAME [EXTRA-SECTIONS]: $tmp/NAME/ssprd.ini for the slapd fixture,
# with queue, state and mail sink under $tmp/NAME (which the daemon's user
# can reach) and EXTRA-SECTIONS ([policy], [state]...) at the end.
inst_ini() {
	local d=$tmp/$1
	mkdir -p "$d/mail"
	chmod 0755 "$d"
	[ "$(id -u)" -eq 0 ] && chown nobody "$d/mail"
	write_ini "$d/ssprd.ini" openldap "$LDAPS_URI" "" "${2:-}"
	sed -i -e "s|^metrics =|metrics =\nqueue_dir = $d/queue\nstate_dir = $d/state|" \
		-e "s|^command = /bin/true|command = $FIXTURES/mailsink.sh $d/mail|" "$d/ssprd.ini"
}

# inst_ready_count NAME: how many times its log said it was ready.
inst_ready_count() {
	cat "$tmp/$1/daemon.log" 2>/dev/null | grep -c -F "ready (config $tmp/$1/ssprd.ini)"
}

# inst_start NAME: run ssprd on $tmp/NAME/ssprd.ini, its log in
# $tmp/NAME/daemon.log (appended), its pid in $tmp/NAME/pid; waits until it
# says it is ready (once more than before).
inst_start() {
	local d=$tmp/$1 before
	before=$(inst_ready_count "$1")
	"$SSPRD" -c "$d/ssprd.ini" 2>>"$d/daemon.log" &
	echo $! >"$d/pid"
	wait_for 30 inst_ready_more "$1" "$before"
}

inst_ready_more() { [ "$(inst_ready_count "$1")" -gt "$2" ]; }

inst_pid() { cat "$tmp/$1/pid" 2>/dev/null; }

# inst_alive NAME: its process runs (a zombie does not count).
inst_alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$(inst_pid "$1")/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# inst_stop NAME: SIGTERM and wait; its exit status.
inst_stop() {
	local pid
	pid=$(inst_pid "$1")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}

# inst_kill NAME: SIGKILL and wait.
inst_kill() {
	local pid
	pid=$(inst_pid "$1")
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# inst_cleanup NAME...: kill them (for an EXIT trap).
inst_cleanup() {
	local n pid
	for n in "$@"; do
		pid=$(inst_pid "$n")
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	return 0
}

# isub NAME JSON: submit to instance NAME; the answer on stdout.
isub() {
	submit "$tmp/$1/ssprd.ini" "$2"
}

# passmods UID: password modifies slapd logged for uid=UID (SLAPD_LOGLEVEL
# stats, the default).
passmods() {
	grep -c " PASSMOD id=\"uid=$1," "$SLAPD_LOG"
}
