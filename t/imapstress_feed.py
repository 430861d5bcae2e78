"""Mail arriving while the stress sessions (t/imapstress.py) run.

Courier delivers through the real smtp-session (EHLO ... DATA on pipes,
as the other SMTP tests run it), so Maildir and mbox get mail the way a
server gets it: new/ files, or an append to the mbox under its lock.
Hand is another program on the same Maildir, as a local mail reader or
a sync tool is: it puts files into new/ and into cur/ (with flags),
moves files from new/ to cur/ and sets or clears the D (\\Draft) letter
of files in cur/ by rename, keeping the rest of the name.

Both record in the ledger what they made and which flags they set, with
the time span it took; both pace themselves (a short wait between two
steps) so that the folder stays small while the sessions work.
"""
import os
import random
import re
import threading
import time

import yubin
from imapstress_ledger import now

PACE = 0.05        # seconds between two steps of a feeder
BIG = 60           # no more mail while the INBOX has this many


def message(rng, msgid, n):
    """A message of a few hundred bytes to ~30 KB, sometimes multipart."""
    words = b" ".join(rng.choice([b"alpha", b"beta", b"gamma", b"delta", b"\xc3\xa9t\xc3\xa9"])
                      for _ in range(8))
    subject = rng.choice([b"stress %d" % n, b"Re: stress %d" % (n // 3), b"[list] topic %d" % (n % 5)])
    head = (b"From: Stress %d <stress%d@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: %s\r\nDate: Mon, 7 Dec 2026 %02d:%02d:00 +0000\r\n"
            b"Message-ID: %s\r\n" % (n, n, subject, n % 24, n % 60, msgid.encode()))
    if n > 3 and rng.random() < 0.3:
        head += b"In-Reply-To: <stress.any.%d@example.org>\r\n" % (n // 3)
    lines = b"".join(b"line %d %s\r\n" % (i, words) for i in range(rng.randrange(3, 600)))
    if rng.random() < 0.4:
        return (head + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n"
                b"\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b%d\r\n"
                b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                b"\r\naGVsbG8gd29ybGQ=\r\n--b%d--\r\n" % (n, n, lines, n, n))
    return head + b"\r\n" + lines


class Feeder(threading.Thread):
    def __init__(self, env, user, ledger, seed, deadline, size):
        super().__init__(daemon=True)
        self.env, self.user, self.ledger = env, user, ledger
        self.rng = random.Random(seed)
        self.deadline = deadline
        self.size = size          # callable: messages the sessions last saw
        self.stop = threading.Event()

    def run(self):
        try:
            while now() < self.deadline and not self.stop.is_set():
                if self.size() < BIG:
                    self.step()
                self.stop.wait(PACE)
        except Exception as e:
            self.ledger.error("%s: %s: %s" % (type(self).__name__, type(e).__name__, e))


class Courier(Feeder):
    """Deliveries through smtp-session."""

    def step(self):
        n = self.ledger.next_number()
        mid = "<stress.smtp.%d@example.org>" % n
        data = message(self.rng, mid, n)
        stuffed = re.sub(rb"(?m)^\.", b"..", data)
        script = (b"EHLO courier.example.org\r\nMAIL FROM:<bob@example.org>\r\n"
                  b"RCPT TO:<%s>\r\nDATA\r\n%s.\r\nQUIT\r\n" % (self.user.encode(), stuffed))
        top = self.ledger.top_uid("INBOX")
        t0 = now()
        out = self.env.run("smtp-session", script)
        t1 = now()
        replies = yubin.smtp_replies(out.stdout)
        if len(replies) < 2 or not replies[-2].startswith(b"250 "):
            self.ledger.error("smtp-session refused %s: %r" % (mid, replies[-3:]), "reply")
            return
        self.ledger.made_message(mid, "smtp", set(), t0, t1, top)
        self.ledger.count("delivered by smtp-session")


class Hand(Feeder):
    """Another program on the Maildir INBOX."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.dir = self.env.maildir(self.user)
        self.ids = {}   # unique base name -> Message-ID

    def step(self):
        r = self.rng.random()
        if r < 0.3:
            self.put()
        elif r < 0.5:
            self.take_new()
        else:
            self.toggle_draft()

    def put(self):
        n = self.ledger.next_number()
        mid = "<stress.hand.%d@example.org>" % n
        data = message(self.rng, mid, n).replace(b"\r\n", b"\n")
        base = "%d.M%dP%d.hand%d" % (1796000000 + n, n, os.getpid(), n)
        name = "%s,S=%d,W=%d" % (base, len(data), len(data) + data.count(b"\n"))
        flags = self.rng.choice(["", "S", "FS", "D"]) if self.rng.random() < 0.5 else None
        top = self.ledger.top_uid("INBOX")
        t0 = now()
        tmp = os.path.join(self.dir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666)
            os.fsync(f.fileno())
        # the INTERNALDATE its name says; atime now, or it is litter in tmp/
        os.utime(tmp, (time.time(), 1796000000 + n))
        if flags is None:
            os.rename(tmp, os.path.join(self.dir, "new", name))
        else:
            os.rename(tmp, os.path.join(self.dir, "cur", "%s:2,%s" % (name, flags)))
        t1 = now()
        letters = {"S": "\\seen", "F": "\\flagged", "D": "\\draft"}
        self.ledger.made_message(mid, "hand", {letters[c] for c in flags or ""}, t0, t1, top)
        self.ids[name] = mid
        self.ledger.count("put into the Maildir by hand")

    def listing(self, sub):
        try:
            return sorted(n for n in os.listdir(os.path.join(self.dir, sub)) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def take_new(self):
        """As a reader does: new/NAME to cur/NAME:2, (no flags change)."""
        names = self.listing("new")
        if not names:
            return
        name = self.rng.choice(names)
        try:
            os.rename(os.path.join(self.dir, "new", name),
                      os.path.join(self.dir, "cur", name + ":2,"))
            self.ledger.count("moved to cur/ by hand")
        except FileNotFoundError:
            self.ledger.count("lost a race by hand")

    def msgid_of(self, path, base):
        if base not in self.ids:
            try:
                with open(path, "rb") as f:
                    head = f.read(4096)
            except FileNotFoundError:
                return None
            m = re.search(rb"(?im)^Message-ID: (<[^>]*>)", head)
            self.ids[base] = m.group(1).decode() if m else None
        return self.ids[base]

    def toggle_draft(self):
        t0 = now()
        names = [n for n in self.listing("cur") if ":2," in n]
        if not names:
            return
        name = self.rng.choice(names)
        base, _, info = name.partition(":2,")
        mid = self.msgid_of(os.path.join(self.dir, "cur", name), base)
        if mid is None:
            return
        on = "D" not in info
        letters = "".join(sorted(set(info) | {"D"} if on else set(info) - {"D"}))
        try:
            os.rename(os.path.join(self.dir, "cur", name),
                      os.path.join(self.dir, "cur", base + ":2," + letters))
        except FileNotFoundError:
            self.ledger.count("lost a race by hand")
            return
        self.ledger.flag_op(("id", mid), {"\\draft": on}, t0, now())
        self.ledger.count("\\Draft %s by rename" % ("set" if on else "cleared"))
