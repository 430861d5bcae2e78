#!/usr/bin/env python3
"""pop3-session over pipes on a Maildir INBOX: every command, exact sizes,
byte-stuffing, UIDL stability, UPDATE-state semantics, IN-USE, bad input
(S41-S45, S47, S53)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"auth_fail_delay_ms": "10"})
USER = "alice@example.org"
LOGIN = b"USER alice@example.org\r\nPASS secret-pw\r\n"
seq = [0]


def deliver(body, sizes=True, sub="new", flags="", base=None):
    """A message file written the way delivery or another MUA leaves it."""
    d = env.maildir(USER)
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    seq[0] += 1
    base = base or "%d.M%dP%dR%016x.mx.example.org" % (1700000000 + seq[0], seq[0], 4242, seq[0])
    name = base
    if sizes:
        vsize = len(body) + body.count(b"\n") - body.count(b"\r\n")
        name += ",S=%d,W=%d" % (len(body), vsize)
    if flags or sub == "cur":
        name += ":2," + flags
    with open(os.path.join(d, sub, name), "wb") as f:
        f.write(body)
    env.write_conf()   # as root: lets run_as (nobody) rename and unlink
    return base


def files():
    d = env.maildir(USER)
    return sorted(n for s in ("new", "cur") for n in os.listdir(os.path.join(d, s)))


def wire(body):
    """What RETR must send: CRLF line ends, an unterminated last line ended."""
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(l + b"\r\n" for l in lines)


def unstuff(block):
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in block.split(b"\r\n")[:-1])


def multiline(out, start):
    """The body of the multi-line answer whose status line begins at start."""
    i = out.index(b"\r\n", start) + 2
    j = out.index(b"\r\n.\r\n", i - 2)
    return out[i:j + 2] if j >= i else b""


def finish(sess):
    """Ends a Session: closes its input, waits, returns the rest of its output.
    (Session.close in yubin.py trips over its own closed stdin.)"""
    try:
        sess.p.stdin.close()
    except OSError:
        pass
    try:
        sess.p.wait(10)
    except Exception:
        sess.p.kill()
        sess.p.wait()
    return sess.buf + sess.p.stdout.read()


sanitizer_reports = []
_run = env.run


def run_checked(*a, **kw):
    """env.run, remembering any sanitizer report in the session's stderr."""
    r = _run(*a, **kw)
    if b"runtime error" in r.stderr or b"Sanitizer" in r.stderr:
        sanitizer_reports.append(r.stderr[:2000])
    return r


env.run = run_checked


def pop(cmds, **kw):
    return env.run("pop3-session", LOGIN + cmds, **kw)


# --- fixtures: every storage shape -----------------------------------
bodies = [
    # 1: delivered (S=, W=), LF, lines needing stuffing, mboxrd-looking lines
    b"Subject: one\nFrom: a@example.com\n\n.starts with dot\n..two dots\n.\nFrom here\n>From there\nend\n",
    # 2: no sizes in the name, stored with CRLF
    b"Subject: two\r\n\r\nline\r\n.\r\n",
    # 3: no sizes, mixed line ends, no final newline
    b"Subject: three\n\r\nmixed\r\nends\nno newline",
    # 4: headers only
    b"Subject: four\n",
    # 5: format strings in message data (S43)
    b"From: %n%n%n%s%s%s@example.com\nSubject: %x%x%x\n\nbody %s %n\n",
]
bases = [deliver(bodies[0]), deliver(bodies[1], sizes=False),
         deliver(bodies[2], sizes=False, sub="cur", flags="S"),
         deliver(bodies[3]), deliver(bodies[4], base="1700000099.M%nP%s.host")]

r = env.run("pop3-session", b"CAPA\r\nQUIT\r\n")
lines = r.stdout.split(b"\r\n")
t.ok(lines[0].startswith(b"+OK") and b"<" not in lines[0],
     "greeting +OK without an APOP timestamp (covers S44)")
capa = multiline(r.stdout, r.stdout.index(b"+OK Capability"))
for cap in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING",
            b"USER", b"SASL PLAIN LOGIN"):
    t.ok(cap + b"\r\n" in capa, "CAPA lists %s" % cap.decode())
