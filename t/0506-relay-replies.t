#!/usr/bin/env python3
"""relay-runner against malformed and hostile replies (S58): over-long
lines, endless continuations, code mismatches, bad codes, a reply cut off,
bare LF, data after 354, a greeting trickled one byte at a time; and
against broken queue files (S67): empty, truncated, no end record, a
symlink — quarantined in corrupt/ while the rest of the queue flows;
claims of live, dead and silent runners; addresses in the queue file that
try to inject commands (S26)."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
MSG = b"From: alice@example.org\nSubject: replies\n\nhello\n"


def clear_queue():
    for sub in ("new", "queue", "active"):
        for name in relayenv.files(env, sub):
            os.unlink(os.path.join(env.spool, sub, name))


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    env.set(relay_timeout="5s")
    bad = [
        ("a 65536-byte continuation line", {"raw": {"EHLO": "250-" + "a" * 65536 + "\r\n250 ok\r\n"}}),
        ("10000 continuation lines", {"raw": {"EHLO": "250-x\r\n" * 10000 + "250 ok\r\n"}}),
        ("a code change between lines", {"raw": {"MAIL": "250-a\r\n550 b\r\n"}}),
        ("a non-numeric code", {"raw": {"MAIL": "2x0 ok\r\n"}}),
        ("a reply cut off by close", {"raw": {"EHLO": "250-a"}, "close_after": "EHLO"}),
        ("a bare LF inside a reply", {"raw": {"EHLO": "250 a\nb\r\n"}}),
        ("extra lines after 354", {"raw": {"DATA": "354 go\r\n250 2.0.0 fake ok\r\n"}}),
    ]
    for name, script in bad:
        clear_queue()
        n_msgs = len(sink.messages())
        n_dsn = len(env.messages("alice@example.org"))
        sink.set(script)
        relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
        r = relayenv.runner(env)
        ok = (r.rc == 0 and "status=deferred" in r.stderr.decode() and
              len(relayenv.files(env, "queue")) == 1 and
              len(env.messages("alice@example.org")) == n_dsn and
              len(sink.messages()) == n_msgs)
        t.ok(ok, "%s: temporary failure, message kept, no bounce (covers S58)" % name, r.stderr)
    clear_queue()

    sink.set({"raw": {"MAIL": "250\r\n"}})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.ok(relayenv.queued(env) == [] and "status=sent" in r.stderr.decode(),
         "'250' without text is a valid reply (covers S58)", r.stderr)
    sink.set({"trickle": True})
    relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env)
    t.ok(relayenv.queued(env) == [] and "status=sent" in r.stderr.decode(),
         "a greeting in 1-byte segments works (covers S58)", r.stderr)

    # --- addresses in the queue file cannot inject commands (S26) -------------
    sink.set({})
    conns = sink.connections()
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "alice@example.org",
                     ["evil@example.net>\r\nRSET\r\nMAIL FROM:<x@y", "ok@example.net"],
                     extra=["-E", "id\r\nQUIT"])
    r = relayenv.runner(env)
    cmds = sink.commands(conns + 1) if sink.connections() > conns else []
    t.ok(cmds and not any(c.startswith(("RSET", "QUIT x")) for c in cmds[:-1]) and
         "RCPT TO:<ok@example.net>" in cmds and all("ENVID" not in c for c in cmds),
         "CR/LF in a queued address or ENVID never reaches the wire (covers S26)", cmds)
    d = env.messages("alice@example.org")[n:]
    t.ok(len(d) == 1 and b"Status: 5.1.3" in d[0], "the malformed recipient bounces 5.1.3", d)
    clear_queue()

    # --- claims: live owners keep them, dead or silent ones lose them (S67) ----
    def owner(pid):
        host = "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname())
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = "".join(c for c in f.read() if c in "0123456789abcdef")[:8]
        with open("/proc/%d/stat" % pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        return ",%s~%s,%d,%s" % (host, boot, pid, start)

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        ids = relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"], count=4)
        active = os.path.join(env.spool, "active")
        os.makedirs(active, exist_ok=True)
        live = ids[0] + owner(sleeper.pid)
        dead_proc = subprocess.Popen(["true"])
        dead_owner = owner(dead_proc.pid)
        dead_proc.wait()
        dead = ids[1] + dead_owner
        fresh = ids[2] + ",otherhost~0,1,1"
        old = ids[3] + ",otherhost~0,2,2"
        for i, name in enumerate((live, dead, fresh, old)):
            os.rename(os.path.join(env.spool, "new", ids[i]), os.path.join(active, name))
        three_hours_ago = time.time() - 3 * 3600
        os.utime(os.path.join(active, old), (three_hours_ago, three_hours_ago))
        before = len(sink.messages())
        r = relayenv.runner(env)
        left = sorted(relayenv.files(env, "active"))
        t.eq(left, sorted([live, fresh]),
             "claims of a live process and a fresh foreign claim are left alone")
        t.eq(len(sink.messages()), before + 2,
             "a dead process's claim and a 3-hour-old foreign one are recovered and delivered")
        t.ok(r.stderr.decode().count("recovered a stale claim") == 2, "recoveries are logged",
             r.stderr)
    finally:
        sleeper.kill()
        sleeper.wait()
    clear_queue()

    # --- S67: broken queue files are quarantined ------------------------------
    sink.set({})
    ids = relayenv.enqueue(env, MSG, "alice@example.org", ["bob@example.net"], count=2)
    good = os.path.join(env.spool, "new", ids[0])
    with open(good, "rb") as f:
        data = f.read()
    new = os.path.join(env.spool, "new")
    broken = {"empty": b"", "truncated": data[:len(data) // 2],
              "no-end": data[:data.index(b"\nM") + 1]}
    for name, content in broken.items():
        with open(os.path.join(new, name), "wb") as f:
            f.write(content)
    outside = os.path.join(env.dir, "outside")
    with open(outside, "wb") as f:
        f.write(data)
    os.symlink(outside, os.path.join(new, "symlink"))
    os.unlink(os.path.join(new, ids[1]))
    r = relayenv.runner(env)
    log = r.stderr.decode()
    t.eq(sorted(relayenv.files(env, "corrupt")), sorted(list(broken) + ["symlink"]),
         "empty, truncated, endless and symlinked files moved to corrupt/ (covers S67)")
    t.ok(log.count("moved to corrupt/") == 4, "each is logged", log)
    t.ok("%s: to=<bob@example.net>" % ids[0] in log and relayenv.queued(env) == [],
         "the valid message in the same pass is delivered", log)
    t.ok(os.path.exists(outside), "the symlink target is untouched")
    t.contains(relayenv.runner(env, "--list").stdout, b"(corrupt: kept for inspection)",
               "--list shows quarantined files")
finally:
    sink.stop()
    env.cleanup()
t.done()
