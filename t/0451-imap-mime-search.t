#!/usr/bin/env python3
"""imap-session SEARCH HEADER / BODY / TEXT (CHARSET UTF-8) over the MIME
corpus finds exactly the messages Dovecot's SEARCH finds
(t/fixtures/mime/search.expected, captured by capture-search.py): RFC 2047
words, quoted-printable and base64 bodies, charsets, case folding.
SEARCH CHARSET other than UTF-8 (ISO-8859-1, ISO-8859-15, WINDOWS-1252,
KOI8-R: what iconv knows, as Dovecot) converts the search strings to UTF-8
first; a charset iconv does not know is NO [BADCHARSET (...)] listing the
supported ones, bytes not valid in the charset are BAD (RFC 9051 6.4.4)."""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imaplib  # noqa: E402
from imaptest import Raw, stream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "mime")

t = yubin.TAP()
env = yubin.Env()
raw = None
M = None

CHARSET_MESSAGES = [
    # 1: raw UTF-8 (8-bit) subject
    "Subject: Grüße aus Köln\r\n\r\nplain body\r\n".encode(),
    # 2: ISO-8859-1 encoded word; quoted-printable UTF-8 body
    b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    b"\r\nCaf=C3=A9 cr=C3=A8me\r\n",
    # 3: base64 ISO-8859-1 body
    b"Subject: dessert\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode("Café crème\r\n".encode("latin-1")) + b"\r\n",
    # 4: UTF-8 base64 encoded word in Cyrillic
    b"Subject: =?UTF-8?B?" + base64.b64encode("Привет, мир".encode()) + b"?=\r\n\r\nbody\r\n",
    # 5: the euro sign (ISO-8859-15 0xA4, WINDOWS-1252 0x80)
    "Subject: 5 €uro\r\n\r\nbody\r\n".encode(),
    # 6: nothing of the above
    b"Subject: other\r\n\r\nnothing here\r\n",
]


def charset_search(M, charset, key, needle):
    """SEARCH CHARSET charset key {literal}: ("OK", [numbers]), ("NO",
    text) or ("BAD", error text: imaplib raises on BAD)."""
    M.literal = needle
    try:
        typ, data = M.search(charset, key)
    except imaplib.IMAP4.error as e:
        return ("BAD" if "BAD" in str(e) else "ERROR"), str(e)
    if typ != "OK":
        return typ, data[0].decode()
    return typ, data[0].decode().split()


try:
    M = stream(env)
    M.login("bob@example.org", yubin.DEMO_PASSWORD)
    for msg in CHARSET_MESSAGES:
        M.append("INBOX", None, None, msg)
    M.select("INBOX")
    found_cases = [
        ("ISO-8859-1", "SUBJECT", "grüße", ["1", "2"], "8-bit UTF-8 subject and ISO-8859-1 word"),
        ("ISO-8859-1", "SUBJECT", "KÖLN", ["1", "2"], "upper case folds after conversion"),
        ("ISO-8859-1", "BODY", "café", ["2", "3"], "quoted-printable UTF-8 and base64 Latin-1 bodies"),
        ("ISO-8859-1", "TEXT", "CRÈME", ["2", "3"], "TEXT too"),
        ("ISO-8859-1", "SUBJECT", "dessert", ["3"], "plain ASCII in ISO-8859-1"),
        ("KOI8-R", "SUBJECT", "привет", ["4"], "KOI8-R needle, UTF-8 encoded word"),
        ("ISO-8859-15", "SUBJECT", "€uro", ["5"], "ISO-8859-15 0xA4 is the euro sign"),
        ("WINDOWS-1252", "SUBJECT", "€uro", ["5"], "WINDOWS-1252 0x80 is the euro sign"),
        ("iso-8859-1", "SUBJECT", "ö", ["1", "2"], "charset names in any case"),
    ]
    for cs, key, needle, want, why in found_cases:
        typ, got = charset_search(M, cs, key, needle.encode(cs.lower()))
        t.ok(typ == "OK" and got == want, "SEARCH CHARSET %s %s %r: %s" % (cs, key, needle, why),
             "want %s got %s %s" % (want, typ, got))
    # the Latin-1 byte A4 is the currency sign, not the euro
    typ, got = charset_search(M, "ISO-8859-1", "SUBJECT", b"\xa4uro")
    t.ok(typ == "OK" and got == [], "ISO-8859-1 A4 is not the euro sign", got)
    typ, data = M._simple_command("SEARCH", "CHARSET", "ISO-8859-1", "HEADER", "Subject", "aus")
    t.ok(typ == "OK" and M.untagged_responses.pop("SEARCH", [b""])[0].split() == [b"1", b"2"],
         "HEADER with an atom string under CHARSET ISO-8859-1", data)

    for cs in ("X-NO-SUCH-CHARSET", '"ISO-8859-1//TRANSLIT"', '"UTF-8//IGNORE"'):
        typ, got = charset_search(M, cs, "SUBJECT", b"x")
        t.ok(typ == "NO" and got.startswith("[BADCHARSET (UTF-8 US-ASCII ISO-8859-1 "),
             "SEARCH CHARSET %s: NO [BADCHARSET (...)] listing the supported ones" % cs, got)
    # a long needle: 50,000 euro signs, 3 bytes each in UTF-8, within the bound
    typ, got = charset_search(M, "WINDOWS-1252", "BODY", b"\x80" * 50000)
    t.ok(typ == "OK" and got == [], "a 50,000-byte WINDOWS-1252 needle converts (150,000 bytes)",
         "%s %s" % (typ, str(got)[:200]))
    # every charset BADCHARSET names is one SEARCH takes
    typ, got = charset_search(M, "X-NO-SUCH-CHARSET", "SUBJECT", b"x")
    listed = got[len("[BADCHARSET ("):got.index(")")].split() if typ == "NO" else []
    for cs in listed:
        typ, found = charset_search(M, cs, "SUBJECT", b"aus")
        t.ok(typ == "OK" and found == ["1", "2"], "SEARCH CHARSET %s (named in BADCHARSET) works" % cs,
             "%s %s" % (typ, found))
    t.ok(len(listed) >= 6, "BADCHARSET names %d charsets" % len(listed), listed)
    for cs, needle, why in (("SHIFT_JIS", b"\x81", "an incomplete Shift_JIS character"),
                            ("SHIFT_JIS", b"\x81\x20", "an invalid Shift_JIS trail byte"),
                            ("ISO-2022-JP", b"\xff", "an 8-bit byte in 7-bit ISO-2022-JP"),
                            ("UTF-16LE", b"a\x00\x00\x00", "a NUL character")):
        typ, got = charset_search(M, cs, "BODY", needle)
        t.ok(typ == "BAD", "S30: SEARCH CHARSET %s: %s is BAD" % (cs, why), got)
    typ, got = charset_search(M, "ISO-8859-1", "SUBJECT", "Köln".encode("latin-1"))
    t.ok(typ == "OK" and got == ["1", "2"], "the session goes on after BAD and NO", got)
    M.logout()
    M = None

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
    if M is not None:
        try:
            M.shutdown()
        except Exception:
            pass
    if raw is not None:
        raw.close()
    env.cleanup()
t.done()
