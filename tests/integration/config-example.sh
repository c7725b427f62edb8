#!/bin/bash
# config-example.sh - ssprd -t and ssprctl check-config on real files.
#
# The shipped example must be valid as shipped: the only things it names
# that a site must supply are the bind secret, /etc/ssprd/bind.secret, and
# the key that seals authenticator secrets, /etc/ssprd/totp.key. As root the
# test checks the literal, unmodified example in a private mount namespace
# whose /etc/ssprd holds both (nothing on the host is touched); without root
# it checks a copy whose two paths point at temp files.
# A broken file must be rejected with FILE:LINE and exit status 1.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

example=$SRCDIR/config/ssprd.ini.example
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-cfg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

out=$("$SSPRD" -V)
check "ssprd -V prints the version ($out)" [ "${out#ssprd }" != "$out" ]

# Without them, the example fails on those two lines and nothing else.
if [ ! -e /etc/ssprd/bind.secret ] && [ ! -e /etc/ssprd/totp.key ]; then
	"$SSPRD" -t -c "$example" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	errors=$(grep -v ': warning: ' "$tmp/err")
	check "example without its secret files exits 1" [ "$rc" -eq 1 ]
	only_secret_errors() {
		[ "$(printf '%s\n' "$errors" | wc -l)" -eq 2 ] &&
			grep -q "^$example:[0-9]*: bind_password_file: cannot read secret file /etc/ssprd/bind.secret" <<<"$errors" &&
			grep -q "^$example:[0-9]*: key_file: .*/etc/ssprd/totp.key" <<<"$errors"
	}
	check "...and names only the two secret files, with their lines" only_secret_errors
fi

if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
	unshare -m true 2>/dev/null; then
	unshare -m bash -c '
		mount -t tmpfs -o mode=0755 tmpfs /etc/ssprd 2>/dev/null ||
			{ mkdir -p /etc/ssprd && mount -t tmpfs -o mode=0755 tmpfs /etc/ssprd; }
		umask 077
		printf "example-secret" > /etc/ssprd/bind.secret
		head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n" > /etc/ssprd/totp.key
		exec "$1" -t -c "$2"' _ "$SSPRD" "$example" >"$tmp/out" 2>"$tmp/err"
	check "the unmodified example passes ssprd -t once its two secret files exist" \
		grep -qF "$example: configuration OK" "$tmp/out"
else
	umask 077
	printf 'example-secret' >"$tmp/bind.secret"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/totp.key"
	umask 022
	sed -e "s|^bind_password_file = .*|bind_password_file = $tmp/bind.secret|" \
		-e "s|^key_file = .*|key_file = $tmp/totp.key|" \
		"$example" >"$tmp/example.ini"
	"$SSPRD" -t -c "$tmp/example.ini" >"$tmp/out" 2>"$tmp/err"
	check "the example (secret paths pointed at temp files) passes ssprd -t" \
		grep -qF "$tmp/example.ini: configuration OK" "$tmp/out"
fi
check "...without the warning that administrators cannot reset" \
	not_grep -q "admins cannot reset" "$tmp/err"

# A broken file: three problems, each reported with its line, exit 1.
umask 077
printf 'pw' >"$tmp/secret"
umask 022
cat >"$tmp/broken.ini" <<INI
[daemon]
log_level = chatty
[directory]
type = openldap
uri = ldaps://127.0.0.1:636
base_dn = dc=example,dc=org
bind_dn = cn=svc,dc=example,dc=org
bind_password_file = $tmp/secret
connections = 0
[mystery]
INI
"$SSPRD" -t -c "$tmp/broken.ini" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "ssprd -t on a broken file exits 1" [ "$rc" -eq 1 ]
check "...reports the bad log_level at line 2" \
	grep -qF "$tmp/broken.ini:2: log_level: must be one of: error, warning, info, debug" "$tmp/err"
check "...reports connections = 0 at line 9" \
	grep -qF "$tmp/broken.ini:9: connections: must be between 1 and 64" "$tmp/err"
check "...reports the unknown section at line 10" \
	grep -qF "$tmp/broken.ini:10: unknown section [mystery]" "$tmp/err"
check "...and prints nothing on stdout" [ ! -s "$tmp/out" ]

"$SSPRCTL" check-config -c "$tmp/broken.ini" >/dev/null 2>"$tmp/err2"
rc=$?
same_verdict() { [ "$rc" -eq 1 ] && cmp -s "$tmp/err" "$tmp/err2"; }
check "ssprctl check-config judges the same file the same way" same_verdict

chmod 0644 "$tmp/secret"
sed -i -e 's/^log_level = chatty/log_level = info/' -e 's/^connections = 0/connections = 2/' \
	-e '/^\[mystery\]/d' "$tmp/broken.ini"
"$SSPRD" -t -c "$tmp/broken.ini" >/dev/null 2>"$tmp/err"
check "a group/other-readable secret file is an error at its line" \
	grep -qF "$tmp/broken.ini:8: bind_password_file: secret file $tmp/secret is accessible by group or other (mode 0644)" "$tmp/err"
chmod 0600 "$tmp/secret"
passes() { "$SSPRCTL" -c "$tmp/broken.ini" check-config >/dev/null 2>&1; }
check "the repaired file passes ssprctl check-config" passes

finish
