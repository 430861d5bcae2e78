#!/usr/bin/env python3
# smtp-session with TLS over loopback sockets under systemd-socket-activate:
# STARTTLS + AUTH with Python's smtplib, gnutls-cli and swaks; implicit TLS
# (S15); STARTTLS injection (S10); close_notify then cleartext (S16);
# stalled handshakes (S17); repeated AUTH failures (S53).
import base64
import os
import re
import select
import socket
import smtplib
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key, auth_requires_tls="yes",
        auth_fail_delay_ms=200, tls_handshake_timeout="60s")
ALICE, PW = "alice@example.org", yubin.DEMO_PASSWORD
ctx = ssl.create_default_context(cafile=c.ca)

sub = yubin.Listener(env, "smtp-session", ["--submission"])
smtps = yubin.Listener(env, "smtp-session", ["--submission", "--implicit-tls"])
mx = yubin.Listener(env, "smtp-session")
listeners = [sub, smtps, mx]


def log_text():
    out = b""
    for li in listeners:
        li.log.flush()
        with open(li.logpath, "rb") as f:
            out += f.read()
    return out


def recv_reply(sock, timeout=30):
    sock.settimeout(timeout)
    buf = b""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return buf
            buf += data
            lines = buf.split(b"\r\n")
            if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
                return buf
    except socket.timeout:
        return buf


