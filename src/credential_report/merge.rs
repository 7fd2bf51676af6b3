//! A fetched report merged into a crawled inventory.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{CredentialReport, ReportRow};
use crate::inventory::{CredentialReportInfo, Inventory};

/// Merges a report into a crawled inventory: console-login context for every user the
/// report lists, the report's generated time, and the root user's keys when the report
/// has a `<root_account>` row. Without that row `inv.root` is left as it is, so the caller
/// can fall back to the account summary.
pub fn merge_into(
    inv: &mut Inventory,
    report: &CredentialReport,
    generated_at: Option<DateTime<Utc>>,
) {
    let rows: HashMap<&str, &ReportRow> = report
        .users
        .iter()
        .map(|row| (row.user.as_str(), row))
        .collect();
    for user in &mut inv.users {
        if let Some(row) = rows.get(user.name.as_str()) {
            user.login = Some(row.login());
        }
    }
    inv.credential_report = Some(CredentialReportInfo {
        generated_at,
        has_root_row: report.root.is_some(),
    });
    if let Some(root) = report.root_keys() {
        inv.root = root;
    }
}
