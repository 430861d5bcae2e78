#!/usr/bin/env python3
"""A mailbox name never gets a UIDVALIDITY again (RFC 9051 §2.3.1.1):
DELETE, CREATE and APPEND in a fast loop, many times within one second,
give every APPEND a distinct (UIDVALIDITY, UID) pair, the UIDVALIDITYs
rising. mbox (issue 11 §2.10: it reused them) and Maildir."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, append_ok, numbered_message, close_all  # noqa: E402

USER = "alice@example.org"
ROUNDS = 12
t = yubin.TAP()

for fmt in ("mbox", "maildir"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        a = Raw(env, login=USER)
        sessions.append(a)
        pairs, bad = [], []
        for i in range(ROUNDS):
            if i:
                r = a.cmd("DELETE Box")
                if tagged(r).split()[1] != b"OK":
                    bad.append(r)
            r = a.cmd("CREATE Box")
            if tagged(r).split()[1] != b"OK":
                bad.append(r)
            r = append_ok(a, "Box", numbered_message(i))
            m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", r)
            if m:
                pairs.append((int(m.group(1)), int(m.group(2))))
            else:
                bad.append(r)
        t.eq(bad, [], "%s: every DELETE, CREATE and APPEND answers OK with APPENDUID" % fmt)
        t.eq(len(set(pairs)), len(pairs),
             "%s: %d (UIDVALIDITY, UID) pairs, all distinct" % (fmt, len(pairs)))
        vals = [v for v, _ in pairs]
        t.ok(vals == sorted(set(vals)), "%s: each new Box has a greater UIDVALIDITY" % fmt, vals)
        # the last one stays what STATUS and SELECT say
        r = a.cmd("STATUS Box (UIDVALIDITY)")
        t.ok(pairs and b"UIDVALIDITY %d)" % pairs[-1][0] in r,
             "%s: STATUS gives the last APPENDUID's UIDVALIDITY" % fmt, r)
        # a new session, a renamed-away Box: the name still never repeats one
        b = Raw(env, login=USER)
        sessions.append(b)
        b.cmd("RENAME Box Old")
        b.cmd("CREATE Box")
        r = append_ok(b, "Box", numbered_message(99))
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", r)
        t.ok(m and int(m.group(1)) > max(vals),
             "%s: Box made after RENAME Box Old has a greater UIDVALIDITY" % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()
t.done()
