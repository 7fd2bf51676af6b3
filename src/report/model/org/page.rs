//! An audited account's page in an organization's report: the account's own report, with
//! the way back to the overview.

use std::path::PathBuf;

use crate::findings::{Figures, FindingSet};
use crate::inventory::Inventory;
use crate::org::Account;

use super::super::*;

/// What every page of a run shares, known before the first account is written.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The organization's title ([`super::org_title`]); empty for a single account.
    pub title: String,
    pub as_of: DateTime<Utc>,
    /// `None` means `--fail-on none`.
    pub fail_on: Option<Severity>,
    /// `--fail-on-new`: only new and worse findings reach the threshold.
    pub fail_on_new: bool,
    pub policy_file: Option<PathBuf>,
    /// The saved inventories the run read (`--from-inventory`), when it read any.
    pub saved_inventories: Vec<PathBuf>,
    /// The baseline compared with: an account's page shows the comparison, the overview
    /// the trend.
    pub comparison: Option<crate::baseline::ComparisonInfo>,
    /// Who owns a user (the policy's `[report]` owner tags).
    pub owners: crate::policy::Owners,
    /// `--split-by-owner`: each owner's CSV rows in `by-owner/<owner>/` too.
    pub split_by_owner: bool,
}

/// A reviewer's link from an account's page back to the organization overview.
#[derive(Clone, Debug)]
pub struct OrgContext {
    /// The overview's file name, next to the account's page.
    pub overview: &'static str,
    /// "organization o-abc123" or "12 accounts".
    pub label: String,
    pub account_name: Option<String>,
    pub ou_path: Option<String>,
}

/// An audited account's page model.
pub fn account_model<'a>(
    context: &'a RunContext,
    account: &Account,
    inventory: &'a Inventory,
    findings: &'a FindingSet,
    scope: Option<&'a crate::policy::ScopeOutcome>,
    figures: &'a Figures,
) -> ReportModel<'a> {
    let mut model = ReportModel::build(&crate::report::RunInfo {
        inventory,
        findings,
        as_of: context.as_of,
        fail_on: context.fail_on,
        policy_file: context.policy_file.as_deref(),
        saved_inventory: None,
        scope,
        fail_on_new: context.fail_on_new,
        tracking: None,
        figures,
    });
    // An account's page compares the account; the trend is the overview's.
    let account_run = crate::baseline::RunTracking {
        comparison: context.comparison.clone(),
        trend: None,
        history_dir: None,
    };
    model.tracking = tracking_view(Some(&account_run), findings);
    model.set_owners(&context.owners, inventory);
    model.org = Some(OrgContext {
        overview: "report.html",
        label: context.title.clone(),
        account_name: account.name.clone(),
        ou_path: account.ou_path.clone(),
    });
    model
}
