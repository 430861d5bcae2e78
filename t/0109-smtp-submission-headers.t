#!/usr/bin/env python3
# smtp-session: a submission server adds Date: and Message-ID: to a message
# that lacks them (RFC 6409 §8), for an authenticated submitter only; the
# MX service stores what it was given. Python's smtplib as the client,
# over a loopback socket.
import email.utils
import os
import re
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
sub = yubin.Listener(env, "smtp-session", ["--submission"])
mx = yubin.Listener(env, "smtp-session")
BARE = "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: %s\r\n\r\nbody\r\n"


def take(addr):
    """Removes and returns bob's messages."""
    out = []
    for sub_dir in ("new", "cur"):
        d = os.path.join(env.maildir(addr), sub_dir)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
            os.unlink(os.path.join(d, n))
    return out


def header(msg):
    return msg.split(b"\n\n", 1)[0]


def fields(msg, name):
    return re.findall(rb"(?mi)^" + name + rb":[ \t]*(.*)$", header(msg))


def send(lst, text, login=True):
    with smtplib.SMTP("127.0.0.1", lst.port, local_hostname="client.example.com", timeout=30) as c:
        if login:
            c.login("alice@example.org", yubin.DEMO_PASSWORD)
        return c.sendmail("alice@example.org", ["bob@example.org"], text)


try:
    before = time.time()
    t.eq(send(sub, BARE % "bare"), {}, "submission: a message without Date: and Message-ID: accepted")
    got = take("bob@example.org")
    m = got[0] if got else b""
    dates, ids = fields(m, b"Date"), fields(m, b"Message-ID")
    t.eq(len(dates), 1, "submission: one Date: added")
    when = email.utils.parsedate_tz(dates[0].decode()) if dates else None
    t.ok(when is not None and abs(email.utils.mktime_tz(when) - before) < 300,
         "submission: the Date: is an RFC 5322 date of now", dates)
    t.ok(len(ids) == 1 and re.fullmatch(rb"<[!-;=?-~]+@mx\.example\.org>", ids[0]) is not None,
         "submission: one Message-ID: <...@hostname> added", ids)
    t.ok(re.match(rb"Return-Path: <alice@example\.org>\nDelivered-To: bob@example\.org\nReceived: ", m)
         is not None, "submission: Received: stays on top of the added fields", m[:200])
    t.ok(m.endswith(b"\nSubject: bare\n\nbody\n"), "submission: the message follows unchanged", m[-60:])

    # Two messages get two different ids.
    send(sub, BARE % "second")
    got = take("bob@example.org")
    ids2 = fields(got[0], b"Message-ID") if got else []
    t.ok(ids2 and ids and ids2 != ids, "submission: each message gets its own Message-ID", (ids, ids2))

    # Fields the client wrote are kept, never doubled.
    own = ("Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nmessage-id: <own@client.example.com>\r\n" +
           BARE % "own")
    send(sub, own)
    got = take("bob@example.org")
    m = got[0] if got else b""
    t.eq((fields(m, b"Date"), fields(m, b"Message-ID")),
         ([b"Mon, 1 Jan 2024 10:00:00 +0000"], [b"<own@client.example.com>"]),
         "submission: the client's Date: and Message-ID: kept, nothing added")
    # Only one of them missing: only that one added.
    send(sub, "Message-ID: <only-id@client.example.com>\r\n" + BARE % "half")
    got = take("bob@example.org")
    m = got[0] if got else b""
    t.ok(len(fields(m, b"Date")) == 1 and fields(m, b"Message-ID") == [b"<only-id@client.example.com>"],
         "submission: only the missing Date: added", header(m))
    # A "Date:" inside a folded line or in the body does not count.
    send(sub, "X-Note: see\r\n Date: not a field\r\n" + BARE % "folded" + "Date: in the body\r\n")
    got = take("bob@example.org")
    m = got[0] if got else b""
    t.ok(len(fields(m, b"Date")) == 1 and fields(m, b"Date")[0] != b"not a field",
         "submission: a Date: in a folded line or the body is no Date: field", header(m))

    # The MX service (no AUTH there): stored as it came.
    send(mx, BARE % "mx", login=False)
    got = take("bob@example.org")
    m = got[0] if got else b""
    t.ok(got and fields(m, b"Date") == [] and fields(m, b"Message-ID") == [],
         "MX service: nothing added to a message without Date: or Message-ID:", header(m))
finally:
    sub.stop()
    mx.stop()

t.done()
