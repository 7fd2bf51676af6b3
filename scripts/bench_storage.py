#!/usr/bin/env python3
"""History and reports in S3 against the same run on local disk: wall time and bytes moved.

An organization of 50 saved accounts of 400 users each (the demo account grown by
scripts/bench_run.py's `sample_inventory_text`) is audited offline twice in a row (a first
run, then a second that compares with it), every format, a fixed --as-of:

- local: --from-inventory FOLDER --out-dir DIR --history DIR on the local disk;
- s3: the same folder read from s3://bench/inventories/, --out-dir s3://bench/reports/,
  --history s3://bench/history/, on a moto server started by this script (the same server
  for every run; S3 on the loopback, so the figures are keyhygiene's own cost, not a
  network's).

The two modes alternate (local, s3, local, s3, ...) over --runs rounds; each round starts
from an empty history and output. Prints the median wall time of each run and the bytes
moved: for S3 the storage line keyhygiene prints (requests, bytes read and written), for
the local disk the bytes of the files the run wrote and read.

    .venv/bin/python scripts/bench_storage.py --bin target/release/keyhygiene [--runs 3]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run import SAMPLE_ACCOUNT, free_port, port_open, sample_inventory_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AS_OF_1 = "2026-11-23T09:00:00Z"
AS_OF_2 = "2026-11-30T09:00:00Z"
STORAGE = re.compile(r"storage: s3, (\d+) requests, ([\d.]+) KiB read, ([\d.]+) KiB written")


def folder_bytes(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run(binary, args, endpoint):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    cmd = [str(binary), "audit", *args, "--fail-on", "none"]
    if endpoint:
        cmd += ["--endpoint-url", endpoint]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr}")
    moved = STORAGE.search(done.stdout)
    return wall, moved.groups() if moved else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="the keyhygiene binary")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--accounts", type=int, default=50)
    p.add_argument("--users", type=int, default=400)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kh-bench-storage-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([sys.executable, str(ROOT / "scripts/moto_server.py"),
                             "-H", "127.0.0.1", "-p", str(port)],
                            stdin=subprocess.DEVNULL, stdout=open(work / "moto.log", "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(300):
            if port_open(endpoint):
                break
            time.sleep(0.1)
        else:
            sys.exit(f"moto's server did not start; see {work / 'moto.log'}")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="bench")
        saved = work / "inventories"
        saved.mkdir()
        text = sample_inventory_text(args.users)
        for i in range(args.accounts):
            account = f"{200000000000 + i:012d}"
            body = text.replace(SAMPLE_ACCOUNT, account)
            (saved / f"account-{account}.json").write_text(body)
            s3.put_object(Bucket="bench", Key=f"inventories/account-{account}.json",
                          Body=body.encode())
        inventory_bytes = folder_bytes(saved)
        walls = {"local": ([], []), "s3": ([], [])}
        moved = {}
        # Per run, on the local disk: (bytes read, bytes written): the inventories and the
        # history before the run; the report set and the new record.
        local_bytes = {}
        for r in range(args.runs):
            out, hist = work / "out", work / "history"
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(hist, ignore_errors=True)
            for i, as_of in enumerate((AS_OF_1, AS_OF_2)):
                history_before = folder_bytes(hist) if hist.exists() else 0
                wall, _ = run(args.bin, ["--from-inventory", str(saved), "--out-dir", str(out),
                                         "--history", str(hist), "--as-of", as_of], None)
                walls["local"][i].append(wall)
                local_bytes[i] = (inventory_bytes + history_before,
                                  folder_bytes(out) + folder_bytes(hist) - history_before)
            prefix = f"round-{r}/"
            for i, as_of in enumerate((AS_OF_1, AS_OF_2)):
                wall, got = run(args.bin, ["--from-inventory", "s3://bench/inventories/",
                                           "--out-dir", f"s3://bench/{prefix}reports/",
                                           "--history", f"s3://bench/{prefix}history/",
                                           "--as-of", as_of], endpoint)
                walls["s3"][i].append(wall)
                moved[i] = got
        print(f"Organization of {args.accounts} saved accounts x {args.users} users, every "
              f"format, {args.runs} rounds, median wall s; binary {args.bin}")
        print()
        print("| run | local disk: wall s | S3: wall s | S3 / local | S3: requests, KiB read, "
              "KiB written | local disk: KiB read, KiB written |")
        print("|---|---|---|---|---|---|")
        for i, name in enumerate(("first run", "second run (compares with the first)")):
            lw = statistics.median(walls["local"][i])
            sw = statistics.median(walls["s3"][i])
            req, kr, kw = moved[i]
            lr, lwr = local_bytes[i]
            print(f"| {name} | {lw:.2f} | {sw:.2f} | {sw / lw:.2f} | {req}, {float(kr):.0f}, "
                  f"{float(kw):.0f} | {lr / 1024:.0f}, {lwr / 1024:.0f} |")
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
