#!/usr/bin/env python3
# CATENATE (RFC 4469) with a URL naming a mailbox name yubin refuses
# (S33: "..", a path out of the user's directory; "tmp"; an empty
# component) answers NO [BADURL] "Invalid mailbox name", the words
# other commands (SELECT here) give such a name, never "No such
# mailbox" (which tells a client the name could exist); a valid name
# not there is still "No such mailbox"; nothing is stored.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
for fmt in ("maildir", "mbox"):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt})
    s = Raw(env, login=U)
    s.cmd("CREATE Box")
    for name in ("..", "../x", "a/../../x", "tmp", "a//b"):
        r = s.cmd('APPEND Box CATENATE (URL "/%s/;UID=1" TEXT {4+}\r\nbody)' % name)
        last = tagged(r)
        t.ok(b"NO [BADURL" in last and b"Invalid mailbox name" in last,
             "%s: CATENATE URL of %r: NO [BADURL] Invalid mailbox name" % (fmt, name), r)
        r = s.cmd('SELECT "%s"' % name)
        t.ok(b"Invalid mailbox name" in tagged(r),
             "%s: SELECT %r: Invalid mailbox name (the same words)" % (fmt, name), r)
    r = s.cmd('APPEND Box CATENATE (URL "/Nope/;UID=1" TEXT {4+}\r\nbody)')
    t.ok(b"No such mailbox" in tagged(r), "%s: a valid name not there: No such mailbox" % fmt, r)
    r = s.cmd("STATUS Box (MESSAGES)")
    t.contains(r, b"MESSAGES 0", "%s: nothing stored" % fmt)
    s.close()
t.done()
