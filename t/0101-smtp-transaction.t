#!/usr/bin/env python3
# smtp-session over pipes: whole transactions stored byte for byte in
# Maildir and mbox, pipelining, several local users (all or nothing), aliases
# with remote targets queued in the spool, SMTPUTF8 and DSN parameters.
# Covers S62 (one reply after storage), S63, S65, S66.
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402


t = yubin.TAP()
envs = []


def new_env(**kw):
    e = yubin.CleanEnv(**kw)
    envs.append(e)
    return e


def codes(out):
    """Reply codes of every final reply line, in order."""
    return [ln[:3].decode() for ln in out.split(b"\r\n")
            if len(ln) >= 4 and ln[3:4] == b" "]


def queued_id(out):
    m = re.search(rb"250 2\.0\.0 Ok: queued as ([0-9A-F]+)\r\n", out)
    return m.group(1).decode() if m else None


ENVELOPE = (b"EHLO client.example.com\r\n"
            b"MAIL FROM:<sender@example.com>\r\n"
            b"RCPT TO:<alice@example.org>\r\n"
            b"DATA\r\n")
# Content as sent: CRLF line ends, dot-stuffed lines, 8-bit bytes, trailing
# blanks, a 2000-octet line, a "From " line (quoted in mbox only).
CONTENT = (b"From: Sender <sender@example.com>\r\n"
           b"To: alice@example.org\r\n"
           b"Subject: test \xe2\x9c\x89 8bit\r\n"
           b"\r\n"
           b"first line  \r\n"
           b"..leading dot\r\n"
           b"..\r\n"
           b"From the start\r\n"
           b"\ttab\r\n"
           + b"x" * 2000 + b"\r\n"
           b"last\r\n")
STORED_BODY = (b"From: Sender <sender@example.com>\n"
               b"To: alice@example.org\n"
               b"Subject: test \xe2\x9c\x89 8bit\n"
               b"\n"
               b"first line  \n"
               b".leading dot\n"
               b".\n"
               b"From the start\n"
               b"\ttab\n"
               + b"x" * 2000 + b"\n"
               b"last\n")
DATE = rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"


def expected_prefix(msg_id, rcpt="alice@example.org", helo=b"client.example.com",
                    peer=b"local", sender=b"sender@example.com"):
    """The three header fields prepended at local delivery, date as regex."""
    return (re.escape(b"Return-Path: <" + sender + b">\n"
                      b"Delivered-To: " + rcpt.encode() + b"\n"
                      b"Received: from " + helo + b" (" + peer + b")\n"
                      b"\tby mx.example.org (yubin) with ESMTP id " + msg_id.encode() + b"\n"
                      b"\tfor <" + rcpt.encode() + b">;\n\t") + DATE + b"\n")


def test_maildir_exact():
    env = new_env()
    r = env.run("smtp-session", ENVELOPE + CONTENT + b".\r\nQUIT\r\n")
    t.eq(codes(r.stdout), ["220", "250", "250", "250", "354", "250", "221"],
         "Maildir: every reply of a whole transaction in order")
    msg_id = queued_id(r.stdout)
    msgs = env.messages("alice@example.org")
    t.eq(len(msgs), 1, "Maildir: one message in new/ (S63)")
    if msgs:
        pat = expected_prefix(msg_id) + re.escape(STORED_BODY)
        t.ok(re.fullmatch(pat, msgs[0], re.S) is not None,
             "Maildir: stored bytes exact: Return-Path, Delivered-To, Received "
             "prepended, LF line ends, dot-unstuffed, 8-bit kept", msgs[0][:400])
    names = os.listdir(os.path.join(env.maildir("alice@example.org"), "new"))
    t.ok(len(names) == 1 and re.match(r"^\d+\.M\d+P\d+R[0-9a-f]+\.", names[0]),
         "Maildir: unique name in djb form (S63)", names)
    tmp = os.listdir(os.path.join(env.maildir("alice@example.org"), "tmp"))
    t.eq(tmp, [], "Maildir: nothing left in tmp/")
    t.ok(re.search(rb"accepted id=" + msg_id.encode() + rb" size=\d+ from=<sender@example.com> "
                   rb"to=<alice@example.org>", r.stderr) is not None,
         "log line names id, size, sender and recipients", r.stderr)
    t.ok(r.stdout.count(b"\r\n") == len(r.stdout.split(b"\r\n")) - 1,
         "replies are CRLF-terminated lines")


