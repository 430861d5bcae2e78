#!/usr/bin/env python3
"""Storage under concurrency and failure, through the test-mailbox helper
(t/unit/test-mailbox.c, `deliver` mode: N forked deliveries released at
one barrier):
  - 100 concurrent Maildir deliveries: 100 distinct, parsable, complete files (S63, S71)
  - deliveries killed with SIGKILL mid-write: nothing partial in new/ (S62, S63)
  - 50 concurrent mbox appends: parses back into exactly 50 messages (S66)
  - disk full during delivery: ENOSPC, nothing visible, mbox byte-identical (S65)
  - a reader and a flag-renamer looping while 200 deliveries arrive: no
    message ever seems to vanish, none is read partial (S64)
  - under strace: write, fsync(file), link, fsync(new/) in that order; an
    injected fsync failure leaves nothing visible (S62)
"""
import mailbox
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

HELPER = os.path.join(yubin.BUILD, "t", "unit", "test-mailbox")
MDHELPER = os.path.join(yubin.BUILD, "t", "unit", "test-maildir")
NAME_RE = re.compile(r"^(\d+)\.M(\d{6})P(\d+)R([0-9a-f]{16})\.[^,:/]+,S=(\d+),W=(\d+)$")

t = yubin.TAP()
top = tempfile.mkdtemp(prefix="yubin-0020-")
# LeakSanitizer cannot run under ptrace: sanitizer builds under strace
# check everything else.
NOLEAK = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))


def deliver(root, fmt, n, size=1000, fsize=0, addr="alice@example.org"):
    """Runs n concurrent deliveries; returns {index: 'ok' or errno name}."""
    out = subprocess.run([HELPER, "deliver", root, fmt, str(n), addr, str(size), str(fsize)],
                         capture_output=True, timeout=50)
    res = {}
    for line in out.stdout.decode().splitlines():
        i, what = line.split()
        res[int(i)] = what
    return res


def bare_lf(data):
    return data.count(b"\n") - data.count(b"\r\n")


def check_maildir_files(d, name):
    """Every file in new/ has a parsable unique name and matches its S=/W=."""
    names = sorted(os.listdir(os.path.join(d, "new")))
    bad = []
    for f in names:
        m = NAME_RE.match(f)
        data = open(os.path.join(d, "new", f), "rb").read()
        if not m or int(m.group(5)) != len(data) or int(m.group(6)) != len(data) + bare_lf(data) \
                or not re.search(rb"end of message \d+\n$", data):
            bad.append(f)
    t.ok(not bad, name, bad[:5])
    return names


