#!/usr/bin/env python3
"""A postmaster address longer than an address may be (ADDR_PATH_MAX,
256 bytes) is never cut to a shorter one: cut inside its domain it would
send the double bounce to somebody else. Whether it is the postmaster
key or postmaster@ a long host name, the runner logs an error and keeps
the notice owed, the message queued (S70)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
MSG = b"From: someone\nSubject: double\n\nhello\n"
LONG_DOMAIN = ".".join(["x" * 60] * 4) + ".org"       # 248 bytes


def run(name, settings):
    env = yubin.Env()
    sink = relayenv.Sink(env, {"rcpt": {"gone@example.net": "550 5.1.1 no such user"}})
    try:
        relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
        env.set(**settings)
        relayenv.enqueue(env, MSG, "", ["gone@example.net"])
        r = relayenv.runner(env, "--flush")
        err = r.stderr.decode()
        dumps = [relayenv.dump(env, os.path.join(env.spool, d, f))
                 for d in ("new", "queue") for f in relayenv.files(env, d)]
        rcpts = [x["addr"] for d in dumps if d for x in d["rcpts"]]
        t.ok(not any(a != "gone@example.net" for a in rcpts),
             "%s: no notice queued for a cut address" % name, rcpts)
        t.ok("postmaster address is longer" in err, "%s: logged as an error" % name, err)
        held = [x for d in dumps if d for x in d["rcpts"] if x["addr"] == "gone@example.net"]
        t.ok(len(held) == 1 and held[0].get("state") == "3",
             "%s: the message stays queued, its notice owed" % name, dumps)
    finally:
        sink.stop()
        env.cleanup()


run("postmaster key", {"postmaster": "pm@" + LONG_DOMAIN + ".example.net"})
run("postmaster@hostname", {"hostname": LONG_DOMAIN,
                            "local_domains": "example.org localhost " + LONG_DOMAIN})
t.done()
