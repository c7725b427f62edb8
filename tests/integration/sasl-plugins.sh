#!/bin/bash
# sasl-plugins.sh - Cyrus SASL's plugins are loaded only when a bind needs
# one (ldap/session.c, session_global_init()).
#
# libldap initialises Cyrus SASL, which loads every plugin installed (and
# with them libcrypto, libdb, the Kerberos libraries) even when every bind
# is simple. ssprd, started with bind = simple, changes a password over
# LDAPS (the service account's bind and the user's), and then no file of
# the SASL plugin folder is mapped into it. A SIGHUP to sasl_mech = GSSAPI
# is refused, saying to restart, and the daemon goes on. Started with
# sasl_mech = GSSAPI instead, ssprd does load the plugins once it tries to
# bind: the check above can tell the two apart. SASL, told to look for
# plugins where none can be, says nothing about it (it used to log, at
# every start, that /dev/null is not a directory: tests/syslogcap.c
# catches what it sends to syslog).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# Where libsasl2 looks for plugins: sasl2/ beside it.
libsasl=$(ldd "$SSPRD" | awk '$1 ~ /^libsasl2\.so/ { print $3 }')
plugin_dir=$(dirname "$(readlink -f "${libsasl:-/nonexistent}")")/sasl2
ls "$plugin_dir"/*.so >/dev/null 2>&1 ||
	skip_all "no Cyrus SASL plugin is installed in $plugin_dir (libsasl2-modules)"

with_slapd saslplug
conf=$tmp/ssprd.ini
log=$tmp/daemon.log
add_users sp 1

# maps_plugins PID: how many mappings of PID come from the plugin folder.
maps_plugins() {
	grep -c -F "$plugin_dir/" "/proc/$1/maps"
}

write_ini "$conf" openldap "$LDAPS_URI"
spool_ini "$conf"
# What SASL sends to syslog (the journal, under systemd) goes to a file.
syslog=$tmp/syslog
cc -shared -fPIC -o "$tmp/syslogcap.so" "$SRCDIR/tests/syslogcap.c" ||
	{ echo "Bail out! cannot build tests/syslogcap.c"; exit 1; }
chmod 0755 "$tmp/syslogcap.so"
: >"$syslog"
chmod 0666 "$syslog"
SYSLOGCAP_FILE=$syslog LD_PRELOAD=$tmp/syslogcap.so \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	daemon_start "$conf" "$log" || { not_ok "ssprd starts"; finish; exit 1; }
ans=$(submit "$conf" '{"v":1,"op":"change","user":"sp1","old_password":"Initial-Pass-1-x","new_password":"Changed-Pass-1-long"}')
expect "bind = simple: a change goes through (two simple binds)" "$ans" status ok
n=$(maps_plugins "$daemon_pid")
check "...and no SASL plugin is mapped ($n mappings from $plugin_dir)" [ "$n" -eq 0 ]
check "...and SASL logged nothing about where it looked for them" \
	not_grep "looking for plugins" "$syslog"

cp "$conf" "$tmp/simple.ini"
sed -i -e 's/^bind_dn = .*/bind = sasl\nsasl_mech = GSSAPI/' \
	-e '/^bind_password_file = /d' -e "s|^uri = .*|uri = ldap://127.0.0.1:1|" "$conf"
kill -HUP "$daemon_pid"
check "a reload to sasl_mech = GSSAPI is refused" wait_for 10 log_has "$log" \
	"config: sasl_mech = GSSAPI needs Cyrus SASL's plugins, which ssprd loads only when it starts"
check "...the running configuration stays" \
	log_has "$log" "reload refused; the running configuration stays in force"
ans=$(submit "$conf" '{"v":1,"op":"policy"}')
expect "...and the daemon still answers" "$ans" status ok
daemon_stop

: >"$log"
daemon_start "$conf" "$log" || { not_ok "ssprd starts with sasl_mech = GSSAPI"; finish; exit 1; }
loaded() { [ "$(maps_plugins "$daemon_pid")" -gt 0 ]; }
check "started with sasl_mech = GSSAPI, it loads the SASL plugins to bind" \
	wait_for 20 loaded
daemon_stop
daemon_pid=
finish
