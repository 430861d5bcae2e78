#!/usr/bin/env python3
"""A bounce that cannot be written now is not lost (S70, S62): with
ENOSPC or EIO injected by strace into the write or the fsync of the
failure notice in the sender's mailbox (Maildir and mbox), relay-runner
keeps the message queued with the recipient marked "notice owed",
nothing of the notice is visible, and the next pass stores it.

Which system call is the notice's is found by a dry run under strace
(the same pass on the same state), as the crash-point runs do."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
# LeakSanitizer cannot run under ptrace.
NOLEAK = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
USER = "alice@example.org"
MSG = b"From: alice@example.org\nSubject: to a gone user\n\nhello\n"


def traced(env, out, extra=()):
    """One relay-runner pass under strace (paths shown); its trace lines."""
    p = subprocess.run(["strace", "-f", "-qq", "-y", "-o", out, "-e", "trace=write,pwrite64,fsync"] +
                       list(extra) + [yubin.binary("relay-runner"), "-c", env.conf_path],
                       capture_output=True, timeout=120, env=dict(NOLEAK, YUBIN_CONF=env.conf_path))
    with open(out) as f:
        return p, [re.sub(r"^\d+\s+", "", line) for line in f]


def mailbox_files(env):
    d = env.maildir(USER)
    if os.path.isfile(os.path.join(d, "INBOX")):
        with open(os.path.join(d, "INBOX"), "rb") as f:
            return f.read()
    return {sub: sorted(os.listdir(os.path.join(d, sub))) for sub in ("new", "cur", "tmp")}


def ordinal(calls, syscall, where, nth):
    """1-based number of the nth call of syscall on a file under where,
    among all calls of that syscall."""
    k = seen = 0
    for c in calls:
        if c.startswith(syscall + "("):
            k += 1
            if where in c.split(",")[0]:
                seen += 1
                if seen == nth:
                    return k
    return None


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    sink = relayenv.Sink(env, {"rcpt": {"gone@example.net": "550 5.1.1 no such user"}})
    try:
        relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
        box = os.path.join(env.maildir(USER), "INBOX" if fmt == "mbox" else "tmp/")
        relayenv.enqueue(env, MSG, USER, ["gone@example.net"])
        relayenv.runner(env)      # the first bounce creates the mailbox
        # mbox appends a short message with one pwrite; Maildir writes
        # the delivery header, then the message.
        wr, last = ("pwrite64", 1) if fmt == "mbox" else ("write", 2)
        faults = [(wr, 1, "ENOSPC"), (wr, last, "EIO"), ("fsync", 1, "EIO")]
        for syscall, nth, err in faults:
            what = "%s: %s on the notice's %s #%d" % (fmt, err, syscall, nth)
            relayenv.enqueue(env, MSG, USER, ["gone@example.net"])
            _, calls = traced(env, os.path.join(env.dir, "dry.out"))
            k = ordinal(calls, syscall, box, nth)
            if not t.ok(k is not None and relayenv.queued(env) == [],
                        "%s: the dry run stores the notice with it" % what, calls[-20:]):
                continue
            before = mailbox_files(env)
            relayenv.enqueue(env, MSG, USER, ["gone@example.net"])
            p, calls = traced(env, os.path.join(env.dir, "inject.out"),
                              ["-e", "inject=%s:error=%s:when=%d" % (syscall, err, k)])
            hit = [c for c in calls if "INJECTED" in c]
            t.ok(len(hit) == 1 and box in hit[0], "%s: injected into the mailbox" % what, hit)
            log = p.stderr.decode()
            t.ok("bounce to <alice@example.org> deferred" in log and "dropped" not in log,
                 "%s: logged as deferred" % what, log)
            q = relayenv.files(env, "queue")
            e = relayenv.dump(env, os.path.join(env.spool, "queue", q[0])) if len(q) == 1 else None
            t.ok(e is not None and e["rcpts"][0].get("state") == "3",
                 "%s: the message stays queued, its recipient owes a notice" % what, e)
            t.eq(mailbox_files(env), before, "%s: nothing of the notice is visible" % what)
            r = relayenv.runner(env, "--flush")
            after = mailbox_files(env)
            grew = (len(after) > len(before) if isinstance(after, bytes) else
                    len(after["new"]) == len(before["new"]) + 1 and after["tmp"] == [])
            t.ok(relayenv.queued(env) == [] and grew and
                 "sender non-delivery notification" in r.stderr.decode(),
                 "%s: the next pass stores the notice, the message leaves" % what, r.stderr)
    finally:
        sink.stop()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
