#!/usr/bin/env python3
"""imap-session FETCH ENVELOPE, BODYSTRUCTURE, BODY and BODY[section] (BODY[]
included: NUL bytes sent as 0x80, line ends CRLF) for
every message of the MIME corpus (t/fixtures/mime), end to end through the
server: the answers must equal Dovecot's byte for byte (the fixtures were
captured from Dovecot 2.3 by t/fixtures/mime/capture-dovecot.py; Dovecot
is not needed here). Each message is dropped into the Maildir like a
delivery, then fetched as the newest message (covers S38, S39)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, value_end  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "mime")



def fetched(resp, item):
    """The value of ITEM in an untagged FETCH response."""
    m = re.search(rb"\* \d+ FETCH \(.*?" + re.escape(item) + rb" ", resp, re.S)
    if not m:
        return None
    start = m.end()
    return resp[start:value_end(resp, start)]


def sections(name, ext="sections"):
    """(section, expected bytes, None for NIL, or b"NO") from NAME.sections
    (or NAME.binary)."""
    path = os.path.join(FIX, name + "." + ext)
    if not os.path.exists(path):
        return []
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        tab = data.index(b"\t", pos)
        nl = data.index(b"\n", tab)
        sec, v = data[pos:tab].decode(), data[tab + 1:nl]
        if v == b"NIL":
            out.append((sec, None))
            pos = nl + 1
        elif v in (b"NO", b"UNKNOWN-CTE"):
            out.append((sec, b"NO"))
            pos = nl + 1
        else:
            n = int(v)
            out.append((sec, data[nl + 1:nl + 1 + n]))
            pos = nl + 1 + n + 1
    return out


t = yubin.TAP()
env = yubin.Env()
raw = None
try:
    names = sorted(f[:-4] for f in os.listdir(FIX) if f.endswith(".eml"))
    t.ok(len(names) >= 30, "corpus has %d messages (>= 30)" % len(names))
    raw = Raw(env, login="alice@example.org")
    r = raw.cmd("SELECT INBOX")
    t.ok(b" OK " in r.splitlines()[-1], "SELECT INBOX", r)
    md = env.maildir("alice@example.org")
    for i, name in enumerate(names):
        data = open(os.path.join(FIX, name + ".eml"), "rb").read()
        tmp = os.path.join(md, "tmp", "%d.M%dP1.corpus" % (1700000000 + i, i))
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666)
        os.rename(tmp, os.path.join(md, "new", os.path.basename(tmp)))
        r = raw.cmd("NOOP")
        t.ok(b"* %d EXISTS" % (i + 1) in r, "%s: delivered, EXISTS %d" % (name, i + 1), r)
        for item, ext in ((b"ENVELOPE", "envelope"), (b"BODYSTRUCTURE", "bodystructure"),
                          (b"BODY", "body")):
            want = open(os.path.join(FIX, "%s.%s" % (name, ext)), "rb").read()
            r = raw.cmd(b"FETCH * " + item)
            got = fetched(r, item)
            t.ok(got == want, "%s: FETCH %s equals Dovecot's" % (name, item.decode()),
                 b"want " + want + b"\ngot  " + (got or r))
        bad = []
        for sec, want in sections(name):
            r = raw.cmd("FETCH * (BODY.PEEK[%s])" % sec)
            m = re.search(rb"BODY\[[^\]]*\] ", r)
            got = None
            if m:
                v = r[m.end():value_end(r, m.end())]
                if v.startswith(b"{"):
                    got = v[v.index(b"}") + 3:]
                elif v.startswith(b'"'):
                    got = v[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
                elif v == b"NIL":
                    got = None
            # Dovecot answers "" for a part that does not exist, and so
            # must imap-session (not NIL).
            if m is None or got != want:
                bad.append((sec, want, got))
        if sections(name):
            t.ok(not bad, "%s: BODY.PEEK[section] answers equal Dovecot's" % name, bad[:3])
        bad = []
        for sec, want in sections(name, "binary"):
            r = raw.cmd("FETCH * (BINARY.PEEK[%s])" % sec)
            m = re.search(rb"BINARY\[[^\]]*\] ", r)
            got = None
            if b" NO " in r.splitlines()[-1]:
                # Dovecot: NO [UNKNOWN-CTE] or NO [PARSE]; both refuse
                got = b"NO"
            elif m:
                v = r[m.end():value_end(r, m.end())]
                if v.startswith(b"~"):
                    v = v[1:]
                if v.startswith(b"{"):
                    got = v[v.index(b"}") + 3:]
                elif v.startswith(b'"'):
                    got = v[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
                elif v == b"NIL":
                    got = None
            if got != want:
                bad.append((sec, want, got))
        if sections(name, "binary"):
            t.ok(not bad, "%s: BINARY.PEEK[section] answers equal Dovecot's" % name, bad[:3])
finally:
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
