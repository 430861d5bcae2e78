#!/usr/bin/env python3
"""CATENATE against Dovecot 2.3 (dovecot-imapd), the issue's oracle: the
same APPEND ... CATENATE commands go to imap-session (Maildir, then mbox)
and to Dovecot's imap binary (PREAUTH on a pipe, a private configuration,
t/fixtures/imap-clients/replay.py), each on the same source messages
appended first. For every command the tagged status and its response
code must agree and, when both said OK, the message made must be the same
bytes. Where yubin answers otherwise on purpose, DIFFERENT below says why
and the test checks that the difference is still exactly that."""
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

t = yubin.TAP()
if not os.access(replay.Dovecot.BINARY, os.X_OK):
    t.skip("CATENATE against Dovecot", "dovecot-imapd not installed (t/deps.txt)")
    t.done()

B = b"=-=-=-boundary-=-=-="
DRAFT = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
         b"Subject: Draft\r\nMIME-Version: 1.0\r\n"
         b'Content-Type: multipart/mixed; boundary="' + B + b'"\r\n\r\n'
         b"Preamble.\r\n--" + B + b"\r\nContent-Type: text/plain\r\n\r\nFirst part.\r\n"
         b"--" + B + b"\r\nContent-Type: message/rfc822\r\n\r\n"
         b"From: Carol <carol@example.org>\r\nSubject: Inner\r\n\r\nInner body.\r\n"
         b"--" + B + b"--\r\nEpilogue.\r\n")
SIMPLE = b"From: Bob <bob@example.org>\r\nSubject: Simple\r\n\r\nLine one.\r\nLine two.\r\n"

# (name, parts); in URLs {v} is INBOX's UIDVALIDITY, {d} the draft's UID
# and {s} the simple message's; TEXT parts are bytes.
CASES = [
    ("whole message", [("URL", "/INBOX/;UID={s}")]),
    ("with UIDVALIDITY", [("URL", "/INBOX;UIDVALIDITY={v}/;UID={s}")]),
    ("wrong UIDVALIDITY", [("URL", "/INBOX;UIDVALIDITY=1{v}/;UID={s}")]),
    ("lower-case keys", [("URL", "/INBOX;uidvalidity={v}/;uid={s}/;section=text")]),
    ("HEADER and TEXT", [("URL", "/INBOX/;UID={d}/;SECTION=HEADER"), ("TEXT", b"New body.\r\n")]),
    ("TEXT", [("TEXT", b"Subject: x\r\n\r\n"), ("URL", "/INBOX/;UID={d}/;SECTION=TEXT")]),
    ("part 1 and its MIME", [("URL", "/INBOX/;UID={d}/;SECTION=1.MIME"),
                             ("URL", "/INBOX/;UID={d}/;SECTION=1")]),
    ("message part 2", [("URL", "/INBOX/;UID={d}/;SECTION=2")]),
    ("2.HEADER and 2.TEXT", [("URL", "/INBOX/;UID={d}/;SECTION=2.HEADER"),
                             ("URL", "/INBOX/;UID={d}/;SECTION=2.TEXT")]),
    ("2.1 of the inner message", [("TEXT", b"a: b\r\n\r\n"), ("URL", "/INBOX/;UID={d}/;SECTION=2.1")]),
    ("part 1 of a single part", [("TEXT", b"a: b\r\n\r\n"), ("URL", "/INBOX/;UID={s}/;SECTION=1")]),
    ("HEADER.FIELDS", [("URL", "/INBOX/;UID={d}/;SECTION=HEADER.FIELDS%20(SUBJECT%20TO)"),
                       ("TEXT", b"x\r\n")]),
    ("HEADER.FIELDS.NOT", [("URL", "/INBOX/;UID={d}/;SECTION=HEADER.FIELDS.NOT%20(SUBJECT)"),
                           ("TEXT", b"x\r\n")]),
    ("PARTIAL offset.length", [("URL", "/INBOX/;UID={s}/;PARTIAL=6.10"), ("TEXT", b"\r\n")]),
    ("PARTIAL offset only", [("URL", "/INBOX/;UID={s}/;PARTIAL=20")]),
    ("PARTIAL of a section", [("TEXT", b"a: b\r\n\r\n"),
                              ("URL", "/INBOX/;UID={d}/;SECTION=1/;PARTIAL=2.3"), ("TEXT", b"\r\n")]),
    ("PARTIAL past the end", [("TEXT", b"a: b\r\n\r\nc\r\n"), ("URL", "/INBOX/;UID={s}/;PARTIAL=100000.1")]),
    ("nothing but an empty PARTIAL", [("URL", "/INBOX/;UID={s}/;PARTIAL=100000.1")]),
    ("a part that does not exist", [("URL", "/INBOX/;UID={d}/;SECTION=7")]),
    ("1.1 of a text part", [("URL", "/INBOX/;UID={d}/;SECTION=1.1")]),
    ("an unknown UID", [("URL", "/INBOX/;UID=999")]),
    ("an unknown mailbox", [("URL", "/Nowhere/;UID=1")]),
    ("a mailbox not selected", [("URL", "/Src/;UID=1/;SECTION=HEADER"), ("TEXT", b"x\r\n")]),
    ("';UID' without its '/'", [("URL", "/INBOX;UID={s}")]),
    ("an empty mailbox", [("URL", "/;UID={s}")]),
    ("no leading '/'", [("URL", "INBOX/;UID={s}")]),
    ("a percent-encoded name", [("URL", "/%53rc/;UID=1")]),
    ("an absolute URL", [("URL", "imap://alice%40example.org@localhost/INBOX/;UID={s}")]),
    ("a malformed section", [("URL", "/INBOX/;UID={s}/;SECTION=BODY")]),
    ("TEXT alone", [("TEXT", b"Subject: only text\r\n\r\nbody\r\n")]),
    ("TEXT, URL, TEXT", [("TEXT", b"Subject: mixed\r\n\r\n"), ("URL", "/INBOX/;UID={s}/;SECTION=TEXT"),
                         ("TEXT", b"-- \r\nsig\r\n")]),
]

