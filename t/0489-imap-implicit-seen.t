#!/usr/bin/env python3
"""FETCH BODY[] sets \\Seen (RFC 9051 §6.4.5) on the flags as they are on
disk, not on what the session saw last: a keyword or flag another session
stored since stays. Before, the implicit \\Seen was written over the stale
flags and undid the other session's STORE, on Maildir and mbox. The
FETCH says the new flags (the keyword announced by FLAGS first, RFC 9051
§7.3.5), and a message already \\Seen whose flags changed elsewhere has
them reported too, not dropped."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def unliteral(resp):
    """resp with each literal replaced by "" (BODY[] holds line ends)."""
    out, i, lit = b"", 0, re.compile(rb"\{(\d+)\}\r\n")
    while True:
        m = lit.search(resp, i)
        if m is None:
            return out + resp[i:]
        out += resp[i:m.start()] + b'""'
        i = m.end() + int(m.group(1))


def flags_of(resp, seq):
    """FLAGS of the last FETCH of message seq in resp, or None."""
    found = re.findall(rb"\* %d FETCH \([^\r\n]*FLAGS \(([^)]*)\)" % seq, unliteral(resp))
    return set(found[-1].split()) if found else None


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(2):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nhello\r\n" % i)
        a, b = Raw(env, login=U), Raw(env, login=U)
        sessions += [a, b]
        a.cmd("SELECT INBOX")
        a.cmd("STORE 2 +FLAGS.SILENT (\\Seen)")
        b.cmd("SELECT INBOX")
        r = b.cmd("STORE 1:2 +FLAGS ($Other \\Flagged)")
        assert tagged(r).split()[1] == b"OK", r
        r = a.cmd("FETCH 1 BODY[]")
        f = flags_of(r, 1)
        t.ok(f is not None and {b"\\Seen", b"$Other", b"\\Flagged"} <= f and
             r.find(b"* FLAGS") != -1 and r.find(b"* FLAGS") < r.find(b"* 1 FETCH"),
             "%s: FETCH BODY[] says \\Seen and the other session's flags, announced" % fmt, r)
        c = Raw(env, login=U)
        sessions.append(c)
        c.cmd("EXAMINE INBOX")
        r = c.cmd("FETCH 1:2 FLAGS")
        t.ok({b"\\Seen", b"$Other", b"\\Flagged"} <= (flags_of(r, 1) or set()),
             "%s: on disk: the implicit \\Seen kept the other session's flags" % fmt, r)
        r = b.cmd("STORE 2 +FLAGS ($Later)")
        r = a.cmd("FETCH 2 BODY[]") + a.cmd("NOOP")
        t.ok({b"\\Seen", b"$Other", b"$Later"} <= (flags_of(r, 2) or set()),
             "%s: an already \\Seen message's new flags are reported" % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()


run("maildir")
run("mbox")
t.done()
