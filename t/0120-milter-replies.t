#!/usr/bin/env python3
# smtp-session as a milter client: every reply a milter may give is
# honoured, at the step it is given. A scripted milter (t/milter.py) on a
# loopback port answers continue, accept, reject, tempfail, its own reply
# code (sanitised), discard (250, stored nowhere), quarantine (250, kept in
# spool/quarantine only), skip (no more body chunks) and progress; a
# per-recipient refusal at RCPT refuses only that recipient. It also sees
# what Postfix sends: connect with the peer, HELO, MAIL, RCPT, headers,
# end of header, the body with CRLF in chunks of at most 65535 bytes, end
# of message, and the macros rspamd and OpenDKIM read.
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import milter  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()


def transcript(rcpts=(b"bob@example.org",), body=b"hello milter\r\n", helo=b"client.example.com"):
    return (b"EHLO " + helo + b"\r\nMAIL FROM:<alice@example.net>\r\n" +
            b"".join(b"RCPT TO:<" + r + b">\r\n" for r in rcpts) +
            b"DATA\r\nFrom: alice@example.net\r\nTo: bob@example.org\r\nSubject: test\r\n\r\n" +
            body + b".\r\nQUIT\r\n")


def stored(addr="bob@example.org"):
    return env.messages(addr)


def clear():
    for a in ("bob@example.org", "carol@example.org", "alice@example.org"):
        for sub in ("new", "cur"):
            d = os.path.join(env.maildir(a), sub)
            for n in os.listdir(d) if os.path.isdir(d) else []:
                os.unlink(os.path.join(d, n))


def spool_files():
    return [f for f in yubin.files_under(env.spool)
            if not os.path.relpath(f, env.spool).startswith(("tmp/", "quarantine/"))]


def run(script, data=None, **kw):
    """Runs one session against a fresh scripted milter; returns the
    replies (last lines), the milter and the session's stderr."""
    clear()
    m = milter.Scripted(script, **kw)
    env.set(milters=m.spec)
    out = env.run("smtp-session", data or transcript())
    m.close()
    return yubin.smtp_replies(out.stdout), m, out


