#!/usr/bin/env python3
# DELETE answers OK only once the folder's removal is on disk: the
# directory that held it is fsync'd after the rename (Maildir: out of
# sight to yubin-deleted-*) or the unlink (mbox) and before the reply is
# written. Without it a crash after the OK brings the folder back with
# its messages. Under strace, for both formats. RENAME INBOX (Maildir)
# moves INBOX's messages file by file: the directories they left are
# fsync'd before the OK too, or a crash could leave them in both.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
TRACE = "rename,renameat,renameat2,unlink,unlinkat,fsync,fdatasync,write,writev"


def traced(env, data):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-o", log, "-e", "trace=" + TRACE,
                        yubin.binary("imap-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    calls = open(log).read().splitlines()
    os.unlink(log)
    return p, calls


def synced_before_reply(calls, removed, root, last=False):
    """1 if the first (last) call removing a name (a regex on its path) is
    followed by an fsync of root before the next write to the client."""
    hits = [i for i, c in enumerate(calls)
            if re.search(r"\b(rename|renameat2?|unlink|unlinkat)\(", c) and re.search(removed, c)]
    start = (hits[-1] if last else hits[0]) if hits else None
    if start is None:
        return None
    fsync = re.compile(r"\b(fsync|fdatasync)\(\d+<%s>\)" % re.escape(root))
    for c in calls[start + 1:]:
        if fsync.search(c):
            return True
        if re.search(r"\bwritev?\(1<", c):
            return False
    return False


for fmt in ("maildir", "mbox"):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt})
    root = env.maildir("alice@example.org")
    p, calls = traced(env, b"a LOGIN alice@example.org %s\r\nb CREATE Foo\r\n"
                      b"c DELETE Foo\r\nz LOGOUT\r\n" % yubin.DEMO_PASSWORD.encode())
    t.contains(p.stdout, b"c OK", "%s: DELETE answered OK" % fmt)
    removed = re.escape(root) + (r"/\.Foo\"" if fmt == "maildir" else r"/Foo\"")
    r = synced_before_reply(calls, removed, root)
    t.ok(r is not None, "%s: the folder's removal seen" % fmt)
    t.ok(r is True, "%s: its directory fsync'd before the reply" % fmt,
         diag="\n".join(c for c in calls if root in c or "(1<" in c)[-3000:])
env = yubin.CleanEnv()
root = env.maildir("alice@example.org")
msg = b"Subject: old\r\n\r\nbody\r\n"
p, calls = traced(env, b"a LOGIN alice@example.org %s\r\nb APPEND INBOX {%d+}\r\n%s\r\n"
                  b"c RENAME INBOX Old\r\nz LOGOUT\r\n"
                  % (yubin.DEMO_PASSWORD.encode(), len(msg), msg))
t.contains(p.stdout, b"c OK", "RENAME INBOX answered OK")
seen = 0
for sub in ("new", "cur"):
    left = os.path.join(root, sub)
    moved = r'rename\("%s/[^"]+", "%s/' % (re.escape(left), re.escape(os.path.join(root, ".Old")))
    if not any(re.search(moved, c) for c in calls):
        continue
    seen += 1
    t.ok(synced_before_reply(calls, moved, left, last=True) is True,
         "RENAME INBOX: %s/ fsync'd after its messages left, before the reply" % sub)
t.ok(seen > 0, "RENAME INBOX: the message seen moving")
t.done()
