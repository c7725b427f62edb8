#!/bin/bash
# test-bind.sh - ssprctl test-bind against a real slapd and real bad
# certificates.
#
# Starts the slapd fixture (tests/fixtures/slapd.sh) in a fresh mktemp -d
# directory and checks that test-bind: passes a good configuration (exit 0,
# ok for connect, bind and root DSE, the ppolicy control seen); judges
# users (alice eligible, dave outside allowed_groups, an unknown name not
# found, exit 1); names the failure and shows the certificate for an
# untrusted CA (without ever binding over that connection), a name mismatch
# and an expired certificate; reports a wrong service password as such; and
# with a dead URI before a good one, reports both and exits 1.
#
# The mismatched and expired certificates are served by `openssl s_server`
# on a free loopback port rather than by slapd: the fixture will only start
# slapd with a certificate its own readiness probe accepts. The TLS handshake
# is all test-bind gets to see of those servers. The expired certificate is
# made with certtool (gnutls-bin), as OpenSSL 3.0's x509 cannot back-date;
# without certtool that check is skipped.
#
# Everything lives under the temporary directory; an EXIT trap stops slapd
# and s_server and removes it.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../lib.sh"

[ -x /usr/sbin/slapd ] || skip_all "slapd is not installed"
command -v ldapwhoami >/dev/null || skip_all "ldap-utils are not installed"
command -v openssl >/dev/null || skip_all "openssl is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-tb.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	sh "$FIXTURES/slapd.sh" stop "$tmp/slapd" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! sh "$FIXTURES/slapd.sh" start "$tmp/slapd" >"$tmp/fixture.log" 2>&1; then
	cat "$tmp/fixture.log" >&2
	not_ok "the slapd fixture starts"
	finish
	exit 1
fi
# shellcheck disable=SC1091
. "$tmp/slapd/env"

umask 077
printf 'not-the-password' >"$tmp/wrong.password"
umask 022

# write_config FILE CA_FILE PASSWORD_FILE URI...
write_config() {
	local file=$1 ca=$2 pw=$3
	shift 3
	{
		printf '[daemon]\nqueue_dir = %s\nstate_dir = %s\nmetrics =\n' \
			"$tmp/queue" "$tmp/state"
		printf '[directory]\ntype = openldap\n'
		printf 'uri = %s\n' "$@"
		printf 'starttls = yes\n'
		printf 'base_dn = %s\nca_file = %s\n' "$BASE_DN" "$ca"
		printf 'bind_dn = %s\nbind_password_file = %s\n' "$SVC_DN" "$pw"
		printf 'timeout = 3\nconnections = 1\n'
		printf '[policy]\nallowed_groups = %s\n' "$ALLOWED_GROUP_DN"
		printf '[email]\ncommand = /bin/true\n'
	} >"$file"
}

# run NAME ARGS...: ssprctl's stdout and stderr in $tmp/NAME.out, its exit
# status in $tmp/NAME.rc.
run() {
	local name=$1
	shift
	"$SSPRCTL" "$@" >"$tmp/$name.out" 2>&1
	echo $? >"$tmp/$name.rc"
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ]; }
says() { log_has "$tmp/$1.out" "$2"; }
says_i() { grep -qiF -- "$2" "$tmp/$1.out"; }

write_config "$tmp/good.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" "$LDAPS_URI"

# --- a good configuration --------------------------------------------------
run good -c "$tmp/good.ini" test-bind
check "all good: exit 0" rc_is good 0
check "...connect ok" says good "[ok]   connect: "
check "...bind ok" says good "[ok]   bind: bound as $SVC_DN"
check "...root DSE ok" says good "[ok]   root-dse: "
check "...the ppolicy control is offered" says good "ppolicy control offered"
check "...the password modify operation too" \
	says good "password modify extended operation offered"

write_config "$tmp/starttls.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" "$LDAP_URI"
run starttls -c "$tmp/starttls.ini" test-bind
check "ldap:// with StartTLS passes too" rc_is starttls 0
check "...saying so" says starttls "[ok]   starttls: TLS established"

# --- users -----------------------------------------------------------------
run alice -c "$tmp/good.ini" test-bind --user alice
check "--user alice: exit 0" rc_is alice 0
check "...found, with her DN" says alice "found:     yes, $USER1_DN"
check "...in allowed_groups" says alice "allowed:   yes (in allowed_groups)"
check "...with a masked email address" says alice "email:     a***@"
check "...eligible" says alice "verdict:   eligible for self-service"
check "...and her address is not shown in full" \
	bash -c "! grep -qF -- '$USER1_MAIL' '$tmp/alice.out'"

run dave test-bind --user dave -c "$tmp/good.ini"
check "--user dave: found (options after the command)" \
	says dave "found:     yes, $USER4_DN"
