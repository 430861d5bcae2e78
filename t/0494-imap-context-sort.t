#!/usr/bin/env python3
"""CONTEXT=SORT (RFC 5267 §3, §4) on Maildir and mbox, after the RFC's
examples on a small mailbox: E01's "UID SORT RETURN () (REVERSE DATE)"
lists UIDs in sort order without descending ranges (§3.2, §3.3); PARTIAL
windows count in the sort order (§4.4); C01's updating UID SORT told of
three messages that sort first by "UID ADDTO (1 3:5)", the form §4.3.3
prefers; removals by position, runs from the last so each position holds
(§4.3.2); a removal and an addition in one ESEARCH applied in order; a
SORT by sequence number told of an expunge before the EXPUNGE, with the
old numbers (§4.3.4); and updates during IDLE. Every position is checked
by replaying the updates on the client's list and comparing with a fresh
SORT, also over rounds of random changes by another session (many
messages at once, deliveries, expunges)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def msg(day, subj):
    return (b"Date: Wed, %d Jan 2020 10:00:00 +0000\r\nSubject: %s\r\n\r\nbody\r\n"
            % (day, subj))


def send(s, tag, line):
    s.send(("%s %s\r\n" % (tag, line)).encode())
    return [x for x in s.read_response(tag).decode("latin-1").split("\r\n") if x]


def expect(fmt, s, tag, line, want, status="OK"):
    """want: lines that must come, in this order (others may come between)."""
    got = send(s, tag, line)
    it = iter(got)
    ok = all(any(x == w for x in it) for w in want) and got[-1].split()[:2] == [tag, status]
    t.ok(ok, "%s: %s %s" % (fmt, tag, line), "got %r" % got)
    return got


def expand(text):
    """A sequence set in its order: "3:5,1" -> [3, 4, 5, 1]."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


def replay(lst, lines, tag, seq=False):
    """lst after the ADDTO and REMOVEFROM pairs for tag in lines (§4.3.2:
    in order, each pair at its position, from 1; position 0, SEARCH's:
    wherever the numbers are, §4.3.3, §4.3.4)."""
    for line in lines:
        e = re.match(r"\* (\d+) EXPUNGE$", line)
        if seq and e:   # each EXPUNGE renumbers the messages after it
            lst[:] = [x - (x > int(e.group(1))) for x in lst]
        m = re.match(r'\* ESEARCH \(TAG "%s"\)(?: UID)?(.*)$' % tag, line)
        if not m:
            continue
        for word, body in re.findall(r"(ADDTO|REMOVEFROM) \(([^)]*)\)", m.group(1)):
            f = body.split()
            for pos, nums in zip(f[0::2], f[1::2]):
                pos, nums = int(pos), expand(nums)
                if pos == 0:   # SEARCH: wherever they are, mailbox order kept
                    lst[:] = sorted(set(lst) | set(nums)) if word == "ADDTO" else \
                        [x for x in lst if x not in nums]
                elif word == "ADDTO":
                    lst[pos - 1:pos - 1] = nums
                else:
                    assert lst[pos - 1:pos - 1 + len(nums)] == nums, (lst, pos, nums)
                    del lst[pos - 1:pos - 1 + len(nums)]
    return lst


def sorted_now(s, cmd):
    got = send(s, "chk", cmd)
    m = [x for x in got if x.startswith('* ESEARCH (TAG "chk")')]
    a = m[0].split(" ALL ") if m else []
    return expand(a[1]) if len(a) > 1 else []


