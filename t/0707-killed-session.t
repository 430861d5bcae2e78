#!/usr/bin/env python3
# S55: the units' limits end a session the hard way: MemoryMax= and the OOM
# killer send SIGKILL, RuntimeMaxSec= sends SIGTERM (then SIGKILL). Either
# way the client must see a dropped connection, never a 250 for mail that
# was not stored, and nothing half-written may show up in a mailbox or in
# the spool's new/. The sender then retries, so no mail is lost.
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()


def children(pid):
    """Pids whose parent is pid (the sessions of a listener)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def visible(addr):
    """Files a reader could see: the user's new/ and cur/, the spool's new/."""
    out = env.messages(addr)
    qnew = os.path.join(env.spool, "new")
    if os.path.isdir(qnew):
        out += os.listdir(qnew)
    return out


def reply(f):
    while True:
        ln = f.readline()
        if len(ln) < 4 or ln[3:4] != b"-":
            return ln


li = yubin.Listener(env, "smtp-session")
try:
    for sig, why in ((signal.SIGKILL, "MemoryMax / OOM kill"), (signal.SIGTERM, "RuntimeMaxSec stop")):
        rcpt = "alice@example.org" if sig == signal.SIGKILL else "bob@example.org"
        # The listener's readiness probe ran a session too: let it end.
        deadline = time.time() + 20
        while children(li.p.pid) and time.time() < deadline:
            time.sleep(0.05)
        s = socket.create_connection(("127.0.0.1", li.port), timeout=10)
        f = s.makefile("rwb")
        ok = reply(f).startswith(b"220")
        for cmd, code in (("EHLO client.test", b"250"), ("MAIL FROM:<x@example.net>", b"250"),
                          ("RCPT TO:<%s>" % rcpt, b"250"),
                          ("RCPT TO:<someone@remote.example>", b"554"),  # not relayed: no auth
                          ("DATA", b"354")):
            f.write(cmd.encode() + b"\r\n")
            f.flush()
            ok = ok and reply(f).startswith(code)
        # Half a message (big enough to be on disk already), then the signal.
        f.write(b"Subject: killed\r\n\r\n" + b"x" * 1000 + b"\r\n")
        for _ in range(200):
            f.write(b"y" * 998 + b"\r\n")
        f.flush()
        time.sleep(0.3)
        kids = children(li.p.pid)
        t.ok(ok and len(kids) == 1, "%s: one session in the middle of DATA" % why, kids)
        for k in kids:
            os.kill(k, sig)
        # The client now sends the end of data; it must not get a 250.
        try:
            f.write(b".\r\n")
            f.flush()
            s.settimeout(5)
            rest = f.read()
        except OSError:
            rest = b""
        t.ok(b"250" not in rest, "%s: the client sees a dropped connection, no 250" % why, rest)
        time.sleep(0.2)
        t.eq(visible(rcpt), [], "%s: nothing in the mailbox or the spool's new/" % why)
        s.close()

    # The sender retries on a new connection: the mail arrives once.
    s = socket.create_connection(("127.0.0.1", li.port), timeout=10)
    f = s.makefile("rwb")
    codes = [reply(f)[:3]]
    for cmd in ("EHLO client.test", "MAIL FROM:<x@example.net>", "RCPT TO:<alice@example.org>", "DATA"):
        f.write(cmd.encode() + b"\r\n")
        f.flush()
        codes.append(reply(f)[:3])
    f.write(b"Subject: retried\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    f.flush()
    codes += [reply(f)[:3], reply(f)[:3]]
    s.close()
    t.eq(codes, [b"220", b"250", b"250", b"250", b"354", b"250", b"221"], "the retry is accepted")
    msgs = env.messages("alice@example.org")
    t.ok(len(msgs) == 1 and b"Subject: retried" in msgs[0], "and stored once, whole")
finally:
    li.stop()
    env.cleanup()
t.done()
