#!/usr/bin/python3
# batch.py QUEUE_DIR [TIMEOUT] - drop requests into the spool all at once,
# as a busy front end would: each JSON line on stdin is written to tmp/,
# then all are renamed into new/ one right after the other, so the daemon
# takes them together. Prints each answer (in the order of the requests),
# one per line, once all are there; exits 1 when one is missing after
# TIMEOUT seconds (default 120).
import json
import os
import sys
import time

queue = sys.argv[1]
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
requests = [line.strip() for line in sys.stdin if line.strip()]
ids = []
for i, req in enumerate(requests):
    rid = "batch-%d-%d" % (os.getpid(), i)
    path = os.path.join(queue, "tmp", rid + ".json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.write(fd, req.encode())
    os.close(fd)
    ids.append(rid)
for rid in ids:
    os.rename(os.path.join(queue, "tmp", rid + ".json"),
              os.path.join(queue, "new", rid + ".json"))
answers = {}
deadline = time.monotonic() + timeout
while len(answers) < len(ids) and time.monotonic() < deadline:
    for rid in ids:
        path = os.path.join(queue, "out", rid + ".json")
        if rid not in answers and os.path.exists(path):
            with open(path) as f:
                answers[rid] = json.load(f)
            os.unlink(path)
    time.sleep(0.05)
for rid in ids:
    print(json.dumps(answers.get(rid, {"status": "missing"})))
sys.exit(0 if len(answers) == len(ids) else 1)
