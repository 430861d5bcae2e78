#!/usr/bin/env python3
"""Links planted in the mail store, end to end through smtp-session (S34):
a symlinked Maildir new/ or tmp/, a symlinked, hard-linked or FIFO mbox
INBOX. Delivery must temp-fail (4xx), write nothing through the link, and a
message to several users must reach none of them (S62: all or nothing)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()


def smtp(rcpts, body=b"Subject: t\r\n\r\nhello\r\n"):
    """One transaction; returns the reply to the end of DATA."""
    cmds = b"EHLO c.example\r\nMAIL FROM:<s@example.com>\r\n"
    cmds += b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts)
    cmds += b"DATA\r\n" + body + b".\r\nQUIT\r\n"
    out = env.run("smtp-session", cmds, timeout=40)
    lines = [l for l in out.stdout.split(b"\r\n") if l]
    # The reply after 354 is the verdict on the message.
    i = next((k for k, l in enumerate(lines) if l.startswith(b"354")), None)
    return lines[i + 1] if i is not None and i + 1 < len(lines) else b"(none) %r" % lines


def world_dir(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)
    return path


def nfiles(path):
    return len(os.listdir(path)) if os.path.isdir(path) else -1


try:
    # Maildir: make both mailboxes exist, as the session's user.
    r = smtp(["alice@example.org", "bob@example.org"])
    t.ok(r.startswith(b"250"), "first delivery to alice and bob", r)
    alice, bob = env.maildir("alice@example.org"), env.maildir("bob@example.org")
    n_alice, n_bob = len(env.messages("alice@example.org")), len(env.messages("bob@example.org"))
    target = world_dir(os.path.join(env.dir, "target"))

    new = os.path.join(alice, "new")
    os.rename(new, new + ".real")
    os.symlink(target, new)
    r = smtp(["bob@example.org", "alice@example.org"])
    t.ok(r.startswith(b"4"), "alice's new/ a symlink: delivery temp-fails (S34)", r)
    t.eq(nfiles(target), 0, "nothing written through the new/ link (S34)")
    t.eq(len(env.messages("bob@example.org")), n_bob, "bob got nothing either: all or nothing (S62)")
    t.eq((nfiles(os.path.join(alice, "tmp")), nfiles(os.path.join(bob, "tmp"))), (0, 0),
         "no tmp files left behind")
    os.unlink(new)
    os.rename(new + ".real", new)

    tmp = os.path.join(alice, "tmp")
    os.rename(tmp, tmp + ".real")
    os.symlink(target, tmp)
    r = smtp(["alice@example.org"])
    t.ok(r.startswith(b"4"), "alice's tmp/ a symlink: delivery temp-fails (S34)", r)
    t.eq(nfiles(target), 0, "nothing written through the tmp/ link (S34)")
    os.unlink(tmp)
    os.rename(tmp + ".real", tmp)

    r = smtp(["alice@example.org", "bob@example.org"])
    t.ok(r.startswith(b"250") and len(env.messages("alice@example.org")) == n_alice + 1
         and len(env.messages("bob@example.org")) == n_bob + 1,
         "links removed: delivery works again, one copy each", r)

    # mbox: INBOX as a symlink, a hard link, a FIFO.
    env.set(mailbox_format="mbox")
    r = smtp(["carol@example.org"])
    t.ok(r.startswith(b"250"), "first mbox delivery to carol", r)
    inbox = os.path.join(env.maildir("carol@example.org"), "INBOX")
    victim = os.path.join(target, "victim")
    with open(victim, "wb") as f:
        f.write(b"precious\n")
    os.chmod(victim, 0o666)
    saved = inbox + ".real"
    os.rename(inbox, saved)

    os.symlink(victim, inbox)
    r = smtp(["carol@example.org"])
    t.ok(r.startswith(b"4"), "INBOX a symlink: delivery temp-fails (S34)", r)
    t.eq(open(victim, "rb").read(), b"precious\n", "symlink target untouched (S34)")
    os.unlink(inbox)

    os.link(victim, inbox)
    r = smtp(["carol@example.org"])
    t.ok(r.startswith(b"4"), "INBOX a hard link: delivery temp-fails (S34)", r)
    t.eq(open(victim, "rb").read(), b"precious\n", "hard-link target untouched (S34)")
    os.unlink(inbox)

    os.mkfifo(inbox, 0o666)
    r = smtp(["carol@example.org"])
    t.ok(r.startswith(b"4"), "INBOX a FIFO: delivery temp-fails without hanging (S34)", r)
    os.unlink(inbox)

    os.rename(saved, inbox)
    before = open(inbox, "rb").read()
    r = smtp(["carol@example.org"])
    after = open(inbox, "rb").read()
    t.ok(r.startswith(b"250") and after.startswith(before) and after.count(b"\nFrom s@example.com ") == 1,
         "real INBOX back: delivery appends", r)
    t.eq(sorted(os.listdir(os.path.dirname(inbox))), ["INBOX"], "no lock files left")
finally:
    env.cleanup()
t.done()
