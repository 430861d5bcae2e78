#!/usr/bin/env python3
"""relay-runner's MX routing against dnsmasq on a loopback port
(dns_servers with a port): preference order and fallback, implicit MX
(A only), null MX, NXDOMAIN, a refusing server, MX pointing at ourselves or
at loopback addresses, hop count (S60)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
dns = None
MSG = b"From: alice@example.org\nSubject: mx\n\nhello\n"


def bounces_since(n):
    return env.messages("alice@example.org")[n:]


try:
    dns = relayenv.DNS(env, [
        # Listed worst first: the runner must sort by preference.
        "--mx-host=pref.test,mx-b.pref.test,20",
        "--mx-host=pref.test,mx-a.pref.test,10",
        "--host-record=mx-a.pref.test,127.0.0.1",
        "--host-record=mx-b.pref.test,127.0.0.1",
        "--host-record=amx.test,127.0.0.1",
        "--mx-host=nullmx.test,.,0",
        "--mx-host=loop.test,mx.example.org,10",
        "--mx-host=private.test,mx.private.test,10",
        "--host-record=mx.private.test,127.0.0.1",
        "--host-record=smart.test,127.0.0.1",
    ])
    env.set(relay_mx_port=sink.port, relay_allow_private="yes")

    # --- preference order and fallback to the next MX ----------------------
    sink.set({"greetings": {"1": "421 4.3.2 mx-a is busy"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@pref.test"])
    r = relayenv.runner(env)
    log = r.stderr.decode()
    a, b = log.find("relay=mx-a.pref.test[127.0.0.1]"), log.find("relay=mx-b.pref.test[127.0.0.1]")
    t.ok(0 <= a < b, "the preference 10 MX is tried before the preference 20 one", log)
    t.ok("status=host-failed" in log and "421 4.3.2 mx-a is busy" in log,
         "the 421 greeting of the first MX is logged", log)
    ms = sink.messages()
    t.ok(len(ms) == 1 and ms[0]["rcpts"] == ["bob@pref.test"] and sink.connections() == 2,
         "delivered through the second MX", log)

    # --- no MX: the A record is the implicit MX -----------------------------
    sink.set({})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@amx.test"])
    r = relayenv.runner(env)
    t.ok(len(sink.messages()) == 2 and "relay=amx.test[127.0.0.1]" in r.stderr.decode(),
         "A-only domain delivered to its address (RFC 5321 5.1)", r.stderr)

    # --- null MX → bounce 5.1.10 at once -------------------------------------
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@nullmx.test"])
    r = relayenv.runner(env)
    d = bounces_since(n)
    t.ok(len(d) == 1 and b"Status: 5.1.10" in d[0] and b"null MX" in d[0] and
         b"Remote-MTA" not in d[0],
         "null MX bounces with 5.1.10 (RFC 7505, covers S60)", r.stderr)
    t.eq(relayenv.queued(env), [], "and the message leaves the queue")

    # --- NXDOMAIN → bounce 5.1.2 -------------------------------------------------
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@nx.test"])
    r = relayenv.runner(env)
    d = bounces_since(n)
    t.ok(len(d) == 1 and b"Status: 5.1.2" in d[0], "NXDOMAIN bounces with 5.1.2 (covers S60)",
         r.stderr)

    # --- the server refuses / fails → defer 4.4.3 ---------------------------------
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@refused.example"])
    r = relayenv.runner(env)
    t.ok("status=deferred" in r.stderr.decode() and "4.4.3" in r.stderr.decode(),
         "a DNS server failure defers with 4.4.3 (covers S60)", r.stderr)
    q = relayenv.files(env, "queue")
    t.eq(len(q), 1, "the message waits in queue/")
    for name in q:
        os.unlink(os.path.join(env.spool, "queue", name))

    # --- MX is this host → 5.4.6 loops back to myself -------------------------
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@loop.test"])
    r = relayenv.runner(env)
    d = bounces_since(n)
    t.ok(len(d) == 1 and b"Status: 5.4.6" in d[0] and b"loops back to myself" in d[0],
         "an MX naming this host bounces 5.4.6 (covers S60)", r.stderr)

    # --- MX at a loopback address without relay_allow_private → defer ---------
    env.set(relay_allow_private="no")
    conns = sink.connections()
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@private.test"])
    r = relayenv.runner(env)
    t.ok(sink.connections() == conns and "4.4.4" in r.stderr.decode(),
         "an MX with only a loopback address is not contacted (covers S60)", r.stderr)
    t.eq(len(relayenv.files(env, "queue")), 1, "the message stays queued")
    env.set(relay_allow_private="yes")
    r = relayenv.runner(env, "--flush")
    t.ok(sink.connections() == conns + 1 and relayenv.queued(env) == [],
         "allowed by relay_allow_private it is delivered", r.stderr)

    # --- too many Received: fields → 5.4.6 ----------------------------------------
    n = len(env.messages("alice@example.org"))
    looped = b"".join(b"Received: from hop%d by x; Fri, 1 Jan 2021 00:00:00 +0000\n" % i
                      for i in range(60)) + MSG
    conns = sink.connections()
    relayenv.enqueue(env, looped, "alice@example.org", ["bob@amx.test"])
    r = relayenv.runner(env)
    d = bounces_since(n)
    t.ok(sink.connections() == conns and len(d) == 1 and b"Status: 5.4.6" in d[0],
         "60 Received: fields bounce as a mail loop without a connection (covers S60)", r.stderr)

    # --- relay_host without brackets: its MX, else its address --------------
    env.set(relay_host="smart.test:%d" % sink.port, relay_host_tls="may")
    relayenv.enqueue(env, MSG, "alice@example.org", ["carol@elsewhere.example"])
    r = relayenv.runner(env)
    t.ok(relayenv.queued(env) == [] and "relay=smart.test[127.0.0.1]:%d" % sink.port in
         r.stderr.decode(), "relay_host host:port is looked up (A record, no MX)", r.stderr)
    n = len(env.messages("alice@example.org"))
    env.set(relay_host="nx-smart.test:%d" % sink.port)
    relayenv.enqueue(env, MSG, "alice@example.org", ["carol@elsewhere.example"])
    r = relayenv.runner(env)
    t.ok(len(relayenv.files(env, "queue")) == 1 and len(env.messages("alice@example.org")) == n,
         "an unknown relay_host defers mail, never bounces it", r.stderr)
finally:
    sink.stop()
    if dns:
        dns.stop()
    env.cleanup()
t.done()
