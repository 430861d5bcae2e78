"""A scripted milter for yubin's tests: a small server on a loopback port
that speaks the filter side of the Sendmail milter protocol (version 6),
records what the MTA sends and answers as a script says.

    m = milter.Scripted({"M": [milter.REJECT]})     # reject at MAIL
    env.set(milters=m.spec)
    ...
    m.events     # [(cmd, data), ...] every packet received, in order
    m.times      # when each of them was read (time.monotonic())
    m.macros     # {step: {name: value}} last macros per step
    m.close()

A script maps a step letter (C H M R T L N B E: connect, HELO, MAIL,
RCPT, DATA, header, end of header, body chunk, end of message) to a list
of answers, one per occurrence of that step (later ones get CONTINUE).
An answer is a packet body (command byte + data, see the helpers below),
a list of them (modifications, then the decision), one of HANG (never
answer), CLOSE (drop the connection) or Raw(bytes) (sent as they are), or
a function called with the connection's socket.
"""
import os
import socket
import struct
import threading
import time

CONTINUE = b"c"
ACCEPT = b"a"
REJECT = b"r"
TEMPFAIL = b"t"
DISCARD = b"d"
SKIP = b"s"
PROGRESS = b"p"
HANG = "hang"
CLOSE = "close"


class Raw:
    def __init__(self, data):
        self.data = data


def replycode(text):
    return b"y" + text + b"\0"


def addheader(name, value):
    return b"h" + name + b"\0" + value + b"\0"


def insheader(index, name, value):
    return b"i" + struct.pack(">I", index) + name + b"\0" + value + b"\0"


def chgheader(index, name, value):
    return b"m" + struct.pack(">I", index) + name + b"\0" + value + b"\0"


def replbody(data):
    return b"b" + data


def chgfrom(addr, args=b""):
    return b"e" + addr + b"\0" + args + b"\0"


def addrcpt(addr):
    return b"+" + addr + b"\0"


def delrcpt(addr):
    return b"-" + addr + b"\0"


def quarantine(reason):
    return b"q" + reason + b"\0"


def packet(body):
    return struct.pack(">I", len(body)) + body


NO_REPLY = set(b"ADKQ")   # abort, macro, quit+new connection, quit


def cstrings(data):
    return [p.decode("latin-1") for p in data.split(b"\0")[:-1]]


class Scripted:
    def __init__(self, script=None, actions=0xff, protocol=0, unix_path=None):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.actions = actions
        self.protocol = protocol
        self.events = []
        self.times = []   # time.monotonic() of each event, when it was read
        self.macros = {}
        self.connections = 0
        self.lock = threading.Lock()
        self.conns = []
        self.threads = []
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o666)
            self.spec = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.spec = "inet:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(16)
        # The accept thread polls and closes the listening socket itself:
        # closed from here while it sat in accept(), its descriptor number
        # could be reused by the next milter's socket and accept() would
        # take that one's connections.
        self.sock.settimeout(0.1)
        self.closed = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def close(self):
        """Waits for the connections to end (the session has exited, so
        they end at once), then stops listening."""
        for th in self.threads:
            th.join(10)
        self.closed = True
        self.acceptor.join(10)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def steps(self):
        """Command letters received (macros left out)."""
        return "".join(chr(c) for c, _ in self.events if c != ord("D"))

    def data_of(self, letter):
        return [d for c, d in self.events if c == ord(letter)]

    def headers(self):
        return [tuple(cstrings(d)) for d in self.data_of("L")]

    def body(self):
        return b"".join(self.data_of("B"))

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c.settimeout(None)
            self.conns.append(c)
            with self.lock:
                self.connections += 1
            th = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(th)
            th.start()
        self.sock.close()

    @staticmethod
    def _read(c, n):
        out = b""
        while len(out) < n:
            chunk = c.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def _answer(self, c, letter):
        queue = self.script.get(letter)
        ans = queue.pop(0) if queue else CONTINUE
        if ans == HANG:
            return False
        if ans == CLOSE:
            c.close()
            return "closed"
        if callable(ans):
            ans(c)
            return True
        if isinstance(ans, Raw):
            c.sendall(ans.data)
            return True
        for body in ans if isinstance(ans, list) else [ans]:
            c.sendall(packet(body))
        return True

    def _serve(self, c):
        hung = False
        try:
            while True:
                n = struct.unpack(">I", self._read(c, 4))[0]
                data = self._read(c, n)
                cmd, data = data[0], data[1:]
                with self.lock:
                    self.events.append((cmd, data))
                    self.times.append(time.monotonic())
                if cmd == ord("D"):
                    parts = cstrings(data[1:])
                    self.macros[chr(data[0])] = dict(zip(parts[::2], parts[1::2]))
                    continue
                if cmd == ord("O") and self.script.get("O"):
                    r = self._answer(c, "O")
                    if r == "closed":
                        return
                    hung = r is False
                    continue
                if cmd == ord("O"):
                    c.sendall(packet(b"O" + struct.pack(">III", 6, self.actions, self.protocol)))
                    continue
                if cmd in NO_REPLY or hung:
                    if cmd == ord("Q"):
                        return
                    continue
                r = self._answer(c, chr(cmd))
                if r == "closed":
                    return
                if r is False:
                    hung = True
        except (EOFError, OSError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
