#!/usr/bin/env python3
"""login_deadline and session_deadline (issue 11, defect 4; S49): an
unauthenticated POP3 or IMAP client that keeps the session busy with a
command every half second, or trickles one byte at a time, is cut at
login_deadline with a BYE / -ERR and the process exits; a logged-in
session ends at session_deadline, in IDLE too, and POP3 removes nothing
then. Before the fix only the idle timers (60 s, 10 min) applied, which
such clients never let run out. The deadlines are small here; each check
waits for the answer (at most CAP seconds), never for a fixed time."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv(conf={"auth_fail_delay_ms": "10"})
USER = "alice@example.org"
PW = yubin.DEMO_PASSWORD
CAP = 30          # seconds a check may wait for the cut (the deadlines are 3 to 6 s)


def keep_busy(s, chunk, want, interval=0.5, cap=CAP):
    """Sends chunk every interval seconds until a line containing want
    comes (returned with the seconds since start), or EOF, or cap."""
    t0 = time.time()
    seen = []
    while time.time() - t0 < cap:
        try:
            s.send(chunk)
        except (BrokenPipeError, OSError):
            pass
        end = time.time() + interval
        while time.time() < end:
            try:
                line = s.readline(timeout=max(0.01, end - time.time()))
            except TimeoutError:
                break
            if want in line:
                return line, time.time() - t0, seen
            if line == b"":
                return b"", time.time() - t0, seen
            seen.append(line)
    return None, time.time() - t0, seen


def ends(s):
    """The process ends by itself after its last words: exit status 0."""
    try:
        while s.readline(timeout=CAP) != b"":
            pass
        s.p.wait(timeout=CAP)
    except Exception:  # noqa: BLE001 - a hang is the failure reported
        s.p.kill()
        s.p.wait()
        return None
    return s.close().rc


def check_cut(prog, what, chunk, want, deadline, first=None, interval=0.5):
    t0 = time.time()   # the session starts after this: its deadline too
    s = env.start(prog)
    s.readline(timeout=CAP)
    if first:
        s.send(first)
    line, _, seen = keep_busy(s, chunk, want, interval)
    took = time.time() - t0
    t.ok(line is not None and want in line and took >= deadline - 0.1,
         "%s: %s: cut by %r after %.1f s (deadline %d s)" % (prog, what, want, took, deadline),
         (line, seen[-5:]))
    rc = ends(s)
    t.ok(rc == 0, "%s: %s: the process exits (0) after it" % (prog, what), rc)


# --- before login --------------------------------------------------------------
env.set(login_deadline="3s", session_deadline="0")
check_cut("imap-session", "a NOOP every 0.5 s before login", b"a NOOP\r\n",
          b"* BYE Login deadline passed", 3)
check_cut("imap-session", "one byte every 0.3 s of an endless line", b"x",
          b"* BYE Login deadline passed", 3, first=b"a NOOP", interval=0.3)
check_cut("pop3-session", "a CAPA every 0.5 s before login", b"CAPA\r\n",
          b"-ERR Login deadline passed, closing", 3)
check_cut("pop3-session", "one byte every 0.3 s of an endless line", b"x",
          b"-ERR Login deadline passed, closing", 3, first=b"USER ", interval=0.3)

# A login in time is untouched by login_deadline: NOOPs go on until 5 s
# after the start, past the 3 s, and are answered.
s = env.start("imap-session")
t0 = time.time()
s.readline(timeout=CAP)
s.send('a LOGIN %s "%s"\r\n' % (USER, PW))
ok = s.readline(timeout=CAP)
line, took, seen = keep_busy(s, b"b NOOP\r\n", b"BYE", cap=max(0, 5 - (time.time() - t0)))
t.ok(ok.startswith(b"a OK") and line is None and time.time() - t0 >= 5
     and sum(1 for x in seen if x.startswith(b"b OK")) >= 3,
     "imap-session: logged in within login_deadline, NOOPs answered past it", (ok, line, seen[-3:]))
s.send(b"c LOGOUT\r\n")
s.close()

# --- after login: session_deadline -----------------------------------------------
env.set(login_deadline="0", session_deadline="6s")
t0 = time.time()
s = env.start("imap-session")
s.readline()
s.send('a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc IDLE\r\n' % (USER, PW))
got = []
line = None
while time.time() - t0 < CAP:
    try:
        line = s.readline(timeout=CAP)
    except TimeoutError:
        break
    got.append(line)
    if line == b"" or line.startswith(b"* BYE"):
        break
took = time.time() - t0
t.ok(any(g.startswith(b"a OK") for g in got) and any(g.startswith(b"+ idling") for g in got)
     and line == b"* BYE Session deadline passed\r\n" and took >= 5.9,
     "imap-session: IDLE ends at session_deadline with * BYE (%.1f s, deadline 6 s)" % took, got)
t.ok(ends(s) == 0, "imap-session: the IDLE session's process exits (0)")

# POP3: logged in, DELE, then busy with NOOPs past the deadline: nothing removed.
box = env.maildir(USER)
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(box, sub), exist_ok=True)
with open(os.path.join(box, "new", "1700000000.M1P1.mx.example.org"), "wb") as f:
    f.write(b"From: a@example.net\r\nSubject: keep me\r\n\r\nbody\r\n")
env.write_conf()
t0 = time.time()
s = env.start("pop3-session")
s.readline()
s.send("USER %s\r\nPASS %s\r\nDELE 1\r\n" % (USER, PW))
answers = [s.readline(timeout=CAP), s.readline(timeout=CAP), s.readline(timeout=CAP)]
line, _, seen = keep_busy(s, b"NOOP\r\n", b"-ERR Session deadline passed, closing")
took = time.time() - t0
t.ok(answers[1].startswith(b"+OK") and answers[2].startswith(b"+OK") and line is not None
     and took >= 5.9,
     "pop3-session: NOOPs after login end at session_deadline with -ERR (%.1f s)" % took,
     (answers, line, seen[-3:]))
t.ok(ends(s) == 0, "pop3-session: the process exits (0)")
t.eq(len(env.messages(USER)), 1, "pop3-session: the message marked deleted is still there")

# The keys parse; 0 means none (checked above: session_deadline = 0, login_deadline = 0).
t.done()
