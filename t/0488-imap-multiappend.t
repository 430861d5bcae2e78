#!/usr/bin/env python3
"""MULTIAPPEND (RFC 3502) on Maildir and mbox: one APPEND carries several
messages, each with its own flags and date, stored all or none, with
APPENDUID giving a UID set (RFC 4315). What imaptest's multiappend group
checks, then the failures: a message refused part way (a bad flag, a bad
date, an empty message, one over max_message_size) stores none of the
batch; and a failing system call anywhere in the storing (every write,
fsync and rename-or-link of the session made to fail in turn with ENOSPC,
strace -e inject) answers NO with nothing stored (no message, no file left
in tmp/) or OK with every message stored once; never some of them."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import mboxfile  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

U = "alice@example.org"
PASS = yubin.DEMO_PASSWORD
FAULTS = ["write,pwrite64", "fsync,fdatasync", "rename,renameat,renameat2,link,linkat"]
t = yubin.TAP()
real_binary = yubin.binary


def msg(subject, body=b"body"):
    return b"From: user@example.org\r\nSubject: %s\r\n\r\n%s\r\n" % (subject, body)


def multi(box, parts):
    """An APPEND command of (flags-and-date prefix, message) parts, LITERAL+."""
    out = b"APPEND " + box
    for pre, m in parts:
        out += b" " + pre + (b" " if pre else b"") + b"{%d+}\r\n" % len(m) + m
    return out


def stored(env, fmt, box):
    """Subjects of the messages in box, read from the files."""
    root = env.maildir(U)
    subs = []
    if fmt == "mbox":
        path = os.path.join(root, box) if box != "INBOX" else os.path.join(root, "INBOX")
        data = open(path, "rb").read() if os.path.exists(path) else b""
        msgs = mboxfile.messages(data)
        assert msgs is not None, data
        for m in msgs:
            subs += [ln[9:] for ln in m if ln.startswith(b"Subject: ")]
        return subs
    d = os.path.join(root, "." + box) if box != "INBOX" else root
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(d, sub)):
            with open(os.path.join(d, sub, name), "rb") as f:
                m = re.search(rb"(?m)^Subject: (.*?)\r?$", f.read())
            subs.append(m.group(1) if m else b"?")
    return subs


def tmp_left(env, fmt, box):
    if fmt == "mbox":
        return []
    return os.listdir(os.path.join(env.maildir(U), "." + box, "tmp"))


def basics(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt, "max_message_size": "4096"})
    s = Raw(env, login=U)
    try:
        r = s.cmd("CAPABILITY")
        t.ok(b" MULTIAPPEND" in r, "%s: MULTIAPPEND advertised" % fmt, r)
        s.cmd("CREATE Box")
        # imaptest's multiappend group
        r = s.cmd(multi(b"Box", [(b"", msg(b"mail1", b"body1")), (b"", msg(b"mail2", b"body2"))]))
        m = re.search(rb"OK \[APPENDUID (\d+) 1:2\] APPEND completed", tagged(r))
        t.ok(m is not None, "%s: two messages, APPENDUID 1:2" % fmt, r)
        s.cmd("SELECT Box")
        r = s.cmd("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        t.ok(re.search(rb"\* 1 FETCH .*\r\nSubject: mail1\r\n", r) and
             re.search(rb"\* 2 FETCH .*\r\nSubject: mail2\r\n", r), "%s: both there, in order" % fmt, r)
        # each message its own flags and date; to the selected mailbox
        r = s.cmd(multi(b"Box", [(b"(\\Seen $Mine)", msg(b"mail3")),
                                 (b'(\\Flagged) "05-Mar-2021 10:00:00 +0100"', msg(b"mail4")),
                                 (b'"06-Mar-2021 10:00:00 +0000"', msg(b"mail5"))]))
        t.ok(b"[APPENDUID %s 3:5]" % m.group(1) in tagged(r) and b"* 5 EXISTS" in r,
             "%s: three more to the selected mailbox" % fmt, r)
        r = s.cmd("UID FETCH 3:5 (FLAGS INTERNALDATE)")
        t.ok(re.search(rb"UID 3 FLAGS \(\\Seen \\Recent \$Mine\)|FLAGS \(\\Seen \\Recent \$Mine\)", r)
             and b'"05-Mar-2021 09:00:00 +0000"' in r and b'"06-Mar-2021 10:00:00 +0000"' in r,
             "%s: flags and dates per message" % fmt, r)
        s.cmd("UNSELECT")
        # refused part way: nothing of the batch stored
        good = msg(b"never")
        for pre, last, status, what in [
                (b"(\\Bogus)", msg(b"never"), b"BAD", "a bad flag"),
                (b'"31-Foo-2021 10:00:00 +0000"', msg(b"never"), b"BAD", "a bad date"),
                (b"", b"", b"NO", "an empty message"),
                (b"", msg(b"never", b"x" * 5000), b"NO", "a message over max_message_size")]:
            cmd = multi(b"Box", [(b"", good), (b"(\\Seen)", good)])
            line = b"t99 " + cmd + b" " + pre + (b" " if pre else b"") + b"{%d}\r\n" % len(last)
            s.send(line)
            first = s.s.readline(10)
            if first.startswith(b"+"):
                s.send(last + b"\r\n")
                first = s.read_response("t99")
            t.ok(first.split()[1:2] == [status] and b"never" not in b" ".join(stored(env, fmt, "Box")),
                 "%s: %s third: %s, nothing stored" % (fmt, what, status.decode()), first)
        r = s.cmd("STATUS Box (MESSAGES)")
        t.ok(b"MESSAGES 5" in r, "%s: still five" % fmt, r)
        r = s.cmd(multi(b"Nowhere", [(b"", good), (b"", good)]))
        t.ok(b"NO [TRYCREATE]" in tagged(r), "%s: TRYCREATE" % fmt, r)
    finally:
        s.close()
        env.cleanup()


def session(env, tdir, box, subject, inject):
    """LOGIN, a MULTIAPPEND of three messages, LOGOUT, pipelined, under
    strace (counting the calls, or failing call k). The tagged reply."""
    parts = [(b"", msg(b"%s-%d" % (subject, i))) for i in range(3)]
    data = (b'a LOGIN %s "%s"\r\nc %s\r\nd LOGOUT\r\n'
            % (U.encode(), PASS.encode(), multi(box.encode(), parts)))
    trace = os.path.join(tdir, "strace.txt")
    wrapper = os.path.join(tdir, "traced-imap-session")
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
    s.close()
    try:
        for calls in FAULTS:
            reply, n = session(env, tdir, "Box", b"count", (calls, 0))
            bad = []
            for k in range(1, n + 1):
                subject = b"f%d-%s" % (k, calls.split(",")[0].encode())
                reply, _ = session(env, tdir, "Box", subject, (calls, k))
                got = [x for x in stored(env, fmt, "Box") if x.startswith(subject + b"-")]
                every = sorted(got) == [subject + b"-%d" % i for i in range(3)]
                # OK: all stored (without APPENDUID if the UID list could
                # not be written); NO: none; no reply (the reply's own
                # write failed): all or none, never some
                ok = reply.startswith(b"c OK") and every
                no = reply.startswith(b"c NO") and not got
                lost = reply == b"" and (every or not got)
                if not (ok or no or lost) or tmp_left(env, fmt, "Box"):
                    bad.append("call %d: %r, stored %r, tmp %r"
                               % (k, reply, got, tmp_left(env, fmt, "Box")))
            t.ok(n > 0 and not bad, "%s: %s failing (each of %d): all or none"
                 % (fmt, calls, n), "\n".join(bad))
    finally:
        env.cleanup()


for f in ("maildir", "mbox"):
    basics(f)
    faults(f)
t.done()
