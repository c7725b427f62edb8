#!/bin/bash
# questions.sh - security questions end to end, against real slapd.
#
# register proves the current password and stores argon2id hashes of the
# answers (never the answers), while a new mobile and mail wait for their
# codes (register-contacts.sh);
# start with method questions shows [questions] required of them; answers
# are checked normalised (case, spaces), all of them, off the event loop (a
# policy request is answered while several checks run); unknown users and
# users without questions get decoys of the same shape; questions never
# count for admins; one request per ticket at a time (ten wrong guesses sent
# together count as ten; two resets on one ticket make one write); no answer
# reaches the log or the state.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd q

mail=$tmp/mail
conf=$tmp/ssprd.ini
write_ini "$conf" openldap "$LDAPS_URI" "" "recovery_attribute = $RECOVERY_MAIL_ATTR
[policy]
admin_groups = $ADMINS_GROUP_DN
methods = email, sms, questions
admin_methods = email, sms
min_length = 12
max_starts_per_hour = 50
lockout_failures = 50
[sms]
command = $FIXTURES/mailsink.sh $tmp/sms
recovery_attribute = $RECOVERY_MOBILE_ATTR
[questions]
attribute = $QUESTIONS_ATTR
required = 3"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }

sub() { submit "$conf" "$1"; }
keys() { python3 -c 'import json,sys; print(sorted(json.loads(sys.argv[1])))' "$1"; }
binds() { ldapwhoami -x -H "$LDAPS_URI" -D "$1" -y <(printf '%s' "$2") </dev/null >/dev/null 2>&1; }
attr_of() { # DN ATTR: its value, read as the directory's admin
	ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAPS_URI" -D "$ADMIN_DN" \
		-y <(printf '%s' "$ADMIN_PASSWORD") -b "$1" -s base "$2" </dev/null |
		sed -n "s/^$2:: //p;s/^$2: //p" | head -n 1
}

# Four questions and their answers (one with an emoji, one with odd spacing).
qa='[{"question":"First pet?","answer":"Fluffy the Cat"},
{"question":"City of birth?","answer":"İzmir"},
{"question":"Favourite song?","answer":"Bohemian   Rhapsody"},
{"question":"Lucky sign?","answer":"🍀 four leaf"}]'
answer_for() { # QUESTION -> the answer, spelled differently from registration
	case $1 in
	"First pet?") echo "  fluffy THE cat " ;;
	"City of birth?") echo "İzmir" ;;
	"Favourite song?") echo "bohemian rhapsody" ;;
	"Lucky sign?") echo "🍀 Four Leaf" ;;
	esac
}
answers_json() { # ANSWER(JSON array of questions) [WRONG-INDEX]
	python3 - "$1" "${2:--1}" <<'PY'
import json, sys
qs = json.loads(sys.argv[1]); bad = int(sys.argv[2])
right = {"First pet?": "  fluffy THE cat ", "City of birth?": "İzmir",
         "Favourite song?": "bohemian rhapsody", "Lucky sign?": "🍀 Four Leaf"}
print(json.dumps([("wrong" if i == bad else right[q]) for i, q in enumerate(qs)],
                 ensure_ascii=False))
PY
}

# --- register ----------------------------------------------------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"not-her-password\",\"questions\":$qa}")
expect "register with a wrong password: wrong-password" "$a" reason wrong-password
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"$USER1_PASSWORD\",\"questions\":[{\"question\":\"A?\",\"answer\":\"a\"},{\"question\":\"B?\",\"answer\":\"b\"}]}")
expect "two questions when three are required: bad-request" "$a" reason bad-request
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"$USER1_PASSWORD\",\"questions\":[{\"question\":\"A?\",\"answer\":\"a\"},{\"question\":\"a?\",\"answer\":\"b\"},{\"question\":\"C?\",\"answer\":\"c\"}]}")
expect "the same question twice: bad-request" "$a" reason bad-request
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"$USER1_PASSWORD\",\"questions\":[{\"question\":\"A?\",\"answer\":\"a\"},{\"question\":\"B?\",\"answer\":\"   \"},{\"question\":\"C?\",\"answer\":\"c\"}]}")
expect "an answer of blanks only: bad-request" "$a" reason bad-request
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"$USER1_PASSWORD\",\"questions\":$qa,\"mobile\":\"+1 555 0100 999\",\"email\":\"alice.private@example.net\"}")
expect "register four questions, a mobile and an address" "$a" registered '["email","sms","questions"]'
expect "...the mobile and the address wait for their codes" "$a" pending '["email","sms"]'
stored=$(attr_of "$USER1_DN" "$QUESTIONS_ATTR")
[[ "$stored" == '{'* ]] || stored=$(printf '%s' "$stored" | base64 -d)
check "the directory holds argon2id hashes" bash -c "[ \$(grep -o '\\\$argon2id\\\$' <<<'$stored' | wc -l) -eq 4 ]"
check "...and the questions" grep -q "First pet?" <<<"$stored"
check "...but no answer" bash -c "! grep -qiE 'fluffy|rhapsody|zmir|four leaf' <<<'$stored'"
check "mobile is not written (register-contacts.sh: confirm does)" \
	[ "$(attr_of "$USER1_DN" mobile)" = "$USER1_MOBILE" ]
