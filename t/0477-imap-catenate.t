#!/usr/bin/env python3
"""CATENATE (RFC 4469) on Maildir and mbox: an APPEND whose message is made
of TEXT literals and IMAP URLs (RFC 5092) of messages, or parts of them,
the user already has.

- RFC 4469 Appendix A, first example: a draft's header, its first part's
  MIME header and body and a second message catenated between new
  boundary lines give the exact bytes, a two-part multipart/mixed.
- Its second example: a URL naming a message expunged since answers
  NO [BADURL url] with the URL as sent, and nothing is stored.
- URLs into a mailbox that is not selected, into the selected one (also a
  message appended after the last look), ;PARTIAL=, HEADER.FIELDS.
- Refused with NO [BADURL]: a wrong UIDVALIDITY, an unknown mailbox or
  UID, a part that does not exist, absolute URLs of another user or host,
  URLAUTH, a malformed URL; an absolute URL of this user and host works.
- NO [TOOBIG] when a message made would pass max_message_size, or when
  the URLs of one command would add more than that in all.
- A failing part stores nothing, within MULTIAPPEND too; BAD for a
  malformed CATENATE list; NO [TRYCREATE] before any URL is looked at."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

U = "alice@example.org"
HOST = "mx.example.org"  # yubin.Env's hostname
B = b"------------030308070208000400050907"
t = yubin.TAP()

DRAFT = (b"From: Alice <alice@example.org>\r\n"
         b"To: Bob <bob@example.org>\r\n"
         b"Subject: Draft with an attachment\r\n"
         b"MIME-Version: 1.0\r\n"
         b'Content-Type: multipart/mixed; boundary="' + B + b'"\r\n'
         b"\r\n"
         b"This is a multi-part message in MIME format.\r\n"
         b"--" + B + b"\r\n"
         b"Content-Type: text/plain; charset=us-ascii\r\n"
         b"Content-Transfer-Encoding: 7bit\r\n"
         b"\r\n"
         b"Hello Bob,\r\nthe report follows.\r\n"
         b"--" + B + b"--\r\n")
ATTACHMENT = (b"Content-Type: application/octet-stream; name=\"report.bin\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n"
              b"\r\n"
              b"AAECAwQFBgcICQ==\r\n")


def catenate(box, parts, pre=b""):
    """APPEND box [pre] CATENATE (...) with LITERAL+ literals; parts are
    (b"TEXT", bytes) or (b"URL", str); more: further messages, each a
    (pre, parts) pair for MULTIAPPEND."""
    return b"APPEND " + box + one(pre, parts)


def one(pre, parts):
    out = b" " + pre + (b" " if pre else b"") + b"CATENATE ("
    items = []
    for kind, v in parts:
        if kind == b"TEXT":
            items.append(b"TEXT {%d+}\r\n" % len(v) + v)
        else:
            items.append(b'URL "' + v.encode() + b'"')
    return out + b" ".join(items) + b")"


def appenduid(r):
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", tagged(r))
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def body(s, box, uid):
    """BODY[] of box's message uid (box selected read-only)."""
    s.cmd("EXAMINE " + box)
    r = s.cmd("UID FETCH %d BODY.PEEK[]" % uid)
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", r)
    return r[m.end():m.end() + int(m.group(1))] if m else None


def count(s, box):
    r = s.cmd("STATUS %s (MESSAGES)" % box)
    m = re.search(rb"MESSAGES (\d+)", r)
    return int(m.group(1)) if m else None


def rfc_examples(fmt, s):
    r = s.cmd(b"APPEND Drafts (\\Seen \\Draft) {%d+}\r\n" % len(DRAFT) + DRAFT)
    dval, d20 = appenduid(r)
    r = s.cmd(b"APPEND Drafts (\\Seen \\Draft) {%d+}\r\n" % len(ATTACHMENT) + ATTACHMENT)
    _, d30 = appenduid(r)
    url = "/Drafts;UIDVALIDITY=%d/;UID=%d" % (dval, d20)
    parts = [(b"URL", url + "/;section=HEADER"),
             (b"TEXT", b"\r\n--" + B + b"\r\n"),
             (b"URL", url + "/;section=1.MIME"),
             (b"URL", url + "/;section=1"),
             (b"TEXT", b"\r\n--" + B + b"\r\n"),
             (b"URL", "/Drafts;UIDVALIDITY=%d/;UID=%d" % (dval, d30)),
             (b"TEXT", b"\r\n--" + B + b"--\r\n")]
    r = s.cmd(catenate(b"Drafts", parts, b"(\\Seen \\Draft $MDNSent)"))
    _, new = appenduid(r)
    t.ok(b" OK " in tagged(r) and new, "%s: RFC 4469 A, first example: OK" % fmt, r)
    head = DRAFT[:DRAFT.index(b"\r\n\r\n") + 4]
    want = (head + b"\r\n--" + B + b"\r\n"
            + b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            + b"Hello Bob,\r\nthe report follows."
            + b"\r\n--" + B + b"\r\n" + ATTACHMENT + b"\r\n--" + B + b"--\r\n")
    got = body(s, "Drafts", new or 0)
    t.eq(got, want, "%s: its message, byte for byte" % fmt)
    r = s.cmd("UID FETCH %d (FLAGS BODYSTRUCTURE)" % (new or 0))
    t.ok(re.search(rb'BODYSTRUCTURE \(\("text" "plain".*\)\("application" "octet-stream".*\) "mixed"', r)
         and b"$MDNSent" in r and b"\\Draft" in r, "%s: two parts, its flags" % fmt, r)
    # the second example: a URL to a message expunged since
    r = s.cmd(b"APPEND INBOX {%d+}\r\n" % len(ATTACHMENT) + ATTACHMENT)
    ival, iuid = appenduid(r)
    s.cmd("SELECT INBOX")
    s.cmd("UID STORE %d +FLAGS (\\Deleted)" % iuid)
    s.cmd("EXPUNGE")
    gone = "/INBOX;UIDVALIDITY=%d/;UID=%d/;section=1" % (ival, iuid)
    before = count(s, "Drafts")
    parts = [(b"URL", url + "/;section=HEADER"), (b"TEXT", b"\r\n--" + B + b"\r\n"),
             (b"URL", gone), (b"TEXT", b"\r\n--" + B + b"--\r\n")]
    r = s.cmd(catenate(b"Drafts", parts))
    t.ok(tagged(r).split()[1:3] == [b"NO", b"[BADURL"] and
         (b"[BADURL " + gone.encode() + b"]") in tagged(r) and count(s, "Drafts") == before,
         "%s: RFC 4469 A, second example: NO [BADURL url], nothing stored" % fmt, r)
    return dval, d20, d30


