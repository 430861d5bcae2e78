#!/usr/bin/env python3
"""APPEND and MULTIAPPEND with a keyword new to the folder, into
the folder the session has EXAMINEd: the keyword is stored with the
message, Maildir and mbox. A read-only selection is the session's view,
not the folder's (APPEND needs none). Found by the stress client
(t/0442-imap-stress.t): on Maildir the keyword was dropped without a
word."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def flags_of(s, uid):
    r = s.cmd("UID FETCH %d (FLAGS)" % uid)
    m = re.search(rb"FLAGS \(([^)]*)\)", r)
    return [f for f in m.group(1).split() if f != b"\\Recent"] if m else r


for fmt in ("maildir", "mbox"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        deliver(env, U, b"From: bob@example.org\r\nSubject: old\r\n\r\nold\r\n")
        a = Raw(env, login=U)
        sessions.append(a)
        a.cmd("EXAMINE INBOX")
        data = b"From: bob@example.org\r\nSubject: kw\r\n\r\nbody\r\n"
        r = a.cmd(b"APPEND INBOX ($Fresh \\Flagged) {%d+}\r\n%s ($Other) {%d+}\r\n%s"
                  % (len(data), data, len(data), data))
        m = re.search(rb"\[APPENDUID \d+ (\d+):(\d+)\]", r)
        t.ok(tagged(r).split()[1] == b"OK" and m, "%s: MULTIAPPEND into the EXAMINEd INBOX"
             % fmt, r)
        b = Raw(env, login=U)
        sessions.append(b)
        b.cmd("SELECT INBOX")
        if m:
            t.eq(sorted(flags_of(b, int(m.group(1)))), [b"$Fresh", b"\\Flagged"],
                 "%s: the first message has its new keyword" % fmt)
            t.eq(flags_of(b, int(m.group(2))), [b"$Other"],
                 "%s: the second one too" % fmt)
        t.ok(b"$Fresh" in b.cmd("SELECT INBOX"), "%s: FLAGS lists the keywords" % fmt)
    finally:
        close_all(sessions)
        env.cleanup()
t.done()
