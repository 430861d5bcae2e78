#!/usr/bin/env python3
"""The built-in DKIM signer (issue 12): smtp-session --submission signs a
message from an authenticated user whose From: domain has keys (made by
yubin-setup --dkim, an RSA and an Ed25519 one) with one signature per
key, and both verify with dkimpy and with OpenDKIM, for folded headers,
8-bit bodies, long lines, dot-leading lines, empty and missing bodies and
BDAT. Mail on the MX service, mail from a domain without keys, a
message with two From: fields and a From: domain other than the envelope
sender's are not signed; a key that cannot be used
fails the message with 451 and stores nothing."""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import dkimenv  # noqa: E402
import yubin  # noqa: E402

t = yubin.TAP()
env = yubin.CleanEnv()
keys = dkimenv.Keys(env)
keys.make("example.org", "rsa", "rsa1")
keys.make("example.org", "ed25519", "ed1")
AUTH = base64.b64encode(b"\0alice@example.org\0" + yubin.DEMO_PASSWORD.encode()).decode()


def stuff(text):
    """DATA content: CRLF line ends, dots doubled, the terminator."""
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    return "\r\n".join("." + ln if ln.startswith(".") else ln for ln in lines) + ".\r\n"


def submit(text, submission=True, login=True, bdat=False, mail_from="alice@example.org"):
    """Sends text (CRLF lines) to bob@example.org; returns (stdout, stderr)."""
    cmds = "EHLO client.example\r\n"
    if login:
        cmds += "AUTH PLAIN %s\r\n" % AUTH
    cmds += "MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\n" % mail_from
    data = cmds.encode()
    if bdat:
        body = text.encode()
        data += b"BDAT %d LAST\r\n" % len(body) + body
    else:
        data += b"DATA\r\n" + stuff(text).encode()
    data += b"QUIT\r\n"
    r = env.run("smtp-session", data, args=["--submission"] if submission else [])
    return r.stdout, r.stderr


