#!/usr/bin/env python3
"""mailbox_format = mbox: a new message is numbered in the index beside
the mbox, never by rewriting the mbox (issue 13). One small delivery into
a large mbox, then EXAMINE, NOOP, STATUS, SELECT, FETCH and IDLE of this
session, a concurrent one and the next: the mbox keeps its inode, mtime
and size, and the new message has one UID everywhere. With every fsync
and rename failing (a full disk, injected by strace) EXAMINE and FETCH
still answer OK: a message whose UID is recorded is shown with it, one
whose UID could not be recorded is left out until it can be, never shown
with a UID another look could give to another message. STORE keeps its
flags in the index too, seen by other sessions; EXPUNGE rewrites the
file, flags and UIDs into it; both persist; pop3-session's UIDLs stay
the same through all of it."""
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
INBOX = os.path.join(env.maildir(U), "INBOX")
# LeakSanitizer cannot run under ptrace
NOLEAK = dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
OLD = 2100          # messages of about 10 KB: a 20 MB mbox
sessions = []


def stamp():
    st = os.stat(INBOX)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def uid_of(r, subject):
    """The UID FETCH reports for the message with this Subject."""
    for m in re.finditer(rb"\* \d+ FETCH \(UID (\d+) [^{\r\n]*BODY\[HEADER\.FIELDS \(SUBJECT\)\] "
                         rb"\{\d+\}\r\nSubject: ([^\r]*)\r\n", r):
        if m.group(2) == subject:
            return int(m.group(1))
    return None


def full_disk(script):
    """One imap-session on script with every fsync and rename failing."""
    calls = "fsync,fdatasync,rename,renameat,renameat2"
    out = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + calls,
                          "-e", "inject=%s:error=ENOSPC" % calls,
                          yubin.binary("imap-session"), "-c", env.conf_path],
                         input=script, capture_output=True, timeout=120, env=NOLEAK).stdout
    return out


def pop_uidl():
    r = env.run("pop3-session", b'USER %s\r\nPASS %s\r\nUIDL\r\nQUIT\r\n'
                % (U.encode(), yubin.DEMO_PASSWORD.encode()))
    return [ln.split()[1] for ln in re.findall(rb"(?m)^\d+ \S+", r.stdout)]


