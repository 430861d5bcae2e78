#!/usr/bin/env python3
# GnuTLS is loaded by a session only when it needs it (lib/tlslib.c): a
# plain SMTP session that receives and delivers a message never maps
# libgnutls, yet STARTTLS is still offered and, when used, works in the
# same process (the library is loaded then), as does implicit TLS. The
# per-connection cost of the dynamic loader is what this removes (issue
# 15); the maps checked here are what shows it.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key)
ALICE = "alice@example.org"


def gnutls_mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return any("libgnutls" in line for line in f)


def deliver(send, reply, subject):
    ok = reply("MAIL FROM:<x@example.net>\r\n").startswith(b"250")
    ok = ok and reply("RCPT TO:<%s>\r\n" % ALICE).startswith(b"250")
    ok = ok and reply("DATA\r\n").startswith(b"354")
    send("Subject: %s\r\n\r\nbody\r\n.\r\n" % subject)
    return ok and reply(None).startswith(b"250 ")


def finish(s):
    s.p.stdin.close()
    s.p.wait(30)
    err = s.p.stderr.read()
    return s.p.returncode, err


s = env.start("smtp-session")


def plain(cmd):
    if cmd is not None:
        s.send(cmd)
    return s.reply()


t.ok(s.reply().startswith(b"220 "), "greeting")
caps = plain("EHLO client.test\r\n")
t.contains(caps, b"250-STARTTLS", "STARTTLS offered")
t.ok(not gnutls_mapped(s.p.pid), "after greeting and EHLO, libgnutls is not mapped")
t.ok(deliver(s.send, plain, "plain"), "a message delivered without TLS")
t.ok(not gnutls_mapped(s.p.pid), "after a delivery without TLS, libgnutls is still not mapped")
t.ok(plain("STARTTLS\r\n").startswith(b"220 "), "STARTTLS accepted")
tls = certs.PipeTLS(s.p.stdin, s.p.stdout, c.ca)
t.ok(gnutls_mapped(s.p.pid), "STARTTLS loaded libgnutls into the session")


def secure(cmd):
    if cmd is not None:
        tls.send(cmd)
    return tls.reply()


caps = secure("EHLO client.test\r\n")
t.ok(caps.startswith(b"250-") and b"STARTTLS" not in caps, "EHLO inside TLS", caps)
t.ok(deliver(tls.send, secure, "over tls"), "a message delivered over TLS")
t.ok(secure("QUIT\r\n").startswith(b"221"), "QUIT inside TLS")
rc, err = finish(s)
t.eq(rc, 0, "the session exited 0")
msgs = env.messages(ALICE)
t.eq(len(msgs), 2, "both messages stored")
t.ok(any(b"Subject: over tls" in m and b"TLSv1." in m for m in msgs),
     "the message sent over TLS records the TLS version in Received:",
     [m[:300] for m in msgs])

# Implicit TLS: the library is loaded before the greeting.
s = env.start("smtp-session", ["--submission", "--implicit-tls"])
tls = certs.PipeTLS(s.p.stdin, s.p.stdout, c.ca)
t.ok(secure(None).startswith(b"220 "), "implicit TLS: greeting inside TLS")
t.ok(gnutls_mapped(s.p.pid), "implicit TLS: libgnutls mapped")
t.ok(secure("EHLO client.test\r\n").startswith(b"250"), "implicit TLS: EHLO")
t.ok(secure("QUIT\r\n").startswith(b"221"), "implicit TLS: QUIT")
rc, err = finish(s)
t.eq(rc, 0, "implicit TLS: the session exited 0")

# A session that only answers QUIT loads nothing either.
s = env.start("smtp-session")
s.reply()
t.ok(not gnutls_mapped(s.p.pid), "a bare session: libgnutls not mapped")
plain("QUIT\r\n")
finish(s)
t.done()
