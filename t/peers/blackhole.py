"""A TCP black hole on 127.0.0.1 for relay-runner outage tests (S72): a
port whose connection attempts get no answer at all, as from a mail host
behind a firewall that drops SYNs, or a host that is down.

A listening socket with a backlog of 0 takes one connection into its
accept queue and is never accept()ed; once that queue is full, Linux drops
every further SYN (tcp_conn_request: "listen overflow"), so connect()
neither succeeds nor fails until the client gives up.

    import blackhole
    holes = [blackhole.BlackHole() for _ in range(10)]
    blackhole.verify(holes)     # [True, ...]: each port really drops SYNs
    ... holes[0].port ...
    for h in holes: h.stop()
"""
import select
import socket
import time


class BlackHole:
    def __init__(self, fill_max=16):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fill = []
        # Connect until one attempt stays pending: the queue is full.
        for _ in range(fill_max):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", self.port))
            self.fill.append(c)
            _, w, _ = select.select([], [c], [], 0.3)
            if not w:
                return
        self.stop()
        raise RuntimeError("port %d: the accept queue did not fill up" % self.port)

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
