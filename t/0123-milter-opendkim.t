#!/usr/bin/python3
# The real OpenDKIM (Debian's opendkim) as a milter behind smtp-session,
# a private foreground instance per mode with its own KeyTable and
# SigningTable, on a loopback port, started here:
#  - signing: a message submitted by an authenticated user through
#    smtp-session --submission gets a DKIM-Signature, and the copy in the
#    local mailbox, the queued copy in the spool and the copy relay-runner
#    delivers to a sink all verify with dkimpy (python3-dkim) against the
#    published TXT record;
#  - verifying: a message dkimpy signed, arriving on the MX service, gets
#    "Authentication-Results: ... dkim=pass" from OpenDKIM; a tampered one
#    does not pass.
# Run with Debian's python3 (python3-dkim lives there).
import base64
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
try:
    import dkim
except ImportError:
    dkim = None
if dkim is None or not shutil.which("opendkim") or not shutil.which("opendkim-genkey"):
    t.skip("OpenDKIM", "opendkim, opendkim-tools or python3-dkim not installed (t/deps.txt)")
    t.done()
    sys.exit(0)

env = yubin.CleanEnv()
DUMP = os.path.join(yubin.BUILD, "t", "unit", "test-smtp-spool")
KEYS = os.path.join(env.dir, "keys")
os.makedirs(KEYS)


def genkey(domain, selector):
    """A 2048-bit key pair; returns (private PEM path, TXT record text)."""
    subprocess.run(["opendkim-genkey", "-b", "2048", "-D", KEYS, "-d", domain, "-s", selector],
                   check=True, capture_output=True)
    with open(os.path.join(KEYS, selector + ".txt")) as f:
        txt = "".join(part.split('"')[1] for part in f.read().split("\n") if '"' in part)
    return os.path.join(KEYS, selector + ".private"), txt


SIGN_KEY, SIGN_TXT = genkey("example.org", "yubin")
VERIFY_KEY, VERIFY_TXT = genkey("example.net", "remote")
RECORDS = {b"yubin._domainkey.example.org.": SIGN_TXT.encode(),
           b"remote._domainkey.example.net.": VERIFY_TXT.encode()}


def dnsfunc(name, timeout=5):
    return RECORDS.get(name if name.endswith(b".") else name + b".")


