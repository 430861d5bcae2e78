#!/usr/bin/env python3
# smtp-session: the relay decision. Every classic open-relay probe is refused
# and queues nothing, routing syntax inside local addresses is refused, an
# authenticated submitter relays the plain form only, and the spool record of
# a relayed message holds exactly what was accepted (DSN parameters kept as
# received). Covers S19, S20, S21, S26, S29.
import base64
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402


t = yubin.TAP()
env = yubin.CleanEnv()
IP = b"127.0.0.1"
SRV = b"mx.example.org"


def replies(out):
    """Final reply lines after the greeting."""
    return yubin.smtp_replies(out)[1:]


def auth_plain(user="alice@example.org", pw=yubin.DEMO_PASSWORD):
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    return b"AUTH PLAIN " + tok


PROBES = [
    b"relaytest@example.net",
    b"relaytest%example.net@[" + IP + b"]",
    b"relaytest%example.net@" + SRV,
    b"\"relaytest@example.net\"",
    b"\"relaytest%example.net\"",
    b"relaytest@example.net@[" + IP + b"]",
    b"\"relaytest@example.net\"@[" + IP + b"]",
    b"relaytest@example.net@" + SRV,
    b"@[" + IP + b"]:relaytest@example.net",
    b"@" + SRV + b":relaytest@example.net",
    b"example.net!relaytest",
    b"example.net!relaytest@[" + IP + b"]",
    b"example.net!relaytest@" + SRV,
    b"relaytest@[203.0.113.7]",
]
SENDERS = [b"<>", b"<antispam@example.com>", b"<antispam@" + SRV + b">", b"<antispam@[" + IP + b"]>"]

# S19: unauthenticated, every sender x every probe.
for sender in SENDERS:
    cmds = b"EHLO probe.example.com\r\nMAIL FROM:" + sender + b"\r\n"
    for p in PROBES:
        cmds += b"RCPT TO:<" + p + b">\r\n"
    cmds += b"DATA\r\nSubject: relay\r\n\r\nx\r\n.\r\nQUIT\r\n"
    r = env.run("smtp-session", cmds)
    rs = replies(r.stdout)
    rcpt_replies = rs[2:2 + len(PROBES)]
    t.ok(rs[1].startswith(b"250 2.1.0") and len(rcpt_replies) == len(PROBES) and
         all(x[:1] == b"5" for x in rcpt_replies),
         "S19: MAIL FROM:%s: all %d relay probes get 5xx" % (sender.decode(), len(PROBES)),
         b"\n".join(rs))
    t.ok(all(x.startswith((b"554 5.7.1", b"553 5.1.3", b"501 5.1.3", b"550 5.1.1"))
             for x in rcpt_replies), "S19: MAIL FROM:%s: each is relay denied, routing or "
         "syntax (never a 4xx or 250)" % sender.decode(), b"\n".join(rcpt_replies))
    t.ok(rs[2 + len(PROBES)].startswith(b"503"), "S19: DATA after only refused probes: 503")
t.eq(rs[2], b"554 5.7.1 <relaytest@example.net>: Relay access denied",
     "S19: the plain remote form says Relay access denied")
t.eq(rs[2 + len(PROBES) - 1], b"554 5.7.1 <relaytest@[203.0.113.7]>: Relay access denied",
     "S19: an address literal is relay denied")
t.eq(yubin.files_under(env.spool, env.mail_root), [],
     "S19: no probe produced a spool or mailbox file")

# S20: routing syntax inside addresses of the local domain.
S20 = [b"\"bob@example.net\"@example.org", b"bob%example.net@example.org",
       b"example.net!bob@example.org", b"@example.org:bob@example.net",
       b"\"alice@example.net\"@example.org", b"alice%example.net@example.org",
       b"alice@example.org@example.org", b"@example.org:alice@example.org"]
cmds = b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n" + \
    b"".join(b"RCPT TO:<" + a + b">\r\n" for a in S20) + b"QUIT\r\n"
rs = replies(env.run("smtp-session", cmds).stdout)
t.ok(all(x.startswith((b"553 5.1.3", b"501 5.1.3")) for x in rs[2:2 + len(S20)]),
     "S20: %d local-looking addresses with '@', '%%', '!' or a source route: 553/501 5.1.3"
     % len(S20), b"\n".join(rs))
t.eq(yubin.files_under(env.spool, env.mail_root), [], "S20: nothing stored or queued")

# After AUTH (submission): the plain remote form is queued, tricks are not.
sub = [b"--submission"]
cmds = (b"EHLO x\r\n" + auth_plain() + b"\r\nMAIL FROM:<alice@example.org>\r\n" +
        b"".join(b"RCPT TO:<" + p + b">\r\n" for p in PROBES[1:]) +
        b"RCPT TO:<relaytest@example.net>\r\nDATA\r\nSubject: relayed\r\n\r\nhello\r\n.\r\nQUIT\r\n")
r = env.run("smtp-session", cmds, args=sub)
rs = replies(r.stdout)
t.ok(rs[1].startswith(b"235 2.7.0"), "AUTH PLAIN over the pipe (auth_requires_tls = no)", rs[:3])
probes = rs[3:3 + len(PROBES) - 1]
t.ok(all(x[:1] == b"5" for x in probes[:-1]) and probes[-1].startswith(b"554 5.7.1"),
     "S19 after AUTH: every obfuscated form still refused (literal too)", b"\n".join(probes))
t.ok(rs[3 + len(PROBES) - 1].startswith(b"250 2.1.5") and b"queued as" in r.stdout,
     "S19 after AUTH: relaytest@example.net accepted and queued", b"\n".join(rs))
