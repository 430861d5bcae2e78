#!/usr/bin/env python3
"""Switching from Dovecot keeps what clients know (issue 13). The real
Dovecot imap binary (dovecot-imapd) runs on a pipe in PREAUTH mode with a
private configuration against the user's Maildir: it APPENDs messages with
flags and keywords to INBOX and to a Maildir++ folder, EXPUNGEs some so the
UIDs have gaps, and we note its UIDVALIDITY, UIDNEXT, UIDs and flags. Then
yubin's imap-session opens the same Maildir:
  - SELECT gives Dovecot's UIDVALIDITY and UIDNEXT, UID FETCH FLAGS the same
    UIDs with the same flags and keywords (so no client downloads again);
    a folder looked at first by STATUS is taken over the same way;
  - a message delivered before yubin's first look, and one delivered while
    a session is open, get UIDs from Dovecot's UIDNEXT up;
  - the user's yubin-uidvalidity stays at or above every imported
    UIDVALIDITY; Dovecot's files are left as they were;
  - once yubin has looked, a lost yubin-uidlist starts afresh with a
    greater UIDVALIDITY, never re-reading Dovecot's now stale list;
  - a corrupt dovecot-uidlist gives a fresh, greater UIDVALIDITY and fresh
    UIDs, never Dovecot's UIDVALIDITY with other UIDs.
Courier's courierimapuiddb is checked in t/0476."""
import os
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all  # noqa: E402

t = yubin.TAP()
IMAP = next((p for p in ("/usr/lib/dovecot/imap", "/usr/libexec/dovecot/imap")
             if os.access(p, os.X_OK)), None)
if IMAP is None:
    t.skip("Dovecot on a Maildir", "dovecot-imapd not installed (t/deps.txt)")
    t.done()

env = yubin.CleanEnv()
ROOT = os.geteuid() == 0
RUN_AS = env.settings["run_as"]


def dovecot_conf(user):
    """A private configuration: no services, logs and state in the Env."""
    d = os.path.join(env.dir, "dovecot-" + user.split("@")[0])
    for sub in ("", "run", "state"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), 0o777)
    log = os.path.join(d, "dovecot.log")
    open(log, "a").close()
    os.chmod(log, 0o666)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("base_dir = %s/run\nstate_dir = %s/state\nlog_path = %s\n"
                "instance_name = yubin-t0475-%d\nssl = no\nprotocols = imap\n"
                "mail_location = maildir:%s\n"
                % (d, d, log, os.getpid(), env.maildir(user)))
    os.chmod(conf, 0o644)
    return conf, log


class Dovecot:
    """Dovecot's imap on pipes, as the user sessions run as (PREAUTH)."""

    def __init__(self, user):
        self.conf, self.log = dovecot_conf(user)
        argv = [IMAP, "-c", self.conf]
        if ROOT:
            import pwd
            pw = pwd.getpwnam(RUN_AS)
            argv = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                    "--clear-groups"] + argv
        e = {"USER": user, "HOME": env.dir, "PATH": "/usr/bin:/bin"}
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e)
        self.buf = b""
        self.n = 0
        g = self.line()
        assert b"PREAUTH" in g, (g, open(self.log, "rb").read())

    def line(self, timeout=30):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            r = select.select([self.p.stdout], [], [], max(left, 0))[0] if left > 0 else []
            if not r:
                raise TimeoutError("Dovecot: no line; have %r; log %r"
                                   % (self.buf, open(self.log, "rb").read()))
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("Dovecot closed: %r %r" % (self.buf, self.p.stderr.read()))
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def cmd(self, data):
        self.n += 1
        tag = b"d%d" % self.n
        self.p.stdin.write(tag + b" " + data + b"\r\n")
        self.p.stdin.flush()
        out = b""
        while True:
            ln = self.line()
            out += ln
            if ln.startswith(tag + b" "):
                assert ln.split()[1] == b"OK", out
                return out

    def append(self, box, flags, data):
        return self.cmd(b"APPEND %s (%s) {%d+}\r\n%s" % (box, flags, len(data), data))

    def close(self):
        self.cmd(b"LOGOUT")
        self.p.stdin.close()
        self.p.wait(30)
        self.p.stdout.close()
        self.p.stderr.close()


def message(i):
    return b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody of %d\r\n" % (i, i)


def number(resp, what):
    m = re.search(rb"\[%s (\d+)\]" % what, resp)
    return int(m.group(1)) if m else None


def flags_by_uid(resp):
    """{uid: set of flags} of a FETCH (UID FLAGS) response, \\Recent left out
    (it is per session, never carried over)."""
    out = {}
    for m in re.finditer(rb"\* \d+ FETCH \(([^\r\n]*)\)\r\n", resp):
        body = m.group(1)
        uid = int(re.search(rb"UID (\d+)", body).group(1))
        fl = re.search(rb"FLAGS \(([^)]*)\)", body).group(1).split()
        out[uid] = set(x.decode() for x in fl if x.lower() != b"\\recent")
    return out


