#!/usr/bin/env python3
"""imap-session on an mbox INBOX while smtp-session deliveries run: two
sessions keep rewriting the file (flag changes, EXPUNGE: temporary file and
rename) as 15 deliveries wait for the same lock. Every delivered message
must end up in the file exactly once, and both sessions must agree on its
UID (covers S64, S66)."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, tagged  # noqa: E402

USER = "alice@example.org"
N = 15
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
INBOX = os.path.join(env.maildir(USER), "INBOX")
sessions, procs = [], []


def uid_subjects(s):
    r = s.cmd("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return re.findall(rb"UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: ([^\r]*)",
                      r)


try:
    a = Raw(env, login=USER)
    b = Raw(env, login=USER)
    sessions += [a, b]
    for i in range(3):
        msg = b"Subject: old%d\r\n\r\nx\r\n" % i
        r = a.cmd(b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)
    t.ok(tagged(r).endswith(b"APPEND completed"), "three messages appended", r)
    a.cmd("SELECT INBOX")
    b.cmd("SELECT INBOX")
    if not os.path.exists(yubin.binary("smtp-session")):
        t.ok(False, "smtp-session is built")
    for i in range(N):
        p = subprocess.Popen([yubin.binary("smtp-session"), "-c", env.conf_path],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(b"EHLO x\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.org>\r\n"
                      b"DATA\r\nSubject: conc%d\r\n\r\nhello %d\r\n.\r\nQUIT\r\n" % (i, i))
        p.stdin.close()
        procs.append(p)
        # rewrites while the deliveries queue on the lock
        a.cmd("STORE 1:* %sFLAGS (\\Seen)" % ("+" if i % 2 == 0 else "-"))
        b.cmd("STORE 1 %sFLAGS (\\Flagged)" % ("+" if i % 2 == 0 else "-"))
        if i == 5:
            a.cmd("STORE 2 +FLAGS (\\Deleted)")
            a.cmd("EXPUNGE")
    ok = 0
    for p in procs:
        out = p.stdout.read()
        p.wait(30)
        ok += out.count(b"250 ") >= 3 and p.returncode == 0
    t.eq(ok, N, "all %d deliveries accepted" % N)
    a.cmd("NOOP")
    b.cmd("NOOP")
    ra, rb = uid_subjects(a), uid_subjects(b)
    subjects = sorted(s.decode() for _, s in ra)
    want = sorted(["old0", "old2"] + ["conc%d" % i for i in range(N)])
    t.eq(subjects, want, "every delivered message is there once, the expunged one gone")
    t.eq(ra, rb, "both sessions see the same UIDs for the same messages")
    uids = [int(u) for u, _ in ra]
    t.ok(uids == sorted(set(uids)), "UIDs unique and ascending", uids)
    with open(INBOX, "rb") as f:
        data = f.read()
    # new messages keep their UIDs in the index beside the file, not in it
    t.eq(data.count(b"\n\nFrom ") + data.startswith(b"From "), N + 2,
         "the file holds N+2 messages")
    c = Raw(env, login=USER)
    sessions.append(c)
    t.eq(uid_subjects(c) if b"OK" in c.cmd("EXAMINE INBOX") else None, ra,
         "a new session sees the same UIDs")

    # pop3-session removes message 1 (a new file renamed over the INBOX)
    # and a delivery follows: the
    # offsets session c holds are stale when it fetches; it reads the file
    # again without taking in the new message in the middle of the FETCH
    out = env.run("pop3-session", b"USER alice@example.org\r\nPASS secret-pw\r\nDELE 1\r\n"
                  b"QUIT\r\n")
    t.ok(out.stdout.count(b"+OK") >= 4, "pop3-session deletes message 1", out.stdout)
    deliver(env, USER, b"Subject: late\r\n\r\nlate body\r\n")
    last = len(ra)
    r = c.cmd("FETCH %d (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % last)
    t.ok(re.search(rb"\* %d FETCH \(UID %s BODY" % (last, ra[-1][0]), r) is not None and
         ra[-1][1] in r and b"EXPUNGE" not in r,
         "FETCH after an in-place rewrite: the right message, no EXPUNGE", r)
    r += c.cmd("NOOP")
    t.ok(b"* 1 EXPUNGE" in r and b"* %d EXISTS" % (len(ra) + 1) in r,
         "the POP3 deletion and the new message are reported", r)
    got = [x[1] for x in uid_subjects(c)]
    t.eq(got, [x[1] for x in ra[1:]] + [b"late"], "the session's view matches the file")

    # pop3-session holds the lock for its whole session: a look (NOOP)
    # must not wait for it; after QUIT the POP3 deletion shows
    deliver(env, USER, b"Subject: late2\r\n\r\nx\r\n")  # a change NOOP must look at
    p3 = env.start("pop3-session")
    p3.readline()
    p3.send(b"USER alice@example.org\r\n")
    p3.readline()
    p3.send(b"PASS secret-pw\r\n")
    t.ok(p3.readline().startswith(b"+OK"), "pop3-session holds the mbox")
    p3.send(b"DELE 1\r\n")
    p3.readline()
    start = time.time()
    r = c.cmd("NOOP")
    took = time.time() - start
    t.ok(took < 2 and tagged(r).endswith(b"OK NOOP completed"),
         "NOOP does not wait for the POP3 lock (%.2f s)" % took, r)
    p3.send(b"QUIT\r\n")
    p3.readline()
    p3.close()
    r = c.cmd("NOOP")
    t.ok(b"* 1 EXPUNGE" in r and b"EXISTS" in r,
         "after POP3 QUIT the deletion and the delivery show on NOOP", r)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
    for s in sessions:
        s.close()
    env.cleanup()
t.done()