check "...not eligible: not in allowed_groups" \
	says dave "verdict:   not eligible: not in allowed_groups"
check "...no mobile" says dave "mobile:    none"

run nosuch -c "$tmp/good.ini" test-bind --user nosuchuser
check "--user nosuchuser: exit 1" rc_is nosuch 1
check "...not found" says nosuch "verdict:   not eligible: not found"

# A locked account (a lockout now, not the permanent admin lock, which the
# lookup counts as disabled): a reset unlocks it, unlock_on_reset's default.
umask 077
printf '%s' "$ADMIN_PASSWORD" >"$tmp/admin.password"
umask 022
printf 'dn: %s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: %s\n' \
	"$USER2_DN" "$(date -u +%Y%m%d%H%M%SZ)" |
	LDAPTLS_CACERT=$CA_FILE ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" \
	-y "$tmp/admin.password" >/dev/null
run bob -c "$tmp/good.ini" test-bind --user bob
check "--user bob, locked out: says locked" says bob "locked:    yes"
check "...and eligible, as a reset unlocks" \
	says bob "verdict:   eligible for self-service (the account is locked; a reset unlocks it"
# The verdict is the daemon's own rules (daemon/eligible.h): a locked
# account is not refused even when a reset leaves it locked; a mail value a
# code cannot go to, and too few questions, make no method.
sed 's/^timeout = 3$/&\nunlock_on_reset = no/' "$tmp/good.ini" >"$tmp/nounlock.ini"
run bob2 -c "$tmp/nounlock.ini" test-bind --user bob
check "unlock_on_reset = no, bob locked: still eligible, and says why" \
	says bob2 "verdict:   eligible for self-service (the account is locked; a reset sets the password and leaves it locked"
admin_modify() { # LDIF on stdin
	LDAPTLS_CACERT=$CA_FILE ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y "$tmp/admin.password" >/dev/null
}
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: no-at-sign\n' "$USER6_DN" | admin_modify
run erin -c "$tmp/good.ini" test-bind --user erin
check "erin's only mail value is no address: not eligible" \
	says erin "verdict:   not eligible: can use 0 of the 1 methods required; email: no contact for this method"
h='$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'
printf 'dn: %s\nchangetype: modify\nreplace: ssprdQuestions\nssprdQuestions: {"v":1,"q":[{"q":"A?","h":"%s"},{"q":"B?","h":"%s"}]}\n' \
	"$USER5_DN" "$h" "$h" | admin_modify
sed -e 's/^\[policy\]$/&\nmethods = questions/' -e "\$a [questions]\nattribute = ssprdQuestions\nrequired = 3" \
	"$tmp/good.ini" >"$tmp/questions.ini"
run zoe -c "$tmp/questions.ini" test-bind --user "$USER5"
check "zoe has two questions, three required: not eligible" \
	says zoe "verdict:   not eligible: can use 0 of the 1 methods required; questions: no contact for this method"
check "...though the lookup says they are registered" says zoe "questions: registered"

run usage -c "$tmp/good.ini" check-config --user alice
check "--user with another command is a usage error (exit 2)" rc_is usage 2

# --- an untrusted CA: diagnosed, and no bind over the unverified handshake -
write_config "$tmp/otherca.ini" "$OTHER_CA_FILE" "$SVC_PASSWORD_FILE" "$LDAPS_URI"
binds_before=$(grep -c ' BIND ' "$SLAPD_LOG")
run otherca -c "$tmp/otherca.ini" test-bind
binds_after=$(grep -c ' BIND ' "$SLAPD_LOG")
check "unknown CA: exit 1" rc_is otherca 1
check "...connect fails" says otherca "[FAIL] connect: "
check "...the certificate step says unknown CA" \
	says otherca "[FAIL] certificate: unknown CA: "
check "...with the certificate's subject" says_i otherca "subject=cn=localhost"
check "...and its issuer" says_i otherca "issuer=cn=ssprd test CA"
check "...its dates and names" \
	says otherca "names: IP:127.0.0.1, IP:::1, DNS:localhost"
check "...no bind step was attempted" \
	bash -c "! grep -qF ' bind: ' '$tmp/otherca.out'"
check "...and slapd saw no bind at all ($binds_before -> $binds_after)" \
	[ "$binds_before" = "$binds_after" ]

# libldap checks a "localhost" URI against the machine's own name, not
# against "localhost": a certificate for localhost does not pass.
if [ "$(hostname)" != localhost ]; then
	write_config "$tmp/localhost.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" \
		"ldaps://localhost:$LDAPS_PORT"
	run localhost -c "$tmp/localhost.ini" test-bind
	check "ldaps://localhost: exit 1, as libldap refuses it" rc_is localhost 1
	check "...explained as a name mismatch on the machine's name" \
		says localhost "libldap checks a \"localhost\" URI against this machine's own name"
