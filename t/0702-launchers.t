#!/usr/bin/env python3
# Every built service (smtp, submission, smtps, pop3, pop3s, imap, imaps)
# runs a real session on a loopback port under each launcher it ships for:
# systemd-socket-activate (as the .socket units do), xinetd (a config made
# from units/xinetd.d/) and tcpserver (as units/tcpserver.example).
# In each, the peer address reaches a log, and no log text ever reaches the
# client's stream (under xinetd fd 2 is the connection itself, so the
# sessions must log to syslog instead; as root, xinetd runs in a mount
# namespace whose /dev/log is the test's socket, and the sessions' syslog
# lines with the peer address are read there). Issue 7; covers S55 (xinetd and
# tcpserver limits kept in the generated configuration).
import base64
import os
import pwd
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import yubin  # noqa: E402

# name: (program, arguments, implicit TLS, dialogue)
VARIANTS = [
    ("smtp", "smtp-session", [], False, "mx"),
    ("submission", "smtp-session", ["--submission"], False, "submit"),
    ("smtps", "smtp-session", ["--implicit-tls", "--submission"], True, "submit"),
    ("pop3", "pop3-session", [], False, "pop3"),
    ("pop3s", "pop3-session", ["--implicit-tls"], True, "pop3"),
    ("imap", "imap-session", [], False, "imap"),
    ("imaps", "imap-session", ["--implicit-tls"], True, "imap"),
]
ALICE, BOB, PW = "alice@example.org", "bob@example.org", yubin.DEMO_PASSWORD
# What a protocol line may look like: anything else in the stream (a log
# line, for instance) fails the test.
LINE_OK = {
    "mx": re.compile(rb"^\d{3}[ -]"), "submit": re.compile(rb"^\d{3}[ -]"),
    "pop3": re.compile(rb"^(\+OK|-ERR)( |\r\n)"),
    "imap": re.compile(rb"^(\* |a\d+ )"),
}

t = yubin.TAP()
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key, auth_requires_tls="no", hostname="mx.example.org")
ctx = ssl.create_default_context(cafile=c.ca)
root = os.geteuid() == 0
sanitized = os.path.basename(os.path.normpath(yubin.BUILD)) == "san"

built = [v for v in VARIANTS if os.access(yubin.binary(v[1]), os.X_OK)]
t.ok(any(v[1] == "smtp-session" for v in built), "smtp-session is built")
for prog in sorted({v[1] for v in VARIANTS} - {v[1] for v in built}):
    t.diag("%s is not built yet: its services are not run" % prog)


class Client:
    """A line-oriented client on a loopback port, optionally TLS at once."""

    def __init__(self, port, tls):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.buf = b""
        self.lines = []

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                break
            self.buf += d
        if b"\n" in self.buf:
            ln, self.buf = self.buf.split(b"\n", 1)
            ln += b"\n"
        else:
            ln, self.buf = self.buf, b""
        if ln:
            self.lines.append(ln)
        return ln

    def smtp(self, cmd=None):
        """Sends cmd (if any) and returns the reply code of the last line."""
        if cmd is not None:
            self.send(cmd + "\r\n")
        while True:
            ln = self.line()
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]) if ln[:3].isdigit() else -1

    def tagged(self, tag, cmd):
        self.send("%s %s\r\n" % (tag, cmd))
        while True:
            ln = self.line()
            if not ln or ln.startswith(tag.encode() + b" "):
                return ln

    def drain(self):
        """Everything until the server closes: no log line may follow."""
        self.s.settimeout(5)
        try:
            while True:
                ln = self.line()
                if not ln:
                    break
        except (socket.timeout, ssl.SSLError, OSError):
            pass
        self.s.close()


