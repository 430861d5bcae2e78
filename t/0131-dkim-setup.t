#!/usr/bin/env python3
"""yubin-setup --dkim (issue 12): writes DOMAIN.SELECTOR.key into
dkim_key_dir with safe permissions (root and run_as's group may read it,
no one else), prints the TXT record in zone-file syntax split into strings
of at most 255 bytes, whose key is the key file's public half; refuses to
replace a key, a bad domain, selector or algorithm, and a configuration
without dkim_key_dir; a key it makes is one smtp-session can read after
dropping to run_as (t/0130 signs with them)."""
import base64
import grp
import os
import pwd
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import dkimenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
keys = dkimenv.Keys(env)
root = os.geteuid() == 0
RECORD = re.compile(r'^([A-Za-z0-9_-]+)\._domainkey\.([a-z0-9.-]+)\. IN TXT((?: "[^"]{1,255}")+)\n$')


def pubkey_b64(path, ed):
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return base64.b64encode(der[-32:] if ed else der).decode()


for alg, sel, want_k in (("rsa", "s2026", "rsa"), ("ed25519", "ed-1", "ed25519")):
    r = keys.setup("--dkim", "Example.ORG", "--algorithm", alg, "--selector", sel)
    t.eq(r.returncode, 0, "%s: yubin-setup --dkim exits 0" % alg)
    m = RECORD.match(r.stdout)
    t.ok(m is not None and m.group(1) == sel and m.group(2) == "example.org",
         "%s: one TXT record line, SELECTOR._domainkey.DOMAIN. IN TXT \"...\"" % alg, r.stdout)
    value = "".join(re.findall(r'"([^"]*)"', m.group(3))) if m else ""
    strings = re.findall(r'"([^"]*)"', m.group(3)) if m else []
    t.ok(strings and all(len(s) <= 255 for s in strings) and
         (alg != "rsa" or len(strings) >= 2), "%s: strings of at most 255 bytes" % alg, strings)
    path = os.path.join(keys.dir, "example.org.%s.key" % sel)
    t.ok(value == "v=DKIM1; k=%s; p=%s" % (want_k, pubkey_b64(path, alg == "ed25519")),
         "%s: v=DKIM1; k=%s; p= the key file's public key" % (alg, want_k), value)
    p = subprocess.run(["/usr/bin/python3", "-c",
                        "import dkim.util,sys; d=dkim.util.parse_tag_value(sys.argv[1].encode());"
                        "print(d[b'k'].decode(), len(d[b'p']))", value],
                       capture_output=True, text=True)
    t.ok(p.returncode == 0 and p.stdout.startswith(want_k), "%s: dkimpy parses the record" % alg,
         p.stderr)
    st = os.stat(path)
    if root:
        gid = pwd.getpwnam(env.settings["run_as"]).pw_gid
        t.ok(st.st_uid == 0 and st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o640,
             "%s: key owner root, group of run_as (%s), mode 0640" % (alg, grp.getgrgid(gid).gr_name),
             (st.st_uid, st.st_gid, oct(st.st_mode)))
    else:
        t.ok(stat.S_IMODE(st.st_mode) == 0o600, "%s: key mode 0600 (not root)" % alg)

st = os.stat(keys.dir)
t.ok(stat.S_IMODE(st.st_mode) == (0o750 if root else stat.S_IMODE(st.st_mode)),
     "dkim_key_dir mode 0750", oct(st.st_mode))
t.eq(sorted(os.listdir(keys.dir)), ["example.org.ed-1.key", "example.org.s2026.key"],
     "only the two keys in dkim_key_dir, no temporary files")

with open(os.path.join(keys.dir, "example.org.s2026.key"), "rb") as f:
    before = f.read()
r = keys.setup("--dkim", "example.org", "--selector", "s2026")
with open(os.path.join(keys.dir, "example.org.s2026.key"), "rb") as f:
    t.ok(r.returncode == 1 and "exists" in r.stderr and f.read() == before,
         "an existing key is never replaced", r.stderr)

r = keys.setup("--dkim", "example.org", "--algorithm", "ed25519")
t.ok(r.returncode == 0 and re.match(r"^\d{6}-ed25519\._domainkey", r.stdout),
     "default selector YYYYMM-ed25519", r.stdout)

for args, why in ((["--dkim", "../etc"], "bad domain"), (["--dkim", "a/b.example"], "bad domain"),
                  (["--dkim", "example.org", "--selector", "a.b"], "bad selector"),
                  (["--dkim", "example.org", "--selector", "../x"], "bad selector")):
    r = keys.setup(*args)
    t.ok(r.returncode == 1 and why in r.stderr, "refused: %s" % " ".join(args), r.stderr)
r = keys.setup("--dkim", "example.org", "--algorithm", "dsa")
t.eq(r.returncode, 2, "refused: --algorithm dsa (usage)")

del env.settings["dkim_key_dir"]
env.write_conf()
r = keys.setup("--dkim", "example.org")
t.ok(r.returncode == 1 and "dkim_key_dir" in r.stderr, "no dkim_key_dir: says to set it", r.stderr)
t.done()
