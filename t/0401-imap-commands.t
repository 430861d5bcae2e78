#!/usr/bin/env python3
"""imap-session commands through pipes: Python imaplib and raw transcripts
for every command of issue 5."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402
from imaptest import Raw, tagged, stream, deliver  # noqa: E402

t = yubin.TAP()
env = yubin.Env()
PW = yubin.DEMO_PASSWORD
MSG = (b"From: Bob Example <bob@example.org>\r\nTo: alice@example.org\r\n"
       b"Subject: hello world\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n"
       b"Message-ID: <m1@example.org>\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
       b"--XX\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
       b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       b"AAECAwQ=\r\n--XX--\r\n")
try:
    # ---- imaplib ----
    M = stream(env)
    t.ok("IMAP4REV2" in M.capabilities and "IMAP4REV1" in M.capabilities,
         "greeting advertises IMAP4rev1 and IMAP4rev2")
    t.ok("AUTH=PLAIN" in M.capabilities, "AUTH=PLAIN offered when auth_requires_tls = no")
    typ, _ = M.login("alice@example.org", PW)
    t.eq(typ, "OK", "LOGIN")
    typ, data = M.list()
    names = b" ".join(data)
    for box, attr in (("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Trash", b"\\Trash"),
                      ("Junk", b"\\Junk"), ("Archive", b"\\Archive")):
        t.ok(attr in names and box.encode() in names, "special-use %s created" % box, data)
    typ, data = M.lsub()
    t.ok(b"Sent" in b" ".join(data), "special-use folders subscribed", data)
    typ, data = M.append("INBOX", r"(\Seen $Forwarded)", '"02-Jan-2023 10:00:00 +0000"', MSG)
    t.ok(typ == "OK" and b"APPENDUID" in data[0], "APPEND with flags and date, APPENDUID", data)
    typ, data = M.select("INBOX")
    t.eq(data, [b"1"], "SELECT INBOX: 1 message")
    typ, data = M.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    d = data[0]
    t.ok(b"\\Seen" in d and b"$Forwarded" in d, "APPEND flags and keyword stored", d)
    t.ok(b'"02-Jan-2023 10:00:00 +0000"' in d, "INTERNALDATE from APPEND", d)
    t.ok(b"RFC822.SIZE %d" % len(MSG) in d, "RFC822.SIZE is the CRLF size", d)
    typ, data = M.fetch("1", "(ENVELOPE)")
    t.ok(b'"hello world"' in data[0] and b'"Bob Example" NIL "bob" "example.org"' in data[0],
         "ENVELOPE", data)
    typ, data = M.fetch("1", "(BODYSTRUCTURE)")
    t.ok(b'"mixed"' in data[0] and b'"octet-stream"' in data[0], "BODYSTRUCTURE", data)
    typ, data = M.fetch("1", "(BODY.PEEK[1])")
    t.eq(data[0][1], b"first part", "BODY.PEEK[1]")
    typ, data = M.fetch("1", "(BODY.PEEK[]<0.10>)")
    t.eq(data[0][1], MSG[:10], "partial BODY.PEEK[]<0.10>")
    t.ok(b"BODY[]<0>" in data[0][0], "partial echoed as <0>", data)
    typ, data = M.fetch("1", "(BINARY.PEEK[2])")
    t.eq(data[0][1], b"\x00\x01\x02\x03\x04", "BINARY.PEEK[2] decodes base64 (literal8)")
    typ, data = M.fetch("1", "(BINARY.SIZE[2])")
    t.ok(b"BINARY.SIZE[2] 5" in data[0], "BINARY.SIZE", data)
    typ, data = M.fetch("1", "(RFC822.HEADER)")
    t.ok(data[0][1].startswith(b"From: Bob") and data[0][1].endswith(b"\r\n\r\n"),
         "RFC822.HEADER", data)
    typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.eq(data[0][1], b"Subject: hello world\r\n\r\n", "HEADER.FIELDS")
    typ, data = M.uid("FETCH", "1:*", "(FLAGS)")
    t.ok(b"UID 1" in data[0], "UID FETCH includes UID", data)

    # STORE, flags and \Seen from BODY[]
    typ, data = M.store("1", "-FLAGS", r"(\Seen)")
    t.ok(b"\\Seen" not in data[0], "STORE -FLAGS", data)
    typ, data = M.fetch("1", "(BODY[TEXT])")
    typ, data = M.fetch("1", "(FLAGS)")
    t.ok(b"\\Seen" in data[0], "BODY[TEXT] without PEEK sets \\Seen", data)
    typ, data = M.store("1", "FLAGS.SILENT", r"(\Flagged MyKeyword)")
    t.eq(typ, "OK", "STORE FLAGS.SILENT")
    typ, data = M.fetch("1", "(FLAGS)")
    t.ok(b"MyKeyword" in data[0] and b"\\Flagged" in data[0] and b"\\Seen" not in data[0],
         "FLAGS replaced with keyword", data)

    # more messages
    for i in range(2, 6):
        M.append("INBOX", None, None,
                 b"From: carol@example.org\r\nSubject: number %d\r\n\r\nbody %d text\r\n" % (i, i))
    M.noop()
    typ, data = M.search(None, "ALL")
    t.eq(data, [b"1 2 3 4 5"], "SEARCH ALL")
    typ, data = M.search(None, "FROM", "carol", "NOT", "SUBJECT", "3")
    t.eq(data, [b"2 4 5"], "SEARCH FROM ... NOT SUBJECT")
    typ, data = M.search(None, "OR", "FLAGGED", "BODY", '"body 5"')
    t.eq(data, [b"1 5"], "SEARCH OR FLAGGED BODY")
    typ, data = M.search(None, "KEYWORD", "MyKeyword")
    t.eq(data, [b"1"], "SEARCH KEYWORD")
    typ, data = M.search(None, "LARGER", "200")
    t.eq(data, [b"1"], "SEARCH LARGER")
    typ, data = M.search(None, "SENTON", "2-Jan-2023")
    t.eq(data, [b"1"], "SEARCH SENTON from the Date: header")
    typ, data = M.search(None, "2:4", "TEXT", "number")
    t.eq(data, [b"2 3 4"], "SEARCH sequence set and TEXT")
    typ, data = M.uid("SEARCH", "UID", "3:*")
    t.eq(data, [b"3 4 5"], "UID SEARCH UID 3:*")
    typ, data = M._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "FROM", "carol")
    typ, data = M._untagged_response(typ, data, "ESEARCH")
    t.ok(b"MIN 2 MAX 5 COUNT 4" in data[0], "ESEARCH MIN MAX COUNT", data)
    typ, data = M._simple_command("SEARCH", "RETURN", "(SAVE)", "SUBJECT", "number")
    typ, data = M.fetch("$", "(UID)")
    t.eq(len([x for x in data if x]), 4, "SEARCHRES $ used by FETCH")
    typ, data = M.search("UTF-8", "SUBJECT", "hello")
    t.eq(data, [b"1"], "SEARCH CHARSET UTF-8")
    typ, data = M.search("KOI8-R", "SUBJECT", "hello")
    t.eq(data, [b"1"], "SEARCH CHARSET KOI8-R (converted)")
    typ, data = M.search("X-NO-SUCH-CHARSET", "SUBJECT", "hello")
    t.ok(typ == "NO" and b"BADCHARSET" in data[0], "unknown CHARSET refused with BADCHARSET", data)

    # COPY, MOVE, EXPUNGE
    typ, data = M.copy("2:3", "Archive")
    t.ok(typ == "OK" and b"COPYUID" in data[0], "COPY with COPYUID", data)
    typ, data = M._simple_command("MOVE", "4", "Trash")
    t.eq(typ, "OK", "MOVE")
    t.eq(M.untagged_responses.get("EXPUNGE"), [b"4"], "MOVE sends EXPUNGE for the message")
    typ, data = M.status("Trash", "(MESSAGES UIDNEXT UNSEEN SIZE)")
    t.ok(b"MESSAGES 1" in data[0] and b"UIDNEXT 2" in data[0], "STATUS after MOVE", data)
    typ, data = M.status("Archive", "(MESSAGES)")
    t.ok(b"MESSAGES 2" in data[0], "STATUS after COPY", data)
    typ, data = M.search(None, "ALL")
    t.eq(data, [b"1 2 3 4"], "MOVE removed the message from INBOX")
    M.store("2", "+FLAGS", r"(\Deleted)")
    M.untagged_responses.pop("EXPUNGE", None)
    typ, data = M.expunge()
    t.eq(data, [b"2"], "EXPUNGE reports the sequence number")
    M.store("1:*", "+FLAGS", r"(\Deleted)")
    typ, data = M.uid("EXPUNGE", "5")
    typ, data = M.uid("SEARCH", "ALL")
    t.eq(data, [b"1 3"], "UID EXPUNGE removes only the given UIDs")
    M.store("1:*", "-FLAGS", r"(\Deleted)")

    # mailbox management
    t.eq(M.create("Projects/2024/Q1")[0], "OK", "CREATE nested")
    typ, data = M.list('""', "Projects/%")
    t.ok(any(b"Projects/2024" in x and b"\\HasChildren" in x for x in data),
         "LIST % one level with \\HasChildren", data)
    t.eq(M.create("Projects")[0], "NO", "CREATE existing is NO")
    t.eq(M.rename("Projects", "Work")[0], "OK", "RENAME with children")
    typ, data = M.list('""', "*")
    joined = b" ".join(data)
    t.ok(b"Work/2024/Q1" in joined and b"Projects" not in joined, "children renamed", data)
    t.eq(M.delete("Work/2024/Q1")[0], "OK", "DELETE")
    t.eq(M.delete("INBOX")[0], "NO", "DELETE INBOX is NO")
    t.eq(M.subscribe("Work")[0], "OK", "SUBSCRIBE")
    typ, data = M.lsub('""', "W*")
    t.ok(b"Work" in b" ".join(data), "LSUB shows subscription", data)
    t.eq(M.unsubscribe("Work")[0], "OK", "UNSUBSCRIBE")
    typ, data = M.lsub('""', "W*")
    t.ok(data == [None] or b"Work" not in b" ".join(x for x in data if x), "unsubscribed", data)
    # international names: mUTF-7 for rev1 clients
    t.eq(M.create("&ZeVnLIqe-")[0], "OK", "CREATE mUTF-7 name")
    typ, data = M.list('""', "&ZeVnLIqe-")
    t.ok(data[0] and b"&ZeVnLIqe-" in data[0], "LIST returns the mUTF-7 name", data)
    t.ok(os.path.isdir(os.path.join(env.maildir("alice@example.org"), ".&ZeVnLIqe-")),
         "stored as .&ZeVnLIqe- on disk")
    typ, data = M.namespace()
    t.ok(b'(("" "/")) NIL NIL' in data[0], "NAMESPACE", data)
    typ, data = M._simple_command("ID", "NIL")
    t.eq(typ, "OK", "ID NIL")
    # RENAME INBOX
    typ, data = M.rename("INBOX", "OldInbox")
    t.eq(typ, "OK", "RENAME INBOX")
    typ, data = M.status("OldInbox", "(MESSAGES)")
    t.ok(b"MESSAGES 2" in data[0], "RENAME INBOX moved the messages", data)
    typ, data = M.status("INBOX", "(MESSAGES)")
    t.ok(b"MESSAGES 0" in data[0], "INBOX is empty after RENAME INBOX", data)
    M.logout()

    # ---- raw transcripts ----
    r = Raw(env, "alice@example.org")
    resp = r.cmd('LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))')
    t.ok(b"\\Trash" in resp and b"* STATUS Trash (MESSAGES 1)" in resp and b"INBOX" not in resp,
         "LIST-EXTENDED SPECIAL-USE with RETURN STATUS", resp)
    r.cmd("CREATE deep/child")
    r.cmd("SUBSCRIBE deep/child")
    resp = r.cmd('LIST (SUBSCRIBED) "" "%"')
    t.ok(b'"/" deep' not in resp, "LIST (SUBSCRIBED) %: unsubscribed parent not listed", resp)
    resp = r.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    t.ok(b'"/" deep ("CHILDINFO" ("SUBSCRIBED"))' in resp, "RECURSIVEMATCH gives CHILDINFO", resp)
    resp = r.cmd('LIST (RECURSIVEMATCH) "" "%"')
    t.ok(tagged(resp).split()[1] == b"BAD", "RECURSIVEMATCH alone is BAD", resp)
    v1 = r.cmd("STATUS deep/child (UIDVALIDITY)")
    r.cmd("DELETE deep/child")
    r.cmd("CREATE deep/child")
    v2 = r.cmd("STATUS deep/child (UIDVALIDITY)")
    t.ok(b"UIDVALIDITY" in v1 and v1.split(b"\r\n")[0] != v2.split(b"\r\n")[0],
         "a mailbox deleted and created again gets a new UIDVALIDITY", (v1, v2))
    resp = r.cmd('LIST "" ""')
    t.ok(b'* LIST (\\Noselect) "/" ""' in resp, 'LIST "" "" gives the delimiter', resp)
    resp = r.cmd("ENABLE UTF8=ACCEPT")
    t.ok(b"* ENABLED UTF8=ACCEPT" in resp, "ENABLE UTF8=ACCEPT", resp)
    resp = r.cmd('CREATE "Ünïcode"'.encode("utf-8"))
    t.ok(tagged(resp).split()[1] == b"OK", "CREATE UTF-8 name after ENABLE", resp)
    resp = r.cmd('LIST "" "Ü*"'.encode("utf-8"))
    t.ok("Ünïcode".encode() in resp, "LIST shows UTF-8 name", resp)
    m = "Subject: café\r\n\r\nbody\r\n".encode()
    r.send(b"u1 APPEND Archive UTF8 (~{%d+}\r\n" % len(m) + m + b")\r\n")
    resp = r.read_response("u1")
    t.ok(b"u1 OK [APPENDUID" in resp, "APPEND UTF8 (literal8) after UTF8=ACCEPT (RFC 6855)", resp)
    resp = r.cmd("EXAMINE OldInbox")
    t.ok(b"[READ-ONLY]" in tagged(resp) and b"* 2 EXISTS" in resp, "EXAMINE is read-only", resp)
    resp = r.cmd("STORE 1 +FLAGS (\\Deleted)")
    t.ok(tagged(resp).split()[1] == b"NO", "STORE in EXAMINEd mailbox is NO", resp)
    resp = r.cmd("SELECT OldInbox")
    t.ok(b"* OK [CLOSED]" in resp and b"[READ-WRITE]" in tagged(resp), "SELECT after EXAMINE", resp)
    t.ok(b"[UIDVALIDITY " in resp and b"[UIDNEXT " in resp and b"\\*)]" in resp,
         "SELECT reports UIDVALIDITY, UIDNEXT, PERMANENTFLAGS with \\*", resp)
    resp = r.cmd("UNSELECT")
    t.ok(tagged(resp).split()[1] == b"OK", "UNSELECT", resp)
    resp = r.cmd("FETCH 1 FLAGS")
    t.ok(tagged(resp).split()[1] in (b"NO", b"BAD"), "FETCH without a selected mailbox refused", resp)
    resp = r.cmd("SELECT OldInbox")
    resp = r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    resp = r.cmd("CLOSE")
    resp = r.cmd("STATUS OldInbox (MESSAGES)")
    t.ok(b"MESSAGES 1" in resp, "CLOSE expunged silently", resp)
    resp = r.cmd("CHECK")
    t.ok(tagged(resp).split()[1] in (b"NO", b"BAD"), "CHECK needs a selected mailbox", resp)
    resp = r.cmd("LOGOUT")
    t.ok(b"* BYE" in resp and tagged(resp).split()[1] == b"OK", "LOGOUT", resp)
    r.close()

    # AUTHENTICATE PLAIN with SASL-IR and as a continuation
    import base64
    ir = base64.b64encode(b"\0bob@example.org\0" + PW.encode()).decode()
    r = Raw(env)
    resp = r.cmd("AUTHENTICATE PLAIN " + ir)
    t.ok(tagged(resp).split()[1] == b"OK" and b"[CAPABILITY" in resp, "AUTHENTICATE PLAIN SASL-IR",
         resp)
    r.close()
    r = Raw(env)
    r.send(b"a AUTHENTICATE PLAIN\r\n")
    line = r.s.readline()
    t.eq(line, b"+ \r\n", "AUTHENTICATE continuation")
    r.send(ir.encode() + b"\r\n")
    resp = r.read_response("a")
    t.ok(tagged(resp).startswith(b"a OK"), "AUTHENTICATE PLAIN after continuation", resp)
    r.close()
    r = Raw(env)
    resp = r.cmd("LOGIN alice@example.org wrong")
    t.ok(b"NO [AUTHENTICATIONFAILED]" in resp, "wrong password: NO [AUTHENTICATIONFAILED]", resp)
    r.close()

    # a delivery made while nobody is connected keeps UIDs growing
    deliver(env, "alice@example.org", b"Subject: delivered\r\n\r\nx\r\n")
    r = Raw(env, "alice@example.org")
    resp = r.cmd("SELECT INBOX")
    t.ok(b"* 1 EXISTS" in resp and b"* 1 RECENT" in resp, "delivered message is \\Recent", resp)
    resp = r.cmd("UID FETCH 1:* (UID FLAGS)")
    t.ok(b"UID 6 " in resp, "UIDs are not reused after RENAME INBOX emptied it", resp)
    r.close()
finally:
    env.cleanup()
t.done()
