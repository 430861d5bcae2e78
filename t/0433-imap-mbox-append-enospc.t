#!/usr/bin/env python3
"""APPEND to an mbox folder that meets a failing system call answers NO
only when nothing was stored, and OK only with the message stored once:
a client that retries after NO must not get two copies (issue 11 §2.5:
ENOSPC in the X-UID rewrite answered NO [OVERQUOTA] and kept the
message). Every write, pwrite64, fsync and rename of one APPEND session is
made to fail in turn (strace -e inject=SYSCALL:error=ENOSPC:when=k), to a
folder that is not selected and to the selected INBOX; after each the
same APPEND is retried without faults after a NO. The file is checked by counting
the message's Subject between From_ lines, not with yubin's reader."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all  # noqa: E402

USER = "alice@example.org"
PASS = yubin.DEMO_PASSWORD
FAULTS = ["write,pwrite64", "fsync,fdatasync", "rename,renameat,renameat2"]
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
root = env.maildir(USER)
tdir = os.path.join(env.dir, "trace")
os.makedirs(tdir)
os.chmod(tdir, 0o777)
trace = os.path.join(tdir, "strace.txt")
wrapper = os.path.join(tdir, "traced-imap-session")
real_binary = yubin.binary


def messages(path):
    """The messages of an mbox file: From_ lines at its start or after an
    empty line begin them."""
    with open(path, "rb") as f:
        data = f.read()
    return [m for m in re.split(rb"(?:^|\n\n)From [^\n]*\n", data) if m] if data else []


def copies(box, subject):
    return sum(1 for m in messages(os.path.join(root, box))
               if re.search(rb"(?m)^Subject: " + re.escape(subject) + rb"$", m))


def session(box, subject, inject=None):
    """One pipelined session: LOGIN, SELECT INBOX, APPEND to box, LOGOUT;
    under strace (counting, or failing the inject call). The APPEND's
    tagged reply, or b"" if none came."""
    msg = b"From: bob@example.org\r\nSubject: %s\r\n\r\nbody\r\n" % subject
    data = (b'a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc APPEND %s (\\Seen) {%d+}\r\n%s\r\n'
            b"d LOGOUT\r\n" % (USER.encode(), PASS.encode(), box.encode(), len(msg), msg))
    if inject is None:
        yubin.binary = real_binary
    else:
        calls, k = inject
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
    m = re.search(rb"(?m)^c (OK|NO|BAD)[^\r\n]*", out)
    return m.group(0) if m else b""


def traced_calls():
    with open(trace) as f:
        return sum(1 for ln in f if re.match(r"\d+ +\w+\(", ln))


sessions = []
try:
    a = Raw(env, login=USER)
    sessions.append(a)
    a.cmd("CREATE Box")
    for box in ("Box", "INBOX"):
        for i in range(2):
            m = b"Subject: old%d\r\n\r\nx\r\n" % i
            a.cmd(b"APPEND %s {%d+}\r\n%s" % (box.encode(), len(m), m))
    a.close()
    sessions.remove(a)
    for box in ("Box", "INBOX"):
        for calls in FAULTS:
            subject = ("count-%s-%s" % (box, calls.split(",")[0])).encode()
            r = session(box, subject, (calls, 0))
            n = traced_calls()
            t.ok(r.startswith(b"c OK") and copies(box, subject) == 1 and n > 0,
                 "%s: APPEND under strace stores once (%d %s calls)" % (box, n, calls), r)
            bad = []
            for k in range(1, n + 1):
                subject = ("try-%s-%s-%d" % (box, calls.split(",")[0], k)).encode()
                r = session(box, subject, (calls, k))
                c = copies(box, subject)
                if (r.startswith(b"c NO") and c != 0) or (r.startswith(b"c OK") and c != 1) or c > 1:
                    bad.append((k, r, c))
                # the client's retry after NO: one copy in all (with no
                # answer at all, a client cannot know: not retried here)
                if r.startswith(b"c NO"):
                    r2 = session(box, subject)
                    c2 = copies(box, subject)
                    if not r2.startswith(b"c OK") or c2 != 1:
                        bad.append((k, "retry", r2, c2))
            t.eq(bad, [], "%s: %s failing at each of its %d calls: NO means nothing stored, "
                 "OK one copy, a retry makes one" % (box, calls, n))
    # a fresh session sees every message once, with distinct rising UIDs
    for box in ("Box", "INBOX"):
        s = Raw(env, login=USER)
        sessions.append(s)
        r = s.cmd("EXAMINE %s" % box)
        r = s.cmd("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        got = re.findall(rb"UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: ([^\r]*)",
                         r)
        subjects = [x for _, x in got]
        uids = [int(u) for u, _ in got]
        on_disk = len(messages(os.path.join(root, box)))
        t.ok(len(subjects) == len(set(subjects)) == on_disk and uids == sorted(set(uids)),
             "%s: %d messages in the file, each once, UIDs rising" % (box, on_disk),
             [uids, subjects])
finally:
    close_all(sessions)
    env.cleanup()
t.done()
