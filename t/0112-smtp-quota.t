#!/usr/bin/env python3
"""smtp-session with quota_storage, Maildir and mbox: a RCPT whose SIZE=
would pass the recipient's quota gets 452 4.2.2 (mailbox full, transient)
while another recipient is taken; a message without SIZE= that would pass
a recipient's quota is refused at the end of data with 452 4.2.2 and
stored for no recipient (one reply speaks for all, so the all-or-none
delivery holds); a message that fits is delivered."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

A, B = "alice@example.org", "bob@example.org"
t = yubin.TAP()


def stored(env, fmt, addr):
    """Bytes of the user's messages on disk (every folder)."""
    total = 0
    for top, dirs, files in os.walk(env.maildir(addr)):
        for f in files:
            if fmt == "mbox":
                if not f.startswith(".") and not f.endswith(".lock"):
                    total += os.path.getsize(os.path.join(top, f))
            elif os.path.basename(top) in ("cur", "new"):
                total += os.path.getsize(os.path.join(top, f))
    return total


def body(size):
    head = b"Subject: quota\r\n\r\n"
    line = b"x" * 70 + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def session(env, rcpts, size, declare=None):
    d = b"EHLO client.example.com\r\nMAIL FROM:<sender@example.com>"
    if declare is not None:
        d += b" SIZE=%d" % declare
    d += b"\r\n"
    for r in rcpts:
        d += b"RCPT TO:<%s>\r\n" % r.encode()
    d += b"DATA\r\n" + body(size) + b".\r\nQUIT\r\n"
    return yubin.smtp_replies(env.run("smtp-session", d).stdout)


def run(fmt):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt, "quota_storage": "8K"})
    rep = session(env, [A], 3000)
    t.ok(rep[-2].startswith(b"250 "), fmt + ": a message within the quota is delivered", rep)
    a1 = stored(env, fmt, A)
    t.ok(a1 >= 3000, fmt + ": and stored", a1)
    rep = session(env, [A, B], 1000, declare=7000)
    t.ok(rep[3].startswith(b"452 4.2.2"), fmt + ": RCPT with SIZE= over the quota: 452 4.2.2", rep)
    t.ok(rep[4].startswith(b"250 "), fmt + ": the other recipient is taken", rep)
    t.ok(rep[-2].startswith(b"250 "), fmt + ": the message goes to the other one", rep)
    t.eq(stored(env, fmt, A), a1, fmt + ": nothing stored for the refused recipient")
    b1 = stored(env, fmt, B)
    t.ok(b1 >= 1000, fmt + ": stored for the other", b1)
    rep = session(env, [A, B], 6000)
    t.ok(rep[-2].startswith(b"452 4.2.2"), fmt + ": end of data over the quota: 452 4.2.2", rep)
    t.eq(stored(env, fmt, A), a1, fmt + ": nothing stored for the full mailbox")
    t.eq(stored(env, fmt, B), b1, fmt + ": nor for the other recipient (all or none)")
    rep = session(env, [A], 1000, declare=1100)
    t.ok(rep[-2].startswith(b"250 "), fmt + ": a message that still fits is delivered", rep)
    t.ok(stored(env, fmt, A) > a1, fmt + ": and stored")


for fmt in ("maildir", "mbox"):
    run(fmt)
t.done()
