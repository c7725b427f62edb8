#!/bin/bash
# docs-agree.sh - docs/protocol.md and the manual pages say what the code
# does, op by op (manpages.sh checks keys, reason messages and formatting).
#
# Read from the sources, so that neither side can drift alone:
# - every bad-request message the code can send (request.c's messages, the
#   "missing" one of each field some op requires, register.c's and any
#   other job_error_v(job, "bad-request", "...") sentence, spool.c's
#   refusals) is in section 4's list of docs/protocol.md, and that list has
#   no sentence the code lacks; register's own ones are also in its table;
# - the order in which section 2 says values are checked is request.c's;
# - each op's request table lists exactly the fields request.c's ops[]
#   accepts, "yes" exactly for those it requires;
# - each op's error table lists exactly the reasons the op can answer.
#   Deriving those from the code is too coarse (a callback graph cannot see
#   that password_refused() turns the directory's "locked" into
#   wrong-password), so REASONS below is kept by hand, and checked against
#   the code both ways: every reason it gives an op has a path in the code
#   from the op's function (job_dispatch()) or from engine_request(); every
#   reason such a path can answer is in REASONS or in KNOWN, which says
#   why it is left out; and REASONS uses every reason of reason_message()
#   and no other. Section 4 names an op in a reason's row only when the op
#   can answer it, and names every op that can answer throttled;
# - ssprd(8)'s Throttling entry names every op that can answer throttled;
# - ssprd.ini(5)'s placeholders are filled by the messages it says
#   (config.c's template_fills()), and the error it quotes for a template
#   with a placeholder its message does not fill is the one ssprd -t prints.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip_all "python3 is needed to read the sources"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssprd-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# What ssprd -t says of a code template with {{time}}, for the last check.
umask 077
printf 'pw' >"$tmp/secret"
umask 022
printf 'Subject: Code\n\n{{code}} at {{time}}\n' >"$tmp/code.txt"
cat >"$tmp/ssprd.ini" <<INI
[daemon]
$(daemon_user_line)
metrics =
[directory]
type = openldap
uri = ldaps://127.0.0.1:1
base_dn = dc=example,dc=org
bind_dn = cn=svc,dc=example,dc=org
bind_password_file = $tmp/secret
[email]
command = /bin/true
code_template = $tmp/code.txt
INI
"$SSPRD" -t -c "$tmp/ssprd.ini" >/dev/null 2>"$tmp/t.err"
check "ssprd -t refuses a code template with {{time}}" grep -q 'has {{time}}' "$tmp/t.err"

python3 - "$SRCDIR" "$tmp/t.err" >"$tmp/results" 2>&1 <<'PY'
import glob, os, re, sys

src, t_err = sys.argv[1], sys.argv[2]
read = lambda p: open(f"{src}/{p}", encoding="utf-8").read()

# --- what each op can answer, by hand ------------------------------------
# Read from the op modules of daemon/ (job.h lists them); every op
# may also answer bad-request and busy (engine_request(): a request that
# waited longer than [daemon] max_wait in new/), and state-unavailable
# (job_begin(): a shared state store away for as long).
REASONS = {
    "start": "state-unavailable bad-request not-allowed expired too-many-attempts busy "
             "directory-unavailable internal",
    "verify": "state-unavailable bad-request expired too-many-attempts throttled bad-code busy "
              "directory-unavailable internal",
    "reset": "state-unavailable bad-request expired too-many-attempts throttled bad-code busy "
             "not-verified password-policy account-disabled not-allowed "
             "account-locked directory-unavailable internal",
    "unlock": "state-unavailable bad-request expired too-many-attempts throttled bad-code busy "
              "not-verified account-disabled not-allowed account-locked "
              "directory-unavailable internal",
    "change": "state-unavailable bad-request password-policy wrong-password account-disabled "
              "not-allowed throttled busy not-verified directory-unavailable "
              "internal",
    "register": "state-unavailable bad-request not-allowed throttled busy wrong-password "
                "account-disabled directory-unavailable internal",
    "policy": "state-unavailable bad-request busy expired too-many-attempts "
              "directory-unavailable",
    "confirm": "state-unavailable bad-request expired bad-code too-many-attempts throttled "
               "not-verified not-allowed busy directory-unavailable internal",
    "status": "state-unavailable bad-request throttled busy wrong-password account-disabled "
              "not-allowed directory-unavailable internal",
}
REASONS = {op: set(r.split()) for op, r in REASONS.items()}
# Reasons a path in the code reaches that the op's docs leave out, and why.
LOCK_FOLDED = "password_refused() answers the directory's locked or " \
    "disabled as wrong-password before job_dir_error() could pass it on"
