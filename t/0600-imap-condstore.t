#!/usr/bin/env python3
"""CONDSTORE (RFC 7162 §3.1) on Maildir and mbox, after the RFC's
examples with the modseqs the store gives: SELECT (CONDSTORE) says
HIGHESTMODSEQ (§3.1.2.1), FETCH MODSEQ and FETCH (CHANGEDSINCE n)
(§3.1.4.1) with an implicit \\Seen's new modseq, STORE (UNCHANGEDSINCE
n) with [MODIFIED set], .SILENT giving MODSEQ, UNCHANGEDSINCE 0 (§3.1.3, its examples 7 and 10), SEARCH MODSEQ
with (MODSEQ n) and ESEARCH's MODSEQ, SORT's too (§3.1.5), STATUS HIGHESTMODSEQ
(§3.1.6), ENABLE CONDSTORE while selected (§3.1: HIGHESTMODSEQ then, once),
another session's flag change told with MODSEQ (§3.1.4.2), and BAD for
broken modifiers. Before, each of these was BAD or absent."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def modseqs(resp):
    """{seq: modseq} of the FETCH responses in resp."""
    return {int(a): int(b) for a, b in
            re.findall(rb"\* (\d+) FETCH \([^\r\n]*MODSEQ \((\d+)\)", resp)}


def highest(resp):
    m = re.search(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", resp)
    return int(m.group(1)) if m else None


def status(resp):
    return tagged(resp).split()[1]


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        for i in range(6):
            deliver(env, U, b"From: bob@example.org\r\nSubject: m%d\r\n\r\nhello\r\n" % i)
        a, b = Raw(env, login=U), Raw(env, login=U)
        sessions += [a, b]
        r = a.cmd("CAPABILITY")
        t.ok(b" CONDSTORE" in r, "%s: CONDSTORE advertised" % fmt, r)
        r = b.cmd("SELECT INBOX")
        t.ok(highest(r) is None, "%s: no HIGHESTMODSEQ before CONDSTORE is used (§3.1.2)" % fmt, r)
        r = a.cmd("SELECT INBOX (CONDSTORE)")
        h0 = highest(r)
        t.ok(status(r) == b"OK" and h0 is not None and h0 >= 6,
             "%s: SELECT (CONDSTORE) says HIGHESTMODSEQ" % fmt, r)
        r = a.cmd("FETCH 1:* (FLAGS MODSEQ)")
        ms = modseqs(r)
        t.ok(len(ms) == 6 and max(ms.values()) == h0 and len(set(ms.values())) == 6,
             "%s: FETCH MODSEQ: one a message, the highest HIGHESTMODSEQ" % fmt, r)
        # §3.1.3 example 6: a conditional STORE all of whose messages pass
        r = a.cmd("UID STORE 2,4 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)" % h0)
        got = modseqs(r)
        t.ok(status(r) == b"OK" and b"MODIFIED" not in r and set(got) == {2, 4} and
             min(got.values()) > h0 and b"FLAGS" not in r,
             "%s: STORE (UNCHANGEDSINCE) .SILENT: MODSEQ of each changed" % fmt, r)
        h1 = max(got.values())
        # another session changes message 5: a STORE conditional on what
        # this one knew of it fails for it alone (example 7)
        r = b.cmd("STORE 5 +FLAGS ($Other)")
        r = a.cmd("STORE 3,5,6 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % h1)
        t.ok(re.search(rb"OK \[MODIFIED 5\]", tagged(r)) is not None and
             set(modseqs(r)) == {3, 5, 6} and re.search(rb"\* 3 FETCH \(FLAGS \([^)]*\\Flagged", r)
             and re.search(rb"\* 5 FETCH \(FLAGS \(\$Other\) MODSEQ", r),
             "%s: STORE (UNCHANGEDSINCE): [MODIFIED 5], the others stored, "
             "the other session's change told with MODSEQ" % fmt, r)
        r = a.cmd("FETCH 5 FLAGS")
        t.ok(b"\\Flagged" not in r and b"$Other" in r,
             "%s: the message that failed is unchanged" % fmt, r)
        # example 10: UNCHANGEDSINCE 0 always fails; UID STORE names UIDs
        r = a.cmd("UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
        t.ok(re.search(rb"OK \[MODIFIED 1:3\]", tagged(r)) is not None and b"FETCH" not in r,
             "%s: UNCHANGEDSINCE 0: every UID in [MODIFIED]" % fmt, r)
        # §3.1.4.1: CHANGEDSINCE gives the changed ones, MODSEQ added
        r = a.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h1)
        got = modseqs(r)
        t.ok(set(got) == {3, 5, 6} and b"UID 3 " in r and min(got.values()) > h1,
             "%s: UID FETCH (CHANGEDSINCE): the messages changed since, with MODSEQ" % fmt, r)
        # §3.1.5: SEARCH MODSEQ (entry name and type taken) and ESEARCH
        r = a.cmd("SEARCH MODSEQ \"/flags/\\\\flagged\" all %d" % (h1 + 1))
        m = re.search(rb"\* SEARCH 3 5 6 \(MODSEQ (\d+)\)", r)
        t.ok(m is not None and int(m.group(1)) == max(got.values()),
             "%s: SEARCH MODSEQ: the messages and their highest modseq" % fmt, r)
        r = a.cmd("SEARCH RETURN (MIN) MODSEQ %d" % (h1 + 1))
        t.ok(re.search(rb"MIN 3 MODSEQ %d\r\n" % got[3], r) is not None,
             "%s: ESEARCH MIN: the modseq of the message returned" % fmt, r)
        r = a.cmd("SORT (ARRIVAL) UTF-8 MODSEQ %d" % (h1 + 1))
        t.ok(re.search(rb"\* SORT 3 5 6 \(MODSEQ %d\)" % max(got.values()), r) is not None,
             "%s: SORT MODSEQ: (MODSEQ n) too" % fmt, r)
        r = a.cmd("SEARCH MODSEQ %d" % (2 ** 62))
        t.ok(re.search(rb"\* SEARCH\r\n", r) is not None, "%s: SEARCH MODSEQ none: no MODSEQ" % fmt, r)
        r = a.cmd("STATUS INBOX (HIGHESTMODSEQ)")
        m = re.search(rb"HIGHESTMODSEQ (\d+)", r)
        t.ok(m is not None and int(m.group(1)) == max(got.values()),
             "%s: STATUS HIGHESTMODSEQ of the selected folder" % fmt, r)
        # §3.1.4.2 (unsolicited FETCH): b's change told to a with MODSEQ
        r = b.cmd("STORE 1 +FLAGS (\\Answered)")
        r = a.cmd("NOOP")
        m = re.search(rb"\* 1 FETCH \(FLAGS \([^)]*\\Answered[^)]*\) MODSEQ \((\d+)\)\)", r)
        t.ok(m is not None and int(m.group(1)) > max(got.values()),
             "%s: another session's change comes with MODSEQ" % fmt, r)
        # the implicit \Seen of FETCH BODY[] gets a new modseq, told
        r = a.cmd("FETCH 2 (BODY[] MODSEQ)")
        got2 = modseqs(r)
        answered = int(m.group(1))
        t.ok(got2.get(2, 0) > answered and b"\\Seen" in r,
             "%s: FETCH BODY[]: the new modseq of the implicit \\Seen" % fmt, r)
        r = a.cmd("FETCH 2 MODSEQ")
        t.ok(modseqs(r).get(2) == got2.get(2), "%s: ... the one recorded" % fmt, r)
        # ENABLE while selected: HIGHESTMODSEQ said once (b had none)
        r = b.cmd("ENABLE CONDSTORE")
        t.ok(b"* ENABLED CONDSTORE" in r and highest(r) is not None and
             highest(r) >= answered,
             "%s: ENABLE CONDSTORE in a selected folder says HIGHESTMODSEQ" % fmt, r)
        r = b.cmd("FETCH 1 MODSEQ")
        t.ok(highest(r) is None and modseqs(r).get(1) == answered,
             "%s: ... and only once" % fmt, r)
        r = b.cmd("STATUS Trash (HIGHESTMODSEQ MESSAGES)")
        t.ok(re.search(rb"\(HIGHESTMODSEQ \d+ MESSAGES 0\)", r) is not None,
             "%s: STATUS HIGHESTMODSEQ of another folder" % fmt, r)
        for cmd in ("FETCH 1 FLAGS (CHANGEDSINCE x)", "FETCH 1 FLAGS (CHANGEDSINCE)",
                    "STORE 1 (UNCHANGEDSINCE 9223372036854775808) +FLAGS (\\Seen)",
                    "SEARCH MODSEQ \"/flags/\\\\seen\" other 1", "SEARCH MODSEQ",
                    "FETCH 1 FLAGS (FOO 1)"):
            r = a.cmd(cmd)
            t.ok(status(r) == b"BAD", "%s: %s is BAD" % (fmt, cmd), r)
        r = a.cmd("EXAMINE INBOX (FOO)")
        t.ok(status(r) == b"BAD", "%s: SELECT/EXAMINE with an unknown parameter is BAD" % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()


run("maildir")
run("mbox")
t.done()
