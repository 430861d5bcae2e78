#!/usr/bin/env python3
"""A message keeps its UID while sessions and deliveries race. Two
sessions list a Maildir over and over while messages arrive: a session
numbers what its scan found under the folder's lock, but the scan was
taken before the lock, so a message another session numbered in between
is not in it. Its line must stay in yubin-uidlist: dropped, the message
would get a second UID at the next look, and a client that knew the first
would see one message vanish and a copy appear. Every UID any session
reports for a message must be the one a fresh session reports last."""
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver  # noqa: E402

START, MORE, ROUNDS = 10, 30, 3
U = "alice@example.org"


def message(i):
    return (b"From: Sender <s@example.org>\nSubject: number %d\n"
            b"Message-ID: <m%d@example.org>\n\nbody %d\n" % (i, i, i))


def uids_by_subject(resp):
    """{subject number: UID} of FETCH (UID ENVELOPE) lines."""
    out = {}
    for m in re.finditer(rb'\* \d+ FETCH \(UID (\d+) ENVELOPE \((?:NIL|"[^"]*") "number (\d+)"', resp):
        out[int(m.group(2))] = int(m.group(1))
    return out


def run(t, rnd):
    env = yubin.Env()
    try:
        for i in range(START):
            deliver(env, U, message(i), name="%d.M%dP1.us" % (1700000000 + i, i))
        sessions = [Raw(env, login=U) for _ in range(2)]
        for s in sessions:
            s.cmd("SELECT INBOX")
        seen = []  # (subject number, UID) from every listing

        def deliveries():
            for i in range(START, START + MORE):
                deliver(env, U, message(i), name="%d.M%dP1.us" % (1700000000 + i, i))

        def lister(s):
            for _ in range(10):
                s.cmd("NOOP")
                r = s.cmd("FETCH 1:* (UID ENVELOPE)", timeout=60)
                seen.extend(uids_by_subject(r).items())

        threads = [threading.Thread(target=deliveries)] + \
            [threading.Thread(target=lister, args=(s,)) for s in sessions]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        for s in sessions:
            seen.extend(uids_by_subject(s.cmd("FETCH 1:* (UID ENVELOPE)", timeout=60)).items())
            s.close()
        last = Raw(env, login=U)
        last.cmd("EXAMINE INBOX")
        final = uids_by_subject(last.cmd("FETCH 1:* (UID ENVELOPE)", timeout=60))
        last.close()
        t.ok(len(final) == START + MORE, "round %d: a fresh session lists every message" % rnd,
             len(final))
        moved = sorted({(n, u, final.get(n)) for n, u in seen if final.get(n) != u})
        t.ok(not moved, "round %d: no message was ever reported under another UID" % rnd,
             moved[:5])
        t.ok(sorted(final.values()) == list(range(1, START + MORE + 1)),
             "round %d: UIDs 1..%d, none handed out twice" % (rnd, START + MORE),
             sorted(final.values())[-5:])
    finally:
        env.cleanup()


t = yubin.TAP()
for rnd in range(1, ROUNDS + 1):
    run(t, rnd)
t.done()
