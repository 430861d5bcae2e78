#!/usr/bin/env python3
"""imap-session's message cache (lib/mcache.h, folder-cache.c) changes no
answer: over the whole MIME corpus (t/fixtures/mime) and a few listing
messages, in a Maildir and in an mbox, FETCH of ENVELOPE, BODYSTRUCTURE,
BODY, RFC822.SIZE, INTERNALDATE and BODY[HEADER.FIELDS (...)] and header
SEARCH keys (FROM, TO, CC, BCC, SUBJECT, HEADER x, SENT*) answer the same
in a first session (no cache: every message parsed), a second one (the
cache file written by the first answers) and a third one after the cache
file was deleted."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "mime")

EXTRA = [
    b"From: Ann <ann@example.org>\nTo: bob@example.org, carol@example.org\n"
    b"Cc: dave@example.org\nBcc: eve@example.org\nSubject: plans for the weekend\n"
    b"Date: Tue, 3 Nov 2026 10:00:00 +0100\nMessage-ID: <a1@example.org>\n"
    b"List-Id: Weekend <weekend.example.org>\nX-Other: not cached\n\nbody one\n",
    b"From: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= <g@example.org>\nTo: ann@example.org\n"
    b"Subject: Re: plans for the weekend\nIn-Reply-To: <a1@example.org>\n"
    b"References: <a1@example.org>\n  <a0@example.org>\nDate: Wed, 4 Nov 2026 09:00:00 +0000\n"
    b"Content-Type: text/plain; charset=utf-8\n\nbody two\n",
    b"Subject: no from, no date\nsubject: a second subject line\n\nbody three\n",
]

COMMANDS = [
    "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)",
    "FETCH 1:* BODYSTRUCTURE",
    "FETCH 1:* (BODY ENVELOPE)",
    "FETCH 1:* BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]",
    "FETCH 1:* BODY.PEEK[HEADER.FIELDS (References In-Reply-To List-Id Content-Type)]",
    "FETCH 1:* (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT X-OTHER)])",
    "FETCH 1:* BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]",
    "UID FETCH 1:* (INTERNALDATE RFC822.SIZE)",
    "SEARCH FROM example", "SEARCH FROM ann", "SEARCH TO bob", "SEARCH CC dave",
    "SEARCH BCC eve", "SEARCH SUBJECT weekend", "SEARCH SUBJECT \"\"",
    "SEARCH HEADER List-Id weekend", "SEARCH HEADER Message-ID example",
    "SEARCH HEADER References a0", "SEARCH HEADER X-Other cached",
    "SEARCH CHARSET UTF-8 FROM \"Grüße\"",
    "SEARCH OR SUBJECT a FROM b", "SEARCH NOT SUBJECT e",
    "SEARCH SENTSINCE 1-Jan-2000", "SEARCH SENTBEFORE 1-Jan-2026",
    "SEARCH SENTON 3-Nov-2026", "SEARCH HEADER Content-Type multipart",
    "SEARCH TEXT body", "SEARCH SMALLER 600 SINCE 1-Jan-1990",
]


def session(env):
    raw = Raw(env, login="alice@example.org")
    r = raw.cmd("EXAMINE INBOX")
    out = []
    for c in COMMANDS:
        r = raw.cmd(c.encode(), timeout=60)
        # sessions differ only in what they log, never in answers
        out.append(r)
    raw.close()
    return out


def run(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        names = sorted(f for f in os.listdir(FIX) if f.endswith(".eml"))
        msgs = [open(os.path.join(FIX, n), "rb").read() for n in names] + EXTRA
        for i, data in enumerate(msgs):
            deliver(env, "alice@example.org", data, name="%d.M%dP1.cache" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        cache = os.path.join(md, ".INBOX.yubin-cache" if fmt == "mbox" else "yubin-cache")
        first = session(env)
        t.ok(os.path.exists(cache) and os.path.getsize(cache) > 1000,
             "%s: the first session wrote the cache file" % fmt)
        second = session(env)
        os.unlink(cache)
        third = session(env)
        for i, c in enumerate(COMMANDS):
            ok = first[i] == second[i] == third[i] and re.search(rb"\r\nt\d+ OK ", b"\r\n" + first[i])
            diag = None
            if not ok:
                a, b = first[i].split(b"\r\n"), second[i].split(b"\r\n")
                d = [(x, y) for x, y in zip(a, b) if x != y][:2]
                diag = d or (first[i][-200:], third[i][-200:])
            t.ok(ok, "%s: %s answers the same cold, warm and without the cache" % (fmt, c), diag)
        t.ok(first[0].count(b" FETCH (") == len(msgs), "%s: every message listed" % fmt)
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
