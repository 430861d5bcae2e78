#!/usr/bin/env python3
"""THREAD and UID THREAD (RFC 5256), on Maildir and mbox: RFC 5256's
REFERENCES example "(2)(3 6 (4 23)(44 7 96))" (the search keys choosing
those messages out of 96), ORDEREDSUBJECT, references to messages that
are not there (a dummy parent), In-Reply-To alone, looping and
self-references, duplicate Message-IDs, roots merged by base subject,
and the depth bound of lib/bounds.h (IMAP_THREAD_DEPTH_MAX, 256): a
chain of 300 replies is cut after 257 messages."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def msg(i, subject, mid=None, refs=None, irt=None):
    h = b"Date: Wed, 1 Jan 2020 00:%02d:%02d +0000\r\n" % (i // 60 % 60, i % 60)
    h += b"Subject: " + subject.encode() + b"\r\n"
    if mid:
        h += b"Message-ID: <" + mid.encode() + b"@x.example>\r\n"
    if refs:
        h += b"References: " + b" ".join(b"<%s@x.example>" % r.encode() for r in refs) + b"\r\n"
    if irt:
        h += b"In-Reply-To: <" + irt.encode() + b"@x.example>\r\n"
    return h + b"\r\nbody\r\n"


def rfc_mailbox():
    """96 messages; 2, 3, 4, 6, 7, 23, 44 and 96 make the RFC's threads."""
    special = {
        2: ("two", "m2", None),
        3: ("x", "m3", None),
        6: ("Re: x", "m6", ["m3"]),
        4: ("Re: x", "m4", ["m3", "m6"]),
        23: ("Re: x", "m23", ["m3", "m6", "m4"]),
        44: ("Re: x", "m44", ["m3", "m6"]),
        7: ("Re: x", "m7", ["m3", "m6", "m44"]),
        96: ("Re: x", "m96", ["m3", "m6", "m44", "m7"]),
    }
    out = []
    for i in range(1, 97):
        s, mid, refs = special.get(i, ("filler %d" % i, "f%d" % i, None))
        out.append(msg(i, s, mid, refs))
    return out


SMALL = [
    msg(1, "lost", "a1", ["gone"]),            # parent not here: a dummy ...
    msg(2, "lost too", "a2", ["gone"]),        # ... with two children
    msg(3, "irt", "a3"),
    msg(4, "Re: irt", "a4", irt="a3"),         # In-Reply-To alone
    msg(5, "loop", "x5", ["y6"]),              # x and y name each other
    msg(6, "loop b", "y6", ["x5"]),
    msg(7, "self", "z7", ["z7"]),              # itself
    msg(8, "dup", "d8"),                       # a Message-ID twice
    msg(9, "dup again", "d8"),
    msg(10, "Re: dup", "r10", ["d8"]),         # to the first of them
    msg(11, "topic", "t11"),                   # same subject, no references
    msg(12, "Re: topic", "t12"),               # a reply: under 11
    msg(13, "plain", "p13"),
    msg(14, "[list] plain (fwd)", "p14"),      # a forward: under 13
    msg(15, "same", "s15"),                    # neither a reply: a dummy
    msg(16, "same", "s16"),
]


def thread_line(r):
    lines = [x for x in r.split(b"\r\n") if x.startswith(b"* THREAD")]
    return lines[0][len(b"* THREAD"):].strip().decode() if len(lines) == 1 else None


def check(s, fmt, cmd, want, name):
    r = s.cmd(cmd)
    got = thread_line(r)
    t.ok(tagged(r).split()[1] == b"OK" and got == want, "%s: %s" % (fmt, name),
         "got %r want %r: %r" % (got, want, r[-300:]))


def session(fmt, msgs):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    for m in msgs:
        append_ok(s, "INBOX", m)
    s.cmd("SELECT INBOX")
    return env, s


def run(fmt):
    env, s = session(fmt, rfc_mailbox())
    try:
        r = s.cmd("CAPABILITY")
        caps = r.split(b"\r\n")[0].split()
        t.ok(b"THREAD=REFERENCES" in caps and b"THREAD=ORDEREDSUBJECT" in caps,
             "%s: THREAD=REFERENCES and THREAD=ORDEREDSUBJECT advertised" % fmt, r)
        check(s, fmt, "THREAD REFERENCES UTF-8 2:4,6,7,23,44,96", "(2)(3 6 (4 23)(44 7 96))",
              "RFC 5256's REFERENCES example")
        check(s, fmt, "UID THREAD REFERENCES US-ASCII 2:4,6,7,23,44,96",
              "(2)(3 6 (4 23)(44 7 96))", "UID THREAD (UIDs are sequence numbers here)")
        check(s, fmt, "THREAD ORDEREDSUBJECT UTF-8 2:4,6,7,23,44,96",
              "(2)(3 (4)(6)(7)(23)(44)(96))", "ORDEREDSUBJECT: first of a subject is the parent")
        check(s, fmt, "THREAD REFERENCES UTF-8 SUBJECT nothing", "", "no messages: * THREAD")
        for bad in ("THREAD BOGUS UTF-8 ALL", "THREAD REFERENCES UTF-8", "THREAD REFERENCES",
                    "THREAD (REFERENCES) UTF-8 ALL", "THREAD REFERENCES UTF-8 BOGUS"):
            r = s.cmd(bad)
            t.ok(tagged(r).split()[1] == b"BAD" and b"* THREAD" not in r,
                 "%s: %s is BAD" % (fmt, bad), r)
        r = s.cmd("THREAD REFERENCES X-NO-SUCH-CHARSET ALL")
        t.ok(b" NO [BADCHARSET" in tagged(r), "%s: unknown charset is BADCHARSET" % fmt, r)
    finally:
        s.close()
        env.cleanup()

    env, s = session(fmt, SMALL)
    try:
        check(s, fmt, "THREAD REFERENCES UTF-8 ALL",
              "((1)(2))(3 4)(6 5)(7)(8 10)(9)(11 12)(13 14)((15)(16))",
              "missing, looping and duplicate references; subjects merged")
        check(s, fmt, "THREAD ORDEREDSUBJECT UTF-8 ALL",
              "(1)(2)(3 4)(5)(6)(7)(8 10)(9)(11 12)(13 14)(15 16)", "ORDEREDSUBJECT")
        s.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")
        s.cmd("EXPUNGE")
        # a set in the keys is of sequence numbers, in UID THREAD too
        check(s, fmt, "UID THREAD REFERENCES UTF-8 1:5", "((1)(2))(4)(6 5)",
              "UID THREAD after an expunge: UIDs, the reply alone")
        check(s, fmt, "UID THREAD REFERENCES UTF-8 UID 1:5", "((1)(2))(4)(5)",
              "UID THREAD UID 1:5: y6 not chosen, x5 alone")
    finally:
        s.close()
        env.cleanup()

    chain = [msg(i, "m%d" % i, "c%d" % i, ["c%d" % k for k in range(1, i)])
             for i in range(1, 301)]
    env, s = session(fmt, chain)
    try:
        want = "(%s)(%s)" % (" ".join(str(i) for i in range(1, 258)),
                             " ".join(str(i) for i in range(258, 301)))
        check(s, fmt, "THREAD REFERENCES UTF-8 ALL", want,
              "a chain of 300 is cut at depth 256 (IMAP_THREAD_DEPTH_MAX)")
    finally:
        s.close()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
