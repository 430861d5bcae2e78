"""What the stress run (t/imapstress.py) learns, under one lock, and the
check of the mailbox once every session and delivery has stopped.

Every message the run makes (APPEND, MULTIAPPEND, a delivery through
smtp-session, a file put into new/ or cur/ by hand) carries a Message-ID
of its own. The ledger keeps, for each: how and when it was made and
the highest UID any session had seen at that moment; each flag change
asked for (STORE, APPEND's flags, BODY[] without PEEK, a rename by hand
of a Maildir file) with the time span in which it was asked and
answered; the UIDs a session asked to remove (\\Deleted) or MOVE.

final() then checks the mailbox as a fresh session lists it:
  - every message made is there exactly once (INBOX or, MOVEd, Other),
    or is gone because a session removed it; nothing else is there;
  - its UID is above every UID seen before it was made;
  - a UID whose Message-ID a session learnt still holds that message,
    a MOVEd one is at the UID COPYUID named;
  - no UID an EXPUNGE was reported for is still listed;
  - each flag is what the last change to it asked for: the value of one
    of the changes not wholly before another change of that flag of that
    message (changes whose spans overlap may land in either order).
"""
import threading
import time

SYSTEM_FLAGS = ["\\seen", "\\flagged", "\\answered", "\\draft", "\\deleted"]


def now():
    return time.monotonic()


