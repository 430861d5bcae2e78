#!/usr/bin/env python3
"""mailbox_format = mbox: an APPEND whose read before it finds a new
delivery and cannot record its UID in the index (the fsync fails, once,
injected by strace) answers NO, rather than give the appended message the
UID the delivery was about to get: that would put a known UID after a
message without one, and the next look would renumber the whole mailbox
under a new UIDVALIDITY. After the NO, the same APPEND goes through, and
UIDVALIDITY and every UID stay."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, tagged, close_all  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
NOLEAK = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
MSG = b"From: carol@example.org\r\nSubject: appended\r\n\r\nbody\r\n"
sessions = []


def view():
    s = Raw(env, login=U)
    r = s.cmd("SELECT INBOX")
    v = int(re.search(rb"UIDVALIDITY (\d+)", r).group(1))
    r = s.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s.cmd("LOGOUT")
    s.s.close()
    return v, re.findall(rb"UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: "
                         rb"([^\r]*)", r)


try:
    deliver(env, U, b"From: bob@example.org\r\nSubject: first\r\n\r\nhello\r\n")
    before = view()
    deliver(env, U, b"From: bob@example.org\r\nSubject: second\r\n\r\nhello\r\n")
    script = (b'a LOGIN %s "%s"\r\nb APPEND INBOX {%d+}\r\n%s\r\nc LOGOUT\r\n'
              % (U.encode(), yubin.DEMO_PASSWORD.encode(), len(MSG), MSG))
    out = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:error=ENOSPC:when=1..2",
                          yubin.binary("imap-session"), "-c", env.conf_path],
                         input=script, capture_output=True, timeout=60, env=NOLEAK).stdout
    m = re.search(rb"(?m)^b (OK|NO)[^\r]*", out)
    t.ok(m is not None, "APPEND answered", out[-300:])
    if m is not None and m.group(1) == b"NO":
        s = Raw(env, login=U)
        sessions.append(s)
        r = s.cmd("APPEND INBOX {%d+}\r\n%s" % (len(MSG), MSG.decode()))
        t.ok(tagged(r).split()[1] == b"OK", "after the NO, the APPEND again: OK", r)
        s.cmd("LOGOUT")
        m = re.search(rb"APPENDUID \d+ (\d+)", r)
    else:
        t.ok(True, "the APPEND was taken at once")
        m = re.search(rb"APPENDUID \d+ (\d+)", m.group(0) if m else b"")
    after = view()
    t.eq(after[0], before[0], "the same UIDVALIDITY")
    t.ok(after[1][:1] == before[1] and [x[1] for x in after[1]] == [b"first", b"second",
                                                                    b"appended"],
         "first keeps its UID; second and the appended message follow, once each", after)
    t.ok(m is not None and (m.group(1), b"appended") in after[1],
         "the appended message has the UID APPENDUID named", [m and m.group(0), after])
finally:
    close_all(sessions)
    env.cleanup()
t.done()
