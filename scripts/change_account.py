#!/usr/bin/env python3
"""Applies changes to an account seed_account.py has seeded, without resetting the endpoint.

A test can audit the seeded account, change it with this script, and audit it again. The
endpoint (moto's server under libfaketime) is never reset: the changes land on the users and
keys already there. As in seed_account.py, the endpoint's clock is moved before each event,
so a key created "3 days ago" has a CreateDate 3 days before the changes' `now`, and a key
"used 1 day ago" was really used then, by a request signed with that key.

Changes are applied in the order the file lists them. An op with several events (a user, its
keys, their uses) applies them in time order; an op without a time (a deletion, a rename, a
status change) happens at `now`, as does the deactivation of a key created "Inactive". When
the script ends, successfully or not, the clock is set back to the real time, as
seed_org.py leaves it.

Changes format:
    {"now": "2026-06-08T12:00:00Z",
     "changes": [
      {"op": "delete-key", "user": "alice", "key_id": "AKIA..."},
      {"op": "set-key-status", "user": "alice", "key_id": "AKIA...", "status": "Inactive"},
      {"op": "create-key", "user": "bob", "created_days_ago": 3, "status": "Active",
       "used": {"days_ago": 1, "service": "s3", "region": "eu-west-1"},
       "label": "bob-new", "description": "CI deploy key"},
      {"op": "rename-user", "user": "carol", "new_name": "carol-renamed"},
      {"op": "delete-user", "user": "dave"},
      {"op": "create-user", "name": "erin", "created_days_ago": 5, "path": "/",
       "tags": {"team": "data"}, "console_password": false,
       "keys": [{"created_days_ago": 2, "status": "Active", "used": null, "label": "erin-1"}]}]}
A key is written as in seed_account.py's spec, plus an optional "label" that names it in the
manifest; "used" is null for a key that is never used, "description" (optional) tags the
user with the key id as seed_account.py does. In create-user, "path" (default "/"), "tags"
(default none) and "console_password" (default false) are optional; "mfa" is not supported.
A key cannot be created before its user nor used before it is created.

delete-user removes what IAM requires gone before DeleteUser (access keys, login profile,
MFA devices (a virtual one is deleted too), signing certificates, SSH keys, inline and
attached policies, group memberships), then deletes the user.

rename-user carries the user's tags over to the new name: IAM keeps them, moto files tags
under the user's ARN, which the rename changes.

Manifest format (`--manifest FILE`):
    {"created_keys": [{"label": "bob-new", "user": "bob", "id": "AKIA...",
                       "created": "2026-06-05T12:00:00Z"}, ...],
     "deleted_keys": ["AKIA...", ...], "renamed_users": [{"from": "carol", "to": "carol-renamed"}],
     "deleted_users": ["dave"], "created_users": ["erin"]}
"created_keys" holds the keys of create-key and create-user ("label" null when not given);
"deleted_keys" every key deleted, by delete-key or with its user by delete-user.

A failed call exits with status 1 and one line naming the change (`changes[N]`, counted
from 0) and the error; the changes before it stay applied. A malformed changes file is
refused before anything is changed.
"""

import argparse
import datetime as dt
import json
import os
import sys

import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_account as seed  # noqa: E402  (the seeder's clock, clients and key use)