t.ok(b"STLS" not in capa and b"APOP" not in capa, "no STLS without certificates, never APOP")
t.ok(r.stdout.endswith(b"+OK mx.example.org POP3 server signing off\r\n") and r.rc == 0,
     "QUIT in AUTHORIZATION")

before_new = os.listdir(os.path.join(env.maildir(USER), "new"))

# --- UIDL: the Maildir base name; gives the numbering ------------------
r = pop(b"UIDL\r\nQUIT\r\n")
u = multiline(r.stdout, r.stdout.index(b"+OK Unique-ID"))
uidls = [l.split()[1] for l in u.split(b"\r\n") if l]
t.eq(sorted(uidls), sorted(b.encode() for b in bases), "UIDL is the Maildir base name (covers S45)")
t.ok(all(0 < len(x) <= 70 and all(0x21 <= c <= 0x7e for c in x) for x in uidls),
     "UIDLs are 1-70 printable characters (RFC 1939)")
num = {x.decode(): i + 1 for i, x in enumerate(uidls)}     # base -> message number
order = [bodies[bases.index(x.decode())] for x in uidls]   # bodies by number
expect = [wire(b) for b in order]
r = pop(b"UIDL %d\r\nQUIT\r\n" % num[bases[4]])
t.ok(b"+OK %d 1700000099.M%%nP%%s.host\r\n" % num[bases[4]] in r.stdout,
     "UIDL n; '%' in a name is harmless (covers S43)")

# --- STAT, LIST, RETR: exact sizes and byte-stuffing --------------------
cmds = b"STAT\r\nLIST\r\n" + b"".join(b"RETR %d\r\n" % i for i in range(1, 6))
r = pop(cmds)   # no QUIT: a dropped connection must change nothing
t.eq(sorted(os.listdir(os.path.join(env.maildir(USER), "new"))), sorted(before_new),
     "RETR without QUIT leaves new/ as it was (covers S45)")
out = r.stdout
stat = re.search(rb"\r\n\+OK (\d+) (\d+)\r\n", out)
t.ok(stat and int(stat.group(1)) == 5 and int(stat.group(2)) == sum(map(len, expect)),
     "STAT counts 5 messages and their CRLF octets", out[:400])
listing = multiline(out, out.index(b"+OK 5 messages"))
sizes = [int(l.split()[1]) for l in listing.split(b"\r\n") if l]
t.eq(sizes, [len(e) for e in expect], "LIST sizes are exact CRLF sizes, with or without W= (covers S45)")
pos = 0
for i, e in enumerate(expect, 1):
    pos = out.index(b"+OK %d octets\r\n" % len(e), pos)
    got = unstuff(multiline(out, pos))
    t.eq(got, e, "RETR %d: CRLF payload of exactly the LIST size" % i)
    pos += 1
t.ok(b"\r\n..starts with dot\r\n...two dots\r\n..\r\nFrom here\r\n>From there\r\n" in out,
     "lines starting with '.' are byte-stuffed; Maildir >From lines are left alone")
t.ok(b"From: %n%n%n%s%s%s@example.com\r\nSubject: %x%x%x\r\n" in out,
     "format strings in headers come out verbatim (covers S43)")
t.ok(b"\n" not in out.replace(b"\r\n", b""), "no bare LF on the wire")

# --- sizes of names without W= are cached, not recounted at each login ----
cache = os.path.join(env.maildir(USER), ".pop3.sizes")
ctext = open(cache).read() if os.path.exists(cache) else ""
t.ok(("%s %d %d\n" % (bases[1], len(bodies[1]), len(expect[num[bases[1]] - 1])) in ctext) and
     bases[2] in ctext and bases[0] not in ctext, "sizes of names without W= kept in .pop3.sizes", ctext)
two = [os.path.join(dp, n) for dp in (os.path.join(env.maildir(USER), "new"),) for n in os.listdir(dp)
       if n.startswith(bases[1])][0]
os.chmod(two, 0)
r = pop(b"LIST %d\r\nRETR %d\r\nQUIT\r\n" % (num[bases[1]], num[bases[1]]))
os.chmod(two, 0o666)
t.ok(b"+OK %d %d\r\n" % (num[bases[1]], len(expect[num[bases[1]] - 1])) in r.stdout,
     "LIST of an unreadable message still exact: its size came from the cache", r.stdout)
