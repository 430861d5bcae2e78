#!/usr/bin/env python3
"""relay-runner retries and bounces: 4xx then success on a later pass,
per-recipient state kept across passes, back-off growing from 5 minutes,
queue_lifetime expiry → DSN, the null sender never bounced, NOTIFY=NEVER,
RET=HDRS, a remote sender's bounce queued from <>, remote text sanitised in
the DSN (S59), a dropped connection after DATA (S67-S70)."""
import email
import email.policy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
MSG = b"From: alice@example.org\nSubject: retry\n\nhello\n"


def only_queued():
    q = relayenv.files(env, "queue")
    return relayenv.dump(env, os.path.join(env.spool, "queue", q[0])) if len(q) == 1 else None


def dsns(n):
    return env.messages("alice@example.org")[n:]


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))

    # --- greylisting: 451 for one recipient, 250 for the other ----------------
    sink.set({"rcpt_once": {"grey@example.net": "451 4.7.1 greylisted, try later"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net", "grey@example.net"])
    now = time.time()
    r = relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == 1 and ms[0]["rcpts"] == ["bob@example.net"], "250 recipient delivered", r.stderr)
    e = only_queued()
    t.ok(e is not None, "the message waits in queue/ (covers S69)")
    if e:
        t.eq([x["state"] for x in e["rcpts"]], ["1", "0"], "per-recipient state: delivered, pending")
        t.ok(e["rcpts"][1].get("diagnostic", "").startswith("451 4.7.1 greylisted"),
             "the 4xx reply is kept with the recipient", e)
        wait = int(e["next_attempt"]) - now
        t.ok(e["attempts"] == "1" and 290 <= wait <= 340, "next attempt in about 5 minutes", e)
    conns = sink.connections()
    relayenv.runner(env)
    t.eq(sink.connections(), conns, "a pass without --flush respects the back-off")
    t.contains(relayenv.runner(env, "--list").stdout, b"grey@example.net>  pending, next attempt",
               "--list shows the pending recipient and its next attempt")
    r = relayenv.runner(env, "--flush")
    ms = sink.messages()
    t.ok(len(ms) == 2 and ms[1]["rcpts"] == ["grey@example.net"],
         "--flush retries, and only the recipient still pending (covers S68)", r.stderr)
    t.eq(relayenv.queued(env), [], "then the queue is empty")

    # --- back-off doubles: 5, 10, 20 minutes -----------------------------------
    sink.set({"rcpt": {"slow@example.net": "450 4.2.0 mailbox busy"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["slow@example.net"])
    waits = []
    for i in range(3):
        now = time.time()
        relayenv.runner(env, "--flush")
        e = only_queued()
        waits.append(int(e["next_attempt"]) - now if e else None)
    t.ok(all(w is not None for w in waits) and 290 <= waits[0] <= 340 and
         590 <= waits[1] <= 670 and 1190 <= waits[2] <= 1330,
         "back-off grows 5m, 10m, 20m with jitter (covers S69)", waits)

    # --- queue_lifetime expired: remaining recipients bounce -----------------
    for name in relayenv.files(env, "queue"):
        os.unlink(os.path.join(env.spool, "queue", name))
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", ["slow@example.net"], extra=["-A", str(6 * 86400)])
    r = relayenv.runner(env)
    d = dsns(n)
    t.ok(len(d) == 1 and b"Status: 5.4.7" in d[0] and b"450 4.2.0 mailbox busy" in d[0],
         "after queue_lifetime the last 4xx becomes a 5.4.7 bounce (covers S70)", r.stderr)
    t.eq(relayenv.queued(env), [], "expired message removed")

    # --- pending for more than 4 hours: one delay notice ---------------------
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG + b"body text\n", "alice@example.org", ["slow@example.net"],
                     extra=["-A", str(5 * 3600)])
    r = relayenv.runner(env)
    d = dsns(n)
    m = parse(d[0]) if len(d) == 1 else None
    parts = m.get_payload() if m else []
    t.ok(m is not None and m["Subject"] == "Delayed Mail (still being retried)" and
         len(parts) == 3 and parts[2].get_content_type() == "text/rfc822-headers" and
         b"Action: delayed" in d[0] and b"Status: 4.2.0" in d[0] and
         b"Will-Retry-Until:" in d[0] and b"body text" not in d[0],
         "after 4 hours a delay DSN (Action: delayed, headers only) goes out", r.stderr)
    e = only_queued()
    t.ok(e and e["delay_warned"] == "1", "the queue file remembers it", e)
    relayenv.runner(env, "--flush")
    t.eq(len(dsns(n)), 1, "and the next pass sends no second one")
    for name in relayenv.files(env, "queue"):
        os.unlink(os.path.join(env.spool, "queue", name))

    # --- "452 too many recipients": the rest go in further transactions --------
    sink.set({"max_rcpts": 2})
    before = len(sink.messages())
    rcpts = ["m%d@example.net" % i for i in range(5)]
    relayenv.enqueue(env, MSG, "alice@example.org", rcpts)
    r = relayenv.runner(env)
    ms = sink.messages()[before:]
    t.ok([m["rcpts"] for m in ms] == [rcpts[0:2], rcpts[2:4], rcpts[4:]] and
         relayenv.queued(env) == [] and len({m["conn"] for m in ms}) == 1,
         "452 after two recipients: three transactions on one connection, all delivered "
         "(covers S69)", r.stderr)

    # --- NOTIFY=SUCCESS: passed on to a DSN peer, "relayed" notice otherwise ----
    sink.set({})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org", [("ok@example.net", 6)])
    relayenv.runner(env)
    t.ok(len(env.messages("alice@example.org")) == n and
         "NOTIFY=SUCCESS,FAILURE" in sink.commands(sink.connections())[2],
         "NOTIFY=SUCCESS goes to a peer offering DSN; no local notice",
         sink.commands(sink.connections()))
    sink.set({"ext": ["PIPELINING", "8BITMIME"]})
    relayenv.enqueue(env, MSG + b"body text\n", "alice@example.org", [("ok@example.net", 6)])
    relayenv.runner(env)
    d = dsns(n)
    t.ok(len(d) == 1 and b"Subject: Successful Mail Delivery Report" in d[0] and
         b"Action: relayed" in d[0] and b"Status: 2.0.0" in d[0] and
         b"Remote-MTA: dns; 127.0.0.1" in d[0] and b"body text" not in d[0],
         "to a peer without DSN, the sender gets a 'relayed' notice (RFC 3461)", d)
    sink.set({"rcpt": {"slow@example.net": "450 4.2.0 mailbox busy"}})

    # --- null sender: never bounced, the postmaster is told ----------------------
    sink.set({"rcpt": {"gone@example.net": "550 5.1.1 gone"}})
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "", ["gone@example.net"])
    r = relayenv.runner(env)
    d = dsns(n)      # alice is the postmaster (alias)
    t.ok("null path" in r.stderr.decode() and relayenv.queued(env) == [] and
         len(d) == 1 and b"To: <postmaster@example.org>" in d[0],
         "a failed bounce is never bounced: a double bounce goes to the postmaster "
         "(covers S70)", r.stderr)
    n = len(env.messages("alice@example.org"))

    # --- NOTIFY=NEVER: no DSN ---------------------------------------------------
    relayenv.enqueue(env, MSG, "alice@example.org", [("gone@example.net", 1)])
    r = relayenv.runner(env)
    t.ok(len(env.messages("alice@example.org")) == n and relayenv.queued(env) == [],
         "NOTIFY=NEVER: the failure sends no DSN (covers S70)", r.stderr)

    # --- RET=HDRS: headers only ------------------------------------------------
    relayenv.enqueue(env, MSG + b"secret body line\n", "alice@example.org", ["gone@example.net"],
                     extra=["-R", "H"])
    relayenv.runner(env)
    d = dsns(n)
    m = parse(d[0]) if len(d) == 1 else None
    parts = m.get_payload() if m else []
    t.ok(len(parts) == 3 and parts[2].get_content_type() == "text/rfc822-headers" and
         b"Subject: retry" in d[0] and b"secret body line" not in d[0],
         "RET=HDRS returns the header section only (covers S70)", d)

    # --- remote sender: the bounce is queued from <> ----------------------------
    relayenv.enqueue(env, MSG, "someone@remote.example", ["gone@example.net"])
    relayenv.runner(env)
    q = relayenv.files(env, "new")
    e = relayenv.dump(env, os.path.join(env.spool, "new", q[0])) if len(q) == 1 else None
    t.ok(e and e["sender"] == "" and [x["addr"] for x in e["rcpts"]] == ["someone@remote.example"],
         "a remote sender's DSN is queued with the null sender", e)
    for name in q:
        os.unlink(os.path.join(env.spool, "new", name))

    # --- S59: hostile reply text in the bounce ------------------------------------
    n = len(env.messages("alice@example.org"))
    sink.set({"raw": {"RCPT": "550 5.1.1 x\x00y\x1b[31mred\r\n"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["evil@example.net"])
    relayenv.runner(env)
    sink.set({"raw": {"RCPT": "550-From: root@example.org\r\n550 \r\n"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["evil@example.net"])
    relayenv.runner(env)
    sink.set({"raw": {"RCPT": "".join("550-5.1.1 line %04d %s\r\n" % (i, "z" * 30)
                                      for i in range(1000)) + "550 5.1.1 end\r\n"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["evil@example.net"])
    relayenv.runner(env)
    d = dsns(n)
    t.eq(len(d), 3, "three hostile replies, three bounces")
    good = True
    for raw in d:
        m = parse(raw)
        parts = m.get_payload() if m.is_multipart() else []
        fields = {}
        for block in (parts[1].get_payload() if len(parts) == 3 else []):
            for k, v in block.items():
                fields.setdefault(k, v)
        diag = fields.get("Diagnostic-Code", "")
        ok = (len(parts) == 3 and diag.startswith("smtp; 550") and len(diag) <= 1000 and
              all(0x20 <= ord(c) < 0x7f for c in diag) and
              b"\x1b" not in raw and b"\x00" not in raw and
              all(len(l) <= 998 for l in raw.split(b"\n")) and
              not any(l.startswith(b"From: root") for l in raw.split(b"\n")))
        if not ok:
            t.diag(repr(diag))
        good = good and ok
    t.ok(good, "Diagnostic-Code is printable ASCII, at most 1000 characters, no header "
         "injected, no line over 998, the DSN parses (covers S59)")

    # --- DATA refused with 451: every accepted recipient retried -------------------
    sink.set({"data": "451 4.3.0 try again later"})
    relayenv.enqueue(env, MSG, "alice@example.org", ["r1@example.net", "r2@example.net"])
    relayenv.runner(env)
    e = only_queued()
    t.ok(e and [x["state"] for x in e["rcpts"]] == ["0", "0"],
         "451 to DATA: both recipients stay pending (covers S68)", e)
    # --- connection dropped after the final dot: retried (at-least-once) ----------
    sink.set({"drop_at": "eod"})
    r = relayenv.runner(env, "--flush")
    e = only_queued()
    t.ok(e and [x["state"] for x in e["rcpts"]] == ["0", "0"] and "status=deferred" in
         r.stderr.decode(), "a drop before the 250 leaves the message queued (covers S68)", r.stderr)
    sink.set({})
    relayenv.runner(env, "--flush")
    t.ok(relayenv.queued(env) == [] and sink.messages()[-1]["rcpts"] == ["r1@example.net",
                                                                          "r2@example.net"],
         "and a later pass delivers it")

    # --- two destinations: one answers, one is down --------------------------
    dead = yubin.free_port()
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port),
                   ("down.example", "127.0.0.1:%d" % dead))
    relayenv.enqueue(env, MSG, "alice@example.org", ["x@down.example", "y@example.net"])
    r = relayenv.runner(env)
    e = only_queued()
    t.ok(e and [x["state"] for x in e["rcpts"]] == ["0", "1"] and
         "connect to 127.0.0.1[127.0.0.1]" in e["rcpts"][0].get("diagnostic", ""),
         "per destination: one delivered, the unreachable one pending with its error", e)
    t.eq(sink.messages()[-1]["rcpts"], ["y@example.net"], "only the reachable recipient was sent")
finally:
    sink.stop()
    env.cleanup()
t.done()
