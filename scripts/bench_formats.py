#!/usr/bin/env python3
"""What the triage outputs cost: summary.md, the workbook and --split-by-owner, against the
same run without them.

Two offline runs from saved inventories, every other format and a fixed --as-of: one
account of 2,000 users and an organization of 50 accounts of 400 users (both grown from
the demo account by scripts/bench_run.py's `sample_inventory_text`, whose users carry a
`team` tag), with a policy naming `team` as the owner tag. Each variant runs --runs times
(median wall, peak RSS); the sizes are of the files each variant adds.

    .venv/bin/python scripts/bench_formats.py --bin target/release/keyhygiene [--runs 5]
"""

import argparse
import csv
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
VARIANTS = [
    ("html,csv,json", []),
    ("html,csv,json,md", []),
    ("html,csv,json,xlsx", []),
    ("html,csv,json", ["--split-by-owner"]),
]
# The large organization (about 100,000 findings) runs the workbook alone against none.
BIG_VARIANTS = [("csv", []), ("csv,xlsx", [])]


def measure(binary, args, out):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [GNU_TIME, "-f", "%M", str(binary), "audit", *args, "--out-dir", str(out),
           "--as-of", AS_OF, "--fail-on", "none", "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr}")
    return wall, int(done.stderr.strip().splitlines()[-1]) / 1024.0


def size(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--big-accounts", type=int, default=400,
                   help="accounts of 400 users in the large organization (0: none)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kh-bench-formats-"))
    policy = work / "policy.toml"
    policy.write_text('[report]\nowner-tags = ["team"]\n')
    single = work / "account-2000.json"
    single.write_text(sample_inventory_text(2000))
    org = work / "org-50x400"
    org.mkdir()
    text = sample_inventory_text(400)
    for i in range(50):
        account = f"{200000000000 + i:012d}"
        (org / f"account-{account}.json").write_text(text.replace(SAMPLE_ACCOUNT, account))
    big = work / "org-big"
    big.mkdir()
    for i in range(args.big_accounts):
        account = f"{300000000000 + i:012d}"
        (big / f"account-{account}.json").write_text(text.replace(SAMPLE_ACCOUNT, account))
    print(f"{args.runs} runs each, median; binary {args.bin}")
    print()
    print("| run | formats | wall s | peak RSS MiB | added file(s) | added size |")
    print("|---|---|---|---|---|---|")
    runs = [("one account, 2,000 users", single, VARIANTS),
            ("organization, 50 x 400", org, VARIANTS)]
    if args.big_accounts:
        runs.append((f"organization, {args.big_accounts} x 400", big, BIG_VARIANTS))
    for name, source, variants in runs:
        for formats, extra in variants:
            out = work / "out"
            got = [measure(args.bin, ["--from-inventory", str(source), "--config", str(policy),
                                      "--format", formats, *extra], out)
                   for _ in range(args.runs)]
            wall = statistics.median(w for w, _ in got)
            rss = statistics.median(r for _, r in got)
            if extra:
                added, what = size(out / "by-owner"), \
                    f"by-owner/ ({len(list((out / 'by-owner').iterdir()))} owners)"
            elif "md" in formats:
                added, what = size(out / "summary.md"), "summary.md"
            elif "xlsx" in formats:
                with open(out / "findings.csv", encoding="utf-8", newline="") as f:
                    rows = sum(1 for _ in csv.reader(f)) - 1
                added, what = size(out / "keyhygiene.xlsx"), f"keyhygiene.xlsx ({rows} findings)"
            else:
                added, what = 0, "-"
            label = formats + (" " + " ".join(extra) if extra else "")
            print(f"| {name} | {label} | {wall:.3f} | {rss:.1f} | {what} | "
                  f"{added / 1024:.1f} KiB |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
