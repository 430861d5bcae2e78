#!/usr/bin/env python3
"""offlineimap (offlineimap3) with usecompression = yes syncs with
imap-session over COMPRESS=DEFLATE: it pulls every INBOX message byte for
byte, uploads a local new message and a local flag change, downloads a
server-side flag change; the server's log shows each session compressed
(covers the COMPRESS path of a real sync client)."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import deliver, Raw, SyncServer  # noqa: E402

t = yubin.TAP()
srv = SyncServer()
env, L, local = srv.env, srv.listener, srv.local
local_msgs, find = srv.local_files, srv.find_local
U = "alice@example.org"
rc = os.path.join(env.dir, "offlineimaprc")
with open(rc, "w") as f:
    f.write("""[general]
accounts = test
metadata = %s/meta
ui = basic

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
usecompression = yes
""" % (env.dir, local, L.port, U, yubin.DEMO_PASSWORD))


def sync():
    r = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, HOME=env.dir))
    if r.returncode != 0 or os.environ.get("OI_DEBUG"):
        t.diag((r.stdout + r.stderr)[-3000:])
    return r.returncode


def compressed_sessions(at_least):
    """(compressed in, inflated in, compressed out, plain out) per session
    that used COMPRESS, from the server's log. A session logs this as it
    ends, after the client has gone: waits (a condition, not a time) for
    at_least of them."""
    deadline = time.time() + 60
    while True:
        with open(L.logpath, "rb") as fh:
            log = fh.read()
        found = [tuple(int(x) for x in m) for m in
                 re.findall(rb"compress user=\S+ in=(\d+)/(\d+) out=(\d+)/(\d+)", log)]
        if len(found) >= at_least or time.time() > deadline:
            return found
        time.sleep(0.05)


try:
    bodies = []
    for i in range(4):
        text = b"".join(b"message %d line %d: some text to compress\r\n" % (i, j)
                        for j in range(40 * (i + 1)))
        msg = b"From: bob@example.org\r\nSubject: oz%d\r\n\r\n" % i + text
        bodies.append(msg)
        deliver(env, U, msg, name="%d.oz%d.test" % (1700000000 + i, i))
    t.eq(sync(), 0, "first offlineimap run with usecompression = yes")
    got = sorted(local_msgs("INBOX").values(), key=len)
    t.eq(len(got), 4, "four INBOX messages pulled")
    t.ok(all(any(b.replace(b"\r\n", b"\n") in g.replace(b"\r\n", b"\n") for g in got)
             for b in bodies), "each pulled whole")
    first = compressed_sessions(1)
    t.ok(len(first) >= 1 and all(s[0] > 0 and s[3] > s[2] for s in first),
         "the server log shows offlineimap's sessions compressed", first)
    with open(os.path.join(local, "INBOX", "new", "1700000009.local.host"), "wb") as fh:
        fh.write(b"From: alice@example.org\r\nSubject: ozlocal\r\n\r\nlocal\r\n")
    p0 = find("INBOX", b"message 0 line 0")
    os.rename(p0, p0.replace("/new/", "/cur/").split(":2,")[0] + ":2,S")
    s = Raw(env, U)
    s.cmd("SELECT INBOX")
    s.cmd("UID STORE 2 +FLAGS (\\Flagged)")
    s.close()
    t.eq(sync(), 0, "second offlineimap run")
    s = Raw(env, U)
    s.cmd("SELECT INBOX")
    resp = s.cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s.close()
    t.ok(b"ozlocal" in resp, "local new message uploaded through COMPRESS", resp)
    t.ok(any(b"oz0" in x and b"\\Seen" in x for x in resp.split(b"* ")),
         "local \\Seen uploaded", resp)
    p1 = find("INBOX", b"message 1 line 0")
    t.ok(p1 is not None and "F" in p1.split(":2,")[-1], "server \\Flagged downloaded",
         sorted(local_msgs("INBOX")))
    t.ok(len(compressed_sessions(len(first) + 1)) > len(first), "the second run compressed too")
finally:
    srv.stop()
t.done()
