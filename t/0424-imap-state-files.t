#!/usr/bin/env python3
"""A Maildir folder's own state files (yubin-uidlist, yubin-keywords) are
read whole line by line (covers S47): an over-long line is never read as
two, so its tail never defines a keyword or a UID; a UID list that is cut
short or malformed starts afresh with a new UIDVALIDITY (never wrong
UIDs), while one that cannot be read is not replaced (UIDVALIDITY kept).
A keyword longer than IMAP_KEYWORD_MAX from STORE or APPEND is BAD and
leaves the keywords file as it was. mbox: an X-Keywords field with a word
longer than a keyword, or longer than the reader's buffer, never yields a
shortened keyword."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver_mbox, append_ok, close_all  # noqa: E402
from imaptest import numbered_message as msg  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
U = "alice@example.org"


def append(s, box, i, flags=b""):
    return append_ok(s, box, msg(i), flags)


def validity(resp):
    m = re.search(rb"\[UIDVALIDITY (\d+)\]", resp)
    return int(m.group(1)) if m else None


def fdir(box):
    return os.path.join(env.maildir(U), "." + box)  # Maildir++


def fpath(box, name):
    return os.path.join(fdir(box), name)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o666)  # sessions run as nobody under root


def bases(box):
    out = []
    for sub in ("cur", "new"):
        for n in os.listdir(os.path.join(fdir(box), sub)):
            out.append(n.split(":")[0].split(",")[0])
    return sorted(out)


def fresh_folder(s, box, n):
    """A folder with n messages; returns its UIDVALIDITY."""
    r = s.cmd("CREATE %s" % box)
    assert tagged(r).split()[1] == b"OK", r
    for i in range(n):
        append(s, box, i)
    r = s.cmd("SELECT %s" % box)
    s.cmd("UNSELECT")
    return validity(r)


def select_with_uidlist(s, box, make):
    """A fresh folder of two messages whose UID list is then written as
    make(its UIDVALIDITY, its base names); SELECTs it and fetches the UIDs.
    Returns (UIDVALIDITY before, SELECT response, UID FETCH response, UIDs)."""
    v0 = fresh_folder(s, box, 2)
    bs = [x.encode() for x in bases(box)]
    write(fpath(box, "yubin-uidlist"), make(v0, bs))
    r = s.cmd("SELECT %s" % box)
    r2 = s.cmd("UID FETCH 1:* (UID)")
    s.cmd("UNSELECT")
    return v0, r, r2, re.findall(rb"UID (\d+)", r2)


def check_uidlist_afresh(s, box, make, name):
    """A UID list from make that must not be trusted: a new UIDVALIDITY
    and the UIDs numbered afresh."""
    v0, r, r2, uids = select_with_uidlist(s, box, make)
    t.ok(validity(r) not in (None, v0) and uids == [b"1", b"2"], name, r + r2)


procs = []
try:
    a = Raw(env, U)
    procs.append(a)

    # ---- keywords: an over-long line whose tail looks like a slot ----
    fresh_folder(a, "Kw", 1)
    box = fdir("Kw")
    sub = "cur" if os.listdir(os.path.join(box, "cur")) else "new"
    name = os.listdir(os.path.join(box, sub))[0]
    base = name.split(":")[0]
    os.rename(os.path.join(box, sub, name), os.path.join(box, "cur", base + ":2,Sabc"))
    # fgets(300) would read "b evil" from byte 299 of the first line
    write(fpath("Kw", "yubin-keywords"),
          b"a " + b"x" * 297 + b"b evil\n" + b"c good\n" + b"d " + b"y" * 5000 + b"\n")
    r = a.cmd("SELECT Kw")
    r2 = a.cmd("FETCH 1 (FLAGS)")
    t.ok(b"evil" not in r + r2, "an over-long keywords line's tail defines no keyword", r + r2)
    t.ok(b"xxxx" not in r + r2 and b"yyyy" not in r + r2,
         "over-long keywords lines are skipped whole", r + r2)
    t.ok(re.search(rb"FLAGS \([^)]*good", r2) is not None,
         "the next line's keyword still counts", r2)

    # ---- STORE and APPEND of a 1000-byte keyword ----
    before = open(fpath("Kw", "yubin-keywords"), "rb").read()
    long_kw = b"k" * 1000
    r = a.cmd(b"STORE 1 +FLAGS (" + long_kw + b")")
    t.ok(tagged(r).split()[1] == b"BAD" and b"too long" in r.lower(),
         "STORE of a 1000-byte keyword is BAD, keyword too long", r)
    r = a.cmd(b"STORE 1 +FLAGS (" + b"k" * 201 + b")")
    t.ok(tagged(r).split()[1] == b"BAD", "STORE of a 201-byte keyword is BAD", r)
    data = msg(9)
    r = a.cmd(b"APPEND Kw (" + long_kw + b") {%d+}\r\n%s" % (len(data), data))
    t.ok(tagged(r).split()[1] == b"BAD" and b"too long" in r.lower(),
         "APPEND with a 1000-byte keyword is BAD, keyword too long", r)
    t.ok(open(fpath("Kw", "yubin-keywords"), "rb").read() == before,
         "the keywords file is unchanged after them")
    r = a.cmd("FETCH 1:* (FLAGS)")
    t.ok(b"kkkk" not in r and r.count(b"* ") == 1, "no keyword and no message came of them", r)
    ok200 = b"m" * 200
    r = a.cmd(b"STORE 1 +FLAGS (" + ok200 + b")")
    t.ok(tagged(r).split()[1] == b"OK" and ok200 in r, "a 200-byte keyword is stored", r)
    a.cmd("UNSELECT")
    b = Raw(env, U)
    procs.append(b)
    b.cmd("SELECT Kw")
    r = b.cmd("FETCH 1 (FLAGS)")
    t.ok(ok200 in r and b"good" in r and b"evil" not in r,
         "another session reads the 200-byte keyword back from the file", r)
    b.close()
    procs.remove(b)

    # ---- UID list: an over-long record whose tail looks like a record ----
    v0, r, r2, uids = select_with_uidlist(
        a, "Long", lambda v, bs: b"yubin-uidlist 1 %d 10 10\n" % v + b"1 " + b"z" * 597 +
        b"7 " + bs[0] + b"\n" + b"8 " + bs[1] + b"\n")
    t.ok(validity(r) not in (None, v0), "an over-long UID record: a new UIDVALIDITY", r)
    t.ok(uids == [b"1", b"2"], "and UIDs afresh, not the tail's 7 and 8", r2)

    # ---- UID list: an over-long header ----
    check_uidlist_afresh(
        a, "Head", lambda v, bs: b"yubin-uidlist 1 %d 10 10" % v + b" " * 700 + b"\n" +
        b"7 " + bs[0] + b"\n" + b"8 " + bs[1] + b"\n",
        "an over-long UID list header: a new UIDVALIDITY and UIDs afresh")

    # ---- UID list: last record without its LF (cut short) ----
    check_uidlist_afresh(
        a, "Cut", lambda v, bs: b"yubin-uidlist 1 %d 10 10\n" % v + b"7 " + bs[0] + b"\n" +
        b"8 " + bs[1],
        "a UID list whose last record has no LF: a new UIDVALIDITY, UIDs afresh")

    # ---- UID list: a NUL byte in a record, and a malformed header ----
    check_uidlist_afresh(
        a, "Nul", lambda v, bs: b"yubin-uidlist 1 %d 10 10\n" % v + b"7 " + bs[0] +
        b"\0junk\n" + b"8 " + bs[1] + b"\n",
        "a NUL byte in a UID record: a new UIDVALIDITY, UIDs afresh")
    check_uidlist_afresh(
        a, "Malformed", lambda v, bs: b"yubin-uidlist 2 garbage\n1 x\n",
        "a malformed UID list header: a new UIDVALIDITY, UIDs afresh")

    # ---- a well-formed list is kept as it is ----
    v0, r, r2, uids = select_with_uidlist(
        a, "Good", lambda v, bs: b"yubin-uidlist 1 %d 10 10\n" % v + b"7 " + bs[0] + b"\n" +
        b"8 " + bs[1] + b"\n")
    t.ok(validity(r) == v0 and uids == [b"7", b"8"],
         "a well-formed UID list keeps its UIDVALIDITY and UIDs", r + r2)

    # ---- UID list that cannot be read: not replaced ----
    v0 = fresh_folder(a, "Unread", 1)
    p = fpath("Unread", "yubin-uidlist")
    os.unlink(p)
    os.mkdir(p)  # open() works, read() fails with EISDIR
    r = a.cmd("SELECT Unread")
    t.ok(tagged(r).split()[1] != b"OK" or validity(r) is None,
         "an unreadable UID list: no SELECT with made-up UIDs", r)
    t.ok(os.path.isdir(p), "and the list is not replaced by a fresh one")
    os.rmdir(p)
    write(p, b"yubin-uidlist 1 %d 10 10\n" % v0)
    r = a.cmd("SELECT Unread")
    t.ok(validity(r) == v0, "once readable, the UIDVALIDITY is the one kept", r)

    # ---- mbox: X-Keywords with an over-long word and past the buffer ----
    menv = yubin.Env(conf={"mailbox_format": "mbox"})
    try:
        kws = [b"k%02d" % i + b"x" * 197 for i in range(26)]
        deliver_mbox(menv, U, b"From: bob@example.org\r\nX-Keywords: " + b"w" * 300 +
                     b" short\r\nSubject: kw\r\n\r\nbody\r\n")
        deliver_mbox(menv, U, b"From: bob@example.org\r\nX-Keywords: " + b" ".join(kws) +
                     b" " + b"v" * 150 + b"\r\nSubject: kw\r\n\r\nbody\r\n")
        m = Raw(menv, U)
        procs.append(m)
        r = m.cmd("SELECT INBOX")
        r1 = m.cmd("FETCH 1 (FLAGS)")
        f1 = re.search(rb"FLAGS \(([^)]*)\)", r1)
        t.ok(f1 is not None and [w for w in f1.group(1).split() if w[:1] != b"\\"] == [b"short"],
             "mbox: a 300-byte word in X-Keywords is skipped, not cut to a keyword", r1)
        r2 = m.cmd("FETCH 2 (FLAGS)")
        f2 = re.search(rb"FLAGS \(([^)]*)\)", r2)
        words = [w for w in f2.group(1).split() if w[:1] != b"\\"] if f2 else []
        t.ok(f2 is not None and all(w in kws for w in words) and len(words) >= 25,
             "mbox: a long X-Keywords field gives whole keywords only", r2)
        m.close()
        procs.remove(m)
    finally:
        menv.cleanup()
finally:
    close_all(procs)
    env.cleanup()
t.done()
