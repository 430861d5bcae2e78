#!/usr/bin/env python3
"""pop3-session with TLS over loopback under systemd-socket-activate:
STLS injection (S12), CAPA honesty before and after STLS (S46), no
plaintext login before TLS, poplib with stls(), POP3S (--implicit-tls)
with poplib.POP3_SSL, STLS over pipes, STLS in the wrong state."""
import os
import poplib
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key, auth_requires_tls="yes", auth_fail_delay_ms=10)
ALICE, PW = "alice@example.org", yubin.DEMO_PASSWORD
ctx = ssl.create_default_context(cafile=c.ca)

d = env.maildir(ALICE)
for s in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(d, s))
BODY = b"Subject: over tls\n\n.hidden dot\nsecond line\n"
with open(os.path.join(d, "new", "1764000000.M1P1R0000000000000001.mx,S=%d,W=%d"
                       % (len(BODY), len(BODY) + 4)), "wb") as f:
    f.write(BODY)
env.write_conf()

pop3 = yubin.Listener(env, "pop3-session")
pop3s = yubin.Listener(env, "pop3-session", ["--implicit-tls"])


def recv_until(sock, end, timeout=30):
    sock.settimeout(timeout)
    buf = b""
    try:
        while not buf.endswith(end):
            data = sock.recv(4096)
            if not data:
                break
            buf += data
    except socket.timeout:
        pass
    return buf