def test_mbox_exact():
    env = new_env(conf={"mailbox_format": "mbox"})
    r = env.run("smtp-session", ENVELOPE + CONTENT + b".\r\n" + ENVELOPE +
                b"Subject: second\r\n\r\nbody two\r\n.\r\nQUIT\r\n")
    t.eq(codes(r.stdout), ["220", "250", "250", "250", "354", "250",
                           "250", "250", "250", "354", "250", "221"],
         "mbox: two transactions accepted")
    ids = re.findall(rb"queued as ([0-9A-F]+)", r.stdout)
    path = os.path.join(env.mail_root, "example.org", "alice", "INBOX")
    data = open(path, "rb").read() if os.path.exists(path) else b""
    frm = rb"From sender@example\.com [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n"
    body1 = re.escape(STORED_BODY.replace(b"\nFrom the start", b"\n>From the start"))
    pat = (frm + expected_prefix(ids[0].decode()) + body1 + b"\n" +
           frm + expected_prefix(ids[1].decode()) + re.escape(b"Subject: second\n\nbody two\n") + b"\n")
    t.ok(len(ids) == 2 and re.fullmatch(pat, data, re.S) is not None,
         "mbox: exact bytes: From_ line, headers, >From quoting, blank line after each (S66)",
         data[:600])
    t.ok(not os.path.exists(path + ".lock"), "mbox: no dotlock left behind (S66)")


def test_pipelined():
    env = new_env()
    one = (b"MAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
           b"RCPT TO:<bob@example.org>\r\nDATA\r\n")
    data = (b"EHLO x\r\n" + one + b"Subject: 1\r\n\r\none\r\n.\r\n"
            b"RSET\r\nNOOP\r\n" + one + b"Subject: 2\r\n\r\ntwo\r\n.\r\nQUIT\r\n")
    r = env.run("smtp-session", data)
    t.eq(codes(r.stdout), ["220", "250", "250", "250", "250", "354", "250", "250", "250",
                           "250", "250", "250", "354", "250", "221"],
         "pipelined: two transactions in one write, replies in order")
    for u in ("alice@example.org", "bob@example.org"):
        got = [m.split(b"\n\n", 1)[1] if b"\n\n" in m else m for m in env.messages(u)]
        t.eq(sorted(got), [b"one\n", b"two\n"], "pipelined: %s has both messages" % u)


def test_three_users():
    env = new_env()
    rc = b"".join(b"RCPT TO:<%s>\r\n" % u.encode() for u in
                  ("alice@example.org", "bob@example.org", "carol@example.org"))
    msg = b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n" + rc + b"DATA\r\nSubject: all\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    r = env.run("smtp-session", msg)
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "three users: accepted")
    counts = [len(env.messages(u)) for u in ("alice@example.org", "bob@example.org", "carol@example.org")]
    t.eq(counts, [1, 1, 1], "three users: each got exactly one copy")
    for u in ("alice@example.org", "bob@example.org", "carol@example.org"):
        m = env.messages(u)
        t.ok(m and m[0].startswith(b"Return-Path: <a@example.com>\nDelivered-To: %s\n" % u.encode())
             and b"\tfor <" not in m[0], "three users: %s copy names its recipient only in "
             "Delivered-To" % u, m[:1])
    # bob's new/ becomes a file: bob's copy cannot be published, for any uid.
    bob_new = os.path.join(env.maildir("bob@example.org"), "new")
    shutil.rmtree(bob_new)
    with open(bob_new, "w") as f:
        f.write("not a directory\n")
    r = env.run("smtp-session", msg)
    t.contains(r.stdout, b"\r\n451 4.3.0 ", "three users, one mailbox broken: 451 (S62)")
    t.ok(b"queued as" not in r.stdout, "three users, one broken: no 250 for the message")
    counts = [len(env.messages(u)) for u in ("alice@example.org", "carol@example.org")]
    t.eq(counts, [1, 1], "three users, one broken: nobody got the second message")
    for u in ("alice@example.org", "bob@example.org", "carol@example.org"):
        tmp = os.path.join(env.maildir(u), "tmp")
        t.eq(os.listdir(tmp) if os.path.isdir(tmp) else [], [],
             "three users, one broken: no tmp file left for %s (S65)" % u)


