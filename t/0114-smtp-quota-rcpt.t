#!/usr/bin/env python3
"""smtp-session refuses an over-quota recipient alone at RCPT TO, so the
others still get the mail (Maildir and mbox, over a socket with swaks and
Python smtplib): a mailbox already at its limit gets 452 4.2.2 at RCPT
even without SIZE=; a declared SIZE= larger than the user's whole limit
gets 552 5.2.2 at RCPT; the other recipient is taken and gets the
message. At the end of data what could not be known before (no SIZE=,
the message larger than a recipient's whole limit) is refused with one
reply for every recipient (552 5.2.2) and stored for none."""
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

A, B, C = "alice@example.org", "bob@example.org", "carol@example.org"
t = yubin.TAP()


def stored(env, fmt, addr):
    """Bytes of the user's messages on disk (every folder)."""
    total = 0
    for top, dirs, files in os.walk(env.maildir(addr)):
        for f in files:
            if fmt == "mbox":
                if not f.startswith(".") and not f.endswith(".lock"):
                    total += os.path.getsize(os.path.join(top, f))
            elif os.path.basename(top) in ("cur", "new"):
                total += os.path.getsize(os.path.join(top, f))
    return total


def body(size):
    head = b"From: sender@example.com\r\nSubject: quota\r\n\r\n"
    line = b"x" * 70 + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def swaks(lst, rcpts, size):
    """swaks (no SIZE=): its transcript."""
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % lst.port,
                        "--to", ",".join(rcpts), "--from", "sender@example.com",
                        "--helo", "swaks.example.com", "--data", "-"],
                       input=body(size), capture_output=True, timeout=60)
    return p.stdout.decode("utf-8", "replace")


def write_users(env, extra):
    """The users file with extra fields per user (Dovecot's 8th field)."""
    h = yubin.crypt_hash(yubin.DEMO_PASSWORD)
    with open(env.users_file, "w") as f:
        for u in env.USERS:
            f.write("%s:{SHA512-CRYPT}%s::::::%s\n" % (u, h, extra.get(u, "")))


def reply_to(out, cmd):
    """swaks: the reply line after the command line starting with cmd."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(" -> " + cmd) and i + 1 < len(lines):
            return lines[i + 1]
    return ""


def run(fmt):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt, "quota_storage": "8K"})
    write_users(env, {B: "userdb_quota_rule=*:storage=1M"})
    lst = yubin.Listener(env, "smtp-session")
    try:
        with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com",
                          timeout=20) as c:
            refused = c.sendmail("sender@example.com", [A], body(7000))
        t.eq(refused, {}, fmt + ": 7000 bytes for alice, within 8K")
        a1 = stored(env, fmt, A)
        # The administrator lowers alice's quota below what she stores.
        write_users(env, {A: "userdb_quota_rule=*:storage=4K", B: "userdb_quota_rule=*:storage=1M"})

        out = swaks(lst, [A, B], 1000)
        t.ok(reply_to(out, "RCPT TO:<%s>" % A).startswith("<** 452 4.2.2"),
             fmt + ": swaks, no SIZE=: RCPT of alice (full) 452 4.2.2", out)
        t.ok(reply_to(out, "RCPT TO:<%s>" % B).startswith("<-  250"),
             fmt + ": swaks: RCPT of bob 250", out)
        t.ok(reply_to(out, ".").startswith("<-  250"),
             fmt + ": swaks: the message is taken for bob", out)
        t.eq(stored(env, fmt, A), a1, fmt + ": nothing stored for alice")
        b1 = stored(env, fmt, B)
        t.ok(b1 >= 1000, fmt + ": bob got it", b1)

        big = body(20000)
        with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com",
                          timeout=20) as c:
            c.ehlo()
            c.mail("sender@example.com", ["SIZE=%d" % len(big)])
            code_c, msg_c = c.rcpt(C)
            code_b, msg_b = c.rcpt(B)
            t.ok(code_c == 552 and msg_c.startswith(b"5.2.2"),
                 fmt + ": smtplib: SIZE= above carol's whole limit: 552 5.2.2 at RCPT",
                 (code_c, msg_c))
            t.eq(code_b, 250, fmt + ": smtplib: bob (own limit 1M) is taken")
            code_d, msg_d = c.data(big)
            t.eq(code_d, 250, fmt + ": smtplib: the message is taken for bob")
        t.eq(stored(env, fmt, C), 0, fmt + ": nothing stored for carol")
        b2 = stored(env, fmt, B)
        t.ok(b2 - b1 > 19000, fmt + ": bob got it", (b1, b2))

        out = swaks(lst, [C, B], 20000)
        t.ok(reply_to(out, "RCPT TO:<%s>" % C).startswith("<-  250"),
             fmt + ": swaks, no SIZE=: carol's empty mailbox takes the RCPT", out)
        t.ok(reply_to(out, ".").startswith("<** 552 5.2.2"),
             fmt + ": end of data, larger than carol's whole limit: one 552 5.2.2", out)
        t.eq((stored(env, fmt, C), stored(env, fmt, B)), (0, b2),
             fmt + ": stored for nobody (all or none)")
    finally:
        lst.stop()


for fmt in ("maildir", "mbox"):
    run(fmt)
t.done()
