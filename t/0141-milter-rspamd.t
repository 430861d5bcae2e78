#!/usr/bin/python3
"""A real rspamd (Debian's, a private instance: t/peers/rspamd.py) behind
smtp-session as a milter (issue 12): `milters = inet:127.0.0.1:PORT`.
On the MX service a GTUBE message gets 5xx at the end of DATA and is
stored nowhere, and a clean one is stored with rspamd's headers; on
submission rspamd's dkim_signing signs an authenticated user's message,
and dkimpy verifies the stored copy with the record yubin-setup --dns
prints for the key. The same through the Unix socket (`milters =
unix:PATH`), the form the sandboxed units need."""
import base64
import grp
import os
import pwd
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import rspamd  # noqa: E402
import yubin  # noqa: E402

import dkim  # noqa: E402

SETUP = os.path.join(yubin.TOP, "units", "yubin-setup")
SPAM = (b"From: Mallory <mallory@example.net>\r\nTo: Bob <bob@example.org>\r\n"
        b"Subject: offer\r\nDate: Mon, 07 Dec 2026 18:00:00 +0000\r\n"
        b"Message-ID: <gtube.1@example.net>\r\n\r\n" + rspamd.GTUBE + b"\r\n")

t = yubin.TAP()
env = yubin.Env()
rs = None


def clean(sender, subject):
    return (b"From: Sender <%s>\r\nTo: Bob <bob@example.org>\r\nSubject: %s\r\n"
            b"Date: Mon, 07 Dec 2026 18:00:00 +0000\r\nMessage-ID: <%s.1@example.org>\r\n"
            b"\r\nSee you at noon tomorrow.\r\n. a line that starts with a dot\r\n"
            % (sender.encode(), subject.encode(), subject.encode()))


def transaction(sender, message, args=(), auth=None):
    """One message on pipes; returns (reply to the final dot, Result)."""
    cmds = b"EHLO client.example.net\r\n"
    if auth:
        cmds += b"AUTH PLAIN " + base64.b64encode(b"\0%s\0%s" % (
            auth.encode(), yubin.DEMO_PASSWORD.encode())) + b"\r\n"
    cmds += b"MAIL FROM:<%s>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" % sender.encode()
    cmds += message.replace(b"\r\n.", b"\r\n..") + b".\r\nQUIT\r\n"
    r = env.run("smtp-session", cmds, args=args, timeout=180)
    replies = yubin.smtp_replies(r.stdout)
    # The reply to the dot is the one before QUIT's 221.
    return (replies[-2].decode(errors="replace") if len(replies) >= 2 else ""), r


def stored():
    return env.messages("bob@example.org")


def spool_files():
    return [p for p in yubin.files_under(env.spool)]


def record_for(selector):
    conf = os.path.join(env.dir, "setup.conf")
    with open(conf, "w") as f:
        f.write("hostname = mx.example.org\ndkim_key_dir = %s\n" % os.path.dirname(key))
    out = subprocess.run([SETUP, "-c", conf, "--dns", "example.org", "--address", "127.0.0.1"],
                         capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"^%s\._domainkey\.example\.org\.\s+\d+ IN TXT\s+(\(.*?\)|\".*?\")$" % selector,
                  out, re.M | re.S)
    return "".join(re.findall(r'"([^"]*)"', m.group(1))).encode() if m else None


def header_block(msg):
    return msg.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]


try:
    keys = os.path.join(env.dir, "dkim")
    os.makedirs(keys)
    key = os.path.join(keys, "example.org.rs1.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, capture_output=True)
    # The session drops to run_as: it reaches the Unix socket through the
    # socket's group, as yubin does under systemd (group=yubin).
    run_as = env.settings["run_as"]
    rs = rspamd.Rspamd(env.dir, dkim=[("example.org", "rs1", key)],
                       socket_group=grp.getgrgid(pwd.getpwnam(run_as).pw_gid).gr_name)
    # rspamd itself first, so that a failure below is yubin's.
    r = rs.scan(SPAM)
    t.ok(r["action"] == "reject", "rspamd (rspamc) rejects GTUBE before yubin is involved", r["out"])
    txt = record_for("rs1")

    for label, endpoint in (("inet", "inet:127.0.0.1:%d" % rs.milter_port),
                            ("unix", "unix:%s" % rs.milter_socket)):
        env.set(milters=endpoint, milter_timeout="60s", milter_default_action="tempfail")
        before = len(stored())

        # --- GTUBE: 5xx at the end of DATA, stored nowhere ----------------------
        reply, res = transaction("mallory@example.net", SPAM)
        t.ok(reply.startswith("5"), "%s: GTUBE gets 5xx at the end of DATA (%s)" % (label, reply),
             res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace"))
        t.ok(len(stored()) == before and spool_files() == [],
             "%s: and is stored nowhere (mailbox, spool)" % label, spool_files())

        # --- a clean message is stored with rspamd's headers ---------------------
        reply, res = transaction("carol@example.net", clean("carol@example.net", "lunch-" + label))
        msgs = stored()
        t.ok(reply.startswith("250") and len(msgs) == before + 1,
             "%s: a clean message is accepted and stored (%s)" % (label, reply),
             res.stderr.decode(errors="replace"))
        head = header_block(msgs[-1]) if len(msgs) > before else b""
        t.ok(b"X-Spamd-Result:" in head and b"X-Rspamd-Server:" in head,
             "%s: with rspamd's X-Spamd-Result and X-Rspamd-Server headers" % label, head)
        t.ok(b"\n.. a line that starts with a dot" not in msgs[-1] and
             b"\n. a line that starts with a dot" in msgs[-1],
             "%s: and its body intact (dot-stuffing undone once)" % label)
        t.ok(b"DKIM-Signature:" not in head, "%s: inbound mail is not signed" % label)

        # --- submission: rspamd signs, dkimpy verifies the stored copy -------------
        reply, res = transaction("alice@example.org", clean("alice@example.org", "signed-" + label),
                                 args=["--submission"], auth="alice@example.org")
        msgs = stored()
        t.ok(reply.startswith("250") and len(msgs) == before + 2,
             "%s: an authenticated user's message is accepted (%s)" % (label, reply),
             res.stderr.decode(errors="replace"))
        signed = msgs[-1] if len(msgs) == before + 2 else b""
        t.ok(b"DKIM-Signature:" in header_block(signed) and b"s=rs1" in signed,
             "%s: it is stored with rspamd's DKIM-Signature (d=example.org, s=rs1)" % label,
             header_block(signed))
        # A Received: field yubin adds is not in h=, so it cannot break the signature.
        canon = signed.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        dns = lambda name, timeout=5: txt if name == b"rs1._domainkey.example.org." else None  # noqa: E731
        t.ok(txt is not None and dkim.verify(canon, dnsfunc=dns),
             "%s: dkimpy verifies the stored copy with the record yubin-setup --dns prints"
             % label)
finally:
    if rs:
        rs.stop()
    env.cleanup()
t.done()
