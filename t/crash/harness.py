"""Crash-point harness: runs one operation under strace to list its
mutating system calls, then runs it again from the same starting state with
the process killed (SIGKILL, SIGTERM) or the call failing (ENOSPC, EIO) at
each of them, and has checker.py judge what is left.

strace counts `when=k` per system call name and per process, so a point is
(syscall, k-th call of that name in the process). Every operation here runs
as one process (relay-runner with relay_processes = 1); a second traced
process is reported, never guessed at.

    case = Case(ops.OPS["smtp-maildir"])     # set-up, template, reference run
    for p in case.points:
        for fault in FAULTS:
            res = case.inject(p, fault)    # Result: .fails (list), .notes
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import checker  # noqa: E402
import yubin  # noqa: E402

# Traced: every call that may change stored state, plus open/openat (only
# those with O_CREAT or O_TMPFILE are points, but all count for `when=`).
TRACE = ("write,writev,pwrite64,pwritev,rename,renameat,renameat2,link,linkat,"
         "unlink,unlinkat,rmdir,fsync,fdatasync,ftruncate,truncate,mkdir,mkdirat,"
         "open,openat,creat")
FAULTS = {"SIGKILL": "signal=SIGKILL", "SIGTERM": "signal=SIGTERM",
          "ENOSPC": "error=ENOSPC", "EIO": "error=EIO"}
# mbox dotlocks older than this are broken by the next locker (lib/bounds.h
# MBOX_DOTLOCK_STALE_SEC, lib/mbox.c); the check ages a left lock past it.
DOTLOCK_STALE_SEC = 300
LINE = re.compile(r"^(\d+)\s+([a-z0-9_]+)\((.*)$")
# Scratch installations on tmpfs where there is one: a crash here is a
# killed process or a failed call, not a lost page cache, so the file
# system does not matter, and thousands of runs' fsyncs on a shared disk
# would make the quick test slow. YUBIN_CRASH_TMP overrides.
SCRATCH = os.environ.get("YUBIN_CRASH_TMP") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)


class Point:
    def __init__(self, index, sysc, nth, desc):
        self.index, self.sysc, self.nth, self.desc = index, sysc, nth, desc

    def __repr__(self):
        return "#%d %s:%d %s" % (self.index, self.sysc, self.nth, self.desc)


def describe(sysc, args, top):
    """A short, run-independent name for a call: the syscall and the file
    it works on, relative to the scratch dir, unique parts starred."""
    paths = re.findall(r"<([^<>]*)>", args) + re.findall(r'"([^"]*)"', args)
    what = ""
    for p in paths:
        if p.startswith("pipe:"):
            what = "client" if args.startswith("1<") else "log" if args.startswith("2<") else p
            break
        if p.startswith(top) or p.startswith("/"):
            what = os.path.relpath(p, top) if p.startswith(top) else p
            if not args.startswith("AT_FDCWD") or p.startswith(top):
                break
    if sysc in ("openat", "linkat", "renameat", "renameat2", "unlinkat", "mkdirat"):
        names = re.findall(r'"([^"]*)"', args)
        if names:
            what = (what + "/" if what and not what.endswith("/") else what) + names[-1] \
                if not names[-1].startswith("/") else os.path.relpath(names[-1], top)
    what = re.sub(r"(?<=[A-Za-z0-9-])\.[A-Za-z0-9]{6}$", ".*", what)    # mkstemp's XXXXXX
    what = re.sub(r"[0-9a-f]{8,}|\d+", "*", what)    # times, pids, random parts
    what = re.sub(r"\.lk[^/]*|#\d+|\(deleted\)", "*", what)
    return "%s %s" % (sysc, what)


def parse_trace(path, top):
    """(points, pids): the points of a trace in order."""
    points, seen, pids = [], {}, []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m or "resumed>" in line:
                continue
            pid, sysc, args = m.groups()
            if pid not in pids:
                pids.append(pid)
            key = (pid, sysc)
            seen[key] = seen.get(key, 0) + 1
            if sysc in ("open", "openat") and not re.search(r"O_CREAT|O_TMPFILE", args):
                continue
            points.append(Point(len(points) + 1, sysc, seen[key], describe(sysc, args, top)))
    return points, pids


class Result:
    def __init__(self, point, fault):
        self.point, self.fault = point, fault
        self.fails, self.notes = [], []
        self.ack = None

    @property
    def ok(self):
        return not self.fails

    def line(self):
        return "%s %s %s" % (self.point, self.fault, "ok" if self.ok else "FAIL")


class Case:
    """One operation in a scratch installation: its starting state kept as
    a template, its points, and the state a clean run leaves (reference)."""

    def __init__(self, op, thorough=True):
        self.op = op
        tempfile.tempdir = SCRATCH
        self.env = yubin.Env(conf=dict({"mailbox_format": op.fmt, "relay_processes": "1"}, **op.conf),
                             aliases=op.aliases)
        self.top = self.env.dir
        self.sink = None
        self.runs = 0
        self.thorough = thorough     # also probe UIDs after the next delivery
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def close(self):
        """Removes the scratch installation and stops the sink."""
        self.env.cleanup()
        if self.sink:
            self.sink.stop()

    def _prepare(self):
        """Set-up, the starting state kept as a template, the clean run."""
        op = self.op
        op.setup(self)
        self.before_uids = None
        self.before_uids = self.probe() if op.imap else None
        if op.imap and not (self.before_uids or {}).get("INBOX", {}).get("uids"):
            raise RuntimeError("%s: the IMAP probe sees no UIDs in INBOX: %r" % (op.name, self.before_uids))
        self.before = self.store()
        self._save_template()
        self.ref_out = self.run_op(trace=os.path.join(self.top, "ref.trace"))
        self.points, pids = parse_trace(os.path.join(self.top, "ref.trace"), self.top)
        if len(pids) != 1:
            raise RuntimeError("%s: %d traced processes; points would be ambiguous" % (op.name, len(pids)))
        self.after = self.store()
        bad = self.after.errors + op.reference_problems(self)
        if self.after.counts() == self.before.counts() and self.after.flags == self.before.flags:
            bad.append("the clean run changed nothing the checker sees")
        if bad:
            raise RuntimeError("%s: the reference run itself fails: %s\n%r" % (op.name, bad, self.ref_out))

    # --- state -----------------------------------------------------------
    def store(self):
        st = checker.Store.read(self.env.mail_root, self.env.spool, self.op.fmt)
        for m in self.sink_messages():
            st._add("sink", m, "sink")
        return st

    def sink_messages(self):
        return [m["data"] for m in self.sink.messages()] if self.sink else []

    def _save_template(self):
        for d in ("mail", "spool"):
            subprocess.run(["cp", "-a", os.path.join(self.top, d), os.path.join(self.top, "tpl-" + d)], check=True)

    def restore(self):
        for d in ("mail", "spool"):
            shutil.rmtree(os.path.join(self.top, d))
            subprocess.run(["cp", "-a", os.path.join(self.top, "tpl-" + d), os.path.join(self.top, d)], check=True)
        if self.sink:
            for n in os.listdir(self.sink.dir):
                if n.endswith((".jsonl", ".raw", ".log")):
                    os.unlink(os.path.join(self.sink.dir, n))
            self.sink.set(self.op.sink_script)

    # --- running ---------------------------------------------------------
    def run_op(self, trace, inject=None):
        self.runs += 1
        cmd = ["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=" + TRACE, "-e", "signal=none"]
        if inject:
            cmd += ["-e", "inject=%s:%s:when=%d" % inject]
        cmd += [yubin.binary(self.op.prog), "-c", self.env.conf_path] + list(self.op.args)
        env = self.env.env()
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
        p = subprocess.run(cmd, input=self.op.script, capture_output=True, timeout=120, env=env)
        self.last_stderr = p.stderr
        return p.stdout

    def session(self, prog, data, args=(), timeout=60):
        try:
            return self.env.run(prog, data, args=args, timeout=timeout).stdout
        except subprocess.TimeoutExpired:
            return b"(timed out after %ds)" % timeout

    def probe(self):
        """UIDVALIDITY, UIDNEXT and {uid: Message-ID} of every folder of
        the op's IMAP user, from a fresh imap-session; None if it failed."""
        return imap_probe(self, self.op.imap, self.before_uids)

    # --- one crash -------------------------------------------------------
    def inject(self, point, fault, tries=3):
        """Runs the op with fault at point and checks what is left. A run
        whose calls before the point differ from the reference (timing:
        a lock retry, a second boundary) is tried again, then reported as
        drift, never judged."""
        res = Result(point, fault)
        want = [p.desc for p in self.points[:point.index]]
        trace = os.path.join(self.top, "inj.trace")
        for _ in range(tries):
            self.restore()
            out = self.run_op(trace, (point.sysc, FAULTS[fault], point.nth))
            got, _ = parse_trace(trace, self.top)
            if [p.desc for p in got[:point.index]] == want:
                break
        else:
            res.notes.append("drift: the run did not reach the same point")
            res.drift = True
            return res
        res.ack = self.op.acked(out)
        res.out = out
        # the sanitizer build: an error path that misbehaves is a failure too
        m = re.search(rb"(ERROR: \w+Sanitizer[^\n]*|runtime error:[^\n]*)", self.last_stderr)
        if m:
            res.fails.append("sanitizer: %s" % m.group(1).decode(errors="replace"))
        st = self.store()
        if st.locks:
            st = self.next_locker(res, st)
        res.fails += st.errors
        res.fails += compare(self.before, self.after, st, res.ack, self.op)
        res.notes += st.others
        self.recover(res, st)
        return res

    def age_locks(self, st):
        """Ages each dotlock left past its stale time (MBOX_DOTLOCK_STALE_SEC)."""
        old = time.time() - DOTLOCK_STALE_SEC - 10
        for lk in st.locks:
            os.utime(lk, (old, old))

    def next_locker(self, res, st):
        """A dotlock left on an mbox: the store is judged as the next
        yubin reader leaves it. A killed appender's dotlock records the
        mbox size before its append (lib/mbox-stale.c); the next locker
        cuts what lies past it, and every reader locks (yubin's, and MUAs
        honouring dotlocks), so a torn tail under the lock is seen by no
        one. One imap-session EXAMINEs each such mbox (it locks it to
        read); a tail still torn then is a failure. Returns the store
        read again, less what the reader's login made."""
        for lk in st.locks:
            res.notes.append("lock left: %s" % os.path.relpath(lk, self.top))
        res.notes += ["before the next locker: %s" % e for e in st.errors]
        self.age_locks(st)
        for lk in st.locks:
            mbox = lk[:-len(".lock")]
            parts = os.path.relpath(mbox, self.env.mail_root).split(os.sep)
            if len(parts) < 3 or not os.path.isfile(mbox):
                continue      # the mbox is gone (RENAME, DELETE): recover() ages the lock
            dom, user, folder = parts[0], parts[1], "/".join(parts[2:])
            login = b"a LOGIN %s@%s %s\r\n" % (user.encode(), dom.encode(), yubin.DEMO_PASSWORD.encode())
            out = self.session("imap-session", login + b'b EXAMINE "%s"\r\nc LOGOUT\r\n' % folder.encode())
            if b"\r\nb OK" not in out:
                res.fails.append("the next reader of %s/%s: EXAMINE failed: %r" % (user, folder, out[-200:]))
        now = self.store()
        # a user's first IMAP login makes its default folders and their
        # subscriptions: the reader's doing, not the crash's
        for box in [b for b in now.boxes if b not in st.boxes]:
            res.notes.append("made by the next reader's login: %s" % box)
            del now.boxes[box]
        return now

    def recover(self, res, st):
        """Locks, then the next session and the next delivery must work."""
        for lk in st.locks:
            res.notes.append("lock left after the next locker: %s" % os.path.relpath(lk, self.top))
        self.age_locks(st)
        if self.op.imap:
            uids = self.probe()
            if uids is None:
                res.fails.append("next IMAP session failed")
            else:
                res.fails += uid_rules(self.before_uids, uids, "after the crash")
                for f, v in uids.items():
                    if v is None and ("%s/%s" % (self.op.imap.split("@")[0], f)) in st.boxes:
                        res.fails.append("next IMAP session: EXAMINE %s failed, yet it is there" % f)
        for f in self.op.next_checks(self, res):
            res.fails.append(f)
        tag = "next%d" % self.runs
        rcpt = self.op.next_rcpt
        out = self.session("smtp-session", smtp_script(checker.make_message(tag), [rcpt]), timeout=60)
        if not re.search(rb"\r\n250 [^\r\n]*queued", out):
            res.fails.append("next delivery failed: %r" % out[-300:])
            return
        st2 = self.store()
        box = self.op.next_box
        n = st2.boxes.get(box, {}).get("<%s@%s>" % (tag, checker.MSG_DOMAIN), 0)
        if n != 1:
            res.fails.append("next delivery: %d copies in %s" % (n, box))
        res.fails += ["after the next delivery: %s" % e for e in st2.errors if e not in st.errors]
        if self.op.imap and uids is not None and self.thorough:
            uids2 = self.probe()
            if uids2 is None:
                res.fails.append("IMAP session after the next delivery failed")
            else:
                res.fails += uid_rules(uids, uids2, "after the next delivery")


