#!/usr/bin/env python3
"""relay-runner --list shows every queue file name whole: a name in
corrupt/ made of bytes that are all escaped (\\xHH, four characters
each) is printed in full, not cut to a shorter name that could be taken
for another file's."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
try:
    relayenv.runner(env, "--list")               # makes the directories
    name = b"\x01" * 200 + b"-end"
    corrupt = os.path.join(env.spool, "corrupt").encode()
    with open(os.path.join(corrupt, name), "wb") as f:
        f.write(b"not a queue file\n")
    r = relayenv.runner(env, "--list")
    out = r.stdout.decode()
    shown = "\\x01" * 200 + "-end"
    t.ok(r.rc == 0 and shown + "  (corrupt: kept for inspection)" in out,
         "a corrupt file's name is listed whole, escaped", out)
finally:
    env.cleanup()
t.done()
