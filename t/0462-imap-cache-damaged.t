#!/usr/bin/env python3
"""A damaged message cache is never trusted: the folder's cache file cut
or overwritten at random offsets (between sessions, and under a session
that has it open) gives the same FETCH and SEARCH answers as the intact
one, and after one listing session the file is whole again: every record
checks (the format of lib/mcache.h, read here independently) and every
message has one. Maildir and mbox."""
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, mcache_records as records  # noqa: E402

N = 30
CMDS = ["FETCH 1:* (UID RFC822.SIZE INTERNALDATE ENVELOPE)", "FETCH 1:* BODYSTRUCTURE",
        "FETCH 1:* BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]", "SEARCH SUBJECT \"number 2\"",
        "SEARCH FROM sender1"]


def message(i):
    return (b"From: Sender <sender%d@example.org>\nSubject: number %d\n"
            b"Date: Tue, 3 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/alternative; boundary=x\n\n--x\n"
            b"Content-Type: text/plain\n\nplain %d\n--x\nContent-Type: text/html\n\n<b>%d</b>\n--x--\n"
            % (i, i, i, i))


def listing(raw):
    return [re.sub(rb"(?m)^t\d+ ", b"", raw.cmd(c, timeout=60)) for c in CMDS]


def damage(path, rnd):
    size = os.path.getsize(path)
    at = rnd.randrange(size)
    if rnd.random() < 0.5:
        os.truncate(path, at)
        return "cut at %d of %d" % (at, size)
    junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 24)))
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(junk)
    return "%d bytes overwritten at %d of %d" % (len(junk), at, size)


def session(env):
    raw = Raw(env, login="alice@example.org")
    raw.cmd("EXAMINE INBOX")
    return raw


def run(t, fmt, rnd):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        for i in range(N):
            deliver(env, "alice@example.org", message(i), name="%d.M%dP1.dmg" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        path = os.path.join(md, ".INBOX.yubin-cache" if fmt == "mbox" else "yubin-cache")
        raw = session(env)
        want = listing(raw)
        raw.close()
        good = open(path, "rb").read()
        uids, whole = records(path)
        t.ok(len(uids) == N and whole, "%s: the cache holds a good record per message" % fmt)
        t.ok(b'"number 2"' in good and b"sender1@" in good, "%s: it holds the envelopes" % fmt)
        same, rebuilt, what = 1, 1, []
        for k in range(10):
            with open(path, "wb") as f:
                f.write(good)
            what.append(damage(path, rnd))
            raw = session(env)
            got = listing(raw)
            raw.close()
            same &= got == want
            uids, whole = records(path)
            rebuilt &= len(uids) == N and whole
            if not (got == want and len(uids) == N and whole):
                t.diag("%s: after %s: same %s, %d records, whole %d"
                       % (fmt, what[-1], got == want, len(uids), whole))
        t.ok(same, "%s: a damaged cache answers as the intact one" % fmt, what)
        t.ok(rebuilt, "%s: one session makes it whole again" % fmt)
        # a forged-looking change inside a record: layout intact, text
        # changed; only its checksum tells
        with open(path, "wb") as f:
            f.write(good.replace(b'"number 2"', b'"NUMBER 9"').replace(b"sender1@", b"senderX@"))
        raw = session(env)
        got = listing(raw)
        raw.close()
        t.ok(got == want, "%s: a record whose text changed is not used" % fmt,
             [g[:300] for g, w in zip(got, want) if g != w][:1])
        # damaged under a session that has read it
        raw = session(env)
        first = listing(raw)
        ok = first == want
        for k in range(6):
            what = damage(path, rnd)
            got = listing(raw)
            ok &= got == want
            if got != want:
                t.diag("%s: open session, %s" % (fmt, what))
        raw.close()
        t.ok(ok, "%s: damage under an open session changes no answer" % fmt)
    finally:
        env.cleanup()


t = yubin.TAP()
rnd = random.Random(20261207)
for fmt in ("maildir", "mbox"):
    run(t, fmt, rnd)
t.done()
