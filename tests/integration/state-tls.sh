#!/bin/bash
# state-tls.sh - [state] redis_url = rediss://: Redis over TLS, verified
# (issue 19). Debian 12's hiredis has no TLS, so ssprd makes the session
# itself (daemon/redistls.c); this drives it against a real redis-server
# with a TLS port and the test CA:
# - trusting another CA, ssprd -t says the certificate is refused, and the
#   daemon sends nothing: a request waits and is answered
#   state-unavailable;
# - trusting the right CA, a reset goes through start, verify and reset,
#   with ssprd's connection on the TLS port (CLIENT LIST);
# - Redis restarted: ssprd connects again over TLS by itself.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"
. "$FIXTURES/redis.sh"
with_slapd state-tls
cleanup() {
	inst_cleanup A W
	redis_cleanup
	fixture_cleanup
}
trap cleanup EXIT

sh "$FIXTURES/ca.sh" "$tmp/pki" >/dev/null 2>&1
chmod 0755 "$tmp/pki"
chmod 0644 "$tmp/pki"/*.pem
tport=$(redis_free_port)
# The plain port stays for the fixture's own PING and SHUTDOWN.
REDIS_EXTRA_CONF="tls-port $tport
tls-cert-file $tmp/pki/server.pem
tls-key-file $tmp/pki/server.key
tls-ca-cert-file $tmp/pki/ca.pem
tls-auth-clients no" redis_start "$tmp/redis" >"$tmp/redis-start.log" 2>&1 || {
	not_ok "redis-server starts with a TLS port"; sed 's/^/# /' "$tmp/redis-start.log"; finish; exit 1; }
ok "redis-server starts with TLS on 127.0.0.1:$tport"
install -m 0600 "$tmp/redis/password" "$tmp/redis.secret"
[ "$(id -u)" -eq 0 ] && chown nobody "$tmp/redis.secret"

state() { # INSTANCE CA-FILE
	cat <<INI
[state]
backend = redis
redis_url = rediss://127.0.0.1:$tport/0
redis_ca_file = $2
redis_password_file = $tmp/redis.secret
instance = tls-$1
INI
}

# --- another CA: refused, nothing sent ------------------------------------------
inst_ini W "$(state W "$tmp/pki/other-ca.pem")"
sed -i "s|^metrics =|&\nmax_wait = 5|" "$tmp/W/ssprd.ini"
"$SSPRD" -t -c "$tmp/W/ssprd.ini" >/dev/null 2>"$tmp/W.t.err"
check "ssprd -t, another CA: the certificate is refused, and said why" \
	grep -q "warning: \[state\] cannot use Redis at 127.0.0.1:$tport now: TLS: the certificate of 127.0.0.1 is refused: .*issuer is unknown" "$tmp/W.t.err"
inst_start W || { not_ok "ssprd W starts"; finish; exit 1; }
a=$(isub W '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "...a request waits, and is answered state-unavailable" "$a" reason state-unavailable
check "...its log names the refused certificate" \
	grep -q "store: cannot use Redis at 127.0.0.1:$tport: TLS: the certificate of 127.0.0.1 is refused" "$tmp/W/daemon.log"
check "...and no code was sent" [ "$(msg_count "$tmp/W/mail")" -eq 0 ]
inst_stop W

# --- the right CA: a reset over TLS -----------------------------------------------
inst_ini A "$(state A "$tmp/pki/ca.pem")"
"$SSPRD" -t -c "$tmp/A/ssprd.ini" >/dev/null 2>"$tmp/A.t.err"
check "ssprd -t, the test CA: no complaint about Redis" not_grep -q "cannot use Redis" "$tmp/A.t.err"
inst_start A || { not_ok "ssprd A starts"; finish; exit 1; }
a=$(isub A '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start over rediss://: ok" "$a" status ok
t=$(jget "$a" ticket)
code=$(last_code "$tmp/A/mail")
a=$(isub A "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"code\":\"$code\"}")
expect "verify: ok" "$a" status ok
clients=$(redis_cli "$tmp/redis" client list)
check "ssprd's connection is on the TLS port" grep -q "laddr=127.0.0.1:$tport " <<<"$clients"
check "...and none is on the plain one but redis-cli's own" \
	[ "$(grep -c "laddr=127.0.0.1:$(redis_port "$tmp/redis") " <<<"$clients")" -eq 1 ]

# --- Redis restarted: back over TLS by itself --------------------------------------
redis_restart "$tmp/redis" >/dev/null 2>&1
check "Redis restarted" redis_alive "$tmp/redis"
pw='Over-TLS-Pass-2026'
a=$(isub A "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"$pw\"}")
expect "the reset after the restart: ok (the ticket survived, append-only)" "$a" status ok
check "ssprd says it uses Redis again" grep -q "store: Redis at 127.0.0.1:$tport is in use again" "$tmp/A/daemon.log"
check "alice binds with the new password" \
	ldapwhoami -x -H "$LDAPS_URI" -D "$USER1_DN" -w "$pw"
check "ssprd A stops cleanly" inst_stop A
finish
