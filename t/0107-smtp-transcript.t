#!/usr/bin/env python3
# smtp-session transcripts through a pipe (STYLE.md: NAME.in / NAME.ref plus
# diff). For each t/smtp-transcripts/NAME.in, every line is sent with
# CRLF; the replies must equal NAME.ref, and when NAME.mail exists alice's
# stored messages (joined by "--") must equal it. Queue ids and dates are
# masked as ID and DATE. Leading "#args:" / "#conf:" lines give flags and
# configuration. Covers S7, S19, S21, S53 in a readable form.
import difflib
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402


t = yubin.TAP()
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp-transcripts")


def mask(text):
    text = re.sub(r"(queued as|with E?SMTPS?A? id) [0-9A-F]+", r"\1 ID", text)
    return re.sub(r"\t[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n", "\tDATE\n", text)


def compare(got, want, name):
    if got == want:
        t.ok(True, name)
    else:
        t.ok(False, name, "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                        "expected", "got")))


for path in sorted(glob.glob(os.path.join(HERE, "*.in"))):
    name = os.path.basename(path)[:-3]
    lines = open(path, "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    # Leading "#args: ..." and "#conf: key = value" lines set up the run.
    args, conf = [], {}
    while lines and lines[0].startswith((b"#args:", b"#conf:")):
        head = lines.pop(0).decode()
        if head.startswith("#args:"):
            args += head[6:].split()
        else:
            k, v = head[6:].split("=", 1)
            conf[k.strip()] = v.strip()
    env = yubin.CleanEnv(conf=conf)
    r = env.run("smtp-session", b"".join(ln + b"\r\n" for ln in lines), args=args)
    got = mask(r.stdout.decode("utf-8", "replace")).replace("\r\n", "\n")
    compare(got, open(os.path.join(HERE, name + ".ref")).read(), "transcript %s: replies" % name)
    t.ok("\r" not in r.stdout.decode("latin-1").replace("\r\n", ""), "transcript %s: CRLF only" % name)
    mail = os.path.join(HERE, name + ".mail")
    if os.path.exists(mail):
        stored = "--\n".join(mask(m.decode("utf-8", "replace")) for m in env.messages("alice@example.org"))
        compare(stored, open(mail).read(), "transcript %s: stored messages" % name)
    env.cleanup()
t.done()
