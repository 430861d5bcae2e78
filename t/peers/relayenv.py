"""Helpers for the relay-runner tests (t/05NN-relay-*.t): a scripted SMTP
sink (smtp-sink.py) and dnsmasq on loopback ports, queueing messages with
the spool helper (t/unit/test-spool enqueue), running relay-runner.

    import relayenv
    env = yubin.Env()
    sink = relayenv.Sink(env, {"rcpt": {"x@example.net": "550 5.1.1 no"}})
    relayenv.route(env, "example.net", sink.port)
    relayenv.enqueue(env, b"Subject: hi\\n\\nbody\\n", "alice@example.org", ["bob@example.net"])
    r = relayenv.runner(env, "--flush")
    sink.messages()  # [{"mail": ..., "rcpts": [...], "data": bytes, "raw": bytes, ...}]
"""
import base64
import json
import os
import pwd
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import yubin  # noqa: E402

SINK = os.path.join(HERE, "smtp-sink.py")
HELPER = os.path.join(yubin.BUILD, "t", "unit", "test-spool")


def as_run_user(env, cmd):
    """Under root, relay-runner drops to run_as: queue files must be made
    by that user too, so the helper runs as it."""
    if os.geteuid() != 0:
        return cmd
    pw = pwd.getpwnam(env.settings.get("run_as", "nobody"))
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
            "--clear-groups"] + cmd


class Sink:
    def __init__(self, env, script=None, certs=None, name="sink"):
        self.dir = os.path.join(env.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.script_path = os.path.join(self.dir, "script.json")
        self.set(script or {})
        cmd = [sys.executable, SINK, "--script", self.script_path, "--record", self.dir]
        if certs:
            cmd += ["--cert", certs.cert, "--key", certs.key]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.p.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.p.kill()
            raise RuntimeError("smtp-sink did not start: %r" % line)
        self.port = int(line.split()[1])

    def set(self, script):
        with open(self.script_path + ".tmp", "w") as f:
            json.dump(script, f)
        os.rename(self.script_path + ".tmp", self.script_path)

    def messages(self):
        path = os.path.join(self.dir, "messages.jsonl")
        out = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    m = json.loads(line)
                    m["raw"] = base64.b64decode(m["raw"])
                    m["data"] = base64.b64decode(m["data"])
                    out.append(m)
        return out

    def connections(self):
        return len([n for n in os.listdir(self.dir) if n.endswith(".log")])

    def raw(self, n):
        with open(os.path.join(self.dir, "conn-%d.raw" % n), "rb") as f:
            return f.read()

    def commands(self, n):
        with open(os.path.join(self.dir, "conn-%d.log" % n)) as f:
            return f.read().splitlines()

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class DNS:
    """dnsmasq answering for *.test (and the extra args) on a loopback port."""

    def __init__(self, env, args):
        self.port = yubin.free_port()
        self.log = open(os.path.join(env.dir, "dnsmasq.log"), "wb")
        self.p = subprocess.Popen(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=%d" % self.port,
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
             "--no-hosts", "--pid-file", "--local=/test/"] + list(args),
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self._answers():
                break
            time.sleep(0.05)
        env.set(dns_servers="127.0.0.1:%d" % self.port)

    def _answers(self):
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04ping\x04test\x00\x00\x01\x00\x01"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            return len(s.recv(512)) > 12
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


def route(env, *pairs):
    """routes file with (domain, "host:port") pairs."""
    path = os.path.join(env.dir, "routes")
    with open(path, "w") as f:
        for dom, target in pairs:
            f.write("%s %s\n" % (dom, target))
    os.chmod(path, 0o644)
    env.set(routes=path)


def enqueue(env, message, sender, rcpts, extra=(), count=1):
    """Queues message (bytes, LF line ends) count times; returns the ids."""
    cmd = [HELPER, "enqueue", env.spool, "-f", sender]
    for r in rcpts:
        if isinstance(r, tuple):        # (addr, notify bits, orcpt)
            cmd += ["-r", r[0]]
            if len(r) > 1 and r[1]:
                cmd += ["-n", str(r[1])]
            if len(r) > 2 and r[2]:
                cmd += ["-o", r[2]]
        else:
            cmd += ["-r", r]
    cmd += list(extra) + ["-c", str(count)]
    p = subprocess.run(as_run_user(env, cmd), input=message, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("enqueue failed: %r" % p.stderr)
    return p.stdout.decode().split()


def runner(env, *args, timeout=60):
    p = subprocess.run([yubin.binary("relay-runner"), "-c", env.conf_path] + list(args),
                       capture_output=True, timeout=timeout, env=env.env())
    return yubin.Result(p.stdout, p.stderr, p.returncode)


def files(env, sub):
    d = os.path.join(env.spool, sub)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def queued(env):
    """Every file in new/, queue/ and active/."""
    return files(env, "new") + files(env, "queue") + files(env, "active")


def dump(env, path):
    """The envelope of a queue file as {"sender":..., "rcpts": [{...}], ...}."""
    p = subprocess.run([HELPER, "dump", path], capture_output=True, timeout=30)
    if p.returncode != 0:
        return None
    out = {"rcpts": []}
    for line in p.stdout.decode().splitlines():
        key, _, val = line.partition(" ")
        if key == "rcpt":
            out["rcpts"].append({"addr": val})
        elif key in ("state", "notify", "diagnostic") and out["rcpts"]:
            out["rcpts"][-1][key] = val
        else:
            out[key] = val
    return out