def smtp_script(msg, rcpts, sender="sender@example.net"):
    s = b"EHLO client.test\r\nMAIL FROM:<%s>\r\n" % sender.encode()
    for r in rcpts:
        s += b"RCPT TO:<%s>\r\n" % r.encode()
    body = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    body = re.sub(rb"(?m)^\.", b"..", body)
    return s + b"DATA\r\n" + body + b".\r\nQUIT\r\n"


def compare(before, after, now, ack, op):
    """What the acknowledgement promises about each mailbox: acked → as the
    clean run left it; refused → as before; no answer → each mailbox as
    before or as after (op.atomic: the whole mailbox one or the other,
    else message by message), and nothing that was anywhere before and
    is anywhere after the clean run is gone from everywhere."""
    fails = []
    b, a, n = before.counts(), after.counts(), now.counts()
    boxes = sorted(set(b) | set(a) | set(n))
    for box in boxes:
        bb, aa, nn = b.get(box, {}), a.get(box, {}), n.get(box, {})
        if box in op.at_least and ack != "refused":
            for mid, c in aa.items():
                if nn.get(mid, 0) < 1 and bb.get(mid, 0) < 1:
                    fails.append("%s: %s missing (want at least once)" % (box, mid))
            continue
        if box in op.loose:
            if nn != bb and nn != aa:
                fails.append("%s: neither the old nor the new set: %s (old %s, new %s)" % (box, nn, bb, aa))
        elif ack == "ok":
            if nn != aa:
                fails.append("%s: acknowledged, but holds %s; the clean run left %s" % (box, nn, aa))
        elif ack == "refused" and not op.refused_may_apply:
            if nn != bb:
                fails.append("%s: refused, but holds %s; before it held %s" % (box, nn, bb))
        elif box in op.atomic or (ack == "refused" and op.refused_may_apply):
            if nn != bb and nn != aa:
                fails.append("%s: neither the old nor the new set: %s (old %s, new %s)" % (box, nn, bb, aa))
        else:
            for mid in sorted(set(bb) | set(aa) | set(nn)):
                if nn.get(mid, 0) not in (bb.get(mid, 0), aa.get(mid, 0)):
                    fails.append("%s: %s %d times (before %d, clean run %d)" % (
                        box, mid, nn.get(mid, 0), bb.get(mid, 0), aa.get(mid, 0)))
        if op.flags and ack == "ok":
            for mid in aa:
                if now.flags.get((box, mid)) != after.flags.get((box, mid)):
                    fails.append("%s: %s flags %r, the clean run left %r" % (
                        box, mid, now.flags.get((box, mid)), after.flags.get((box, mid))))
    fails += conservation(b, a, n)
    return fails


