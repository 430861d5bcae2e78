#!/usr/bin/env python3
"""SORT and THREAD keys are worked out once per message and kept in a
cache file of their own beside the message cache (lib/mcache-keys.h,
lib/folder-keys.c; the format of lib/mcache.h): after a sorting
session it holds a good record with the keys for every message. SORT on
every key and THREAD with both algorithms give the same answers cold,
warm, with both cache files deleted, with only the keys file deleted
(rebuilt from the cached header fields by the next SORT), with a keys
file of the previous format (YBCACHE1: not read, started again), cut or
overwritten at random offsets (rebuilt whole), and with a keys item whose
layout is bad under a good checksum (a miss, not a key); a warm session
reads no message file (strace); and the warm answers do come from the
kept keys (keys rewritten with a good checksum change the order). Tricky
headers: RFC 2047 subjects and display names, comments in addresses,
groups, no Date, References chains, In-Reply-To only, a duplicate
Message-ID. Maildir and mbox."""
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import TRACED_READS, Raw, Traced, deliver, mcache_check, mcache_records  # noqa: E402

U = "alice@example.org"
N = 24
MARK = "marker-0466"
KEYS = 0   # the item holding the keys in their file
CMDS = ["SORT (SUBJECT) UTF-8 ALL", "SORT (REVERSE SUBJECT ARRIVAL) UTF-8 ALL",
        "SORT (FROM) UTF-8 ALL", "SORT (TO) UTF-8 ALL", "SORT (CC REVERSE DATE) UTF-8 ALL",
        "SORT (DATE) UTF-8 ALL", "UID SORT (DISPLAYFROM) UTF-8 ALL",
        "SORT (DISPLAYTO SIZE) UTF-8 ALL",
        "SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 NOT FROM nobody",
        "THREAD REFERENCES UTF-8 ALL", "UID THREAD ORDEREDSUBJECT UTF-8 ALL",
        "THREAD REFERENCES UTF-8 SUBJECT topic"]

FROMS = [b"Sender %d <s%d@example.org>", b"=?UTF-8?Q?=C3=89mile_%d?= <e%d@example.org>",
         b"s%d (a comment) @ example.org (x%d)", b"\"Quoted, %d\" <Q%d@Example.org>",
         b"undisclosed-%d:;, later%d@example.org", b"<bare%d.%d@example.org>"]


