#!/usr/bin/env python3
"""QUOTA (RFC 9208) on Maildir and mbox with quota_storage: the
capability is advertised only with a quota; GETQUOTAROOT and GETQUOTA give
the bytes stored in every folder (counted from the files, in units of
1024 octets) and the limit; SETQUOTA answers NO; an APPEND or COPY that would pass the
quota answers NO [OVERQUOTA] with nothing stored, while one that fits is stored."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, append_ok  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()


def msg(n, size):
    head = b"From: bob@example.org\r\nSubject: q%d\r\n\r\n" % n
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def stored_bytes(env, fmt):
    """Bytes of every message file of the user, read from the disk."""
    total = 0
    for top, dirs, files in os.walk(env.maildir(U)):
        rel = os.path.basename(top)
        for f in files:
            if fmt == "mbox":
                if not f.startswith(".") and not f.endswith(".lock"):
                    total += os.path.getsize(os.path.join(top, f))
            elif rel in ("cur", "new"):
                total += os.path.getsize(os.path.join(top, f))
    return total


def quota_line(resp):
    m = re.search(rb'\* QUOTA "" \(STORAGE (\d+) (\d+)\)', resp)
    return (int(m.group(1)), int(m.group(2))) if m else None


def run(fmt):
    env = yubin.CleanEnv(conf={"mailbox_format": fmt, "quota_storage": "8K"})
    s = Raw(env, login=U)
    caps = s.cmd("CAPABILITY")
    t.contains(caps, b" QUOTA QUOTA=RES-STORAGE", fmt + ": QUOTA advertised")
    append_ok(s, "INBOX", msg(1, 3000))
    used = stored_bytes(env, fmt)
    t.ok(used >= 2900, fmt + ": one message on disk", used)
    r = s.cmd("GETQUOTAROOT INBOX")
    t.contains(r, b'* QUOTAROOT INBOX ""\r\n', fmt + ": GETQUOTAROOT names the root")
    t.eq(quota_line(r), (used // 1024, 8), fmt + ": GETQUOTAROOT usage is the bytes stored")
    r = s.cmd('GETQUOTA ""')
    t.eq(quota_line(r), (used // 1024, 8), fmt + ": GETQUOTA usage is the bytes stored")
    t.eq(tagged(r).split()[1], b"OK", fmt + ": GETQUOTA OK")
    r = s.cmd('GETQUOTA "other"')
    t.eq(tagged(r).split()[1], b"NO", fmt + ": unknown quota root NO")
    r = s.cmd('SETQUOTA "" (STORAGE 100000)')
    t.eq(tagged(r).split()[1], b"NO", fmt + ": SETQUOTA NO")
    append_ok(s, "INBOX", msg(2, 3000))
    used2 = stored_bytes(env, fmt)
    r = s.cmd('GETQUOTA ""')
    t.eq(quota_line(r), (used2 // 1024, 8), fmt + ": usage follows the second APPEND")
    m3 = msg(3, 3000)
    r = s.cmd(b"APPEND INBOX {%d+}\r\n%s" % (len(m3), m3))
    t.ok(tagged(r).split()[1:3] == [b"NO", b"[OVERQUOTA]"], fmt + ": APPEND over quota NO [OVERQUOTA]", r)
    t.eq(stored_bytes(env, fmt), used2, fmt + ": nothing stored by the refused APPEND")
    t.eq(tagged(s.cmd("CREATE Other")).split()[1], b"OK", fmt + ": CREATE Other")
    s.cmd("SELECT INBOX")
    r = s.cmd("COPY 1 Other")
    t.ok(tagged(r).split()[1:3] == [b"NO", b"[OVERQUOTA]"], fmt + ": COPY over quota NO [OVERQUOTA]", r)
    t.eq(stored_bytes(env, fmt), used2, fmt + ": nothing stored by the refused COPY")
    r = s.cmd("MOVE 1 Other")
    t.eq(tagged(r).split()[1], b"OK", fmt + ": MOVE within the user is not refused")
    r = s.cmd('GETQUOTA ""')
    moved = stored_bytes(env, fmt)
    t.eq(quota_line(r), (moved // 1024, 8), fmt + ": usage counts every folder")
    s.close()
    env2 = yubin.CleanEnv(conf={"mailbox_format": fmt})
    s = Raw(env2, login=U)
    t.ok(b"QUOTA" not in s.cmd("CAPABILITY"), fmt + ": no QUOTA without quota_storage")
    s.close()


for fmt in ("maildir", "mbox"):
    run(fmt)
t.done()