t.ok(b"-ERR [SYS/TEMP] Cannot read message" in r.stdout, "RETR of an unreadable message -> -ERR [SYS/TEMP]")
with open(cache, "w") as f:
    f.write("junk\n%s 1 x\n\0\n%s %d 1\n" % (bases[2], bases[1], len(bodies[1])))
env.write_conf()
r = pop(b"LIST %d\r\nQUIT\r\n" % num[bases[2]])
t.ok(b"+OK %d %d\r\n" % (num[bases[2]], len(expect[num[bases[2]] - 1])) in r.stdout,
     "a damaged cache is ignored and rebuilt", r.stdout)

# TOP
m1, m4 = num[bases[0]], num[bases[3]]
r = pop(b"TOP %d 0\r\nTOP %d 2\r\nTOP %d 99999999999\r\nTOP %d 3\r\nTOP 1 -1\r\nTOP 1\r\nQUIT\r\n"
        % (m1, m1, m1, m4))
o = r.stdout
tops = [m.start() for m in re.finditer(rb"\+OK Top of message follows\r\n", o)]
t.eq(len(tops), 4, "four TOP answers")
t.eq(multiline(o, tops[0]), b"Subject: one\r\nFrom: a@example.com\r\n\r\n", "TOP 1 0: header and blank line")
t.eq(multiline(o, tops[1]), b"Subject: one\r\nFrom: a@example.com\r\n\r\n..starts with dot\r\n...two dots\r\n",
     "TOP 1 2: two body lines, stuffed")
t.eq(unstuff(multiline(o, tops[2])), wire(bodies[0]), "TOP 1 99999999999 is the whole message (covers S42)")
t.eq(multiline(o, tops[3]), b"Subject: four\r\n", "TOP on a headers-only message")
t.ok(o.count(b"-ERR") == 2, "TOP 1 -1 and TOP 1 without a count are -ERR (covers S42)", o[-200:])

# --- S42: numeric arguments --------------------------------------------
bad = [b"DELE -1", b"RETR 0", b"LIST 4294967297", b"UIDL 99999", b"TOP 1 -1",
       b"RETR 1x", b"RETR  1", b"RETR +1", b"LIST 18446744073709551617", b"RETR 6",
       b"DELE 0x1", b"LIST 1 2"]
r = pop(b"".join(b + b"\r\n" for b in bad) + b"STAT\r\nQUIT\r\n")
answers = r.stdout.split(b"\r\n")[3:3 + len(bad)]
for b, a in zip(bad, answers):
    t.ok(a.startswith(b"-ERR "), "%s -> -ERR (covers S42)" % b.decode(), a)
t.ok(b"+OK 5 " in r.stdout and len(files()) == 5, "session goes on; nothing deleted by bad numbers")

# --- S45: UPDATE state ------------------------------------------------
r = pop(b"DELE 1\r\nRETR 1\r\nLIST 1\r\nSTAT\r\n")  # no QUIT: EOF
t.ok(b"-ERR Message 1 already deleted" in r.stdout, "RETR of a deleted message -> -ERR (covers S45)")
t.ok(len(files()) == 5, "DELE then a dropped connection removes nothing (covers S45)")
r = pop(b"DELE 1\r\nDELE 2\r\nRSET\r\nLIST\r\nQUIT\r\n")
t.ok(b"+OK 5 messages" in r.stdout and len(files()) == 5, "RSET undoes DELE; QUIT then removes nothing")

# --- stability of UIDL across sessions and flag renames -----------------
d = env.maildir(USER)
old = [n for n in os.listdir(os.path.join(d, "new")) if n.startswith(bases[0])][0]
os.rename(os.path.join(d, "new", old), os.path.join(d, "cur", old + ":2,FS"))
r = pop(b"UIDL\r\nQUIT\r\n")
u2 = [l.split()[1] for l in multiline(r.stdout, r.stdout.index(b"+OK Unique-ID")).split(b"\r\n") if l]
t.eq(u2, uidls, "UIDLs stable across sessions and an IMAP-style rename to cur/:2,FS (covers S45)")
r = pop(b"LIST %d\r\nQUIT\r\n" % m1)
t.ok(b"+OK %d %d\r\n" % (m1, len(wire(bodies[0]))) in r.stdout, "size still from S=/W= after the rename")

