//! The read-only API actions keyhygiene may send, as the README's "What it calls" lists
//! them. The recorder tests (`tests/crawl_moto.rs`, `tests/org_moto.rs`) check the requests
//! a run really sends against these lists, and `tests/docs.rs` checks that the README gives
//! the same lists, so the two cannot drift apart.

use std::collections::BTreeSet;

/// Every action a single-account run sends (IAM and STS), over both call plans. The crawl of
/// each account of an organization run sends the same.
pub const ACCOUNT_APIS: [&str; 9] = [
    "GetCallerIdentity",
    "GetAccountAuthorizationDetails",
    "ListUsers",
    "ListUserTags",
    "ListAccessKeys",
    "GetAccessKeyLastUsed",
    "GenerateCredentialReport",
    "GetCredentialReport",
    "GetAccountSummary",
];

/// Sent only by `--call-plan full`, and when GetAccountAuthorizationDetails is refused.
pub const FULL_PLAN_ONLY: [&str; 2] = ["ListUsers", "ListUserTags"];

/// Sent only by `--call-plan economical` (the default).
pub const ECONOMICAL_PLAN_ONLY: [&str; 1] = ["GetAccountAuthorizationDetails"];

/// What an organization run sends besides [`ACCOUNT_APIS`]: Organizations' listings of the
/// accounts and the units above them, and STS's AssumeRole of each member's role.
pub const ORGANIZATION_APIS: [&str; 6] = [
    "DescribeOrganization",
    "ListAccounts",
    "ListRoots",
    "ListOrganizationalUnitsForParent",
    "ListAccountsForParent",
    "AssumeRole",
];

/// The actions a single-account run sends with `--call-plan economical`.
pub fn economical_plan() -> BTreeSet<&'static str> {
    let full_only: BTreeSet<&str> = FULL_PLAN_ONLY.into();
    ACCOUNT_APIS
        .into_iter()
        .filter(|a| !full_only.contains(a))
        .collect()
}

/// The actions a single-account run sends with `--call-plan full`.
pub fn full_plan() -> BTreeSet<&'static str> {
    let economical_only: BTreeSet<&str> = ECONOMICAL_PLAN_ONLY.into();
    ACCOUNT_APIS
        .into_iter()
        .filter(|a| !economical_only.contains(a))
        .collect()
}

/// Every action an organization run may send.
pub fn organization_run() -> BTreeSet<&'static str> {
    ACCOUNT_APIS.into_iter().chain(ORGANIZATION_APIS).collect()
}
