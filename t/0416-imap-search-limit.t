#!/usr/bin/env python3
"""imap-session command costs on a big mailbox (covers S51): STORE 1:* on
20,000 messages finishes with bounded memory and is on disk before OK;
SEARCH over message content stops with NO [LIMIT] (RFC 5530) once it has
spent imap_search_max_bytes or imap_search_budget (CPU time), in every
form (SEARCH, UID SEARCH, ESEARCH, SEARCHRES "$", IMAP4rev2), while
searches by flags, UIDs, sizes and dates are never cut off; the session
goes on (NOOP, IDLE, FETCH) after a NO [LIMIT]; a search that waits
ends after 4 x the budget of real time. Maildir, then mbox."""
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

N = 20000
U = "alice@example.org"
t = yubin.TAP()
if os.path.basename(os.path.normpath(yubin.BUILD)) == "san":
    # ASan keeps freed blocks (256 MB by default) to catch use after free;
    # the peak-memory checks below measure the server, not that quarantine.
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8"
env = yubin.Env()


def fill(env):
    """N small messages in new/, named as a delivery names them (sizes in
    the name), written directly: a delivery each would take minutes."""
    d = env.maildir(U)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for i in range(N):
        data = (b"From: bob@example.org\nTo: alice@example.org\nSubject: bulk %d\n"
                b"Date: Thu, 26 Nov 2026 10:00:00 +0000\n\nbody %d\n" % (i, i)
                + b"a line of filler text that the search has to read\n" * 16)
        name = "%d.M%dP1.bulk,S=%d,W=%d" % (1700000000 + i, i, len(data),
                                           len(data) + data.count(b"\n"))
        with open(os.path.join(d, "new", name), "wb") as f:
            f.write(data)
    if os.geteuid() == 0:  # sessions run as nobody
        subprocess.run(["chmod", "-R", "a+rwX", env.mail_root], check=True)


