#!/usr/bin/env python3
"""One auth-failure line for smtp-session, pop3-session and imap-session
(issue 11, defect 13), and a login name that cannot forge log fields: a
name like "x peer=203.0.113.9" is logged as one escaped value, so that
nothing reading key=value fields (fail2ban, t/0711) takes the injected
address for the peer. Escape bytes never reach the log raw."""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

PEER = "192.0.2.66"
# Every session takes the peer from REMOTE_ADDR when fd 0 is a pipe.
os.environ["REMOTE_ADDR"] = PEER
t = yubin.TAP()
env = yubin.CleanEnv(conf={"auth_fail_delay_ms": "10"})

FORGED = "x peer=203.0.113.9"
SHOWN = r"x\x20peer\x3d203.0.113.9"
# Quotes, '=', a backslash and a UTF-8 letter (SASL refuses control bytes).
NASTY = 'a"b\'c=d\\e\u00e9'
NASTY_SHOWN = r"a\x22b\x27c\x3dd\x5ce\xc3\xa9"
# An IMAP literal carries an ESC sequence that would recolour a terminal.
ESC = "esc\x1b[31mred"
ESC_SHOWN = r"esc\x1b[31mred"
# POP3's USER takes one word: no blank, but the rest.
WORD = 'x"y=z\\w'
WORD_SHOWN = r"x\x22y\x3dz\x5cw"
LINE = re.compile(r"^(\S+)\[\d+\]: warning: peer=(\S+) auth failure: proto=(\S+) method=(\S+) "
                  r"user=(\S+) reason=(\S+) failures=(\d+)$")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def failures(err):
    """The auth-failure lines of a session's log, parsed."""
    text = err.decode("utf-8", "replace")
    return [LINE.match(ln).groups() for ln in text.splitlines() if LINE.match(ln)]


def check(err, prog, proto, want, what):
    """want: (method, user as logged, reason) per failure, in order."""
    got = failures(err)
    t.eq([g[3:6] for g in got], want, "%s: one auth-failure line per failure, user escaped (%s)"
         % (prog, what))
    t.ok(all(g[0] == prog and g[1] == PEER and g[2] == proto for g in got)
         and [int(g[6]) for g in got] == list(range(1, len(got) + 1)),
         "%s: each line names the program, the real peer, proto=%s and counts failures"
         % (prog, proto), err)
    t.ok(b"peer=203.0.113.9" not in err and b" peer=" not in err.replace(
        b": warning: peer=", b"").replace(b": info: peer=", b""),
         "%s: the forged name makes no peer= field" % prog, err)
    t.ok(b"\x1b" not in err and b"nope" not in err, "%s: no raw ESC, no password in the log"
         % prog, err)


# IMAP: LOGIN with a quoted name, AUTHENTICATE PLAIN (SASL-IR), LOGIN
# with a literal name (one more would end the session).
r = env.run("imap-session",
            ('a LOGIN "%s" "nope"\r\nb AUTHENTICATE PLAIN %s\r\nc LOGIN {%d+}\r\n%s "nope"\r\n'
             'd LOGOUT\r\n' % (FORGED, b64("\0" + NASTY + "\0nope"), len(ESC), ESC)).encode())
t.ok(all(b"%s NO [AUTHENTICATIONFAILED]" % tag in r.stdout for tag in (b"a", b"b", b"c")),
     "imap: the three attempts refused", r.stdout)
check(r.stderr, "imap-session", "imap",
      [("LOGIN", SHOWN, "password"), ("PLAIN", NASTY_SHOWN, "password"),
       ("LOGIN", ESC_SHOWN, "password")], "LOGIN, PLAIN, LOGIN with a literal")

# POP3: AUTH PLAIN with an initial response, then USER/PASS.
r = env.run("pop3-session",
            ("AUTH PLAIN %s\r\nUSER %s\r\nPASS nope\r\nQUIT\r\n"
             % (b64("\0" + FORGED + "\0nope"), WORD)).encode())
t.ok(r.stdout.count(b"-ERR [AUTH] Authentication failed") == 2, "pop3: both attempts refused",
     r.stdout)
check(r.stderr, "pop3-session", "pop3",
      [("PLAIN", SHOWN, "password"), ("USER", WORD_SHOWN, "password")], "PLAIN, USER")

# SMTP submission: AUTH PLAIN twice (the peer is remote: one command a turn).
s = env.start("smtp-session", ["--submission"])
s.reply()
s.send("EHLO client.example\r\n")
s.reply()
replies = []
for who in (FORGED, NASTY):
    s.send("AUTH PLAIN %s\r\n" % b64("\0" + who + "\0nope"))
    replies.append(s.reply())
s.send("AUTH PLAIN %s\r\n" % b64("no NULs here"))
replies.append(s.reply())
# The third failure ends the session (421, S53): no QUIT to send.
r = s.close()
t.ok(all(x.startswith(b"535") for x in replies) and b"421 " in r.stdout,
     "smtp: the attempts refused with 535, the third closes with 421", (replies, r.stdout))
check(r.stderr, "smtp-session", "smtp",
      [("PLAIN", SHOWN, "password"), ("PLAIN", NASTY_SHOWN, "password"),
       ("PLAIN", "-", "malformed")], "PLAIN, malformed PLAIN")

# A name in an SMTP envelope is a field too: from=<...> cannot grow a peer=.
s = env.start("smtp-session")
s.reply()
s.send("EHLO client.example\r\n")
s.reply()
s.send('MAIL FROM:<"x peer=203.0.113.9"@example.net>\r\n')
s.reply()
s.send("RCPT TO:<nobody@example.org>\r\n")
rcpt = s.reply()
s.send("QUIT\r\n")
r = s.close()
t.ok(rcpt.startswith(b"550") and
     b'rejected RCPT from=<\\x22x\\x20peer\\x3d203.0.113.9\\x22@example.net>' in r.stderr
     and b"peer=203.0.113.9" not in r.stderr,
     "smtp: a quoted local part with a blank and '=' is escaped in from=<...>", r.stderr)
t.done()