def family(mid):
    return mid[len("bounce-of:"):] if mid.startswith("bounce-of:") else mid


def conservation(b, a, n):
    """A message that is somewhere before and after the clean run (or whose
    bounce is) must be somewhere now."""
    def where(c):
        out = {}
        for box, ms in c.items():
            for mid, k in ms.items():
                if k:
                    out.setdefault(family(mid), set()).add(box)
        return out
    wb, wa, wn = where(b), where(a), where(n)
    return ["%s is gone from everywhere (before: %s; clean run: %s)" % (m, sorted(wb[m]), sorted(wa[m]))
            for m in sorted(wb) if m in wa and m not in wn]


def uid_rules(old, new, when):
    """UIDVALIDITY and UIDs never reused: a folder keeps its UIDVALIDITY's
    mapping (same UID, same message), a new message's UID is at least the
    old UIDNEXT, UIDNEXT never goes down; a new UIDVALIDITY must be larger."""
    fails = []
    for folder, o in old.items():
        nw = new.get(folder)
        if nw is None or o is None:
            continue
        if nw["uidvalidity"] != o["uidvalidity"]:
            if nw["uidvalidity"] < o["uidvalidity"]:
                fails.append("%s %s: UIDVALIDITY %d went back to %d" % (when, folder, o["uidvalidity"], nw["uidvalidity"]))
            continue
        if nw["uidnext"] < o["uidnext"]:
            fails.append("%s %s: UIDNEXT %d went back to %d" % (when, folder, o["uidnext"], nw["uidnext"]))
        byid = {mid: uid for uid, mid in o["uids"].items()}
        for uid, mid in nw["uids"].items():
            if uid in o["uids"] and o["uids"][uid] != mid:
                fails.append("%s %s: UID %d was %s, now %s" % (when, folder, uid, o["uids"][uid], mid))
            elif mid in byid and byid[mid] != uid:
                fails.append("%s %s: %s had UID %d, now %d" % (when, folder, mid, byid[mid], uid))
            elif uid not in o["uids"] and uid < o["uidnext"] and mid not in byid:
                fails.append("%s %s: new message %s got UID %d below the old UIDNEXT %d" % (
                    when, folder, mid, uid, o["uidnext"]))
    return fails


