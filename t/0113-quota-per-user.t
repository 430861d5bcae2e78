#!/usr/bin/env python3
"""Per-user storage quota, Maildir and mbox: a user's own quota rule in the
users file's extra fields (Dovecot's passwd-file: the eighth field,
userdb_quota_rule=*:storage=8K or quota_rule=*:bytes=N) overrides
quota_storage. IMAP (Python imaplib over a socket) advertises QUOTA and
shows the user's own limit in GETQUOTAROOT and GETQUOTA, also after the
file is edited mid-session; storage=0 or *:ignore is no quota; a rule that
cannot be read is NO [SERVERBUG], never a guess. smtp-session (smtplib)
enforces each recipient's own limit."""
import email.message
import imaplib
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

A, B, C, D = "alice@example.org", "bob@example.org", "carol@example.org", "demo@localhost"
PW = yubin.DEMO_PASSWORD
t = yubin.TAP()


def write_users(env, extra):
    """The users file with extra fields per user (Dovecot's 8th field)."""
    h = yubin.crypt_hash(PW)
    with open(env.users_file + ".new", "w") as f:
        for u in env.USERS:
            f.write("%s:{SHA512-CRYPT}%s::::::%s\n" % (u, h, extra.get(u, "")))
    os.chmod(env.users_file + ".new", 0o644)
    os.rename(env.users_file + ".new", env.users_file)


def imap(lst, user):
    m = imaplib.IMAP4("127.0.0.1", lst.port, timeout=20)
    m.login(user, PW)
    typ, data = m.capability()
    m.caps_after_login = data[0].split()
    return m


def quota_of(m):
    """(usage, limit) in KiB from GETQUOTAROOT INBOX, or None without a root."""
    typ, data = m.getquotaroot("INBOX")
    if typ != "OK":
        return typ
    q = [x for x in data[1] if x] if len(data) > 1 else []
    if not q:
        return None
    got = re.search(rb'\(STORAGE (\d+) (\d+)\)', q[0])
    return (int(got.group(1)), int(got.group(2))) if got else q


def body(size):
    msg = email.message.EmailMessage()
    msg["From"] = "sender@example.com"
    msg["Subject"] = "quota"
    msg.set_content(("x" * 70 + "\n") * (size // 71))
    return msg


def send(lst, rcpts, size):
    """smtplib: returns (refused dict, exception or None)."""
    with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com",
                      timeout=20) as c:
        try:
            return c.send_message(body(size), from_addr="sender@example.com",
                                  to_addrs=rcpts), None
        except smtplib.SMTPException as e:
            return None, e


def run(fmt):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt})
    write_users(env, {A: "userdb_quota_rule=*:storage=8",
                      C: "userdb_mail=maildir:~/Maildir quota_rule=*:bytes=16K:messages=100"})
    imap_l = yubin.Listener(env, "imap-session")
    smtp_l = yubin.Listener(env, "smtp-session")
    try:
        m = imap(imap_l, A)
        t.ok(b"QUOTA" in m.caps_after_login, fmt + ": QUOTA offered to a user with a rule, none global",
             m.caps_after_login)
        t.eq(quota_of(m), (0, 8), fmt + ": GETQUOTAROOT: the user's own limit (storage= in KiB)")
        typ, data = m.getquota('""')
        t.ok(typ == "OK" and b"STORAGE 0 8)" in data[0], fmt + ": GETQUOTA the same", data)
        m.logout()
        m = imap(imap_l, C)
        t.eq(quota_of(m), (0, 16), fmt + ": quota_rule=*:bytes=16K among other extra fields")
        m.logout()
        m = imap(imap_l, B)
        t.ok(b"QUOTA" not in m.caps_after_login, fmt + ": no QUOTA for a user without a limit",
             m.caps_after_login)
        t.eq(quota_of(m), None, fmt + ": GETQUOTAROOT names no root without a limit")
        m.logout()

        refused, err = send(smtp_l, [A, B], 6000)
        t.ok(refused == {} and err is None, fmt + ": 6000 bytes fit alice's 8K", (refused, err))
        refused, err = send(smtp_l, [A, B], 3000)
        t.ok(refused is not None and list(refused) == [A] and refused[A][0] == 452,
             fmt + ": alice refused with 452 at her own limit, bob takes it", (refused, err))

        env.set(quota_storage="4K")
        write_users(env, {A: "userdb_quota_rule=*:storage=8", B: "userdb_quota_rule=*:ignore",
                          C: "userdb_quota_rule=*:storage=0"})
        m = imap(imap_l, A)
        used = quota_of(m)
        t.ok(used is not None and used[1] == 8 and used[0] >= 6,
             fmt + ": the own limit overrides quota_storage, usage counted", used)
        for u, why in ((B, "*:ignore"), (C, "storage=0")):
            n = imap(imap_l, u)
            t.ok(b"QUOTA" not in n.caps_after_login and quota_of(n) is None,
                 fmt + ": %s overrides quota_storage: no limit" % why, n.caps_after_login)
            n.logout()
        write_users(env, {A: "userdb_quota_rule=*:storage=1M", B: "userdb_quota_rule=*:ignore"})
        t.eq(quota_of(m)[1], 1024, fmt + ": an edited users file is read again mid-session")
        m.logout()
        m = imap(imap_l, D)
        t.eq(quota_of(m), (0, 4), fmt + ": a user without a rule has quota_storage")
        m.logout()
        refused, err = send(smtp_l, [B], 6000)
        t.ok(refused == {} and err is None, fmt + ": *:ignore: bob takes more than quota_storage",
             (refused, err))

        write_users(env, {D: "userdb_quota_rule=*:storage=lots"})
        m = imap(imap_l, D)
        typ, data = m.getquotaroot("INBOX")
        t.ok(typ == "NO" and b"SERVERBUG" in data[0][0], fmt + ": a bad rule: NO [SERVERBUG]", data)
        m.logout()
        refused, err = send(smtp_l, [D], 1000)
        t.ok(err is not None and getattr(err, "smtp_code", 0) // 100 == 4,
             fmt + ": a bad rule: mail is deferred (4xx), not taken unchecked", (refused, err))
    finally:
        imap_l.stop()
        smtp_l.stop()


for fmt in ("maildir", "mbox"):
    run(fmt)
t.done()
