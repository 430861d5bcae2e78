#!/usr/bin/env python3
"""COMPRESS=DEFLATE (RFC 4978) is not offered (covers S52): no capability
names it, COMPRESS DEFLATE gets a plain BAD in every state and the session
goes on uncompressed; a client that sends a deflate bomb anyway is read as
the plain bytes it is, under the usual line limit (S47), with bounded
memory, and the session closes."""
import os
import resource
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged  # noqa: E402

U = "alice@example.org"
t = yubin.TAP()
env = yubin.Env()


def word(resp):
    """OK, NO or BAD of the tagged line."""
    parts = tagged(resp).split(b" ")
    return parts[1] if len(parts) > 1 else b""


try:
    r = Raw(env)
    t.ok(b"COMPRESS" not in r.greeting and b"CAPABILITY" in r.greeting,
         "S52: the greeting's capabilities do not offer COMPRESS", r.greeting)
    resp = r.cmd("COMPRESS DEFLATE")
    t.ok(word(resp) in (b"BAD", b"NO"), "S52: COMPRESS DEFLATE before login refused", resp)
    resp = r.cmd("CAPABILITY")
    t.ok(word(resp) == b"OK" and b"COMPRESS" not in resp,
         "S52: session goes on uncompressed; CAPABILITY without COMPRESS", resp)
    resp = r.cmd('LOGIN %s "%s"' % (U, yubin.DEMO_PASSWORD))
    t.ok(word(resp) == b"OK" and b"COMPRESS" not in resp, "LOGIN after it, no COMPRESS", resp)
    resp = r.cmd("CAPABILITY")
    t.ok(b"COMPRESS" not in resp, "S52: no COMPRESS once authenticated", resp)
    for line in ("COMPRESS DEFLATE", "COMPRESS", "COMPRESS XZ", "COMPRESS DEFLATE extra"):
        resp = r.cmd(line)
        t.ok(word(resp) in (b"BAD", b"NO"), "S52: %s authenticated: %s" % (line, word(resp).decode()),
             resp)
    resp = r.cmd("SELECT INBOX")
    t.ok(word(resp) == b"OK", "SELECT after the refusals", resp)
    # Pipelined: the command after COMPRESS is read as plain text.
    r.send(b"p1 COMPRESS DEFLATE\r\np2 NOOP\r\n")
    first = r.read_response("p1")
    second = r.read_response("p2")
    t.ok(word(first) in (b"BAD", b"NO") and tagged(second) == b"p2 OK NOOP completed",
         "S52: pipelined NOOP after COMPRESS DEFLATE answered in plain text", first + second)
    out, rc = r.close()
    t.eq(rc, 0, "session ends normally")

    # A deflate bomb (256 MiB of "A" in about 260 kB) sent as if COMPRESS
    # had been accepted: it stays 260 kB of binary bytes to the server.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"A" * (1 << 20)
    bomb = b"".join([c.compress(block) for _ in range(256)] + [c.flush()])
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = Raw(env, U)
    resp = r.cmd("COMPRESS DEFLATE")
    t.ok(word(resp) in (b"BAD", b"NO"), "S52: COMPRESS DEFLATE refused before the bomb", resp)
    t0 = time.time()
    try:
        r.send(bomb + b"\r\nz NOOP\r\n")
    except BrokenPipeError:
        pass  # the server closed on the over-long line: expected
    out, rc = r.close(timeout=30)
    took = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t.ok(took < 20, "S52: the session ends after the bomb (%.1fs)" % took)
    t.ok(b"BYE" in out and b" OK " not in out,
         "S52: the bomb is an invalid, over-long line: BAD/BYE, nothing accepted", out[:300])
    t.ok(len(out) < 4096, "S52: the answer is small (%d bytes), nothing inflated" % len(out))
    t.ok(max(before, after) < 128 * 1024,
         "S52: peak memory of the session %d kB stays far below the 256 MiB inflated size"
         % after)
finally:
    env.cleanup()
t.done()
