"""Helpers for the IMAP tests: a raw client over pipes that returns every
line up to the tagged reply (literals included), and imaplib setup."""
import imaplib
import os
import re
import subprocess
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
        return self.s.read_bytes(n, timeout, "literal incomplete")

    def read_response(self, tag, timeout=10):
        """Lines (literals inline) through the tagged line for tag."""
        out = bytearray()  # bytes += would copy the response once per line
        end = None if tag is None else tag.encode() + b" "
        while True:
            line = self.s.readline(timeout)
            if not line:
                return bytes(out)
            out += line
            while line.endswith(b"}\r\n"):
                m = re.search(rb"~?\{(\d+)\}\r\n$", line)
                if not m:
                    break
                out += self.read_bytes(int(m.group(1)), timeout)
                line = self.s.readline(timeout)
                out += line
            if end is None or line.startswith(end):
                return bytes(out)

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


def value_end(b, i):
    """End of the IMAP value (list, string, literal, atom) at b[i]."""
    depth = 0
    while True:
        c = b[i:i + 1]
        if c == b"":
            return i
        if c == b"(":
            depth += 1
            i += 1
        elif c == b")":
            depth -= 1
            i += 1
        elif c == b'"':
            i += 1
            while b[i:i + 1] not in (b'"', b""):
                i += 2 if b[i:i + 1] == b"\\" else 1
            i += 1
        elif c in (b"{", b"~"):
            j = b.index(b"}", i)
            n = int(b[i + (2 if c == b"~" else 1):j])
            i = j + 3 + n
        elif c == b" ":
            i += 1
            continue
        else:
            while b[i:i + 1] not in (b" ", b")", b"\r", b""):
                i += 1
        if depth == 0:
            return i


def fetch_att_end(b, i):
    """End of the FETCH item name at b[i], its section and partial included
    (BODY[HEADER.FIELDS (A B)]<0>), where value_end would stop at the
    space inside the brackets; a list, string or literal there is scanned
    by value_end."""
    if b[i:i + 1] in (b"(", b'"', b"{", b"~"):
        return value_end(b, i)
    while b[i:i + 1] not in (b" ", b")", b"(", b"\r", b""):
        if b[i:i + 1] == b"[":
            i = b.index(b"]", i)
        i += 1
    return i


def tagged(resp):
    """The last line (the tagged reply) of a response."""
    lines = [x for x in resp.split(b"\r\n") if x]
    return lines[-1] if lines else b""


def numbered_message(i):
    """A small message from bob whose Subject and body carry the number i."""
    return b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody of %d\r\n" % (i, i)


def append_ok(s, box, data, flags=b""):
    """APPENDs data to box over the Raw session s (non-synchronising
    literal; flags, if any, end in a space); asserts the tagged OK and
    returns the response."""
    if isinstance(box, str):
        box = box.encode()
    r = s.cmd(b"APPEND %s %s{%d+}\r\n%s" % (box, flags, len(data), data))
    assert tagged(r).split()[1] == b"OK", r
    return r


def recent_of(resp):
    """The number in the untagged RECENT of resp, or None."""
    m = re.search(rb"\* (\d+) RECENT\r\n", resp)
    return int(m.group(1)) if m else None


def check_eq(t, got, want, name, diag=b""):
    """One TAP check on t that got == want, with both (and diag: bytes, or
    a list of bytes and other values) in the diagnostics on failure."""
    if isinstance(diag, (list, tuple)):
        diag = b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in diag)
    if isinstance(diag, bytes):
        diag = diag.decode("latin-1")
    t.ok(got == want, name, "got:  %r\nwant: %r\n%s" % (got, want, diag))


def close_all(sessions):
    """Closes every Raw session left open; errors ignored, for a finally
    block that must go on to clean up the Env."""
    for s in sessions:
        try:
            s.close()
        except Exception:
            pass


def stream(env):
    """imaplib over pipes."""
    return imaplib.IMAP4_stream("%s -c %s" % (yubin.binary("imap-session"), env.conf_path))


