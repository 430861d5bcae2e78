#!/usr/bin/env python3
"""relay-runner through a routes entry to a scripted sink: delivery, the
bytes on the wire (CRLF, dot-stuffing: S8, S9), 8-bit content to peers with
and without 8BITMIME, HELO fallback without pipelining, per-recipient 5xx
→ a DSN in the local sender's Maildir, --list, the log line, sd_notify."""
import email
import email.policy
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))

    # --- flags and exit codes ----------------------------------------------------
    r = relayenv.runner(env, "-V")
    t.ok(r.rc == 0 and r.stdout.startswith(b"relay-runner (yubin) "), "-V prints the version")
    t.eq(relayenv.runner(env, "--bogus").rc, 100, "unknown option: exit 100")
    p = subprocess.run([yubin.binary("relay-runner"), "-c", os.path.join(env.dir, "missing")],
                       capture_output=True, timeout=30)
    t.eq(p.returncode, 100, "unreadable configuration: exit 100")

    # --- a plain delivery, queue listed first ------------------------------
    msg = b"From: alice@example.org\nSubject: hello\n\nline one\nline two\n"
    ids = relayenv.enqueue(env, msg, "alice@example.org", ["bob@example.net", "carol@example.net"])
    r = relayenv.runner(env, "--list")
    t.eq(r.rc, 0, "--list exits 0")
    out = r.stdout.decode()
    t.ok(ids[0] in out and "<alice@example.org>" in out and "<bob@example.net>  pending" in out,
         "--list shows id, sender and pending recipients", out)
    r = relayenv.runner(env)
    t.eq(r.rc, 0, "one pass exits 0")
    ms = sink.messages()
    t.eq(len(ms), 1, "one connection carries both recipients")
    t.eq(ms and ms[0]["rcpts"], ["bob@example.net", "carol@example.net"], "both recipients in RCPT")
    t.eq(ms and ms[0]["data"], msg.replace(b"\n", b"\r\n"), "content arrives with CRLF line ends")
    t.eq(relayenv.queued(env), [], "spool empty after delivery")
    log = r.stderr.decode()
    t.ok("%s: to=<bob@example.net>, relay=127.0.0.1[127.0.0.1]:%d, status=sent, tls=none"
         % (ids[0], sink.port) in log, "one log line per recipient with id, relay, status, TLS", log)
    t.contains(relayenv.runner(env, "--list").stdout, b"Mail queue is empty", "--list on an empty queue")

    # --- several messages to one destination share a connection ----------------
    conns, before = sink.connections(), len(sink.messages())
    relayenv.enqueue(env, b"Subject: m@SEQ@\n\nx\n", "alice@example.org", ["bob@example.net"],
                     count=3)
    relayenv.runner(env)
    cmds = sink.commands(conns + 1) if sink.connections() == conns + 1 else []
    t.ok(len(sink.messages()) == before + 3 and cmds.count("DATA") == 3 and
         cmds.count("RSET") == 2 and cmds[-1] == "QUIT",
         "three messages over one connection, RSET between them", cmds)

    # --- sd_notify progress through NOTIFY_SOCKET -----------------------------
    path = os.path.join(env.dir, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    os.chmod(path, 0o777)
    ns.settimeout(5)
    ids = relayenv.enqueue(env, msg, "alice@example.org", ["bob@example.net"])
    e = env.env()
    e["NOTIFY_SOCKET"] = path
    p = subprocess.run([yubin.binary("relay-runner"), "-c", env.conf_path], env=e,
                       capture_output=True, timeout=30)
    notes = []
    try:
        while True:
            notes.append(ns.recv(4096).decode())
            ns.settimeout(0.2)
    except OSError:
        pass
    ns.close()
    t.ok("STATUS=delivering %s" % ids[0] in notes and
         "STATUS=pass done: 1 sent, 0 bounced, 0 deferred" in notes,
         "progress reported with sd_notify", notes)

    # --- S9: dot-stuffing; S8: stray CR, no bare LF on the wire -------------
    tricky = (b".\n..\n.foo\nSubject: x\n.\n\n.\nbody\n"
              b"a\r.\r\nb\rc\nsmuggle\n.\r\nMAIL FROM:<x@y>\n.")
    relayenv.enqueue(env, tricky, "alice@example.org", ["bob@example.net"])
    relayenv.runner(env)
    ms = sink.messages()
    raw = ms[-1]["raw"] if len(ms) == 6 else b""
    lines = raw.split(b"\r\n")
    t.ok(raw.endswith(b"\r\n.\r\n") and raw.count(b"\r\n.\r\n") == 1,
         "exactly one CRLF.CRLF, at the end (covers S8, S9)", raw)
    t.ok(b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b""),
         "no bare CR or LF in the DATA stream (covers S8)", raw)
    t.ok(all(not l.startswith(b".") or l.startswith(b"..") for l in lines[:-2]),
         "every line starting with a dot is stuffed, headers too (covers S9)", raw)
    t.ok(len(ms) == 6 and "SIZE=%d" % (len(raw) - 3) in ms[-1]["mail"],
         "SIZE= is the size on the wire, stuffing and CRLF included", ms[-1:])
    want = (tricky.replace(b"\r\n", b"\n").replace(b"\r", b" ") + b"\n").replace(b"\n", b"\r\n")
    t.eq(ms[-1]["data"] if len(ms) == 6 else None, want,
         "un-stuffed content equals the stored message, stray CR as space (covers S8, S9)")

    # --- 8-bit content --------------------------------------------------------
    eight = "Subject: caf\u00e9\n\nna\u00efve\n".encode()
    relayenv.enqueue(env, eight, "alice@example.org", ["bob@example.net"])
    relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == 7 and "BODY=8BITMIME" in ms[-1]["mail"] and ms[-1]["data"] ==
         eight.replace(b"\n", b"\r\n"), "8-bit content goes with BODY=8BITMIME to an 8BITMIME peer",
         ms[-1:])
    sink.set({"ext": ["SIZE 100000"]})
    before = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, eight, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.eq(len(sink.messages()), 7, "8-bit content is not sent to a peer without 8BITMIME")
    dsns = env.messages("alice@example.org")[before:]
    t.ok(len(dsns) == 1 and b"Status: 5.6.3" in dsns[0],
         "it is bounced with 5.6.3 (policy: bounce, not convert)", dsns)
    t.eq(relayenv.queued(env), [], "and leaves the queue")

    # --- SMTPUTF8 when an address needs it --------------------------------------
    sink.set({})
    before = len(sink.messages())
    relayenv.enqueue(env, b"Subject: utf8\n\nhi\n", "alice@example.org",
                     ["j\u00fcrgen@example.net"], extra=["-U"])
    relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == before + 1 and "SMTPUTF8" in ms[-1]["mail"],
         "a UTF-8 recipient goes with SMTPUTF8 to a peer offering it", ms[-1:])
    sink.set({"ext": ["8BITMIME"]})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, b"Subject: utf8\n\nhi\n", "alice@example.org",
                     ["j\u00fcrgen@example.net"], extra=["-U"])
    relayenv.runner(env)
    d = env.messages("alice@example.org")[n:]
    t.ok(len(sink.messages()) == before + 1 and len(d) == 1 and b"Status: 5.6.7" in d[0],
         "and bounces with 5.6.7 when the peer lacks SMTPUTF8", d)
    t.ok(d and "Final-Recipient: utf-8; j\u00fcrgen@example.net".encode() in d[0] and
         b"Content-Transfer-Encoding: 8bit" in d[0],
         "the DSN names the UTF-8 address (RFC 6533) and says 8bit")

    # --- larger than the peer's SIZE: bounced 5.3.4 ------------------------------
    sink.set({"ext": ["SIZE 20", "8BITMIME"]})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, b"Subject: big\n\n" + b"x" * 100 + b"\n", "alice@example.org",
                     ["bob@example.net"])
    relayenv.runner(env)
    d = env.messages("alice@example.org")[n:]
    t.ok(len(d) == 1 and b"Status: 5.3.4" in d[0], "a message over the peer's SIZE bounces 5.3.4", d)

    # --- no PIPELINING, no EHLO: HELO and one command at a time --------------
    sink.set({"ehlo": False})
    relayenv.enqueue(env, b"Subject: old\n\nhi\n", "alice@example.org", ["bob@example.net"])
    relayenv.runner(env)
    n = sink.connections()
    cmds = sink.commands(n)
    t.ok(cmds[:2] == ["EHLO mx.example.org", "HELO mx.example.org"] and
         cmds[2] == "MAIL FROM:<alice@example.org>", "HELO after EHLO is refused, no extensions", cmds)
    t.eq(len(sink.messages()), 9, "delivered to an RFC 821 peer")

    # --- 5xx for one recipient: DSN in the local sender's Maildir -------------
    sink.set({"rcpt": {"nobody@example.net": "550 5.1.1 <nobody@example.net>: no such user"}})
    before = len(env.messages("alice@example.org"))
    orig = b"From: alice@example.org\nTo: nobody@example.net\nSubject: lost\n\nplease bounce\n"
    ids = relayenv.enqueue(env, orig, "alice@example.org",
                           ["bob@example.net", ("nobody@example.net", 0, "rfc822;nobody@example.net")],
                           extra=["-E", "env-123"])
    r = relayenv.runner(env)
    t.ok("status=bounced" in r.stderr.decode(), "the 550 is logged as bounced", r.stderr)
    dsns = env.messages("alice@example.org")[before:]
    t.eq(len(dsns), 1, "one DSN delivered to the local sender")
    m = email.message_from_bytes(dsns[0] if dsns else b"", policy=email.policy.compat32)
    t.eq(m.get_content_type(), "multipart/report", "DSN is multipart/report")
    t.eq(m.get_param("report-type"), "delivery-status", "report-type=delivery-status")
    t.eq(m["Auto-Submitted"], "auto-replied", "Auto-Submitted: auto-replied (RFC 3834)")
    t.ok(m["Return-Path"] == "<>", "sent from the null path", m["Return-Path"])
    parts = m.get_payload() if m.is_multipart() else []
    t.eq([p.get_content_type() for p in parts],
         ["text/plain", "message/delivery-status", "message/rfc822"], "three parts in order")
    if len(parts) == 3:
        ds = parts[1].get_payload()
        fields = {}
        for block in ds:
            for k, v in block.items():
                fields.setdefault(k, v)
        t.eq(fields.get("Reporting-MTA"), "dns; mx.example.org", "Reporting-MTA")
        t.eq(fields.get("Original-Envelope-Id"), "env-123", "Original-Envelope-Id (ENVID)")
        t.eq(fields.get("Final-Recipient"), "rfc822; nobody@example.net", "Final-Recipient")
        t.eq(fields.get("Original-Recipient"), "rfc822;nobody@example.net", "Original-Recipient")
        t.eq(fields.get("Action"), "failed", "Action: failed")
        t.eq(fields.get("Status"), "5.1.1", "Status from the enhanced code")
        t.eq(fields.get("Remote-MTA"), "dns; 127.0.0.1", "Remote-MTA names the refusing host")
        t.ok(fields.get("Diagnostic-Code", "").startswith("smtp; 550 5.1.1"), "Diagnostic-Code",
             fields)
        t.ok("bob@example.net" not in str(parts[1]), "the delivered recipient is not reported")
        inner = parts[2].get_payload()[0]
        t.eq(inner["Subject"], "lost", "the original message is attached (RET default: full)")
    t.eq(relayenv.queued(env), [], "message removed once every recipient is done")
finally:
    sink.stop()
    env.cleanup()
t.done()
