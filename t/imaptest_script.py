"""imaptest's scripted test groups read and judged as imaptest does
(Dovecot's imaptest, src/test-parser.c and src/test-exec.c): a group file
is a header, a blank line, then commands with the replies they must (*)
and must not (!) get. Replies are cut into the same tokens (atoms end only
at a space, a line end or the ')' closing a list), patterns bind and
compare the same $variables, lists take the same directives ($!unordered,
$!noextra, $!ban=, $!ignore=) and the same defaults for LIST flags, STATUS
and FETCH lists. t/imaptest_groups.py runs the groups."""
import os
import re

ALL = float("inf")     # "every argument matched" (imaptest's UINT_MAX)
STATES = ("nonauth", "auth", "created", "appended", "selected")
MUST, MUST_NOT, MAY = "*", "!", "?"


class GroupError(Exception):
    """A group file imaptest would refuse too."""


# ---- tokens, as Dovecot's imap-parser gives them to imaptest ----

class Arg:
    __slots__ = ("kind", "val")

    def __init__(self, kind, val=None):
        self.kind, self.val = kind, val   # atom, str, lit, nil, list

    def astring(self):
        """The text, as the C string imaptest compares: up to a NUL."""
        return self.val.split("\0")[0] if self.kind in ("atom", "str", "lit") else None

    def __repr__(self):
        return args_str([self])


LITERAL = re.compile(r"~?\{(\d+)\+?\}\r?\n")


def parse_args(text):
    """Arguments of one line (literals inline). Lenient where a server's
    human-readable text would upset a strict parser: an unmatched ')' at
    the top level is part of an atom, an unclosed list ends at the end."""
    stack = [[]]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \r\n":
            i += 1
        elif c == "(":
            stack[-1].append(Arg("list", []))
            stack.append(stack[-1][-1].val)
            i += 1
        elif c == ")" and len(stack) > 1:
            stack.pop()
            i += 1
        elif c == '"':
            i = _quoted(text, i, stack[-1])
        elif LITERAL.match(text, i):
            m = LITERAL.match(text, i)
            size = int(m.group(1))
            stack[-1].append(Arg("lit", text[m.end():m.end() + size]))
            i = m.end() + size
        else:
            j = i
            while j < n and text[j] not in " \r\n" and not (text[j] == ")" and len(stack) > 1):
                j += 1
            a = text[i:j]
            stack[-1].append(Arg("nil") if a.upper() == "NIL" else Arg("atom", a))
            i = j
    return stack[0]


def _quoted(text, i, out):
    val = []
    i += 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        val.append(text[i])
        i += 1
    out.append(Arg("str", "".join(val)))
    return i + 1


def args_str(args):
    out = []
    for a in args:
        if a.kind == "list":
            out.append("(" + args_str(a.val) + ")")
        elif a.kind == "nil":
            out.append("NIL")
        elif a.kind == "atom":
            out.append(a.val)
        elif a.kind == "lit" or "\n" in a.val:
            out.append("{%d}\r\n%s" % (len(a.val), a.val))
        else:
            out.append('"%s"' % a.val.replace("\\", "\\\\").replace('"', '\\"'))
    return " ".join(out)


def quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


# ---- group files (imaptest's test-parser.c, in short) ----

class Untagged:
    def __init__(self, existence, args):
        self.existence, self.args = existence, args


class Command:
    def __init__(self, linenum, tag, reply, text):
        self.linenum, self.tag, self.reply, self.text = linenum, tag, reply, text
        self.sent_tag = None


class CmdGroup:
    def __init__(self, conn):
        self.conn = conn
        self.commands = []
        self.untagged = []
        self.pending = 0
        self.ordered = False
        self.bye = False


