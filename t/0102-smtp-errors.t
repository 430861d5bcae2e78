#!/usr/bin/env python3
# smtp-session over pipes: every error reply. 503 sequences, 501 syntax, 555
# unknown parameters, 552 SIZE, 452 too many recipients, 550 5.1.1 unknown
# user, 554 relay denied, 421 after too many errors or unknown recipients.
# Covers S21, S22, S23, S24, S25, S28, S50.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

Env = yubin.CleanEnv
t = yubin.TAP()
env = Env()


def replies(out):
    """Final reply lines (code + text), in order, without the greeting."""
    return yubin.smtp_replies(out)[1:]


def session(cmds, args=()):
    data = b"".join(c + b"\r\n" for c in cmds)
    return env.run("smtp-session", data, args=args)


def expect(cmds, want, name, args=()):
    """Runs cmds; want lists a prefix for each reply (after the greeting)."""
    r = session(cmds, args)
    got = replies(r.stdout)
    ok = len(got) >= len(want) and all(g.startswith(w) for g, w in zip(got, want))
    t.ok(ok, name, "got:  %r\nwant: %r" % (got, want))
    return r


MAIL = b"MAIL FROM:<a@example.com>"
RCPT = b"RCPT TO:<alice@example.org>"

# 503: commands out of sequence.
expect([MAIL, b"QUIT"], [b"503 5.5.1", b"221"], "MAIL before EHLO: 503 5.5.1")
expect([b"EHLO x", RCPT, b"QUIT"], [b"250", b"503 5.5.1"], "RCPT before MAIL: 503 5.5.1")
expect([b"EHLO x", b"DATA", b"QUIT"], [b"250", b"503 5.5.1"], "DATA before MAIL: 503 5.5.1")
expect([b"EHLO x", MAIL, b"DATA", b"QUIT"], [b"250", b"250", b"503 5.5.1 Error: no valid recipients"],
       "DATA without an accepted RCPT: 503 5.5.1")
expect([b"EHLO x", MAIL, b"RCPT TO:<nobody@example.org>", b"DATA", b"QUIT"],
       [b"250", b"250", b"550 5.1.1", b"503 5.5.1"], "DATA after only rejected RCPTs: 503")
expect([b"EHLO x", MAIL, MAIL, b"QUIT"], [b"250", b"250", b"503 5.5.1"], "nested MAIL: 503 5.5.1")
expect([b"EHLO x", MAIL, b"RSET", RCPT, b"QUIT"], [b"250", b"250", b"250 2.0.0", b"503 5.5.1"],
       "RCPT after RSET: 503 (RSET ends the transaction)")
expect([b"EHLO x", b"AUTH PLAIN", b"QUIT"], [b"250", b"503 5.5.1"],
       "AUTH on port 25 (no --submission): 503")
expect([b"EHLO x", MAIL, b"QUIT"], [b"250", b"530 5.7.0"],
       "--submission: MAIL before AUTH: 530 5.7.0", args=["--submission"])
expect([b"EHLO x", b"STARTTLS", b"QUIT"], [b"250", b"502 5.5.1"],
       "STARTTLS without certificates: 502")

# 501 / 500: syntax.
expect([b"EHLO", b"HELO", b"EHLO a (evil)", b"EHLO a b", b"QUIT"],
       [b"501 5.5.2", b"501 5.5.2", b"501 5.5.2", b"501 5.5.2", b"221"],
       "EHLO/HELO without or with a bad name: 501 (S29)")
expect([b"EHLO x", b"MAIL TO:<a@example.com>", b"MAIL FROM <a@example.com>", b"QUIT"],
       [b"250", b"501 5.5.4", b"501 5.5.4"], "MAIL without FROM: 501 5.5.4")
expect([b"EHLO x", MAIL, b"RCPT FROM:<alice@example.org>", b"QUIT"],
       [b"250", b"250", b"501 5.5.4"], "RCPT without TO: 501 5.5.4")
expect([b"EHLO x", MAIL, RCPT, b"DATA now", b"QUIT"], [b"250", b"250", b"250", b"501 5.5.4"],
       "DATA with an argument: 501 5.5.4")
expect([b"EHLO x", b"FROB", b"QUIT"], [b"250", b"500 5.5.2"], "unknown command: 500 5.5.2")
expect([b"EHLO x", b"NOOP\x00MAIL FROM:<a@example.com>", b"QUIT"], [b"250", b"500 5.5.2"],
       "NUL in a command: 500, the line is not cut at the NUL (S4)")

