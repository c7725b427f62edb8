#!/bin/bash
# question-choices.sh - [questions] choices: the questions users may
# register, and the ones decoys show, against real slapd.
#
# With choices set: policy lists them (question_choices); register refuses
# a question not among them; a decoy's questions come from them, the same
# set for the same name every time, in a random order at every start, which
# is what a real user's look like (a set of three, their order drawn anew).
# A stranger comparing starts can tell neither by the texts nor by the
# order whether a name has registered questions.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

with_slapd qc

conf=$tmp/ssprd.ini
choices=$tmp/choices.txt
cat >"$choices" <<'EOF'
# The questions this organisation offers.
What was the name of your first pet?
In which city were you born?
What was your first car?
Wie hieß deine erste Lehrerin?
What is your favourite book?
EOF
write_ini "$conf" openldap "$LDAPS_URI" "" "[policy]
methods = email, questions
min_length = 12
max_starts_per_hour = 50
[questions]
attribute = $QUESTIONS_ATTR
required = 3
choices = $choices"
spool_ini "$conf"
log=$tmp/daemon.log
daemon_start "$conf" "$log" || { not_ok "ssprd starts"; cat "$log"; finish; exit 1; }
sub() { submit "$conf" "$1"; }

a=$(sub '{"v":1,"op":"policy"}')
want=$(grep -v '^#' "$choices" | python3 -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin], separators=(",", ":")))')
check "policy lists the choices, in the file's order" \
	[ "$(jget "$a" question_choices)" = "$want" ]

reg() { # QUESTION1 QUESTION2 QUESTION3: register them for alice
	sub "{\"v\":1,\"op\":\"register\",\"user\":\"alice\",\"password\":\"$USER1_PASSWORD\",\"questions\":[{\"question\":\"$1\",\"answer\":\"one\"},{\"question\":\"$2\",\"answer\":\"two\"},{\"question\":\"$3\",\"answer\":\"three\"}]}"
}
a=$(reg "What was the name of your first pet?" "In which city were you born?" "Name of my boat?")
expect "register a question not offered: bad-request" "$a" reason bad-request
check "...saying why" grep -q "must be one of those offered" <<<"$(jget "$a" message)"
a=$(reg "What was the name of your first pet?" "In which city were you born?" "Wie hieß deine erste Lehrerin?")
expect "register three offered questions" "$a" registered '["email","questions"]'

# starts NAME N: the questions of N starts, one JSON array per line.
starts() {
	local i a
	for ((i = 0; i < $2; i++)); do
		a=$(sub "{\"v\":1,\"op\":\"start\",\"user\":\"$1\",\"method\":\"questions\"}")
		jget "$a" questions
	done
}
# shape FILE: "SETS ORDERS OFFERED": distinct sets, distinct orders, and
# whether every question shown is offered.
shape() {
	python3 - "$1" "$choices" <<'PY'
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
offered = {l.rstrip("\n") for l in open(sys.argv[2]) if not l.startswith("#")}
sets = {frozenset(q) for q in seen}
orders = {tuple(q) for q in seen}
ok = all(len(q) == 3 and set(q) <= offered for q in seen)
print(len(sets), len(orders), "yes" if ok else "no")
PY
}

starts alice 8 >"$tmp/alice.q"
read -r sets orders offered < <(shape "$tmp/alice.q")
check "alice, 8 starts: her three questions every time ($sets set)" [ "$sets" = 1 ]
check "...in more than one order ($orders orders of 6)" [ "$orders" -ge 2 ]

starts nosuchuser 8 >"$tmp/decoy.q"
read -r sets orders offered < <(shape "$tmp/decoy.q")
check "unknown user, 8 starts: offered questions only" [ "$offered" = yes ]
check "...the same set every time ($sets set)" [ "$sets" = 1 ]
check "...in more than one order, like alice's ($orders orders of 6)" [ "$orders" -ge 2 ]
check "...and the log says it was a decoy" \
	grep -q "user=nosuchuser account=.* result=ok .*decoy: no such user" "$log"

starts bob 3 >"$tmp/bob.q"
read -r sets orders offered < <(shape "$tmp/bob.q")
check "bob has no questions: offered ones all the same ($sets set)" \
	[ "$offered$sets" = yes1 ]

daemon_stop
daemon_pid=
finish
