#!/usr/bin/env python3
"""Writes a synthetic IAM credential report CSV for benchmarks of large accounts.

    scripts/gen_credential_report.py --users 100000 --now 2026-06-01T12:00:00Z > report.csv
    keyhygiene audit --from-credential-report report.csv --as-of 2026-06-01T12:00:00Z

The header holds the columns IAM writes (keyhygiene reads the ones it needs by name), then
one `<root_account>` row and USERS user rows with a mix of key states: no key, one healthy
key, old keys, unused and never-used keys, inactive keys kept around, two active keys (some
of them mid-rotation). Every date is before --now. The output depends only on the flags.
"""

import argparse
import random
import sys
from datetime import datetime, timedelta, timezone

HEADER = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
]
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"]
SERVICES = ["s3", "sts", "ec2", "iam", "dynamodb", "lambda", "cloudformation"]
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def empty_slot():
    return ["false", "N/A", "N/A", "N/A", "N/A"]


def slot(rng, now, active, age_days, idle_days):
    """One key slot; idle_days None means never used."""
    rotated = now - timedelta(days=age_days, seconds=rng.randrange(86400))
    if idle_days is None:
        return ["true" if active else "false", iso(rotated), "N/A", "N/A", "N/A"]
    used = max(rotated, now - timedelta(days=idle_days, seconds=rng.randrange(3600)))
    return [
        "true" if active else "false",
        iso(rotated),
        iso(used),
        rng.choice(REGIONS),
        rng.choice(SERVICES),
    ]


def user_slots(rng, now):
    """The two key slots of one user, drawn from a mix of personas."""
    p = rng.random()
    if p < 0.10:  # no access key (console only or retired)
        return empty_slot(), empty_slot()
    if p < 0.40:  # one healthy key
        return slot(rng, now, True, rng.randrange(1, 80), rng.randrange(0, 10)), empty_slot()
    if p < 0.60:  # one old key, still in use
        return slot(rng, now, True, rng.randrange(91, 1500), rng.randrange(0, 30)), empty_slot()
    if p < 0.70:  # one key unused for a long time
        return slot(rng, now, True, rng.randrange(100, 900), rng.randrange(46, 90)), empty_slot()
    if p < 0.77:  # one key never used
        return slot(rng, now, True, rng.randrange(8, 600), None), empty_slot()
    if p < 0.87:  # an active key and an inactive one kept around
        return (
            slot(rng, now, True, rng.randrange(1, 200), rng.randrange(0, 20)),
            slot(rng, now, False, rng.randrange(200, 1200), rng.choice([None, 300])),
        )
    if p < 0.93:  # two active keys, a rotation under way
        return (
            slot(rng, now, True, rng.randrange(90, 700), rng.randrange(0, 5)),
            slot(rng, now, True, rng.randrange(0, 7), rng.choice([None, 0])),
        )
    # two active keys for a long time
    return (
        slot(rng, now, True, rng.randrange(30, 900), rng.randrange(0, 60)),
        slot(rng, now, True, rng.randrange(30, 900), rng.choice([None, 120])),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--now", default="2026-06-01T12:00:00Z",
                    help="every date in the report is before this instant")
    ap.add_argument("--account", default="123456789012")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    now = datetime.strptime(args.now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    rng = random.Random(args.seed)
    out = sys.stdout
    out.write(",".join(HEADER) + "\n")
    root = [
        "<root_account>", f"arn:aws:iam::{args.account}:root", iso(now - timedelta(days=3000)),
        "not_supported", iso(now - timedelta(days=40)), "not_supported", "not_supported", "true",
        *slot(rng, now, True, 2000, 44), *empty_slot(), "false", "N/A", "false", "N/A",
    ]
    out.write(",".join(root) + "\n")
    width = len(str(args.users))
    for i in range(args.users):
        name = f"{NAMES[i % len(NAMES)]}.{i:0{width}d}"
        path = "/" if i % 3 else "/service/"
        created = now - timedelta(days=rng.randrange(1500, 3000))
        console = rng.random() < 0.4
        one, two = user_slots(rng, now)
        row = [
            name, f"arn:aws:iam::{args.account}:user{path}{name}", iso(created),
            "true" if console else "false",
            iso(now - timedelta(days=rng.randrange(0, 100))) if console else "N/A",
            iso(created) if console else "N/A", "N/A",
            "true" if console and rng.random() < 0.8 else "false",
            *one, *two, "false", "N/A", "false", "N/A",
        ]
        out.write(",".join(row) + "\n")


if __name__ == "__main__":
    main()
