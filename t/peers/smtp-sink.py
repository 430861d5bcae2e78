#!/usr/bin/env python3
"""A scripted SMTP sink for relay-runner tests, on 127.0.0.1.

    smtp-sink.py --script FILE --record DIR [--cert C --key K]

Prints "PORT <n>" on its first line of output once it listens. The script
(JSON) is read afresh for every connection, so a test can change the sink's
behaviour between runs of relay-runner. Keys (all optional):

    greeting      "220 sink ESMTP" (one reply, or raw bytes with "\\r\\n")
    greetings     {"1": "421 busy"}: per connection number (1-based)
    ehlo          reply to EHLO; false → "500 unrecognised" (HELO still works)
    ext           ["PIPELINING", "8BITMIME", "SIZE 10000000", "SMTPUTF8", "DSN"]
                  (STARTTLS is added when --cert is given and "starttls" is
                  not false; AUTH PLAIN LOGIN when "auth" is set)
    starttls      false: do not offer it
    starttls_raw  raw bytes sent in answer to STARTTLS (S56 injection tests)
    starttls_fail true: answer 220, then send noise instead of a handshake
    auth          "user:password" accepted by AUTH PLAIN / AUTH LOGIN
    auth_before_tls  true: offer AUTH before TLS too
    auth_mechs    "LOGIN": the mechanisms offered (default "PLAIN LOGIN")
    mail          reply to MAIL FROM (default 250 2.1.0 ok)
    rcpt          {"addr": "550 5.1.1 no such user"} (default 250 2.1.5 ok)
    max_rcpts     2: "452 too many recipients" past that many per transaction
    rcpt_once     {"addr": "451 4.7.1 greylisted"}: only for the first
                  RCPT of that address this sink process sees
    data          reply to DATA (default 354 go ahead)
    eod           reply to the end of data (default 250 2.0.0 queued)
    eod_once      reply to the first end of data this process sees
    drop_at       "greeting" | "ehlo" | "mail" | "rcpt" | "data" | "eod":
                  close the connection instead of replying
    raw           {"EHLO": "raw reply bytes"}: replaces the reply to a verb
    delay         {"EHLO": 3}: seconds to wait before replying
    close_after   "EHLO": close the connection right after that reply
    trickle       true: send the greeting one byte per TCP segment

Every delivered message is appended to DIR/messages.jsonl as
{"conn", "helo", "mail", "rcpts", "raw" (base64 of the DATA bytes as
received, terminator included), "data" (base64, dot-stuffing removed,
CRLF kept), "tls", "auth"}; DIR/conn-N.raw holds every byte each
connection sent in plaintext, DIR/conn-N.log the commands seen.
"""
import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time


class Sink(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, args):
        super().__init__(addr, Handler)
        self.args = args
        self.lock = threading.Lock()
        self.conns = 0
        self.seen_rcpt = set()
        self.eods = 0
        self.ctx = None
        if args.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(args.cert, args.key)

    def script(self):
        try:
            with open(self.args.script) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


