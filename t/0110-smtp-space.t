#!/usr/bin/env python3
# smtp-session: the free-space reserve counts every copy a message becomes
# (S54). On a small tmpfs holding mail_root and the spool, a 150 KB message
# to an alias of 30 users would fit, but only by eating the margin kept
# free: 452 4.3.1 at the end of data (and at RCPT when SIZE= was declared),
# nothing stored; once space is freed the same message is delivered. More
# copies than the file system can ever hold get 552 5.3.4.
#
# Needs root to mount a tmpfs (CI runs as root); skipped with the reason
# otherwise.
import atexit
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
USERS = ["alice@example.org"] + ["u%02d@example.org" % i for i in range(1, 61)]
ALIASES = ("list@example.org: %s\n" % ", ".join(USERS[1:31]) +
           "big@example.org: %s\n" % ", ".join(USERS[1:61]))
MAX = 1024 * 1024              # max_message_size: MAIL wants 1.5 MB free
MARGIN = MAX // 2              # what must stay free beside the copies
FS_SIZE = 8 * 1024 * 1024
BLOCK = 4096

env = yubin.CleanEnv(users=USERS, aliases=ALIASES)
fs = os.path.join(env.dir, "fs")
os.makedirs(fs)
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % FS_SIZE, "tmpfs", fs],
                   capture_output=True, text=True)
if r.returncode != 0:
    t.skip("copies counted against the free space", "cannot mount a tmpfs: %s" % r.stderr.strip())
    t.done()
atexit.register(lambda: subprocess.run(["umount", "-l", fs], check=False))

env.mail_root = os.path.join(fs, "mail")
env.spool = os.path.join(fs, "spool")
os.makedirs(env.mail_root)
os.makedirs(os.path.join(env.spool, "tmp"))
env.set(mail_root=env.mail_root, spool=env.spool, max_message_size=MAX)

LINE = b"x" * 74 + b"\r\n"
BODY = LINE * (150 * 1024 // len(LINE))
SIZE = len(BODY) + 600         # the header and our Received:


def message(rcpts, size=False, subject=b"space"):
    mail = b"MAIL FROM:<sender@example.com>" + (b" SIZE=%d" % SIZE if size else b"") + b"\r\n"
    return (b"EHLO client.example.com\r\n" + mail +
            b"".join(b"RCPT TO:<%s>\r\n" % r for r in rcpts) +
            b"DATA\r\nSubject: " + subject + b"\r\n\r\n" + BODY + b".\r\nQUIT\r\n")


def free():
    v = os.statvfs(fs)
    return v.f_bavail * v.f_frsize


def copies(prefix="u"):
    n = 0
    for u in os.listdir(os.path.join(env.mail_root, "example.org")) \
            if os.path.isdir(os.path.join(env.mail_root, "example.org")) else []:
        if u.startswith(prefix):
            n += len(env.messages(u + "@example.org"))
    return n


def roundup(n):
    return (n + BLOCK - 1) // BLOCK * BLOCK


def fill_to(target):
    """A filler file leaving `target` bytes free."""
    path = os.path.join(fs, "filler")
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free() - target))


def replies(out):
    return yubin.smtp_replies(out)[1:]


# 30 copies fit physically, but would leave less than the margin free.
need = 30 * roundup(SIZE + 1024)
fill_to(need + MARGIN // 2 + roundup(SIZE))   # + the content file in the spool
before = free()
r = env.run("smtp-session", message([b"list@example.org"]))
rs = replies(r.stdout)
t.ok(len(rs) > 4 and rs[4].startswith(b"452 4.3.1"),
     "30 copies that would eat the margin: 452 4.3.1 at the end of data", rs)
t.eq(copies(), 0, "no copy stored")
t.ok(free() >= before, "the free space is as it was", (free(), before))

r = env.run("smtp-session", message([b"list@example.org", b"alice@example.org"], size=True))
rs = replies(r.stdout)
t.ok(len(rs) > 3 and rs[2].startswith(b"452 4.3.1") and rs[3].startswith(b"250 2.1.5"),
     "SIZE= declared: RCPT of the 30-user alias gets 452 4.3.1, one more user 250", rs)
t.ok(len(rs) > 5 and rs[5].startswith(b"250 2.0.0"), "the message for the one user is delivered", rs)
t.eq((copies(), copies("alice")), (0, 1), "only alice got a copy")

# Space freed: the same message is delivered to all 30.
os.unlink(os.path.join(fs, "filler"))
r = env.run("smtp-session", message([b"list@example.org"], size=True))
rs = replies(r.stdout)
t.ok(len(rs) > 4 and rs[2].startswith(b"250") and rs[4].startswith(b"250 2.0.0"),
     "space freed: 250 for the 30-user alias", rs)
t.eq(copies(), 30, "30 copies stored")
for u in USERS[1:31]:
    for n in os.listdir(os.path.join(env.maildir(u), "new")):
        os.unlink(os.path.join(env.maildir(u), "new", n))

# 60 copies of 150 KB can never fit in 8 MB: 552, not a retry for days.
r = env.run("smtp-session", message([b"big@example.org"]))
rs = replies(r.stdout)
t.ok(len(rs) > 4 and rs[4].startswith(b"552 5.3.4"),
     "60 copies larger than the file system: 552 5.3.4 at the end of data", rs)
r = env.run("smtp-session", message([b"big@example.org"], size=True))
rs = replies(r.stdout)
t.ok(len(rs) > 2 and rs[2].startswith(b"552 5.3.4"), "the same with SIZE=: 552 5.3.4 at RCPT", rs)
t.eq(copies(), 0, "no copy stored")

t.done()
