"""A private rspamd (Debian's package) for the milter tests: Debian's own
/etc/rspamd/rspamd.conf, with LOCAL_CONFDIR, DBDIR, RUNDIR and LOGDIR
pointed into a scratch directory, so that override.d/ there moves every
worker to a free loopback port and nothing of the host's rspamd is used or
touched. Runs in the foreground (-f), as _rspamd under root. No redis:
the modules that need it disable themselves. DNS goes to dns_port on
loopback (default: a closed port, so no query leaves the machine).

    import rspamd
    r = rspamd.Rspamd(env.dir, dkim=[("example.org", "s1", "/path/key.pem")])
    r.milter_port   # proxy worker, milter = yes: milters = inet:127.0.0.1:PORT
    r.milter_socket # the same on a Unix socket (mode 0660, group socket_group)
    r.scan(b"...")  # rspamc against the normal worker: {"action": "reject", ...}
    r.stop()
"""
import os
import grp
import pwd
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import yubin  # noqa: E402

CONF = "/etc/rspamd/rspamd.conf"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# Public suffixes rspamd's URL parser knows. Debian's full list takes rspamd
# half a minute of one core to compile at every start; the tests' mail
# only names these.
TLDS = "com\norg\nnet\ntest\nexample\n"
START_TIMEOUT = 240   # seconds: a loaded 2-core machine, Lua and regexps


class Rspamd:
    def __init__(self, parent, dkim=(), dns_port=None, name="rspamd", socket_group=None):
        self.dir = os.path.join(parent, name)
        self.normal_port = yubin.free_port()
        self.milter_port = yubin.free_port()
        self.controller_port = yubin.free_port()
        self.dns_port = dns_port or yubin.free_port()
        local = os.path.join(self.dir, "local")
        for sub in ("local/override.d", "local/local.d", "db", "run", "log", "keys"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self._write_conf(local, dkim, socket_group)
        args = ["rspamd", "-f", "-c", CONF]
        for var, val in (("LOCAL_CONFDIR", local), ("DBDIR", self.dir + "/db"),
                         ("RUNDIR", self.dir + "/run"), ("LOGDIR", self.dir + "/log")):
            args.append("--var=%s=%s" % (var, val))
        if os.geteuid() == 0:
            args += self._drop_to("_rspamd")
        self.logpath = os.path.join(self.dir, "log", "rspamd.out")
        self.log = open(self.logpath, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait()
        except Exception:
            self.stop()
            raise

    def _write_conf(self, local, dkim, socket_group):
        def put(rel, text):
            with open(os.path.join(local, rel), "w") as f:
                f.write(text)
        put("override.d/worker-normal.inc",
            'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.normal_port)
        put("override.d/worker-controller.inc",
            'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.controller_port)
        # What units/README.md tells a yubin admin to write, on other ports.
        # Also on a Unix socket, as under systemd's sandbox (the README's
        # owner/group/mode syntax); socket_group is the session user's group
        # (group=yubin in the README).
        ids = ""
        if os.geteuid() == 0:
            pw = pwd.getpwnam("_rspamd")
            ids = " owner=_rspamd group=%s" % (socket_group or grp.getgrgid(pw.pw_gid).gr_name)
        self.milter_socket = os.path.join(self.dir, "run", "milter.sock")
        put("override.d/worker-proxy.inc",
            'bind_socket = "127.0.0.1:%d";\nbind_socket = "%s mode=0660%s";\n'
            'milter = yes;\ntimeout = 120s;\ncount = 1;\n'
            'upstream "local" {\n  default = yes;\n  self_scan = yes;\n}\n'
            % (self.milter_port, self.milter_socket, ids))
        put("override.d/logging.inc", 'type = "console";\nlevel = "info";\n')
        tld = os.path.join(self.dir, "tld.dat")
        with open(tld, "w") as f:
            f.write(TLDS)
        put("override.d/options.inc",
            'url_tld = "%s";\ndns {\n  nameserver = ["127.0.0.1:%d"];\n  timeout = 1s;\n'
            '  retransmits = 1;\n}\n' % (tld, self.dns_port))
        # The headers a mail admin looks for, on every message.
        put("local.d/milter_headers.conf",
            'use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id",'
            ' "authentication-results"];\nskip_local = false;\nskip_authenticated = false;\n')
        if dkim:
            doms = ""
            for dom, sel, path in dkim:
                key = os.path.join(self.dir, "keys", "%s.%s.key" % (dom, sel))
                shutil.copyfile(path, key)
                doms += '  %s {\n    selector = "%s";\n    path = "%s";\n  }\n' % (dom, sel, key)
            put("local.d/dkim_signing.conf",
                "sign_authenticated = true;\nsign_local = false;\nsign_inbound = false;\n"
                "domain {\n%s}\n" % doms)

    def _drop_to(self, user):
        """Under root, rspamd's workers run as user: it must read the
        configuration and keys and write db/ and run/."""
        pw = pwd.getpwnam(user)
        for d, _, files in os.walk(self.dir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
            # Others may only pass through to the milter socket in run/.
            os.chmod(d, 0o711 if d in (self.dir, self.dir + "/run") else 0o700)
            for f in files:
                os.chown(os.path.join(d, f), pw.pw_uid, pw.pw_gid)
        parent = os.path.dirname(self.dir)
        os.chmod(parent, os.stat(parent).st_mode | 0o711)
        return ["-u", user, "-g", grp.getgrgid(pw.pw_gid).gr_name]

    def _ping(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return b"pong" in data
        except OSError:
            return False

    def _wait(self):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError("rspamd exited with %s: see %s" % (self.p.returncode, self.logpath))
            if self._ping(self.normal_port):
                try:
                    socket.create_connection(("127.0.0.1", self.milter_port), timeout=2).close()
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("rspamd did not answer in %ds: see %s" % (START_TIMEOUT, self.logpath))

    def scan(self, message, ip="192.0.2.1", sender=None, user=None, timeout=60):
        """rspamc symbols on the normal worker: {"action", "score", "symbols", "out"}."""
        cmd = ["rspamc", "-h", "127.0.0.1:%d" % self.normal_port, "-t", "30", "-i", ip]
        if sender:
            cmd += ["-F", sender]
        if user:
            cmd += ["-u", user]
        p = subprocess.run(cmd + ["symbols"], input=message, capture_output=True,
                           timeout=timeout)
        out = p.stdout.decode(errors="replace")
        res = {"action": None, "score": None, "symbols": [], "out": out + p.stderr.decode()}
        for line in out.splitlines():
            if line.startswith("Action: "):
                res["action"] = line[8:].strip()
            elif line.startswith("Score: "):
                res["score"] = float(line.split()[1])
            elif line.startswith("Symbol: "):
                res["symbols"].append(line.split()[1])
        return res

    def stop(self):
        """SIGTERM to the main process (it stops its workers); the whole
        group it leads is killed only if it does not exit in time."""
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, 9)
                self.p.wait()
        self.log.close()
