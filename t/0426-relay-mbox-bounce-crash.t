#!/usr/bin/env python3
"""relay-runner's local bounce into the sender's mbox, and smtp-session's
delivery into an mbox, killed (SIGKILL) or failed (ENOSPC) at every write
into the mbox (issue 11 §2.2). Checked with a parser of our own after the
next POP3 session: the mbox holds only whole messages (the bounce whole or
not at all), the next session sees them at once, and a delivery whose
write fails answers 452 with nothing stored (S65, S66)."""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import mboxfile  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
USER = "alice@example.org"
DIR = env.maildir(USER)
INBOX = os.path.join(DIR, "INBOX")
TENV = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
FIRST = b"From z@example.com Thu Nov 27 10:00:00 2026\nSubject: first\n\nalready here\n\n"
BIG = b"".join(b"bounced line %06d, padded to sixty-four bytes................\n" % i
               for i in range(3200))                       # 200 KiB
ORIG = b"From: alice@example.org\nTo: nobody@example.net\nSubject: lost\n\n" + BIG


def parse_mbox(data):
    """Messages of the mbox (From_ line and separator taken off, one level
    of >From quoting undone; see t/mboxfile.py), or None if it is not a
    sequence of whole messages."""
    msgs = mboxfile.messages(data)
    if msgs is None:
        return None
    return [b"\n".join(re.sub(rb"^>(>*From )", rb"\1", ln) for ln in m[1:]) + b"\n" for m in msgs]


def bounce_whole(raw):
    """A DSN with every part there and the whole original returned."""
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    if m.get_content_type() != "multipart/report" or m.defects:
        return False
    parts = m.get_payload()
    if not isinstance(parts, list) or len(parts) != 3 or any(p.defects for p in parts):
        return False
    return raw.rstrip(b"\n").endswith(b"--" + m.get_boundary().encode() + b"--") and BIG in raw


def check(kind):
    """None if the mbox holds the first message and, at most, one whole
    message of kind after it; else what is wrong."""
    with open(INBOX, "rb") as f:
        data = f.read()
    msgs = parse_mbox(data)
    if msgs is None or not msgs or msgs[0] != FIRST[FIRST.index(b"\n") + 1:-1]:
        return "not whole messages (%d bytes)" % len(data)
    if len(msgs) > 2:
        return "%d messages" % len(msgs)
    if len(msgs) == 2 and not (bounce_whole(msgs[1]) if kind == "bounce" else msgs[1].endswith(BIG)):
        return "a cut %s (%d bytes)" % (kind, len(msgs[1]))
    return None


def reset():
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(DIR)
    with open(INBOX, "wb") as f:
        f.write(FIRST)
    for sub in ("new", "queue", "active", "deferred"):
        for name in relayenv.files(env, sub):
            os.unlink(os.path.join(env.spool, sub, name))
    env.write_conf()


def traced(cmd, inject=None, trace=None, data=None):
    s = ["strace", "-f", "-qq", "-y", "-o", trace or os.devnull]
    if inject:
        s += ["-e", "inject=" + inject]
    return subprocess.run(s + cmd, input=data, capture_output=True, timeout=120, env=TENV)


def bounce(**kw):
    relayenv.enqueue(env, ORIG, USER, ["nobody@example.net"])
    return traced([yubin.binary("relay-runner"), "-c", env.conf_path], **kw)


def deliver(**kw):
    msg = b"Subject: big\r\n\r\n" + BIG.replace(b"\n", b"\r\n")
    return traced([yubin.binary("smtp-session"), "-c", env.conf_path],
                  data=b"EHLO c.example.com\r\nMAIL FROM:<z@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
                  b"DATA\r\n" + msg + b".\r\nQUIT\r\n", **kw)


def next_session():
    t0 = time.time()
    r = env.run("pop3-session", b"USER alice@example.org\r\nPASS secret-pw\r\nSTAT\r\nQUIT\r\n", timeout=120)
    m = re.search(rb"\r\n\+OK (\d+) \d+\r\n", r.stdout)
    return (int(m.group(1)) if m else None), time.time() - t0


def inbox_writes(trace):
    """Indexes (1-based) among all pwrite64 calls of those into the INBOX."""
    pw = [ln for ln in open(trace, errors="replace") if re.match(r"^\d+\s+pwrite64\(", ln)]
    return len(pw), [k for k, ln in enumerate(pw, 1) if re.search(r"pwrite64\(\d+<[^>]*/INBOX>", ln)]


def crash_points(kind, run, ok_text, fail_text):
    trace = os.path.join(env.dir, "strace-%s.log" % kind)
    reset()
    p = run(trace=trace)
    n_pw, into = inbox_writes(trace)
    with open(INBOX, "rb") as f:
        msgs = parse_mbox(f.read())
    t.ok(check(kind) is None and msgs is not None and len(msgs) == 2 and len(into) >= 3,
         "%s: untraced run stores it whole, in %d writes" % (kind, len(into)), (check(kind), p.stderr[-300:]))
    failures = []
    for k in range(1, n_pw + 2):
        for how in ("signal=SIGKILL", "error=ENOSPC"):
            reset()
            p = run(inject="pwrite64:%s:when=%d" % (how, k))
            n, took = next_session()
            bad = check(kind)
            with open(INBOX, "rb") as f:
                msgs = parse_mbox(f.read())
            if bad is None and (n != len(msgs) or took > 10):
                bad = "next session: %s messages in %.1fs" % (n, took)
            if bad is None and ok_text and ok_text in p.stdout and len(msgs) != 2:
                bad = "acknowledged but not stored"
            if bad is None and how == "error=ENOSPC" and k in into and len(msgs) != 1:
                bad = "a failed write left the message stored"
            if bad is None and how == "error=ENOSPC" and k in into and fail_text and fail_text not in p.stdout:
                bad = "a failed write answered %r" % p.stdout[-100:]
            if bad:
                failures.append("%s at pwrite64 #%d: %s" % (how, k, bad))
        if len(failures) >= 4:
            break
    t.ok(not failures, "%s killed or failed at each of its %d pwrite64 calls: only whole messages, "
         "the next session at once (covers S65, S66)" % (kind, n_pw), failures)


sink = relayenv.Sink(env, {"rcpt": {"nobody@example.net": "550 5.1.1 <nobody@example.net>: no such user"}})
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    crash_points("bounce", bounce, None, None)
    crash_points("delivery", deliver, b"\r\n250 2.0.0 Ok: queued", b"\r\n452 4.3.1 ")
    # The dotlock cannot be removed after an acknowledged delivery: the
    # dotlock left behind must not take the message back when the next
    # locker breaks it (it recorded the size before the append).
    reset()
    lock = INBOX + ".lock"
    p = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-P", lock,
                        "-e", "inject=unlink,unlinkat:error=EIO",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=b"EHLO c.example.com\r\nMAIL FROM:<z@example.com>\r\n"
                       b"RCPT TO:<alice@example.org>\r\nDATA\r\nSubject: big\r\n\r\nhi\r\n"
                       b".\r\nQUIT\r\n", capture_output=True, timeout=120, env=TENV)
    left = os.path.exists(lock)
    if left:
        old = time.time() - 3600
        os.utime(lock, (old, old))
    n, _ = next_session()
    t.ok(b"\r\n250 2.0.0 Ok: queued" in p.stdout and left and n == 2,
         "a dotlock that cannot be removed after a 250 keeps the message "
         "(lock left: %s, next session sees %s)" % (left, n), p.stdout[-200:])
finally:
    sink.stop()
t.done()
