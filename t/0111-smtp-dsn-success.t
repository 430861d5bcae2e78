#!/usr/bin/env python3
# smtp-session: NOTIFY=SUCCESS for a local recipient gets an RFC 3464
# success notice, stored before the 250 in the message's own transaction:
# "delivered" for a mailbox, "expanded" for an alias, with ENVID and ORCPT
# reported and only the header returned. A remote sender's notice is a
# spool file from <> for relay-runner; a local sender's lands in its
# mailbox. Nothing for NOTIFY=FAILURE/NEVER, no NOTIFY, mail from <> (S70)
# or remote recipients (relay-runner reports those). When the message's
# spool file cannot be published, the notice is withdrawn with the local
# copies: a 4xx leaves nothing behind.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
ALIASES = ("team@example.org: alice@example.org, bob@example.org\n"
           "ext@example.org: someone@example.net\n")
env = yubin.CleanEnv(aliases=ALIASES)
DUMP = os.path.join(yubin.BUILD, "t", "unit", "test-smtp-spool")


def message(sender, rcpts, mail_params=b""):
    return (b"EHLO client.example.com\r\nMAIL FROM:<" + sender + b">" + mail_params + b"\r\n" +
            b"".join(b"RCPT TO:<%s>%s\r\n" % r for r in rcpts) +
            b"DATA\r\nSubject: notice me\r\nFrom: " + sender + b"\r\n\r\nsecret body\r\n.\r\nQUIT\r\n")


def queued():
    """Envelope and message of every spool file in new/, removed."""
    out = []
    for path in yubin.files_under(os.path.join(env.spool, "new")):
        p = subprocess.run([DUMP, "--dump", path], capture_output=True)
        fields = {"rcpt": []}
        for line in p.stdout.decode().splitlines():
            k, v = line.split(" ", 1)
            val = None if v == "-" else (bytes.fromhex(v) if k in ("sender", "rcpt", "message") else v)
            if k == "rcpt":
                fields["rcpt"].append(val)
            elif k in ("sender", "message"):
                fields[k] = val
        out.append(fields)
        os.unlink(path)
    return out


