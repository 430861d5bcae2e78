#!/usr/bin/env python3
"""Throwaway TLS certificates for tests and `make run`, made with certtool
(gnutls-bin) at run time, so no key material lives in the repository.

Use from a test:

    import certs
    c = certs.make(env.dir)          # CA + server certificate in env.dir
    env.set(tls_cert=c.cert, tls_key=c.key)
    ctx = ssl.create_default_context(cafile=c.ca)   # verifies 'localhost'
    # gnutls-cli --x509cafile c.ca -p PORT localhost

    c.cert   server certificate followed by the CA certificate (full chain, PEM)
    c.key    the server's private key (PEM)
    c.ca     the CA certificate (PEM), for client-side verification
    c.ca_key the CA's private key (to sign more certificates: c.issue(...))

The server certificate names 'localhost' and 'mx.example.org' (DNS SAN) and
127.0.0.1 (IP SAN). `certs.make(dir, prefix="renewed")` makes a second,
independent set (new CA, new key) in the same directory: different file names,
so tests can swap certificates (S18). `certs.make_selfsigned(dir)` makes one
self-signed certificate (cert == ca) for the demo server.

Files are world-readable (0644) and the directory is left traversable so that
sessions which drop from root to `run_as` (nobody) can read them in tests.

Command line: `python3 t/certs.py DIR [--selfsigned]` prints the paths.
"""
import os
import subprocess
import sys

NAMES = ("localhost", "mx.example.org")
IPS = ("127.0.0.1",)


class Certs:
    def __init__(self, cert, key, ca, ca_key):
        self.cert, self.key, self.ca, self.ca_key = cert, key, ca, ca_key

    def issue(self, dir, prefix, names=NAMES, ips=IPS):
        """Another server cert/key signed by this CA: returns a Certs."""
        cert, key = _server(dir, prefix, self.ca, self.ca_key, names, ips)
        return Certs(cert, key, self.ca, self.ca_key)

    def __repr__(self):
        return "Certs(cert=%r, key=%r, ca=%r)" % (self.cert, self.key, self.ca)


def _run(args):
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(args),
                                              r.stderr.decode(errors="replace")))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _key(path):
    # ECDSA P-256: fast to generate, accepted by every TLS 1.2/1.3 client.
    _run(["certtool", "--generate-privkey", "--key-type=ecdsa",
          "--curve=secp256r1", "--outfile", path])


def _template(path, cn, names, ips, ca=False):
    lines = ['cn = "%s"' % cn, 'organization = "yubin test"',
             "expiration_days = 30", "serial = %d" % (int.from_bytes(os.urandom(8), "big") >> 1)]
    if ca:
        lines += ["ca", "cert_signing_key", "crl_signing_key"]
    else:
        lines += ["tls_www_server", "signing_key", "encryption_key"]
        lines += ['dns_name = "%s"' % n for n in names]
        lines += ['ip_address = "%s"' % i for i in ips]
    _write(path, "\n".join(lines) + "\n")


def _server(dir, prefix, ca, ca_key, names, ips):
    key = os.path.join(dir, prefix + "-key.pem")
    leaf = os.path.join(dir, prefix + "-leaf.pem")
    cert = os.path.join(dir, prefix + "-cert.pem")
    tmpl = os.path.join(dir, prefix + "-server.tmpl")
    _key(key)
    _template(tmpl, names[0], names, ips)
    _run(["certtool", "--generate-certificate", "--load-privkey", key,
          "--load-ca-certificate", ca, "--load-ca-privkey", ca_key,
          "--template", tmpl, "--outfile", leaf])
    with open(leaf) as f1, open(ca) as f2:
        _write(cert, f1.read() + f2.read())
    for p in (key, cert, leaf):
        os.chmod(p, 0o644)
    return cert, key


def make(dir, prefix="server", names=NAMES, ips=IPS):
    """A new CA and a server certificate signed by it, in dir."""
    os.makedirs(dir, exist_ok=True)
    ca_key = os.path.join(dir, prefix + "-ca-key.pem")
    ca = os.path.join(dir, prefix + "-ca.pem")
    tmpl = os.path.join(dir, prefix + "-ca.tmpl")
    _key(ca_key)
    _template(tmpl, "yubin test CA " + prefix, (), (), ca=True)
    _run(["certtool", "--generate-self-signed", "--load-privkey", ca_key,
          "--template", tmpl, "--outfile", ca])
    os.chmod(ca, 0o644)
    cert, key = _server(dir, prefix, ca, ca_key, names, ips)
    return Certs(cert, key, ca, ca_key)


