#!/usr/bin/env python3
"""SELECT and EXAMINE of a Maildir INBOX holding a message not given a
UID yet write the UID list; with the disk full (fsync fails with ENOSPC,
injected by strace) they answer NO [OVERQUOTA], the real reason, never
NO [NONEXISTENT] (a client may drop its cache of a mailbox said not to
exist). Once the disk has room, SELECT shows the message."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env()
# LeakSanitizer cannot run under ptrace
NOLEAK = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
try:
    raw = Raw(env, login=U)  # the user's directories, and an INBOX UID list
    raw.cmd("SELECT INBOX")
    raw.close()
    deliver(env, U, b"From: bob@example.org\r\nSubject: new\r\n\r\nhello\r\n")
    script = ('a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc EXAMINE INBOX\r\nd LOGOUT\r\n'
              % (U, yubin.DEMO_PASSWORD)).encode()
    out = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:error=ENOSPC",
                          yubin.binary("imap-session"), "-c", env.conf_path],
                         input=script, capture_output=True, timeout=60, env=NOLEAK).stdout
    lines = {ln.split(b" ")[0]: ln for ln in out.split(b"\r\n") if ln[:2] in (b"b ", b"c ")}
    for tag, cmd in ((b"b", "SELECT"), (b"c", "EXAMINE")):
        line = lines.get(tag, b"")
        t.ok(line.startswith(tag + b" NO [OVERQUOTA]"),
             "disk full: %s answers NO [OVERQUOTA]" % cmd, out)
        t.ok(b"NONEXISTENT" not in line, "disk full: %s never says the mailbox does not exist"
             % cmd, line)
    raw = Raw(env, login=U)
    r = raw.cmd("SELECT INBOX")
    t.ok(tagged(r).split()[1] == b"OK" and b"* 1 EXISTS" in r,
         "with room again, SELECT shows the new message", r)
    r = raw.cmd("FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.ok(b"Subject: new" in r and tagged(r).split()[1] == b"OK", "and it reads", r)
    raw.close()
finally:
    env.cleanup()
t.done()