# S22: address length and syntax.
expect([b"EHLO x", b"MAIL FROM:<" + b"a" * 300 + b"@example.com>", b"QUIT"],
       [b"250", b"501 5.1.7"], "S22: 300-octet sender: 501 5.1.7 too long")
expect([b"EHLO x", MAIL, b"RCPT TO:<" + b"a" * 65 + b"@example.org>", b"QUIT"],
       [b"250", b"250", b"501 5.1.3"], "S22: 65-octet local part: 501 5.1.3")
expect([b"EHLO x", MAIL, b"RCPT TO:<a@" + b"b" * 250 + b".example.org>", b"QUIT"],
       [b"250", b"250", b"501 5.1.3"], "S22: domain over 255 octets: 501 5.1.3")
expect([b"EHLO x", b"MAIL FROM:a@example.com", b"QUIT"], [b"250", b"553 5.1.7"],
       "S22: sender without <>: refused")
expect([b"EHLO x", b"MAIL FROM: <a@example.com>", b"QUIT"], [b"250", b"250 2.1.0"],
       "S22: one space after the colon is accepted")
expect([b"EHLO x", b"MAIL FROM:<a@example.com> <b@example.com>", b"QUIT"], [b"250", b"555 5.5.4"],
       "S22: two paths: refused as an unknown parameter")
expect([b"EHLO x", MAIL, "RCPT TO:<ålice@example.org>".encode(), b"QUIT"],
       [b"250", b"250", b"553 5.6.7"], "S22: non-ASCII recipient without SMTPUTF8: 553 5.6.7")
expect([b"EHLO x", b"MAIL FROM:<a@[300.1.1.1]>", b"RSET", b"MAIL FROM:<a@[IPv6:::1]>", b"QUIT"],
       [b"250", b"250", b"250", b"250"], "S22: address-literal senders are parsed, not trusted")
expect([b"EHLO x", b"MAIL FROM:<a@[1.2.3.4>", b"MAIL FROM:<a..b@example.com>",
        b"MAIL FROM:<.a@example.com>", b"MAIL FROM:<a@-example.com>", b"QUIT"],
       [b"250", b"553 5.1.7", b"553 5.1.7", b"553 5.1.7", b"553 5.1.7"],
       "S22: broken literal, double dot, leading dot, leading hyphen: 553 5.1.7")

# S23: ESMTP parameters.
S23 = [
    (b"MAIL FROM:<a@example.com> SIZE=99999999999999999999999", b"552 5.3.4", "overflowing SIZE"),
    (b"MAIL FROM:<a@example.com> SIZE=999999999999", b"552 5.3.4", "SIZE over the limit (S48)"),
    (b"MAIL FROM:<a@example.com> SIZE=-1", b"501 5.5.4", "SIZE=-1"),
    (b"MAIL FROM:<a@example.com> SIZE=", b"501 5.5.4", "SIZE="),
    (b"MAIL FROM:<a@example.com> SIZE", b"501 5.5.4", "SIZE without value"),
    (b"MAIL FROM:<a@example.com> BODY=BINARYMIME", b"501 5.5.4", "BODY=BINARYMIME (not offered)"),
    (b"MAIL FROM:<a@example.com> FOO=bar", b"555 5.5.4", "unknown keyword FOO"),
    (b"MAIL FROM:<a@example.com> SIZE=10 SIZE=20", b"501 5.5.4", "duplicate SIZE"),
    (b"MAIL FROM:<\"a b\"@example.com> SIZE=1", b"250 2.1.0", "quoted local part with SIZE"),
    (b"MAIL FROM:<a@example.com>    ", b"250 2.1.0", "trailing spaces"),
    (b"MAIL FROM:<\"@example.com> X=\\\"", b"553 5.1.7", "unbalanced quote"),
    (b"MAIL FROM:<a@example.com> ENVID=x+0Ay", b"501 5.5.4", "ENVID decoding to LF (S26)"),
    (b"MAIL FROM:<a@example.com> ENVID=" + b"a" * 101, b"501 5.5.4", "ENVID over 100"),
    (b"MAIL FROM:<a@example.com> ENVID=a+2", b"501 5.5.4", "ENVID with broken xtext"),
    (b"MAIL FROM:<a@example.com> RET=MOST", b"501 5.5.4", "RET=MOST"),
    (b"MAIL FROM:<a@example.com> AUTH=a+0Abad@example.com", b"501 5.5.4", "AUTH= decoding to LF (S26)"),
    (b"MAIL FROM:<a@example.com> SMTPUTF8=yes", b"501 5.5.4", "SMTPUTF8 with a value"),
    (b"MAIL FROM:<a@example.com> A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9", b"501 5.5.4", "nine parameters"),
    (b"MAIL FROM:<a@example.com> =x", b"501 5.5.4", "parameter without keyword"),
    (b"MAIL FROM:<a@example.com> RET=HDRS ENVID=abc+2Bd BODY=8BITMIME SIZE=100 AUTH=<>",
     b"250 2.1.0", "every offered MAIL parameter at once"),
]
for cmd, want, what in S23:
    expect([b"EHLO x", cmd, b"QUIT"], [b"250", want], "S23: %s: %s" % (what, want.decode()))
