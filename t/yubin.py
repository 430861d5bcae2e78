"""Shared helpers for yubin's Python tests: TAP output, scratch
configurations, sessions over pipes and over loopback sockets.

A test script does:
    import yubin
    t = yubin.TAP()
    env = yubin.Env()                 # scratch dir with yubin.conf and users
    out = env.run("smtp-session", b"EHLO x\\r\\nQUIT\\r\\n")
    t.ok(b"250" in out.stdout, "EHLO answered")
    t.done()
"""
import atexit
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BUILD = os.environ.get("YUBIN_BUILD", os.path.join(TOP, "build", "obj"))

DEMO_PASSWORD = "secret-pw"


def binary(prog):
    """Path of a built program (sanitizer builds set YUBIN_BUILD)."""
    return os.path.join(BUILD, "bin", prog)


def binary_for_others(prog, dest):
    """binary(prog), or a copy of it under dest when another user could not
    reach it (a checkout under /root, which is 0700): for tests that start
    a program already switched to an unprivileged user. dest must be a
    directory that user can reach (Env.dir as root)."""
    path = binary(prog)
    d = os.path.dirname(path)
    while d != "/" and os.stat(d).st_mode & 0o001:
        d = os.path.dirname(d)
    if d == "/":
        return path
    copy = os.path.join(dest, "bin", prog)
    if not os.path.exists(copy):
        os.makedirs(os.path.dirname(copy), mode=0o755, exist_ok=True)
        shutil.copy2(path, copy)
        os.chmod(copy, 0o755)
    return copy


