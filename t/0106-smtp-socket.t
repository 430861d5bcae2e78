#!/usr/bin/env python3
# smtp-session over a real loopback socket, under systemd-socket-activate
# --accept --inetd: Python's smtplib (several recipients), swaks (plain and
# --pipeline), BDAT from a raw client, the peer address in Received:, and
# RFC 2920 synchronisation, which is enforced on sockets. Covers S6, S29.
import email.message
import os
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402


# Execs its arguments once standard input is readable.
WAIT_READABLE = "import os, select, sys; select.select([0], [], []); os.execv(sys.argv[1], sys.argv[1:])"

t = yubin.TAP()
env = yubin.CleanEnv()
lst = yubin.Listener(env, "smtp-session")


def connect():
    s = socket.create_connection(("127.0.0.1", lst.port), timeout=10)
    return s


def read_until_close(s, limit=10):
    """Everything the server sends until it closes (or limit seconds)."""
    s.settimeout(limit)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def read_reply(s):
    s.settimeout(10)
    out = b""
    while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", out):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def take(addr):
    msgs = env.messages(addr)
    d = os.path.join(env.maildir(addr), "new")
    if os.path.isdir(d):
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
    return msgs


try:
    # smtplib: one message, several recipients (one of them an alias).
    msg = email.message.EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = "alice@example.org, bob@example.org"
    msg["Subject"] = "over a socket"
    msg.set_content("Hello over TCP.\n.leading dot\n")
    with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com", timeout=10) as c:
        code, caps = c.ehlo()
        t.ok(code == 250 and b"PIPELINING" in caps and b"CHUNKING" in caps,
             "smtplib: EHLO 250 with the extensions", caps)
        refused = c.send_message(msg, to_addrs=["alice@example.org", "bob@example.org",
                                                "team@example.org", "carol@example.org"])
        t.eq(refused, {}, "smtplib: send_message to four recipients, none refused")
        try:
            c.sendmail("sender@example.com", ["nobody@example.org"], "Subject: x\r\n\r\nx\r\n")
            t.ok(False, "smtplib: unknown recipient refused")
        except smtplib.SMTPRecipientsRefused as e:
            t.ok(e.recipients["nobody@example.org"][0] == 550, "smtplib: unknown recipient refused with 550")
    got = {u: take(u) for u in ("alice@example.org", "bob@example.org", "carol@example.org")}
    t.eq({u: len(m) for u, m in got.items()},
         {"alice@example.org": 1, "bob@example.org": 1, "carol@example.org": 1},
         "smtplib: every recipient got exactly one copy (alias members deduplicated)")
    m = got["alice@example.org"][0] if got["alice@example.org"] else b""
    t.ok(re.search(rb"\nReceived: from client\.example\.com \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.org "
                   rb"\(yubin\) with ESMTP id [0-9A-F]+;\n\t", m) is not None,
         "S29: Received names the HELO and the peer address [127.0.0.1]", m[:300])
    t.ok(m.endswith(b"\n\nHello over TCP.\n.leading dot\n"), "smtplib: body stored with the dot restored",
         m[-80:])

    # swaks: plain and pipelined.
    for extra, name in (([], "swaks"), (["--pipeline"], "swaks --pipeline")):
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % lst.port, "--to", "alice@example.org",
                            "--from", "x@example.com", "--helo", "swaks.example.com",
                            "--header", "Subject: %s" % name] + extra,
                           capture_output=True, timeout=30)
        t.ok(p.returncode == 0 and b"<-  250 2.0.0 Ok: queued as" in p.stdout,
             "%s: message accepted" % name, p.stdout[-600:])
        msgs = take("alice@example.org")
        t.ok(len(msgs) == 1 and ("\nSubject: %s\n" % name).encode() in msgs[0],
             "%s: message in alice's Maildir" % name)
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % lst.port, "--protocol", "ESMTP",
                        "--to", "alice@example.org,bob@example.org", "--from", "x@example.com",
                        "--data", "Subject: dots\n\nfirst\n.\n..two\nlast\n"],
                       capture_output=True, timeout=30)
    a, b = take("alice@example.org"), take("bob@example.org")
    t.ok(p.returncode == 0 and len(a) == 1 and len(b) == 1 and
         b"\nSubject: dots\n\nfirst\n.\n..two\nlast\n" in a[0],
         "swaks --protocol ESMTP, two recipients: dot lines stuffed by swaks come back exact",
         (p.stdout[-300:], a[:1]))
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % lst.port, "--to", "bob@example.net",
                        "--from", "x@example.com", "--pipeline"], capture_output=True, timeout=30)
    t.ok(p.returncode != 0 and b"554 5.7.1 <bob@example.net>: Relay access denied" in p.stdout,
         "swaks --pipeline: remote recipient refused (relay denied)")

    # BDAT over the socket, chunks in separate writes.
    s = connect()
    read_reply(s)
    s.sendall(b"EHLO raw.example.com\r\n")
    read_reply(s)
    s.sendall(b"MAIL FROM:<r@example.com>\r\nRCPT TO:<alice@example.org>\r\n")
    r = read_reply(s)
    r += read_reply(s) if r.count(b"\r\n") < 2 else b""
    s.sendall(b"BDAT 15\r\nSubject: bd\r\n\r\n")
    r1 = read_reply(s)
    s.sendall(b"BDAT 7 LAST\r\n.body\r\n")
    r2 = read_reply(s)
    s.sendall(b"QUIT\r\n")
    read_until_close(s)
    s.close()
    msgs = take("alice@example.org")
    t.ok(r1.startswith(b"250 2.0.0 15 octets") and r2.startswith(b"250 2.0.0 Ok: queued") and
         len(msgs) == 1 and msgs[0].endswith(b"\nSubject: bd\n\n.body\n"),
         "BDAT over a socket: two chunks, stored with LF ends and the dot kept", r1 + r2)

    # S6.1: an early talker, before the greeting. Sending at once after
    # connect() is a race with the session's start (on a loaded machine the
    # session may greet before the bytes arrive), so these sessions are
    # started only once the client's bytes are readable on their socket.
    early_lst = yubin.Listener(env, "smtp-session", wrap=[sys.executable, "-c", WAIT_READABLE])
    early = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", early_lst.port), timeout=10)
            s.sendall(b"EHLO x\r\n")
            out = read_until_close(s, 30)
            s.close()
            early.append(out)
    finally:
        early_lst.stop()
        early_log = open(early_lst.logpath, "rb").read()
    t.ok(all(o.startswith(b"554 5.5.0 Error: SMTP protocol synchronization") and b"220" not in o
             for o in early), "S6: client talks before the greeting: 554 5.5.0, closed", early)

    # S6.2: pipelining after HELO (no PIPELINING negotiated).
    s = connect()
    read_reply(s)
    s.sendall(b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\n")
    out = read_until_close(s)
    s.close()
    t.ok(out.startswith(b"250 mx.example.org\r\n554 5.5.0 Error: SMTP protocol synchronization")
         and b"250 2.1" not in out, "S6: HELO, MAIL, RCPT in one write: 554 5.5.0, closed", out)

    # S6.3: content before the 354.
    s = connect()
    read_reply(s)
    s.sendall(b"EHLO x\r\n")
    read_reply(s)
    s.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
              b"Subject: x\r\n\r\nbody\r\n.\r\n")
    out = read_until_close(s)
    s.close()
    t.ok(out == b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.5.0 Error: SMTP protocol synchronization\r\n",
         "S6: content sent with DATA before the 354: 554 5.5.0 after DATA, closed", out)
    t.eq(take("alice@example.org"), [], "S6: nothing stored by any of the three")

    # Legal pipelining (RFC 2920) still works: MAIL, RCPT, DATA in one write.
    s = connect()
    read_reply(s)
    s.sendall(b"EHLO x\r\n")
    read_reply(s)
    s.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
              b"DATA\r\n")
    out = b""
    deadline = time.time() + 10
    while b"354 " not in out and time.time() < deadline:
        out += s.recv(4096)
    s.sendall(b"Subject: p\r\n\r\npiped\r\n.\r\n")
    out += read_reply(s)
    s.sendall(b"QUIT\r\n")
    out += read_until_close(s)
    s.close()
    t.ok(re.fullmatch(rb"250 2\.1\.0 Ok\r\n250 2\.1\.5 Ok\r\n250 2\.1\.5 Ok\r\n354 [^\r]*\r\n"
                      rb"250 2\.0\.0 Ok: queued as [0-9A-F]+\r\n221 2\.0\.0 Bye\r\n", out) is not None,
         "RFC 2920: MAIL, RCPT, RCPT, DATA pipelined after EHLO: all answered, message accepted", out)
    t.eq([len(take(u)) for u in ("alice@example.org", "bob@example.org")], [1, 1],
         "RFC 2920: both recipients got the pipelined message")
finally:
    lst.stop()
    log = open(lst.logpath, "rb").read()
    env.cleanup()
t.ok(b"improper command pipelining after CONNECT" in early_log and b"after HELO" in log and b"after DATA" in log,
     "S6: each synchronisation error is logged", (early_log[-200:], log[-400:]))
t.done()
