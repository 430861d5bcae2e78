#!/usr/bin/env python3
"""SORT and UID SORT (RFC 5256 §3) with SORT=DISPLAY's keys (RFC 5957)
and ESORT's RETURN options (RFC 5267 §3), on Maildir and mbox: every key,
REVERSE, several keys, ties broken by sequence number (REVERSE does not
turn those round), a sent date that falls back to INTERNALDATE, RFC 5256
base subjects, the search program choosing the messages, UIDs, errors.
Expected orders are worked out by hand from the messages below."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()

# (INTERNALDATE, message)
MSGS = [
    ("03-Jan-2020 00:00:00 +0000",
     b"Date: Thu, 2 Jan 2020 10:00:00 +0000\r\nFrom: \"Zed\" <bob@x.example>\r\n"
     b"To: carl@x.example\r\nSubject: Re: beta\r\n\r\n" + b"x" * 300 + b"\r\n"),
    ("01-Jan-2020 00:00:00 +0000",
     b"Date: Thu, 2 Jan 2020 12:00:00 +0200\r\nFrom: alice@x.example\r\n"
     b"To: Bea <zoe@x.example>\r\nCc: dan@x.example\r\nSubject: alpha\r\n\r\nx\r\n"),
    ("02-Jan-2020 00:00:00 +0000",
     b"From: amy <Carol@x.example>\r\nCc: Bob@x.example\r\n"
     b"Subject: [list] Fwd: Beta (fwd)\r\n\r\n" + b"x" * 100 + b"\r\n"),
    ("02-Jan-2020 00:00:00 +0000",
     b"Date: Wed, 1 Jan 2020 09:00:00 +0000\r\nFrom: \"\" <Alice@x.example>\r\n"
     b"To: bea@x.example\r\nSubject: ALPHA\r\n\r\n" + b"x" * 200 + b"\r\n"),
]

CASES = [
    ("(ARRIVAL)", "2 3 4 1"),
    ("(REVERSE ARRIVAL)", "1 3 4 2"),       # 3 and 4 tie: sequence order
    ("(DATE)", "4 3 1 2"),                  # 3 has no Date: its INTERNALDATE
    ("(REVERSE DATE)", "1 2 3 4"),          # 1 and 2 are the same instant
    ("(FROM)", "2 4 1 3"),
    ("(REVERSE FROM)", "3 1 2 4"),
    ("(TO)", "3 4 1 2"),
    ("(CC)", "1 4 3 2"),
    ("(SUBJECT)", "2 4 1 3"),
    ("(REVERSE SUBJECT)", "1 3 2 4"),
    ("(DISPLAYFROM)", "2 4 3 1"),
    ("(DISPLAYTO)", "3 2 4 1"),
    ("(SIZE)", "2 3 4 1"),
    ("(REVERSE SIZE)", "1 4 3 2"),
    ("(SUBJECT REVERSE ARRIVAL)", "4 2 1 3"),
    ("(subject reverse date)", "2 4 1 3"),
    ("(SUBJECT) UTF-8 NOT FROM alice", "1 3"),
    ("(SUBJECT) US-ASCII 2:3", "2 3"),
    ("(SUBJECT) UTF-8 SUBJECT nothing", ""),
]


def sort_line(r, what=b"* SORT"):
    lines = [x for x in r.split(b"\r\n") if x.startswith(what)]
    return lines[0][len(what):].strip().decode() if len(lines) == 1 else None


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        r = s.cmd("CAPABILITY")
        caps = r.split(b"\r\n")[0].split()
        t.ok(all(c in caps for c in (b"SORT", b"SORT=DISPLAY", b"ESORT")),
             "%s: SORT, SORT=DISPLAY and ESORT advertised" % fmt, r)
        # a first message expunged: UIDs are sequence numbers plus one
        append_ok(s, "INBOX", b"Subject: gone\r\n\r\nx\r\n")
        for date, m in MSGS:
            append_ok(s, "INBOX", m, b'() "%s" ' % date.encode())
        s.cmd("SELECT INBOX")
        s.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        s.cmd("EXPUNGE")
        for key, want in CASES:
            line = "SORT " + key
            if key.endswith(")"):
                line += " UTF-8 ALL"
            r = s.cmd(line)
            got = sort_line(r)
            t.ok(tagged(r).split()[1] == b"OK" and got == want,
                 "%s: SORT %s -> %s" % (fmt, key, want or "none"), "got %r: %r" % (got, r))
        r = s.cmd("UID SORT (FROM) UTF-8 ALL")
        t.eq(sort_line(r), "3 5 2 4", "%s: UID SORT gives UIDs" % fmt)
        r = s.cmd("UID SORT (FROM) UTF-8 UID 3:4")
        t.eq(sort_line(r), "3 4", "%s: UID SORT with a UID set" % fmt)
        # ESORT
        r = s.cmd("SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL")
        t.ok(re.search(rb"\* ESEARCH \(TAG \"t\d+\"\) MIN 2 MAX 3 COUNT 4\r\n", r) is not None,
             "%s: ESORT MIN and MAX are first and last in sort order" % fmt, r)
        r = s.cmd("SORT RETURN (ALL) (SUBJECT) UTF-8 ALL")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") ALL 2,4,1,3" % s.n,
             "%s: ESORT ALL in sort order" % fmt)
        r = s.cmd("SORT RETURN () (ARRIVAL) UTF-8 ALL")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") ALL 2:4,1" % s.n,
             "%s: ESORT RETURN () is ALL" % fmt)
        r = s.cmd("UID SORT RETURN (MIN COUNT) (REVERSE SIZE) UTF-8 ALL")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") UID MIN 2 COUNT 4" % s.n,
             "%s: UID ESORT" % fmt)
        r = s.cmd("SORT RETURN (COUNT MIN) (SIZE) UTF-8 SUBJECT nothing")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") COUNT 0" % s.n,
             "%s: ESORT of nothing: COUNT 0, no MIN" % fmt)
        t.ok(b"* SORT" not in r, "%s: ESORT sends no SORT" % fmt, r)
        # SAVE (SEARCHRES, RFC 5182) as Dovecot takes it on SORT
        r = s.cmd("SORT RETURN (SAVE) (SUBJECT) UTF-8 2:3")
        t.ok(tagged(r).split()[1] == b"OK" and b"* ESEARCH" not in r and b"* SORT" not in r,
             "%s: SORT RETURN (SAVE) answers nothing" % fmt, r)
        r = s.cmd("SEARCH $")
        t.ok(b"* SEARCH 2 3\r\n" in r, "%s: ... and saves its result" % fmt, r)
        r = s.cmd("SORT RETURN (SAVE MIN) (SUBJECT) UTF-8 ALL")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") MIN 2" % s.n, "%s: SAVE MIN" % fmt)
        r = s.cmd("SORT (REVERSE SUBJECT) UTF-8 OR $ 3")
        t.eq(sort_line(r), "3 2", "%s: SAVE MIN saved the first in sort order" % fmt)
        r = s.cmd("UID SORT RETURN (SAVE ALL MAX) (SUBJECT) UTF-8 1:2")
        t.eq(sort_line(r, b"* ESEARCH"), "(TAG \"t%d\") UID MAX 2 ALL 3,2" % s.n,
             "%s: UID SORT SAVE ALL MAX" % fmt)
        r = s.cmd("UID SEARCH $")
        t.ok(b"* SEARCH 2 3\r\n" in r, "%s: ... saved all, as UIDs" % fmt, r)
        # errors
        for bad in ("SORT (BOGUS) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT () UTF-8 ALL",
                    "SORT (SUBJECT REVERSE) UTF-8 ALL", "SORT SUBJECT UTF-8 ALL",
                    "SORT (SUBJECT) UTF-8", "SORT (SUBJECT)", "SORT (SUBJECT) UTF-8 BOGUS",
                    "SORT RETURN (SAVE2) (SUBJECT) UTF-8 ALL"):
            r = s.cmd(bad)
            t.ok(tagged(r).split()[1] == b"BAD" and b"* SORT" not in r,
                 "%s: %s is BAD" % (fmt, bad), r)
        r = s.cmd("SORT (SUBJECT) X-NO-SUCH-CHARSET ALL")
        t.ok(b" NO [BADCHARSET" in tagged(r), "%s: unknown charset is BADCHARSET" % fmt, r)
        s.cmd("CLOSE")
        r = s.cmd("SORT (SUBJECT) UTF-8 ALL")
        t.ok(tagged(r).split()[1] == b"NO" and b"* SORT" not in r,
             "%s: SORT needs a selected folder" % fmt, r)
    finally:
        s.close()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
