#!/usr/bin/env python3
# run_as = uid:gid (issue 15): a session started as root switches to the
# written ids without the name service (no nsswitch.conf, /etc/passwd or
# nscd probe per session); the drop is the same (setgroups to the one
# group, setgid, setuid); uid 0 or gid 0 and malformed values are still
# refused before a byte is read. A name keeps working.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
if os.geteuid() != 0:
    t.skip("run_as as uid:gid", "needs root")
    t.done()
    sys.exit(0)
env = yubin.Env()
subprocess.run(["chmod", "-R", "a+rwX", env.mail_root, env.spool], check=False)
os.chmod(env.dir, 0o755)


def session(run_as, trace=False):
    env.set(run_as=run_as)
    argv = [yubin.binary("smtp-session"), "-c", env.conf_path]
    log = os.path.join(env.dir, "strace.log")
    if trace:
        argv = ["strace", "-f", "-qq", "-s", "200", "-o", log,
                "-e", "trace=open,openat,connect,setgroups,setgid,setuid,setresuid,setresgid"] + argv
    p = subprocess.run(argv, input=b"QUIT\r\n", capture_output=True, env=env.env(), timeout=60)
    calls = []
    if trace:
        calls = open(log).read().splitlines()
        os.unlink(log)
    return p, calls


p, calls = session("65534:65534", trace=True)
t.ok(b"221" in p.stdout, "run_as = 65534:65534: the session runs", p.stderr)
t.eq([c for c in calls if re.search(r'"/etc/(passwd|nsswitch\.conf|group)"|nscd', c)], [],
     "no name service lookup")
t.ok(any(re.search(r"setgroups\(1, \[65534\]\)\s+= 0", c) for c in calls) and
     any(re.search(r"setgid\(65534\)\s+= 0", c) for c in calls) and
     any(re.search(r"setuid\(65534\)\s+= 0", c) for c in calls),
     "groups, gid and uid dropped to the written ids", "\n".join(calls))
t.ok(any(re.search(r"setuid\(0\)\s+= -1", c) for c in calls), "and the drop checked to stick")

for bad, why in (("0:65534", "uid 0"), ("65534:0", "gid 0"), ("65534:", "not found"),
                 ("65534:x", "not found"), ("1234567890:1", "not found")):
    p, _ = session(bad)
    t.ok(b"221" not in p.stdout and b"220" not in p.stdout and why.encode() in p.stderr,
         "run_as = %s refused (%s)" % (bad, why), p.stderr)

p, _ = session("nobody")
t.contains(p.stdout, b"221", "run_as = nobody still works")
t.done()
