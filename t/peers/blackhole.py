"""A TCP black hole on 127.0.0.1 for relay-runner outage tests (S72): a
port whose connection attempts get no answer at all, as from a mail host
behind a firewall that drops SYNs, or a host that is down.

A listening socket with a backlog of 0 takes one connection into its
accept queue and is never accept()ed; once that queue is full, Linux drops
every further SYN (tcp_conn_request: "listen overflow"), so connect()
neither succeeds nor fails until the client gives up.

    import blackhole
    holes = blackhole.make(10)  # or BlackHole() for one
    blackhole.verify(holes)     # [True, ...]: each port really drops SYNs
    ... holes[0].port ...
    for h in holes: h.stop()
"""
import select
import socket
import time


FILL_MAX = 16


def make(n, settle=0.3):
    """n black holes, filled at once: connect to every one until an
    attempt stays pending (no answer within settle seconds) everywhere."""
    holes = [BlackHole(fill=False) for _ in range(n)]
    todo = list(holes)
    for _ in range(FILL_MAX):
        if not todo:
            return holes
        socks = {h.connect(): h for h in todo}
        answered = set()
        deadline = time.time() + settle
        while len(answered) < len(socks) and time.time() < deadline:
            _, w, _ = select.select([], [c for c in socks if c not in answered], [],
                                    max(0, deadline - time.time()))
            answered.update(w)
        todo = [socks[c] for c in answered]
    for h in holes:
        h.stop()
    raise RuntimeError("an accept queue did not fill up")


class BlackHole:
    def __init__(self, fill=True):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fill = []
        if not fill:
            return
        # Connect until one attempt stays pending: the queue is full.
        for _ in range(FILL_MAX):
            c = self.connect()
            _, w, _ = select.select([], [c], [], 0.3)
            if not w:
                return
        self.stop()
        raise RuntimeError("port %d: the accept queue did not fill up" % self.port)

    def connect(self):
        """One more non-blocking connection attempt, kept open."""
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", self.port))
        self.fill.append(c)
        return c

    def stop(self):
        for c in self.fill:
            c.close()
        self.fill = []
        self.listener.close()


def verify(holes, wait=0.5):
    """For each hole, True if a fresh connection attempt got no answer
    within wait seconds (neither accepted nor refused). The probes run
    at once, so this takes wait seconds whatever the number of holes."""
    probes = []
    for h in holes:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", h.port))
        probes.append(c)
    answered = set()
    deadline = time.time() + wait
    while len(answered) < len(probes):
        left = deadline - time.time()
        if left <= 0:
            break
        _, w, _ = select.select([], [p for p in probes if p not in answered], [], left)
        answered.update(w)
    out = [p not in answered for p in probes]
    for p in probes:
        p.close()
    return out