def check(fmt, s, lst, cmd, what):
    want = sorted_now(s, cmd)
    t.ok(lst == want, "%s: %s: the client's list is a fresh SORT's" % (fmt, what),
         "have %r, SORT says %r" % (lst, want))


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    a = Raw(env, login=U)
    b = Raw(env, login=U)
    try:
        append_ok(a, "INBOX", msg(4, b"d"))
        append_ok(a, "INBOX", msg(5, b"e"))
        caps = " ".join(send(a, "c0", "CAPABILITY")).split()
        t.ok("CONTEXT=SORT" in caps and "ESORT" in caps and "SORT" in caps,
             "%s: CONTEXT=SORT with SORT and ESORT advertised" % fmt)
        send(a, "s0", "SELECT INBOX")
        send(b, "s0", "SELECT INBOX")
        uid_cmd = "UID SORT RETURN (ALL) (DATE) UTF-8 UNSEEN"
        got = expect(fmt, a, "C01", "UID SORT RETURN (UPDATE ALL) (DATE) UTF-8 UNSEEN",
                     ['* ESEARCH (TAG "C01") UID ALL 1:2'])
        lst = [1, 2]
        for day, subj in ((1, b"a"), (2, b"b"), (3, b"c")):
            append_ok(b, "INBOX", msg(day, subj))
        got = expect(fmt, a, "n1", "NOOP", ["* 5 EXISTS", '* ESEARCH (TAG "C01") UID ADDTO (1 3:5)'])
        check(fmt, a, replay(lst, got, "C01"), uid_cmd, "three that sort first")
        send(b, "x1", "UID STORE 4 +FLAGS (\\Seen)")
        got = expect(fmt, a, "n2", "NOOP", ['* ESEARCH (TAG "C01") UID REMOVEFROM (2 4)'])
        check(fmt, a, replay(lst, got, "C01"), uid_cmd, "one in the middle leaves")
        send(b, "x2", "UID STORE 3,5 +FLAGS (\\Seen)")
        got = expect(fmt, a, "n3", "NOOP", ['* ESEARCH (TAG "C01") UID REMOVEFROM (1 3,5)'])
        check(fmt, a, replay(lst, got, "C01"), uid_cmd, "a run leaves")
        send(b, "x3", "UID STORE 4,3 -FLAGS (\\Seen)")
        send(b, "x4", "UID STORE 2 +FLAGS (\\Seen)")
        got = expect(fmt, a, "n4", "NOOP",
                     ['* ESEARCH (TAG "C01") UID REMOVEFROM (2 2) ADDTO (1 3:4)'])
        check(fmt, a, replay(lst, got, "C01"), uid_cmd, "one leaves, two join, in one ESEARCH")
        # §3.3: E01, sort order kept, no descending range
        expect(fmt, a, "E01", "UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk",
               ['* ESEARCH (TAG "E01") UID ALL 2,1,5,4,3'])
        # §4.4: PARTIAL in the sort order
        expect(fmt, a, "P01", "SORT RETURN (PARTIAL 2:4) (REVERSE DATE) UTF-8 ALL",
               ['* ESEARCH (TAG "P01") PARTIAL (2:4 1,5,4)'])
        expect(fmt, a, "P02", "UID SORT RETURN (PARTIAL 9:7 COUNT) (DATE) UTF-8 ALL",
               ['* ESEARCH (TAG "P02") UID PARTIAL (7:9 NIL) COUNT 5'])
        expect(fmt, a, "P03", "SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL", [], "BAD")
        # by sequence number: REMOVEFROM before the EXPUNGE, old numbers
        seq_cmd = "SORT RETURN (ALL) (REVERSE DATE) UTF-8 ALL"
        got = expect(fmt, a, "D01", "SORT RETURN (UPDATE ALL) (REVERSE DATE) UTF-8 ALL",
                     ['* ESEARCH (TAG "D01") ALL 2,1,5,4,3'])
        lst = expand(got[0].split(" ALL ")[1])
        send(a, "x5", "UID STORE 1,4 +FLAGS (\\Deleted)")
        got = expect(fmt, a, "x6", "EXPUNGE", ['* ESEARCH (TAG "D01") REMOVEFROM (4 4 2 1)',
                                              "* 4 EXPUNGE", "* 1 EXPUNGE"])
        lst = replay(lst, got, "D01", True)
        check(fmt, a, lst, seq_cmd, "after EXPUNGE, renumbered")
        # during IDLE
        a.send(b"i1 IDLE\r\n")
        assert a.s.readline(10).startswith(b"+")
        append_ok(b, "INBOX", msg(6, b"f"))
        out = b""
        while b'TAG "D01"' not in out:
            line = a.s.readline(30)
            assert line, out
            out += line
        a.send(b"DONE\r\n")
        out += a.read_response("i1")
        lines = out.decode().split("\r\n")
        t.ok('* ESEARCH (TAG "D01") ADDTO (1 4)' in lines and
             lines.index("* 4 EXISTS") < lines.index('* ESEARCH (TAG "D01") ADDTO (1 4)'),
             "%s: during IDLE, after EXISTS" % fmt, out)
        check(fmt, a, replay(lst, lines, "D01", True), seq_cmd, "after IDLE")
        expect(fmt, a, "z1", 'CANCELUPDATE "C01" "D01"', [])
    finally:
        a.close()
        b.close()
        env.cleanup()


