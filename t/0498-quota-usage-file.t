#!/usr/bin/env python3
"""The Maildir usage file (Maildir++ maildirsize in the Maildir root): the
first quota check counts the store and writes "<limit>S" and "<bytes>
<messages>"; every delivery, APPEND, COPY and EXPUNGE appends its line,
so the sum stays the bytes on disk; a missing, damaged (a half-written
last line), too long (5120 bytes) or pre-boot file is counted again; a
count left too high (a crash between the line and the message) never
refuses a user who is under the quota: the refusal is made on a fresh
count. Concurrent deliveries (smtp-session) and EXPUNGEs (imap-session)
with recounts forced meanwhile leave the sum equal to the disk. mbox
keeps no usage file (one stat per folder is its count)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, append_ok  # noqa: E402

A = "alice@example.org"
t = yubin.TAP()
LIMIT = 200 * 1024


def on_disk(env):
    """(bytes, messages) of every message file of alice, read from the disk."""
    b = m = 0
    for top, dirs, files in os.walk(env.maildir(A)):
        if os.path.basename(top) in ("cur", "new"):
            for f in files:
                b += os.path.getsize(os.path.join(top, f))
                m += 1
    return b, m


def usage_file(env):
    return os.path.join(env.maildir(A), "maildirsize")


def file_sum(env):
    """(header, bytes, messages, lines) of the usage file, or None."""
    try:
        with open(usage_file(env), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    lines = data.split(b"\n")
    b = m = 0
    for ln in lines[1:-1]:
        x, y = ln.split()
        b += int(x)
        m += int(y)
    return lines[0], b, m, len(lines) - 2


def msg(n, size):
    head = b"From: bob@example.org\r\nSubject: u%d\r\n\r\n" % n
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def smtp(env, n, size):
    d = b"EHLO c.example.com\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<%s>\r\nDATA\r\n" % A.encode()
    d += b"Subject: %d\r\n\r\n" % n + (b"y" * 60 + b"\r\n") * (size // 62) + b".\r\nQUIT\r\n"
    return yubin.smtp_replies(env.run("smtp-session", d).stdout)


def getquota(s):
    r = s.cmd('GETQUOTA ""')
    got = re.search(rb"STORAGE (\d+) (\d+)", r)
    return int(got.group(1)) if got else r


def maildir():
    env = yubin.CleanEnv(conf={"quota_storage": str(LIMIT)})
    for i in range(3):
        rep = smtp(env, i, 3000)
        t.ok(rep[-2].startswith(b"250 "), "delivery %d taken" % i, rep)
    fs = file_sum(env)
    t.ok(fs is not None and fs[0] == b"%dS" % LIMIT, "first check wrote maildirsize with the limit", fs)
    t.eq(fs[1:3], on_disk(env), "its sum is the bytes and messages on disk")
    t.ok(fs[3] >= 2, "deliveries after the count appended lines", fs)

    s = Raw(env, login=A)
    for i in range(3):
        append_ok(s, "INBOX", msg(10 + i, 2000))
    s.cmd("CREATE Other")
    s.cmd("SELECT INBOX")
    t.eq(tagged(s.cmd("COPY 1:2 Other")).split()[1], b"OK", "COPY")
    t.eq(tagged(s.cmd("STORE 3 +FLAGS (\\Deleted)")).split()[1], b"OK", "STORE \\Deleted")
    t.eq(tagged(s.cmd("EXPUNGE")).split()[1], b"OK", "EXPUNGE")
    t.eq(tagged(s.cmd("MOVE 1 Other")).split()[1], b"OK", "MOVE")
    fs = file_sum(env)
    t.eq(fs[1:3], on_disk(env), "APPEND, COPY, EXPUNGE, MOVE kept the sum equal to the disk")
    t.eq(getquota(s), on_disk(env)[0] // 1024, "GETQUOTA reads it")
    s.cmd("CREATE Old")
    for i in range(3):
        append_ok(s, "Old", msg(30 + i, 20000))
    t.eq(getquota(s), on_disk(env)[0] // 1024, "GETQUOTA with a folder Old of 60 KB")
    t.eq(tagged(s.cmd("DELETE Old")).split()[1], b"OK", "DELETE Old")
    t.eq(getquota(s), on_disk(env)[0] // 1024, "DELETE of a whole folder: GETQUOTA follows")

    with open(usage_file(env), "ab") as f:
        f.write(b"123")
    t.eq(getquota(s), on_disk(env)[0] // 1024, "a half-written last line: counted again")
    fs = file_sum(env)
    t.ok(fs is not None and fs[3] == 1 and fs[1:3] == on_disk(env), "and rewritten", fs)

    with open(usage_file(env), "ab") as f:
        f.write(b"0 0\n" * 1300)
    t.eq(getquota(s), on_disk(env)[0] // 1024, "a file of 5120 bytes or more is counted again")
    t.eq(file_sum(env)[3], 1, "and rewritten short")

    with open(usage_file(env), "ab") as f:
        f.write(b"50000 3\n")
    os.utime(usage_file(env), (1000000, 1000000))
    t.eq(getquota(s), on_disk(env)[0] // 1024, "a file last written before the boot is counted again")

    # A crash between the line and the message leaves the count high:
    # the user is under the quota on disk, over it by the file.
    with open(usage_file(env), "ab") as f:
        f.write(b"%d 1\n" % LIMIT)
    before = on_disk(env)
    append_ok(s, "INBOX", msg(20, 4000))
    t.ok(on_disk(env)[0] > before[0], "a count left high refuses nobody: the refusal recounts")
    t.eq(file_sum(env)[1:3], on_disk(env), "and the recount is kept")
    s.close()

    os.unlink(usage_file(env))
    s = Raw(env, login=A)
    t.eq(getquota(s), on_disk(env)[0] // 1024, "a missing file is counted again")
    s.close()
    return env


def concurrent(env):
    """Deliveries and EXPUNGEs in parallel, the file pushed near its length
    bound so recounts happen meanwhile."""
    with open(usage_file(env), "ab") as f:
        f.write(b"0 0\n" * 1200)
    procs = []
    d = b"EHLO c.example.com\r\n"
    for i in range(15):
        d += (b"MAIL FROM:<s@example.com>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: c%d\r\n\r\n"
              b"body body body\r\n.\r\n" % (A.encode(), i))
    d += b"QUIT\r\n"
    for _ in range(4):
        procs.append(subprocess.Popen([yubin.binary("smtp-session"), "-c", env.conf_path],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=env.env()))
    s = Raw(env, login=A)
    s.cmd("SELECT INBOX")
    for p in procs:
        p.stdin.write(d)
        p.stdin.close()
    for i in range(6):
        s.cmd("STORE 1 +FLAGS (\\Deleted)")
        s.cmd("EXPUNGE")
        s.cmd('GETQUOTA ""')
    taken = 0
    for p in procs:
        taken += p.stdout.read().count(b"250 2.0.0 Ok: queued")
        p.wait(120)
    s.cmd("NOOP")
    s.close()
    t.eq(taken, 60, "60 concurrent deliveries taken")
    fs = file_sum(env)
    t.ok(fs is not None and fs[1:3] == on_disk(env), "concurrent changes and recounts: sum = disk",
         (fs, on_disk(env)))


def mbox():
    env = yubin.CleanEnv(conf={"quota_storage": str(LIMIT), "mailbox_format": "mbox"})
    smtp(env, 1, 3000)
    s = Raw(env, login=A)
    append_ok(s, "INBOX", msg(1, 2000))
    s.cmd('GETQUOTA ""')
    s.close()
    names = [f for top, dirs, files in os.walk(env.maildir(A)) for f in files]
    t.ok(not any("maildirsize" in f for f in names), "mbox: no usage file", names)


concurrent(maildir())
mbox()
t.done()