def dialogue(kind, port, tls, token):
    """Runs one session; returns (passed, transcript)."""
    cl = Client(port, tls)
    try:
        if kind in ("mx", "submit"):
            ok = cl.smtp() == 220 and cl.smtp("EHLO client.example") == 250
            if kind == "submit":
                cred = base64.b64encode(("\0%s\0%s" % (ALICE, PW)).encode()).decode()
                ok = ok and cl.smtp("AUTH PLAIN " + cred) == 235
                sender, rcpt = ALICE, BOB
            else:
                sender, rcpt = "someone@example.net", ALICE
            ok = ok and cl.smtp("MAIL FROM:<%s>" % sender) == 250
            ok = ok and cl.smtp("RCPT TO:<%s>" % rcpt) == 250
            ok = ok and cl.smtp("DATA") == 354
            cl.send("From: <%s>\r\nSubject: %s\r\n\r\nhello\r\n.\r\n" % (sender, token))
            ok = ok and cl.smtp() == 250 and cl.smtp("QUIT") == 221
            ok = ok and any(token.encode() in m for m in env.messages(rcpt))
        elif kind == "pop3":
            ok = cl.line().startswith(b"+OK")
            for cmd in ("USER " + ALICE, "PASS " + PW, "STAT", "QUIT"):
                cl.send(cmd + "\r\n")
                ok = ok and cl.line().startswith(b"+OK")
        else:
            ok = cl.line().startswith(b"* OK")
            ok = ok and cl.tagged("a1", "LOGIN %s %s" % (ALICE, PW)).startswith(b"a1 OK")
            ok = ok and cl.tagged("a2", "LOGOUT").startswith(b"a2 OK")
    except (OSError, ssl.SSLError, ValueError) as e:
        cl.lines.append(("exception: %r\n" % e).encode())
        ok = False
    cl.drain()
    return ok, cl.lines


def run_all(launcher, ports, log_check):
    """One dialogue per built variant on ports[name]; then log_check(name)."""
    for name, prog, args, tls, kind in built:
        token = "%s-%s-%s" % (launcher, name, secrets.token_hex(4))
        ok, lines = dialogue(kind, ports[name], tls, token)
        t.ok(ok, "%s: %s session (%s %s)" % (launcher, name, prog, " ".join(args)),
             b"".join(lines).decode(errors="replace"))
        stray = [ln for ln in lines if not LINE_OK[kind].match(ln)]
        t.ok(not stray, "%s: %s stream holds protocol lines only, no log text" % (launcher, name),
             b"".join(stray).decode(errors="replace"))
        what, found = log_check(name, prog)
        t.ok(found, "%s: %s peer address 127.0.0.1 logged (%s)" % (launcher, name, what))


def wait_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def session_logged(text, prog):
    return re.search(rb"%s\[\d+\]: \w+: peer=127\.0\.0\.1 " % prog.encode(), text) is not None


# devlog.sh OLDDEV SOCKET PROGRAM...: in a private mount namespace, a fresh
# /dev holding the usual character devices and /dev/log -> SOCKET.
DEVLOG = r"""#!/bin/sh
set -e
old=$1 sock=$2
shift 2
mount --rbind /dev "$old"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do
	[ -e "$old/$n" ] || continue
	touch "/dev/$n"
	mount --bind "$old/$n" "/dev/$n"
done
ln -s "$sock" /dev/log
exec "$@"
"""

