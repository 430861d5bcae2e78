#!/usr/bin/env python3
"""mbsync (isync) syncs a whole mailbox with imap-session both ways: new,
changed and deleted messages on each side, over loopback. With
YUBIN_T_MBOX=1 (t/0413) the server stores mbox files instead of Maildir."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imaplib  # noqa: E402
from imaptest import SyncServer  # noqa: E402

t = yubin.TAP()
srv = SyncServer()
MBOX, env, L, local = srv.mbox, srv.env, srv.listener, srv.local
local_files, find_local = srv.local_files, srv.find_local
os.makedirs(local)
rc = os.path.join(env.dir, "mbsyncrc")
with open(rc, "w") as f:
    f.write("""IMAPAccount test
Host 127.0.0.1
Port %d
User alice@example.org
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""" % (L.port, yubin.DEMO_PASSWORD, local, local))


def mbsync():
    r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True,
                       timeout=40)
    if r.returncode != 0:
        t.diag(r.stdout[-2000:] + r.stderr[-2000:])
    return r.returncode


def server():
    M = imaplib.IMAP4("127.0.0.1", L.port)
    M.login("alice@example.org", yubin.DEMO_PASSWORD)
    return M


def server_subjects(M, box):
    typ, data = M.select(box)
    n = int(data[0])
    subs = {}
    if n:
        typ, data = M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for item in data:
            if isinstance(item, tuple):
                subj = item[1].decode().strip().replace("Subject: ", "")
                subs[subj] = item[0].decode()
    return subs


try:
    M = server()
    for i in range(5):
        M.append("INBOX", None, None,
                 b"From: bob@example.org\r\nSubject: msg%d\r\n\r\nbody %d\r\n" % (i, i))
    M.append("Sent", r"(\Seen)", None, b"From: alice@example.org\r\nSubject: sent1\r\n\r\nx\r\n")
    M.create("Archive/2024")
    M.append("Archive/2024", r"(\Flagged)", None, b"Subject: old\r\n\r\narchived\r\n")
    M.logout()

    t.eq(mbsync(), 0, "first mbsync run succeeds")
    t.eq(len(local_files("INBOX")), 5, "five INBOX messages pulled")
    t.eq(len(local_files("Sent")), 1, "Sent pulled")
    t.eq(len(local_files("Archive/2024")), 1, "nested folder Archive/2024 pulled")
    p = find_local("Archive/2024", b"archived")
    t.ok(p is not None and p.endswith("F"), "\\Flagged arrived as F", p)

    # Changes on both sides.
    # Local: new message, mark msg1 seen, delete msg2.
    newp = os.path.join(local, "INBOX", "new", "1700000000.local1.host")
    with open(newp, "wb") as fh:
        fh.write(b"From: alice@example.org\r\nSubject: fromlocal\r\n\r\nlocal body\r\n")
    p1 = find_local("INBOX", b"body 1")
    os.rename(p1, p1.replace("/new/", "/cur/").split(":2,")[0] + ":2,S")
    os.unlink(find_local("INBOX", b"body 2"))
    # Server: new message, flag msg3, delete msg4.
    M = server()
    M.append("INBOX", None, None, b"From: carol@example.org\r\nSubject: fromserver\r\n\r\nsrv\r\n")
    M.select("INBOX")
    typ, data = M.search(None, "SUBJECT", "msg3")
    M.store(data[0].decode(), "+FLAGS", r"(\Flagged)")
    typ, data = M.search(None, "SUBJECT", "msg4")
    M.store(data[0].decode(), "+FLAGS", r"(\Deleted)")
    M.expunge()
    M.logout()

    t.eq(mbsync(), 0, "second mbsync run succeeds")
    M = server()
    subs = server_subjects(M, "INBOX")
    t.ok("fromlocal" in subs, "local new message uploaded", subs)
    t.ok("msg1" in subs and "\\Seen" in subs["msg1"], "local \\Seen flag uploaded", subs)
    t.ok("msg2" not in subs, "local deletion propagated to server", subs)
    t.ok("msg4" not in subs and "msg3" in subs, "server state kept", subs)
    t.ok(find_local("INBOX", b"srv") is not None, "server new message downloaded")
    p3 = find_local("INBOX", b"body 3")
    t.ok(p3 is not None and p3.split(":2,")[-1].find("F") >= 0, "server flag downloaded", p3)
    t.ok(find_local("INBOX", b"body 4") is None, "server deletion propagated locally")
    t.eq(sorted(subs), sorted(["msg0", "msg1", "msg3", "fromlocal", "fromserver"]),
         "server INBOX has exactly the synced set")
    M.logout()

    # A third run with no changes changes nothing.
    before = sorted(local_files("INBOX"))
    t.eq(mbsync(), 0, "third mbsync run succeeds")
    t.eq(sorted(local_files("INBOX")), before, "no-op sync leaves local files unchanged")
    if MBOX:
        udir = env.maildir("alice@example.org")
        with open(os.path.join(udir, "INBOX"), "rb") as fh:
            data = fh.read()
        t.ok(data.count(b"\nX-UID: ") == 5 and not os.path.exists(os.path.join(udir, "cur")),
             "the server kept INBOX as an mbox file with 5 messages", data[:300])
        t.ok(os.path.isfile(os.path.join(udir, "Archive.2024")), "Archive/2024 is an mbox file")
finally:
    srv.stop()
t.done()