def recv_for(sock, seconds):
    """Whatever arrives within seconds (b"" if nothing)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096)
    except (socket.timeout, ssl.SSLWantReadError):
        return b""


try:
    # --- plaintext phase: CAPA honest, no login (S12, S46) -----------------
    s = socket.create_connection(("127.0.0.1", pop3.port), timeout=5)
    t.ok(recv_until(s, b"\r\n").startswith(b"+OK"), "greeting")
    s.sendall(b"CAPA\r\n")
    capa = recv_until(s, b"\r\n.\r\n")
    t.ok(b"\r\nSTLS\r\n" in capa and b"USER" not in capa and b"SASL" not in capa and capa.endswith(b".\r\n"),
         "CAPA before TLS: STLS, no USER, no SASL (covers S46)", capa)
    s.sendall(b"USER alice@example.org\r\n")
    t.ok(recv_until(s, b"\r\n").startswith(b"-ERR [AUTH]"), "USER before STLS -> -ERR [AUTH] (covers S12)")
    s.sendall(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldC1wdw==\r\nAUTH\r\n")
    ans = recv_until(s, b"\r\n").split(b"\r\n")
    t.ok(ans[0].startswith(b"-ERR [AUTH]"), "AUTH PLAIN before STLS -> -ERR [AUTH]")
    ans = ans[1] if len(ans) > 2 and ans[1] else recv_until(s, b"\r\n")
    t.ok(ans.startswith(b"-ERR [AUTH]"), "AUTH (list) before STLS -> -ERR [AUTH] (covers S46)", ans)

    # --- S12: STLS with a pipelined CAPA in the same write -------------------
    s.sendall(b"STLS\r\nCAPA\r\n")
    go = recv_until(s, b"\r\n")
    t.eq(go, b"+OK Begin TLS negotiation\r\n", "STLS go-ahead in plaintext, alone")
    ts = ctx.wrap_socket(s, server_hostname="localhost")
    t.ok(ts.version() in ("TLSv1.2", "TLSv1.3"), "handshake completes (%s)" % ts.version())
    injected = recv_for(ts, 2)
    t.eq(injected, b"", "the pipelined CAPA is not answered inside TLS (covers S12)")
    ts.sendall(b"CAPA\r\n")
    capa2 = recv_until(ts, b"\r\n.\r\n")
    t.ok(b"STLS" not in capa2 and b"\r\nUSER\r\n" in capa2 and b"\r\nSASL PLAIN LOGIN\r\n" in capa2
         and capa2.endswith(b"\r\n.\r\n"), "CAPA after STLS: USER and SASL PLAIN, no STLS (covers S46)", capa2)
    ts.sendall(b"STLS\r\n")
    t.ok(recv_until(ts, b"\r\n").startswith(b"-ERR"), "STLS inside TLS -> -ERR (covers S12)")
    ts.sendall(b"USER alice@example.org\r\nPASS secret-pw\r\nRETR 1\r\nQUIT\r\n")
    rest = recv_until(ts, b"signing off (1 messages left)\r\n")
    t.ok(b"+OK Logged in" in rest and b"\r\n..hidden dot\r\nsecond line\r\n.\r\n" in rest,
         "login and RETR inside TLS", rest)
    ts.close()

    # --- poplib with stls() ----------------------------------------------------
    p = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
    caps = p.capa()
    t.ok("STLS" in caps and "USER" not in caps, "poplib sees STLS and no USER before TLS")
    p.stls(context=ctx)
    caps = p.capa()
    t.ok("USER" in caps and "STLS" not in caps, "poplib after stls(): USER offered")
    p.user(ALICE)
    p.pass_(PW)
    resp, lines, octets = p.retr(1)
    t.eq(b"\r\n".join(lines) + b"\r\n", BODY.replace(b"\n", b"\r\n"), "poplib RETR over STLS")
    t.eq(p.list(1), b"+OK 1 %d" % (len(BODY) + 4), "LIST size is that payload's length")
    p.quit()

    # --- POP3S --------------------------------------------------------------------
    p = poplib.POP3_SSL("127.0.0.1", pop3s.port, context=ctx, timeout=10)
    t.ok(p.getwelcome().startswith(b"+OK"), "POP3S greeting inside TLS")
    caps = p.capa()
    t.ok("USER" in caps and "STLS" not in caps, "POP3S CAPA: USER, no STLS")
    p.user(ALICE)
    p.pass_(PW)
    t.eq(p.stat(), (1, len(BODY) + 4), "POP3S STAT")
    t.ok(p.uidl(1).startswith(b"+OK 1 1764000000.M1P1R0000000000000001.mx"), "POP3S UIDL")
    resp, lines, _ = p.retr(1)
    t.ok(lines[-1] == b"second line", "POP3S RETR")
    p.quit()

    # --- fetchmail: STLS on 110-style port, and POP3S ---------------------------
    import subprocess
    home = os.path.join(env.dir, "fm")
    os.makedirs(home)
    out = os.path.join(env.dir, "fetched")

    def fetchmail(port, how):
        rc = os.path.join(home, "rc")
        with open(rc, "w") as f:
            f.write('set no syslog\nset no bouncemail\n'
                    'poll 127.0.0.1 protocol POP3 port %d:\n'
                    '  user "%s" there with password "%s" is "tester" here\n'
                    '  options keep fetchall %s sslcertck sslcertfile "%s" sslcommonname localhost'
                    ' mda "cat >> %s"\n' % (port, ALICE, PW, how, c.ca, out))
        os.chmod(rc, 0o600)
        e = dict(os.environ, HOME=home, FETCHMAILHOME=home)
        return subprocess.run(["fetchmail", "-f", rc, "--nodetach", "-v",
                               "--pidfile", os.path.join(home, "pid")], capture_output=True,
                              env=e, timeout=50)

    r = fetchmail(pop3.port, 'sslproto "tls1.2+"')
    got = open(out, "rb").read() if os.path.exists(out) else b""
    t.ok(r.returncode == 0 and b"Subject: over tls" in got and b"STLS" in r.stderr + r.stdout,
         "fetchmail fetches over STLS with a verified certificate", (r.stdout + r.stderr)[-600:])
    open(out, "wb").close()
    r = fetchmail(pop3s.port, "ssl")
    got = open(out, "rb").read()
    t.ok(r.returncode == 0 and b"Subject: over tls" in got, "fetchmail fetches over POP3S",
         (r.stdout + r.stderr)[-600:])

    log = b""
    for li in (pop3, pop3s):
        li.log.flush()
        log += open(li.logpath, "rb").read()
    t.ok(b"peer=127.0.0.1" in log and b"tls=yes" in log and b"secret-pw" not in log,
         "log: peer, TLS logins, never the password")
finally:
    pop3.stop()
    pop3s.stop()

# --- STLS over pipes and in the wrong state -------------------------------------
env.set(auth_requires_tls="no")
r = env.run("pop3-session", b"USER alice@example.org\r\nSTLS\r\nQUIT\r\n")
t.ok(r.stdout.split(b"\r\n")[2].startswith(b"-ERR"), "STLS after USER -> -ERR (covers S12)")
r = env.run("pop3-session", b"USER alice@example.org\r\nPASS secret-pw\r\nSTLS\r\nQUIT\r\n")
t.ok(r.stdout.split(b"\r\n")[3].startswith(b"-ERR"), "STLS after login -> -ERR")
env.set(tls_cert=os.path.join(env.dir, "missing.pem"))
r = env.run("pop3-session", b"CAPA\r\nSTLS\r\nNOOP\r\nQUIT\r\n")
ln = r.stdout.split(b"\r\n")
t.ok(b"-ERR [SYS/TEMP]" in r.stdout and r.stdout.endswith(b"signing off\r\n"),
     "unreadable certificate: STLS -> -ERR before any go-ahead, session goes on", r.stdout)
r = env.run("pop3-session", b"", args=["--implicit-tls"])
t.ok(r.rc != 0 and r.stdout == b"", "--implicit-tls without a usable certificate: exit, nothing sent")

env.cleanup()
t.done()
