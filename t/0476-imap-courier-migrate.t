#!/usr/bin/env python3
"""Switching from Courier-IMAP keeps what clients know (issue 13): a Maildir
with Courier's courierimapuiddb and no yubin state opens in imap-session
with Courier's UIDVALIDITY, UIDs and next UID; messages Courier never
numbered get UIDs from there up; a malformed courierimapuiddb gives a
fresh, greater UIDVALIDITY and fresh UIDs; one the session cannot read
fails SELECT and is taken once it can be read, never lost to a fresh start.

The courierimapuiddb files here are HAND-MADE, written from the format
Courier-IMAP uses (version 1: a header "1 <uidvalidity> <nextuid>", then
"<uid> <file name without its :2, info>" a line, UIDs ascending; Courier
takes its UIDVALIDITY as the file's mtime less 10^9 seconds), not by a
running Courier. Courier keeps keywords in courierimapkeywords/, which is
not taken over; flags in the file names are."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all, tagged  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
U = "carol@example.org"
ROOT = env.maildir(U)
COURIER_V = 796677000  # a Courier UIDVALIDITY (mtime - 10^9), far below today's clock


def message(i):
    return b"From: bob@example.org\nSubject: c%d\n\nbody of %d\n" % (i, i)


def make_folder(box, msgs, uiddb):
    """A Maildir folder with msgs [(base, info)] in cur/ and the given
    courierimapuiddb text (None: none)."""
    d = ROOT if box == "INBOX" else os.path.join(ROOT, "." + box)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if box != "INBOX":
        open(os.path.join(d, "maildirfolder"), "w").close()
    for i, (base, info) in enumerate(msgs):
        data = message(i)
        with open(os.path.join(d, "cur", "%s,S=%d%s" % (base, len(data), info)), "wb") as f:
            f.write(data)
    if uiddb is not None:
        with open(os.path.join(d, "courierimapuiddb"), "w") as f:
            f.write(uiddb)
    return d


def base_s(base):
    """The name Courier records: the file name up to its ':2,' info."""
    return "%s,S=%d" % (base, len(message(0)))


def number(resp, what):
    m = re.search(rb"\[%s (\d+)\]" % what, resp)
    return int(m.group(1)) if m else None


def flags_by_uid(resp):
    out = {}
    for m in re.finditer(rb"\* \d+ FETCH \(([^\r\n]*)\)\r\n", resp):
        body = m.group(1)
        uid = int(re.search(rb"UID (\d+)", body).group(1))
        fl = re.search(rb"FLAGS \(([^)]*)\)", body).group(1).split()
        out[uid] = sorted(x.decode() for x in fl if x.lower() != b"\\recent")
    return out


inbox = [("1796600001.M1P10.mail.example.org", ":2,S"),
         ("1796600002.M2P10.mail.example.org", ":2,FS"),
         ("1796600003.M3P10.mail.example.org", ":2,"),
         ("1796600009.M9P10.mail.example.org", ":2,RS")]  # not in the uiddb: new since
make_folder("INBOX", inbox,
            "1 %d 8\n2 %s\n5 %s\n7 %s\n" % (COURIER_V, base_s(inbox[0][0]),
                                            base_s(inbox[1][0]), base_s(inbox[2][0])))
archive = [("1796500001.M1P20.mail.example.org", ":2,S"),
           ("1796500002.M2P20.mail.example.org", ":2,T")]
make_folder("Archive", archive,
            "1 %d 31\n11 %s\n30 %s\n" % (COURIER_V - 5, base_s(archive[0][0]),
                                          base_s(archive[1][0])))
broken = [("1796400001.M1P30.mail.example.org", ":2,S"),
          ("1796400002.M2P30.mail.example.org", ":2,")]
# UIDs out of order: Courier never writes that, so it is not trusted
make_folder("Broken", broken,
            "1 %d 9\n6 %s\n4 %s\n" % (COURIER_V, base_s(broken[0][0]), base_s(broken[1][0])))
locked = [("1796300001.M1P40.mail.example.org", ":2,S")]
make_folder("Locked", locked, "1 %d 4\n3 %s\n" % (COURIER_V, base_s(locked[0][0])))
if os.geteuid() == 0:
    subprocess.run(["chmod", "-R", "a+rwX", env.mail_root], check=True)
    # sessions run as nobody: a list left to root, as after a copy, is unreadable
    os.chmod(os.path.join(ROOT, ".Locked", "courierimapuiddb"), 0o600)

sessions = []
try:
    s = Raw(env, login=U)
    sessions.append(s)
    r = s.cmd("SELECT INBOX")
    t.eq(number(r, b"UIDVALIDITY"), COURIER_V, "INBOX: Courier's UIDVALIDITY")
    t.eq(number(r, b"UIDNEXT"), 9, "INBOX: UIDNEXT past the message Courier never numbered")
    f = flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))
    t.eq(f, {2: ["\\Seen"], 5: ["\\Flagged", "\\Seen"], 7: [], 8: ["\\Answered", "\\Seen"]},
         "INBOX: Courier's UIDs and the flags in the names; the new message gets 8")
    s.cmd("UNSELECT")

    r = s.cmd("SELECT Archive")
    t.eq((number(r, b"UIDVALIDITY"), number(r, b"UIDNEXT")), (COURIER_V - 5, 31),
         "Maildir++ folder: Courier's UIDVALIDITY and next UID")
    t.eq(sorted(flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))), [11, 30],
         "Maildir++ folder: Courier's UIDs, gap included")
    s.cmd("UNSELECT")

    hw = int(open(os.path.join(ROOT, "yubin-uidvalidity")).read().split()[0])
    t.ok(hw >= COURIER_V, "yubin-uidvalidity (%d) at or above the imported %d" % (hw, COURIER_V))

    r = s.cmd("SELECT Broken")
    v = number(r, b"UIDVALIDITY")
    uiddb_mtime = int(os.stat(os.path.join(ROOT, ".Broken", "courierimapuiddb")).st_mtime)
    t.ok(v is not None and v > COURIER_V and v > uiddb_mtime,
         "malformed courierimapuiddb: a fresh UIDVALIDITY (%s) past Courier's and the "
         "file's time" % v, r)
    t.eq(sorted(flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))), [1, 2], "... and fresh UIDs")
    s.cmd("UNSELECT")

    if os.geteuid() == 0:
        r = s.cmd("SELECT Locked")
        t.ok(tagged(r).split()[1:2] == [b"NO"],
             "an unreadable courierimapuiddb: SELECT fails, nothing started afresh", r)
        t.ok(not os.path.exists(os.path.join(ROOT, ".Locked", "yubin-lock")) and
             not os.path.exists(os.path.join(ROOT, ".Locked", "yubin-uidlist")),
             "... and the folder is not marked as looked at")
        os.chmod(os.path.join(ROOT, ".Locked", "courierimapuiddb"), 0o644)
        r = s.cmd("SELECT Locked")
        t.eq((number(r, b"UIDVALIDITY"), number(r, b"UIDNEXT")), (COURIER_V, 4),
             "readable again: Courier's UIDVALIDITY and next UID")
        t.eq(sorted(flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))), [3], "... and its UID")
    else:
        t.skip("an unreadable courierimapuiddb", "needs root (sessions as another user)")
    s.cmd("LOGOUT")
finally:
    close_all(sessions)
t.done()
