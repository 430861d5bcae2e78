#!/usr/bin/env python3
"""Everything imap-session writes parses with a strict IMAP reader (covers
S39): the MIME fixture corpus delivered and fetched with every item, whose
ENVELOPE and BODYSTRUCTURE must equal the expected (Dovecot's) answers end
to end; hostile subjects and mailbox names."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, check_syntax, Reader, SyntaxErr  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
U = "alice@example.org"
FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "mime")


def syntax_ok(resp, name):
    try:
        n = check_syntax(resp)
        return t.ok(n > 0, name)
    except (SyntaxErr, ValueError) as e:
        return t.ok(False, name, "%s\n%r" % (e, resp[:600]))


def fetch_item(resp, key):
    """The raw bytes of item key in a '* n FETCH (...)' response."""
    r = Reader(resp)
    r.atom(); r.expect(b" "); r.atom(); r.expect(b" "); r.atom(); r.expect(b" ")
    r.expect(b"(")
    while True:
        k = r.atom()
        r.expect(b" ")
        start = r.p
        r.value()
        if k == key:
            return resp[start:r.p]
        if r.peek() == b")":
            return None
        r.expect(b" ")


try:
    emls = sorted(glob.glob(os.path.join(FIX, "*.eml")))
    names = []
    for i, p in enumerate(emls):
        with open(p, "rb") as f:
            deliver(env, U, f.read(), name="%04d.fixture" % i)
        names.append(os.path.basename(p)[:-4])
    r = Raw(env, U)
    resp = r.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % len(emls) in resp, "%d fixture messages selected" % len(emls))
    same_env = same_bs = 0
    bad, syntax_bad = [], []
    for i, name in enumerate(names):
        seq = i + 1
        items = ("FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY "
                 "BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.100> BODY.PEEK[1] BODY.PEEK[1.MIME]")
        resp = r.cmd("FETCH %d (%s BINARY.SIZE[1])" % (seq, items))
        if b"NO [UNKNOWN-CTE]" in resp:
            # a refused BINARY is the tagged NO alone (RFC 3516)
            if b"FETCH (" in resp:
                syntax_bad.append("%s: FETCH response before NO [UNKNOWN-CTE]" % name)
            resp = r.cmd("FETCH %d (%s)" % (seq, items))
        try:
            check_syntax(resp)
        except (SyntaxErr, ValueError) as e:
            syntax_bad.append("%s: %s" % (name, e))
            continue
        line = resp[:resp.rindex(b"\r\nt")]
        for key, ext, counter in ((b"ENVELOPE", ".envelope", "env"),
                                  (b"BODYSTRUCTURE", ".bodystructure", "bs")):
            want_p = os.path.join(FIX, name + ext)
            if not os.path.exists(want_p):
                continue
            with open(want_p, "rb") as f:
                want = f.read().rstrip(b"\r\n")
            got = fetch_item(line + b"\r\n", key)
            if got == want:
                if counter == "env":
                    same_env += 1
                else:
                    same_bs += 1
            else:
                bad.append("%s %s:\n got  %r\n want %r" % (name, key.decode(), got[:300] if got else got,
                                                         want[:300]))
    t.ok(not syntax_bad, "every FETCH response parses strictly (S39)", "\n".join(syntax_bad[:5]))
    t.eq(same_env, len(names), "ENVELOPE equals the expected answer for every fixture")
    t.eq(same_bs, len(names), "BODYSTRUCTURE equals the expected answer for every fixture")
    if bad:
        t.diag("\n".join(bad[:6]))
    resp = r.cmd("FETCH 1:* (BODY.PEEK[])")
    syntax_ok(resp, "FETCH 1:* BODY[] parses strictly")
    resp = r.cmd("SEARCH RETURN (ALL COUNT) TEXT e")
    syntax_ok(resp, "ESEARCH parses strictly")

    # Hostile names and subjects.
    for n in ('"a\\"b"', '"back\\\\slash"', "{3}\r\nx y", '"%s"' % ("&AOk-t&AOk-")):
        r.cmd("CREATE " + n)
    deliver(env, U, b'Subject: "quoted" \\ back\r\nFrom: "x\\"y" <a@b>\r\n\r\nx\r\n')
    deliver(env, U, b"Subject: =?utf-8?q?x=22=0D=0A=2A_1_EXPUNGE?=\r\n\r\nx\r\n")
    resp = r.cmd("LIST \"\" \"*\" RETURN (STATUS (MESSAGES UIDNEXT SIZE))")
    syntax_ok(resp, "LIST with hostile names parses strictly")
    t.ok(b'"a\\"b"' in resp and b'"x y"' in resp, "names with quote and space are quoted", resp)
    t.ok(b"back" not in resp, "a name with a backslash was refused", resp)
    resp = r.cmd("NOOP")
    resp = r.cmd("FETCH %d:* (ENVELOPE BODYSTRUCTURE)" % (len(emls) + 1))
    syntax_ok(resp, "hostile subjects parse strictly")
    t.ok(resp.count(b" FETCH (") == 2 and b"\r\n* 1 EXPUNGE" not in resp, "no injected response",
         resp)
    r.cmd("ENABLE UTF8=ACCEPT")
    resp = r.cmd("LIST \"\" \"*\"")
    syntax_ok(resp, "LIST after UTF8=ACCEPT parses strictly")
    t.ok("\"ét\u00e9t\"".encode() in resp or "{6}\r\nétét".encode() in resp or "ét".encode() in resp,
         "UTF-8 name sent after UTF8=ACCEPT", resp)
    r.close()
finally:
    env.cleanup()
t.done()
