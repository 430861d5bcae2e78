#!/usr/bin/env python3
"""IMAP APPEND of a 300 KB message to an mbox INBOX killed (SIGKILL) at
every write of the append, and failed (ENOSPC) at each of them and at its
fsync (issue 11 §2.2). Checked with a parser of our own, not yubin's
reader, after the next session: the mbox holds only whole messages, the
next session sees them at once, and a failed APPEND answers NO with
nothing stored (S65, S66)."""
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

BODIES = [b"first body\n>From quoted\n", b"second body\n"]
BIG = b"".join(b"appended line %06d, padded to sixty-four bytes...............\n" % i
               for i in range(4800))                        # 300 KiB
BODIES.append(BIG)
APPEND = (b"Subject: appended\r\n\r\n" + BIG.replace(b"\n", b"\r\n"))


def parse_mbox(data):
    """Bodies of the messages of the mbox (t/mboxfile.py), or None."""
    return mboxfile.bodies(data)


def whole():
    """The mbox's bodies if each is one we stored, whole; else a text."""
    with open(INBOX, "rb") as f:
        data = f.read()
    bodies = parse_mbox(data)
    if bodies is None:
        return "not a sequence of whole messages (%d bytes)" % len(data)
    bad = [len(b) for b in bodies if b not in BODIES]
    if bad or bodies[:2] != BODIES[:2] or len(bodies) > 3:
        return "unknown or cut messages: sizes %s" % [len(b) for b in bodies]
    return bodies


def imap(cmds, inject=None, trace=None):
    cmd = []
    if inject or trace:
        cmd = ["strace", "-f", "-qq", "-y", "-o", trace or os.devnull]
        if inject:
            cmd += ["-e", "inject=" + inject]
    cmd += [yubin.binary("imap-session"), "-c", env.conf_path]
    p = subprocess.run(cmd, input=LOGIN + cmds + b"z LOGOUT\r\n", capture_output=True,
                       timeout=120, env=TENV)
    return p.stdout


def append(**kw):
    return imap(b"b APPEND INBOX {%d+}\r\n" % len(APPEND) + APPEND + b"\r\n", **kw)


def restore():
    shutil.rmtree(DIR, ignore_errors=True)
    shutil.copytree(SNAP, DIR)
    env.write_conf()


def next_session():
    """SELECT at once, with as many messages as the file holds."""
    t0 = time.time()
    out = imap(b"s SELECT INBOX\r\n")
    took = time.time() - t0
    m = re.search(rb"\* (\d+) EXISTS", out)
    return (int(m.group(1)) if m and b"\r\ns OK" in out else None), took, out


# The INBOX before: two messages, already numbered (X-UID) by a session.
os.makedirs(DIR, exist_ok=True)
with open(INBOX, "wb") as f:
    f.write(b"From a@example.com Thu Nov 27 10:00:00 2026\nSubject: one\n\n" + BODIES[0] + b"\n" +
            b"From b@example.com Thu Nov 27 10:01:00 2026\nSubject: two\n\n" + BODIES[1] + b"\n")
env.write_conf()
n, _, out = next_session()
t.eq(n, 2, "the INBOX has two messages")
shutil.copytree(DIR, SNAP)
with open(INBOX, "rb") as f:
    BEFORE = f.read()

trace = os.path.join(env.dir, "strace.log")
out = append(trace=trace)
t.ok(b"\r\nb OK [APPENDUID" in out and whole() == BODIES, "untraced APPEND stores the message whole", out[-300:])
calls = [(m.group(1), m.group(2)) for m in
         (re.match(r"^\d+\s+(\w+)\((.*)", ln) for ln in open(trace, errors="replace")) if m]
pw = [a for c, a in calls if c == "pwrite64"]
n_pw = len(pw)
# pwrite64 #k (1-based) into the INBOX itself: the append (the others
# write the way back into a dotlock)
to_inbox = [k for k, a in enumerate(pw, 1) if re.match(r"\d+<[^>]*/INBOX>", a)]
t.ok(len(to_inbox) >= 4, "the append is %d pwrite64 calls, each one a crash point" % len(to_inbox), pw[:3])
last_pw = max(i for i, (c, a) in enumerate(calls) if c == "pwrite64" and re.match(r"\d+<[^>]*/INBOX>", a))
# the append's own fsync: the first after its last write
append_fsync = [c for c, _ in calls[:last_pw]].count("fsync") + 1

failures = []
for k in range(1, n_pw + 2):
    for how in ("signal=SIGKILL", "error=ENOSPC"):
        restore()
        out = append(inject="pwrite64:%s:when=%d" % (how, k))
        what = "%s at pwrite64 #%d" % (how, k)
        n, took, nout = next_session()
        w = whole()
        if isinstance(w, str):
            failures.append("%s: after the next session the mbox has %s" % (what, w))
        elif n != len(w) or took > 10:
            failures.append("%s: next session %s messages in %.1fs for %d whole: %r" %
                            (what, n, took, len(w), nout[-200:]))
        elif how == "error=ENOSPC" and k in to_inbox and b"\r\nb NO " not in out:
            failures.append("%s: APPEND %r" % (what, out[-120:]))
        elif b"\r\nb NO " in out and len(w) != 2:
            failures.append("%s: APPEND NO but the message is stored" % what)
        elif b"\r\nb OK " in out and len(w) != 3:
            failures.append("%s: APPEND OK but the message is not there" % what)
    if len(failures) >= 4:
        break
t.ok(not failures, "APPEND killed or failed at each of its %d pwrite64 calls (%d into the INBOX): only whole messages, the next "
     "session at once, ENOSPC gives NO and nothing stored (covers S65, S66)" % (n_pw, len(to_inbox)), failures)

restore()
out = append(inject="fsync:error=ENOSPC:when=%d" % append_fsync)
with open(INBOX, "rb") as f:
    after = f.read()
t.ok(b"\r\nb NO " in out and after == BEFORE, "the append's fsync fails: NO, the mbox byte-identical (covers S65)",
     out[-200:])
restore()
out = append(inject="pwrite64:signal=SIGTERM:when=%d" % to_inbox[1])
w = whole()
n, _, _ = next_session()
t.ok(w == BODIES and b"\r\nb OK " not in out and n == len(whole()),
     "SIGTERM during the append acts once the message is whole (never acknowledged, so the next "
     "session may cut it off)", (w if isinstance(w, str) else len(w), out[-200:]))
t.done()
