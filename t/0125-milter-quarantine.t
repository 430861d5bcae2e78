#!/usr/bin/env python3
# The quarantine an admin can list and release. A scripted milter
# (t/milter.py) quarantines a submitted message to one local and one
# remote recipient; relay-runner --quarantine lists it (id, date, size,
# reason, sender, recipients); --release delivers it as if the milter had
# accepted it (the local copy in the mailbox, without our envelope block;
# the remote one queued with its DSN parameters and then sent to a sink
# by a normal pass, DKIM-signed by the built-in signer as accepted
# submitted mail is), logs it and only then removes it; a release that
# cannot store every copy leaves it held and stores nothing. A field of
# the envelope's name sent in the message is never taken for ours.
# --delete discards one (logged); bad or unknown ids are refused (100).
import base64
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import dkimenv  # noqa: E402
import milter  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
sink = relayenv.Sink(env, {"ext": ["PIPELINING", "8BITMIME", "DSN"]})
keys = dkimenv.Keys(env)
keys.make("example.org", "ed25519", "ed1")
AUTH = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode()).decode()


def submit(rcpts, subject, mail_args=""):
    """One submission the milter quarantines; returns its queue id."""
    m = milter.Scripted({"E": [[milter.quarantine(b"held for review"), milter.CONTINUE]]},
                        actions=0x20)
    env.set(milters=m.spec)
    data = ("EHLO client.example\r\nAUTH PLAIN %s\r\nMAIL FROM:<alice@example.org>%s\r\n" %
            (AUTH, mail_args) + "".join("RCPT TO:%s\r\n" % r for r in rcpts) +
            "DATA\r\nFrom: alice@example.org\r\nSubject: %s\r\n"
            "X-Yubin-Quarantine-Envelope: 30\r\n"
            "X-Yubin-Quarantine-To: <carol@example.org>\r\n"
            "X-Yubin-Quarantine-To: <mallory@example.net>\r\n\r\n"
            "..dot line\r\nquarantined body\r\n.\r\nQUIT\r\n" % subject)
    r = env.run("smtp-session", data.encode(), args=["--submission"])
    m.close()
    ok = [ln for ln in yubin.smtp_replies(r.stdout) if ln.startswith(b"250 2.0.0 Ok: queued as ")]
    return ok[0].split()[-1].decode() if ok else None


def held():
    return yubin.files_under(os.path.join(env.spool, "quarantine"))


def run_user(cmd):
    """Under root, relay-runner drops to run_as: files the test plants
    in the store must be that user's."""
    subprocess.run(relayenv.as_run_user(env, cmd), check=True)


