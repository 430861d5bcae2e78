#!/usr/bin/env python3
# What a session costs in users and aliases lookups (issue 15), under
# strace: the aliases file was opened once per alias level and recipient
# at RCPT and again at delivery, the users file once per local address.
# Now each is read once per session (users-cache.c) and the answers stay
# the same: an alias reaches every target, an unknown user is refused,
# and an aliases file edited between two messages of one session is
# read again for the second.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
ALICE, BOB = "alice@example.org", "bob@example.org"


def opens(calls, path):
    return len([c for c in calls if re.search(r'open(at)?\(.*"%s"' % re.escape(path), c)])


def traced(data):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-qq", "-s", "300", "-o", log, "-e", "trace=open,openat",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    calls = open(log).read().splitlines()
    os.unlink(log)
    return p, calls


data = (b"EHLO client.test\r\nMAIL FROM:<x@example.net>\r\n"
        b"RCPT TO:<team@example.org>\r\nRCPT TO:<postmaster@example.org>\r\n"
        b"RCPT TO:<bob@example.org>\r\nRCPT TO:<nobody@example.org>\r\n"
        b"DATA\r\nSubject: lookups\r\n\r\nbody\r\n.\r\nQUIT\r\n")
p, calls = traced(data)
replies = yubin.smtp_replies(p.stdout)
t.ok(any(r.startswith(b"550") for r in replies), "an unknown user is refused",
     b"\n".join(replies).decode(errors="replace"))
t.contains(p.stdout, b"250 2.0.0 Ok: queued", "the message is accepted")
t.ok(any(b"Subject: lookups" in m for m in env.messages(ALICE)) and
     any(b"Subject: lookups" in m for m in env.messages(BOB)), "the alias reached both its targets")
t.eq(opens(calls, env.aliases_file), 1, "the aliases file is opened once per session")
t.eq(opens(calls, env.users_file), 1, "the users file is opened once per session")

# --- an edit between two messages of one session is seen -------------------
def message(s, rcpt, subject):
    s.send("MAIL FROM:<x@example.net>\r\n")
    r1 = s.reply()
    s.send("RCPT TO:<%s>\r\n" % rcpt)
    r2 = s.reply()
    if not r2.startswith(b"250"):
        s.send("RSET\r\n")
        s.reply()
        return r1 + r2
    s.send("DATA\r\n")
    r3 = s.reply()
    s.send("Subject: %s\r\n\r\nbody\r\n.\r\n" % subject)
    return r1 + r2 + r3 + s.reply()


def got(addr, subject):
    return any(b"Subject: " + subject.encode() in m for m in env.messages(addr))


s = env.start("smtp-session")
s.reply()
s.send("EHLO client.test\r\n")
s.reply()
r = message(s, "team@example.org", "before edit")
t.contains(r, b"250 2.0.0 Ok: queued", "first message to the alias accepted")
with open(env.aliases_file, "w") as f:
    f.write("team@example.org: bob@example.org\nfresh@example.org: alice@example.org\n")
r = message(s, "team@example.org", "after edit")
t.contains(r, b"250 2.0.0 Ok: queued", "second message to the alias accepted")
t.ok(got(ALICE, "before edit") and got(BOB, "before edit"), "before the edit: both targets")
t.ok(got(BOB, "after edit") and not got(ALICE, "after edit"), "after the edit: the new target only")
r = message(s, "fresh@example.org", "new alias")
t.contains(r, b"250 2.0.0 Ok: queued", "an alias added during the session is accepted")
t.ok(got(ALICE, "new alias"), "and delivered")
s.send("QUIT\r\n")
s.close()
t.done()
