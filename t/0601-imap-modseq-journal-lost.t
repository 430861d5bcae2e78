#!/usr/bin/env python3
"""A folder's modseq journal lost (removed) or damaged (its header
overwritten) must not make HIGHESTMODSEQ go down for the same
UIDVALIDITY (RFC 7162 §3.1.2.1): the next SELECT says a HIGHESTMODSEQ
above the one told before, and FETCH (CHANGEDSINCE old) gives every
message again, as the changes since cannot be told apart. Before, the
journal started again from 1 and a client's CHANGEDSINCE saw nothing, on
Maildir and mbox."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def journals(env):
    """The modseq journals under the mail root (both formats' names)."""
    out = []
    for d, _, files in os.walk(env.mail_root):
        out += [os.path.join(d, f) for f in files if f.endswith("yubin-modseq")]
    return out


def selected(resp):
    v = re.search(rb"\[UIDVALIDITY (\d+)\]", resp)
    h = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", resp)
    return (int(v.group(1)) if v else None, int(h.group(1)) if h else None)


def damage_remove(path):
    os.unlink(path)


def damage_header(path):
    with open(path, "r+b") as f:
        f.write(b"garbage")


def run(fmt, how, damage):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(3):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nhello\r\n" % i)
        a = Raw(env, login=U)
        sessions.append(a)
        a.cmd("SELECT INBOX (CONDSTORE)")
        for _ in range(3):
            a.cmd("STORE 1:3 +FLAGS (\\Flagged)")
            a.cmd("STORE 1:3 -FLAGS (\\Flagged)")
        v0, h0 = selected(a.cmd("SELECT INBOX (CONDSTORE)"))
        a.cmd("LOGOUT")
        js = journals(env)
        for j in js:
            damage(j)
        b = Raw(env, login=U)
        sessions.append(b)
        r = b.cmd("SELECT INBOX (CONDSTORE)")
        v1, h1 = selected(r)
        t.ok(len(js) > 0 and h0 is not None and h1 is not None and (v1 != v0 or h1 > h0),
             "%s, journal %s: HIGHESTMODSEQ %s then %s (UIDVALIDITY %s, %s)" %
             (fmt, how, h0, h1, v0, v1), r)
        r = b.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
        t.ok(v1 != v0 or len(re.findall(rb"\* \d+ FETCH", r)) == 3,
             "%s, journal %s: CHANGEDSINCE the old HIGHESTMODSEQ gives every message" %
             (fmt, how), r)
        b.cmd("STORE 2 +FLAGS (\\Seen)")
        b.cmd("LOGOUT")
        c = Raw(env, login=U)
        sessions.append(c)
        r = c.cmd("EXAMINE INBOX (CONDSTORE)")
        v2, h2 = selected(r)
        t.ok(v2 == v1 and h2 is not None and h2 > h1,
             "%s, journal %s: the journal made again keeps rising" % (fmt, how), r)
    finally:
        close_all(sessions)
        env.cleanup()


for fmt in ("maildir", "mbox"):
    run(fmt, "removed", damage_remove)
    run(fmt, "damaged", damage_header)
t.done()