try:
    # S63, S71: 100 deliveries released at once, same second, same host.
    root = os.path.join(top, "md")
    res = deliver(root, "maildir", 100)
    t.eq(sorted(res.values()).count("ok"), 100, "100 concurrent Maildir deliveries all succeed (S63)")
    d = os.path.join(root, "example.org", "alice")
    names = check_maildir_files(d, "every file in new/ parses as <sec>.M<usec>P<pid>R<rand>.<host>,S=,W= "
                                   "and matches its sizes (S63)")
    t.eq(len(names), 100, "exactly 100 files in new/ (none lost, none overwritten) (S63)")
    t.eq(len(set(n.split(",")[0] for n in names)), 100, "100 distinct unique parts (S71)")
    t.eq(os.listdir(os.path.join(d, "tmp")), [], "tmp/ empty after the deliveries")
    subjects = set()
    for f in names:
        m = re.search(rb"Subject: message (\d+)\n", open(os.path.join(d, "new", f), "rb").read())
        subjects.add(int(m.group(1)) if m else -1)
    t.eq(subjects, set(range(100)), "each of the 100 messages is there once")

    # S62/S63: SIGKILL at random points of 2 MB deliveries.
    root = os.path.join(top, "kill")
    t.eq(deliver(root, "maildir", 1), {0: "ok"}, "one delivery before the kills")
    d = os.path.join(root, "example.org", "alice")
    for delay in (0.02, 0.05, 0.1, 0.2):
        p = subprocess.Popen([HELPER, "deliver", root, "maildir", "10", "alice@example.org",
                              str(2 << 20), "0"], stdout=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    names = check_maildir_files(d, "after SIGKILL mid-delivery, new/ holds only complete messages (S62, S63)")
    t.diag("%d in new/, %d left in tmp/" % (len(names), len(os.listdir(os.path.join(d, "tmp")))))
    res = deliver(root, "maildir", 3)
    t.eq(list(res.values()), ["ok"] * 3, "deliveries work again after the kills")

    # S66: 50 concurrent mbox appends.
    root = os.path.join(top, "mb")
    res = deliver(root, "mbox", 50)
    t.eq(sorted(res.values()).count("ok"), 50, "50 concurrent mbox appends all succeed (S66)")
    inbox = os.path.join(root, "example.org", "alice", "INBOX")
    raw = open(inbox, "rb").read()
    box = mailbox.mbox(inbox)
    msgs = list(box)
    t.eq(len(msgs), 50, "mbox parses back into exactly 50 messages (S66)")
    t.eq(sorted(int(m["Subject"].split()[1]) for m in msgs), list(range(50)),
         "each message once, none interleaved (S66)")
    t.eq(raw.count(b"\n>From the body of message"), 50, "body From lines quoted (mboxrd)")
    t.eq(len(re.findall(rb"^From sender@example\.com ", raw, re.M)), 50, "50 From_ lines, one per message")
    t.ok(raw.endswith(b"\n\n"), "file ends with the separating blank line")
    t.eq(sorted(os.listdir(os.path.dirname(inbox))), ["INBOX"], "no dotlock or lock temp file left")
    box.close()

    # S65: a full file system. As root a 1 MB tmpfs; otherwise RLIMIT_FSIZE
    # (EFBIG at a chosen byte) stands in for the full disk.
    fs = os.path.join(top, "full")
    os.mkdir(fs)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", fs],
        capture_output=True).returncode == 0
    try:
        want = "ENOSPC" if mounted else "EFBIG"
        how = "1 MB tmpfs" if mounted else "RLIMIT_FSIZE"
        fsize = 0 if mounted else 300000
        root = os.path.join(fs, "mail")
        res = deliver(root, "maildir", 1, size=2 << 20, fsize=fsize)
        t.eq(res, {0: want}, "Maildir delivery on a full disk fails with %s (%s) (S65)" % (want, how))
        d = os.path.join(root, "example.org", "alice")
        t.eq((os.listdir(os.path.join(d, "new")), os.listdir(os.path.join(d, "tmp"))), ([], []),
             "nothing visible in new/, tmp file removed (S65)")
        t.eq(deliver(root, "maildir", 1, size=1000), {0: "ok"}, "a small delivery succeeds afterwards")

        res = deliver(root, "mbox", 1, size=1000, addr="bob@example.org")
        inbox = os.path.join(root, "example.org", "bob", "INBOX")
        before = open(inbox, "rb").read()
        res = deliver(root, "mbox", 1, size=2 << 20, fsize=fsize, addr="bob@example.org")
        t.eq(res, {0: want}, "mbox append on a full disk fails with %s (S65)" % want)
        t.ok(open(inbox, "rb").read() == before, "mbox byte-identical after the failed append (S65)")
        t.eq(sorted(os.listdir(os.path.dirname(inbox))), ["INBOX"], "lock released after the failure")
        t.eq(deliver(root, "mbox", 1, size=1000, addr="bob@example.org"), {0: "ok"},
             "mbox delivery succeeds once there is room")
        t.eq(len(mailbox.mbox(inbox)), 2, "mbox holds exactly the two good messages")
    finally:
        if mounted:
            subprocess.run(["umount", fs], check=False)

    # S64: readers and a flag-renamer while deliveries run.
    root = os.path.join(top, "s64")
    t.eq(sorted(deliver(root, "maildir", 50).values()).count("ok"), 50, "50 messages to start with")
    d = os.path.join(root, "example.org", "alice")
    # They run until their stdin closes (at most 40 s), so they overlap
    # every delivery however slow the machine is.
    loops = [subprocess.Popen([MDHELPER, mode, d, "40"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for mode in ("churn", "read", "read")]
    time.sleep(0.3)
    res = deliver(root, "maildir", 200)
    time.sleep(0.3)
    stats = []
    for p in loops:
        out, _ = p.communicate(timeout=50)
        stats.append(dict(kv.split("=") for kv in out.decode().split()))
    t.eq(sorted(res.values()).count("ok"), 200, "200 deliveries during the churn succeed")
    churn, readers = stats[0], stats[1:]
    t.diag("churn %s; readers %s" % (churn, readers))
    t.ok(int(churn["ops"]) > 0 and churn["errors"] == "0" and churn["vanished"] == "0",
         "flag renames follow each other's moves (S64)", churn)
    t.ok(all(int(r["ops"]) > 0 and r["vanished"] == "0" for r in readers),
         "readers never see a message vanish while it is renamed (S64)", readers)
    t.ok(all(s["missed"] == "0" for s in stats),
         "no scan misses a message that is being renamed (S64)", stats)
    t.ok(all(r["partial"] == "0" and r["errors"] == "0" for r in readers),
         "readers never see a partial message: size always S=, CRLF size W= (S63)", readers)
    names = os.listdir(os.path.join(d, "cur")) + os.listdir(os.path.join(d, "new"))
    t.eq((len(names), len(set(n.split(",")[0] for n in names))), (250, 250),
         "all 250 messages there once each after the churn")

    # S62: the order of operations, and injected fsync failures.
    root = os.path.join(top, "order")
    t.eq(deliver(root, "maildir", 1), {0: "ok"}, "mailbox created")
    d = os.path.join(root, "example.org", "alice")
    trace = os.path.join(top, "strace.out")
    subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=write,pwrite64,fsync,linkat,renameat2",
                    HELPER, "deliver", root, "maildir", "1", "alice@example.org", "100000", "0"],
                   capture_output=True, timeout=30, check=True, env=NOLEAK)
    calls = [re.sub(r"^\d+\s+", "", line) for line in open(trace)]
    link = [i for i, c in enumerate(calls) if c.startswith(("linkat", "renameat2"))]
    sync = [i for i, c in enumerate(calls) if c.startswith("fsync")]
    done = [i for i, c in enumerate(calls) if c.startswith("write") and "0 ok" in c]
    ok = len(link) == 1 and len(done) >= 1 and any(i < link[0] for i in sync) \
        and any(link[0] < i < done[0] for i in sync)
    t.ok(ok, "Maildir: write, fsync(file), link into new/, fsync(new/), then success (S62)", calls[-12:])
    if ok:
        last_sync = max(i for i in sync if i < link[0])
        t.ok(not any(c.startswith(("write", "pwrite")) for c in calls[last_sync:link[0]]),
             "nothing written between the file's fsync and the link (S62)", calls[last_sync:link[0] + 1])
    before = sorted(os.listdir(os.path.join(d, "new")))
    for n, what in ((1, "the file's fsync"), (2, "new/'s fsync")):
        out = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                              "-e", "inject=fsync:error=EIO:when=%d" % n,
                              HELPER, "deliver", root, "maildir", "1", "alice@example.org", "1000", "0"],
                             capture_output=True, timeout=30, env=NOLEAK)
        t.eq(out.stdout.decode().split(), ["0", "EIO"], "Maildir: %s fails → EIO reported (S62)" % what)
        t.eq((sorted(os.listdir(os.path.join(d, "new"))), os.listdir(os.path.join(d, "tmp"))), (before, []),
             "Maildir: %s fails → nothing new visible, tmp/ clean (S62)" % what)
    t.eq(deliver(root, "mbox", 1, addr="bob@example.org"), {0: "ok"}, "mbox created")
    inbox = os.path.join(root, "example.org", "bob", "INBOX")
    before = open(inbox, "rb").read()
    out = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:error=EIO:when=1",
                          HELPER, "deliver", root, "mbox", "1", "bob@example.org", "1000", "0"],
                         capture_output=True, timeout=30, env=NOLEAK)
    t.eq(out.stdout.decode().split(), ["0", "EIO"], "mbox: fsync fails → EIO reported (S62)")
    t.ok(open(inbox, "rb").read() == before, "mbox: fsync fails → truncated back, byte-identical (S62)")
finally:
    shutil.rmtree(top, ignore_errors=True)
t.done()
