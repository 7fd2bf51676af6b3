#!/usr/bin/env python3
"""Seeds an IAM-compatible endpoint (moto's server) with a realistic account.

The endpoint runs under libfaketime with a timestamp file; this script moves that clock
before each event, so users and keys get the ages the plan asks for: a key created
"200 days ago" really has a CreateDate 200 days before the plan's `now`, and a key "used
50 days ago" was really used then, by a request signed with that key.

The plan comes from a JSON spec (`--spec FILE`) or is generated (`--users N --seed S`).
The manifest (`--manifest FILE`) records what was seeded, key ids included, so tests can
compare a crawl with it key by key.

Spec format:
    {"now": "2026-06-01T12:00:00Z",
     "users": [{"name": "alice", "path": "/", "created_days_ago": 400,
                "tags": {"team": "payments"}, "console_password": true, "mfa": false,
                "keys": [{"created_days_ago": 120, "status": "Active",
                          "used": {"days_ago": 3, "service": "s3", "region": "eu-west-1"},
                          "description": "CI deploy key"}]}]}
"used" is null for a key that was never used.
"""

import argparse
import datetime as dt
import json
import random
import sys
import urllib.request

import boto3
import botocore.credentials
import botocore.session
from botocore.config import Config

ADMIN_KEY = "AKIASEEDADMINEXAMPLE"  # unknown to the endpoint: its requests mark no key as used
ADMIN_SECRET = "seed-admin-not-a-secret"
FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:5000")
    p.add_argument("--clock-file", required=True, help="the endpoint's FAKETIME_TIMESTAMP_FILE")
    p.add_argument("--spec", help="JSON plan to seed")
    p.add_argument("--users", type=int, default=300, help="generated plan: number of users")
    p.add_argument("--seed", type=int, default=7, help="generated plan: random seed")
    p.add_argument("--now", help="generated plan: reference time (RFC 3339); default: now")
    p.add_argument("--keys-per-user", type=float,
                   help="generated plan: add keys (at most 2 a user) until the account holds "
                        "about this many keys per user; default: as the personas give (~1.07)")
    p.add_argument("--manifest", help="write what was seeded here (JSON)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args()


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# The generated plan: a few hundred users, every kind of key problem represented.

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
         "yasmin", "zoe", "omar", "lena", "marta", "kenji", "priya", "diego", "fatima"]
LAST = ["smith", "jones", "garcia", "muller", "rossi", "tanaka", "okafor", "novak", "silva",
        "kim", "nguyen", "haddad", "larsen", "dubois", "kowalski"]
TEAMS = ["payments", "platform", "data", "identity", "growth", "security", "mobile"]
APPS = ["billing-api", "etl-nightly", "reporting", "backup", "deploy", "ledger-sync",
        "image-resizer", "search-indexer", "metrics-export", "fraud-scorer", "crm-import"]
SERVICES = [("s3", "eu-west-1"), ("s3", "us-east-1"), ("sts", "us-east-1"),
            ("dynamodb", "eu-central-1"), ("sqs", "us-west-2"), ("ec2", "ap-southeast-2"),
            ("sns", "eu-west-1"), ("iam", "us-east-1")]


def used(rng, days_ago):
    service, region = rng.choice(SERVICES)
    return {"days_ago": days_ago, "service": service, "region": region}