def opendkim(mode):
    """Starts a foreground opendkim in mode s or v; returns (process, spec)."""
    d = os.path.join(env.dir, "opendkim-" + mode)
    os.makedirs(d)
    port = yubin.free_port()
    files = {
        "KeyTable": "yubin._domainkey.example.org example.org:yubin:%s\n" % SIGN_KEY,
        "SigningTable": "*@example.org yubin._domainkey.example.org\n",
        "TestPublicKeys": "yubin._domainkey.example.org %s\nremote._domainkey.example.net %s\n" %
                          (SIGN_TXT, VERIFY_TXT),
    }
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    conf = os.path.join(d, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Syslog no\nMode %s\nCanonicalization relaxed/relaxed\n"
                "Socket inet:%d@127.0.0.1\nPidFile %s/pid\nRequireSafeKeys false\n"
                "AuthservID mx.example.org\nAlwaysAddARHeader yes\n"
                "InternalHosts 127.0.0.1,localhost\n"
                "KeyTable file:%s/KeyTable\nSigningTable refile:%s/SigningTable\n"
                "TestPublicKeys %s/TestPublicKeys\nOn-Default accept\n" % (mode, port, d, d, d, d))
    log = open(os.path.join(d, "log"), "wb")
    p = subprocess.Popen(["opendkim", "-f", "-x", conf], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return p, "inet:127.0.0.1:%d" % port, os.path.join(d, "log")


def spool_messages():
    out = []
    for f in yubin.files_under(env.spool):
        if os.path.relpath(f, env.spool).startswith(("tmp/", "quarantine/")):
            continue
        p = subprocess.run([DUMP, "--dump", f], capture_output=True)
        for line in p.stdout.decode().splitlines():
            k, v = line.split(" ", 1)
            if k == "message":
                out.append(bytes.fromhex(v))
    return out


def crlf(msg):
    return msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def verifies(msg):
    try:
        return dkim.verify(crlf(msg), dnsfunc=dnsfunc)
    except Exception as e:  # noqa: BLE001 - a failed parse is a failed check
        t.diag("dkimpy: %r" % e)
        return False


procs = []
sink = relayenv.Sink(env)
relayenv.route(env, ("example.net", "127.0.0.1:%d" % sink.port))
try:
    # Signing on submission.
    p, spec, log = opendkim("s")
    procs.append(p)
    t.ok(p.poll() is None, "opendkim (signing) runs", open(log, "rb").read())
    env.set(milters=spec, milter_timeout="20s")
    tok = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode())
    body = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org, someone@example.net\r\n"
            b"Subject: signed by\r\n OpenDKIM, folded\r\nMessage-ID: <dkim-1@example.org>\r\n"
            b"Date: Mon, 7 Dec 2026 12:00:00 +0000\r\n\r\n"
            b"Hello Bob,\r\n..a dot-leading line\r\n\r\nlast line\r\n")
    out = env.run("smtp-session", b"EHLO client.example.com\r\nAUTH PLAIN " + tok + b"\r\n"
                  b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
                  b"RCPT TO:<someone@example.net>\r\nDATA\r\n" + body + b".\r\nQUIT\r\n",
                  args=["--submission"])
    replies = yubin.smtp_replies(out.stdout)
    t.ok(any(r.startswith(b"250 2.0.0 Ok: queued") for r in replies), "submitted", (replies, out.stderr))
    local = env.messages("bob@example.org")
    t.ok(len(local) == 1 and b"DKIM-Signature:" in local[0] and b"d=example.org" in local[0],
         "the stored copy carries OpenDKIM's signature", local)
    t.ok(local and verifies(local[0]), "the stored copy verifies with dkimpy")
    queued = spool_messages()
    t.ok(len(queued) == 1 and b"DKIM-Signature:" in queued[0], "the queued copy is signed too")
    t.ok(queued and verifies(queued[0]), "the queued copy verifies with dkimpy")
    t.ok(queued and not verifies(queued[0].replace(b"Hello Bob", b"Hello Eve")),
         "and a changed body does not (the check can fail)")
    r = relayenv.runner(env)
    sent = sink.messages()
    t.ok(len(sent) == 1 and b"..a dot-leading line" not in sent[0]["data"] and verifies(sent[0]["data"]),
         "relay-runner's copy at the sink verifies with dkimpy", (r.stderr, sent))
    p.terminate()
    p.wait(10)

    # Verifying on the MX service.
    p, spec, log = opendkim("v")
    procs.append(p)
    t.ok(p.poll() is None, "opendkim (verifying) runs", open(log, "rb").read())
    env.set(milters=spec)
    msg = (b"From: Remote <someone@example.net>\r\nTo: bob@example.org\r\nSubject: from afar\r\n"
           b"Message-ID: <dkim-2@example.net>\r\nDate: Mon, 7 Dec 2026 12:00:00 +0000\r\n\r\n"
           b"Signed by dkimpy.\r\n")
    sig = dkim.sign(msg, b"remote", b"example.net", open(VERIFY_KEY, "rb").read(),
                    canonicalize=(b"relaxed", b"relaxed"))
    for tampered in (False, True):
        for d in ("new", "cur"):
            dd = os.path.join(env.maildir("bob@example.org"), d)
            for n in os.listdir(dd) if os.path.isdir(dd) else []:
                os.unlink(os.path.join(dd, n))
        data = sig + (msg.replace(b"dkimpy", b"someone else") if tampered else msg)
        out = env.run("smtp-session", b"EHLO mail.example.net\r\nMAIL FROM:<someone@example.net>\r\n"
                      b"RCPT TO:<bob@example.org>\r\nDATA\r\n" + data + b".\r\nQUIT\r\n")
        got = env.messages("bob@example.org")
        head = (got[0] if got else b"").split(b"\n\n")[0].replace(b"\n\t", b" ").replace(b"\n ", b" ")
        ar = [ln for ln in head.split(b"\n") if ln.lower().startswith(b"authentication-results:")]
        if not tampered:
            t.ok(len(got) == 1 and len(ar) == 1 and ar[0].startswith(b"Authentication-Results: mx.example.org;") and
                 b" dkim=pass " in ar[0] and b"header.d=example.net" in ar[0],
                 "MX: OpenDKIM adds Authentication-Results: mx.example.org; dkim=pass", (ar, out.stderr[-500:]))
        else:
            t.ok(len(got) == 1 and b"dkim=pass" not in (got[0] if got else b"") and
                 b"dkim=fail" in (got[0] if got else b""), "MX: a tampered message gets dkim=fail", got)
finally:
    sink.stop()
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
t.done()
