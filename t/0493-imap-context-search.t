#!/usr/bin/env python3
"""CONTEXT=SEARCH (RFC 5267 §4) on Maildir and mbox, after the RFC's own
examples scaled to a five-message mailbox: PARTIAL windows (§4.4: the
range echoed, 4:2 read as 2:4, NIL past the end, BAD for "*", 0, a lone
number, PARTIAL with ALL or twice), CONTEXT taken as a hint (§4.2), and
UPDATE (§4.3): B01's "UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD
$Junk" told of another session's STORE by "UID ADDTO (0 set)" after the
FETCH, of a delivery after its EXISTS (§4.3.3), of an expunge by
"REMOVEFROM (0 uid)" before the EXPUNGE (§4.3.4); a tag in use by a
context is BAD (§4.3); CANCELUPDATE ends one (§4.3.5) and an unknown tag
is NO, as with Dovecot; a context's sequence set and "$" keep naming the
messages they named (expunges, deliveries and a later SAVE do not move
them); a keyword
made after the search is found; past IMAP_SEARCH_UPDATES_MAX contexts
the search answers with "* NO [NOUPDATE tag]" and the rest of its
result (§4.3.1, B02), and leaving the folder ends them all."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, append_ok, numbered_message  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
with open(os.path.join(yubin.TOP, "lib", "bounds.h")) as f:
    UPDATES_MAX = int(re.search(r"#define IMAP_SEARCH_UPDATES_MAX (\d+)", f.read()).group(1))


def send(s, tag, line):
    """The response lines to one command sent with tag."""
    s.send(("%s %s\r\n" % (tag, line)).encode())
    return [x for x in s.read_response(tag).decode("latin-1").split("\r\n") if x]


def expect(fmt, s, tag, line, want, status="OK", absent=()):
    """want: untagged lines that must come, in this order (others may
    come between); absent: regular expressions no line may match."""
    got = send(s, tag, line)
    it = iter(got)
    ok = all(any(x == w for x in it) for w in want)
    ok = ok and got[-1].split()[:2] == [tag, status]
    ok = ok and not any(re.search(a, x) for a in absent for x in got)
    t.ok(ok, "%s: %s %s" % (fmt, tag, line), "got %r" % got)
    return got


def partial(fmt, s):
    expect(fmt, s, "A01", "UID SEARCH RETURN (PARTIAL 1:3) UNDELETED",
           ['* ESEARCH (TAG "A01") UID PARTIAL (1:3 1:3)'])
    expect(fmt, s, "A02", "SEARCH RETURN (PARTIAL 4:2 COUNT) ALL",
           ['* ESEARCH (TAG "A02") PARTIAL (2:4 2:4) COUNT 5'])
    expect(fmt, s, "A03", "SEARCH RETURN (PARTIAL 2:3) 1:2,4:5",
           ['* ESEARCH (TAG "A03") PARTIAL (2:3 2,4)'])
    expect(fmt, s, "A04", "UID SEARCH RETURN (PARTIAL 24000:24500) UNDELETED",
           ['* ESEARCH (TAG "A04") UID PARTIAL (24000:24500 NIL)'])
    for bad in ("PARTIAL 1:*", "PARTIAL 0:3", "PARTIAL 1", "PARTIAL 1:2 ALL",
                "PARTIAL 1:2 PARTIAL 3:4", "PARTIAL 1:4294967296"):
        expect(fmt, s, "A05", "SEARCH RETURN (%s) ALL" % bad, [], "BAD")
    expect(fmt, s, "A06", "SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk",
           ['* ESEARCH (TAG "A06") COUNT 5'])
    expect(fmt, s, "A07", "SEARCH RETURN (CONTEXT) ALL", ['* ESEARCH (TAG "A07") ALL 1:5'])


def update(fmt, s, s2):
    expect(fmt, s, "B01", "UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk",
           ['* ESEARCH (TAG "B01") UID COUNT 0'])
    expect(fmt, s, "B01", "SEARCH RETURN (UPDATE) ALL", [], "BAD")
    expect(fmt, s2, "x1", "STORE 2:3 +FLAGS (\\Deleted $Junk)", [])
    expect(fmt, s, "B02", "NOOP", ['* 3 FETCH (FLAGS (\\Deleted \\Recent $Junk))',
                                   '* ESEARCH (TAG "B01") UID ADDTO (0 2:3)'])
    # a sequence set names the messages it named when the search ran
    expect(fmt, s, "C01", "SEARCH RETURN (UPDATE ALL) 2:3 UNSEEN",
           ['* ESEARCH (TAG "C01") ALL 2:3'])
    expect(fmt, s, "B03", "UID EXPUNGE 2",
           ['* ESEARCH (TAG "B01") UID REMOVEFROM (0 2)',
            '* ESEARCH (TAG "C01") REMOVEFROM (0 2)', '* 2 EXPUNGE'])
    append_ok(s2, "INBOX", numbered_message(6), b"(\\Deleted $Junk) ")
    expect(fmt, s, "B04", "NOOP", ['* 5 EXISTS', '* ESEARCH (TAG "B01") UID ADDTO (0 6)'],
           absent=[r'TAG "C01"'])
    expect(fmt, s, "C02", "STORE 2 +FLAGS \\Seen", ['* ESEARCH (TAG "C01") REMOVEFROM (0 2)'])
    # "$" stands for what it held when the search ran, whatever is saved later
    expect(fmt, s, "S01", "UID SEARCH RETURN (SAVE) UID 4", [])
    expect(fmt, s, "S02", "SEARCH RETURN (UPDATE ALL) UNSEEN $", ['* ESEARCH (TAG "S02") ALL 3'])
    expect(fmt, s, "S03", "SEARCH RETURN (SAVE) 1", [])
    expect(fmt, s, "S04", "STORE 1 +FLAGS (\\Seen)", [], absent=[r'TAG "S02"'])
    expect(fmt, s, "S05", "STORE 3 +FLAGS (\\Seen)", ['* ESEARCH (TAG "S02") REMOVEFROM (0 3)'])
    expect(fmt, s, "S06", "STORE 1,3 -FLAGS (\\Seen)", ['* ESEARCH (TAG "S02") ADDTO (0 3)'])
    expect(fmt, s, "S07", 'CANCELUPDATE "S02"', [])
    # a keyword the folder did not have when the search ran
    expect(fmt, s, "K01", "UID SEARCH RETURN (UPDATE) KEYWORD $Later",
           ['* ESEARCH (TAG "K01") UID'])
    expect(fmt, s2, "x2", "UID STORE 4 +FLAGS ($Later)", [])
    expect(fmt, s, "B05", "NOOP", ['* ESEARCH (TAG "K01") UID ADDTO (0 4)'])
    expect(fmt, s, "B06", 'CANCELUPDATE "B01" "nope"', [], "NO")
    expect(fmt, s, "B07", 'CANCELUPDATE "B01"', [])
    expect(fmt, s, "B08", "UID STORE 1 +FLAGS (\\Deleted $Junk)", [], absent=[r"ESEARCH"])
    expect(fmt, s, "B09", "CANCELUPDATE", [], "BAD")


def limit(fmt, s):
    """§4.3.1: past the bound, NOUPDATE and the rest of the answer."""
    n = 0
    for k in range(UPDATES_MAX):
        got = send(s, "L%02d" % (k + 1), "SEARCH RETURN (UPDATE) ALL")
        n += not any("NOUPDATE" in x for x in got)
    t.ok(n == UPDATES_MAX - 2, "%s: %d contexts kept beside K01 and C01" % (fmt, UPDATES_MAX - 2),
         "kept %d" % n)
    expect(fmt, s, "X02", "UID SEARCH RETURN (UPDATE COUNT) KEYWORD $Junk",
           ['* ESEARCH (TAG "X02") UID COUNT 3', '* NO [NOUPDATE "X02"] Too many updating searches'])
    # leaving the folder ends every context
    expect(fmt, s, "L90", "SELECT INBOX", [])
    expect(fmt, s, "X03", "UID SEARCH RETURN (UPDATE COUNT) KEYWORD $Junk",
           ['* ESEARCH (TAG "X03") UID COUNT 3'], absent=[r"NOUPDATE"])
    expect(fmt, s, "L91", "UID STORE 1 -FLAGS ($Junk)", ['* ESEARCH (TAG "X03") UID REMOVEFROM (0 1)'],
           absent=[r'TAG "(K01|C01|L\d+)"'])


def run(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    s2 = Raw(env, login=U)
    try:
        for i in range(1, 6):
            append_ok(s, "INBOX", numbered_message(i))
        caps = " ".join(send(s, "c0", "CAPABILITY"))
        t.ok("CONTEXT=SEARCH" in caps.split() and "ESEARCH" in caps.split(),
             "%s: CONTEXT=SEARCH advertised" % fmt)
        send(s, "s0", "SELECT INBOX")
        send(s2, "s0", "SELECT INBOX")
        partial(fmt, s)
        update(fmt, s, s2)
        limit(fmt, s)
    finally:
        s.close()
        s2.close()
        env.cleanup()


run("maildir")
run("mbox")
t.done()