def test_three_users_mbox():
    env = new_env(conf={"mailbox_format": "mbox"})
    rc = b"".join(b"RCPT TO:<%s>\r\n" % u.encode() for u in
                  ("alice@example.org", "bob@example.org", "carol@example.org"))
    msg = b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n" + rc + b"DATA\r\nSubject: all\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    r = env.run("smtp-session", msg)
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "mbox, three users: accepted")
    inbox = {u: os.path.join(env.mail_root, "example.org", u, "INBOX") for u in ("alice", "bob", "carol")}
    sizes = {u: os.path.getsize(p) for u, p in inbox.items() if os.path.exists(p)}
    t.eq(sorted(sizes), ["alice", "bob", "carol"], "mbox, three users: each INBOX written")
    # bob's INBOX becomes a directory: his copy fails for any uid.
    os.unlink(inbox["bob"])
    os.mkdir(inbox["bob"])
    r = env.run("smtp-session", msg)
    t.ok(b"\r\n451 4.3.0 " in r.stdout and b"queued as" not in r.stdout,
         "mbox, three users, one INBOX broken: 451, no 250 (S62, S66)", r.stdout[-120:])
    t.eq({u: os.path.getsize(inbox[u]) for u in ("alice", "carol")},
         {u: sizes[u] for u in ("alice", "carol")},
         "mbox, one broken: the other INBOXes are truncated back to their old size (S65, S66)")
    t.ok(not any(os.path.exists(inbox[u] + ".lock") for u in ("alice", "carol")),
         "mbox, one broken: no dotlock left behind")


def test_alias_remote():
    env = new_env(aliases="ext@example.org: someone@example.net, alice@example.org\n"
                          "team@example.org: alice@example.org, bob@example.org\n")
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                b"RCPT TO:<ext@example.org>\r\nRCPT TO:<team@example.org>\r\n"
                b"DATA\r\nSubject: alias\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "alias with a remote target: accepted")
    t.eq(len(env.messages("alice@example.org")), 1,
         "alias: alice, named by two aliases, gets one copy")
    t.eq(len(env.messages("bob@example.org")), 1, "alias: bob gets his copy")
    new = os.path.join(env.spool, "new")
    files = os.listdir(new) if os.path.isdir(new) else []
    t.eq(len(files), 1, "alias: the remote target is queued in the spool")
    if files:
        data = open(os.path.join(new, files[0]), "rb").read()
        t.ok(b"someone@example.net" in data and b"Subject: alias\nhi\n" not in data
             and b"Subject: alias\n\nhi\n" in data,
             "alias: spool file holds the remote recipient and the message", data[:300])
        t.ok(b"bob@example.org" not in data.split(b"Received:")[0],
             "alias: local targets are not in the spool envelope")


def test_alias_problems():
    env = new_env(aliases="loop1@example.org: loop2@example.org\n"
                          "loop2@example.org: loop1@example.org\n"
                          "self@example.org: self@example.org, alice\n"
                          "gone@example.org: nosuchuser@example.org\n")
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                b"RCPT TO:<loop1@example.org>\r\nRCPT TO:<gone@example.org>\r\n"
                b"RCPT TO:<self@example.org>\r\nQUIT\r\n")
    t.eq(codes(r.stdout), ["220", "250", "250", "451", "451", "451", "221"],
         "alias loop and alias to an unknown user: 451 4.3.5, nothing half-delivered")
    t.contains(r.stdout, b"451 4.3.5 <loop1@example.org>", "alias loop named in the reply")
    env.set(aliases=env.aliases_file)
    with open(env.aliases_file, "w") as f:
        f.write("self@example.org: self@example.org, alice\n")
    with open(env.users_file, "a") as f:
        f.write("self@example.org:{PLAIN}x\n")
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                b"RCPT TO:<self@example.org>\r\nDATA\r\n\r\nself\r\n.\r\nQUIT\r\n")
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "alias naming itself and a user: accepted")
    t.eq([len(env.messages(u)) for u in ("self@example.org", "alice@example.org")], [1, 1],
         "alias naming itself: its own mailbox and alice (target without domain) each get one")


