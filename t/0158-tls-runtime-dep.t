#!/usr/bin/env python3
# The programs dlopen() GnuTLS on first use (lib/tlslib.c, issue 15), so
# ldd no longer lists it and a packager's shared-library scan misses it:
# `make install` names the library the binaries will load and warns when
# this host lacks it; README.md, units/README.md and t/deps.txt name the
# runtime package.
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubin  # noqa: E402

t = yubin.TAP()
tmp = tempfile.mkdtemp(prefix="yubin-t-tlsdep-")
smtp = yubin.binary("smtp-session")


def install(env_extra=None, via_make=True):
    dest = os.path.join(tmp, "dest%d" % t.n)
    if via_make:
        # -o all: the build is make check's business; install only copies it.
        args = ["make", "-s", "-C", yubin.TOP, "-o", "all", "install", "DESTDIR=" + dest,
                "PREFIX=/opt/yubin", "sysconfdir=/opt/yubin/etc", "unitdir="]
        if os.path.basename(os.path.normpath(yubin.BUILD)) == "san":
            args.append("SANITIZE=1")
        return subprocess.run(args, capture_output=True, text=True, timeout=50)
    env = dict(os.environ, DESTDIR=dest, PREFIX="/opt/yubin", sysconfdir="/opt/yubin/etc",
               unitdir="", BIN=os.path.dirname(smtp), PROGRAMS="smtp-session", **env_extra)
    return subprocess.run(["sh", os.path.join(yubin.TOP, "units", "install.sh"), "install"],
                          capture_output=True, text=True, timeout=50, env=env)


try:
    with open(smtp, "rb") as f:
        m = re.search(rb"libgnutls\.so\.[0-9]+", f.read())
    soname = m.group(0).decode() if m else None
    t.ok(soname is not None, "smtp-session names the GnuTLS soname it dlopens")
    ldd = subprocess.run(["ldd", smtp], capture_output=True, text=True, timeout=30).stdout
    t.ok("libgnutls" not in ldd, "ldd does not list GnuTLS (why it must be said)", ldd)

    r = install()
    t.ok(r.returncode == 0, "make install", r.stdout + r.stderr)
    t.contains(r.stdout, "load %s at run time" % soname, "make install names that soname")
    t.contains(r.stdout, "a package must depend on it", "and says a package must depend on it")
    t.ok("warning" not in r.stderr, "no warning where the library is installed", r.stderr)

    r = install({"TLSLIB_SONAME": "libyubin-absent.so.0"}, via_make=False)
    t.ok(r.returncode == 0, "install.sh with a library this host lacks", r.stdout + r.stderr)
    t.contains(r.stderr, "warning: libyubin-absent.so.0 is not installed here",
               "warns that TLS and DKIM would fail")

    for doc in ("README.md", os.path.join("units", "README.md")):
        with open(os.path.join(yubin.TOP, doc)) as f:
            text = f.read()
        t.ok("libgnutls30" in text and "dlopen" in text,
             "%s names the runtime package and why ldd misses it" % doc)
    with open(os.path.join(yubin.TOP, "t", "deps.txt")) as f:
        t.ok("libgnutls30" in f.read().split(), "t/deps.txt lists libgnutls30")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
t.done()