def urls(fmt, s, dval, d20, d30):
    # the mailbox selected, a message appended after the last look
    s.cmd("SELECT Drafts")
    r = s.cmd(b"APPEND Drafts {%d+}\r\n" % len(ATTACHMENT) + ATTACHMENT)
    _, late = appenduid(r)
    r = s.cmd(catenate(b"INBOX", [(b"TEXT", b"Subject: late\r\n\r\n"),
                                  (b"URL", "/Drafts/;UID=%d/;SECTION=TEXT" % late)]))
    _, u = appenduid(r)
    t.eq(body(s, "INBOX", u or 0), b"Subject: late\r\n\r\nAAECAwQFBgcICQ==\r\n",
         "%s: URL to the selected mailbox, a UID it has not seen yet" % fmt)
    # not selected; ;PARTIAL=; HEADER.FIELDS percent-encoded; UTF-8 name
    s.cmd("UNSELECT")
    s.cmd('CREATE "&ZeVnLIqe-"')
    s.cmd(b'APPEND "&ZeVnLIqe-" {%d+}\r\n' % len(DRAFT) + DRAFT)
    parts = [(b"URL", "/Drafts;UIDVALIDITY=%d/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT%%20TO)" % (dval, d20)),
             (b"TEXT", b"\r\n"),
             (b"URL", "/Drafts/;UID=%d/;SECTION=1/;PARTIAL=6.3" % d20),
             (b"URL", "/%E6%97%A5%E6%9C%AC%E8%AA%9E/;UID=1/;SECTION=1/;PARTIAL=100000.5"),
             (b"TEXT", b"\r\n")]
    r = s.cmd(catenate(b"INBOX", parts))
    _, u = appenduid(r)
    t.eq(body(s, "INBOX", u or 0),
         b"To: Bob <bob@example.org>\r\nSubject: Draft with an attachment\r\n\r\n\r\nBob\r\n",
         "%s: unselected mailbox, HEADER.FIELDS, PARTIAL, a UTF-8 name" % fmt)
    s.cmd("UNSELECT")
    absolute = "imap://%s@%s/Drafts/;UID=%d/;SECTION=1" % (U.replace("@", "%40"), HOST, d20)
    r = s.cmd(catenate(b"INBOX", [(b"TEXT", b"Subject: abs\r\n\r\n"), (b"URL", absolute),
                                  (b"TEXT", b"\r\n")]))
    _, u = appenduid(r)
    t.eq(body(s, "INBOX", u or 0), b"Subject: abs\r\n\r\nHello Bob,\r\nthe report follows.\r\n",
         "%s: an absolute URL of this user and server" % fmt)


