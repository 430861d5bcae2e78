#!/usr/bin/env python3
"""Double bounces go to the postmaster, never nowhere (S70): a failure of
mail from the null sender <>, a failure whose sender is a local address
without a mailbox, and a queued bounce to a remote sender that the
remote refuses. The postmaster is postmaster@ a local domain (here an
alias of alice), or the postmaster key. A notice to the postmaster that
fails itself is dropped and logged, not bounced again (no loop)."""
import email
import email.policy
import email.utils
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env, {"rcpt": {"gone@example.net": "550 5.1.1 no such user",
                                    "carl@example.net": "550 5.1.1 carl is gone too",
                                    "pm@example.net": "550 5.1.1 no postmaster here"}})
MSG = b"From: someone\nSubject: double\n\nhello\n"


def new_reports(addr, n):
    return [email.message_from_bytes(m, policy=email.policy.default)
            for m in env.messages(addr)[n:]]


def report_about(msg, rcpt):
    """(To:, human-readable text) when msg reports rcpt as failed."""
    if msg.get_content_type() != "multipart/report":
        return None
    human, ok = "", None
    for p in msg.walk():
        if p.get_content_type() == "text/plain" and not human:
            human = p.get_content()
        # The first one: a report attached as the original has its own.
        if p.get_content_type() == "message/delivery-status" and ok is None:
            ok = any(b.get("Action") == "failed" and rcpt in b.get("Final-Recipient", "")
                     for b in list(p.get_payload())[1:])
    return (email.utils.parseaddr(str(msg["To"]))[1], human) if ok else None


def check(name, sender, to_box, to_addr, why):
    n = len(env.messages(to_box))
    relayenv.enqueue(env, MSG, sender, ["gone@example.net"])
    r = relayenv.runner(env, "--flush")
    got = new_reports(to_box, n)
    about = report_about(got[0], "gone@example.net") if len(got) == 1 else None
    t.ok(relayenv.queued(env) == [] and about is not None and about[0] == to_addr,
         "%s: the failure report goes to the postmaster <%s>" % (name, to_addr), r.stderr)
    t.ok(about is not None and why in about[1],
         "%s: it says the sender could not be told" % name, about)
    t.ok("double bounce" in r.stderr.decode(), "%s: logged as a double bounce" % name, r.stderr)


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    check("null sender", "", "alice@example.org", "postmaster@example.org",
          "could not be returned to the sender <>")
    check("local sender without a mailbox", "ghost@example.org", "alice@example.org",
          "postmaster@example.org", "could not be returned to the sender <ghost@example.org>")

    # A remote sender: its bounce is queued from <>, and refused there.
    n = len(env.messages("alice@example.org"))
    relayenv.enqueue(env, MSG, "carl@example.net", ["gone@example.net"])
    r1 = relayenv.runner(env, "--flush")
    queued = relayenv.queued(env)
    t.ok(len(queued) == 1, "remote sender: the bounce is queued for it", r1.stderr)
    r2 = relayenv.runner(env, "--flush")
    got = new_reports("alice@example.org", n)
    about = report_about(got[0], "carl@example.net") if len(got) == 1 else None
    t.ok(relayenv.queued(env) == [] and about is not None and
         about[0] == "postmaster@example.org",
         "remote sender refusing its bounce: the postmaster gets the report", r2.stderr)

    # The postmaster key.
    env.set(postmaster="bob@example.org")
    env.write_conf()
    check("postmaster key", "", "bob@example.org", "bob@example.org",
          "could not be returned to the sender <>")

    # A postmaster that refuses its notice: dropped and logged, no loop.
    env.set(postmaster="pm@example.net")
    env.write_conf()
    relayenv.enqueue(env, MSG, "", ["gone@example.net"])
    r1 = relayenv.runner(env, "--flush")
    t.ok(len(relayenv.queued(env)) == 1 and "double bounce" in r1.stderr.decode(),
         "remote postmaster: the notice is queued for it", r1.stderr)
    conns = sink.connections()
    r2 = relayenv.runner(env, "--flush")
    r3 = relayenv.runner(env, "--flush")
    t.ok(relayenv.queued(env) == [] and "pm@example.net" in r2.stderr.decode() and
         "dropped" in r2.stderr.decode() and sink.connections() == conns + 1,
         "a notice the postmaster refuses is dropped with an error, not bounced again",
         r2.stderr + r3.stderr)
finally:
    sink.stop()
    env.cleanup()
t.done()
