#!/usr/bin/env python3
# What one delivery costs in directory work (issue 15), under strace:
#  - each recipient's Maildir tmp/ and new/ are opened once per delivery
#    (they were opened five and three times), and the durable sequence is
#    unchanged: the tmp/ file fsync'd, linked into new/, new/ fsync'd,
#    then 250 (S62);
#  - a small message is held in memory while it is received: no
#    O_TMPFILE in the spool (an inode and two journalled orphan-list
#    updates under one file-system lock per message); a large one still
#    goes to a spool file and arrives intact;
#  - two recipients: both copies, each Maildir opened once, all copies
#    fsync'd before any is published.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
env.set(max_message_size="4M")
ALICE, BOB = "alice@example.org", "bob@example.org"


def session(rcpts, body):
    data = b"EHLO client.test\r\nMAIL FROM:<x@example.net>\r\n"
    for r in rcpts:
        data += b"RCPT TO:<%s>\r\n" % r.encode()
    return data + b"DATA\r\n" + body + b".\r\nQUIT\r\n"


def traced(data):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-s", "60", "-o", log,
                        "-e", "trace=open,openat,write,fsync,fdatasync,link,linkat,rename,renameat,renameat2",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    calls = open(log).read().splitlines()
    os.unlink(log)
    return p, calls


def dir_opens(calls, addr, sub):
    path = os.path.join(env.maildir(addr), sub)
    # A failed open (ENOENT: the Maildir is made, then opened) is no open.
    return len([c for c in calls if re.search(r'open(at)?\(.*"%s"' % re.escape(path), c)
                and not re.search(r"= -1 ", c)])


def index(calls, pattern):
    return [i for i, c in enumerate(calls) if re.search(pattern, c)]


# --- one recipient, a small message ---------------------------------------
p, calls = traced(session([ALICE], b"Subject: small\r\n\r\nbody\r\n"))
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "small message accepted")
t.eq(len(env.messages(ALICE)), 1, "and stored")
t.eq(dir_opens(calls, ALICE, "tmp"), 1, "tmp/ opened once for the delivery")
t.eq(dir_opens(calls, ALICE, "new"), 1, "new/ opened once for the delivery")
t.eq(index(calls, r"O_TMPFILE"), [], "a small message makes no O_TMPFILE in the spool")
i250 = index(calls, r'write\(1<[^>]*>, "250 2\.0\.0 Ok: queued')
link = index(calls, r"linkat\(.*/tmp>.*/new>")
ffile = index(calls, r"fsync\(\d+</[^>]*/tmp/[^>]+>")
fdir = index(calls, r"fsync\(\d+</[^>]*/new>")
t.ok(i250 and link and ffile and fdir and ffile[-1] < link[0] < fdir[0] < i250[0],
     "S62: tmp/ file fsync'd, linked into new/, new/ fsync'd, then 250", "\n".join(calls[-15:]))

# --- a message larger than what is held in memory -------------------------
line = b"0123456789" * 7 + b"\r\n"
big = b"Subject: big\r\n\r\n" + line * (400 * 1024 // len(line))
p, calls = traced(session([ALICE], big))
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "400 KB message accepted")
t.ok(index(calls, r"O_TMPFILE") != [], "it moved to a spool file past the memory bound")
stored = [m for m in env.messages(ALICE) if b"Subject: big" in m]
t.ok(len(stored) == 1 and stored[0].endswith(big.replace(b"\r\n", b"\n")),
     "the large message arrived intact")

# --- two recipients --------------------------------------------------------
p, calls = traced(session([ALICE, BOB], b"Subject: two\r\n\r\nbody\r\n"))
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "two-recipient message accepted")
t.ok(any(b"Subject: two" in m for m in env.messages(ALICE)) and
     any(b"Subject: two" in m for m in env.messages(BOB)), "both copies stored")
t.eq([dir_opens(calls, a, s) for a in (ALICE, BOB) for s in ("tmp", "new")], [1, 1, 1, 1],
     "each Maildir's tmp/ and new/ opened once")
ffile = index(calls, r"fsync\(\d+</[^>]*/tmp/[^>]+>")
link = index(calls, r"linkat\(.*/tmp>.*/new>")
t.ok(len(ffile) == 2 and len(link) == 2 and ffile[-1] < link[0],
     "both copies fsync'd before either is published")
t.done()