def make_selfsigned(dir, prefix="selfsigned", names=NAMES, ips=IPS):
    """One self-signed server certificate (cert is its own CA)."""
    os.makedirs(dir, exist_ok=True)
    key = os.path.join(dir, prefix + "-key.pem")
    cert = os.path.join(dir, prefix + "-cert.pem")
    tmpl = os.path.join(dir, prefix + ".tmpl")
    _key(key)
    _template(tmpl, names[0], names, ips)
    _run(["certtool", "--generate-self-signed", "--load-privkey", key,
          "--template", tmpl, "--outfile", cert])
    for p in (key, cert):
        os.chmod(p, 0o644)
    return Certs(cert, key, cert, key)


class PipeTLS:
    """A TLS client over a session's stdin/stdout pipes (Python's ssl with
    memory BIOs), for STARTTLS tests that run a program through pipes:

        p = subprocess.Popen([prog, "-c", conf], stdin=PIPE, stdout=PIPE)
        ... plaintext exchange on p.stdin / p.stdout ...
        tls = certs.PipeTLS(p.stdin, p.stdout, c.ca)   # handshake
        tls.send(b"EHLO x\\r\\n"); tls.reply()       # or readline(), recv()
        tls.unwrap()     # send close_notify; p.stdin stays open for more bytes
    """

    def __init__(self, wfile, rfile, cafile, server_hostname="localhost", timeout=10):
        import ssl
        self.ssl = ssl
        self.w, self.r, self.timeout = wfile, rfile, timeout
        ctx = ssl.create_default_context(cafile=cafile)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=server_hostname)
        self.eof = False
        self.buf = b""
        self._loop(self.obj.do_handshake)
        self.version, self.cipher = self.obj.version(), self.obj.cipher()

    def _flush(self):
        data = self.out.read()
        if data:
            self.w.write(data)
            self.w.flush()

    def _fill(self, deadline):
        import select
        import time
        fd = self.r.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("no TLS data from the server")
        data = os.read(fd, 65536)
        if not data:
            self.inc.write_eof()
            self.eof = True
        else:
            self.inc.write(data)

    def _loop(self, op, *args, timeout=None):
        import time
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                r = op(*args)
                self._flush()
                return r
            except self.ssl.SSLWantReadError:
                self._flush()
                self._fill(deadline)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._loop(self.obj.write, data)

    def recv(self, timeout=None):
        """Some decrypted bytes (buffered ones first); b"" at EOF
        (close_notify or pipe closed). Raises TimeoutError."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        try:
            return self._loop(self.obj.read, 65536, timeout=timeout)
        except (self.ssl.SSLZeroReturnError, self.ssl.SSLEOFError):
            return b""

    def readline(self, timeout=None):
        """One line with its LF (or what is left at EOF)."""
        while b"\n" not in self.buf:
            try:
                data = self._loop(self.obj.read, 65536, timeout=timeout)
            except (self.ssl.SSLZeroReturnError, self.ssl.SSLEOFError):
                data = b""
            if not data:
                line, self.buf = self.buf, b""
                return line
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def reply(self, timeout=None):
        """An SMTP reply: lines until one with a space after the code."""
        lines = []
        while True:
            line = self.readline(timeout)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return b"".join(lines)

    def recv_until(self, marker, timeout=None):
        """Reads lines until one starts with marker (or EOF); returns them."""
        out = b""
        while True:
            line = self.readline(timeout)
            out += line
            if not line or line.startswith(marker):
                return out

    def unwrap(self):
        """Sends close_notify (does not wait for the server's)."""
        try:
            self.obj.unwrap()
        except (self.ssl.SSLWantReadError, self.ssl.SSLError):
            pass
        self._flush()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: certs.py DIR [--selfsigned]")
    if "--selfsigned" in sys.argv[2:]:
        c = make_selfsigned(sys.argv[1])
    else:
        c = make(sys.argv[1])
    print("cert=%s\nkey=%s\nca=%s" % (c.cert, c.key, c.ca))
