#!/usr/bin/env python3
# A delivery to an existing Maildir makes no stat and no mkdir of it
# (issue 15: maildir_create did a stat and three mkdirs per delivery);
# a missing Maildir, or one missing new/, is still made whole (tmp/,
# new/, cur/) and its parent fsync'd before the 250 (S62).
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
ALICE = "alice@example.org"
MD = env.maildir(ALICE)


def traced(subject):
    log = os.path.join(env.dir, "strace.log")
    data = (b"EHLO client.test\r\nMAIL FROM:<x@example.net>\r\nRCPT TO:<%s>\r\n"
            b"DATA\r\nSubject: %s\r\n\r\nbody\r\n.\r\nQUIT\r\n" % (ALICE.encode(), subject))
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-s", "300", "-o", log, "-e",
                        "trace=stat,lstat,newfstatat,statx,mkdir,mkdirat,fsync,write,open,openat",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    calls = open(log).read().splitlines()
    os.unlink(log)
    return p, calls


def md_calls(calls, kinds):
    pat = r'^\d+\s+(%s)\(.*"%s(/(tmp|new|cur))?"' % ("|".join(kinds), re.escape(MD))
    return [c for c in calls if re.search(pat, c)]


def whole():
    return all(os.path.isdir(os.path.join(MD, d)) for d in ("tmp", "new", "cur"))


p, calls = traced(b"first")
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "first delivery accepted")
t.ok(whole(), "the missing Maildir was made with tmp/, new/ and cur/")
mk = [i for i, c in enumerate(calls) if re.search(r"mkdir(at)?\(", c)]
sync = [i for i, c in enumerate(calls) if re.search(r'fsync\(\d+<%s>' % re.escape(MD), c)]
w250 = [i for i, c in enumerate(calls) if "250 2.0.0 Ok: queued" in c]
t.ok(mk and sync and w250 and mk[-1] < sync[0] < w250[0],
     "its directory fsync'd after the mkdirs, before the 250", "\n".join(calls[-20:]))

p, calls = traced(b"second")
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "second delivery accepted")
t.eq(md_calls(calls, ["mkdir", "mkdirat"]), [], "no mkdir of an existing Maildir")
first_open = [i for i, c in enumerate(calls) if re.search(r'open(at)?\(.*"%s/tmp"' % re.escape(MD), c)]
t.ok(first_open != [], "tmp/ opened")
t.eq(md_calls(calls[:first_open[0] if first_open else 0], ["stat", "lstat", "newfstatat", "statx"]), [],
     "no stat of the Maildir before its tmp/ is opened (the S34 checks come after)")
t.eq(len(env.messages(ALICE)), 2, "both messages stored")

shutil.rmtree(os.path.join(MD, "new"))
p, calls = traced(b"third")
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "a Maildir without new/ is repaired")
t.ok(whole() and any(b"Subject: third" in m for m in env.messages(ALICE)), "and the message stored")
t.done()
