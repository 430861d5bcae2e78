#!/usr/bin/env python3
"""COMPRESS=DEFLATE (RFC 4978; covers S52): offered and accepted only once
logged in; bad arguments and pipelined commands refused with the session
going on plain; after the plain OK both directions are raw deflate, every
reply batch flushed (the client never sends more to see a reply); a
second COMPRESS gets NO [COMPRESSIONACTIVE]; a 3 MB message goes up in an
APPEND literal and comes back byte-exact in a FETCH. Deflate bombs: a
line of 1 GiB of "A" ends at the line limit (S47) with BYE; 1 GiB of
empty lines (no limit per line applies) ends at the ratio bound with BYE;
peak memory stays bounded (VmHWM sampled from /proc while the bomb goes
in, and the reaped process's maxrss). Corrupt compressed input: BYE."""
import os
import resource
import select
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, ZClient, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
if os.path.basename(os.path.normpath(yubin.BUILD)) == "san":
    # ASan's quarantine of freed blocks is not the server's memory.
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8"
env = yubin.Env()
RSS_BOUND_KB = 128 * 1024  # generous: the bombs inflate to 1 GiB


def word(resp):
    """OK, NO or BAD of the tagged line."""
    parts = tagged(resp).split(b" ")
    return parts[1] if len(parts) > 1 else b""