def dovecot_state(dc, box):
    r = dc.cmd(b"SELECT " + box)
    f = dc.cmd(b"FETCH 1:* (UID FLAGS)")
    dc.cmd(b"UNSELECT")
    return number(r, b"UIDVALIDITY"), number(r, b"UIDNEXT"), flags_by_uid(f)


def folder_dir(user, box):
    return env.maildir(user) if box == b"INBOX" else \
        os.path.join(env.maildir(user), "." + box.decode())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def deliver(user, i):
    """A delivery through smtp-session (into new/)."""
    out = env.run("smtp-session",
                  b"EHLO c.example.org\r\nMAIL FROM:<bob@example.org>\r\n"
                  b"RCPT TO:<%s>\r\nDATA\r\n%s.\r\nQUIT\r\n" % (user.encode(), message(i)))
    replies = yubin.smtp_replies(out.stdout)
    assert len(replies) >= 6 and replies[5].startswith(b"250"), out.stdout


U = "alice@example.org"
for d in (os.path.dirname(env.maildir(U)),):
    os.makedirs(d, exist_ok=True)
    if ROOT:
        os.chmod(d, 0o777)

# ---- Dovecot writes the Maildir ----
dc = Dovecot(U)
dc.cmd(b"CREATE Work")
dc.append(b"INBOX", b"\\Seen", message(1))
dc.append(b"INBOX", b"\\Flagged $Label1", message(2))
dc.append(b"INBOX", b"$Label1 NonJunk", message(3))
dc.append(b"INBOX", b"\\Answered \\Seen Work-Item", message(4))
dc.append(b"INBOX", b"", message(5))
dc.append(b"INBOX", b"\\Draft", message(6))
dc.cmd(b"SELECT INBOX")
dc.cmd(b"UID STORE 2,6 +FLAGS.SILENT (\\Deleted)")
dc.cmd(b"EXPUNGE")
dc.cmd(b"UNSELECT")
dc.append(b"Work", b"\\Seen Urgent", message(7))
dc.append(b"Work", b"", message(8))
dc.append(b"Work", b"Later $Label1", message(9))
dc.cmd(b"SELECT Work")
dc.cmd(b"UID STORE 1 +FLAGS.SILENT (\\Deleted)")
dc.cmd(b"EXPUNGE")
dc.cmd(b"UNSELECT")
inbox_v, inbox_next, inbox_flags = dovecot_state(dc, b"INBOX")
work_v, work_next, work_flags = dovecot_state(dc, b"Work")
dc.close()
t.diag("Dovecot INBOX: UIDVALIDITY %s UIDNEXT %s %r" % (inbox_v, inbox_next, inbox_flags))
t.diag("Dovecot Work: UIDVALIDITY %s UIDNEXT %s %r" % (work_v, work_next, work_flags))
t.eq(sorted(inbox_flags), [1, 3, 4, 5], "Dovecot's INBOX has a UID gap (2 expunged)")
t.eq(inbox_next, 7, "Dovecot's INBOX UIDNEXT is past the expunged last message")
t.ok("$Label1" in inbox_flags[3] and "NonJunk" in inbox_flags[3], "Dovecot kept keywords")
inbox_dir, work_dir = folder_dir(U, b"INBOX"), folder_dir(U, b"Work")
t.ok(os.path.exists(os.path.join(inbox_dir, "dovecot-uidlist")) and
     os.path.exists(os.path.join(inbox_dir, "dovecot-keywords")),
     "Dovecot wrote dovecot-uidlist and dovecot-keywords")
t.diag(read(os.path.join(inbox_dir, "dovecot-uidlist")).decode(errors="replace"))
dovecot_files = {p: read(p) for d in (inbox_dir, work_dir)
                 for p in (os.path.join(d, "dovecot-uidlist"), os.path.join(d, "dovecot-keywords"))}

# a delivery before yubin's first look: a message Dovecot never numbered
deliver(U, 10)

