#!/usr/bin/env python3
"""SEARCH FROM, TO, CC and BCC match the addresses in their envelope form
(RFC 9051 §6.4.4, RFC 3501 §6.4.4: "in the envelope structure's FROM
field"), as Dovecot does: each address as mailbox@domain with comments
and white space gone, its display name (a comment standing for one, as
in ENVELOPE), group names; case-insensitive substrings; RFC 2047 names
decoded. Not the raw header: "<carol (desk)@ (home) example.net>" is found
by "carol@example.net" and not by "desk". What imaptest's
search-addresses group checks, with messages of our own, on Maildir and
mbox; HEADER From still searches the raw header."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()

MSGS = [
    # 1: bare addresses
    b"From: carol@example.net\r\nTo: dave@example.net\r\nCc: erin@example.net\r\n"
    b"Bcc: frank@example.net\r\nSubject: one\r\n\r\nbody\r\n",
    # 2: display names
    b"From: Carol Smith <carol@example.net>\r\nTo: Dave Jones <dave@example.net>\r\n"
    b"Cc: Erin Brown <erin@example.net>\r\nBcc: Frank Black <frank@example.net>\r\n"
    b"Subject: two\r\n\r\nbody\r\n",
    # 3: comments and white space inside the address, no display name
    b"From: <carol (desk)@ (home) example.net>\r\nTo: <dave@example.net>\r\n"
    b"Cc: <erin @ example.net>\r\nBcc: <frank@example.net>\r\nSubject: three\r\n\r\nbody\r\n",
    # 4: a trailing comment is the display name (as in ENVELOPE)
    b"From: carol@example.net (Carol Smith)\r\nTo: dave@example.net (Dave Jones)\r\n"
    b"Cc: erin@example.net (Erin Brown)\r\nBcc: frank@example.net (Frank Black)\r\n"
    b"Subject: four\r\n\r\nbody\r\n",
    # 5: two senders, folded
    b"From: carol1@example.net,\r\n carol2@example.net\r\nCc: erin@example.net\r\n"
    b"Subject: five\r\n\r\nbody\r\n",
    # 6: groups
    b"From: Carol Smith <carol@example.net>\r\n"
    b"To: team: gina@example.net, hank@example.net;,\r\n  team2: ivan@example.net;\r\n"
    b"Subject: six\r\n\r\nbody\r\n",
    # 7: an empty group
    b"From: Carol Smith <carol@example.net>\r\nTo: team:;\r\nSubject: seven\r\n\r\nbody\r\n",
    # 8: an RFC 2047 display name and a quoted one
    b"From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.net>\r\n"
    b"To: \"Kim, Lee\" <kim@example.net>\r\nSubject: eight\r\n\r\nbody\r\n",
]

CASES = [
    ("FROM carol@example.net", "1 2 3 4 6 7"),
    ("TO dave@example.net", "1 2 3 4"),
    ("CC erin@example.net", "1 2 3 4 5"),
    ("BCC frank@example.net", "1 2 3 4"),
    ("FROM \"carol smith\"", "2 4 6 7"),
    ("TO \"dave jones\"", "2 4"),
    ("CC \"ERIN BROWN\"", "2 4"),
    ("BCC \"frank black\"", "2 4"),
    ("FROM arol@exa", "1 2 3 4 6 7"),
    ("FROM arol", "1 2 3 4 5 6 7"),
    ("TO ave@", "1 2 3 4"),
    ("CC rin@example", "1 2 3 4 5"),
    ("BCC rank@", "1 2 3 4"),
    ("FROM \"ol smi\"", "2 4 6 7"),
    ("FROM carol1", "5"),
    ("FROM carol2@example.net", "5"),
    ("TO team", "6 7"),
    ("TO team2", "6"),
    ("TO gina@example.net", "6"),
    ("TO ivan", "6"),
    ("TO nobody", ""),
    # comments and white space are not part of the address
    ("FROM desk", ""),
    ("FROM home", ""),
    ("CC \"erin @\"", ""),
    ("FROM \"<carol (desk)\"", ""),
    ("CHARSET UTF-8 FROM", "j\u00f6rg", "8"),
    ("CHARSET UTF-8 FROM", "M\u00dcLLER", "8"),
    ("FROM =?UTF-8?Q?", ""),
    ("TO \"kim, lee\"", "8"),
    ("OR FROM desk TO ivan", "6"),
    ("NOT FROM carol", "8"),
    ("FROM \"\"", "1 2 3 4 5 6 7 8"),
    ("BCC \"\"", "1 2 3 4"),
    # the whole list written back as Dovecot writes it to search it:
    # "name" <mailbox@domain>, ... and group: ...;
    ("FROM \"<carol\"", "1 2 3 4 5 6 7"),
    ("FROM \"carol@example.net>\"", "1 2 3 4 6 7"),
    ("FROM \"smith <carol@\"", ""),
    ("FROM \"smith\\\" <carol@\"", "2 4 6 7"),
    ("FROM \"carol1@example.net, carol2\"", ""),
    ("FROM \"carol1@example.net>, <carol2\"", "5"),
    ("TO \"team: gina\"", ""),
    ("TO \"team: <gina@example.net>, <hank@example.net>;, team2: <ivan\"", "6"),
    ("TO \"team:;\"", "7"),
    ("TO ;", "6 7"),
    ("FROM \" \"", "2 4 5 6 7 8"),
    ("TO \"\\\"kim, lee\\\" <kim@\"", "8"),
    ("HEADER From desk", "3"),
    ("HEADER To \"\"", "1 2 3 4 6 7 8"),
]


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        for m in MSGS:
            append_ok(s, "INBOX", m)
        s.cmd("SELECT INBOX")
        for case in CASES:
            key, want = case[0], case[-1]
            line = b"SEARCH " + key.encode()
            if len(case) == 3:  # a UTF-8 string, sent as a literal
                u = case[1].encode()
                line += b" {%d+}\r\n%s" % (len(u), u)
                key += " " + case[1]
            r = s.cmd(line)
            lines = [x for x in r.split(b"\r\n") if x.startswith(b"* SEARCH")]
            got = lines[0][len(b"* SEARCH"):].strip().decode() if lines else None
            t.ok(tagged(r).split()[1] == b"OK" and got == want,
                 "%s: SEARCH %s -> %s" % (fmt, key, want or "none"),
                 "got %r: %r" % (got, r))
        r = s.cmd("UID SEARCH FROM carol@example.net NOT FROM desk")
        t.ok(b"* SEARCH 1 2 3 4 6 7\r\n" in r, "%s: UID SEARCH, NOT" % fmt, r)
    finally:
        s.close()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
