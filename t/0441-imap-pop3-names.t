#!/usr/bin/env python3
"""IMAP folder names never reach pop3-session's private files in the
Maildir root (".pop3.lock", ".pop3.sizes"): CREATE "pop3/lock" and the
like are refused (a directory there broke every POP3 login), LIST never
shows them, and RENAME moves only folders: "RENAME pop3 x" leaves
".pop3.lock" where it is, so a second POP3 session of a locked maildrop
is still refused (it opened the renamed lock's fresh twin before).
RENAME onto pop3's children is refused alike."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, deliver  # noqa: E402

U = "alice@example.org"
POP_LOGIN = b"USER alice@example.org\r\nPASS %s\r\n" % yubin.DEMO_PASSWORD.encode()
t = yubin.TAP()
env = yubin.Env()
sessions = []


def imap():
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def pop3_login():
    """A POP3 session logged in (or not): (session, reply to PASS)."""
    s = env.start("pop3-session")
    s.readline()
    s.send(POP_LOGIN)
    s.readline()
    return s, s.readline()


root = env.maildir(U)
try:
    deliver(env, U, b"From: bob@example.org\r\nSubject: one\r\n\r\nhello\r\n")
    raw = imap()
    for name in ("pop3/lock", "pop3/sizes", "pop3/lock/x"):
        r = raw.cmd('CREATE "%s"' % name)
        t.ok(b" NO " in tagged(r), "CREATE %s is refused" % name, r)
    t.ok(not os.path.isdir(os.path.join(root, ".pop3.lock")),
         "no directory .pop3.lock was made")
    s, reply = pop3_login()
    t.ok(reply.startswith(b"+OK"), "POP3 login works after those CREATEs", reply)
    s.send(b"QUIT\r\n")
    s.close()

    r = raw.cmd("CREATE pop3")
    t.ok(tagged(r).endswith(b"OK CREATE completed"), "CREATE pop3 itself is a folder", r)
    r = raw.cmd('LIST "" "*"')
    t.ok(b"pop3/" not in r, "LIST shows nothing below pop3 (.pop3.lock is a file)", r)

    holder, reply = pop3_login()
    t.ok(reply.startswith(b"+OK"), "a POP3 session holds the maildrop", reply)
    r = raw.cmd("RENAME pop3 moved")
    t.ok(tagged(r).endswith(b"OK RENAME completed"), "RENAME pop3 moved", r)
    t.ok(os.path.isfile(os.path.join(root, ".pop3.lock")) and
         not os.path.exists(os.path.join(root, ".moved.lock")),
         "RENAME moved the folder only, not .pop3.lock",
         repr(sorted(os.listdir(root))))
    second, reply = pop3_login()
    t.ok(reply.startswith(b"-ERR [IN-USE]"),
         "a second POP3 session of the held maildrop is still refused", reply)
    second.close()
    holder.send(b"QUIT\r\n")
    holder.close()

    r = raw.cmd("CREATE a/lock")
    r2 = raw.cmd("RENAME a pop3")
    t.ok(tagged(r).endswith(b"OK CREATE completed") and tagged(r2).split()[1] in (b"OK", b"NO"),
         "CREATE a/lock, RENAME a pop3", r + r2)
    t.ok(not os.path.isdir(os.path.join(root, ".pop3.lock")),
         "no folder was renamed onto .pop3.lock", repr(sorted(os.listdir(root))))
    s, reply = pop3_login()
    t.ok(reply.startswith(b"+OK"), "POP3 login still works", reply)
    s.send(b"QUIT\r\n")
    s.close()
    raw.close()
finally:
    close_all(sessions)
    env.cleanup()
t.done()
