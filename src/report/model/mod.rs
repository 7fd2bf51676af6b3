//! The report view model: everything the HTML, CSV and JSON renderers show, computed once.
//!
//! Renderers only format what is here. Counting, date arithmetic, matching findings to keys,
//! the key-age histogram and every display string are decided in this module, so the three
//! outputs always agree with each other.
//!
//! The model stays small whatever the size of the account: it holds the counts, the order
//! of the findings and keys, and references into the inventory and the finding set (a few
//! dozen bytes per finding and per key). The display form of one finding ([`FindingView`])
//! or one key ([`KeyRow`]) is built when a renderer reaches it and dropped once written, so
//! the reports stream to disk without a second copy of the account in memory.
//!
//! The HTML page shows at most [`KEY_ROWS_IN_PAGE`] keys (worst first),
//! [`FINDINGS_IN_PAGE_PER_RULE`] findings per rule, [`SUPPRESSED_IN_PAGE`] suppressed
//! findings and [`GAPS_IN_PAGE`] coverage gaps, and says so when it leaves anything out; the
//! CSV and JSON files always hold everything.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::findings::{EvaluatedFinding, Figures, Finding, RuleTally, Severity, SuppressionNotice};
use crate::inventory::{
    AccessKey, CoverageGap, CrawlStats, Inventory, KeyStatus, LastUse, LastUseSource, Removed,
    RootKey, RootKeys, SourceInfo, User,
};
use crate::rules::{days, whole_days};

use super::RunInfo;

mod chart;
mod findings;
mod header;
mod keys;
mod org;
mod owners;
mod summary;
mod tracking;
mod trend;

pub use chart::*;
pub use findings::*;
pub use header::*;
pub use keys::*;
pub use org::*;
pub use owners::*;
pub use summary::*;
pub use tracking::*;
pub use trend::*;

/// The tool's version, shown in every report.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A credential report older than this at the as-of time is flagged stale.
pub use crate::inventory::CREDENTIAL_REPORT_MAX_AGE_HOURS as STALE_CREDENTIAL_REPORT_HOURS;

pub use crate::inventory::ROOT_USER_NAME;

/// What the policy's scope left out of the run.
#[derive(Clone, Debug)]
pub struct ScopeView {
    /// The scope in words, e.g. "exclude users break-glass-*".
    pub description: String,
    pub users_excluded: usize,
    /// "3 users left out (exclude users break-glass-*)".
    pub label: String,
}

/// The whole report, ready to render. It borrows the findings it shows from the
/// [`FindingSet`](crate::findings::FindingSet) it was built from, so a large account's
/// findings are held in memory once.
#[derive(Clone, Debug)]
pub struct ReportModel<'a> {
    pub tool_version: &'static str,
    pub account_id: Option<String>,
    /// The account id, or a placeholder when it could not be learned.
    pub account_label: String,
    pub as_of: DateTime<Utc>,
    pub as_of_text: String,
    pub as_of_display: String,
    pub collected_at_text: String,
    pub collected_at_display: String,
    pub source: SourceView,
    pub policy_file: Option<String>,
    /// What the scope left out; `None` when everyone was in scope.
    pub scope: Option<ScopeView>,
    pub fail_on: Option<Severity>,
    pub fail_on_label: String,
    pub coverage: CoverageView,
    pub credential_report: Option<CredentialReportView>,
    pub root: RootView,
    pub stats: StatsView,
    pub summary: SummaryView,
    /// Unsuppressed findings, grouped by rule, worst rule first.
    pub groups: Vec<RuleGroup<'a>>,
    /// Unsuppressed findings in report order: worst first, then by rule, user and key.
    pub open: Vec<&'a EvaluatedFinding>,
    /// Suppressed findings, in report order.
    pub suppressed: Vec<&'a EvaluatedFinding>,
    pub expired_suppressions: Vec<NoticeView>,
    pub unused_suppressions: Vec<NoticeView>,
    /// Every access key in the account: flagged keys first, worst first; then the
    /// inventory's order (root keys, then users by name).
    pub keys: Vec<KeyEntry<'a>>,
    /// Findings about one key, ordered by user name and key label, so each key finds its
    /// own with a binary search ([`KeyEntry`] keeps the range).
    key_findings: Vec<&'a EvaluatedFinding>,
    /// How many inventory rows the HTML shows before "show all" (the rest of the page's
    /// rows are rendered hidden, so a page with thousands of keys stays quick to filter
    /// and sort).
    pub key_rows_shown: usize,
    /// How many inventory rows the HTML holds: all keys up to [`KEY_ROWS_IN_PAGE`].
    pub key_rows_in_page: usize,
    source_times: keys::SourceTimes,
    /// What the HTML page leaves out, one sentence each; empty when it shows everything.
    pub page_limits: Vec<String>,
    pub histogram: AgeHistogram,
    /// In an organization run: the way back to the overview, and the account's place in it.
    pub org: Option<OrgContext>,
    /// The comparison with an earlier run, and the trend.
    pub tracking: TrackingView,
    /// What the finding ids were computed from.
    pub id_source: crate::findings::IdSource,
    /// The account's figures ([`Figures::of`]): the summary, the verdict and the JSON
    /// counts read them.
    pub figures: Figures,
    /// Who owns each user ([`ReportModel::set_owners`]; everyone is the default fallback's
    /// until then).
    pub owners: OwnerIndex,
    /// Open findings per owner, worst first: the by-owner table.
    pub by_owner: Vec<OwnerRow>,
}

