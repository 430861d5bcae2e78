"""An IMAP stress client of our own: several sessions of one user on one
INBOX, each in its own thread, sending random valid commands of every
extension imap-session offers (SELECT, EXAMINE, FETCH with PREVIEW and
BINARY, STORE, EXPUNGE, UID EXPUNGE, MOVE, APPEND and MULTIAPPEND,
SEARCH and ESEARCH, SORT and ESORT, THREAD, IDLE, GETQUOTAROOT, STATUS;
some sessions with COMPRESS=DEFLATE, the others without), while mail
arrives through smtp-session and, on Maildir, another program adds and
renames files (t/imapstress_feed.py).

After every reply (t/imapstress_view.py): UIDs strictly ascending, no
sequence number rebound, EXISTS/EXPUNGE/FETCH counts consistent, search,
sort and thread results within the session's messages, UIDNEXT and
APPENDUID and COPYUID above every UID seen before, the flags a STORE
answers with are the ones it set. Per UID, across sessions: what a FETCH
says (INTERNALDATE, RFC822.SIZE, BODY[], ENVELOPE, BODYSTRUCTURE,
PREVIEW) never changes and BODY[] is what was APPENDed; a keyword shows
in FETCH FLAGS only after FLAGS announced it (RFC 9051 §7.3.5); every
command is answered OK but for NO [EXPUNGEISSUED] when a message was
expunged elsewhere (RFC 2180 §4.1.2, checked against the next NOOP's
EXPUNGE) and NO [READ-ONLY] in an EXAMINEd folder. At the end a fresh
session lists INBOX and Other (t/imapstress_ledger.py): every message
made there once, flags as last stored, the quota usage as the store's.

run() returns the violations by kind: "data" (a wrong answer, a session
or server crash, a sanitizer report) and "reply" (a NO or BAD, a refused
delivery), and counts of what was done.
"""
import os
import random
import re
import select
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import SyntaxErr, ZClient, tagged  # noqa: E402
from imapstress_feed import Courier, Hand, message  # noqa: E402
from imapstress_ledger import Ledger, now  # noqa: E402
from imapstress_view import View, parse_lines, parse_set  # noqa: E402

KEYWORDS = ["$Work", "$Later"] + ["kw%d" % i for i in range(8)]
FACT_KEYS = (b"INTERNALDATE", b"RFC822.SIZE", b"BODY[]", b"ENVELOPE", b"BODYSTRUCTURE",
             b"PREVIEW", b"BINARY.SIZE[1]")
ITEM_SETS = [
    "(UID FLAGS)",
    "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
    "(UID BODYSTRUCTURE RFC822.SIZE)",
    "(UID RFC822.SIZE BODY.PEEK[])",
    "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])",
    "(UID PREVIEW)",
    "(UID PREVIEW (LAZY) FLAGS)",
    "(UID BINARY.SIZE[1] BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])",
    "(UID FLAGS BODY[TEXT])",   # not PEEK: sets \Seen
]
SEARCHES = ["SEARCH ALL", "UID SEARCH ALL", "SEARCH UNSEEN", "UID SEARCH FLAGGED",
            "SEARCH RETURN (MIN MAX COUNT) ALL", "UID SEARCH RETURN (ALL COUNT) ALL",
            "SEARCH RETURN () SUBJECT stress", "UID SEARCH RETURN (COUNT) KEYWORD $Work",
            "SEARCH SUBJECT stress", "UID SEARCH TEXT gamma", "SEARCH NOT DELETED"]
SORTS = ["SORT (DATE) UTF-8 ALL", "UID SORT (REVERSE ARRIVAL) UTF-8 ALL",
         "SORT (SUBJECT FROM) UTF-8 ALL", "SORT (DISPLAYFROM) UTF-8 UNSEEN",
         "UID SORT (SIZE) UTF-8 SUBJECT stress", "SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL",
         "UID SORT RETURN (ALL) (REVERSE SUBJECT) UTF-8 ALL",
         "THREAD REFERENCES UTF-8 ALL", "UID THREAD ORDEREDSUBJECT UTF-8 ALL",
         "THREAD REFERENCES UTF-8 UNSEEN", "UID THREAD REFERENCES UTF-8 ALL"]
