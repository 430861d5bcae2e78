#!/usr/bin/env python3
"""imap-session against hostile input: covers S14 (LOGINDISABLED, no
PREAUTH), S30 (NUL), S31 (literal sizes), S32 (nesting), S33 (mailbox-name
traversal), S35 (pre-auth surface, error counters), S37 (sequence sets,
sections, partials), S39 (quoting in output)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, deliver  # noqa: E402

t = yubin.TAP()
env = yubin.Env(conf={"auth_fail_delay_ms": "10"})
U = "alice@example.org"


def status(resp):
    parts = tagged(resp).split(b" ")
    return parts[1] if len(parts) > 1 else b""


def tree(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


try:
    # ---- S14: plaintext login refused when auth_requires_tls ----
    env.set(auth_requires_tls="yes")
    r = Raw(env)
    g = r.greeting
    t.ok(g.startswith(b"* OK [CAPABILITY ") and b"LOGINDISABLED" in g and b"AUTH=" not in g,
         "S14: greeting has LOGINDISABLED, no AUTH=", g)
    t.ok(b"PREAUTH" not in g, "S14: never PREAUTH", g)
    resp = r.cmd("LOGIN %s %s" % (U, yubin.DEMO_PASSWORD))
    t.ok(b"NO [PRIVACYREQUIRED]" in tagged(resp), "S14: LOGIN before TLS is NO [PRIVACYREQUIRED]",
         resp)
    resp = r.cmd("AUTHENTICATE PLAIN")
    t.ok(b"NO [PRIVACYREQUIRED]" in tagged(resp) and b"+ " not in resp,
         "S14: AUTHENTICATE before TLS refused without a challenge", resp)
    resp = r.cmd("STARTTLS")
    t.ok(status(resp) in (b"BAD", b"NO"), "STARTTLS without a certificate is refused", resp)
    r.close()
    env.set(auth_requires_tls="no")

    # ---- S35: pre-auth surface ----
    r = Raw(env)
    resp = r.cmd("SELECT INBOX")
    t.eq(status(resp), b"BAD", "S35: SELECT before login is BAD")
    resp = r.cmd("APPEND INBOX {3}")
    t.ok(status(resp) == b"BAD" and b"+ " not in resp, "S35: APPEND before login: no literal", resp)
    out = b""
    r.send(b"".join(b"x%d FOO\r\n" % i for i in range(25)))
    out, rc = r.close()
    t.ok(b"* BYE Too many invalid" in out and b"x24 " not in out,
         "S35: 20 bad commands end the session", out[-200:])
    r = Raw(env)
    r.send(b"".join(b"l%d LOGIN %s wrong\r\n" % (i, U.encode()) for i in range(10)))
    out, rc = r.close()
    t.ok(out.count(b"AUTHENTICATIONFAILED") == 3 and b"* BYE" in out,
         "S35: three failed logins end the session", out)

    # ---- S30: NUL ----
    r = Raw(env)
    resp = r.cmd(b'LOGIN "us\x00er" "pw"')
    t.eq(status(resp), b"BAD", "S30: NUL in a quoted string")
    resp = r.cmd(b'LOGIN "us\\\x00er" pw')
    t.eq(status(resp), b"BAD", "S30: escaped NUL in a quoted string")
    r.send(b"n3 LOGIN {5}\r\n")
    t.eq(r.s.readline()[:2], b"+ ", "S30: small literal gets a continuation")
    r.send(b"us\x00er pw\r\n")
    resp = r.read_response("n3")
    t.eq(status(resp), b"BAD", "S30: NUL in a literal")
    # ---- S31: literal sizes, pre-auth ----
    resp = r.cmd("LOGIN {999999999}")
    t.ok(b"[TOOBIG]" in tagged(resp) and b"+ " not in resp, "S31a: huge literal pre-auth refused, no +",
         resp)
    resp = r.cmd("LOGIN {5000}")
    t.ok(b"[TOOBIG]" in tagged(resp), "S31: pre-auth literals limited to 4 KiB", resp)
    for bad in ("LOGIN {18446744073709551617}", "LOGIN {-1}", "LOGIN {1", "LOGIN {5} x",
                "LOGIN {4294967296}", "LOGIN {+5}"):
        resp = r.cmd(bad)
        t.eq(status(resp), b"BAD", "S31d/e: %s is BAD" % bad)
    # (f) a non-synchronising literal's bytes are never run as a command
    r.send(b"f1 LOGIN {20+}\r\nb LOGOUT\r\n0123456789 pw\r\n")
    resp = r.read_response("f1")
    t.ok(b"* BYE" not in resp and status(resp) == b"NO", "S31f: literal holding b LOGOUT not run",
         resp)
    resp = r.cmd("NOOP")
    t.eq(status(resp), b"OK", "S31f: session still up")
    r.close()
    # after login
    r = Raw(env, U)
    resp = r.cmd("APPEND INBOX {999999999}")
    t.ok(b"NO [TOOBIG]" in tagged(resp) and b"+ " not in resp, "S31b: APPEND over the limit: NO [TOOBIG]",
         resp)
    try:
        r.send(b"c1 APPEND INBOX {999999999+}\r\n" + b"x" * (1 << 20) + b"\r\nb NOOP\r\n")
    except BrokenPipeError:
        pass  # the server closed at once, as it should
    out, rc = r.close()
    t.ok(b"c1 BAD [TOOBIG]" in out and b"b OK" not in out and b"b NO" not in out,
         "S31c: non-synchronising huge literal: BAD [TOOBIG], b never answered", out[-300:])
    t.eq(len(env.messages(U)), 0, "S31: nothing stored")

    # ---- S32: nesting ----
    r = Raw(env)
    resp = r.cmd("ID " + "(" * 1000)
    t.eq(status(resp), b"BAD", "S32: deep nesting pre-auth is BAD")
    resp = r.cmd("ID ((\"a\" \"b\"))")
    t.eq(status(resp), b"BAD", "S32: two levels pre-auth is BAD")
    resp = r.cmd('ID ("name" "x")')
    t.eq(status(resp), b"OK", "ID with one list pre-auth")
    r.close()
    r = Raw(env, U)
    r.cmd("SELECT INBOX")
    resp = r.cmd("SEARCH " + "(" * 1000 + "ALL" + ")" * 1000)
    t.eq(status(resp), b"BAD", "S32: SEARCH nesting 1000 is BAD")
    resp = r.cmd("SEARCH " + "NOT " * 5000 + "ALL")
    t.eq(status(resp), b"BAD", "S32: NOT x 5000 is BAD")
    resp = r.cmd("SEARCH " + "OR ALL " * 3000 + "ALL")
    t.eq(status(resp), b"BAD", "S32: OR x 3000 is BAD")
    resp = r.cmd("SEARCH " + "NOT " * 10 + "ALL")
    t.eq(status(resp), b"OK", "shallow NOT chain works")
    resp = r.cmd("ID " + "(" * 100000)
    out, rc = r.close()
    out = resp + out
    t.ok(b"BAD" in out or b"* BYE" in out, "S32: 100000 ( answered BAD or BYE", out[-200:])

    # ---- S33: traversal ----
    outside_before = tree(env.dir)
    r = Raw(env, U)
    deliver(env, U, b"Subject: one\r\n\r\nx\r\n")
    r.cmd("SELECT INBOX")
    names = ['"../../etc/x"', '"/etc/x"', '"~root/x"', '"foo/../../x"', '"a/./b"', '"tmp"',
             '"new"', '"cur"', '".Sent"', '"a.b"', '"x\\\\y"', '"&AC4ALg-"',
             '"{localhost/user=x}INBOX"', '"a//b"', '"a/"', '"&AGEAYg-"', '"a\x01b"',
             '"&-&"', '"&Jjo"']
    for n in names:
        resp = r.cmd("CREATE " + n)
        t.ok(status(resp) in (b"NO", b"BAD") or n == '"a/"', "S33: CREATE %s refused" % n, resp)
    for c in ('SELECT "../../../etc/passwd"', 'RENAME INBOX "../x"', 'DELETE ".."',
              'STATUS "../.." (MESSAGES)', 'COPY 1 "../x"', 'RENAME "../x" y',
              'SUBSCRIBE "../x"', 'EXAMINE "/etc"'):
        resp = r.cmd(c)
        t.ok(status(resp) in (b"NO", b"BAD"), "S33: %s refused" % c, resp)
    r.send(b't9 APPEND "../x" {3}\r\n')
    line = r.s.readline()
    if line.startswith(b"+"):
        r.send(b"abc\r\n")
        resp = r.read_response("t9")
    else:
        resp = line
    t.ok(status(resp) in (b"NO", b"BAD"), "S33: APPEND ../x refused", resp)
    for c in ('LIST "" "../*"', 'LIST "../" "*"', 'LIST "/" "*"', 'LIST "" "/*"'):
        resp = r.cmd(c)
        t.ok(b"* LIST" not in resp, "S33: %s lists nothing" % c, resp)
    r.close()
    after = tree(env.dir)
    alice = os.path.relpath(env.maildir(U), env.dir)
    new = sorted(p for p in after - outside_before if not p.startswith(alice))
    t.eq(new, [], "S33: nothing created outside the user's mail root")
    made = sorted(p for p in after - outside_before if p.startswith(alice + "/.")
                  and p.count("/") == 2)
    t.ok(all(p.startswith(alice + "/.a/") or p.split("/")[2] in (".Sent", ".Drafts", ".Trash",
             ".Junk", ".Archive", ".a") for p in made),
         "S33: only the legitimate folder 'a' created", made)

    # ---- S37: sequence sets, sections, partials ----
    for i in range(2):
        deliver(env, U, b"Subject: m\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
                b"--B\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n--B--\r\n")
    r = Raw(env, U)
    resp = r.cmd("SELECT INBOX")
    t.ok(b"* 3 EXISTS" in resp, "three messages", resp)
    for c in ("FETCH 0 FLAGS", "FETCH 4294967296 FLAGS", "FETCH 1:0 FLAGS", "FETCH 01 FLAGS",
              "FETCH 1 BODY[HEADER.FIELDS ()]", "STORE 1 +FLAGS (\\Recent)", "FETCH 1 BODY[0]",
              "FETCH 1 BODY[]<1>", "FETCH 1 BODY[]<4294967296.1>", "FETCH 1 BODY[1.MIMEX]"):
        resp = r.cmd(c)
        t.eq(status(resp), b"BAD", "S37: %s is BAD" % c)
    resp = r.cmd("FETCH 1:4294967295 FLAGS")
    t.ok(resp.count(b" FETCH (") == 3 and status(resp) == b"OK", "S37: 1:4294967295 clamped", resp)
    resp = r.cmd("FETCH *:1 (UID)")
    t.ok(resp.count(b" FETCH (") == 3, "S37: *:1 works as 1:*", resp)
    resp = r.cmd("FETCH " + ",".join(["1"] * 20000) + " (UID)")
    t.ok(resp.count(b" FETCH (") == 1 and status(resp) == b"OK", "S37: 1,1,1,... is one message",
         resp[:200])
    resp = r.cmd("UID FETCH 1:* (BODY.PEEK[]<4294967295.4294967295>)")
    t.ok(resp.count(b"BODY[]<4294967295> {0}") == 3, "S37: partial past the end is empty", resp)
    resp = r.cmd("FETCH 1 BODY.PEEK[" + ".".join(str(i) for i in range(1, 21)) + "]")
    t.ok(b'20] "")' in resp and status(resp) == b"OK", "S37: missing deep section is \"\"", resp)
    resp = r.cmd("FETCH 2 BINARY.PEEK[1]")
    t.ok(b"NO [UNKNOWN-CTE]" in tagged(resp), "S37: broken base64 gives NO [UNKNOWN-CTE]", resp)
    resp = r.cmd("NOOP")
    t.eq(status(resp), b"OK", "S37: session survives")

    # ---- S39: quoting in output ----
    deliver(env, U, b'From: "Evil \\" Quote" <e@example.org>\r\nSubject: a"b\\c\r\n\r\nx\r\n')
    deliver(env, U, b"Subject: =?utf-8?q?x=22=0D=0A=2A_1_EXPUNGE?=\r\n\r\nx\r\n")
    deliver(env, U, b"Subject: caf\xc3\xa9 \xff\r\n\r\nx\r\n")
    r.cmd("NOOP")
    resp = r.cmd("FETCH 4:6 (ENVELOPE)")
    t.ok(b'"a\\"b\\\\c"' in resp or b'{5}\r\na"b\\c' in resp, "S39: quote and backslash escaped",
         resp)
    t.ok(b'"=?utf-8?q?x=22=0D=0A=2A_1_EXPUNGE?="' in resp, "S39: encoded word left encoded", resp)
    t.ok(b"\r\n* 1 EXPUNGE" not in resp, "S39: no injected response", resp)
    t.ok(b"}\r\ncaf\xc3\xa9 \xff" in resp, "S39: 8-bit header value sent as a literal", resp)
    resp = r.cmd('CREATE "q\\"x"')
    t.eq(status(resp), b"OK", 'S39: CREATE q"x')
    resp = r.cmd('LIST "" "q*"')
    t.ok(b'"/" "q\\"x"\r\n' in resp, "S39: mailbox name quoted with escape in LIST", resp)
    r.close()
    # ---- a 10,000-command pipeline with bounded memory (issue 5) ----
    import resource
    import subprocess
    import threading
    data = (b"a LOGIN %s %s\r\nb SELECT INBOX\r\n" % (U.encode(), yubin.DEMO_PASSWORD.encode())
            + b"".join(b"n%d NOOP\r\n" % i for i in range(10000)) + b"z LOGOUT\r\n")
    p = subprocess.Popen([yubin.binary("imap-session"), "-c", env.conf_path],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    w = threading.Thread(target=lambda: (p.stdin.write(data), p.stdin.close()))
    w.start()
    out = p.stdout.read()
    p.wait()
    w.join()
    t.eq(out.count(b" OK NOOP completed"), 10000, "10,000 pipelined commands all answered")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t.ok(rss < 200 * 1024, "pipeline memory bounded (max child RSS %d KiB)" % rss)
finally:
    env.cleanup()
t.done()
