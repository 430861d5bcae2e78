#!/usr/bin/env python3
"""SORT and THREAD read header fields from the folder's message cache: a
session after one that sorted a folder answers SORT on every key and
THREAD with both algorithms without opening a message file of a Maildir
or reading a byte of an mbox (strace, from a marker after SELECT), and
gives the same answers. On a cold cache their header reads spend the
SEARCH budget: with imap_search_max_bytes small, SORT SUBJECT and THREAD
end with NO [LIMIT] (S51), while SORT ARRIVAL and SIZE, which need no
header, still answer."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import TRACED_READS, Raw, Traced, deliver, tagged  # noqa: E402

N = 30
MARK = "marker-0457"
CMDS = ["SORT (ARRIVAL) UTF-8 ALL", "SORT (REVERSE DATE) UTF-8 ALL", "SORT (FROM) UTF-8 ALL",
        "SORT (TO CC) UTF-8 ALL", "SORT (SUBJECT SIZE) UTF-8 ALL",
        "UID SORT (DISPLAYFROM DISPLAYTO) UTF-8 ALL",
        "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 FROM sender1",
        "THREAD REFERENCES UTF-8 ALL", "UID THREAD ORDEREDSUBJECT UTF-8 ALL"]


def message(i):
    refs = b"References: <m%d@x.example>\n" % (i - 1) if i % 3 else b""
    return (b"From: Sender %d <sender%d@example.org>\nTo: r%d@example.org\nCc: c%d@example.org\n"
            b"Subject: %stopic %d\nDate: Tue, 3 Nov 2026 10:%02d:00 +0100\n"
            b"Message-ID: <m%d@x.example>\n%s\nbody %d\n"
            % (i % 7, i % 7, i % 5, i % 4, b"Re: " if i % 3 else b"", i // 3, 59 - i, i, refs, i))



def message_reads(lines, fmt, md):
    if fmt == "maildir":
        return [x for x in lines if re.search(r"/(cur|new)/[^/>\"]+[>\"]", x)
                and "O_DIRECTORY" not in x]
    inbox = os.path.join(md, "INBOX") + ">"
    return [x for x in lines if re.match(r"(\d+ +)?(p?read|readv|preadv)", x) and inbox in x]


def untagged(r):
    return re.sub(rb"(?m)^t\d+ ", b"", re.sub(rb"TAG \"t\d+\"", b"TAG", r))


def run(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        for i in range(N):
            deliver(env, "alice@example.org", message(i), name="%d.M%dP1.sort" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        # a cold cache and a small byte budget: header keys stop, others not
        env.set(imap_search_max_bytes="1k")
        s = Raw(env, login="alice@example.org")
        s.cmd("SELECT INBOX")
        for c in ("SORT (SUBJECT) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
                  "SORT (ARRIVAL) UTF-8 ALL"):
            r = s.cmd(c)
            lim = c.startswith("SORT (ARRIVAL)")
            t.ok((b"* SORT 1 2 3" in r and tagged(r).split()[1] == b"OK") if lim else
                 (b" NO [LIMIT] " in tagged(r) and b"* SORT" not in r and b"* THREAD" not in r),
                 "%s: cold, 1k budget: %s %s" % (fmt, c, "answers" if lim else "is NO [LIMIT]"), r)
        s.close()
        env.set(imap_search_max_bytes="0")
        cold = Raw(env, login="alice@example.org")
        cold.cmd("SELECT INBOX")
        first = [untagged(cold.cmd(c, timeout=60)) for c in CMDS]
        cold.close()
        t.ok(all(tagged(a).startswith(b"OK ") for a in first) and b"* THREAD (" in first[7],
             "%s: the cold session sorts and threads" % fmt, first[7][:200])
        trace = os.path.join(env.dir, "trace-%s-%d" % (fmt, time.time_ns()))
        raw = Traced(env, trace, TRACED_READS)
        raw.cmd("SELECT INBOX")
        raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
        answers = [untagged(raw.cmd(c, timeout=60)) for c in CMDS]
        raw.cmd('STATUS "%s-body" (MESSAGES)' % MARK)
        raw.cmd("FETCH 3 BODY.PEEK[]")
        raw.cmd("LOGOUT")
        raw.close(30)
        lines = open(trace, errors="replace").read().splitlines()
        marks = [i for i, x in enumerate(lines) if MARK in x]
        t.ok(len(marks) == 2, "%s: the markers are in the trace" % fmt)
        body = lines[marks[1] + 1:] if len(marks) == 2 else []
        lines = lines[marks[0] + 1:marks[1]] if len(marks) == 2 else []
        t.ok(answers == first, "%s: the warm session answers as the cold one" % fmt,
             [(a[:300], b[:300]) for a, b in zip(answers, first) if a != b][:1])
        reads = message_reads(lines, fmt, md)
        t.ok(not reads, "%s: a warm SORT and THREAD read no message (%d reads)"
             % (fmt, len(reads)), reads[:5])
        reads = message_reads(body, fmt, md)
        t.ok(reads, "%s: BODY[] is seen reading its message (%d reads)" % (fmt, len(reads)))
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