def shuffled(fmt, rounds=12):
    """Random changes by another session, many at once (seeded): after
    each round every context, replayed, equals a fresh SORT or SEARCH."""
    import random
    rnd = random.Random(5267)
    env = yubin.Env(conf={"mailbox_format": fmt})
    a = Raw(env, login=U)
    b = Raw(env, login=U)
    try:
        for i in range(40):
            append_ok(a, "INBOX", msg(1 + rnd.randrange(28), b"s%d" % rnd.randrange(9)))
        send(a, "s0", "SELECT INBOX")
        send(b, "s0", "SELECT INBOX")
        progs = [("U1", "UID SORT RETURN (%s) (SUBJECT DATE) UTF-8 UNSEEN"),
                 ("U2", "SORT RETURN (%s) (REVERSE DATE) UTF-8 OR FLAGGED SUBJECT s3"),
                 ("U3", "UID SEARCH RETURN (%s) UNFLAGGED")]
        lists = {}
        for tag, cmd in progs:
            got = send(a, tag, cmd % "UPDATE ALL")
            a_ = [x for x in got if x.startswith('* ESEARCH (TAG "%s")' % tag)][0].split(" ALL ")
            lists[tag] = expand(a_[1]) if len(a_) > 1 else []
        ok = True
        for r in range(rounds):
            n = int(send(b, "c%d" % r, "SEARCH RETURN (COUNT) ALL")[0].split()[-1])
            for k in range(rnd.randrange(1, 4)):
                some = sorted(rnd.sample(range(1, n + 1), rnd.randrange(1, min(n, 15) + 1)))
                send(b, "st", "STORE %s %sFLAGS (%s)" % (",".join(map(str, some)), rnd.choice("+-"),
                                                           rnd.choice(["\\Seen", "\\Flagged"])))
            for k in range(rnd.randrange(3)):
                append_ok(b, "INBOX", msg(1 + rnd.randrange(28), b"s%d" % rnd.randrange(9)))
            if r % 3 == 2:
                some = rnd.sample(range(1, n + 1), rnd.randrange(1, 5))
                send(b, "dl", "STORE %s +FLAGS (\\Deleted)" % ",".join(map(str, some)))
                send(b, "ex", "EXPUNGE")
            got = send(a, "n%d" % r, "NOOP")
            for tag, cmd in progs:
                lst = lists[tag] = replay(lists[tag], got, tag, not cmd.startswith("UID"))
                want = sorted_now(a, cmd % "ALL")
                if lst != want:
                    ok = False
                    t.diag("%s round %d %s: have %r, fresh %r" % (fmt, r, tag, lst, want))
        t.ok(ok, "%s: %d rounds of random changes, every context equals a fresh answer"
             % (fmt, rounds))
    finally:
        a.close()
        b.close()
        env.cleanup()


run("maildir")
run("mbox")
shuffled("maildir")
shuffled("mbox")
t.done()