/// A duration for people: "12 min", "3 h", "2 days".
pub(crate) fn age_text(age: chrono::TimeDelta) -> String {
    let minutes = age.num_minutes().max(0);
    if minutes < 120 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        format!("{} days", minutes / (24 * 60))
    }
}

impl<'a> ReportModel<'a> {
    pub fn build(run: &RunInfo<'a>) -> ReportModel<'a> {
        let inv = run.inventory;
        let as_of = run.as_of;
        let coverage = coverage_view(inv);
        let credential_report = inv.credential_report.as_ref().map(|cr| {
            let age_minutes = cr.generated_at.map(|t| (as_of - t).num_minutes());
            CredentialReportView {
                generated_at_text: cr.generated_at.map(rfc3339),
                generated_at_display: cr.generated_at.map_or_else(
                    || "at an unknown time (state it with --report-generated-at)".to_string(),
                    display_time,
                ),
                age_minutes,
                age_label: age_minutes.map_or_else(|| "unknown".to_string(), age_label),
                relation_label: match age_minutes {
                    None => "age unknown".to_string(),
                    Some(m) if m < 0 => format!("{} after as-of", age_label(m)),
                    Some(m) => format!("{} before as-of", age_label(m)),
                },
                stale: age_minutes.is_some_and(|m| m > STALE_CREDENTIAL_REPORT_HOURS * 60),
                has_root_row: cr.has_root_row,
                stale_impact: match run.inventory.source {
                    SourceInfo::CredentialReport { .. } => {
                        "every key, last-use and password fact in this report may be out of date"
                    }
                    SourceInfo::Live { .. } => {
                        "the root user's keys and the console password and MFA data taken from it may be out of date (users, keys and last use come from the live API)"
                    }
                },
            }
        });
        let findings = &run.findings.findings;
        let (groups, open, suppressed) = finding_groups(findings);
        let (keys, key_findings) = key_entries(inv, findings);
        let histogram = histogram(&keys, as_of);
        let summary = summary_view(run, &groups, &keys, &coverage);
        let key_rows_in_page = keys.len().min(KEY_ROWS_IN_PAGE);
        let page_limits = page_limits(&keys, key_rows_in_page, &groups, &suppressed, &coverage);
        ReportModel {
            tool_version: TOOL_VERSION,
            account_id: inv.account_id.as_ref().map(|id| id.to_string()),
            account_label: inv
                .account_id
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |id| id.to_string()),
            as_of,
            as_of_text: rfc3339(as_of),
            as_of_display: display_time(as_of),
            collected_at_text: rfc3339(inv.collected_at),
            collected_at_display: display_time(inv.collected_at),
            source: source_view(&inv.source, run.saved_inventory, inv.collected_at),
            policy_file: run.policy_file.map(|p| p.display().to_string()),
            scope: run
                .scope
                .filter(|s| s.users_excluded > 0)
                .map(|s| ScopeView {
                    description: s.description.clone(),
                    users_excluded: s.users_excluded,
                    label: format!(
                        "{} left out ({})",
                        plural(s.users_excluded, "user", "users"),
                        s.description
                    ),
                }),
            fail_on: run.fail_on,
            fail_on_label: run
                .fail_on
                .map_or_else(|| "none".to_string(), |s| s.as_str().to_string()),
            coverage,
            credential_report,
            root: root_view(&inv.root, &inv.source),
            stats: stats_view(inv),
            summary,
            groups,
            suppressed,
            expired_suppressions: run
                .findings
                .expired_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            unused_suppressions: run
                .findings
                .unused_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            key_rows_shown: keys.len().min(KEY_ROWS_SHOWN),
            key_rows_in_page,
            source_times: keys::SourceTimes {
                report: inv.credential_report.as_ref().and_then(|r| r.generated_at),
                collected: inv.collected_at,
            },
            page_limits,
            open,
            keys,
            key_findings,
            histogram,
            org: None,
            tracking: tracking_view(run.tracking, run.findings),
            id_source: crate::findings::IdSource::of(inv),
            figures: run.figures.clone(),
            owners: OwnerIndex::default(),
            by_owner: Vec::new(),
        }
    }