def crypt_hash(password):
    """A $6$ hash, made with the openssl command line or Python's crypt."""
    try:
        out = subprocess.run(["openssl", "passwd", "-6", password],
                             capture_output=True, check=True, text=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        import warnings
        warnings.simplefilter("ignore")
        import crypt  # noqa: deprecated but present on Debian 12's python3
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


class TAP:
    """Minimal TAP producer: numbered ok/not ok lines, plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), flush=True)
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print("#   " + line, flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def contains(self, hay, needle, name):
        return self.ok(needle in hay, name, "%r not in:\n%r" % (needle, hay))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def todo(self, cond, name, why, diag=None):
        """A check of a known defect not fixed yet (TAP TODO): printed
        and shown by prove, not a failure of the script."""
        self.n += 1
        print("%s %d - %s # TODO %s" % ("ok" if cond else "not ok", self.n, name, why), flush=True)
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line, flush=True)
        return cond

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


class Result:
    def __init__(self, stdout, stderr, rc):
        self.stdout, self.stderr, self.rc = stdout, stderr, rc

    def lines(self):
        return self.stdout.split(b"\r\n")


class Env:
    """A scratch installation: yubin.conf, users, aliases, mail_root, spool.

    Users (password DEMO_PASSWORD): alice@example.org, bob@example.org,
    carol@example.org, demo@localhost. Local domains: example.org localhost.
    """

    USERS = ["alice@example.org", "bob@example.org", "carol@example.org",
             "demo@localhost"]

    def __init__(self, conf=None, users=None, aliases=None):
        self.dir = tempfile.mkdtemp(prefix="yubin-t-")
        self.mail_root = os.path.join(self.dir, "mail")
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.mail_root)
        os.makedirs(self.spool)
        self.users_file = os.path.join(self.dir, "users")
        self.aliases_file = os.path.join(self.dir, "aliases")
        h = crypt_hash(DEMO_PASSWORD)
        with open(self.users_file, "w") as f:
            for u in (users or self.USERS):
                f.write("%s:{SHA512-CRYPT}%s::::\n" % (u, h))
        with open(self.aliases_file, "w") as f:
            f.write(aliases if aliases is not None else
                    "postmaster@example.org: alice@example.org\n"
                    "team@example.org: alice@example.org, bob@example.org\n")
        self.conf_path = os.path.join(self.dir, "yubin.conf")
        self.settings = {
            "hostname": "mx.example.org",
            "local_domains": "example.org localhost",
            "users": self.users_file,
            "aliases": self.aliases_file,
            "mail_root": self.mail_root,
            "spool": self.spool,
            "auth_requires_tls": "no",
            "run_as": os.environ.get("USER_RUN_AS", "nobody"),
        }
        if conf:
            self.settings.update(conf)
        self.write_conf()

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))
        # Sessions started as root drop to run_as: that user reads the
        # configuration (never world-writable: sessions refuse that) and
        # writes mail_root and spool.
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)
            for f in (self.conf_path, self.users_file, self.aliases_file):
                os.chmod(f, 0o644)
            for d in (self.mail_root, self.spool):
                subprocess.run(["chmod", "-R", "a+rwX", d], check=False)

    def set(self, **kw):
        self.settings.update({k: str(v) for k, v in kw.items()})
        self.write_conf()

    def maildir(self, addr):
        local, domain = addr.split("@")
        return os.path.join(self.mail_root, domain, local)

    def messages(self, addr):
        """Contents of every message in new/ and cur/ of addr's INBOX."""
        d = self.maildir(addr)
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            if os.path.isdir(p):
                for n in sorted(os.listdir(p)):
                    with open(os.path.join(p, n), "rb") as f:
                        out.append(f.read())
        return out

    def env(self):
        e = dict(os.environ)
        e["YUBIN_CONF"] = self.conf_path
        return e

    def run(self, prog, data, args=(), timeout=60, env=None):
        """Runs prog on pipes with data as its whole input."""
        p = subprocess.run([binary(prog), "-c", self.conf_path] + list(args),
                           input=data, capture_output=True, timeout=timeout,
                           env=env or self.env())
        return Result(p.stdout, p.stderr, p.returncode)

    def start(self, prog, args=()):
        """Starts prog on pipes for an interactive Session."""
        return Session(self, prog, args)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class CleanEnv(Env):
    """An Env also removed at exit, even when a check raises first."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        atexit.register(self.cleanup)


def smtp_replies(out):
    """The last line of each SMTP reply in out (code, space, text), in
    order, the greeting included."""
    return [ln for ln in out.split(b"\r\n") if len(ln) >= 4 and ln[3:4] == b" "]


def files_under(*tops):
    """Paths of every file below the given directories."""
    found = []
    for top in tops:
        for d, _, files in os.walk(top):
            found += [os.path.join(d, f) for f in files]
    return found


def run_hwm(env, data, until, prog="smtp-session", args=()):
    """Runs prog (with args) on pipes fed data (bytes, or an iterable of
    byte chunks; no QUIT); once its output holds until, reads that
    process's peak RSS (VmHWM, KiB) from /proc, then sends QUIT. Returns
    (stdout, peak RSS)."""
    chunks = [data] if isinstance(data, bytes) else data
    p = subprocess.Popen([binary(prog), "-c", env.conf_path] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env.env())

    def feed():
        try:
            for c in chunks:
                p.stdin.write(c)
            p.stdin.flush()
        except OSError:
            pass
    th = threading.Thread(target=feed)
    th.start()
    # A bytearray grows in place, and each search covers only the new chunk
    # plus the len(until) - 1 bytes before it (where a match may start), so
    # waiting costs O(output) however it arrives.
    out, hwm = bytearray(), None
    while until:  # b"" is in any output: nothing to wait for
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        start = max(0, len(out) - (len(until) - 1))
        out += chunk
        if out.find(until, start) != -1:
            break
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    th.join()
    try:
        p.stdin.write(b"QUIT\r\n")
        p.stdin.close()
    except OSError:
        pass
    out += p.stdout.read()
    p.wait()
    return bytes(out), hwm


class Session:
    """An interactive session on pipes: send bytes, read lines.

    Output read ahead of the caller waits in a bytearray; each search for
    a line end starts where the last one stopped, so reading a reply of n
    bytes costs O(n) however many lines it has. buf is that output as
    bytes (tests may read it, or set it to b"" to take it over)."""

    def __init__(self, env, prog, args=()):
        self.p = subprocess.Popen([binary(prog), "-c", env.conf_path] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env.env())
        self._in = bytearray()  # output read, not yet returned
        self._scan = 0          # no b"\n" in self._in[:self._scan]

    @property
    def buf(self):
        return bytes(self._in)

    @buf.setter
    def buf(self, data):
        self._in = bytearray(data)
        self._scan = 0

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _fill(self, deadline, what):
        """Appends the next chunk of output; False at EOF. Raises
        TimeoutError(what()) once deadline has passed."""
        fd = self.p.stdout.fileno()
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(what())
            r, _, _ = select.select([fd], [], [], left)
            if r:
                break
        chunk = os.read(fd, 65536)
        self._in += chunk
        return bool(chunk)

    def _take(self, n):
        """The first n bytes of buffered output, removed. CPython drops a
        bytearray's prefix by moving its start, not by copying the rest."""
        data = bytes(self._in[:n])
        del self._in[:n]
        self._scan = 0
        return data

    def readline(self, timeout=10):
        """The next line with its LF; at EOF what is left (b"" at the
        end). Raises TimeoutError when no whole line came in time."""
        deadline = time.time() + timeout
        while True:
            i = self._in.find(b"\n", self._scan)
            if i >= 0:
                return self._take(i + 1)
            self._scan = len(self._in)
            if not self._fill(deadline, lambda: "no line; have %r" % self.buf):
                return self._take(len(self._in))

    def read_bytes(self, n, timeout=10, what="output incomplete"):
        """The next n bytes of output (fewer at EOF). Raises
        TimeoutError(what) when they did not come in time."""
        deadline = time.time() + timeout
        while len(self._in) < n:
            if not self._fill(deadline, lambda: what):
                break
        return self._take(min(n, len(self._in)))

    def reply(self, timeout=10):
        """An SMTP reply: lines until one with a space after the code."""
        lines = []
        while True:
            line = self.readline(timeout)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return b"".join(lines)

    def close(self, timeout=10):
        """Closes the client's side and collects what is left."""
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        out = self.p.stdout.read()
        err = self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return Result(self.buf + out, err, self.p.returncode)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Listener:
    """prog under systemd-socket-activate --accept --inetd on a loopback port."""

    def __init__(self, env, prog, args=(), port=None, wrap=()):
        """wrap: a command prog runs under (it execs its arguments)."""
        self.port = port or free_port()
        self.log = open(os.path.join(env.dir, "%s-%d.log" % (prog, self.port)), "wb")
        self.p = subprocess.Popen(
            ["systemd-socket-activate", "--accept", "--inetd",
             "-l", "127.0.0.1:%d" % self.port] + list(wrap) + [binary(prog), "-c", env.conf_path]
            + list(args), stdout=subprocess.DEVNULL, stderr=self.log, env=env.env())
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.logpath = self.log.name

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
        self.log.close()