class Closed(Exception):
    pass


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        srv = self.server
        with srv.lock:
            srv.conns += 1
            self.n = srv.conns
        self.s = srv.script()
        self.sock = self.request
        self.sock.settimeout(30)
        # One send per reply: without this, Nagle and delayed ACKs add 40 ms
        # to every pipelined reply.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.tls = False
        self.auth_user = None
        rec = srv.args.record
        self.raw = open(os.path.join(rec, "conn-%d.raw" % self.n), "wb")
        self.log = open(os.path.join(rec, "conn-%d.log" % self.n), "w")

    def finish(self):
        self.raw.close()
        self.log.close()

    def send(self, text):
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogateescape")
        if not text.endswith(b"\n"):
            text += b"\r\n"
        self.sock.sendall(text)

    def reply(self, verb, default):
        delay = self.s.get("delay", {}).get(verb)
        if delay:
            time.sleep(delay)
        raw = self.s.get("raw", {}).get(verb)
        if raw is not None:
            self.sock.sendall(raw.encode("latin-1"))
        else:
            self.send(default)
        if self.s.get("close_after") == verb:
            raise Closed()

    def drop(self, stage):
        if self.s.get("drop_at") == stage:
            raise Closed()

    def readline(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            if not self.tls:
                self.raw.write(data)
                self.raw.flush()
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def ext(self):
        exts = list(self.s.get("ext", ["PIPELINING", "8BITMIME", "SIZE 10000000",
                                       "SMTPUTF8", "DSN"]))
        if self.server.ctx and self.s.get("starttls", True) and not self.tls:
            exts.append("STARTTLS")
        if self.s.get("auth") and (self.tls or self.s.get("auth_before_tls")):
            exts.append("AUTH " + self.s.get("auth_mechs", "PLAIN LOGIN"))
        return exts

    def ehlo(self, arg):
        if self.s.get("ehlo", True) is False:
            self.reply("EHLO", "500 5.5.1 unrecognised command")
            return
        lines = ["sink.test"] + self.ext()
        text = "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                       for i, l in enumerate(lines))
        self.reply("EHLO", text)

    def starttls(self):
        raw = self.s.get("starttls_raw")
        if raw is not None:
            self.sock.sendall(raw.encode("latin-1"))
        else:
            self.reply("STARTTLS", "220 2.0.0 ready to start TLS")
            if not self.s.get("raw", {}).get("STARTTLS", "220").startswith("220"):
                return          # refused: the session goes on in plaintext
        if self.buf:
            raise Closed()      # client pipelined past STARTTLS
        if self.s.get("starttls_fail"):
            time.sleep(0.3)     # after the go-ahead: no TLS, just noise
            self.sock.sendall(b"this is not TLS\r\n" * 20)
            raise Closed()
        self.sock = self.server.ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.log.write("TLS %s\n" % self.sock.version())

    def auth(self, arg):
        want = self.s.get("auth", "")
        parts = arg.split()
        user = None
        if parts and parts[0].upper() == "PLAIN":
            resp = parts[1] if len(parts) > 1 else None
            if resp is None:
                self.send("334 ")
                resp = self.readline().strip().decode()
            try:
                _, u, p = base64.b64decode(resp).decode().split("\0")
                user = u if "%s:%s" % (u, p) == want else None
            except ValueError:
                user = None
        elif parts and parts[0].upper() == "LOGIN":
            self.send("334 VXNlcm5hbWU6")
            u = base64.b64decode(self.readline().strip()).decode()
            self.send("334 UGFzc3dvcmQ6")
            p = base64.b64decode(self.readline().strip()).decode()
            user = u if "%s:%s" % (u, p) == want else None
        if user is None:
            self.send("535 5.7.8 authentication failed")
        else:
            self.auth_user = user
            self.send("235 2.7.0 authenticated")

    def data(self, helo, mail, rcpts):
        self.drop("data")
        self.reply("DATA", self.s.get("data", "354 go ahead"))
        if not self.s.get("data", "354").startswith("354"):
            return
        raw = b""
        while True:
            line = self.readline()
            raw += line
            if line == b".\r\n":
                break
        parts = raw[:-3].split(b"\r\n")   # the last part is b"" after a CRLF
        body = b"".join((p[1:] if p.startswith(b".") else p) + b"\r\n" for p in parts[:-1])
        self.drop("eod")
        with self.server.lock:
            self.server.eods += 1
            first = self.server.eods == 1
        reply = self.s.get("eod_once") if first and self.s.get("eod_once") else \
            self.s.get("eod", "250 2.0.0 queued")
        if reply.startswith("2"):
            rec = {"conn": self.n, "helo": helo, "mail": mail, "rcpts": rcpts,
                   "raw": base64.b64encode(raw).decode(),
                   "data": base64.b64encode(body).decode(),
                   "tls": self.tls, "auth": self.auth_user}
            with self.server.lock:
                with open(os.path.join(self.server.args.record, "messages.jsonl"), "a") as f:
                    f.write(json.dumps(rec) + "\n")
        self.reply("EOD", reply)

    def handle(self):
        try:
            self.session()
        except (Closed, OSError, ssl.SSLError):
            pass

    def session(self):
        greeting = self.s.get("greetings", {}).get(str(self.n), self.s.get("greeting"))
        self.drop("greeting")
        if self.s.get("trickle"):
            for byte in (greeting or "220 sink.test ESMTP\r\n").encode():
                self.sock.sendall(bytes([byte]))
                time.sleep(0.002)
        else:
            self.send(greeting or "220 sink.test ESMTP")
        helo, mail, rcpts = None, None, []
        while True:
            line = self.readline()
            text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            self.log.write(text + "\n")
            self.log.flush()
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.drop("ehlo")
                helo, mail, rcpts = arg, None, []
                self.ehlo(arg)
            elif verb == "HELO":
                helo = arg
                self.send("250 sink.test")
            elif verb == "STARTTLS" and self.server.ctx:
                self.starttls()
            elif verb == "AUTH":
                self.auth(arg)
            elif verb == "MAIL":
                self.drop("mail")
                mail = arg
                rcpts = []
                self.reply("MAIL", self.s.get("mail", "250 2.1.0 ok"))
            elif verb == "RCPT":
                self.drop("rcpt")
                addr = arg[arg.find("<") + 1:arg.find(">")]
                with self.server.lock:
                    once = self.s.get("rcpt_once", {}).get(addr)
                    if once and addr not in self.server.seen_rcpt:
                        self.server.seen_rcpt.add(addr)
                        r = once
                    else:
                        self.server.seen_rcpt.add(addr)
                        r = self.s.get("rcpt", {}).get(addr, "250 2.1.5 ok")
                limit = self.s.get("max_rcpts")
                if limit and r.startswith("2") and len(rcpts) >= limit:
                    r = "452 4.5.3 too many recipients"
                if r.startswith("2"):
                    rcpts.append(addr)
                self.reply("RCPT", r)
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.data(helo, mail, rcpts)
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("500 5.5.1 unrecognised command")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.record, exist_ok=True)
    srv = Sink(("127.0.0.1", args.port), args)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
