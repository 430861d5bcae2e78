#!/usr/bin/env python3
"""The message cache under concurrency and replacement. Two sessions list
a folder (ENVELOPE, BODYSTRUCTURE, header SEARCH) over and over while
messages are delivered: every answer names the message its UID belongs
to, and the cache file they both append to stays whole, with a record
for every message. A message replaced under the same UID (a Maildir
whose yubin-uidlist gives the UID to another file; an mbox rewritten
with another message of another length in its place) is answered from
its new bytes, never from the old record. Maildir and mbox."""
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, mcache_records  # noqa: E402

START, MORE = 20, 20


def message(i, what=b"number"):
    return (b"From: Sender <sender%d@example.org>\nSubject: %s %d\n"
            b"Date: Tue, 3 Nov 2026 10:00:00 +0100\nMessage-ID: <m%d@example.org>\n\n"
            b"body %d\n" % (i, what, i, i, i))


def subjects(resp):
    """{sequence number: subject} of FETCH ENVELOPE lines."""
    out = {}
    for m in re.finditer(rb'\* (\d+) FETCH \(.*?ENVELOPE \("[^"]*" "([^"]*)"', resp):
        out[int(m.group(1))] = m.group(2)
    return out


def run_concurrent(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        for i in range(START):
            deliver(env, "alice@example.org", message(i), name="%d.M%dP1.cc" % (1700000000 + i, i))
        md = env.maildir("alice@example.org")
        cache = os.path.join(md, ".INBOX.yubin-cache" if fmt == "mbox" else "yubin-cache")
        sessions = [Raw(env, login="alice@example.org") for _ in range(2)]
        for s in sessions:
            s.cmd("SELECT INBOX")
        errors = []

        def deliveries():
            for i in range(START, START + MORE):
                deliver(env, "alice@example.org", message(i), name="%d.M%dP1.cc" % (1700000000 + i, i))

        def lister(s):
            for _ in range(8):
                s.cmd("NOOP")
                r = s.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)", timeout=60)
                for seq, subj in subjects(r).items():
                    if subj != b"number %d" % (seq - 1):
                        errors.append((seq, subj))
                r = s.cmd('SEARCH SUBJECT "number 1"', timeout=60)
                if not re.search(rb"\* SEARCH 2( |\r)", r):
                    errors.append(r[:100])

        threads = [threading.Thread(target=deliveries)] + \
            [threading.Thread(target=lister, args=(s,)) for s in sessions]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        for s in sessions:
            s.cmd("NOOP")
            r = s.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)", timeout=60)
            got = subjects(r)
            if len(got) != START + MORE:
                errors.append(("count", len(got)))
            for seq, subj in got.items():
                if subj != b"number %d" % (seq - 1):
                    errors.append((seq, subj))
            s.close()
        t.ok(not errors, "%s: two sessions and deliveries: every answer is its message's" % fmt,
             errors[:5])
        uids, whole = mcache_records(cache)
        if fmt == "maildir":
            # the latest record of each UID is of the file the list gives it
            names = dict(line.split(" ", 1) for line in open(os.path.join(md, "yubin-uidlist"))
                         .read().splitlines()[1:])
            bad = [u for u in range(1, START + MORE + 1)
                   if not uids.get(u, b"").startswith(names.get(str(u), "?").encode() + b",S=")]
        else:
            bad = [u for u in range(1, START + MORE + 1) if u not in uids]
        t.ok(whole and not bad,
             "%s: the cache file is whole, each UID's latest record is its message's" % fmt,
             (bad[:5], sorted(uids)[-5:]))
    finally:
        env.cleanup()


def listing(env):
    raw = Raw(env, login="alice@example.org")
    raw.cmd("EXAMINE INBOX")
    r = raw.cmd("FETCH 1:* (UID ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s = raw.cmd('SEARCH SUBJECT "replaced"')
    raw.close()
    return r, s


def run_replaced(t, fmt):
    env = yubin.Env(conf={"mailbox_format": fmt} if fmt == "mbox" else None)
    try:
        paths = [deliver(env, "alice@example.org", message(i), name="%d.M%dP1.rp" % (1700000000 + i, i))
                 for i in range(3)]
        md = env.maildir("alice@example.org")
        before, _ = listing(env)
        t.ok(subjects(before).get(2) == b"number 1", "%s: message 2 listed" % fmt)
        if fmt == "maildir":
            # message 2's UID goes to a new file (another unique name)
            cur = os.path.join(md, "cur")
            old = [os.path.join(md, sub, n) for sub in ("new", "cur")
                   for n in os.listdir(os.path.join(md, sub)) if n.startswith("1700000001.")][0]
            new = deliver(env, "alice@example.org", message(1, b"replaced"), name="1700000099.M9P9.rp")
            os.unlink(old)
            old = os.path.basename(old)
            os.rename(new, os.path.join(cur, os.path.basename(new) + ":2,"))
            ul = os.path.join(md, "yubin-uidlist")
            text = open(ul).read().replace(old.split(",")[0].split(":")[0], "1700000099.M9P9.rp")
            with open(ul, "w") as f:
                f.write(text)
        else:
            data = open(paths[0], "rb").read()
            data = data.replace(b"Subject: number 1\n", b"Subject: replaced number 1\n")
            tmp = paths[0] + ".new"
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o666)
            os.rename(tmp, paths[0])
        after, found = listing(env)
        got = subjects(after)
        t.ok(got.get(2) == b"replaced number 1" if fmt == "mbox" else got.get(2) == b"replaced 1",
             "%s: the message replaced under its UID is answered from its new bytes" % fmt,
             after[:600])
        t.ok(re.search(rb"\* SEARCH 2\r", found) is not None,
             "%s: SEARCH SUBJECT finds the new subject" % fmt, found)
        t.ok(b"replaced" in after.split(b"* 2 FETCH")[1].split(b"* 3 FETCH")[0],
             "%s: HEADER.FIELDS of it is the new one" % fmt)
    finally:
        env.cleanup()


t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    run_concurrent(t, fmt)
    run_replaced(t, fmt)
t.done()
