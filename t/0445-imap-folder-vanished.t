#!/usr/bin/env python3
"""The selected folder's directory goes away under a session (another
session renames a parent, or deletes the folder): the session says BYE
and ends, as Dovecot does ("session state is inconsistent"), rather than
answering NO [SERVERBUG] Cannot save the flags to every later command,
NOOP included, until CLOSE. A STORE in flight when the folder moved
gets no OK that its fsync could not back. Maildir and mbox; mbox makes
no empty file again at the old path. The session that renames a parent
of its own selected folder is answered OK and goes on."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, append_ok  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
sessions = []


def session(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def ends_with_bye(raw, resp, what):
    out, rc = raw.close()
    t.ok(b"* BYE " in resp + out and b" OK " not in tagged(resp) and rc == 0,
         "%s: BYE, the session ends (exit %s)" % (what, rc), resp + out)


def scenario(env, first, name, move):
    a, b = session(env), session(env)
    for cmd in ("CREATE %s/x" % name, "CREATE %s/x/y" % name):
        assert tagged(b.cmd(cmd)).split()[1] == b"OK"
    append_ok(b, "%s/x" % name, b"Subject: hi\r\n\r\nhello\r\n")
    r = a.cmd("SELECT %s/x" % name)
    assert tagged(r).split()[1] == b"OK", r
    if first:
        r = a.cmd(first)
        t.ok(tagged(r).split()[1] == b"OK", "%s before the folder moves" % first, r)
    r = b.cmd(move)
    t.ok(tagged(r).split()[1] == b"OK", move, r)
    return a, b


def check(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    try:
        a, b = scenario(env, None, "p", "RENAME p q")
        r = a.cmd("NOOP")
        ends_with_bye(a, r, "%s: parent renamed, then NOOP" % fmt)

        a, b = scenario(env, "STORE 1 +FLAGS (\\Seen)", "r", "RENAME r s")
        r = a.cmd("STORE 1 +FLAGS (\\Flagged)")
        ends_with_bye(a, r, "%s: parent renamed, then STORE" % fmt)

        a, b = scenario(env, "FETCH 1 (FLAGS)", "d", "DELETE d/x")
        r = a.cmd("FETCH 1 (FLAGS)")
        ends_with_bye(a, r, "%s: folder deleted, then FETCH FLAGS" % fmt)

        # the other session and a new one go on with the renamed folders
        r = b.cmd("SELECT s/x")
        t.ok(tagged(r).split()[1] == b"OK" and b"* 1 EXISTS" in r,
             "%s: the renamed folder is there for the others" % fmt, r)
        r = session(env).cmd("STATUS q/x (MESSAGES)")
        t.ok(b"MESSAGES 1" in r, "%s: and for a new session" % fmt, r)
        # nothing made again where the renamed folders were
        r = session(env).cmd('LIST "" "*"')
        t.ok(all(b'"/" %s' % n not in r for n in (b"p", b"r")),
             "%s: no folder is made again at the old names" % fmt, r)
        # the session renaming a parent of its own selected folder is
        # answered OK and goes on (the folder is unselected)
        a = session(env)
        for cmd in ("CREATE m/x", "SELECT m/x", "RENAME m n", "NOOP", "SELECT n/x"):
            r = a.cmd(cmd)
            t.ok(tagged(r).split()[1] == b"OK" and b"* BYE" not in r,
                 "%s: own parent renamed: %s OK" % (fmt, cmd), r)
        if fmt == "mbox":
            root = env.maildir(U)
            left = [n for n in ("p.x", "r.x", "d.x") if os.path.exists(os.path.join(root, n))]
            t.ok(not left, "mbox: no file made again at the old paths", left)
    finally:
        close_all(sessions)
        env.cleanup()


check("maildir")
check("mbox")
t.done()
