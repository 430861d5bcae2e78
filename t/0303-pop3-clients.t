#!/usr/bin/env python3
"""Real POP3 clients against pop3-session under systemd-socket-activate on
loopback: Python's poplib (every command) and fetchmail in keep mode (with
UIDL tracking: a second run fetches only new mail) and in delete mode
(the maildrop is empty afterwards), delivering through an MDA into a file."""
import os
import poplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"auth_fail_delay_ms": "10"})
ALICE, PW = "alice@example.org", yubin.DEMO_PASSWORD
d = env.maildir(ALICE)
for s in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(d, s))
seq = [0]


def deliver(body):
    seq[0] += 1
    w = len(body) + body.count(b"\n") - body.count(b"\r\n")
    name = "%d.M%dP7R%016x.mx.example.org,S=%d,W=%d" % (1764000000 + seq[0], seq[0], seq[0], len(body), w)
    with open(os.path.join(d, "new", name), "wb") as f:
        f.write(body)
    env.write_conf()


def msg(n):
    return (b"From: sender%d@example.com\nTo: alice@example.org\nSubject: message %d\n"
            b"Message-ID: <m%d@example.com>\n\nbody of %d\n.leading dot\n" % (n, n, n, n))


for i in (1, 2, 3):
    deliver(msg(i))

li = yubin.Listener(env, "pop3-session")
try:
    # --- poplib -----------------------------------------------------------
    p = poplib.POP3("127.0.0.1", li.port, timeout=10)
    caps = p.capa()
    t.ok("USER" in caps and "UIDL" in caps and "TOP" in caps, "poplib: CAPA over loopback (auth_requires_tls = no)")
    p.user(ALICE)
    p.pass_(PW)
    count, size = p.stat()
    t.eq(count, 3, "poplib: STAT")
    resp, listing, _ = p.list()
    sizes = [int(x.split()[1]) for x in listing]
    t.eq(sum(sizes), size, "poplib: LIST adds up to STAT")
    ok = True
    for i in (1, 2, 3):
        resp, lines, _ = p.retr(i)
        data = b"\r\n".join(lines) + b"\r\n"
        ok = ok and len(data) == sizes[i - 1] and b".leading dot" in data
    t.ok(ok, "poplib: RETR payloads have exactly the LIST sizes, dots unstuffed")
    resp, lines, _ = p.top(2, 0)
    t.ok(lines[-1] == b"" and lines[2] == b"Subject: message 2", "poplib: TOP 2 0", lines)
    resp, uidls, _ = p.uidl()
    t.eq(len(set(x.split()[1] for x in uidls)), 3, "poplib: UIDL")
    p.dele(3)
    p.rset()
    p.dele(3)
    p.noop()
    p.quit()
    t.eq(len(os.listdir(os.path.join(d, "new"))) + len(os.listdir(os.path.join(d, "cur"))), 2,
         "poplib: DELE + QUIT removed one message")

    # --- fetchmail, keep mode -------------------------------------------------
    home = os.path.join(env.dir, "fmhome")
    os.makedirs(home)
    mbox = os.path.join(env.dir, "fetched")
    rc = os.path.join(home, "fetchmailrc")

    def fetchmail(keep):
        with open(rc, "w") as f:
            f.write('set no syslog\nset no bouncemail\n'
                    'poll 127.0.0.1 protocol POP3 port %d uidl:\n'
                    '  user "%s" there with password "%s" is "%s" here\n'
                    '  options %s fetchall sslproto "" mda "cat >> %s"\n'
                    % (li.port, ALICE, PW, "tester", "keep" if keep else "nokeep", mbox))
        os.chmod(rc, 0o600)
        e = dict(os.environ, HOME=home, FETCHMAILHOME=home)
        return subprocess.run(["fetchmail", "-f", rc, "-i", os.path.join(home, "ids"), "--pidfile",
                               os.path.join(home, "pid"), "--nodetach"],
                              capture_output=True, env=e, timeout=50)

    def fetched():
        return open(mbox, "rb").read() if os.path.exists(mbox) else b""

    # keep + fetchall fetches all; keep without fetchall (uidl) is checked below
    r = fetchmail(keep=True)
    got = fetched()
    t.ok(r.returncode == 0 and got.count(b"Subject: message") == 2,
         "fetchmail keep: both messages delivered to the MDA", r.stdout + r.stderr)
    t.ok(b"\n.leading dot\n" in got and b"\r" not in got, "fetchmail sees unstuffed lines")
    t.eq(len(os.listdir(os.path.join(d, "new"))) + len(os.listdir(os.path.join(d, "cur"))), 2,
         "fetchmail keep: nothing removed from the maildrop")

    # keep mode with UIDL tracking (no fetchall): only new mail the second time
    def fetchmail_new():
        with open(rc, "w") as f:
            f.write('set no syslog\nset no bouncemail\n'
                    'poll 127.0.0.1 protocol POP3 port %d uidl:\n'
                    '  user "%s" there with password "%s" is "%s" here\n'
                    '  options keep sslproto "" mda "cat >> %s"\n'
                    % (li.port, ALICE, PW, "tester", mbox))
        os.chmod(rc, 0o600)
        e = dict(os.environ, HOME=home, FETCHMAILHOME=home)
        return subprocess.run(["fetchmail", "-f", rc, "-i", os.path.join(home, "ids"), "--pidfile",
                               os.path.join(home, "pid"), "--nodetach"],
                              capture_output=True, env=e, timeout=50)

    open(mbox, "wb").close()
    r = fetchmail_new()
    first = fetched()
    deliver(msg(4))
    open(mbox, "wb").close()
    r2 = fetchmail_new()
    second = fetched()
    t.ok(second.count(b"Subject: message") == 1 and b"Subject: message 4" in second,
         "fetchmail keep + UIDL: the second run fetches only the new message (UIDLs stable)",
         (first[:200], r2.stdout + r2.stderr, second[:300]))

    # --- fetchmail, delete mode --------------------------------------------------
    open(mbox, "wb").close()
    r = fetchmail(keep=False)
    got = fetched()
    t.ok(r.returncode == 0 and got.count(b"Subject: message") == 3,
         "fetchmail nokeep: all three messages delivered", r.stdout + r.stderr)
    t.eq(os.listdir(os.path.join(d, "new")) + os.listdir(os.path.join(d, "cur")), [],
         "fetchmail nokeep: the maildrop is empty afterwards")
    r = fetchmail(keep=False)
    t.ok(r.returncode == 1, "fetchmail on an empty maildrop: exit 1 (no mail)", r.returncode)

    li.log.flush()
    log = open(li.logpath, "rb").read()
    t.ok(b"login: user=alice@example.org" in log and b"peer=127.0.0.1" in log and b"quit: user=" in log,
         "sessions logged with the peer address")
finally:
    li.stop()

env.cleanup()
t.done()