# RETR marks seen at QUIT (document: retrieved = seen, moved to cur/)
r = pop(b"RETR %d\r\nQUIT\r\n" % m4)
t.ok(any(n.startswith(bases[3]) and n.endswith(":2,S") for n in os.listdir(os.path.join(d, "cur"))),
     "a message retrieved and kept moves to cur/ with the S flag at QUIT")
r = pop(b"UIDL %d\r\nQUIT\r\n" % m4)
t.ok(b"+OK %d %s\r\n" % (m4, bases[3].encode()) in r.stdout, "UIDL unchanged by the new/ -> cur/ move")
r = pop(b"TOP %d 0\r\n" % num[bases[1]])
t.ok(sum(1 for n in os.listdir(os.path.join(d, "new")) if n.startswith(bases[1])) == 1,
     "TOP and a dropped connection move nothing")

# DELE + QUIT removes durably, numbering is per session
r = pop(b"DELE %d\r\nQUIT\r\n" % num[bases[1]])
t.ok(b"+OK" in r.stdout.split(b"\r\n")[-2] and not any(n.startswith(bases[1]) for n in files()),
     "DELE then QUIT removes the file")
r = pop(b"STAT\r\nUIDL\r\nQUIT\r\n")
t.ok(b"+OK 4 " in r.stdout and bases[1].encode() not in r.stdout and bases[2].encode() in r.stdout,
     "next session numbers the remaining messages afresh")

# --- IN-USE and a delivery during a session -----------------------------
s1 = env.start("pop3-session")
s1.readline()
s1.send(LOGIN + b"STAT\r\n")
s1.readline()
a = s1.readline()
st1 = s1.readline()
r = pop(b"QUIT\r\n", timeout=20)
t.ok(b"-ERR [IN-USE]" in r.stdout, "second concurrent login -> -ERR [IN-USE] (covers S44, S45)", r.stdout)
newbase = deliver(b"Subject: late\n\nlate\n")
s1.send(b"STAT\r\nUIDL\r\n")
st2 = s1.readline()
t.eq(st2, st1, "a delivery during the session does not change its numbering (covers S45)")
s1.send(b"QUIT\r\n")
finish(s1)
r = pop(b"UIDL\r\nQUIT\r\n")
t.ok(newbase.encode() in r.stdout, "the delivery shows up in the next session")

# --- another program renames or removes files during a session (S64) ------
def find(base):
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(d, sub)):
            if n.startswith(base):
                return sub, n
    return None, None


r = pop(b"UIDL\r\nQUIT\r\n")
ids = [l.split()[1].decode() for l in multiline(r.stdout, r.stdout.index(b"+OK Unique-ID")).split(b"\r\n") if l]
late = deliver(b"Subject: renamed meanwhile\n\nstill here\n")
gone = deliver(b"Subject: expunged meanwhile\n\ngone\n")
s1 = env.start("pop3-session")
s1.readline()
s1.send(LOGIN + b"UIDL\r\n")
for _ in range(3):
    s1.readline()
lst = []
while True:
    line = s1.readline()
    if line == b".\r\n":
        break
    lst.append(line.split())
n_late = [int(x[0]) for x in lst if x[1].decode() == late][0]
n_gone = [int(x[0]) for x in lst if x[1].decode() == gone][0]
sub, name = find(late)
os.rename(os.path.join(d, sub, name), os.path.join(d, "cur", name + ":2,FS"))   # IMAP sets flags
sub, name = find(gone)
os.unlink(os.path.join(d, sub, name))                                           # IMAP expunges
s1.send(b"RETR %d\r\nRETR %d\r\nDELE %d\r\nDELE %d\r\nQUIT\r\n" % (n_late, n_gone, n_late, n_gone))
got = finish(s1)
t.ok(b"+OK" in got.split(b"\r\n")[0] and b"\r\nstill here\r\n.\r\n" in got,
     "RETR follows a message renamed by another program (covers S64)", got)
t.ok(b"-ERR [SYS/TEMP] Cannot read message %d" % n_gone in got,
     "RETR of a message removed meanwhile -> -ERR [SYS/TEMP]", got)
t.ok(got.endswith(b"signing off (%d messages left)\r\n" % len(ids)) and find(late) == (None, None),
     "DELE + QUIT removes the renamed message; the vanished one counts as removed", got[-200:])

