#!/usr/bin/env python3
"""imap-session SEARCH HEADER / BODY / TEXT (CHARSET UTF-8) over the MIME
corpus finds exactly the messages Dovecot's SEARCH finds
(t/fixtures/mime/search.expected, captured by capture-search.py): RFC 2047
words, quoted-printable and base64 bodies, charsets, case folding."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "mime")

t = yubin.TAP()
env = yubin.Env()
raw = None
try:
    names = sorted(f[:-4] for f in os.listdir(FIX) if f.endswith(".eml"))
    raw = Raw(env, login="alice@example.org")
    md = env.maildir("alice@example.org")
    # As capture-search.py did: "X-Name: NAME" in front of each message,
    # delivered in name order, so sequence numbers map to names.
    for i, name in enumerate(names):
        data = open(os.path.join(FIX, name + ".eml"), "rb").read()
        tmp = os.path.join(md, "tmp", "%d.M%dP1.corpus" % (1700000000 + i, i))
        with open(tmp, "wb") as f:
            f.write(b"X-Name: " + name.encode() + b"\r\n" + data)
        os.chmod(tmp, 0o666)
        os.rename(tmp, os.path.join(md, "new", os.path.basename(tmp)))
        if i % 16 == 15 or i == len(names) - 1:
            raw.cmd("NOOP")
    r = raw.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % len(names) in r, "%d corpus messages selected" % len(names), r)
    r = raw.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Name)])")
    seq = {int(m.group(1)): m.group(2).decode() for m in re.finditer(
        rb"\* (\d+) FETCH \(.*?X-Name: (\S+)", r, re.S)}
    t.eq(sorted(seq.values()), names, "every message found by its X-Name")
    queries = 0
    for line in open(os.path.join(FIX, "search.expected"), encoding="utf-8"):
        key, field, needle, want = line.rstrip("\n").split("\t")
        nb = needle.encode()
        lit = b"{%d+}\r\n" % len(nb) + nb
        if key == "HEADER":
            cmd = b"SEARCH CHARSET UTF-8 HEADER " + field.encode() + b" " + lit
        else:
            cmd = b"SEARCH CHARSET UTF-8 " + key.encode() + b" " + lit
        r = raw.cmd(cmd)
        m = re.search(rb"\* SEARCH([ \d]*)\r\n", r)
        got = " ".join(sorted(seq.get(int(x), "?") for x in m.group(1).split())) if m else "ERROR"
        t.ok(got == want, "SEARCH %s %s %r finds what Dovecot finds" % (key, field, needle),
             "want %s\ngot  %s\n%r" % (want, got, r[-200:]))
        queries += 1
    t.ok(queries >= 40, "%d queries" % queries)
finally:
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