def recv_all(sock, timeout):
    """Everything until EOF or timeout; (data, closed)."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return buf, True
            buf += data
    except socket.timeout:
        return buf, False
    except (ConnectionResetError, ssl.SSLError):
        return buf, True


try:
    # --- smtplib: STARTTLS, AUTH PLAIN, send ------------------------------
    with smtplib.SMTP("127.0.0.1", sub.port, local_hostname="client.example", timeout=10) as s:
        s.ehlo()
        t.ok(s.has_extn("starttls") and not s.has_extn("auth"),
             "socket: STARTTLS offered, AUTH not before TLS")
        code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.org\0" + PW.encode()).decode())
        t.ok(code in (530, 538), "socket: AUTH before TLS refused (%d)" % code)
        s.starttls(context=ctx)
        s.ehlo()
        t.ok(s.has_extn("auth") and not s.has_extn("starttls"),
             "socket: after STARTTLS AUTH offered, STARTTLS not")
        t.contains(s.sock.version(), "TLSv1.", "socket: negotiated %s" % s.sock.version())
        code, _ = s.login(ALICE, PW)
        t.eq(code, 235, "smtplib STARTTLS + login (AUTH PLAIN)")
        refused = s.sendmail(ALICE, ["bob@example.org"], b"Subject: smtplib tls\r\n\r\nhi\r\n")
        t.eq(refused, {}, "smtplib: message accepted after AUTH")
    time.sleep(0.2)
    msgs = [m for m in env.messages("bob@example.org") if b"smtplib tls" in m]
    t.ok(len(msgs) == 1 and b"client.example" in msgs[0] and b"TLSv1." in msgs[0],
         "delivered; Received: names the TLS EHLO and the cipher", msgs)

    with smtplib.SMTP("127.0.0.1", sub.port, timeout=10) as s:
        s.starttls(context=ctx)
        s.ehlo()
        s.user, s.password = ALICE, PW
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=True)
        t.eq(code, 235, "smtplib AUTH LOGIN with initial response")

    with smtplib.SMTP("127.0.0.1", sub.port, timeout=10) as s:
        s.starttls(context=ctx)
        s.ehlo()
        s.user, s.password = ALICE, PW
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        t.eq(code, 235, "smtplib AUTH LOGIN without initial response")

    # --- S53 over a socket: 3 failures end the session ---------------------
    s = smtplib.SMTP("127.0.0.1", sub.port, timeout=10)
    s.starttls(context=ctx)
    s.ehlo()
    codes = []
    bad = base64.b64encode(b"\0alice@example.org\0wrong").decode()
    for _ in range(3):
        try:
            codes.append(s.docmd("AUTH", "PLAIN " + bad)[0])
        except smtplib.SMTPServerDisconnected:
            codes.append(None)
    t.eq(codes, [535, 535, 535], "S53 wrong password over a socket: 535 each time")
    try:
        code, _ = s.noop()
    except (smtplib.SMTPServerDisconnected, OSError):
        code = None
    t.ok(code in (None, 421), "S53 connection closed after 3 failures (%r)" % code)
    try:
        s.close()
    except OSError:
        pass

    # --- gnutls-cli --starttls-proto=smtp ---------------------------------
    def gnutls_dialog(port, lines, prio=None):
        """gnutls-cli --starttls-proto=smtp given each line once the reply
        to the one before is there, the first once the handshake is done:
        lines sent on a clock (1 s, then 0.4 s apart) reached a slow session
        early, as pipelining it refuses (S6). Its output (with stderr)."""
        p = subprocess.Popen(["gnutls-cli", "--starttls-proto=smtp", "--x509cafile", c.ca]
                             + (["--priority", prio] if prio else []) + ["-p", str(port), "localhost"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = b""
        deadline = time.time() + 60

        def until(pattern, start):
            nonlocal out
            while not re.search(pattern, out[start:]):
                left = deadline - time.time()
                if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                    return False
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    return False
                out += chunk
            return True
        more = until(rb"- Simple Client Mode", 0)
        for ln in lines:
            if not more:
                break
            start = len(out)
            p.stdin.write(ln.encode() + b"\r\n")
            p.stdin.flush()
            more = until(rb"(^|\n)\d{3} [^\n]*\n", start)
        try:
            p.stdin.close()
        except OSError:
            pass
        p.stdin = None
        rest = p.communicate(timeout=60)[0]
        return out + rest

    out = gnutls_dialog(sub.port, ["EHLO gnutls.example",
                                   "AUTH PLAIN " + base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                                                                    PW.encode()).decode(),
                                   "QUIT"])
    t.ok(b"235 2.7.0" in out and b"221" in out,
         "gnutls-cli STARTTLS (certificate verified) then AUTH PLAIN: 235", out)

    # --- default priority: TLS 1.2 with AEAD works; TLS 1.1 and CBC do not -----
    def gnutls_try(prio):
        return gnutls_dialog(mx.port, ["QUIT"], prio)

    out = gnutls_try("NORMAL:-VERS-ALL:+VERS-TLS1.2")
    t.ok(b"221" in out and b"TLS1.2" in out, "TLS 1.2 client accepted", out[-800:])
    out = gnutls_try("NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0")
    t.ok(b"221" not in out and b"alert" in out, "TLS 1.0/1.1 client refused with an alert", out)
    out = gnutls_try("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:+SHA1:+SHA256")
    t.ok(b"221" not in out and b"alert" in out, "CBC-only TLS 1.2 client refused with an alert", out)

    # --- swaks --tls --auth ------------------------------------------------
    for mech in ("PLAIN", "LOGIN"):
        out = subprocess.run(["swaks", "-s", "127.0.0.1", "-p", str(sub.port), "--tls",
                              "--tls-verify", "--tls-ca-path", c.ca,
                              "--auth", mech, "--auth-user", ALICE, "--auth-password", PW,
                              "--from", ALICE, "--to", "carol@example.org",
                              "--ehlo", "swaks.example", "--header", "Subject: swaks " + mech,
                              "--timeout", "10"],
                             capture_output=True, timeout=30)
        t.ok(out.returncode == 0 and b"235 2.7.0" in out.stdout,
             "swaks --tls --auth %s" % mech, out.stdout[-1500:] + out.stderr[-500:])
    time.sleep(0.2)
    t.eq(len(env.messages("carol@example.org")), 2, "both swaks messages delivered")

    # --- S15: implicit TLS ------------------------------------------------
    with socket.create_connection(("127.0.0.1", smtps.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as ts:
            g = recv_reply(ts)
            t.ok(g.startswith(b"220 "), "S15 implicit TLS socket: greeting inside TLS", g)
            ts.sendall(b"EHLO x\r\n")
            caps = recv_reply(ts)
            t.ok(b"AUTH PLAIN LOGIN" in caps and b"STARTTLS" not in caps,
                 "S15 implicit TLS: AUTH offered, STARTTLS not", caps)
            ts.sendall(b"STARTTLS\r\n")
            t.ok(recv_reply(ts).startswith(b"554"), "S15 STARTTLS inside implicit TLS: 554")
            ts.sendall(b"QUIT\r\n")
            recv_reply(ts)
    with socket.create_connection(("127.0.0.1", smtps.port), timeout=10) as raw:
        raw.sendall(b"EHLO x\r\n")
        data, closed = recv_all(raw, 30)
        t.ok(closed and b"220" not in data and b"250" not in data,
             "S15 plaintext on the implicit-TLS port: handshake failure, no SMTP in clear", data)
    with smtplib.SMTP_SSL("127.0.0.1", smtps.port, context=ctx, timeout=10) as s:
        s.ehlo()
        t.eq(s.login(ALICE, PW)[0], 235, "S15 smtplib SMTP_SSL login")

    # --- S10 over a socket ------------------------------------------------
    with socket.create_connection(("127.0.0.1", mx.port), timeout=10) as raw:
        recv_reply(raw)
        raw.sendall(b"EHLO t\r\n")
        recv_reply(raw)
        raw.sendall(b"STARTTLS\r\nRSET\r\n")
        r = recv_reply(raw)
        if r.startswith(b"220"):
            ts = ctx.wrap_socket(raw, server_hostname="localhost")
            data, closed = recv_all(ts, 1.5)
            t.eq(data, b"", "S10 socket: nothing inside TLS until the client speaks")
            ts.close()
        else:
            data, closed = recv_all(raw, 30)
            t.ok(b"250" not in r + data and closed,
                 "S10 socket: STARTTLS with pipelined RSET refused and closed", r + data)

    # --- S16: close_notify mid-DATA, then a cleartext byte ------------------
    before = len(env.messages(ALICE))
    raw = socket.create_connection(("127.0.0.1", mx.port), timeout=10)
    recv_reply(raw)
    raw.sendall(b"EHLO t\r\n")
    recv_reply(raw)
    raw.sendall(b"STARTTLS\r\n")
    recv_reply(raw)
    keep = raw.dup()  # the TCP stream, for the cleartext byte after close_notify
    ts = ctx.wrap_socket(raw, server_hostname="localhost")
    ts.sendall(b"EHLO t\r\n")
    recv_reply(ts)
    for cmd in (b"MAIL FROM:<a@example.com>\r\n", b"RCPT TO:<alice@example.org>\r\n", b"DATA\r\n"):
        ts.sendall(cmd)
        r = recv_reply(ts)
    t.ok(r.startswith(b"354"), "S16 socket: DATA inside TLS", r)
    ts.sendall(b"Subject: x\r\n")
    ts.settimeout(3)
    try:
        ts.unwrap()
    except (ssl.SSLError, OSError):
        pass
    try:
        keep.sendall(b"X\r\n.\r\nQUIT\r\n")
    except OSError:
        pass
    data, closed = recv_all(keep, 5)
    keep.close()
    ts.close()
    t.ok(b"250" not in data and b"221" not in data, "S16 socket: no cleartext reply after close_notify", data)
    time.sleep(0.3)
    t.eq(len(env.messages(ALICE)), before, "S16 socket: partial message not delivered")

    # --- S17: several stalled handshakes all end ---------------------------
    # Short only here: a refused client's handshake on a loaded machine (a
    # sanitizer build) can take seconds, and a timeout sends no alert.
    env.set(tls_handshake_timeout="2s")
    socks = []
    for _ in range(5):
        raw = socket.create_connection(("127.0.0.1", mx.port), timeout=10)
        recv_reply(raw)
        raw.sendall(b"EHLO t\r\n")
        recv_reply(raw)
        raw.sendall(b"STARTTLS\r\n")
        recv_reply(raw)
        raw.sendall(b"\x16\x03\x01\x02\x00")  # start of a ClientHello, then silence
        socks.append(raw)
    t0 = time.monotonic()
    ended = 0
    for raw in socks:
        _, closed = recv_all(raw, max(0.1, 8 - (time.monotonic() - t0)))
        ended += closed
        raw.close()
    t.eq(ended, 5, "S17 5 stalled handshakes closed by the server (%.1f s)" % (time.monotonic() - t0))

    logs = log_text()
    t.ok(b"handshake" in logs and b"timed out" in logs, "S17 handshake timeout logged", logs[-2000:])
    t.ok(b"Sanitizer" not in logs and b"runtime error" not in logs, "no sanitizer reports", logs[-2000:])
    t.ok(PW.encode() not in logs, "password never logged")
finally:
    for li in listeners:
        li.stop()
    env.cleanup()
t.done()
