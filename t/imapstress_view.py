"""What one stress session (t/imapstress.py) knows of its selected
mailbox, and the checks every reply must pass against it.

A View is the session's map of sequence numbers to UIDs (None where the
session has not been told the UID yet). Every untagged line of every
reply goes through View.line(), which checks, as it updates the map:

  - UIDs strictly ascending with the sequence numbers (so never a UID
    twice), a sequence number never rebound to another UID;
  - EXISTS never below the count the session has (only EXPUNGE shrinks
    it), EXPUNGE and FETCH only of numbers the session has;
  - no EXPUNGE in the reply to FETCH, STORE, SEARCH, SORT or THREAD
    without UID (RFC 9051 §7.5.1);
  - SEARCH, ESEARCH, SORT and THREAD results name only messages the
    session has, each once; over ALL they name every one of them (and a
    UID result of ALL fills in the UIDs the session lacked);
  - UIDNEXT above every UID any session has seen in that mailbox;
  - QUOTA usage within its limit.
"""
import re

from imaptest import Reader, SyntaxErr

NO_EXPUNGE = re.compile(rb"^(FETCH|STORE|SEARCH|SORT|THREAD) ", re.I)


def parse_set(text):
    """An IMAP sequence set of numbers (no "*") as a list."""
    out = []
    for part in text.split(b","):
        a, _, b = part.partition(b":")
        lo, hi = int(a), int(b or a)
        out += range(min(lo, hi), max(lo, hi) + 1)
    return out


def thread_numbers(v):
    """Every number in a THREAD answer's nested lists."""
    if isinstance(v, list):
        return [n for x in v for n in thread_numbers(x)]
    return [int(v)]


