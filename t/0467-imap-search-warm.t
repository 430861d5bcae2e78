#!/usr/bin/env python3
"""A warm header SEARCH on a field the message cache keeps is matched on
the cached header text itself, one field at a time (mime_header_next),
not on a parse of all the fields: its answers are those of the cold
session and of one with the cache deleted, for SUBJECT, FROM, TO, CC, BCC
and HEADER keys (RFC 2047 words, folded values, comments in addresses,
a field given twice, empty needles, NOT and OR, a field the cache does
not keep), Maildir and mbox; and a warm session's header SEARCHes read no
message file (strace) while one on a field not kept still does."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import TRACED_READS, Raw, Traced, deliver  # noqa: E402

U = "alice@example.org"
N = 20
MARK = "marker-0467"
CMDS = ['SEARCH SUBJECT "topic 1"', 'SEARCH SUBJECT "ÉTÉ"', "SEARCH SUBJECT \"\"",
        "SEARCH FROM sender0", 'SEARCH FROM "comment"', 'SEARCH FROM "Émile"',
        "SEARCH TO z1@example.org", "SEARCH CC c1@example.org", "SEARCH BCC hidden",
        'SEARCH HEADER List-Id "<list.example>"', "SEARCH HEADER In-Reply-To \"\"",
        "SEARCH NOT SUBJECT topic", "SEARCH OR FROM e1 TO r2", "SEARCH SUBJECT second",
        "SEARCH HEADER Message-ID m1", "SEARCH CHARSET UTF-8 SUBJECT été",
        'SEARCH FROM "folded name"']
NOT_KEPT = 'SEARCH HEADER X-Not-Kept "yes"'


def message(i):
    h = [b"From: " + [b"Sender %d <sender%d@example.org>" % (i % 4, i % 4),
                      b"=?UTF-8?Q?=C3=89mile_%d?= <e%d@example.org>" % (i % 3, i % 3),
                      b"s%d (a comment) @ example.org" % (i % 5),
                      b"\"Folded\n name\" <f%d@example.org>" % i][i % 4]]
    h.append(b"To: " + (b"=?ISO-8859-1?Q?Z=F6e?= <z%d@example.org>" % (i % 3) if i % 2
                        else b"r%d@example.org" % (i % 6)))
    if i % 3 == 0:
        h.append(b"Cc: C (x) <c%d@example.org>,\n d@example.org" % (i % 4))
    if i % 5 == 1:
        h.append(b"Bcc: hidden@example.org")
    if i % 7 != 5:
        h.append(b"Subject: " + [b"Re: topic %d", b"=?UTF-8?B?w4lUw4k=?= %d",
                                 b"topic %d\n continued", b"plain %d"][i % 4] % (i // 3))
    if i % 6 == 2:
        h.append(b"Subject: second subject")
    h.append(b"Message-ID: <m%d@x.example>" % i)
    if i % 4 == 1:
        h.append(b"In-Reply-To: <m%d@x.example>" % (i - 1))
    if i % 3 == 1:
        h.append(b"List-Id: A list <list.example>")
    if i % 2:
        h.append(b"X-Not-Kept: yes")
    return b"\n".join(h) + b"\n\nbody %d\n" % i


def untagged(r):
    return re.sub(rb"(?m)^t\d+ ", b"", r)


def answers(env, traced=None):
    raw = Traced(env, traced, TRACED_READS) if traced else Raw(env, login=U)
    raw.cmd("EXAMINE INBOX")
    raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
    got = [untagged(raw.cmd(c, timeout=60)) for c in CMDS]
    raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
    got.append(untagged(raw.cmd(NOT_KEPT, timeout=60)))
    raw.cmd("LOGOUT")
    raw.close(30)
    return got


def message_reads(lines, fmt, md):
    if fmt == "maildir":
        return [x for x in lines if re.search(r"/(cur|new)/[^/>\"]+[>\"]", x)
                and "O_DIRECTORY" not in x]
    inbox = os.path.join(md, "INBOX") + ">"
    return [x for x in lines if re.match(r"(\d+ +)?(p?read|readv|preadv)", x) and inbox in x]


def run(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        for i in range(N):
            deliver(env, U, message(i), name="%d.M%dP1.srch" % (1700000000 + i, i))
        md = env.maildir(U)
        cache = os.path.join(md, ".INBOX.yubin-cache" if fmt == "mbox" else "yubin-cache")
        cold = answers(env)
        hits = [len(a.split(b"\r\n")[0].split()) - 2 for a in cold]
        t.ok(all(b"\r\nOK " in a for a in cold) and all(0 < h < N for h in hits[:-1]),
             "%s: every search answers, each with some but not all messages" % fmt,
             list(zip(CMDS, hits)))
        trace = os.path.join(env.dir, "trace-%s-%d" % (fmt, time.time_ns()))
        warm = answers(env, trace)
        t.ok(warm == cold, "%s: warm answers as cold" % fmt,
             [(c, a[:200], b[:200]) for c, a, b in zip(CMDS, warm, cold) if a != b][:2])
        lines = open(trace, errors="replace").read().splitlines()
        marks = [i for i, x in enumerate(lines) if MARK in x]
        ok = len(marks) >= 2
        kept = message_reads(lines[marks[0] + 1:marks[-1]], fmt, md) if ok else ["no markers"]
        other = message_reads(lines[marks[-1] + 1:], fmt, md) if ok else []
        t.ok(kept == [], "%s: warm searches on kept fields read no message file" % fmt, kept[:5])
        t.ok(other != [], "%s: a search on a field not kept reads the messages" % fmt)
        os.unlink(cache)
        t.ok(answers(env) == cold, "%s: with the cache deleted, the same answers" % fmt)
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