def add_keys(users, keys_per_user, seed):
    """Gives users a second key (or a first one) until the account holds about
    `keys_per_user` keys per user: an older key left active or inactive, or for a user
    without keys a recent one. Drawn from its own generator, so the personas stay the same
    whatever the density."""
    rng = random.Random(seed + 1_000_003)
    target = round(min(keys_per_user, 2.0) * len(users))
    total = sum(len(u["keys"]) for u in users)
    # Users without keys first get one, then users with one key get a second.
    for want in (1, 2):
        open_users = [u for u in users if len(u["keys"]) < want]
        rng.shuffle(open_users)
        for user in open_users:
            if total >= target:
                return
            if not user["keys"]:
                key = {"created_days_ago": rng.randint(1, 80), "status": "Active",
                       "used": used(rng, rng.randint(0, 10))}
            else:
                age = rng.randint(30, 1200)
                status = "Inactive" if rng.random() < 0.7 else "Active"
                key = {"created_days_ago": age, "status": status,
                       "used": used(rng, rng.randint(0, age)) if rng.random() < 0.8 else None}
            if key["used"]:
                key["used"]["days_ago"] = min(key["used"]["days_ago"], key["created_days_ago"])
            user["keys"].append(key)
            user["created_days_ago"] = max(user["created_days_ago"], key["created_days_ago"])
            total += 1


def generated_plan(n, seed, now, keys_per_user=None):
    rng = random.Random(seed)
    users = []
    names = set()

    def name_for(kind, i):
        while True:
            if kind == "human":
                name = f"{rng.choice(FIRST)}.{rng.choice(LAST)}"
            else:
                name = f"svc-{rng.choice(APPS)}-{rng.choice(TEAMS)}"
            if name in names:
                name = f"{name}{i}"
            if name not in names:
                names.add(name)
                return name

    # Personas with weights: (name, weight)
    personas = [("healthy", 30), ("stale", 14), ("unused", 10), ("never", 8), ("inactive", 9),
                ("rotating", 4), ("two-active", 6), ("console-only", 12), ("retired", 7)]
    total = sum(w for _, w in personas)
    for i in range(n):
        pick = rng.uniform(0, total)
        for persona, weight in personas:
            pick -= weight
            if pick <= 0:
                break
        service = rng.random() < 0.45
        kind = "service" if service else "human"
        user = {
            "name": name_for(kind, i),
            "path": "/service-accounts/" if service else rng.choice(["/", "/", "/staff/"]),
            "created_days_ago": rng.randint(400, 1500),
            "tags": {"team": rng.choice(TEAMS)},
            "console_password": (not service) and rng.random() < 0.8,
            "mfa": False,
            "keys": [],
        }
        if service:
            user["tags"]["owner"] = f"{rng.choice(FIRST)}@example.com"
        user["mfa"] = user["console_password"] and rng.random() < 0.7
        keys = user["keys"]
        if persona == "healthy":
            keys.append({"created_days_ago": rng.randint(1, 88), "status": "Active",
                         "used": used(rng, rng.randint(0, 20))})
        elif persona == "stale":
            keys.append({"created_days_ago": rng.randint(91, 1200), "status": "Active",
                         "used": used(rng, rng.randint(0, 30))})
        elif persona == "unused":
            age = rng.randint(120, 1100)
            keys.append({"created_days_ago": age, "status": "Active",
                         "used": used(rng, rng.randint(46, age))})
        elif persona == "never":
            keys.append({"created_days_ago": rng.choice([rng.randint(8, 44), rng.randint(46, 900)]),
                         "status": "Active", "used": None})
        elif persona == "inactive":
            age = rng.randint(60, 900)
            keys.append({"created_days_ago": rng.randint(1, 80), "status": "Active",
                         "used": used(rng, rng.randint(0, 10))})
            keys.append({"created_days_ago": age, "status": "Inactive",
                         "used": used(rng, rng.randint(30, age)) if rng.random() < 0.7 else None})
        elif persona == "rotating":
            keys.append({"created_days_ago": rng.randint(100, 400), "status": "Active",
                         "used": used(rng, rng.randint(0, 3))})
            keys.append({"created_days_ago": rng.randint(0, 6), "status": "Active",
                         "used": used(rng, 0) if rng.random() < 0.5 else None})
        elif persona == "two-active":
            keys.append({"created_days_ago": rng.randint(200, 900), "status": "Active",
                         "used": used(rng, rng.randint(0, 60))})
            keys.append({"created_days_ago": rng.randint(20, 190), "status": "Active",
                         "used": used(rng, rng.randint(0, 15))})
        elif persona == "retired":
            age = rng.randint(200, 1300)
            keys.append({"created_days_ago": age, "status": "Inactive", "used": None})
        user["created_days_ago"] = max([user["created_days_ago"]] +
                                       [k["created_days_ago"] for k in keys])
        for k in keys:
            # A key cannot be used before it exists.
            if k["used"]:
                k["used"]["days_ago"] = min(k["used"]["days_ago"], k["created_days_ago"])
        for k in keys:
            if service and rng.random() < 0.6:
                k["description"] = f"{rng.choice(APPS)} on {rng.choice(['jenkins', 'github-actions', 'cron-host', 'laptop'])}"
        users.append(user)

    # Accounts that reviewers and spreadsheets must handle safely.
    users.append({"name": "=1+2", "path": "/", "created_days_ago": 500,
                  "tags": {"note": "<script>alert(1)</script>"}, "console_password": False,
                  "mfa": False,
                  "keys": [{"created_days_ago": 300, "status": "Active", "used": None,
                            "description": "@SUM(A1)"}]})
    users.append({"name": "ci-bot@example.com", "path": "/service-accounts/",
                  "created_days_ago": 800, "tags": {"team": "platform"},
                  "console_password": False, "mfa": False,
                  "keys": [{"created_days_ago": 91, "status": "Active",
                            "used": {"days_ago": 46, "service": "sts", "region": "us-east-1"},
                            "description": "+cmd|' /C calc'!A0"}]})
    if keys_per_user:
        add_keys(users, keys_per_user, seed)
    return {"now": iso(now), "users": users}


