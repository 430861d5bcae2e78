#!/usr/bin/env python3
"""STATUS on the selected mailbox answers, with the same counts as a
STATUS from another session (RFC 9051 §6.3.11: it MUST work, though a
client should not use it). mbox INBOX and another mbox folder, and
Maildir as a regression check (issue 11 §2.10)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, append_ok, numbered_message, close_all  # noqa: E402

USER = "alice@example.org"
ITEMS = "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)"
t = yubin.TAP()


def status_of(resp):
    m = re.search(rb"\* STATUS \S+ \(([^)]*)\)\r\n", resp)
    return m.group(1) if m else None


for fmt in ("mbox", "maildir"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        a = Raw(env, login=USER)
        b = Raw(env, login=USER)
        sessions += [a, b]
        a.cmd("CREATE Work")
        for box in ("INBOX", "Work"):
            for i in range(3):
                append_ok(a, box, numbered_message(i), b"(\\Seen) " if i == 0 else b"")
            r = a.cmd("SELECT %s" % box)
            t.ok(tagged(r).split()[1] == b"OK", "%s: SELECT %s" % (fmt, box), r)
            a.cmd("STORE 2 +FLAGS (\\Deleted)")
            r = a.cmd("STATUS %s %s" % (box, ITEMS))
            t.ok(tagged(r).split()[1] == b"OK" and status_of(r) is not None,
                 "%s: STATUS on the selected %s answers" % (fmt, box), r)
            mine = status_of(r)
            want_start = b"MESSAGES 3 UIDNEXT 4 UIDVALIDITY "
            t.ok(mine is not None and mine.startswith(want_start) and
                 b"UNSEEN 2 DELETED 1" in mine,
                 "%s: its counts are the mailbox's (%s)" % (fmt, box), r)
            other = status_of(b.cmd("STATUS %s %s" % (box, ITEMS)))
            strip = (lambda s: re.sub(rb" RECENT \d+", b"", s or b""))
            t.eq(strip(mine), strip(other),
                 "%s: the same as a STATUS of %s from another session" % (fmt, box))
            r = a.cmd("EXAMINE %s" % box)
            r = a.cmd("STATUS %s (MESSAGES)" % box)
            t.ok(b"MESSAGES 3" in r and tagged(r).split()[1] == b"OK",
                 "%s: STATUS on %s selected read-only answers" % (fmt, box), r)
            a.cmd("CLOSE")
    finally:
        close_all(sessions)
        env.cleanup()
t.done()
