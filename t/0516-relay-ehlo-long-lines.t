#!/usr/bin/env python3
"""relay-runner reads each EHLO keyword line whole: a line is never cut
to 255 bytes, where "AUTH <mechanisms> PLAINTEXT" would end in a PLAIN
the server never offered, and where a PLAIN past the cut would be lost.
(A reply line itself is bounded by the reply parser, S58.)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import certs  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
good = certs.make(os.path.join(env.dir, "certs"))
# "AUTH " + 244 bytes + " " puts the mechanism after it at byte 250:
# a cut at 255 bytes leaves "PLAIN" of "PLAINTEXT".
FILLER = "X" * 244
sink = relayenv.Sink(env, {"auth": "relayuser:s3cret pw",
                           "auth_mechs": FILLER + " PLAINTEXT"}, certs=good)
MSG = b"From: alice@example.org\nSubject: via smarthost\n\nhello\n"
try:
    auth = os.path.join(env.dir, "relay_auth")
    with open(auth, "w") as f:
        f.write("127.0.0.1 relayuser s3cret pw\n")
    os.chmod(auth, 0o644)
    env.set(relay_host="[127.0.0.1]:%d" % sink.port, relay_auth=auth, relay_tls_ca=good.ca)

    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    cmds = sink.commands(sink.connections())
    t.ok(not any(c.startswith("AUTH") for c in cmds),
         "no AUTH PLAIN when the long line offers only PLAINTEXT", cmds)
    t.ok("offers no AUTH PLAIN or LOGIN" in r.stderr.decode() and
         len(relayenv.files(env, "queue")) == 1,
         "the message is deferred, saying why", r.stderr)

    # PLAIN past byte 255 of a long line is still seen.
    sink.set({"auth": "relayuser:s3cret pw", "auth_mechs": FILLER + " X-OTHER PLAIN"})
    n = len(sink.messages())
    relayenv.enqueue(env, MSG, "alice@example.org", ["carol@example.net"])
    r = relayenv.runner(env, "--flush")
    ms = sink.messages()[n:]
    t.ok(ms and all(m["auth"] == "relayuser" for m in ms) and relayenv.queued(env) == [],
         "a PLAIN past byte 255 of the AUTH line is used", r.stderr)
finally:
    sink.stop()
    env.cleanup()
t.done()
