#!/usr/bin/env python3
"""relay-runner after a full outage (covers S72): 210 messages to 20
domains, half of them routed to black holes (ports that drop SYNs), half to
the smtp-sink. With a 1 s connect timeout: live mail is all delivered in
the first pass; each dead destination costs one connection attempt per
pass, not one per message (strace counts the connect() calls), and a
"dead until" note keeps later passes off it until its back-off has passed;
dead mail stays queued (not bounced) and is retried after the back-off;
a pass stops starting deliveries when relay_pass_budget is spent; a second
runner started during a pass touches none of its messages (S68 d); of a
domain's MX hosts that all time out, 5 addresses are tried, not all."""
import calendar
import collections
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import blackhole  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
N_DOMAINS = 20
PER_DOMAIN = 10
BACKOFF = 10          # relay_backoff_min: first retry, first "dead until"
MSG = b"From: alice@example.org\nSubject: message @SEQ@\n\nbody @SEQ@\n"
CONNECT_RE = re.compile(r"connect\(\d+, \{sa_family=AF_INET, sin_port=htons\((\d+)\)")


def run(env, *args, trace=True, timeout=60):
    """relay-runner (under strace -f for its connect() calls): rc, the
    log, seconds taken, connect() count per port."""
    out = os.path.join(env.dir, "strace.out")
    cmd = [yubin.binary("relay-runner"), "-c", env.conf_path] + list(args)
    if trace:
        cmd = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", out] + cmd
    e = env.env()
    if trace:    # LeakSanitizer cannot run under ptrace (SANITIZE=1 builds)
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=e)
    took = time.monotonic() - t0
    ports = collections.Counter()
    if trace and os.path.exists(out):
        with open(out) as f:
            for line in f:
                m = CONNECT_RE.search(line)
                if m:
                    ports[int(m.group(1))] += 1
        os.unlink(out)
    return p.returncode, p.stderr.decode(errors="replace"), took, ports


def envelopes(env):
    """{id: {"attempts", "next_attempt", "rcpts": [{"addr", "state"}]}} of
    every deferred message, from one relay-runner --list (in UTC)."""
    e = env.env()
    e["TZ"] = "UTC"
    p = subprocess.run([yubin.binary("relay-runner"), "-c", env.conf_path, "--list"],
                       capture_output=True, timeout=60, env=e)
    out, cur = {}, None
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r"(\S+)  \d+ bytes  arrived .*  (\w[\w ]*), (\d+) attempts?$", line)
        if m:
            cur = {"where": m.group(2), "attempts": int(m.group(3)), "next_attempt": None,
                   "rcpts": []}
            if m.group(2) == "deferred":
                out[m.group(1)] = cur
            continue
        m = re.match(r"    to <(.*?)>  (\w+)(?:, next attempt (now|[\d-]+ [\d:]+))?", line)
        if m and cur is not None:
            cur["rcpts"].append({"addr": m.group(1), "state": m.group(2)})
            if m.group(3) == "now":
                cur["next_attempt"] = 0
            elif m.group(3):
                cur["next_attempt"] = calendar.timegm(time.strptime(m.group(3),
                                                                    "%Y-%m-%d %H:%M:%S"))
    return out


def notes(env):
    """{file name: (until, failures)} of spool/dead/."""
    d = os.path.join(env.spool, "dead")
    out = {}
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".lock"):      # attempt locks, one per destination
            continue
        with open(os.path.join(d, name)) as f:
            until, failures = f.read().split()
        out[name] = (int(until), int(failures))
    return out


def ids_in(log):
    return set(re.findall(r"^relay-runner\[\d+\]: info: (\S+): to=<", log, re.M))