queued = yubin.files_under(os.path.join(env.spool, "new"))
t.eq(len(queued), 1, "S19 after AUTH: exactly one spool file, in new/")
t.eq(yubin.files_under(env.mail_root), [], "S19 after AUTH: nothing delivered locally")
for f in queued:
    os.unlink(f)

# The submitter may only send as itself or its aliases.
r = env.run("smtp-session", b"EHLO x\r\n" + auth_plain() + b"\r\nMAIL FROM:<bob@example.org>\r\n"
            b"MAIL FROM:<postmaster@example.org>\r\nRSET\r\nMAIL FROM:<>\r\nQUIT\r\n", args=sub)
rs = replies(r.stdout)
t.ok(rs[2].startswith(b"553 5.7.1") and rs[3].startswith(b"250 2.1.0") and rs[5].startswith(b"250 2.1.0"),
     "after AUTH: MAIL FROM another user 553 5.7.1; from an alias of the user 250; "
     "the null sender 250", rs)

# S26: the spool record of an authenticated relay with DSN parameters.
BODY = b"Subject: dsn\r\n\r\nline\r\n..dot\r\n"
cmds = (b"EHLO client.example.com\r\n" + auth_plain() + b"\r\n"
        b"MAIL FROM:<alice@example.org> RET=HDRS ENVID=abc+2Bdef+3D BODY=8BITMIME AUTH=alice@example.org\r\n"
        b"RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net\r\n"
        b"RCPT TO:<carol@example.net> NOTIFY=NEVER\r\n"
        b"RCPT TO:<dave@example.net> ORCPT=rfc822;a+0AXbad\r\n"
        b"RCPT TO:<alice@example.org>\r\n"
        b"DATA\r\n" + BODY + b".\r\n"
        b"MAIL FROM:<alice@example.org> ENVID=x+0Ay\r\n"
        b"MAIL FROM:<alice@example.org> AUTH=a+0Abad@example.com\r\nQUIT\r\n")
r = env.run("smtp-session", cmds, args=sub)
rs = replies(r.stdout)
t.eq([x[:9] for x in rs], [b"250 CHUNK", b"235 2.7.0", b"250 2.1.0", b"250 2.1.5", b"250 2.1.5",
                           b"501 5.5.4", b"250 2.1.5", b"354 End d", b"250 2.0.0", b"501 5.5.4",
                           b"501 5.5.4", b"221 2.0.0"],
     "S26: DSN parameters accepted; ORCPT, ENVID, AUTH= decoding to LF refused with 501 5.5.4")
queued = yubin.files_under(os.path.join(env.spool, "new"))
t.eq(len(queued), 1, "S26: one spool file for the two remote recipients")
dump = {}
rcpts = []
if queued:
    p = subprocess.run([os.path.join(yubin.BUILD, "t", "unit", "test-smtp-spool"), "--dump", queued[0]],
                       capture_output=True)
    t.ok(p.returncode == 0, "S26: the spool file reads back through lib/spool.h", p.stderr)
    for line in p.stdout.decode().splitlines():
        k, v = line.split(" ", 1)
        val = None if v == "-" else (bytes.fromhex(v) if k in ("sender", "envid", "auth", "rcpt", "orcpt",
                                                              "message") else int(v))
        if k == "rcpt":
            rcpts.append({"rcpt": val})
        elif rcpts and k in ("orcpt", "notify", "state"):
            rcpts[-1][k] = val
        else:
            dump[k] = val
t.eq((dump.get("sender"), dump.get("envid"), dump.get("ret"), dump.get("body8bit"),
      dump.get("smtputf8"), dump.get("auth")),
     (b"alice@example.org", b"abc+2Bdef+3D", 2, 1, 0, b"alice@example.org"),
     "S26: envelope: sender, ENVID still xtext, RET=HDRS, BODY=8BITMIME, the AUTH identity "
     "we verified (not the client's AUTH=)")
t.eq(rcpts, [{"rcpt": b"bob@example.net", "orcpt": b"rfc822;bob+40example.net", "notify": 6, "state": 0},
             {"rcpt": b"carol@example.net", "orcpt": None, "notify": 1, "state": 0}],
     "S26: recipients with ORCPT as received and NOTIFY bits; the local one is not queued")
msg = dump.get("message", b"")
head, _, body = msg.partition(b"\nSubject: dsn\n")
t.eq(body, b"\nline\n.dot\n", "S26: queued message: LF line ends, dot-unstuffed, bytes kept")
t.ok(head.startswith(b"Received: from client.example.com (local)\n\tby mx.example.org (yubin) "
                     b"with ESMTPA id ") and b"\n\t(authenticated as alice@example.org)" in head
     and b"Return-Path" not in head,
     "S29: queued copy has our Received: (ESMTPA, authenticated user), no Return-Path", head)
# A submission server adds Date: and Message-ID: below it (RFC 6409 §8).
fields = re.split(rb"\n(?![\t ])", head)
t.ok(all(0x20 <= c < 0x7f or c in (0x0a, 0x09) for c in fields[0]) and
     all(ln.startswith(b"\t") for ln in fields[0].split(b"\n")[1:]) and
     [f.split(b":")[0] for f in fields[1:]] == [b"Date", b"Message-ID"],
     "S29: the Received header is one folded header of printable ASCII", head)
t.eq(len(env.messages("alice@example.org")), 1, "local recipient of the same message delivered")
env.cleanup()
t.done()