def refused(fmt, s, dval, d20):
    before = count(s, "INBOX")
    bad = [
        ("/Drafts;UIDVALIDITY=%d/;UID=%d" % (dval + 1, d20), "a wrong UIDVALIDITY"),
        ("/Nowhere/;UID=1", "an unknown mailbox"),
        ("/Drafts/;UID=999", "an unknown UID"),
        ("/Drafts/;UID=%d/;SECTION=7" % d20, "a part that does not exist"),
        ("imap://bob%%40example.org@%s/INBOX/;UID=1" % HOST, "another user"),
        ("imap://%s@other.example/Drafts/;UID=%d" % (U.replace("@", "%40"), d20), "another host"),
        ("/Drafts/;UID=%d;URLAUTH=anonymous:internal:00" % d20, "URLAUTH"),
        ("/Drafts;UID=%d" % d20, "a malformed URL"),
        ("/../bob/;UID=1", "a name climbing out of the user's mailboxes (S33)"),
        ("/%2E%2E/%2E%2E/example.org/bob/INBOX/;UID=1", "the same, percent-encoded"),
    ]
    for url, what in bad:
        r = s.cmd(catenate(b"INBOX", [(b"TEXT", b"Subject: no\r\n\r\n"), (b"URL", url)]))
        t.ok(tagged(r).split()[1:3] == [b"NO", b"[BADURL"] and count(s, "INBOX") == before,
             "%s: %s: NO [BADURL], nothing stored" % (fmt, what), r)
    # MULTIAPPEND: the second message's URL fails, the first is not stored
    good = (b"", [(b"TEXT", b"Subject: first\r\n\r\nbody\r\n")])
    failing = (b"", [(b"URL", "/Drafts/;UID=999")])
    r = s.cmd(b"APPEND INBOX" + one(*good) + one(*failing))
    t.ok(b"NO [BADURL" in tagged(r) and count(s, "INBOX") == before,
         "%s: MULTIAPPEND with a failing part stores nothing" % fmt, r)
    r = s.cmd(b"APPEND INBOX" + one(*good) + b" {5+}\r\nx: y\n" + one(*good))
    t.ok(b" OK [APPENDUID" in tagged(r) and count(s, "INBOX") == before + 3,
         "%s: MULTIAPPEND mixing CATENATE and literals" % fmt, r)
    for cmd, what in [(b"APPEND INBOX CATENATE ()", "an empty list"),
                      (b"APPEND INBOX CATENATE (TEXT)", "TEXT without a literal"),
                      (b'APPEND INBOX CATENATE (TEXT "quoted")', "TEXT with a quoted string"),
                      (b'APPEND INBOX CATENATE (FOO "/Drafts/;UID=1")', "an unknown part"),
                      (b"APPEND INBOX CATENATE", "no list")]:
        r = s.cmd(cmd)
        t.ok(tagged(r).split()[1:2] == [b"BAD"], "%s: %s: BAD" % (fmt, what), r)
    r = s.cmd(catenate(b"Nowhere", [(b"TEXT", b"a: b\r\n\r\n"), (b"URL", "/Drafts;UIDVALIDITY=1/;UID=1")]))
    t.ok(b"NO [TRYCREATE]" in tagged(r), "%s: TRYCREATE before the URL is looked at" % fmt, r)


def binary_text(fmt, s):
    """TEXT ~{n} (BINARY, RFC 3516): a binary part comes back as sent."""
    head = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    raw = b"\x00\x01\n\x02\r\x03"
    tail = b"\r\n--b--\r\n"
    r = s.cmd(b"APPEND INBOX CATENATE (TEXT {%d+}\r\n" % len(head) + head +
              b" TEXT ~{%d+}\r\n" % len(raw) + raw + b" TEXT {%d+}\r\n" % len(tail) + tail + b")")
    _, u = appenduid(r)
    s.cmd("EXAMINE INBOX")
    r = s.cmd("UID FETCH %d (BINARY.SIZE[1] BINARY.PEEK[1])" % (u or 0))
    t.ok(b"BINARY.SIZE[1] 6 BINARY[1] ~{6}\r\n" + raw + b")" in r,
         "%s: TEXT literal8 with a binary part: byte for byte" % fmt, r)
    s.cmd("UNSELECT")


def toobig(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt, "max_message_size": "3000"})
    s = Raw(env, login=U)
    try:
        big = b"Subject: big\r\n\r\n" + b"x" * 1900 + b"\r\n"
        r = s.cmd(b"APPEND INBOX {%d+}\r\n" % len(big) + big)
        _, uid = appenduid(r)
        url = "/INBOX/;UID=%d" % uid
        r = s.cmd(catenate(b"INBOX", [(b"URL", url), (b"TEXT", b"\r\n" + b"y" * 1200)]))
        t.ok(b"NO [TOOBIG]" in tagged(r) and count(s, "INBOX") == 1,
             "%s: a message made over max_message_size: NO [TOOBIG]" % fmt, r)
        # each under the limit, their URLs together over it
        m = (b"", [(b"URL", url)])
        r = s.cmd(b"APPEND INBOX" + one(*m) + one(*m))
        t.ok(b"NO [TOOBIG]" in tagged(r) and count(s, "INBOX") == 1,
             "%s: URLs of one command over the limit in all: NO [TOOBIG]" % fmt, r)
        r = s.cmd(b"APPEND INBOX" + one(*m))
        t.ok(b" OK " in tagged(r) and count(s, "INBOX") == 2, "%s: one of them fits" % fmt, r)
    finally:
        s.close()
        env.cleanup()


for fmt in ("maildir", "mbox"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        r = s.cmd("CAPABILITY")
        t.ok(b" CATENATE" in r, "%s: CATENATE advertised" % fmt, r)
        dval, d20, d30 = rfc_examples(fmt, s)
        urls(fmt, s, dval, d20, d30)
        binary_text(fmt, s)
        refused(fmt, s, dval, d20)
    finally:
        s.close()
        env.cleanup()
    toobig(fmt)
t.done()
