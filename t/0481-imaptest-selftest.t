#!/usr/bin/env python3
"""The imaptest group runner (t/imaptest_groups.py) checked on groups of
our own, written here: right expectations pass; each kind of wrong one
fails (a wrong tagged status, a missing reply, a banned reply, a variable
bound twice to different values, a wrong literal, an extra FETCH flag, a
wrong sequence number after an EXPUNGE on another connection, a variable
never bound); a group needing a capability nobody has is skipped, naming
it; a TODO group that passes is reported; the runner's model of the
mailbox fails a dropped count, an EXPUNGE past the end, a changed UID or
INTERNALDATE. Needs no copy of imaptest's own groups."""
import contextlib
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imaptest_groups as runner  # noqa: E402
from imaptest_script import Group, logical_lines, parse_args  # noqa: E402

MBOX = (b"From user@domain  Fri Feb 22 17:06:23 2008\n"
        b"From: One <one@example.org>\nSubject: first\n\nbody one\n\n"
        b"From user@domain  Fri Feb 22 17:06:24 2008 +0200\n"
        b"From: Two <two@example.org>\nSubject: second\n\nbody two\n\n")

GOOD = {
    "list-sep": 'state: auth\n\nok list "" ""\n* list (\\noselect) $sep ""\n',
    "status-vars": "state: created\n\nok status $mailbox (uidnext messages)\n"
                   "* status $mailbox (messages 0 uidnext $next)\n"
                   "ok append\nok status $mailbox (uidnext)\n! status $mailbox (uidnext $next)\n",
    "fetch-literal": "messages: 2\n\nok fetch 2 body.peek[header.fields (subject)]\n"
                     "* 2 fetch (body[header.fields (subject)] {{{\nSubject: second\n\n\n}}})\n"
                     "ok fetch 1:2 internaldate\n* 1 fetch (internaldate \"22-Feb-2008 17:06:23 +0000\")\n"
                     "* 2 fetch (internaldate \"22-Feb-2008 $\")\n",
    "fetch-flags": "messages: 1\n\nok store 1 flags (\\seen \\flagged)\n"
                   "* 1 fetch (flags (\\flagged \\seen))\n",
    "expunge-seq": "connections: 2\nmessages: 3\n\n1 ok store 1,3 +flags \\deleted\n1 ok expunge\n"
                   "2 ok noop\n* $1 expunge\n* $3 expunge\n",
}
BAD = {
    "wrong-status": ('state: auth\n\nno list "" ""\n', "expected tagged reply 'no'"),
    "missing": ('state: auth\n\nok list "" ""\n* list () $sep nosuchbox\n', "missing 1 untagged"),
    "banned": ('state: auth\n\nok list "" ""\n! list (\\noselect) $sep ""\n', "unexpected untagged match"),
    "rebound": ("messages: 2\n\nok fetch 1 uid\n* 1 fetch (uid $u)\nok fetch 2 uid\n* 2 fetch (uid $u)\n",
                "missing 1 untagged"),
    "literal": ("messages: 2\n\nok fetch 2 body.peek[header.fields (subject)]\n"
                "* 2 fetch (body[header.fields (subject)] {{{\nSubject: first!\n\n\n}}})\n", "missing 1 untagged"),
    "extra-flag": ("messages: 1\n\nok store 1 flags (\\seen \\flagged)\n* 1 fetch (flags (\\seen))\n",
                   "missing 1 untagged"),
    "expunge-seq-wrong": ("connections: 2\nmessages: 3\n\n1 ok store 1,3 +flags \\deleted\n"
                          "1 ok expunge\n2 ok noop\n* $1 expunge\n* $2 expunge\n", "missing 1 untagged"),
    "unset-variable": ("state: auth\n\nok status $nosuchvariable (messages)\n", "uninitialized variable"),
}

