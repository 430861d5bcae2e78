#!/usr/bin/env python3
"""mailbox_format = mbox: the UID index beside the mbox (.INBOX.yubin-uids)
damaged or lost, or the mbox changed behind its back, never gives a
message a UID that meant another message: cut at any offset or with a
byte changed, it is not believed (its checksum), and messages whose UID
only it knew are numbered again under a greater UIDVALIDITY; gone, the
same. A message pop3-session deletes leaves the others their UIDs; one
edited in place by another program is a new message (new UID), the rest
keep theirs."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, deliver, tagged, close_all  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox"})
INBOX = os.path.join(env.maildir(U), "INBOX")
INDEX = os.path.join(os.path.dirname(INBOX), ".INBOX.yubin-uids")
sessions = []


def view():
    """(UIDVALIDITY, {uid: subject}) as a new session sees INBOX."""
    s = Raw(env, login=U)
    r = s.cmd("SELECT INBOX")
    assert tagged(r).split()[1] == b"OK", r
    v = int(re.search(rb"UIDVALIDITY (\d+)", r).group(1))
    r = s.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s.cmd("LOGOUT")
    s.s.close()
    got = re.findall(rb"UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: ([^\r]*)",
                     r)
    return v, {int(u): subj for u, subj in got}


def consistent(old, new):
    """No UID of old's UIDVALIDITY names another message in new."""
    if new[0] != old[0]:
        return new[0] > old[0]
    return all(old[1].get(u, s) == s for u, s in new[1].items())


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


try:
    for i in range(4):
        deliver(env, U, b"From: bob@example.org\r\nSubject: old%d\r\n\r\nold\r\n" % i)
    a = Raw(env, login=U)
    sessions.append(a)
    a.cmd("SELECT INBOX")
    a.cmd("STORE 4 +FLAGS (\\Deleted)")
    a.cmd("EXPUNGE")  # a rewrite: X-UIDs in the file
    a.cmd("LOGOUT")
    for i in range(4):
        deliver(env, U, b"From: bob@example.org\r\nSubject: new%d\r\n\r\nbody %d\r\n" % (i, i))
    base = view()
    t.eq(sorted(base[1].values()), sorted([b"old0", b"old1", b"old2"] +
                                          [b"new%d" % i for i in range(4)]),
         "seven messages, four numbered in the index only")
    t.ok(read(INBOX).count(b"\nX-UID: ") == 3, "the file holds three X-UIDs")
    good = read(INDEX)
    good_box = read(INBOX)
    t.ok(good.startswith(b"yubin-mbox-index 1 ") and good.endswith(b"\n"), "the index", good)

    bad = []
    cuts = sorted(set([0, 1, 10, len(good) // 2, len(good) - 22, len(good) - 2, len(good) - 1]))
    for k, cut in enumerate(cuts + [-1] * 6):
        if cut >= 0:
            data = good[:cut]
            what = "cut at %d" % cut
        else:
            pos = (k * 37) % len(good)
            flip = bytes([good[pos] ^ (1 << (k % 7))])
            data = good[:pos] + flip + good[pos + 1:]
            what = "byte %d changed" % pos
        write(INDEX, data)
        now = view()
        if not consistent(base, now) or len(now[1]) != 7:
            bad.append((what, now))
        base = now
    t.ok(not bad, "a damaged index: the same UIDs or a greater UIDVALIDITY", bad)

    before = view()
    os.unlink(INDEX)
    after = view()
    t.ok(after[0] > before[0] and len(after[1]) == 7,
         "the index gone with messages only it numbered: a greater UIDVALIDITY", [before, after])

    # numbered in the index again; pop3-session deletes one in front of others
    before = view()
    new0 = [u for u, s in before[1].items() if s == b"new0"][0]
    pop = b"USER %s\r\nPASS %s\r\n" % (U.encode(), yubin.DEMO_PASSWORD.encode())
    r = env.run("pop3-session", pop + b"TOP %d 0\r\nQUIT\r\n" % 4)
    t.ok(b"Subject: new0" in r.stdout, "pop3-session's message 4 is new0", r.stdout)
    r = env.run("pop3-session", pop + b"DELE 4\r\nQUIT\r\n")
    after = view()
    t.ok(after[0] == before[0] and new0 not in after[1] and
         all(before[1][u] == s for u, s in after[1].items()) and len(after[1]) == 6,
         "after a POP3 deletion the others keep their UIDs", [before, after])

    # another program edits a message only the index numbered, in place
    data = read(INBOX)
    write(INBOX, data.replace(b"body 2\n", b"BODY 2\n"))
    now = view()
    t.ok(consistent(after, now) and len(now[1]) == 6, "an edit in place: never the old UID "
         "for changed content", [after, now])
    edited = [u for u, s in now[1].items() if s == b"new2"]
    t.ok(now[0] > after[0] or (edited and edited[0] not in after[1]),
         "the edited message is a new one", [after, now])
finally:
    close_all(sessions)
    env.cleanup()
t.done()
