#!/usr/bin/env python3
"""SORT and THREAD on awkward headers, with the answers Dovecot 2.3 gives
on the same messages: empty and missing subjects and From fields, a group
as the first address, a source route, RFC 2047 and raw UTF-8 names and
subjects compared in i;unicode-casemap form (RFC 5051: "été" and "ÉTÉ"
are equal, and sort as "ETE" before "X"), "Fwd: Re: [a] [b] x" as base
subject "x", In-Reply-To with a trailing comment holding another <id>, a
References: with an id without "@" (ignored, as Dovecot does) and a
Message-ID used twice. On Maildir and mbox."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()

HEADERS = [
    b"From: undisclosed-recipients:;\r\nTo: g: a@b, c@d;\r\n",
    b"Subject: \r\nFrom: <@route:x@y>\r\n",
    b"Subject: Re:\r\nFrom: =?utf-8?q?=C3=89mile?= <e@x>\r\n",
    b"Subject: =?utf-8?q?=C3=A9t=C3=A9?=\r\nFrom: Zoe <z@x>\r\n",
    b"Subject: \xc3\x89T\xc3\x89\r\nFrom: \xc3\xa9mile <e2@x>\r\n",
    b"Subject: Fwd: Re: [a] [b] x\r\nFrom: (comment only)\r\nMessage-ID: <q@x>\r\n",
    b"Subject: [a] [b] x\r\nIn-Reply-To: <q@x> (from someone <r@x>)\r\n",
    b"Subject: x\r\nReferences: <q@x> <nope> <zz@x>\r\n",
    b"Subject: Re: Re: x\r\nMessage-ID: <q@x>\r\n",
]
MSGS = [b"Date: Wed, 1 Jan 2020 00:00:0%d +0000\r\n" % i + h + b"\r\nx\r\n"
        for i, h in enumerate(HEADERS)]

# Dovecot 2.3.19's answers on these messages
CASES = [
    ("SORT (SUBJECT) UTF-8 ALL", "* SORT 1 2 3 4 5 6 7 8 9"),
    ("SORT (FROM) UTF-8 ALL", "* SORT 6 7 8 9 3 5 1 2 4"),
    ("SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 6 7 8 9 3 5 1 2 4"),
    ("SORT (TO) UTF-8 ALL", "* SORT 2 3 4 5 6 7 8 9 1"),
    ("SORT (DISPLAYTO) UTF-8 ALL", "* SORT 2 3 4 5 6 7 8 9 1"),
    ("SORT (CC) UTF-8 ALL", "* SORT 1 2 3 4 5 6 7 8 9"),
    ("SORT (DATE) UTF-8 ALL", "* SORT 1 2 3 4 5 6 7 8 9"),
    ("THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (1 (2)(3))(4 5)(6 (7)(8)(9))"),
    ("THREAD REFERENCES UTF-8 ALL", "* THREAD (1)(2)(3)((4)(5))((6 (7)(8))(9))"),
]


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        for m in MSGS:
            append_ok(s, "INBOX", m)
        s.cmd("SELECT INBOX")
        for cmd, want in CASES:
            r = s.cmd(cmd)
            got = [x.decode() for x in r.split(b"\r\n") if x.startswith(b"* SORT") or
                   x.startswith(b"* THREAD")]
            t.ok(tagged(r).split()[1] == b"OK" and got == [want], "%s: %s -> %s" % (fmt, cmd, want),
                 "got %r" % got)
    finally:
        s.close()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
