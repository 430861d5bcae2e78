#!/usr/bin/env python3
"""relay-runner's delivery line (issue 11, defect 13): a recipient that
came from a client (a quoted local part may hold blanks and '=') is one
escaped to=<...> value and cannot make a field; a remote server's reply
stays free text in the parentheses that end the line, after every
field."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
FORGED = '"x peer=203.0.113.9 status=sent"@example.net'
SHOWN = r"\x22x\x20peer\x3d203.0.113.9\x20status\x3dsent\x22@example.net"
sink = relayenv.Sink(env, {"rcpt": {"bob@example.net": "550 5.1.1 status=sent peer=203.0.113.9"}})
try:
    relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
    ids = relayenv.enqueue(env, b"Subject: hi\n\nx\n", "alice@example.org",
                           [FORGED, "bob@example.net"])
    r = relayenv.runner(env)
    log = r.stderr.decode("utf-8", "replace")
    lines = [ln for ln in log.splitlines() if ": to=<" in ln]
    forged = [ln for ln in lines if "x22x" in ln]
    # relay-runner refuses the address (5.1.3); its line is what matters here.
    t.ok(r.rc == 0 and len(forged) == 1 and
         re.search(r"%s: to=<%s>, relay=\S+, status=\w+, tls=\S+ \(" % (ids[0], re.escape(SHOWN)),
                   forged[0]),
         "to=<...> holds the recipient escaped: one field", log)
    bob = [ln for ln in lines if "to=<bob@example.net>" in ln]
    t.ok(len(bob) == 1 and re.search(r"to=<bob@example\.net>, relay=127\.0\.0\.1\S*, "
                                     r"status=bounced, tls=none \(.*status=sent "
                                     r"peer=203\.0\.113\.9.*\)$", bob[0]),
         "the remote reply is free text inside the closing parentheses, after the fields", log)
    fields = [ln.split(" (", 1)[0] for ln in lines]
    t.ok(len(fields) == 2 and all(f.count("status=") == 1 and "peer=" not in f for f in fields),
         "before the reply text: one status= field per line and no peer= field", fields)
finally:
    sink.stop()
t.done()
