#!/usr/bin/env python3
"""Switching from Courier keeps what POP3 clients know (issue 13). Courier's
pop3d numbers messages in its own courierpop3dsizelist (not in
courierimapuiddb) and answers UIDL "UID<n>-<uidv>" from it. yubin's
pop3-session on a Maildir Courier left:
  - first login through POP3: Courier's UIDL for every message its pop3d
    knew; a message it did not know, and one delivered later, get
    "UID<uid>-<uidvalidity>" from yubin's UIDs (Courier's IMAP UIDs taken
    over), distinct and stable across sessions;
  - IMAP looked first: the same;
  - a POP3-only Courier user (no courierimapuiddb): Courier's UIDLs too;
  - a courierpop3dsizelist not of its format: file-name UIDLs, no guess.

The courierimapuiddb and courierpop3dsizelist files here are HAND-MADE,
written from the formats Courier-IMAP's sources use (courierpop3dsizelist
version 3: "/3 <next n> <uidv>", then "<file name> <size> <n>:<uidv>:<utf8>"
a line; courierimapuiddb version 1 as in t/0476), not by a running Courier.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv(conf={"auth_fail_delay_ms": "10"})
PASS = yubin.DEMO_PASSWORD.encode()
IMAP_V = 796677000   # Courier's IMAP UIDVALIDITY
POP_V = 1796000000   # Courier's pop3d uidv, its own


def message(i):
    return b"From: bob@example.org\nSubject: c%d\n\nbody of %d\n" % (i, i)


def make_inbox(user, msgs, uiddb, sizelist):
    """msgs: [(i, base, info)] in cur/; the two Courier files (None: none)."""
    d = env.maildir(user)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for i, base, info in msgs:
        with open(os.path.join(d, "cur", "%s,S=%d%s" % (base, len(message(i)), info)), "wb") as f:
            f.write(message(i))
    for name, text in (("courierimapuiddb", uiddb), ("courierpop3dsizelist", sizelist)):
        if text is not None:
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
    env.write_conf()   # as root: lets run_as (nobody) write there


def name(i, base, info=""):
    return "%s,S=%d%s" % (base, len(message(i)), info)


def pop3_view(user):
    """{subject: uidl} through yubin's POP3."""
    login = b"USER %s\r\nPASS %s\r\n" % (user.encode(), PASS)
    out = env.run("pop3-session", login + b"UIDL\r\nQUIT\r\n").stdout
    uidl = dict((int(n), u.decode()) for n, u in re.findall(rb"^(\d+) (\S+)\r$", out, re.M))
    t.ok(uidl or b"+OK" in out, "POP3 session of %s" % user, out)
    tops = b"".join(b"TOP %d 0\r\n" % n for n in sorted(uidl))
    out = env.run("pop3-session", login + tops + b"QUIT\r\n").stdout
    subjects = re.findall(rb"^Subject: (\S+)\r$", out, re.M)
    return {s.decode(): uidl[n + 1] for n, s in enumerate(subjects)}


def deliver(user, i):
    out = env.run("smtp-session",
                  b"EHLO c.example.org\r\nMAIL FROM:<bob@example.org>\r\n"
                  b"RCPT TO:<%s>\r\nDATA\r\n%s.\r\nQUIT\r\n"
                  % (user.encode(), message(i).replace(b"\n", b"\r\n")))
    assert yubin.smtp_replies(out.stdout)[5].startswith(b"250"), out.stdout


def imap_select(user):
    sessions = []
    try:
        s = Raw(env, login=user)
        sessions.append(s)
        r = s.cmd("SELECT INBOX")
        s.cmd("LOGOUT")
        return int(re.search(rb"\[UIDVALIDITY (\d+)\]", r).group(1))
    finally:
        close_all(sessions)


B = ["1796600001.M1P10.mail.example.org", "1796600002.M2P10.mail.example.org",
     "1796600003.M3P10.mail.example.org", "1796600009.M9P10.mail.example.org"]
MSGS = [(1, B[0], ":2,S"), (2, B[1], ":2,FS"), (3, B[2], ":2,"), (4, B[3], ":2,")]
UIDDB = "1 %d 8\n2 %s\n5 %s\n7 %s\n" % (IMAP_V, name(1, B[0]), name(2, B[1]), name(3, B[2]))
# Courier's pop3d knew the first three (numbered 1, 2, 4: one it knew is gone)
SIZELIST = "/3 5 %d\n%s 40 1:%d:0\n%s 40 2:%d:0\n%s 40 4:%d:0\n" % (
    POP_V, name(1, B[0], ":2,S"), POP_V, name(2, B[1], ":2,FS"), POP_V, name(3, B[2]), POP_V)
COURIER = {"c1": "UID1-%d" % POP_V, "c2": "UID2-%d" % POP_V, "c3": "UID4-%d" % POP_V}

# ---- first login through POP3 ----
C = "carol@example.org"
make_inbox(C, MSGS, UIDDB, SIZELIST)
y1 = pop3_view(C)
t.diag("yubin's POP3 UIDLs: %r" % y1)
t.eq({s: y1.get(s) for s in COURIER}, COURIER, "first POP3 login: Courier's pop3d UIDLs")
t.eq(y1.get("c4"), "UID8-%d" % IMAP_V,
     "a message Courier's pop3d did not know: UID<uid>-<uidvalidity> from the IMAP takeover")
deliver(C, 5)
y2 = pop3_view(C)
t.eq({s: y2.get(s) for s in y1}, y1, "second session: the same UIDLs")
t.eq(y2.get("c5"), "UID9-%d" % IMAP_V, "a new delivery: the next UID, same scheme")
t.eq(len(set(y2.values())), len(y2), "every UIDL distinct")
t.eq(pop3_view(C), y2, "third session: stable")
t.eq(imap_select(C), IMAP_V, "IMAP after POP3's takeover: Courier's UIDVALIDITY")

# ---- IMAP looked first ----
A = "alice@example.org"
make_inbox(A, MSGS, UIDDB, SIZELIST)
t.eq(imap_select(A), IMAP_V, "alice: IMAP takes Courier's UIDVALIDITY")
y = pop3_view(A)
t.eq({s: y.get(s) for s in COURIER}, COURIER, "IMAP first, then POP3: Courier's pop3d UIDLs")
t.eq(y.get("c4"), "UID8-%d" % IMAP_V, "... and yubin's UID for the one it did not know")

# ---- a POP3-only Courier user: no courierimapuiddb ----
Bo = "bob@example.org"
make_inbox(Bo, MSGS, None, SIZELIST)
y = pop3_view(Bo)
t.eq({s: y.get(s) for s in COURIER}, COURIER, "POP3-only Courier user: Courier's UIDLs")
m = re.fullmatch(r"UID(\d+)-(\d+)", y.get("c4", ""))
t.ok(m is not None and int(m.group(2)) > POP_V,
     "... a fresh UIDVALIDITY past Courier's for the one it did not know", y)

# ---- a courierpop3dsizelist not of its format ----
D = "demo@localhost"
make_inbox(D, MSGS, UIDDB, SIZELIST.replace(" 2:%d:0" % POP_V, " 2;%d:0" % POP_V))
y = pop3_view(D)
t.eq(y, {"c%d" % i: b for i, b, _ in MSGS}, "a malformed courierpop3dsizelist: file-name UIDLs")
t.ok(not os.path.exists(os.path.join(env.maildir(D), "yubin-pop3-uidl")), "... no scheme recorded")
t.done()
