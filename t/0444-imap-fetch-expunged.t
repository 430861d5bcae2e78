#!/usr/bin/env python3
"""FETCH and STORE of a message another session expunged, before this
session was told (RFC 2180 §4.1): Maildir keeps the message readable for
a session that read it (the session holds the file open from its first
read), so FETCH gives its real BODY[], ENVELOPE, BODYSTRUCTURE,
INTERNALDATE (an APPEND date, not the file name's) and RFC822.SIZE,
answered OK, and STORE applies to the still visible message, OK; the next
NOOP reports the EXPUNGE. A Maildir session that never read the message
(SELECT opens no message file) answers NO [EXPUNGEISSUED] and sends
nothing made up for it (RFC 2180 §4.1.2). mbox keeps it readable for
both: the session holds the replaced mbox file its unreported expunged
messages are in (lib/store-mbox.c)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, append_ok  # noqa: E402

U = "alice@example.org"
MSG = (b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: going away\r\n"
       b"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=xx\r\n\r\n--xx\r\n"
       b"Content-Type: text/plain\r\n\r\nfirst part\r\n--xx\r\nContent-Type: text/html\r\n\r\n"
       b"<p>second</p>\r\n--xx--\r\n")
ITEMS = "(UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[] BODY.PEEK[2])"
t = yubin.TAP()
sessions = []


def session(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def fetch_line(resp):
    """The FETCH response of message 1 (its literals inline) without its
    FLAGS, or None."""
    m = re.search(rb"\* 1 FETCH \(.*?\)\r\n(?=(?:\* |t\d+ ))", resp, re.S)
    return re.sub(rb"FLAGS \([^)]*\) ", b"", m.group(0), count=1) if m else None


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    try:
        a, b = session(env), session(env)
        append_ok(a, "INBOX", MSG, b'"01-Feb-2021 08:30:00 +0100" ')
        append_ok(a, "INBOX", b"Subject: stays\r\n\r\nhere\r\n")
        a.cmd("SELECT INBOX")
        before = fetch_line(a.cmd("FETCH 1 " + ITEMS))
        t.ok(before is not None and MSG in before and b'INTERNALDATE "01-Feb-2021' in before,
             "%s: FETCH before the EXPUNGE" % fmt, before)
        # a second reader that never read the message before it went
        c = session(env)
        c.cmd("SELECT INBOX")
        b.cmd("SELECT INBOX")
        r = b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)") + b.cmd("EXPUNGE")
        assert b"* 1 EXPUNGE" in r, r
        for who, s in (("the session that read it", a), ("a session that never read it", c)):
            # FLAGS: FETCH looks at the mailbox again first
            r = s.cmd("FETCH 1 (FLAGS " + ITEMS[1:])
            line = fetch_line(r)
            t.ok(line is None or line == before,
                 "%s: %s: FETCH after another session's EXPUNGE makes nothing up" % (fmt, who),
                 "before: %r\nafter:  %r" % (before, r))
            if fmt == "maildir" and s is c:
                t.ok(line is None and tagged(r).split()[1:3] == [b"NO", b"[EXPUNGEISSUED]"],
                     "%s: %s: FETCH answers NO [EXPUNGEISSUED], no data" % (fmt, who), r)
            else:
                t.ok(line == before and tagged(r).split()[1] == b"OK",
                     "%s: %s: FETCH gives the real data, OK" % (fmt, who), r)
        r = a.cmd("STORE 1 +FLAGS (\\Flagged)")
        t.ok(tagged(r).split()[1] == b"OK" and
             re.search(rb"\* 1 FETCH \(FLAGS \([^)]*\\Flagged", r),
             "%s: STORE on it applies to the message still shown, OK" % fmt, r)
        r = a.cmd("NOOP")
        t.ok(b"* 1 EXPUNGE" in r and tagged(r).endswith(b"OK NOOP completed"),
             "%s: the next NOOP reports the EXPUNGE" % fmt, r)
        r = a.cmd("FETCH 1 (BODY.PEEK[])")
        t.ok(b"stays" in r and tagged(r).split()[1] == b"OK",
             "%s: message 1 is now the one that stays" % fmt, r)
    finally:
        close_all(sessions)
        env.cleanup()


check("maildir")
check("mbox")
t.done()