def message(i):
    h = []
    if i % 7 != 3:
        h.append(b"From: " + FROMS[i % len(FROMS)] % (i % 5, i % 4))
    h.append(b"To: " + (b"=?ISO-8859-1?Q?Z=F6e?= <z%d@example.org>" % (i % 3) if i % 2
                        else b"r%d@example.org" % (i % 6)))
    if i % 3 == 0:
        h.append(b"Cc: C%d <c%d@example.org>, d@example.org" % (i % 4, i % 2))
    subj = [b"Re: topic %d", b"Fwd: [list] Topic %d", b"=?UTF-8?B?w6l0w6kg?= %d",
            b"topic %d (fwd)", b"RE: re: TOPIC %d"][i % 5] % (i // 4)
    if i % 11 != 5:
        h.append(b"Subject: " + subj)
    if i % 6 != 4:
        h.append(b"Date: Tue, %d Nov 2026 10:%02d:00 +0100" % (1 + i % 9, 59 - i))
    h.append(b"Message-ID: <m%d@x.example>" % (i if i != 17 else 16))
    if i % 4 == 1:
        h.append(b"References: <m%d@x.example> (c) <m%d@x.example>\n <gone%d@x.example>"
                 % (i - 1, max(i - 3, 0), i))
    elif i % 4 == 2:
        h.append(b"In-Reply-To: <m%d@x.example> <nothing@x>" % (i - 2))
    return b"\n".join(h) + b"\n\nbody %d\n" % i


def untagged(r):
    return re.sub(rb"(?m)^t\d+ ", b"", re.sub(rb"TAG \"t\d+\"", b"TAG", r))


def answers(env, traced=None):
    raw = Traced(env, traced, TRACED_READS) if traced else Raw(env, login=U)
    raw.cmd("EXAMINE INBOX")
    raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
    got = [untagged(raw.cmd(c, timeout=60)) for c in CMDS]
    raw.cmd('STATUS "%s" (MESSAGES)' % MARK)
    raw.cmd("LOGOUT")
    raw.close(30)
    return got


def records(data):
    """The records of cache bytes data: [(offset, length, items {bit: (at, len)})]."""
    out, at = [], 8
    while at + 44 <= len(data):
        length = int.from_bytes(data[at + 4:at + 8], "little")
        idlen = int.from_bytes(data[at + 40:at + 42], "little")
        bits = int.from_bytes(data[at + 42:at + 44], "little")
        o, items = at + 44 + idlen, {}
        for b in range(8):
            if bits & (1 << b):
                n = int.from_bytes(data[o:o + 4], "little")
                items[b] = (o + 4, n)
                o += 4 + n
        out.append((at, length, items))
        at += length
    return out


def rewrite_keys(data, change):
    """data with the keys item of each record replaced by change(uid, keys), checksums made good."""
    out = bytearray(data[:8])
    for at, length, items in records(data):
        rec = bytearray(data[at:at + length])
        if KEYS in items:
            o, n = items[KEYS][0] - at, items[KEYS][1]
            uid = int.from_bytes(rec[20:24], "little")
            new = change(uid, bytes(rec[o:o + n]))
            rec[o - 4:o + n] = len(new).to_bytes(4, "little") + new
            rec[4:8] = len(rec).to_bytes(4, "little")
            rec[8:16] = mcache_check(bytes(rec[16:]), len(rec)).to_bytes(8, "little")
        out += rec
    return bytes(out)


def new_subject(uid, keys):
    # the folded base subject is the first string after the 9-byte head
    rest = keys[9:].split(b"\0", 1)[1]
    return keys[:9] + b"zz%04d\0" % (1000 - uid) + rest


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
            deliver(env, U, message(i), name="%d.M%dP1.keys" % (1700000000 + i, i))
        md = env.maildir(U)
        cache = os.path.join(md, ".INBOX.yubin-cache" if fmt == "mbox" else "yubin-cache")
        path = os.path.join(md, ".INBOX.yubin-keys" if fmt == "mbox" else "yubin-keys")
        cold = answers(env)
        t.ok(all(re.search(rb"(?m)^OK ", a) for a in cold) and b"* THREAD (" in cold[9],
             "%s: the cold session sorts and threads" % fmt, cold[9][:300])
        good = open(path, "rb").read()
        recs = records(good)
        uids, whole = mcache_records(path)
        t.ok(len(uids) == N and whole and good[:8] == b"YBCACHE2",
             "%s: the keys file (format 2) holds a good record per message" % fmt, (len(uids), whole))
        t.ok(len(recs) == N and all(list(items) == [KEYS] for _, _, items in recs),
             "%s: each holds the keys and nothing else" % fmt)

        trace = os.path.join(env.dir, "trace-%s-%d" % (fmt, time.time_ns()))
        warm = answers(env, trace)
        t.ok(warm == cold, "%s: warm answers as cold" % fmt,
             [(a[:300], b[:300]) for a, b in zip(warm, cold) if a != b][:1])
        lines = open(trace, errors="replace").read().splitlines()
        marks = [i for i, x in enumerate(lines) if MARK in x]
        reads = message_reads(lines[marks[0] + 1:marks[-1]], fmt, md) if len(marks) >= 2 else None
        t.ok(reads == [], "%s: a warm SORT and THREAD read no message file" % fmt,
             (reads or [])[:5] if reads is not None else "no markers")

        os.unlink(path)
        os.unlink(cache)
        t.ok(answers(env) == cold, "%s: with both cache files deleted, the same answers" % fmt)
        t.ok(answers(env) == cold, "%s: and warm again, the same" % fmt)
        os.unlink(path)
        t.ok(answers(env) == cold, "%s: with the keys file deleted, the same answers" % fmt)
        uids, whole = mcache_records(path)
        t.ok(len(uids) == N and whole, "%s: that SORT wrote the keys again" % fmt, (len(uids), whole))

        good = open(path, "rb").read()
        rnd = random.Random(466)
        same, rebuilt = 1, 1
        for k in range(8):
            with open(path, "wb") as f:
                f.write(good)
            at = rnd.randrange(len(good))
            if k % 2:
                os.truncate(path, at)
            else:
                with open(path, "r+b") as f:
                    f.seek(at)
                    f.write(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16))))
            same &= answers(env) == cold
            uids, whole = mcache_records(path)
            rebuilt &= len(uids) == N and whole
        t.ok(same, "%s: a keys file cut or overwritten answers the same" % fmt)
        t.ok(rebuilt, "%s: and one session makes it whole again" % fmt)

        good = open(path, "rb").read()
        with open(path, "wb") as f:
            f.write(rewrite_keys(good, new_subject))
        forged = answers(env)
        want = " ".join(str(k) for k in range(N, 0, -1)).encode()
        t.ok(b"* SORT " + want + b"\r\n" in forged[0],
             "%s: warm SORT SUBJECT orders by the kept keys" % fmt, forged[0][:200])

        with open(path, "wb") as f:
            f.write(b"YBCACHE1" + rewrite_keys(good, new_subject)[8:])
        t.ok(answers(env) == cold, "%s: a cache of the previous format is not read" % fmt)
        uids, whole = mcache_records(path)
        t.ok(len(uids) == N and whole and open(path, "rb").read(8) == b"YBCACHE2",
             "%s: it is started again in format 2" % fmt, (len(uids), whole))

        good = open(path, "rb").read()
        for bad, what in ((lambda u, k: k[:-1], "no final NUL"), (lambda u, k: k[:5], "cut head"),
                          (lambda u, k: k[:8] + b"\x07" + k[9:], "unknown flags"),
                          (lambda u, k: k + b"\0", "an empty reference")):
            with open(path, "wb") as f:
                f.write(rewrite_keys(good, bad))
            got = answers(env)
            t.ok(got == cold, "%s: a keys item with %s is a miss" % (fmt, what),
                 [(a[:200], b[:200]) for a, b in zip(got, cold) if a != b][:1])
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
