#!/usr/bin/env python3
"""A session that opens an mbox just as another session's rewrite renames
a new file over it finds the old file unlinked (st_nlink 0): it must open
the path again, never answer NO ("Too many links", issue 11 §2.10). One
session rewrites INBOX over and over (APPEND, STORE, EXPUNGE) while two
others SELECT, STATUS and EXAMINE it over and over: no NO, no BAD. The
readers run under strace, which holds each of their openat() calls of
INBOX for a moment after it returned, so that the rename lands between
the open and what follows it (as it may on a loaded machine)."""
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, append_ok, numbered_message, close_all  # noqa: E402

USER = "alice@example.org"
ROUNDS = 60
# how long strace holds a reader's openat() of INBOX after it returned
DELAY_US = 3000
# a command may wait for the lock while the others hold it (loaded machine)
TIMEOUT = 60
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
sessions = []
failures, done = [], []
lock = threading.Lock()


def note(who, r):
    if tagged(r).split()[1:2] != [b"OK"]:
        with lock:
            failures.append((who, r))


def rewriter(s):
    # every command here rewrites the file: a new inode renamed over it
    try:
        for i in range(ROUNDS):
            msg = numbered_message(i)
            r = s.cmd(b"APPEND INBOX {%d+}\r\n" % len(msg) + msg, TIMEOUT)
            note("rewriter", r)
            m = re.search(rb"APPENDUID \d+ (\d+)", r)
            note("rewriter", s.cmd("UID STORE %s +FLAGS (\\Deleted)"
                                   % (m.group(1).decode() if m else "0"), TIMEOUT))
            note("rewriter", s.cmd("EXPUNGE", TIMEOUT))
    except Exception as e:  # a timeout: reported, never silent
        with lock:
            failures.append(("rewriter", repr(e)))
    finally:
        with lock:
            done.append("rewriter")


def reader(s, who):
    n = 0
    while True:
        with lock:
            if "rewriter" in done:
                break
        for c in ("SELECT INBOX", "STATUS INBOX (MESSAGES UIDNEXT)", "EXAMINE INBOX",
                  "STATUS INBOX (UIDVALIDITY)"):
            try:
                note(who, s.cmd(c, TIMEOUT))
            except Exception as e:
                with lock:
                    failures.append((who, repr(e)))
                    done.append((who, n))
                return
            n += 1
    with lock:
        done.append((who, n))


try:
    w = Raw(env, login=USER)
    sessions.append(w)
    for i in range(3):
        append_ok(w, "INBOX", numbered_message(100 + i))
    r = w.cmd("SELECT INBOX")
    t.ok(tagged(r).split()[1] == b"OK", "the rewriting session selects INBOX", r)
    tdir = os.path.join(env.dir, "trace")
    os.makedirs(tdir)
    wrapper = os.path.join(tdir, "slow-open-imap-session")
    inbox = os.path.join(env.maildir(USER), "INBOX")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec strace -f -q -o /dev/null -P "%s" -e trace=open,openat '
                '-e inject=open,openat:delay_exit=%d "%s" "$@"\n'
                % (inbox, DELAY_US, yubin.binary("imap-session")))
    os.chmod(wrapper, 0o755)
    real_binary = yubin.binary
    yubin.binary = lambda prog: wrapper
    try:
        readers = [Raw(env, login=USER) for _ in range(2)]
    finally:
        yubin.binary = real_binary
    sessions += readers
    threads = [threading.Thread(target=rewriter, args=(w,))]
    threads += [threading.Thread(target=reader, args=(s, "reader%d" % k))
                for k, s in enumerate(readers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    looks = sum(n for x in done if isinstance(x, tuple) for _, n in [x])
    t.diag("%d rewriting rounds, %d SELECT/STATUS/EXAMINE" % (ROUNDS, looks))
    t.eq(failures[:5], [], "no NO or BAD while the file is replaced under the readers")
    r = readers[0].cmd("SELECT INBOX")
    t.ok(b"* 3 EXISTS" in r and tagged(r).split()[1] == b"OK",
         "afterwards INBOX holds the 3 messages it started with", r)
finally:
    close_all(sessions)
    env.cleanup()
t.done()