t = yubin.TAP()
d = tempfile.mkdtemp(prefix="yubin-imaptest-")
try:
    with open(os.path.join(d, "default.mbox"), "wb") as f:
        f.write(MBOX)
    for fmt in ("maildir", "mbox"):
        for name, text in sorted(GOOD.items()):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            result, why = runner.run_group(path, fmt)
            t.ok(result == "pass", "right expectations pass: %s on %s" % (name, fmt), why)
        for name, (text, want) in sorted(BAD.items()):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            result, why = runner.run_group(path, fmt)
            t.ok(result == "fail" and want in why, "a wrong expectation fails: %s on %s" % (name, fmt),
                 "%s: %s" % (result, why))
    path = os.path.join(d, "needs-cap")
    with open(path, "w") as f:
        f.write('capabilities: IMAP4rev1 X-NO-SUCH-CAP\nstate: auth\n\nok list "" ""\n')
    result, why = runner.run_group(path, "maildir")
    t.ok(result == "skip" and "X-NO-SUCH-CAP" in why and "IMAP4rev1" not in why,
         "a group needing a capability not advertised is skipped, naming it", why)

    # the text of ~{{{ literals ends lines in LF, of {{{ ones in CRLF
    lines = list(logical_lines('state: auth\n\nok x ~{{{\na\r\nb\n}}} {{{\nc\n\n}}})\n'))
    t.eq(lines[-1][1], "ok x ~{4}\r\na\r\nb {3}\r\nc\r\n)", "multi-line literals fold as imaptest's")

    # a TODO group that passes is reported, one that fails is TODO
    out = io.StringIO()
    sub = yubin.TAP()
    with contextlib.redirect_stdout(out):
        runner.report(sub, "g1", "pass", "", "known bug")
        runner.report(sub, "g2", "fail", "why\x00", "known bug")
        runner.report(sub, "g3", "skip", "needs capability X", None)
    text = out.getvalue()
    t.ok("ok 1 - g1 # TODO known bug" in text and "g1 passes now" in text,
         "a TODO group that passes is reported", text)
    t.ok("not ok 2 - g2 # TODO known bug" in text and "why\\x00" in text and sub.failed == 0,
         "a TODO group that fails is TAP TODO, its reason printable", text)
    t.ok("ok 3 - g3 # SKIP needs capability X" in text, "a skip says why", text)

    # imaptest's model of the mailbox: breaches fail, a right course not
    def breach(steps):
        v = runner.View()
        try:
            for step in steps:
                step(v)
        except runner.Failed as e:
            return str(e)
        return None

    def fetch(seq, items):
        return lambda v: v.fetch(seq, parse_args("(%s)" % items)[0], "box")
    right = [lambda v: v.exists(3), fetch(1, "UID 5 INTERNALDATE \"x\""), lambda v: v.expunge(1),
             fetch(1, "UID 6"), lambda v: v.exists(3), fetch(3, "FLAGS () UID 9"), fetch(9, "UID 1")]
    t.eq(breach(right), None, "the model takes a right course of replies")
    for name, steps, want in (
            ("count drop", [lambda v: v.exists(3), lambda v: v.exists(2)], "count dropped 3 -> 2"),
            ("expunge past the end", [lambda v: v.exists(3), lambda v: v.expunge(4)], "sequence 4 with only 3"),
            ("UID change", [lambda v: v.exists(1), fetch(1, "UID 5"), fetch(1, "UID 6")], "UID changed"),
            ("INTERNALDATE change", [lambda v: v.exists(1), fetch(1, 'UID 5 INTERNALDATE "a"'),
                                     fetch(1, 'INTERNALDATE "b"')], "INTERNALDATE changed")):
        got = breach(steps)
        t.ok(got is not None and want in got, "the model fails a %s" % name, got)

    g = Group(os.path.join(d, "expunge-seq"))
    t.eq((g.connections, len(g.groups), g.groups[-1].commands[0].text), (2, 4, "logout"),
         "groups split by command, LOGOUT added at the end")
finally:
    import shutil
    shutil.rmtree(d, ignore_errors=True)
t.done()