def deliver_mbox(env, addr, data):
    """Appends a message to addr's mbox INBOX under the fcntl lock that
    lib/mbox.c and imap-session take first (mboxrd quoting)."""
    import fcntl
    d = env.maildir(addr)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "INBOX")
    data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    body = re.sub(rb"(?m)^(>*From )", rb">\1", data)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # replaced by a rewrite while we waited
    try:
        os.write(fd, b"From bob@example.org Thu Nov 27 10:00:00 2026\n" + body + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    if os.geteuid() == 0:
        os.chmod(path, 0o666)
        os.chmod(d, 0o777)
    return path


def deliver(env, addr, data, name=None):
    """Drops a message into addr's INBOX new/ as a delivery would (appends
    to the mbox INBOX with mailbox_format = mbox)."""
    import time
    if env.settings.get("mailbox_format") == "mbox":
        return deliver_mbox(env, addr, data)
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


class SyncServer:
    """A server for a sync-client test (mbsync, offlineimap): a scratch Env
    keeping mbox files when YUBIN_T_MBOX=1 (see run_mbox_variant), else
    Maildir; imap-session on a loopback port; and the path of the client's
    local Maildir tree (not created)."""

    def __init__(self):
        self.mbox = os.environ.get("YUBIN_T_MBOX") == "1"
        self.env = yubin.Env(conf={"mailbox_format": "mbox"} if self.mbox else None)
        self.listener = yubin.Listener(self.env, "imap-session")
        self.local = os.path.join(self.env.dir, "local")

    def local_files(self, box):
        """{path: contents} of every message in new/ and cur/ of the
        client's folder box."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.local, box, sub)
            if os.path.isdir(d):
                for n in os.listdir(d):
                    with open(os.path.join(d, n), "rb") as fh:
                        out[os.path.join(d, n)] = fh.read()
        return out

    def find_local(self, box, needle):
        """Path of a message in the client's folder box containing needle,
        or None."""
        for p, data in self.local_files(box).items():
            if needle in data:
                return p
        return None

    def stop(self):
        self.listener.stop()
        self.env.cleanup()


def run_mbox_variant(script):
    """Runs the test script t/<script> again with YUBIN_T_MBOX=1, so that
    its SyncServer keeps mbox files."""
    os.environ["YUBIN_T_MBOX"] = "1"
    import runpy
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), script),
                   run_name="__main__")


# ---- a strict reader of server output (S39) ----

FETCH_KEYS = (b"FLAGS", b"UID", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE", b"BODYSTRUCTURE",
              b"BODY", b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT", b"BINARY.SIZE", b"BINARY")
ATOM_SPECIALS = b'(){ %*"\\]'


class SyntaxErr(Exception):
    pass


class Reader:
    """Tokens of one response, literals included: strings, atoms, lists."""

    def __init__(self, data, pos=0):
        self.d, self.p = data, pos

    def peek(self):
        return self.d[self.p:self.p + 1]

    def expect(self, b):
        if not self.d.startswith(b, self.p):
            raise SyntaxErr("expected %r at %d: %r" % (b, self.p, self.d[self.p:self.p + 40]))
        self.p += len(b)

    def quoted(self):
        self.expect(b'"')
        out = b""
        while True:
            c = self.peek()
            if c == b"":
                raise SyntaxErr("unterminated quoted string")
            self.p += 1
            if c == b'"':
                return out
            if c == b"\\":
                e = self.peek()
                if e not in (b'"', b"\\"):
                    raise SyntaxErr("bad escape %r" % e)
                self.p += 1
                out += e
            elif c in (b"\r", b"\n", b"\0") or c[0] >= 0x80:
                raise SyntaxErr("forbidden byte %r in quoted string" % c)
            else:
                out += c

    def literal(self):
        if self.peek() == b"~":
            self.p += 1
        self.expect(b"{")
        end = self.d.index(b"}\r\n", self.p)
        n = int(self.d[self.p:end])
        self.p = end + 3
        if len(self.d) - self.p < n:
            raise SyntaxErr("literal too short")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s

    def atom(self):
        s = self.p
        while self.p < len(self.d):
            c = self.d[self.p]
            if c == ord("["):  # section: up to ']'
                self.p = self.d.index(b"]", self.p) + 1
                continue
            if c <= 0x20 or c >= 0x7f or c in b'(){"':
                break
            self.p += 1
        if self.p == s:
            raise SyntaxErr("empty atom at %d: %r" % (s, self.d[s:s + 20]))
        return self.d[s:self.p]

    def value(self):
        c = self.peek()
        if c == b"(":
            self.p += 1
            items = []
            while self.peek() != b")":
                # Address and body lists follow each other without a
                # space: "((a)(b))", "((body)(body) "mixed")".
                if items and not (isinstance(items[-1], list) and self.peek() == b"("):
                    self.expect(b" ")
                items.append(self.value())
            self.p += 1
            return items
        if c == b'"':
            return self.quoted()
        if c in (b"{", b"~"):
            return self.literal()
        return self.atom()

    def rest_of_line(self):
        end = self.d.index(b"\r\n", self.p)
        text = self.d[self.p:end]
        if b"\r" in text or b"\n" in text or b"\0" in text:
            raise SyntaxErr("bad text")
        self.p = end + 2
        return text


def check_fetch(items):
    if not isinstance(items, list) or len(items) % 2:
        raise SyntaxErr("FETCH list must be key/value pairs: %r" % items)
    for k in items[0::2]:
        if not isinstance(k, bytes) or not any(k == x or k.startswith(x + b"[") for x in FETCH_KEYS):
            raise SyntaxErr("unknown FETCH key %r" % k)


def check_syntax(data):
    """Parses a whole server transcript strictly; returns the number of
    responses or raises SyntaxErr."""
    r = Reader(data)
    n = 0
    while r.p < len(data):
        n += 1
        if r.peek() == b"+":
            r.rest_of_line()
            continue
        tag = r.atom()
        r.expect(b" ")
        if tag == b"*" and r.peek().isdigit():
            num = r.atom()
            r.expect(b" ")
            kind = r.atom()
            if kind == b"FETCH":
                r.expect(b" ")
                check_fetch(r.value())
            elif kind not in (b"EXISTS", b"RECENT", b"EXPUNGE"):
                raise SyntaxErr("unknown numbered response %r %r" % (num, kind))
            r.expect(b"\r\n")
            continue
        word = r.atom()
        if word in (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"):
            if r.peek() == b" ":
                r.p += 1
                r.rest_of_line()
            else:
                r.expect(b"\r\n")
            continue
        if tag != b"*":
            raise SyntaxErr("tagged line without status: %r" % tag)
        while r.peek() == b" ":
            r.p += 1
            r.value()
        r.expect(b"\r\n")
    return n


# ---- the message cache file (lib/mcache.h), read independently ----

_M64 = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def mcache_check(b, seed):
    """lib/mcache.c's checksum of b."""
    mix1, mix2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
    h = ((seed * mix1) & _M64) ^ len(b)
    i = 0
    while len(b) - i >= 8:
        w = int.from_bytes(b[i:i + 8], "little")
        h = (_rotl(h ^ ((w * mix2) & _M64), 31) * mix1) & _M64
        i += 8
    w = int.from_bytes(b[i:], "little") if i < len(b) else 0
    h = (_rotl(h ^ ((w * mix2) & _M64), 31) * mix1) & _M64
    h ^= h >> 33
    h = (h * mix2) & _M64
    h ^= h >> 29
    return h


def mcache_records(path):
    """({UID: the id of its latest good record} of the cache file at path,
    1 if the whole file is good records)."""
    data = open(path, "rb").read()
    if data[:8] != b"YBCACHE2":
        return {}, 0
    uids, at = {}, 8
    while at + 44 <= len(data):
        magic = int.from_bytes(data[at:at + 4], "little")
        length = int.from_bytes(data[at + 4:at + 8], "little")
        if magic != 0x31524359 or length < 44 or at + length > len(data):
            break
        if int.from_bytes(data[at + 8:at + 16], "little") != mcache_check(data[at + 16:at + length], length):
            break
        idlen = int.from_bytes(data[at + 40:at + 42], "little")
        uids[int.from_bytes(data[at + 20:at + 24], "little")] = data[at + 44:at + 44 + idlen]
        at += length
    return uids, int(at == len(data))


class ZClient:
    """An IMAP client that can turn on COMPRESS=DEFLATE (RFC 4978), over
    any byte pipe: send(bytes) writes, recv() returns the next chunk (b""
    at EOF; it raises on timeout). Python's imaplib has no COMPRESS, so
    this does the client side with zlib: raw deflate (wbits -15) and a sync
    flush after each command, as the RFC asks."""

    def __init__(self, send, recv):
        self._send, self._recv = send, recv
        self.buf = bytearray()   # inflated (or plain) output not yet read
        self.c = self.d = None
        self.wire_in = 0         # compressed bytes received
        self.last_chunk = b""    # the last chunk as it came (compressed)
        self.n = 0

    def start(self):
        """Compresses from here on (after the tagged OK of COMPRESS)."""
        import zlib
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.d = zlib.decompressobj(-15)
        if self.buf:
            raise AssertionError("output after COMPRESS's OK before compression: %r" % self.buf)

    def send(self, data):
        import zlib
        if self.c:
            data = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        self._send(data)

    def send_raw(self, data):
        """Bytes as they are: a bomb or garbage already compressed."""
        self._send(data)

    def _fill(self):
        chunk = self._recv()
        if not chunk:
            return False
        self.wire_in += len(chunk)
        self.last_chunk = chunk
        self.buf += self.d.decompress(chunk) if self.d else chunk
        return True

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if not self._fill():
                line = bytes(self.buf)
                self.buf = bytearray()
                return line

    def read_bytes(self, n):
        while len(self.buf) < n and self._fill():
            pass
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response(self, tag):
        """Lines (literals inline) through the tagged line for tag."""
        out = bytearray()
        end = tag.encode() + b" "
        while True:
            line = self.readline()
            if not line:
                return bytes(out)
            out += line
            while line.endswith(b"}\r\n"):
                m = re.search(rb"~?\{(\d+)\}\r\n$", line)
                if not m:
                    break
                out += self.read_bytes(int(m.group(1)))
                line = self.readline()
                out += line
            if line.startswith(end):
                return bytes(out)

    def cmd(self, line):
        self.n += 1
        tag = "z%d" % self.n
        data = line if isinstance(line, bytes) else line.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.read_response(tag)

    def compress(self):
        """COMPRESS DEFLATE; starts compressing if the reply is OK."""
        resp = self.cmd("COMPRESS DEFLATE")
        if tagged(resp).split(b" ")[1:2] == [b"OK"]:
            self.start()
        return resp


# What Traced records: TRACED_READS, opens and reads; TRACED_CALLS, stats too.
TRACED_READS = "openat,open,read,pread64,readv,preadv,mmap"
TRACED_CALLS = TRACED_READS + ",newfstatat,stat,lstat,statx"


class Traced(Raw):
    """Raw on imap-session run under strace -o trace, recording calls (an
    strace trace= set), logged in as alice@example.org: for tests that
    show which files a session opens or reads."""

    def __init__(self, env, trace, calls=TRACED_CALLS):
        s = yubin.Session.__new__(yubin.Session)
        s.p = subprocess.Popen(
            ["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=" + calls,
             yubin.binary("imap-session"), "-c", env.conf_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env.env(), ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", "")))
        s._in = bytearray()
        s._scan = 0
        self.s = s
        self.greeting = s.readline(30)
        self.n = 0
        r = self.cmd('LOGIN alice@example.org "%s"' % yubin.DEMO_PASSWORD)
        assert b" OK " in r.splitlines()[-1], r
