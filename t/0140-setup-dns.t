#!/usr/bin/python3
"""yubin-setup --dns and --autoconfig (issue 12): the records parse as a
zone (dnspython), the DKIM, SPF, DMARC, MTA-STS and TLS-RPT texts parse
(dkimpy, pyspf, their RFCs' tag syntax), the SRV and MX records name this
host and the right ports, the autoconfig XML parses and names the right
ports; then dnsmasq serves the printed records on loopback, and through it
relay-runner delivers to the MX, pyspf passes this host's address and
dkimpy verifies signatures made with the keys in dkim_key_dir.

Debian's python3 (not a virtualenv's) because dkimpy, pyspf and dnspython
are Debian packages (t/deps.txt)."""
import base64
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import relayenv  # noqa: E402
import zonefile  # noqa: E402
import yubin  # noqa: E402

import dkim  # noqa: E402
import dkim.util  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.resolver  # noqa: E402
import spf  # noqa: E402

SETUP = os.path.join(yubin.TOP, "units", "yubin-setup")
DOMAIN = "example.test"
MXHOST = "mx.example.test"

t = yubin.TAP()
env = yubin.Env()
sink = relayenv.Sink(env)
dnsmasq = None


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True).stdout


def setup(conf, *args, unprivileged=False):
    """yubin-setup; unprivileged runs it as nobody under root, so a bad
    argument that fell through to the root-only setup could not add a user."""
    cmd = [SETUP, "-c", conf] + list(args)
    if unprivileged and os.geteuid() == 0:
        # a copy nobody can reach: a checkout under /root (0700) is not
        copy = os.path.join(env.dir, "yubin-setup")
        if not os.path.exists(copy):
            shutil.copy2(SETUP, copy)
            os.chmod(copy, 0o755)
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", copy] + cmd[1:]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def write_conf(name, **kw):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        for k, v in kw.items():
            f.write("%s = %s\n" % (k, v))
    return path


def tags(text):
    """RFC 6376 3.2 tag=value list (DMARC, MTA-STS and TLS-RPT use it too)."""
    return {k.decode(): v.decode() for k, v in dkim.util.parse_tag_value(text.encode()).items()}


def txt(zone, name):
    """The TXT texts at name, each with its strings joined."""
    rds = zone.get_rdataset(name, dns.rdatatype.TXT)
    return [b"".join(r.strings).decode() for r in rds] if rds else []


