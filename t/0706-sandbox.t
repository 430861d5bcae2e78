#!/usr/bin/env python3
# The systemd sandbox of the session units fits the programs (covers S55):
# each built service runs a full session (TLS, AUTH, delivery, reading mail)
# under strace, started as an unprivileged user as the units start it, and
#  - every system call is allowed by the unit's SystemCallFilter=
#    (@system-service minus @privileged and @resources);
#  - every socket it creates is in RestrictAddressFamilies= (AF_UNIX);
#  - no memory is mapped writable and executable (MemoryDenyWriteExecute=);
#  - it writes only under ReadWritePaths= (mail_root, and the spool for
#    smtp), as ProtectSystem=strict would enforce;
#  - it opens nothing under /home, /root or /run/user (ProtectHome=) and no
#    device PrivateDevices= hides.
# As root, the sessions also run with the sandbox enforced by namespaces
# (unshare: private network, read-only mounts but ReadWritePaths).
# relay-runner, delivering a queued message to a local sink, is held to
# relay-runner.service the same way (with AF_INET/AF_INET6 allowed).
# A program change that needs more would fail here, not in production.
import base64
import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import certs  # noqa: E402
import relayenv  # noqa: E402
import yubin  # noqa: E402

UNITS = os.path.join(yubin.TOP, "units")
ALICE, PW = "alice@example.org", yubin.DEMO_PASSWORD
# name, program, arguments, unit
VARIANTS = [
    ("smtp", "smtp-session", [], "smtp-session@.service"),
    ("submission", "smtp-session", ["--submission"], "submission-session@.service"),
    ("smtps", "smtp-session", ["--implicit-tls", "--submission"], "smtps-session@.service"),
    ("pop3s", "pop3-session", ["--implicit-tls"], "pop3s-session@.service"),
    ("pop3", "pop3-session", [], "pop3-session@.service"),
    ("imaps", "imap-session", ["--implicit-tls"], "imaps-session@.service"),
    ("imap", "imap-session", [], "imap-session@.service"),
]
# What PrivateDevices= leaves in /dev.
DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
           "/dev/log", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/pts", "/dev/ptmx",
           "/dev/shm", "/dev/mqueue"}
WRITE_CALLS = ("mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
               "link", "linkat", "symlink", "symlinkat", "rmdir", "chmod", "fchmodat", "truncate",
               "utimensat", "mknod", "mknodat")

t = yubin.TAP()
root = os.geteuid() == 0
env = yubin.Env()
c = certs.make(env.dir)
env.set(tls_cert=c.cert, tls_key=c.key, auth_requires_tls="yes")
ctx = ssl.create_default_context(cafile=c.ca)
built = [v for v in VARIANTS if os.access(yubin.binary(v[1]), os.X_OK)]
t.ok(any(v[1] == "smtp-session" for v in built), "smtp-session is built")
sanitized = os.path.basename(os.path.normpath(yubin.BUILD)) == "san"
# LeakSanitizer cannot run under ptrace (it stops the process itself).
trace_env = env.env()
if sanitized:
    trace_env["ASAN_OPTIONS"] = (trace_env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
if sanitized:
    # ASan's runtime maps shadow memory and calls things no unit allows;
    # system calls and W^X are checked on the normal build only.
    t.diag("sanitizer build: system calls and W^X of the ASan runtime are not checked")


def unit_settings(unit):
    out = {}
    with open(os.path.join(UNITS, unit)) as f:
        for line in f:
            k, eq, v = line.strip().partition("=")
            if eq and not k.startswith("#"):
                out.setdefault(k, []).append(v)
    return out


_groups = {}


def expand(name):
    """The system calls of a systemd-analyze syscall-filter group, recursively."""
    if name in _groups:
        return _groups[name]
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                         capture_output=True, text=True, timeout=30).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        calls |= expand(w) if w.startswith("@") else {w}
    _groups[name] = calls
    return calls


def allowed_calls(settings):
    allow, deny = set(), set()
    for v in settings.get("SystemCallFilter", []):
        neg = v.startswith("~")
        for w in v.lstrip("~").split():
            (deny if neg else allow).update(expand(w) if w.startswith("@") else {w})
    return allow - deny


class Client:
    def __init__(self, port, tls):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.buf = b""

    def starttls(self):
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                break
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln + b"\n"

    def smtp(self, cmd=None):
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
            if ln == b"\n" or ln.startswith(tag.encode() + b" "):
                return ln

    def close(self):
        try:
            self.s.settimeout(5)
            while self.s.recv(4096):
                pass
        except OSError:
            pass
        self.s.close()