try:
    os.makedirs(os.path.dirname(INBOX), exist_ok=True)
    body = (b"x" * 76 + b"\n") * 128
    with open(INBOX, "wb") as f:
        for i in range(OLD):
            f.write(b"From carol@example.com Thu Nov 27 10:00:00 2026\n"
                    b"Subject: old%d\nFrom: c@example.com\n\n%s\n" % (i, body))
    env.write_conf()
    if os.geteuid() == 0:
        os.chmod(INBOX, 0o666)
        os.chmod(os.path.dirname(INBOX), 0o777)
    before = stamp()
    t.ok(before[2] > 20 * 1000 * 1000, "a mbox of %d bytes" % before[2])

    a = Raw(env, login=U)
    sessions.append(a)
    r = a.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % OLD in r and tagged(r).split()[1] == b"OK",
         "SELECT of an mbox no yubin numbered", r[-300:])
    t.eq(stamp(), before, "SELECT numbers it in the index: the mbox is not written")
    uidl0 = pop_uidl()
    t.eq(len(uidl0), OLD, "pop3-session lists every message")
    t.eq(stamp(), before, "nor by pop3-session reading it")

    deliver(env, U, b"From: bob@example.org\r\nSubject: new1\r\n\r\nhello\r\n")
    after = stamp()
    r = a.cmd("NOOP")
    t.ok(b"* %d EXISTS" % (OLD + 1) in r, "NOOP shows the delivery", r)
    r = a.cmd("FETCH %d (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])" % (OLD + 1))
    new1 = uid_of(r, b"new1")
    t.ok(new1 == OLD + 1 and b"hello" in r, "it has UID %d and reads" % (OLD + 1), r)
    t.eq(stamp(), after, "NOOP and FETCH do not write the mbox (inode, mtime, size)")

    b = Raw(env, login=U)
    sessions.append(b)
    r = b.cmd("EXAMINE INBOX")
    t.ok(b"* %d EXISTS" % (OLD + 1) in r and b"[UIDNEXT %d]" % (OLD + 2) in r,
         "a concurrent EXAMINE: the same count and UIDNEXT", r)
    r = b.cmd("UID FETCH %d (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    t.ok(uid_of(r, b"new1") == new1, "and the same UID", r)
    r = b.cmd("STATUS INBOX (MESSAGES UIDNEXT)")
    t.ok(b"MESSAGES %d UIDNEXT %d" % (OLD + 1, OLD + 2) in r, "STATUS agrees", r)
    t.eq(stamp(), after, "EXAMINE, FETCH and STATUS do not write the mbox")

    # a second delivery that no session looks at before the disk fills
    deliver(env, U, b"From: bob@example.org\r\nSubject: new2\r\n\r\nsecond\r\n")
    full = stamp()
    out = full_disk(b'a LOGIN %s "%s"\r\nb EXAMINE INBOX\r\n'
                    b"c UID FETCH %d (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])\r\n"
                    b"d FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\nf NOOP\r\n"
                    b"e LOGOUT\r\n" % (U.encode(), yubin.DEMO_PASSWORD.encode(), new1))
    t.ok(re.search(rb"(?m)^b OK", out) is not None, "disk full: EXAMINE answers OK", out[-600:])
    t.ok(uid_of(out, b"new1") == new1 and b"hello" in out and re.search(rb"(?m)^c OK", out),
         "disk full: FETCH of the numbered new message by its UID", out[-600:])
    t.ok(uid_of(out, b"old0") == 1 and re.search(rb"(?m)^d OK", out),
         "disk full: FETCH of an old message", out[-600:])
    t.ok(b"* %d EXISTS" % (OLD + 2) not in out,
         "disk full: the message whose UID cannot be recorded is not shown yet", out[-600:])
    t.eq(stamp(), full, "disk full: the mbox is untouched")

    r = a.cmd("NOOP")
    r2 = b.cmd("NOOP")
    r = a.cmd("UID FETCH %d:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    r2 = b.cmd("UID FETCH %d:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    new2 = uid_of(r, b"new2")
    t.ok(new2 is not None and new2 > new1 and uid_of(r2, b"new2") == new2,
         "with room, both sessions see the second delivery under one UID", r + r2)
    t.eq(stamp(), full, "still no write to the mbox")

    # IDLE sees a delivery, and the next session the same UIDs
    a.send(b"i1 IDLE\r\n")
    a.s.readline()
    deliver(env, U, b"From: bob@example.org\r\nSubject: new3\r\n\r\nthird\r\n")
    full = stamp()
    line = a.s.readline(timeout=30)
    t.eq(line, b"* %d EXISTS\r\n" % (OLD + 3), "IDLE reports a delivery")
    a.send(b"DONE\r\n")
    a.read_response("i1")
    r = a.cmd("UID FETCH %d:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    new3 = uid_of(r, b"new3")
    t.ok(new3 is not None and new3 > new2, "it has a new UID", r)
    t.eq(stamp(), full, "IDLE does not write the mbox")
    c = Raw(env, login=U)
    sessions.append(c)
    c.cmd("SELECT INBOX")
    r = c.cmd("UID FETCH %d:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    t.ok(uid_of(r, b"new1") == new1 and uid_of(r, b"new2") == new2 and
         uid_of(r, b"new3") == new3, "the next session: the same UIDs", r)
    t.eq(stamp(), full, "a read-write SELECT taking \\Recent does not write the mbox")
    t.eq(pop_uidl()[:OLD], uidl0, "pop3-session: the UIDLs of the old messages are the same")

    # the user's changes still rewrite and persist
    b.cmd("NOOP")  # b knows the file as it is
    r = c.cmd("UID STORE %d +FLAGS (\\Flagged)" % new1)
    t.ok(tagged(r).split()[1] == b"OK", "STORE", r)
    t.eq(stamp(), full, "STORE keeps the flag in the index: the mbox is not written")
    r = b.cmd("NOOP")
    t.ok(re.search(rb"\* %d FETCH \(FLAGS \([^)]*\\Flagged" % (OLD + 1), r) is not None,
         "a concurrent session's NOOP reports the flag", r)
    r = c.cmd("UID STORE 2 +FLAGS (\\Deleted)")
    r = c.cmd("EXPUNGE")
    t.ok(b"* 2 EXPUNGE" in r and tagged(r).split()[1] == b"OK", "EXPUNGE", r)
    t.ok(stamp()[0] != full[0], "EXPUNGE rewrites the mbox")
    d = Raw(env, login=U)
    sessions.append(d)
    r = d.cmd("SELECT INBOX")
    t.ok(b"* %d EXISTS" % (OLD + 2) in r, "the next session: one message fewer", r[-300:])
    r = d.cmd("UID FETCH %d:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % new1)
    t.ok(uid_of(r, b"new1") == new1 and uid_of(r, b"new2") == new2 and
         uid_of(r, b"new3") == new3 and b"\\Flagged" in r,
         "the same UIDs after the rewrite, the flag kept", r)
    r = d.cmd("UID FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.ok(uid_of(r, b"old0") == 1 and uid_of(r, b"old2") == 3 and uid_of(r, b"old1") is None,
         "the expunged message is gone, its neighbours keep their UIDs", r)
    u = pop_uidl()
    t.ok(u[:1] == uidl0[:1] and u[1:OLD - 1] == uidl0[2:], "pop3-session's UIDLs survive it")
    for s in sessions:
        s.cmd("LOGOUT")
finally:
    close_all(sessions)
    env.cleanup()
t.done()