# --- wrong state, unknown commands, logs -------------------------------
r = env.run("pop3-session", b"STAT\r\nRETR 1\r\nXYZZY\r\nNOOP\r\nPASS x\r\nUSER\r\n" + LOGIN +
            b"USER bob\r\nSTLS\r\nNOOP\r\nQUIT\r\n")
ln = r.stdout.split(b"\r\n")
t.ok(all(x.startswith(b"-ERR") for x in ln[1:7]),
     "commands in the wrong state, unknown ones, PASS before USER -> -ERR", ln[:8])
t.ok(ln[9].startswith(b"-ERR") and ln[10].startswith(b"-ERR") and ln[11] == b"+OK ",
     "USER and STLS after login -> -ERR; NOOP", ln[7:12])
t.ok(b"login: user=alice@example.org method=USER" in r.stderr and b"peer=local" in r.stderr,
     "login logged with user and peer")
t.ok(re.search(rb"quit: user=alice@example.org retrieved=0 deleted=0 removed=0 kept=\d+", r.stderr),
     "QUIT logged with counts", r.stderr)

# --- S44 / S53: APOP and failed logins ------------------------------------
env.set(auth_fail_delay_ms=150)
t0 = time.time()
r = env.run("pop3-session", b"APOP alice 0123456789abcdef0123456789abcdef\r\nAPOP alice\r\n"
            b"USER alice@example.org\r\nPASS wrong-1\r\nUSER alice@example.org\r\nPASS wrong-2\r\n"
            b"USER alice@example.org\r\nPASS wrong-3\r\nUSER alice@example.org\r\nPASS secret-pw\r\n")
took = time.time() - t0
ln = r.stdout.split(b"\r\n")
t.ok(ln[1].startswith(b"-ERR [AUTH]") and ln[2].startswith(b"-ERR [AUTH]"),
     "APOP -> -ERR [AUTH] not supported (covers S44)", ln[:3])
t.eq([l[:17] for l in ln[4:9:2]], [b"-ERR [AUTH] Authe"] * 3, "failed PASS -> -ERR [AUTH] (covers S44)")
t.ok(b"secret-pw" not in r.stdout and ln[9] == b"", "closed after the third failure (covers S53)", ln)
t.ok(took >= 0.85, "failures are delayed, growing (0.15+0.3+0.45 s) (covers S53)", took)
t.ok(r.stderr.count(b"auth failure: proto=pop3 method=USER user=alice@example.org ") == 3 and b"peer=local" in r.stderr
     and b"wrong-" not in r.stderr, "failures logged with user and peer, never the password")
env.set(auth_fail_delay_ms=10)
r = env.run("pop3-session", b"USER nobody@example.org\r\nPASS secret-pw\r\nQUIT\r\n")
t.ok(b"-ERR [AUTH]" in r.stdout, "unknown user -> the same -ERR [AUTH]")

# --- S41 / S47: long lines -------------------------------------------------
longs = [b"USER " + b"A" * 5000, b"PASS " + b"A" * 5000, b"LIST " + b"9" * 5000,
         b"APOP alice " + b"a" * 5000, b"TOP 1 " + b"1" * 5000]
r = env.run("pop3-session", longs[0] + b"\r\n" + longs[1] + b"\r\n" + LOGIN +
            b"".join(x + b"\r\n" for x in longs[2:]) + b"NOOP\r\nQUIT\r\n")
ln = r.stdout.split(b"\r\n")
t.ok(ln[1].startswith(b"-ERR") and ln[2].startswith(b"-ERR") and len(ln[1]) < 100,
     "USER/PASS with 5000 bytes -> short -ERR (covers S41)", ln[:3])
t.ok(all(x.startswith(b"-ERR") for x in ln[5:8]) and ln[8] == b"+OK ",
     "LIST/APOP/TOP with 5000 bytes -> -ERR, session goes on (covers S41)", ln[3:9])
r = env.run("pop3-session", b"NOOP" + b"A" * (1 << 20))
t.ok(re.match(rb"\+OK [^\r]*\r\n-ERR Line too long, closing\r\n$", r.stdout) and r.rc == 0,
     "an unterminated 1 MiB line -> -ERR and close (covers S41, S47)", r.stdout[:200])
