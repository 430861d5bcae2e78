#!/usr/bin/env python3
# A DELETE killed between moving the folder out of sight
# (yubin-deleted-<time>...) and removing it left it in the user's root
# for ever, its messages counted against nothing and never seen again.
# The next login (store setup) removes such leftovers moved more than a
# few minutes ago, and leaves a recent one (a DELETE running now) and
# anything else alone. Maildir (mbox DELETE unlinks at once).
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.CleanEnv(conf={"mailbox_format": "maildir"})
Raw(env, login=U).close()
root = env.maildir(U)


def plant(name):
    d = os.path.join(root, name)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub))
    with open(os.path.join(d, "cur", "1700000000.M1P1.host:2,S"), "w") as f:
        f.write("Subject: left\n\nbody\n")
    return d


now = int(time.time())
old = plant("yubin-deleted-%d.M000001P1R0123456789abcdef.host" % (now - 3600))
recent = plant("yubin-deleted-%d.M000002P2R0123456789abcdef.host" % now)
other = plant("yubin-deleted-notatime")
subprocess.run(["chmod", "-R", "a+rwX", root], check=True)
s = Raw(env, login=U)
lst = s.cmd("LIST \"\" *")
s.close()
t.ok(not os.path.exists(old), "a leftover moved an hour ago is removed at login")
t.ok(os.path.isdir(recent) and os.listdir(os.path.join(recent, "cur")),
     "one moved just now (a DELETE running) is left alone")
t.ok(os.path.isdir(other), "an entry without the time DELETE gives is left alone")
t.ok(b"yubin-deleted" not in lst, "LIST never shows them", lst)
t.done()