check "mail neither" [ "$(attr_of "$USER1_DN" mail)" = "$USER1_MAIL" ]
check "the notice went to the address she had before" \
	wait_for 5 bash -c "grep -l '^To: $USER1_MAIL' '$mail'/*.msg | xargs -r grep -q 'recovery information'"
check "alice cannot read her own question hashes" bash -c \
	"[ -z \"\$(ldapsearch -x -LLL -H '$LDAPS_URI' -D '$USER1_DN' -w '$USER1_PASSWORD' -b '$USER1_DN' -s base '$QUESTIONS_ATTR' </dev/null | grep -i '^$QUESTIONS_ATTR')\" ]"

# --- start and verify ------------------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"alice","method":"questions"}')
expect "start with questions: ok" "$a" status ok
shown=$(jget "$a" questions)
real_keys=$(keys "$a")
t=$(jget "$a" ticket)
check "three of her questions are shown ($shown)" python3 -c "
import json, sys
q = json.loads(sys.argv[1])
assert len(q) == 3 and len(set(q)) == 3
assert set(q) <= {'First pet?', 'City of birth?', 'Favourite song?', 'Lucky sign?'}
" "$shown"
check "...and no sent_to" [ -z "$(jget "$a" sent_to)" ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":$(answers_json "$shown" 1)}")
expect "one wrong answer of three: bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":[\"x\",\"y\"]}")
expect "two answers for three questions: bad-code" "$a" reason bad-code
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":$(answers_json "$shown")}")
expect "the right answers, spelled differently: verified" "$a" verified '["questions"]'
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"new_password\":\"Answered-Right-2026\"}")
expect "reset after the questions" "$a" status ok
check "alice binds with it" binds "$USER1_DN" "Answered-Right-2026"

a=$(sub '{"v":1,"op":"start","user":"alice","method":"questions"}')
t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"reset\",\"ticket\":\"$t\",\"answers\":$(answers_json "$(jget "$a" questions)"),\"new_password\":\"Inline-Answers-2026\"}")
expect "reset with the answers inline" "$a" status ok
check "alice binds with that one" binds "$USER1_DN" "Inline-Answers-2026"

# --- decoys -----------------------------------------------------------------------
a=$(sub '{"v":1,"op":"start","user":"nosuchuser","method":"questions"}')
check "unknown user: the same fields" [ "$(keys "$a")" = "$real_keys" ]
q1=$(jget "$a" questions)
t=$(jget "$a" ticket)
check "...three questions" python3 -c "import json,sys; assert len(json.loads(sys.argv[1])) == 3" "$q1"
same_set() { python3 -c 'import json,sys; assert sorted(json.loads(sys.argv[1])) == sorted(json.loads(sys.argv[2]))' "$1" "$2"; }
orders=$(for i in 1 2 3 4 5 6 7; do
	a=$(sub '{"v":1,"op":"start","user":"nosuchuser","method":"questions"}')
	same_set "$(jget "$a" questions)" "$q1" && jget "$a" questions || echo "another set"
done | sort -u)
other=$(grep -c 'another set' <<<"$orders")
check "...the same ones again, 7 times" [ "$other" -eq 0 ]
check "...in more than one order, as a real user's ($(wc -l <<<"$orders") orders of 6)" \
	[ "$(wc -l <<<"$orders")" -ge 2 ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":[\"a\",\"b\",\"c\"]}")
expect "...and no answers verify" "$a" reason bad-code
a=$(sub '{"v":1,"op":"start","user":"bob","method":"questions"}')
check "bob has no questions: the same fields" [ "$(keys "$a")" = "$real_keys" ]
check "...the log says so" grep -q "user=bob account=.* result=ok .*decoy: no contact for this method" "$log"

# --- questions never count for admins ---------------------------------------------
a=$(sub "{\"v\":1,\"op\":\"register\",\"user\":\"carol\",\"password\":\"$USER3_PASSWORD\",\"questions\":$qa}")
expect "admin carol may register questions" "$a" status ok
a=$(sub '{"v":1,"op":"start","user":"carol","method":"questions"}')
check "...but a start with them is a decoy" grep -q "user=carol account=.* result=ok .*decoy: method does not count for admins" "$log"

