#!/usr/bin/env python3
# `make install` into a DESTDIR (issue 7): files, modes and rewritten paths;
# an existing yubin.conf is never overwritten; yubin-setup makes the mail
# store, spool and users file with their owners and modes and adds a user;
# a session run from the installed tree with that setup authenticates and
# delivers, and refuses a world-writable configuration or users file or a
# run_as that is root or missing; `make uninstall` removes what install put
# there but the configuration.
import base64
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

PROGS = ("smtp-session", "pop3-session", "imap-session", "relay-runner")
UNITS_OF = {
    "smtp-session": ["smtp-session", "submission-session", "smtps-session"],
    "pop3-session": ["pop3-session", "pop3s-session"],
    "imap-session": ["imap-session", "imaps-session"],
}
PREFIX, SYSCONF, UNITDIR = "/opt/yubin", "/opt/yubin/etc", "/opt/yubin/units"
BINDIR = PREFIX + "/sbin"

t = yubin.TAP()
root = os.geteuid() == 0
tmp = tempfile.mkdtemp(prefix="yubin-t-install-")
os.chmod(tmp, 0o755)  # run_as must reach the installed tree and the store
dest = os.path.join(tmp, "dest")
built = [p for p in PROGS if os.access(yubin.binary(p), os.X_OK)]


def make(target):
    # -o all: the build is make check's business; install only copies it.
    args = ["make", "-s", "-C", yubin.TOP, "-o", "all", target, "DESTDIR=" + dest,
            "PREFIX=" + PREFIX, "sysconfdir=" + SYSCONF, "unitdir=" + UNITDIR]
    if os.path.basename(os.path.normpath(yubin.BUILD)) == "san":
        args.append("SANITIZE=1")
    return subprocess.run(args, capture_output=True, text=True, timeout=50)


def d(path):
    return dest + path


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


