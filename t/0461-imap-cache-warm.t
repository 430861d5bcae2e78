#!/usr/bin/env python3
"""A second IMAP session answers from the folder's message cache: after a
first session listed a folder (ENVELOPE, BODYSTRUCTURE), a second one's
FETCH of UID, FLAGS, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE,
BODY and BODY[HEADER.FIELDS] of cached fields, and its SEARCH on FROM,
SUBJECT and HEADER List-Id, open no message file of a Maildir and read no
byte of an mbox (seen with strace, from a marker after SELECT: SELECT
itself may hold files). A FETCH of BODY[] still reads the message, as a
check that the trace sees such reads. A cache made by a session that
fetched only ENVELOPE has no BODYSTRUCTURE: that one is read and parsed,
then cached too."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, Traced, deliver  # noqa: E402

N = 40
LIST_CMDS = ["FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)",
             "FETCH 1:* BODYSTRUCTURE",
             "FETCH 1:* (BODY BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])",
             "UID SEARCH FROM sender7", "SEARCH SUBJECT \"number 1\"",
             "SEARCH HEADER List-Id list.example"]
MARK = "marker-0461"


def message(i):
    return (b"From: Sender <sender%d@example.org>\nTo: alice@example.org\n"
            b"Subject: number %d\nDate: Tue, 3 Nov 2026 10:00:00 +0100\n"
            b"List-Id: <list.example.org>\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
            b"Content-Type: text/plain\n\npart one %d\n--b\n"
            b"Content-Type: text/html\n\n<p>two</p>\n--b--\n" % (i, i, i))



def after_marker(trace):
    lines = open(trace, errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        if MARK in line:
            return lines[i + 1:]
    return None


def message_reads(lines, fmt, md):
    """Syscalls touching a message: a Maildir file opened, or the mbox
    file read."""
    if fmt == "maildir":
        # opened, or read through a file SELECT holds (strace -y names it)
        return [x for x in lines if re.search(r"/(cur|new)/[^/>\"]+[>\"]", x)
                and "O_DIRECTORY" not in x and "stat" not in x]
    inbox = os.path.join(md, "INBOX") + ">"
    return [x for x in lines if re.match(r"(\d+ +)?(p?read|readv|preadv)", x) and inbox in x]


def warm(t, env, fmt, md, cmds, what):
    trace = os.path.join(env.dir, "trace-%s-%d" % (fmt, time.time_ns()))
    raw = Traced(env, trace)
    r = raw.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % N in r, "%s: SELECT under strace" % fmt, r[-200:])
    raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
    answers = [raw.cmd(c, timeout=60) for c in cmds]
    raw.cmd("LOGOUT")
    raw.close(30)
    lines = after_marker(trace)
    t.ok(lines is not None, "%s: the marker is in the trace" % fmt)
    reads = message_reads(lines or [], fmt, md)
    return answers, reads


def run(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        for i in range(N):
            deliver(env, "alice@example.org", message(i), name="%d.M%dP1.warm" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        cold = Raw(env, login="alice@example.org")
        cold.cmd("SELECT INBOX")
        first = [cold.cmd(c, timeout=60) for c in LIST_CMDS]
        cold.close()
        answers, reads = warm(t, env, fmt, md, LIST_CMDS, "list")
        # the cold session took the \\Recent messages
        first = [a.replace(b"\\Recent", b"").replace(b"( ", b"(").replace(b" )", b")")
                 .replace(b"()", b"()") for a in first]
        first = [re.sub(rb"FLAGS \(\s*\)", b"FLAGS ()", a) for a in first]
        # tags differ (the marker): the tagged line's text only
        first = [re.sub(rb"(?m)^t\d+ ", b"", a) for a in first]
        answers = [re.sub(rb"(?m)^t\d+ ", b"", a) for a in answers]
        t.ok(answers == first, "%s: the warm session answers as the cold one" % fmt,
             [(a[:300], b[:300]) for a, b in zip(answers, first) if a != b][:1])
        t.ok(len(answers[0].split(b" FETCH (")) == N + 1 and b"SEARCH 2 " in answers[4],
             "%s: listing answered" % fmt, answers[4][:200])
        t.ok(not reads, "%s: ENVELOPE, BODYSTRUCTURE, BODY, HEADER.FIELDS, header SEARCH of a "
             "warm session read no message (%d reads)" % (fmt, len(reads)), reads[:5])
        _, reads = warm(t, env, fmt, md, ["FETCH 3 BODY.PEEK[]"], "body")
        t.ok(reads, "%s: BODY[] is seen reading its message (%d reads)" % (fmt, len(reads)))
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