# --- policy: the same answer for everyone -------------------------------------
strip_id() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.pop("id"); print(json.dumps(d, sort_keys=True))' "$1"; }
p_none=$(strip_id "$(sub '{"v":1,"op":"policy"}')")
p_alice=$(strip_id "$(sub '{"v":1,"op":"policy","user":"alice"}')")
p_carol=$(strip_id "$(sub '{"v":1,"op":"policy","user":"carol"}')")
p_nobody=$(strip_id "$(sub '{"v":1,"op":"policy","user":"nosuchuser"}')")
check "policy: the same for alice, admin carol, nobody and no user" \
	bash -c "[ '$p_none' = '$p_alice' ] && [ '$p_alice' = '$p_carol' ] && [ '$p_carol' = '$p_nobody' ]"
expect "policy: methods" "$(sub '{"v":1,"op":"policy"}')" methods '["email","sms","questions"]'
expect "policy: admin methods" "$(sub '{"v":1,"op":"policy"}')" admin_methods '["email","sms"]'
expect "policy: questions_required" "$(sub '{"v":1,"op":"policy"}')" questions_required 3

# --- the checks run off the event loop ------------------------------------------------
q=$tmp/queue
for i in 1 2 3 4; do
	a=$(sub '{"v":1,"op":"start","user":"alice","method":"questions"}')
	printf '{"v":1,"op":"verify","ticket":"%s","answers":%s}' "$(jget "$a" ticket)" \
		"$(answers_json "$(jget "$a" questions)")" >"$q/tmp/check$i.json"
done
for i in 1 2 3 4; do mv "$q/tmp/check$i.json" "$q/new/"; done
a=$(sub '{"v":1,"op":"policy"}')
done_when_policy=$(ls "$q/out" | grep -c '^check')
expect "a policy request is answered while four answer checks run" "$a" status ok
check "...before they all finished ($done_when_policy of 4 had)" [ "$done_when_policy" -lt 4 ]
check "the four checks all verify" wait_for 20 bash -c "[ \$(grep -l '\"verified\"' '$q'/out/check*.json 2>/dev/null | wc -l) -eq 4 ]"

# --- one ticket, many guesses at once -------------------------------------------------
# Answer checks take a while (argon2id), so ten wrong guesses on one ticket
# sent together would all read it before any failure is saved, and count
# as one. ssprd works on one request per ticket at a time: max_attempts (5)
# holds, the fifth failure kills the ticket, the rest are refused unchecked.
a=$(sub '{"v":1,"op":"start","user":"alice","method":"questions"}')
t=$(jget "$a" ticket)
wrong=$(answers_json "$(jget "$a" questions)" 0)
for i in $(seq -w 1 10); do
	printf '{"v":1,"op":"verify","ticket":"%s","answers":%s}' "$t" "$wrong" >"$q/tmp/guess$i.json"
done
chmod 644 "$q/tmp/"guess*.json
drop "$q" "guess*.json"
check "ten guesses on one ticket at once: all answered" wait_for 30 bash -c \
	"[ \$(ls '$q/out' | grep -c '^guess') -eq 10 ]"
bad=$(grep -l '"reason":"bad-code"' "$q/out/"guess*.json | wc -l)
dead=$(grep -l '"reason":"too-many-attempts"' "$q/out/"guess*.json | wc -l)
check "...four bad-code ($bad) and six too-many-attempts ($dead)" [ "$bad" -eq 4 ] && [ "$dead" -eq 6 ]
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":$(answers_json "$(jget "$a" questions)")}")
expect "...and the ticket is dead, even for the right answers" "$a" reason too-many-attempts

# Two resets on one verified ticket at once: one is done, the other finds
# the ticket spent.
a=$(sub '{"v":1,"op":"start","user":"alice","method":"questions"}')
t=$(jget "$a" ticket)
a=$(sub "{\"v\":1,\"op\":\"verify\",\"ticket\":\"$t\",\"answers\":$(answers_json "$(jget "$a" questions)")}")
expect "verified for the double reset" "$a" remaining 0
for i in 1 2; do
	printf '{"v":1,"op":"reset","ticket":"%s","new_password":"Twice-Reset-%s-2026"}' "$t" "$i" >"$q/tmp/twice$i.json"
done
chmod 644 "$q/tmp/"twice*.json
drop "$q" "twice*.json"
check "two resets on one ticket: both answered" wait_for 30 bash -c \
	"[ \$(ls '$q/out' | grep -c '^twice') -eq 2 ]"
won=$(grep -l '"status":"ok"' "$q/out/"twice*.json | sed -n 's/.*twice\([12]\)\.json/\1/p')
check "...one ok (${won:-none}), the other expired" bash -c \
	"[ \$(grep -l '\"reason\":\"expired\"' '$q'/out/twice*.json | wc -l) -eq 1 ] && [ -n '$won' ]"
check "...and alice has the winner's password" binds "$USER1_DN" "Twice-Reset-${won:-0}-2026"

# --- no answer anywhere it should not be --------------------------------------------
check "no answer in the log or the state" bash -c \
	"! grep -rqaiE 'fluffy|rhapsody|zmir|four leaf' '$log' '$tmp/state'"

daemon_stop
daemon_pid=
finish
