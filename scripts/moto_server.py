#!/usr/bin/env python3
"""moto's server, with IAM's ListUsers and GetAccountAuthorizationDetails paging, the
credential report's generation time, and Organizations' account listings paging, as AWS
does them.

moto returns every user in one ListUsers answer whatever MaxItems says. IAM returns at most
MaxItems users (100 by default, 1,000 at most), sometimes fewer, with IsTruncated and a
Marker for the next page. This launcher makes moto do the same, so a crawl of a large local
account pages through its users like a crawl of a real one.

KEYHYGIENE_MOTO_PAGE_CAP=N answers at most N users a page whatever MaxItems asks (IAM may
also return fewer than MaxItems), so a few hundred users span several pages in the tests.
GetAccountAuthorizationDetails pages the same way (moto answers everything at once).

moto's ListAccessKeys answer has no IsTruncated; IAM's always has one (false when every key
fits, as it always does: a user has at most two keys). This launcher adds it, so the crawl's
check that a listing's answer is whole holds against the local endpoint as against IAM.

moto builds the credential report when it is fetched but dates it 2015-02-02; this launcher
dates it at the time it was built (moto's clock, so a server under faketime dates it in
its faked present), as IAM dates a fresh report.

Organizations' ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent
answer at most MaxResults items a page (20 at most, 20 when MaxResults is absent), as
Organizations does (accounts in the order they joined, units in the order they were
created), with a NextToken while more remain. KEYHYGIENE_MOTO_ORG_PAGE_CAP=N answers at most N a page
whatever MaxResults asks, so a handful of accounts span several pages in the tests.

Usage: the same arguments as moto_server, e.g. `python scripts/moto_server.py -H 127.0.0.1 -p 5000`.
"""

import json
import os
import sys

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.responses import IamResponse
from moto.organizations.exceptions import InvalidInputException
from moto.organizations.responses import OrganizationsResponse
from moto.server import main

IAM_DEFAULT_MAX_ITEMS = 100
IAM_MAX_ITEMS = 1000


def list_users(self):
    path_prefix = self._get_param("PathPrefix")
    marker = self._get_param("Marker")
    max_items = int(self._get_param("MaxItems") or IAM_DEFAULT_MAX_ITEMS)
    size = min(max_items, IAM_MAX_ITEMS, int(os.environ.get("KEYHYGIENE_MOTO_PAGE_CAP", IAM_MAX_ITEMS)))
    users = list(self.backend.list_users(path_prefix, None, None))
    start = int(marker) if marker and marker.isdigit() else 0
    page = users[start:start + size]
    result = {"Users": page, "IsTruncated": start + size < len(users)}
    if result["IsTruncated"]:
        result["Marker"] = str(start + size)
    return ActionResult(result)


IamResponse.list_users = list_users


def get_account_authorization_details(self):
    details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
    kinds = [("UserDetailList", "users"), ("GroupDetailList", "groups"),
             ("RoleDetailList", "roles"), ("Policies", "managed_policies")]
    items = [(field, item) for field, kind in kinds for item in details[kind]]
    marker = self._get_param("Marker")
    max_items = int(self._get_param("MaxItems") or IAM_DEFAULT_MAX_ITEMS)
    size = min(max_items, IAM_MAX_ITEMS, int(os.environ.get("KEYHYGIENE_MOTO_PAGE_CAP", IAM_MAX_ITEMS)))
    start = int(marker) if marker and marker.isdigit() else 0
    result = {field: [] for field, _ in kinds}
    for field, item in items[start:start + size]:
        result[field].append(item)
    result["IsTruncated"] = start + size < len(items)
    if result["IsTruncated"]:
        result["Marker"] = str(start + size)
    return ActionResult(result)


def get_credential_report(self):
    report = self.backend.get_credential_report()
    return ActionResult({"Content": report, "ReportFormat": "text/csv",
                         "GeneratedTime": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")})


def list_access_keys(self):
    user_name = self._get_param("UserName")
    if not user_name:
        user_name = self.backend.get_access_key_last_used(self.get_access_key())["user_name"]
    keys = self.backend.list_access_keys(user_name)
    return ActionResult({"UserName": user_name, "AccessKeyMetadata": keys, "IsTruncated": False})


IamResponse.list_access_keys = list_access_keys
IamResponse.get_account_authorization_details = get_account_authorization_details
IamResponse.get_credential_report = get_credential_report

ORG_MAX_RESULTS = 20


def org_page(self, items):
    """One page of `items` for MaxResults and NextToken (an offset), and the next token."""
    asked = self._get_int_param("MaxResults") or ORG_MAX_RESULTS
    size = min(asked, ORG_MAX_RESULTS,
               int(os.environ.get("KEYHYGIENE_MOTO_ORG_PAGE_CAP", ORG_MAX_RESULTS)))
    token = self._get_param("NextToken")
    if token is not None and not (token.isdigit() and int(token) <= len(items)):
        raise InvalidInputException("You specified an invalid value for nextToken.")
    start = int(token) if token else 0
    end = start + max(size, 1)
    return items[start:end], (str(end) if end < len(items) else None)


def list_accounts(self):
    backend = self.organizations_backend
    accounts = sorted(backend.accounts, key=lambda a: (a.create_time, a.id))
    page, next_token = org_page(self, accounts)
    return json.dumps({"Accounts": [a.describe() for a in page], "NextToken": next_token})


def list_accounts_for_parent(self):
    backend = self.organizations_backend
    parent_id = backend.validate_parent_id(self._get_param("ParentId"))
    accounts = sorted((a for a in backend.accounts if a.parent_id == parent_id),
                      key=lambda a: (a.create_time, a.id))
    page, next_token = org_page(self, accounts)
    return json.dumps({"Accounts": [a.describe() for a in page], "NextToken": next_token})


def list_organizational_units_for_parent(self):
    backend = self.organizations_backend
    parent_id = backend.validate_parent_id(self._get_param("ParentId"))
    units = [ou for ou in backend.ou if ou.parent_id == parent_id]
    page, next_token = org_page(self, units)
    return json.dumps({"OrganizationalUnits": [{"Id": ou.id, "Arn": ou.arn, "Name": ou.name}
                                               for ou in page],
                       "NextToken": next_token})


OrganizationsResponse.list_accounts = list_accounts
OrganizationsResponse.list_accounts_for_parent = list_accounts_for_parent
OrganizationsResponse.list_organizational_units_for_parent = list_organizational_units_for_parent

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
