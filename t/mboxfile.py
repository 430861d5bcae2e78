"""An mboxrd file read by the tests themselves, not by yubin's reader:
the crash tests judge what a killed or failing writer left with it."""


def messages(data):
    """Each message of an mboxrd file as its lines (From_ line first, the
    separating empty line taken off), or None if the file is not a
    sequence of whole messages: a From_ line only at the start or after an
    empty line, each message ending with its empty separator line, the
    file with a line end."""
    if data == b"":
        return []
    if not data.endswith(b"\n") or not data.startswith(b"From "):
        return None
    msgs, cur, prev_blank = [], None, True
    for line in data[:-1].split(b"\n"):
        if prev_blank and line.startswith(b"From "):
            if cur is not None:
                msgs.append(cur)
            cur = [line]
        else:
            cur.append(line)
        prev_blank = line == b""
    msgs.append(cur)
    if any(len(m) < 2 or m[-1] != b"" for m in msgs):
        return None
    return [m[:-1] for m in msgs]


def bodies(data):
    """The body (after the header's empty line) of each message, or None
    if the file is not whole messages or one has no end of header."""
    msgs = messages(data)
    if msgs is None or any(b"" not in m[1:] for m in msgs):
        return None
    out = []
    for m in msgs:
        body = m[m.index(b"", 1) + 1:]
        out.append(b"\n".join(body) + b"\n" if body else b"")
    return out
