"""Crash-point checker: reads what a crashed operation left on disk with its
own parsers (never yubin's reader) and says what is wrong with it.

Every message the harness sends is self-verifying: its X-Crash-Body header
carries the length and SHA-256 of its body, so a torn, doubled or shortened
copy is caught wherever it lies (Maildir file, mbox, spool file, a bounce's
returned part is not checked that way but must be whole MIME).

    st = checker.Store.read(mail_root, spool)
    st.errors        # partial or malformed things a reader could see
    st.boxes         # {"alice/INBOX": Counter({msgid: n}), "spool": ..., ...}
    st.flags         # {("alice/INBOX", msgid): "FS"} (Maildir info / mbox Status)
"""
import collections
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mboxfile  # noqa: E402

MSG_DOMAIN = "crash.test"
# Lock files that stay for good and are locked with flock/fcntl, which die
# with their process: never a dotlock left behind. yubin-uidvalidity.lock:
# flock()ed around the UIDVALIDITY file (lib/store-mbox-uid.c);
# .pop3.lock: fcntl-locked for a POP3 session (lib/store-pop3.c).
PERMANENT_LOCKS = ("yubin-uidvalidity.lock", ".pop3.lock")


def make_message(tag, size=400, crlf=False):
    """A self-verifying message of about size bytes; its Message-ID is
    <tag@crash.test>. The body holds mboxrd bait (From_ lines, quoted and
    not) so quoting errors show as digest mismatches."""
    lines = [b"From the crash harness, message " + tag.encode(),
             b">From an already quoted line",
             b"", b"From after a blank line (must be quoted in mbox)"]
    n = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(b"%s line %06d " % (tag.encode(), n) + b"x" * 60)
        n += 1
    body = b"\n".join(lines) + b"\n"
    digest = hashlib.sha256(body).hexdigest()[:32]
    head = (b"From: Sender <sender@example.net>\n"
            b"To: alice@example.org\n"
            b"Subject: crash " + tag.encode() + b"\n"
            b"Date: Mon, 7 Dec 2026 12:00:00 +0000\n"
            b"Message-ID: <" + tag.encode() + b"@" + MSG_DOMAIN.encode() + b">\n"
            b"X-Crash-Body: %d %s\n" % (len(body), digest.encode()))
    msg = head + b"\n" + body
    return msg.replace(b"\n", b"\r\n") if crlf else msg


def header_value(head, name):
    """The first field called name in a header block (LF line ends),
    unfolded, or None."""
    m = re.search(rb"(?im)^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\n[ \t].*)*)", head)
    return None if m is None else re.sub(rb"\n[ \t]+", b" ", m.group(1)).strip()


def verify(msg):
    """(msgid or None, error or None) for one stored message (bytes). A
    message without X-Crash-Body is not ours (a bounce, a next-delivery
    probe is ours too): it must then be whole MIME."""
    msg = msg.replace(b"\r\n", b"\n")
    head, sep, body = msg.partition(b"\n\n")
    if not sep:
        return None, "no end of header"
    mid = header_value(head, "Message-ID")
    mid = mid.decode("ascii", "replace") if mid else None
    xc = header_value(head, "X-Crash-Body")
    if xc is None:
        # a bounce counts as the message it returns
        orig = re.search(rb"(?im)^Message-ID:[ \t]*(<[^>\s]*@" + re.escape(MSG_DOMAIN.encode()) + rb">)", body)
        return ("bounce-of:" + orig.group(1).decode()) if orig else mid, mime_whole(head, body)
    try:
        want_len, want_dig = xc.split()
        want_len = int(want_len)
    except ValueError:
        return mid, "bad X-Crash-Body %r" % xc
    if len(body) != want_len or hashlib.sha256(body).hexdigest()[:32] != want_dig.decode():
        return mid, "body torn: %d bytes, want %d (%s)" % (len(body), want_len, mid)
    return mid, None


def mime_whole(head, body):
    """None if a multipart message has its closing boundary (bounces)."""
    ct = header_value(head, "Content-Type") or b""
    m = re.search(rb'boundary="?([^";\s]+)"?', ct, re.I)
    if b"multipart" in ct.lower() and m:
        if b"\n--" + m.group(1) + b"--" not in b"\n" + body:
            return "multipart without its closing boundary"
    return None


def parse_mbox(data):
    """(messages, errors): mboxrd, as lib/mbox.c's header says it is
    written. A From_ line starts a message only at the file's start or
    after a blank line; each message ends with its separating blank line;
    one level of >From quoting is removed."""
    if not data:
        return [], []
    errors = []
    if not data.startswith(b"From "):
        errors.append("mbox does not start with a From_ line: %r" % data[:40])
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    else:
        errors.append("mbox does not end with a line end")
    msgs, cur, prev_blank = [], None, True
    for ln in lines:
        if prev_blank and ln.startswith(b"From "):
            if cur is not None:
                msgs.append(cur)
            cur = []
        elif cur is not None:
            cur.append(ln)
        prev_blank = ln == b""
    if cur is not None:
        msgs.append(cur)
    out = []
    for i, m in enumerate(msgs):
        if not m or m[-1] != b"":
            errors.append("mbox message %d lacks its separating blank line (torn)" % (i + 1))
        else:
            m = m[:-1]
        m = [ln[1:] if re.match(rb"^>+From ", ln) else ln for ln in m]
        out.append(b"\n".join(m) + b"\n")
    return out, errors