KNOWN = {
    "change": {"account-locked": LOCK_FOLDED},
    "register": {
        "account-locked": LOCK_FOLDED,
        "password-policy": "registered() passes any directory reason on: "
            "a constraint violation on an attribute write would say "
            "password-policy (a code issue, reported)",
        "password-expired": "registered() passes any directory reason on, "
            "even this one, which no answer should carry (a code issue, "
            "reported)",
    },
    "reset": {"wrong-password": "job_dir_error() on a reset would pass on a "
              "directory's wrong or expired password, which an "
              "administrator's reset does not get (reported)"},
    "unlock": {
        "wrong-password": "as for reset",
        "password-policy": "op_reset() serves both; only a reset checks a "
            "new password",
    },
    "status": {
        "account-locked": LOCK_FOLDED,
        "password-policy": "password_refused() passes any other directory "
            "reason on through job_dir_error(); the one operation status "
            "sends, a bind, is never refused for a password's quality",
    },
}

out = []
def result(good, desc, details=()):
    out.append(("ok " if good else "not ok ") + desc)
    out.extend("# " + d for d in details)

# --- C source helpers ------------------------------------------------------
def strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)

defines = {}
for p in ("daemon/request.h", "config/config.h", "daemon/request.c"):
    for m in re.finditer(r"^#define (\w+)\s+(\S+)", strip_comments(read(p)), re.M):
        defines[m.group(1)] = m.group(2)

def value_of(name):
    while name in defines:
        name = defines[name]
    return name

LIT = re.compile(r'"((?:[^"\\]|\\.)*)"|STR\((\w+)\)')

def literal_run(text, pos=0):
    """The C string that adjacent literals (and STR(x)) starting at text[pos]
    make, and where it ends; None when none starts there."""
    parts = []
    while True:
        m = re.compile(r"\s*").match(text, pos)
        m = LIT.match(text, m.end())
        if not m:
            break
        if m.group(2):
            parts.append(value_of(m.group(2)))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        pos = m.end()
    return ("".join(parts), pos) if parts else (None, pos)

request_c = strip_comments(read("daemon/request.c"))

# --- bad-request messages ---------------------------------------------------
fields = {}	# F_USER -> (name, missing, invalid)
for m in re.finditer(r"\[(F_\w+)\] = \{ \"(\w+)\", \w+,", request_c):
    missing, pos = literal_run(request_c, m.end())
    invalid, _ = literal_run(request_c, request_c.index(",", pos) + 1)
    fields[m.group(1)] = (m.group(2), missing, invalid)
ops = {}	# "start" -> (allowed field names, required field names)
for m in re.finditer(r"\[OP_\w+\] = \{ \"(\w+)\",(.*?)\},", request_c, re.S):
    allowed, required = m.group(2).split(",")
    bits = lambda e: {fields[f][0] for f in re.findall(r"BIT\((F_\w+)\)", e)}
    ops[m.group(1)] = (bits(allowed), bits(required))
required_anywhere = set().union(*(r for _, r in ops.values()))

code_msgs = set()
for m in re.finditer(r"static const char msg_\w+\[\] =", request_c):
    code_msgs.add(literal_run(request_c, m.end())[0])
for name, missing, invalid in fields.values():
    code_msgs.add(invalid)
    if name in required_anywhere:	# "The client address is missing." is not
        code_msgs.add(missing)
by_file = {}
for path in sorted(glob.glob(f"{src}/daemon/*.c")):
    p = os.path.basename(path)[:-2]
    text = strip_comments(open(path, encoding="utf-8").read())
    for m in re.finditer(r'job_error_v\(job, "bad-request",', text):
        msg, _ = literal_run(text, m.end())
        if msg is not None:
            code_msgs.add(msg)
            by_file.setdefault(p, set()).add(msg)
for m in re.finditer(r'^#define PROBLEM_\w+ "(.*)"$', read("daemon/spool.c"), re.M):
    code_msgs.add(m.group(1))
result(len(code_msgs) >= 30 and None not in code_msgs,
       f"the code's bad-request messages were read ({len(code_msgs)})")

