#!/bin/bash
# password-rules.sh - ssprd's own password rules against a real slapd:
# banned terms scored after normalisation, personal data from the entry,
# and the breached-password index built by ssprctl breach-import from the
# sample corpus in the tree (tests/fixtures/breached-sample.txt: 1 000
# SHA-1 lines in the Pwned Passwords download format, four of them real
# passwords this test uses).
#
# - breach-import: the sample imports; bad input is refused with its line
#   number and leaves nothing behind;
# - policy: the rules banned-terms and not-breached, and min_score;
# - reset (alice, Alice Anderson): a breached password, a banned-term one,
#   a personal-data one are each refused with their violation, never the
#   password in the answer; the same code with a good password is ok, and
#   binds;
# - breached_min_count: a password seen 3 times passes at 5;
# - change (bob, Bob Brown): a personal-data password with the wrong
#   current password is wrong-password (a stranger learns nothing of the
#   entry), with the right one password-policy [personal-data] and the
#   password is unchanged; for an unknown name, wrong-password;
# - the directory's ppolicy: with [directory] ppolicy_default naming the
#   default policy, raised to pwdMinLength 20 (above ssprd's 12), policy
#   shows min_length 20 and the directory's rules; a reset to 16
#   characters is too-short before the write; bob under a policy of his
#   own (pwdPolicySubentry, pwdMinLength 24) is held to 24 at change,
#   while policy still shows the default's 20 (the same for everyone);
#   with directory_rules = no the directory itself refuses (as
#   directory-policy or its own name), proving the rule is real;
# - a damaged index: ssprd -t refuses it, and a reload onto it is refused
#   while the running configuration keeps serving.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd rules

idx=$tmp/breached.idx
check "breach-import reads the sample" \
	"$SSPRCTL" breach-import "$SRCDIR/tests/fixtures/breached-sample.txt" "$idx"
check "...and the index is 5 bytes an entry plus its table" \
	test "$(stat -c %s "$idx")" -lt 6000
sort -r "$SRCDIR/tests/fixtures/breached-sample.txt" >"$tmp/unsorted.txt"
err=$("$SSPRCTL" breach-import - "$tmp/bad.idx" <"$tmp/unsorted.txt" 2>&1 >/dev/null)
rc=$?
check "out-of-order input: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "...naming the line ($err)" grep -q "line 2: not in ascending order" <<<"$err"
check "...and nothing written" [ ! -e "$tmp/bad.idx" ]
check "...nor a temporary file left" [ -z "$(ls "$tmp" | grep 'bad.idx')" ]
chmod 0644 "$idx"

printf 'contoso\nsummer\nwinter\n' >"$tmp/banned.txt"
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
min_length = 12
max_attempts = 5
max_starts_per_hour = 50
banned_passwords = $tmp/banned.txt
breached_file = $idx"
spool_ini "$conf"
log=$tmp/daemon.log
# reloads N: the daemon has logged N reloads (grep runs at each try)
reloads() { [ "$(grep -c 'config: reloaded' "$log")" -ge "$1" ]; }
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
reset_req() { # TICKET CODE PASSWORD
	printf '{"v":1,"op":"reset","ticket":"%s","code":"%s","new_password":"%s"}' "$1" "$2" "$3"
}

a=$(sub '{"v":1,"op":"policy"}')
expect "policy: the rules in force" "$a" rules \
	'["min-length","max-length","not-banned","no-user-name","banned-terms","not-breached","directory-policy"]'
expect "policy: min_score 5 (the default)" "$a" min_score 5

# --- reset -------------------------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
expect "start alice" "$a" status ok
t=$(jget "$a" ticket)
code=$(last_code "$tmp/mail")
a=$(sub "$(reset_req "$t" "$code" Correct-Horse-Battery-Staple)")
expect "a password from the breach corpus: breached" "$a" violations '["breached"]'
check "...the answer does not echo it" not_grep "Correct-Horse" <<<"$a"
a=$(sub "$(reset_req "$t" "$code" 'Ünïcode-Şifre-2024')")
expect "a non-ASCII one from the corpus (SHA-1 of its UTF-8): breached" "$a" violations '["breached"]'
a=$(sub "$(reset_req "$t" "$code" 'C0nt0s0Summer-W1nter')")
expect "banned terms, disguised (contoso summer - winter: 4): banned-word" "$a" violations '["banned-word"]'
a=$(sub "$(reset_req "$t" "$code" 'Anders0nA1ice-2')")
expect "her own names (anderson alice - 2: 4): personal-data" "$a" violations '["personal-data"]'
a=$(sub "$(reset_req "$t" "$code" 'AndersenAlyce42')")
expect "...also within one edit each: personal-data" "$a" violations '["personal-data"]'
check "nothing was written so far: her password binds" binds "$USER1_DN" "$USER1_PASSWORD"
a=$(sub "$(reset_req "$t" "$code" 'Anderson-Valley-Orchard-9')")
expect "her surname among enough of her own: ok" "$a" status ok
check "...and it binds" binds "$USER1_DN" 'Anderson-Valley-Orchard-9'
check "the log never holds a refused password" not_grep "C0nt0s0" "$log"

# --- breached_min_count -----------------------------------------------------
sed -i "s|^breached_file = .*|&\nbreached_min_count = 5|" "$conf"
kill -HUP "$daemon_pid"
wait_for 30 log_has "$log" "config: reloaded" || not_ok "reload"
a=$(sub '{"v":1,"op":"start","user":"alice","method":"email"}')
t=$(jget "$a" ticket)
code=$(last_code "$tmp/mail")
a=$(sub "$(reset_req "$t" "$code" Qwerty-Asdfgh-Zxcvbn)")
expect "breached_min_count 5: one seen 5 000 times is refused" "$a" violations '["breached"]'
a=$(sub "$(reset_req "$t" "$code" Correct-Horse-Battery-Staple)")
expect "...one seen 3 times is allowed" "$a" status ok

