#!/usr/bin/env python3
"""Seeds moto's server with an AWS organization whose accounts hold aged users and keys.

The management account (the endpoint's default account, the one requests signed with an
unknown key land in) creates the organization, its organizational units and its member
accounts, and moves each account into its unit. Each member account is then seeded through
its OrganizationAccountAccessRole, the way seed_account.py seeds one account: the endpoint
runs under libfaketime, and its clock is moved before each event so users and keys get the
ages the plan asks for and keys are really used on the days it says. When seeding ends the
clock is set back to the real time, so credentials the endpoint hands out afterwards (an
audit assuming roles, for one) are not already expired.

The organization is created one day before the oldest user of the plan, and the accounts
join it one second apart in the order the plan lists them, which is the order ListAccounts
answers them in (after the management account).

The plan comes from a JSON spec (`--spec FILE`) or is generated
(`--accounts N --users-per-account M --seed S`). The manifest (`--manifest FILE`) records
what was seeded, ids included.

Spec format:
    {"now": "2026-06-01T12:00:00Z",
     "management": {"users": [...]},
     "ous": ["Workloads", "Workloads/Prod", "Sandbox"],
     "accounts": [{"name": "prod-payments", "ou": "Workloads/Prod", "users": [...]},
                  {"name": "sandbox-1", "ou": null, "close": true, "users": [...],
                   "email": "sandbox-1@example.com"}]}
Users are written as in seed_account.py's spec. A unit is named by its path from the root;
the units above a listed one are created too. An account's "ou" is one of "ous", or null for
the root. "close": true closes the account once it is seeded (Organizations then reports it
SUSPENDED). "management", "ous", "email" and "close" may be left out.

Manifest format:
    {"now": "2026-06-01T12:00:00Z", "organization_id": "o-...",
     "management_account_id": "123456789012", "root_id": "r-...",
     "ous": {"Workloads": "ou-...", "Workloads/Prod": "ou-..."},
     "accounts": [{"id": "123456789012", "name": "master", "email": "...",
                   "management": true, "ou": null, "ou_path": "Root", "state": "ACTIVE",
                   "joined": "...", "users": [...]}, ...]}
Every account of the organization is listed, the management account first, then the members
in the order they joined. "ou_path" starts at the root ("Root/Workloads/Prod"). "users" is
as in seed_account.py's manifest: the plan's users with ARNs, key ids, creation dates and
last-use dates added.
"""

import argparse
import datetime as dt
import json
import sys

import boto3

import seed_account as one

ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"

