#!/usr/bin/env python3
"""A bounce's Diagnostic-Code (RFC 3464 §2.3.6) holds the remote reply and
nothing else: "smtp; 550 5.1.1 ...". Which command it answered ("in reply
to RCPT TO") goes in the human-readable part. Checked by parsing each
bounce with Python's email package, for a refusal at MAIL FROM, RCPT TO,
DATA and the end of data."""
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
sink = relayenv.Sink(env)
MSG = b"From: alice@example.org\nSubject: diag\n\nhello\n"


def parts(raw):
    """(human-readable text, [per-recipient field blocks]) of a report."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    human, fields = None, []
    for p in msg.walk():
        if p.get_content_type() == "text/plain" and human is None:
            human = p.get_content()
        elif p.get_content_type() == "message/delivery-status":
            # The email package gives the blocks as Message objects: the
            # per-message block first, then one per recipient.
            fields = list(p.get_payload())[1:]
    return msg, human or "", fields


CASES = [
    ("RCPT TO", {"rcpt": {"gone@example.net": "550 5.1.1 no such user"}},
     "550 5.1.1 no such user"),
    ("MAIL FROM", {"mail": "553 5.7.1 sender refused"}, "553 5.7.1 sender refused"),
    ("DATA", {"data": "554 5.3.0 no data today"}, "554 5.3.0 no data today"),
]
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    for stage, script, reply in CASES:
        sink.set(script)
        n = len(env.messages("alice@example.org"))
        relayenv.enqueue(env, MSG, "alice@example.org", ["gone@example.net"])
        r = relayenv.runner(env)
        d = env.messages("alice@example.org")[n:]
        if not t.ok(len(d) == 1, "%s refusal: one bounce" % stage, r.stderr):
            continue
        msg, human, fields = parts(d[0])
        t.ok(msg.get_content_type() == "multipart/report" and len(fields) == 1,
             "%s: multipart/report with one recipient block" % stage, d[0])
        diag = fields[0].get("Diagnostic-Code", "") if fields else ""
        t.eq(" ".join(diag.split()), "smtp; " + reply,
             "%s: Diagnostic-Code is the reply alone" % stage)
        t.ok("in reply to " + stage in human and reply in human,
             "%s: the human-readable part says which command was refused" % stage, human)
    sink.set({"eod": "550 5.7.1 content rejected"})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["gone@example.net"])
    relayenv.runner(env)
    d = env.messages("alice@example.org")[n:]
    if t.ok(len(d) == 1, "end-of-data refusal: one bounce"):
        msg, human, fields = parts(d[0])
        diag = fields[0].get("Diagnostic-Code", "") if fields else ""
        t.eq(" ".join(diag.split()), "smtp; 550 5.7.1 content rejected",
             "end of data: Diagnostic-Code is the reply alone")
        t.ok("in reply to end of DATA" in human,
             "end of data: the human-readable part says so", human)
finally:
    sink.stop()
    env.cleanup()
t.done()