sessions = []
try:
    s = Raw(env, login=U)
    sessions.append(s)
    # ---- a folder first seen through STATUS ----
    st = s.cmd("STATUS Work (UIDVALIDITY UIDNEXT MESSAGES)")
    t.contains(st, b"UIDVALIDITY %d" % work_v, "STATUS of a Dovecot folder: its UIDVALIDITY")
    t.contains(st, b"UIDNEXT %d" % work_next, "STATUS: Dovecot's UIDNEXT")
    r = s.cmd("SELECT Work")
    t.eq(number(r, b"UIDVALIDITY"), work_v, "Work: SELECT gives Dovecot's UIDVALIDITY")
    t.eq(number(r, b"UIDNEXT"), work_next, "Work: Dovecot's UIDNEXT")
    f = flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))
    t.eq(f, work_flags, "Work: same UIDs with the same flags and keywords")
    s.cmd("UNSELECT")

    # ---- INBOX ----
    r = s.cmd("SELECT INBOX")
    t.eq(number(r, b"UIDVALIDITY"), inbox_v, "INBOX: SELECT gives Dovecot's UIDVALIDITY")
    t.contains(r, b"* 5 EXISTS", "INBOX: Dovecot's four messages and the new delivery")
    for kw in (b"$Label1", b"NonJunk", b"Work-Item"):
        t.ok(re.search(rb"\* FLAGS \([^)]*" + re.escape(kw), r) is not None,
             "INBOX: keyword %s announced" % kw.decode(), r)
    f = flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))
    old = {u: fl for u, fl in f.items() if u < inbox_next}
    new = [u for u in f if u >= inbox_next]
    t.eq(old, inbox_flags, "INBOX: same UIDs with the same flags and keywords")
    t.eq(new, [inbox_next], "the delivery before the first look: UID = Dovecot's UIDNEXT")
    t.eq(number(r, b"UIDNEXT"), inbox_next + 1, "INBOX: UIDNEXT past it")

    deliver(U, 11)
    r = s.cmd("NOOP")
    t.contains(r, b"* 6 EXISTS", "a delivery during the session shows")
    f = flags_by_uid(s.cmd("UID FETCH %d:* (FLAGS)" % (inbox_next + 1)))
    t.eq(sorted(f), [inbox_next + 1], "... with the next UID")
    s.cmd("UNSELECT")

    hw = int(read(os.path.join(env.maildir(U), "yubin-uidvalidity")).split()[0])
    t.ok(hw >= max(inbox_v, work_v), "yubin-uidvalidity (%d) is at or above every imported "
         "UIDVALIDITY (%d, %d)" % (hw, inbox_v, work_v))
    t.ok(all(read(p) == data for p, data in dovecot_files.items()),
         "Dovecot's own files are left as they were")

    # ---- yubin's list lost after the switch: never the stale Dovecot list again ----
    os.unlink(os.path.join(inbox_dir, "yubin-uidlist"))
    r = s.cmd("SELECT INBOX")
    v = number(r, b"UIDVALIDITY")
    t.ok(v is not None and v > max(inbox_v, hw), "lost yubin-uidlist: a greater UIDVALIDITY "
         "(%s > %d), not Dovecot's stale list" % (v, inbox_v), r)
    f = flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))
    t.eq(sorted(f), [1, 2, 3, 4, 5, 6], "... with fresh UIDs")
    s.cmd("LOGOUT")
finally:
    close_all(sessions)

# ---- a corrupt dovecot-uidlist: fresh UIDVALIDITY, never wrong UIDs ----
B = "bob@example.org"
os.makedirs(os.path.dirname(env.maildir(B)), exist_ok=True)
dc = Dovecot(B)
for i, fl in ((1, b"\\Seen"), (2, b""), (3, b"$Label1")):
    dc.append(b"INBOX", fl, message(i))
dc.cmd(b"SELECT INBOX")
dc.cmd(b"UID STORE 1 +FLAGS.SILENT (\\Deleted)")
dc.cmd(b"EXPUNGE")
dc.cmd(b"UNSELECT")
bob_v, bob_next, bob_flags = dovecot_state(dc, b"INBOX")
dc.close()
t.eq(sorted(bob_flags), [2, 3], "bob's Dovecot INBOX: UIDs 2 and 3")
path = os.path.join(env.maildir(B), "dovecot-uidlist")
lines = read(path).split(b"\n")
# the records out of order: Dovecot's own reader calls this broken too
lines[1:-1] = lines[1:-1][::-1] if len(lines) > 3 else lines[1:-1] + [b"1 :x"]
with open(path, "wb") as fh:
    fh.write(b"\n".join(lines))
sessions = []
try:
    s = Raw(env, login=B)
    sessions.append(s)
    r = s.cmd("SELECT INBOX")
    v = number(r, b"UIDVALIDITY")
    t.ok(v is not None and v > bob_v, "corrupt dovecot-uidlist: a fresh UIDVALIDITY greater "
         "than Dovecot's (%s > %d)" % (v, bob_v), r)
    f = flags_by_uid(s.cmd("UID FETCH 1:* (FLAGS)"))
    t.eq(sorted(f), [1, 2], "... and fresh UIDs")
    t.ok(any("$Label1" in x for x in f.values()), "... flags and keywords still on the messages")
    s.cmd("LOGOUT")
finally:
    close_all(sessions)
t.done()