class Ledger:
    def __init__(self, keywords):
        self.lock = threading.Lock()
        self.universe = SYSTEM_FLAGS + [k.lower() for k in keywords]
        self.errors = {"data": [], "reply": []}
        self.counts = {}
        self.facts = {}      # (box, uid) -> {key: value}
        self.who = {}        # (box, uid, key) -> who said it first
        self.sent = {}       # (box, uid) -> bytes APPENDed
        self.uidvalidity = {}
        self.top = {}        # box -> highest UID seen
        self.msgid = {}      # (box, uid) -> Message-ID
        self.uid_of = {}     # (box, Message-ID) -> UID
        self.made = {}       # Message-ID -> (how, top before, t0, t1)
        self.ops = {}        # ("id", msgid) or ("uid", uid) -> [(t0, t1, {flag: bool})]
        self.doomed = set()  # (box, uid) a session asked to remove or move
        self.deleted = set()  # (box, uid) a session flagged \\Deleted to remove it
        self.gone = set()    # (box, uid) an EXPUNGE was reported for
        self.moves = []      # (INBOX uid, Other uid)
        self.observed = []   # (uid, flag, value, t0, t1, who): a STORE's answer
        self.seq = 0

    # ---- counting and errors ------------------------------------------------

    def error(self, text, kind="data"):
        with self.lock:
            self.errors[kind].append(text)

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def next_number(self):
        with self.lock:
            self.seq += 1
            return self.seq

    # ---- UIDs -----------------------------------------------------------------

    def saw_uid(self, box, uid):
        with self.lock:
            if uid > self.top.get(box, 0):
                self.top[box] = uid

    def top_uid(self, box):
        with self.lock:
            return self.top.get(box, 0)

    def learn_msgid(self, box, uid, msgid, who):
        """UID uid of box holds msgid: always the same message, and that
        message never under another UID of box."""
        with self.lock:
            old = self.msgid.setdefault((box, uid), msgid)
            other = self.uid_of.setdefault((box, msgid), uid)
            if old != msgid:
                self.errors["data"].append("%s: %s UID %d is %s, was %s"
                                           % (who, box, uid, msgid, old))
            if other != uid:
                self.errors["data"].append("%s: %s %s is UID %d, was UID %d"
                                           % (who, box, msgid, uid, other))

    def doom(self, box, uids, deleted):
        """uids of box may go: a session flags them \\Deleted (deleted)
        or MOVEs them."""
        with self.lock:
            self.doomed |= {(box, u) for u in uids}
            if deleted:
                self.deleted |= {(box, u) for u in uids}

    def expunged(self, view, uid):
        self.count("expunged")
        if uid is None:
            return
        with self.lock:
            self.gone.add((view.box, uid))
            ok = (view.box, uid) in self.doomed
        if not ok:
            view.err("EXPUNGE of UID %d, which no session flagged \\Deleted or moved" % uid)

    def check_uidvalidity(self, box, v, who):
        with self.lock:
            old = self.uidvalidity.setdefault(box, v)
        if old != v:
            self.error("%s: UIDVALIDITY of %s changed %d -> %d" % (who, box, old, v))

    # ---- messages made and flags asked for ------------------------------------

    def made_message(self, msgid, how, flags, t0, t1, top):
        """flags: the flags it was made with (lower case)."""
        with self.lock:
            self.made[msgid] = (how, top, t0, t1)
        self.flag_op(("id", msgid), {f: f in flags for f in self.universe}, t0, t1)

    def flag_op(self, key, values, t0, t1):
        with self.lock:
            self.ops.setdefault(key, []).append((t0, t1, values))

    def observe(self, uid, flag, value, t0, t1, who):
        """A STORE on INBOX UID uid between t0 and t1 answered flag with
        value, not what it set: right only if another change to that
        flag, to value, may have landed in between."""
        with self.lock:
            self.observed.append((uid, flag, value, t0, t1, who))

    def ops_of(self, uid, flag):
        """The changes to flag of INBOX UID uid: [(t0, t1, value)]."""
        mid = self.msgid.get(("INBOX", uid))
        ops = self.ops.get(("uid", uid), []) + self.ops.get(("id", mid), [])
        return [(t0, t1, v[flag]) for t0, t1, v in ops if flag in v]

    # ---- the end ----------------------------------------------------------------

    def final(self, listing):
        """listing: {box: [(uid, Message-ID or None, set of flags)]} of a
        session opened after everything stopped."""
        where = {}
        for box, msgs in listing.items():
            for uid, mid, flags in msgs:
                if mid is None:
                    self.error("final: %s UID %d has no Message-ID" % (box, uid))
                    continue
                if mid in where:
                    self.error("final: %s twice: %s UID %d and %s UID %d"
                               % (mid, where[mid][0], where[mid][1], box, uid))
                where[mid] = (box, uid)
                if (box, uid) in self.gone:
                    self.error("final: %s UID %d is listed after its EXPUNGE" % (box, uid))
                was = self.uid_of.get((box, mid))
                if was is not None and was != uid:
                    self.error("final: %s is %s UID %d, sessions saw it as UID %d"
                               % (mid, box, uid, was))
                known = self.msgid.get((box, uid))
                if known is not None and known != mid:
                    self.error("final: %s UID %d holds %s, sessions saw %s there"
                               % (box, uid, mid, known))
        for uid, mid, _ in listing.get("INBOX", []):
            self.msgid.setdefault(("INBOX", uid), mid)
        self._observed()
        self._made_once(where)
        self._moves(where, listing)
        for uid, mid, flags in listing.get("INBOX", []):
            if mid in self.made:
                self._flags(uid, mid, flags)
        self.counts["final messages"] = len(where)

    def _observed(self):
        for uid, f, value, t0, t1, who in self.observed:
            if ("INBOX", uid) not in self.msgid:
                self.counts["STORE answers unresolved"] = \
                    self.counts.get("STORE answers unresolved", 0) + 1
                continue
            ops = self.ops_of(uid, f)
            if not any(v == value and a < t1 and b > t0 for a, b, v in ops):
                self.error("%s: answered UID %d %s %s, not as stored, and no other change "
                           "to it could have landed in between (changes: %s)"
                           % (who, uid, "with" if value else "without", f, self.show(ops, t0)))

    def show(self, ops, base):
        return ", ".join("%s %+.3f..%+.3f" % ("set" if v else "clear", a - base, b - base)
                         for a, b, v in sorted(ops)[-6:])

    def _made_once(self, where):
        removed = {self.msgid.get(k) for k in self.deleted}
        for mid, (how, top, _, _) in sorted(self.made.items()):
            if mid not in where:
                if mid not in removed:
                    self.error("final: %s (%s) is missing, no session removed it" % (mid, how))
                continue
            box, uid = where[mid]
            if box == "INBOX" and uid <= top:
                self.error("final: %s (%s) has UID %d, not above UID %d seen before it was made"
                           % (mid, how, uid, top))
        for mid, (box, uid) in where.items():
            if mid not in self.made:
                self.error("final: %s UID %d holds %s, which the run never made" % (box, uid, mid))

    def _moves(self, where, listing):
        other = {uid: mid for uid, mid, _ in listing.get("Other", [])}
        for src, dst in self.moves:
            if dst not in other:
                self.error("final: Other UID %d (MOVEd from INBOX UID %d) is missing" % (dst, src))
                continue
            mid = self.msgid.get(("INBOX", src))
            if mid is not None and other[dst] != mid:
                self.error("final: Other UID %d holds %s, INBOX UID %d MOVEd there was %s"
                           % (dst, other[dst], src, mid))

    def _flags(self, uid, mid, flags):
        have = {f.lower() for f in flags}
        for f in self.universe:
            mine = self.ops_of(uid, f)
            last_start = max(t0 for t0, _, _ in mine)
            can = {v for _, t1, v in mine if t1 >= last_start}
            if (f in have) not in can:
                self.error("final: UID %d (%s) %s %s; the last change asked for %s (changes: %s)"
                           % (uid, mid, "has" if f in have else "lacks", f, " or ".join(sorted(
                               "set" if v else "clear" for v in can)), self.show(mine, last_start)))
