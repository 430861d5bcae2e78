#!/usr/bin/python3
"""Verifies every DKIM-Signature of a message with dkimpy (Debian's
python3-dkim, which lives with /usr/bin/python3), looking keys up in a
zone file instead of the DNS.

    dkimcheck.py ZONE MESSAGE

ZONE holds TXT records as yubin-setup --dkim prints them; MESSAGE is the
message as it travels (CRLF line ends). Prints one JSON list: for each
signature, in order, {"s": selector, "a": algorithm, "d": domain,
"h": signed field names, "pass": bool}."""
import json
import re
import sys

import dkim


def zone(path):
    records = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'(\S+)\.\s+IN\s+TXT\s+(.*)$', line.strip())
            if m:
                records[m.group(1).lower()] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    return records


def main():
    records = zone(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        msg = f.read()

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return records.get(name.rstrip(".").lower(), "").encode()

    d = dkim.DKIM(msg)
    out = []
    for i, (name, value) in enumerate(h for h in d.headers if h[0].lower() == b"dkim-signature"):
        tags = dkim.util.parse_tag_value(re.sub(rb"\s+", b"", value))
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            ok = False
        out.append({"s": tags[b"s"].decode(), "a": tags[b"a"].decode(), "d": tags[b"d"].decode(),
                    "h": tags[b"h"].decode(), "pass": bool(ok)})
    print(json.dumps(out))


main()
