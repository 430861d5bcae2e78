#!/usr/bin/env python3
# smtp-session applies every milter modification before the message is
# stored, and the 250 comes after the modified message is durable: header
# add, insert, change and delete; body replacement (CRLF from the milter,
# LF in storage); sender change; recipients added (checked and routed:
# local to the mailbox, remote to the spool, unknown local refused) and
# removed. A value cannot inject a header of its own; a modification the
# milter did not negotiate is a protocol error (default action). Two
# milters run in order, the second seeing the first one's changes.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import milter  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
ALL = 0xff


def transcript(rcpts=(b"bob@example.org",), body=b"old body\r\n"):
    return (b"EHLO client.example.com\r\nMAIL FROM:<alice@example.net>\r\n" +
            b"".join(b"RCPT TO:<" + r + b">\r\n" for r in rcpts) +
            b"DATA\r\nFrom: alice@example.net\r\nTo: bob@example.org\r\n"
            b"Subject: first\r\nComments: one\r\nComments: two\r\n\r\n" + body + b".\r\nQUIT\r\n")


def clear():
    for a in ("bob@example.org", "carol@example.org", "alice@example.org"):
        for sub in ("new", "cur"):
            d = os.path.join(env.maildir(a), sub)
            for n in os.listdir(d) if os.path.isdir(d) else []:
                os.unlink(os.path.join(d, n))
    for f in yubin.files_under(env.spool):
        os.unlink(f)


def queued():
    return [f for f in yubin.files_under(env.spool)
            if not os.path.relpath(f, env.spool).startswith(("tmp/", "quarantine/"))]


def run(eom, data=None, actions=ALL, protocol=0):
    clear()
    m = milter.Scripted({"E": [eom]}, actions=actions, protocol=protocol)
    env.set(milters=m.spec)
    out = env.run("smtp-session", data or transcript())
    m.close()
    msgs = env.messages("bob@example.org")
    return yubin.smtp_replies(out.stdout), (msgs[0] if msgs else b""), out


def head(msg):
    return msg.split(b"\n\n", 1)[0]


def names(msg):
    return re.findall(rb"(?m)^([A-Za-z-]+):", head(msg))


def ok250(replies):
    return any(r.startswith(b"250 2.0.0 Ok: queued") for r in replies)


replies, msg, out = run([milter.addheader(b"X-Spam-Flag", b"YES"), milter.CONTINUE])
t.ok(ok250(replies) and names(msg)[-1] == b"X-Spam-Flag" and b"\nX-Spam-Flag: YES\n" in msg,
     "ADDHEADER: appended to the header", msg)

replies, msg, out = run([milter.insheader(0, b"Authentication-Results", b"mx.example.org; dkim=pass"),
                         milter.CONTINUE])
t.ok(ok250(replies) and names(msg).index(b"Authentication-Results") + 1 == names(msg).index(b"Received"),
     "INSHEADER at 0: above our Received:, the first header of the message", names(msg))

replies, msg, out = run([milter.chgheader(1, b"Subject", b"[SPAM] first"),
                         milter.chgheader(2, b"Comments", b""), milter.ACCEPT])
t.ok(ok250(replies) and b"\nSubject: [SPAM] first\n" in msg and b"Comments: one" in msg and
     b"Comments: two" not in msg, "CHGHEADER changes the 1st Subject, deletes the 2nd Comments", head(msg))

replies, msg, out = run([milter.chgheader(1, b"X-Missing", b"added"), milter.CONTINUE])
t.ok(b"\nX-Missing: added\n" in msg, "CHGHEADER of a missing header adds it")

replies, msg, out = run([milter.addheader(b"X-Evil", b"a\r\nBcc: victim@example.net\nX-Two: 2"),
                         milter.CONTINUE])
t.ok(b"\nX-Evil: a\n\tBcc: victim@example.net\n\tX-Two: 2\n" in msg and b"\nBcc:" not in msg,
     "a value's line breaks are folded, never a header of their own", head(msg))

replies, msg, out = run([milter.replbody(b"new body line 1\r\nline"), milter.replbody(b" 2\r\n\r"),
                         milter.replbody(b"\nend\r\n"), milter.CONTINUE])
t.ok(ok250(replies) and msg.split(b"\n\n", 1)[1] == b"new body line 1\nline 2\n\nend\n",
     "REPLBODY chunks replace the body, CRLF to LF across chunks", msg)

replies, msg, out = run([milter.chgfrom(b"<bounce@example.org>"), milter.CONTINUE])
t.ok(ok250(replies) and b"Return-Path: <bounce@example.org>" in msg, "CHGFROM: the new envelope sender",
     head(msg))

replies, msg, out = run([milter.addrcpt(b"<carol@example.org>"), milter.addrcpt(b"<nobody@example.org>"),
                         milter.addrcpt(b"<archive@example.net>"), milter.CONTINUE])
