#!/usr/bin/env python3
"""spoolflows.py - drive several ssprd instances through their spools at once.

For the tests of the shared (Redis) state: requests are written straight
into each instance's queue (tmp/ then rename into new/), answers read from
out/ and removed, codes taken from each instance's mail sink (mailsink.sh:
one file per message, "To: USER@..." and "reset code is N").

  spoolflows.py prepare PREFIX N WIDTH QA MAILA QB MAILB
      Verified tickets for users PREFIX01..N: user k starts on instance
      k % 2 (A for odd k) and verifies on the other one. Prints
      "NN TICKET" per user ("NN -" when it could not be done).

  spoolflows.py flows OUTDIR PREFIX N WIDTH QA MAILA QB MAILB
      One thread per user runs start/verify/reset flows until OUTDIR/stop
      exists: start on one instance, verify on the other, reset on the
      first (alternating per flow), each reset with a new password. A step
      answered with an error ends the flow; the next flow starts over.
      Every request is written to OUTDIR/requests.jsonl when it is
      settled (its answer, or none: lost after DEADLINE seconds, from
      $FLOW_DEADLINE, default 300); OUTDIR/progress holds the ok resets
      so far; OUTDIR/passwords the newest password answered ok per user.
"""
import glob
import json
import os
import re
import sys
import threading
import time
import uuid


class Spool:
    def __init__(self, name, queue, mail):
        self.name, self.queue, self.mail = name, queue, mail

    def put(self, rid, body):
        path = os.path.join(self.queue, "tmp", rid + ".json")
        with open(path, "w") as f:
            f.write(json.dumps(body))
        os.chmod(path, 0o644)
        return path

    def drop(self, rid):
        os.rename(os.path.join(self.queue, "tmp", rid + ".json"),
                  os.path.join(self.queue, "new", rid + ".json"))

    def take(self, rid):
        """The answer to rid, removed from out/; None while there is none."""
        path = os.path.join(self.queue, "out", rid + ".json")
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        os.unlink(path)
        try:
            return json.loads(text)
        except ValueError:
            return {"status": "unparsable", "text": text}


def wait_all(pending, deadline):
    """pending: {key: (spool, rid)} -> {key: answer}, polling until deadline."""
    answers = {}
    while len(answers) < len(pending) and time.time() < deadline:
        for k, (sp, rid) in pending.items():
            if k not in answers:
                a = sp.take(rid)
                if a is not None:
                    answers[k] = a
        time.sleep(0.05)
    return answers


def codes(mails, prefix, since=""):
    """{user number: newest code} from the mail sinks (files newer than
    the name 'since': mailsink names them by time)."""
    found = {}
    for mail in mails:
        for path in glob.glob(os.path.join(mail, "*.msg")):
            name = os.path.basename(path)
            if name < since:
                continue
            try:
                text = open(path).read()
            except OSError:
                continue
            to = re.search(r"^To: %s(\d+)@" % re.escape(prefix), text, re.M)
            code = re.search(r"reset code is (\d+)", text)
            if to and code:
                found.setdefault(to.group(1), []).append((name, code.group(1)))
    return {u: sorted(v)[-1][1] for u, v in found.items()}


def prepare(prefix, n, width, spools):
    ids = [str(i).zfill(width) for i in range(1, n + 1)]
    verified = {}
    todo = list(ids)
    for attempt in range(3):
        if not todo:
            break
        pend = {}
        for i in todo:
            sp = spools[(int(i) + 1) % 2]
            rid = "pstart%s%s" % (prefix, i)
            sp.put(rid, {"v": 1, "op": "start", "user": prefix + i, "method": "email"})
            pend[i] = (sp, rid)
        for sp, rid in pend.values():
            sp.drop(rid)
        starts = wait_all(pend, time.time() + 300)
        found = codes([s.mail for s in spools], prefix)
        pend = {}
        for i in todo:
            sp = spools[int(i) % 2]
            rid = "pverify%s%s" % (prefix, i)
            sp.put(rid, {"v": 1, "op": "verify",
                         "ticket": starts.get(i, {}).get("ticket", "x"),
                         "code": found.get(i, "0")})
            pend[i] = (sp, rid)
        for sp, rid in pend.values():
            sp.drop(rid)
        verifies = wait_all(pend, time.time() + 300)
        for i in todo:
            if verifies.get(i, {}).get("remaining") == 0:
                verified[i] = starts[i]["ticket"]
        todo = [i for i in ids if i not in verified]
        if todo:
            print("# round %d: %d not verified, e.g. %s %s" % (
                attempt + 1, len(todo), starts.get(todo[0]), verifies.get(todo[0])),
                file=sys.stderr)
    for i in ids:
        print(i, verified.get(i, "-"))