MAX_MESSAGES = 40  # above this, sessions remove more than they add
BOX, OTHER = "INBOX", "Other"


class Wire:
    """imap-session on pipes, its stderr in a file, optionally compressed."""

    def __init__(self, env, log):
        self.log = open(log, "ab")
        self.p = subprocess.Popen([yubin.binary("imap-session"), "-c", env.conf_path],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, env=env.env())
        self.timeout = 60
        self.z = ZClient(self._send, self._recv)
        self.greeting = self.z.readline()

    def _send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _recv(self):
        fd = self.p.stdout.fileno()
        r, _, _ = select.select([fd], [], [], self.timeout)
        if not r:
            raise TimeoutError("no output for %g s" % self.timeout)
        return os.read(fd, 65536)

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()
        self.log.close()


def keyword(rng):
    return rng.choice(KEYWORDS)


class Client(threading.Thread):
    def __init__(self, env, user, seed, number, ledger, deadline, compress):
        super().__init__(daemon=True)
        self.env, self.user = env, user
        self.rng = random.Random(seed)
        self.number, self.ledger, self.deadline = number, ledger, deadline
        self.compress = compress
        self.announced = set()   # keywords (lower case) this session was told of
        self.view = View(ledger, "session %d" % number)
        self.rw = False
        self.wire = None

    def run(self):
        try:
            self.wire = Wire(self.env, os.path.join(self.env.dir, "stress-%d.log" % self.number))
            self.command('LOGIN %s "%s"' % (self.user, yubin.DEMO_PASSWORD))
            if self.compress:
                if tagged(self.wire.z.compress()).split(b" ")[1:2] != [b"OK"]:
                    self.ledger.error("session %d: COMPRESS DEFLATE refused" % self.number)
                self.ledger.count("compressed sessions")
            self.select("SELECT")
            while now() < self.deadline:
                self.step()
            self.command("LOGOUT")
        except Exception as e:  # a crash of the session or of this client
            self.ledger.error("session %d: %s: %s" % (self.number, type(e).__name__, e))
        finally:
            if self.wire:
                self.wire.close()

    def step(self):
        n = len(self.view.uids)
        big = n > MAX_MESSAGES
        steps = [(3, self.reselect), (22, self.fetch), (14, self.store),
                 (14 if big else 6, self.remove), (3, self.move), (0 if big else 6, self.append),
                 (0 if big else 3, self.multiappend), (8, self.search), (8, self.sort),
                 (3, self.idle), (2, self.quota), (2, self.status), (3, self.noop)]
        r = self.rng.uniform(0, sum(w for w, _ in steps))
        for w, f in steps:
            r -= w
            if r < 0:
                return f()

    # ---- one command, its reply checked -----------------------------------

    def command(self, line, lines_before=()):
        """Sends line, checks every line of the reply; (status, text,
        parsed lines, t0, t1)."""
        cmd = line if isinstance(line, bytes) else line.encode()
        t0 = now()
        resp = self.wire.z.cmd(cmd)
        t1 = now()
        return self.reply(cmd, resp, t0, t1)

    def reply(self, cmd, resp, t0, t1):
        self.ledger.count("commands")
        head = cmd.split(b"\r\n")[0]
        self.view.cmd = head
        try:
            lines = parse_lines(resp)
        except (SyntaxErr, ValueError) as e:
            self.view.err("unparsable reply (%s): %r" % (e, resp[-300:]))
            return b"BAD", b"", [], t0, t1
        if not lines or lines[-1][0] != "TAGGED":
            raise RuntimeError("%r: no tagged reply: %r" % (head[:60], resp[-300:]))
        for kind, v in lines:
            self.absorb(head, kind, v)
        if self.view.box == BOX:
            self.ledger.inbox_size = len(self.view.uids)
        _, status, text = lines[-1][1]
        if status != b"OK" and not self.excused(status, text, lines):
            self.ledger.error("session %d %r: %s %s" % (self.number, head[:60], status.decode(),
                                                        text.decode("latin-1")), "reply")
        if self.view.missing is not None:
            self.left_out()
        return status, text, lines, t0, t1

    def left_out(self):
        """A result over ALL left messages out: right only for messages
        expunged elsewhere, so they must be reported by the end of the
        next NOOP (a UID command's reply may report them after its
        result)."""
        (cmd, missing, got, before), self.view.missing = self.view.missing, None
        self.command("NOOP")
        n = self.view.expunges - before
        left = [u for u in missing if u is not None and u in self.view.uids]
        if n < len(missing) or left:
            self.view.err("%r left out %d messages (UIDs %s: %d answered %s); %d EXPUNGEs "
                          "were reported since" % (cmd[:60], len(missing), missing[:10], len(got),
                                                   got[:30], n))
        self.ledger.count("ALL without messages expunged elsewhere")

    def absorb(self, head, kind, v):
        if kind in ("FLAGS", "PERMANENTFLAGS"):
            self.announced |= {f.lower() for f in v if not f.startswith(b"\\")}
        elif kind == "FETCH":
            d = self.view.fetch(head.upper().startswith(b"UID "), *v)
            if d is not None:
                self.check_fetch(d)
        elif kind == "CODE" and v[0] == b"UIDVALIDITY":
            self.ledger.check_uidvalidity(self.view.box, int(v[1]), "session %d" % self.number)
        elif kind in ("EXISTS", "EXPUNGE", "SEARCH", "SORT", "THREAD", "ESEARCH",
                      "UIDNEXT", "QUOTA"):
            self.view.line(head, kind, v)

    def excused(self, status, text, lines):
        """NO [READ-ONLY] in an EXAMINEd folder; NO [EXPUNGEISSUED] when
        a message was expunged elsewhere, if this reply or the next NOOP
        reports it."""
        if status == b"NO" and text.startswith(b"[READ-ONLY]") and not self.rw:
            return True
        if not (status == b"NO" and text.startswith(b"[EXPUNGEISSUED]")):
            return False
        _, _, more, _, _ = self.command("NOOP")
        if not any(k == "EXPUNGE" for k, _ in list(lines) + more):
            self.view.err("NO [EXPUNGEISSUED] but the next NOOP reports no EXPUNGE")
        self.ledger.count("expunge issued")
        return True

    def check_fetch(self, d):
        flags = d.get(b"FLAGS")
        if isinstance(flags, list):
            for f in flags:
                if not f.startswith(b"\\") and f.lower() not in self.announced:
                    self.view.err("keyword %s in FETCH FLAGS before any FLAGS announced it"
                                  % f.decode("latin-1"))
        uid = d.get(b"UID")
        if uid is None:
            if set(d) - {b"FLAGS"}:
                self.view.err("FETCH without UID: %r" % sorted(d))
            return
        uid, box = int(uid), self.view.box
        body, size = d.get(b"BODY[]"), d.get(b"RFC822.SIZE")
        if body is not None and size is not None and len(body) != int(size):
            self.view.err("UID %d: BODY[] of %d bytes beside RFC822.SIZE %s"
                          % (uid, len(body), size.decode()))
        env = d.get(b"ENVELOPE")
        if isinstance(env, list) and len(env) == 10 and env[9] != b"NIL":
            self.ledger.learn_msgid(box, uid, env[9].decode("latin-1"), self.view.name)
        self.ledger.count("fetched")
        L = self.ledger
        with L.lock:
            sent = L.sent.get((box, uid))
            facts = L.facts.setdefault((box, uid), {})
            for k in FACT_KEYS:
                if k not in d:
                    continue
                v = freeze(d[k])
                if k == b"PREVIEW" and v == b"NIL" and b"LAZY" in self.view.cmd:
                    continue  # LAZY: NIL until a PREVIEW without it made one
                if k == b"BODY[]" and sent is not None and v != sent:
                    L.errors["data"].append("%s: %s UID %d: BODY[] (%d bytes) is not what was "
                                            "APPENDed (%d bytes)" % (self.view.name, box, uid,
                                                                     len(v), len(sent)))
                if k not in facts:
                    facts[k] = v
                    L.who[(box, uid, k)] = "%s %r" % (self.view.name, self.view.cmd[:50])
                elif facts[k] != v:
                    L.errors["data"].append("%s %r: %s UID %d: %s changed: %s said %s, now %s" % (
                        self.view.name, self.view.cmd[:50], box, uid, k.decode(),
                        L.who[(box, uid, k)], repr(facts[k])[:120], repr(v)[:120]))

    # ---- the commands -------------------------------------------------------

    def select(self, verb, box=BOX):
        self.view.select(box)
        status, _, _, _, _ = self.command("%s %s" % (verb, box))
        self.rw = verb == "SELECT" and status == b"OK"

    def reselect(self):
        self.select(self.rng.choice(["SELECT", "EXAMINE"]))
        if not self.rw and self.rng.random() < 0.7:
            self.select("SELECT")

    def learn(self):
        """Makes every UID of the session known; returns them."""
        v = self.view.uids
        if None in v:
            self.command("FETCH %d:%d (UID)" % (v.index(None) + 1, len(v)))
        return self.view.known()

    def some(self, uids, most=4):
        """A few UIDs in a row from uids (a sorted list), or []."""
        if not uids:
            return []
        a = self.rng.randrange(len(uids))
        return uids[a:a + self.rng.randint(1, most)]

    def fetch(self):
        rng, n = self.rng, len(self.view.uids)
        items = rng.choice(ITEM_SETS)
        if rng.random() < 0.3:
            uids = self.some(self.learn())
            if not uids:
                return
            cmd = "UID FETCH %s %s" % (",".join(map(str, uids)), items)
        else:
            a = rng.randint(1, max(1, n))
            span = rng.choice(["1:*", "%d" % a, "%d:*" % a, "%d:%d" % (a, min(n, a + 3))])
            cmd = "FETCH %s %s" % (span if n else "1:*", items)
        status, _, lines, t0, t1 = self.command(cmd)
        if "BODY[TEXT]" in items and self.rw and status in (b"OK", b"NO"):
            for kind, v in lines:  # BODY[TEXT] without PEEK sets \Seen
                if kind == "FETCH" and isinstance(v[1], list) and b"UID" in v[1]:
                    uid = int(v[1][v[1].index(b"UID") + 1])
                    if self.view.box == BOX:
                        self.ledger.flag_op(("uid", uid), {"\\seen": True}, t0, t1)

    def store(self):
        rng = self.rng
        uids = self.some(self.learn(), 6)
        if not uids:
            return
        flags = rng.sample(["\\Seen", "\\Flagged", "\\Answered", "\\Draft", keyword(rng),
                            keyword(rng)], rng.randint(1, 2))
        how = rng.choice(["+", "-", ""])
        silent = rng.choice(["", ".SILENT"])
        if rng.random() < 0.5:
            target = "UID STORE %s" % ",".join(map(str, uids))
        else:
            target = "STORE %s" % ",".join(str(self.view.uids.index(u) + 1) for u in uids)
        status, text, lines, t0, t1 = self.command("%s %sFLAGS%s (%s)" % (
            target, how, silent, " ".join(flags)))
        if not self.rw or status == b"BAD" or text.startswith(b"[READ-ONLY]"):
            return
        low = {f.lower() for f in flags}
        want = ({f: True for f in low} if how == "+" else {f: False for f in low} if how == "-"
                else {f: f in low for f in self.ledger.universe})
        if self.view.box == BOX:
            for u in uids:
                self.ledger.flag_op(("uid", u), want, t0, t1)
        last = {}  # the STORE's own FETCH comes after any of other sessions' changes
        for kind, v in lines:
            if kind != "FETCH" or silent or not isinstance(v[1], list):
                continue
            d = dict(zip(v[1][0::2], v[1][1::2]))
            if b"UID" in d:
                uid = int(d[b"UID"])
            else:
                uid = self.view.uids[v[0] - 1] if 1 <= v[0] <= len(self.view.uids) else None
            if uid in uids and b"FLAGS" in d:
                last[uid] = {f.decode("latin-1").lower() for f in d[b"FLAGS"]}
        for uid, got in last.items():
            for f, on in want.items():
                if (f in got) != on and self.view.box == BOX:
                    self.ledger.observe(uid, f, not on, t0, t1, "%s %r" % (
                        self.view.name, self.view.cmd[:60]))

    def remove(self):
        """\\Deleted on a few UIDs, then EXPUNGE or UID EXPUNGE."""
        uids = self.some(self.learn(), 3)
        if not uids or not self.rw:
            return
        uset = ",".join(map(str, uids))
        self.command("UID FETCH %s (UID ENVELOPE)" % uset)  # whose Message-ID goes
        self.ledger.doom(self.view.box, uids, deleted=True)
        status, _, _, t0, t1 = self.command("UID STORE %s +FLAGS.SILENT (\\Deleted)" % uset)
        if self.view.box == BOX:
            for u in uids:
                self.ledger.flag_op(("uid", u), {"\\deleted": True}, t0, t1)
        if self.rng.random() < 0.5:
            status, _, _, _, t2 = self.command("UID EXPUNGE %s" % uset)
            if status == b"OK" and self.view.box == BOX:
                # left: \Deleted taken off by another session in between
                for u in set(uids) & set(self.view.uids):
                    self.ledger.observe(u, "\\deleted", False, t0, t2, "%s %r" % (
                        self.view.name, self.view.cmd[:60]))
        else:
            self.command("EXPUNGE")

    def move(self):
        uids = self.some(self.learn(), 2)
        if not uids or not self.rw:
            return
        uset = ",".join(map(str, uids))
        self.command("UID FETCH %s (UID ENVELOPE)" % uset)
        self.ledger.doom(self.view.box, uids, deleted=False)
        top = self.ledger.top_uid(OTHER)
        status, text, lines, _, _ = self.command("UID MOVE %s %s" % (uset, OTHER))
        codes = [v[1] for k, v in lines if k == "CODE" and v[0] == b"COPYUID"]
        m = re.search(rb"\[COPYUID \d+ (\S+) (\S+)\]", text)
        if m:
            codes.append(m.group(1) + b" " + m.group(2))
        moved = []
        for c in codes:
            parts = c.split()
            src, dst = parse_set(parts[-2]), parse_set(parts[-1])
            if len(src) != len(dst) or any(d <= top for d in dst):
                self.view.err("COPYUID %s: not as many UIDs, or not above UID %d of %s"
                              % (c.decode(), top, OTHER))
                continue
            moved += list(zip(src, dst))
        with self.ledger.lock:
            self.ledger.moves += moved
        for _, d in moved:
            self.ledger.saw_uid(OTHER, d)
        left = {s for s, _ in moved} & set(self.view.uids)
        if left:
            self.view.err("UID MOVE %s left UIDs %s in the session" % (uset, sorted(left)))
        if status == b"OK":
            self.ledger.count("moved", len(moved))

    def append(self, count=1):
        rng, parts, made = self.rng, [], []
        for _ in range(count):
            n = self.ledger.next_number()
            mid = "<stress.append.%d@example.org>" % n
            data = message(rng, mid, n)
            flags = rng.choice([[], ["\\Seen"], [keyword(rng)], ["\\Flagged", keyword(rng)]])
            date = rng.choice(["", '"01-Feb-2021 08:30:00 +0100" '])
            parts.append(b"(%s) %s{%d+}\r\n%s" % (" ".join(flags).encode(), date.encode(),
                                                  len(data), data))
            made.append((mid, data, {f.lower() for f in flags}))
        top = self.ledger.top_uid(BOX)
        status, text, _, t0, t1 = self.command(b"APPEND %s %s" % (BOX.encode(), b" ".join(parts)))
        m = re.search(rb"\[APPENDUID \d+ (\S+)\]", text)
        if status != b"OK":
            return
        uids = parse_set(m.group(1)) if m else []
        if len(uids) != count or any(u <= top for u in uids) or uids != sorted(uids):
            self.view.err("APPENDUID %r for %d messages, UID %d seen before" % (text, count, top))
            return
        for uid, (mid, data, flags) in zip(uids, made):
            self.ledger.made_message(mid, "append", flags, t0, t1, top)
            self.ledger.learn_msgid(BOX, uid, mid, self.view.name)
            self.ledger.saw_uid(BOX, uid)
            with self.ledger.lock:
                self.ledger.sent[(BOX, uid)] = data
        self.ledger.count("appended" if count == 1 else "multiappended", count)

    def multiappend(self):
        self.append(self.rng.randint(2, 4))

    def search(self):
        self.command(self.rng.choice(SEARCHES))
        self.ledger.count("searches")

    def sort(self):
        self.command(self.rng.choice(SORTS))
        self.ledger.count("sorts and threads")

    def idle(self):
        """IDLE for a moment: what other sessions and deliveries changed
        arrives untagged and goes through the same checks."""
        z = self.wire.z
        z.n += 1
        tag = "z%d" % z.n
        t0 = now()
        z.send(tag.encode() + b" IDLE\r\n")
        got = bytearray()
        while True:
            line = z.readline()
            if not line:
                raise RuntimeError("EOF in IDLE")
            if line.startswith(b"+"):
                break
            got += line
        self.wire.timeout = self.rng.uniform(0.05, 0.5)
        try:
            while True:
                line = z.readline()
                if not line:
                    raise RuntimeError("EOF in IDLE")
                got += line
        except TimeoutError:
            pass
        finally:
            self.wire.timeout = 60
        z.send(b"DONE\r\n")
        got += z.read_response(tag)
        self.reply(b"IDLE", bytes(got), t0, now())
        self.ledger.count("idles")

    def quota(self):
        self.command(self.rng.choice(["GETQUOTAROOT INBOX", 'GETQUOTA ""']))

    def status(self):
        box = self.rng.choice([BOX, OTHER])
        top = self.ledger.top_uid(box)
        _, _, lines, _, _ = self.command("STATUS %s (MESSAGES UIDNEXT UNSEEN SIZE)" % box)
        for kind, v in lines:
            m = re.search(rb"UIDNEXT (\d+)", v) if kind == "OTHER" else None
            if m and int(m.group(1)) <= top:
                self.view.err("STATUS %s UIDNEXT %s, UID %d was seen" % (box, m.group(1), top))

    def noop(self):
        self.command(self.rng.choice(["NOOP", "CHECK"]))