def dialogue(name, port):
    """A session that touches TLS, AUTH, delivery or the mailbox."""
    cred = base64.b64encode(("\0%s\0%s" % (ALICE, PW)).encode()).decode()
    cl = Client(port, name in ("smtps", "pop3s", "imaps"))
    try:
        if name in ("smtp", "submission", "smtps"):
            ok = cl.smtp() == 220 and cl.smtp("EHLO client.test") == 250
            if name == "submission":
                ok = ok and cl.smtp("STARTTLS") == 220
                cl.starttls()
                ok = ok and cl.smtp("EHLO client.test") == 250
            if name != "smtp":
                ok = ok and cl.smtp("AUTH PLAIN " + cred) == 235
            sender = ALICE if name != "smtp" else "x@example.net"
            ok = ok and cl.smtp("MAIL FROM:<%s>" % sender) == 250
            ok = ok and cl.smtp("RCPT TO:<%s>" % ALICE) == 250
            if name != "smtp":
                ok = ok and cl.smtp("RCPT TO:<someone@remote.example>") == 250  # queued
            ok = ok and cl.smtp("DATA") == 354
            cl.send("Subject: sandbox %s\r\n\r\nbody\r\n.\r\n" % name)
            ok = ok and cl.smtp() == 250 and cl.smtp("QUIT") == 221
        elif name.startswith("pop3"):
            ok = cl.line().startswith(b"+OK")
            if name == "pop3":
                cl.send("STLS\r\n")
                ok = ok and cl.line().startswith(b"+OK")
                cl.starttls()
            for cmd in ("USER " + ALICE, "PASS " + PW, "STAT", "LIST", "RETR 1", "DELE 1", "QUIT"):
                cl.send(cmd + "\r\n")
                ln = cl.line()
                ok = ok and ln.startswith(b"+OK")
                if cmd in ("LIST", "RETR 1") and ln.startswith(b"+OK"):
                    while cl.line() not in (b".\r\n", b"\n"):
                        pass
        else:
            ok = cl.line().startswith(b"* OK")
            if name == "imap":
                ok = ok and cl.tagged("a0", "STARTTLS").startswith(b"a0 OK")
                cl.starttls()
            ok = ok and cl.tagged("a1", "LOGIN %s %s" % (ALICE, PW)).startswith(b"a1 OK")
            ok = ok and cl.tagged("a2", "SELECT INBOX").startswith(b"a2 OK")
            ok = ok and cl.tagged("a3", "FETCH 1:* (FLAGS BODY[])").startswith(b"a3 OK")
            ok = ok and cl.tagged("a4", "STORE 1 +FLAGS (\\Seen)").startswith(b"a4 OK")
            # IDLE watches the folder with inotify.
            cl.send("a6 IDLE\r\n")
            ok = ok and cl.line().startswith(b"+")
            cl.send("DONE\r\n")
            while ok:
                ln = cl.line()
                if ln.startswith(b"a6 ") or ln == b"\n":
                    ok = ln.startswith(b"a6 OK")
                    break
            ok = ok and cl.tagged("a5", "LOGOUT").startswith(b"a5 OK")
    except (OSError, ssl.SSLError, ValueError) as e:
        t.diag("%s: %r" % (name, e))
        ok = False
    cl.close()
    return ok


SYSCALL = re.compile(r"^\d+ +(?:<\.\.\. ([a-z_0-9]+) resumed>|([a-z_0-9]+)\()")