def zclient(r, timeout=30):
    """A ZClient on the pipes of Raw session r."""
    p = r.s.p

    def send(data):
        p.stdin.write(data)
        p.stdin.flush()

    def recv():
        ready, _, _ = select.select([p.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError("no output within %ds" % timeout)
        return os.read(p.stdout.fileno(), 65536)
    z = ZClient(send, recv)
    z.buf = bytearray(r.s.buf)
    r.s.buf = b""
    return z


def vm_hwm(pid):
    """Peak RSS in KiB from /proc, or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def deflated(chunks):
    """Raw deflate of an iterable of byte chunks, ended by a sync flush."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"".join([c.compress(x) for x in chunks] + [c.flush(zlib.Z_SYNC_FLUSH)])


def bomb_session(bomb, what):
    """Logs in, turns COMPRESS on, sends bomb (compressed bytes) while
    sampling VmHWM; returns (inflated output after it, peak KiB seen in
    /proc, exit code, stderr)."""
    r = Raw(env, U)
    z = zclient(r)
    resp = z.compress()
    t.ok(word(resp) == b"OK", "%s: COMPRESS accepted" % what, resp)
    pid = r.s.p.pid

    def feed():
        try:
            for i in range(0, len(bomb), 65536):
                z.send_raw(bomb[i:i + 65536])
        except (BrokenPipeError, OSError):
            pass  # the server closed: expected
    # A first sample before the bomb: a server that answers it fast may be
    # gone before the loop below samples /proc at all.
    peak, out = vm_hwm(pid) or 0, bytearray()
    th = threading.Thread(target=feed)
    th.start()
    # Not a timing check: only so a server that never stops fails here
    # instead of hanging the test.
    give_up = time.time() + 300
    while time.time() < give_up:
        h = vm_hwm(pid)
        if h:
            peak = max(peak, h)
        ready, _, _ = select.select([r.s.p.stdout], [], [], 0.05)
        if ready:
            try:
                if not z._fill():
                    break
            except zlib.error:
                break
            out += z.buf
            z.buf = bytearray()
    if time.time() >= give_up:
        r.s.p.kill()
    th.join()
    res = r.s.close(timeout=60)
    return bytes(out), peak, res.rc, res.stderr


try:
    r = Raw(env)
    t.ok(b"COMPRESS" not in r.greeting and b"CAPABILITY" in r.greeting,
         "S52: the greeting does not offer COMPRESS", r.greeting)
    resp = r.cmd("COMPRESS DEFLATE")
    t.eq(word(resp), b"BAD", "S52: COMPRESS DEFLATE before login: BAD")
    resp = r.cmd("CAPABILITY")
    t.ok(word(resp) == b"OK" and b"COMPRESS" not in resp,
         "session goes on uncompressed; no COMPRESS before login", resp)
    resp = r.cmd('LOGIN %s "%s"' % (U, yubin.DEMO_PASSWORD))
    t.ok(word(resp) == b"OK" and b"COMPRESS=DEFLATE" in resp,
         "LOGIN's OK [CAPABILITY] offers COMPRESS=DEFLATE", resp)
    resp = r.cmd("CAPABILITY")
    t.ok(b" COMPRESS=DEFLATE" in resp, "CAPABILITY offers it once authenticated", resp)
    for line in ("COMPRESS", "COMPRESS XZ", "COMPRESS DEFLATE extra", 'COMPRESS "DEFLATE"'):
        resp = r.cmd(line)
        t.eq(word(resp), b"BAD", "%s: BAD" % line)
    resp = r.cmd("SELECT INBOX")
    t.ok(word(resp) == b"OK", "SELECT after the refusals, still plain", resp)
    # RFC 4978 §3: nothing may follow COMPRESS before its reply.
    r.send(b"p1 COMPRESS DEFLATE\r\np2 NOOP\r\n")
    first = r.read_response("p1")
    second = r.read_response("p2")
    t.ok(word(first) == b"BAD" and tagged(second) == b"p2 OK NOOP completed",
         "pipelined command after COMPRESS: BAD, and the NOOP answered plain", first + second)

    z = zclient(r)
    resp = z.compress()
    t.eq(tagged(resp), b"z1 OK DEFLATE active", "COMPRESS DEFLATE: OK, sent plain")
    resp = z.cmd("NOOP")
    t.ok(tagged(resp) == b"z2 OK NOOP completed" and b"NOOP" not in z.last_chunk,
         "first compressed command answered, compressed, without more input", resp)
    resp = z.cmd("CAPABILITY")
    t.ok(word(resp) == b"OK" and b"COMPRESS" not in resp,
         "CAPABILITY no longer offers COMPRESS once active", resp)
    resp = z.cmd("COMPRESS DEFLATE")
    t.ok(word(resp) == b"NO" and b"[COMPRESSIONACTIVE]" in resp,
         "second COMPRESS: NO [COMPRESSIONACTIVE]", resp)
    resp = z.cmd("compress deflate")
    t.ok(b"[COMPRESSIONACTIVE]" in resp, "in any case of the letters", resp)

    # A big message up (literal, inflated by the server) and down again.
    lines = [b"Line %06d of a long message, some words to make it less uniform %x\r\n"
             % (i, (i * 2654435761) & 0xffffffff) for i in range(40000)]
    body = b"From: bob@example.org\r\nSubject: big\r\n\r\n" + b"".join(lines)
    z.send(b"a1 APPEND INBOX {%d}\r\n" % len(body))
    cont = z.readline()
    t.ok(cont.startswith(b"+ "), "APPEND literal continuation arrives compressed", cont)
    z.send(body + b"\r\n")
    resp = z.read_response("a1")
    t.ok(word(resp) == b"OK", "APPEND of %d bytes inside the compressed stream" % len(body), resp)
    before = z.wire_in
    resp = z.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    start = resp.find(b"BODY[] {%d}\r\n" % len(body))
    got = resp[start + len(b"BODY[] {%d}\r\n" % len(body)):][:len(body)] if start >= 0 else b""
    t.ok(word(resp) == b"OK" and got == body, "FETCH BODY[] of it is byte-exact", resp[:300])
    t.ok(z.wire_in - before < len(body) // 2,
         "the FETCH came compressed (%d wire bytes for %d)" % (z.wire_in - before, len(body)))
    for i in range(3):
        resp = z.cmd("FETCH 1 (BODY.PEEK[TEXT]<%d.%d>)" % (i * 100000, 70000))
        want = b"".join(lines)[i * 100000:i * 100000 + 70000]
        t.ok(word(resp) == b"OK" and want in resp, "partial FETCH %d decompresses" % i)
    resp = z.cmd("LOGOUT")
    t.ok(b"* BYE" in resp and word(resp) == b"OK", "LOGOUT's BYE and OK compressed", resp)
    res = r.s.close()
    t.eq(res.rc, 0, "session ends normally")
    t.ok(b"compress user=alice@example.org in=" in res.stderr,
         "the log says what compression did", res.stderr[-500:])

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # Bomb 1: one line of 1 GiB of "A" in about 1 MB.
    bomb = deflated(b"A" * (1 << 20) for _ in range(1024))
    t.diag("bomb 1: %d compressed bytes" % len(bomb))
    out, peak, rc, err = bomb_session(bomb, "line bomb")
    t.ok(b"* BYE Command line too long" in out and b" OK " not in out,
         "S52: 1 GiB line inflates only to the line limit: BYE", out[:300])
    t.ok(len(out) < 4096, "S52: the answer is small (%d bytes)" % len(out))
    t.ok(0 < peak < RSS_BOUND_KB, "S52: VmHWM while inflating %d kB (bound %d)"
         % (peak, RSS_BOUND_KB))
    t.ok(rc == 0, "no crash (exit %s)" % rc, err[-500:])

    # Bomb 2: 1 GiB of empty lines, each legal and ignored: only the ratio
    # bound stops it (the allowance is one message: keep that small here).
    env.set(max_message_size="1M")
    bomb = deflated(b"\r\n" * (1 << 19) for _ in range(1024))
    t.diag("bomb 2: %d compressed bytes" % len(bomb))
    out, peak, rc, err = bomb_session(bomb, "ratio bomb")
    t.ok(b"* BYE Compressed input inflates too far" in out,
         "S52: 1 GiB of empty lines ends at the ratio bound: BYE", out[:300])
    m = [ln for ln in err.split(b"\n") if b"compress user=" in ln and b" in=" in ln]
    if m:
        raw, inflated = (int(x) for x in m[-1].split(b" in=")[1].split(b" ")[0].split(b"/"))
        t.ok(inflated <= 64 * raw + (1 << 20) + 65536 + 16384,
             "S52: inflated %d bytes for %d compressed: within 64:1 plus one message"
             % (inflated, raw))
    else:
        t.ok(False, "S52: the log line gives the counts", err[-500:])
    t.ok(0 < peak < RSS_BOUND_KB, "S52: VmHWM while inflating %d kB" % peak)
    t.ok(rc == 0, "no crash (exit %s)" % rc, err[-500:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t.ok(max(before, after) < RSS_BOUND_KB,
         "S52: peak RSS of every session so far %d kB (getrusage)" % max(before, after))

    # Corrupt input: a reserved block type.
    out, peak, rc, err = bomb_session(b"\xff\xff\xff\xff", "corrupt input")
    t.ok(b"* BYE Compressed input is corrupt" in out, "corrupt compressed input: BYE", out)
    t.ok(rc == 0, "no crash (exit %s)" % rc, err[-500:])
finally:
    env.cleanup()
t.done()