def maildir_flags(name):
    return name.split(":2,", 1)[1] if ":2," in name else ""


def mbox_flags(msg):
    head = msg.partition(b"\n\n")[0]
    st = (header_value(head, "Status") or b"").decode()
    xs = (header_value(head, "X-Status") or b"").decode()
    f = ("S" if "R" in st else "") + "".join(c for c, x in (("R", "A"), ("F", "F"), ("D", "T"), ("T", "D")) if x in xs)
    return "".join(sorted(f))


OURS = (b"x-uid", b"x-imapbase", b"x-imap", b"status", b"x-status", b"x-keywords",
        b"content-length")


def _fnv32(h, data):
    for c in data:
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def _mbox_key(from_line, msg):
    """imap-session's content check of one message (mboxmsg_key)."""
    if msg.startswith(b"\n"):
        hl, bo = 0, 1
    else:
        i = msg.find(b"\n\n")
        hl, bo = (i + 1, i + 2) if i >= 0 else (len(msg), len(msg))
    head = _fnv32(2166136261, b"")
    for field in re.findall(rb"[^\n]*(?:\n|$)(?:[ \t][^\n]*(?:\n|$))*", msg[:hl]):
        name = field.split(b":", 1)[0].lower() if b":" in field else None
        if field and not (name in OURS and len(field) > len(name)):
            head = _fnv32(head, field)
    body = msg[bo:]
    edge = min(len(body), 256)
    tail = _fnv32(_fnv32(2166136261, from_line), b"%d." % len(body))
    tail = _fnv32(_fnv32(tail, body[:edge]), body[len(body) - edge:])
    return (head << 32 | tail) or 1


def mbox_index_flags(path, data):
    """{message number: flags} that imap-session keeps for the mbox at path
    in its UID index (.<name>.yubin-uids) until its next rewrite: a STORE
    writes them there, not into the file. Found by X-UID or by the
    content check; a damaged index (its checksum) gives none."""
    side = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".yubin-uids")
    try:
        with open(side, "rb") as f:
            idx = f.read()
    except OSError:
        return {}
    body, _, end = idx[:-1].rpartition(b"\n")
    h = 14695981039346656037
    for c in body + b"\n":
        h = ((h ^ c) * 1099511628211) & 0xffffffffffffffff
    if not idx.startswith(b"yubin-mbox-index 1 ") or end != b"end %016x" % h:
        return {}
    raw = mboxfile.messages(data) or []
    xuid, keys = {}, {}
    for i, lines in enumerate(raw):
        msg = b"\n".join(lines[1:]) + b"\n"
        u = header_value(msg.partition(b"\n\n")[0], "X-UID")
        if u and u.isdigit():
            xuid.setdefault(int(u), i)
        keys.setdefault(_mbox_key(lines[0] + b"\n", msg), i)
    out = {}
    for ln in body.split(b"\n")[1:]:
        f = ln.split(b" ")
        bits = int(f[2])
        if not bits & 8:
            continue
        i = xuid.get(int(f[0])) if bits & 4 else keys.get(int(f[1], 16))
        if i is not None:
            fl = int(f[3])
            out[i] = "".join(sorted(c for c, b in (("R", 1), ("F", 2), ("T", 4), ("S", 8),
                                                   ("D", 16)) if fl & b))
    return out


