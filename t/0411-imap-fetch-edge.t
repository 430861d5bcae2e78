#!/usr/bin/env python3
"""imap-session FETCH edge cases: NUL bytes never inside a literal (sent as
0x80, as Dovecot), a refused BINARY answered by the tagged NO
[UNKNOWN-CTE] alone, a section that render_section cannot parse is a BAD,
a part that does not exist is an empty string (covers S30, S39)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, check_syntax, deliver, tagged  # noqa: E402

NUL_MSG = (b"From: a@example.org\nSubject: nul\n\n"
           b"before\0after\nline two\0\n")
CTE_MSG = (b"From: a@example.org\nSubject: cte\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=b1\n\n"
           b"--b1\nContent-Type: text/plain\n\nplain part\n"
           b"--b1\nContent-Type: application/octet-stream\n"
           b"Content-Transfer-Encoding: x-frobnicate\n\nzzzz\n"
           b"--b1--\n")


def literal_values(resp):
    """Contents of the non-binary literals {n} in resp."""
    out = []
    for m in re.finditer(rb"(?<!~)\{(\d+)\}\r\n", resp):
        n = int(m.group(1))
        out.append(resp[m.end():m.end() + n])
    return out


t = yubin.TAP()
env = yubin.Env()
raw = None
try:
    deliver(env, "alice@example.org", NUL_MSG, name="1.M1P1.nul")
    deliver(env, "alice@example.org", CTE_MSG, name="2.M2P2.cte")
    raw = Raw(env, login="alice@example.org")
    r = raw.cmd("SELECT INBOX")
    t.ok(b"* 2 EXISTS" in r, "two messages", r)

    # (a) NUL bytes
    for item in ("BODY.PEEK[]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "RFC822.TEXT",
                 "BINARY.PEEK[]"):
        r = raw.cmd("FETCH 1 (%s)" % item)
        lits = literal_values(r)
        t.ok(tagged(r).endswith(b"OK FETCH completed") and lits,
             "FETCH %s answered with a literal" % item, r)
        t.ok(all(b"\0" not in v for v in lits), "FETCH %s: no NUL inside a literal" % item, r)
        t.ok(any(b"before\x80after\r\nline two\x80\r\n" in v for v in lits),
             "FETCH %s: NUL sent as 0x80, line ends CRLF" % item, r)
        check_syntax(r)
    r = raw.cmd("FETCH 1 (BINARY.PEEK[1])")
    t.ok(b"~{" in r and b"before\0after" in r,
         "BINARY[1] sends the NUL in a literal8", r)

    # (b) unknown transfer encoding: only the tagged NO
    r = raw.cmd("FETCH 2 (BINARY.PEEK[2])")
    t.ok(b"NO [UNKNOWN-CTE]" in tagged(r), "BINARY of x-frobnicate: NO [UNKNOWN-CTE]", r)
    t.ok(b"FETCH (" not in r, "no FETCH response before the NO", r)
    r = raw.cmd("FETCH 2 (UID BINARY.SIZE[2])")
    t.ok(b"NO [UNKNOWN-CTE]" in tagged(r) and b"FETCH (" not in r,
         "BINARY.SIZE of x-frobnicate: NO [UNKNOWN-CTE] alone", r)
    r = raw.cmd("FETCH 2 (BINARY[2])")
    t.ok(b"NO [UNKNOWN-CTE]" in tagged(r) and b"FETCH (" not in r,
         "BINARY (not PEEK) refused alone", r)
    r = raw.cmd("FETCH 2 (FLAGS)")
    t.ok(b"\\Seen" not in r, "a refused BINARY does not set \\Seen", r)
    r = raw.cmd("FETCH 1:2 (UID BINARY.PEEK[2])")
    t.ok(b"* 1 FETCH (UID 1 BINARY[2] \"\")" in r and b"* 2 FETCH" not in r and
         b"NO [UNKNOWN-CTE]" in tagged(r),
         "1:2: message 1 answered, message 2 refused", r)
    r = raw.cmd("FETCH 2 (BINARY.PEEK[1])")
    t.ok(b"plain part" in r and tagged(r).endswith(b"OK FETCH completed"),
         "the other part decodes", r)

    # (c) a section render_section refuses: BAD, nothing sent
    for sec in ("HEADER.FIELDS (A%B)", "1.HEADER.FIELDS (X*)"):
        r = raw.cmd("FETCH 1:2 (BODY.PEEK[%s])" % sec)
        t.ok(tagged(r).split(b" ")[1:2] == [b"BAD"] and b"FETCH (" not in r,
             "BODY[%s]: BAD, no FETCH response" % sec, r)

    # (d) no such part: ""
    r = raw.cmd("FETCH 1 (BODY.PEEK[3])")
    t.ok(b"* 1 FETCH (BODY[3] \"\")" in r, "BODY[3] of a one-part message is \"\"", r)
    r = raw.cmd("FETCH 2 (BODY.PEEK[7.1]<0.10>)")
    t.ok(b"* 2 FETCH (BODY[7.1]<0> \"\")" in r, "partial of a missing part is <0> \"\"", r)
    r = raw.cmd("FETCH 1 (BINARY.PEEK[4])")
    t.ok(b"* 1 FETCH (BINARY[4] \"\")" in r, "BINARY[4] of a missing part is \"\"", r)
    check_syntax(r)
finally:
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
