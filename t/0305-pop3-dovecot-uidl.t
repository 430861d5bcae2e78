#!/usr/bin/env python3
"""Switching from Dovecot keeps what POP3 clients know (issue 13). The real
Dovecot writes a Maildir (its imap binary APPENDs on a pipe in PREAUTH mode
with a private configuration, as t/0475 does) and its own pop3 binary gives
the UIDLs its POP3 clients know (default pop3_uidl_format %08Xu%08Xv). Then
yubin's pop3-session on the same Maildir:
  - first login through POP3 (yubin never looked): the same UIDL for every
    message Dovecot had; a message delivered before and one delivered after
    get UIDLs of the same scheme from yubin's UIDs (Dovecot's UIDNEXT up),
    distinct and stable across sessions; IMAP then sees Dovecot's
    UIDVALIDITY and the same UIDs (one takeover for both);
  - IMAP looked first: POP3 still answers Dovecot's UIDLs;
  - a Maildir yubin's POP3 already served (its .pop3.lock there) keeps the
    file-name UIDLs its clients know, even once IMAP takes Dovecot's UIDs;
  - an ordinary yubin Maildir keeps its file-name UIDLs, also after IMAP.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, close_all  # noqa: E402

t = yubin.TAP()
BINS = {p: next((d + p for d in ("/usr/lib/dovecot/", "/usr/libexec/dovecot/")
                 if os.access(d + p, os.X_OK)), None) for p in ("imap", "pop3")}
if None in BINS.values():
    t.skip("Dovecot's POP3 UIDLs", "dovecot-imapd or dovecot-pop3d not installed (t/deps.txt)")
    t.done()

env = yubin.CleanEnv(conf={"auth_fail_delay_ms": "10"})
ROOT = os.geteuid() == 0
RUN_AS = env.settings["run_as"]
PASS = yubin.DEMO_PASSWORD.encode()


def dovecot(user, prog, data):
    """Dovecot's imap or pop3 on pipes, PREAUTH, as the sessions' user."""
    d = os.path.join(env.dir, "dovecot-" + user.split("@")[0])
    for sub in ("", "run", "state"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), 0o777)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("base_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/log\n"
                "instance_name = yubin-t0305-%d\nssl = no\nprotocols = imap pop3\n"
                "mail_location = maildir:%s\n" % (d, d, d, os.getpid(), env.maildir(user)))
    os.chmod(conf, 0o644)
    argv = [BINS[prog], "-c", conf]
    if ROOT:
        import pwd
        pw = pwd.getpwnam(RUN_AS)
        argv = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                "--clear-groups"] + argv
    e = {"USER": user, "HOME": env.dir, "PATH": "/usr/bin:/bin"}
    p = subprocess.run(argv, input=data, capture_output=True, env=e, timeout=60)
    return p.stdout


def message(i):
    return b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody of %d\r\n" % (i, i)


def dovecot_write(user, n, expunge):
    """n messages APPENDed by Dovecot's imap, then UIDs in expunge removed."""
    os.makedirs(os.path.dirname(env.maildir(user)), exist_ok=True)
    if ROOT:
        os.chmod(os.path.dirname(env.maildir(user)), 0o777)
    cmds = b""
    for i in range(1, n + 1):
        m = message(i)
        cmds += b"a%d APPEND INBOX () {%d+}\r\n%s\r\n" % (i, len(m), m)
    cmds += b"s SELECT INBOX\r\nx UID STORE %s +FLAGS.SILENT (\\Deleted)\r\ne EXPUNGE\r\n" \
        b"z LOGOUT\r\n" % expunge
    out = dovecot(user, "imap", cmds)
    t.ok(b"z OK" in out and b"e OK" in out, "Dovecot wrote %s's Maildir" % user, out)


def pop3_answers(out, skip, count):
    """The UIDL listing and the Subject of each message (TOP n 0) from a
    session's output: skip single-line replies first, then UIDL, then count
    TOPs. {subject: uidl}."""
    lines = out.split(b"\r\n")
    i = skip
    assert lines[i].startswith(b"+OK"), out
    i += 1
    uidl = {}
    while lines[i] != b".":
        n, u = lines[i].split(b" ")
        uidl[int(n)] = u.decode()
        i += 1
    i += 1
    got = {}
    for _ in range(count):
        assert lines[i].startswith(b"+OK"), out
        i += 1
        subj = None
        while lines[i] != b".":
            if lines[i].startswith(b"Subject: "):
                subj = lines[i][9:].decode()
            i += 1
        i += 1
        got[subj] = None
    return uidl, list(got)


def pop3_view(user, yubin_side):
    """{subject: uidl} of user's maildrop through Dovecot's or yubin's POP3."""
    login = b"USER %s\r\nPASS %s\r\n" % (user.encode(), PASS) if yubin_side else b""
    skip = 3 if yubin_side else 0

    def run(data):
        if yubin_side:
            return env.run("pop3-session", login + data).stdout
        return dovecot(user, "pop3", data)
    out = run(b"UIDL\r\nQUIT\r\n")
    uidl, _ = pop3_answers(out, skip, 0)
    tops = b"".join(b"TOP %d 0\r\n" % n for n in sorted(uidl))
    out = run(b"UIDL\r\n" + tops + b"QUIT\r\n")
    uidl, subjects = pop3_answers(out, skip, len(uidl))
    return {s: uidl[n + 1] for n, s in enumerate(subjects)}