S23R = [
    (RCPT + b" NOTIFY=NEVER,SUCCESS", b"501 5.5.4", "NOTIFY=NEVER with another"),
    (RCPT + b" NOTIFY=SOMETIMES", b"501 5.5.4", "unknown NOTIFY"),
    (RCPT + b" NOTIFY=", b"501 5.5.4", "empty NOTIFY"),
    (RCPT + b" ORCPT=rfc822;" + b"a" * 600, b"501 5.5.4", "ORCPT over 500"),
    (RCPT + b" ORCPT=rfc822;a+0AXbad", b"501 5.5.4", "ORCPT decoding to LF (S26)"),
    (RCPT + b" ORCPT=noaddrtype", b"501 5.5.4", "ORCPT without addr-type"),
    (RCPT + b" FOO", b"555 5.5.4", "unknown RCPT keyword"),
    (RCPT + b" NOTIFY=NEVER NOTIFY=NEVER", b"501 5.5.4", "duplicate NOTIFY"),
    (RCPT + b" NOTIFY=SUCCESS,DELAY ORCPT=rfc822;alice+40example.org", b"250 2.1.5",
     "valid NOTIFY and ORCPT"),
]
for cmd, want, what in S23R:
    expect([b"EHLO x", MAIL, cmd, b"QUIT"], [b"250", b"250", want],
           "S23: %s: %s" % (what, want.decode()))

# S26/S47: an ORCPT of 20000 octets is a line too long, not a record.
expect([b"EHLO x", MAIL, RCPT + b" ORCPT=rfc822;" + b"a" * 20000, RCPT, b"QUIT"],
       [b"250", b"250", b"500 5.5.2 Error: line too long"], "S26: RCPT with a 20000-octet ORCPT: "
       "500 line too long, and the session closes before reading it as commands")