r = env.run("pop3-session", b"NOOP\x00\r\nUSER a\rb\r\nQUIT\r\n")
t.ok(r.stdout.split(b"\r\n")[1:3] == [b"-ERR Invalid characters in command"] * 2,
     "NUL and bare CR in a command -> -ERR")

# --- too many bad commands, idle timeout --------------------------------
r = env.run("pop3-session", b"BOGUS\r\n" * 30)
t.ok(r.stdout.count(b"-ERR") == 20 and r.stdout.endswith(b"closing\r\n"),
     "20 bad commands -> close (covers S35-style limit)", r.stdout[-100:])
env.set(pop3_timeout=1)
s = env.start("pop3-session")
s.readline()
s.send(LOGIN + b"DELE 1\r\nDELE 2\r\n")
for _ in range(4):
    s.readline()
t0 = time.time()
last = s.readline(timeout=10)
res = finish(s)
t.ok(last.startswith(b"-ERR") and b"Autologout" in last and time.time() - t0 < 5,
     "idle timeout ends the session with -ERR", last)
t.ok(len(files()) == 5, "timeout removes nothing (covers S45)")
env.set(pop3_timeout=600)

# --- auth_requires_tls: no plaintext auth without TLS (S46) ----------------
env.set(auth_requires_tls="yes")
r = env.run("pop3-session", b"CAPA\r\nUSER alice@example.org\r\nPASS secret-pw\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldC1wdw==\r\nQUIT\r\n")
capa = multiline(r.stdout, r.stdout.index(b"+OK Capability"))
t.ok(b"USER" not in capa and b"SASL" not in capa, "auth_requires_tls: CAPA lists no USER/SASL (covers S46)")
t.ok(r.stdout.count(b"-ERR [AUTH] Plaintext authentication disallowed") == 3,
     "USER, PASS and AUTH PLAIN -> -ERR [AUTH] before TLS (covers S12, S46)", r.stdout)
env.set(auth_requires_tls="no")

# --- SASL AUTH -------------------------------------------------------------
import base64  # noqa: E402
plain = base64.b64encode(b"\0alice@example.org\0secret-pw")
r = env.run("pop3-session", b"AUTH\r\nAUTH PLAIN " + plain + b"\r\nSTAT\r\nQUIT\r\n")
t.ok(b"+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n" in r.stdout, "AUTH lists mechanisms")
t.ok(b"+OK Logged in" in r.stdout and b"+OK 5 " in r.stdout, "AUTH PLAIN with initial response", r.stdout)
r = env.run("pop3-session", b"AUTH PLAIN\r\n" + plain + b"\r\nQUIT\r\n")
t.ok(b"+ \r\n+OK Logged in" in r.stdout, "AUTH PLAIN with a continuation", r.stdout)
r = env.run("pop3-session", b"AUTH LOGIN\r\n" + base64.b64encode(b"alice@example.org") + b"\r\n" +
            base64.b64encode(b"secret-pw") + b"\r\nQUIT\r\n")
t.ok(b"+OK Logged in" in r.stdout and b"method=LOGIN" in r.stderr, "AUTH LOGIN", r.stdout)
r = env.run("pop3-session", b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.org\0nope") +
            b"\r\nAUTH PLAIN\r\n*\r\nAUTH CRAM-MD5\r\nQUIT\r\n")
ln = r.stdout.split(b"\r\n")
t.ok(ln[1].startswith(b"-ERR [AUTH]") and ln[3].startswith(b"-ERR") and ln[4].startswith(b"-ERR"),
     "AUTH: wrong password, cancel, unknown mechanism -> -ERR", ln)

r = env.run("pop3-session", b"AUTH PLAIN\r\n" + b"A" * 9000 + b"\r\nNOOP\r\n")
t.ok(r.stdout.endswith(b"+ \r\n-ERR [AUTH] Response too long, closing\r\n"),
     "a SASL response past its limit -> -ERR and close (covers S41)", r.stdout[-100:])

# --- -V --------------------------------------------------------------------
import subprocess  # noqa: E402
v = subprocess.run([yubin.binary("pop3-session"), "-V"], capture_output=True)
t.ok(v.returncode == 0 and v.stdout.startswith(b"pop3-session"), "-V prints the version")

t.ok(not sanitizer_reports, "no sanitizer report from any session", b"".join(sanitizer_reports[:1]))

env.cleanup()
t.done()
