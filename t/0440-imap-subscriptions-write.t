#!/usr/bin/env python3
"""The subscriptions file is written like every other store file: mode
0600 whatever the umask, under a fresh temporary name created O_EXCL |
O_NOFOLLOW (never a guessable "subscriptions.tmp.<pid>" that a planted
symlink redirects), then renamed over the old one: no temporary file
left, a symlink at "subscriptions" replaced and its target untouched.
Both mailbox formats (the file is the same for both; covers S34)."""
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
envs, sessions = [], []


def login(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def victim(env, name):
    """A file the session may write (as its run_as user) but must never
    touch: what a planted symlink points at."""
    path = os.path.join(env.dir, name)
    with open(path, "wb") as f:
        f.write(b"precious\n")
    os.chmod(path, 0o666)
    return path


def unchanged(path):
    with open(path, "rb") as f:
        return f.read() == b"precious\n"


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    envs.append(env)
    root = env.maildir(U)
    subs = os.path.join(root, "subscriptions")
    login(env).close()  # the first login makes the directory and the file
    before = set(os.listdir(root))

    old = os.umask(0o022)
    try:
        raw = login(env)
    finally:
        os.umask(old)
    # the guessable name of the old code, for this very process
    planted = os.path.join(root, "subscriptions.tmp.%d" % raw.s.p.pid)
    target = victim(env, "planted-target")
    os.symlink(target, planted)
    r = raw.cmd("SUBSCRIBE Sent")
    t.ok(tagged(r).endswith(b"OK SUBSCRIBE completed"), "%s: SUBSCRIBE Sent" % fmt, r)
    st = os.lstat(subs)
    t.ok(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
         "%s: subscriptions is a regular file of mode 0600 (umask 022)" % fmt,
         "mode %o" % st.st_mode)
    t.ok(unchanged(target),
         "%s: a symlink planted at subscriptions.tmp.<pid> is not followed" % fmt)
    t.ok(os.path.islink(planted), "%s: the planted symlink is left alone" % fmt)
    if os.path.lexists(planted):
        os.unlink(planted)
    left = sorted(set(os.listdir(root)) - before)
    t.ok(left == [], "%s: no temporary file left in the user's directory" % fmt, repr(left))

    # a symlink at the file's own name: replaced, its target never written
    target2 = victim(env, "subs-target")
    os.unlink(subs)
    os.symlink(target2, subs)
    r = raw.cmd("SUBSCRIBE Drafts")
    st = os.lstat(subs)
    t.ok(tagged(r).endswith(b"OK SUBSCRIBE completed") and stat.S_ISREG(st.st_mode) and
         unchanged(target2),
         "%s: a symlink at subscriptions is replaced by the file, its target untouched" % fmt,
         r)
    with open(subs, "rb") as f:
        t.ok(f.read() == b"Drafts\n",
             "%s: the symlink's target was not read as the old subscriptions" % fmt)
    raw.close()


try:
    check("maildir")
    check("mbox")
finally:
    close_all(sessions)
    for e in envs:
        e.cleanup()
t.done()
