"""A runner of our own for imaptest's scripted test groups: it reads the
group files where they lie (never copied into the repository), drives
imap-session over pipes, one process per group connection, gets each group
to its starting state as imaptest does (LOGIN, CAPABILITY, old test
mailboxes deleted, the mailbox created, the group's messages APPENDed from
its mbox file, SELECT) and judges the replies with t/imaptest_script.py.
Of imaptest's own model of the mailbox it keeps the checks that make
imaptest drop the connection (View)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest_script import (ALL, MUST, MUST_NOT, STATES, Group,  # noqa: E402
                             GroupError, Matcher, args_str, mbox_messages, parse_args,
                             quote)

TIMEOUT = 60           # seconds for one reply on a loaded machine
MAILBOX = "imaptest"   # imaptest's test mailbox when it runs scripts
USER = "alice@example.org"


# ---- running a group against imap-session ----

class Failed(Exception):
    """The first mismatch of a group; the group fails with it."""


class Skipped(Exception):
    pass


class View:
    """The part of imaptest's model of a selected mailbox whose breach
    makes it drop the connection, and so fail the group: the message
    count never drops but by EXPUNGE, an EXPUNGE names a message there,
    a sequence number keeps its UID, a UID its INTERNALDATE. Forgotten
    at each SELECT, EXAMINE, CLOSE and UNSELECT, where imaptest keeps it
    longer (this runner may miss a breach, never invent one)."""

    def __init__(self):
        self.uids = []      # by sequence number; 0: not known yet
        self.dates = {}     # (mailbox, UID): INTERNALDATE

    def exists(self, n):
        if n < len(self.uids):
            raise Failed("message count dropped %d -> %d" % (len(self.uids), n))
        self.uids += [0] * (n - len(self.uids))

    def expunge(self, seq):
        if seq == 0 or seq > len(self.uids):
            raise Failed("EXPUNGE of sequence %d with only %d messages" % (seq, len(self.uids)))
        del self.uids[seq - 1]

    def fetch(self, seq, items, box):
        if seq == 0 or seq > len(self.uids) or items.kind != "list":
            return      # imaptest only warns
        pairs = dict((k.val.upper(), v) for k, v in zip(items.val[0::2], items.val[1::2])
                     if k.kind == "atom")
        uid = pairs.get("UID")
        if uid is not None and uid.kind == "atom" and uid.val.isdigit():
            if self.uids[seq - 1] not in (0, int(uid.val)):
                raise Failed("UID changed for sequence %d: %d -> %s" % (seq, self.uids[seq - 1], uid.val))
            self.uids[seq - 1] = int(uid.val)
        date = pairs.get("INTERNALDATE")
        if date is not None and self.uids[seq - 1]:
            key = (box, self.uids[seq - 1])
            if self.dates.setdefault(key, date.astring()) != date.astring():
                raise Failed("UID %d INTERNALDATE changed %s -> %s" % (key[1], self.dates[key], date.astring()))


class Conn:
    """One imap-session on pipes, as one imaptest client."""

    def __init__(self, env, idx):
        self.s = env.start("imap-session")
        self.idx = idx
        self.n = 0
        self.view = View()
        self.caps = []
        self.box = MAILBOX   # where a bare "append" goes
        self.closed = False
        self.bye = False

    def next_tag(self):
        self.n += 1
        return "%d.%d" % (self.idx + 1, self.n)

    def response(self):
        """One response, literals inline, as text; None at the end."""
        out = []
        while True:
            line = self.s.readline(TIMEOUT)
            if not line:
                self.closed = True
                return "".join(out) or None
            out.append(line.decode("latin-1"))
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                return "".join(out)
            out.append(self.s.read_bytes(int(m.group(1)), TIMEOUT).decode("latin-1"))

    def send(self, text):
        self.s.send(text.encode("latin-1"))

    def track(self, args, text=""):
        """Message count from EXISTS and EXPUNGE; capabilities; BYE."""
        m = re.search(r"\[CAPABILITY ([^]]*)\]", text, re.I)
        if m:
            self.caps = m.group(1).split()
        if len(args) >= 2 and args[0].kind == "atom" and args[0].val.isdigit() and args[1].kind == "atom":
            word, n = args[1].val.upper(), int(args[0].val)
            if word == "EXISTS":
                self.view.exists(n)
            elif word == "EXPUNGE":
                self.view.expunge(n)
            elif word == "FETCH" and len(args) > 2:
                self.view.fetch(n, args[2], self.box)
        if args and args[0].kind == "atom":
            if args[0].val.upper() == "CAPABILITY":
                self.caps = [a.val for a in args[1:] if a.kind == "atom"]
            elif args[0].val.upper() == "BYE":
                self.bye = True

    def close(self):
        try:
            self.s.close(5)
        except Exception:
            pass


def literal_plus(text, have_plus):
    """A command's literals made non-synchronising, as imaptest does
    when the server has LITERAL+ (it sends no other kind either)."""
    out, i = [], 0
    pat = re.compile(r"( ~?\{)(\d+)\+?\}\r\n")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        if not have_plus:
            raise Failed("the server lacks LITERAL+ (this runner sends no synchronising literals)")
        end = m.end() + int(m.group(2))
        out.append("%s%s%s+}\r\n%s" % (text[i:m.start()], m.group(1), m.group(2), text[m.end():end]))
        i = end


class Run:
    """One group file against one fresh installation."""

    def __init__(self, group, env):
        self.g = group
        self.env = env
        self.conns = []
        self.msgs = mbox_messages(group.mbox)
        self.next_msg = 0
        local, domain = USER.split("@")
        self.m = Matcher({"user": USER, "username": local, "domain": domain,
                          "password": yubin.DEMO_PASSWORD, "mailbox": MAILBOX,
                          "mailbox_url": MAILBOX})

    def run(self):
        """None when the group passed; raises Failed or Skipped."""
        try:
            self.startup()
            for i, cg in enumerate(self.g.groups):
                self.run_group(i, cg)
        finally:
            for c in self.conns:
                c.close()

    # -- getting to the group's starting state, as imaptest does --

    def simple(self, conn, text, ok_no=False):
        """A command of the setup; its untagged replies. A NO fails the
        group unless ok_no; a BAD always does."""
        tag = conn.next_tag()
        conn.send("%s %s\r\n" % (tag, text))
        untagged = []
        while True:
            r = conn.response()
            if r is None:
                raise Failed("initialization: disconnected after %s" % text)
            args = parse_args(r[r.index(" ") + 1:] if " " in r else "")
            if r.startswith("* "):
                conn.track(args)
                untagged.append(args)
            elif r.startswith(tag + " "):
                status = args[0].val.upper() if args and args[0].kind == "atom" else ""
                if status != "OK" and not (ok_no and status == "NO"):
                    raise Failed("initialization: %s failed: %s" % (text.split("\r\n")[0], r.strip()))
                return untagged

    def missing_caps(self, conn):
        have = {c.upper() for c in conn.caps}
        return [c for c in self.g.caps if c.upper() not in have]

    def startup(self):
        for i in range(self.g.connections):
            c = Conn(self.env, i)
            self.conns.append(c)
            banner = c.response()
            if banner is None:
                raise Failed("initialization: no greeting")
            c.track(parse_args(banner[2:]), banner)
            self.m.vars["user" if i == 0 else "user%d" % (i + 1)] = USER
        if self.g.state == "nonauth":
            self.check_caps(self.conns[0])
            return
        for c in self.conns:
            self.simple(c, "LOGIN %s %s" % (quote(USER), quote(yubin.DEMO_PASSWORD)))
        first = self.conns[0]
        self.simple(first, "CAPABILITY")
        self.check_caps(first)
        self.clean(first)
        level = STATES.index(self.g.state)
        if level >= STATES.index("created"):
            self.simple(first, "CREATE %s" % quote(MAILBOX))
        if level >= STATES.index("appended"):
            want = len(self.msgs) if self.g.messages == ALL else self.g.messages
            for _ in range(want):
                self.append(first, quote(MAILBOX), True)
        if level == STATES.index("selected"):
            for c in self.conns:
                self.simple(c, "SELECT %s" % quote(MAILBOX))

    def check_caps(self, conn):
        missing = self.missing_caps(conn)
        if missing:
            raise Skipped("needs capability %s, not advertised" % " ".join(missing))
        if self.g.needs_user2:
            raise Skipped("needs a second user (user2), which this runner does not set up")

    def clean(self, conn):
        """What an earlier run left: the test mailboxes deleted, their
        subscriptions removed (a fresh installation has none)."""
        boxes = [a[3].astring() for a in self.simple(conn, 'LIST "" %s' % quote(MAILBOX + "*"))
                 if len(a) > 3 and a[0].val.upper() == "LIST"]
        subs = [a[3].astring() for a in self.simple(conn, 'LSUB "" %s' % quote(MAILBOX + "*"))
                if len(a) > 3 and a[0].val.upper() == "LSUB"]
        for b in sorted((b for b in boxes if b), key=str.lower, reverse=True):
            self.simple(conn, "DELETE %s" % quote(b), ok_no=True)
        for b in sorted((b for b in subs if b), key=str.lower, reverse=True):
            self.simple(conn, "UNSUBSCRIBE %s" % quote(b), ok_no=True)

    def next_message(self):
        date, msg = self.msgs[self.next_msg % len(self.msgs)]
        self.next_msg += 1
        return date, msg

    def append_text(self, args, with_date):
        date, msg = self.next_message()
        return "APPEND %s%s {%d+}\r\n%s" % (args, ' "%s"' % date if with_date else "", len(msg), msg)

    def append(self, conn, args, with_date):
        self.simple(conn, self.append_text(args, with_date))

    # -- the group's own commands --

    def wire(self, conn, text):
        """What goes to the server for a command line of the group."""
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in ("select", "examine", "close", "unselect"):
            conn.view.uids = []
        if word in ("select", "examine"):
            args = parse_args(rest)
            if args and args[0].astring() is not None:
                conn.box = args[0].astring()
        if text.lower() == "append":
            return self.append_text('"%s"' % conn.box, True)
        if word == "append" and not append_has_body(rest):
            return self.append_text(rest, False)
        return literal_plus(text, "LITERAL+" in (c.upper() for c in conn.caps))

    def run_group(self, gi, cg):
        conn = self.conns[cg.conn]
        where = "command group %d/%d (line %d) on connection %d: %s" % (
            gi + 1, len(self.g.groups), cg.commands[0].linenum, cg.conn + 1,
            cg.commands[0].text.split("\r\n")[0][:200])
        if conn.closed:
            raise Failed("%s\n - connection already closed" % where)
        self.m.seqmap = list(range(1, len(conn.view.uids) + 1))
        st = GroupState(cg, conn)
        pending = {}
        for cmd in cg.commands:
            try:
                text = self.m.expand_all(cmd.text)
            except KeyError as e:
                raise Failed("%s\n - uninitialized variable: %s" % (where, e.args[0]))
            cmd.sent_tag = conn.next_tag()
            st.first_tag = st.first_tag or cmd.sent_tag
            conn.send("%s %s\r\n" % (cmd.sent_tag, self.wire(conn, text)))
            pending[cmd.sent_tag] = cmd
        try:
            self.read_replies(cg, conn, st, pending)
            self.finish(cg, st)
        except Failed as e:
            raise Failed("%s\n - %s" % (where, e))

    def read_replies(self, cg, conn, st, pending):
        while pending:
            try:
                r = conn.response()
            except TimeoutError:
                raise Failed("no tagged reply within %d s" % TIMEOUT)
            if r is None:
                if cg.bye and conn.bye:
                    bad = [c for c in pending.values() if args_str(c.reply) != ""]
                    if bad:
                        raise Failed("expected '%s' as tagged reply; only \"\" allowed "
                                     "when BYE happens" % args_str(bad[0].reply))
                    return
                raise Failed("unexpected disconnection")
            tag, _, rest = r.partition(" ")
            args = parse_args(rest)
            if tag == "*":
                self.untagged(cg, conn, st, args)
                conn.track(args, r)
                if len(args) > 1 and args[0].val and args[0].val.isdigit() and \
                        args[1].kind == "atom" and args[1].val.upper() == "EXPUNGE":
                    self.m.expunge(int(args[0].val))
            elif tag in pending:
                cmd = pending.pop(tag)
                conn.track(args, r)
                self.m.vars["tag"] = tag
                got = self.m.match_args(cmd.reply, args, ALL, True)
                del self.m.vars["tag"]
                if got != ALL:
                    raise Failed("expected tagged reply '%s', got '%s'\n - command: %s" % (
                        args_str(cmd.reply), r.strip(), cmd.text.split("\r\n")[0][:200]))
            elif tag != "+":
                raise Failed("reply with a tag never sent: %s" % r.strip()[:200])

    def untagged(self, cg, conn, st, args):
        if not cg.untagged:
            return
        prefix = bool(args) and args[0].kind == "atom" and args[0].val.upper() in ("OK", "NO", "BAD", "BYE")
        self.m.added = []
        found_some = False
        for i, ut in enumerate(cg.untagged):
            if st.found[i]:
                continue
            if st.first_tag:
                self.m.vars["tag"] = st.first_tag
            got = self.m.match_args(ut.args, args, ALL, prefix)
            self.m.vars.pop("tag", None)
            if got == ALL:
                if ut.existence == MUST_NOT:
                    raise Failed("unexpected untagged match:\n   Match: %s\n   Reply: %s" % (
                        args_str(ut.args), args_str(args)))
                st.found[i] = found_some = True
                self.m.added = []
                if cg.ordered:
                    break
                continue
            if st.best[i][0] < got:
                st.best[i] = (got, args_str(args))
            for name in self.m.added:
                self.m.vars.pop(name, None)
            self.m.added = []
            if cg.ordered and ut.existence == MUST:
                break
        if not found_some:
            st.mismatches += 1
            if not self.g.ignore_extra and st.first_extra is None:
                st.first_extra = args_str(args)

    def finish(self, cg, st):
        missing = [i for i, ut in enumerate(cg.untagged) if ut.existence == MUST and not st.found[i]]
        if missing:
            ut = cg.untagged[missing[0]]
            raise Failed("missing %d untagged replies (%d mismatches)\n"
                         "   first unexpanded: %s\n   first expanded: %s\n   best match: %s" % (
                             len(missing), st.mismatches, args_str(ut.args),
                             self.m.expand_all(args_str(ut.args), True), st.best[missing[0]][1] or ""))
        if st.first_extra is not None:
            raise Failed("%d unexpected untagged replies received, first: %s" % (
                st.mismatches, st.first_extra))


class GroupState:
    """What the replies to one command group have matched so far."""

    def __init__(self, cg, conn):
        self.found = [False] * len(cg.untagged)
        self.best = [(0, None)] * len(cg.untagged)
        self.mismatches = 0
        self.first_extra = None
        self.first_tag = None


def append_has_body(rest):
    """Whether "append <rest>" carries its message (a literal or
    CATENATE) or leaves imaptest to add the next one from the mbox."""
    args = parse_args(rest)
    if not args:
        return False
    k = 0
    if k + 1 < len(args) and args[k + 1].kind == "list":
        k += 1
    if k + 1 < len(args) and args[k + 1].kind == "str":
        k += 1
    nxt = args[k + 1] if k + 1 < len(args) else None
    return nxt is not None and (nxt.kind == "lit" or (nxt.kind == "atom" and nxt.val.lower() == "catenate"))


def run_group(path, fmt):
    """("pass" | "skip" | "fail", why) of the group file at path against
    a fresh installation keeping mail in fmt (maildir or mbox)."""
    try:
        group = Group(path)
    except GroupError as e:
        return "fail", "unreadable group: %s" % e
    env = yubin.Env(conf={"mailbox_format": "mbox"} if fmt == "mbox" else None)
    try:
        Run(group, env).run()
        return "pass", ""
    except Skipped as e:
        return "skip", str(e)
    except Failed as e:
        return "fail", str(e)
    except TimeoutError as e:
        return "fail", "no reply within %d s: %s" % (TIMEOUT, str(e)[:300])
    except Exception as e:  # a runner bug fails this group, not the others
        import traceback
        return "fail", "runner error: %r\n%s" % (e, traceback.format_exc(limit=3))
    finally:
        env.cleanup()


def group_files(top):
    """The group files under top, as imaptest lists them (sorted, no
    .mbox, no directories)."""
    return [os.path.join(top, n) for n in sorted(os.listdir(top))
            if not n.startswith(".") and not n.endswith(".mbox")
            and os.path.isfile(os.path.join(top, n))]


def groups_dir():
    """Where the group files are: $YUBIN_IMAPTEST_GROUPS, else
    ../shared/imaptest-tests/groups beside the source tree; None when
    neither exists."""
    top = os.environ.get("YUBIN_IMAPTEST_GROUPS") or os.path.join(
        yubin.TOP, "..", "shared", "imaptest-tests", "groups")
    return top if os.path.isdir(top) else None


def report(t, name, result, why, todo=None):
    """One TAP line on t for a group run: a skip names what is missing; a
    failure known and listed (todo: why) is TAP TODO, and a TODO group
    that passes says so, for prove to count it as a bonus."""
    why = "".join(c if c == "\n" or " " <= c < "\x7f" else "\\x%02x" % ord(c) for c in why)
    if result == "skip":
        t.skip(name, why)
    elif todo:
        t.todo(result == "pass", name, todo, why)
        if result == "pass":
            t.diag("%s passes now: take it off the TODO list" % name)
    else:
        t.ok(result == "pass", name, why)