REGION = "us-east-1"
STATUSES = ("Active", "Inactive")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:5000")
    p.add_argument("--clock-file", required=True, help="the endpoint's FAKETIME_TIMESTAMP_FILE")
    p.add_argument("--changes", required=True, help="JSON changes to apply")
    p.add_argument("--manifest", required=True, help="write what was changed here (JSON)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args()


class Failed(Exception):
    """A change that cannot be (or was not) applied; the message says why."""


def describe(i, change):
    """`changes[N] (op subject)`, for messages."""
    op = change.get("op") if isinstance(change, dict) else None
    subject = (change.get("user") or change.get("name")) if isinstance(change, dict) else None
    return f"changes[{i}] ({op}{' ' + str(subject) if subject else ''})"


# ---------------------------------------------------------------------------------------
# Checking the changes file before anything is changed.

REQUIRED = {
    "delete-key": ("user", "key_id"),
    "set-key-status": ("user", "key_id", "status"),
    "create-key": ("user", "created_days_ago", "status"),
    "rename-user": ("user", "new_name"),
    "delete-user": ("user",),
    "create-user": ("name", "created_days_ago"),
}


def days(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def check_key(key, user_days=None):
    """Why the key (create-key's change, or one of create-user's keys) is malformed, or None."""
    if not days(key.get("created_days_ago")):
        return "created_days_ago must be a number of days, 0 or more"
    if key.get("status") not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    used = key.get("used")
    if used is not None:
        if not (isinstance(used, dict) and days(used.get("days_ago"))
                and used.get("service") and used.get("region")):
            return '"used" must be null or {"days_ago": N, "service": ..., "region": ...}'
        if used.get("service") not in ("s3", "sts", "dynamodb", "sqs", "ec2", "sns", "iam"):
            return f"a key cannot be used with {used['service']!r} (seed_account.py's KeyUser)"
        if used["days_ago"] > key["created_days_ago"]:
            return "a key cannot be used before it is created"
    if user_days is not None and key["created_days_ago"] > user_days:
        return "a key cannot be created before its user"
    return None


def check(doc):
    """Exits with a message when the changes file is malformed."""
    def fail(message):
        sys.exit(f"change_account: {message}")

    if not isinstance(doc, dict) or "now" not in doc or not isinstance(doc.get("changes"), list):
        fail('the changes file must be {"now": "...", "changes": [...]}')
    try:
        seed.parse_time(doc["now"])
    except (TypeError, ValueError):
        fail(f'"now" is not an RFC 3339 time: {doc["now"]!r}')
    for i, change in enumerate(doc["changes"]):
        where = describe(i, change)
        if not isinstance(change, dict) or change.get("op") not in REQUIRED:
            fail(f"{where}: \"op\" must be one of {', '.join(REQUIRED)}")
        missing = [f for f in REQUIRED[change["op"]] if change.get(f) is None]
        if missing:
            fail(f"{where}: missing {', '.join(missing)}")
        op = change["op"]
        problem = None
        if op == "set-key-status" and change["status"] not in STATUSES:
            problem = f"status must be one of {', '.join(STATUSES)}"
        elif op == "create-key":
            problem = check_key(change)
        elif op == "create-user":
            if change.get("mfa"):
                problem = "\"mfa\" is not supported (seed_account.py names MFA devices by " \
                          "the user's index in its plan, which the seeded account already used)"
            elif not days(change["created_days_ago"]):
                problem = "created_days_ago must be a number of days, 0 or more"
            else:
                for ki, key in enumerate(change.get("keys") or []):
                    why = check_key(key, change["created_days_ago"])
                    if why:
                        problem = f"key {ki + 1}: {why}"
                        break
        if problem:
            fail(f"{where}: {problem}")


# ---------------------------------------------------------------------------------------
# Applying the changes.

class Changer:
    def __init__(self, endpoint, clock, now):
        self.iam = seed.client(endpoint, "iam", REGION)
        self.clock = clock
        self.key_user = seed.KeyUser(endpoint)
        self.now = now
        self.manifest = {"created_keys": [], "deleted_keys": [], "renamed_users": [],
                         "deleted_users": [], "created_users": []}

    def at(self, days_ago):
        return self.now - dt.timedelta(days=days_ago)

    def pages(self, operation, result_key, **params):
        for page in self.iam.get_paginator(operation).paginate(**params):
            yield from page[result_key]

    def key_ids(self, user):
        return [k["AccessKeyId"] for k in self.pages("list_access_keys", "AccessKeyMetadata",
                                                      UserName=user)]

    # -- one method an op --------------------------------------------------------------

    def delete_key(self, c):
        self.clock.set(self.now)
        self.iam.delete_access_key(UserName=c["user"], AccessKeyId=c["key_id"])
        if c["key_id"] in self.key_ids(c["user"]):
            # moto 5.2.5 after a rename: the key still names the old user, so DeleteAccessKey
            # forgets the key but leaves it on the user.
            raise Failed(f"DeleteAccessKey answered OK but {c['user']} still lists "
                         f"{c['key_id']} (was the user renamed? moto keeps the old name on "
                         "its keys)")
        self.manifest["deleted_keys"].append(c["key_id"])

    def set_key_status(self, c):
        self.clock.set(self.now)
        self.iam.update_access_key(UserName=c["user"], AccessKeyId=c["key_id"],
                                   Status=c["status"])

    def create_key(self, c):
        user = c["user"]
        created = self.at(c["created_days_ago"])
        user_created = self.iam.get_user(UserName=user)["User"]["CreateDate"]
        if created < user_created.replace(microsecond=0):
            raise Failed(f"the key would be created at {seed.iso(created)}, before its user "
                         f"({seed.iso(user_created)})")
        # Its events in time order: creation, then use (never before creation, see check_key).
        events = [(created, 0)]
        if c.get("used"):
            events.append((self.at(c["used"]["days_ago"]), 1))
        events.sort()
        key_id = secret = None
        for t, kind in events:
            self.clock.set(t)
            if kind == 0:
                out = self.iam.create_access_key(UserName=user)["AccessKey"]
                key_id, secret = out["AccessKeyId"], out["SecretAccessKey"]
                self.manifest["created_keys"].append({"label": c.get("label"), "user": user,
                                                      "id": key_id,
                                                      "created": seed.iso(out["CreateDate"])})
                if c.get("description"):
                    self.iam.tag_user(UserName=user,
                                      Tags=[{"Key": key_id, "Value": c["description"]}])
            else:
                used = c["used"]
                self.key_user.use(key_id, secret, used["service"], used["region"])
        # As in seed_account.py: deactivation does not touch last use, so it comes last.
        if c["status"] == "Inactive":
            self.clock.set(self.now)
            self.iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")

    def rename_user(self, c):
        old, new = c["user"], c["new_name"]
        self.clock.set(self.now)
        self.iam.get_user(UserName=old)  # NoSuchEntity, as UpdateUser would answer
        try:
            self.iam.get_user(UserName=new)
        except self.iam.exceptions.NoSuchEntityException:
            pass
        else:
            # IAM answers EntityAlreadyExists; moto 5.2.5 would replace the other user.
            raise Failed(f"cannot rename {old} to {new}: a user named {new} already exists")
        # moto files tags under the user's ARN, which the rename changes: move them along.
        tags = list(self.pages("list_user_tags", "Tags", UserName=old))
        if tags:
            self.iam.untag_user(UserName=old, TagKeys=[t["Key"] for t in tags])
        self.iam.update_user(UserName=old, NewUserName=new)
        if tags:
            self.iam.tag_user(UserName=new, Tags=tags)
        self.manifest["renamed_users"].append({"from": old, "to": new})

    def delete_user(self, c):
        user = c["user"]
        self.clock.set(self.now)
        self.iam.get_user(UserName=user)
        # What IAM requires gone before DeleteUser (moto 5.2.5 checks only the policies).
        for key_id in self.key_ids(user):
            self.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
            self.manifest["deleted_keys"].append(key_id)
        try:
            self.iam.delete_login_profile(UserName=user)
        except self.iam.exceptions.NoSuchEntityException:
            pass
        for device in list(self.pages("list_mfa_devices", "MFADevices", UserName=user)):
            serial = device["SerialNumber"]
            self.iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
            if serial.startswith("arn:") and ":mfa/" in serial:
                self.iam.delete_virtual_mfa_device(SerialNumber=serial)
        for cert in list(self.pages("list_signing_certificates", "Certificates",
                                    UserName=user)):
            self.iam.delete_signing_certificate(UserName=user,
                                                CertificateId=cert["CertificateId"])
        for ssh in list(self.pages("list_ssh_public_keys", "SSHPublicKeys", UserName=user)):
            self.iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=ssh["SSHPublicKeyId"])
        for name in list(self.pages("list_user_policies", "PolicyNames", UserName=user)):
            self.iam.delete_user_policy(UserName=user, PolicyName=name)
        for policy in list(self.pages("list_attached_user_policies", "AttachedPolicies",
                                      UserName=user)):
            self.iam.detach_user_policy(UserName=user, PolicyArn=policy["PolicyArn"])
        for group in list(self.pages("list_groups_for_user", "Groups", UserName=user)):
            self.iam.remove_user_from_group(UserName=user, GroupName=group["GroupName"])
        self.iam.delete_user(UserName=user)
        self.manifest["deleted_users"].append(user)

    def create_user(self, c):
        plan_user = {"name": c["name"], "path": c.get("path") or "/",
                     "created_days_ago": c["created_days_ago"], "tags": c.get("tags") or {},
                     "console_password": bool(c.get("console_password")), "mfa": False,
                     "keys": c.get("keys") or []}
        plan = {"now": seed.iso(self.now), "users": [plan_user]}
        # seed_account.py's own seeding: the user, its keys and their uses in time order,
        # then deactivations at `now`.
        (seeded,) = seed.seed_users(plan, self.iam, self.clock, self.key_user)
        self.manifest["created_users"].append(seeded["name"])
        for key in seeded["keys"]:
            self.manifest["created_keys"].append({"label": key.get("label"),
                                                  "user": seeded["name"], "id": key["id"],
                                                  "created": key["created"]})

    OPS = {"delete-key": delete_key, "set-key-status": set_key_status,
           "create-key": create_key, "rename-user": rename_user,
           "delete-user": delete_user, "create-user": create_user}

    def apply(self, i, change):
        try:
            self.OPS[change["op"]](self, change)
        except (Failed, botocore.exceptions.ClientError,
                botocore.exceptions.BotoCoreError) as e:
            message = " ".join(str(e).split())
            sys.exit(f"change_account: {describe(i, change)} failed: {message}")


def main():
    args = parse_args()
    with open(args.changes) as f:
        doc = json.load(f)
    check(doc)
    now = seed.parse_time(doc["now"])
    clock = seed.Clock(args.clock_file)
    changer = Changer(args.endpoint, clock, now)
    try:
        for i, change in enumerate(doc["changes"]):
            changer.apply(i, change)
    finally:
        # As seed_org.py: back to the real time, so credentials the endpoint hands out from
        # now on are not already expired (or not yet valid).
        clock.set(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    manifest = changer.manifest
    with open(args.manifest, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    if not args.quiet:
        print(f"applied {len(doc['changes'])} changes as of {doc['now']}: "
              f"{len(manifest['created_keys'])} keys created, "
              f"{len(manifest['deleted_keys'])} deleted, "
              f"{len(manifest['created_users'])} users created, "
              f"{len(manifest['renamed_users'])} renamed, "
              f"{len(manifest['deleted_users'])} deleted", file=sys.stderr)


if __name__ == "__main__":
    main()
