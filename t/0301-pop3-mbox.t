#!/usr/bin/env python3
"""pop3-session on an mbox INBOX (mailbox_format = mbox): >From unquoting,
CRLF sizes, UIDLs that survive rewrites and Status changes, exact
removal at QUIT, nothing changed on a dropped connection, IN-USE, and a
delivery that waits for the lock during a session is kept (S45, S66)."""
import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
USER = "alice@example.org"
LOGIN = b"USER alice@example.org\r\nPASS secret-pw\r\n"
INBOX = os.path.join(env.maildir(USER), "INBOX")

M = [
    (b"From alice@example.com Thu Nov 27 10:00:00 2026\n",
     b"Subject: m1\nStatus: RO\n\nbody one\n>From quoted\n>>From twice\n.dot\n>not from\n"),
    (b"From bob@example.com Thu Nov 27 10:01:00 2026\n",
     b"Subject: m2\nX-UIDL: same\n\ntwo\n"),
    (b"From bob@example.com Thu Nov 27 10:01:00 2026\n",
     b"Subject: m2\nX-UIDL: same\n\ntwo\n"),                     # exact duplicate
    (b"From carol@example.com Thu Nov 27 10:02:00 2026\n",
     b"Subject: m4\nX-UIDL: same\n\n\n"),                        # empty body line
]


def write_inbox(msgs):
    os.makedirs(os.path.dirname(INBOX), exist_ok=True)
    with open(INBOX, "wb") as f:
        for fl, body in msgs:
            f.write(fl + body + b"\n")
    env.write_conf()   # as root: lets run_as (nobody) lock and rewrite it


def inbox():
    with open(INBOX, "rb") as f:
        return f.read()


def served(body):
    """RETR payload: one level of >From quoting undone, CRLF line ends."""
    out = []
    for line in body.split(b"\n")[:-1]:
        if re.match(rb"^>+From ", line):
            line = line[1:]
        out.append(line + b"\r\n")
    return b"".join(out)


def multiline(out, start):
    i = out.index(b"\r\n", start) + 2
    j = out.index(b"\r\n.\r\n", i - 2)
    return out[i:j + 2] if j >= i else b""


def unstuff(block):
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in block.split(b"\r\n")[:-1])


def pop(cmds, **kw):
    return env.run("pop3-session", LOGIN + cmds, **kw)


def uidl_list(out):
    u = multiline(out, out.index(b"+OK Unique-ID"))
    return [l.split()[1] for l in u.split(b"\r\n") if l]


write_inbox(M)
orig = inbox()
r = pop(b"STAT\r\nLIST\r\nUIDL\r\n" + b"".join(b"RETR %d\r\n" % i for i in range(1, 5)) + b"QUIT\r\n")
out = r.stdout
exp = [served(b) for _, b in M]
t.ok(b"+OK 4 %d\r\n" % sum(map(len, exp)) in out, "STAT: 4 messages, CRLF octets", out[:300])
lst = multiline(out, out.index(b"+OK 4 messages"))
t.eq([int(l.split()[1]) for l in lst.split(b"\r\n") if l], [len(e) for e in exp],
     "LIST sizes equal the served payloads (unquoted, CRLF)")
pos = 0
for i, e in enumerate(exp, 1):
    pos = out.index(b"+OK %d octets\r\n" % len(e), pos)
    t.eq(unstuff(multiline(out, pos)), e, "RETR %d payload" % i)
    pos += 1
t.ok(b"\r\nFrom quoted\r\n>From twice\r\n..dot\r\n>not from\r\n" in out,
     "mboxrd: one level of >From quoting removed; dot stuffed")
u1 = uidl_list(out)
t.ok(len(set(u1)) == 4 and all(0 < len(x) <= 70 and all(0x21 <= c <= 0x7e for c in x) for x in u1),
     "UIDLs unique and printable, duplicates included; X-UIDL headers not trusted (covers S45)", u1)
t.ok(u1[2] == u1[1] + b"-2", "an exact duplicate gets the first's id plus -2", u1)
t.eq(inbox(), orig, "reading and QUIT without DELE leave the mbox byte-identical")

