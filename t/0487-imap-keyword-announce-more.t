#!/usr/bin/env python3
"""A keyword another session made is announced (untagged FLAGS, and
PERMANENTFLAGS) before this session sees it in a FETCH FLAGS (RFC 9051
§7.3.5), on the paths t/0443 does not take: imaptest's "store" group
(the other session's STORE on other messages, reported by this session's
own STORE, CHECK), a keyword arriving during IDLE, on a message another
session APPENDed or COPYed into the selected mailbox (seen at NOOP, then
FETCH), and this session's own APPEND of a new keyword to the mailbox it
has selected. Maildir and mbox."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


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


def step(fmt, s, w, cmd, name):
    r = s.cmd(cmd)
    bad = w.check(r)
    t.ok(tagged(r).split()[1] == b"OK" and bad is None, "%s: %s" % (fmt, name),
         "%r shown unannounced in %r" % (bad, r))
    return r


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(4):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nhello\r\n" % i)
        a, b = Raw(env, login=U), Raw(env, login=U)
        sessions += [a, b]
        wa, wb = Watch(), Watch()
        wa.check(a.cmd("SELECT INBOX"))
        wb.check(b.cmd("SELECT INBOX"))
        # imaptest's store group: 1 is a, 2 is b
        step(fmt, a, wa, "STORE 1:3 FLAGS (\\Seen)", "STORE")
        step(fmt, b, wb, "CHECK", "CHECK sees the other session's flags")
        step(fmt, a, wa, "STORE 2,4 +FLAGS ($Hello $World)", "own STORE announces its keywords")
        step(fmt, a, wa, "STORE 1 +FLAGS (\\Answered)", "STORE")
        r = step(fmt, b, wb, "STORE 1 -FLAGS (\\Seen)",
                 "the other session's keywords on other messages, at STORE")
        t.ok(b"$Hello" in r and wb.told >= {b"$hello", b"$world"},
             "%s: and they were reported" % fmt, r)
        # during IDLE
        b.send(b"i1 IDLE\r\n")
        assert b.s.readline(10).startswith(b"+")
        a.cmd("STORE 2 +FLAGS ($Idled)")
        out = b""
        while b"$Idled" not in out or b"FETCH" not in out:
            line = b.s.readline(30)
            assert line, out
            out += line
        b.send(b"DONE\r\n")
        out += b.read_response("i1")
        bad = wb.check(out)
        t.ok(bad is None and b"$idled" in wb.told, "%s: during IDLE" % fmt, out)
        # APPEND and COPY into the selected mailbox by another session
        append_ok(a, "INBOX", b"Subject: appended\r\n\r\nx\r\n", b"($Appended) ")
        step(fmt, b, wb, "NOOP", "NOOP after another session's APPEND")
        step(fmt, b, wb, "FETCH 1:* (FLAGS)", "FETCH of the APPENDed message")
        a.cmd("CREATE Other")
        append_ok(a, "Other", b"Subject: other\r\n\r\nx\r\n", b"($Copied) ")
        a.cmd("SELECT Other")
        r = a.cmd("COPY 1 INBOX")
        t.ok(tagged(r).split()[1] == b"OK", "%s: COPY" % fmt, r)
        step(fmt, b, wb, "NOOP", "NOOP after another session's COPY")
        step(fmt, b, wb, "UID FETCH 1:* (FLAGS)", "UID FETCH of the copied message")
        # this session's own APPEND to the mailbox it has selected
        r = append_ok(b, "INBOX", b"Subject: own\r\n\r\nx\r\n", b"($Own) ")
        t.ok(wb.check(r) is None, "%s: own APPEND to the selected mailbox" % fmt, r)
        step(fmt, b, wb, "FETCH 1:* (FLAGS)", "its own APPENDed keyword")
        t.ok(wb.told >= {b"$appended", b"$copied", b"$own", b"$idled"},
             "%s: every keyword was announced" % fmt, repr(wb.told))
    finally:
        close_all(sessions)
        env.cleanup()


run("maildir")
run("mbox")
t.done()
