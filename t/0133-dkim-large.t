#!/usr/bin/env python3
"""The DKIM signer streams the body (issue 12): a 30 MB submission is
signed with RSA and Ed25519 keys while smtp-session's peak memory stays
far below the message's size (and close to that of the same message
unsigned), and both signatures verify with dkimpy and OpenDKIM."""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import dkimenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
AUTH = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode()).decode()
SIZE = 30 * 1000 * 1000
line = b"0123456789 abcdefghij  klmnopqrst \tuvwxyz ABCDEFGHIJ KLMNOPQRST UVWXYZ .,;:-\r\n"
body = line * (SIZE // len(line))
session = (b"EHLO client.example\r\nAUTH PLAIN " + AUTH.encode() + b"\r\n"
           b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
           b"From: alice@example.org\r\nSubject: big\r\n\r\n")
chunks = [session] + [body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)] + [b".\r\n"]


def take():
    out = []
    d = os.path.join(env.maildir("bob@example.org"), "new")
    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, n), "rb") as f:
            out.append(f.read())
        os.unlink(os.path.join(d, n))
    return out


out, unsigned_kb = yubin.run_hwm(env, chunks, b"250 2.0.0 Ok: queued", prog="smtp-session",
                               args=["--submission"])
got = take()
t.ok(b"250 2.0.0 Ok: queued" in out and len(got) == 1 and b"DKIM-Signature" not in got[0],
     "without keys: stored unsigned (peak %s KiB)" % unsigned_kb)

keys = dkimenv.Keys(env)
keys.make("example.org", "rsa", "big-rsa")
keys.make("example.org", "ed25519", "big-ed")
out, signed_kb = yubin.run_hwm(env, chunks, b"250 2.0.0 Ok: queued", prog="smtp-session",
                               args=["--submission"])
got = take()
m = got[0] if got else b""
t.ok(b"250 2.0.0 Ok: queued" in out and len(re.findall(rb"\nDKIM-Signature:", m)) == 2,
     "with an RSA and an Ed25519 key: stored with two signatures", out[-300:])
t.ok(signed_kb is not None and signed_kb < 20 * 1024,
     "peak memory while signing 30 MB: %s KiB, under 20 MiB (the message is 28.6 MiB)" % signed_kb)
# GnuTLS is loaded only when a session signs (lib/tlslib.c), so the
# baseline for "streams" is a small message signed with the same keys.
small = [session, line * 10, b".\r\n"]
out, small_kb = yubin.run_hwm(env, small, b"250 2.0.0 Ok: queued", prog="smtp-session",
                              args=["--submission"])
take()
t.ok(signed_kb is not None and small_kb is not None and signed_kb < small_kb + 4096,
     "and within 4 MiB of signing a small message (%s KiB; unsigned 30 MB: %s KiB)"
     % (small_kb, unsigned_kb))
v = keys.verify(m)
t.ok(sorted((x["s"], x["pass"]) for x in v["dkimpy"]) == [("big-ed", True), ("big-rsa", True)],
     "both verify with dkimpy", v["dkimpy"])
t.ok(sorted((s, r) for r, s in v["opendkim"]) == [("big-ed", "pass"), ("big-rsa", "pass")],
     "both verify with OpenDKIM", v["opendkim"])
t.done()
