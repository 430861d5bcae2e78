#!/usr/bin/env python3
"""A second real client: fetchmail over IMAP against imap-session on
loopback — fetches unseen mail (leaving it \\Seen), fetches nothing new the
second time, then fetches and deletes everything."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import deliver, Raw  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
U = "alice@example.org"
L = yubin.Listener(env, "imap-session")
out = os.path.join(env.dir, "fetched.txt")


def fetchmail(opts):
    rc = os.path.join(env.dir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 with proto IMAP port %d timeout 20\n'
                '  user "%s" there with password "%s" is "someone" here\n'
                '  options %s mda "cat >> %s"\n' % (L.port, U, yubin.DEMO_PASSWORD, opts, out))
    os.chmod(rc, 0o600)
    r = subprocess.run(["fetchmail", "-f", rc, "-d0", "--nosyslog", "-v", "--sslproto", "",
                        "--idfile", os.path.join(env.dir, "fetchids")],
                       capture_output=True, text=True, timeout=40,
                       env=dict(os.environ, HOME=env.dir))
    return r


def fetched():
    if not os.path.exists(out):
        return b""
    with open(out, "rb") as f:
        return f.read()


try:
    for i in range(3):
        deliver(env, U, b"From: bob@example.org\r\nSubject: fm%d\r\n\r\nbody %d\r\n" % (i, i))
    r = fetchmail("keep")
    data = fetched()
    t.ok(r.returncode == 0 and all(b"Subject: fm%d" % i in data for i in range(3)),
         "fetchmail (keep) fetches three messages", r.stdout[-1500:] + r.stderr[-500:])
    s = Raw(env, U)
    resp = s.cmd("SELECT INBOX")
    t.ok(b"* 3 EXISTS" in resp, "messages kept on the server", resp)
    resp = s.cmd("SEARCH UNSEEN")
    t.ok(b"* SEARCH\r\n" in resp, "fetched messages are \\Seen", resp)
    s.close()
    os.unlink(out)
    r = fetchmail("keep")
    t.ok(r.returncode == 1 and fetched() == b"", "second run: no new mail (exit 1)",
         r.stdout[-800:])
    deliver(env, U, b"From: bob@example.org\r\nSubject: fm3\r\n\r\nbody 3\r\n")
    r = fetchmail("fetchall nokeep")
    data = fetched()
    t.ok(r.returncode == 0 and data.count(b"Subject: fm") == 4, "fetchall nokeep fetches all four",
         r.stdout[-1500:])
    s = Raw(env, U)
    resp = s.cmd("STATUS INBOX (MESSAGES)")
    t.ok(b"MESSAGES 0" in resp, "nokeep deleted them on the server", resp)
    s.close()
finally:
    L.stop()
    env.cleanup()
t.done()