try:
    # continue everywhere: delivered, and the milter saw every step.
    replies, m, out = run({})
    t.ok(any(r.startswith(b"250 2.0.0 Ok: queued") for r in replies) and len(stored()) == 1,
         "continue: the message is stored", replies)
    t.ok(b"warning" not in out.stderr, "QUIT is not waited for: no warning at the end", out.stderr[-300:])
    t.eq(m.steps(), "OCHMRTLLLLNBEQ", "steps sent: optneg, connect, HELO, MAIL, RCPT, DATA, headers, EOH, body, EOM, quit")
    t.eq(m.data_of("H"), [b"client.example.com\0"], "HELO name")
    t.eq(m.data_of("M"), [b"<alice@example.net>\0"], "MAIL path")
    t.eq(m.data_of("R"), [b"<bob@example.org>\0"], "RCPT path")
    t.ok(("Subject", "test") in m.headers() and m.headers()[0][0] == "Received",
         "headers, our Received: first, one leading space eaten", m.headers())
    t.eq(m.body(), b"hello milter\r\n", "body with CRLF line ends")
    t.eq(m.data_of("C"), [b"localhost\0U"], "connect over a pipe: family unknown")
    t.ok(m.macros.get("C", {}).get("j") == "mx.example.org" and
         m.macros["C"].get("{daemon_name}") == "mx.example.org" and
         m.macros.get("M", {}).get("{mail_addr}") == "alice@example.net" and
         m.macros.get("R", {}).get("{rcpt_addr}") == "bob@example.org" and
         re.match(r"^[0-9A-F]+$", m.macros.get("E", {}).get("i", "")),
         "macros j, {daemon_name}, {mail_addr}, {rcpt_addr}, i", m.macros)
    t.ok(m.macros["E"]["i"].encode() in replies[-2], "macro i is the queue id in the 250")

    # connect over a socket: family, port and address.
    clear()
    m = milter.Scripted({})
    env.set(milters=m.spec)
    lst = yubin.Listener(env, "smtp-session")
    try:
        with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com", timeout=30) as c:
            port = c.sock.getsockname()[1]
            c.sendmail("alice@example.net", ["bob@example.org"], "Subject: x\r\n\r\nbody\r\n")
    finally:
        lst.stop()
    m.close()
    conn = m.data_of("C")[0]
    t.ok(conn == b"[127.0.0.1]\x004" + port.to_bytes(2, "big") + b"127.0.0.1\0",
         "connect over TCP: name, family 4, client port, address", conn)
    t.eq(m.macros.get("C", {}).get("{client_addr}"), "127.0.0.1", "{client_addr}")

    # accept at connect: nothing more is asked, the message is stored.
    replies, m, out = run({"C": [milter.ACCEPT]})
    t.ok(len(stored()) == 1 and m.steps() == "OC", "accept at CONNECT: stored, milter asked no more",
         m.steps())

    # reject and tempfail at MAIL.
    replies, m, out = run({"M": [milter.REJECT]})
    t.ok(b"550 5.7.1 Command rejected" in replies and not stored() and not spool_files(),
         "reject at MAIL: 550, nothing stored", replies)
    replies, m, out = run({"M": [milter.TEMPFAIL]})
    t.ok(any(r.startswith(b"451 4.7.1") for r in replies) and not stored(),
         "tempfail at MAIL: 451, nothing stored", replies)
    # the refusal's log line cannot be given a forged field (issue 11, defect 13)
    forged = transcript().replace(b"MAIL FROM:<alice@example.net>",
                                  b'MAIL FROM:<"x peer=203.0.113.9"@example.net>')
    replies, m, out = run({"M": [milter.REJECT]}, data=forged)
    t.ok(b"refused MAIL from=<" in out.stderr and b" peer=203.0.113.9" not in out.stderr,
         "a milter's refusal logs the sender escaped", out.stderr[-400:])

    # reject at HELO holds for the session.
    replies, m, out = run({"H": [milter.REJECT]})
    t.ok(b"550 5.7.1 Command rejected" in replies and not stored(), "reject at HELO: MAIL refused", replies)

    # per-recipient refusal at RCPT: only carol is refused.
    replies, m, out = run({"R": [milter.CONTINUE, milter.replycode(b"550 5.1.1 Not this one")]},
                          transcript([b"bob@example.org", b"carol@example.org"]))
    t.ok(b"550 5.1.1 Not this one" in replies and len(stored()) == 1 and
         not stored("carol@example.org"), "per-recipient reject at RCPT: the other one gets it", replies)

    # a 421 from the milter is no session end: 451, and the session goes on.
    replies, m, out = run({"M": [milter.replycode(b"421 4.7.0 go away")]},
                          transcript())
    t.ok(b"451 4.7.0 go away" in replies and b"221 2.0.0 Bye" in replies and not stored(),
         "REPLYCODE 421 at MAIL: answered as 451, the session goes on", replies)

    # the milter's own reply code at end of message, sanitised.
    replies, m, out = run({"E": [milter.replycode(b"554 5.7.1 Spam\x01 here\r\n554 5.7.1 more")]})
    t.ok(b"554 5.7.1 Spam? here" in replies and not stored() and not spool_files(),
         "REPLYCODE at end of message: its code and text, controls replaced, nothing stored", replies)
    replies, m, out = run({"E": [milter.TEMPFAIL]})
    t.ok(any(r.startswith(b"451 4.7.1") for r in replies) and not stored(),
         "tempfail at end of message: 451, nothing stored", (replies, m.steps(), out.stderr[-600:]))
    replies, m, out = run({"E": [milter.REJECT]})
    t.ok(any(r.startswith(b"550 5.7.1") for r in replies) and not stored(),
         "reject at end of message: 550, nothing stored", replies)
    replies, m, out = run({"E": [milter.replycode(b"250 fine")]})
    t.ok(any(r.startswith(b"451 4.7.1") for r in replies) and not stored(),
         "a 2xx REPLYCODE is a protocol error: default action (tempfail)", replies)

    # discard: 250, stored nowhere, logged.
    replies, m, out = run({"E": [milter.DISCARD]}, transcript([b"bob@example.org", b"someone@example.net"]))
    t.ok(any(r.startswith(b"250 2.0.0 Ok: queued") for r in replies) and not stored() and
         not spool_files() and b"discarded" in out.stderr, "discard at end of message: 250, stored nowhere, logged",
         out.stderr[-400:])
    replies, m, out = run({"R": [milter.DISCARD]})
    t.ok(any(r.startswith(b"250 2.0.0") for r in replies) and not stored() and "E" not in m.steps(),
         "discard at RCPT: 250 at the end, stored nowhere, no content sent", m.steps())

    # quarantine: 250, only in the quarantine Maildir, with its envelope.
    qdir = os.path.join(env.spool, "quarantine", "new")
    replies, m, out = run({"E": [[milter.quarantine(b"virus found"), milter.CONTINUE]]}, actions=0x20)
    held = [open(os.path.join(qdir, n), "rb").read() for n in os.listdir(qdir)] if os.path.isdir(qdir) else []
    t.ok(any(r.startswith(b"250 2.0.0") for r in replies) and not stored() and len(held) == 1 and
         b"X-Yubin-Quarantine: virus found\n" in held[0] and
         b"X-Yubin-Quarantine-To: <bob@example.org>" in held[0] and b"hello milter" in held[0] and
         b"quarantined" in out.stderr, "quarantine: 250, kept in spool/quarantine with reason and envelope",
         held)

    # skip: the body stops after the first chunk; every chunk <= 65535.
    big = b"".join(b"line %06d of a long body\r\n" % i for i in range(8000))
    replies, m, out = run({"B": [milter.SKIP]}, transcript(body=big), protocol=0x400)
    t.ok(len(stored()) == 1 and len(m.data_of("B")) == 1 and m.steps().endswith("BEQ"),
         "skip: one body chunk, then end of message", m.steps()[-6:])
    replies, m, out = run({}, transcript(body=big))
    chunks = m.data_of("B")
    t.ok(len(chunks) > 3 and max(len(c) for c in chunks) <= 65535 and
         b"".join(chunks) == big, "body in chunks of at most 65535 bytes, all of it",
         [len(c) for c in chunks])

    # progress restarts the wait; then the decision.
    replies, m, out = run({"E": [[milter.PROGRESS, milter.PROGRESS, milter.ACCEPT]]})
    t.ok(len(stored()) == 1, "progress, progress, accept: stored")

    # a milter that skips steps (no connect, no headers) and does not
    # answer RCPT is followed.
    replies, m, out = run({}, protocol=0x1 | 0x20 | 0x8000)
    t.ok(len(stored()) == 1 and "C" not in m.steps() and "L" not in m.steps(),
         "steps the milter declined are not sent", m.steps())
finally:
    pass
t.done()
