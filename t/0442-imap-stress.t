#!/usr/bin/env python3
"""The IMAP stress client (t/imapstress.py): 4 sessions of one user on
one INBOX doing random SELECT/EXAMINE, FETCH, STORE, EXPUNGE, APPEND and
NOOP at once, Maildir and mbox. Nothing a FETCH says about a UID
(INTERNALDATE, RFC822.SIZE, BODY[], ENVELOPE, BODYSTRUCTURE) ever changes,
BODY[] is what was APPENDed and as long as its RFC822.SIZE, every command
is answered OK (a message another session expunged is still readable by a
session not yet told: RFC 2180 §4.1.1; on Maildir only if that session
read it before, else FETCH answers NO [EXPUNGEISSUED], checked against
the next NOOP's EXPUNGE, t/imapstress.py), and a keyword shows in FETCH FLAGS
only after FLAGS announced it. A few seconds per format in make check;
YUBIN_STRESS_SECONDS=60 (and YUBIN_STRESS_SESSIONS, YUBIN_STRESS_SEED) for
a long run."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imapstress  # noqa: E402
from imaptest import deliver  # noqa: E402

U = "alice@example.org"
SECONDS = float(os.environ.get("YUBIN_STRESS_SECONDS", "3"))
SESSIONS = int(os.environ.get("YUBIN_STRESS_SESSIONS", "4"))
SEED = int(os.environ.get("YUBIN_STRESS_SEED", "1"))
t = yubin.TAP()


def listing(errors):
    more = "\n... %d in all" % len(errors) if len(errors) > 25 else ""
    return "\n".join(errors[:25]) + more


for fmt in ("maildir", "mbox"):
    env = yubin.Env(conf={"mailbox_format": fmt})
    try:
        for i in range(5):  # delivered mail too, not only APPENDed
            deliver(env, U, b"From: bob@example.org\r\nSubject: delivered %d\r\n"
                    b"Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\nhello %d\r\n" % (i, i))
        errors, counts = imapstress.run(env, U, "INBOX", SESSIONS, SECONDS, SEED)
        t.diag("%s: %s" % (fmt, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
        t.ok(counts["commands"] > 20 and counts["fetched"] > 0,
             "%s: the sessions ran (%d commands)" % (fmt, counts["commands"]))
        t.ok(not errors["data"], "%s: %d sessions for %g s: no UID's data changed or made "
             "up, no keyword before its FLAGS" % (fmt, SESSIONS, SECONDS), listing(errors["data"]))
        t.ok(not errors["reply"],
             "%s: every command answered OK (or NO [EXPUNGEISSUED] where one was)" % fmt,
             listing(errors["reply"]))
    finally:
        env.cleanup()
t.done()