def check_trace(name, prog, unit, trace, families=("AF_UNIX",)):
    settings = unit_settings(unit)
    allowed = allowed_calls(settings)
    used, sockets, wx, writes, opened = set(), set(), [], [], []
    rw = settings["ReadWritePaths"][0].split()
    for line in trace.splitlines():
        m = SYSCALL.match(line)
        if not m:
            continue
        call = m.group(1) or m.group(2)
        used.add(call)
        if m.group(1):
            continue    # "<... resumed>": the arguments were on the unfinished line
        if call == "socket":
            sockets.add(line.split("(", 1)[1].split(",")[0])
        if call in ("mmap", "mprotect", "pkey_mprotect") and "PROT_WRITE" in line and "PROT_EXEC" in line:
            wx.append(line)
        # Paths in arguments, and those strace -y shows for fds; the
        # working directory (AT_FDCWD</...>) is not written.
        paths = re.findall(r'"(/[^"]*)"|(?<!AT_FDCWD)<(/[^>]*)>', line)
        paths = [a or b for a, b in paths]
        if call in ("open", "openat", "creat") and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", line):
            writes.append((line, paths))
        elif call in WRITE_CALLS and not line.rstrip().endswith("EEXIST (File exists)"):
            # mkdir of an existing directory fails with EEXIST on a
            # read-only file system too (mkdir -p of parents).
            writes.append((line, paths))
        if call in ("open", "openat", "stat", "newfstatat", "access", "faccessat", "faccessat2",
                    "statx", "readlink", "execve"):
            opened += paths
    # The session's own mail_root/spool are in the scratch dir; the unit's
    # ReadWritePaths map onto them.
    mapping = {"/var/mail/yubin": env.mail_root, "/var/spool/yubin": env.spool}
    roots = [mapping.get(p, p) for p in rw]
    t.ok(len(used) > 20 and "execve" in used and len(allowed) > 300,
         "%s: trace read (%d distinct calls; %d allowed)" % (name, len(used), len(allowed)))
    if not sanitized:
        bad = sorted(used - allowed)
        t.ok(not bad, "%s: every system call is in %s's SystemCallFilter" % (name, unit), " ".join(bad))
        t.ok(not wx, "%s: no writable+executable mapping (MemoryDenyWriteExecute)" % name, "\n".join(wx[:5]))
    t.ok(sockets <= set(families), "%s: sockets only %s (RestrictAddressFamilies)" % (name, " ".join(families)),
         sockets)
    outside = [ln for ln, ps in writes
               if not ps or not all(any(p == r or p.startswith(r + "/") for r in roots) or p == "/dev/null"
                                    for p in ps)]
    t.ok(not outside, "%s: writes only under %s (ProtectSystem=strict, ReadWritePaths)" % (name, " ".join(rw)),
         "\n".join(outside[:10]))
    hidden = [p for p in opened
              # The program itself is exempt: a checkout under /home runs it from
              # there; the units run it from /usr/local/sbin.
              if re.match(r"^(/home|/root|/run/user)(/|$)", p) and not p.startswith(env.dir)
              and p != yubin.binary_for_others(prog, env.dir)
              or p.startswith("/dev/") and not any(p == d or p.startswith(d + "/") for d in DEVICES)]
    t.ok(not hidden, "%s: nothing under /home, /root, /run/user or hidden /dev (ProtectHome, PrivateDevices)"
         % name, "\n".join(hidden[:10]))
    if settings.get("ProcSubset") == ["pid"]:
        # Only /proc/<pid> (and self) exists; /proc/sys and the rest are gone.
        proc = [p for p in opened if p.startswith("/proc") and not re.match(r"^/proc/(self|thread-self|\d+)(/|$)", p)]
        t.ok(not proc, "%s: only /proc/<pid> used (ProcSubset=pid)" % name, "\n".join(proc[:10]))


WRAPPER = r"""#!/bin/sh
# sandbox.sh RW... -- PROGRAM ARGS: inside fresh namespaces (unshare),
# every mount read-only except the RW directories, then exec PROGRAM.
set -e
rw=
while [ "$1" != "--" ]; do rw="$rw $1"; shift; done
shift
for d in $rw; do mount --bind "$d" "$d"; done
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
	case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
	keep=
	for d in $rw; do [ "$mp" = "$d" ] && keep=1; done
	[ -n "$keep" ] || mount -o remount,bind,ro "$mp" 2>/dev/null || true
done
exec "$@"
"""

