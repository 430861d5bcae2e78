#!/usr/bin/env python3
"""Runs the crash-point harness over operations and prints one line per
(operation, point, fault) that fails, then a summary table.

    t/crash/run.py [-f FAULT,...] [-p N,...] [OP ...]     (default: all)
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ops  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-f", "--faults", default=",".join(harness.FAULTS))
    ap.add_argument("-p", "--points", default="", help="point numbers (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("ops", nargs="*")
    a = ap.parse_args()
    names = a.ops or list(ops.OPS)
    faults = a.faults.split(",")
    total = {}
    for name in names:
        t0 = time.time()
        case = harness.Case(ops.OPS[name])
        pts = [p for p in case.points if not a.points or str(p.index) in a.points.split(",")]
        if a.verbose:
            for p in case.points:
                print("  %r" % p)
        n = bad = drift = 0
        try:
            for p in pts:
                for f in faults:
                    r = case.inject(p, f)
                    n += 1
                    if getattr(r, "drift", False):
                        drift += 1
                    if not r.ok:
                        bad += 1
                        print("FAIL %s %r %s (ack %s)" % (name, p, f, r.ack))
                        for x in r.fails:
                            print("     - %s" % x)
                    for x in r.notes:
                        if x.startswith("lock left"):
                            print("LOCK %s %r %s: %s" % (name, p, f, x))
                    if a.verbose and r.notes:
                        print("note %s %r %s: %s" % (name, p, f, "; ".join(r.notes)))
        finally:
            case.close()
        total[name] = (len(case.points), len(pts), n, bad, drift, time.time() - t0)
        print("%-26s points %3d  runs %4d  failed %3d  drift %d  %.0fs" % (
            name, len(case.points), n, bad, drift, time.time() - t0), flush=True)
    return 1 if any(v[3] for v in total.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
