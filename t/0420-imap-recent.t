#!/usr/bin/env python3
"""\\Recent on Maildir (RFC 3501 2.3.2, RFC 9051 2.3.2: recent for exactly
one session): deliveries into new/ and messages APPENDed, COPYed or MOVEd
into a folder go to the next session that selects it read-write, to one
session only; EXAMINE shows them without taking them; a UID list written
before the recent marker existed keeps working. And flag changes are
durable before the tagged OK: a STORE of many messages and a FETCH that
sets \\Seen fsync cur/ once, after the renames, before the OK (strace)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver, append_ok, recent_of, check_eq, close_all  # noqa: E402
from imaptest import numbered_message as msg  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
U = "alice@example.org"
LOGIN = b'a LOGIN %s "%s"\r\n' % (U.encode(), yubin.DEMO_PASSWORD.encode())


def eq(got, want, name, diag=b""):
    check_eq(t, got, want, name, diag)


def append(s, box, i):
    return append_ok(s, box, msg(i))


def uidlist(addr, box=""):
    d = env.maildir(addr)
    with open(os.path.join(d, box, "yubin-uidlist"), "rb") as f:
        return f.read()


procs = []
try:
    # ---- deliveries into new/, EXAMINE first ----
    for i in range(3):
        deliver(env, U, msg(i))
    a = Raw(env, U)
    procs.append(a)
    r = a.cmd("EXAMINE INBOX")
    eq(recent_of(r), 3, "EXAMINE shows the three deliveries in new/ as \\Recent", r)
    r = a.cmd("FETCH 1:* (FLAGS)")
    eq(r.count(b"\\Recent"), 3, "EXAMINE: FETCH FLAGS says \\Recent", r)
    newdir = os.path.join(env.maildir(U), "new")
    eq(len(os.listdir(newdir)), 3, "EXAMINE leaves them in new/ (nothing claimed)")
    r = a.cmd("SELECT INBOX")
    eq(recent_of(r), 3, "the SELECT after EXAMINE takes them", r)
    eq(len(os.listdir(newdir)), 0, "SELECT moved them out of new/")
    b = Raw(env, U)
    procs.append(b)
    r = b.cmd("SELECT INBOX")
    eq(recent_of(r), 0, "a second session gets none of them", r)
    r = b.cmd("EXAMINE INBOX")
    eq(recent_of(r), 0, "nor does its EXAMINE once they were taken", r)
    b.cmd("SELECT INBOX")

    # ---- APPEND, COPY, MOVE into a folder not selected ----
    c = Raw(env, U)
    procs.append(c)
    r = c.cmd("CREATE Box")
    t.ok(tagged(r).split()[1] == b"OK", "CREATE Box", r)
    append(c, "Box", 10)
    append(c, "Box", 11)
    r = a.cmd("COPY 1 Box")
    t.ok(b"[COPYUID " in tagged(r), "COPY 1 into Box", r)
    r = a.cmd("MOVE 2 Box")
    t.ok(b"[COPYUID " in r, "MOVE 2 into Box", r)
    r = c.cmd("STATUS Box (MESSAGES UIDNEXT)")
    t.ok(b"MESSAGES 4" in r, "Box holds 4 messages", r)
    r = c.cmd("EXAMINE Box")
    eq(recent_of(r), 4, "EXAMINE Box: the APPENDed, COPYed and MOVEd messages are \\Recent", r)
    r = c.cmd("SELECT Box")
    eq(recent_of(r), 4, "SELECT Box takes all four (APPEND, COPY, MOVE)", r)
    r = c.cmd("FETCH 1:* (UID FLAGS)")
    eq(r.count(b"\\Recent"), 4, "each with \\Recent in FETCH FLAGS", r)
    d = Raw(env, U)
    procs.append(d)
    r = d.cmd("SELECT Box")
    eq(recent_of(r), 0, "the next session gets none of them (one session only)", r)
    r = d.cmd("STATUS INBOX (UIDVALIDITY)")
    r2 = c.cmd("UNSELECT")

    # appended to a selected folder: the session that first looks gets it
    append(d, "Box", 12)
    r = c.cmd("SELECT Box")
    r = d.cmd("NOOP")
    r2 = c.cmd("NOOP")
    n_d = recent_of(r) or 0
    n_c = recent_of(r2) or 0
    r3 = c.cmd("FETCH 5 (FLAGS)")
    r4 = d.cmd("FETCH 5 (FLAGS)")
    eq((b"\\Recent" in r3) + (b"\\Recent" in r4), 1,
         "a message APPENDed while two sessions have Box selected is \\Recent in one of them",
         r3 + r4)
    t.ok(b"\\Recent" in r4 and n_c == 0, "the appending session has it (its update after "
         "APPEND looked first, as Dovecot's does), not the one that selected later",
         r + r2 + r3 + r4)

    # ---- the recent marker in the UID list, and an old list without it ----
    head = uidlist(U, ".Box").split(b"\n")[0].split()
    eq(len(head), 5, "the UID list head has the recent marker", head)
    eq(head[4], head[3], "the marker is at UIDNEXT once every message was taken", head)
    for s in (c, d):
        s.cmd("LOGOUT")
    # A list as an older yubin wrote it: no marker; nothing is \Recent then
    path = os.path.join(env.maildir(U), ".Box", "yubin-uidlist")
    with open(path, "rb") as f:
        data = f.read()
    first, rest = data.split(b"\n", 1)
    old_head = b" ".join(first.split()[:4])
    with open(path, "wb") as f:
        f.write(old_head + b"\n" + rest)
    e = Raw(env, U)
    procs.append(e)
    r = e.cmd("SELECT Box")
    eq(recent_of(r), 0, "a UID list without the marker: no message is \\Recent", r)
    t.ok(b"[UIDVALIDITY %s]" % head[2] in r, "and the same UIDVALIDITY (the list still counts)",
         r)
    append(a, "Box", 13)
    r = e.cmd("NOOP")
    eq(recent_of(r), 1, "a message appended after that is \\Recent again", r)
    e.cmd("LOGOUT")

    # ---- concurrent SELECTs of a folder with new messages: one winner ----
    f_s = [Raw(env, U) for _ in range(4)]
    procs += f_s
    append(a, "Box", 14)
    append(a, "Box", 15)
    for s in f_s:
        s.send(b"s SELECT Box\r\n")
    total = 0
    for s in f_s:
        total += recent_of(s.read_response("s")) or 0
    eq(total, 2, "four sessions SELECTing at once: the two new messages are \\Recent "
         "in one session each time, never twice", total)
    for s in f_s:
        s.cmd("LOGOUT")
    for s in (a, b):
        s.cmd("LOGOUT")

    # ---- durability of STORE and of \Seen set by FETCH (strace) ----
    N = 40
    V = "carol@example.org"
    for i in range(N):
        deliver(env, V, msg(i))
    env.run("imap-session", LOGIN.replace(U.encode(), V.encode()) +
            b"b SELECT INBOX\r\nc LOGOUT\r\n")
    tdir = os.path.join(env.dir, "trace")
    os.makedirs(tdir)
    os.chmod(tdir, 0o777)
    trace = os.path.join(tdir, "strace.txt")
    # one command at a time, so each tagged reply is its own write
    wrapper = os.path.join(tdir, "traced-imap-session")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec strace -f -q -y -s 65536 -o "%s" -e '
                'trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,write,writev "%s" "$@"\n'
                % (trace, yubin.binary("imap-session")))
    os.chmod(wrapper, 0o755)
    real_binary = yubin.binary
    yubin.binary = lambda prog: wrapper
    try:
        s = Raw(env)
    finally:
        yubin.binary = real_binary
    procs.append(s)
    replies = [s.cmd(LOGIN[2:-2].replace(U.encode(), V.encode())), s.cmd("SELECT INBOX"),
               s.cmd("STORE 1:* +FLAGS (\\Flagged)"), s.cmd("FETCH 1:3 (BODY[])"),
               s.cmd("MOVE 40 INBOX"), s.cmd("LOGOUT")]
    s.close()
    t.ok(all(b" OK " in tagged(r) for r in replies), "STORE and FETCH under strace answer OK",
         b"".join(tagged(r) for r in replies))
    with open(trace) as f:
        lines = f.read().splitlines()

    def at(pattern):
        for i, ln in enumerate(lines):
            if re.search(pattern, ln):
                return i
        return -1

    b_ok, c_ok, d_ok = (at(r'(\\n|")t%d OK' % i) for i in (2, 3, 4))
    store = lines[b_ok + 1:c_ok]
    renames = [i for i, ln in enumerate(store) if re.match(r"\d+\s+rename", ln)]
    fsyncs = [i for i, ln in enumerate(store) if re.search(r"\bfsync\(\d+</[^>]*/cur>", ln)]
    t.ok(b_ok >= 0 and c_ok > b_ok and len(renames) == N,
         "STORE of %d messages renames each file" % N, "\n".join(store[:5]))
    t.ok(len(fsyncs) == 1 and renames and fsyncs[0] > renames[-1],
         "one fsync of cur/ after the last rename and before the tagged OK", store[-5:])
    fetch = lines[c_ok + 1:d_ok]
    renames = [i for i, ln in enumerate(fetch) if re.match(r"\d+\s+rename", ln)]
    fsyncs = [i for i, ln in enumerate(fetch) if re.search(r"\bfsync\(\d+</[^>]*/cur>", ln)]
    t.ok(len(renames) == 3 and len(fsyncs) == 1 and fsyncs[0] > renames[-1],
         "FETCH BODY[] of 3 messages: \\Seen renames, then one fsync of cur/, then OK",
         "\n".join(fetch))
    e_ok = at(r'(\\n|")t5 OK')
    move = lines[d_ok + 1:e_ok]
    unlinks = [i for i, ln in enumerate(move) if re.match(r"\d+\s+unlinkat\(\d+</[^>]*/cur>", ln)]
    fsyncs = [i for i, ln in enumerate(move) if re.search(r"\bfsync\(\d+</[^>]*/cur>", ln)]
    t.ok(e_ok > d_ok and len(unlinks) == 1 and fsyncs and fsyncs[-1] > unlinks[0],
         "MOVE into the same folder: the source's unlink is fsync'd before the OK",
         "\n".join(move))
    r = env.run("imap-session", LOGIN.replace(U.encode(), V.encode()) +
                b"b EXAMINE INBOX\r\nc FETCH 1:4 (FLAGS)\r\nd LOGOUT\r\n")
    t.ok(r.stdout.count(b"\\Flagged \\Seen") == 3 and b"4 FETCH (FLAGS (\\Flagged))" in r.stdout,
         "a later session sees the flags", r.stdout)
    t.ok(b"* 40 EXISTS" in r.stdout, "MOVE into the same folder left one copy", r.stdout)
finally:
    close_all(procs)
    env.cleanup()
t.done()