protocol = read("docs/protocol.md")
flat = lambda s: re.sub(r"\s+", " ", s).strip()
sec4 = protocol.split("\n## 4.", 1)[1].split("\n## ", 1)[0]
listing = sec4.split("`bad-request` messages, one of:", 1)[1]
doc_msgs = set()
for item in re.split(r"\n- ", "\n" + listing.strip())[1:]:
    item = flat(item)
    if item.startswith("for a "):
        doc_msgs.update(s.strip() for s in item.split(": ", 1)[1].split(" / "))
    else:
        doc_msgs.add(item)
result(not code_msgs - doc_msgs,
       "every bad-request message of the code is in section 4 of docs/protocol.md",
       [f"not in the list: {m}" for m in sorted(code_msgs - doc_msgs)])
result(not doc_msgs - code_msgs,
       "section 4 lists no bad-request message the code does not send",
       [f"not in the code: {m}" for m in sorted(doc_msgs - code_msgs)])

def op_section(op):
    m = re.search(r"^### `%s`\n(.*?)(?=^##)" % op, protocol, re.S | re.M)
    return m.group(1) if m else ""

def table(section, header):
    """Rows (lists of cells) of the table whose header row is header."""
    m = re.search(r"^" + re.escape(header) + r"\n\|[-|]+\|\n((?:\|.*\n)*)",
                  section, re.M)
    if not m:
        return None
    return [[c.strip() for c in row.strip().strip("|").split(" | ")]
            for row in m.group(1).splitlines()]

rows = table(op_section("register"), "| reason | when |") or []
register_row = " ".join(flat(r[1]) for r in rows if r[0] == "`bad-request`")
missing = sorted(m for m in by_file.get("register", ()) if m not in register_row)
result(not missing, "register's error table quotes each of its own bad-request messages",
       [f"not in register's bad-request row: {m}" for m in missing])

# --- the order values are checked in ----------------------------------------
order = [fields[f][0] for f in re.findall(r"^\t(F_\w+),$",
         request_c.split("enum field {", 1)[1].split("};", 1)[0], re.M)]
m = re.search(r"values are checked in a fixed order \(([^)]*)\)", flat(protocol))
said = re.findall(r"`(\w+)`", m.group(1)) if m else []
result(said == order, "section 2 gives request.c's order of checking values",
       [f"docs: {' '.join(said)}", f"code: {' '.join(order)}"] if said != order else [])

# --- request fields per op ---------------------------------------------------
for op, (allowed, required) in ops.items():
    rows = table(op_section(op), "| field | type | required | notes |")
    if rows is None:
        result(False, f"{op}: docs/protocol.md has its request table")
        continue
    names = {r[0].strip("`") for r in rows}
    yes = {r[0].strip("`") for r in rows if r[2] == "yes"}
    result(names == allowed and yes == required,
           f"{op}: the request table lists the fields ops[] accepts, "
           "'yes' for those it requires",
           [f"docs: fields {sorted(names)}, required {sorted(yes)}",
            f"code: fields {sorted(allowed)}, required {sorted(required)}"]
           if (names, yes) != (allowed, required) else [])

# --- reasons per op: REASONS against the code ---------------------------------
engine_c = strip_comments(read("daemon/engine.c"))
table_src = engine_c.split("\nreason_message(", 1)[1].split("\n}\n", 1)[0]
messages = set(re.findall(r'\{ "([a-z-]+)", "[^"]*" \}', table_src))
dir_codes = set(re.findall(r'return "([a-z-]+)";', strip_comments(
    read("ldap/errmap.c")).split("\ndir_reason_code(", 1)[1].split("\n}\n", 1)[0])) - {"ok"}
used = set().union(*REASONS.values())
result(used == messages, "REASONS uses every reason of reason_message() and no other",
       [f"not in REASONS: {r}" for r in sorted(messages - used)] +
       [f"not in reason_message(): {r}" for r in sorted(used - messages)])

# Functions (BSD style: the return type on its own line, the name at the
# start of the next, the body between braces in column 0); the reasons
# each answers as literals, or through dir_reason_code() in a job_error()
# (all of the directory layer's, but password-expired where the function
# names DIR_PASSWORD_EXPIRED itself); and the functions each calls or
# passes on as a callback (a bare name between commas or parentheses). A
# name resolves to the function of that name in the same file, else to a
# non-static one.
funcs = {}	# (file, name) -> body
public = {}	# name -> (file, name), for functions that are not static
for path in sorted(glob.glob(f"{src}/daemon/*.c")):
    text = strip_comments(open(path, encoding="utf-8").read())
    for m in re.finditer(r"^([^\n]*)\n([a-z_]\w*)\([^;{]*?\)\n\{\n(.*?)\n\}$",
                         text, re.M | re.S):
        key = (path, m.group(2))
        funcs[key] = m.group(3)
        if not m.group(1).startswith("static"):
            public[m.group(2)] = key
