#!/usr/bin/env python3
# DELETE and RENAME answer OK only once the change is on disk: when the
# fsync of the user's root (the directory the folder's entry left or
# moved in) fails, the reply is NO, never OK. Every fsync fails (strace
# -e inject, EIO) in a session that only logs in and runs the one
# command; the folder was made before by an untraced session. mbox
# DELETE and RENAME, Maildir RENAME (Maildir DELETE already said NO).
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def faulted(env, command):
    data = b"a LOGIN %s %s\r\nc %s\r\nz LOGOUT\r\n" % (
        U.encode(), yubin.DEMO_PASSWORD.encode(), command)
    p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null",
                        "-e", "trace=fsync,fdatasync",
                        "-e", "inject=fsync,fdatasync:error=EIO",
                        yubin.binary("imap-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    m = re.search(rb"(?m)^c (OK|NO|BAD)[^\r\n]*", p.stdout)
    return (m.group(0) if m else b""), p.stdout


for fmt, command in (("mbox", b"DELETE Foo"), ("mbox", b"RENAME Foo Bar"),
                     ("maildir", b"RENAME Foo Bar"), ("maildir", b"DELETE Foo")):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    s.cmd("CREATE Foo")
    s.close()
    reply, out = faulted(env, command)
    t.contains(out, b"a OK", "%s %s: LOGIN answered OK" % (fmt, command.decode()))
    t.ok(reply.startswith(b"c NO"), "%s %s: the root's fsync failing, NO" % (fmt, command.decode()),
         diag=out.decode("latin-1"))
t.done()
