#!/usr/bin/env python3
"""A bounce that cannot be stored now is not lost (S70): the sender's mbox
INBOX is locked by a real POP3 session, so relay-runner cannot store the
failure notice. The message stays queued with the failed recipient marked
"notice owed" (never retried at the remote host), and the notice arrives
once the session has ended and relay-runner runs again. The same with the
lock held by the test itself (fcntl lock plus dotlock, as any mbox
reader holds them)."""
import email
import email.policy
import fcntl
import mailbox
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"mailbox_format": "mbox", "auth_fail_delay_ms": "10"})
sink = relayenv.Sink(env, {"rcpt": {"gone@example.net": "550 5.1.1 no such user"}})
USER = "alice@example.org"
INBOX = os.path.join(env.maildir(USER), "INBOX")
MSG = b"From: alice@example.org\nSubject: to a gone user\n\nhello\n"


def reports():
    """The messages in alice's mbox INBOX, parsed."""
    if not os.path.exists(INBOX):
        return []
    box = mailbox.mbox(INBOX, create=False)
    try:
        return [email.message_from_bytes(box.get_bytes(k), policy=email.policy.default)
                for k in box.keys()]
    finally:
        box.close()


def failed_for(msg, rcpt):
    if msg.get_content_type() != "multipart/report":
        return False
    for p in msg.walk():
        if p.get_content_type() == "message/delivery-status":
            blocks = list(p.get_payload())[1:]
            return any(b.get("Action") == "failed" and rcpt in b.get("Final-Recipient", "")
                       for b in blocks)
    return False


def held_state():
    """The recipient state in the one queued file ("3": notice owed)."""
    q = relayenv.files(env, "queue")
    if len(q) != 1:
        return None
    e = relayenv.dump(env, os.path.join(env.spool, "queue", q[0]))
    return e["rcpts"][0].get("state") if e else None


def blocked_pass(what):
    """Queues one message and runs relay-runner while the INBOX is locked."""
    n = len(reports())
    conns = sink.connections()
    relayenv.enqueue(env, MSG, USER, ["gone@example.net"])
    r = relayenv.runner(env, timeout=200)
    log = r.stderr.decode()
    t.ok("status=bounced" in log and "bounce to <alice@example.org> deferred" in log and
         "dropped" not in log, "%s: the bounce cannot be stored now, and says so" % what, log)
    t.eq(held_state(), "3", "%s: the message stays queued, its recipient owes a notice" % what)
    t.eq(len(reports()), n, "%s: nothing half-stored in the locked INBOX" % what)
    t.contains(relayenv.runner(env, "--list").stdout, b"notice to the sender not yet stored",
               "%s: --list tells why the message is kept" % what)
    return n, conns


def released_pass(what, n, conns):
    r = relayenv.runner(env, "--flush", timeout=200)
    got = reports()[n:]
    t.ok(relayenv.queued(env) == [] and len(got) == 1 and failed_for(got[0], "gone@example.net"),
         "%s: after the lock is gone the next pass stores the bounce, the message leaves" % what,
         r.stderr)
    t.eq(sink.connections(), conns + 1,
         "%s: the failed recipient was not tried at the remote host again" % what)


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    os.makedirs(os.path.dirname(INBOX), exist_ok=True)
    open(INBOX, "wb").close()
    env.write_conf()   # as root: lets run_as (nobody) lock and write it

    # --- a real POP3 session holds the INBOX --------------------------------
    pop = env.start("pop3-session")
    pop.readline()
    pop.send(b"USER alice@example.org\r\nPASS secret-pw\r\nSTAT\r\n")
    lines = [pop.readline(), pop.readline(), pop.readline()]
    t.ok(lines[2].startswith(b"+OK"), "a POP3 session is logged in and holds the INBOX", lines)
    n, conns = blocked_pass("POP3 session")
    pop.send(b"QUIT\r\n")
    t.ok(pop.readline().startswith(b"+OK"), "the POP3 session ends")
    pop.p.stdin.close()
    pop.p.wait(10)
    released_pass("POP3 session", n, conns)

    # --- the lock held by the test: fcntl, then the dotlock -----------------
    f = open(INBOX, "r+b")
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    dot = INBOX + ".lock"
    with open(dot, "wb"):
        pass
    try:
        n, conns = blocked_pass("fcntl lock and dotlock")
    finally:
        os.unlink(dot)
        fcntl.lockf(f, fcntl.LOCK_UN)
        f.close()
    released_pass("fcntl lock and dotlock", n, conns)
finally:
    sink.stop()
    env.cleanup()
t.done()