class View:
    """One session's view of its selected mailbox."""

    def __init__(self, shared, name):
        self.shared, self.name = shared, name
        self.box = None
        self.uids = []
        self.cmd = b""
        # messages a result over ALL left out (UIDs, None if unknown): the
        # next NOOP must report them expunged
        self.missing = None
        self.expunges = 0  # EXPUNGEs this session was told of

    def select(self, box):
        self.box, self.uids = box, []

    def err(self, text, kind="data"):
        self.shared.error("%s %r: %s" % (self.name, self.cmd[:60], text), kind)

    # ---- the map ----------------------------------------------------------

    def bind(self, seq, uid):
        """Sequence number seq (1-based) is UID uid."""
        i = seq - 1
        old = self.uids[i]
        if old is not None:
            if old != uid:
                self.err("message %d was UID %d, now UID %d" % (seq, old, uid))
            return
        below = next((u for u in reversed(self.uids[:i]) if u is not None), 0)
        above = next((u for u in self.uids[i + 1:] if u is not None), None)
        if uid <= below or (above is not None and uid >= above):
            self.err("UID %d at message %d is out of order (%d before it, %s after)"
                     % (uid, seq, below, above))
        self.uids[i] = uid
        self.shared.saw_uid(self.box, uid)

    def known(self):
        return [u for u in self.uids if u is not None]

    def all_uids(self, uids):
        """A UID result over every message: the session's messages, but
        for those expunged elsewhere and not yet reported, which a server
        may leave out. All there: it fills the map in."""
        if len(uids) > len(self.uids) or len(set(uids)) != len(uids):
            self.err("UID result of ALL: %d UIDs (%d distinct) for %d messages"
                     % (len(uids), len(set(uids)), len(self.uids)))
            return
        if len(uids) < len(self.uids):
            self.missing = (self.cmd, [u for u in self.uids if u not in set(uids)], uids,
                            self.expunges)
            return
        missing = set(self.known()) - set(uids)
        if missing:
            self.err("UID result of ALL lacks UIDs %s" % sorted(missing)[:10])
            return
        for seq, uid in enumerate(sorted(uids), 1):
            self.bind(seq, uid)

    def seq_result(self, nums, whole, what):
        """A sequence-number result; whole: the search was ALL (all
        there, but for messages expunged elsewhere: all_uids())."""
        n = len(self.uids)
        if len(set(nums)) != len(nums) or any(x < 1 or x > n for x in nums):
            self.err("%s names numbers outside 1:%d or twice: %s" % (what, n, nums[:20]))
        elif whole and len(nums) < n:
            have = set(nums)
            self.missing = (self.cmd, [u for i, u in enumerate(self.uids) if i + 1 not in have],
                            nums, self.expunges)

    def uid_result(self, uids, whole, what):
        if whole:
            self.all_uids(uids)
        elif len(set(uids)) != len(uids):
            self.err("%s names a UID twice: %s" % (what, uids[:20]))

    # ---- lines ------------------------------------------------------------

    def line(self, cmd, kind, v):
        """One parsed untagged line of the reply to cmd (bytes)."""
        self.cmd = cmd
        uid_cmd = cmd.upper().startswith(b"UID ")
        whole = cmd.upper().rstrip().endswith(b" ALL")
        if kind == "EXISTS":
            if v < len(self.uids):
                self.err("EXISTS %d below the %d messages the session has" % (v, len(self.uids)))
            self.uids += [None] * max(0, v - len(self.uids))
        elif kind == "EXPUNGE":
            self.expunge(cmd, v)
        elif kind == "FETCH":
            self.fetch(uid_cmd, *v)
        elif kind == "SEARCH":
            nums = [int(x) for x in v]
            (self.uid_result if uid_cmd else self.seq_result)(nums, whole, "SEARCH")
        elif kind == "SORT":
            nums = [int(x) for x in v]
            (self.uid_result if uid_cmd else self.seq_result)(nums, whole, "SORT")
        elif kind == "THREAD":
            nums = thread_numbers(v)
            (self.uid_result if uid_cmd else self.seq_result)(nums, whole, "THREAD")
        elif kind == "ESEARCH":
            self.esearch(uid_cmd, whole, v)
        elif kind == "UIDNEXT":
            top = self.shared.top_uid(self.box)
            if v <= top:
                self.err("UIDNEXT %d but UID %d was seen in %s" % (v, top, self.box))
        elif kind == "QUOTA":
            used, limit = v
            if used > limit:
                self.err("QUOTA usage %d above its limit %d" % (used, limit))

    def expunge(self, cmd, n):
        if NO_EXPUNGE.match(cmd):
            self.err("EXPUNGE %d in the reply to a command without UID" % n)
        if n < 1 or n > len(self.uids):
            self.err("EXPUNGE %d of %d messages" % (n, len(self.uids)))
            return
        uid = self.uids.pop(n - 1)
        self.expunges += 1
        self.shared.expunged(self, uid)

    def fetch(self, uid_cmd, n, items):
        if n < 1 or n > len(self.uids):
            self.err("FETCH of message %d of %d" % (n, len(self.uids)))
            return None
        if not isinstance(items, list) or len(items) % 2:
            self.err("FETCH not key/value pairs: %r" % (items,))
            return None
        d = dict(zip(items[0::2], items[1::2]))
        if b"UID" in d:
            self.bind(n, int(d[b"UID"]))
        elif uid_cmd:
            self.err("FETCH %d without UID in the reply to a UID command" % n)
        return d

    def esearch(self, uid_cmd, whole, v):
        """ESEARCH (TAG "x") [UID] (MIN n | MAX n | COUNT n | ALL set)*."""
        items = v
        if items and isinstance(items[0], list):
            items = items[1:]
        is_uid = bool(items) and items[0].upper() == b"UID"
        if is_uid:
            items = items[1:]
        if is_uid != uid_cmd:
            self.err("ESEARCH %s UID to a%s UID command" % ("with" if is_uid else "without",
                                                             "" if uid_cmd else " non-"))
        d = dict(zip([k.upper() for k in items[0::2]], items[1::2]))
        n = len(self.uids)
        if b"COUNT" in d and int(d[b"COUNT"]) > n:
            self.err("ESEARCH COUNT %s of %d messages" % (d[b"COUNT"].decode(), n))
        if not uid_cmd:
            for k in (b"MIN", b"MAX"):
                if k in d and not 1 <= int(d[k]) <= n:
                    self.err("ESEARCH %s %s of %d messages" % (k.decode(), d[k].decode(), n))
        if b"ALL" in d:
            nums = parse_set(d[b"ALL"])
            (self.uid_result if uid_cmd else self.seq_result)(nums, whole, "ESEARCH ALL")
            if b"COUNT" in d and int(d[b"COUNT"]) != len(nums):
                self.err("ESEARCH COUNT %s beside ALL of %d" % (d[b"COUNT"].decode(), len(nums)))
        if self.cmd.upper().startswith((b"SEARCH", b"UID SEARCH")) and b"MIN" in d:
            if b"MAX" in d and int(d[b"MIN"]) > int(d[b"MAX"]):  # ESORT's are in sort order
                self.err("ESEARCH MIN %s above MAX %s" % (d[b"MIN"].decode(), d[b"MAX"].decode()))


