#!/usr/bin/env python3
"""A folder's small state files (the Maildir UID list, keyword letters and
UIDVALIDITY record; the mbox UID sidecar and UIDVALIDITY record) are
replaced as the subscriptions file is (lib/durable's durable_replace):
under a fresh name made O_EXCL | O_NOFOLLOW, never a guessable
"<file>.tmp.<pid>" that a planted symlink turns into an error (the UID
list could not be written, so SELECT failed) or redirects. No temporary
file is left, and the symlinks' targets stay untouched (covers S34)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver, close_all  # noqa: E402
from imaptest import numbered_message as msg  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
envs, sessions = [], []

# The old code's temporary names, for the session's pid: dir-relative.
PLANTS = {
    "maildir": ["yubin-uidlist.tmp.%d", "yubin-keywords.tmp.%d",
                "yubin-uidvalidity.tmp.%d"],
    "mbox": [".INBOX.yubin-uids.%d", "yubin-uidvalidity.tmp.%d"],
}


def victim(env, name):
    """A file the session could write (as its run_as user) but must never
    touch: what the planted symlinks point at."""
    path = os.path.join(env.dir, name)
    with open(path, "wb") as f:
        f.write(b"precious\n")
    os.chmod(path, 0o666)
    return path


def ok(r):
    return tagged(r).split()[1:2] == [b"OK"]


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    envs.append(env)
    root = env.maildir(U)
    first = Raw(env, login=U)  # the first login makes the directory
    sessions.append(first)
    first.close()
    before = set(os.listdir(root))
    raw = Raw(env, login=U)
    sessions.append(raw)
    target = victim(env, "planted-target")
    planted = [os.path.join(root, p % raw.s.p.pid) for p in PLANTS[fmt]]
    for p in planted:
        os.symlink(target, p)
    deliver(env, U, msg(1))
    r = raw.cmd("SELECT INBOX")
    t.ok(ok(r) and b"* 1 EXISTS" in r,
         "%s: SELECT writes the folder's state past planted symlinks" % fmt, r)
    r = raw.cmd("APPEND INBOX (\\Seen $Work) {%d+}\r\n%s" % (len(msg(2)), msg(2).decode()))
    t.ok(ok(r) and b"APPENDUID" in r, "%s: APPEND with a new keyword" % fmt, r)
    r = raw.cmd("UID FETCH 1:* (UID FLAGS)")
    t.ok(ok(r) and b"$Work" in r and r.count(b" FETCH (") == 2,
         "%s: both messages there, the keyword kept" % fmt, r)
    raw.close()
    with open(target, "rb") as f:
        t.ok(f.read() == b"precious\n", "%s: no planted symlink was followed" % fmt)
    t.ok(all(os.path.islink(p) for p in planted),
         "%s: the planted symlinks are left alone" % fmt)
    for p in planted:
        os.unlink(p)
    left = sorted(n for n in set(os.listdir(root)) - before
                  if ".tmp." in n or n.startswith(".") and not os.path.isdir(os.path.join(root, n))
                  and not n.endswith((".yubin-uids", ".yubin-modseq", ".yubin-lock")))
    t.ok(left == [], "%s: no temporary file left in the user's directory" % fmt, repr(left))
    raw = Raw(env, login=U)
    sessions.append(raw)
    r = raw.cmd("SELECT INBOX")
    t.ok(ok(r) and b"* 2 EXISTS" in r, "%s: a new session sees both messages" % fmt, r)
    raw.close()


try:
    check("maildir")
    check("mbox")
finally:
    close_all(sessions)
    for e in envs:
        e.cleanup()
t.done()
