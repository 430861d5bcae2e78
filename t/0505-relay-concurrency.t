#!/usr/bin/env python3
"""relay-runner under concurrency and crashes: two runners started together
over 200 messages deliver each exactly once; runners killed with SIGKILL at
random moments over 200 messages, then one clean pass: every message
delivered at least once and the spool empty (S67, S68)."""
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
N = 200
MSG = b"From: alice@example.org\nSubject: message @SEQ@\n\nbody of @SEQ@\n"


def seqs(sink):
    out = []
    for m in sink.messages():
        g = re.search(rb"Subject: message (\d+)", m["data"])
        out.append(int(g.group(1)) if g else -1)
    return out


def start(env):
    return subprocess.Popen([yubin.binary("relay-runner"), "-c", env.conf_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env.env())


# --- two runners at once --------------------------------------------------
# The sink takes 5 ms per message, so a pass lasts long enough for the
# second runner to join in and for the kills below to land mid-pass.
env = yubin.Env()
sink = relayenv.Sink(env, {"delay": {"EOD": 0.005}})
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"], count=N)
    a, b = start(env), start(env)
    ea = a.communicate(timeout=50)[1].decode()
    eb = b.communicate(timeout=50)[1].decode()
    got = seqs(sink)
    t.eq(a.returncode, 0, "first runner exits 0")
    t.eq(b.returncode, 0, "second runner exits 0")
    t.eq(sorted(got), list(range(N)), "two runners: each of %d messages delivered exactly once "
         "(covers S68)" % N)
    na, nb = ea.count("status=sent"), eb.count("status=sent")
    t.ok(na + nb == N and na > 0 and nb > 0, "both runners took part (%d + %d)" % (na, nb))
    t.eq(relayenv.queued(env), [], "spool empty")
finally:
    sink.stop()
    env.cleanup()

# --- SIGKILL at random points, then a clean pass ----------------------------
env = yubin.Env()
sink = relayenv.Sink(env, {"delay": {"EOD": 0.01}})
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"], count=N)
    rnd = random.Random(os.environ.get("YUBIN_SEED", str(time.time())))
    kills = 0
    for i in range(8):
        p = start(env)
        time.sleep(rnd.uniform(0.02, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate(timeout=30)
    t.ok(kills > 0, "runners were killed mid-pass (%d times)" % kills)
    # A killed runner's claim belongs to a dead pid: the next pass recovers
    # it. --flush because deferred messages would otherwise wait.
    r = relayenv.runner(env, "--flush")
    t.eq(r.rc, 0, "a clean pass exits 0")
    got = seqs(sink)
    missing = sorted(set(range(N)) - set(got))
    t.eq(missing, [], "every message delivered at least once after kill -9 (covers S67)")
    t.diag("%d deliveries for %d messages (duplicates are allowed)" % (len(got), N))
    t.eq(relayenv.queued(env) + relayenv.files(env, "corrupt"), [],
         "new/, queue/, active/ and corrupt/ are empty")
finally:
    sink.stop()
    env.cleanup()
t.done()