def take(addr):
    msgs = env.messages(addr)
    for sub in ("new", "cur"):
        d = os.path.join(env.maildir(addr), sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            os.unlink(os.path.join(d, n))
    return msgs


def ok250(r, what):
    return t.ok(b"250 2.0.0 Ok: queued" in r.stdout, what + ": 250", r.stdout[-300:])


# A remote sender, a local user with NOTIFY=SUCCESS, ORCPT, ENVID, RET=FULL.
r = env.run("smtp-session", message(b"sender@example.com",
                                    [(b"demo@localhost", b" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Demo+40localhost")],
                                    b" ENVID=env+2Bid-42 RET=FULL"))
ok250(r, "remote sender, NOTIFY=SUCCESS")
t.eq(len(take("demo@localhost")), 1, "the recipient has the message")
q = queued()
t.eq([(x.get("sender"), x["rcpt"]) for x in q], [(b"", [b"sender@example.com"])],
     "one notice queued from <> to the sender")
n = q[0].get("message", b"") if q else b""
report = n.split(b"Content-Type: message/delivery-status\n\n", 1)[-1]
t.ok(re.search(rb"(?m)^Content-Type: multipart/report; report-type=delivery-status;", n) is not None and
     re.search(rb"(?m)^Auto-Submitted: auto-replied$", n) is not None,
     "RFC 6522 multipart/report, Auto-Submitted", n[:600])
t.ok(b"\nFinal-Recipient: rfc822; demo@localhost\n" in report and
     b"\nAction: delivered\nStatus: 2.0.0\n" in report,
     "Final-Recipient, Action: delivered, Status: 2.0.0", report[:800])
t.ok(b"\nOriginal-Recipient: rfc822;Demo@localhost\n" in report, "ORCPT reported as Original-Recipient",
     report[:800])
t.ok(b"\nOriginal-Envelope-Id: env+id-42\n" in report, "ENVID reported as Original-Envelope-Id",
     report[:800])
t.ok(b"Content-Type: text/rfc822-headers" in n and b"Subject: notice me" in n and b"secret body" not in n,
     "the header returned, not the body (a success notice, whatever RET says)", n[-500:])

# No notice unless asked for.
for params, what in ((b" NOTIFY=FAILURE", "NOTIFY=FAILURE"), (b"", "no NOTIFY"),
                     (b" NOTIFY=NEVER", "NOTIFY=NEVER")):
    r = env.run("smtp-session", message(b"sender@example.com", [(b"demo@localhost", params)]))
    ok250(r, what)
    t.eq(queued(), [], "%s: no notice" % what)
    take("demo@localhost")
r = env.run("smtp-session", message(b"", [(b"demo@localhost", b" NOTIFY=SUCCESS")]))
ok250(r, "mail from <>")
t.eq(queued(), [], "S70: mail from <> gets no notice")
take("demo@localhost")

# An alias: "expanded"; a local user beside it: "delivered", in a notice of its own.
r = env.run("smtp-session", message(b"sender@example.com", [(b"team@example.org", b" NOTIFY=SUCCESS"),
                                                            (b"carol@example.org", b" NOTIFY=SUCCESS")]))
ok250(r, "alias and user")
t.eq([len(take(u)) for u in ("alice@example.org", "bob@example.org", "carol@example.org")], [1, 1, 1],
     "alias members and the user got the message")
q = queued()
actions = sorted(re.findall(rb"\nFinal-Recipient: rfc822; (\S+)\n(?:.*\n)?Action: (\w+)\n", x.get("message", b""))
                 for x in q)
t.eq(actions, [[(b"carol@example.org", b"delivered")], [(b"team@example.org", b"expanded")]],
     "the alias is reported expanded, the user delivered")

# A local sender: the notice lands in its mailbox, nothing is queued.
r = env.run("smtp-session", message(b"alice@example.org", [(b"demo@localhost", b" NOTIFY=SUCCESS")]))
ok250(r, "local sender")
t.eq(queued(), [], "local sender: nothing queued")
got = take("alice@example.org")
t.ok(len(got) == 1 and got[0].startswith(b"Return-Path: <>\nDelivered-To: alice@example.org\n") and
     b"\nAction: delivered\n" in got[0], "local sender: the notice is in its mailbox, from <>",
     got[0][:300] if got else got)
take("demo@localhost")

# A remote recipient: relay-runner's to report; smtp-session queues only the message.
sub = ["--submission"]
auth = b"AUTH PLAIN " + __import__("base64").b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode())
r = env.run("smtp-session", message(b"alice@example.org", [(b"x@example.net", b" NOTIFY=SUCCESS")])
            .replace(b"MAIL FROM", auth + b"\r\nMAIL FROM"), args=sub)
ok250(r, "remote recipient")
q = queued()
t.eq([x["rcpt"] for x in q], [[b"x@example.net"]], "remote recipient: only the message is queued")
t.eq(take("alice@example.org"), [], "remote recipient: no notice from smtp-session")


# The message's spool file cannot be published: the notice (queued just
# before it) is withdrawn and the local copy taken back.
def strace_links(extra, data):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-o", log, "-e", "trace=linkat"] + extra +
                       [yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=120)
    calls = [ln for ln in open(log) if "linkat(" in ln]
    os.unlink(log)
    return p, calls


both = message(b"sender@example.com", [(b"demo@localhost", b" NOTIFY=SUCCESS"), (b"ext@example.org", b"")])
_, calls = strace_links([], both)
spool_links = [i + 1 for i, c in enumerate(calls) if "/spool/new>" in c]
t.ok(len(spool_links) == 2, "clean run: two spool files published (notice, then message)", "".join(calls))
take("demo@localhost")
queued()
for k, what in zip(spool_links, ("the notice's", "the message's")):
    r, _ = strace_links(["-e", "inject=linkat:error=EIO:when=%d" % k], both)
    t.ok(b"451 4.3.0" in r.stdout and b"queued as" not in r.stdout,
         "%s spool link fails: 451" % what, r.stdout[-200:])
    t.eq((take("demo@localhost"), queued()), ([], []),
         "%s spool link fails: no local copy, no notice, nothing queued" % what)

t.done()
