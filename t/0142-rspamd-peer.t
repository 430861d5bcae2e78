#!/usr/bin/python3
"""The rspamd peer (t/peers/rspamd.py) on its own, through rspamc and a
milter handshake: the private instance starts from Debian's configuration
on free loopback ports, rejects GTUBE, lets a clean message through, its
proxy worker speaks the milter protocol, and its dkim_signing module signs
an authenticated user's mail with a key whose record yubin-setup --dns
prints (dkimpy verifies). t/0141 then puts it behind smtp-session."""
import os
import pwd
import re
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import rspamd  # noqa: E402
import yubin  # noqa: E402

import dkim  # noqa: E402

SETUP = os.path.join(yubin.TOP, "units", "yubin-setup")
CLEAN = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n"
         b"Subject: lunch\r\nDate: Mon, 07 Dec 2026 18:00:00 +0000\r\n"
         b"Message-ID: <lunch.1@example.org>\r\n\r\nSee you at noon tomorrow.\r\n")
SPAM = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n"
        b"Subject: test\r\nMessage-ID: <gtube.1@example.org>\r\n\r\n" + rspamd.GTUBE + b"\r\n")

t = yubin.TAP()
env = yubin.Env()
rs = None


def record_for(conf, selector):
    """The TXT text yubin-setup --dns prints for selector._domainkey.example.org."""
    out = subprocess.run([SETUP, "-c", conf, "--dns", "example.org", "--address", "127.0.0.1"],
                         capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"^%s\._domainkey\.example\.org\.\s+\d+ IN TXT\s+(\(.*?\)|\".*?\")$" % selector,
                  out, re.M | re.S)
    return "".join(re.findall(r'"([^"]*)"', m.group(1))).encode() if m else None


try:
    keys = os.path.join(env.dir, "dkim")
    os.makedirs(keys)
    key = os.path.join(keys, "example.org.rs1.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, capture_output=True)
    rs = rspamd.Rspamd(env.dir, dkim=[("example.org", "rs1", key)])
    t.ok(True, "rspamd started from Debian's configuration on ports %d (normal), %d (milter)"
         % (rs.normal_port, rs.milter_port))

    r = rs.scan(SPAM)
    t.ok(r["action"] == "reject" and "GTUBE" in r["symbols"], "rspamc: GTUBE gets reject", r["out"])
    r = rs.scan(CLEAN, ip="127.0.0.1", sender="alice@example.org")
    t.ok(r["action"] == "no action" and r["score"] is not None and r["score"] < 6,
         "rspamc: a clean message gets no action", r["out"])

    # SMFIC_OPTNEG (version 6, every action, every protocol step): a milter
    # answers with its own OPTNEG; an HTTP proxy would not.
    def optneg(s):
        with s:
            s.settimeout(30)
            pkt = b"O" + struct.pack(">III", 6, 0x1ff, 0x1fffff)
            s.sendall(struct.pack(">I", len(pkt)) + pkt)
            reply = b""
            while len(reply) < 17:
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
        return len(reply) >= 17 and reply[4:5] == b"O" and struct.unpack(">I", reply[5:9])[0] == 6

    t.ok(optneg(socket.create_connection(("127.0.0.1", rs.milter_port), timeout=30)),
         "the proxy worker answers a milter option negotiation (version 6) on loopback")
    u = socket.socket(socket.AF_UNIX)
    u.connect(rs.milter_socket)
    st = os.stat(rs.milter_socket)
    owner_ok = os.geteuid() != 0 or pwd.getpwuid(st.st_uid).pw_name == "_rspamd"
    t.ok(optneg(u) and st.st_mode & 0o777 == 0o660 and owner_ok,
         "and on its Unix socket, mode 0660, owner _rspamd (bind_socket's options)",
         "mode %o uid %d" % (st.st_mode & 0o777, st.st_uid))

    # dkim_signing: an authenticated user's mail is signed, others' are not.
    p = subprocess.run(["rspamc", "-h", "127.0.0.1:%d" % rs.normal_port, "-t", "30", "-i",
                        "127.0.0.1", "-u", "alice@example.org", "-F", "alice@example.org",
                        "--mime"], input=CLEAN, capture_output=True, timeout=60)
    signed = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    conf = os.path.join(env.dir, "setup.conf")
    with open(conf, "w") as f:
        f.write("hostname = mx.example.org\ndkim_key_dir = %s\n" % keys)
    txt = record_for(conf, "rs1")
    t.ok(txt is not None and b"k=rsa" in txt, "yubin-setup --dns prints the key's record")
    dns = lambda name, timeout=5: txt if name == b"rs1._domainkey.example.org." else None  # noqa: E731
    t.ok(b"DKIM-Signature:" in signed and dkim.verify(signed, dnsfunc=dns),
         "rspamd signs an authenticated user's mail; dkimpy verifies it with that record",
         p.stdout.decode(errors="replace") + p.stderr.decode())
    p = subprocess.run(["rspamc", "-h", "127.0.0.1:%d" % rs.normal_port, "-t", "30", "-i",
                        "192.0.2.1", "-F", "alice@example.org", "--mime"], input=CLEAN,
                       capture_output=True, timeout=60)
    t.ok(p.returncode == 0 and b"X-Spam-Action" in p.stdout and b"DKIM-Signature:" not in p.stdout,
         "mail from an unauthenticated outsider is not signed", p.stdout)
finally:
    if rs:
        rs.stop()
    env.cleanup()
t.done()