# Generated organizations: units, and where the accounts go in turn (None: the root).
GENERATED_OUS = ["Workloads", "Workloads/Prod", "Workloads/Dev", "Sandbox"]
GENERATED_PLACES = [("prod", "Workloads/Prod"), ("dev", "Workloads/Dev"),
                    ("sandbox", "Sandbox"), ("shared", None)]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:5000")
    p.add_argument("--clock-file", required=True, help="the endpoint's FAKETIME_TIMESTAMP_FILE")
    p.add_argument("--spec", help="JSON plan to seed")
    p.add_argument("--accounts", type=int, default=10,
                   help="generated plan: number of member accounts")
    p.add_argument("--users-per-account", type=int, default=100,
                   help="generated plan: users a member account (as seed_account.py "
                        "generates them, so two more)")
    p.add_argument("--management-users", type=int, default=0,
                   help="generated plan: users in the management account (0: none)")
    p.add_argument("--seed", type=int, default=7,
                   help="generated plan: random seed (member account i uses seed + i)")
    p.add_argument("--now", help="generated plan: reference time (RFC 3339); default: now")
    p.add_argument("--keys-per-user", type=float,
                   help="generated plan: keys per user, as seed_account.py's option")
    p.add_argument("--close", action="append", default=[], metavar="NAME",
                   help="generated plan: close this member account once seeded (SUSPENDED), "
                        "e.g. sandbox-003; repeatable")
    p.add_argument("--manifest", help="write what was seeded here (JSON)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args()


def generated_spec(accounts, users, management_users, seed, now, keys_per_user=None):
    def users_for(n, s):
        return one.generated_plan(n, s, now, keys_per_user)["users"] if n else []

    spec = {"now": one.iso(now),
            "management": {"users": users_for(management_users, seed)},
            "ous": list(GENERATED_OUS),
            "accounts": []}
    for i in range(1, accounts + 1):
        slug, ou = GENERATED_PLACES[(i - 1) % len(GENERATED_PLACES)]
        spec["accounts"].append({"name": f"{slug}-{i:03d}", "ou": ou,
                                 "users": users_for(users, seed + i)})
    return spec


def units_of(spec):
    """Every unit path the plan needs, parents before children, in the plan's order."""
    units = []
    for path in spec.get("ous", []):
        parts = path.split("/")
        if not path or any(not p for p in parts):
            sys.exit(f"seed plan: unit path {path!r} is not of the form Name/Name")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix not in units:
                units.append(prefix)
    return units


def check(spec, units):
    names = set()
    for account in spec["accounts"]:
        name = account.get("name")
        if not name or name in names:
            sys.exit(f"seed plan: account names must be present and unique ({name!r})")
        names.add(name)
        if account.get("ou") is not None and account["ou"] not in units:
            sys.exit(f"seed plan: account {name!r}: unit {account['ou']!r} is not in \"ous\"")


def oldest_days(spec):
    users = list(spec.get("management", {}).get("users", []))
    for account in spec["accounts"]:
        users.extend(account.get("users", []))
    return max([u["created_days_ago"] for u in users] +
               [k["created_days_ago"] for u in users for k in u["keys"]] + [0])


def seed_org(spec, endpoint, clock_file, quiet):
    now = one.parse_time(spec["now"])
    units = units_of(spec)
    check(spec, units)
    clock = one.Clock(clock_file)
    session = boto3.session.Session()
    org = one.client(endpoint, "organizations", REGION, session=session)
    sts = one.client(endpoint, "sts", REGION, session=session)
    key_user = one.KeyUser(endpoint)

    # The organization, its units and its accounts, before any user exists.
    founded = now - dt.timedelta(days=oldest_days(spec) + 1)
    clock.set(founded)
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    management_id = organization["MasterAccountId"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    ou_ids = {}
    for path in units:
        parent, _, name = path.rpartition("/")
        parent_id = ou_ids[parent] if parent else root_id
        ou_ids[path] = org.create_organizational_unit(
            ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
    member_ids = []
    for i, account in enumerate(spec["accounts"]):
        # ListAccounts answers in the order accounts joined, to the second.
        clock.set(founded + dt.timedelta(seconds=i + 1))
        status = org.create_account(AccountName=account["name"],
                                    Email=account.get("email") or f"{account['name']}@example.com"
                                    )["CreateAccountStatus"]
        while status["State"] == "IN_PROGRESS":
            status = org.describe_create_account_status(
                CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        if status["State"] != "SUCCEEDED":
            sys.exit(f"creating account {account['name']!r}: {status}")
        member_ids.append(status["AccountId"])
        if account.get("ou") is not None:
            org.move_account(AccountId=status["AccountId"], SourceParentId=root_id,
                             DestinationParentId=ou_ids[account["ou"]])

    # Users and keys: the management account's directly, each member's through its role.
    seeded_users = {}
    management_plan = {"now": spec["now"], "users": spec.get("management", {}).get("users", [])}
    seeded_users[management_id] = one.seed_users(
        management_plan, one.client(endpoint, "iam", REGION, session=session), clock, key_user)
    for account, account_id in zip(spec["accounts"], member_ids):
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                                      RoleSessionName="keyhygiene-seed")["Credentials"]
        iam = one.client(endpoint, "iam", REGION, credentials["AccessKeyId"],
                         credentials["SecretAccessKey"], session=session,
                         token=credentials["SessionToken"])
        plan = {"now": spec["now"], "users": account.get("users", [])}
        seeded_users[account_id] = one.seed_users(plan, iam, clock, key_user)

    clock.set(now)
    for account, account_id in zip(spec["accounts"], member_ids):
        if account.get("close"):
            org.close_account(AccountId=account_id)

    manifest = {"now": spec["now"], "organization_id": organization["Id"],
                "management_account_id": management_id, "root_id": root_id, "ous": ou_ids,
                "accounts": []}
    places = {management_id: None}
    places.update({account_id: account.get("ou")
                   for account, account_id in zip(spec["accounts"], member_ids)})
    for account_id in [management_id] + member_ids:
        described = org.describe_account(AccountId=account_id)["Account"]
        ou = places[account_id]
        manifest["accounts"].append({
            "id": account_id, "name": described["Name"], "email": described["Email"],
            "management": account_id == management_id, "ou": ou,
            "ou_path": "Root" + (f"/{ou}" if ou else ""),
            "state": described.get("State") or described["Status"],
            "joined": one.iso(described["JoinedTimestamp"]),
            "users": seeded_users[account_id]})

    # Credentials the endpoint hands out from now on expire an hour after the real time.
    clock.set(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    if not quiet:
        users = sum(len(a["users"]) for a in manifest["accounts"])
        keys = sum(len(u["keys"]) for a in manifest["accounts"] for u in a["users"])
        print(f"seeded an organization of {len(manifest['accounts'])} accounts, {users} users "
              f"and {keys} access keys as of {spec['now']}", file=sys.stderr)
    return manifest


def main():
    args = parse_args()
    if args.spec:
        with open(args.spec) as f:
            spec = json.load(f)
    else:
        now = one.parse_time(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
        spec = generated_spec(args.accounts, args.users_per_account, args.management_users,
                              args.seed, now.replace(microsecond=0), args.keys_per_user)
        names = {a["name"] for a in spec["accounts"]}
        for name in args.close:
            if name not in names:
                sys.exit(f"--close {name}: no such account in the plan ({', '.join(sorted(names))})")
        for account in spec["accounts"]:
            account["close"] = account["name"] in args.close
    # Start from an empty endpoint: no organization, no users.
    one.reset(args.endpoint)
    manifest = seed_org(spec, args.endpoint, args.clock_file, args.quiet)
    if args.manifest:
        with open(args.manifest, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
