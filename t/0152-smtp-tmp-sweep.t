#!/usr/bin/env python3
# The sweep of stale files from a Maildir's tmp/ (older than 36 hours) runs
# once per Maildir in a session, not once per delivery (issue 15): a session
# of many messages to one mailbox read tmp/, and stat'ed every file other
# sessions had in flight there, for every message. Under strace: three
# messages to one mailbox read its tmp/ once; a second mailbox gets its own
# sweep; a stale file is still removed, a fresh one kept; every message is
# still stored.
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
ALICE, BOB = "alice@example.org", "bob@example.org"


def message(rcpts, subject):
    data = b"MAIL FROM:<x@example.net>\r\n"
    for r in rcpts:
        data += b"RCPT TO:<%s>\r\n" % r.encode()
    return data + b"DATA\r\nSubject: %s\r\n\r\nbody\r\n.\r\n" % subject.encode()


def traced(data):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-o", log, "-e", "trace=getdents64",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=b"EHLO client.test\r\n" + data + b"QUIT\r\n",
                       capture_output=True, env=env.env(), timeout=120)
    calls = open(log).read().splitlines()
    os.unlink(log)
    return p, calls


def sweeps(calls, addr):
    # One sweep reads tmp/ to its end: the getdents64 that returns 0.
    tmp = re.escape(os.path.join(env.maildir(addr), "tmp"))
    return len([c for c in calls if re.search(r"getdents64\(\d+<%s>.*= 0$" % tmp, c)])


# The first delivery makes alice's Maildir; then leave a stale and a fresh
# file in its tmp/.
p, _ = traced(message([ALICE], "first"))
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "first message accepted")
tmp = os.path.join(env.maildir(ALICE), "tmp")
stale, fresh = os.path.join(tmp, "1.stale.host"), os.path.join(tmp, "2.fresh.host")
for f in (stale, fresh):
    with open(f, "w") as fh:
        fh.write("x\n")
old = time.time() - 40 * 3600
os.utime(stale, (old, old))

p, calls = traced(message([ALICE], "m1") + message([ALICE], "m2") + message([ALICE], "m3"))
t.eq(p.stdout.count(b"250 2.0.0 Ok: queued"), 3, "three messages accepted in one session")
t.eq(len([m for m in env.messages(ALICE) if re.search(rb"Subject: m[123]", m)]), 3,
     "and all three stored")
t.eq(sweeps(calls, ALICE), 1, "tmp/ read once for three deliveries to one Maildir")
t.ok(not os.path.exists(stale), "a file older than 36 hours is still swept from tmp/")
t.ok(os.path.exists(fresh), "a fresh file in tmp/ is left alone")

p, calls = traced(message([ALICE, BOB], "both") + message([BOB], "bob"))
t.eq(p.stdout.count(b"250 2.0.0 Ok: queued"), 2, "two messages, two mailboxes, accepted")
t.eq([sweeps(calls, ALICE), sweeps(calls, BOB)], [1, 1], "each Maildir's tmp/ swept once")
t.ok(any(b"Subject: bob" in m for m in env.messages(BOB)) and
     any(b"Subject: both" in m for m in env.messages(ALICE)), "and the copies stored")
t.done()
