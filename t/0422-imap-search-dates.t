#!/usr/bin/env python3
"""imap-session SEARCH dates (RFC 9051 §6.4.4, §9): SENTBEFORE/SENTON/
SENTSINCE use the date written in the Date: header, its time and zone
disregarded; a message without a parseable Date: matches no SENT* key (as
Dovecot 2.3), never by its arrival date. A search date that does not exist
(31-Feb, 29-Feb of a common year, day 0 or 32, a bad month name) is BAD,
never rolled over; month names in any case are valid. Covers S30 (bad
input answered BAD, the session goes on)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

ARRIVAL = "10-Mar-2025 12:00:00 +0000"
# (Date: header or None, what the test calls it); sequence numbers 1..n
MESSAGES = [
    (None, "no Date: field"),
    (b"Mon, 10 Mar 2025 09:00:00 +0000", "plain UTC date"),
    (b"next tuesday after lunch", "unparseable Date:"),
    (b"Sun, 9 Mar 2025 23:30:00 -0800", "9 Mar in -0800 (10 Mar in UTC)"),
    (b"Tue, 11 Mar 2025 00:30:00 +1400", "11 Mar in +1400 (10 Mar in UTC)"),
    (b"Fri, 31 Feb 2025 10:00:00 +0000", "31 Feb: a day that does not exist"),
    (b"(sent from a phone) 10 March 25 12:00 GMT", "obsolete form: comment, month name, 2-digit year"),
    (b"", "empty Date: field"),
]

t = yubin.TAP()
# many BAD answers in one session: more than the default allows
env = yubin.Env(conf={"max_bad_commands": "1000"})
raw = None


def found(resp):
    m = re.search(rb"\* SEARCH([ \d]*)\r\n", resp)
    return m.group(1).decode().split() if m else None


try:
    raw = Raw(env, login="alice@example.org")
    for i, (date, _) in enumerate(MESSAGES):
        msg = b"From: bob@example.org\r\nSubject: dated %d\r\n" % (i + 1)
        if date is not None:
            msg += b"Date: " + date + b"\r\n"
        msg += b"\r\nbody\r\n"
        r = raw.cmd(b'APPEND INBOX "%s" {%d+}\r\n%s' % (ARRIVAL.encode(), len(msg), msg))
        t.ok(b" OK " in tagged(r), "APPEND message %d (%s)" % (i + 1, MESSAGES[i][1]), r)
    r = raw.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % len(MESSAGES) in r, "all messages selected", r)
    all_seqs = [str(i + 1) for i in range(len(MESSAGES))]
    dated = ["2", "4", "5", "7"]

    cases = [
        ("SENTON 10-Mar-2025", ["2", "7"], "the written date, not the arrival date"),
        ("SENTON 9-Mar-2025", ["4"], "-0800: the sender's day, not UTC's 10 Mar"),
        ("SENTON 11-Mar-2025", ["5"], "+1400: the sender's day, not UTC's 10 Mar"),
        ("SENTBEFORE 10-Mar-2025", ["4"], "SENTBEFORE is strictly before"),
        ("SENTSINCE 11-Mar-2025", ["5"], "SENTSINCE includes the day"),
        ("SENTSINCE 1-Jan-1970", dated, "no Date:, unparseable or impossible Date: match no SENTSINCE"),
        ("SENTBEFORE 1-Jan-2100", dated, "... nor SENTBEFORE"),
        ("OR SENTON 10-Mar-2025 OR SENTON 9-Mar-2025 SENTON 11-Mar-2025", dated,
         "... nor any SENTON"),
        ("NOT SENTSINCE 1-Jan-1970", ["1", "3", "6", "8"], "NOT SENT* matches messages without a sent date"),
        ("ON 10-Mar-2025", all_seqs, "ON uses INTERNALDATE for every message"),
        ("BEFORE 10-Mar-2025", [], "BEFORE is strictly before the arrival day"),
        ("SINCE 11-Mar-2025", [], "SINCE after the arrival day finds nothing"),
        ("SINCE 10-Mar-2025 SENTBEFORE 10-Mar-2025", ["4"], "arrival and sent dates combined"),
        ("SINCE 1-jan-2025", all_seqs, "a lower-case month name is valid"),
        ("SINCE 1-JAN-2025", all_seqs, "an upper-case month name is valid"),
        ('SINCE "01-Jan-2025"', all_seqs, "a quoted date with a 2-digit day"),
        ("SENTSINCE 29-Feb-2024", dated, "29-Feb of a leap year is a date"),
        ("SENTBEFORE 29-Feb-2000", [], "29-Feb-2000 (leap: divisible by 400) is a date"),
        ("SENTBEFORE 31-Dec-9999", dated, "the last 4-digit year"),
    ]
    for key, want, why in cases:
        r = raw.cmd("SEARCH " + key)
        t.ok(b" OK " in tagged(r) and found(r) == want, "SEARCH %s: %s" % (key, why),
             "want %s\n%r" % (want, r))
    r = raw.cmd("UID SEARCH SENTON 10-Mar-2025")
    t.eq(found(r), ["2", "7"], "UID SEARCH SENTON (UIDs 1.. in a new folder)")

    bad = [
        ("31-Feb-2025", "31 February does not exist (was read as 3 March)"),
        ("30-Feb-2024", "30 February does not exist in a leap year either"),
        ("29-Feb-2025", "29 February of a common year"),
        ("29-Feb-1900", "29 February 1900 (divisible by 100, not by 400)"),
        ("31-Apr-2025", "31 April"),
        ("0-Jan-2025", "day 0"),
        ("00-Jan-2025", "day 00"),
        ("32-Jan-2025", "day 32"),
        ("1-Foo-2025", "an unknown month name"),
        ("1-January-2025", "a full month name"),
        ("1-Ja-2025", "a short month name"),
        ("1-Jan-25", "a 2-digit year"),
        ("1-Jan-20255", "a 5-digit year"),
        ("1-Jan-0000", "year 0"),
        ("1-Jan-2025x", "text after the date"),
        ("001-Jan-2025", "a 3-digit day"),
        ('" 1-Jan-2025"', "a space before the day"),
        ("-1-Jan-2025", "a negative day"),
        ("1 Jan 2025", None),
        ('""', "an empty date"),
    ]
    for date, why in bad:
        for key in ("SINCE", "SENTON"):
            arg = date if why is not None else '"%s"' % date
            r = raw.cmd("SEARCH %s %s" % (key, arg))
            t.ok(tagged(r).split(b" ")[1:2] == [b"BAD"] and found(r) is None,
                 "S30: SEARCH %s %s is BAD: %s" % (key, arg, why or "spaces, not dashes"), r)
    r = raw.cmd("SEARCH SENTON 10-Mar-2025")
    t.eq(found(r), ["2", "7"], "the session goes on after BAD dates")
finally:
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
