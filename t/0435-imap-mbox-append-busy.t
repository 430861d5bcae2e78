#!/usr/bin/env python3
"""mbox: an APPEND is not refused because others keep writing the file.
Before it appends, a session reads the file under the lock and writes it
back when there is something to write first (a delivery to number); it
then has to lock the new file again. It used to give up after 4 such
reads ("NO [SERVERBUG] Cannot store message", EAGAIN in the log) while a
delivery, or another session's APPEND (a message not yet marked old),
came in between each: now messages only new to the file wait for the
read after the append, and the reads go on within the lock's time bound.
A selected session and an EXAMINE session APPEND while mail is delivered
all the time: every APPEND is OK, and every message is there once with
its own UID."""
import os
import multiprocessing
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all, deliver_mbox  # noqa: E402

U = "alice@example.org"
APPENDS = 60
t = yubin.TAP()
sessions = []


def session(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def deliverer(env, done, count):
    """Delivers until done is set, in a process of its own (fcntl locks
    are per process: two threads of one would not exclude each other),
    with a short pause after each so the lock is ever free to take (a
    session polls for it, as smtp-session does)."""
    while not done.is_set():
        deliver_mbox(env, U, b"From: bob@example.org\nSubject: delivered %d\n\nhi\n"
                     % count.value)
        count.value += 1
        time.sleep(0.002)


env = yubin.Env(conf={"mailbox_format": "mbox"})
try:
    results = {}

    def appender(name, mode):
        s = session(env)
        s.cmd("%s INBOX" % mode)
        bad = []
        for i in range(APPENDS):
            msg = b"Subject: %s %d\r\n\r\nbody\r\n" % (name.encode(), i)
            r = s.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(msg), msg), timeout=60)
            if tagged(r).split()[1] != b"OK":
                bad.append(tagged(r))
        results[name] = bad

    # the user's directory made and opened to the sessions (run as
    # run_as when the test runs as root) before anything runs at once
    deliver_mbox(env, U, b"From: bob@example.org\nSubject: first\n\nhi\n")
    ctx = multiprocessing.get_context("fork")
    done, delivered = ctx.Event(), ctx.Value("i", 0)
    d = ctx.Process(target=deliverer, args=(env, done, delivered))
    d.start()  # before any thread of this process
    apps = [threading.Thread(target=appender, args=(n, m))
            for n, m in (("selected", "SELECT"), ("examined", "EXAMINE"))]
    for a in apps:
        a.start()
    for a in apps:
        a.join()
    done.set()
    d.join()
    for name in ("selected", "examined"):
        bad = results.get(name)
        t.ok(bad == [], "%s session: %d APPENDs while mail is delivered, every one OK"
             % (name, APPENDS), bad if bad is None else b"\n".join(bad[:10]).decode())
    r = session(env).cmd("EXAMINE INBOX") + sessions[-1].cmd(
        "FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = re.findall(rb"Subject: ([^\r]+)\r\n", r)
    uids = re.findall(rb"UID (\d+)", r)
    want = 2 * APPENDS + delivered.value + 1
    t.ok(len(subjects) == want and len(set(subjects)) == want and len(set(uids)) == want,
         "all %d messages there once, each with its own UID" % want,
         "%d subjects (%d distinct), %d UIDs (%d distinct)"
         % (len(subjects), len(set(subjects)), len(uids), len(set(uids))))
finally:
    close_all(sessions)
    env.cleanup()
t.done()