T0 = time.monotonic()
env = yubin.Env()
sink = relayenv.Sink(env)
holes, procs = [], []
try:
    holes = blackhole.make(N_DOMAINS // 2)
    t.ok(all(blackhole.verify(holes)), "%d black holes: connection attempts get no answer"
         % len(holes))
    dead = ["dead%d.example.net" % i for i in range(len(holes))]
    live = ["live%d.example.net" % i for i in range(N_DOMAINS - len(holes))]
    dead_port = {d: h.port for d, h in zip(dead, holes)}
    relayenv.route(env, *([(d, "127.0.0.1:%d" % dead_port[d]) for d in dead] +
                          [(d, "127.0.0.1:%d" % sink.port) for d in live]))
    env.set(relay_connect_timeout="1s", relay_pass_budget="40s",
            relay_backoff_min="%ds" % BACKOFF)
    # Dead and live domains in turn; then one message with a dead and a
    # live recipient per dead domain.
    dead_ids, live_ids = set(), set()
    for d in [x for pair in zip(dead, live) for x in pair]:
        ids = relayenv.enqueue(env, MSG, "alice@example.org", ["user@%s" % d], count=PER_DOMAIN)
        (dead_ids if d in dead else live_ids).update(ids)
    mixed = set()
    for i, d in enumerate(dead):
        mixed.update(relayenv.enqueue(env, MSG, "alice@example.org",
                                      ["mixed@%s" % d, "mixed@%s" % live[i]]))
    t.eq(len(relayenv.queued(env)), N_DOMAINS * PER_DOMAIN + len(dead),
         "%d messages queued" % (N_DOMAINS * PER_DOMAIN + len(dead)))

    t.diag("%.1f s: first pass" % (time.monotonic() - T0))
    # --- first pass: live mail delivered, each dead destination tried once --
    began = time.time()
    rc, log, took, ports = run(env)
    ended = time.time()
    t.diag("%.1f s: pass took %.1f s" % (time.monotonic() - T0, took))
    t.eq(rc, 0, "the first pass exits 0")
    got = collections.Counter()
    for m in sink.messages():
        for r in m["rcpts"]:
            got[r] += 1
    want_live = collections.Counter({"user@%s" % d: PER_DOMAIN for d in live})
    want_live.update({"mixed@%s" % live[i]: 1 for i in range(len(dead))})
    t.eq(got, want_live, "every live message delivered, once, in the first pass (covers S72)")
    tries = {d: ports[dead_port[d]] for d in dead}
    t.eq(tries, {d: 1 for d in dead}, "each dead destination: one connect() in the pass, "
         "not one per message (covers S72)")
    t.ok(took < 30, "the pass takes %.1f s, not one 1 s timeout per dead message "
         "(%d of them)" % (took, len(dead_ids) + len(mixed)))
    timeouts = len(re.findall(r"status=deferred, tls=none \(connect to [^)]* timed out\)", log))
    held = len(re.findall(r"status=deferred, tls=none \(4\.4\.1 not tried: ", log))
    t.ok(timeouts == len(dead) and held == len(dead_ids) + len(mixed) - len(dead),
         "the log: %d connect timeouts, %d recipients deferred without a try" % (timeouts, held),
         log[-3000:])
    q = envelopes(env)
    t.eq(set(q), dead_ids | mixed, "the dead messages are all in queue/, nothing else")
    t.eq(relayenv.files(env, "new") + relayenv.files(env, "active"), [], "new/ and active/ empty")
    t.eq(env.messages("alice@example.org"), [], "nothing bounced to the sender")
    pend = [r for e in q.values() for r in e["rcpts"] if r["addr"].split("@")[1] in dead]
    t.ok(len(pend) == len(q) and all(r["state"] == "pending" for r in pend),
         "every dead recipient is still pending", pend[:3])
    t.ok(all(e["rcpts"][1]["state"] == "delivered" for i, e in q.items() if i in mixed),
         "in the mixed messages the live recipient is marked delivered")
    nt = notes(env)
    t.ok(len(nt) == len(dead) and all(f == 1 and began + BACKOFF <= u <= ended + BACKOFF + 1
                                      for u, f in nt.values()) and
         all(any(("%d" % p) in n for n in nt) for p in dead_port.values()),
         "one 'dead until' note per dead destination, %d s ahead" % BACKOFF, nt)
    attempts = collections.Counter(e["attempts"] for e in q.values())
    t.eq(attempts, collections.Counter({1: len(dead) + len(mixed),
                                        0: len(q) - len(dead) - len(mixed)}),
         "an attempt is counted for the first message per dead destination and the mixed "
         "ones (their live recipient), not for the messages held back")
    latest = max(u for u, f in nt.values())
    t.ok(all(e["next_attempt"] <= latest + BACKOFF // 10 + 2 for e in q.values()),
         "their next attempt is when the note ends, not a full back-off later")

    # --- within the back-off window: new mail to dead domains, no connection --
    fresh = set(relayenv.enqueue(env, MSG, "alice@example.org", ["late@%s" % d for d in dead],
                                 count=2))
    before = time.time()
    t.ok(min(u for u, f in nt.values()) > before + 2, "the notes are still in force")
    rc, log, took, ports = run(env)
    t.diag("%.1f s: pass took %.1f s" % (time.monotonic() - T0, took))
    t.eq(rc, 0, "a pass within the window exits 0")
    t.eq(sum(ports[p] for p in dead_port.values()), 0,
         "no connect() to a dead destination within its back-off window (covers S72)")
    t.ok(ids_in(log) == fresh and log.count("4.4.1 not tried: ") == len(fresh) * len(dead),
         "only the new messages were looked at, deferred without a try", log[-2000:])
    t.eq(set(envelopes(env)), dead_ids | mixed | fresh, "and they wait in queue/ with the rest")
    dead_ids |= fresh

    # --- after the back-off: retried, one connect() per dead destination ------
    q = envelopes(env)
    due = max(e["next_attempt"] for e in q.values())
    t.ok(due - time.time() < 3 * BACKOFF, "all due within %d s" % round(due - time.time()))
    time.sleep(max(0, due + 1.2 - time.time()))
    rc, log, took, ports = run(env)
    t.diag("%.1f s: pass took %.1f s" % (time.monotonic() - T0, took))
    t.eq(rc, 0, "the pass after the back-off exits 0")
    t.eq({d: ports[dead_port[d]] for d in dead}, {d: 1 for d in dead},
         "after the back-off each dead destination is tried again, once (covers S72)")
    t.eq(len(ids_in(log)), len(dead_ids | mixed), "every dead message was looked at again")
    t.eq(set(envelopes(env)), dead_ids | mixed, "still queued, none lost")
    t.eq(env.messages("alice@example.org"), [], "still nothing bounced")
    nt = notes(env)
    t.ok(len(nt) == len(dead) and all(f == 2 for u, f in nt.values()),
         "the notes count 2 timeouts in a row (the window doubles)", nt)

    # --- a second runner during a pass: no message worked by both (S68 d) ----
    sink.set({"delay": {"EOD": 0.02}})
    batch = set(relayenv.enqueue(env, MSG, "alice@example.org", ["second@%s" % live[0]],
                                 count=40))
    batch |= set(relayenv.enqueue(env, MSG, "alice@example.org", ["second@%s" % live[1]],
                                  count=40))
    before = len(sink.messages())
    start = [yubin.binary("relay-runner"), "-c", env.conf_path]
    a = subprocess.Popen(start, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env.env())
    procs.append(a)
    deadline = time.time() + 20
    while time.time() < deadline and not relayenv.files(env, "active"):
        time.sleep(0.01)
    b = subprocess.Popen(start, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env.env())
    procs.append(b)
    b_started_during_a = a.poll() is None
    la = a.communicate(timeout=50)[1].decode(errors="replace")
    lb = b.communicate(timeout=50)[1].decode(errors="replace")
    t.ok(b_started_during_a and a.returncode == 0 and b.returncode == 0,
         "the second runner started while the first was working; both exit 0")
    ia, ib = ids_in(la), ids_in(lb)
    t.eq(ia & ib, set(), "no message was worked by both runners (covers S72, S68)")
    t.eq(ia | ib, batch, "between them they took the whole new batch, nothing else")
    seq = collections.Counter((tuple(m["rcpts"]), m["data"]) for m in sink.messages()[before:])
    t.ok(len(seq) == len(batch) and set(seq.values()) == {1},
         "each of the %d messages delivered exactly once (%d + %d)"
         % (len(batch), len(ia), len(ib)))
    t.eq(set(envelopes(env)), dead_ids | mixed, "the dead messages, not due, were left alone")

    # --- the pass budget: a pass over 10 dead destinations that would take ---
    # --- 20 s stops starting deliveries after 3 s ------------------------------
    env.set(relay_processes=1, relay_pass_budget="3s", relay_connect_timeout="2s")
    rc, log, took, ports = run(env, "--flush")
    t.diag("%.1f s: pass took %.1f s" % (time.monotonic() - T0, took))
    tried = sum(ports[p] for p in dead_port.values())
    t.eq(rc, 0, "a pass cut by its budget exits 0")
    t.ok(took < 3 + 2 + 7, "it ends within its budget plus one connect wait "
         "(%.1f s; without the budget %d s)" % (took, 2 * len(dead)))
    t.ok(1 <= tried <= 3, "it tried %d of the %d dead destinations" % (tried, len(dead)))
    untouched = (dead_ids | mixed) - ids_in(log)
    m = re.search(r"pass budget of 3s spent: (\d+) messages left for the next pass, "
                  r"\d+ of %d destinations not started" % len(dead), log)
    t.ok(m and int(m.group(1)) == len(untouched), "the log says the budget was spent and "
         "how many messages were left", log[-2000:])
    t.ok(len(untouched) >= len(dead_ids | mixed) // 2,
         "%d messages were left untouched for the next pass" % len(untouched))
    t.eq(set(envelopes(env)), dead_ids | mixed, "every message still queued (covers S72)")

    # --- MX hosts: at most 5 addresses that time out per attempt ------------
    dns = relayenv.DNS(env, [x for i in range(8) for x in (
        "--mx-host=many.test,mx%d.many.test,%d" % (i, 10 + i),
        "--host-record=mx%d.many.test,127.0.0.1" % i)])
    try:
        env.set(relay_processes=2, relay_pass_budget="40s", relay_connect_timeout="1s",
                relay_mx_port=holes[0].port, relay_allow_private="yes")
        many = set(relayenv.enqueue(env, MSG, "alice@example.org", ["u@many.test"], count=3))
        rc, log, took, ports = run(env)
        t.eq(rc, 0, "a pass to a domain with 8 MX hosts, all black holes, exits 0")
        t.eq(ports[holes[0].port], 5, "5 of the 8 addresses are tried, then the destination is "
             "given up for the pass (covers S72)")
        t.ok(log.count("status=host-failed") == 4 and
             log.count("4.4.1 not tried: many.test did not answer") == 2,
             "the first message waited for 5 hosts, the other two were not tried", log[-2000:])
        t.ok(any(n.startswith("mx%20many.test") for n in notes(env)),
             "the domain has its 'dead until' note", notes(env))
        t.ok(many <= set(envelopes(env)), "its messages stay queued")
    finally:
        dns.stop()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()
    for h in holes:
        h.stop()
    sink.stop()
    env.cleanup()
t.diag("%.1f s in all" % (time.monotonic() - T0))
t.done()
