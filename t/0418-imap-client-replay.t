#!/usr/bin/env python3
"""What real clients send (Thunderbird, Apple Mail, iOS Mail, mutt, K-9,
Alpine, Evolution, Outlook; folder management, error answers and searches as clients send
them; SORT, THREAD, ESEARCH, QUOTA, PREVIEW, MULTIAPPEND and COMPRESS; a laptop and a phone on one mailbox: what each is told of the
other's changes, and EXPUNGE never during FETCH, STORE or SEARCH:
t/fixtures/imap-clients/NAME.script), replayed against imap-session on a
mailbox built the same way for every script; the normalised transcript
must equal NAME.expected, which holds Dovecot 2.3's answers to the same
script on the same mailbox (captured with bench/imap-diff --capture).
Normalising masks only what differs by nature (greeting, capability and
ID lists, UIDVALIDITY, texts after the status word, the order of LIST
lines, of FETCH items and of STATUS items) and the differences kept on
purpose listed in replay.accepted() and t/fixtures/imap-clients/README
(\\Recent outside INBOX and in EXAMINE, UTF8=ACCEPT, which Dovecot 2.3
lacks, and a few spellings both RFCs allow). With YUBIN_T_MBOX=1
(t/0418-imap-client-replay-mbox.t) imap-session keeps mbox files and must
still answer as Dovecot does on Maildir."""
import difflib
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures", "imap-clients"))
import yubin  # noqa: E402
import replay  # noqa: E402

CLIENTS = os.path.join(HERE, "fixtures", "imap-clients")
# What each expected transcript must hold, so that a fixture captured from a
# broken setup cannot pass unnoticed: (script, needles).
KEY = {
    "thunderbird": [b"[APPENDUID * 3]", b"[COPYUID * 6 1]", b"* 19 EXISTS",
                    b"BODY[]<0> {1024}", b"BODY[]<1024> {35187}", b"* 6 EXPUNGE",
                    b"* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX"],
    "apple-mail": [b"* SEARCH 1 2 3 4 5 6 7 9 10 11 12 13 14 15 16 17 18", b"BODY[1]<0> {",
                   b"BODY[1.MIME] {", b"* LSUB (\\Sent) \"/\" Sent", b"[COPYUID * 2,7 ",
                   b"* NAMESPACE ((\"\" \"/\")) NIL NIL"],
    "ios-mail": [b"BODYSTRUCTURE ((", b"* 19 EXISTS", b"* 2 RECENT", b"BODY[TEXT]<0> {"],
    "mutt": [b"* 1 FETCH (BODY[HEADER.FIELDS (DATE FROM SENDER SUBJECT", b"* 5 EXPUNGE",
             b"[READ-WRITE]", b"[APPENDUID * 3]"],
    "alpine": [b'ENVELOPE ("Mon, 3 Mar 2025 10:00:00 +0100" "hello" (("Alice" NIL',
               b"* 18 FETCH (FLAGS (\\Recent) UID 18)", b"RFC822.HEADER {", b"RFC822.TEXT {",
               b"BODY[TEXT]<10> {20}"],
    "folders": [b"NO [TRYCREATE]", b"NO [ALREADYEXISTS]", b"(CHILDINFO (\"SUBSCRIBED\"))",
                b"* STATUS INBOX (MESSAGES 18 UNSEEN 6)", b"[COPYUID * 1:2 1:2]"],
    "search": [b"* ESEARCH (TAG \"", b"* SEARCH 1 2 3 4 8 9\r\n", b"* SEARCH 4 6 10 14 17 18\r\n"],
    "two-devices": [b"> UID fetch 1:2 (FLAGS)\r\n* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\n",
                    b"> FETCH 1:4 (FLAGS)\r\n* 1 FETCH (FLAGS (\\Flagged))\r\n"
                    b"* 2 FETCH (FLAGS (\\Answered \\Deleted \\Seen))\r\n",
                    b"* 7 EXPUNGE\r\n* 2 EXPUNGE\r\n18 OK", b"> !wait EXPUNGE\r\n* 4 EXPUNGE"],
    "evolution": [b"BINARY.SIZE[1] 59 BINARY[1] {59}", b"BINARY[1]<0> {13}",
                  b"* STATUS Drafts (MESSAGES 1 SIZE 572 UIDNEXT 2 UIDVALIDITY * UNSEEN 0)",
                  b"* STATUS INBOX (MESSAGES 18 UIDNEXT 19 UIDVALIDITY * UNSEEN 6)"],
    "outlook": [b"15 OK [COPYUID * 5 1]", b"> !wait EXISTS\r\n* 17 EXISTS", b"* LIST (\\Noselect) \"/\" \"\""],
    "edge": [b'* LIST (\\HasNoChildren) "/" "Quote \\"q\\" name"', b"x34 BAD",
             b"* 1 FETCH (FLAGS (\\Seen $MDNSent))", b'BODY[]<99999> "" UID 4',
             b"* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe/&ZeVnLIqe-", b"x10 NO\r\n"],
    "misc": [b'* LSUB (\\Archive \\Noselect) "/" Archive', b'* LSUB (\\Noselect) "/" Lists',
             b"* STATUS INBOX (MESSAGES 16 UIDNEXT 19 UNSEEN 4)"],
    "sort": [b"* SORT 1 2 8 3 4 5 6 7 9 10 11 12 13 14 15 16 17 18\r\n", b"NO [BADCHARSET]",
             b"* ESEARCH (TAG \"a20\")"],
    "thread": [b"* THREAD (1)(2)(8)(3)(4)(5)((6)(17))(7)", b"* THREAD\r\n"],
    "esearch": [b"* ESEARCH (TAG \"a3\") MIN 1 MAX 18 ALL 1:18 COUNT 18\r\n"],
    "quota": [b'* QUOTA "" (STORAGE * 102400)', b'* QUOTAROOT Sent ""'],
    "preview": [b'* 1 FETCH (PREVIEW "Hi Bob." UID 1)'],
    "multiappend": [b"a3 OK [APPENDUID * 2:3]", b"a4 OK [APPENDUID * 4:6]"],
    "compress": [b"a7 NO [COMPRESSIONACTIVE]", b"> !wait EXISTS\r\n* 19 EXISTS"],
    "k9": [b"[READ-ONLY]", b"* SEARCH 3 4 5 6 7 9 10 11 12 13 14 15 16 17 18",
           b"FLAGS (\\Seen)", b"> DONE\r\n* 3 RECENT"],
}

