#!/usr/bin/env python3
"""imap-session timers and costs: autologout with BYE after imap_timeout,
also in IDLE (covers S40); LIST wildcards on many folders in linear time
(covers S51); large SEARCH and STORE over many messages."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"imap_timeout": "2s"})
U = "alice@example.org"
try:
    r = Raw(env, U)
    t0 = time.time()
    line = r.s.readline(timeout=10)
    t.ok(line.startswith(b"* BYE Autologout") and time.time() - t0 < 5,
         "autologout with BYE after imap_timeout", line)
    r.close()
    r = Raw(env, U)
    r.cmd("SELECT INBOX")
    r.send(b"i IDLE\r\n")
    r.s.readline()
    t0 = time.time()
    line = r.s.readline(timeout=10)
    t.ok(line.startswith(b"* BYE Autologout") and time.time() - t0 < 5,
         "autologout during IDLE (S40)", line)
    r.close()
    env.set(imap_timeout="30m")

    # S51: many folders, a pathological pattern.
    root = env.maildir(U)
    r = Raw(env, U)
    for i in range(300):
        d = os.path.join(root, ".f%03d" % i)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub))
    t0 = time.time()
    resp = r.cmd('LIST "" "*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*a"', timeout=30)
    took = time.time() - t0
    t.ok(tagged(resp).split()[1] == b"OK" and took < 3, "S51: wildcard LIST over 300 folders in %.2fs"
         % took, resp[-200:])
    resp = r.cmd('LIST "" "f1%"')
    t.eq(resp.count(b"* LIST"), 100, "LIST f1% finds 100 folders")

    # Many messages: SEARCH TEXT and STORE 1:* finish quickly.
    for i in range(500):
        deliver(env, U, b"Subject: bulk %d\r\n\r\nbody %d\r\n" % (i, i), name="bulk%04d" % i)
    t0 = time.time()
    resp = r.cmd("SELECT INBOX", timeout=30)
    t.ok(b"* 500 EXISTS" in resp and time.time() - t0 < 5, "SELECT of 500 messages", resp[:100])
    t0 = time.time()
    resp = r.cmd("SEARCH TEXT zzz", timeout=60)
    t.ok(b"* SEARCH\r\n" in resp and time.time() - t0 < 10, "SEARCH TEXT over 500 messages in %.2fs"
         % (time.time() - t0))
    t0 = time.time()
    resp = r.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)", timeout=60)
    t.ok(tagged(resp).split()[1] == b"OK" and time.time() - t0 < 10,
         "STORE 1:* on 500 messages in %.2fs" % (time.time() - t0))
    resp = r.cmd("SEARCH UNSEEN")
    t.ok(b"* SEARCH\r\n" in resp, "all seen", resp[:100])
    r.close()

    # SELECT and FETCH of FLAGS, UID, RFC822.SIZE need no message file
    # (SELECT tries to open and keep the files, to keep messages expunged
    # elsewhere readable, and goes on without them): with every message
    # unreadable they still work, while BODY[] cannot.
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(root, sub)):
            os.chmod(os.path.join(root, sub, n), 0)
    r = Raw(env, U)
    resp = r.cmd("SELECT INBOX", timeout=30)
    t.ok(b"* 500 EXISTS" in resp and tagged(resp).split()[1] == b"OK",
         "SELECT needs no readable message file", resp[-200:])
    resp = r.cmd("FETCH 1:* (FLAGS UID RFC822.SIZE)", timeout=30)
    t.ok(resp.count(b" RFC822.SIZE ") == 500 and tagged(resp).split()[1] == b"OK",
         "FLAGS, UID and RFC822.SIZE come from the file names", resp[-200:])
    resp = r.cmd("FETCH 1 (BODY.PEEK[])")
    t.ok(tagged(resp).split()[1] == b"NO", "the body itself is unreadable (the check works)", resp)
    r.close()
finally:
    env.cleanup()
t.done()
