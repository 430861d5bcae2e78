#!/usr/bin/env python3
"""COPY of 3 messages that meets a failing system call answers NO only
when nothing was copied, and OK only with all 3 copies there: a client
that retries after NO must not get doubles (issue 11: ENOSPC at the
second message's link, the fsync of .Foo/cur, the mbox append or its
UID sidecar, or the unlink of Foo.lock answered NO and kept the copies
made so far). Every call of each group below, in one COPY session, is
made to fail in turn (strace -e inject=SYSCALL:error=ENOSPC:when=k),
Maildir and mbox; after a NO the same COPY is retried without faults
and must give exactly 3. The target is counted by reading its files
(Maildir cur/ and new/, mbox From_ lines), not through yubin."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all  # noqa: E402

USER = "alice@example.org"
FAULTS = ["write,pwrite64", "fsync,fdatasync", "link,linkat", "unlink,unlinkat",
          "rename,renameat,renameat2", "openat"]
t = yubin.TAP()


def mbox_count(path):
    """Messages of an mbox file: From_ lines at its start or after an
    empty line begin them."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        data = f.read()
    return len(re.findall(rb"(?:^|\n\n)From [^\n]*\n", data))


def maildir_count(path):
    return sum(len(os.listdir(os.path.join(path, sub))) for sub in ("cur", "new"))


def session(env, inject):
    """LOGIN, SELECT INBOX, COPY 1:3 Foo, LOGOUT in one imap-session under
    strace (counting calls, or failing call k). The COPY's tagged reply
    (b"" if none) and the number of calls traced."""
    calls, k = inject
    trace = os.path.join(env.dir, "strace.txt")
    data = ('a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc COPY 1:3 Foo\r\nd LOGOUT\r\n'
            % (USER, yubin.DEMO_PASSWORD)).encode()
    cmd = ["strace", "-f", "-qq", "-o", trace, "-e", "trace=" + calls]
    if k:
        cmd += ["-e", "inject=%s:error=ENOSPC:when=%d" % (calls, k)]
    # LeakSanitizer cannot run under ptrace
    e = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
    out = subprocess.run(cmd + [yubin.binary("imap-session"), "-c", env.conf_path],
                         input=data, capture_output=True, timeout=60, env=e).stdout
    with open(trace) as f:
        n = sum(1 for ln in f if re.match(r"\d+ +\w+\(", ln))
    m = re.search(rb"(?m)^c (OK|NO|BAD)[^\r\n]*", out)
    return (m.group(0) if m else b""), n


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    sessions = []
    try:
        root = env.maildir(USER)
        target = os.path.join(root, "Foo") if fmt == "mbox" else os.path.join(root, ".Foo")
        count = mbox_count if fmt == "mbox" else maildir_count
        a = Raw(env, login=USER)
        sessions.append(a)
        a.cmd("CREATE Foo")
        for i in range(3):
            m = b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i)
            a.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(m), m))
        a.close()
        sessions.remove(a)
        for calls in FAULTS:
            before = count(target)
            r, n = session(env, (calls, 0))
            t.ok(r.startswith(b"c OK") and count(target) - before == 3 and n > 0,
                 "%s: COPY under strace makes 3 copies (%d %s calls)" % (fmt, n, calls), r)
            bad = []
            for k in range(1, n + 1):
                before = count(target)
                r, _ = session(env, (calls, k))
                got = count(target) - before
                if (r.startswith(b"c NO") and got != 0) or (r.startswith(b"c OK") and got != 3) \
                        or got not in (0, 3):
                    bad.append((k, r, got))
                if r.startswith(b"c NO"):
                    # the client's retry after NO: exactly 3 in all
                    before = count(target)
                    r2, _ = session(env, (calls, 0))
                    got = count(target) - before
                    if not r2.startswith(b"c OK") or got != 3:
                        bad.append((k, "retry", r2, got))
            t.eq(bad, [], "%s: %s failing at each of its %d calls: NO means nothing copied, "
                 "OK all 3, a retry makes 3" % (fmt, calls, n))
    finally:
        close_all(sessions)
        env.cleanup()


check("maildir")
check("mbox")
t.done()
