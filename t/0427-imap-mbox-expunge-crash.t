#!/usr/bin/env python3
"""IMAP STORE \\Deleted + EXPUNGE on an mbox INBOX of 3 messages (one of
1 MiB), killed (SIGKILL) or failed (ENOSPC) at every mutating system
call, and SIGTERM at every write of a rewrite (issue 11 §2.1, the IMAP
side of one lib/ rewrite helper). Checked with a parser of our own, not
yubin's reader: the old or the new set of whole messages, EXPUNGE OK only
for the new set, the next session at once, no rewrite copy or dotlock
left behind (S65, S66)."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxfile  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
USER = "alice@example.org"
DIR = env.maildir(USER)
INBOX = os.path.join(DIR, "INBOX")
SNAP = os.path.join(env.dir, "snapshot")
TENV = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
LOGIN = b'a LOGIN alice@example.org "%s"\r\n' % yubin.DEMO_PASSWORD.encode()
BIG = b"".join(b"line %06d of the big one, padded to sixty-four bytes......\n" % i
               for i in range(16384))                       # 1 MiB
BODIES = [b"first body\n>From quoted\n", BIG, b"third body\n"]
MUTATING = ("write", "pwrite64", "rename", "fsync", "ftruncate", "unlink", "link")
EXPUNGE = b"s SELECT INBOX\r\nd STORE 1 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\n"


def parse_mbox(data):
    """Bodies of the messages of the mbox (t/mboxfile.py), or None."""
    return mboxfile.bodies(data)


def state():
    with open(INBOX, "rb") as f:
        data = f.read()
    bodies = parse_mbox(data)
    if bodies == BODIES:
        return "old"
    if bodies == BODIES[1:]:
        return "new"
    return "torn (%s)" % (None if bodies is None else [len(b) for b in bodies])


def imap(cmds, inject=None, trace=None):
    cmd = []
    if inject or trace:
        cmd = ["strace", "-f", "-qq", "-o", trace or os.devnull]
        if inject:
            cmd += ["-e", "inject=" + inject]
    cmd += [yubin.binary("imap-session"), "-c", env.conf_path]
    p = subprocess.run(cmd, input=LOGIN + cmds + b"z LOGOUT\r\n", capture_output=True,
                       timeout=120, env=TENV)
    return p.stdout


def restore():
    shutil.rmtree(DIR, ignore_errors=True)
    shutil.copytree(SNAP, DIR)
    env.write_conf()


def next_session():
    t0 = time.time()
    out = imap(b"s SELECT INBOX\r\n")
    m = re.search(rb"\* (\d+) EXISTS", out)
    return (int(m.group(1)) if m and b"\r\ns OK" in out else None), time.time() - t0


def check_point(what, inject, must=None):
    restore()
    out = imap(EXPUNGE, inject)
    st = state()
    if st not in ("old", "new") or (must and st != must):
        return "%s: INBOX %s%s" % (what, st, ", wanted " + must if must else "")
    if b"\r\ne OK" in out and b"* 1 EXPUNGE" in out and st != "new":
        return "%s: EXPUNGE OK but INBOX %s" % (what, st)
    n, took = next_session()
    if n != (3 if st == "old" else 2) or took > 10:
        return "%s: INBOX %s, next session %s messages in %.1fs" % (what, st, n, took)
    # (the UID sidecar's own temporary file is imap-session's business)
    left = [x for x in os.listdir(DIR) if x.startswith((".INBOX", "INBOX.")) and x not in BEFORE and
            not x.startswith(".INBOX.yubin-uids.")]
    if left:
        return "%s: left behind after the next session: %s" % (what, left)
    return None


# The INBOX before: three messages, already numbered (X-UID) by a session.
os.makedirs(DIR, exist_ok=True)
with open(INBOX, "wb") as f:
    for i, b in enumerate(BODIES):
        f.write(b"From x@example.com Thu Nov 27 10:0%d:00 2026\nSubject: m%d\n\n" % (i, i) + b + b"\n")
env.write_conf()
t.eq(next_session()[0], 3, "the INBOX has three messages")
shutil.copytree(DIR, SNAP)
BEFORE = os.listdir(SNAP)

trace = os.path.join(env.dir, "strace.log")
restore()
out = imap(EXPUNGE, trace=trace)
t.ok(b"* 1 EXPUNGE" in out and state() == "new", "untraced: EXPUNGE removes message 1", out[-300:])
calls = [(m.group(1), m.group(2)) for m in
         (re.match(r"^\d+\s+(\w+)\((.*)", ln) for ln in open(trace, errors="replace")) if m]
counts = {}
for name, _ in calls:
    if name in MUTATING:
        counts[name] = counts.get(name, 0) + 1
# writes made while a rewrite copy is open (between its creation and rename)
in_rewrite, inside, k = [], False, 0
for name, args in calls:
    if name == "openat" and "yubin-rw" in args:
        inside = True
    elif name == "rename":
        inside = False
    elif name == "write":
        k += 1
        if inside:
            in_rewrite.append(k)
# (STORE keeps its flag in the UID index: EXPUNGE's is the one rewrite)
t.ok(len(in_rewrite) >= 1, "the rewrite is %d writes to a copy beside the INBOX" % len(in_rewrite), counts)

plan = []
for name, n in sorted(counts.items()):
    for k in range(1, n + 2):
        plan.append(("SIGKILL at %s #%d" % (name, k), "%s:signal=SIGKILL:when=%d" % (name, k), None))
        if name in ("write", "fsync", "rename", "link"):
            plan.append(("ENOSPC at %s #%d" % (name, k), "%s:error=ENOSPC:when=%d" % (name, k), None))
for k in in_rewrite:
    # in a rewrite: held, so it completes (the EXPUNGE's own, or the
    # STORE's, after which the EXPUNGE never runs: the old set)
    plan.append(("SIGTERM at write #%d" % k, "write:signal=SIGTERM:when=%d" % k, None))
failures = []
for what, inject, must in plan:
    f = check_point(what, inject, must)
    if f:
        failures.append(f)
        if len(failures) >= 4:
            break
t.ok(not failures, "%d crash points: old or new set, whole; OK only for new; the next session at once; "
     "nothing left behind (covers S65, S66)" % len(plan), failures)
t.diag("mutating calls: %s" % counts)
t.done()
