#!/usr/bin/env python3
"""A POP3 session is a snapshot over the store that leaves IMAP's state
alone (lib/store-pop3.h): reading a drop (STAT, LIST, UIDL, RETR, TOP)
and leaving without QUIT changes no file but POP3's own .pop3.*, writes
no UID list or index, takes no \\Recent message (the next IMAP SELECT
still has them all as \\Recent); QUIT without DELE changes only the
seen flag of what was retrieved (Maildir) and leaves an mbox byte for
byte as it was. Maildir and mbox (covers S45). What it cannot write (the
size cache, a seen flag) is logged and the session goes on."""
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver  # noqa: E402

U = "alice@example.org"
LOGIN = b"USER alice@example.org\r\nPASS %s\r\n" % yubin.DEMO_PASSWORD.encode()
t = yubin.TAP()


def tree(root):
    """Every file under root but POP3's own: path -> digest of content."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.startswith(".pop3."):
                continue
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def one(fmt):
    conf = {"auth_fail_delay_ms": "10"}
    if fmt == "mbox":
        conf["mailbox_format"] = "mbox"
    env = yubin.Env(conf=conf)
    sessions = []
    try:
        for i in range(3):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        env.write_conf()
        root = env.maildir(U)
        before = tree(root)
        r = env.run("pop3-session", LOGIN + b"STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\n")
        t.ok(b"+OK 3 " in r.stdout and b"\r\nbody " in r.stdout, "%s: the drop was read" % fmt,
             r.stdout[-300:])
        t.eq(tree(root), before, "%s: reading without QUIT changes no file, writes no UID list"
             % fmt)
        r = env.run("pop3-session", LOGIN + b"RETR 1\r\nQUIT\r\n")
        after = tree(root)
        if fmt == "mbox":
            t.eq(after, before, "mbox: QUIT without DELE leaves the file byte for byte")
        else:
            moved = sorted(set(after) - set(before))
            t.ok(len(moved) == 1 and re.match(r"cur/.*:2,S$", moved[0])
                 and len(set(before) - set(after)) == 1 and len(after) == len(before),
                 "Maildir: QUIT moved only the retrieved message, to cur/ with S", moved)
        raw = Raw(env, login=U)
        sessions.append(raw)
        sel = raw.cmd("SELECT INBOX")
        t.ok(b"* 3 EXISTS" in sel, "%s: IMAP sees the three messages" % fmt, sel)
        m = re.search(rb"\* (\d+) RECENT", sel)
        want = 3 if fmt == "mbox" else 2
        t.ok(m and int(m.group(1)) == want, "%s: POP3 took no \\Recent (%d left for IMAP: "
             "a retrieved message is seen)" % (fmt, want), sel)
    finally:
        close_all(sessions)
        env.cleanup()


def warnings():
    """What the snapshot could not write costs a flag or time, never the
    session, and is logged: the size cache (.pop3.sizes) and the seen
    flag of a retrieved message."""
    env = yubin.Env(conf={"auth_fail_delay_ms": "10"})
    d = env.maildir(U)
    try:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "new", "1700000000.M1P1.test"), "wb") as f:
            f.write(b"Subject: no W= in the name\n\nbody\n")
        env.write_conf()
        env.run("pop3-session", LOGIN + b"QUIT\r\n")       # makes .pop3.lock
        os.unlink(os.path.join(d, ".pop3.sizes"))
        for sub in ("", "new", "cur"):
            os.chmod(os.path.join(d, sub), 0o555)
        r = env.run("pop3-session", LOGIN + b"RETR 1\r\nQUIT\r\n")
        t.ok(b"\r\nbody\r\n" in r.stdout and r.stdout.split(b"\r\n")[-2].startswith(b"+OK"),
             "a drop whose files cannot be written is still served", r.stdout[-200:])
        t.ok(b"warning:" in r.stderr and b"cannot write the size cache" in r.stderr,
             "the size cache that could not be written is logged", r.stderr)
        t.ok(b"cannot mark 1 retrieved messages seen" in r.stderr,
             "the seen flag that could not be set is logged", r.stderr)
    finally:
        for sub in ("", "new", "cur"):
            os.chmod(os.path.join(d, sub), 0o755)
        env.cleanup()


one("maildir")
one("mbox")
warnings()
t.done()
