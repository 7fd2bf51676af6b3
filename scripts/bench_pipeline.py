#!/usr/bin/env python3
"""Two keyhygiene binaries on the same offline runs: wall time and peak RSS, median of N.

The runs: one account of 2,000 users from a saved inventory, and an organization of
50 accounts of 400 users each from a saved folder, every report format, a fixed --as-of.
Both inventories are the demo account's, grown by copying its users under new names, user
ids and key ids (scripts/bench_run.py's `sample_inventory_text`). The binaries run in
turns (A, B, A, B, ...), so a slower stretch of the machine falls on both; each run gets a
fresh output folder. Prints one row per run and binary, and whether B is within
max(5 %, 50 ms) of A's wall time and max(5 %, 1 MiB) of A's peak RSS.

    scripts/bench_pipeline.py --a BEFORE_BINARY --b AFTER_BINARY [--runs 5]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run import SAMPLE_ACCOUNT, sample_inventory_text  # noqa: E402

GNU_TIME = "/usr/bin/time"
AS_OF = "2026-11-23T09:00:00Z"


def measure(binary, args, out):
    """One run: (wall seconds, peak RSS MiB, exit code)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [GNU_TIME, "-f", "%M", str(binary), "audit", *args, "--out-dir", str(out),
           "--as-of", AS_OF, "--fail-on", "none", "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    rss_kib = int(done.stderr.strip().splitlines()[-1])
    return wall, rss_kib / 1024.0, done.returncode


def within(a, b, pct, floor):
    return b <= a + max(a * pct, floor)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="the binary before the change")
    p.add_argument("--b", required=True, help="the binary after the change")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--work-dir", default=None)
    args = p.parse_args()
    if not Path(GNU_TIME).exists():
        sys.exit(f"{GNU_TIME} is missing: apt-get install time")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="kh-bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)

    single = work / "account-2000.json"
    single.write_text(sample_inventory_text(2000))
    org = work / "org-50x400"
    shutil.rmtree(org, ignore_errors=True)
    org.mkdir()
    text = sample_inventory_text(400)
    for i in range(50):
        account = f"{200000000000 + i:012d}"
        (org / f"account-{account}.json").write_text(text.replace(SAMPLE_ACCOUNT, account))
    users = len(json.loads(text)["users"])
    scenarios = [
        ("one account, 2,000 users", ["--from-inventory", str(single),
                                      "--format", "html,csv,json"]),
        (f"organization, 50 x {users} users", ["--from-inventory", str(org),
                                               "--format", "html,csv,json"]),
    ]
    failed = False
    print(f"runs: {args.runs} each, alternating; A = {args.a}; B = {args.b}")
    print("| run | binary | wall s (median) | peak RSS MiB (median) | walls | exit |")
    print("|---|---|---|---|---|---|")
    for name, flags in scenarios:
        got = {"A": [], "B": []}
        for i in range(args.runs):
            for label, binary in (("A", args.a), ("B", args.b)):
                got[label].append(measure(binary, flags, work / f"out-{label}"))
        med = {}
        for label in ("A", "B"):
            walls = [w for w, _, _ in got[label]]
            rss = [r for _, r, _ in got[label]]
            codes = sorted({c for _, _, c in got[label]})
            med[label] = (statistics.median(walls), statistics.median(rss))
            print(f"| {name} | {label} | {med[label][0]:.3f} | {med[label][1]:.1f} | "
                  f"{' '.join(f'{w:.3f}' for w in walls)} | {codes} |")
        (wa, ra), (wb, rb) = med["A"], med["B"]
        ok_wall = within(wa, wb, 0.05, 0.050)
        ok_rss = within(ra, rb, 0.05, 1.0)
        failed |= not (ok_wall and ok_rss)
        print(f"| {name} | B vs A | {wb / wa:.3f} x {'ok' if ok_wall else 'SLOWER'} | "
              f"{rb / ra:.3f} x {'ok' if ok_rss else 'LARGER'} | | |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
