#!/usr/bin/env python3
"""EXPUNGE removes every message flagged \\Deleted when it runs, also
those another session flagged since this one last looked (RFC 9051
§6.4.3: "all messages that have the \\Deleted flag set"), on Maildir and
mbox; UID EXPUNGE likewise for its UIDs, and CLOSE. Before, the session
answered OK, showed \\Deleted in a FETCH, and removed nothing until it
had looked again (a NOOP). Dovecot expunges them."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def uids(s):
    r = s.cmd("UID SEARCH ALL")
    m = re.search(rb"\* SEARCH([ 0-9]*)", r)
    return [int(x) for x in m.group(1).split()] if m else r


for fmt in ("maildir", "mbox"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(4):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        a = Raw(env, login=U)
        b = Raw(env, login=U)
        sessions += [a, b]
        a.cmd("SELECT INBOX")
        b.cmd("SELECT INBOX")
        first = uids(a)
        t.eq(len(first), 4, "%s: four messages" % fmt)
        b.cmd("UID STORE %d +FLAGS (\\Deleted)" % first[0])
        r = a.cmd("EXPUNGE")
        t.ok(tagged(r).split()[1] == b"OK", "%s: EXPUNGE OK" % fmt, r)
        t.ok(b"* 1 EXPUNGE" in r, "%s: the message the other session flagged is expunged"
             % fmt, r)
        t.eq(uids(a), first[1:], "%s: it is gone from this session's view" % fmt)
        c = Raw(env, login=U)
        sessions.append(c)
        c.cmd("SELECT INBOX")
        t.eq(uids(c), first[1:], "%s: and from the mailbox" % fmt)
        # UID EXPUNGE: only the UIDs named, whoever set \Deleted
        b.cmd("UID STORE %d,%d +FLAGS (\\Deleted)" % (first[1], first[2]))
        r = a.cmd("UID EXPUNGE %d" % first[1])
        t.ok(tagged(r).split()[1] == b"OK" and re.search(rb"\* \d+ EXPUNGE", r),
             "%s: UID EXPUNGE takes the named UID flagged elsewhere" % fmt, r)
        t.eq(uids(a), first[2:], "%s: the other flagged one stays" % fmt)
        # CLOSE: the rest flagged elsewhere goes too
        r = a.cmd("CLOSE")
        t.ok(tagged(r).split()[1] == b"OK", "%s: CLOSE OK" % fmt, r)
        d = Raw(env, login=U)
        sessions.append(d)
        d.cmd("SELECT INBOX")
        t.eq(uids(d), first[3:], "%s: CLOSE expunged the message flagged elsewhere" % fmt)
    finally:
        close_all(sessions)
        env.cleanup()
t.done()
