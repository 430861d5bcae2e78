#!/usr/bin/env python3
# Log lines under systemd: when fd 2 is the stream JOURNAL_STREAM names, each
# line starts with a "<N>" priority for journald (so `journalctl -p err` finds
# errors) and leaves NAME[PID] to the journal; otherwise the plain format.
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
SESSION = b"EHLO client.test\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@example.org>\r\nQUIT\r\n"


def run(prog, data, journal_of=None):
    """Runs prog with stderr to a file; JOURNAL_STREAM names journal_of's
    dev:ino ("self": the stderr file itself). Returns stderr."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as other:
        e = env.env()
        e.pop("JOURNAL_STREAM", None)
        if journal_of:
            st = os.fstat((err if journal_of == "self" else other).fileno())
            e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        subprocess.run([yubin.binary(prog), "-c", env.conf_path], input=data,
                       stdout=subprocess.DEVNULL, stderr=err, env=e, timeout=60)
        err.seek(0)
        return err.read().decode(errors="replace")


plain = run("smtp-session", SESSION)
t.ok(re.search(r"^smtp-session\[\d+\]: info: ", plain, re.M), "no journal: NAME[PID]: info:", plain)

journal = run("smtp-session", SESSION, journal_of="self")
lines = journal.splitlines()
t.ok(lines and all(re.match(r"<[0-7]>(error|warning|info|debug): ", ln) for ln in lines),
     "journal: every line starts with <N>level:", journal)
t.ok(re.search(r"^<6>info: ", journal, re.M), "journal: info lines at priority 6", journal)
t.ok("smtp-session[" not in journal, "journal: no NAME[PID] (journald records it)", journal)
t.ok(re.search(r"^<6>info: peer=\S+ disconnect ", journal, re.M), "journal: the prefix and text follow the level", journal)
t.ok(re.search(r"^<6>info: peer=\S+ rejected RCPT from=<a@example\.net> to=<nobody@example\.org>: user unknown$",
               journal, re.M), "a refused recipient is logged (user unknown)", journal)
relay = run("smtp-session", SESSION.replace(b"nobody@example.org", b"x@elsewhere.test"))
t.ok(re.search(r"rejected RCPT from=<a@example\.net> to=<x@elsewhere\.test>: relay access denied$", relay, re.M),
     "a refused recipient is logged (relay access denied)", relay)

elsewhere = run("smtp-session", SESSION, journal_of="other")
t.ok(re.search(r"^smtp-session\[\d+\]: ", elsewhere, re.M) and not re.search(r"^<\d>", elsewhere, re.M),
     "JOURNAL_STREAM of another file: plain format", elsewhere)

bad = run("pop3-session", b"USER nobody\r\nPASS wrong\r\nQUIT\r\n", journal_of="self")
t.ok(re.search(r"^<[0-6]>", bad, re.M) and "pop3-session[" not in bad, "pop3-session in the journal format too", bad)
t.done()
