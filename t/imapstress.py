"""An IMAP stress client of our own: several sessions of one user on one
mailbox, each in its own thread, sending random SELECT, FETCH, STORE,
EXPUNGE, APPEND and NOOP commands, all valid. It checks what a client that
caches by UID relies on:

  - what a FETCH says about a UID (INTERNALDATE, RFC822.SIZE, BODY[],
    ENVELOPE, BODYSTRUCTURE) never changes, across commands and sessions,
    and BODY[] of a message APPENDed by a session is what it sent;
  - BODY[] is as long as the RFC822.SIZE beside it;
  - every command is answered OK (none of them is invalid; an EXPUNGE by
    another session is no reason for NO: RFC 2180 §4.1.1), but for a FETCH
    of a message another session expunged whose file this session never
    read (Maildir opens a file at its first read only, imap-session/folder.h):
    NO [EXPUNGEISSUED] then, RFC 2180 §4.1.2, and only if the NOOP sent
    right after it does report an EXPUNGE;
  - a keyword turns up in FETCH FLAGS only after an untagged FLAGS (or
    PERMANENTFLAGS) of that session announced it (RFC 9051 §7.3.5).

run() returns the violations found, by kind: "data" (a UID's data changed
or made up, a keyword shown unannounced, a session crashed) and "reply"
(a NO or BAD), and counts of what was done.
"""
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import Raw, Reader, SyntaxErr  # noqa: E402

KEYWORDS = ["$Work", "$Later", "kw%d"]  # kw%d: a few numbered ones
KEYWORD_POOL = 8                        # far below the 26 a folder may hold
FACT_KEYS = (b"INTERNALDATE", b"RFC822.SIZE", b"BODY[]", b"ENVELOPE", b"BODYSTRUCTURE")
ITEM_SETS = [
    "(UID FLAGS)",
    "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
    "(UID BODYSTRUCTURE RFC822.SIZE)",
    "(UID RFC822.SIZE BODY.PEEK[])",
    "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])",
]
MAX_MESSAGES = 40  # above this, sessions expunge more than they append


def keyword(rng):
    k = rng.choice(KEYWORDS)
    return k % rng.randrange(KEYWORD_POOL) if "%" in k else k


def message(rng, n):
    """A message of a few hundred bytes to ~30 KB, sometimes multipart."""
    words = b" ".join(rng.choice([b"alpha", b"beta", b"gamma", b"delta", b"\xc3\xa9t\xc3\xa9"])
                      for _ in range(8))
    head = (b"From: Stress %d <stress%d@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: stress %d\r\nDate: Mon, 7 Dec 2026 10:%02d:00 +0000\r\n"
            b"Message-ID: <stress.%d.%d@example.org>\r\n" %
            (n, n, n, n % 60, n, rng.randrange(1 << 30)))
    lines = b"".join(b"line %d %s\r\n" % (i, words) for i in range(rng.randrange(3, 600)))
    if rng.random() < 0.4:
        return (head + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n"
                b"\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b%d\r\n"
                b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                b"\r\naGVsbG8gd29ybGQ=\r\n--b%d--\r\n" % (n, n, lines, n, n))
    return head + b"\r\n" + lines


class Shared:
    """What every session has learnt, by UID, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.facts = {}      # uid -> {key: value}
        self.who = {}        # (uid, key) -> "session N command" that said it first
        self.sent = {}       # uid -> the bytes APPENDed
        self.errors = {"data": [], "reply": []}
        self.counts = {"commands": 0, "fetched": 0, "expunged": 0, "appended": 0}
        self.uidvalidity = None
        self.seq = 0

    def error(self, text, kind="data"):
        with self.lock:
            self.errors[kind].append(text)

    def next_number(self):
        with self.lock:
            self.seq += 1
            return self.seq


def freeze(v):
    """A parsed value as a comparable, printable thing."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    return v


def parse_lines(resp):
    """(kind, value) per response line, in order: ("FETCH", (num, items)),
    ("FLAGS", list), ("PERMANENTFLAGS", list), ("EXISTS", n),
    ("EXPUNGE", n), ("TAGGED", (status, text)), ("OTHER", line)."""
    r = Reader(resp)
    out = []
    while r.p < len(resp):
        start = r.p
        tag = r.atom()
        r.expect(b" ")
        if tag == b"*" and r.peek().isdigit():
            num = int(r.atom())
            r.expect(b" ")
            kind = r.atom()
            if kind == b"FETCH":
                r.expect(b" ")
                out.append(("FETCH", (num, r.value())))
            else:
                out.append((kind.decode(), num))
            r.expect(b"\r\n")
            continue
        if tag == b"*" and resp.startswith(b"FLAGS ", r.p):
            r.p += 6
            out.append(("FLAGS", r.value()))
            r.expect(b"\r\n")
            continue
        line = r.rest_of_line()
        if tag == b"*":
            m = re.match(rb"OK \[PERMANENTFLAGS \(([^)]*)\)", line)
            if m:
                out.append(("PERMANENTFLAGS", m.group(1).split()))
            else:
                out.append(("OTHER", resp[start:r.p]))
        else:
            status, _, text = line.partition(b" ")
            out.append(("TAGGED", (status, text)))
    return out