MBOX = os.environ.get("YUBIN_T_MBOX") == "1"


def replay_one(top, template, name):
    """Runs script name on a copy of the template mailbox: (ok, diff)."""
    with open(os.path.join(CLIENTS, name + ".expected"), "rb") as f:
        want = f.read()
    missing = [k for k in KEY.get(name, []) if k not in want]
    t.ok(not missing, "%s: the expected (Dovecot) transcript holds its key answers" % name,
         missing)
    if MBOX:
        want = replay.expected_for_mbox(want)
    work = os.path.join(top, name)
    try:
        srv = replay.Yubin(work, yubin.binary("imap-session"), MBOX)
        replay.clone(template, srv)
        got = replay.transcript(replay.run_script(srv, os.path.join(CLIENTS, name + ".script")),
                                replay.accepted(MBOX))
        with open(os.path.join(work, "imap-session.log"), "rb") as f:
            log = f.read()
        # a sanitizer build (make SANITIZE=1) reports here without failing
        t.ok(b"Sanitizer" not in log and b"runtime error" not in log,
             "%s: imap-session logged no sanitizer report" % name, log[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    diff = difflib.unified_diff(want.decode("utf-8", "replace").splitlines(True),
                                got.decode("utf-8", "replace").splitlines(True),
                                "dovecot", "yubin", n=1)
    t.ok(got == want, "%s: imap-session%s answers as Dovecot does"
         % (name, " on mbox" if MBOX else ""), "".join(x[:300] for x in list(diff)[:60]))


t = yubin.TAP()
names = sorted(f[:-7] for f in os.listdir(CLIENTS) if f.endswith(".script"))
t.ok(set(KEY) <= set(names), "every client has a script", names)
top = tempfile.mkdtemp(prefix="yubin-t-replay-")
try:
    os.chmod(top, 0o755)  # sessions run as nobody
    # The mailbox is built once (APPENDs are fsync'd), copied for each script.
    template = replay.Yubin(os.path.join(top, "template"), yubin.binary("imap-session"), MBOX)
    replay.prepare(template)
    for name in names:
        replay_one(top, template, name)
finally:
    shutil.rmtree(top, ignore_errors=True)
t.done()
