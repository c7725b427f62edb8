#!/bin/bash
# totp.sh - ssprd's TOTP codes and otpauth URIs, checked by code that is not
# ssprd's: Python's standard library (urllib, base64, hmac, hashlib) reads
# the URI tests/totptool prints, as an authenticator app would, and computes
# RFC 6238 codes from it, which must be the ones ssprd computes.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || skip_all "no $PY"

# Times around steps' edges, the RFC 6238 ones, and now.
times="0 29 30 59 1111111109 1111111111 1234567890 2000000000 20000000000 $(date +%s)"

check_one() { # ISSUER USER
	local out
	# shellcheck disable=SC2086
	out=$("$TOTPTOOL" "$1" "$2" $times) || return 1
	printf '%s\n' "$out" | "$PY" -c '
import base64, hashlib, hmac, struct, sys
from urllib.parse import urlsplit, parse_qs, unquote

issuer, user = sys.argv[1], sys.argv[2]
lines = sys.stdin.read().splitlines()
u = urlsplit(lines[0])
assert u.scheme == "otpauth" and u.netloc == "totp", lines[0]
# the label is ISSUER:USER, each percent-encoded: split, then decode
label_issuer, label_user = u.path[1:].split(":")
assert unquote(label_issuer) == issuer, (label_issuer, issuer)
assert unquote(label_user) == user, (label_user, user)
q = parse_qs(u.query, strict_parsing=True)
assert sorted(q) == ["algorithm", "digits", "issuer", "period", "secret"], q
assert all(len(v) == 1 for v in q.values()), q
assert q["issuer"][0] == issuer, q["issuer"]
assert q["algorithm"][0] == "SHA1" and q["digits"][0] == "6" and \
    q["period"][0] == "30", q
b32 = q["secret"][0]
assert "=" not in b32 and b32 == b32.upper(), b32
secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
assert len(secret) == 20, len(secret)

def totp(t):
    mac = hmac.new(secret, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10**6)

n = 0
for line in lines[1:]:
    t, code = line.split()
    assert totp(int(t)) == code, (t, code, totp(int(t)))
    n += 1
assert n > 0
' "$1" "$2"
}

check "plain issuer and user: codes and URI agree with Python's" \
	check_one "ACME" "alice"
check "issuer and user with blanks, ':', '&', '/', '@', '%', '?' and UTF-8" \
	check_one "ACME Co: R&D/IT 100%" "bob@example.org:x?y=1&z é"
# Secrets are random: a few more of them.
for i in 1 2 3 4 5; do
	check "random secret $i" check_one "ssprd" "user$i"
done
finish
