"""Helpers for the IMAP tests: a raw client over pipes that returns every
line up to the tagged reply (literals included), and imaplib setup."""
import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

for _c in ("ENABLE", "ID", "MOVE", "UNSELECT", "NAMESPACE", "IDLE", "ESEARCH"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED", "NONAUTH"))


class Raw:
    """imap-session on pipes; cmd() sends one command, returns its response."""

    def __init__(self, env, login=None, args=()):
        self.s = env.start("imap-session", args)
        self.greeting = self.s.readline()
        self.n = 0
        if login:
            r = self.cmd('LOGIN %s "%s"' % (login, yubin.DEMO_PASSWORD))
            assert b" OK " in r.splitlines()[-1], r

    def read_bytes(self, n, timeout=10):
        import select
        import time
        deadline = time.time() + timeout
        fd = self.s.p.stdout.fileno()
        while len(self.s.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("literal incomplete")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.s.buf += chunk
        data, self.s.buf = self.s.buf[:n], self.s.buf[n:]
        return data

    def read_response(self, tag, timeout=10):
        """Lines (literals inline) through the tagged line for tag."""
        out = b""
        while True:
            line = self.s.readline(timeout)
            if not line:
                return out
            out += line
            while True:
                m = re.search(rb"~?\{(\d+)\}\r\n$", line)
                if not m:
                    break
                out += self.read_bytes(int(m.group(1)), timeout)
                line = self.s.readline(timeout)
                out += line
            if tag is None or line.startswith(tag.encode() + b" "):
                return out

    def cmd(self, line, timeout=10):
        self.n += 1
        tag = "t%d" % self.n
        data = line if isinstance(line, bytes) else line.encode()
        self.s.send(tag.encode() + b" " + data + b"\r\n")
        return self.read_response(tag, timeout)

    def send(self, data):
        self.s.send(data)

    def close(self, timeout=10):
        """Ends the session; returns (remaining output, exit code)."""
        p = self.s.p
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout)
        except Exception:
            p.kill()
            p.wait()
        out = self.s.buf + p.stdout.read()
        p.stdout.close()
        p.stderr.close()
        return out, p.returncode


def tagged(resp):
    """The last line (the tagged reply) of a response."""
    lines = [x for x in resp.split(b"\r\n") if x]
    return lines[-1] if lines else b""


def stream(env):
    """imaplib over pipes."""
    return imaplib.IMAP4_stream("%s -c %s" % (yubin.binary("imap-session"), env.conf_path))


def deliver(env, addr, data, name=None):
    """Drops a message into addr's INBOX new/ as a delivery would."""
    import time
    d = env.maildir(addr)
    root = os.geteuid() == 0
    for sub in ("", "tmp", "new", "cur"):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            os.makedirs(p)
            if root:  # sessions run as nobody and must write here
                os.chmod(p, 0o777)
                os.chmod(os.path.dirname(d), 0o777)
    name = name or "%d.M%dP%d.test" % (time.time(), time.time_ns() % 1000000, os.getpid())
    data = data.replace(b"\r\n", b"\n")
    tmp = os.path.join(d, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    if root:
        os.chmod(tmp, 0o666)
    final = os.path.join(d, "new", "%s,S=%d,W=%d" % (name, len(data), len(data) + data.count(b"\n")))
    os.rename(tmp, final)
    return final