def test_case_and_postmaster():
    env = new_env()
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                b"RCPT TO:<ALICE@Example.ORG>\r\nRCPT TO:<Postmaster>\r\n"
                b"DATA\r\nSubject: c\r\n\r\nc\r\n.\r\nQUIT\r\n")
    t.contains(r.stdout, b"250 2.0.0 Ok: queued", "mixed-case recipient and <Postmaster> accepted")
    t.eq(len(env.messages("alice@example.org")), 1,
         "ALICE@Example.ORG and <Postmaster> (alias of alice) reach one mailbox, once")
    t.ok(not os.path.exists(os.path.join(env.mail_root, "example.org", "ALICE")),
         "no second mailbox for another spelling")


def test_utf8_dsn():
    env = new_env()
    r = env.run("smtp-session", "EHLO x\r\nMAIL FROM:<ålice@example.com>\r\n"
                "MAIL FROM:<ålice@example.com> SMTPUTF8 BODY=8BITMIME\r\n"
                "RCPT TO:<alice@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+40example.org\r\n"
                "DATA\r\nSubject: ü\r\n\r\nü\r\n.\r\nQUIT\r\n".encode())
    t.eq(codes(r.stdout), ["220", "250", "553", "250", "250", "354", "250", "221"],
         "8-bit sender: 553 without SMTPUTF8, 250 with it (S22)")
    t.contains(r.stdout, b"553 5.6.7", "non-ASCII without SMTPUTF8 is 5.6.7")
    m = env.messages("alice@example.org")
    t.ok(m and b"with UTF8SMTP id" in m[0] and "Return-Path: <ålice@example.com>".encode() in m[0],
         "SMTPUTF8 message: Received says UTF8SMTP, Return-Path keeps the UTF-8 sender", m[:1])
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<a@example.com> SMTPUTF8\r\n"
                b"RCPT TO:<\xc3\xa5@example.org>\r\nQUIT\r\n")
    t.contains(r.stdout, b"550 5.1.1", "UTF-8 recipient with SMTPUTF8 is parsed (unknown user)")
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<\" SMTPUTF8\"@example.com>\r\n"
                b"RCPT TO:<alice@example.org>\r\nQUIT\r\n")
    t.eq(codes(r.stdout)[2], "250", "the word SMTPUTF8 inside a quoted sender is no parameter")
    r = env.run("smtp-session", b"EHLO x\r\nMAIL FROM:<\" SMTPUTF8\xc3\xa5\"@example.com>\r\nQUIT\r\n")
    t.contains(r.stdout, b"553 5.6.7", "... and does not make an 8-bit sender legal")


def test_helo_and_misc():
    env = new_env()
    r = env.run("smtp-session", b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\n"
                b"DATA\r\n\r\nhelo\r\n.\r\nVRFY alice\r\nHELP\r\nEXPN team\r\nQUIT\r\n")
    t.eq(codes(r.stdout), ["220", "250", "250", "250", "354", "250", "252", "214", "502", "221"],
         "HELO transaction, VRFY 252 (never confirms), HELP 214, EXPN 502")
    t.ok(b"250-" not in r.stdout, "HELO gets a one-line reply (no extensions)")
    m = env.messages("alice@example.org")
    t.ok(m and b"with SMTP id" in m[0], "HELO: Received says SMTP")
    r = env.run("smtp-session", b"EHLO x\r\nQUIT\r\n")
    for ext in (b"PIPELINING", b"SIZE 36700160", b"ENHANCEDSTATUSCODES", b"8BITMIME", b"DSN",
                b"SMTPUTF8", b"CHUNKING"):
        t.contains(r.stdout, b"250-" + ext + b"\r\n" if ext != b"CHUNKING" else b"250 CHUNKING\r\n",
                   "EHLO advertises %s" % ext.decode())
    t.ok(b"AUTH" not in r.stdout, "no AUTH on port 25 (S53)")
    r = env.run("smtp-session", b"EHLO x\r\nQUIT\r\n", args=["--submission"])
    t.contains(r.stdout, b"250-AUTH PLAIN LOGIN\r\n", "AUTH offered with --submission")
    r = env.run("smtp-session", b"", args=["-V"])
    t.ok(r.rc == 0 and r.stdout.startswith(b"smtp-session (yubin) "), "-V prints the version")


test_maildir_exact()
test_mbox_exact()
test_pipelined()
test_three_users()
test_three_users_mbox()
test_alias_remote()
test_alias_problems()
test_case_and_postmaster()
test_utf8_dsn()
test_helo_and_misc()
for e in envs:
    e.cleanup()
t.done()
