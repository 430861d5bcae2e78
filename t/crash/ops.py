"""The operations that change stored mail, each as one process fed one
script: its set-up, how its client learns the outcome, and what the
next session must find. OPS maps a name to an Op; names end in the
mailbox format (-maildir, -mbox)."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "peers"))
import checker  # noqa: E402
import harness  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

PW = yubin.DEMO_PASSWORD.encode()
ALICE = "alice@example.org"
OPS = {}
ALIASES = ("postmaster@example.org: alice@example.org\n"
           "fwd@example.org: alice@example.org, someone@remote.test\n")


def msg(tag, size=400, crlf=False):
    return checker.make_message(tag, size, crlf)


def smtp_deliver(case, tag, rcpts, size=400):
    out = case.session("smtp-session", harness.smtp_script(msg(tag, size), rcpts))
    if not re.search(rb"\r\n250 [^\r\n]*queued", out):
        raise RuntimeError("set-up delivery failed: %r" % out)


def imap(case, commands, user=ALICE):
    """Runs IMAP commands (bytes, tagged s1, s2 …) after a LOGIN; every
    one must answer OK."""
    script = b"a LOGIN %s %s\r\n" % (user.encode(), PW)
    for i, c in enumerate(commands):
        script += b"s%d %s\r\n" % (i, c)
    out = case.session("imap-session", script + b"z LOGOUT\r\n")
    for i in range(len(commands)):
        if b"\r\ns%d OK" % i not in out:
            raise RuntimeError("set-up IMAP command %r failed: %r" % (commands[i], out))
    return out


def append_cmd(folder, tag, size=400):
    m = msg(tag, size, crlf=True)
    return b'APPEND "%s" {%d+}\r\n%s' % (folder.encode(), len(m), m)


def imap_ack(tag=b"x"):
    def acked(out):
        m = re.search(rb"(?:^|\r\n)" + tag + rb" (OK|NO|BAD)", out)
        return None if not m else "ok" if m.group(1) == b"OK" else "refused"
    return acked


def smtp_ack(out):
    """The reply to the end of data: the one after 354."""
    rep = yubin.smtp_replies(out)
    for i, r in enumerate(rep):
        if r.startswith(b"354") and i + 1 < len(rep):
            return "ok" if rep[i + 1].startswith(b"250") else "refused"
    return None


def pop3_ack(n):
    """The reply to QUIT, the n-th line (greeting is 0); single-line
    replies only in these scripts. A -ERR to anything before it (PASS,
    DELE) refuses the whole change."""
    def acked(out):
        lines = out.split(b"\r\n")
        if any(ln.startswith(b"-ERR") for ln in lines[:n]):
            return "refused"
        if len(lines) <= n or not lines[n][:1] in (b"+", b"-"):
            return None
        return "ok" if lines[n].startswith(b"+OK") else "refused"
    return acked


class Op:
    fmt = "maildir"
    prog = "smtp-session"
    args = ()
    conf = {}
    imap = ALICE            # the user whose UIDs are checked
    next_rcpt = ALICE
    next_box = "alice/INBOX"
    atomic = ()             # boxes that must be wholly old or wholly new
    at_least = ()
    flags = False
    # A NO that may come after the change is on disk: a rename that is done
    # but whose directory fsync failed cannot be taken back. The client
    # then sees a removal (EXPUNGE, MOVE's source) it was told failed, but
    # nothing is duplicated or lost. Such ops are judged as unanswered.
    refused_may_apply = False
    # Boxes outside the promise, judged old-or-new whatever the answer:
    # DELETE and RENAME also edit the subscription list (RFC 9051 §6.3.7
    # lets a server leave it alone), a failure there does not fail them.
    loose = ()
    sink_script = {}
    aliases = None

    def __init__(self, name, fmt, **kw):
        self.name, self.fmt = name, fmt
        for k, v in kw.items():
            setattr(self, k, v)

    def setup(self, case):
        imap(case, [b"NOOP"])               # the first login makes the special folders
        smtp_deliver(case, "old1", [ALICE])
        smtp_deliver(case, "old2", [ALICE], size=3000)

    def reference_problems(self, case):
        return [] if self.acked(case.ref_out) == "ok" else ["clean run not acknowledged"]

    def next_checks(self, case, res):
        return []


class SmtpOp(Op):
    def __init__(self, name, fmt, rcpts, **kw):
        super().__init__(name, fmt, **kw)
        self.rcpts = rcpts
        # mbox: several 64 KiB writes, so a kill can fall between them
        # (Maildir writes a tmp/ file whatever its size)
        size = 150 * 1024 if fmt == "mbox" else 5000
        self.script = harness.smtp_script(msg("new", size), rcpts)
        self.acked = smtp_ack


class ImapOp(Op):
    prog = "imap-session"

    def __init__(self, name, fmt, commands, prepare=(), **kw):
        super().__init__(name, fmt, **kw)
        self.prepare = prepare
        self.script = b"a LOGIN %s %s\r\n" % (ALICE.encode(), PW) + b"".join(
            c + b"\r\n" for c in commands) + b"z LOGOUT\r\n"
        self.acked = imap_ack()

    def setup(self, case):
        super().setup(case)
        if self.prepare:
            imap(case, list(self.prepare))


class Pop3Op(Op):
    prog = "pop3-session"

    def __init__(self, name, fmt, **kw):
        super().__init__(name, fmt, **kw)
        self.script = b"USER %s\r\nPASS %s\r\nDELE 1\r\nQUIT\r\n" % (ALICE.encode(), PW)
        self.acked = pop3_ack(4)
        self.refused_may_apply = True       # -ERR after a rename (fsync of cur/ failed)
        if fmt == "mbox":
            self.atomic = ("alice/INBOX",)

    def setup(self, case):
        super().setup(case)
        smtp_deliver(case, "big3", [ALICE], size=300 * 1024)   # copy-back in several writes
        smtp_deliver(case, "old4", [ALICE])

    def next_checks(self, case, res):
        out = case.session("pop3-session", b"USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (ALICE.encode(), PW))
        lines = out.split(b"\r\n")
        if len(lines) < 5 or not all(ln.startswith(b"+OK") for ln in lines[:5]):
            return ["next POP3 session failed: %r" % out[-200:]]
        return []


class RelayOp(Op):
    """relay-runner --flush over one queued message to a remote sink; the
    outcome depends on the sink's script. Nobody is told anything, so every
    copy is judged by conservation: somewhere, never nowhere."""
    prog = "relay-runner"
    args = ("--flush",)
    script = b""

    def __init__(self, name, fmt, sink_script, ends_in, **kw):
        super().__init__(name, fmt, **kw)
        self.sink_script = sink_script
        self.ends_in = ends_in          # where a clean run leaves the message
        self.acked = lambda out: None

    def setup(self, case):
        super().setup(case)
        case.sink = relayenv.Sink(case.env, self.sink_script)
        relayenv.route(case.env, ("remote.test", "127.0.0.1:%d" % case.sink.port))
        relayenv.enqueue(case.env, msg("relay1", 150 * 1024), ALICE, ["bob@remote.test"])

    def reference_problems(self, case):
        mid = "<relay1@%s>" % checker.MSG_DOMAIN
        box, key = self.ends_in
        got = {b: dict(c) for b, c in case.after.boxes.items() if c}
        if case.after.boxes.get(box, {}).get(key % mid) != 1 or (box != "spool" and case.after.boxes.get("spool")):
            return ["the clean run should leave %s in %s only; it left %s" % (key % mid, box, got)]
        return []

    def next_checks(self, case, res):
        """The next pass (the sink now accepting) empties the queue, and the
        message reached the sink or its bounce reached alice."""
        case.sink.set({})
        r = relayenv.runner(case.env, "--flush")
        st = case.store()
        out = ["after the next pass: %s" % e for e in st.errors]
        if st.boxes.get("spool"):
            out.append("after the next pass the queue still holds %s: %s" % (dict(st.boxes["spool"]), r.stderr[-300:]))
        mid = "<relay1@%s>" % checker.MSG_DOMAIN
        if not st.boxes.get("sink", {}).get(mid) and not st.boxes.get("alice/INBOX", {}).get("bounce-of:" + mid):
            out.append("after the next pass %s was neither sent nor bounced" % mid)
        return out


def add(op):
    OPS[op.name] = op


for fmt in ("maildir", "mbox"):
    add(SmtpOp("smtp-" + fmt, fmt, [ALICE]))
    add(SmtpOp("smtp-3rcpt-" + fmt, fmt, [ALICE, "bob@example.org", "carol@example.org"]))
    add(SmtpOp("smtp-alias-remote-" + fmt, fmt, ["fwd@example.org"], aliases=ALIASES))
    add(ImapOp("imap-append-" + fmt, fmt, [b"x " + append_cmd("INBOX", "app1", 200 * 1024)]))
    add(ImapOp("imap-copy-" + fmt, fmt, [b"b SELECT INBOX", b"x UID COPY 1:* Foo"], prepare=[b"CREATE Foo"]))
    add(ImapOp("imap-move-" + fmt, fmt, [b"b SELECT INBOX", b"x UID MOVE 1 Foo"], prepare=[b"CREATE Foo"],
               refused_may_apply=True))
    add(ImapOp("imap-store-" + fmt, fmt, [b"b SELECT INBOX", b"x UID STORE 1:* +FLAGS (\\Seen \\Flagged)"], flags=True))
    add(ImapOp("imap-expunge-" + fmt, fmt, [b"b SELECT INBOX", b"x EXPUNGE"],
               prepare=[b"SELECT INBOX", b"STORE 1 +FLAGS (\\Deleted)"], refused_may_apply=True))
    add(ImapOp("imap-create-" + fmt, fmt, [b"x CREATE Newbox"]))
    add(ImapOp("imap-delete-" + fmt, fmt, [b"x DELETE Foo"], loose=("alice/@subscriptions",),
               prepare=[b"CREATE Foo", b"SUBSCRIBE Foo", append_cmd("Foo", "foo1")]))
    add(ImapOp("imap-rename-" + fmt, fmt, [b"x RENAME Foo Bar"],
               prepare=[b"CREATE Foo", b"SUBSCRIBE Foo", append_cmd("Foo", "foo1"), append_cmd("Foo", "foo2")],
               loose=("alice/@subscriptions",)))
    add(ImapOp("imap-subscribe-" + fmt, fmt, [b"x SUBSCRIBE Foo"], prepare=[b"CREATE Foo"],
               atomic=("alice/@subscriptions",), refused_may_apply=True))
    add(Pop3Op("pop3-dele-" + fmt, fmt))
    add(RelayOp("relay-deliver-" + fmt, fmt, {}, ("sink", "%s")))
    add(RelayOp("relay-defer-" + fmt, fmt, {"rcpt": {"bob@remote.test": "451 4.7.1 try later"}}, ("spool", "%s")))
    add(RelayOp("relay-bounce-" + fmt, fmt, {"rcpt": {"bob@remote.test": "550 5.1.1 no such user"}},
                ("alice/INBOX", "bounce-of:%s")))
