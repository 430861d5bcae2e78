#!/usr/bin/env python3
# smtp-session: limits and durability. Long lines in every state, message
# size at MAIL and while streaming, a 50 MB message with bounded memory, the
# idle timeout, the free-space reserve, fsync before rename before 250, and
# disk full / fsync failure during delivery.
# Covers S27, S47, S48, S49, S54, S62, S63, S65.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from yubin import files_under, run_hwm  # noqa: E402

t = yubin.TAP()
envs = []


def new_env(**kw):
    e = yubin.CleanEnv(**kw)
    envs.append(e)
    return e


replies = yubin.smtp_replies


ENVELOPE = b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\n"

# S47: long lines in each state.
env = new_env()
A = b"A" * (8 << 20)
for state, prefix in [("before EHLO", b""), ("after EHLO", b"EHLO x\r\n"),
                      ("in RCPT", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<")]:
    start = time.time()
    r = env.run("smtp-session", prefix + A + b"\r\nQUIT\r\n")
    rs = replies(r.stdout)
    t.ok(rs[-1] == b"500 5.5.2 Error: line too long" and b"221" not in r.stdout
         and time.time() - start < 10,
         "S47: 8 MiB line without LF %s: 500 5.5.2 line too long, closed after 2x the limit" % state,
         rs[-2:])
r = env.run("smtp-session", b"EHLO x\r\nNOOP " + b"a" * 3000 + b"\r\nNOOP\r\nQUIT\r\n")
t.eq([x[:9] for x in replies(r.stdout)], [b"220 mx.ex", b"250 CHUNK", b"500 5.5.2", b"250 2.0.0",
                                          b"221 2.0.0"],
     "S47: a 3000-octet command (under 2x the limit): 500, then the session goes on")
r = env.run("smtp-session", b"EHLO x\r\n" + b"MAIL FROM:<a@example.com> " + b"X" * 2040 + b"\r\nQUIT\r\n")
t.ok(replies(r.stdout)[-1].startswith(b"221") and b"500 5.5.2" in r.stdout,
     "S47: MAIL line just over 2048: 500, session continues")

# S48: size at MAIL time and while streaming.
env = new_env(conf={"max_message_size": "100k"})
r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com> SIZE=102401\r\n"
            b"MAIL FROM:<a@example.com> SIZE=102400\r\nQUIT\r\n")
t.eq([x[:9] for x in replies(r.stdout)][1:], [b"250-SIZE ", b"552 5.3.4", b"250 2.1.0", b"221 2.0.0"]
     if False else [b"250 CHUNK", b"552 5.3.4", b"250 2.1.0", b"221 2.0.0"],
     "S48: SIZE over max_message_size: 552 5.3.4 at MAIL; at the limit: 250")
t.contains(r.stdout, b"250-SIZE 102400\r\n", "S48: EHLO advertises the configured SIZE")
r = env.run("smtp-session", ENVELOPE + b"DATA\r\n" + (b"x" * 998 + b"\r\n") * 150 + b".\r\n"
            + ENVELOPE[8:] + b"DATA\r\nSubject: small\r\n\r\nok\r\n.\r\nQUIT\r\n")
rs = [x[:9] for x in replies(r.stdout)]
t.eq(rs, [b"220 mx.ex", b"250 CHUNK", b"250 2.1.0", b"250 2.1.5", b"354 End d", b"552 5.3.4",
          b"250 2.1.0", b"250 2.1.5", b"354 End d", b"250 2.0.0", b"221 2.0.0"],
     "S48: 150 KB streamed past a 100 KB limit without SIZE: one 552 5.3.4 at the end, in sync")
msgs = env.messages("alice@example.org")
t.ok(len(msgs) == 1 and msgs[0].endswith(b"\nSubject: small\n\nok\n"),
     "S48: only the small message was stored")
t.eq(files_under(os.path.join(env.spool, "tmp"), os.path.join(env.maildir("alice@example.org"), "tmp")),
     [], "S48: no temporary file left behind")
start = time.time()
r = env.run("smtp-session", ENVELOPE + b"DATA\r\n" + b"y" * (300 << 10) + b"\r\n.\r\nQUIT\r\n")
t.ok(replies(r.stdout)[-1].startswith(b"552 5.3.4") and b"221" not in r.stdout,
     "S48: past twice the limit: 552 5.3.4 at once and close (S27)", replies(r.stdout)[-1:])
r = env.run("smtp-session", ENVELOPE + b"BDAT 60000\r\n" + b"z" * 60000 + b"BDAT 60000 LAST\r\n")
t.ok(replies(r.stdout)[-1].startswith(b"552 5.3.4"), "S48: BDAT chunks past the limit: 552 5.3.4")
env2 = new_env(conf={"max_message_size": "4M"})
r = env2.run("smtp-session", ENVELOPE + b"DATA\r\nX-Big: " + (b"h" * 900 + b"\r\n ") * 1300 +
             b"end\r\n\r\nbody\r\n.\r\nQUIT\r\n")
t.ok(b"552 5.6.0" in r.stdout and env2.messages("alice@example.org") == [],
     "S48: a header block over 1 MiB: 552 5.6.0, nothing stored", replies(r.stdout)[-2:])

# A 50 MB message (998-octet lines and one 20 MiB line) streams with bounded memory.
env = new_env(conf={"max_message_size": "60M"})
line = b"m" * 996 + b"\r\n"


def big_message():
    yield ENVELOPE + b"DATA\r\nSubject: big\r\n\r\n"
    block = line * 1024
    for _ in range(30):              # 30 MiB of ordinary lines
        yield block
    for _ in range(20):              # one 20 MiB line (S47 in DATA)
        yield b"L" * (1 << 20)
    yield b"\r\n.\r\n"


start = time.time()
out, hwm = run_hwm(env, big_message(), b"queued as")
t.contains(out, b"250 2.0.0 Ok: queued", "50 MB message accepted")
t.ok(hwm is not None and hwm < 32 * 1024, "50 MB message: peak RSS of the session %s KiB < 32 MiB "
     "(S27, S48)" % hwm)
msgs = os.listdir(os.path.join(env.maildir("alice@example.org"), "new"))
size = os.path.getsize(os.path.join(env.maildir("alice@example.org"), "new", msgs[0])) if msgs else 0
want = len(b"Subject: big\n\n") + 30 * 1024 * 997 + (20 << 20) + 1
t.ok(len(msgs) == 1 and want < size < want + 400, "50 MB message stored whole (%d bytes)" % size)
t.diag("50 MB message took %.1f s" % (time.time() - start))
shutil.rmtree(env.maildir("alice@example.org"))

# S49: idle timeout.
env = new_env(conf={"smtp_timeout": "1s"})
s = env.start("smtp-session")
t.ok(s.reply().startswith(b"220"), "S49: greeting")
s.send(b"EHLO x\r\n")
s.reply()
start = time.time()
line = s.readline(timeout=10)
took = time.time() - start
res = s.close()
t.ok(line.startswith(b"421 4.4.2 mx.example.org Error: timeout exceeded") and 0.5 < took < 5,
     "S49: idle 1 s (smtp_timeout = 1s): 421 4.4.2 timeout exceeded (%.1f s)" % took, line)
t.ok(res.rc == 0 and res.stdout == b"", "S49: then the session ends")
s = env.start("smtp-session")
s.reply()
s.send(ENVELOPE + b"DATA\r\nSubject: slow\r\n\r\npart")
start = time.time()
out = b""
while b"421" not in out and time.time() - start < 10:
    out += s.readline(timeout=10)
took = time.time() - start
s.close()
t.ok(b"421 4.4.2" in out and 1 < took < 6, "S49: stalled in DATA: 421 4.4.2 after 2x smtp_timeout "
     "(%.1f s)" % took, out)
t.eq(env.messages("alice@example.org") + files_under(os.path.join(env.spool, "tmp")), [],
     "S49: a message cut by the timeout is not stored")

# S54: free space under the reserve (1.5 x max_message_size) at MAIL.
env = new_env(conf={"max_message_size": str(1 << 50)})
r = env.run("smtp-session", ENVELOPE + b"QUIT\r\n")
t.ok(replies(r.stdout)[2].startswith(b"452 4.3.1 Insufficient system storage"),
     "S54: free space under 1.5 x max_message_size: 452 4.3.1 at MAIL", replies(r.stdout))
env.set(max_message_size="1M")
r = env.run("smtp-session", ENVELOPE + b"DATA\r\n\r\nx\r\n.\r\nQUIT\r\n")
t.contains(r.stdout, b"250 2.0.0 Ok: queued", "S54: with room again, mail is accepted with no manual step")


# S62: content write, fsync, link/rename into new/, fsync(new/), then 250.
def strace_order(env, data, what):
    log = os.path.join(env.dir, "strace.log")
    p = subprocess.run(["strace", "-f", "-y", "-qq", "-s", "40", "-o", log,
                        "-e", "trace=write,fsync,fdatasync,rename,renameat,renameat2,link,linkat",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=data, capture_output=True, env=env.env(), timeout=60)
    calls = open(log).read().splitlines()
    os.unlink(log)
    i250 = next((i for i, c in enumerate(calls) if re.search(r'write\(1<[^>]*>, "250 2\.0\.0 Ok: queued', c)),
                None)
    pub = [i for i, c in enumerate(calls) if re.search(r"(link|rename)\w*\(.*/new[/>]", c)]
    t.ok(i250 is not None and pub and pub[-1] < i250,
         "S62 (%s): published into new/ before the 250 is written" % what, "\n".join(calls[-12:]))
    if i250 is None or not pub:
        return p
    ip = pub[-1]
    tmpfs = [i for i, c in enumerate(calls[:ip]) if re.search(r"fsync\(\d+</[^>]*/tmp/[^>]+>", c)]
    dirfs = [i for i, c in enumerate(calls[ip:i250], ip) if re.search(r"fsync\(\d+</[^>]*/new>", c)]
    t.ok(tmpfs and any(re.search(r"write\(\d+</[^>]*/tmp/[^>]+>", c) for c in calls[:tmpfs[-1]]),
         "S62 (%s): content written to tmp/ and fsync'd before the link/rename" % what)
    t.ok(dirfs != [], "S62 (%s): new/ fsync'd after the link/rename, before the 250" % what,
         "\n".join(calls[ip:i250 + 1]))
    return p


env = new_env(aliases="ext@example.org: someone@example.net\n")
strace_order(env, ENVELOPE + b"DATA\r\nSubject: s62\r\n\r\nx\r\n.\r\nQUIT\r\n", "Maildir")
strace_order(env, ENVELOPE.replace(b"alice", b"ext") + b"DATA\r\nSubject: s62\r\n\r\nx\r\n.\r\nQUIT\r\n",
             "spool")

# kill -9 at the moment of publishing (before link/rename runs): the client
# has no 250 and no message is visible; at most a tmp/ file remains (S62).
env = new_env(aliases="ext@example.org: someone@example.net\n")
for who, what in ((b"alice", "Maildir"), (b"ext", "spool")):
    r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null",
                        "-e", "trace=link,linkat,rename,renameat,renameat2",
                        "-e", "inject=link,linkat,rename,renameat,renameat2:error=EIO:signal=KILL",
                        yubin.binary("smtp-session"), "-c", env.conf_path],
                       input=ENVELOPE.replace(b"alice", who) + b"DATA\r\n\r\nx\r\n.\r\nQUIT\r\n",
                       capture_output=True, env=env.env())
    t.ok(b"354 " in r.stdout and b"\r\n250 2.0.0" not in r.stdout,
         "S62 (%s): killed while publishing: the client never saw a 250" % what, r.stdout[-100:])
    t.eq(env.messages("alice@example.org") + files_under(os.path.join(env.spool, "new")), [],
         "S62 (%s): killed while publishing: nothing in new/" % what)