# ---- parsing a reply ----------------------------------------------------------

def parse_lines(resp):
    """(kind, value) per response line, in order. kinds: FETCH (num,
    items), EXISTS/EXPUNGE/RECENT num, FLAGS list, PERMANENTFLAGS list,
    SEARCH/SORT list, THREAD list, ESEARCH list, QUOTA (used, limit),
    UIDNEXT num, CODE (word, text) for other response codes, CONT (a "+"
    line), TAGGED (tag, status, text), OTHER line."""
    r = Reader(resp)
    out = []
    while r.p < len(resp):
        start = r.p
        if r.peek() == b"+":
            r.rest_of_line()
            out.append(("CONT", None))
            continue
        tag = r.atom()
        r.expect(b" ")
        if tag != b"*":
            line = r.rest_of_line()
            status, _, text = line.partition(b" ")
            out.append(("TAGGED", (tag, status, text)))
            continue
        if r.peek().isdigit():
            num = int(r.atom())
            r.expect(b" ")
            kind = r.atom().upper()
            if kind == b"FETCH":
                r.expect(b" ")
                out.append(("FETCH", (num, r.value())))
            else:
                out.append((kind.decode(), num))
            r.expect(b"\r\n")
            continue
        word = r.atom().upper()
        if word in (b"FLAGS", b"ESEARCH", b"SEARCH", b"SORT", b"THREAD", b"QUOTA"):
            out.append(_data(r, word))
            r.expect(b"\r\n")
            continue
        if r.peek() == b" ":
            r.p += 1
        line = r.rest_of_line()
        m = re.match(rb"\[(\S+)(?: ([^\]]*))?\]", line)
        if word in (b"OK", b"NO", b"BAD") and m:
            code, arg = m.group(1).upper(), m.group(2) or b""
            if code == b"PERMANENTFLAGS":
                out.append(("PERMANENTFLAGS", arg.strip(b"()").split()))
            elif code == b"UIDNEXT":
                out.append(("UIDNEXT", int(arg)))
            else:
                out.append(("CODE", (code, arg)))
        else:
            out.append(("OTHER", resp[start:r.p]))
    return out


def _data(r, word):
    vals = []
    while r.peek() == b" " or (word == b"THREAD" and r.peek() == b"("):
        if r.peek() == b" ":
            r.p += 1
        vals.append(r.value())
    if word == b"FLAGS":
        return ("FLAGS", vals[0] if vals else [])
    if word == b"QUOTA":  # "" (STORAGE used limit)
        res = vals[1] if len(vals) > 1 and isinstance(vals[1], list) else []
        if b"STORAGE" not in res or len(res) < res.index(b"STORAGE") + 3:
            raise SyntaxErr("QUOTA without STORAGE used limit: %r" % vals)
        i = res.index(b"STORAGE")
        return ("QUOTA", (int(res[i + 1]), int(res[i + 2])))
    return (word.decode(), vals)
