#!/usr/bin/env python3
"""offlineimap (Debian package offlineimap3) syncs with imap-session over
loopback: pulls every folder, uploads a local new message and a local flag
change, downloads a server-side flag change and a server-side deletion.
With YUBIN_T_MBOX=1 (t/0415) the server stores mbox files."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import deliver, Raw, SyncServer  # noqa: E402

t = yubin.TAP()
# t/0415 runs this with YUBIN_T_MBOX=1: the server keeps mbox files
srv = SyncServer()
MBOX, env, L, local = srv.mbox, srv.env, srv.listener, srv.local
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
""" % (env.dir, local, L.port, U, yubin.DEMO_PASSWORD))


def sync():
    r = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, HOME=env.dir))
    if r.returncode != 0 or os.environ.get("OI_DEBUG"):
        t.diag((r.stdout + r.stderr)[-3000:])
    return r.returncode


try:
    for i in range(3):
        deliver(env, U, b"From: bob@example.org\r\nSubject: oi%d\r\n\r\nbody %d\r\n" % (i, i),
                name="%d.oi%d.test" % (1700000000 + i, i))  # UIDs 1, 2, 3 in this order
    t.eq(sync(), 0, "first offlineimap run")
    t.eq(len(local_msgs("INBOX")), 3, "three INBOX messages pulled")
    t.ok(os.path.isdir(os.path.join(local, "Sent")), "special-use folders pulled")
    # local changes: new message, \Seen on oi0
    os.makedirs(os.path.join(local, "INBOX", "tmp"), exist_ok=True)
    with open(os.path.join(local, "INBOX", "new", "1700000001.local.host"), "wb") as fh:
        fh.write(b"From: alice@example.org\r\nSubject: oilocal\r\n\r\nlocal\r\n")
    p0 = find("INBOX", b"body 0")
    os.rename(p0, p0.replace("/new/", "/cur/").split(":2,")[0] + ":2,S")
    # server changes: \Flagged on oi1, delete oi2
    s = Raw(env, U)
    s.cmd("SELECT INBOX")
    s.cmd("UID STORE 2 +FLAGS (\\Flagged)")
    s.cmd("UID STORE 3 +FLAGS (\\Deleted)")
    s.cmd("EXPUNGE")
    s.close()
    t.eq(sync(), 0, "second offlineimap run")
    s = Raw(env, U)
    resp = s.cmd("SELECT INBOX")
    resp = s.cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s.close()
    t.ok(b"oilocal" in resp, "local new message uploaded", resp)
    t.ok(any(b"oi0" in x and b"\\Seen" in x for x in resp.split(b"* ")), "local \\Seen uploaded",
         resp)
    p1 = find("INBOX", b"body 1")
    t.ok(p1 is not None and "F" in p1.split(":2,")[-1], "server \\Flagged downloaded",
         sorted(local_msgs("INBOX")))
    t.ok(find("INBOX", b"body 2") is None, "server deletion downloaded", sorted(local_msgs("INBOX")))
    if MBOX:
        with open(os.path.join(env.maildir(U), "INBOX"), "rb") as fh:
            data = fh.read()
        t.ok(b"Subject: oilocal" in data and b"\nX-UID: " in data and
             not os.path.exists(os.path.join(env.maildir(U), "cur")),
             "the server keeps INBOX as an mbox file", data[:300])
finally:
    srv.stop()
t.done()
