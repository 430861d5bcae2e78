#!/usr/bin/env python3
"""imap-session reads the subscriptions file (one name per line, in the
user's directory beside the folders) with a ceiling: a line longer than
any mailbox name (MAILNAME_MAX, 512 octets) or holding a NUL is skipped
whole, never read in pieces whose tail passes for a subscription of its
own (covers S47). LSUB and LIST (SUBSCRIBED) show only the valid names,
the next SUBSCRIBE writes back only those, and a subscriptions file that
cannot be read makes SUBSCRIBE fail rather than rewrite it from nothing.
Both mailbox formats."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, close_all  # noqa: E402

U = "alice@example.org"
MAILNAME_MAX = 512
LONG = b"x" * 9992 + b"TailName"          # 10,000 octets: its tail looks like a name
AT_MAX = b"y" * MAILNAME_MAX              # the longest name: kept
OVER = b"z" * (MAILNAME_MAX + 1)          # one octet more: skipped
FILE = (b"INBOX\n" + LONG + b"\n" + b"Valid\n" + b"Nul\x00Name\n" + AT_MAX + b"\n" +
        OVER + b"\n" + b"Crlf\r\n" + b"Last")  # a last line without LF still counts
WANT = {b"INBOX", b"Valid", AT_MAX, b"Crlf", b"Last"}

t = yubin.TAP()
envs, sessions = [], []


def names(resp, cmd):
    """Mailbox names of the untagged cmd (LSUB or LIST) lines of resp."""
    out = set()
    for line in resp.split(b"\r\n"):
        m = re.match(rb"\* " + cmd + rb" \([^)]*\) (?:NIL|\"[^\"]*\") (.*)$", line)
        if m:
            n = m.group(1)
            out.add(n[1:-1] if n.startswith(b'"') and n.endswith(b'"') else n)
    return out


def login(env):
    raw = Raw(env, login=U)
    sessions.append(raw)
    return raw


def write_subs(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o666)  # the session may run as another user (root: nobody)


def check_format(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    envs.append(env)
    subs = os.path.join(env.maildir(U), "subscriptions")
    raw = login(env)  # the first login makes the user's directory and file
    raw.close()
    t.ok(os.path.isfile(subs), "%s: the subscriptions file is in the user's directory" % fmt)
    write_subs(subs, FILE)

    raw = login(env)
    r = raw.cmd('LSUB "" "*"')
    got = names(r, b"LSUB")
    t.ok(tagged(r).endswith(b"OK LSUB completed") and got == WANT,
         "%s: LSUB shows only the valid names: no piece of the 10,000-octet line, "
         "none of the NUL line, none of the 513-octet one (covers S47)" % fmt,
         "got %r" % sorted(n[:40] for n in got))
    r = raw.cmd('LIST (SUBSCRIBED) "" "*"')
    got = names(r, b"LIST")
    t.ok(tagged(r).endswith(b"OK LIST completed") and got == WANT,
         "%s: LIST (SUBSCRIBED) shows the same names" % fmt,
         "got %r" % sorted(n[:40] for n in got))
    t.ok(not any(b"TailName" in n or b"xxxx" in n or b"Nul" in n or b"zzzz" in n for n in got),
         "%s: no subscription made of a line's piece" % fmt)

    r = raw.cmd("SUBSCRIBE Sent")
    t.ok(tagged(r).endswith(b"OK SUBSCRIBE completed"), "%s: SUBSCRIBE Sent" % fmt, r)
    with open(subs, "rb") as f:
        lines = f.read().split(b"\n")
    t.ok(lines[-1] == b"" and set(lines[:-1]) == WANT | {b"Sent"} and len(lines) == len(WANT) + 2,
         "%s: the file written back holds the valid names and Sent, one per line" % fmt,
         "got %r" % [ln[:40] for ln in lines])
    r = raw.cmd('LSUB "" "*"')
    t.ok(names(r, b"LSUB") == WANT | {b"Sent"}, "%s: LSUB after SUBSCRIBE" % fmt, r)
    raw.close()


def check_unreadable():
    """A subscriptions 'file' that fails to read (a directory: EISDIR):
    LSUB lists nothing, SUBSCRIBE answers NO, the directory is left."""
    env = yubin.Env()
    envs.append(env)
    subs = os.path.join(env.maildir(U), "subscriptions")
    login(env).close()
    os.unlink(subs)
    os.mkdir(subs)
    os.chmod(subs, 0o777)
    raw = login(env)
    r = raw.cmd('LSUB "" "*"')
    t.ok(tagged(r).endswith(b"OK LSUB completed") and names(r, b"LSUB") == set(),
         "unreadable subscriptions: LSUB lists none", r)
    r = raw.cmd("SUBSCRIBE Sent")
    t.ok(b" NO " in tagged(r) and os.path.isdir(subs),
         "unreadable subscriptions: SUBSCRIBE is NO, nothing rewritten", r)
    r = raw.cmd("NOOP")
    t.ok(tagged(r).endswith(b"OK NOOP completed"), "the session goes on", r)
    raw.close()


try:
    check_format("maildir")
    check_format("mbox")
    check_unreadable()
finally:
    close_all(sessions)
    for e in envs:
        e.cleanup()
t.done()
