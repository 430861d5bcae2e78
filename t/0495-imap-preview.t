#!/usr/bin/env python3
"""FETCH PREVIEW (RFC 8970) on Maildir and mbox: the first text part's
first 256 characters, decoded (quoted-printable, base64, charsets) to
UTF-8, text/plain preferred, else text/html without its tags, white space
collapsed, never cut inside a UTF-8 sequence; "" for a message without
text. PREVIEW (LAZY) is NIL until a PREVIEW has cached the text; then a
second session's PREVIEW and PREVIEW (LAZY) open no message file of a
Maildir and read no byte of an mbox (strace, as t/0461)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, Traced, deliver, value_end  # noqa: E402

MARK = "marker-0495"
HEAD = b"From: a@example.org\nTo: alice@example.org\nSubject: p\nMIME-Version: 1.0\n"
LONG = "\u2713" * 300
MESSAGES = [
    (HEAD + b"\nHello  world,\n\tsecond line.\n", "Hello world, second line."),
    (HEAD + b"Content-Type: text/plain; charset=iso-8859-1\n"
     b"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe, soft=\nbreak\n",
     "Gr\u00fc\u00dfe, softbreak"),
    (HEAD + b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
     b"SGVsbG8g4pyTIHdvcmxk\n", "Hello \u2713 world"),
    (HEAD + b"Content-Type: text/html\n\n<html><head><style>p{}</style></head>"
     b"<body><p>Hi&nbsp;there &amp; <b>you</b></p></body></html>\n", "Hi there & you"),
    (HEAD + b"Content-Type: multipart/alternative; boundary=b\n\n--b\n"
     b"Content-Type: text/html\n\n<p>html</p>\n--b\nContent-Type: text/plain\n\n"
     b"plain \"quoted\" text\n--b--\n", "plain \"quoted\" text"),
    (HEAD + b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/png\n"
     b"Content-Transfer-Encoding: base64\n\niVBORw0K\n--b--\n", ""),
    (HEAD + b"Content-Type: text/plain; charset=utf-8\n\n" + LONG.encode() + b"\n",
     LONG[:256]),
]


def previews(resp):
    """{seq: preview (str, or None for NIL)} of a FETCH response."""
    out = {}
    for m in re.finditer(rb"\* (\d+) FETCH \(.*?PREVIEW ", resp):
        i = m.end()
        j = value_end(resp, i)
        v = resp[i:j]
        if v == b"NIL":
            out[int(m.group(1))] = None
        elif v.startswith(b"{"):
            out[int(m.group(1))] = v[v.index(b"\r\n") + 2:].decode()
        else:
            out[int(m.group(1))] = re.sub(rb'\\(.)', rb"\1", v[1:-1]).decode()
    return out



def message_reads(trace, fmt, md):
    lines = open(trace, errors="replace").read().splitlines()
    at = [i for i, x in enumerate(lines) if MARK in x]
    if not at:
        return None
    lines = lines[at[0] + 1:]
    if fmt == "maildir":
        return [x for x in lines if re.search(r"/(cur|new)/[^/>\"]+[>\"]", x)
                and "O_DIRECTORY" not in x and "stat" not in x]
    inbox = os.path.join(md, "INBOX") + ">"
    return [x for x in lines if re.match(r"(\d+ +)?(p?read|readv|preadv)", x) and inbox in x]


def run(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    n = len(MESSAGES)
    want = {i + 1: w for i, (_, w) in enumerate(MESSAGES)}
    try:
        for i, (msg, _) in enumerate(MESSAGES):
            deliver(env, "alice@example.org", msg, name="%d.M%dP1.prev" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        s = Raw(env, login="alice@example.org")
        t.ok(b" PREVIEW" in s.cmd("CAPABILITY"), "%s: PREVIEW advertised" % fmt)
        s.cmd("SELECT INBOX")
        r = s.cmd("FETCH 1:* (UID PREVIEW (LAZY))")
        t.ok(previews(r) == {i: None for i in want}, "%s: LAZY is NIL before a preview is cached"
             % fmt, r[-300:])
        r = s.cmd("FETCH 1:* (UID PREVIEW)")
        got = previews(r)
        for i in want:
            t.ok(got.get(i) == want[i], "%s: preview of message %d" % (fmt, i),
                 (got.get(i), want[i]))
        t.ok(len(got.get(n, "")) == 256 and got[n].encode().count(b"\xe2") == 256,
             "%s: 256 characters of 3-byte UTF-8, none cut" % fmt)
        r = s.cmd("FETCH 2 PREVIEW (LAZY)")
        t.ok(previews(r) == {2: want[2]}, "%s: FETCH n PREVIEW (LAZY) once cached" % fmt, r)
        r = s.cmd("FETCH 1 (PREVIEW (FOO))")
        t.ok(b" BAD " in r.splitlines()[-1], "%s: unknown preview modifier is BAD" % fmt, r)
        s.close()
        trace = os.path.join(env.dir, "trace-%s-%d" % (fmt, time.time_ns()))
        w = Traced(env, trace)
        w.cmd("SELECT INBOX")
        w.cmd('STATUS "%s" (MESSAGES)' % MARK)
        warm = previews(w.cmd("FETCH 1:* PREVIEW"))
        lazy = previews(w.cmd("FETCH 1:* (PREVIEW (LAZY))"))
        w.cmd("LOGOUT")
        w.close(30)
        t.ok(warm == want and lazy == want, "%s: the warm session answers the same" % fmt,
             (warm, lazy))
        reads = message_reads(trace, fmt, md)
        t.ok(reads == [], "%s: a warm PREVIEW reads no message" % fmt, (reads or [])[:5])
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run(t, fmt)
t.done()
