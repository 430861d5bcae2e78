#!/usr/bin/env python3
"""Several imap-session processes on one mailbox: untagged EXISTS, FETCH
FLAGS and EXPUNGE updates, IDLE with deliveries (covers S40), UID
stability across sessions and flag renames, and reader consistency while
another session renames files (covers S64)."""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver  # noqa: E402
from imaptest import numbered_message as msg  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
U = "alice@example.org"

try:
    a = Raw(env, U)
    b = Raw(env, U)
    for i in range(3):
        deliver(env, U, msg(i))
    ra = a.cmd("SELECT INBOX")
    rb = b.cmd("SELECT INBOX")
    t.ok(b"* 3 EXISTS" in ra and b"* 3 EXISTS" in rb, "both sessions see 3 messages")
    t.ok(b"* 3 RECENT" in ra and b"* 0 RECENT" in rb, "\\Recent goes to the first session only",
         ra + rb)
    uids_a = a.cmd("UID SEARCH ALL")
    uids_b = b.cmd("UID SEARCH ALL")
    t.eq(uids_a.split(b"\r\n")[0], uids_b.split(b"\r\n")[0], "same UIDs in both sessions")

    deliver(env, U, msg(3))
    r = a.cmd("NOOP")
    t.ok(b"* 4 EXISTS" in r, "NOOP reports a new delivery", r)
    r = b.cmd("STORE 2 +FLAGS (\\Flagged)")
    r = a.cmd("NOOP")
    t.ok(b"* 2 FETCH (FLAGS (\\Flagged" in r, "other session's flag change as FETCH FLAGS", r)
    r = b.cmd("STORE 1 +FLAGS (\\Deleted)")
    r = b.cmd("EXPUNGE")
    t.ok(b"* 1 EXPUNGE" in r, "B expunges message 1", r)
    r = a.cmd("FETCH 1:* (UID)")
    t.ok(b"EXPUNGE" not in r and b"* 4 FETCH" in r,
         "no EXPUNGE during FETCH: sequence numbers stay valid", r)
    r = a.cmd("NOOP")
    t.ok(b"* 1 EXPUNGE" in r, "EXPUNGE reported on NOOP", r)
    r = a.cmd("SEARCH ALL")
    t.ok(b"* SEARCH 1 2 3\r\n" in r, "three messages left in A's view", r)

    # UID stability: flag renames keep UIDs; a new session sees the same.
    before = a.cmd("UID FETCH 1:* (UID)")
    a.cmd("STORE 1:* +FLAGS (\\Seen \\Answered)")
    after = a.cmd("UID FETCH 1:* (UID)")
    t.eq(before.split(b"\r\n")[:3], after.split(b"\r\n")[:3], "UIDs unchanged by flag renames")
    c = Raw(env, U)
    rc = c.cmd("SELECT INBOX")
    later = c.cmd("UID FETCH 1:* (UID)")
    t.eq(before.split(b"\r\n")[:3], later.split(b"\r\n")[:3], "UIDs unchanged in a new session")
    validity = [x for x in rc.split(b"\r\n") if b"UIDVALIDITY" in x][0]
    c.close()

    # IDLE: a delivery into new/ is reported as it happens (inotify), not
    # by the 5 s poll of imap-session/idle.c (IDLE_POLL_SEC): that poll
    # cannot answer sooner than 5 s after the IDLE was sent, however
    # loaded the machine is, so the bound is 5 s from the IDLE (the delivery
    # comes at once after the continuation: the watch is set before it).
    t0 = time.time()
    a.send(b"i1 IDLE\r\n")
    t.eq(a.s.readline(), b"+ idling\r\n", "IDLE continuation")
    deliver(env, U, msg(4))
    line = a.s.readline(timeout=30)
    took = time.time() - t0
    t.ok(line == b"* 4 EXISTS\r\n" and took < 5, "IDLE reports a delivery before a poll could",
         "%r after %.2fs" % (line, took))
    t.eq(a.s.readline(timeout=30), b"* 4 RECENT\r\n",
         "IDLE reports RECENT to a rev1 client")
    b.cmd("STORE 1 -FLAGS (\\Seen)")
    line = a.s.readline(timeout=30)
    t.ok(line.startswith(b"* 1 FETCH (FLAGS"), "IDLE reports another session's flag change", line)
    a.send(b"DONE\r\n")
    r = a.read_response("i1")
    t.ok(tagged(r) == b"i1 OK IDLE terminated", "DONE ends IDLE", r)

    # IDLE with a delivery by smtp-session, if it is built.
    if os.path.exists(yubin.binary("smtp-session")):
        a.send(b"i2 IDLE\r\n")
        a.s.readline()
        out = env.run("smtp-session",
                      b"EHLO x\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.org>\r\n"
                      b"DATA\r\nSubject: via smtp\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        line = a.s.readline(timeout=30)
        t.ok(line == b"* 5 EXISTS\r\n", "IDLE reports a delivery by smtp-session",
             "%r / %r" % (line, out.stdout[-300:]))
        a.send(b"DONE\r\n")
        a.read_response("i2")
    # Not DONE during IDLE is BAD and ends IDLE; DONE outside IDLE is BAD.
    a.send(b"i3 IDLE\r\n")
    a.s.readline()
    a.send(b"i4 NOOP\r\n")
    r = a.read_response("i3")
    t.ok(tagged(r).startswith(b"i3 BAD"), "other input during IDLE gives BAD", r)
    r = a.cmd("DONE")
    t.ok(b"BAD" in tagged(r), "DONE without IDLE gives BAD", r)

    # Reader consistency (S64): B renames files (flags) while A fetches bodies.
    for i in range(20):
        deliver(env, U, msg(100 + i))
    a.cmd("NOOP")
    b.cmd("NOOP")
    vanished = 0
    for rnd in range(6):
        b.send(b"s%d STORE 1:* %sFLAGS.SILENT (\\Seen)\r\n" % (rnd, b"+" if rnd % 2 else b"-"))
        r = a.cmd("FETCH 1:* (BODY.PEEK[TEXT])")
        b.read_response("s%d" % rnd)
        if b"NIL" in r or b"EXPUNGEISSUED" in r or b" OK " not in tagged(r):
            vanished += 1
    t.eq(vanished, 0, "no message vanishes while another session renames files (S64)")

    # Once new/ and cur/ are old enough to be trusted, an unchanged folder
    # is not rescanned; a change to either is still seen at once. The first
    # NOOP takes in B's last flag changes, which A may not have seen yet.
    a.cmd("NOOP")
    time.sleep(3.2)
    r = a.cmd("NOOP")
    t.ok(b"EXISTS" not in r and b"FETCH" not in r, "quiet NOOP on an unchanged folder", r)
    deliver(env, U, msg(200))
    r = a.cmd("NOOP")
    t.ok(b"EXISTS" in r, "delivery seen after a quiet period", r)
    time.sleep(3.2)
    b.cmd("NOOP")
    b.cmd("STORE 1 +FLAGS (\\Draft)")
    r = a.cmd("NOOP")
    t.ok(b"* 1 FETCH (FLAGS (" in r and b"\\Draft" in r, "flag change seen after a quiet period", r)

    # \Recent goes to one session only, also for APPENDed messages (the
    # recent marker in the UID list) and with SELECTs racing for it.
    for _ in range(3):
        data = msg(300)
        r = b.cmd(b"APPEND Sent {%d+}\r\n%s" % (len(data), data))
    sel = [Raw(env, U) for _ in range(3)]
    for s in sel:
        s.send(b"s SELECT Sent\r\n")
    counts = [re.search(rb"\* (\d+) RECENT", s.read_response("s")) for s in sel]
    counts = [int(m.group(1)) if m else -1 for m in counts]
    t.ok(sorted(counts)[:2] == [0, 0] and sum(counts) == 3,
         "three APPENDed messages: \\Recent in one of three racing SELECTs, never twice", counts)
    for s in sel:
        s.close()

    # A lost UID list gives a new UIDVALIDITY, never wrong UIDs.
    a.close()
    b.close()
    os.unlink(os.path.join(env.maildir(U), "yubin-uidlist"))
    d = Raw(env, U)
    r = d.cmd("SELECT INBOX")
    nv = [x for x in r.split(b"\r\n") if b"UIDVALIDITY" in x][0]
    t.ok(nv != validity, "lost uidlist gives a new UIDVALIDITY", (validity, nv))
    d.close()
finally:
    env.cleanup()
t.done()
