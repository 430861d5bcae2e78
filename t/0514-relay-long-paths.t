#!/usr/bin/env python3
"""A queue path that does not fit in PATH_MAX is refused with a logged
error, never cut to a shorter path that names another file or directory
(relay-runner/queue.c, sched.c, list.c through lib/path).

The spool sits in a directory tree deep enough that one of its paths is
exactly one byte too long, while the path one byte shorter (what a cut
snprintf would leave) names something real:
- a spool whose "corrupt" subdirectory does not fit: the runner refuses
  the spool instead of creating spool/corrup;
- --list of new/<id> beside new/<id minus its last byte>: the other
  message's envelope is never shown as this one's;
- a stale claim in active/ whose cut name is a live claim of a running
  process: the live claim is not taken back to queue/ (S67, S68)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
PATH_MAX = 4096          # with its NUL: a path has at most 4095 bytes
MSG = b"From: alice@example.org\nSubject: long paths\n\nhello\n"


def deep_dir(base, length):
    """A directory below base whose absolute path is length bytes long,
    made component by component (the whole path may be too long for one
    mkdir). Returns the path and an fd of it."""
    path, fd = base, os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    while len(path) < length:
        room = length - len(path) - 1
        take = min(200, room)
        if room - take == 1:          # leave room for "/x", never "/"
            take -= 1
        name = "d" * take
        os.mkdir(name, 0o755, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        path, fd = path + "/" + name, nfd
    os.chmod(fd, 0o777)               # the runner writes it as run_as
    return path, fd


def env_with_spool(length):
    env = yubin.Env()
    spool, fd = deep_dir(env.dir, length)
    env.spool = spool
    env.settings["spool"] = spool
    # "spool=" without blanks: the line must fit yubin.conf's line limit.
    with open(env.conf_path, "w") as f:
        for k, v in env.settings.items():
            f.write("%s=%s\n" % (k, v))
    os.chmod(env.conf_path, 0o644)
    return env, fd


def names(fd, sub):
    sfd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    try:
        return sorted(os.listdir(sfd))
    finally:
        os.close(sfd)


def rename_in(fd, src, dst):
    os.rename(src, dst, src_dir_fd=fd, dst_dir_fd=fd)


# 1. "/corrupt" is the longest subdirectory name: 8 bytes. A spool of
# 4088 bytes fits every other one and leaves "spool/corrup" if cut.
env, fd = env_with_spool(PATH_MAX - 8)
try:
    r = relayenv.runner(env)
    err = r.stderr.decode()
    t.ok(r.rc != 0 and "File name too long" in err,
         "an over-long spool is refused with a logged error", (r.rc, err[-300:]))
    made = names(fd, ".")
    t.ok("corrup" not in made, "no cut directory made in the spool", made)
finally:
    os.close(fd)
    env.cleanup()

# 2. --list: new/<id> is one byte too long, new/<id minus one byte> fits.
idlen = 60
env, fd = env_with_spool(PATH_MAX - len("/new/") - idlen)
try:
    one = relayenv.enqueue(env, MSG, "alice@example.org", ["one@example.net"])[0]
    two = relayenv.enqueue(env, MSG, "alice@example.org", ["two@example.net"])[0]
    long_id = "L" * idlen
    rename_in(fd, "new/" + one, "new/" + long_id)
    rename_in(fd, "new/" + two, "new/" + long_id[:-1])
    r = relayenv.runner(env, "--list")
    out, err = r.stdout.decode(), r.stderr.decode()
    t.eq(out.count("<two@example.net>"), 1, "--list shows the shorter id's message once")
    line = [x for x in out.splitlines() if x.startswith(long_id + " ")]
    t.ok(len(line) == 1 and "File name too long" in line[0],
         "--list says the long id's path does not fit", out)
    t.ok("path too long" in err, "--list logs the error", err)
    r = relayenv.runner(env)
    err = r.stderr.decode()
    t.ok("%s: path too long for a queue file" % long_id in err,
         "a pass logs the long id as an error", err)
    t.ok(long_id in names(fd, "new"), "the long id stays queued, untouched", names(fd, "new"))
finally:
    os.close(fd)
    env.cleanup()

# 3. queue_recover: a stale claim whose cut path is a live claim.
host = socket.gethostname()
host = "localhost" if len(host) > 63 else "".join(
    c if c.isascii() and (c.isalnum() or c in ".-") else "_" for c in host)
with open("/proc/sys/kernel/random/boot_id") as f:
    boot = "".join(c for c in f.read() if c in "0123456789abcdef")[:8]
with open("/proc/self/stat") as f:
    start = f.read().rsplit(")", 1)[1].split()[19]     # field 22
live = "X" * 40 + ",%s~%s,%d,%s" % (host, boot, os.getpid(), start)
stale = live + "7"      # the same pid with another start time: gone
env, fd = env_with_spool(PATH_MAX - len("/active/") - len(stale))
try:
    relayenv.runner(env)      # makes active/ and queue/, as run_as
    a = relayenv.enqueue(env, MSG, "alice@example.org", ["a@example.net"])[0]
    b = relayenv.enqueue(env, MSG, "alice@example.org", ["b@example.net"])[0]
    rename_in(fd, "new/" + a, "active/" + live)
    rename_in(fd, "new/" + b, "active/" + stale)
    r = relayenv.runner(env)
    err = r.stderr.decode()
    act = names(fd, "active")
    t.ok(live in act and names(fd, "queue") == [],
         "a live claim is not taken for a stale one whose path does not fit", (act, err))
    t.ok("File name too long" in err, "the claim that cannot be checked is logged", err)
finally:
    os.close(fd)
    env.cleanup()

t.done()