def freeze(v):
    """A parsed value as a comparable, printable thing."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    return v


# ---- the run ----------------------------------------------------------------

def final_listing(env, user, ledger):
    """{box: [(uid, Message-ID, flags)]} and the quota usage, from a
    fresh session."""
    w = Wire(env, os.path.join(env.dir, "stress-final.log"))
    out = {}
    try:
        z = w.z
        z.cmd('LOGIN %s "%s"' % (user, yubin.DEMO_PASSWORD))
        for box in (BOX, OTHER):
            z.cmd("SELECT %s" % box)
            resp = z.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            out[box] = []
            for kind, v in parse_lines(resp):
                if kind != "FETCH":
                    continue
                d = dict(zip(v[1][0::2], v[1][1::2]))
                head = next((x for k, x in d.items() if k.startswith(b"BODY[HEADER")), b"")
                m = re.search(rb"(?i)Message-ID: *(<[^>]*>)", head)
                out[box].append((int(d[b"UID"]), m.group(1).decode() if m else None,
                                 {f.decode() for f in d.get(b"FLAGS", [])}))
        resp = z.cmd('GETQUOTA ""')
        used = [v for k, v in parse_lines(resp) if k == "QUOTA"]
        z.cmd("LOGOUT")
    finally:
        w.close()
    return out, used[0][0] if used else None


def quota_used(env, user):
    """GETQUOTA's usage in KiB, from a fresh session."""
    w = Wire(env, os.path.join(env.dir, "stress-quota.log"))
    try:
        z = w.z
        z.cmd('LOGIN %s "%s"' % (user, yubin.DEMO_PASSWORD))
        used = [v for k, v in parse_lines(z.cmd('GETQUOTA ""')) if k == "QUOTA"]
        z.cmd("LOGOUT")
    finally:
        w.close()
    return used[0][0] if used else None