class Flows:
    def __init__(self, outdir, prefix, n, width, spools):
        self.outdir, self.prefix, self.spools = outdir, prefix, spools
        self.ids = [str(i).zfill(width) for i in range(1, n + 1)]
        self.lock = threading.Lock()
        self.out = open(os.path.join(outdir, "requests.jsonl"), "a")
        self.ok_resets = 0
        self.passwords = {}
        self.deadline = float(os.environ.get("FLOW_DEADLINE", "300"))

    def stopped(self):
        return os.path.exists(os.path.join(self.outdir, "stop"))

    def request(self, sp, body, user, flow):
        rid = "f" + uuid.uuid4().hex
        t0 = time.time()
        sp.put(rid, body)
        sp.drop(rid)
        answer = None
        while time.time() < t0 + self.deadline:
            answer = sp.take(rid)
            if answer is not None:
                break
            time.sleep(0.05)
        rec = {"id": rid, "instance": sp.name, "op": body["op"], "user": user,
               "flow": flow, "ticket": body.get("ticket"), "sent": t0,
               "took": round(time.time() - t0, 3), "answer": answer}
        with self.lock:
            self.out.write(json.dumps(rec) + "\n")
            self.out.flush()
        return answer

    def user(self, i):
        user = self.prefix + i
        k = 0
        while not self.stopped():
            k += 1
            flow = "%s-%d" % (user, k)
            a, b = self.spools[(int(i) + k) % 2], self.spools[(int(i) + k + 1) % 2]
            since = "%d" % time.time_ns()
            ans = self.request(a, {"v": 1, "op": "start", "user": user,
                                   "method": "email"}, user, flow)
            if not ans or ans.get("status") != "ok":
                time.sleep(0.5)
                continue
            ticket = ans.get("ticket", "")
            code = codes([s.mail for s in self.spools], self.prefix, since).get(i)
            if not code:
                time.sleep(0.5)
                continue
            ans = self.request(b, {"v": 1, "op": "verify", "ticket": ticket,
                                   "code": code}, user, flow)
            if not ans or ans.get("remaining") != 0:
                time.sleep(0.5)
                continue
            pw = "Flow-%s-%d-%s" % (i, k, uuid.uuid4().hex[:6])
            ans = self.request(a, {"v": 1, "op": "reset", "ticket": ticket,
                                   "new_password": pw}, user, flow)
            if ans and ans.get("status") == "ok":
                with self.lock:
                    self.ok_resets += 1
                    self.passwords[i] = pw
                    with open(os.path.join(self.outdir, "progress.tmp"), "w") as f:
                        f.write("%d\n" % self.ok_resets)
                    os.rename(os.path.join(self.outdir, "progress.tmp"),
                              os.path.join(self.outdir, "progress"))

    def run(self):
        threads = [threading.Thread(target=self.user, args=(i,)) for i in self.ids]
        for t in threads:
            t.start()
            time.sleep(0.02)
        for t in threads:
            t.join()
        with open(os.path.join(self.outdir, "passwords"), "w") as f:
            for i in self.ids:
                if i in self.passwords:
                    f.write("%s %s\n" % (i, self.passwords[i]))


def main():
    cmd = sys.argv[1]
    if cmd == "prepare":
        prefix, n, width = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        qa, ma, qb, mb = sys.argv[5:9]
        prepare(prefix, n, width, [Spool("A", qa, ma), Spool("B", qb, mb)])
    elif cmd == "flows":
        outdir, prefix, n, width = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        qa, ma, qb, mb = sys.argv[6:10]
        Flows(outdir, prefix, n, width, [Spool("A", qa, ma), Spool("B", qb, mb)]).run()
    else:
        sys.exit("usage: see the top of " + sys.argv[0])


if __name__ == "__main__":
    main()
