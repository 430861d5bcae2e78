#!/usr/bin/env python3
"""imap-session with mailbox_format = mbox: INBOX is mail_root/d/u/INBOX.
SELECT, FETCH (>From unquoted, our headers hidden, CRLF sizes), STORE
(kept in the UID index beside the file until EXPUNGE rewrites it, then as
Status/X-Status/X-Keywords in the file), SEARCH, EXPUNGE and APPEND
rewrite or append under the delivery lock (SELECT writes only the UID
index beside the file); UIDs in X-UID/X-IMAPbase or the index stay
the same across sessions; a delivery by smtp-session during a session
shows up on NOOP and in IDLE; a forged X-UID in a delivered message is
not trusted; other folders answer NO (covers S64, S66)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, check_syntax, tagged  # noqa: E402

USER = "alice@example.org"
t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
INBOX = os.path.join(env.maildir(USER), "INBOX")

M = [
    b"From alice@example.com Thu Nov 27 10:00:00 2026\n"
    b"Subject: m1\nFrom: a@example.com\nStatus: RO\n\nbody one\n>From quoted\n>>From twice\n\n",
    b"From bob@example.com Thu Nov 27 10:01:00 2026\n"
    b"Subject: m2 zebra\nFrom: b@example.com\n\ntwo\n\n",
    b"From carol@example.com Thu Nov 27 10:02:00 2026\n"
    b"Subject: m3\nFrom: c@example.com\n\nthree\n\n",
]


def inbox():
    with open(INBOX, "rb") as f:
        return f.read()


def smtp(subject, extra=b""):
    return env.run("smtp-session",
                   b"EHLO x\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.org>\r\n"
                   b"DATA\r\n" + extra + b"Subject: " + subject + b"\r\n\r\nhello\r\n.\r\nQUIT\r\n")


def uids(r):
    return [int(x) for x in re.findall(rb"UID (\d+)", r)]


def status_items(r):
    m = re.search(rb"UIDVALIDITY (\d+)", r)
    n = re.search(rb"UIDNEXT (\d+)", r)
    return (int(m.group(1)) if m else None, int(n.group(1)) if n else None)


sessions = []
try:
    os.makedirs(os.path.dirname(INBOX), exist_ok=True)
    with open(INBOX, "wb") as f:
        f.write(b"".join(M))
    # what pop3-session leaves in the directory
    open(os.path.join(os.path.dirname(INBOX), ".pop3.sizes"), "w").close()
    env.write_conf()

    a = Raw(env, login=USER)
    sessions.append(a)
    r = a.cmd("SELECT INBOX")
    t.ok(b"* 3 EXISTS" in r and tagged(r).endswith(b"OK [READ-WRITE] SELECT completed"),
         "SELECT INBOX of an mbox: 3 messages", r)
    validity, nxt = status_items(r)
    t.eq(nxt, 4, "UIDNEXT 4")
    data = inbox()
    t.ok(data == b"".join(M) and
         os.path.exists(os.path.join(os.path.dirname(INBOX), ".INBOX.yubin-uids")),
         "SELECT leaves the file as it was: the UIDs are in the index beside it", data[:400])
    t.ok(data.count(b"\nFrom ") + data.startswith(b"From ") == 3 and
         b">From quoted\n>>From twice\n" in data, "the file is still mboxrd with 3 messages",
         data)

    r = a.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])")
    check_syntax(r)
    t.eq(uids(r), [1, 2, 3], "UIDs 1 2 3")
    lits = re.findall(rb"RFC822\.SIZE (\d+) BODY\[\] \{(\d+)\}\r\n", r)
    t.ok(len(lits) == 3 and all(x == y for x, y in lits), "RFC822.SIZE equals the BODY[] size",
         r)
    t.ok(b"body one\r\nFrom quoted\r\n>From twice\r\n" in r, "one level of >From unquoted", r)
    t.ok(b"X-UID" not in r and b"Status:" not in r and b"X-IMAPbase" not in r,
         "X-UID, Status and X-IMAPbase hidden from FETCH", r)
    t.ok(re.search(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen\)", r) is not None,
         "Status: R is \\Seen", r)

    unstored = inbox()
    r = a.cmd("STORE 2 +FLAGS (\\Flagged $Forwarded)")
    # no Status: O in the file: \Recent for the first session
    t.ok(b"* 2 FETCH (FLAGS (\\Flagged \\Recent $Forwarded))" in r and
         tagged(r).endswith(b"OK STORE completed"), "STORE +FLAGS", r)
    with open(os.path.join(os.path.dirname(INBOX), ".INBOX.yubin-uids"), "rb") as f:
        index = f.read()
    t.ok(inbox() == unstored and re.search(rb"(?m)^2 [0-9a-f]{16} \d+ \d+ \$Forwarded$", index),
         "STORE leaves the file as it was: the flags wait in the index", index)
    r = a.cmd("SEARCH FLAGGED")
    t.ok(b"* SEARCH 2\r\n" in r, "SEARCH FLAGGED", r)
    r = a.cmd("SEARCH SUBJECT zebra")
    t.ok(b"* SEARCH 2\r\n" in r, "SEARCH SUBJECT", r)
    r = a.cmd("UID SEARCH UNSEEN")
    t.ok(b"* SEARCH 2 3\r\n" in r, "UID SEARCH UNSEEN", r)
    r = a.cmd("FETCH 3 (BODY[TEXT])")
    t.ok(b"\\Seen" in r and b"three" in r, "BODY[] without PEEK sets \\Seen", r)
    t.ok(inbox() == unstored, "\\Seen waits in the index too")

    # a second session sees the same UIDs and the flags; then a change
    b = Raw(env, login=USER)
    sessions.append(b)
    r = b.cmd("SELECT INBOX")
    t.eq(status_items(r), (validity, 4), "second session: same UIDVALIDITY and UIDNEXT")
    r = b.cmd("FETCH 1:* (UID FLAGS)")
    t.ok(uids(r) == [1, 2, 3] and b"(\\Flagged $Forwarded)" in r,
         "second session: same UIDs, flags from the file", r)
    b.cmd("STORE 1 +FLAGS (\\Answered)")
    time.sleep(0.05)
    r = a.cmd("NOOP")
    t.ok(b"* 1 FETCH (FLAGS (\\Answered \\Seen))" in r, "another session's flag change on NOOP", r)

    # delivery during the session, with a forged X-UID
    if os.path.exists(yubin.binary("smtp-session")):
        out = smtp(b"via smtp", extra=b"X-UID: 2\r\nX-IMAPbase: 1 99\r\nStatus: RO\r\n"
                   b"X-Status: DF\r\nX-Keywords: $Junk\r\n")
        t.ok(b"250" in out.stdout, "smtp-session delivers to the mbox", out.stdout[-300:])
        r = a.cmd("NOOP")
        t.ok(b"* 4 EXISTS" in r, "a delivery during the session appears on NOOP", r)
        r = a.cmd("FETCH 4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        t.ok(b"UID 4 " in r and b"via smtp" in r, "the delivered message gets UID 4, "
             "not its forged X-UID", r)
        t.ok(b"FLAGS (\\Recent)" in r, "a sender's Status/X-Status/X-Keywords are not "
             "taken as flags", r)
        a.send(b"i1 IDLE\r\n")
        a.s.readline()
        smtp(b"during idle")
        line = a.s.readline(timeout=30)
        t.ok(line == b"* 5 EXISTS\r\n", "IDLE reports a delivery to the mbox", line)
        a.send(b"DONE\r\n")
        a.read_response("i1")
    else:
        # same checks with a delivery written as lib/mbox.c does
        t.ok(False, "smtp-session is built")

    # EXPUNGE
    r = a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = a.cmd("EXPUNGE")
    t.ok(b"* 2 EXPUNGE" in r and tagged(r).endswith(b"OK EXPUNGE completed"), "EXPUNGE", r)
    data = inbox()
    t.ok(b"Subject: m2" not in data and data.count(b"X-UID: ") == 4,
         "the expunged message is gone from the file, the others stay", data)
    m3 = data[data.index(b"Subject: m3"):]
    t.ok(b"Status: RO\n" in m3[:m3.index(b"\n\n")],
         "the rewrite writes the flags the index kept: \\Seen as Status: R", m3[:200])
    r = b.cmd("NOOP")
    t.ok(b"* 2 EXPUNGE" in r, "the other session gets the EXPUNGE", r)
    r = b.cmd("UID FETCH 1:* (UID)")
    t.eq(uids(r), [1, 3, 4, 5], "UIDs after EXPUNGE: 1 3 4 5")

    # APPEND
    msg = b"Subject: appended\r\nFrom: x@example.com\r\nX-UID: 1\r\n\r\nFrom the start\r\n"
    r = a.cmd(b"APPEND INBOX (\\Seen $Junk) {%d+}\r\n" % len(msg) + msg)
    t.ok(b"[APPENDUID %d 6]" % validity in r, "APPEND: APPENDUID with UID 6", r)
    r += a.cmd("NOOP")
    t.ok(r.count(b"* 5 EXISTS") == 1, "the appended message is seen once", r)
    r = a.cmd("UID FETCH 6 (FLAGS BODY.PEEK[])")
    t.ok(b"\\Seen" in r and b"$Junk" in r and b"\r\n\r\nFrom the start\r\n" in r,
         "appended message: flags and content (From_ quoting undone)", r)
    t.ok(b"X-UID" not in r, "the client's X-UID is not kept", r)
    t.ok(b"\n>From the start\n" in inbox(), "body From line quoted in the file")

    # other folders, LIST, STATUS
    r = a.cmd('LIST "" "*"')
    names = re.findall(rb'\* LIST \([^)]*\) "/" ([^\r]*)', r)
    t.eq(sorted(names), [b"Archive", b"Drafts", b"INBOX", b"Junk", b"Sent", b"Trash"],
         "LIST: INBOX and the special-use mbox files (no dotfiles, no yubin files)")
    t.ok(os.path.isfile(os.path.join(os.path.dirname(INBOX), "Sent")),
         "special-use folders are mbox files beside INBOX")
    r = b.cmd("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)")
    t.ok(b"MESSAGES 5" in r and b"UIDNEXT 7" in r and b"UIDVALIDITY %d" % validity in r,
         "STATUS INBOX", r)
    r = a.cmd("LOGOUT")

    # a fresh session: everything stable
    c = Raw(env, login=USER)
    sessions.append(c)
    r = c.cmd("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)")
    t.ok(b"MESSAGES 5" in r and b"UIDNEXT 7" in r, "STATUS without SELECT", r)
    r = c.cmd("EXAMINE INBOX")
    t.eq(status_items(r), (validity, 7), "UIDVALIDITY and UIDNEXT survive the sessions")
    r = c.cmd("FETCH 1:* (UID FLAGS)")
    t.eq(uids(r), [1, 3, 4, 5, 6], "UIDs survive the sessions")
    # pop3-session still reads the rewritten mbox
    if os.path.exists(yubin.binary("pop3-session")):
        out = env.run("pop3-session", b"USER alice@example.org\r\nPASS secret-pw\r\nSTAT\r\n"
                      b"QUIT\r\n")
        t.ok(b"+OK 5 " in out.stdout, "pop3-session counts the same 5 messages", out.stdout)
        # pop3-session removes by renaming a new file over the INBOX (a new
        # inode): this session's offsets are into the old one; the content
        # must still be right
        ino = os.stat(INBOX).st_ino
        out = env.run("pop3-session", b"USER alice@example.org\r\nPASS secret-pw\r\nDELE 1\r\n"
                      b"QUIT\r\n")
        t.ok(out.stdout.count(b"+OK") >= 4 and os.stat(INBOX).st_ino != ino,
             "pop3-session deletes message 1 (a new file renamed over the INBOX)", out.stdout)
        r = c.cmd("FETCH 5 (UID BODY.PEEK[TEXT])")
        t.ok(b"UID 6 " in r and b"From the start\r\n" in r, "after an in-place rewrite FETCH "
             "still returns the right message", r)
        r = c.cmd("NOOP")
        t.ok(b"* 1 EXPUNGE" in r, "the POP3 deletion is an EXPUNGE", r)
        r = c.cmd("FETCH 1:* (UID)")
        t.eq(uids(r), [3, 4, 5, 6], "UIDs after the POP3 deletion")

    # every message expunged: UIDs are still not reused
    c.cmd("CLOSE")
    r = c.cmd("SELECT INBOX")
    c.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("CLOSE")
    t.ok(tagged(r).endswith(b"OK CLOSE completed") and b"X-UID" not in inbox(),
         "CLOSE expunges every message", inbox())
    # X-UID 6 was handed out and expunged: a delivery carrying it must not
    # get it back (a client may still hold UID 6's old content)
    smtp(b"after all", extra=b"X-UID: 6\r\n")
    r = c.cmd("SELECT INBOX")
    t.eq(status_items(r), (validity, 8), "emptied mbox: same UIDVALIDITY, UIDNEXT goes on")
    r = c.cmd("FETCH 1 (UID)")
    t.eq(uids(r), [7], "the next message gets UID 7")

    # other folders: mbox files beside INBOX
    r = c.cmd("CREATE Projects/2026")
    t.ok(tagged(r).endswith(b"OK CREATE completed") and
         os.path.isfile(os.path.join(os.path.dirname(INBOX), "Projects.2026")),
         "CREATE Projects/2026 makes the mbox file Projects.2026", r)
    r = c.cmd("CREATE subscriptions")
    t.ok(b" NO " in tagged(r), "a name that is one of yubin's files is refused", r)
    r = c.cmd("CREATE Sent")
    t.ok(b"NO [ALREADYEXISTS]" in tagged(r), "CREATE of an existing folder", r)
    r = c.cmd("COPY 1 Projects/2026")
    t.ok(re.search(rb"OK \[COPYUID \d+ 7 1\] COPY completed", tagged(r)) is not None,
         "COPY to another mbox folder with COPYUID", r)
    msg = b"Subject: sent one\r\n\r\nbody\r\n"
    r = c.cmd(b"APPEND Sent (\\Seen) {%d+}\r\n" % len(msg) + msg)
    t.ok(re.search(rb"OK \[APPENDUID \d+ 1\]", r) is not None, "APPEND to Sent", r)
    r = c.cmd("APPEND Nowhere {1+}\r\nx")
    t.ok(b"NO [TRYCREATE]" in tagged(r), "APPEND to a missing folder: TRYCREATE", r)
    r = c.cmd("STATUS Sent (MESSAGES UNSEEN)")
    t.ok(b"MESSAGES 1 UNSEEN 0" in r, "STATUS of Sent", r)
    r = c.cmd("MOVE 1 Archive")
    t.ok(b"[COPYUID " in r and b"* 1 EXPUNGE" in r and tagged(r).endswith(b"OK MOVE completed"),
         "MOVE to Archive", r)
    t.ok(b"X-UID" not in inbox(), "the moved message left INBOX")
    r = c.cmd("SELECT Projects/2026")
    t.ok(b"* 1 EXISTS" in r, "SELECT Projects/2026", r)
    r = c.cmd("FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.ok(b"UID 1 " in r and b"after all" in r, "the copy is there", r)
    r = c.cmd("RENAME Projects Old")
    t.ok(tagged(r).endswith(b"OK RENAME completed") and
         os.path.isfile(os.path.join(os.path.dirname(INBOX), "Old.2026")),
         "RENAME moves children: Projects.2026 becomes Old.2026", r)
    r = c.cmd('LIST "" "Old/*"')
    t.ok(b'"/" Old/2026\r\n' in r, "LIST finds Old/2026", r)
    r = c.cmd("DELETE Old/2026")
    t.ok(tagged(r).endswith(b"OK DELETE completed") and
         not os.path.exists(os.path.join(os.path.dirname(INBOX), "Old.2026")), "DELETE", r)
    r = c.cmd("SELECT Old/2026")
    t.ok(b"NO [NONEXISTENT]" in tagged(r), "a deleted folder cannot be selected", r)
    # RENAME INBOX: its messages go, INBOX stays with its UIDVALIDITY
    smtp(b"before rename")
    r = c.cmd("RENAME INBOX Saved")
    t.ok(tagged(r).endswith(b"OK RENAME completed"), "RENAME INBOX", r)
    r = c.cmd("STATUS Saved (MESSAGES)")
    t.ok(b"MESSAGES 1" in r, "the renamed folder holds INBOX's message", r)
    smtp(b"after rename")
    r = c.cmd("SELECT INBOX")
    v, nx = status_items(r)
    # 8 was never handed out: "before rename" got no UID in INBOX
    t.ok(b"* 1 EXISTS" in r and v == validity and nx == 9,
         "the new INBOX keeps UIDVALIDITY and UIDs go on", r)
finally:
    for s in sessions:
        s.close()
    env.cleanup()
t.done()
