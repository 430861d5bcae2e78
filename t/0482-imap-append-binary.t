#!/usr/bin/env python3
"""RFC 3516 §4.4: a message APPENDed in a literal8 with parts in
Content-Transfer-Encoding binary (NULs, bare LFs and CRs, 8-bit bytes, a
"From " line) comes back byte for byte in BINARY[part] and
BINARY.SIZE[part], on Maildir and on mbox, in the session that appended it
and in a new one; BODY[part] of such a part is base64 that decodes to the
same bytes (no NUL nor bare LF in it); the other parts and a message
APPENDed in an ordinary literal stay exactly as sent (issue 14 #1,
imaptest's append-binary group)."""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, tagged  # noqa: E402

U = "alice@example.org"
BIN1 = b"\x00-\xe4\n\r\n\n"
BIN2 = bytes(range(256)) + b"\nFrom me\n\r\r\n>From you\r\n" + b"x" * 100 + b"\n"
TEXT = b"hello\r\nworld"
SINGLE = (b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
          b"Mime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: binary\r\n\r\n" + BIN1)
MULTI = (b"From: user@domain.org\r\nSubject: parts\r\nMime-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n"
         b"--b1\r\nContent-Type: text/plain\r\n\r\n" + TEXT + b"\r\n"
         b"--b1\r\nContent-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: BINARY\r\n\r\n" + BIN2 + b"\r\n"
         b"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         b"caf\xc3\xa9\r\n--b1--\r\n")
PLAIN = (b"From: user@domain.org\r\nSubject: not literal8\r\n"
         b"Content-Transfer-Encoding: binary\r\n\r\nline one\r\nline two\r\n")


def literal(r):
    """The bytes of the single literal in a FETCH response."""
    m = re.search(rb"~?\{(\d+)\}\r\n", r)
    return r[m.end():m.end() + int(m.group(1))] if m else None


def binary_of(s, seq, part):
    r = s.cmd("FETCH %d (BINARY.SIZE[%s] BINARY.PEEK[%s])" % (seq, part, part))
    m = re.search(rb"BINARY\.SIZE\[%s\] (\d+)" % part.encode(), r)
    return (int(m.group(1)) if m else None), literal(r), r


def checks(t, s, fmt, when):
    for seq, part, want in ((1, "1", BIN1), (2, "2", BIN2)):
        size, data, r = binary_of(s, seq, part)
        t.ok((size, data) == (len(want), want),
             "%s, %s: BINARY.SIZE[%s] and BINARY[%s] of message %d as appended" % (fmt, when, part, part, seq),
             "got size %r, data %r\nwant size %d, data %r" % (size, data, len(want), want))
        body = literal(s.cmd("FETCH %d BODY.PEEK[%s]" % (seq, part)))
        decoded = base64.b64decode(body) if body and re.fullmatch(rb"[A-Za-z0-9+/=\r\n]*", body) else None
        t.ok(decoded == want, "%s, %s: BODY[%s] of message %d is base64 of it" % (fmt, when, part, seq),
             repr(body))
    t.eq(literal(s.cmd("FETCH 2 BODY.PEEK[1]")), TEXT, "%s, %s: the text part before is kept" % (fmt, when))
    t.eq(literal(s.cmd("FETCH 2 BODY.PEEK[3]")), b"caf\xc3\xa9", "%s, %s: the 8bit part after is kept" % (fmt, when))
    t.eq(literal(s.cmd("FETCH 3 BODY.PEEK[]")), PLAIN,
         "%s, %s: an ordinary literal is stored as sent" % (fmt, when))


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    env = yubin.Env(conf={"mailbox_format": "mbox"} if fmt == "mbox" else None)
    sessions = []
    try:
        s = Raw(env, login=U)
        sessions.append(s)
        for data, lit in ((SINGLE, b"~{%d+}"), (MULTI, b"~{%d}"), (PLAIN, b"{%d+}")):
            if lit == b"~{%d}":
                s.send(b"a APPEND INBOX ~{%d}\r\n" % len(data))
                cont = s.read_response(None)
                t.ok(cont.startswith(b"+"), "%s: go-ahead for a synchronising literal8" % fmt, cont)
                s.send(data + b"\r\n")
                r = s.read_response("a")
            else:
                r = s.cmd(b"APPEND INBOX " + lit % len(data) + b"\r\n" + data)
            t.ok(tagged(r).split()[1:2] == [b"OK"], "%s: APPEND answered OK" % fmt, r)
        s.cmd("SELECT INBOX")
        checks(t, s, fmt, "same session")
        s2 = Raw(env, login=U)
        sessions.append(s2)
        s2.cmd("EXAMINE INBOX")
        checks(t, s2, fmt, "new session")
    finally:
        close_all(sessions)
        env.cleanup()
t.done()