answers = {}
for key, body in funcs.items():
    r = set(re.findall(r'"([a-z-]+)"', body)) & messages
    if re.search(r"job_error\(job,[^;]*dir_reason_code\(", body, re.S):
        r |= dir_codes
        if "DIR_PASSWORD_EXPIRED" in body:
            r.discard("password-expired")
    answers[key] = r
# Not followed: job_dispatch() starts an op again (its own reasons), the
# answer's way out and the table of messages answer nothing themselves.
stop = {"job_dispatch", "job_error", "job_error_v", "job_send", "job_send_now",
        "reason_message", "audit"}
def resolve(path, name):
    return (path, name) if (path, name) in funcs else public.get(name)
refs = {}
for (path, name), body in funcs.items():
    named = re.findall(r"(?<![\w.>])([a-z_]\w*)\s*\(", body) + \
        re.findall(r"[(,]\s*([a-z_]\w*)\s*(?=[,)])", body)
    refs[(path, name)] = {k for w in set(named) if w not in stop and w != name
                          and (k := resolve(path, w)) is not None}
# Tables of functions by op ("[OP_RESET] = reset_verified,"): a function
# that indexes one goes on, for each op, to that op's entry only.
tables = {}	# (file, table) -> {op: (file, function)}
for path in sorted(glob.glob(f"{src}/daemon/*.c")):
    text = strip_comments(open(path, encoding="utf-8").read())
    for m in re.finditer(r"^static [^\n=]*\(\*const (\w+)\[\]\)\([^)]*\) = \{(.*?)^\};",
                         text, re.M | re.S):
        tables[(path, m.group(1))] = {
            op.lower(): k for op, fn in
            re.findall(r"\[OP_(\w+)\]\s*=\s*(\w+)", m.group(2))
            if (k := resolve(path, fn)) is not None}
indexes = {key: {t for t in tables if t[0] == key[0] and
                 re.search(r"\b%s\[" % t[1], body)}
           for key, body in funcs.items()}
def reach(entry, op):
    seen, todo = set(), [entry]
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo.extend(refs[k])
            todo.extend(tables[t][op] for t in indexes[k] if op in tables[t])
    return set().union(*(answers[k] for k in seen))

entry = {}	# "unlock" -> "op_reset"
case = []
for line in funcs.get(public.get("job_dispatch"), "").splitlines():
    if m := re.match(r"\s*case OP_(\w+):", line):
        case.append(m.group(1).lower())
    elif m := re.match(r"\s*(op_\w+)\(job\);", line):
        for op in case:
            entry[op] = m.group(1)
        case = []
common = answers.get(public.get("engine_request"), set()) | \
    answers.get(resolve(f"{src}/daemon/engine.c", "job_begin"), set())
result(set(entry) == set(ops) and common >= {"bad-request", "busy"} and
       len(funcs) > 200 and bool(tables) and all(tables.values()),
       "job_dispatch(), engine_request() and the tables by op were read "
       f"({len(entry)} ops, {len(funcs)} functions, {len(tables)} tables: "
       + ", ".join(f"{t[1]} of {len(v)}" for t, v in sorted(tables.items())) + ")")
for op in ops:
    can = reach(public[entry[op]], op) | common if entry.get(op) in public else set()
    gone = REASONS[op] - can
    extra = can - REASONS[op] - set(KNOWN.get(op, {}))
    stale = set(KNOWN.get(op, {})) - can
    result(not gone, f"{op}: each reason REASONS gives it has a path in the code",
           [f"no path to {r} from {entry.get(op)}()" for r in sorted(gone)])
    result(not extra and not stale,
           f"{op}: each reason the code can answer is in REASONS (or KNOWN)",
           [f"{entry.get(op)}() reaches {r}" for r in sorted(extra)] +
           [f"KNOWN names {r}, which {entry.get(op)}() no longer reaches"
            for r in sorted(stale)])

