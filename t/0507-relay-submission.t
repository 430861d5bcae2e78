#!/usr/bin/env python3
"""End to end: an authenticated submission through smtp-session queues mail
for remote recipients; relay-runner passes the DSN parameters on (RET,
ENVID, NOTIFY, ORCPT), delivers the accepted recipient and bounces the
refused one into the sender's Maildir with the header section (RET=HDRS)."""
import base64
import email
import email.policy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env, {"rcpt": {"no@example.net": "550 5.1.1 <no@example.net>: unknown"}})
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    auth = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode()).decode()
    r = env.run("smtp-session", (
        "EHLO client.example\r\nAUTH PLAIN %s\r\n"
        "MAIL FROM:<alice@example.org> RET=HDRS ENVID=abc+2Bdef\r\n"
        "RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.net\r\n"
        "RCPT TO:<no@example.net>\r\nDATA\r\n"
        "Subject: end to end\r\n\r\n..leading dot\r\nsecret body\r\n.\r\nQUIT\r\n" % auth).encode(),
        args=["--submission"])
    t.ok(b"\r\n250 2.0.0" in r.stdout, "smtp-session queues the message", r.stdout)
    t.eq(len(relayenv.files(env, "new")), 1, "one file in the spool's new/")
    r = relayenv.runner(env)
    t.eq(r.rc, 0, "relay-runner pass exits 0")
    ms = sink.messages()
    t.ok(len(ms) == 1 and ms[0]["rcpts"] == ["bob@example.net"], "accepted recipient delivered",
         r.stderr)
    cmds = sink.commands(1)
    t.ok(any(c.startswith("MAIL FROM:<alice@example.org>") and "RET=HDRS" in c and
             "ENVID=abc+2Bdef" in c for c in cmds), "RET and ENVID passed on", cmds)
    t.ok("RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.net" in cmds,
         "NOTIFY and ORCPT passed on", cmds)
    t.ok(ms and b"\r\n..leading dot\r\n" in ms[0]["raw"] and
         b"\r\n.leading dot\r\n" in ms[0]["data"], "the leading dot survives the round trip")
    dsn = env.messages("alice@example.org")
    t.eq(len(dsn), 1, "the refused recipient bounces to the sender's Maildir")
    m = email.message_from_bytes(dsn[0] if dsn else b"", policy=email.policy.compat32)
    parts = m.get_payload() if m.is_multipart() else []
    t.ok(len(parts) == 3 and parts[2].get_content_type() == "text/rfc822-headers" and
         b"Subject: end to end" in dsn[0] and b"secret body" not in dsn[0],
         "RET=HDRS: headers only in the DSN")
    t.ok(b"Final-Recipient: rfc822; no@example.net" in dsn[0] and
         b"Original-Envelope-Id: abc+def" in dsn[0], "DSN names the recipient and the ENVID")
    t.eq(relayenv.queued(env), [], "spool empty")
finally:
    sink.stop()
    env.cleanup()
t.done()
