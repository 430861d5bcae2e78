"""Records as yubin-setup --dns prints them, parsed and served: the zone
text through dnspython (Debian's python3-dnspython), and the dnsmasq
options that serve every record in it (relayenv.DNS takes them).

    import zonefile
    zone = zonefile.parse(text, "example.test")
    dns = relayenv.DNS(env, zonefile.dnsmasq_args(zone))
"""
import dns.rdatatype
import dns.zone


def parse(text, origin):
    """A dns.zone.Zone with absolute names; raises on any line that is
    not a valid record (dns.exception.SyntaxError and friends)."""
    return dns.zone.from_text(text, origin=origin.rstrip(".") + ".", relativize=False,
                              check_origin=False)


def dnsmasq_args(zone):
    """dnsmasq options serving every record of zone: MX, A, AAAA, TXT, SRV."""
    args = []
    for name, rds in zone.iterate_rdatasets():
        n = name.to_text(omit_final_dot=True)
        for r in rds:
            if rds.rdtype == dns.rdatatype.MX:
                args.append("--mx-host=%s,%s,%d" % (n, r.exchange.to_text(True), r.preference))
            elif rds.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                args.append("--host-record=%s,%s" % (n, r.address))
            elif rds.rdtype == dns.rdatatype.TXT:
                # No commas in these texts: dnsmasq splits strings there.
                if any(b"," in s for s in r.strings):
                    raise ValueError("a comma in %s's TXT" % n)
                args.append("--txt-record=%s,%s" % (n, ",".join(s.decode() for s in r.strings)))
            elif rds.rdtype == dns.rdatatype.SRV:
                args.append("--srv-host=%s,%s,%d,%d,%d" % (n, r.target.to_text(True), r.port,
                                                            r.priority, r.weight))
            else:
                raise ValueError("unexpected record %s" % rds)
    return args