def bulk(r, line, timeout=60):
    """Sends a command, returns (response, seconds). Reads in big chunks:
    a 20,000-line answer line by line would cost the client more than the
    server."""
    r.n += 1
    tag = b"b%d" % r.n
    t0 = time.time()
    r.send(tag + b" " + line.encode() + b"\r\n")
    p = r.s.p
    chunks, tail = [r.s.buf], r.s.buf
    r.s.buf = b""
    pat = re.compile(rb"(?:^|\r\n)" + tag + rb" [^\r\n]*\r\n")
    deadline = t0 + timeout
    while not pat.search(tail):
        left = deadline - time.time()
        if left <= 0:
            break
        ready, _, _ = select.select([p.stdout.fileno()], [], [], left)
        if not ready:
            continue
        chunk = os.read(p.stdout.fileno(), 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        tail = tail[-200:] + chunk
    return b"".join(chunks), time.time() - t0


def status(r, field):
    """A field of /proc/PID/status of the session, in kB."""
    with open("/proc/%d/status" % r.s.p.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def verdict_of(resp):
    return tagged(resp).split(b" ", 2)[1] if tagged(resp).count(b" ") else b""


def session():
    r = Raw(env, U)
    resp, took = bulk(r, "SELECT INBOX", 120)
    assert b"* %d EXISTS" % N in resp, resp[-300:]
    return r


def finish(r):
    """Closes the session; its standard error (log lines)."""
    p = r.s.p
    p.stdin.close()
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return err


LIMIT = b"NO [LIMIT] Search too expensive"
try:
    fill(env)
    d = env.maildir(U)

    # Default settings: a full-text search of the whole mailbox runs to the
    # end (the default budget is far above what it needs).
    r = session()
    resp, took = bulk(r, "SEARCH TEXT zzz-nowhere", 120)
    t.ok(verdict_of(resp) == b"OK" and b"* SEARCH\r\n" in resp,
         "S51: SEARCH TEXT over %d messages with the default budget completes (%.1fs)"
         % (N, took), resp[-200:])

    # STORE 1:* on every message: one rename each, FETCH FLAGS for each.
    hwm0 = status(r, "VmHWM")
    resp, took = bulk(r, "STORE 1:* +FLAGS (\\Seen)", 120)
    hwm1 = status(r, "VmHWM")
    t.ok(verdict_of(resp) == b"OK" and took < 60,
         "S51: STORE 1:* +FLAGS (\\Seen) on %d messages completes in %.1fs" % (N, took),
         resp[-200:])
    t.eq(len(re.findall(rb"\* \d+ FETCH \(FLAGS \(\\Seen( \\Recent)?\)\)", resp)), N,
         "S51: a FETCH FLAGS (\\Seen) for each message")
    t.ok(0 < hwm1 and hwm1 - hwm0 < 64 * 1024,
         "S51: STORE on %d messages: peak memory grows by %d kB (< 64 MB)" % (N, hwm1 - hwm0))
    seen = [n for n in os.listdir(os.path.join(d, "cur")) if n.endswith(":2,S")]
    t.eq(len(seen) + len(os.listdir(os.path.join(d, "new"))), N,
         "S51: after OK every message is renamed to :2,S in cur/")
    t.eq(len(seen), N, "S51: no message left in new/ or without S")
    resp, took = bulk(r, "STORE 1:* -FLAGS.SILENT (\\Seen)", 120)
    t.ok(verdict_of(resp) == b"OK" and took < 60 and b"FETCH" not in resp,
         "S51: STORE 1:* -FLAGS.SILENT on %d messages in %.1fs" % (N, took), resp[-200:])
    finish(r)

    # A second session sees the flags on disk.
    r = session()
    resp, took = bulk(r, "SEARCH RETURN (COUNT) UNSEEN")
    t.ok(b"COUNT %d\r\n" % N in resp, "another session sees all %d unseen" % N, resp[-200:])
    finish(r)

    # A tiny byte budget: content searches stop, cheap ones never do.
    env.set(imap_search_max_bytes="64k", imap_search_budget="1s")
    r = session()
    cheap = [
        ("SEARCH RETURN (COUNT) UNSEEN", b"COUNT %d" % N),
        ("UID SEARCH RETURN (COUNT) UID 1:*", b"COUNT %d" % N),
        ("SEARCH RETURN (COUNT) LARGER 100 NOT DELETED", b"COUNT %d" % N),
        ("SEARCH RETURN (COUNT) SINCE 1-Jan-2000 NOT KEYWORD $Junk", b"COUNT %d" % N),
        ("SEARCH RETURN (COUNT) OR FLAGGED NOT ANSWERED", b"COUNT %d" % N),
        ("SEARCH RETURN (SAVE) ALL", None),
        ("SEARCH RETURN (COUNT) $", b"COUNT %d" % N),
        ("UID SEARCH RETURN (COUNT) UID $", b"COUNT %d" % N),
        ("SEARCH RETURN (COUNT) 1:10 SUBJECT bulk", b"COUNT 10"),
    ]
    for line, want in cheap:
        resp, took = bulk(r, line)
        t.ok(verdict_of(resp) == b"OK" and (want is None or want in resp) and took < 30,
             "S51: not cut off with a 64k budget: %s (%.2fs)" % (line, took), resp[-200:])

    expensive = [
        "SEARCH TEXT zzz",
        "UID SEARCH BODY zzz",
        "SEARCH RETURN (MIN MAX COUNT) SUBJECT zzz",
        "UID SEARCH RETURN (ALL) HEADER X-Spam yes",
        "SEARCH CHARSET UTF-8 OR TEXT zzz SENTBEFORE 1-Jan-2000",
        "SEARCH UNSEEN SENTSINCE 1-Jan-2030",
    ]
    for line in expensive:
        resp, took = bulk(r, line)
        t.eq(tagged(resp).split(b" ", 1)[1], LIMIT, "S51: %s on %d messages" % (line, N))
        t.ok(b"SEARCH" not in resp.replace(tagged(resp), b""),
             "S51: no (partial) result before NO [LIMIT]: %s" % line, resp[:200])

    # SEARCHRES: "$" holds the last result; a SAVE cut off leaves it empty.
    resp, _ = bulk(r, "SEARCH RETURN (SAVE) ALL")
    resp, _ = bulk(r, "UID SEARCH RETURN (SAVE) $ TEXT zzz")
    t.ok(b"NO [LIMIT]" in resp, "S51: SEARCH $ TEXT with SAVE is cut off", resp)
    resp, _ = bulk(r, "FETCH $ (UID)")
    t.ok(verdict_of(resp) == b"OK" and b"FETCH" not in resp.replace(tagged(resp), b""),
         "S51: after a cut-off SAVE, $ is empty", resp)
    resp, _ = bulk(r, "SEARCH RETURN (SAVE) 1:3 BODY filler")
    resp, _ = bulk(r, "FETCH $ (UID)")
    t.ok(b"OK" in tagged(resp) and len(re.findall(rb"\* \d+ FETCH", resp)) == 3,
         "a SAVE within the budget (3 messages) works", resp)

    # The session stays usable: NOOP, IDLE, FETCH, a small search.
    resp, _ = bulk(r, "NOOP")
    t.ok(verdict_of(resp) == b"OK", "NOOP after NO [LIMIT]", resp)
    r.send(b"i IDLE\r\n")
    cont = r.s.readline(10)
    r.send(b"DONE\r\n")
    done = r.read_response("i")
    t.ok(cont.startswith(b"+") and tagged(done) == b"i OK IDLE terminated",
         "IDLE after NO [LIMIT]", cont + done)
    resp, _ = bulk(r, "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.ok(verdict_of(resp) == b"OK" and b"Subject: bulk 0" in resp, "FETCH after NO [LIMIT]",
         resp)
    resp, _ = bulk(r, "SEARCH 2 SUBJECT bulk")
    t.ok(b"* SEARCH 2\r\n" in resp, "a search within the budget after NO [LIMIT]", resp)

    # IMAP4rev2 answers ESEARCH; the limit holds the same.
    resp, _ = bulk(r, "ENABLE IMAP4rev2")
    resp, _ = bulk(r, "SEARCH TEXT zzz")
    t.eq(tagged(resp).split(b" ", 1)[1], LIMIT, "S51: IMAP4rev2 SEARCH TEXT is cut off")
    err = finish(r)
    t.ok(b"stopped by imap_search_max_bytes" in err,
         "the cut is logged with the limit that was reached", err[-300:])

    # CPU time: with no byte limit, a search that would take far more than
    # imap_search_budget (300 full-text keys per message) is stopped after
    # about that much CPU time.
    env.set(imap_search_max_bytes="0", imap_search_budget="1s")
    r = session()
    keys = " ".join("NOT TEXT zz%d" % i for i in range(300))
    resp, took = bulk(r, "SEARCH RETURN (COUNT) " + keys, 90)
    t.eq(tagged(resp).split(b" ", 1)[1], LIMIT,
         "S51: 300 TEXT keys x %d messages stopped by a 1s CPU budget" % N)
    t.ok(took < 45, "S51: ... in %.1fs wall time (generous bound for a loaded machine)" % took)
    resp, _ = bulk(r, "SEARCH RETURN (COUNT) SEEN")
    t.ok(b"COUNT 0" in resp and verdict_of(resp) == b"OK", "a cheap search after it", resp)
    err = finish(r)
    # CPU time on an idle machine; real time (4 x) if this one is so loaded
    # that the session got less than a quarter of a CPU.
    t.ok(re.search(rb"stopped by imap_search_budget \((CPU|real) time\)", err),
         "the budget is logged", err[-300:])

    # Real time: a search that waits (here: stopped by a signal, as it would
    # wait for a slow disk) ends after 4 x imap_search_budget of real time
    # although it spent little CPU time.
    r = session()
    pid = r.s.p.pid
    cpu0 = cpu_ticks(pid)
    r.send(b"w SEARCH RETURN (COUNT) " + keys.encode() + b"\r\n")
    deadline = time.time() + 30
    while cpu_ticks(pid) < cpu0 + 5 and time.time() < deadline:
        time.sleep(0.01)  # until the search is under way
    os.kill(pid, signal.SIGSTOP)
    time.sleep(5)
    os.kill(pid, signal.SIGCONT)
    resp = r.read_response("w", 60)
    t.eq(tagged(resp).split(b" ", 1)[1], LIMIT, "S51: a search held up for 5s of real time "
         "with a 1s budget is stopped")
    err = finish(r)
    t.ok(b"stopped by imap_search_budget (real time)" in err, "... by real time, logged",
         err[-300:])
finally:
    env.cleanup()

# The same on an mbox INBOX: flag changes are one write of the UID index.
env = yubin.Env(conf={"mailbox_format": "mbox", "imap_search_max_bytes": "64k"})
try:
    d = env.maildir(U)
    os.makedirs(d)
    with open(os.path.join(d, "INBOX"), "wb") as f:
        for i in range(N):
            f.write(b"From bob@example.org Thu Nov 26 10:00:00 2026\nFrom: bob@example.org\n"
                    b"Subject: bulk %d\n\nbody %d\n" % (i, i) + b"filler text\n" * 16 + b"\n")
    if os.geteuid() == 0:
        subprocess.run(["chmod", "-R", "a+rwX", env.mail_root], check=True)
    r = session()
    hwm0 = status(r, "VmHWM")
    resp, took = bulk(r, "STORE 1:* +FLAGS.SILENT (\\Seen)", 120)
    hwm1 = status(r, "VmHWM")
    t.ok(verdict_of(resp) == b"OK" and took < 60,
         "S51: mbox: STORE 1:* on %d messages in %.1fs" % (N, took), resp[-200:])
    t.ok(0 < hwm1 and hwm1 - hwm0 < 64 * 1024,
         "S51: mbox: peak memory grows by %d kB (< 64 MB)" % (hwm1 - hwm0))
    # the flags wait in the UID index beside the file until a rewrite
    with open(os.path.join(d, ".INBOX.yubin-uids"), "rb") as f:
        index = f.read()
    seen = [m for m in re.findall(rb"(?m)^\d+ [0-9a-f]{16} (\d+) (\d+)", index)
            if int(m[0]) & 8 and int(m[1]) & 8]
    t.eq(len(seen), N, "S51: mbox: every message is \\Seen in the index after OK")
    resp, _ = bulk(r, "SEARCH TEXT zzz")
    t.eq(tagged(resp).split(b" ", 1)[1], LIMIT, "S51: mbox: SEARCH TEXT cut off at 64k")
    resp, _ = bulk(r, "SEARCH RETURN (COUNT) SEEN")
    t.ok(b"COUNT %d" % N in resp, "mbox: a flag search is not", resp[-200:])
    finish(r)
finally:
    env.cleanup()
t.done()
