#!/usr/bin/env python3
# smtp-session: a message for a local mailbox and a remote target is stored
# in all mailboxes and the spool, or in none (README). The spool file is
# published last; when that publish fails (link or the fsync of new/ made
# to fail with strace), the client gets a 4xx and the local copy is taken
# back, so the sending MTA's retry does not deliver a second copy. Maildir
# and mbox. Covers S62, S65.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
ALIASES = "ext@example.org: someone@example.net\n"
MSG = (b"EHLO client.example.com\r\nMAIL FROM:<sender@example.com>\r\n"
       b"RCPT TO:<alice@example.org>\r\nRCPT TO:<ext@example.org>\r\n"
       b"DATA\r\nSubject: all or none\r\n\r\nbody\r\n.\r\nQUIT\r\n")


def local_copies(env, fmt):
    """What alice's INBOX holds, read without yubin's own reader."""
    if fmt == "maildir":
        return env.messages("alice@example.org")
    path = os.path.join(env.maildir("alice@example.org"), "INBOX")
    data = open(path, "rb").read() if os.path.exists(path) else b""
    return [m for m in re.split(rb"(?m)^(?=From )", data) if m]


def spooled(env):
    d = os.path.join(env.spool, "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def strace(env, extra, log="/dev/null"):
    return subprocess.run(["strace", "-f", "-y", "-qq", "-o", log] + extra +
                          [yubin.binary("smtp-session"), "-c", env.conf_path],
                          input=MSG, capture_output=True, env=env.env(), timeout=120)


def spool_call(env, syscall, pattern):
    """(pid, k): the k-th call of syscall in that process is the one
    publishing the spool file, found in a clean run (then undone)."""
    log = os.path.join(env.dir, "strace.log")
    strace(env, ["-e", "trace=" + syscall], log)
    counts = {}
    found = None
    for line in open(log):
        m = re.match(r"(\d+)\s+(\w+)\(", line)
        if not m or m.group(2) != syscall:
            continue
        pid = m.group(1)
        counts[pid] = counts.get(pid, 0) + 1
        if found is None and re.search(pattern, line):
            found = counts[pid]
    os.unlink(log)
    return found


FAULTS = [
    ("linkat", r"/spool/new>", "EIO", b"451 4.3.0"),
    ("linkat", r"/spool/new>", "ENOSPC", b"452 4.3.1"),
    ("fsync", r"fsync\(\d+</[^>]*/spool/new>", "EIO", b"451 4.3.0"),
]

for fmt in ("maildir", "mbox"):
    for syscall, pattern, err, want in FAULTS:
        env = yubin.CleanEnv(conf={"mailbox_format": fmt}, aliases=ALIASES)
        k = spool_call(env, syscall, pattern)
        what = "%s, %s of the spool file fails with %s" % (fmt, syscall, err)
        if not t.ok(k is not None, "%s: the spool's %s found in a clean run" % (what, syscall)):
            continue
        # Start again from nothing: the clean run stored the message.
        env.cleanup()
        env = yubin.CleanEnv(conf={"mailbox_format": fmt}, aliases=ALIASES)
        r = strace(env, ["-e", "trace=" + syscall,
                         "-e", "inject=%s:error=%s:when=%d" % (syscall, err, k)])
        t.ok(want in r.stdout and b"queued as" not in r.stdout,
             "%s: the client gets %s" % (what, want.decode()), r.stdout[-300:])
        t.eq(local_copies(env, fmt), [], "%s: no local copy remains" % what)
        t.eq(spooled(env), [], "%s: nothing queued" % what)
        # The sending MTA retries: exactly one copy everywhere.
        r = env.run("smtp-session", MSG)
        t.ok(b"250 2.0.0 Ok: queued" in r.stdout, "%s: the retry gets 250" % what, r.stdout[-300:])
        t.eq(len(local_copies(env, fmt)), 1, "%s: after the retry alice has one copy" % what)
        t.eq(len(spooled(env)), 1, "%s: after the retry one spool file" % what)
        env.cleanup()

# Without a fault both copies are there after the 250.
for fmt in ("maildir", "mbox"):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt}, aliases=ALIASES)
    r = env.run("smtp-session", MSG)
    t.ok(b"250 2.0.0 Ok: queued" in r.stdout, "%s: 250 without a fault" % fmt, r.stdout[-300:])
    t.ok(len(local_copies(env, fmt)) == 1 and b"Subject: all or none" in local_copies(env, fmt)[0],
         "%s: the local copy is there" % fmt)
    t.eq(len(spooled(env)), 1, "%s: the spool file is there" % fmt)

t.done()