fi

# --- a wrong service password ----------------------------------------------
write_config "$tmp/wrongpw.ini" "$CA_FILE" "$tmp/wrong.password" "$LDAPS_URI"
run wrongpw -c "$tmp/wrongpw.ini" test-bind
check "wrong bind password: exit 1" rc_is wrongpw 1
check "...bind FAIL, wrong-password" says wrongpw "[FAIL] bind: wrong-password"

# --- a dead URI first, a good one second -----------------------------------
write_config "$tmp/dead.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" \
	"ldaps://127.0.0.1:1" "$LDAPS_URI"
run dead -c "$tmp/dead.ini" test-bind
check "dead URI then good URI: exit 1" rc_is dead 1
check "...the first fails to connect" \
	bash -c "grep -A2 -xF 'ldaps://127.0.0.1:1' '$tmp/dead.out' | grep -qF '[FAIL] connect: '"
check "...the second passes" \
	bash -c "grep -A4 -xF '$LDAPS_URI' '$tmp/dead.out' | grep -qF '[ok]   root-dse: '"
check "...and the summary counts one failure" \
	says dead "test-bind: 1 of 2 URI(s) failed"

# --- certificates served by openssl s_server -------------------------------
pki=$tmp/slapd/pki
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# serve CERT KEY: a TLS server on a free loopback port, in $server_port.
serve() {
	local tries=0
	stop_server
	while [ "$tries" -lt 20 ]; do
		tries=$((tries + 1))
		server_port=$((20000 + RANDOM % 20000))
		openssl s_server -quiet -accept "127.0.0.1:$server_port" \
			-cert "$1" -key "$2" </dev/null >>"$tmp/s_server.log" 2>&1 &
		server_pid=$!
		# It exits at once when the port is taken.
		if wait_for 3 bash -c "kill -0 $server_pid 2>/dev/null &&
			exec 3<>/dev/tcp/127.0.0.1/$server_port" 2>/dev/null &&
			kill -0 "$server_pid" 2>/dev/null; then
			return 0
		fi
		stop_server
	done
	return 1
}
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	fi
}

newkey "$tmp/other.key"
openssl req -new -key "$tmp/other.key" -subj "/CN=other.example" \
	-out "$tmp/other.csr" 2>/dev/null
printf 'subjectAltName=DNS:other.example\n' >"$tmp/other.ext"
openssl x509 -req -in "$tmp/other.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
	-CAcreateserial -CAserial "$tmp/ca.srl" -days 30 \
	-extfile "$tmp/other.ext" -out "$tmp/other.pem" 2>/dev/null
if serve "$tmp/other.pem" "$tmp/other.key"; then
	write_config "$tmp/mismatch.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" \
		"ldaps://127.0.0.1:$server_port"
	run mismatch -c "$tmp/mismatch.ini" test-bind
	check "name mismatch: exit 1" rc_is mismatch 1
	check "...the certificate step says name mismatch" \
		says mismatch "[FAIL] certificate: name mismatch: 127.0.0.1 is not among"
	check "...listing the certificate's names" \
		says mismatch "names: DNS:other.example"
	check "...and its (trusted) issuer" says_i mismatch "issuer=cn=ssprd test CA"
else
	not_ok "a TLS server for the name mismatch starts"
fi

if command -v certtool >/dev/null; then
	cat >"$tmp/expired.tmpl" <<'EOF'
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
activation_date = "2020-01-01 00:00:00"
expiration_date = "2020-01-02 00:00:00"
tls_www_server
signing_key
EOF
	certtool --generate-certificate --load-ca-certificate "$pki/ca.pem" \
		--load-ca-privkey "$pki/ca.key" --load-privkey "$tmp/other.key" \
		--template "$tmp/expired.tmpl" --outfile "$tmp/expired.pem" \
		>/dev/null 2>&1
	if serve "$tmp/expired.pem" "$tmp/other.key"; then
		write_config "$tmp/expired.ini" "$CA_FILE" "$SVC_PASSWORD_FILE" \
			"ldaps://127.0.0.1:$server_port"
		run expired -c "$tmp/expired.ini" test-bind
		check "expired: exit 1" rc_is expired 1
		check "...the certificate step says expired" \
			says expired "[FAIL] certificate: expired on 2020-01-02 00:00:00 UTC"
		check "...with its validity" \
			says expired "valid from 2020-01-01 00:00:00 UTC to 2020-01-02 00:00:00 UTC"
	else
		not_ok "a TLS server for the expired certificate starts"
	fi
else
	ok "expired certificate # SKIP certtool (gnutls-bin) not installed"
fi
stop_server

finish