class Group:
    """One parsed group file."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.caps = []
        self.state = "selected"
        self.messages = 0
        self.connections = 1
        self.ignore_extra = True
        self.needs_user2 = False
        self.groups = []
        mbox = path + ".mbox"
        self.mbox = mbox if os.path.exists(mbox) else os.path.join(os.path.dirname(path), "default.mbox")
        with open(path, "rb") as f:
            data = f.read().decode("latin-1")
        for linenum, line, header in logical_lines(data):
            try:
                if header:
                    self.header(line)
                else:
                    self.command_line(linenum, line)
            except GroupError as e:
                raise GroupError("%s line %d: %s" % (self.name, linenum, e))
        if not self.groups:
            raise GroupError("%s: no commands" % self.name)
        if self.groups[-1].pending:
            raise GroupError("%s: missing reply at the end" % self.name)
        if not any(c.text.lower() == "logout" for g in self.groups for c in g.commands) \
                and not any(g.bye for g in self.groups):
            g = CmdGroup(0)   # imaptest ends on connection 1 with LOGOUT
            g.commands.append(Command(0, 0, [Arg("atom", "ok")], "logout"))
            self.groups.append(g)

    def header(self, line):
        key, sep, value = line.partition(":")
        if not sep:
            raise GroupError("missing ':'")
        key, value = key.strip().lower(), value.strip()
        if key == "capabilities":
            self.caps = value.split()
        elif key == "connections":
            self.connections = int(value)
        elif key == "ignore_extra_untagged":
            self.ignore_extra = value[:1] == "y"
        elif key == "messages":
            self.messages = ALL if value == "all" else int(value)
        elif key == "state":
            if value.lower() not in STATES:
                raise GroupError("unknown state %r" % value)
            self.state = value.lower()
        elif key.startswith("user "):
            self.needs_user2 = self.needs_user2 or value in ("$user2", "${user2}")
        else:
            raise GroupError("unknown setting %r" % key)

    def command_line(self, linenum, line):
        g = self.groups[-1] if self.groups else None
        if g is not None:
            if line == "!ordered":
                g.ordered = True
                return
            if line[:2] in ("* ", "! ", "? "):
                self.untagged_line(g, line[0], line[2:])
                return
            if line[:1] == "!":
                raise GroupError("%s is not supported by this runner" % line.split()[0])
            if g.pending and self.reply_line(g, line):
                return
        if g is None or not g.pending:
            g = CmdGroup(0)
            self.groups.append(g)
        if self.connections > 1:
            word, _, rest = line.partition(" ")
            if not word.isdigit() or int(word) == 0:
                raise GroupError("missing client index")
            if g.commands and g.conn != int(word) - 1:
                raise GroupError("pipelined commands on two connections")
            g.conn = int(word) - 1
            line = rest
        tag, reply, line = cmd_reply(line)
        if tag == 0 and g.pending:
            raise GroupError("missing reply from previous command group")
        if not g.commands and line[:2] in ("* ", "! ", "? "):
            raise GroupError("banner checks are not supported by this runner")
        if reply is None:
            g.pending += 1
        g.commands.append(Command(linenum, tag, reply, line))

    def untagged_line(self, g, existence, text):
        args = parse_args(text)
        name = ""
        if args and args[0].kind == "atom":
            name = args[0].val
            if name[:1] == "$" or name[:1].isdigit():
                name = args[1].val if len(args) > 1 and args[1].kind == "atom" else ""
        add_default_directives(args, name.lower())
        if existence == MUST and name.upper().startswith("BYE"):
            g.bye = True
        g.untagged.append(Untagged(existence, args))

    def reply_line(self, g, line):
        """A tagged reply ("ok ...", "tag2 ok", "1 ok ..." on a group of
        several connections) for a command of g waiting for one."""
        if self.connections > 1:
            word, _, rest = line.partition(" ")
            if word.isdigit() and int(word) > 0:
                line = rest
        tag, reply, _ = cmd_reply(line)
        if reply is None:
            return False
        for c in g.commands:
            if c.tag == tag:
                if c.reply is not None:
                    raise GroupError("command already has a reply")
                args = parse_args(line)
                c.reply = args[1:] if tag else args
                g.pending -= 1
                return True
        raise GroupError("reply for unknown tag")


def cmd_reply(line):
    """(tag number or 0, expected reply args or None, rest of the line)
    of "[tagN] [ok|no|bad|""] command"."""
    tag = 0
    word, _, rest = line.partition(" ")
    if word[:3].lower() == "tag" and word[3:].isdigit() and int(word[3:]) > 0 and _:
        tag, line = int(word[3:]), rest
        word, _, rest = line.partition(" ")
    if word.lower() in ("ok", "no", "bad"):
        return tag, [Arg("atom", word.lower())], rest
    if word == '""':
        return tag, [Arg("atom", "")], rest
    return tag, None, line


def logical_lines(data):
    """(line number, line, in header) of each line that is not a comment,
    with {{{ ... }}} multi-line literals folded in as imaptest does: text
    lines end in CRLF, those of a ~{{{ (binary) literal in LF, the last
    line end dropped."""
    header = True
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line, start = lines[i], i + 1
        i += 1
        if line == "":
            header = False
            continue
        if line[:1] == "#":
            continue
        while line.endswith("{{{"):
            line, i = fold_literal(line, lines, i, start)
        yield start, line, header


def fold_literal(line, lines, i, start):
    binary = line.endswith("~{{{")
    head = line[:-4] if binary else line[:-3]
    body = []
    while True:
        if i >= len(lines):
            raise GroupError("multi-line literal at line %d not ended" % start)
        cur = lines[i]
        i += 1
        if cur.startswith("}}}"):
            break
        body.append(cur)
    text = ("\n" if binary else "\r\n").join(body)
    return "%s%s{%d}\r\n%s%s" % (head, "~" if binary else "", len(text), text, cur[3:]), i


def add_default_directives(args, reply_name, depth=0, index=0):
    """imaptest's defaults for lists without directives: LIST/LSUB flags
    unordered; STATUS and FETCH item lists unordered pairs (extra items
    allowed); FETCH FLAGS unordered, nothing extra but \\Recent."""
    prev_atom = None
    for i, a in enumerate(args):
        if a.kind == "atom":
            prev_atom = a.val.lower()
        if a.kind != "list":
            continue
        sub = a.val
        has = bool(sub) and sub[0].kind == "atom" and sub[0].val.startswith("$!")
        if not has:
            if depth == 0 and i == 1 and reply_name in ("list", "lsub"):
                sub.insert(0, Arg("atom", "$!unordered"))
            elif depth == 0 and i == 2 and reply_name in ("status", "fetch"):
                sub.insert(0, Arg("atom", "$!unordered=2"))
            elif depth == 1 and index == 2 and reply_name == "fetch" and prev_atom == "flags":
                sub[0:0] = [Arg("atom", d) for d in (
                    "$!ignore=$HasNoAttachment", "$!ignore=$HasAttachment",
                    "$!ignore=\\recent", "$!noextra", "$!unordered")]
        if depth == 0:
            add_default_directives(sub, reply_name, 1, i)


# ---- messages to APPEND (imaptest's mailbox-source-mbox.c) ----

FROM_LINE = re.compile(
    r"From \S+ +[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d+) (\d\d:\d\d:\d\d) (\d{4})(?: ([-+]\d{4}))?\r?$")


def mbox_messages(path):
    """[(internal date, message with CRLF line ends)] of an mbox file: the
    text between From_ lines, blank line before the next one included."""
    with open(path, "rb") as f:
        lines = f.read().decode("latin-1").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        m = FROM_LINE.match(line)
        if m:
            date = "%02d-%s-%s %s %s" % (int(m.group(2)), m.group(1), m.group(4), m.group(3),
                                         m.group(5) or "+0000")
            out.append([date, []])
        elif out:
            out[-1][1].append(line.rstrip("\r"))
    return [(d, "".join(x + "\r\n" for x in body)) for d, body in out]


# ---- matching (imaptest's test-exec.c, in short) ----

def is_var_char(c):
    return c.isalnum() or c == "_"


class Matcher:
    """Variables bound by replies, and the map from a group's first
    sequence numbers to the current ones ($1, $2 ... after EXPUNGEs)."""

    def __init__(self, variables):
        self.vars = dict(variables)
        self.added = []
        self.seqmap = []

    def seq(self, name):
        n = int(name)
        if n == 0:
            return "<zero seq>"
        if n > len(self.seqmap):
            return "<out of range>"
        return "<expunged>" if self.seqmap[n - 1] == 0 else str(self.seqmap[n - 1])

    def expunge(self, seq):
        for i, cur in enumerate(self.seqmap):
            if cur == seq:
                self.seqmap[i] = 0
            elif cur > seq:
                self.seqmap[i] = cur - 1

    @staticmethod
    def var_name(s, i):
        """(name, index after it) of the variable whose '$' is at s[i-1]."""
        if s[i:i + 1] == "{":
            j = s.find("}", i)
            if j < 0:
                return None, len(s)
            return s[i + 1:j], j + 1
        j = i
        while j < len(s) and is_var_char(s[j]):
            j += 1
        return s[i:j], j

    def expand_all(self, s, skip_unset=False):
        """A command (or a pattern, for diagnostics) with its variables
        replaced; raises KeyError for one never bound."""
        out = []
        i = 0
        while i < len(s):
            c = s[i]
            if c != "$" or i == len(s) - 1:
                out.append(c)
                i += 1
            elif s[i + 1] == "$":
                out.append("$")
                i += 2
            elif s[i + 1] == "!":
                j = s.find(" ", i)
                i = len(s) if j < 0 else j + 1
            else:
                name, i = self.var_name(s, i + 1)
                if name is not None and name.isdigit():
                    out.append(self.seq(name))
                elif name in self.vars:
                    out.append(self.vars[name])
                elif skip_unset:
                    out.append("$")
                else:
                    raise KeyError(name)
        return "".join(out)

    def expand_input(self, pat, inp):
        """imaptest's test_expand_input: pat with its variables bound to
        or compared with inp; (expanded pattern or None, case-blind)."""
        icase = True
        out = []
        i = j = 0
        while i < len(pat):
            if pat[i] != "$" or pat[i + 1:i + 2] == "$":
                if pat[i] == "$":
                    i += 1
                if j >= len(inp) or pat[i].upper() != inp[j].upper():
                    return None, icase
                out.append(pat[i])
                i += 1
                j += 1
                continue
            name, i = self.var_name(pat, i + 1)
            if name is None:
                return "", icase
            if name.isdigit():
                value = self.seq(name)
            elif name.startswith("case:"):
                icase, value = False, name[5:]
            else:
                value = self.vars.get(name) if name else None
                if value is None:
                    value = self.bind(name, pat[i:], inp, j)
            out.append(value)
            if inp[j:j + len(value)] != value:
                return None, icase
            j += len(value)
        return "".join(out), icase

    def bind(self, name, rest, inp, j):
        """The value an unbound variable takes: the input up to the next
        character the pattern wants (first letter only, as imaptest)."""
        stop = rest
        if rest[:1] == "$":
            stop = self.expand_input(rest, inp[j:])[0] or ""
        p = j
        while p < len(inp) and (not stop or inp[p].upper() != stop[0].upper()):
            p += 1
        value = inp[j:p]
        if name:
            self.vars[name] = value
            self.added.append(name)
        return value

    def match_args(self, match, args, limit=ALL, prefix=False):
        """How many of match's arguments match args (ALL: every one)."""
        ret = 0
        mi = ai = 0
        while mi < len(match) and limit > 0:
            m = match[mi]
            a = args[ai] if ai < len(args) else Arg("eol")
            if m.kind == "nil":
                if a.kind != "nil":
                    return ret
            elif m.kind == "list":
                if a.kind != "list":
                    return ret
                sub = self.match_list(m.val, a.val)
                if sub != ALL:
                    return ret + sub
            elif m.val == "$" and a.kind == "list":
                pass
            elif m.val == "$]":
                while ai < len(args) and args[ai].kind == "atom" and "]" not in args[ai].val:
                    ai += 1
            else:
                got = a.astring()
                if got is None:
                    return ret
                want, icase = self.expand_input(m.astring(), got)
                if want is None:
                    return ret
                if icase:
                    got, want = got.lower(), want.lower()
                last = prefix and mi == len(match) - 1
                if (not got.startswith(want)) if last else got != want:
                    return ret
            ret += 1
            mi += 1
            ai += 1
            limit -= 1
        return ALL if prefix or ai >= len(args) or limit == 0 else ret

    def match_list(self, match, args):
        unordered, chain, noextra = False, 1, None
        ignores, bans = [], []
        while match and match[0].kind == "atom" and match[0].val.startswith("$!"):
            d = match[0].val[2:]
            match = match[1:]
            if d.startswith("unordered"):
                unordered = True
                noextra = 0 if noextra is None else noextra
                if d[9:10] == "=":
                    chain = int(d[10:])
            elif d == "ordered":
                unordered = False
            elif d in ("extra", "noextra"):
                noextra = int(d == "noextra")
            elif d.startswith("ignore="):
                ignores.append(d[7:].lower())
            elif d.startswith("ban="):
                bans.append(d[4:].lower())
            else:
                raise GroupError("unknown directive $!%s" % d)
        if not unordered:
            return self.match_args(match, args)
        if len(args) % chain:
            return 0
        hit = [False] * len(args)
        ret = 0
        for k in range(0, len(match), chain):
            for i in range(0, len(args), chain):
                if self.match_args(match[k:k + chain], args[i:], chain) == ALL:
                    hit[i] = True
                    break
            else:
                return ret
            ret += 1
        rest = [args[i].astring() for i in range(0, len(args), chain) if not hit[i]]
        rest = [x.lower() for x in rest if x is not None]
        if noextra and any(x not in ignores for x in rest):
            return ret
        if not noextra and any(x in bans for x in rest):
            return ret
        return ALL
