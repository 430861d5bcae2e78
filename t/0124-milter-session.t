#!/usr/bin/env python3
# smtp-session and a milter over a whole session: one milter connection
# serves every transaction; RSET (and a refused transaction) sends ABORT
# and the next MAIL starts afresh; a new EHLO name is sent as HELO again;
# BDAT messages go through the milter like DATA ones; a unix: socket
# works; a submitter's login reaches the milter as {auth_authen}, with
# the mechanism used (PLAIN, LOGIN) as {auth_type}; a
# session that sends no mail never connects; after STARTTLS the milter
# gets {tls_version} and {cipher}.
import base64
import os
import smtplib
import ssl
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import milter  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()


def txn(rcpt=b"bob@example.org", subject=b"s"):
    return (b"MAIL FROM:<alice@example.net>\r\nRCPT TO:<" + rcpt + b">\r\n"
            b"DATA\r\nSubject: " + subject + b"\r\n\r\nbody\r\n.\r\n")


def run(data, script=None, args=(), **kw):
    m = milter.Scripted(script or {}, **kw)
    env.set(milters=m.spec)
    out = env.run("smtp-session", data, args=args)
    m.close()
    return yubin.smtp_replies(out.stdout), m, out


def count(addr="bob@example.org"):
    return len(env.messages(addr))


before = count()
replies, m, out = run(b"EHLO a.example\r\n" + txn(subject=b"one") + txn(subject=b"two") + b"QUIT\r\n")
t.ok(count() - before == 2 and m.connections == 1 and m.steps().count("M") == 2 and
     m.steps().count("E") == 2 and "A" not in m.steps(),
     "two messages, one milter connection, no ABORT between them", m.steps())

replies, m, out = run(b"EHLO a.example\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
                      b"RSET\r\n" + txn() + b"QUIT\r\n")
t.ok(m.steps() == "OCHMRAMRTLLNBEQ", "RSET sends ABORT; the next MAIL starts afresh", m.steps())

before = count()
replies, m, out = run(b"EHLO a.example\r\n" + txn() + b"EHLO b.example\r\n" + txn() + b"QUIT\r\n")
t.ok(m.data_of("H") == [b"a.example\0", b"b.example\0"] and count() - before == 2,
     "a new EHLO name is sent as HELO before the next MAIL", m.data_of("H"))

before = count()
replies, m, out = run(b"EHLO a.example\r\n" + txn() + txn(rcpt=b"carol@example.org") + b"QUIT\r\n",
                      {"E": [milter.REJECT]})
t.ok(count() == before and len(env.messages("carol@example.org")) == 1 and
     any(r.startswith(b"550 5.7.1") for r in replies),
     "a rejected message does not stop the next one in the same session", replies)

before = count()
body = b"Subject: chunked\r\n\r\nbody in chunks\r\n"
replies, m, out = run(b"EHLO a.example\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
                      b"BDAT 10\r\n" + body[:10] + b"BDAT %d LAST\r\n" % (len(body) - 10) + body[10:] +
                      b"QUIT\r\n", {"E": [[milter.addheader(b"X-Chunked", b"yes"), milter.CONTINUE]]})
msgs = env.messages("bob@example.org")
t.ok(count() - before == 1 and m.body() == b"body in chunks\r\n" and
     any(b"X-Chunked: yes" in x and b"Subject: chunked" in x for x in msgs),
     "BDAT: the milter sees the message and edits it", (replies, m.steps()))

path = os.path.join(env.dir, "milter.sock")
m = milter.Scripted({"M": [milter.replycode(b"550 5.7.0 via unix socket")]}, unix_path=path)
env.set(milters=m.spec)
out = env.run("smtp-session", b"EHLO a.example\r\n" + txn() + b"QUIT\r\n")
m.close()
t.ok(b"550 5.7.0 via unix socket" in out.stdout, "a unix: socket milter", out.stdout)

tok = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode())
replies, m, out = run(b"EHLO a.example\r\nAUTH PLAIN " + tok + b"\r\nMAIL FROM:<alice@example.org>\r\n"
                      b"RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n",
                      args=["--submission"])
t.ok(m.macros.get("M", {}).get("{auth_authen}") == "alice@example.org" and
     m.macros["M"].get("{auth_type}") == "PLAIN", "submission: {auth_authen} and {auth_type} at MAIL",
     m.macros.get("M"))

# {auth_type} is the mechanism the client used, not always PLAIN.
b64 = base64.b64encode
replies, m, out = run(b"EHLO a.example\r\nAUTH LOGIN\r\n" + b64(b"alice@example.org") + b"\r\n" +
                      b64(yubin.DEMO_PASSWORD.encode()) + b"\r\nMAIL FROM:<alice@example.org>\r\n"
                      b"RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n",
                      args=["--submission"])
t.ok(any(r.startswith(b"235") for r in replies) and
     m.macros.get("M", {}).get("{auth_authen}") == "alice@example.org" and
     m.macros["M"].get("{auth_type}") == "LOGIN", "AUTH LOGIN: {auth_type} is LOGIN at MAIL",
     (replies, m.macros.get("M")))

# Over TCP a step's command follows its macros at once: it must not wait
# for the filter's (delayed) ACK of the macro packet, as it did with Nagle
# on (40 ms a step, some 300 ms a message).
replies, m, out = run(b"EHLO a.example\r\n" + txn() * 3 + b"QUIT\r\n")
gaps = [m.times[i + 1] - m.times[i] for i in range(len(m.events) - 1) if m.events[i][0] == ord("D")]
t.ok(len(gaps) >= 12 and statistics.median(gaps) < 0.02,
     "inet milter: each command follows its macros without waiting for an ACK",
     ["%.1f ms" % (1000 * g) for g in gaps])

replies, m, out = run(b"EHLO a.example\r\nNOOP\r\nQUIT\r\n")
t.ok(m.connections == 0, "a session without MAIL never connects to the milter")

# After STARTTLS the milter learns the protocol version and cipher.
crt = certs.make(env.dir)
m = milter.Scripted({})
env.set(milters=m.spec, tls_cert=crt.cert, tls_key=crt.key)
lst = yubin.Listener(env, "smtp-session")
try:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="tls.example", timeout=30) as c:
        c.starttls(context=ctx)
        c.sendmail("alice@example.net", ["bob@example.org"], "Subject: tls\r\n\r\nbody\r\n")
        cipher = c.sock.cipher()
finally:
    lst.stop()
    m.close()
mm = m.macros.get("M", {})
t.ok(mm.get("{tls_version}") == cipher[1] and mm.get("{cipher}"),
     "after STARTTLS: {tls_version} and {cipher} at MAIL", (mm, cipher))
env.set(tls_cert="", tls_key="")

# A milter that is down does not hold a session that sends no mail, and
# with default accept the mail still flows.
env.set(milters="inet:127.0.0.1:%d" % yubin.free_port(), milter_default_action="accept")
before = count()
out = env.run("smtp-session", b"EHLO a.example\r\n" + txn() + txn() + b"QUIT\r\n")
t.ok(count() - before == 2 and out.stderr.count(b"default action applies") == 1,
     "a milter down is logged once per session, default accept lets both messages through", out.stderr)
t.done()
