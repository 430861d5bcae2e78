#!/usr/bin/env python3
"""mbox: a session keeps the replaced mbox files its unreported expunged
messages are in (lib/store-mbox.c), but a bounded number of
them (MBOXF_KEPT_MAX, 4): another session that expunges one message at a
time while this one only looks with FETCH (which reports no EXPUNGE)
leaves it 4 old files, each read for its message's real BODY[]; a fifth
and a sixth such message are answered with nothing (NO [EXPUNGEISSUED]),
never with made-up data. STORE on one is OK (this view only). The next
NOOP reports the EXPUNGEs and lets the files go."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, append_ok, numbered_message  # noqa: E402

U = "alice@example.org"
KEPT = 4
t = yubin.TAP()
sessions = []


def session(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def deleted_fds(raw):
    """Descriptors of raw's process on files no longer in a directory."""
    d = "/proc/%d/fd" % raw.s.p.pid
    n = 0
    for fd in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, fd)).endswith(" (deleted)")
        except OSError:
            pass
    return n


def body_of(resp, seq):
    m = re.search(rb"\* %d FETCH \(.*?BODY\[\] \{(\d+)\}\r\n" % seq, resp, re.S)
    return resp[m.end():m.end() + int(m.group(1))] if m else None


env = yubin.Env(conf={"mailbox_format": "mbox"})
try:
    a, b = session(env), session(env)
    for i in range(1, 8):
        append_ok(a, "INBOX", numbered_message(i))
    r = a.cmd("SELECT INBOX")
    assert b"* 7 EXISTS" in r, r
    r = b.cmd("SELECT INBOX")
    uids = [int(u) for u in re.findall(rb"UID (\d+)", b.cmd("FETCH 1:* (UID)"))]
    assert len(uids) == 7, uids
    for k in range(6):
        r = b.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[k]) + b.cmd("EXPUNGE")
        assert b"* 1 EXPUNGE" in r, r
        r = a.cmd("FETCH 1:* (FLAGS)")  # a look that reports no EXPUNGE
        assert tagged(r).split()[1] == b"OK", r
    t.ok(deleted_fds(a) == KEPT, "the session holds %d replaced files, no more" % KEPT,
         deleted_fds(a))
    r = a.cmd("FETCH 1:7 (UID BODY.PEEK[])")
    for i in range(1, 5):
        t.ok(body_of(r, i) == numbered_message(i),
             "expunged message %d read from the file it was in" % i, r)
    made_up = [i for i in (5, 6) if re.search(rb"\* %d FETCH" % i, r)]
    t.ok(not made_up and tagged(r).split()[1:3] == [b"NO", b"[EXPUNGEISSUED]"],
         "past the bound: nothing for messages 5 and 6, NO [EXPUNGEISSUED]", r)
    t.ok(body_of(r, 7) == numbered_message(7), "the message still there is read", r)
    r = a.cmd("STORE 5 +FLAGS (\\Flagged)")
    t.ok(tagged(r).split()[1] == b"OK", "STORE on an unreadable expunged message: OK", r)
    r = a.cmd("NOOP")
    t.ok(r.count(b" EXPUNGE\r\n") == 6 and b"* 1 EXISTS" not in r and
         tagged(r).split()[1] == b"OK", "NOOP reports the 6 EXPUNGEs", r)
    t.ok(deleted_fds(a) == 0, "and the session lets the replaced files go", deleted_fds(a))
    r = a.cmd("FETCH 1 (BODY.PEEK[])")
    t.ok(body_of(r, 1) == numbered_message(7), "message 1 is now the last one", r)
finally:
    close_all(sessions)
    env.cleanup()
t.done()
