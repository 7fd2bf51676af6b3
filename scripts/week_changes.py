#!/usr/bin/env python3
"""The changes of a week in the life of the demo account, for scripts/demo --weeks.

Reads what seed_account.py seeded (`--seeded`, its manifest) and writes the changes
change_account.py applies before the audit of week K (`--week`, from 2), at `--now`:

- week 2: the oldest stale active key is deleted (its finding is resolved); a user with one
  old active key starts a rotation (a second active key, used today: the old key is still
  there, so a new `user-two-active-keys` finding appears); a contractor joins with a key
  that has never been used;
- week 3: that rotation ends (the old key is deleted: resolved); the next stale key is
  deactivated (its finding changes);
- later weeks: one more stale key deleted each week.

The picks are deterministic (users by name), so the same seed gives the same weeks.
"""

import argparse
import datetime as dt
import json
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeded", required=True, help="seed_account.py's manifest")
    p.add_argument("--week", type=int, required=True, help="the week to change for (2 or more)")
    p.add_argument("--now", required=True, help="when the changes happen (RFC 3339)")
    p.add_argument("--out", required=True, help="where to write the changes (JSON)")
    return p.parse_args()


def stale_keys(users, now):
    """Active keys older than 90 days, oldest first: (created, user, key id)."""
    keys = []
    for user in users:
        for key in user["keys"]:
            if key["status"] != "Active" or "id" not in key:
                continue
            created = dt.datetime.fromisoformat(key["created"].replace("Z", "+00:00"))
            if (now - created).days > 90:
                keys.append((created, user["name"], key["id"]))
    return sorted(keys)


def rotating_user(users, now):
    """The first user, by name, with exactly one key, active and older than 90 days."""
    for user in sorted(users, key=lambda u: u["name"]):
        keys = [k for k in user["keys"] if "id" in k]
        if len(keys) == 1 and keys[0]["status"] == "Active":
            created = dt.datetime.fromisoformat(keys[0]["created"].replace("Z", "+00:00"))
            if (now - created).days > 90:
                return user["name"], keys[0]["id"]
    return None


def main():
    args = parse_args()
    with open(args.seeded) as f:
        users = json.load(f)["users"]
    now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    rotating = rotating_user(users, now)
    stale = [k for k in stale_keys(users, now) if not rotating or k[2] != rotating[1]]
    changes = []
    if args.week < 2:
        sys.exit("--week: the first week is the seeded account itself; changes start at 2")
    if args.week == 2:
        if stale:
            changes.append({"op": "delete-key", "user": stale[0][1], "key_id": stale[0][2]})
        if rotating:
            changes.append({"op": "create-key", "user": rotating[0], "created_days_ago": 0,
                            "status": "Active",
                            "used": {"days_ago": 0, "service": "s3", "region": "eu-west-1"},
                            "label": "rotation"})
        changes.append({"op": "create-user", "name": "new.contractor", "created_days_ago": 2,
                        "keys": [{"created_days_ago": 2, "status": "Active", "used": None,
                                  "label": "contractor"}]})
    elif args.week == 3:
        if rotating:
            changes.append({"op": "delete-key", "user": rotating[0], "key_id": rotating[1]})
        if len(stale) > 1:
            changes.append({"op": "set-key-status", "user": stale[1][1], "key_id": stale[1][2],
                            "status": "Inactive"})
    elif len(stale) > args.week - 2:
        _, user, key = stale[args.week - 2]
        changes.append({"op": "delete-key", "user": user, "key_id": key})
    with open(args.out, "w") as f:
        json.dump({"now": args.now, "changes": changes}, f, indent=1)
        f.write("\n")
    print(f"week {args.week}: {len(changes)} changes", file=sys.stderr)


if __name__ == "__main__":
    main()