# fsync failing (fault injection): 451, nothing visible (S62, S65).
env = new_env()
r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                    "-e", "inject=fsync:error=EIO",
                    yubin.binary("smtp-session"), "-c", env.conf_path],
                   input=ENVELOPE + b"DATA\r\n\r\nx\r\n.\r\nQUIT\r\n", capture_output=True, env=env.env())
t.ok(b"451 4.3.0" in r.stdout and b"queued as" not in r.stdout, "S62: fsync fails with EIO: 451 4.3.0",
     r.stdout[-200:])
t.eq(env.messages("alice@example.org"), [], "S62: after a failed fsync no message is visible")
r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                    "-e", "inject=fsync:error=ENOSPC",
                    yubin.binary("smtp-session"), "-c", env.conf_path],
                   input=ENVELOPE + b"DATA\r\n\r\nx\r\n.\r\nQUIT\r\n", capture_output=True, env=env.env())
t.ok(b"452 4.3.1" in r.stdout, "S65: fsync fails with ENOSPC: 452 4.3.1", r.stdout[-200:])
t.eq(env.messages("alice@example.org") + files_under(os.path.join(env.maildir("alice@example.org"), "tmp")),
     [], "S65: nothing visible, no tmp file left")


# S63/S66: 20 sessions delivering to alice at once, in each format.
for fmt in ("maildir", "mbox"):
    env = new_env(conf={"mailbox_format": fmt})
    results = [None] * 20

    def deliver(i, env=env):
        results[i] = env.run("smtp-session", ENVELOPE + b"DATA\r\nSubject: c%02d\r\n\r\nFrom here\r\n"
                             b"body %02d\r\n.\r\nQUIT\r\n" % (i, i)).stdout
    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.ok(all(r and b"250 2.0.0 Ok: queued" in r for r in results),
         "S63/S66 (%s): 20 concurrent sessions all get 250" % fmt)
    if fmt == "maildir":
        bodies = [m.split(b"\n\n", 1)[1] for m in env.messages("alice@example.org")]
    else:
        data = open(os.path.join(env.mail_root, "example.org", "alice", "INBOX"), "rb").read()
        # Each message: "From " line, message, one blank line (S66).
        parts = re.split(rb"^From a@example\.com [^\n]*\n", data, flags=re.M)[1:]
        bodies = [p.split(b"\n\n", 1)[1][:-1] if p.endswith(b"\n\n") else p for p in parts]
    want = sorted(b">From here\nbody %02d\n" % i if fmt == "mbox" else b"From here\nbody %02d\n" % i
                  for i in range(20))
    t.eq(sorted(bodies), want, "S63/S66 (%s): each of the 20 messages stored exactly once, whole" % fmt)

