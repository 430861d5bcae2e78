#!/usr/bin/env python3
"""UIDLs, sizes and payloads recorded from pop3-session before it stood on
lib/store: a client's list of known UIDLs must stay valid across the port
(a changed UIDL makes every POP3 client download the mailbox again).
Both formats: Maildir unique base names (printable and <= 70 bytes as they
are, else their SHA-256), names without W= (counted), flag renames and
new/ -> cur/ moves; mbox content digests with Status/X-UID/X-Keywords
headers, CRLF lines, >From quoting, duplicates and a last message without
its newline. The expected values are constants: never regenerate them."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
LOGIN = b"USER alice@example.org\r\nPASS secret-pw\r\n"
RECORD = os.environ.get("YUBIN_RECORD")   # prints the values, asserts nothing


def multiline(out, start):
    i = out.index(b"\r\n", start) + 2
    j = out.index(b"\r\n.\r\n", i - 2)
    return out[i:j + 2] if j >= i else b""


def listing(out, head):
    block = multiline(out, out.index(head))
    return [tuple(l.split(b" ", 1)) for l in block.split(b"\r\n") if l]


def session(env, n):
    cmds = b"STAT\r\nLIST\r\nUIDL\r\n" + b"".join(b"RETR %d\r\n" % i for i in range(1, n + 1))
    r = env.run("pop3-session", LOGIN + cmds + b"QUIT\r\n")
    out = r.stdout
    uidl = listing(out, b"+OK Unique-ID")
    lst = listing(out, b"+OK %d messages" % n)
    pos = out.index(b"+OK Unique-ID")
    pos = out.index(b"\r\n.\r\n", pos) + 5
    ret = []
    for _ in range(n):
        ret.append(hashlib.sha256(multiline(out, pos)).hexdigest()[:16])
        pos = out.index(b"\r\n.\r\n", pos) + 5
    # (number, size, UIDL, digest of the RETR payload as sent)
    return [(a.decode(), b.decode(), u[1].decode(), h) for (a, b), u, h in
            zip(lst, uidl, ret)], out


def check(name, got, want):
    if RECORD:
        print("# %s = %r" % (name, got))
        return
    t.eq(got, want, name)


# --- Maildir ------------------------------------------------------------------
env = yubin.Env(conf={"auth_fail_delay_ms": "10"})
d = env.maildir("alice@example.org")
for s in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(d, s), exist_ok=True)
MD = [
    ("new", "1700000001.M1P1R01.mx.example.org,S=24,W=26", b"Subject: a\n\nbody one\n"),
    ("new", "1700000002.M2P2.mx.example.org", b"Subject: b\n\nno W= here\n.dot line\n"),
    ("cur", "1700000003.M3P3.mx.example.org,S=30:2,RS", b"Subject: c\r\n\r\ncrlf already\r\n"),
    ("cur", "x" * 71 + ":2,", b"Subject: long base\n\n71 bytes of base\n"),
    ("cur", "has space.odd:2,F", b"Subject: space\n\nbase with a space\n"),
    ("cur", "tab\x7fdel,W=9:2,S", b"Subject: d\n\nno end"),
    ("new", "1700000007.M7P7.mx.example.org,S=6", b"\n\n\n\n\n\n"),
]
for sub, name, body in MD:
    with open(os.path.join(d, sub, name), "wb") as f:
        f.write(body)
    # one mtime: message numbers then follow the names, whatever the clock
    os.utime(os.path.join(d, sub, name), (1700000000, 1700000000))
env.write_conf()
got, out = session(env, len(MD))
check("maildir", got, [
    ('1', '37', '1700000002.M2P2.mx.example.org', 'd0c31b59b244b0a5'),
    ('2', '37', 'df8421bed1fb513b4840e39fa94ad1a8b4f84990cea401abd43789b9b28dcb8c', '75c9f6a36ac1ccdc'),
    ('3', '9', 'a2d93eaaae0143e7ff1c22d386254937af4f233c4b7415033b54be5640e3259d', '30ff29b52a6e9b8e'),
    ('4', '40', '87a1e4c1c92b7b7a7c46433d780de6cc19f9ef34fdb872c875fd6363ab238a56', 'df2c7b8c2df11908'),
    ('5', '26', '1700000001.M1P1R01.mx.example.org', 'ffa632f7922d5b6b'),
    ('6', '28', '1700000003.M3P3.mx.example.org', '68188414cadb6468'),
    ('7', '12', '1700000007.M7P7.mx.example.org', '9c8d0d8dc8633ab1'),
])
# Flag renames and the new/ -> cur/ move keep them.
for n in os.listdir(os.path.join(d, "new")):
    os.rename(os.path.join(d, "new", n), os.path.join(d, "cur", n + ":2,T"))
got2, _ = session(env, len(MD))
t.eq(got2, got, "Maildir: UIDLs, sizes, payloads unchanged by renames")
env.cleanup()

# --- mbox ---------------------------------------------------------------------
env = yubin.Env(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
INBOX = os.path.join(env.maildir("alice@example.org"), "INBOX")
os.makedirs(os.path.dirname(INBOX), exist_ok=True)
MB = (b"From alice@example.com Thu Nov 27 10:00:00 2026\n"
      b"Subject: m1\nStatus: RO\nX-UID: 7\nX-IMAPbase: 1700000000 9\n\n"
      b"body one\n>From quoted\n>>From twice\n.dot\n\n"
      b"From bob@example.com Thu Nov 27 10:01:00 2026\n"
      b"Subject: m2\nX-Keywords: $Junk\nX-Status: AF\nContent-Length: 4\n\ntwo\n\n"
      b"From bob@example.com Thu Nov 27 10:01:00 2026\n"
      b"Subject: m2\n\ntwo\n\n"
      b"From carol@example.com Thu Nov 27 10:02:00 2026\r\n"
      b"Subject: crlf\r\nLines: 1\r\n\r\nthree\r\n\r\n"
      b"From dave@example.com Thu Nov 27 10:03:00 2026\n"
      b"Subject: m5\n X-UID: folded, not a field\nX-UIDL: mine\n\nlast, no newline")
with open(INBOX, "wb") as f:
    f.write(MB)
env.write_conf()
got, out = session(env, 4)   # a CRLF From_ line separates nothing
check("mbox", got, [
    ('1', '105', 'feba012431d064f447e756a48b36c35b', '16f6db92be0f8c25'),
    ('2', '72', 'cc3be86f12e759d494eb49486cf26b5a', '5af71b5bec51f83c'),
    ('3', '20', 'cc3be86f12e759d494eb49486cf26b5a-2', '616dc887cf8ece16'),
    ('4', '160', '686b934288debc77ae57c24cba6a6c02', 'fd1ed1ec191ed157'),
])
env.cleanup()
t.done()
