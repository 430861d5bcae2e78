#!/usr/bin/env python3
"""CONTEXT=SEARCH against Dovecot 2.3 (dovecot-imapd, run on pipes as the
client replays do): the same commands, from two sessions on one mailbox,
go to Dovecot on Maildir and to imap-session on Maildir and on mbox, and
the ESEARCH, EXISTS and EXPUNGE lines (in their order) and the tagged
status words must be the same: PARTIAL windows and NIL, CONTEXT alone,
UPDATE told of this session's and the other's STORE, of an APPEND after
its EXISTS and of an EXPUNGE before it (position 0, the numbers as one
set), a context's sequence set, tag reuse, CANCELUPDATE of a known and of
an unknown tag. Dovecot has no CONTEXT=SORT, so SORT's updates are only
checked against the RFC (t/0494-imap-context-sort.t); the differences
kept on purpose are none. (Dovecot 2.3.19's session ends, without a word,
at the first update after a delivery when a context searches a KEYWORD:
the script uses FLAGGED.)"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures", "imap-clients"))
import yubin  # noqa: E402
import replay  # noqa: E402

MSG = "Subject: m%d\r\nFrom: bob@example.org\r\n\r\nbody %d\r\n"


def append(n, flags=""):
    m = MSG % (n, n)
    return "APPEND INBOX %s{%d+}\r\n%s" % (flags, len(m), m)


# (session, command); session 2 is another client on the same mailbox
SCRIPT = [(1, append(i)) for i in range(1, 6)] + [
    (1, "SELECT INBOX"), (2, "SELECT INBOX"),
    (1, "SEARCH RETURN (PARTIAL 2:4) ALL"),
    (1, "SEARCH RETURN (PARTIAL 4:2 MIN COUNT) ALL"),
    (1, "UID SEARCH RETURN (PARTIAL 6:9) ALL"),
    (1, "SEARCH RETURN (PARTIAL 2:3) 1:2,4:5"),
    (1, "SEARCH RETURN (CONTEXT) UNSEEN"),
    (1, "SEARCH RETURN (PARTIAL 1:*) ALL"),
    (1, "SEARCH RETURN (PARTIAL 1:2 ALL) ALL"),
    (1, "SEARCH RETURN (UPDATE ALL) UNSEEN"),
    (1, "UID SEARCH RETURN (UPDATE) FLAGGED"),
    (1, "SEARCH RETURN (UPDATE COUNT) 2:4 UNDELETED"),
    (1, "STORE 1,3 +FLAGS (\\Seen)"),
    (2, "STORE 2 +FLAGS (\\Flagged)"),
    (1, "NOOP"),
    (2, append(6, "(\\Flagged) ")),
    (1, "NOOP"),
    (1, "STORE 1 -FLAGS (\\Seen)"),
    (1, "STORE 3:4 +FLAGS (\\Deleted)"),
    (1, "EXPUNGE"),
    (1, "STORE 2 +FLAGS (\\Deleted)"),
    (2, "NOOP"),  # imap-session's EXPUNGE misses \Deleted set since its last look
    (2, "EXPUNGE"),
    (1, "NOOP"),
    (1, 'CANCELUPDATE "nope"'),
    (1, 'CANCELUPDATE "c15"'),
    (2, "STORE 1 +FLAGS (\\Flagged)"),
    (1, "NOOP"),
    (1, "STORE 1 +FLAGS (\\Seen)"),
    (1, "UNSELECT"),
]


def run(srv):
    """The normalised transcript of SCRIPT on srv (two sessions)."""
    out = []
    sessions = {}
    try:
        for k in (1, 2):
            s = sessions[k] = srv.start()
            s.response_line(20)
            if srv.login_line():
                s.send(b"L " + srv.login_line().encode() + b"\r\n")
                replay.read_through(s, b"L", 20)
        for n, (k, cmd) in enumerate(SCRIPT):
            tag = b"c%d" % n
            sessions[k].send(tag + b" " + cmd.encode() + b"\r\n")
            for line in replay.read_through(sessions[k], tag):
                w = line.split()
                if line.startswith(tag + b" "):
                    out.append(b"%d %s %s" % (k, tag, w[1]))
                elif line.startswith(b"* ESEARCH") or (len(w) > 2 and w[2] in (b"EXISTS", b"EXPUNGE")):
                    out.append(b"%d %s" % (k, line.rstrip()))
    finally:
        for s in sessions.values():
            s.send(b"z LOGOUT\r\n")
            s.close()
    return out


t = yubin.TAP()
if not os.path.exists(replay.Dovecot.BINARY):
    t.skip("CONTEXT=SEARCH as Dovecot", "dovecot-imapd not installed (t/deps.txt)")
    t.done()
    sys.exit(0)
top = tempfile.mkdtemp(prefix="yubin-ctx-")
try:
    os.chmod(top, 0o755)
    want = run(replay.Dovecot(os.path.join(top, "dovecot")))
    t.ok(b'1 * ESEARCH (TAG "c14") ADDTO (0 6)' in want and
         want.index(b'1 * ESEARCH (TAG "c15") UID REMOVEFROM (0 2)') == want.index(b"1 * 2 EXPUNGE") - 1,
         "Dovecot's transcript holds its key answers", want)
    for fmt in ("maildir", "mbox"):
        got = run(replay.Yubin(os.path.join(top, fmt), yubin.binary("imap-session"), fmt == "mbox"))
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(want, got)) if a != b]
        t.ok(got == want, "%s: imap-session answers as Dovecot does" % fmt,
             "first differences %r; lengths %d %d" % (diff[:5], len(want), len(got)))
finally:
    shutil.rmtree(top, ignore_errors=True)
t.done()