# Differences on purpose: case name -> why. The test checks the two
# answers still differ (status/code) as recorded here.
DIFFERENT = {
    "nothing but an empty PARTIAL":
        "an empty message is refused as a {0} APPEND is; Dovecot stores it",
    "a part that does not exist":
        "NO [BADURL]: the URL names nothing (RFC 4469 section 5); Dovecot "
        "catenates nothing and says OK",
    "a malformed section":
        "both NO; yubin says [BADURL], as RFC 4469 section 5 asks for any "
        "invalid URL",
}


def same_message(a, b, fmt):
    """Dovecot's message a and ours b are the same; on mbox a message
    ends in a line end (the next From_ line needs one), so one is added
    to a message made without, as a plain APPEND gets it."""
    if fmt == "mbox" and a is not None and b is not None and not a.endswith(b"\n"):
        a += b"\r\n"
    return a == b


def command(tag, box, parts, vals):
    out = tag + b" APPEND " + box + b" CATENATE ("
    items = []
    for kind, v in parts:
        if kind == "TEXT":
            items.append(b"TEXT {%d+}\r\n" % len(v) + v)
        else:
            items.append(b'URL "' + v.format(**vals).encode() + b'"')
    return out + b" ".join(items) + b")\r\n"


class Client:
    def __init__(self, server):
        self.s = server.start()
        self.s.response_line(20)
        self.n = 0
        if not server.preauth:
            self.cmd(server.login_line().encode())

    def cmd(self, line):
        self.n += 1
        tag = b"c%d" % self.n
        self.s.send(line.replace(b"@TAG@", tag) if b"@TAG@" in line else tag + b" " + line + b"\r\n")
        return replay.read_through(self.s, tag)

    def append(self, box, data):
        r = self.cmd(b"APPEND " + box + b" {%d+}\r\n" % len(data) + data)
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", r[-1])
        return int(m.group(1)), int(m.group(2))


def outcome(lines):
    """(status, response code name) of the tagged line."""
    m = re.match(rb"\S+ (OK|NO|BAD)(?: \[([A-Z-]+))?", lines[-1])
    return (m.group(1).decode(), (m.group(2) or b"").decode()) if m else ("?", lines[-1][:60])


def run(server):
    """What server answers to every case: name -> (status, code, message)."""
    c = Client(server)
    res = {}
    try:
        c.cmd(b"CREATE Out")
        c.cmd(b"CREATE Src")
        c.append(b"Src", SIMPLE)
        v, d = c.append(b"INBOX", DRAFT)
        _, s = c.append(b"INBOX", SIMPLE)
        vals = {"v": v, "d": d, "s": s}
        for name, parts in CASES:
            r = c.cmd(command(b"@TAG@", b"Out", parts, vals))
            st, code = outcome(r)
            msg = None
            m = re.search(rb"\[APPENDUID \d+ (\d+)\]", r[-1])
            if st == "OK" and m:
                c.cmd(b"EXAMINE Out")
                f = b"".join(c.cmd(b"UID FETCH %s BODY.PEEK[]" % m.group(1)))
                lm = re.search(rb"BODY\[\] \{(\d+)\}\r\n", f)
                msg = f[lm.end():lm.end() + int(lm.group(1))] if lm else f
                c.cmd(b"UNSELECT")
            res[name] = (st, code, msg)
        res["TRYCREATE"] = outcome(c.cmd(command(b"@TAG@", b"Nowhere", [("URL", "/INBOX/;UID=999")], vals))) + (None,)
    finally:
        c.s.close()
    return res


work = tempfile.mkdtemp(prefix="yubin-t0478-")
os.chmod(work, 0o755)
binary = os.path.join(os.environ["YUBIN_BUILD"], "bin", "imap-session")
try:
    dove = run(replay.Dovecot(os.path.join(work, "dovecot")))
    for fmt in ("maildir", "mbox"):
        ours = run(replay.Yubin(os.path.join(work, "yubin-" + fmt), binary, fmt == "mbox"))
        for name in [n for n, _ in CASES] + ["TRYCREATE"]:
            a, b = dove[name], ours[name]
            why = DIFFERENT.get(name)
            if why:
                t.ok(a[:2] != b[:2], "%s: %s differs from Dovecot on purpose (%s)" % (fmt, name, why),
                     "dovecot %r\nyubin   %r" % (a, b))
            else:
                t.ok(a[:2] == b[:2] and same_message(a[2], b[2], fmt), "%s: %s: as Dovecot (%s%s)" % (fmt, name, a[0], " " + a[1] if a[1] else ""),
                     "dovecot %r\nyubin   %r" % (a, b))
finally:
    shutil.rmtree(work, ignore_errors=True)
t.done()
