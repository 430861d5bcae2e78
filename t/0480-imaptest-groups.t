#!/usr/bin/env python3
"""imaptest's scripted groups (Dovecot's IMAP conformance suite, 71 files
read from ../shared/imaptest-tests/groups or $YUBIN_IMAPTEST_GROUPS, never
copied here) against imap-session on Maildir and on mbox: one TAP line per
group and format. A group needing a capability imap-session does not
advertise is skipped, naming it, as imaptest does; a group failing today
is TAP TODO with its reason (TODO below), so it shows in prove -v and
counts as "unexpectedly succeeded" once fixed. YUBIN_IMAPTEST_ONLY="a b"
runs only those groups. The runner itself: t/imaptest_groups.py, checked
by t/0481-imaptest-selftest.t."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
import imaptest_groups as runner  # noqa: E402

# The groups that fail today, and why; "name" for both formats, "name
# mbox" or "name maildir" for one. Take a line out when its fix lands.
TODO = {
}
FORMATS = ("maildir", "mbox")

top = runner.groups_dir()
if top is None:
    print("1..0 # SKIP imaptest's groups not found: set YUBIN_IMAPTEST_GROUPS to their "
          "directory (../shared/imaptest-tests/groups beside the source tree)")
    sys.exit(0)
only = os.environ.get("YUBIN_IMAPTEST_ONLY", "").split()
t = yubin.TAP()
counts = {}
for path in runner.group_files(top):
    name = os.path.basename(path)
    if only and name not in only:
        continue
    for fmt in FORMATS:
        result, why = runner.run_group(path, fmt)
        counts[fmt, result] = counts.get((fmt, result), 0) + 1
        todo = TODO.get("%s %s" % (name, fmt)) or TODO.get(name)
        runner.report(t, "%s on %s" % (name, fmt), result, why, todo)
for fmt in FORMATS:
    t.diag("%s: %d passed, %d failed, %d skipped" % (
        fmt, counts.get((fmt, "pass"), 0), counts.get((fmt, "fail"), 0), counts.get((fmt, "skip"), 0)))
t.done()
