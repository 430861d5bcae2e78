#!/usr/bin/env python3
"""The fail2ban filter and jail in units/fail2ban (issue 11, section 4),
checked with the real fail2ban-regex against log lines the three sessions
write for failed logins: every failure is found with its peer address,
successful logins and other lines are not, and a login name such as
"x peer=203.0.113.9" (or an envelope address carrying a whole forged
auth-failure text) never makes fail2ban see 203.0.113.9. Both forms a
log takes are read: the journal's or rsyslog's ("NAME[PID]: warning:
...", as on standard error) and syslog(3)'s under inetd (no level word).
The jail is read by fail2ban-client together with the filter."""
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv(conf={"auth_fail_delay_ms": "10"})
FILTER = os.path.join(yubin.TOP, "units", "fail2ban", "filter.d", "yubin.conf")
JAIL = os.path.join(yubin.TOP, "units", "fail2ban", "jail.d", "yubin.conf")
FORGED = "x peer=203.0.113.9"
PW = yubin.DEMO_PASSWORD
F2B_ETC = "/etc/fail2ban"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def session_env(peer):
    return dict(env.env(), REMOTE_ADDR=peer)


def imap(peer, script):
    return env.run("imap-session", script.encode(), env=session_env(peer))


def pop3(peer, script):
    return env.run("pop3-session", script.encode(), env=session_env(peer))


def smtp(peer, commands, args=("--submission",)):
    """One command a turn: a remote peer may not pipeline before EHLO's
    answer (S6)."""
    os.environ["REMOTE_ADDR"] = peer
    try:
        s = env.start("smtp-session", list(args))
    finally:
        del os.environ["REMOTE_ADDR"]
    s.reply()
    for c in ["EHLO client.example"] + commands + ["QUIT"]:
        s.send(c + "\r\n")
        s.reply()
    return s.close()


logs = []
# Failures: two per protocol, each with the forged name once.
logs.append(imap("192.0.2.10", 'a LOGIN "%s" "nope"\r\nb LOGIN alice@example.org "wrong"\r\n'
                 'c LOGOUT\r\n' % FORGED).stderr)
logs.append(pop3("192.0.2.20", "AUTH PLAIN %s\r\nUSER alice@example.org\r\nPASS wrong\r\nQUIT\r\n"
                 % b64("\0" + FORGED + "\0nope")).stderr)
logs.append(smtp("2001:db8::30", ["AUTH PLAIN %s" % b64("\0" + FORGED + "\0nope"),
                                  "AUTH PLAIN %s" % b64("\0alice@example.org\0wrong")]).stderr)
# Successes and other lines from other addresses: never a match.
logs.append(imap("198.51.100.1", 'a LOGIN alice@example.org "%s"\r\nb LOGOUT\r\n' % PW).stderr)
logs.append(pop3("198.51.100.2", "USER alice@example.org\r\nPASS %s\r\nQUIT\r\n" % PW).stderr)
logs.append(smtp("198.51.100.3", ["AUTH PLAIN %s" % b64("\0alice@example.org\0" + PW)]).stderr)
logs.append(smtp("198.51.100.4", [
    'MAIL FROM:<"peer=203.0.113.9 auth failure: proto=smtp method=PLAIN"@example.net>',
    "RCPT TO:<nobody@example.org>"], args=()).stderr)

lines = [ln for log in logs for ln in log.decode("utf-8", "replace").splitlines()]
failures = [ln for ln in lines if " auth failure: " in ln]
t.ok(len(failures) == 6 and len(lines) > 12,
     "the sessions logged 6 auth failures among %d lines" % len(lines), "\n".join(lines))
t.ok(not any("peer=203.0.113.9" in ln for ln in lines), "no log line carries the forged peer= field",
     "\n".join(lines))

if not shutil.which("fail2ban-regex") or not os.path.isfile(os.path.join(F2B_ETC, "filter.d",
                                                                           "common.conf")):
    # t/deps.txt installs fail2ban: without it this test cannot say yes.
    t.ok(False, "fail2ban-regex and %s/filter.d/common.conf are installed (package fail2ban)"
         % F2B_ETC)
    t.done()

tmp = tempfile.mkdtemp(prefix="yubin-t-f2b-")
try:
    # The filter reads common.conf from its own directory, as in /etc/fail2ban.
    fdir = os.path.join(tmp, "filter.d")
    os.makedirs(fdir)
    shutil.copy(FILTER, fdir)
    os.symlink(os.path.join(F2B_ETC, "filter.d", "common.conf"), os.path.join(fdir, "common.conf"))
    stamp = time.strftime("%b %d %H:%M:%S")
    # rsyslog's form of a journal line (and standard error's, with a host):
    journal = ["%s mx %s" % (stamp, ln) for ln in lines]
    # syslog(3) under inetd: "NAME[PID]: peer=..." without the level word.
    syslog = ["%s mx %s" % (stamp, re.sub(r"^(\S+\[\d+\]: )(?:error|warning|info): ", r"\1", ln))
              for ln in lines]
    want = ["192.0.2.10"] * 2 + ["192.0.2.20"] * 2 + ["2001:db8::30"] * 2
    for name, text in (("journal", journal), ("syslog", syslog)):
        path = os.path.join(tmp, name + ".log")
        with open(path, "w") as f:
            f.write("\n".join(text) + "\n")
        r = subprocess.run(["fail2ban-regex", "-o", "ip", path, os.path.join(fdir, "yubin.conf")],
                           capture_output=True, text=True, timeout=120)
        got = sorted(r.stdout.split())
        t.ok(r.returncode == 0 and got == sorted(want),
             "fail2ban-regex (%s form): the 6 failures with their real peers, nothing else" % name,
             "got %r\n%s\n%s" % (got, r.stderr[-2000:], "\n".join(text)))
        t.ok("203.0.113.9" not in r.stdout,
             "fail2ban-regex (%s form): the forged 203.0.113.9 is never seen" % name, r.stdout)
    r = subprocess.run(["fail2ban-regex", "-o", "user", os.path.join(tmp, "journal.log"),
                        os.path.join(fdir, "yubin.conf")], capture_output=True, text=True, timeout=120)
    t.ok(r.stdout.split().count(r"x\x20peer\x3d203.0.113.9") == 3,
         "fail2ban-regex: the forged name is one user value, escaped", r.stdout + r.stderr[-500:])

    # The jail with the filter, in a copy of the system's configuration.
    conf = os.path.join(tmp, "etc")
    shutil.copytree(F2B_ETC, conf, symlinks=True)
    shutil.copy(FILTER, os.path.join(conf, "filter.d"))
    shutil.copy(JAIL, os.path.join(conf, "jail.d"))
    r = subprocess.run(["fail2ban-client", "-c", conf, "-d"], capture_output=True, text=True,
                       timeout=120)
    dump = r.stdout
    t.ok("['add', 'yubin', 'systemd']" in dump and "['set', 'yubin', 'addfailregex'," in dump
         and "SYSLOG_IDENTIFIER=imap-session" in dump and "['set', 'yubin', 'maxretry', 5]" in dump,
         "fail2ban-client reads the yubin jail with its filter (systemd backend, journalmatch)",
         dump[-3000:] + r.stderr[-2000:])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
t.done()
