#!/usr/bin/env python3
"""The IMAP stress client (t/imapstress.py), Maildir and mbox: 4 sessions
of one user on one INBOX send random commands of every extension offered
(FETCH with PREVIEW and BINARY, STORE, EXPUNGE and UID EXPUNGE, MOVE,
APPEND and MULTIAPPEND, SEARCH and ESEARCH, SORT, ESORT and THREAD, IDLE,
QUOTA, STATUS; one session in two compressed) while mail arrives through
smtp-session and, on Maildir, another program adds files to new/ and cur/
and renames them (t/imapstress_feed.py).

Checked after every reply (t/imapstress_view.py): UIDs strictly
ascending, EXISTS, EXPUNGE and FETCH consistent, results within the
session's messages, UIDNEXT, APPENDUID and COPYUID above every UID seen,
a STORE's answer as stored, nothing a FETCH says of a UID ever changing,
keywords announced before use, every command OK (or NO [EXPUNGEISSUED]
where a message was expunged elsewhere, RFC 2180 §4.1.2). At the end
(t/imapstress_ledger.py): every message made is there once or was
removed by a session, flags as last stored, QUOTA usage as the store
holds.

A few seconds per format in make check; YUBIN_STRESS_SECONDS=60 (and
YUBIN_STRESS_SESSIONS, YUBIN_STRESS_SEED, YUBIN_STRESS_FORMATS; and
YUBIN_STRESS_KEEP=1 to keep the scratch directory and its logs) for a
long run."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imapstress  # noqa: E402

U = "alice@example.org"
SECONDS = float(os.environ.get("YUBIN_STRESS_SECONDS", "3"))
SESSIONS = int(os.environ.get("YUBIN_STRESS_SESSIONS", "4"))
SEED = int(os.environ.get("YUBIN_STRESS_SEED", "1"))
FORMATS = os.environ.get("YUBIN_STRESS_FORMATS", "maildir mbox").split()
t = yubin.TAP()


# Defects the stress client found that are not fixed yet, by the
# message that shows them: each is a TODO (shown by prove, not a
# failure) while it lasts; any other error fails the test.
KNOWN = [
    (r"EXPUNGE of UID \d+, which no session flagged|is UID \d+, was UID \d+|"
     r"sessions saw it as UID", None,
     "a message reported expunged, or under a second UID, while no session removed it "
     "(rare since the UID list keeps late messages' lines; the rest, and mbox's, not "
     "explained yet: S45, S64)"),
    (r"^final: UID \d+ \(.*\) (lacks|has) ", None,
     "a flag at the end is not what the last STORE asked for (mbox: a change lost "
     "under other sessions' changes; Maildir: implicit \\Seen)"),
    (r"answered UID \d+ (with|without) .*not as stored", None,
     "a STORE answered with flags other than it set"),
    (r"left out \d+ messages", None,
     "THREAD ORDEREDSUBJECT or SEARCH over ALL leaving out messages not expunged"),
    (r"STATUS INBOX UIDNEXT|UIDNEXT \d+ but UID \d+ was seen", "mbox",
     "STATUS or SELECT of INBOX with a stale UIDNEXT"),
    (r"^final: <[^>]*> twice: Other UID", "mbox",
     "two sessions MOVEing one message at once both copy it (copy and expunge are not "
     "one step under the folder's lock)"),
]


def listing(errors):
    more = "\n... %d in all" % len(errors) if len(errors) > 25 else ""
    return "\n".join(errors[:25]) + more


def known(fmt, errors):
    """(errors no known defect explains, {why: [errors]})."""
    rest, todo = [], {}
    for e in errors:
        for pat, only, why in KNOWN:
            if (only is None or only == fmt) and re.search(pat, e):
                todo.setdefault(why, []).append(e)
                break
        else:
            rest.append(e)
    return rest, todo


for fmt in FORMATS:
    env = yubin.Env(conf={"mailbox_format": fmt, "quota_storage": 1 << 30})
    try:
        errors, counts = imapstress.run(env, U, SESSIONS, SECONDS, SEED)
        t.diag("%s: %s" % (fmt, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
        t.ok(counts.get("commands", 0) > 20 and counts.get("fetched", 0) > 0 and
             counts.get("delivered by smtp-session", 0) > 0,
             "%s: the sessions ran (%d commands) while mail arrived" % (fmt, counts.get("commands", 0)))
        data, todo = known(fmt, errors["data"])
        t.ok(not data, "%s: %d sessions for %g s: every reply and the mailbox at the end as "
             "the invariants say" % (fmt, SESSIONS, SECONDS), listing(data))
        for _, only, why in KNOWN:
            if only is None or only == fmt:
                t.todo(why not in todo, "%s: no %s" % (fmt, why), "known defect, not fixed yet",
                       listing(todo.get(why, [])))
        t.ok(not errors["reply"],
             "%s: every command answered OK (or NO [EXPUNGEISSUED] where one was), every "
             "delivery taken" % fmt, listing(errors["reply"]))
    finally:
        if os.environ.get("YUBIN_STRESS_KEEP"):
            t.diag("kept " + env.dir)
        else:
            env.cleanup()
t.done()
