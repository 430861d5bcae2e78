#!/usr/bin/env python3
# smtp-session with a milter that fails: its port closed, it never
# answers (milter_timeout), it says "progress" forever, it sends an
# oversized length, an unknown reply, a malformed modification, too many
# modifications, garbage at negotiation, or it disconnects in the middle
# of the body. Each time the message gets milter_default_action (tempfail:
# 451, accept: stored as if the milter were not there, reject: 550), the
# session neither crashes nor hangs, and nothing is half-stored: no
# mailbox or spool file for a refused message. Run under the sanitizer
# build too (YUBIN_BUILD).
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import milter  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
BIG = b"".join(b"line %06d of a long body\r\n" % i for i in range(8000))


def transcript(body=b"hello\r\n"):
    return (b"EHLO client.example.com\r\nMAIL FROM:<alice@example.net>\r\n"
            b"RCPT TO:<bob@example.org>\r\n"
            b"DATA\r\nSubject: fault\r\n\r\n" + body + b".\r\nQUIT\r\n")


def clear():
    for f in yubin.files_under(env.mail_root, env.spool):
        os.unlink(f)


def stored_files():
    return yubin.files_under(env.mail_root, env.spool)


def progress_forever(c):
    end = time.time() + 60
    try:
        while time.time() < end:
            c.sendall(milter.packet(milter.PROGRESS))
            time.sleep(0.3)
    except OSError:
        pass


CASES = [
    ("port closed", None, None),
    ("never answers at negotiation", {"O": [milter.HANG]}, None),
    ("garbage at negotiation", {"O": [milter.Raw(b"garbage, not a milter\r\n")]}, None),
    ("never answers at end of message", {"E": [milter.HANG]}, None),
    ("oversized length", {"E": [milter.Raw(b"\x7f\xff\xff\xff" + b"h" * 100)]}, None),
    ("length just past the bound", {"E": [milter.Raw(struct.pack(">I", 1024 * 1024 + 2) + b"b" * 4096)]},
     None),
    ("unknown reply code", {"M": [milter.Raw(milter.packet(b"Z"))]}, None),
    ("unterminated header modification", {"E": [milter.Raw(milter.packet(b"hX-A\0value"))]}, None),
    ("too many modifications", {"E": [[milter.addheader(b"X-N", b"%d" % i) for i in range(1001)] +
                                      [milter.CONTINUE]]}, None),
    ("disconnect mid-body", {"B": [milter.CONTINUE, milter.CLOSE]}, BIG),
    ("disconnect at RCPT", {"R": [milter.CLOSE]}, None),
]

for action, want in (("tempfail", b"451 4.7.1"), ("accept", b"250 2.0.0"), ("reject", b"550 5.7.1")):
    env.set(milter_default_action=action, milter_timeout="1s")
    cases = CASES + ([("progress forever", {"E": [progress_forever]}, None)] if action == "tempfail" else [])
    for name, script, body in cases:
        clear()
        m = None
        if script is None:
            spec = "inet:127.0.0.1:%d" % yubin.free_port()
        else:
            m = milter.Scripted(script)
            spec = m.spec
        env.set(milters=spec)
        t0 = time.time()
        out = env.run("smtp-session", transcript(body or b"hello\r\n"), timeout=120)
        took = time.time() - t0
        if m:
            m.close()
        replies = yubin.smtp_replies(out.stdout)
        clean = out.rc == 0 and b"Sanitizer" not in out.stderr and b"runtime error" not in out.stderr
        refused = any(r.startswith(want) for r in replies) and replies[-1].startswith(b"221")
        if action == "accept":
            good = refused and len(env.messages("bob@example.org")) == 1 and len(stored_files()) == 1
        else:
            good = refused and stored_files() == []
        t.ok(clean and good and took < 30, "%s, default %s: %s, %s, no crash (%.1fs)" %
             (name, action, want.decode(), "stored once" if action == "accept" else "nothing stored", took),
             (out.rc, replies, stored_files(), out.stderr[-700:]))

# A hostile milter sending the largest packets it may, as fast as it can
# (replacement body past max_message_size, header values past their
# bound), costs the session bounded memory: the default action, and a
# peak RSS far below what the milter sent.
def flood(kind):
    def send(c):
        big = b"x" * (1024 * 1024 - 8)
        try:
            for i in range(64):
                c.sendall(milter.packet(b"b" + big if kind == "body" else milter.addheader(b"X-Big", big)))
            c.sendall(milter.packet(milter.CONTINUE))
        except OSError:
            pass
    return send


env.set(milter_default_action="tempfail", milter_timeout="10s", max_message_size="8M")
for kind in ("body", "header"):
    clear()
    m = milter.Scripted({"E": [flood(kind)]})
    env.set(milters=m.spec)
    out, hwm = yubin.run_hwm(env, transcript(b"hello\r\n").replace(b"QUIT\r\n", b""), b"\r\n451 ")
    m.close()
    base_out, base_hwm = yubin.run_hwm(env, b"EHLO x\r\n", b"250 ")
    t.ok(b"451 4.7.1" in out and stored_files() == [] and hwm is not None and hwm - base_hwm < 16 * 1024,
         "%s flood of 64 MiB: default action, nothing stored, peak RSS +%d KiB" % (kind, (hwm or 0) - base_hwm),
         out[-300:])
t.done()
