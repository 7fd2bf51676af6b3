#!/usr/bin/env python3
"""moto's server, with IAM's ListUsers paging as IAM does it.

moto returns every user in one ListUsers answer whatever MaxItems says. IAM returns at most
MaxItems users (100 by default, 1,000 at most), sometimes fewer, with IsTruncated and a
Marker for the next page. This launcher makes moto do the same, so a crawl of a large local
account pages through its users like a crawl of a real one.

KEYHYGIENE_MOTO_PAGE_CAP=N answers at most N users a page whatever MaxItems asks (IAM may
also return fewer than MaxItems), so a few hundred users span several pages in the tests.

Usage: the same arguments as moto_server, e.g. `python scripts/moto_server.py -H 127.0.0.1 -p 5000`.
"""

import os
import sys

from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
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

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
