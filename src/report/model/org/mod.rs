//! The organization's overview: one row per account ([`views`]), the run's totals (the
//! run's one aggregate, [`Totals`]) and what the overview says about them; each audited
//! account's page is a [`ReportModel`] of its own ([`page`]).

mod page;
mod views;

pub use page::*;
pub use views::*;

use crate::findings::{IdSource, Totals};
use crate::org::Manifest;

use super::*;

/// The whole organization report, ready to render.
#[derive(Clone, Debug)]
pub struct OrgModel {
    pub tool_version: &'static str,
    /// Open findings per owner over every account, worst first (set by the writer, which
    /// sees the accounts one at a time).
    pub by_owner: Vec<super::OwnerRow>,
    pub as_of: DateTime<Utc>,
    pub as_of_text: String,
    pub as_of_display: String,
    pub listed_at_text: String,
    pub listed_at_display: String,
    pub organization_id: Option<String>,
    pub management_account_id: Option<String>,
    pub caller_account_id: Option<String>,
    /// "organization o-abc123" or "4 accounts".
    pub title: String,
    pub selection: String,
    /// The selection as the command line gave it.
    pub selection_data: crate::org::Selection,
    /// `live` or `saved-inventory`.
    pub source_kind: &'static str,
    pub source_label: String,
    pub saved_inventories: Vec<String>,
    /// The endpoint of the first audited account that names one.
    pub endpoint: Option<String>,
    pub role_name: Option<String>,
    pub policy_file: Option<String>,
    pub fail_on: Option<Severity>,
    pub fail_on_label: String,
    pub fails_threshold: bool,
    /// `--fail-on-new`: only new and worse findings reach the threshold.
    pub fail_on_new: bool,
    /// Every selected active account audited, each with complete coverage.
    pub complete: bool,
    /// The run's figures.
    pub totals: Totals,
    /// Worst first ([`rank_accounts`]).
    pub accounts: Vec<AccountView>,
    pub expired_suppressions: Vec<NoticeView>,
    pub unused_suppressions: Vec<NoticeView>,
    /// Per-severity counts for the overview's cards, critical first.
    pub by_severity: Vec<SeverityCount>,
    /// One row per rule and severity over every audited account, in the order of
    /// [`crate::findings::Figures::by_rule`].
    pub by_rule: Vec<RuleSummary>,
    /// The comparison with an earlier run over every account, and the trend.
    pub tracking: TrackingView,
    /// What the finding ids were computed from.
    pub id_source: IdSource,
}

