#!/usr/bin/env python3
"""SELECT and EXAMINE of an unchanged 10,000-message Maildir open and read
no message file (strace): the message list comes from the names in new/
and cur/, RFC822.SIZE from ",W=" in a name and INTERNALDATE from the
folder's cache; a file is held from its first read only (folder.h). The
first session numbers the messages and reads each one once to fill the
cache; the second session's SELECT and EXAMINE, and a FETCH of sizes and
dates, then touch no file under cur/ or new/."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all  # noqa: E402

U = "alice@example.org"
N = 10000
t = yubin.TAP()
env = yubin.Env()
procs = []
try:
    md = env.maildir(U)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    base = int(time.time()) - 86400
    for i in range(N):
        body = b"Subject: m%d\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\nbody %d\r\n" % (i, i)
        name = "%d.M%dP1.test,S=%d,W=%d:2," % (base + i, i, len(body), len(body))
        path = os.path.join(md, "cur", name)
        with open(path, "wb") as f:
            f.write(body)
        os.utime(path, (base + i, base + i))
    env.write_conf()  # the session user may read and rename them
    # the first session numbers them and fills the cache with their dates
    a = Raw(env, login=U)
    procs.append(a)
    r = a.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % N in r, "first SELECT sees %d messages" % N, r[-300:])
    first = a.cmd("FETCH 1:* (UID RFC822.SIZE INTERNALDATE ENVELOPE)")
    t.ok(tagged(first).split()[1] == b"OK", "first FETCH OK", tagged(first))
    a.cmd("LOGOUT")

    tdir = os.path.join(env.dir, "trace")
    os.makedirs(tdir)
    os.chmod(tdir, 0o777)
    trace = os.path.join(tdir, "strace.txt")
    wrapper = os.path.join(tdir, "traced-imap-session")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec strace -f -q -y -o "%s" -e trace=open,openat,openat2,read,'
                'pread64,stat,newfstatat,statx,lstat "%s" "$@"\n'
                % (trace, yubin.binary("imap-session")))
    os.chmod(wrapper, 0o755)
    real_binary = yubin.binary
    yubin.binary = lambda prog: wrapper
    try:
        b = Raw(env, login=U)
    finally:
        yubin.binary = real_binary
    procs.append(b)
    replies = [b.cmd("SELECT INBOX"), b.cmd("EXAMINE INBOX"),
               b.cmd("FETCH 1:* (UID RFC822.SIZE INTERNALDATE)")]
    t.ok(all(tagged(r).split()[1] == b"OK" for r in replies), "SELECT, EXAMINE, FETCH OK",
         b"".join(tagged(r) for r in replies))
    t.ok(b"* %d EXISTS" % N in replies[0] and b"* %d EXISTS" % N in replies[1],
         "both see %d messages" % N)

    def sizes_dates(resp):
        return sorted(re.findall(rb"UID (\d+) RFC822\.SIZE (\d+) INTERNALDATE (\"[^\"]*\")|"
                                 rb"INTERNALDATE (\"[^\"]*\") RFC822\.SIZE (\d+)", resp))
    t.ok(len(sizes_dates(replies[2])) == N, "FETCH answers every message",
         len(sizes_dates(replies[2])))
    dates_a = sorted(re.findall(rb'INTERNALDATE "([^"]*)"', first))
    dates_b = sorted(re.findall(rb'INTERNALDATE "([^"]*)"', replies[2]))
    t.ok(dates_a == dates_b, "INTERNALDATE as the first session read it")
    b.cmd("LOGOUT")
    close_all(procs)
    procs = []
    with open(trace) as f:
        lines = f.read().splitlines()
    # -y names a descriptor by its path: a message file read, or opened
    # relative to its directory's descriptor
    touched = [ln for ln in lines if re.search(r'/(cur|new)/[^/>"]+[>"]|/(cur|new)>, "[^"]', ln)]
    t.ok(len(lines) > 0, "strace saw the session", len(lines))
    t.ok(not touched, "no message file under cur/ or new/ opened, read or stat'ed",
         "\n".join(touched[:20]))
finally:
    close_all(procs)
    env.cleanup()
t.done()
