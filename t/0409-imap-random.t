#!/usr/bin/env python3
"""Random but well-formed IMAP sessions (fixed seeds): 400 commands each,
mixing every command, sequence sets, FETCH items, STORE, SEARCH keys,
COPY/MOVE, APPEND and IDLE. Every command gets its tagged reply, the whole
output parses strictly (S39), and the session exits cleanly (run under
`make check SANITIZE=1` this is a sanitizer check of the handlers)."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import deliver, check_syntax, SyntaxErr  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"max_bad_commands": "100000"})
U = "alice@example.org"

CMDS = ["NOOP", "CHECK", "SELECT INBOX", "EXAMINE INBOX", "SELECT Trash", "CLOSE", "UNSELECT",
        "EXPUNGE", "UID EXPUNGE 1:3", "CREATE x", "CREATE x/y", "DELETE x", "RENAME x z",
        "RENAME INBOX old", "SUBSCRIBE x", "UNSUBSCRIBE x", 'LIST "" *',
        'LIST (SUBSCRIBED RECURSIVEMATCH) "" %', 'LSUB "" *',
        "STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE DELETED RECENT UIDVALIDITY)",
        "APPEND INBOX (\\Seen kw) {5}\r\nhello", "APPEND Trash {3}\r\nabc", "IDLE\r\nDONE",
        "ENABLE IMAP4rev2", "ENABLE UTF8=ACCEPT", "NAMESPACE", "ID NIL"]
SETS = ["1", "*", "1:*", "2:4", "$", "3,1,2", "4294967295", "*:2", "1:0", "0", "7"]
ITEMS = ["FLAGS", "UID", "ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY[]", "BODY.PEEK[1]",
         "BODY[2.MIME]", "BINARY[1]", "BINARY.SIZE[2]", "BODY[HEADER.FIELDS (SUBJECT)]", "RFC822",
         "RFC822.TEXT", "BODY.PEEK[]<2.3>", "BODY[TEXT]<100.5>", "ALL", "FULL", "INTERNALDATE",
         "RFC822.SIZE", "BODY[3]", "BODY[1.1.1]"]
KEYS = ["ALL", "SEEN", "UNSEEN", "OR SEEN DELETED", "NOT FLAGGED", "SUBJECT s", "BODY hello",
        "TEXT plain", "HEADER From a", "LARGER 10", "SMALLER 1000", "UID 1:*", "SINCE 1-Jan-2000",
        "SENTBEFORE 1-Jan-2030", "KEYWORD kw1", "NEW", "OLD", "$", "(SEEN UNSEEN)"]


def command(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(CMDS)
    s = rng.choice(SETS)
    pre = rng.choice(["", "UID "])
    if r < 0.55:
        return "%sFETCH %s (%s)" % (pre, s, " ".join(rng.sample(ITEMS, rng.randint(1, 4))))
    if r < 0.7:
        return "%sSTORE %s %sFLAGS%s (%s)" % (
            pre, s, rng.choice(["", "+", "-"]), rng.choice(["", ".SILENT"]),
            " ".join(rng.sample(["\\Seen", "\\Deleted", "\\Flagged", "kw1", "$Junk", "\\Draft"], 2)))
    if r < 0.85:
        ret = rng.choice(["", "RETURN (SAVE) ", "RETURN (MIN MAX COUNT) ", "RETURN () "])
        return "%sSEARCH %s%s" % (pre, ret, " ".join(rng.sample(KEYS, rng.randint(1, 3))))
    return "%s%s %s %s" % (pre, rng.choice(["COPY", "MOVE"]), s,
                           rng.choice(["Trash", "INBOX", "x", "nonexist"]))


try:
    for i in range(5):
        deliver(env, U, b"From: a@b\r\nSubject: s%d\r\nContent-Type: multipart/mixed; boundary=b\r\n"
                b"\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b\r\n\r\n"
                b"plain\r\n--b--\r\n" % i)
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        data = b"a LOGIN %s %s\r\n" % (U.encode(), yubin.DEMO_PASSWORD.encode())
        for i in range(400):
            data += b"t%d %s\r\n" % (i, command(rng).encode())
        data += b"z LOGOUT\r\n"
        p = subprocess.run([yubin.binary("imap-session"), "-c", env.conf_path], input=data,
                           capture_output=True, timeout=120)
        err = p.stderr.decode(errors="replace")
        t.ok(p.returncode == 0 and "runtime error" not in err and "Sanitizer" not in err,
             "seed %d: session exits cleanly" % seed, err[-2000:])
        t.eq(p.stdout.count(b"\r\nt"), 400, "seed %d: every command answered" % seed)
        t.ok(b"\r\nz OK" in p.stdout, "seed %d: LOGOUT reached" % seed)
        try:
            check_syntax(p.stdout)
            t.ok(True, "seed %d: output parses strictly" % seed)
        except (SyntaxErr, ValueError) as e:
            t.ok(False, "seed %d: output parses strictly" % seed, e)
finally:
    env.cleanup()
t.done()