FETCH = re.compile(rb"\* \d+ FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \(MESSAGE-ID\)\] \{(\d+)\}\r\n")


def imap_probe(case, user, known=None):
    """One session: LIST, then EXAMINE and UID FETCH of each folder (those
    of known if given, else what LIST says, in a second session)."""
    login = b"a LOGIN %s %s\r\n" % (user.encode(), yubin.DEMO_PASSWORD.encode())
    folders = sorted(known) if known else None
    if folders is None:
        out = case.session("imap-session", login + b'b LIST "" "*"\r\nc LOGOUT\r\n', timeout=60)
        if b"\r\na OK" not in out or b"\r\nb OK" not in out:
            return None
        folders = [m.decode() for m in re.findall(rb'\* LIST \([^)]*\) "/" "?([^"\r\n]+)"?\r\n', out)]
    script = login
    for i, f in enumerate(folders):
        script += b'e%d EXAMINE "%s"\r\nf%d UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n' % (
            i, f.encode(), i)
    out = case.session("imap-session", script + b"z LOGOUT\r\n", timeout=60)
    res = {}
    for i, f in enumerate(folders):
        start = out.find(b"\r\nf%d " % (i - 1)) if i else out.find(b"\r\na OK")
        end = out.find(b"\r\nf%d " % i)
        seg = out[start:end] if start >= 0 and end >= 0 else b""
        if b"\r\ne%d OK" % i not in seg:
            res[f] = None        # gone (DELETE, RENAME) or failing: compared by the caller
            continue
        uv = re.search(rb"\[UIDVALIDITY (\d+)\]", seg)
        un = re.search(rb"\[UIDNEXT (\d+)\]", seg)
        uids = {}
        for m in FETCH.finditer(seg):
            lit = seg[m.end():m.end() + int(m.group(2))]
            mid = checker.header_value(lit.replace(b"\r\n", b"\n"), "Message-ID")
            uids[int(m.group(1))] = mid.decode() if mid else "?"
        if not uv or not un:
            return None
        res[f] = {"uidvalidity": int(uv.group(1)), "uidnext": int(un.group(1)), "uids": uids}
    if b"\r\na OK" not in out:
        return None
    return res