# ---------------------------------------------------------------------------------------
# Seeding.

class Clock:
    """Moves the endpoint's libfaketime clock (absolute, frozen time)."""

    def __init__(self, path):
        self.path = path
        self.current = None

    def set(self, t):
        if t != self.current:
            with open(self.path, "w") as f:
                f.write(t.strftime(FORMAT) + "\n")
            self.current = t


def client(endpoint, service, region, key=ADMIN_KEY, secret=ADMIN_SECRET, session=None,
           token=None):
    session = session or boto3.session.Session()
    return session.client(service, endpoint_url=endpoint, region_name=region,
                          aws_access_key_id=key, aws_secret_access_key=secret,
                          aws_session_token=token,
                          config=Config(retries={"max_attempts": 2, "mode": "standard"}))


class _KeyInUse(botocore.credentials.CredentialProvider):
    """The credentials of the key being used: one object every client signs with."""

    METHOD = "seed-key-in-use"

    def __init__(self):
        super().__init__()
        self.credentials = botocore.credentials.Credentials("unset", "unset")

    def load(self):
        return self.credentials


class KeyUser:
    """Signs one request with a seeded key, so the endpoint records its last use there.

    Its clients are made once per service and region and sign with whichever key was set
    last, since making a client costs more than the request itself."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.key = _KeyInUse()
        core = botocore.session.Session()
        core.get_component("credential_provider").insert_before("env", self.key)
        self.session = boto3.session.Session(botocore_session=core)
        self.clients = {}

    def use(self, key_id, secret, service, region):
        c = self.clients.get((service, region))
        if c is None:
            c = self.session.client(service, endpoint_url=self.endpoint, region_name=region,
                                    config=Config(retries={"max_attempts": 2,
                                                           "mode": "standard"}))
            self.clients[(service, region)] = c
        self.key.credentials.access_key = key_id
        self.key.credentials.secret_key = secret
        calls = {
            "s3": lambda: c.list_buckets(),
            "sts": lambda: c.get_caller_identity(),
            "dynamodb": lambda: c.list_tables(),
            "sqs": lambda: c.list_queues(),
            "ec2": lambda: c.describe_regions(),
            "sns": lambda: c.list_topics(),
            "iam": lambda: c.list_account_aliases(),
        }
        calls[service]()


def seed_users(plan, iam, clock, key_user):
    """Seeds the plan's users into the account `iam` (a client) signs for, moving `clock`
    before each event and using keys through `key_user`. Returns the seeded users: the
    plan's, with ARNs, key ids, creation and last-use dates added."""
    now = parse_time(plan["now"])

    def at(days_ago):
        return now - dt.timedelta(days=days_ago)

    # Every event, in time order: users first, then keys, then their uses.
    events = []
    for ui, user in enumerate(plan["users"]):
        events.append((at(user["created_days_ago"]), 0, ui, None))
        for ki, key in enumerate(user["keys"]):
            if key["created_days_ago"] > user["created_days_ago"] or (
                    key.get("used") and key["used"]["days_ago"] > key["created_days_ago"]):
                sys.exit(f"seed plan: user {user['name']!r} key {ki + 1}: a key cannot be "
                         "created before its user, nor used before it is created")
            events.append((at(key["created_days_ago"]), 1, ui, ki))
            if key.get("used"):
                events.append((at(key["used"]["days_ago"]), 2, ui, ki))
    events.sort(key=lambda e: (e[0], e[1], e[2], -1 if e[3] is None else e[3]))

    secrets = {}
    seeded = [dict(u, keys=[dict(k) for k in u["keys"]]) for u in plan["users"]]
    for t, kind, ui, ki in events:
        clock.set(t)
        user = seeded[ui]
        if kind == 0:
            out = iam.create_user(UserName=user["name"], Path=user["path"],
                                  Tags=[{"Key": k, "Value": v} for k, v in user["tags"].items()])
            user["arn"] = out["User"]["Arn"]
            user["created"] = iso(out["User"]["CreateDate"])
            if user.get("console_password"):
                iam.create_login_profile(UserName=user["name"], Password="Demo-Passw0rd!x")
            if user.get("mfa"):
                device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"mfa-{ui}")
                iam.enable_mfa_device(UserName=user["name"],
                                      SerialNumber=device["VirtualMFADevice"]["SerialNumber"],
                                      AuthenticationCode1="123456", AuthenticationCode2="654321")
        elif kind == 1:
            key = user["keys"][ki]
            out = iam.create_access_key(UserName=user["name"])["AccessKey"]
            key["id"] = out["AccessKeyId"]
            key["created"] = iso(out["CreateDate"])
            secrets[key["id"]] = out["SecretAccessKey"]
            if key.get("description"):
                iam.tag_user(UserName=user["name"],
                             Tags=[{"Key": key["id"], "Value": key["description"]}])
        else:
            key = user["keys"][ki]
            used = key["used"]
            key_user.use(key["id"], secrets[key["id"]], used["service"], used["region"])
            used["date"] = iso(t)

    # Deactivation does not touch last use, so it can happen at any time.
    clock.set(now)
    for user in seeded:
        for key in user["keys"]:
            if key["status"] == "Inactive":
                iam.update_access_key(UserName=user["name"], AccessKeyId=key["id"],
                                      Status="Inactive")
    secrets.clear()
    return seeded


def seed(plan, endpoint, clock_file, quiet):
    iam = client(endpoint, "iam", "us-east-1")
    seeded = seed_users(plan, iam, Clock(clock_file), KeyUser(endpoint))
    if not quiet:
        keys = sum(len(u["keys"]) for u in seeded)
        print(f"seeded {len(seeded)} users and {keys} access keys as of {plan['now']}",
              file=sys.stderr)
    return {"now": plan["now"], "account_id": "123456789012", "users": seeded}


def reset(endpoint):
    """Empties the endpoint: no users, no organization."""
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset",
                                                  method="POST")).read()


def main():
    args = parse_args()
    if args.spec:
        with open(args.spec) as f:
            plan = json.load(f)
    else:
        now = parse_time(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
        plan = generated_plan(args.users, args.seed, now.replace(microsecond=0),
                              args.keys_per_user)
    # Start from an empty account.
    reset(args.endpoint)
    manifest = seed(plan, args.endpoint, args.clock_file, args.quiet)
    if args.manifest:
        with open(args.manifest, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
