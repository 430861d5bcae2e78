#!/usr/bin/env python3
"""DKIM signatures survive relaying (issue 12): mail submitted through
smtp-session --submission is signed before it is queued, relay-runner sends
it to an SMTP sink, and the message as the sink received it (dots
unstuffed) verifies with dkimpy and with OpenDKIM, RSA and Ed25519, for
dot-leading lines, 8-bit bodies, folded headers, long lines and an empty
body."""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import dkimenv  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
keys = dkimenv.Keys(env)
keys.make("example.org", "rsa", "r2026")
keys.make("example.org", "ed25519", "e2026")
AUTH = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode()).decode()
MESSAGES = [
    ("dot-leading lines", b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: dots\r\n\r\n"
     b"..\r\n...two dots on the wire\r\n.\r\n. x\r\n"),
    ("8-bit body", b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
     b"Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9  \xe6\x97\xa5\xe6\x9c\xac\t\r\n"),
    ("folded headers, long lines", b"From: \"Alice\r\n A.\" <alice@example.org>\r\n"
     b"To: bob@example.net,\r\n\tother@example.net\r\nSubject: long\r\n\t folded\r\n\r\n" +
     b"z" * 998 + b"\r\n" + b"a \t" * 300 + b"\r\n"),
    ("empty body", b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: empty\r\n\r\n"),
]


def stuffed(body):
    return b"".join(b"." + ln if ln.startswith(b".") else ln for ln in body.splitlines(True))


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    for i, (name, body) in enumerate(MESSAGES):
        r = env.run("smtp-session", (
            b"EHLO client.example\r\nAUTH PLAIN " + AUTH.encode() + b"\r\n"
            b"MAIL FROM:<alice@example.org> BODY=8BITMIME\r\nRCPT TO:<bob@example.net>\r\n"
            b"DATA\r\n" + stuffed(body) + b".\r\nQUIT\r\n"), args=["--submission"])
        t.ok(b"\r\n250 2.0.0" in r.stdout, "%s: queued" % name, r.stdout)
        r = relayenv.runner(env)
        ms = sink.messages()
        t.ok(r.rc == 0 and len(ms) == i + 1, "%s: relay-runner delivered it to the sink" % name,
             r.stderr)
        data = ms[-1]["data"] if ms else b""
        t.ok(data.endswith(body.split(b"\r\n\r\n", 1)[1]) or body.endswith(b"\r\n\r\n"),
             "%s: the body arrived as sent" % name, data[-200:])
        v = keys.verify(data)
        t.ok(sorted((x["s"], x["pass"]) for x in v["dkimpy"]) == [("e2026", True), ("r2026", True)],
             "%s: both signatures verify with dkimpy at the sink" % name, v)
        t.ok(sorted((s, res) for res, s in v["opendkim"]) == [("e2026", "pass"), ("r2026", "pass")],
             "%s: both signatures verify with OpenDKIM at the sink" % name, v)
    t.eq(relayenv.queued(env), [], "spool empty")
finally:
    sink.stop()
    env.cleanup()
t.done()