# S65: a real full file system (tmpfs; needs root to mount).
def with_tmpfs(fn):
    # Without root (no tmpfs mount) the ENOSPC fault injection above is the
    # S65 check; the real full file system is an extra when it can be had.
    if os.geteuid() != 0:
        t.diag("not root: no tmpfs; S65 covered by ENOSPC fault injection only")
        return
    mnt = tempfile.mkdtemp(prefix="yubin-tmpfs-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs", mnt],
                      stderr=subprocess.DEVNULL).returncode != 0:
        os.rmdir(mnt)
        t.diag("mount -t tmpfs failed: S65 covered by ENOSPC fault injection only")
        return
    try:
        fn(mnt)
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


def full_mailboxes(mnt):
    env = new_env(conf={"max_message_size": "600k"})
    root = os.path.join(mnt, "mail")
    os.mkdir(root)
    os.chmod(root, 0o777)
    env.set(mail_root=root)
    env.mail_root = root
    rc = b"".join(b"RCPT TO:<%s@example.org>\r\n" % u for u in (b"alice", b"bob", b"carol"))
    body = (b"w" * 998 + b"\r\n") * 400     # 400 KB: fits once or twice, not three times
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n" + rc + b"DATA\r\n" +
                body + b".\r\nQUIT\r\n")
    # The copies are counted before any is written (S54): three can never
    # fit in 1 MB, so the answer is permanent.
    t.ok(b"\r\n354 " in r.stdout and b"552 5.3.4" in r.stdout and b"queued as" not in r.stdout,
         "S65: mail_root on a 1 MB tmpfs, three 400 KB copies: 552 5.3.4", replies(r.stdout)[-2:])
    t.eq([len(env.messages(u + "@example.org")) for u in ("alice", "bob", "carol")], [0, 0, 0],
         "S65: none of the three users sees the message")
    left = [f for f in files_under(root) if "/tmp/" in f]
    t.eq(left, [], "S65: no partial tmp file left on the full file system")
    r = env.run("smtp-session", ENVELOPE + b"DATA\r\n\r\nsmall\r\n.\r\nQUIT\r\n")
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "S65: a message that fits is accepted afterwards")