# --- reasons per op: the docs against REASONS -----------------------------------
for op in ops:
    rows = table(op_section(op), "| reason | when |")
    if rows is None:
        result(False, f"{op}: docs/protocol.md has its error table")
        continue
    listed = set()
    for r in rows:
        listed.update(re.findall(r"`([a-z-]+)`", r[0]))
    result(listed == REASONS[op],
           f"{op}: its error table lists exactly the reasons it can answer",
           [f"missing: {r}" for r in sorted(REASONS[op] - listed)] +
           [f"cannot happen: {r}" for r in sorted(listed - REASONS[op])])

rows = table(sec4, "| reason | message | when |") or []
bad = []
for r in rows:
    reason = r[0].strip("`")
    named = set(re.findall(r"`([a-z]+)`", r[2])) & set(ops)
    bad += [f"{reason}: names {op}, which cannot answer it"
            for op in sorted(named) if reason not in REASONS[op]]
    if reason == "throttled":
        bad += [f"throttled: does not name {op}" for op in sorted(ops)
                if "throttled" in REASONS[op] and op not in named]
result(bool(rows) and not bad,
       "section 4 names an op in a reason's row only if the op can answer it", bad)

# --- ssprd(8) and ssprd.ini(5) -------------------------------------------------
def deroff(text):
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\.(B|I|BR|RB|IR|RI|BI|IB)\s+", "", line)
        if line.startswith("."):
            lines.append("\n")
            continue
        line = line.replace('"', "").replace("\\-", "-").replace("\\(dq", '"')
        line = re.sub(r"\\f[BIRP]|\\c|\\~", "", line)
        lines.append(line)
    return flat(" ".join(lines)).replace(" ,", ",").replace(" .", ".")

ssprd8 = read("man/ssprd.8")
m = re.search(r"^\.B Throttling\n(.*?)^\.TP", ssprd8, re.S | re.M)
throttling = deroff(m.group(1)) if m else ""
missing = [op for op in sorted(ops) if "throttled" in REASONS[op]
           and not re.search(r"\b%s\b" % op, throttling)]
result(bool(throttling) and not missing,
       "ssprd(8)'s Throttling names every op that can answer throttled",
       [f"not named: {op}" for op in missing])

config_c = strip_comments(read("config/config.c"))
fills = config_c.split("\ntemplate_fills(", 1)[1].split("\n}\n", 1)[0]
filled_by = {}
for kind in ("code", "notice", "admin"):
    m = re.search(r"const %s\[\] = \{(.*?)\}" % kind, fills, re.S)
    for name in re.findall(r'"(\w+)"', m.group(1) if m else ""):
        filled_by.setdefault(name, set()).add(kind)
phrases = {"All messages.": {"code", "notice", "admin"},
           "Code messages.": {"code"},
           "Notices and administrator notices.": {"notice", "admin"},
           "Notices.": {"notice"},
           "Administrator notices.": {"admin"}}
ini5 = read("man/ssprd.ini.5")
templates = ini5.split("\n.SH TEMPLATES\n", 1)[1].split("\n.SH ", 1)[0]
entries = dict(re.findall(r"^\.TP\n\.B \{\{(\w+)\}\}\n(.*?)(?=^\.TP|^\.PP)",
                          templates, re.S | re.M))
bad = []
for name in sorted(set(filled_by) | set(entries)):
    text = deroff(entries.get(name, ""))
    said = next((k for p, k in phrases.items() if text.endswith(p)), None)
    if said != filled_by.get(name):
        bad.append(f"{{{{{name}}}}}: the page says {sorted(said or [])}, "
                   f"template_fills() {sorted(filled_by.get(name, []))}")
result(len(filled_by) >= 7 and not bad,
       f"ssprd.ini(5) says which messages fill each placeholder ({len(filled_by)})", bad)

said = deroff(templates)
err = open(t_err, encoding="utf-8").read()
m = re.search(r"has \{\{time\}\}, .*\)$", err, re.M)
result(m is not None and m.group(0) in said,
       "ssprd.ini(5) quotes the error ssprd -t gives for a placeholder the "
       "message does not fill",
       [] if m and m.group(0) in said else
       [f"ssprd -t: {m.group(0) if m else err.strip()}"])

print("\n".join(out))
PY
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) not_ok "${line#not ok }" ;;
	"#"*) printf '%s\n' "$line" ;;
	*) printf '# %s\n' "$line" ;;
	esac
done <"$tmp/results"
check "the source reader ran to the end" [ "$rc" -eq 0 ]

finish
