"""Helpers for yubin's own benchmarks (bench/smtp-deliver, bench/pop3-imap-open).

Standard library only. Everything runs in one scratch directory, sessions talk
over pipes (no network at all), and every wait is bounded in time: a session
that does not answer within its deadline is killed and reported, never waited
for forever. A benchmark never fails for being slow; it exits non-zero only
when the server gave a wrong or missing answer.
"""

import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
DOMAIN = "bench.test"
USER = "bench"
ADDR = USER + "@" + DOMAIN
PASSWORD = "bench-password-1"
SENDER = "loadgen@client.example"
IS_ROOT = os.geteuid() == 0


class BenchError(Exception):
    """The server answered wrongly, too late, or not at all."""


def find_bin(prog):
    """The built program: $YUBIN_BUILD/bin/prog, else prog/prog in the checkout."""
    cands = []
    if os.environ.get("YUBIN_BUILD"):
        cands.append(os.path.join(os.environ["YUBIN_BUILD"], "bin", prog))
    cands += [os.path.join(REPO, prog, prog), os.path.join(REPO, "build", "obj", "bin", prog)]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise SystemExit("%s: not built (run make in %s, or set YUBIN_BUILD)" % (prog, REPO))


def crypt_hash(password):
    try:
        out = subprocess.run(["openssl", "passwd", "-6", password],
                             capture_output=True, check=True, text=True, timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        import warnings
        warnings.simplefilter("ignore")
        import crypt  # deprecated, still in Debian 12's python3
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def run_as_user():
    """Sessions started as root drop to run_as: ybench if peers-install made it, else nobody."""
    import pwd
    for u in (os.environ.get("YUBIN_BENCH_USER"), "ybench", "nobody"):
        if u:
            try:
                return pwd.getpwnam(u)
            except KeyError:
                pass
    raise SystemExit("no unprivileged user for run_as")


class Setup:
    """A scratch installation: yubin.conf, users, mail_root, spool."""

    def __init__(self, workdir=None, fmt="maildir", keep=False):
        base = workdir or os.environ.get("YUBIN_BENCH_WORK") or "/var/tmp"
        os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="yubin-selfbench-", dir=base)
        self.keep = keep
        self.fmt = fmt
        self.mail_root = os.path.join(self.dir, "mail")
        self.spool = os.path.join(self.dir, "spool")
        self.users = os.path.join(self.dir, "users")
        self.conf = os.path.join(self.dir, "yubin.conf")
        self.pw = run_as_user() if IS_ROOT else None
        os.makedirs(self.mail_root)
        os.makedirs(self.spool)
        with open(self.users, "w") as f:
            f.write("%s:{SHA512-CRYPT}%s\n" % (ADDR, crypt_hash(PASSWORD)))
        with open(self.conf, "w") as f:
            f.write("hostname = bench.test\nlocal_domains = %s\nusers = %s\n"
                    "mail_root = %s\nmailbox_format = %s\nspool = %s\n"
                    "auth_requires_tls = no\nmax_message_size = 36700160\n" % (
                        DOMAIN, self.users, self.mail_root, fmt, self.spool))
            if self.pw:
                f.write("run_as = %s\n" % self.pw.pw_name)
        if self.pw:
            os.chmod(self.dir, 0o755)
            for p in (self.conf, self.users):
                os.chmod(p, 0o644)
            self.chown_tree(self.mail_root)
            self.chown_tree(self.spool)
        self.env = dict(os.environ, YUBIN_CONF=self.conf)

    def chown_tree(self, top):
        if not self.pw:
            return
        for d, dirs, files in os.walk(top):
            os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
            for n in files:
                os.chown(os.path.join(d, n), self.pw.pw_uid, self.pw.pw_gid)

    def user_dir(self):
        return os.path.join(self.mail_root, DOMAIN, USER)

    def log(self, prog):
        return os.path.join(self.dir, prog + ".log")

    def dovecot_imap(self):
        """Dovecot's imap program on a pipe, preauthenticated (no login
        process, as the shared harness runs it) on this user's mailbox:
        (argv, env, run-as passwd entry) for Session(peer=...), or None if
        dovecot-imapd is not installed."""
        prog = next((p for p in ("/usr/lib/dovecot/imap", "/usr/libexec/dovecot/imap")
                     if os.access(p, os.X_OK)), None)
        if prog is None:
            return None
        top = os.path.join(self.dir, "dovecot")
        for d in ("run", "state"):
            os.makedirs(os.path.join(top, d), exist_ok=True)
        conf = os.path.join(top, "dovecot.conf")
        loc = "maildir:~" if self.fmt == "maildir" else "mbox:~/mail:INBOX=~/INBOX"
        with open(conf, "w") as f:
            f.write("base_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/dovecot.log\n"
                    "instance_name = yubin-selfbench\nssl = no\nprotocols = imap\n"
                    "mail_location = %s\n" % (top, top, top, loc))
        open(os.path.join(top, "dovecot.log"), "a").close()
        self.chown_tree(top)
        env = {"USER": ADDR, "HOME": self.user_dir(), "PATH": "/usr/bin:/bin"}
        return [prog, "-c", conf], env, self.pw

    def cleanup(self):
        if self.keep:
            print("# kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Session:
    """One session program on two pipes, with a hard deadline.

    The deadline is a timer that kills the process: a read then sees EOF and
    raises BenchError, so no loop can hang. close() reaps the process with
    wait4 and returns (wall seconds, cpu seconds, peak RSS in KiB, exit status);
    the peak is the last hwm() sample, so call hwm() before the final command.
    """

    def __init__(self, setup, prog, deadline, peer=None):
        self.prog = prog
        self.t0 = time.monotonic()
        self.err = open(setup.log(prog), "ab")
        kw = {}
        if peer is None:
            argv, env = [find_bin(prog), "-c", setup.conf], setup.env
        else:  # another server's program: (argv, env, run as)
            argv, env, pw = peer
            if pw is not None:
                kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, env=env, bufsize=0, **kw)
        self.out = self.p.stdout.fileno()
        self.buf = b""
        self.killed = False
        self.timer = threading.Timer(deadline, self._kill)
        self.timer.daemon = True
        self.timer.start()
        self.result = None
        self.peak = 0

    def _kill(self):
        self.killed = True
        try:
            self.p.kill()
        except OSError:
            pass

    def write(self, data):
        try:
            self.p.stdin.write(data)
        except (BrokenPipeError, OSError) as e:
            raise BenchError("%s: write failed (%s)%s" % (self.prog, e, self._why()))

    def _why(self):
        return " after the deadline" if self.killed else ""

    def _fill(self):
        r, _, _ = select.select([self.out], [], [], 5.0)
        if not r:
            return True  # nothing yet; the timer bounds the total wait
        chunk = os.read(self.out, 1 << 16)
        if not chunk:
            raise BenchError("%s: connection closed%s; last bytes %r" % (
                self.prog, self._why(), self.buf[-200:]))
        self.buf += chunk
        return True

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > 1 << 20:
                raise BenchError("%s: line longer than 1 MiB" % self.prog)
            self._fill()

    def read_bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until(self, pred):
        """Lines up to and including the first for which pred(line) holds."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if pred(line):
                return lines

    def hwm(self):
        """Peak resident memory (VmHWM, KiB) so far. Not ru_maxrss: that also
        counts the forked Python image from before the exec."""
        try:
            with open("/proc/%d/status" % self.p.pid) as f:
                for ln in f:
                    if ln.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(ln.split()[1]))
        except OSError:
            pass
        return self.peak

    def close(self):
        if self.result:
            return self.result
        try:
            self.p.stdin.close()
        except OSError:
            pass
        # Drain whatever is left so the server never blocks writing, bounded by the timer.
        try:
            while True:
                r, _, _ = select.select([self.out], [], [], 5.0)
                if r and not os.read(self.out, 1 << 16):
                    break
                if not r and self.p.poll() is not None:
                    break
        except OSError:
            pass
        _, status, ru = os.wait4(self.p.pid, 0)
        self.p.returncode = status
        self.timer.cancel()
        self.p.stdout.close()
        self.err.close()
        self.result = (time.monotonic() - self.t0, ru.ru_utime + ru.ru_stime, self.peak, status)
        return self.result


def durable_floor(directory, count, size, budget):
    """The least a Maildir delivery costs on this disk: tmp/ write, fsync, rename
    into new/, fsync new/, one file after another, in this (Python) process.
    Returns (files written, seconds)."""
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    data = (b"x" * 77 + b"\r\n") * (size // 79) + b"y" * (size % 79)
    dfd = os.open(os.path.join(directory, "new"), os.O_RDONLY | os.O_DIRECTORY)
    t0 = time.monotonic()
    n = 0
    try:
        while n < count and time.monotonic() - t0 < budget:
            name = "%d.floor%d.bench" % (int(time.time()), n)
            tmp = os.path.join(directory, "tmp", name)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, os.path.join(directory, "new", name))
            os.fsync(dfd)
            n += 1
    finally:
        os.close(dfd)
    return n, time.monotonic() - t0


def exec_floor(prog, count, budget):
    """fork+exec+wait of `prog -V`: the least a process-per-connection session costs.
    Returns (runs, seconds, CPU seconds of those children)."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    n = 0
    while n < count and time.monotonic() - t0 < budget:
        subprocess.run([find_bin(prog), "-V"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        n += 1
    secs = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return n, secs, (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)


def machine_line():
    la = os.getloadavg()
    return "# %s, %d cores, load %.2f %.2f %.2f, %s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count() or 0,
        la[0], la[1], la[2], "root (sessions drop to run_as)" if IS_ROOT else "not root")


def print_table(rows, cols):
    """rows: list of dicts; cols: list of (key, header)."""
    widths = [max(len(h), *(len(str(r.get(k, ""))) for r in rows)) for k, h in cols]
    print("  ".join(h.ljust(w) for (_, h), w in zip(cols, widths)).rstrip())
    for r in rows:
        print("  ".join(str(r.get(k, "")).ljust(w) for (k, _), w in zip(cols, widths)).rstrip())


def write_json(path, obj):
    if path:
        with open(path, "w") as f:
            json.dump(obj, f, indent=1)


def mb(kib):
    return "%.1f" % (kib / 1024.0)


def die(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(2)
