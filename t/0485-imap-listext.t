#!/usr/bin/env python3
"""LIST-EXTENDED (RFC 5258) and subscriptions of deleted mailboxes, on
Maildir and mbox.

DELETE keeps the subscription (RFC 3501 §6.3.6: the server MUST NOT
remove a name from the subscription list on its own; RFC 9051 §6.3.7):
LIST (SUBSCRIBED) shows it (\\Subscribed \\NonExistent), without
\\Noselect, and LSUB \\Noselect. With RECURSIVEMATCH, CHILDINFO is given
only to a name with a subscribed descendant the patterns leave out (RFC
5258 §3.5, example 9): a parent not subscribed whose subscribed
children are all in the reply is not listed (a subscribed one says
CHILDINFO whenever it has subscribed children, as Dovecot). What imaptest's "listext" group checks is here step by
step, then the examples of RFC 5258 §5 that a server without remote
mailboxes can show (REMOTE is accepted and changes nothing)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
# made and subscribed at the first login (RFC 6154); left out of the
# comparisons below unless an example names them
SPECIAL = {"Drafts", "Sent", "Trash", "Junk", "Archive"}

LINE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)'
                  rb'( \("CHILDINFO" \("SUBSCRIBED"\)\))?$')


def listed(resp):
    """{name: (attributes lower-cased, childinfo)} of a LIST/LSUB reply."""
    out = {}
    for line in resp.split(b"\r\n"):
        m = LINE.match(line)
        if not m:
            continue
        name = m.group(3).decode()
        if name.startswith('"'):
            name = name[1:-1]
        attrs = frozenset(a.lower() for a in m.group(2).decode().split())
        out[name] = (attrs, m.group(4) is not None)
    return out


def cmd_ok(s, c):
    r = s.cmd(c)
    assert tagged(r).split()[1] == b"OK", (c, r)
    return r


def want(*attrs, childinfo=False):
    return (frozenset(a.lower() for a in attrs), childinfo)


def check_list(s, c, expect, name, ignore=SPECIAL | {"INBOX"}):
    """LIST c gives exactly expect (names in ignore compared only if in expect)."""
    r = s.cmd(c)
    got = {k: v for k, v in listed(r).items() if k in expect or k not in ignore}
    t.ok(tagged(r).split()[1] == b"OK" and got == expect, name,
         "got %r\nwant %r\n%r" % (got, expect, r))
    return r


def imaptest_listext(fmt):
    """The steps of imaptest's listext group, mailbox "box"."""
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        for c in ("box/", "box/test1", "box/test2/", "box/test2/test1", "box/test3",
                  "box/test4/test5", "box/test4/test52", "box/test6", "box/test7/test7",
                  "box/test8/test8", "box/test8/test9"):
            cmd_ok(s, "CREATE %s" % c)
        for c in ("test1", "test2/test1", "test6", "test7/test7", "test8/test8",
                  "test8/test9"):
            cmd_ok(s, "SUBSCRIBE box/%s" % c)
        cmd_ok(s, "DELETE box/test6")
        check_list(s, 'LIST "" (box/*2 box/test3)', {
            "box/test2": want(), "box/test3": want(), "box/test4/test52": want()},
            "%s: several patterns, no children attributes unasked" % fmt)
        for c in ('LIST (imaptest) "" ""', 'LIST (recursivematch) "" ""',
                  'LIST (recursivematch remote) "" ""', 'LIST "" "" return (imaptest)'):
            r = s.cmd(c)
            t.ok(tagged(r).split()[1] == b"BAD", "%s: %s is BAD" % (fmt, c), r)
        r = s.cmd('LIST (remote) "" %')
        t.ok(tagged(r).split()[1] == b"OK", "%s: REMOTE accepted" % fmt, r)
        check_list(s, 'LIST (subscribed) "" box/*', {
            "box/test1": want("\\Subscribed"),
            "box/test2/test1": want("\\Subscribed"),
            "box/test6": want("\\Subscribed", "\\NonExistent"),
            "box/test7/test7": want("\\Subscribed"),
            "box/test8/test8": want("\\Subscribed"),
            "box/test8/test9": want("\\Subscribed")},
            "%s: a deleted mailbox stays subscribed, \\NonExistent without \\Noselect" % fmt)
        check_list(s, 'LSUB "" box/test6', {"box/test6": want("\\Noselect")},
                   "%s: LSUB shows it \\Noselect" % fmt)
        check_list(s, 'LIST (subscribed recursivematch) "" box/test2% return (children)',
                   {"box/test2": want("\\HasChildren", childinfo=True)},
                   "%s: CHILDINFO for a child the pattern leaves out" % fmt)
        check_list(s, 'LIST "" box/% return (children subscribed)', {
            "box/test1": want("\\Subscribed", "\\HasNoChildren"),
            "box/test2": want("\\HasChildren"),
            "box/test3": want("\\HasNoChildren"),
            "box/test4": want("\\HasChildren"),
            "box/test7": want("\\HasChildren"),
            "box/test8": want("\\HasChildren")},
            "%s: RETURN (CHILDREN SUBSCRIBED)" % fmt)
        check_list(s, 'LIST (subscribed recursivematch) "" box*test7',
                   {"box/test7/test7": want("\\Subscribed")},
                   "%s: no CHILDINFO for a parent whose child is in the reply" % fmt)
        check_list(s, 'LIST (subscribed recursivematch) "" box*test8', {
            "box/test8": want(childinfo=True),
            "box/test8/test8": want("\\Subscribed")},
            "%s: CHILDINFO for the child left out, not the one listed" % fmt)
        check_list(s, 'LIST (subscribed recursivematch) "" (box/test2)',
                   {"box/test2": want(childinfo=True)},
                   "%s: CHILDINFO with a pattern list" % fmt)
        check_list(s, 'LIST (subscribed recursivematch) "" (box/test2 box/test2/test1)',
                   {"box/test2/test1": want("\\Subscribed")},
                   "%s: no CHILDINFO when the only child matches another pattern" % fmt)
        check_list(s, 'LIST "" (box/test7 box/test7/test7)', {
            "box/test7": want(), "box/test7/test7": want()},
            "%s: two patterns, both listed" % fmt)
        cmd_ok(s, "CREATE box/test6")
        check_list(s, 'LIST (subscribed) "" box/test6', {"box/test6": want("\\Subscribed")},
                   "%s: made again, it is still subscribed" % fmt)
    finally:
        s.close()
        env.cleanup()