# S21: unknown local recipients at RCPT time; S24/S25: hostile local parts.
expect([b"EHLO x", MAIL, b"RCPT TO:<nobody@example.org>", b"QUIT"],
       [b"250", b"250", b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"],
       "S21: unknown local user: 550 5.1.1 at RCPT time")
expect([b"EHLO x", MAIL, b"RCPT TO:<alice@localhost>", b"QUIT"],
       [b"250", b"250", b"550 5.1.1"], "S21: user of another local domain is not alice@example.org")
r = expect([b"EHLO x", b"MAIL FROM:<;sleep 66;>",
            b"MAIL FROM:<;for i in 0 1 2 3 4 5 6 7 8 9 a b c d;do read r;done;sh;exit 0;>",
            MAIL, b"RCPT TO:<alice>", b"RCPT TO:<root>", b"QUIT"],
           [b"250", b"553 5.1.7", b"553 5.1.7", b"250", b"501 5.1.3", b"501 5.1.3", b"221"],
           "S24: shell metacharacters in MAIL FROM: 553 5.1.7; <alice> without domain refused")
started = time.time() - 1
r = expect([b"EHLO x", MAIL,
            b"RCPT TO:<${run{\x2fbin\x2fsh\t-c\t\x22id\x3e\x3e\x2ftmp\x2fid\x22}}@localhost>",
            b"RCPT TO:<${run{/bin/touch /tmp/id}}@localhost>",
            b"RCPT TO:<${run{id}}@example.org>", b"QUIT"],
           [b"250", b"250", b"501 5.1.3", b"501 5.1.3", b"550 5.1.1"],
           "S25: expansion syntax in recipients: 501 or 550, never accepted")
t.ok(not os.path.exists("/tmp/id") or os.path.getmtime("/tmp/id") < started,
     "S24/S25: no file /tmp/id appeared")
t.eq(yubin.files_under(env.spool, env.mail_root), [],
     "S21/S24/S25: no spool or mailbox file created")

# 554 relay denied (more tricks in t/0103).
expect([b"EHLO x", MAIL, b"RCPT TO:<bob@example.net>", b"QUIT"],
       [b"250", b"250", b"554 5.7.1 <bob@example.net>: Relay access denied"],
       "remote recipient without AUTH: 554 5.7.1 relay access denied")

# 421 after too many bad commands / unknown recipients.
r = session([b"EHLO x"] + [b"FROB"] * 25 + [b"QUIT"])
rs = replies(r.stdout)
t.ok(rs.count(b"500 5.5.2 Error: command not recognized") == 20 and rs[-1].startswith(b"421 4.7.0")
     and b"221" not in r.stdout, "21st bad command: 421 4.7.0 and close (S35)", rs[-3:])
r = session([b"EHLO x", MAIL] + [b"RCPT TO:<nobody%d@example.org>" % i for i in range(30)] + [b"QUIT"])
rs = replies(r.stdout)
t.ok(rs.count(b"550 5.1.1 <nobody0@example.org>: Recipient address rejected: User unknown") == 1
     and len([x for x in rs if x.startswith(b"550 5.1.1")]) == 21 and rs[-1].startswith(b"421 4.7.0")
     and b"221" not in r.stdout, "S50: more than 20 unknown recipients: 421 and close", rs[-3:])
r = session([b"EHLO x"] + [b"NOOP"] * 105 + [b"QUIT"])
rs = replies(r.stdout)
t.ok(rs[-1].startswith(b"421 4.7.0") and rs.count(b"250 2.0.0 Ok") == 100,
     "S49: more than 100 junk commands (NOOP): 421", rs[-2:])

# S50: transactions per session (limit set to 100 here; default 1000).
env.set(smtp_max_transactions=100)
cmds = [b"EHLO x"]
for i in range(105):
    cmds += [MAIL, RCPT, b"RSET" if i % 2 else b"HELO x"]
r = session(cmds + [b"QUIT"])
rs = replies(r.stdout)
t.ok(rs[-1] == b"421 4.7.0 mx.example.org Error: too many transactions"
     and len([x for x in rs if x.startswith(b"250 2.1.0")]) == 100,
     "S50: the 101st MAIL in one session gets 421 4.7.0 and the session ends", rs[-3:])
env.set(smtp_max_transactions=1000)

# S28: recipients limit with 100,000 pipelined RCPTs, bounded memory. 150
# aliases of alice make 150 distinct valid recipients.
env28 = Env(aliases="".join("a%d@example.org: alice@example.org\n" % i for i in range(150)))
data = b"EHLO x\r\n" + MAIL + b"\r\n" + \
    b"".join(b"RCPT TO:<a%d@example.org>\r\n" % (i % 150) for i in range(100000)) + \
    b"DATA\r\nSubject: many\r\n\r\nx\r\n.\r\n"
out, rss = yubin.run_hwm(env28, data, b"queued as")
rs = replies(out)
n250 = len([x for x in rs if x.startswith(b"250 2.1.5")])
n452 = len([x for x in rs if x.startswith(b"452 4.5.3")])
t.eq((n250, n452), (100, 99900), "S28: 100,000 pipelined RCPTs: the first 100 get 250, "
     "every later one 452 4.5.3")
t.ok(rss is not None and rss < 32 * 1024, "S28: memory stays bounded (peak RSS %s KiB < 32 MiB)" % rss)
t.contains(out, b"250 2.0.0 Ok: queued", "S28: DATA after 100,000 RCPTs delivers")
t.eq(len(env28.messages("alice@example.org")), 1,
     "S28: 100 aliases of alice: delivered once")
env28.cleanup()

env2 = Env(conf={"smtp_max_recipients": "3"})
r = env2.run("smtp-session", b"EHLO x\r\n" + MAIL + b"\r\n" +
             b"".join(b"RCPT TO:<%s>\r\n" % u for u in
                      (b"alice@example.org", b"bob@example.org", b"carol@example.org",
                       b"demo@localhost", b"demo@localhost")) + b"QUIT\r\n")
rs = replies(r.stdout)
t.eq([x[:9] for x in rs], [b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"250 2.1.5", b"250 2.1.5",
                           b"452 4.5.3", b"452 4.5.3", b"221 2.0.0"],
     "S28: with smtp_max_recipients = 3 the 4th recipient gets 452 4.5.3")
env2.cleanup()
env.cleanup()
t.done()
