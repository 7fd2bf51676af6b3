#!/usr/bin/env python3
"""Reading saved organization folders of many accounts: the time and peak RSS of an
offline run over shard manifests of N accounts (see BENCHMARKS.md, "Reading manifests").

Each folder holds two shards' manifests of one organization of N accounts: every account
is in both, audited by its own shard (here: not reachable, so no inventory file is needed
and the run measures the manifests, not the inventories) and "in another shard" in the
other's. The run reads both manifests, checks them against each other, merges them and
writes report.json.

Usage:
  python scripts/bench_manifest.py --binary target/debug/keyhygiene --accounts 40000,100000
  python scripts/bench_manifest.py --binary OLD --binary NEW ...   (side by side)
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time


def shard_of(account_id, count):
    head = hashlib.sha256(account_id.encode()).digest()[:8]
    return int.from_bytes(head, "big") % count + 1


def write_folder(folder, accounts):
    ids = [f"{500_000_000_000 + i:012d}" for i in range(accounts)]
    for shard in (1, 2):
        records = []
        for account_id in ids:
            if shard_of(account_id, 2) == shard:
                result = {"outcome": "unreachable", "operation": "AssumeRole",
                          "error_code": "AccessDenied", "message": "not authorized",
                          "role_arn": f"arn:aws:iam::{account_id}:role/keyhygiene-audit"}
            else:
                result = {"outcome": "other-shard"}
            records.append({"account": {"id": account_id, "name": f"account {account_id}",
                                        "state": "ACTIVE", "ou_path": "Root/Workloads"},
                            "result": result})
        manifest = {"schema_version": 1, "listed_at": "2026-06-01T11:00:00Z",
                    "organization_id": "o-benchmark01", "management_account_id": ids[0],
                    "caller_account_id": ids[0],
                    "selection": {"org": True, "ous": [], "accounts": [], "exclude_accounts": [],
                                  "role_name": "keyhygiene-audit",
                                  "shard": {"index": shard, "count": 2}},
                    "accounts": records}
        with open(os.path.join(folder, f"manifest-shard-{shard}-of-2.json"), "w") as f:
            json.dump(manifest, f, indent=2)


def run(binary, folder, out):
    command = ["/usr/bin/time", "-f", "%M", binary, "audit", "--from-inventory", folder,
               "--out-dir", out, "--format", "json", "--as-of", "2026-06-01T12:00:00Z",
               "--quiet"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    rss_kib = int(done.stderr.strip().splitlines()[-1])
    return done.returncode, wall, rss_kib / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", action="append", required=True,
                        help="a keyhygiene binary (repeat to compare)")
    parser.add_argument("--accounts", default="40000,100000,200000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median reported)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.accounts.split(",") if n]
    print(f"{'binary':<40} {'accounts':>9} {'manifests':>10} {'exit':>4} {'wall s':>8} {'peak MiB':>9}")
    for accounts in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = os.path.join(tmp, "saved")
            os.mkdir(folder)
            write_folder(folder, accounts)
            size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
            for binary in args.binary:
                results = [run(binary, folder, os.path.join(tmp, "out")) for _ in range(args.runs)]
                results.sort(key=lambda r: r[1])
                code, wall, rss = results[len(results) // 2]
                print(f"{binary:<40} {accounts:>9} {size / 1e6:>8.1f}MB {code:>4} {wall:>8.2f} {rss:>9.1f}",
                      flush=True)


if __name__ == "__main__":
    sys.exit(main())
