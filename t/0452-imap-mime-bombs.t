#!/usr/bin/env python3
"""MIME bombs through imap-session (covers S38): each message is dropped
into the Maildir, then FETCH (ENVELOPE BODYSTRUCTURE) and a deep BODY[]
section must answer OK, quickly and with bounded output; the session stays
usable afterwards."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw  # noqa: E402


def deep_multipart(n):
    s = [b'Content-Type: multipart/mixed; boundary="=_0"\r\n\r\n']
    for i in range(1, n + 1):
        s.append(b'--=_%d\r\nContent-Type: multipart/mixed; boundary="=_%d"\r\n\r\n' % (i - 1, i))
    return b"".join(s)


BOMBS = [
    ("multipart nested 10,000 deep", deep_multipart(10000)),
    ("20,000 sibling parts, message/rfc822",
     b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" +
     b"--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nb\r\n" * 20000 + b"--x--\r\n"),
    ("message/rfc822 nested 1,000 deep",
     b"Subject: top\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 1000 + b"\r\nend\r\n"),
    ("100,000 RFC 2231 parameters",
     b"Content-Type: application/x-bomb" +
     b"".join(b";\r\n name*%d*=%%41" % i for i in range(100000)) + b"\r\n\r\nbody\r\n"),
    ("To: with 1,000,000 addresses",
     b"From: a@b\r\nTo: " + b"u@example.org, " * 1000000 + b"last@example.org\r\n\r\nbody\r\n"),
    ("100,000 To: headers",
     b"From: a@b\r\n" + b"To: u@example.org\r\n" * 100000 + b"\r\nbody\r\n"),
    ("70-character boundaries, prefixes of each other",
     b"".join(b'--%s\r\nContent-Type: multipart/mixed; boundary="%s"\r\n\r\n' %
              (b"b" * (10 + i), b"b" * min(70, 11 + i)) for i in range(60))),
]

t = yubin.TAP()
env = yubin.Env()
raw = None
try:
    raw = Raw(env, login="alice@example.org")
    raw.cmd("SELECT INBOX")
    md = env.maildir("alice@example.org")
    for i, (name, data) in enumerate(BOMBS):
        tmp = os.path.join(md, "tmp", "%d.M%dP1.bomb" % (1700000000 + i, i))
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666)
        os.rename(tmp, os.path.join(md, "new", os.path.basename(tmp)))
        r = raw.cmd("NOOP")
        t.ok(b"* %d EXISTS" % (i + 1) in r, "%s: delivered" % name, r[-200:])
        t0 = time.time()
        r = raw.cmd("FETCH %d (ENVELOPE BODYSTRUCTURE)" % (i + 1), timeout=30)
        dt = time.time() - t0
        last = r.splitlines()[-1] if r else b""
        t.ok(b" OK " in last, "%s: FETCH ENVELOPE BODYSTRUCTURE answers OK" % name, r[-300:])
        t.ok(dt < 5, "%s: answered in %.2f s" % (name, dt))
        t.ok(len(r) < 2 * 1024 * 1024, "%s: answer bounded (%d bytes)" % (name, len(r)))
        r = raw.cmd("FETCH %d (BODY.PEEK[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.MIME])" % (i + 1),
                    timeout=30)
        t.ok(r and b" OK " in r.splitlines()[-1], "%s: deep BODY[...MIME] answers OK" % name,
             r[-300:])
    r = raw.cmd("NOOP")
    t.ok(b" OK " in r.splitlines()[-1], "session still usable after the bombs")
finally:
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