procs = []
try:
    # --- systemd-socket-activate, as the .socket units (Accept=yes) --------
    listeners = {name: yubin.Listener(env, prog, args) for name, prog, args, _, _ in built}
    procs += [li.p for li in listeners.values()]

    def sa_log(name, prog):
        li = listeners[name]
        li.log.flush()
        return "stderr", session_logged(read(li.logpath), prog)
    run_all("socket-activate", {n: li.port for n, li in listeners.items()}, sa_log)
    for li in listeners.values():
        li.stop()

    # --- xinetd, with the shipped service files -----------------------------
    xdir = os.path.join(env.dir, "xinetd")
    os.makedirs(xdir)
    xlog = os.path.join(xdir, "xinetd.log")
    xports = {}
    conf = ["defaults\n{\n\tinstances = 50\n}\n"]
    for name, prog, args, _, _ in built:
        xports[name] = yubin.free_port()
        with open(os.path.join(yubin.TOP, "units", "xinetd.d", "yubin-" + name)) as f:
            text = f.read()
        out = []
        for line in text.splitlines():
            key = line.strip().split("=")[0].strip()
            if key in ("flags", "group", "log_type"):
                continue  # loopback IPv4 only; no yubin group here
            if key == "rlimit_as" and sanitized:
                continue  # ASan reserves terabytes of address space
            if key == "port":
                line = "\tport = %d\n\tbind = 127.0.0.1\n\tlog_type = FILE %s" % (xports[name], xlog)
            elif key == "user":
                # xinetd wants a user line even when not root: then it
                # can only be the user running it.
                line = "\tuser = %s" % (env.settings["run_as"] if root else pwd.getpwuid(os.geteuid()).pw_name)
            elif key == "server":
                line = "\tserver = %s" % yubin.binary_for_others(prog, env.dir)
            elif key == "server_args":
                line = line.replace("/etc/yubin/yubin.conf", env.conf_path)
            out.append(line)
        conf.append("\n".join(out) + "\n")
    xconf = os.path.join(xdir, "xinetd.conf")
    with open(xconf, "w") as f:
        f.write("\n".join(conf))
    xerr = open(os.path.join(xdir, "stderr"), "wb")
    xcmd = ["xinetd", "-dontfork", "-f", xconf, "-pidfile", os.path.join(xdir, "pid"),
            "-filelog", os.path.join(xdir, "self.log")]
    # As root where unshare works, xinetd runs in a mount namespace whose
    # /dev/log is a socket of this test, so the sessions' syslog lines can be
    # read without touching the host's syslog.
    syslog_lines = []
    devlog = None
    if root and subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0:
        sock_path = os.path.join(xdir, "log.sock")
        devlog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        devlog.bind(sock_path)
        os.chmod(sock_path, 0o666)  # the sessions run as run_as
        devlog.settimeout(0.2)

        def collect():
            while devlog is not None and devlog.fileno() >= 0:
                try:
                    syslog_lines.append(devlog.recv(65536))
                except socket.timeout:
                    continue
                except OSError:
                    return
        threading.Thread(target=collect, daemon=True).start()
        wrap = os.path.join(xdir, "devlog.sh")
        with open(wrap, "w") as f:
            f.write(DEVLOG)
        os.chmod(wrap, 0o755)
        os.makedirs(os.path.join(xdir, "olddev"))
        xcmd = ["unshare", "--mount", wrap, os.path.join(xdir, "olddev"), sock_path] + xcmd
    else:
        t.diag("not root or no unshare: the sessions' syslog lines under xinetd are not read")
    xi = subprocess.Popen(xcmd, stdout=subprocess.DEVNULL, stderr=xerr)
    procs.append(xi)
    up = all(wait_port(p, xi) for p in xports.values())
    t.ok(up, "xinetd: listening on %d generated services (%s)" % (len(xports), "root" if root else "as the current user"),
         read(os.path.join(xdir, "self.log")).decode(errors="replace") + read(xconf).decode())

    def xi_log(name, prog):
        # xinetd logs the peer (log_on_success HOST); the session's own
        # line goes to syslog, since its fd 2 is the client.
        spat = re.compile(rb"^<\d+>.*%s\[(\d+)\]: peer=127\.0\.0\.1 " % prog.encode())
        what = "xinetd log_on_success" + (" and the session's syslog line" if devlog else "")
        deadline = time.time() + 20
        while time.time() < deadline:
            # A syslog line from a session xinetd started (by pid): the
            # readiness probe's session counts too, the dialogue's surely.
            pids = set(re.findall(rb"START: yubin-%s pid=(\d+) from=(?:::ffff:)?127\.0\.0\.1"
                                  % name.encode(), read(xlog)))
            if pids and (not devlog or any(spat.match(ln) and spat.match(ln).group(1) in pids
                                           for ln in list(syslog_lines))):
                return what, True
            time.sleep(0.05)
        return what, False
    if up:
        run_all("xinetd", xports, xi_log)
    xi.terminate()
    xi.wait(10)
    xerr.close()
    if devlog:
        devlog.close()

    # --- tcpserver, as units/tcpserver.example --------------------------------
    tports, tlogs = {}, {}
    for name, prog, args, _, _ in built:
        tlogs[name] = os.path.join(env.dir, "tcpserver-%s.log" % name)
        with open(tlogs[name], "wb") as err:
            # -1: print the port once listening (port 0 picks a free one).
            p = subprocess.Popen(["tcpserver", "-1", "-c", "20", "-HRl0", "127.0.0.1", "0",
                                  yubin.binary(prog), "-c", env.conf_path] + args,
                                 stdout=subprocess.PIPE, stderr=err, env=env.env())
        procs.append(p)
        tports[name] = int(p.stdout.readline().strip() or 0)

    def tcp_log(name, prog):
        deadline = time.time() + 20
        while time.time() < deadline:
            if session_logged(read(tlogs[name]), prog):
                return "stderr", True
            time.sleep(0.05)
        return "stderr", False
    run_all("tcpserver", tports, tcp_log)
    if root:
        # tcpserver without -u starts the session as root: it must drop to
        # run_as before it stores anything.
        owners = {os.stat(os.path.join(d, f)).st_uid
                  for d, _, fs in os.walk(env.mail_root) for f in fs}
        t.ok(owners and 0 not in owners, "tcpserver as root: mail stored by run_as, never by root")
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    env.cleanup()
t.done()