def take():
    """Removes and returns bob's messages."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(env.maildir("bob@example.org"), sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
            os.unlink(os.path.join(d, n))
    return out


def sigs(msg):
    head = msg.split(b"\n\n", 1)[0]
    return re.findall(rb"(?mi)^DKIM-Signature:.*(?:\n[ \t].*)*", head)


CASES = {
    "folded headers": "From: Alice\r\n <alice@example.org>\r\nTo: bob@example.org,\r\n"
                      "\tcarol@example.org\r\nSubject: a folded\r\n   subject   line \r\n"
                      "List-Id: <list.example.org>\r\n\r\nbody\r\n",
    "8-bit body": "From: alice@example.org\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                  "\r\ncaf\u00e9 \u65e5\u672c\u8a9e\r\n\u00fcber  \t\r\n",
    "long lines": "From: alice@example.org\r\nSubject: long\r\n\r\n" + "x" * 998 + "\r\n" +
                  ("word  \t " * 120) + "\r\n" + "y" * 997 + " \r\n",
    "dot-leading lines": "From: alice@example.org\r\nSubject: dots\r\n\r\n.\r\n..two\r\n"
                         ". space\r\nend\r\n.x\r\n",
    "empty body": "From: alice@example.org\r\nSubject: empty\r\n\r\n",
    "no body at all": "From: alice@example.org\r\nSubject: headers only\r\n",
    "blank lines at the end": "From: alice@example.org\r\nSubject: trailing\r\n\r\n"
                              "text\r\n\r\n \r\n\t\r\n\r\n",
}

for name, text in CASES.items():
    out, err = submit(text)
    got = take()
    m = got[0] if got else b""
    t.ok(b"\r\n250 2.0.0 Ok: queued" in out and len(got) == 1, "%s: accepted" % name, out)
    s = sigs(m)
    t.ok(len(s) == 2 and b"a=rsa-sha256" in b"".join(s) and b"a=ed25519-sha256" in b"".join(s),
         "%s: one signature per key, RSA and Ed25519" % name, m[:1500])
    v = keys.verify(m)
    t.ok(sorted((x["s"], x["pass"]) for x in v["dkimpy"]) == [("ed1", True), ("rsa1", True)],
         "%s: both verify with dkimpy" % name, v)
    t.ok(sorted((sel, res) for res, sel in v["opendkim"]) == [("ed1", "pass"), ("rsa1", "pass")],
         "%s: both verify with OpenDKIM" % name, v)

# What is signed: From over-signed, the present fields only, no l=.
submit(CASES["folded headers"])
m = take()[0]
v = keys.verify(m)["dkimpy"]
t.eq([x["h"] for x in v], ["From:From:To:Subject:Date:Message-ID:List-Id"] * 2,
     "h=: From over-signed, then the fields present of RFC 6376 5.4.1's list")
t.ok(not any(re.search(rb"(?<![a-z])l=", x) for x in sigs(m)), "no l= tag")
t.ok(re.search(rb"Received: [^\n]*\n(?:\t[^\n]*\n)*DKIM-Signature:", m) is not None,
     "the signatures sit under our Received:", m[:600])

# A changed body or header no longer verifies: the verifiers are real.
v = keys.verify(m.replace(b"\nbody\n", b"\nbody!\n"))
t.ok(not any(x["pass"] for x in v["dkimpy"]) and all(r != "pass" for r, _ in v["opendkim"]),
     "a changed body fails both verifiers", v)
v = keys.verify(m.replace(b"subject   line", b"subject line!"))
t.ok(not any(x["pass"] for x in v["dkimpy"]), "a changed Subject: fails dkimpy", v)
v = keys.verify(re.sub(rb"(?m)^Received:", b"From: mallory@example.org\nReceived:", m, count=1))
t.ok(not any(x["pass"] for x in v["dkimpy"]), "an added From: fails (over-signing)", v)

# BDAT, and a message without Date:/Message-ID: gets them signed.
out, _ = submit("From: alice@example.org\r\nSubject: bdat\r\n\r\nchunk\r\n", bdat=True)
got = take()
m = got[0] if got else b""
v = keys.verify(m)
t.ok(len(sigs(m)) == 2 and all(x["pass"] for x in v["dkimpy"]) and
     sorted(r for r, _ in v["opendkim"]) == ["pass", "pass"], "BDAT: signed, verifies", v)
t.ok(len(v["dkimpy"]) == 2 and all("Date" in x["h"] and "Message-ID" in x["h"]
                                   for x in v["dkimpy"]),
     "the Date: and Message-ID: added for the submitter are signed", v)

# Not signed: MX service, a domain without keys, two From: fields.
out, _ = submit(CASES["empty body"], submission=False, login=False)
got = take()
t.ok(got and sigs(got[0]) == [], "MX service, no AUTH: not signed", out)
out, _ = submit("From: alice@other.example\r\nSubject: other\r\n\r\nx\r\n")
got = take()
t.ok(got and sigs(got[0]) == [], "From: a domain without keys: not signed", out)
out, _ = submit("From: alice@example.org\r\nFrom: bob@example.org\r\nSubject: two\r\n\r\nx\r\n")
got = take()
t.ok(got and sigs(got[0]) == [], "two From: fields: not signed", out)
# Another domain signed here: alice (example.org) writing it in From: gets
# no signature for it, whatever its keys.
keys.make("example.net", "ed25519", "ed1")
out, err = submit("From: ceo@example.net\r\nSubject: not yours\r\n\r\nx\r\n")
got = take()
t.ok(got and sigs(got[0]) == [] and b"not the envelope sender's" in err,
     "From: another signed domain than the sender's: not signed", out + err)

# A key that cannot be used: 451, nothing stored, the file named.
weak = os.path.join(keys.dir, "example.org.weak.key")
os.system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s 2>/dev/null"
          % weak)
os.chmod(weak, 0o644)
out, err = submit(CASES["empty body"])
t.ok(b"\r\n451 4.3.0" in out and take() == [], "a 1024-bit key: 451, nothing stored", out)
t.ok(b"example.org.weak.key" in err and b"1024 bits" in err, "the log names the key", err)
with open(weak, "w") as f:
    f.write("not a key\n")
out, err = submit(CASES["empty body"])
t.ok(b"\r\n451 4.3.0" in out and take() == [], "a broken key file: 451, nothing stored", out)
os.unlink(weak)
out, err = submit(CASES["empty body"])
t.ok(b"\r\n250 2.0.0" in out and len(sigs((take() or [b""])[0])) == 2,
     "without it, signed again", out)
t.ok(b"dkim-signed id=" in err and b"d=example.org s=ed1 a=ed25519-sha256" in err,
     "each signature logged", err)
t.done()