    /// Names the users' owners under the policy's `[report]` owner tags, and counts the
    /// open findings per owner.
    pub fn set_owners(&mut self, owners: &crate::policy::Owners, inventory: &Inventory) {
        self.owners = OwnerIndex::of(owners, inventory);
        // Without owner tags everyone is the fallback's: no table to show.
        if owners.tags.is_empty() {
            self.by_owner = Vec::new();
            return;
        }
        let mut tally = OwnerTally::default();
        tally.add(&self.owners, self.open.iter().copied());
        self.by_owner = tally.rows();
    }

    /// The owner of the user named `user`.
    pub fn owner(&self, user: &str) -> &str {
        self.owners.owner(user)
    }
}

impl<'a> ReportModel<'a> {
    /// Every key's row, in the model's order (worst first).
    pub fn key_rows(&self) -> impl Iterator<Item = KeyRow<'a>> + '_ {
        self.keys.iter().map(|k| self.key_row(k))
    }

    /// The rows the HTML page holds: the first [`KEY_ROWS_IN_PAGE`], of which all but the
    /// first [`KEY_ROWS_SHOWN`] are folded.
    pub fn page_key_rows(&self) -> impl Iterator<Item = KeyRow<'a>> + '_ {
        self.keys[..self.key_rows_in_page]
            .iter()
            .enumerate()
            .map(|(i, k)| KeyRow {
                folded: i >= self.key_rows_shown,
                ..self.key_row(k)
            })
    }

    /// Keys left out of the HTML page.
    pub fn key_rows_not_in_page(&self) -> usize {
        self.keys.len() - self.key_rows_in_page
    }

    /// The display row of one key.
    pub fn key_row(&self, entry: &KeyEntry<'a>) -> KeyRow<'a> {
        let (start, end) = entry.findings;
        let fired = &self.key_findings[start as usize..end as usize];
        key_row(entry.subject(), fired, self.as_of, self.source_times)
    }

    /// The suppressed findings the HTML page lists.
    pub fn page_suppressed(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        self.suppressed[..self.suppressed_in_page()]
            .iter()
            .map(|ef| finding_view(ef))
    }

    /// How many suppressed findings the HTML page lists.
    pub fn suppressed_in_page(&self) -> usize {
        self.suppressed.len().min(SUPPRESSED_IN_PAGE)
    }

    /// Suppressed findings left out of the HTML page.
    pub fn suppressed_not_in_page(&self) -> usize {
        self.suppressed.len().saturating_sub(SUPPRESSED_IN_PAGE)
    }
}

/// What the HTML page leaves out, in sentences that say where to find it.
fn page_limits(
    keys: &[KeyEntry],
    key_rows_in_page: usize,
    groups: &[RuleGroup],
    suppressed: &[&EvaluatedFinding],
    coverage: &CoverageView,
) -> Vec<String> {
    let mut notes = Vec::new();
    if key_rows_in_page < keys.len() {
        notes.push(format!(
            "The key inventory shows {key_rows_in_page} of {} keys, worst first; keys.csv lists every key.",
            keys.len()
        ));
    }
    let capped: Vec<String> = groups
        .iter()
        .filter(|g| g.not_in_page() > 0)
        .map(|g| format!("{}: {} of {}", g.rule_id, g.in_page, g.total))
        .collect();
    if !capped.is_empty() {
        let total: usize = groups.iter().map(|g| g.total).sum();
        let in_page: usize = groups.iter().map(|g| g.in_page).sum();
        notes.push(format!(
            "The findings section shows {in_page} of {total} open findings, a share of each rule, worst first ({}); findings.csv and report.json list every finding.",
            capped.join("; ")
        ));
    }
    if suppressed.len() > SUPPRESSED_IN_PAGE {
        notes.push(format!(
            "The suppressed findings table lists {SUPPRESSED_IN_PAGE} of {}; findings.csv and report.json list them all.",
            suppressed.len()
        ));
    }
    if coverage.gaps_not_in_page() > 0 {
        notes.push(format!(
            "The coverage section lists {GAPS_IN_PAGE} of {} gaps; report.json lists them all.",
            coverage.gaps.len()
        ));
    }
    notes
}

/// RFC 3339 in UTC with a `Z`, whole seconds: the date format of every machine-readable output.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn display_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn display_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn age_label(minutes: i64) -> String {
    let minutes = minutes.abs();
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_findings_on_the_page_start_with_the_largest_figure() {
        use crate::rules::test_support::{active, as_of, days_ago, inventory, used, user};
        let inv = inventory(vec![
            user(
                "alice",
                vec![active("AKIAA", days_ago(400), used(days_ago(1)))],
            ),
            user(
                "bob",
                vec![active("AKIAB", days_ago(200), used(days_ago(1)))],
            ),
            user(
                "carl",
                vec![active("AKIAC", days_ago(900), used(days_ago(1)))],
            ),
            user(
                "dora",
                vec![active("AKIAD", days_ago(30), used(days_ago(300)))],
            ),
            user(
                "ed",
                vec![active("AKIAE", days_ago(30), used(days_ago(120)))],
            ),
        ]);
        let policy = crate::policy::Policy::default();
        let raw = crate::rules::evaluate(&inv, &policy.rules, as_of());
        let set = crate::policy::apply(&policy, raw, as_of());
        let figures = crate::findings::Figures::of(&inv, &set);
        let m = ReportModel::build(&RunInfo {
            inventory: &inv,
            findings: &set,
            as_of: as_of(),
            fail_on: None,
            policy_file: None,
            saved_inventory: None,
            scope: None,
            fail_on_new: false,
            tracking: None,
            figures: &figures,
        });
        let users = |rule: &str| -> Vec<&str> {
            let group = m.groups.iter().find(|g| g.rule_id == rule).unwrap();
            group
                .findings
                .iter()
                .map(|f| f.finding.user_name.as_str())
                .collect()
        };
        assert_eq!(
            users("key-not-rotated"),
            ["carl", "alice", "bob"],
            "oldest first"
        );
        assert_eq!(users("key-unused"), ["dora", "ed"], "longest unused first");
        // The CSV and JSON order is the report order: by user within a severity.
        let rotated: Vec<&str> = m
            .open
            .iter()
            .filter(|f| f.finding.rule_id == "key-not-rotated")
            .map(|f| f.finding.user_name.as_str())
            .collect();
        assert_eq!(rotated, ["alice", "bob", "carl"]);
    }