t.ok(ok250(replies) and msg and len(env.messages("carol@example.org")) == 1 and len(queued()) == 1 and
     b"added recipient refused" in out.stderr,
     "ADDRCPT: a local user gets a copy, a remote one is queued, an unknown local one is refused",
     (queued(), out.stderr[-500:]))

replies, msg, out = run([milter.delrcpt(b"<bob@example.org>"), milter.addrcpt(b"<carol@example.org>"),
                         milter.CONTINUE])
t.ok(ok250(replies) and not msg and len(env.messages("carol@example.org")) == 1,
     "DELRCPT takes bob out, carol added instead")

replies, msg, out = run([milter.delrcpt(b"<bob@example.org>"), milter.CONTINUE])
t.ok(ok250(replies) and not msg and not queued() and b"discarded" in out.stderr,
     "every recipient removed: nothing stored, logged as discarded")

replies, msg, out = run([milter.addheader(b"X-Sneaky", b"1"), milter.CONTINUE], actions=0)
t.ok(any(r.startswith(b"451 4.7.1") for r in replies) and not msg,
     "a modification the milter did not negotiate: default action, nothing stored", replies)

replies, msg, out = run([milter.addheader(b"Bad Name", b"1"), milter.CONTINUE])
t.ok(any(r.startswith(b"451 4.7.1") for r in replies) and not msg,
     "a header name with a space: default action, nothing stored", replies)

# Two milters in order: the second sees the first one's header and body.
clear()
m1 = milter.Scripted({"E": [[milter.addheader(b"X-First", b"1"), milter.replbody(b"replaced\r\n"),
                             milter.CONTINUE]]})
m2 = milter.Scripted({"E": [[milter.addheader(b"X-Second", b"2"), milter.CONTINUE]]})
env.set(milters=m1.spec + " " + m2.spec)
out = env.run("smtp-session", transcript())
m1.close()
m2.close()
msgs = env.messages("bob@example.org")
t.ok(len(msgs) == 1 and ("X-First", "1") in m2.headers() and m2.body() == b"replaced\r\n" and
     names(msgs[0])[-2:] == [b"X-First", b"X-Second"], "two milters: the second sees the first's changes",
     (m2.headers(), m2.body()))

# A message without an empty line, larger than any header block may be:
# its header ends at the first line that is no field.
clear()
m = milter.Scripted({"E": [[milter.addheader(b"X-Seen", b"1"), milter.CONTINUE]]})
env.set(milters=m.spec)
long_body = b"".join(b"line %07d without a colon\r\n" % i for i in range(20000))
out = env.run("smtp-session", b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
              b"DATA\r\nSubject: no blank line\r\n" + long_body + b".\r\nQUIT\r\n")
m.close()
msgs = env.messages("bob@example.org")
t.ok(len(msgs) == 1 and b"\nX-Seen: 1\nline 0000000 without" in msgs[0] and
     msgs[0].endswith(b"line 0019999 without a colon\n") and m.headers()[-1] == ("Subject", "no blank line"),
     "a message without an empty line: header found, edited, body kept", out.stderr[-300:])

# A milter whose edits cannot be applied (the header would pass its bound)
# fails as a whole: with default accept the message is stored as received,
# none of its envelope edits applied either; one that fails after asking
# for quarantine does not quarantine.
env.set(milter_default_action="accept", milter_timeout="1s")
pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 900) for i in range(300))
data = transcript().replace(b"Subject: first\r\n", b"Subject: first\r\n" + pad)
replies, msg, out = run([milter.addrcpt(b"<carol@example.org>"), milter.addheader(b"X-Big", b"b" * 1000000),
                         milter.addheader(b"X-Big", b"b" * 1000000), milter.CONTINUE], data)
t.ok(ok250(replies) and msg and b"X-Big" not in msg and not env.messages("carol@example.org"),
     "edits past the header bound: none applied, the envelope's neither (default accept)",
     out.stderr[-400:])
replies, msg, out = run([milter.quarantine(b"held")])
qdir = os.path.join(env.spool, "quarantine", "new")
t.ok(ok250(replies) and msg and not (os.path.isdir(qdir) and os.listdir(qdir)),
     "quarantine asked by a milter that then times out: not quarantined (default accept)")
env.set(milter_default_action="tempfail", milter_timeout="30s")

# HDR_LEADSPC: the milter gets and gives the space after the colon.
replies, msg, out = run([milter.addheader(b"X-Lead", b"  two spaces"), milter.CONTINUE], protocol=0x100000)
t.ok(b"\nX-Lead:  two spaces\n" in msg, "leading space kept as the milter sent it (HDR_LEADSPC)")
t.done()
