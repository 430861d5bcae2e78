#!/usr/bin/env python3
"""relay-runner and TLS: smarthost with STARTTLS + AUTH over verified TLS;
credentials never in plaintext or to an unverified host (S61); response
injection after STARTTLS (S56); opportunistic TLS on routes and the
plaintext retry after a failed handshake (S57)."""
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
other = certs.make(os.path.join(env.dir, "certs"), prefix="other")
sink = relayenv.Sink(env, {"auth": "relayuser:s3cret pw"}, certs=good)
sinks = [sink]
MSG = b"From: alice@example.org\nSubject: via smarthost\n\nhello\n"
try:
    auth = os.path.join(env.dir, "relay_auth")
    with open(auth, "w") as f:
        f.write("# host user password\n127.0.0.1 relayuser s3cret pw\n")
    os.chmod(auth, 0o644)
    env.set(relay_host="[127.0.0.1]:%d" % sink.port, relay_auth=auth, relay_tls_ca=good.ca)

    # --- smarthost: STARTTLS verified, then AUTH PLAIN -----------------------
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == 1 and ms[0]["tls"] and ms[0]["auth"] == "relayuser",
         "smarthost gets the message over TLS after AUTH (covers S61)", r.stderr)
    cmds = sink.commands(1)
    t.ok(cmds[:2] == ["EHLO mx.example.org", "STARTTLS"] and "EHLO mx.example.org" in cmds[2:],
         "EHLO is sent again after STARTTLS", cmds)
    t.ok(b"AUTH" not in sink.raw(1), "no AUTH in the plaintext part of the connection")
    t.ok("tls=TLS" in r.stderr.decode(), "log line names the TLS version", r.stderr)
    t.eq(relayenv.queued(env), [], "queue empty")

    # --- S61: no STARTTLS offered → defer, never AUTH in clear ----------------
    sink.set({"auth": "relayuser:s3cret pw", "starttls": False, "auth_before_tls": True})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    n = sink.connections()
    t.ok(not any(c.startswith(("AUTH", "MAIL")) for c in sink.commands(n)),
         "without STARTTLS neither AUTH nor MAIL is sent (covers S61)", sink.commands(n))
    t.ok("status=deferred" in r.stderr.decode() and "TLS is required" in r.stderr.decode(),
         "the message is deferred with a clear log line", r.stderr)
    t.eq(len(relayenv.files(env, "queue")), 1, "and stays queued")

    # --- S61: certificate from an unknown CA → defer, no AUTH -----------------
    sink.set({"auth": "relayuser:s3cret pw"})
    env.set(relay_tls_ca=other.ca)
    r = relayenv.runner(env, "--flush")
    n = sink.connections()
    t.ok("STARTTLS" in sink.commands(n) and "TLS handshake" in r.stderr.decode(),
         "an unverifiable certificate fails the handshake (covers S61)", r.stderr)
    t.ok(not any(c.startswith(("AUTH", "MAIL")) for c in sink.commands(n)),
         "and nothing follows it", sink.commands(n))
    t.eq(len(relayenv.files(env, "queue")), 1, "message still queued")

    # --- S56: plaintext injected after the STARTTLS go-ahead ------------------
    env.set(relay_tls_ca=good.ca)
    sink.set({"auth": "relayuser:s3cret pw",
              "starttls_raw": "220 ready\r\n250-injected\r\n250 AUTH PLAIN\r\n"})
    r = relayenv.runner(env, "--flush")
    n = sink.connections()
    t.ok("after its STARTTLS reply" in r.stderr.decode(),
         "bytes after the 220 fail the connection (covers S56)", r.stderr)
    t.ok(not any(c.startswith(("AUTH", "MAIL")) for c in sink.commands(n)),
         "the injected reply is never used", sink.commands(n))
    t.eq(len(relayenv.files(env, "queue")), 1, "message stays queued (temporary failure)")

    # --- S57: STARTTLS refused with 454 → a required policy defers ----------
    sink.set({"auth": "relayuser:s3cret pw", "raw": {"STARTTLS": "454 4.7.0 TLS not available\r\n"}})
    r = relayenv.runner(env, "--flush")
    n = sink.connections()
    t.ok("454 4.7.0" in r.stderr.decode() and "status=deferred" in r.stderr.decode() and
         not any(c.startswith(("AUTH", "MAIL")) for c in sink.commands(n)),
         "smarthost refusing STARTTLS: deferred, nothing sent in plaintext (covers S57, S61)",
         r.stderr)

    # --- and once the smarthost behaves, the deferred message goes ------------
    sink.set({"auth": "relayuser:s3cret pw"})
    r = relayenv.runner(env, "--flush")
    t.ok(len(sink.messages()) == 2 and relayenv.queued(env) == [],
         "deferred message delivered on a later pass", r.stderr)

    # --- AUTH LOGIN when PLAIN is not offered ----------------------------------
    sink.set({"auth": "relayuser:s3cret pw", "auth_mechs": "LOGIN"})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == 3 and ms[2]["auth"] == "relayuser" and ms[2]["tls"],
         "AUTH LOGIN is used when the smarthost offers only LOGIN", r.stderr)

    # --- wrong password: deferred, not bounced -------------------------------
    sink.set({"auth": "relayuser:other"})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.ok("535 5.7.8" in r.stderr.decode() and len(relayenv.files(env, "queue")) == 1 and
         len(env.messages("alice@example.org")) == n,
         "a refused AUTH defers the message", r.stderr)
    for name in relayenv.files(env, "queue"):
        os.unlink(os.path.join(env.spool, "queue", name))

    # --- routes: opportunistic TLS, no verification, no AUTH ------------------
    env.set(relay_host="", relay_auth="")
    with open(env.conf_path) as f:
        lines = [l for l in f if not l.startswith(("relay_host", "relay_auth"))]
    with open(env.conf_path, "w") as f:
        f.writelines(lines)
    del env.settings["relay_host"], env.settings["relay_auth"]
    mx = relayenv.Sink(env, {}, certs=other, name="mx")
    sinks.append(mx)
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % mx.port))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    ms = mx.messages()
    t.ok(len(ms) == 1 and ms[0]["tls"] and ms[0]["auth"] is None,
         "route: STARTTLS used opportunistically, certificate not checked", r.stderr)

    # --- S57: handshake fails → same host again in plaintext -----------------
    mx.set({"starttls_fail": True})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    ms = mx.messages()
    t.ok(len(ms) == 2 and not ms[1]["tls"], "after a failed handshake the message goes in "
         "plaintext (opportunistic policy, covers S57)", r.stderr)
    t.ok("tls-fallback" in r.stderr.decode(), "the fallback is logged", r.stderr)
    mx.set({"raw": {"STARTTLS": "454 4.7.0 TLS not available\r\n"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.ok(len(mx.messages()) == 3 and not mx.messages()[2]["tls"],
         "route: STARTTLS refused with 454, sent in plaintext (opportunistic, covers S57)",
         r.stderr)
    mx.set({"starttls": False})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.ok(len(mx.messages()) == 4 and "tls=none" in r.stderr.decode(),
         "no STARTTLS offered: plaintext, logged tls=none (covers S57)", r.stderr)
finally:
    for s in sinks:
        s.stop()
    env.cleanup()
t.done()