class Store:
    """What a reader would see under mail_root and spool."""

    def __init__(self):
        self.errors = []
        self.boxes = collections.defaultdict(collections.Counter)
        self.flags = {}
        self.locks = []      # mbox dotlocks ("<mbox>.lock") left behind
        self.others = []     # other things worth a note (tmp files, copies)

    @classmethod
    def read(cls, mail_root, spool, fmt):
        st = cls()
        for dom in sorted(os.listdir(mail_root)) if os.path.isdir(mail_root) else []:
            for user in sorted(os.listdir(os.path.join(mail_root, dom))):
                home = os.path.join(mail_root, dom, user)
                (st._maildir_user if fmt == "maildir" else st._mbox_user)(user, home)
        st._spool(spool)
        return st

    def _add(self, box, msg, where):
        mid, err = verify(msg)
        if err:
            self.errors.append("%s: %s" % (where, err))
        self.boxes[box][mid or "?"] += 1
        return mid

    def _maildir_user(self, user, home):
        folders = [("INBOX", home)]
        for n in sorted(os.listdir(home)):
            p = os.path.join(home, n)
            if n.startswith(".") and os.path.isdir(p) and os.path.isdir(os.path.join(p, "cur")):
                folders.append((n[1:].replace(".", "/"), p))
        sub = os.path.join(home, "subscriptions")
        if os.path.exists(sub):
            self._subscriptions(user, sub)
        for name, d in folders:
            box = "%s/%s" % (user, name)
            self.boxes[box]  # exists, maybe empty
            for sub in ("new", "cur"):
                sd = os.path.join(d, sub)
                for f in sorted(os.listdir(sd)) if os.path.isdir(sd) else []:
                    with open(os.path.join(sd, f), "rb") as fh:
                        data = fh.read()
                    m = re.search(r",S=(\d+)", f)
                    if m and int(m.group(1)) != len(data):
                        self.errors.append("%s/%s/%s: S=%s but %d bytes" % (box, sub, f, m.group(1), len(data)))
                    mid = self._add(box, data, "%s/%s/%s" % (box, sub, f))
                    self.flags[(box, mid)] = maildir_flags(f)
            tmp = os.path.join(d, "tmp")
            if os.path.isdir(tmp) and os.listdir(tmp):
                self.others.append("%s: %d file(s) in tmp/" % (box, len(os.listdir(tmp))))

    def _mbox_user(self, user, home):
        for d, dirs, files in os.walk(home):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(d, f)
                rel = os.path.relpath(p, home)
                if f.endswith(".lock") and f not in PERMANENT_LOCKS:
                    self.locks.append(p)
                    continue
                if f.startswith(".lk"):    # a dotlock's unique file: blocks no one
                    self.others.append("%s/%s: dotlock temporary left over" % (user, rel))
                    continue
                if f == "subscriptions":
                    self._subscriptions(user, p)
                    continue
                if f.startswith(".") or f.startswith("yubin-"):
                    if ".pop3." in f and not f.endswith(".lock") and f != ".pop3.sizes":
                        self.others.append("%s/%s: left over" % (user, rel))
                    continue
                with open(p, "rb") as fh:
                    data = fh.read()
                msgs, errs = parse_mbox(data)
                box = "%s/%s" % (user, rel)
                self.boxes[box]
                self.errors += ["%s: %s" % (box, e) for e in errs]
                kept = mbox_index_flags(p, data) if not errs else {}
                for i, m in enumerate(msgs):
                    mid = self._add(box, m, "%s message %d" % (box, i + 1))
                    self.flags[(box, mid)] = kept.get(i, mbox_flags(m))

    def _subscriptions(self, user, path):
        """The subscription list, one name a line, as a box of names: a
        torn file shows as a name that was never subscribed."""
        with open(path, "rb") as fh:
            data = fh.read()
        box = "%s/@subscriptions" % user
        self.boxes[box]
        if data and not data.endswith(b"\n"):
            self.errors.append("%s: last line cut short" % box)
        for ln in data.splitlines():
            self.boxes[box][ln.decode("utf-8", "replace")] += 1

    def _spool(self, spool):
        for sub in ("new", "queue", "active", "corrupt"):
            d = os.path.join(spool, sub)
            for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, f), "rb") as fh:
                    data = fh.read()
                env, msg, err = parse_spool(data)
                where = "spool/%s/%s" % (sub, f)
                if sub == "corrupt":
                    self.errors.append("%s: a queue file was found corrupt" % where)
                if err:
                    self.errors.append("%s: %s" % (where, err))
                    continue
                pending = [r for r, s in env["rcpts"] if s == "P"]
                mid = self._add("spool", msg, where)
                # where it waits, for whom, after how many attempts
                self.flags[("spool", mid)] = "%s %s t=%s" % (
                    sub, " ".join(pending), env.get("t", b"?").decode("ascii", "replace"))
        tmp = os.path.join(spool, "tmp")
        if os.path.isdir(tmp) and os.listdir(tmp):
            self.others.append("spool: %d file(s) in tmp/" % len(os.listdir(tmp)))

    def counts(self):
        return {b: dict(c) for b, c in self.boxes.items()}


SPOOL_REC = re.compile(rb"([A-Za-z])(0|[1-9][0-9]*):")


def parse_spool(data):
    """(envelope, message, error) of a queue file: records
    <key><len>:<bytes>\\n, the last one M (the message length in decimal)
    followed by exactly that many message bytes (format at the top of lib/spool.c, read here anew)."""
    pos, env = 0, {"rcpts": []}
    while True:
        m = SPOOL_REC.match(data, pos)
        if not m:
            return None, None, "bad record at offset %d" % pos
        key, n = m.group(1), int(m.group(2))
        start = m.end()
        val = data[start:start + n]
        if len(val) != n or data[start + n:start + n + 1] != b"\n":
            return None, None, "record %s cut short" % key.decode()
        pos = start + n + 1
        k = key.decode()
        if k == "M":
            if not val.isdigit() or len(data) - pos != int(val):
                return None, None, "M says %s message bytes, file has %d" % (val, len(data) - pos)
            if not env["rcpts"] or "S" not in env:
                return None, None, "no sender or no recipient"
            return env, data[pos:], None
        if k == "r":
            env["rcpts"].append([val.decode("utf-8", "replace"), "P"])
        elif k == "s" and env["rcpts"]:
            env["rcpts"][-1][1] = val.decode()
        else:
            env[k] = val