try:
    r = make("install")
    t.ok(r.returncode == 0, "make install DESTDIR PREFIX sysconfdir unitdir", r.stdout + r.stderr)

    # --- files and modes ------------------------------------------------------
    want = {}
    for p in built:
        want[BINDIR + "/" + p] = 0o755
    want[BINDIR + "/yubin-setup"] = 0o755
    want[PREFIX + "/share/man/man5/yubin.conf.5"] = 0o644
    want[PREFIX + "/share/man/man8/yubin-setup.8"] = 0o644
    for p in built:
        if os.path.exists(os.path.join(yubin.TOP, p, p + ".8")):
            want[PREFIX + "/share/man/man8/%s.8" % p] = 0o644
    want[SYSCONF + "/yubin/yubin.conf"] = 0o644
    for p in built:
        for n in UNITS_OF.get(p, []):
            want[UNITDIR + "/%s.socket" % n] = 0o644
            want[UNITDIR + "/%s@.service" % n] = 0o644
    if "relay-runner" in built:
        for n in ("relay-runner.service", "relay-runner.timer", "relay-runner.path"):
            want[UNITDIR + "/" + n] = 0o644
    for n in ("inetd.conf", "tcpserver.example", "relay-runner.cron", "yubin.conf.example",
              "xinetd.d/yubin-smtp", "xinetd.d/yubin-imaps",
              "fail2ban/filter.d/yubin.conf", "fail2ban/jail.d/yubin.conf"):
        want[PREFIX + "/share/doc/yubin/examples/" + n] = 0o644
    bad = ["%s: %s" % (p, "missing" if not os.path.exists(d(p)) else oct(mode(d(p))))
           for p, m in sorted(want.items()) if not os.path.isfile(d(p)) or mode(d(p)) != m]
    t.ok(not bad, "%d files installed with their modes (programs 0755, data 0644)" % len(want), "\n".join(bad))
    loose = []
    for base, dirs, files in os.walk(dest):
        for n in dirs + files:
            p = os.path.join(base, n)
            m = os.lstat(p).st_mode
            if m & (stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID) or (n in dirs and stat.S_IMODE(m) != 0o755):
                loose.append("%s %o" % (p[len(dest):], stat.S_IMODE(m)))
    t.ok(not loose, "nothing world-writable or set-id; directories 0755", "\n".join(loose))

    # --- paths rewritten to the install prefix ----------------------------------
    wrong = []
    for base, _, files in os.walk(d(UNITDIR)):
        for n in files:
            with open(os.path.join(base, n)) as f:
                for m in re.finditer(r"^ExecStart=(\S+) -c (\S+)", f.read(), re.M):
                    if not (m.group(1).startswith(BINDIR + "/") and os.access(d(m.group(1)), os.X_OK)
                            and m.group(2) == SYSCONF + "/yubin/yubin.conf"):
                        wrong.append("%s: %s" % (n, m.group(0)))
    n_exec = sum(1 for p in want if p.endswith(".service"))
    t.ok(n_exec > 0 and not wrong, "units run %s/<program> -c %s/yubin/yubin.conf" % (BINDIR, SYSCONF),
         "\n".join(wrong))
    with open(d(PREFIX + "/share/doc/yubin/examples/xinetd.d/yubin-smtp")) as f:
        xi = f.read()
    with open(d(BINDIR + "/yubin-setup")) as f:
        setup_text = f.read()
    t.ok("server          = %s/smtp-session" % BINDIR in xi and "conf=%s/yubin/yubin.conf" % SYSCONF in setup_text
         and "/usr/local/sbin" not in xi,
         "examples and yubin-setup rewritten to the prefix")

    # The installed units verify with their real ExecStart (DESTDIR prepended).
    vdir = os.path.join(tmp, "verify")
    os.makedirs(vdir)
    for n in os.listdir(d(UNITDIR)):
        with open(os.path.join(d(UNITDIR), n)) as f, open(os.path.join(vdir, n), "w") as g:
            g.write(f.read().replace("ExecStart=" + BINDIR, "ExecStart=" + d(BINDIR)))
    units = [n for n in sorted(os.listdir(vdir)) if not n.endswith("@.service")]
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, cwd=vdir,
                       capture_output=True, text=True, timeout=50)
    t.ok(r.returncode == 0 and not r.stderr.strip(), "installed units pass systemd-analyze verify",
         r.stdout + r.stderr)

    # --- the configuration is never overwritten -------------------------------
    conf = d(SYSCONF + "/yubin/yubin.conf")
    with open(conf, "a") as f:
        f.write("# edited by the admin\n")
    r = make("install")
    with open(conf) as f:
        t.ok(r.returncode == 0 and "# edited by the admin" in f.read(),
             "a second make install leaves an existing yubin.conf alone")

    # --- yubin-setup: store, spool, users file, first user -----------------------
    run_as = os.environ.get("USER_RUN_AS", "nobody") if root else subprocess.run(
        ["id", "-un"], capture_output=True, text=True).stdout.strip()
    store = os.path.join(tmp, "var")
    with open(conf) as f:
        text = f.read()
    for k, v in (("mail_root", store + "/mail"), ("spool", store + "/spool"),
                 ("users", d(SYSCONF + "/yubin/users"))):
        text = re.sub(r"^%s = .*$" % k, "%s = %s" % (k, v), text, flags=re.M)
    text += "auth_requires_tls = no\nrun_as = %s\nhostname = mx.test\n" % run_as
    with open(conf, "w") as f:
        f.write(text)
    setup = d(BINDIR + "/yubin-setup")
    r = subprocess.run([setup, "-c", conf, "-u", run_as], capture_output=True, text=True, timeout=30)
    if root:
        t.ok(r.returncode == 0, "yubin-setup as root", r.stdout + r.stderr)
    else:
        # Only root can give the store away; do by hand what it would do.
        t.ok(r.returncode == 1 and "run as root" in r.stderr, "yubin-setup refuses to run as non-root",
             r.stdout + r.stderr)
        for p in ("mail", "spool", "spool/tmp", "spool/new"):
            os.makedirs(os.path.join(store, p), mode=0o700, exist_ok=True)
        with open(d(SYSCONF + "/yubin/users"), "w") as f:
            f.write("# users\n")
        os.chmod(d(SYSCONF + "/yubin/users"), 0o640)
    uid = int(subprocess.run(["id", "-u", run_as], capture_output=True, text=True).stdout)
    got = {p: (os.stat(os.path.join(store, p)).st_uid, mode(os.path.join(store, p)))
           for p in ("mail", "spool", "spool/tmp", "spool/new")}
    t.eq(got, {p: (uid, 0o700) for p in got}, "mail_root and spool (tmp/, new/) owned by %s, 0700" % run_as)
    users = d(SYSCONF + "/yubin/users")
    st = os.stat(users)
    t.ok(mode(users) == 0o640 and (not root or (st.st_uid == 0 and st.st_gid == int(
        subprocess.run(["id", "-g", run_as], capture_output=True, text=True).stdout))),
        "users file 0640, owner root, group of %s" % run_as)
    if root:
        r = subprocess.run([setup, "-c", conf, "-u", run_as], capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 0 and os.path.exists(users), "yubin-setup runs again without harm")

    r = subprocess.run([setup, "-c", conf, "--add-user", "pat@localhost"], input="pat-pw-1\n",
                       capture_output=True, text=True, timeout=30)
    with open(users) as f:
        lines = f.read().splitlines()
    t.ok(r.returncode == 0 and any(re.match(r"^pat@localhost:\{SHA512-CRYPT\}\$6\$", ln) for ln in lines),
         "yubin-setup --add-user appends a SHA512-CRYPT line", r.stdout + r.stderr)
    r = subprocess.run([setup, "-c", conf, "--add-user", "pat@localhost"], input="x\n",
                       capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 1 and "already" in r.stderr, "yubin-setup refuses to add a user twice")
    r = subprocess.run([setup, "-c", conf, "--add-user", "a:b@localhost"], input="x\n",
                       capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 1, "yubin-setup refuses an address with ':' (it would forge a field)")

    # --- a session from the installed tree ---------------------------------------
    cred = base64.b64encode(b"\0pat@localhost\0pat-pw-1").decode()
    script = ("EHLO client.test\r\nAUTH PLAIN %s\r\nMAIL FROM:<pat@localhost>\r\n"
              "RCPT TO:<pat@localhost>\r\nDATA\r\nSubject: installed\r\n\r\nhi\r\n.\r\nQUIT\r\n" % cred)
    r = subprocess.run([d(BINDIR + "/smtp-session"), "-c", conf, "--submission"],
                       input=script.encode(), capture_output=True, timeout=30)
    codes = re.findall(rb"^(\d{3}) ", r.stdout, re.M)
    t.eq(codes, [b"220", b"250", b"235", b"250", b"250", b"354", b"250", b"221"],
         "installed smtp-session --submission: AUTH with the yubin-setup user, message accepted")
    new = os.path.join(store, "mail", "localhost", "pat", "new")
    files = os.listdir(new) if os.path.isdir(new) else []
    t.ok(len(files) == 1 and os.stat(os.path.join(new, files[0])).st_uid == uid,
         "delivered to mail_root/localhost/pat/new/, owned by %s" % run_as)

    # --- the installed session refuses unsafe setups -------------------------
    def refuses(why):
        r = subprocess.run([d(BINDIR + "/smtp-session"), "-c", conf], input=b"QUIT\r\n",
                           capture_output=True, timeout=30)
        return r.returncode != 0 and not r.stdout.startswith(b"220") and why in r.stderr, r.stderr
    for path, what in ((conf, b"configuration"), (users, b"users file")):
        os.chmod(path, 0o666)
        ok, err = refuses(b"world-writable")
        os.chmod(path, 0o644 if path == conf else 0o640)
        t.ok(ok, "a world-writable %s stops the session before the greeting" % what.decode(), err)
    if root:
        with open(conf, "a") as f:
            f.write("run_as = no-such-user-yubin\n")
        ok, err = refuses(b"refusing to run as root")
        t.ok(ok, "as root with an unknown run_as the session refuses to start", err)
        with open(conf, "a") as f:
            f.write("run_as = root\n")
        ok, err = refuses(b"refusing to run as root")
        t.ok(ok, "as root with run_as = root the session refuses to start", err)

    # --- uninstall ------------------------------------------------------------
    r = make("uninstall")
    left = sorted(os.path.join(b, n)[len(dest):] for b, _, fs in os.walk(dest) for n in fs)
    t.eq((r.returncode, left), (0, [SYSCONF + "/yubin/users", SYSCONF + "/yubin/yubin.conf"]),
         "make uninstall removes everything but the configuration and users")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
t.done()
