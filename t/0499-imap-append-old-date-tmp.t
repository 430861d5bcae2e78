#!/usr/bin/env python3
"""APPEND with an old INTERNALDATE, and COPY of an old message, on
Maildir: the file gets the old mtime (the INTERNALDATE) but a current
atime. tmp/ cleaners (every delivery runs one: maildir_clean_tmp_at)
remove a file in tmp/ only when both its times are older than 36 hours,
so a file whose atime too was set to 2021 could be taken for litter
between the time was set and the rename to cur/: the stress client
(t/0442-imap-stress.t) saw APPEND answered NO [SERVERBUG] (ENOENT) while
smtp-session delivered. The atime of the file in cur/ is what its tmp
file had."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "maildir"})
s = None
try:
    deliver(env, U, b"From: bob@example.org\r\nSubject: x\r\n\r\nx\r\n")
    s = Raw(env, login=U)
    s.cmd("CREATE Other")
    s.cmd("SELECT INBOX")
    start = time.time() - 5
    data = b"From: bob@example.org\r\nSubject: old\r\n\r\nold\r\n"
    r = s.cmd(b'APPEND INBOX "01-Feb-2021 08:30:00 +0000" {%d+}\r\n%s' % (len(data), data))
    t.ok(tagged(r).split()[1] == b"OK", "APPEND with a 2021 date", r)
    cur = os.path.join(env.maildir(U), "cur")
    names = [n for n in os.listdir(cur) if os.stat(os.path.join(cur, n)).st_mtime < start - 86400]
    t.eq(len(names), 1, "one file in cur/ has the old mtime")
    for n in names:
        st = os.stat(os.path.join(cur, n))
        t.ok(st.st_mtime == 1612168200, "its mtime is the INTERNALDATE", st)
        t.ok(st.st_atime >= start, "its atime is current (not litter for a tmp/ cleaner)", st)
    r = s.cmd("UID COPY 2 Other")
    t.ok(tagged(r).split()[1] == b"OK", "COPY of the old message", r)
    ocur = os.path.join(env.maildir(U), ".Other", "cur")
    files = os.listdir(ocur) if os.path.isdir(ocur) else []
    t.eq(len(files), 1, "the copy is in Other")
    for n in files:
        st = os.stat(os.path.join(ocur, n))
        t.ok(st.st_mtime == 1612168200 and st.st_atime >= start,
             "the copy: the old mtime, a current atime", st)
finally:
    if s:
        s.close()
    env.cleanup()
t.done()