try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    id1 = submit(["<bob@example.org>", "<dave@example.net> NOTIFY=FAILURE ORCPT=rfc822;dave@example.net"],
                 "first", " RET=HDRS ENVID=q1")
    id2 = submit(["<bob@example.org>"], "second")
    t.ok(id1 and id2 and len(held()) == 2 and not env.messages("bob@example.org") and
         not relayenv.queued(env), "two messages quarantined, nothing stored or queued", (id1, id2))

    r = relayenv.runner(env, "--quarantine")
    out = r.stdout.decode()
    t.ok(r.rc == 0 and out.count("reason: held for review") == 2 and
         ("%s  " % id1) in out and ("%s  " % id2) in out and "quarantined 20" in out and
         " bytes " in out, "--quarantine lists both: id, size, date, reason", out)
    t.ok("    from <alice@example.org>\n    to <bob@example.org>\n    to <dave@example.net>\n" in out and
         "carol" not in out and "mallory" not in out,
         "sender and the given recipients only: the forged fields in the message are not ours", out)

    # bad ids: refused, with the reason, exit 100; nothing changes.
    r = relayenv.runner(env, "--release", "../../etc/passwd")
    t.ok(r.rc == 100 and b"bad quarantine id" in r.stderr, "a malformed id is refused (100)", r.stderr)
    r = relayenv.runner(env, "--release", "0123ABCD")
    t.ok(r.rc == 100 and b"no quarantined message with id 0123ABCD" in r.stderr,
         "an unknown id is refused (100)", r.stderr)
    r = relayenv.runner(env, "--delete")
    t.ok(r.rc == 100 and b"usage" in r.stderr, "--delete without an id: usage (100)", r.stderr)
    t.eq(len(held()), 2, "still both held")

    # A release that cannot store every copy stores none and keeps it.
    bob_new = os.path.join(env.maildir("bob@example.org"), "new")
    run_user(["mkdir", "-p", os.path.dirname(bob_new)])
    run_user(["ln", "-s", "/tmp", bob_new])
    r = relayenv.runner(env, "--release", id1)
    t.ok(r.rc == 111 and b"release failed, still in quarantine" in r.stderr and len(held()) == 2 and
         not relayenv.queued(env), "a failed release: 111, still held, nothing queued", r.stderr)
    os.unlink(bob_new)

    r = relayenv.runner(env, "--release", id1)
    t.ok(r.rc == 0 and ("released id=%s" % id1).encode() in r.stderr and b"local=1 remote=1" in r.stderr,
         "--release: 0, logged with the counts", r.stderr)
    bob = env.messages("bob@example.org")
    t.ok(len(bob) == 1 and bob[0].startswith(b"Return-Path: <alice@example.org>\nDelivered-To: bob@example.org\nReceived: ") and
         b"X-Yubin-Quarantine: held" not in bob[0] and b"Subject: first" in bob[0] and
         b"\n.dot line\nquarantined body\n" in bob[0],
         "the local copy is in bob's mailbox as accepted mail is, without our block", bob[:1])
    t.ok(not env.messages("carol@example.org"), "the forged recipient field got no copy")
    t.ok(len(held()) == 1, "only the other message is still held")
    q = relayenv.queued(env)
    d = relayenv.dump(env, os.path.join(env.spool, "new", q[0])) if len(q) == 1 else {}
    t.ok(d and [x["addr"] for x in d["rcpts"]] == ["dave@example.net"],
         "the remote recipient is queued, only it", d)
    r = relayenv.runner(env, "--release", id1)
    t.ok(r.rc == 100 and b"no quarantined message" in r.stderr, "released once only", r.stderr)

    r = relayenv.runner(env)
    ms = sink.messages()
    cmds = sink.commands(1) if ms else []
    t.ok(r.rc == 0 and len(ms) == 1 and ms[0]["rcpts"] == ["dave@example.net"] and
         b"quarantined body" in ms[0]["data"] and b"X-Yubin-Quarantine: held" not in ms[0]["data"],
         "relay-runner sends the released message to the remote recipient", r.stderr)
    t.ok(any("RET=HDRS" in c and "ENVID=q1" in c for c in cmds) and
         "RCPT TO:<dave@example.net> NOTIFY=FAILURE ORCPT=rfc822;dave@example.net" in cmds,
         "its DSN parameters are those given at submission", cmds)
    v = keys.dkimpy(dkimenv.wire(ms[0]["data"])) if ms else []
    t.ok([(x["s"], x["pass"]) for x in v] == [("ed1", True)],
         "signed at quarantine time: the signature verifies at the sink", v)
    t.eq(relayenv.queued(env), [], "spool empty")

    r = relayenv.runner(env, "--delete", id2)
    t.ok(r.rc == 0 and ("deleted id=%s" % id2).encode() in r.stderr and not held() and
         len(env.messages("bob@example.org")) == 1, "--delete: discarded, logged, delivered nowhere",
         r.stderr)
    r = relayenv.runner(env, "--quarantine")
    t.ok(r.rc == 0 and r.stdout == b"Quarantine is empty\n", "then the quarantine is empty", r.stdout)

    # mbox: a release goes into the user's mbox INBOX.
    env.set(mailbox_format="mbox")
    # Killed (SIGKILL) at the moment it unlinks the held file, after the
    # copy is stored: the message is delivered and still held; released
    # again it is delivered twice, never lost (at least once).
    id3 = submit(["<carol@example.org>"], "third")
    path = held()[0] if held() else "/nonexistent"
    p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-P", path,
                        "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:signal=SIGKILL",
                        yubin.binary("relay-runner"), "-c", env.conf_path, "--release", id3 or "none"],
                       capture_output=True, timeout=60, env=env.env())
    inbox = os.path.join(env.maildir("carol@example.org"), "INBOX")
    body = open(inbox, "rb").read() if os.path.exists(inbox) else b""
    t.ok(p.returncode != 0 and body.startswith(b"From alice@example.org ") and
         body.count(b"Subject: third") == 1 and b"X-Yubin-Quarantine: held" not in body and
         held() == [path], "mbox: killed while unlinking: delivered into the mbox INBOX, still held",
         (p.returncode, p.stderr[-300:], body[:300]))
    r = relayenv.runner(env, "--release", id3 or "none")
    body = open(inbox, "rb").read() if os.path.exists(inbox) else b""
    t.ok(r.rc == 0 and body.count(b"Subject: third") == 2 and not held(),
         "released again: a second copy, then gone from the quarantine", r.stderr)
finally:
    sink.stop()
t.done()