/// Where the overview's data came from, in words: a live crawl and when its accounts were
/// listed, or the saved inventories read, what run saved them and when their data was
/// collected.
fn source_label(
    manifest: &Manifest,
    saved: &[String],
    collected: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> String {
    let when = match collected {
        Some((first, last)) if first == last => format!("; collected {}", display_time(first)),
        Some((first, last)) => format!(
            "; collected {} to {}",
            display_time(first),
            display_time(last)
        ),
        None => String::new(),
    };
    if saved.is_empty() {
        return format!(
            "live crawl; accounts listed {}",
            display_time(manifest.listed_at)
        );
    }
    let run = match (&manifest.organization_id, manifest.selection.shard) {
        (Some(id), Some(shard)) => format!(
            "shard {shard} of a run over organization {id}, which listed its accounts {}",
            display_time(manifest.listed_at)
        ),
        (Some(id), None) => format!(
            "a run over organization {id}, which listed its accounts {}",
            display_time(manifest.listed_at)
        ),
        (None, _) => plural(manifest.accounts.len(), "account", "accounts"),
    };
    format!("saved inventories {} ({run}){when}", saved.join(", "))
}

/// The title of an organization's reports: "organization o-abc123" or "4 accounts".
pub fn org_title(manifest: &Manifest) -> String {
    match &manifest.organization_id {
        Some(id) => format!("organization {id}"),
        None => plural(manifest.accounts.len(), "account", "accounts"),
    }
}

/// What the overview is built from, once every account was written.
pub struct Overview<'a> {
    pub context: &'a RunContext,
    pub manifest: &'a Manifest,
    pub totals: &'a Totals,
    /// Every account's row, in any order.
    pub accounts: Vec<AccountView>,
    /// The run's notices: the suppressions' and the baseline findings no account kept.
    pub notices: &'a crate::findings::FindingSet,
    pub tracking: &'a crate::baseline::RunTracking,
    pub id_source: IdSource,
    pub endpoint: Option<String>,
    /// The earliest and latest collection times of the audited accounts' data.
    pub collected: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl OrgModel {
    pub fn build(o: Overview<'_>) -> OrgModel {
        let Overview {
            context,
            manifest,
            totals,
            mut accounts,
            notices,
            tracking: run_tracking,
            id_source,
            endpoint,
            collected,
        } = o;
        rank_accounts(&mut accounts);
        let figures = &totals.figures;
        let mut tracking = tracking_view(Some(run_tracking), notices);
        tracking.changes.new = figures.new;
        tracking.changes.updated = figures.updated;
        tracking.changes.unchanged = figures.unchanged;
        tracking.line = run_tracking.summary_line(tracking.changes);
        let by_severity = severity_counts(figures);
        // Anchors point into one account's page; the overview has none.
        let by_rule = rule_summaries(&figures.by_rule, |_| String::new());
        let saved_inventories: Vec<String> = context
            .saved_inventories
            .iter()
            .map(|p| crate::storage::shown::path(p))
            .collect();
        let source_label = source_label(manifest, &saved_inventories, collected);
        OrgModel {
            tool_version: TOOL_VERSION,
            by_owner: Vec::new(),
            as_of: context.as_of,
            as_of_text: rfc3339(context.as_of),
            as_of_display: display_time(context.as_of),
            listed_at_text: rfc3339(manifest.listed_at),
            listed_at_display: display_time(manifest.listed_at),
            organization_id: manifest.organization_id.clone(),
            management_account_id: manifest
                .management_account_id
                .as_ref()
                .map(|id| id.to_string()),
            caller_account_id: manifest.caller_account_id.as_ref().map(|id| id.to_string()),
            title: org_title(manifest),
            selection: manifest.selection.describe(),
            selection_data: manifest.selection.clone(),
            source_kind: if saved_inventories.is_empty() {
                "live"
            } else {
                "saved-inventory"
            },
            source_label,
            saved_inventories,
            endpoint,
            role_name: manifest.selection.role_name.clone(),
            policy_file: context
                .policy_file
                .as_ref()
                .map(|p| p.display().to_string()),
            fail_on: context.fail_on,
            fail_on_label: context
                .fail_on
                .map_or_else(|| "none".to_string(), |s| s.as_str().to_string()),
            fails_threshold: totals.reach(context.fail_on, context.fail_on_new),
            fail_on_new: context.fail_on_new,
            complete: totals.complete(),
            totals: totals.clone(),
            accounts,
            tracking,
            expired_suppressions: notices
                .expired_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            unused_suppressions: notices
                .unused_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            by_severity,
            by_rule,
            id_source,
        }
    }

    /// The accounts whose coverage is not complete: not audited, or audited with gaps.
    pub fn accounts_with_problems(&self) -> impl Iterator<Item = &AccountView> {
        self.accounts.iter().filter(|a| a.is_incomplete())
    }

    /// The coverage in words, for the header and the summary.
    pub fn coverage_label(&self) -> String {
        let t = &self.totals;
        let mut label = if self.complete {
            format!(
                "complete: {} audited",
                plural(t.audited, "account", "accounts")
            )
        } else {
            format!(
                "INCOMPLETE: {} of {} audited",
                t.audited,
                plural(
                    t.audited + t.unreachable,
                    "active account",
                    "active accounts"
                )
            )
        };
        if t.accounts_with_gaps > 0 {
            label.push_str(&format!(
                ", {} with gaps ({})",
                plural(t.accounts_with_gaps, "account", "accounts"),
                plural(t.gaps(), "gap", "gaps")
            ));
        }
        if t.not_assessed > 0 {
            label.push_str(&format!(
                "; {} not assessed (not active, excluded, out of scope or in another shard)",
                plural(t.not_assessed, "account", "accounts")
            ));
        }
        label
    }
}

#[cfg(test)]
mod tests;