class Client(threading.Thread):
    def __init__(self, env, user, box, seed, number, shared, deadline):
        super().__init__(daemon=True)
        self.env, self.user, self.box = env, user, box
        self.rng = random.Random(seed)
        self.number, self.shared, self.deadline = number, shared, deadline
        self.announced = set()   # keywords (lower case) this session was told of
        self.exists = 0
        self.raw = None

    def name_of(self, cmd):
        return "session %d %r" % (self.number, cmd[:60])

    def run(self):
        try:
            self.raw = Raw(self.env, login=self.user)
            self.command("SELECT %s" % self.box)
            while time.time() < self.deadline:
                self.step()
        except Exception as e:  # a crash of the session or of this client
            self.shared.error("session %d: %s: %s" % (self.number, type(e).__name__, e))
        finally:
            if self.raw:
                try:
                    self.raw.close()
                except Exception:
                    pass

    def step(self):
        r, rng = self.rng.random(), self.rng
        big = self.exists > MAX_MESSAGES
        if r < 0.05:
            self.command(rng.choice(["SELECT", "EXAMINE"]) + " " + self.box)
            if not self.raw_selected_rw:
                self.command("SELECT %s" % self.box)
        elif r < 0.45:
            self.fetch()
        elif r < 0.65:
            self.store()
        elif r < (0.80 if big else 0.72):
            self.expunge()
        elif r < 0.90:
            if not big:
                self.append()
        else:
            self.command(rng.choice(["NOOP", "CHECK"]))

    def target(self):
        """A sequence set or a UID set of messages this session knows."""
        n = self.exists
        if n == 0:
            return "1:*"
        a = self.rng.randint(1, n)
        return self.rng.choice(["1:*", "%d" % a, "%d:*" % a, "%d:%d" % (a, min(n, a + 3))])

    def fetch(self):
        items = self.rng.choice(ITEM_SETS)
        prefix = self.rng.choice(["", "", "UID "])
        self.command("%sFETCH %s %s" % (prefix, self.target(), items))

    def store(self):
        rng = self.rng
        flags = rng.sample(["\\Seen", "\\Flagged", "\\Answered", "\\Draft", keyword(rng),
                            keyword(rng)], rng.randint(1, 2))
        self.command("%sSTORE %s %sFLAGS%s (%s)" % (
            rng.choice(["", "UID "]) if self.exists else "", self.target(),
            rng.choice(["+", "-", ""]), rng.choice(["", ".SILENT"]), " ".join(flags)))

    def expunge(self):
        n = self.exists
        if n == 0:
            return
        a = self.rng.randint(1, n)
        self.command("STORE %d:%d +FLAGS.SILENT (\\Deleted)" % (a, min(n, a + self.rng.randint(0, 2))))
        self.command("EXPUNGE")

    def append(self):
        rng = self.rng
        data = message(rng, self.shared.next_number())
        flags = rng.choice(["", "(\\Seen) ", "(%s) " % keyword(rng)])
        date = rng.choice(["", '"01-Feb-2021 08:30:00 +0100" '])
        resp = self.command(b"APPEND %s %s%s{%d+}\r\n%s" % (
            self.box.encode(), flags.encode(), date.encode(), len(data), data))
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", resp or b"")
        if m:
            with self.shared.lock:
                self.shared.sent[int(m.group(2))] = data
                self.shared.counts["appended"] += 1

    raw_selected_rw = True

    def command(self, line):
        cmd = line if isinstance(line, bytes) else line.encode()
        resp = self.raw.cmd(cmd, timeout=60)
        with self.shared.lock:
            self.shared.counts["commands"] += 1
        name = self.name_of(cmd.split(b"\r\n")[0].decode("latin-1"))
        try:
            lines = parse_lines(resp)
        except (SyntaxErr, ValueError) as e:
            self.shared.error("%s: unparsable response (%s): %r" % (name, e, resp[-300:]))
            return resp
        if not lines or lines[-1][0] != "TAGGED":
            self.shared.error("%s: no tagged reply: %r" % (name, resp[-300:]))
            return resp
        for kind, v in lines:
            if kind in ("FLAGS", "PERMANENTFLAGS"):
                self.announced |= {f.lower() for f in v if not f.startswith(b"\\")}
            elif kind == "EXISTS":
                self.exists = v
            elif kind == "EXPUNGE":
                self.exists -= 1
                with self.shared.lock:
                    self.shared.counts["expunged"] += 1
            elif kind == "FETCH":
                self.check_fetch(name, v[1])
            elif kind == "OTHER":
                m = re.search(rb"\[UIDVALIDITY (\d+)\]", v)
                if m:
                    self.check_uidvalidity(int(m.group(1)))
        status, text = lines[-1][1]
        if cmd.startswith(b"SELECT"):
            self.raw_selected_rw = status == b"OK"
        if cmd.startswith(b"EXAMINE"):
            self.raw_selected_rw = False
        if status != b"OK":
            # a STORE or EXPUNGE in a read-only (EXAMINEd) mailbox is refused
            ro = not self.raw_selected_rw and b"[READ-ONLY]" in text
            if not ro and not self.expunge_issued(cmd, status, text):
                self.shared.error("%s: %s %s" % (name, status.decode(), text.decode("latin-1")),
                                  "reply")
        return resp

    def expunge_issued(self, cmd, status, text):
        """A FETCH refused NO [EXPUNGEISSUED] is right when a message was
        expunged elsewhere and not yet reported: the next NOOP must report
        it, else the answer was made up (a "data" error)."""
        if not (re.match(rb"(UID )?FETCH ", cmd) and status == b"NO" and
                text.startswith(b"[EXPUNGEISSUED]")):
            return False
        resp = self.command("NOOP")
        if not re.search(rb"^\* \d+ EXPUNGE\r$", resp or b"", re.M):
            self.shared.error("%s: NO [EXPUNGEISSUED] but the next NOOP reports no EXPUNGE"
                              % self.name_of(cmd.decode("latin-1")))
        with self.shared.lock:
            self.shared.counts["expunge issued"] = self.shared.counts.get("expunge issued", 0) + 1
        return True

    def check_uidvalidity(self, v):
        with self.shared.lock:
            if self.shared.uidvalidity is None:
                self.shared.uidvalidity = v
            elif self.shared.uidvalidity != v:
                self.shared.errors["data"].append("session %d: UIDVALIDITY changed %d -> %d" %
                                          (self.number, self.shared.uidvalidity, v))

    def check_fetch(self, name, items):
        if not isinstance(items, list) or len(items) % 2:
            self.shared.error("%s: FETCH not key/value pairs: %r" % (name, items))
            return
        d = dict(zip(items[0::2], items[1::2]))
        flags = d.get(b"FLAGS")
        if isinstance(flags, list):
            for f in flags:
                if not f.startswith(b"\\") and f.lower() not in self.announced:
                    self.shared.error("%s: keyword %s in FETCH FLAGS before any FLAGS announced it"
                                      % (name, f.decode("latin-1")))
        uid = d.get(b"UID")
        if uid is None:
            if set(d) - {b"FLAGS"}:
                self.shared.error("%s: FETCH without UID: %r" % (name, sorted(d)))
            return
        uid = int(uid)
        body, size = d.get(b"BODY[]"), d.get(b"RFC822.SIZE")
        if body is not None and size is not None and len(body) != int(size):
            self.shared.error("%s: UID %d: BODY[] of %d bytes beside RFC822.SIZE %s" %
                              (name, uid, len(body), size.decode()))
        env = d.get(b"ENVELOPE")
        if isinstance(env, list) and all(x == b"NIL" for x in env):
            self.shared.error("%s: UID %d: an ENVELOPE of NILs" % (name, uid))
        with self.shared.lock:
            self.shared.counts["fetched"] += 1
            sent = self.shared.sent.get(uid)
            facts = self.shared.facts.setdefault(uid, {})
            for k in FACT_KEYS:
                if k not in d:
                    continue
                v = freeze(d[k])
                if k == b"BODY[]" and sent is not None and v != sent:
                    self.shared.errors["data"].append("%s: UID %d: BODY[] (%d bytes) is not what was "
                                              "APPENDed (%d bytes)" % (name, uid, len(v), len(sent)))
                if k not in facts:
                    facts[k] = v
                    self.shared.who[(uid, k)] = name
                elif facts[k] != v:
                    a, b = repr(facts[k]), repr(v)
                    self.shared.errors["data"].append(
                        "%s: UID %d: %s changed: %s said %s, now %s" %
                        (name, uid, k.decode(), self.shared.who[(uid, k)], a[:120], b[:120]))


def run(env, user, box="INBOX", sessions=4, seconds=3.0, seed=1):
    """Runs the sessions for seconds; returns (errors by kind, counts)."""
    shared = Shared()
    deadline = time.time() + seconds
    clients = [Client(env, user, box, seed * 1000 + i, i + 1, shared, deadline)
               for i in range(sessions)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(seconds + 120)
        if c.is_alive():
            shared.error("session %d still running long after the deadline" % c.number)
    return shared.errors, shared.counts
