#!/usr/bin/env python3
"""relay-runner and replies a command cannot have: a 3xx to MAIL FROM or
RCPT TO, a 2xx or a 3xx other than 354 to DATA, a 3xx to the end of data.
Only a 5xx is permanent (RFC 5321 §4.2.1); anything unexpected is a
temporary failure: the message stays queued, no bounce, and it is
delivered on a later pass once the peer answers sensibly. With and
without PIPELINING."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
MSG = b"From: alice@example.org\nSubject: odd replies\n\nhello\n"
PLAIN = ["8BITMIME", "SIZE 10000000", "SMTPUTF8", "DSN"]
PIPE = ["PIPELINING"] + PLAIN

CASES = [
    ("354 to MAIL FROM", {"mail": "354 go ahead"}),
    ("334 to MAIL FROM", {"mail": "334 VXNlcm5hbWU6"}),
    ("300 to MAIL FROM", {"mail": "300 what"}),
    ("354 to RCPT TO", {"rcpt": {"bob@example.net": "354 go ahead"}}),
    ("334 to RCPT TO", {"rcpt": {"bob@example.net": "334 x"}}),
    ("250 to DATA", {"data": "250 2.0.0 fine"}),
    ("220 to DATA", {"data": "220 hello again"}),
    ("334 to DATA", {"data": "334 x"}),
    ("350 to DATA", {"data": "350 almost"}),
    ("354 to the end of data", {"eod": "354 more please"}),
    ("334 to the end of data", {"eod": "334 x"}),
]

try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    for ext, how in ((PIPE, "pipelined"), (PLAIN, "no PIPELINING")):
        for name, script in CASES:
            for sub in ("new", "queue", "active"):
                for f in relayenv.files(env, sub):
                    os.unlink(os.path.join(env.spool, sub, f))
            n_dsn = len(env.messages("alice@example.org"))
            n_msgs = len(sink.messages())
            sink.set(dict(script, ext=ext))
            relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
            r = relayenv.runner(env)
            log = r.stderr.decode()
            t.ok(r.rc == 0 and "status=deferred" in log and "status=bounced" not in log and
                 len(relayenv.files(env, "queue")) == 1 and
                 len(env.messages("alice@example.org")) == n_dsn,
                 "%s (%s): deferred, kept, no bounce" % (name, how), log)
            sink.set({"ext": ext})
            r = relayenv.runner(env, "--flush")
            t.ok(relayenv.queued(env) == [] and len(sink.messages()) == n_msgs + 1 and
                 len(env.messages("alice@example.org")) == n_dsn,
                 "%s (%s): delivered on the next pass" % (name, how), r.stderr)
finally:
    sink.stop()
    env.cleanup()
t.done()
