#!/usr/bin/env python3
"""MOVE and COPY of a message another session already moved away (or
expunged), not yet reported to this session: Maildir and mbox. The
answer is OK (nothing to move) or NO [EXPUNGEISSUED] (RFC 2180 §4.4.1,
as FETCH and STORE answer), never NO [SERVERBUG]; the next NOOP reports
the EXPUNGE, and the target holds the message once (a MOVE of a message
already moved must not copy it again). Found by the stress client
(t/0442-imap-stress.t)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def other_count(s):
    r = s.cmd("STATUS Other (MESSAGES)")
    m = re.search(rb"MESSAGES (\d+)", r)
    return int(m.group(1)) if m else None


def run(fmt, verb):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(2):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        a, b = Raw(env, login=U), Raw(env, login=U)
        sessions = [a, b]
        a.cmd("CREATE Other")
        for s in (a, b):
            s.cmd("SELECT INBOX")
            s.cmd("FETCH 1:* (UID FLAGS)")
        r = b.cmd("UID MOVE 1 Other")
        t.ok(tagged(r).split()[1] == b"OK", "%s: B moves UID 1" % fmt, r)
        r = a.cmd("UID %s 1 Other" % verb)
        line = tagged(r)
        t.ok(line.split()[1] == b"OK" or line.split()[1:3] == [b"NO", b"[EXPUNGEISSUED]"],
             "%s: A's UID %s of the message B moved away: OK or NO [EXPUNGEISSUED]"
             % (fmt, verb), r)
        n = a.cmd("NOOP")
        t.ok(b"* 1 EXPUNGE" in r + n, "%s: A is told of the EXPUNGE" % fmt, r + n)
        if verb == "MOVE":
            t.eq(other_count(a), 1, "%s: Other holds the message once" % fmt)
        r = a.cmd("UID FETCH 2 (UID FLAGS)")
        t.ok(b"UID 2" in r and tagged(r).split()[1] == b"OK", "%s: the other message is as it was"
             % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()


for fmt in ("maildir", "mbox"):
    for verb in ("MOVE", "COPY"):
        run(fmt, verb)
t.done()