# --- change ---------------------------------------------------------------------
chg() { # USER OLD NEW
	printf '{"v":1,"op":"change","user":"%s","old_password":"%s","new_password":"%s"}' "$1" "$2" "$3"
}
a=$(sub "$(chg bob Wrong-Current-1 'BrownB0bBrown7')")
expect "change, bob's names, wrong current password: wrong-password" "$a" reason wrong-password
a=$(sub "$(chg nosuchuser Wrong-Current-1 'BrownB0bBrown7')")
expect "...the same for an unknown name" "$a" reason wrong-password
a=$(sub "$(chg bob "$USER2_PASSWORD" 'BrownB0bBrown7')")
expect "with the right current password: personal-data" "$a" violations '["personal-data"]'
check "...and bob's password is unchanged" binds "$USER2_DN" "$USER2_PASSWORD"
a=$(sub "$(chg bob "$USER2_PASSWORD" 'Password-Password-1')")
expect "change to a breached password: breached, before the directory" "$a" violations '["breached"]'
a=$(sub "$(chg bob "$USER2_PASSWORD" 'Brownstone-Harbour-Light')")
expect "a good one: ok" "$a" status ok
check "...and it binds" binds "$USER2_DN" 'Brownstone-Harbour-Light'

# --- the directory's ppolicy ----------------------------------------------------
adm() { ldapmodify -x -H "$LDAPS_URI" -D "$ADMIN_DN" -y <(printf '%s' "$ADMIN_PASSWORD") >/dev/null 2>&1; }
adm <<LDIF
dn: $POLICY_DN
changetype: modify
replace: pwdMinLength
pwdMinLength: 20
-
replace: pwdCheckQuality
pwdCheckQuality: 2

dn: cn=strict,ou=policies,$BASE_DN
changetype: add
objectClass: device
objectClass: pwdPolicy
cn: strict
pwdAttribute: userPassword
pwdMinLength: 24
pwdCheckQuality: 2
pwdInHistory: 5

dn: $USER2_DN
changetype: modify
add: pwdPolicySubentry
pwdPolicySubentry: cn=strict,ou=policies,$BASE_DN
LDIF
check "the fixture's policies are set" [ $? -eq 0 ]
sed -i "s|^\[directory\]|&\nppolicy_default = $POLICY_DN|" "$conf"
: >"$log.mark"
kill -HUP "$daemon_pid"
wait_for 30 reloads 2 || not_ok "reload"
a=$(sub '{"v":1,"op":"policy"}')
expect "policy: the default ppolicy's pwdMinLength 20 beats ssprd's 12" "$a" min_length 20
expect "...and the directory's rules are shown" "$a" directory \
	'{"min_length":20,"complexity":false,"history":5,"min_age":0}'
expect "...with history among the rules" "$a" rules \
	'["min-length","max-length","not-banned","no-user-name","banned-terms","not-breached","history","directory-policy"]'
a=$(sub '{"v":1,"op":"policy","user":"bob"}')
expect "policy for bob (a stricter policy of his own): the same answer" "$a" min_length 20
a=$(sub '{"v":1,"op":"start","user":"zoe","method":"email"}')
t=$(jget "$a" ticket)
code=$(last_code "$tmp/mail")
a=$(sub "$(reset_req "$t" "$code" Sixteen-Chars-Ok)")
expect "a reset to 16 characters: too-short, from ssprd" "$a" violations '["too-short"]'
a=$(sub "$(reset_req "$t" "$code" Twenty-Two-Chars-Is-Ok)")
expect "...22 characters: ok" "$a" status ok
a=$(sub "$(chg bob 'Brownstone-Harbour-Light' 'Twenty-Two-Chars-For-B')")
expect "bob's change to 22 characters: too-short (his policy: 24)" "$a" violations '["too-short"]'
check "...his password unchanged" binds "$USER2_DN" 'Brownstone-Harbour-Light'
check "...and the directory never saw it" not_grep "change refused at" "$log"
sed -i "s|^breached_min_count = 5|&\ndirectory_rules = no|" "$conf"
kill -HUP "$daemon_pid"
wait_for 30 reloads 3 || not_ok "reload"
a=$(sub "$(chg bob 'Brownstone-Harbour-Light' 'Twenty-Two-Chars-For-B')")
expect "directory_rules = no: the directory refuses it itself" "$a" reason password-policy
echo "# the directory's own answer: $(jget "$a" violations)"
check "...after ssprd sent it" log_has "$log" "change refused at"
a=$(sub "$(chg bob 'Brownstone-Harbour-Light' 'Twenty-Six-Characters-For-B')")
expect "...and 27 characters pass" "$a" status ok

# --- a damaged index ------------------------------------------------------------
# replaced as the docs say (a new file renamed over it), but cut short
cp "$idx" "$tmp/damaged.idx"
truncate -s -1 "$tmp/damaged.idx"
mv "$tmp/damaged.idx" "$idx"
out=$("$SSPRD" -t -c "$conf" 2>&1)
check "ssprd -t refuses a damaged index" grep -q "breached_file: .*damaged" <<<"$out"
kill -HUP "$daemon_pid"
wait_for 30 log_has "$log" "reload refused" || not_ok "the reload is refused"
check "the daemon is still up" kill -0 "$daemon_pid"
a=$(sub '{"v":1,"op":"policy"}')
expect "...and serves with the index it had" "$a" rules \
	'["min-length","max-length","not-banned","no-user-name","banned-terms","not-breached","directory-policy"]'
daemon_stop
finish