def rfc5258_examples(fmt):
    env = yubin.Env(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    try:
        # §5 example 1's hierarchy; example 2's subscriptions, Fruit/Peach
        # deleted after it was subscribed
        for c in ("Fruit", "Fruit/Apple", "Fruit/Banana", "Fruit/Peach", "Tofu",
                  "Vegetable", "Vegetable/Broccoli", "Vegetable/Corn"):
            cmd_ok(s, "CREATE %s" % c)
        for c in ("Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"):
            cmd_ok(s, "SUBSCRIBE %s" % c)
        cmd_ok(s, "DELETE Fruit/Peach")
        everything = {"INBOX": want("\\HasNoChildren"), "Fruit": want("\\HasChildren"),
                      "Fruit/Apple": want("\\HasNoChildren"),
                      "Fruit/Banana": want("\\HasNoChildren"), "Tofu": want("\\HasNoChildren"),
                      "Vegetable": want("\\HasChildren"),
                      "Vegetable/Broccoli": want("\\HasNoChildren"),
                      "Vegetable/Corn": want("\\HasNoChildren")}
        check_list(s, 'LIST "" "*"', everything, "%s: example 1, the hierarchy" % fmt)
        subscribed = {"INBOX": want("\\Subscribed"), "Fruit/Banana": want("\\Subscribed"),
                      "Fruit/Peach": want("\\Subscribed", "\\NonExistent"),
                      "Vegetable": want("\\Subscribed"),
                      "Vegetable/Broccoli": want("\\Subscribed")}
        check_list(s, 'LIST (SUBSCRIBED) "" "*"', subscribed,
                   "%s: example 2, LIST (SUBSCRIBED)" % fmt)
        top = {"INBOX": want("\\HasNoChildren"), "Fruit": want("\\HasChildren"),
               "Tofu": want("\\HasNoChildren"), "Vegetable": want("\\HasChildren")}
        check_list(s, 'LIST () "" "%" RETURN (CHILDREN)', top,
                   "%s: example 3, RETURN (CHILDREN)" % fmt)
        check_list(s, 'LIST (REMOTE) "" "%" RETURN (CHILDREN)', top,
                   "%s: example 4, REMOTE with no remote mailboxes" % fmt)
        check_list(s, 'LIST (REMOTE SUBSCRIBED) "" "*"', subscribed,
                   "%s: example 5, (REMOTE SUBSCRIBED)" % fmt)
        ret_sub = {"INBOX": want("\\Subscribed"), "Fruit": want(), "Fruit/Apple": want(),
                   "Fruit/Banana": want("\\Subscribed"), "Tofu": want(),
                   "Vegetable": want("\\Subscribed"),
                   "Vegetable/Broccoli": want("\\Subscribed"), "Vegetable/Corn": want()}
        check_list(s, 'LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)', ret_sub,
                   "%s: example 6, RETURN (SUBSCRIBED): no nonexistent name" % fmt)
        r = s.cmd('LSUB "" "*"')
        got = listed(r)
        t.ok(got.get("Fruit/Peach") == want("\\Noselect") and
             got.get("Fruit/Banana") == want(), "%s: LSUB of the same" % fmt, r)
        # example 7: several patterns
        for c in ("Sent/March2004", "Sent/December2003", "Sent/August2004", "Unlisted",
                  "Unlisted/Foo"):
            cmd_ok(s, "CREATE %s" % c)
        check_list(s, 'LIST "" (INBOX Drafts Sent/%)', {
            "INBOX": want(), "Drafts": want(), "Sent/August2004": want(),
            "Sent/December2003": want(), "Sent/March2004": want()},
            "%s: example 7, a list of patterns" % fmt,
            ignore={"INBOX"} | SPECIAL | set(everything) | set(subscribed))
        # example 8: \HasChildren
        for c in ("Foo", "Foo/Bar", "Foo/Baz", "Moo"):
            cmd_ok(s, "CREATE %s" % c)
        r = s.cmd('LIST "" "%" RETURN (CHILDREN)')
        got = listed(r)
        t.ok(got.get("Foo") == want("\\HasChildren") and
             got.get("Moo") == want("\\HasNoChildren"), "%s: example 8" % fmt, r)
        # example 9: RECURSIVEMATCH with "*2"
        for c in ("Foo2", "Foo2/Bar1", "Foo2/Bar2", "Baz2", "Baz2/Bar2", "Baz2/Bar22",
                  "Baz2/Bar222", "eps2", "eps2/mamba", "qux2/bar2"):
            cmd_ok(s, "CREATE %s" % c)
        for c in ("Foo2/Bar1", "Foo2/Bar2", "Baz2/Bar2", "Baz2/Bar22", "Baz2/Bar222", "eps2",
                  "eps2/mamba", "qux2/bar2"):
            cmd_ok(s, "SUBSCRIBE %s" % c)
        check_list(s, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*2"', {
            "Foo2": want(childinfo=True), "Foo2/Bar2": want("\\Subscribed"),
            "Baz2/Bar2": want("\\Subscribed"), "Baz2/Bar22": want("\\Subscribed"),
            "Baz2/Bar222": want("\\Subscribed"),
            "eps2": want("\\Subscribed", childinfo=True),
            "qux2/bar2": want("\\Subscribed")},
            "%s: example 9, CHILDINFO only for children the pattern leaves out" % fmt)
        cmd_ok(s, "SUBSCRIBE Baz2")
        check_list(s, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Baz2*"', {
            "Baz2": want("\\Subscribed", childinfo=True),
            "Baz2/Bar2": want("\\Subscribed"), "Baz2/Bar22": want("\\Subscribed"),
            "Baz2/Bar222": want("\\Subscribed")},
            "%s: a subscribed name with subscribed children says so, as Dovecot" % fmt)
        cmd_ok(s, "UNSUBSCRIBE Baz2")
        check_list(s, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%2"', {
            "Foo2": want(childinfo=True), "Baz2": want(childinfo=True),
            "eps2": want("\\Subscribed", childinfo=True), "qux2": want(childinfo=True)},
            "%s: example 9's names with \"%%2\"" % fmt)
        # a parent that does not exist, its child does
        cmd_ok(s, "CREATE music/rock")
        cmd_ok(s, "DELETE music")
        r = check_list(s, 'LIST "" "music" RETURN (CHILDREN)',
                       {"music": want("\\NonExistent", "\\HasChildren")},
                       "%s: a missing parent is \\NonExistent in an extended LIST" % fmt)
        r = s.cmd('LIST "" "music"')
        t.ok(listed(r).get("music", (set(),))[0] >= {"\\noselect"},
             "%s: and \\Noselect in a plain IMAP4rev1 LIST" % fmt, r)
    finally:
        s.close()
        env.cleanup()


for f in ("maildir", "mbox"):
    imaptest_listext(f)
    rfc5258_examples(f)
t.done()