def store_bytes(env, user):
    """The user's storage as quota_storage counts it (yubin.conf.5):
    S= of every Maildir file, or the size of every mbox folder file."""
    top, total = env.maildir(user), 0
    for d, dirs, files in os.walk(top):
        if env.settings.get("mailbox_format") == "mbox":
            dirs[:] = [x for x in dirs if not x.startswith(".")]
            total += sum(os.path.getsize(os.path.join(d, f)) for f in files
                         if not f.startswith(".") and not f.endswith(".lock"))
        elif os.path.basename(d) in ("cur", "new"):
            for f in files:
                m = re.search(r",S=(\d+)", f)
                total += int(m.group(1)) if m else os.path.getsize(os.path.join(d, f))
    return total


def run(env, user, sessions=4, seconds=3.0, seed=1):
    """Runs the sessions and deliveries for seconds, then checks the
    mailbox; returns (errors by kind, counts)."""
    ledger = Ledger(KEYWORDS)
    ledger.inbox_size = 0
    w = Wire(env, os.path.join(env.dir, "stress-setup.log"))
    w.z.cmd('LOGIN %s "%s"' % (user, yubin.DEMO_PASSWORD))
    w.z.cmd("CREATE %s" % OTHER)
    w.z.cmd("LOGOUT")
    w.close()
    deadline = now() + seconds
    clients = [Client(env, user, seed * 1000 + i, i + 1, ledger, deadline, i % 3 == 1)
               for i in range(sessions)]
    mbox = env.settings.get("mailbox_format") == "mbox"
    inbox = env.maildir(user)

    def size():
        """The INBOX's size as the sessions last saw it; on Maildir the
        files there (sessions may not yet have seen what came)."""
        if mbox:
            return ledger.inbox_size
        return max(ledger.inbox_size, sum(len(os.listdir(os.path.join(inbox, d)))
                                          for d in ("new", "cur")))
    feeders = [Courier(env, user, ledger, seed * 1000 + 99, deadline, size)]
    if not mbox:
        feeders.append(Hand(env, user, ledger, seed * 1000 + 98, deadline, size))
    for c in clients + feeders:
        c.start()
    for c in clients + feeders:
        c.join(seconds + 120)
        if c.is_alive():
            ledger.error("%s still running long after the deadline" % c.name)
    listing, used = final_listing(env, user, ledger)
    ledger.final(listing)
    if env.settings.get("quota_storage"):
        disk = store_bytes(env, user)
        if not mbox:
            # Maildir keeps its usage in maildirsize (Maildir++), which the
            # Hand's files bypass, as they do Dovecot's: the running count
            # may be short by them, never over; a recount is exact.
            if used is None or used > disk // 1024:
                ledger.error("final: QUOTA usage %s KiB above the store's %d bytes"
                             % (used, disk))
            os.unlink(os.path.join(env.maildir(user), "maildirsize"))
            used = quota_used(env, user)
        if used != disk // 1024:
            ledger.error("final: QUOTA usage %s KiB, the store holds %d bytes" % (used, disk))
    for f in sorted(os.listdir(env.dir)):
        if f.startswith("stress-") and f.endswith(".log"):
            with open(os.path.join(env.dir, f), "rb") as fh:
                log = fh.read()
            if b"Sanitizer" in log or b"runtime error" in log:
                ledger.error("%s: sanitizer report: %r" % (f, log[-1500:]))
    return ledger.errors, ledger.counts
