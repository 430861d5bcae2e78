#!/usr/bin/env python3
"""CATENATE is stored all or none and durably before its OK, on Maildir
and mbox, whatever system call fails. A MULTIAPPEND of three CATENATE
messages (each a TEXT part naming it, a URL of a message in another,
unselected mailbox, a TEXT body) runs pipelined under strace, once to
count the session's write, fsync and rename-or-link calls, then once per
call with that call failing (ENOSPC, strace -e inject): the tagged reply
must be OK with all three stored, each whole (the header the URL named,
the body), or NO with none stored and no file left in tmp/; never some
of them, never OK without them."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import mboxfile  # noqa: E402
from imaptest import Raw  # noqa: E402

U = "alice@example.org"
FAULTS = ["write,pwrite64", "fsync,fdatasync", "rename,renameat,renameat2,link,linkat"]
SRC = b"From: Carol <carol@example.org>\r\nSubject: source\r\n\r\nsource body\r\n"
t = yubin.TAP()
real_binary = yubin.binary


def command(run):
    out = b"c APPEND Box"
    for i in range(3):
        text = b"X-Run: %s-%d\r\n" % (run, i)
        out += (b" CATENATE (TEXT {%d+}\r\n%s URL \"/Src/;UID=1/;SECTION=HEADER\" TEXT {6+}\r\nbody\r\n)"
                % (len(text), text))
    return out + b"\r\n"


def stored(env, fmt):
    """The messages in Box: their text, LF line ends."""
    root = env.maildir(U)
    if fmt == "mbox":
        path = os.path.join(root, "Box")
        data = open(path, "rb").read() if os.path.exists(path) else b""
        msgs = mboxfile.messages(data)
        assert msgs is not None, data
        return [b"\n".join(ln for ln in m[1:] if not re.match(rb"X-(UID|IMAPbase|Keywords|Status)|Status:", ln)) + b"\n"
                for m in msgs]
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(root, ".Box", sub)
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
    return out


def whole(m, run, i):
    return m == (b"X-Run: %s-%d\nFrom: Carol <carol@example.org>\nSubject: source\n\nbody\n" % (run, i))


def session(env, tdir, run, calls, k):
    data = b'a LOGIN %s "%s"\r\n%sd LOGOUT\r\n' % (U.encode(), yubin.DEMO_PASSWORD.encode(), command(run))
    trace = os.path.join(tdir, "strace.txt")
    wrapper = os.path.join(tdir, "traced-imap-session")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec strace -f -qq -o "%s" -e trace=%s %s "%s" "$@"\n'
                % (trace, calls, "-e inject=%s:error=ENOSPC:when=%d" % (calls, k) if k else "",
                   real_binary("imap-session")))
    os.chmod(wrapper, 0o755)
    yubin.binary = lambda prog: wrapper
    try:
        out = env.run("imap-session", data).stdout
    finally:
        yubin.binary = real_binary
    with open(trace) as f:
        n = sum(1 for ln in f if re.match(r"\d+ +\w+\(", ln))
    m = re.search(rb"(?m)^c (OK|NO|BAD)[^\r\n]*", out)
    return (m.group(0) if m else b""), n


def faults(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    tdir = os.path.join(env.dir, "trace")
    os.makedirs(tdir)
    os.chmod(tdir, 0o777)
    s = Raw(env, login=U)
    s.cmd("CREATE Box")
    s.cmd("CREATE Src")
    s.cmd(b"APPEND Src {%d+}\r\n" % len(SRC) + SRC)
    s.close()
    try:
        reply, n = session(env, tdir, b"count", FAULTS[0], 0)
        t.ok(reply.startswith(b"c OK") and sum(whole(m, b"count", i) for m in stored(env, fmt) for i in range(3)) == 3,
             "%s: without faults, three messages made and stored" % fmt, reply)
        for calls in FAULTS:
            _, n = session(env, tdir, b"count", calls, 0)
            bad = []
            for k in range(1, n + 1):
                run = b"f%d-%s" % (k, calls.split(",")[0].encode())
                reply, _ = session(env, tdir, run, calls, k)
                got = [m for m in stored(env, fmt) if b"X-Run: " + run + b"-" in m]
                every = len(got) == 3 and all(any(whole(m, run, i) for m in got) for i in range(3))
                ok = reply.startswith(b"c OK") and every
                no = reply.startswith(b"c NO") and not got
                lost = reply == b"" and (every or not got)  # the reply's own write failed
                tmp = [] if fmt == "mbox" else os.listdir(os.path.join(env.maildir(U), ".Box", "tmp"))
                if not (ok or no or lost) or tmp:
                    bad.append("call %d: %r, stored %d, tmp %r" % (k, reply, len(got), tmp))
            t.ok(n > 0 and not bad, "%s: %s failing (each of %d): all or none" % (fmt, calls, n),
                 "\n".join(bad))
    finally:
        env.cleanup()


for f in ("maildir", "mbox"):
    faults(f)
t.done()
