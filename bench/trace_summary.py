#!/usr/bin/env python3
"""Where the time of one traced phase goes, from a moebench Chrome trace (--profile).

Usage: trace_summary.py TRACE.json [--phase "decode step 2"] [--top 30] [--list]

For the device spans (kernels, copies) that start inside the phase: per kernel name, the count,
the summed and median duration; the busy time (union of spans) against the phase's length, and
the idle gaps between consecutive spans. --list prints every span in order with the gap before
it, which shows where a chain of small kernels waits on launches.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict


def short(name: str) -> str:
    for prefix in ("void ", "moebench::", "<unnamed>::", "(anonymous namespace)::"):
        name = name.replace(prefix, "")
    return name.split("(")[0][:70]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trace")
    p.add_argument("--phase", default="decode step 2")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    events = [e for e in json.load(open(a.trace))["traceEvents"] if e.get("ph") == "X"]
    phases = [e for e in events if e.get("name") == a.phase]
    if not phases:
        print(f"trace_summary: no phase named {a.phase!r} in {a.trace}", file=sys.stderr)
        return 2
    phase = phases[0]
    start, end = phase["ts"], phase["ts"] + phase["dur"]
    spans = sorted((e for e in events if e.get("pid") != phase.get("pid") and start <= e["ts"] < end),
                   key=lambda e: e["ts"])
    if not spans:
        print(f"trace_summary: no device spans inside {a.phase!r}", file=sys.stderr)
        return 2
    by_name = defaultdict(list)
    label = lambda e: short(e.get("args", {}).get("kernel", e["name"]))  # the full name where there is one
    for e in spans:
        by_name[label(e)].append(e["dur"])
    busy, gaps, cursor = 0.0, [], spans[0]["ts"]
    last_end = spans[0]["ts"]
    for e in spans:
        s, f = e["ts"], e["ts"] + e["dur"]
        if s > last_end:
            gaps.append(s - last_end)
        busy += max(0.0, f - max(s, cursor))
        cursor = max(cursor, f)
        last_end = max(last_end, f)
    first, final = spans[0]["ts"], last_end
    print(f"phase {a.phase!r}: {phase['dur']:.1f} us; device spans {len(spans)}, first to last "
          f"{final - first:.1f} us, busy {busy:.1f} us, idle gaps {sum(gaps):.1f} us "
          f"(median {statistics.median(gaps) if gaps else 0:.2f} us over {len(gaps)})")
    rows = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))
    print(f"{'kernel':70s} {'count':>6s} {'total us':>9s} {'median us':>9s}")
    for name, durs in rows[: a.top]:
        print(f"{name:70s} {len(durs):6d} {sum(durs):9.1f} {statistics.median(durs):9.2f}")
    if a.list:
        prev = spans[0]["ts"]
        for e in spans:
            print(f"{e['ts'] - first:10.2f} gap {e['ts'] - prev:7.2f} dur {e['dur']:7.2f}  {label(e)}")
            prev = e["ts"] + e["dur"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
