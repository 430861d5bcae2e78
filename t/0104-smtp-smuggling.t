#!/usr/bin/env python3
# smtp-session: SMTP smuggling and line endings, through pipes. Only
# CRLF.CRLF ends DATA; every other "end" is content (normalize) or fails the
# message (reject), and one DATA never becomes two messages. Bare CR/LF in
# command lines, NUL, BDAT chunks, and what reaches the Received: header.
# Covers S1, S2, S3, S4, S5, S7, S29 (S6 needs a socket: t/0106).
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402


t = yubin.TAP()
envs = {m: yubin.CleanEnv(conf={"smtp_bare_newline": m}) for m in ("normalize", "reject")}
ENVELOPE = b"EHLO x\r\nMAIL FROM:<u@example.com>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
INNER = (b"MAIL FROM:<admin@example.net>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
         b"From: admin@example.net\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\nQUIT\r\n")

replies = yubin.smtp_replies  # final reply lines, greeting included


def take_messages(env):
    """Messages in alice's INBOX, removed so the next case starts empty."""
    msgs = env.messages("alice@example.org")
    for sub in ("new", "cur"):
        d = os.path.join(env.maildir("alice@example.org"), sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
    return msgs


def smuggle(case, payload, mode):
    env = envs[mode]
    r = env.run("smtp-session", ENVELOPE + payload)
    rs = replies(r.stdout)
    msgs = take_messages(env)
    after = rs[rs.index(next(x for x in rs if x.startswith(b"354"))) + 1:] if any(
        x.startswith(b"354") for x in rs) else []
    t.ok(r.stdout.count(b"354 ") == 1 and not any(x.startswith(b"250 2.1") for x in after),
         "%s (%s): no 250 for the inner MAIL/RCPT, no second 354" % (case, mode), b"\n".join(rs))
    t.ok(len(after) >= 1 and after[1:] in ([b"221 2.0.0 Bye"], []),
         "%s (%s): one final reply after the 354, then QUIT" % (case, mode), b"\n".join(after))
    t.ok(len(msgs) <= 1, "%s (%s): at most one message stored, never two" % (case, mode))
    return after[0] if after else b"", msgs


def smuggle_both(case, payload, nul=False):
    verdict, msgs = smuggle(case, payload, "normalize")
    if nul:
        t.ok(verdict.startswith(b"554 5.6.0") and msgs == [],
             "%s (normalize): NUL in the message: 554 5.6.0, nothing stored" % case, verdict)
    else:
        t.ok(verdict.startswith(b"250 2.0.0") and len(msgs) == 1 and
             b"MAIL FROM:<admin@example.net>" in msgs[0],
             "%s (normalize): one message whose body holds the inner MAIL FROM text" % case,
             verdict + b"\n" + (msgs[0] if msgs else b""))
        t.ok(not msgs or b"\r" not in msgs[0],
             "%s (normalize): no bare CR reaches the store (S8)" % case)
    verdict, msgs = smuggle(case, payload, "reject")
    want = b"554 5.6.0" if nul else b"550 5.5.2 Error: bare <"
    t.ok(verdict.startswith(want) and msgs == [],
         "%s (reject): %s, nothing stored" % (case, want.decode()), verdict)


# S1: the SEC Consult <LF>.<CR><LF>, in one write.
smuggle_both("S1 <LF>.<CR><LF>", b"From: u@example.com\r\nSubject: one\r\n\r\nfirst\n.\r\n" + INNER)
# S2 and S3: every other non-standard "end", each followed by the real one.
for name, seq in [("S2 <LF>.<LF>", b"\n.\n"), ("S3 <CR>.<CR>", b"\r.\r"),
                  ("S3 <CR>.<LF>", b"\r.\n"), ("S3 <LF>.<CR>", b"\n.\r"),
                  ("S3 <CR>.<CR><LF>", b"\r.\r\n"), ("S3 <CR><LF>.<CR>", b"\r\n.\r"),
                  ("S3 <CR><LF>.<LF>", b"\r\n.\n"), ("S3 <CR><CR><LF>.<CR><CR><LF>", b"\r\r\n.\r\r\n")]:
    smuggle_both(name, b"Subject: s\r\n\r\na" + seq + INNER)
# S4: NUL before the dot.
smuggle_both("S4 <CR><LF><NUL>.<CR><LF>", b"Subject: s\r\n\r\nx\r\n\x00.\r\n" + INNER, nul=True)

# Normalize keeps everything else exact: bare LF becomes a line end, bare CR a space.
env = envs["normalize"]
r = env.run("smtp-session", ENVELOPE + b"Subject: n\r\n\r\na\nb\rc\r\n.\r\nQUIT\r\n")
msgs = take_messages(env)
t.ok(len(msgs) == 1 and msgs[0].endswith(b"\nSubject: n\n\na\nb c\n"),
     "normalize: bare LF stored as a line end, bare CR as a space", msgs)

# S5: bare LF / CR in command lines: one reply, then the connection closes.
for mode, env in envs.items():
    for name, data in [("EHLO a<LF>MAIL", b"EHLO a\nMAIL FROM:<x@example.com>\r\nQUIT\r\n"),
                       ("HELO a<CR>MAIL", b"HELO a\rMAIL FROM:<x@example.com>\r\nQUIT\r\n"),
                       ("NOOP<LF>MAIL after EHLO",
                        b"EHLO x\r\nNOOP\nMAIL FROM:<x@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
                        b"DATA\r\nx\r\n.\r\nQUIT\r\n"),
                       ("RCPT ...<CR><LF> inside",
                        b"EHLO x\r\nMAIL FROM:<x@example.com>\r\nRCPT TO:<alice@example.org>\rDATA\r\n"
                        b"x\r\n.\r\nQUIT\r\n")]:
        r = env.run("smtp-session", data)
        rs = replies(r.stdout)
        t.ok(rs[-1].startswith(b"521 5.5.2 mx.example.org Error: bare <") and
             not any(x.startswith((b"250 2.1.5", b"354", b"221")) for x in rs) and
             (b"250 2.1.0" not in r.stdout or b"\rDATA" in data),
             "S5 (%s): %s: 521 5.5.2 bare CR/LF, no 250 for the command behind it, closed" % (mode, name),
             b"\n".join(rs))
        t.eq(take_messages(env), [], "S5 (%s): %s: nothing stored" % (mode, name))

# S7: BDAT / CHUNKING.
env = envs["reject"]
MR = b"EHLO x\r\nMAIL FROM:<u@example.com>\r\nRCPT TO:<alice@example.org>\r\n"


def bdat(name, data, want, stored):
    r = env.run("smtp-session", data)
    rs = [x[:9] for x in replies(r.stdout)]
    msgs = take_messages(env)
    # after the prepended fields (Received: ends with its date line)
    bodies = [re.split(rb"\n\t[A-Z][a-z]{2}, [^\n]*\n", m, 1)[-1] for m in msgs]
    t.eq(rs, want, "S7: %s: replies" % name)
    t.eq(bodies, stored, "S7: %s: stored" % name)


bdat("BDAT 0 LAST without a transaction", b"EHLO x\r\nBDAT 0 LAST\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"503 5.5.1", b"221 2.0.0"], [])
bdat("BDAT 5 LAST + 5 octets without MAIL: 503, octets skipped, in sync",
     b"EHLO x\r\nBDAT 5 LAST\r\nhelloQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"503 5.5.1", b"221 2.0.0"], [])
bdat("BDAT 2^64: 501 and close", MR + b"BDAT 18446744073709551616\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"501 5.5.4"], [])
bdat("BDAT -1: 501 and close", MR + b"BDAT -1\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"501 5.5.4"], [])
bdat("BDAT 5 LASTX: 501", MR + b"BDAT 5 LASTX\r\nhelloQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"501 5.5.4"], [])
bdat("BDAT over the size limit: 552 5.3.4 and close", MR + b"BDAT 99999999999 LAST\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"552 5.3.4"], [])
bdat("BDAT 5 then EOF after 2 octets: nothing stored", MR + b"BDAT 5\r\nab",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5"], [])
bdat("BDAT 0 LAST in a transaction: an empty message", MR + b"BDAT 0 LAST\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"250 2.0.0", b"221 2.0.0"], [b""])
bdat("a dot line and RSET inside a chunk are content, never unstuffed",
     MR + b"BDAT 13 LAST\r\nab\r\n.\r\nRSET\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"250 2.0.0", b"221 2.0.0"],
     [b"ab\n.\nRSET\n"])
bdat("chunks join, CRLF split across chunks, ..dot kept",
     MR + b"BDAT 10\r\nSubj: x\r\n\rBDAT 8 LAST\r\n\n..dot\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"250 2.0.0", b"250 2.0.0",
      b"221 2.0.0"], [b"Subj: x\n\n..dot\n"])
bdat("DATA during BDAT: 503; RSET ends it",
     MR + b"BDAT 3\r\nabcDATA\r\nRSET\r\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"250 2.0.0", b"503 5.5.1",
      b"250 2.0.0", b"221 2.0.0"], [])
bdat("bare LF in a chunk (reject): 550 5.5.2, nothing stored",
     MR + b"BDAT 4 LAST\r\na\nb\nQUIT\r\n",
     [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"550 5.5.2", b"221 2.0.0"], [])

# Loop detection: more than 50 Received: headers (S60 on the receiving side).
r = envs["normalize"].run("smtp-session", ENVELOPE + b"Received: from a by b; x\r\n" * 51 +
                          b"Subject: loop\r\n\r\nx\r\n.\r\n" + ENVELOPE[8:] + b"DATA\r\n" +
                          b"Received: from a by b; x\r\n" * 49 + b"\r\nReceived: body\r\n" * 5 +
                          b".\r\nQUIT\r\n")
rs = [x[:9] for x in replies(r.stdout)]
t.eq(rs[5:], [b"554 5.4.6", b"250 2.1.0", b"250 2.1.5", b"354 End d", b"250 2.0.0", b"221 2.0.0"],
     "51 Received: headers: 554 5.4.6 loop; 50 with Received: lines in the body: accepted")
t.eq(len(take_messages(envs["normalize"])), 1, "only the message under the hop limit was stored")

# S29: what a client says in EHLO and MAIL never breaks the Received header.
env = envs["normalize"]
r = env.run("smtp-session", b"EHLO a\rBcc: x@example.net\r\nQUIT\r\n")
t.ok(replies(r.stdout)[-1].startswith(b"521 5.5.2"), "S29: EHLO with a bare CR: 521, closed")
r = env.run("smtp-session", b"EHLO " + b"a" * 20000 + b"\r\nQUIT\r\n")
t.ok(replies(r.stdout)[-1].startswith(b"500 5.5.2 Error: line too long") and b"221" not in r.stdout,
     "S29/S47: 20000-octet EHLO: 500 line too long, closed")
r = env.run("smtp-session", b"EHLO " + b"a" * 256 + b"\r\nEHLO " + b"a" * 255 + b"\r\nQUIT\r\n")
t.eq([x[:9] for x in replies(r.stdout)], [b"220 mx.ex", b"501 5.5.2", b"250 CHUNK", b"221 2.0.0"],
     "S29: EHLO names over 255 octets refused, 255 accepted")
r = env.run("smtp-session", b"EHLO a (evil)\r\nEHLO a\tb\r\nEHLO a\x7fb\r\nEHLO [1.2.3.4]\r\n"
            b"MAIL FROM:<a\"\r\nX: y\"@example.com>\r\nQUIT\r\n")
rs = [x[:9] for x in replies(r.stdout)]
t.eq(rs[:5], [b"220 mx.ex", b"501 5.5.2", b"501 5.5.2", b"501 5.5.2", b"250 CHUNK"],
     "S29: EHLO with blanks or control bytes refused; an address literal accepted")
t.ok(rs[5].startswith(b"553"), "S29: MAIL FROM:<a\"<CR><LF>X: y\"@...> is a syntax error", rs)
r = env.run("smtp-session", b"EHLO [1.2.3.4]\r\nMAIL FROM:<u@example.com>\r\n"
            b"RCPT TO:<alice@example.org>\r\nDATA\r\n\r\nx\r\n.\r\nQUIT\r\n")
msgs = take_messages(env)
rec = msgs[0].split(b"\n\n")[0].split(b"\nReceived: ", 1)[1] if msgs else b""
t.ok(re.fullmatch(rb"from \[1\.2\.3\.4\] \(local\)\n\tby mx\.example\.org \(yubin\) with ESMTP id "
                  rb"[0-9A-F]+\n\tfor <alice@example\.org>;\n\t[ -~]+", rec) is not None,
     "S29: Received: is one folded header of printable ASCII", rec)
# The peer address from the environment (inetd-style launchers) is used only
# when it looks like an address, and then synchronisation is enforced (S6).
e = dict(env.env(), REMOTE_ADDR="192.0.2.7")
r = env.run("smtp-session", b"EHLO x.example\r\nMAIL FROM:<u@example.com>\r\n", env=e)
t.ok(r.stdout.endswith(b"554 5.5.0 Error: SMTP protocol synchronization\r\n") and b"peer=192.0.2.7" in r.stderr,
     "S6: REMOTE_ADDR names the peer, so synchronisation is enforced: MAIL sent in one write "
     "with EHLO gets 554 5.5.0", r.stdout[-80:])
e = dict(env.env(), REMOTE_ADDR="1.2.3.4\r\nX-Evil: y")
r = env.run("smtp-session", b"EHLO x.example\r\nMAIL FROM:<u@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
            b"DATA\r\n\r\nx\r\n.\r\nQUIT\r\n", env=e)
msgs = take_messages(env)
t.ok(len(msgs) == 1 and b"X-Evil" not in msgs[0] and b"Received: from x.example (local)\n" in msgs[0],
     "S29: a REMOTE_ADDR with CR/LF is ignored, never pasted into Received:", msgs[:1])

for e in envs.values():
    e.cleanup()
t.done()
