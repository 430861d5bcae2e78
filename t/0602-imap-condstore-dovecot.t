#!/usr/bin/env python3
"""CONDSTORE against Dovecot 2.3 (dovecot-imapd, run on pipes as the client
replays do): the same commands, from two sessions on one mailbox, go to
Dovecot on Maildir and to imap-session on Maildir and on mbox, and every
response line must be the same once the modseq numbers are written "n"
(the servers count differently: Dovecot gives every message of one STORE
the same modseq, yubin one each; t/fixtures/imap-clients/README). The
UNCHANGEDSINCE values are each server's own HIGHESTMODSEQ, read from its
SELECT. Checked: SELECT (CONDSTORE), FETCH MODSEQ, CHANGEDSINCE,
UNCHANGEDSINCE with and without [MODIFIED], .SILENT, SEARCH MODSEQ with
(MODSEQ n) and ESEARCH MODSEQ, STATUS HIGHESTMODSEQ, the other session's
change told with MODSEQ after ENABLE CONDSTORE."""
import os
import re
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


# (session, command); {H}: the HIGHESTMODSEQ session 1's SELECT said
SCRIPT = [(1, append(i)) for i in range(1, 6)] + [
    (1, "SELECT INBOX (CONDSTORE)"), (2, "SELECT INBOX"),
    (1, "FETCH 1:* (FLAGS MODSEQ)"),
    (1, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {H})"),
    (1, "STORE 1,3 (UNCHANGEDSINCE {H}) +FLAGS (\\Seen)"),
    (2, "STORE 2 +FLAGS (\\Flagged)"),
    (2, "ENABLE CONDSTORE"),
    (1, "STORE 2:4 (UNCHANGEDSINCE {H}) +FLAGS.SILENT (\\Answered)"),
    (1, "UID STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)"),
    (1, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {H})"),
    (1, "SEARCH MODSEQ {H1}"),
    (1, "SEARCH MODSEQ \"/flags/\\\\answered\" all {H1}"),
    (1, "SEARCH RETURN (MIN MAX COUNT) MODSEQ {H1}"),
    (1, "SEARCH MODSEQ 9000000000000000000"),
    (1, "STATUS INBOX (MESSAGES HIGHESTMODSEQ)"),
    (1, "STORE 5 +FLAGS (\\Deleted)"),
    (2, "NOOP"),
    (2, "FETCH 5 (MODSEQ)"),
    (1, "FETCH 1 (FLAGS) (CHANGEDSINCE x)"),
    (1, "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)"),
]


def norm(line):
    """Modseqs as "n"; a FETCH's MODSEQ item last (the order of FETCH
    items differs by nature, as in the client replays)."""
    line = re.sub(rb"(HIGHESTMODSEQ|MODSEQ) \d+", rb"\1 n", line)
    if re.search(rb"MODSEQ \(\d+\)", line):
        line = re.sub(rb" ?MODSEQ \(\d+\) ?", b" ", line).replace(b"( ", b"(")
        line = line[:-1].rstrip() + b" MODSEQ (n))"
    return line


def run(srv):
    """The normalised transcript of SCRIPT on srv (two sessions)."""
    out = []
    sessions = {}
    seen = {}
    try:
        for k in (1, 2):
            s = sessions[k] = srv.start()
            s.response_line(20)
            if srv.login_line():
                s.send(b"L " + srv.login_line().encode() + b"\r\n")
                replay.read_through(s, b"L", 20)
        for n, (k, cmd) in enumerate(SCRIPT):
            tag = b"c%d" % n
            cmd = cmd.replace("{H}", str(seen.get("H", 1))).replace(
                "{H1}", str(seen.get("H", 0) + 1))
            sessions[k].send(tag + b" " + cmd.encode() + b"\r\n")
            untagged = []
            for line in replay.read_through(sessions[k], tag):
                m = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", line)
                if m and k == 1 and "H" not in seen:
                    seen["H"] = int(m.group(1))
                w = line.split()
                if line.startswith(tag + b" "):
                    code = re.match(rb"\S+ \S+ (\[[^\]]*\])?", line).group(1) or b""
                    if not code.startswith(b"[MODIFIED"):
                        code = b""
                    # a command's untagged lines in one order: the servers
                    # tell this session's and the other's changes in turn
                    out += sorted(untagged)
                    out.append(b"%d %s %s %s" % (k, tag, w[1], code))
                elif k == 2 and n == 6 and b"[HIGHESTMODSEQ" in line:
                    # a plain SELECT: Dovecot says it once another client
                    # enabled CONDSTORE on the mailbox, yubin not before
                    # this session's own (README)
                    continue
                elif (b"MODSEQ" in line or line.startswith(b"* SEARCH") or
                      line.startswith(b"* ESEARCH") or b"FETCH" in line[:20] or
                      line.startswith(b"* ENABLED")):
                    untagged.append(b"%d %s" % (k, norm(line.rstrip())))
    finally:
        for s in sessions.values():
            s.send(b"z LOGOUT\r\n")
            s.close()
    return out


t = yubin.TAP()
if not os.path.exists(replay.Dovecot.BINARY):
    t.skip("CONDSTORE as Dovecot", "dovecot-imapd not installed (t/deps.txt)")
    t.done()
    sys.exit(0)
top = tempfile.mkdtemp(prefix="yubin-condstore-")
try:
    os.chmod(top, 0o755)
    want = run(replay.Dovecot(os.path.join(top, "dovecot")))
    t.ok(any(b"[MODIFIED" in w for w in want), "Dovecot's transcript holds a [MODIFIED]", want)
    for fmt in ("maildir", "mbox"):
        got = run(replay.Yubin(os.path.join(top, fmt), yubin.binary("imap-session"), fmt == "mbox"))
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(want, got)) if a != b]
        if os.environ.get("YUBIN_T_SHOW"):
            t.diag("\n".join(x.decode() for x in want) + "\n----\n" + "\n".join(x.decode() for x in got))
        t.ok(got == want, "%s: imap-session answers as Dovecot does" % fmt,
             "first differences %r; lengths %d %d" % (diff[:8], len(want), len(got)))
finally:
    shutil.rmtree(top, ignore_errors=True)
t.done()