procs = []
try:
    # Deliver one message first so POP3 and IMAP have something to read.
    env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<x@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n"
            b"Subject: first\r\n\r\nhi\r\n.\r\nQUIT\r\n" % ALICE.encode())
    if root:
        subprocess.run(["chmod", "-R", "a+rwX", env.mail_root, env.spool], check=False)
    tdir = os.path.join(env.dir, "traces")
    os.makedirs(tdir)
    os.chmod(tdir, 0o777)  # strace runs as the session's user
    for name, prog, args, unit in built:
        trace = os.path.join(tdir, "strace-%s.txt" % name)
        port = yubin.free_port()
        # As the units start it: an unprivileged user from the first byte.
        drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if root else []
        # systemd-socket-activate passes only the variables given with -E.
        setenv = ["-E", "ASAN_OPTIONS=" + trace_env["ASAN_OPTIONS"]] if sanitized else []
        cmd = (["systemd-socket-activate", "--accept", "--inetd", "-l", "127.0.0.1:%d" % port]
               + setenv + drop + ["strace", "-f", "-q", "-y", "-s", "256", "-o", trace,
                         yubin.binary_for_others(prog, env.dir), "-c", env.conf_path] + args)
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=trace_env)
        procs.append(p)
        deadline = time.time() + 30
        while time.time() < deadline:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()
        # The probe above ran a session too: once its strace has written
        # the exit (it may not even have started yet on a loaded machine,
        # and would then write into the dialogue's trace), start afresh.
        deadline = time.time() + 30
        while time.time() < deadline and "+++ exited with" not in (
                open(trace).read() if os.path.exists(trace) else ""):
            time.sleep(0.05)
        if os.path.exists(trace):
            os.unlink(trace)
        ok = dialogue(name, port)
        t.ok(ok, "%s: session under strace (%s %s)" % (name, prog, " ".join(args)))
        deadline = time.time() + 30
        text = ""
        while time.time() < deadline:
            text = open(trace).read() if os.path.exists(trace) else ""
            if "+++ exited with" in text:
                break
            time.sleep(0.1)
        t.ok("+++ exited with 0 +++" in text, "%s: the traced session exited 0" % name)
        check_trace(name, prog, unit, text)
        p.terminate()
        p.wait(5)
    # --- the same sessions with the sandbox enforced by namespaces -----------
    # As root, where unshare works: a private network, IPC and UTS namespace
    # (PrivateNetwork=, PrivateIPC=, ProtectHostname=), every mount read-only
    # but the unit's ReadWritePaths (ProtectSystem=strict), no new
    # privileges, the session's own user. A write anywhere else fails.
    wrap = os.path.join(env.dir, "sandbox.sh")
    with open(wrap, "w") as f:
        f.write(WRAPPER)
    os.chmod(wrap, 0o755)
    usable = root and subprocess.run(["unshare", "--net", "--mount", "--ipc", "--uts", "true"],
                                     capture_output=True, timeout=10).returncode == 0
    if usable:
        probe = subprocess.run(["unshare", "--net", "--mount", "--ipc", "--uts", wrap, env.mail_root, "--",
                                "sh", "-c", "touch %s/probe-rw && ! touch %s/probe-ro 2>/dev/null"
                                % (env.mail_root, env.dir)], capture_output=True, timeout=30)
        t.ok(probe.returncode == 0 and not os.path.exists(os.path.join(env.dir, "probe-ro")),
             "namespaces: the emulated ProtectSystem=strict refuses writes outside ReadWritePaths",
             probe.stderr)
        for name, prog, args, unit in built:
            rw = [{"/var/mail/yubin": env.mail_root, "/var/spool/yubin": env.spool}[d]
                  for d in unit_settings(unit)["ReadWritePaths"][0].split()]
            port = yubin.free_port()
            cmd = (["systemd-socket-activate", "--accept", "--inetd", "-l", "127.0.0.1:%d" % port]
                   + (["-E", "ASAN_OPTIONS=" + trace_env["ASAN_OPTIONS"]] if sanitized else [])
                   + ["unshare", "--net", "--mount", "--ipc", "--uts", wrap] + rw
                   + ["--", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                      "--no-new-privs", yubin.binary_for_others(prog, env.dir), "-c", env.conf_path] + args)
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            t.ok(dialogue(name, port), "namespaces: %s session with only %s writable, no network of its own"
                 % (name, " ".join(unit_settings(unit)["ReadWritePaths"][0].split())))
            p.terminate()
            p.wait(5)
    else:
        t.diag("not root or no unshare here: the namespace emulation is not run")

    # --- relay-runner, as relay-runner.service runs it ----------------------
    if os.access(yubin.binary("relay-runner"), os.X_OK):
        sink = relayenv.Sink(env)
        procs.append(sink.p)
        relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
        relayenv.enqueue(env, b"Subject: relayed\n\nbody\n", "alice@example.org", ["bob@example.net"])
        trace = os.path.join(tdir, "strace-relay.txt")
        drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if root else []
        r = subprocess.run(drop + ["strace", "-f", "-q", "-y", "-s", "256", "-o", trace,
                                   yubin.binary_for_others("relay-runner", env.dir), "-c", env.conf_path,
                                   "--once"],
                           capture_output=True, timeout=50, env=trace_env)
        got = sink.messages()
        t.ok(r.returncode == 0 and len(got) == 1 and b"relayed" in got[0]["data"],
             "relay-runner --once under strace delivers to the sink", r.stderr)
        text = open(trace).read()
        t.ok("+++ exited with 0 +++" in text, "relay-runner: the traced pass exited 0")
        check_trace("relay-runner", "relay-runner", "relay-runner.service", text,
                    families=("AF_UNIX", "AF_INET", "AF_INET6"))
    else:
        t.diag("relay-runner is not built yet: not traced")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if not os.environ.get("KEEP"):
        env.cleanup()
t.done()