def full_spool(mnt):
    # The reserve check at MAIL passes (free > 1.5 x 400k), but the content
    # file and the queued copy together (2 x 390k) do not fit.
    env = new_env(conf={"max_message_size": "400k"},
                  aliases="ext@example.org: someone@example.net\n")
    spool = os.path.join(mnt, "spool")
    os.mkdir(spool)
    os.chmod(spool, 0o777)
    env.set(spool=spool)
    with open(os.path.join(mnt, "filler"), "wb") as f:
        f.write(b"f" * (1024 * 1024 - 680 * 1024))
    body = (b"v" * 998 + b"\r\n") * 390
    r = env.run("smtp-session", ENVELOPE.replace(b"alice", b"ext") + b"DATA\r\n" + body +
                b".\r\nQUIT\r\n")
    t.ok(b"\r\n354 " in r.stdout and b"452 4.3.1" in r.stdout and b"queued as" not in r.stdout
         and b"221" in r.stdout,
         "S65: spool on a full tmpfs, queued copy does not fit: 452 4.3.1, session in sync",
         replies(r.stdout)[-3:])
    t.eq(files_under(spool), [], "S65: no spool file left, in new/ or tmp/")


with_tmpfs(full_mailboxes)
with_tmpfs(full_spool)

for e in envs:
    e.cleanup()
t.done()