r = pop(b"UIDL\r\nQUIT\r\n")
t.eq(uidl_list(r.stdout), u1, "UIDLs stable across sessions")
# A mail reader rewrites Status: (as mutt or an IMAP server would).
write_inbox([(M[0][0], M[0][1].replace(b"Status: RO\n", b"Status: O\nX-Status: A\n"))] + M[1:])
r = pop(b"UIDL\r\nQUIT\r\n")
t.eq(uidl_list(r.stdout), u1, "UIDLs survive a Status/X-Status rewrite")

# --- UPDATE state ---------------------------------------------------------
before = inbox()
r = pop(b"DELE 1\r\nDELE 3\r\nRETR 1\r\n")                      # dropped
t.ok(b"-ERR Message 1 already deleted" in r.stdout, "RETR of a deleted message -> -ERR (covers S45)")
t.eq(inbox(), before, "DELE then a dropped connection changes nothing (covers S45)")
r = pop(b"DELE 2\r\nRSET\r\nSTAT\r\nQUIT\r\n")
t.ok(b"+OK 4 " in r.stdout and inbox() == before, "RSET undoes DELE")
r = pop(b"DELE 1\r\nDELE 3\r\nQUIT\r\n")
want = M[1][0] + M[1][1] + b"\n" + M[3][0] + M[3][1] + b"\n"
t.ok(r.stdout.split(b"\r\n")[-2].startswith(b"+OK"), "QUIT after DELE: +OK")
t.eq(inbox(), want, "QUIT removes exactly the deleted messages")
r = pop(b"UIDL\r\nQUIT\r\n")
t.eq(uidl_list(r.stdout), [u1[1], u1[3]], "remaining messages keep their UIDLs after the rewrite")
t.ok(not [n for n in os.listdir(os.path.dirname(INBOX)) if n.startswith(".INBOX.pop3")],
     "no temporary copy left behind")

# --- IN-USE and a delivery waiting for the lock -----------------------------
s1 = env.start("pop3-session")
s1.readline()
s1.send(LOGIN + b"STAT\r\n")
for _ in range(3):
    s1.readline()
r = pop(b"QUIT\r\n", timeout=20)
t.ok(b"-ERR [IN-USE]" in r.stdout, "second concurrent login -> -ERR [IN-USE] (covers S44, S45)", r.stdout)
smtp = subprocess.Popen([yubin.binary("smtp-session"), "-c", env.conf_path], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env.env())
smtp.stdin.write(b"EHLO client.example.com\r\nMAIL FROM:<z@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
                 b"DATA\r\nSubject: late\r\n\r\narrived during the session\r\n.\r\nQUIT\r\n")
smtp.stdin.flush()
time.sleep(1.0)            # the delivery now waits for the INBOX lock
s1.send(b"DELE 1\r\nQUIT\r\n")
s1.readline()
bye = s1.readline()
s1.p.stdin.close()
s1.p.wait(10)
sout, serr = smtp.communicate(timeout=40)
t.ok(bye.startswith(b"+OK"), "session with a deletion ends with +OK", bye)
t.ok(b"\r\n250 " in sout.split(b"354")[-1], "the waiting delivery is accepted after the session", sout)
data = inbox()
t.ok(b"arrived during the session" in data and M[1][1] not in data and M[3][1] in data,
     "delivery kept after a rewrite renamed over the INBOX (covers S45, S66)", data[-300:])
r = pop(b"STAT\r\nTOP 2 0\r\nQUIT\r\n")
t.ok(b"+OK 2 " in r.stdout and b"Subject: late" in r.stdout, "it shows up in the next session")

r = pop(b"DELE 1\r\nDELE 2\r\nQUIT\r\n")
t.eq(inbox(), b"", "DELE of every message + QUIT leaves an empty INBOX")

# --- an empty or missing INBOX --------------------------------------------
os.unlink(INBOX)
r = pop(b"STAT\r\nLIST\r\nUIDL\r\nQUIT\r\n")
t.ok(b"+OK 0 0\r\n" in r.stdout and b"+OK 0 messages (0 octets)\r\n.\r\n" in r.stdout,
     "missing INBOX: an empty maildrop", r.stdout)

env.cleanup()
t.done()