def deliver(user, i):
    out = env.run("smtp-session",
                  b"EHLO c.example.org\r\nMAIL FROM:<bob@example.org>\r\n"
                  b"RCPT TO:<%s>\r\nDATA\r\n%s.\r\nQUIT\r\n" % (user.encode(), message(i)))
    replies = yubin.smtp_replies(out.stdout)
    assert len(replies) >= 6 and replies[5].startswith(b"250"), out.stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


def dovecot_uidl(uid, validity):
    return "%08x%08x" % (uid, validity)


def imap_uids(user):
    """UIDVALIDITY and {subject: uid} through yubin's IMAP."""
    sessions = []
    try:
        s = Raw(env, login=user)
        sessions.append(s)
        r = s.cmd("SELECT INBOX")
        v = int(re.search(rb"\[UIDVALIDITY (\d+)\]", r).group(1))
        f = s.cmd("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        uids = {m.group(2).decode(): int(m.group(1)) for m in
                re.finditer(rb"UID (\d+) BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}\r\n"
                            rb"Subject: (\S+)", f)}
        s.cmd("LOGOUT")
        return v, uids
    finally:
        close_all(sessions)


# ---- first login through POP3 ----
A = "alice@example.org"
dovecot_write(A, 4, b"2")
dc = pop3_view(A, False)
t.diag("Dovecot's POP3 UIDLs: %r" % dc)
t.eq(sorted(dc), ["m1", "m3", "m4"], "Dovecot's POP3 lists its three messages")
t.ok(all(re.fullmatch(r"[0-9a-f]{16}", u) for u in dc.values()),
     "Dovecot's UIDLs are %08Xu%08Xv (lower-case hex)")
validity = int(dc["m1"][8:], 16)
adir = env.maildir(A)
dovecot_files = {n: read(os.path.join(adir, n)) for n in ("dovecot-uidlist",)}
t.ok(not os.path.exists(os.path.join(adir, "yubin-lock")), "yubin never looked at it")
deliver(A, 5)   # before yubin's first look: a message Dovecot never numbered

y1 = pop3_view(A, True)
t.diag("yubin's POP3 UIDLs: %r" % y1)
t.eq({s: y1.get(s) for s in dc}, dc, "first POP3 login: Dovecot's UIDL for every message it had")
t.eq(y1.get("m5"), dovecot_uidl(5, validity),
     "the delivery before the first look: the same scheme, Dovecot's UIDNEXT")
t.eq(read(os.path.join(adir, "yubin-pop3-uidl")), b"dovecot\n", "the scheme is recorded")
t.ok(all(read(os.path.join(adir, n)) == d for n, d in dovecot_files.items()),
     "Dovecot's files are left as they were")
deliver(A, 6)
y2 = pop3_view(A, True)
t.eq({s: y2.get(s) for s in y1}, y1, "second session: the same UIDLs")
t.eq(y2.get("m6"), dovecot_uidl(6, validity), "a new delivery: the next UID, same scheme")
t.eq(len(set(y2.values())), len(y2), "every UIDL distinct")
y3 = pop3_view(A, True)
t.eq(y3, y2, "third session: stable")
v, uids = imap_uids(A)
t.eq(v, validity, "IMAP after POP3's takeover: Dovecot's UIDVALIDITY")
t.eq({s: dovecot_uidl(u, v) for s, u in uids.items()}, y3,
     "... and the UIDs the UIDLs are made of")

# ---- IMAP looked first ----
B = "bob@example.org"
dovecot_write(B, 3, b"1")
dc = pop3_view(B, False)
t.eq(sorted(dc), ["m2", "m3"], "bob: Dovecot's POP3 lists two messages")
v, uids = imap_uids(B)
t.eq(v, int(dc["m2"][8:], 16), "bob: IMAP took Dovecot's UIDVALIDITY")
t.eq(pop3_view(B, True), dc, "IMAP first, then POP3: Dovecot's UIDLs")

# ---- served by yubin's POP3 before: its clients know file-name UIDLs ----
D = "demo@localhost"
dovecot_write(D, 2, b"1")
ddir = env.maildir(D)
open(os.path.join(ddir, ".pop3.lock"), "w").close()
if ROOT:
    os.chmod(os.path.join(ddir, ".pop3.lock"), 0o666)
names = {}
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(ddir, sub)):
        names[re.search(rb"Subject: (\S+)", read(os.path.join(ddir, sub, n))).group(1).decode()] \
            = re.split(r"[,:]", n)[0]
t.eq(pop3_view(D, True), names, "a Maildir yubin's POP3 served: file-name UIDLs kept")
v, _ = imap_uids(D)
t.eq(v, int(pop3_view(D, False)["m2"][8:], 16), "... IMAP still takes Dovecot's UIDs")
t.eq(pop3_view(D, True), names, "... and POP3 keeps the file-name UIDLs after that")
t.ok(not os.path.exists(os.path.join(ddir, "yubin-pop3-uidl")), "... no scheme recorded")

# ---- an ordinary yubin Maildir ----
C = "carol@example.org"
for i in (1, 2):
    deliver(C, i)
cdir = env.maildir(C)
names = {}
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(cdir, sub)):
        names[re.search(rb"Subject: (\S+)", read(os.path.join(cdir, sub, n))).group(1).decode()] \
            = re.split(r"[,:]", n)[0]
t.eq(pop3_view(C, True), names, "an ordinary yubin Maildir: file-name UIDLs")
t.ok(not os.path.exists(os.path.join(cdir, "yubin-uidlist")),
     "... POP3 alone writes no UID list there")
imap_uids(C)
t.eq(pop3_view(C, True), names, "... unchanged after IMAP looked")
t.done()
