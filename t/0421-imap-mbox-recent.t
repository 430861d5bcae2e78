#!/usr/bin/env python3
"""mailbox_format = mbox: \\Recent as on Maildir (t/0420): APPENDed
messages are \\Recent for the next session that selects the mbox, one
session only; EXAMINE and STATUS show them without taking them (no
Status: O written). And a message that ends in its header (no empty
line, no body) reads back as it was appended or delivered: BODY[] and
RFC822.SIZE without an empty line added."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, tagged, append_ok, recent_of, check_eq, close_all  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
INBOX = os.path.join(env.maildir(U), "INBOX")
sessions = []


def eq(got, want, name, diag=b""):
    check_eq(t, got, want, name, diag)


def append(s, data):
    return append_ok(s, "INBOX", data)


try:
    a = Raw(env, U)
    sessions.append(a)
    full = b"From: bob@example.org\r\nSubject: full\r\n\r\nbody\r\n"
    head_only = b"From: bob@example.org\r\nSubject: head only\r\n"
    append(a, full)
    append(a, head_only)
    deliver(env, U, b"Subject: delivered head only\r\n")
    with open(INBOX, "rb") as f:
        raw = f.read()
    t.ok(b"\nStatus: O" not in raw, "APPEND writes no Status: O (not old: \\Recent to come)", raw)
    r = a.cmd("STATUS INBOX (MESSAGES RECENT)")
    t.ok(b"MESSAGES 3 RECENT 3" in r, "STATUS counts the appended and delivered as RECENT", r)
    r = a.cmd("EXAMINE INBOX")
    eq(recent_of(r), 3, "EXAMINE shows all three as \\Recent", r)
    r = a.cmd("FETCH 1:* (FLAGS)")
    eq(r.count(b"\\Recent"), 3, "EXAMINE: FETCH FLAGS says \\Recent", r)
    with open(INBOX, "rb") as f:
        t.ok(b"\nStatus: O" not in f.read(), "EXAMINE took none (no Status: O written)")

    # sizes and content of messages that end in their header
    r = a.cmd("FETCH 1:3 (RFC822.SIZE BODY.PEEK[])")
    sizes = [int(x) for x in re.findall(rb"RFC822\.SIZE (\d+)", r)]
    bodies = re.findall(rb"BODY\[\] \{(\d+)\}\r\n", r)
    eq(sizes, [len(full), len(head_only), len(b"Subject: delivered head only\r\n")],
       "RFC822.SIZE is the size appended or delivered (no empty line added)", r)
    t.ok(head_only in r and head_only + b"\r\n)" not in r and
         b"Subject: head only\r\n BODY" not in r,
         "BODY[] of the appended header-only message is what was appended", r)
    t.ok(b"{30}\r\nSubject: delivered head only\r\n)" in r,
         "BODY[] of the delivered header-only message is what was delivered", r)
    eq([int(x) for x in bodies], sizes, "BODY[] literals match RFC822.SIZE", r)

    b = Raw(env, U)
    sessions.append(b)
    r = b.cmd("SELECT INBOX")
    eq(recent_of(r), 3, "the first SELECT takes all three", r)
    r = a.cmd("SELECT INBOX")
    eq(recent_of(r), 0, "the next SELECT gets none (one session only)", r)
    # a flag change rewrites the file: the header-only message stays as is
    r = b.cmd("STORE 2 +FLAGS (\\Flagged)")
    t.ok(tagged(r).split()[1] == b"OK", "STORE on the mbox", r)
    r = a.cmd("FETCH 2 (FLAGS RFC822.SIZE BODY.PEEK[])")
    t.ok(b"RFC822.SIZE %d" % len(head_only) in r and b"{%d}\r\n%s)" % (len(head_only), head_only)
         in r, "after the rewrite the header-only message is unchanged", r)
    t.ok(b"\\Flagged" in r and b"\\Recent" not in r, "its flags: \\Flagged, not \\Recent here", r)

    # appended while both have it selected: the appending session's update
    # after APPEND takes it, the other one does not get it too
    append(a, full)
    r1 = a.cmd("FETCH 4 (FLAGS)")
    r2 = b.cmd("NOOP")
    r3 = b.cmd("FETCH 4 (FLAGS)")
    t.ok(b"\\Recent" in r1 and b"\\Recent" not in r3,
         "a message APPENDed to the selected mbox is \\Recent in one session", r1 + r2 + r3)
    for s in sessions:
        s.cmd("LOGOUT")
finally:
    close_all(sessions)
    env.cleanup()
t.done()