    #[test]
    fn page_shares_split_the_budget_fairly() {
        // Everything fits: every list is whole.
        assert_eq!(page_shares(&[3, 10, 1], 20), vec![3, 10, 1]);
        assert_eq!(page_shares(&[], 20), Vec::<usize>::new());
        // Short lists leave their unused share to the long ones.
        assert_eq!(page_shares(&[1, 100, 100, 3], 20), vec![1, 8, 8, 3]);
        assert_eq!(
            page_shares(&[1, 60_558, 25_249, 12_910], 20_000),
            vec![1, 6_667, 6_666, 6_666]
        );
        // The shares never exceed the budget and use all of it when the lists are long.
        for lengths in [
            vec![7, 7, 7],
            vec![0, 50, 2, 9, 31],
            vec![20_001],
            vec![5; 9],
        ] {
            for budget in [0, 1, 10, 20] {
                let shares = page_shares(&lengths, budget);
                let total: usize = lengths.iter().sum();
                assert_eq!(
                    shares.iter().sum::<usize>(),
                    total.min(budget),
                    "{lengths:?} {budget}"
                );
                assert!(shares.iter().zip(&lengths).all(|(s, l)| s <= l));
            }
        }
    }

    #[test]
    fn nice_ceiling_rounds_up_to_gridline_friendly_numbers() {
        assert_eq!(nice_ceiling(1), 4);
        assert_eq!(nice_ceiling(5), 8);
        assert_eq!(nice_ceiling(9), 20);
        assert_eq!(nice_ceiling(37), 40);
        assert_eq!(nice_ceiling(41), 80);
        assert_eq!(nice_ceiling(9000), 20000);
    }

    #[test]
    fn age_label_reads_naturally() {
        assert_eq!(age_label(5), "5 min");
        assert_eq!(age_label(135), "2 h 15 min");
        assert_eq!(age_label(1500), "1 d 1 h");
        assert_eq!(age_label(-3), "3 min");
        assert_eq!(age_label(-251759), "174 d 19 h");
    }

    #[test]
    fn remediation_keeps_comments_with_their_commands() {
        let lines: Vec<String> = [
            "aws iam create-access-key --user-name a",
            "# then deactivate the old key",
            "aws iam update-access-key --user-name a --access-key-id K --status Inactive",
        ]
        .map(String::from)
        .to_vec();
        let (commands, steps) = split_remediation(&lines);
        assert!(steps.is_empty());
        let comments: Vec<bool> = commands.iter().map(|c| c.comment).collect();
        assert_eq!(comments, vec![false, true, false]);
        let console = vec![
            "Sign in as root".to_string(),
            "# 1. Open the menu".to_string(),
        ];
        let (commands, steps) = split_remediation(&console);
        assert!(commands.is_empty());
        assert_eq!(steps, vec!["Sign in as root", "1. Open the menu"]);
        assert!(steps_are_numbered(&steps));
        assert!(!steps_are_numbered(&["Sign in"]));
    }

    #[test]
    fn anchors_are_fragment_safe() {
        assert_eq!(anchor("stale-key"), "rule-stale-key");
        assert_eq!(anchor("A b/<c>"), "rule-a-b--c-");
    }
}
