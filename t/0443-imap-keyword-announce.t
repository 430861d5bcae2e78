#!/usr/bin/env python3
"""A keyword another session made is announced (untagged FLAGS, and
PERMANENTFLAGS in a read-write mailbox) before this session shows it in
a FETCH FLAGS (RFC 9051 §7.3.5): after FETCH FLAGS, NOOP, STATUS of the
selected mailbox then FETCH, and STORE. Maildir and mbox. Found by the
stress client (t/0442)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, deliver  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
sessions = []


class Watch:
    """Keywords a session was told of, checked line by line."""

    def __init__(self):
        self.told = set()

    def check(self, resp):
        """None, or the first keyword FETCH FLAGS showed before it was told."""
        for line in resp.split(b"\r\n"):
            m = re.match(rb"\* (?:FLAGS|OK \[PERMANENTFLAGS) \(([^)]*)\)", line)
            if m:
                self.told |= {f.lower() for f in m.group(1).split() if not f.startswith(b"\\")}
                continue
            m = re.match(rb"\* \d+ FETCH \(.*FLAGS \(([^)]*)\)", line)
            if m:
                for f in m.group(1).split():
                    if not f.startswith(b"\\") and f.lower() not in self.told:
                        return f
        return None


def session(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    try:
        deliver(env, U, b"From: bob@example.org\r\nSubject: one\r\n\r\nhello\r\n")
        a, b = session(env), session(env)
        w = Watch()
        w.check(a.cmd("SELECT INBOX"))
        b.cmd("SELECT INBOX")
        steps = [
            ("FETCH 1 (FLAGS)", "$One"),
            ("NOOP", "$Two"),
            ("STATUS INBOX (MESSAGES)", "$Three"),
            ("FETCH 1 (UID FLAGS)", None),
            ("STORE 1 +FLAGS (\\Seen)", "$Four"),
        ]
        for cmd, kw in steps:
            if kw:
                r = b.cmd("STORE 1 +FLAGS (%s)" % kw)
                assert tagged(r).endswith(b"OK STORE completed"), r
            r = a.cmd(cmd)
            bad = w.check(r)
            t.ok(tagged(r).split()[1] == b"OK" and bad is None,
                 "%s: %s: no keyword shown before FLAGS announced it" % (fmt, cmd),
                 "%r shown unannounced in %r" % (bad, r))
        t.ok(w.told >= {b"$one", b"$two", b"$three", b"$four"},
             "%s: every keyword was announced" % fmt, repr(w.told))
        r = a.cmd("FETCH 1 (FLAGS)")
        t.ok(b"* FLAGS" not in r, "%s: nothing announced twice" % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()


check("maildir")
check("mbox")
t.done()