try:
    # --- keys in dkim_key_dir: RSA and Ed25519 for the domain, strays -----
    keys = os.path.join(env.dir, "dkim")
    os.makedirs(keys)
    rsa_key = os.path.join(keys, DOMAIN + ".rsa2026.key")
    ed_key = os.path.join(keys, DOMAIN + ".ed2026.key")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa_key)
    openssl("genpkey", "-algorithm", "ED25519", "-out", ed_key)
    # yubin-setup --dkim allows "_" in selectors (not a host-name letter).
    openssl("genpkey", "-algorithm", "ED25519", "-out", os.path.join(keys, DOMAIN + ".mail_2026.key"))
    openssl("genpkey", "-algorithm", "ED25519", "-out", os.path.join(keys, "other.test.s1.key"))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", os.path.join(keys, DOMAIN + ".ec.key"))
    conf = write_conf("recv.conf", hostname=MXHOST, dkim_key_dir=keys, tls_cert="/nonexistent")

    r = setup(conf, "--dns", DOMAIN, "--address", "127.0.0.1", "--address", "::1")
    out = r.stdout
    t.ok(r.returncode == 0, "yubin-setup --dns exits 0", r.stderr)
    t.ok(DOMAIN + ".ec.key" in r.stderr and "not an RSA or Ed25519 key" in r.stderr,
         "an EC key in dkim_key_dir is reported and skipped", r.stderr)

    # --- the whole output is a zone file ------------------------------------
    zone = None
    try:
        zone = zonefile.parse(out, DOMAIN)
        t.ok(True, "the output parses as a zone file (dnspython)")
    except Exception as e:  # noqa: BLE001 - any parse error fails the check
        t.ok(False, "the output parses as a zone file (dnspython)", "%s\n%s" % (e, out))
        raise
    t.ok(all(ln.startswith((";", "\t")) or not ln.strip() or ln.split()[0].endswith(".")
             for ln in out.splitlines()), "every record's name is absolute", out)

    mx = zone.get_rdataset(DOMAIN + ".", dns.rdatatype.MX)
    t.eq([(m.preference, m.exchange.to_text()) for m in mx] if mx else [], [(10, MXHOST + ".")],
         "MX names hostname from the configuration")
    a = zone.get_rdataset(MXHOST + ".", dns.rdatatype.A)
    aaaa = zone.get_rdataset(MXHOST + ".", dns.rdatatype.AAAA)
    t.ok(a and aaaa and [x.address for x in a] == ["127.0.0.1"] and
         [x.address for x in aaaa] == ["::1"], "A and AAAA records carry the --address values", out)

    srv = {}
    for name, rds in zone.iterate_rdatasets(dns.rdatatype.SRV):
        for x in rds:
            srv[name.to_text()] = (x.port, x.target.to_text(), x.priority)
    t.eq({k: v[:2] for k, v in srv.items()}, {
        "_submissions._tcp.%s." % DOMAIN: (465, MXHOST + "."),
        "_submission._tcp.%s." % DOMAIN: (587, MXHOST + "."),
        "_imaps._tcp.%s." % DOMAIN: (993, MXHOST + "."),
        "_imap._tcp.%s." % DOMAIN: (143, MXHOST + "."),
        "_pop3s._tcp.%s." % DOMAIN: (995, MXHOST + "."),
    }, "the five RFC 6186 SRV records, right ports, this host")
    t.ok(srv and srv["_imaps._tcp.%s." % DOMAIN][2] < srv["_imap._tcp.%s." % DOMAIN][2] and
         srv["_submissions._tcp.%s." % DOMAIN][2] < srv["_submission._tcp.%s." % DOMAIN][2],
         "implicit TLS has the preferred (lower) priority (RFC 8314)", srv)

    # --- DKIM ------------------------------------------------------------------
    rsa_txt = txt(zone, "rsa2026._domainkey.%s." % DOMAIN)
    ed_txt = txt(zone, "ed2026._domainkey.%s." % DOMAIN)
    rsa_tags = tags(rsa_txt[0]) if len(rsa_txt) == 1 else {}
    ed_tags = tags(ed_txt[0]) if len(ed_txt) == 1 else {}
    t.ok(rsa_tags.get("v") == "DKIM1" and rsa_tags.get("k") == "rsa" and
         dkim.crypto.parse_public_key(base64.b64decode(rsa_tags["p"])),
         "the RSA key's TXT parses (dkimpy tag list and public key)", rsa_txt)
    t.ok(ed_tags.get("k") == "ed25519" and len(base64.b64decode(
        ed_tags.get("p", ""))) == 32, "the Ed25519 key's TXT holds its bare 32 bytes (RFC 8463)",
        ed_txt)
    rsa_rd = zone.get_rdataset("rsa2026._domainkey.%s." % DOMAIN, dns.rdatatype.TXT)
    t.ok(rsa_rd and all(len(s) <= 255 for x in rsa_rd for s in x.strings) and
         len(list(rsa_rd)[0].strings) > 1, "the long RSA record is split into <= 255-byte strings")
    dkim_names = [n.to_text() for n, _ in zone.iterate_rdatasets(dns.rdatatype.TXT)
                  if "_domainkey" in n.to_text()]
    t.eq(sorted(dkim_names), ["ed2026._domainkey.%s." % DOMAIN, "mail_2026._domainkey.%s." % DOMAIN,
                              "rsa2026._domainkey.%s." % DOMAIN],
         "one DKIM record per key of the domain, none for other domains or the EC key")
    # yubin-setup --dkim names key files by the lower-case domain.
    upper = setup(conf, "--dns", DOMAIN.upper(), "--address", "127.0.0.1").stdout
    t.ok("rsa2026._domainkey.%s." % DOMAIN in upper and "MX    10 %s." % MXHOST in upper and
         DOMAIN.upper() not in upper.replace("; DNS records for", ""),
         "--dns EXAMPLE.TEST finds the keys and prints lower-case names", upper[:600])

    # --- SPF, DMARC, TLS-RPT, MTA-STS -----------------------------------------
    t.eq(txt(zone, DOMAIN + "."), ["v=spf1 mx -all"], "SPF record v=spf1 mx -all")
    q = spf.query(i="127.0.0.1", s="alice@" + DOMAIN, h=MXHOST)
    t.ok(q.validate_mechanism("mx") and q.validate_mechanism("-all"),
         "pyspf accepts its mechanisms")
    dmarc = tags(txt(zone, "_dmarc.%s." % DOMAIN)[0]) if txt(zone, "_dmarc.%s." % DOMAIN) else {}
    t.ok(dmarc.get("v") == "DMARC1" and dmarc.get("p") == "none" and
         dmarc.get("rua") == "mailto:postmaster@" + DOMAIN, "DMARC record: p=none, rua", dmarc)
    t.ok(re.search(r"p=quarantine.*\n.*p=reject|p=reject", out) is not None,
         "a comment says how to tighten DMARC")
    rpt = txt(zone, "_smtp._tls.%s." % DOMAIN)
    t.ok(rpt and tags(rpt[0]) == {"v": "TLSRPTv1", "rua": "mailto:postmaster@" + DOMAIN},
         "TLS-RPT record (RFC 8460)", rpt)
    sts = txt(zone, "_mta-sts.%s." % DOMAIN)
    sts_tags = tags(sts[0]) if sts else {}
    t.ok(sts_tags.get("v") == "STSv1" and re.fullmatch(r"[A-Za-z0-9]{1,32}", sts_tags.get("id", "")),
         "MTA-STS record with an id of 1-32 letters and digits (RFC 8461 3.1)", sts)
    m = re.search(r"^; --- mta-sts.txt ---\n((?:; .*\n)+); --- end", out, re.M)
    policy = dict(ln[2:].split(": ", 1) for ln in m.group(1).splitlines()) if m else {}
    t.ok(policy.get("version") == "STSv1" and policy.get("mode") in ("testing", "enforce") and
         policy.get("mx") == MXHOST and 0 < int(policy.get("max_age", "0")) <= 31557600,
         "the MTA-STS policy file, as comments, parses and names the MX", m and m.group(0))
    t.contains(out, "https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN,
               "and says where to serve it")
    other = setup(write_conf("other.conf", hostname="mail2.example.test"), "--dns", DOMAIN,
                  "--address", "127.0.0.1").stdout
    m2 = re.search(r"v=STSv1; id=(\w+)", other)
    t.ok(m2 and m2.group(1) != sts_tags.get("id"), "the id changes when the policy does")
    t.ok("tls_cert is not set" in other and "tls_cert is not set" not in out,
         "a comment warns when tls_cert is not set")
    t.ok("no key for %s" % DOMAIN in other and "yubin-setup --dkim %s" % DOMAIN in other,
         "without keys, a comment says how to make one")

    # Without --address: what the name resolves to, else the interfaces'
    # addresses, never loopback (a Debian /etc/hosts maps the host name to
    # 127.0.1.1).
    guessed = setup(write_conf("lo.conf", hostname="localhost.localdomain"), "--dns", DOMAIN).stdout
    addrs = re.findall(r"^localhost\.localdomain\.\s+\d+ IN (?:A|AAAA)\s+(\S+)$", guessed, re.M)
    t.ok(not [a for a in addrs if a.startswith("127.") or a == "::1"] and
         (addrs or "no address found for localhost.localdomain" in guessed),
         "without --address no loopback address is published", guessed[:800])

    # --- autoconfig ----------------------------------------------------------------
    r = setup(conf, "--autoconfig", DOMAIN)
    servers = []
    try:
        root = ET.fromstring(r.stdout)
        prov = root.find("emailProvider")
        for el in prov:
            if el.tag in ("incomingServer", "outgoingServer"):
                servers.append((el.tag, el.get("type"), el.findtext("hostname"),
                                el.findtext("port"), el.findtext("socketType"),
                                el.findtext("username")))
        t.ok(root.tag == "clientConfig" and root.get("version") == "1.1" and
             prov.get("id") == DOMAIN and prov.findtext("domain") == DOMAIN,
             "autoconfig XML parses: clientConfig 1.1 for the domain")
    except ET.ParseError as e:
        t.ok(False, "autoconfig XML parses: clientConfig 1.1 for the domain", "%s\n%s" % (e, r.stdout))
    t.eq(servers, [
        ("incomingServer", "imap", MXHOST, "993", "SSL", "%EMAILADDRESS%"),
        ("incomingServer", "imap", MXHOST, "143", "STARTTLS", "%EMAILADDRESS%"),
        ("incomingServer", "pop3", MXHOST, "995", "SSL", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", MXHOST, "465", "SSL", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", MXHOST, "587", "STARTTLS", "%EMAILADDRESS%"),
    ], "autoconfig names this host and the right ports")

    # --- bad input ------------------------------------------------------------------
    # The empty one once fell through to the root-only setup (a user made).
    for bad in ("exa mple.test", "a;b.test", "-x.test", "x..test", "<x>.test", ""):
        r = setup(conf, "--dns", bad, unprivileged=True)
        t.ok(r.returncode == 1 and "bad domain" in r.stderr and not r.stdout,
             "--dns %r is refused" % bad, r.stdout + r.stderr)
    r = setup(conf, "--autoconfig", "a&b.test", unprivileged=True)
    t.ok(r.returncode == 1 and not r.stdout, "--autoconfig refuses a bad domain", r.stderr)
    # nor may an empty --add-user or --dkim argument reach the root-only setup
    for opt, why in (("--add-user", "bad address"), ("--dkim", "bad domain")):
        r = setup(conf, opt, "", unprivileged=True)
        t.ok(r.returncode == 1 and why in r.stderr and not r.stdout,
             "%s '' is refused" % opt, r.stdout + r.stderr)
    for bad in ("1.2.3.4;x", "1.2.3", "1.2.3.256", "1.2.3.4.5", "::1;x", "a:b", ""):
        r = setup(conf, "--dns", DOMAIN, "--address", bad, unprivileged=True)
        t.ok(r.returncode == 1 and "bad address" in r.stderr and not r.stdout,
             "--address %r is refused" % bad, r.stderr)
    r = setup(write_conf("short.conf", hostname="mx"), "--dns", DOMAIN)
    t.ok(r.returncode == 1 and "not fully qualified" in r.stderr, "an unqualified hostname is refused",
         r.stderr)
    r = setup(conf, "--dns", unprivileged=True)
    t.ok(r.returncode == 2 and "usage" in r.stderr, "--dns without a domain: usage, exit 2")

    # --- dnsmasq serves the records ------------------------------------------------------
    dnsmasq = relayenv.DNS(env, zonefile.dnsmasq_args(zone))
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = dnsmasq.port
    res.lifetime = 10
    dns.resolver.default_resolver = res   # dkimpy and pyspf look up through it
    served = [b"".join(x.strings).decode() for x in res.resolve("rsa2026._domainkey." + DOMAIN, "TXT")]
    t.eq(served, rsa_txt, "dnsmasq serves the DKIM record as printed")

    # relay-runner, on the sending host (mx.example.org), finds the MX.
    env.set(relay_mx_port=sink.port, relay_allow_private="yes")
    relayenv.enqueue(env, b"From: alice@example.org\nSubject: dns\n\nhi\n", "alice@example.org",
                     ["bob@" + DOMAIN])
    r = relayenv.runner(env)
    ms = sink.messages()
    t.ok(len(ms) == 1 and ms[0]["rcpts"] == ["bob@" + DOMAIN] and
         "relay=%s[127.0.0.1]" % MXHOST in r.stderr.decode(),
         "relay-runner delivers to the published MX (dns_servers)", r.stderr)

    # SPF evaluated against the served records.
    t.eq(spf.check2(i="127.0.0.1", s="alice@" + DOMAIN, h=MXHOST)[0], "pass",
         "pyspf: the MX's address passes SPF")
    t.eq(spf.check2(i="192.0.2.9", s="alice@" + DOMAIN, h=MXHOST)[0], "fail",
         "pyspf: another address fails SPF (-all)")
    t.eq(spf.check2(i="::1", s="", h=MXHOST)[0], "pass",
         "pyspf: a bounce (empty sender) passes on the HELO name's record")

    # dkimpy signs with the private keys, looks the public ones up and verifies.
    msg = (b"From: alice@example.test\r\nTo: bob@example.org\r\nSubject: dkim\r\n"
           b"Date: Mon, 07 Dec 2026 18:00:00 +0000\r\n\r\nhello\r\n")
    with open(rsa_key, "rb") as f:
        sig = dkim.sign(msg, b"rsa2026", DOMAIN.encode(), f.read(),
                        include_headers=[b"From", b"To", b"Subject", b"Date"])
    t.ok(dkim.verify(sig + msg), "dkimpy verifies an RSA signature with the served key")
    t.ok(not dkim.verify(sig + msg.replace(b"hello", b"HELLO")),
         "and refuses it for a changed body (the lookup is real)")
    seed = openssl("pkey", "-in", ed_key, "-outform", "DER")[-32:]
    sig = dkim.sign(msg, b"ed2026", DOMAIN.encode(), base64.b64encode(seed),
                    signature_algorithm=b"ed25519-sha256",
                    include_headers=[b"From", b"To", b"Subject", b"Date"])
    t.ok(dkim.verify(sig + msg), "dkimpy verifies an Ed25519 signature with the served key")
    sig = dkim.sign(msg, b"nokey", DOMAIN.encode(), base64.b64encode(seed),
                    signature_algorithm=b"ed25519-sha256", include_headers=[b"From"])
    t.ok(not dkim.verify(sig + msg), "a selector with no record does not verify")
finally:
    sink.stop()
    if dnsmasq:
        dnsmasq.stop()
    env.cleanup()
t.done()
