"""Helpers for the DKIM tests (t/013N-dkim-*.t): keys made by yubin-setup
--dkim into a scratch dkim_key_dir, messages put in their wire form, and
the two verifiers run offline: dkimpy (dkimcheck.py) and OpenDKIM in test
mode (`opendkim -t` with TestDNSData), both fed the TXT records exactly as
yubin-setup printed them.

    import dkimenv
    keys = dkimenv.Keys(env)
    keys.make("example.org", "ed25519", "ed1")
    v = keys.verify(message_bytes)   # {"dkimpy": [...], "opendkim": [...]}
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import yubin  # noqa: E402

SETUP = os.path.join(yubin.TOP, "units", "yubin-setup")
CHECK = os.path.join(HERE, "dkimcheck.py")


def wire(stored):
    """A stored message (LF line ends) as relay-runner sends it: CRLF, a
    lone CR as a space, a final line end."""
    out = re.sub(rb"\r(?!\n)", b" ", stored)
    out = re.sub(rb"(?<!\r)\n", b"\r\n", out)
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


class Keys:
    def __init__(self, env):
        self.env = env
        self.dir = os.path.join(env.dir, "dkim")
        self.zone = os.path.join(env.dir, "dkim.zone")
        self.records = []
        env.set(dkim_key_dir=self.dir)

    def setup(self, *args):
        """yubin-setup with args; returns the CompletedProcess."""
        return subprocess.run(["sh", SETUP, "-c", self.env.conf_path] + list(args),
                              capture_output=True, text=True, timeout=60)

    def make(self, domain, alg, selector):
        """A key and its record (kept for the verifiers). Returns the record."""
        r = self.setup("--dkim", domain, "--algorithm", alg, "--selector", selector)
        if r.returncode != 0:
            raise RuntimeError("yubin-setup --dkim failed: %s" % r.stderr)
        self.records.append(r.stdout.strip())
        with open(self.zone, "w") as f:
            f.write("\n".join(self.records) + "\n")
        return r.stdout

    def dkimpy(self, msg):
        """dkimpy's verdict per signature of msg (wire form)."""
        path = os.path.join(self.env.dir, "verify.eml")
        with open(path, "wb") as f:
            f.write(msg)
        p = subprocess.run(["/usr/bin/python3", CHECK, self.zone, path], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("dkimcheck.py: %s" % p.stderr)
        return json.loads(p.stdout)

    def opendkim(self, msg):
        """OpenDKIM's verdicts as (selector, result) pairs, from the
        Authentication-Results field it would add."""
        path = os.path.join(self.env.dir, "verify-od.eml")
        data = os.path.join(self.env.dir, "opendkim.dns")
        conf = os.path.join(self.env.dir, "opendkim.conf")
        with open(path, "wb") as f:
            f.write(msg)
        with open(data, "w") as f:
            for rec in self.records:
                m = re.match(r'(\S+)\.\s+IN\s+TXT\s+(.*)$', rec)
                f.write("%s %s\n" % (m.group(1), "".join(re.findall(r'"([^"]*)"', m.group(2)))))
        with open(conf, "w") as f:
            f.write("Mode v\nSyslog no\nTestDNSData file:%s\n" % data)
        p = subprocess.run(["opendkim", "-x", conf, "-vvv", "-t", path], capture_output=True,
                           text=True, timeout=60)
        return re.findall(r"dkim=(\w+)[^;]*?header\.s=([\w-]+)", p.stdout + p.stderr)

    def verify(self, stored):
        """Both verifiers over a stored message's wire form."""
        msg = wire(stored)
        return {"dkimpy": self.dkimpy(msg), "opendkim": self.opendkim(msg)}
