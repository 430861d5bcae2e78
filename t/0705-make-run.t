#!/usr/bin/env python3
# `make run` (units/demo-run.sh), the demo of issues 2-7: it starts every
# built service on 127.0.0.1 (ports moved by YUBIN_DEMO_PORT_OFFSET so a
# busy 2525 does not matter), swaks delivers to demo@localhost, submission
# needs STARTTLS before AUTH with the demo password, the printed fetchmail
# and mbsync commands fetch the mail over TLS, and Ctrl-C (SIGINT to
# the process group, as a terminal sends it) stops everything it started.
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

BASE = {"smtp-session": [2525, 2587, 2465], "pop3-session": [1110, 1995],
        "imap-session": [1143, 1993]}

t = yubin.TAP()
root = os.geteuid() == 0
tmp = tempfile.mkdtemp(prefix="yubin-t-demo-")
os.chmod(tmp, 0o755)
demo = os.path.join(tmp, "demo")
built = [p for p in BASE if os.access(yubin.binary(p), os.X_OK)]


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_offset():
    for _ in range(50):
        # Below the ephemeral range (32768-), where other tests' free
        # ports and client sockets come from.
        off = random.randrange(3000, 29000)
        if all(port_free(b + off) for ports in BASE.values() for b in ports):
            return off
    raise RuntimeError("no free set of ports")


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def swaks(*args, sender="someone@example.net"):
    return subprocess.run(["swaks", "--timeout", "10", "--from", sender,
                           "--helo", "client.test"] + list(args),
                          capture_output=True, text=True, timeout=30)


off = pick_offset()
P = lambda base: base + off  # noqa: E731
env = dict(os.environ, YUBIN_DEMO_DIR=demo, YUBIN_DEMO_PORT_OFFSET=str(off))
args = ["make", "-s", "-C", yubin.TOP, "-o", "all", "run"]
if os.path.basename(os.path.normpath(yubin.BUILD)) == "san":
    args.append("SANITIZE=1")
out = open(os.path.join(tmp, "out"), "w+")
# A session of its own: SIGINT to the group is what Ctrl-C does.
p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                     env=env, start_new_session=True)
try:
    deadline = time.time() + 60
    while time.time() < deadline and not listening(P(2525)) and p.poll() is None:
        time.sleep(0.1)
    while time.time() < deadline and "Ctrl-C stops" not in open(out.name).read():
        time.sleep(0.1)
    text = open(out.name).read()
    t.ok(listening(P(2525)), "make run: smtp on 127.0.0.1:%d (offset %d)" % (P(2525), off), text)
    want = [P(b) for prog in built for b in BASE[prog]]
    t.eq([port for port in want if not listening(port)], [],
         "make run: all %d ports of the built programs listen" % len(want))
    t.ok("swaks --server 127.0.0.1:%d" % P(2525) in text and "demo@localhost" in text,
         "make run: prints how to connect, with the moved ports")

    # --- mail through port 2525 lands in the demo Maildir ----------------------
    r = swaks("--server", "127.0.0.1:%d" % P(2525), "--to", "demo@localhost",
              "--header", "Subject: demo-smoke-1")
    new = os.path.join(demo, "mail", "localhost", "demo", "new")
    msgs = [os.path.join(new, f) for f in os.listdir(new)] if os.path.isdir(new) else []
    t.ok(r.returncode == 0 and any(b"demo-smoke-1" in open(m, "rb").read() for m in msgs),
         "swaks to 127.0.0.1:%d delivers to %s" % (P(2525), "demo/mail/localhost/demo/new/"),
         r.stdout[-1500:] + r.stderr)
    if root:
        t.ok(msgs and all(os.stat(m).st_uid != 0 for m in msgs),
             "run as root: the sessions dropped to an unprivileged run_as")

    # --- submission: AUTH only after STARTTLS, with the demo password ----------
    r = swaks("--server", "127.0.0.1:%d" % P(2587), "--to", "demo@localhost",
              "--auth", "PLAIN", "--auth-user", "demo@localhost", "--auth-password", "demo")
    t.ok(r.returncode != 0 and re.search(r"<-  250 ", r.stdout) and "AUTH" not in r.stdout.split("-> AUTH")[0]
         and "235" not in r.stdout,
         "submission: no AUTH offered or done without TLS (auth_requires_tls = yes)", r.stdout[-1500:])
    r = swaks("--server", "127.0.0.1:%d" % P(2587), "--to", "demo@localhost", "--tls",
              "--auth", "PLAIN", "--auth-user", "demo@localhost", "--auth-password", "demo",
              "--header", "Subject: demo-smoke-2", sender="demo@localhost")
    t.ok(r.returncode == 0 and re.search(r"<~ +235", r.stdout), "submission: STARTTLS, AUTH demo/demo, sent",
         r.stdout[-1500:] + r.stderr)
    r = swaks("--server", "127.0.0.1:%d" % P(2465), "--to", "demo@localhost", "--tlsc",
              "--auth", "PLAIN", "--auth-user", "demo@localhost", "--auth-password", "demo",
              "--header", "Subject: demo-smoke-3", sender="demo@localhost")
    t.ok(r.returncode == 0, "smtps: implicit TLS with the demo's self-signed certificate", r.stdout[-1500:])
    if "pop3-session" in built:
        with socket.create_connection(("127.0.0.1", P(1110)), timeout=10) as s:
            t.ok(s.recv(512).startswith(b"+OK"), "pop3 on %d greets" % P(1110))
    if "imap-session" in built:
        with socket.create_connection(("127.0.0.1", P(1143)), timeout=10) as s:
            t.ok(s.recv(512).startswith(b"* OK"), "imap on %d greets" % P(1143))

    # --- the printed fetchmail and mbsync commands work ------------------------
    cenv = dict(os.environ, HOME=tmp)  # their state and lock files stay here
    if "pop3-session" in built:
        r = subprocess.run(["fetchmail", "-f", os.path.join(demo, "fetchmailrc"), "--pidfile",
                            os.path.join(tmp, "fetchmail.pid"), "-i", os.path.join(tmp, "fetchids")],
                           capture_output=True, text=True, timeout=50, env=cenv)
        t.ok(r.returncode == 0 and "demo-smoke-1" in r.stdout, "fetchmail -f demo/fetchmailrc: POP3S, verified",
             (r.stdout + r.stderr)[-1500:])
    if "imap-session" in built:
        r = subprocess.run(["mbsync", "-c", os.path.join(demo, "mbsyncrc"), "-a"],
                           capture_output=True, text=True, timeout=50, env=cenv)
        inbox = os.path.join(demo, "mbsync", "INBOX")
        got = [open(os.path.join(b, f), "rb").read() for b, _, fs in os.walk(inbox) for f in fs
               if os.path.basename(b) in ("new", "cur")]
        t.ok(r.returncode == 0 and any(b"demo-smoke-1" in m for m in got),
             "mbsync -c demo/mbsyncrc -a: IMAPS, verified, INBOX copied", (r.stdout + r.stderr)[-1500:])

    # --- Ctrl-C stops everything ---------------------------------------------
    os.killpg(p.pid, signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        pass
    gone = False
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            gone = True
            break
        time.sleep(0.1)
    t.ok(gone, "Ctrl-C: make, the script, every listener and relay loop are gone")
    t.eq([port for port in want if listening(port)], [], "Ctrl-C: no port is left listening")
finally:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    out.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.done()
