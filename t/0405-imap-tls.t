#!/usr/bin/env python3
"""imap-session with TLS over loopback: STARTTLS discards pipelined
plaintext (covers S13), LOGINDISABLED until TLS (covers S14), implicit TLS
(--implicit-tls), LOGIN over TLS, and SASL decoding errors (covers S36)."""
import os
import socket
import ssl
import sys
import base64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import certs  # noqa: E402
import imaplib  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key, auth_requires_tls="yes", auth_fail_delay_ms="10")
ctx = ssl.create_default_context(cafile=c.ca)
L = yubin.Listener(env, "imap-session")
LI = yubin.Listener(env, "imap-session", args=["--implicit-tls"])


def readline(f):
    return f.readline()


def read_until_tag(f, tag):
    out = b""
    while True:
        line = f.readline()
        if not line:
            return out
        out += line
        if line.startswith(tag + b" "):
            return out


try:
    s = socket.create_connection(("127.0.0.1", L.port), timeout=5)
    f = s.makefile("rb")
    g = f.readline()
    t.ok(b"STARTTLS" in g and b"LOGINDISABLED" in g, "S14: STARTTLS and LOGINDISABLED before TLS", g)
    s.sendall(b"a STARTTLS\r\nb NOOP\r\n")
    line = f.readline()
    t.eq(line, b"a OK Begin TLS negotiation now\r\n", "S13: STARTTLS go-ahead in plaintext")
    ts = ctx.wrap_socket(s, server_hostname="localhost")
    ts.settimeout(1.5)
    try:
        early = ts.recv(4096)
    except (socket.timeout, TimeoutError):
        early = b""
    t.eq(early, b"", "S13: the injected 'b NOOP' gets no reply inside TLS")
    ts.settimeout(5)
    tf = ts.makefile("rb")
    ts.sendall(b"c CAPABILITY\r\n")
    resp = read_until_tag(tf, b"c")
    t.ok(b"* CAPABILITY" in resp and b"STARTTLS" not in resp and b"LOGINDISABLED" not in resp
         and b"AUTH=PLAIN" in resp, "S13: capabilities after TLS: no STARTTLS, AUTH offered", resp)
    ts.sendall(b"d STARTTLS\r\n")
    resp = read_until_tag(tf, b"d")
    t.ok(resp.startswith(b"d BAD"), "STARTTLS twice is BAD", resp)
    # S36: SASL decoding errors
    ts.sendall(b"e AUTHENTICATE PLAIN\r\n")
    t.eq(tf.readline(), b"+ \r\n", "AUTHENTICATE PLAIN continuation over TLS")
    ts.sendall(b"QUJD=A==\r\n")
    resp = read_until_tag(tf, b"e")
    t.ok(resp.startswith(b"e BAD") or resp.startswith(b"e NO"), "S36: '=' inside base64 refused", resp)
    ts.sendall(b"f AUTHENTICATE PLAIN " + b"A" * 10000 + b"\r\n")
    resp = read_until_tag(tf, b"f")
    t.ok(resp.startswith(b"f BAD") or resp.startswith(b"f NO"), "S36: oversized SASL-IR refused",
         resp[:100])
    ts.sendall(b"g AUTHENTICATE PLAIN\r\n")
    tf.readline()
    ts.sendall(b"*\r\n")
    resp = read_until_tag(tf, b"g")
    t.ok(resp.startswith(b"g BAD"), "S36: '*' cancels with BAD", resp)
    ir = base64.b64encode(b"bob@example.org\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode())
    ts.sendall(b"h AUTHENTICATE PLAIN " + ir + b"\r\n")
    resp = read_until_tag(tf, b"h")
    t.ok(resp.startswith(b"h NO") or resp.startswith(b"h BAD"), "S36: authzid other than authcid refused", resp)
    ts.sendall(b"i LOGIN alice@example.org " + yubin.DEMO_PASSWORD.encode() + b"\r\n")
    resp = read_until_tag(tf, b"i")
    t.ok(resp.startswith(b"i OK"), "LOGIN after STARTTLS", resp)
    ts.sendall(b"j LOGOUT\r\n")
    resp = read_until_tag(tf, b"j")
    t.ok(b"* BYE" in resp, "LOGOUT over TLS", resp)
    ts.close()

    # Implicit TLS: imaplib.IMAP4_SSL
    M = imaplib.IMAP4_SSL("127.0.0.1", LI.port, ssl_context=ctx)
    t.ok("STARTTLS" not in M.capabilities and "AUTH=PLAIN" in M.capabilities,
         "--implicit-tls: no STARTTLS, AUTH offered", M.capabilities)
    typ, _ = M.login("alice@example.org", yubin.DEMO_PASSWORD)
    t.eq(typ, "OK", "--implicit-tls: LOGIN")
    typ, data = M.select("INBOX")
    t.eq(typ, "OK", "--implicit-tls: SELECT")
    M.logout()
    # Plaintext on the implicit-TLS port gets no IMAP bytes.
    s = socket.create_connection(("127.0.0.1", LI.port), timeout=5)
    s.sendall(b"a CAPABILITY\r\n")
    try:
        got = s.recv(4096)
    except (socket.timeout, TimeoutError, ConnectionResetError):
        got = b""
    t.ok(b"CAPABILITY" not in got and b"* OK" not in got, "plaintext on the TLS port: no IMAP", got)
    s.close()
finally:
    L.stop()
    LI.stop()
    env.cleanup()
t.done()
