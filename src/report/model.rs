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

use crate::findings::{EvaluatedFinding, Finding, Severity, SuppressionNotice};
use crate::inventory::{
    AccessKey, CoverageGap, Inventory, KeyStatus, LastUse, Removed, RootKey, RootKeys, SourceInfo,
    User,
};
use crate::rules::{days, whole_days};

use super::RunInfo;

/// The tool's version, shown in every report.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A credential report older than this at the as-of time is flagged stale.
pub use crate::inventory::CREDENTIAL_REPORT_MAX_AGE_HOURS as STALE_CREDENTIAL_REPORT_HOURS;

pub use crate::inventory::ROOT_USER_NAME;

/// The key-age buckets of the histogram: label and inclusive upper bound in days.
pub const AGE_BUCKETS: [(&str, Option<i64>); 5] = [
    ("0–30 days", Some(30)),
    ("31–90 days", Some(90)),
    ("91–180 days", Some(180)),
    ("181–365 days", Some(365)),
    ("> 365 days", None),
];

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
    /// What the HTML page leaves out, one sentence each; empty when it shows everything.
    pub page_limits: Vec<String>,
    pub histogram: AgeHistogram,
}

#[derive(Clone, Debug)]
pub struct SourceView {
    /// `live` or `credential-report`: where the data was collected.
    pub kind: &'static str,
    pub endpoint: Option<String>,
    pub file: Option<String>,
    /// The saved inventory this run read, when the data was collected by an earlier run.
    pub saved_inventory: Option<String>,
    /// In words, for the header.
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct CoverageView {
    pub complete: bool,
    pub users_listed: usize,
    pub users_fully_audited: usize,
    pub keys: usize,
    pub keys_with_last_use: usize,
    /// One line for the header, e.g. "complete: 120 users, 200 keys".
    pub label: String,
    pub gaps: Vec<GapView>,
    /// Gaps beyond the first [`GAPS_IN_BANNER`], which the HTML banner only counts.
    pub gaps_not_in_banner: usize,
    pub removed: Vec<RemovedView>,
}

/// Gaps listed in the HTML banner; the coverage section lists up to [`GAPS_IN_PAGE`].
pub const GAPS_IN_BANNER: usize = 10;

/// Gaps the HTML coverage section lists; `report.json` lists them all. A live crawl that
/// IAM throttles for good can leave a gap per user, and a page of 100,000 gaps helps no one.
pub const GAPS_IN_PAGE: usize = 5_000;

impl CoverageView {
    /// The gaps the HTML banner lists.
    pub fn banner_gaps(&self) -> &[GapView] {
        &self.gaps[..self.gaps.len().min(GAPS_IN_BANNER)]
    }

    /// The gaps the HTML coverage section lists.
    pub fn page_gaps(&self) -> &[GapView] {
        &self.gaps[..self.gaps.len().min(GAPS_IN_PAGE)]
    }

    /// Gaps left out of the HTML coverage section.
    pub fn gaps_not_in_page(&self) -> usize {
        self.gaps.len().saturating_sub(GAPS_IN_PAGE)
    }
}

#[derive(Clone, Debug)]
pub struct GapView {
    pub user: Option<String>,
    pub access_key_id: Option<String>,
    /// The user and key in words ("account", "alice", "alice / AKIA…").
    pub scope: String,
    pub operation: String,
    pub error_code: String,
    pub impact: String,
}

#[derive(Clone, Debug)]
pub struct RemovedView {
    pub user: String,
    pub access_key_id: Option<String>,
    pub operation: String,
}

#[derive(Clone, Debug)]
pub struct CredentialReportView {
    /// RFC 3339; `None` when the generation time is unknown.
    pub generated_at_text: Option<String>,
    pub generated_at_display: String,
    /// Minutes between generation and the as-of time (negative if generated later);
    /// `None` when the generation time is unknown.
    pub age_minutes: Option<i64>,
    /// The age in words, e.g. "2 h 15 min" (the absolute value when negative).
    pub age_label: String,
    /// The age relative to the as-of time, e.g. "2 h 15 min before as-of".
    pub relation_label: String,
    pub stale: bool,
    pub has_root_row: bool,
    /// What a stale report puts at risk: everything for a report file, only the root-key
    /// and console-login context for a live crawl (keys and last use come from the API).
    pub stale_impact: &'static str,
}

#[derive(Clone, Debug)]
pub struct RootView {
    /// `credential-report`, `account-summary` or `unknown`.
    pub source: &'static str,
    /// Some root key is (or may be) active.
    pub keys_present: Option<bool>,
    pub active_keys: usize,
    /// In words, for the header.
    pub label: String,
    /// `ok`, `bad` or `unknown`, for styling.
    pub state: &'static str,
}

#[derive(Clone, Debug)]
pub struct StatsView {
    pub calls: Vec<(String, u64)>,
    pub total_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failed_calls: u64,
    pub wall_ms: u64,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct SummaryView {
    /// Critical first; every severity is present, with zero counts.
    pub by_severity: Vec<SeverityCount>,
    /// One row per rule and severity with at least one finding, suppressed or not; the
    /// rows add up to `by_severity`. Rules by their worst severity, then by id; a rule's
    /// rows worst first.
    pub by_rule: Vec<RuleSummary>,
    /// Some rule has rows at more than one severity.
    pub by_rule_split: bool,
    pub total_active: usize,
    pub total_suppressed: usize,
    pub worst: Option<Severity>,
    /// Whether the unsuppressed findings reach `--fail-on`.
    pub fails_threshold: bool,
    pub keys_flagged: usize,
    pub users_flagged: usize,
    pub verdict: Verdict,
}

#[derive(Clone, Debug)]
pub struct SeverityCount {
    pub severity: Severity,
    pub active: usize,
    pub suppressed: usize,
}

#[derive(Clone, Debug)]
pub struct RuleSummary {
    pub rule_id: String,
    /// What the rule checks, in one line; empty for a rule this version does not know.
    pub summary: String,
    /// The severity this row counts: the rule's findings of other severities have rows
    /// of their own.
    pub severity: Severity,
    pub active: usize,
    pub suppressed: usize,
    /// The HTML anchor of the rule's section; empty when all its findings are suppressed.
    pub anchor: String,
    pub compliance: String,
}

/// The one-sentence answer at the top of the report.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// `clean`, `findings` or `incomplete`, for styling.
    pub state: &'static str,
    pub headline: String,
    pub detail: String,
    /// The `--fail-on` outcome in words; empty with `--fail-on none`.
    pub threshold_label: String,
    /// `fail`, `pass` or empty, for styling.
    pub threshold_state: &'static str,
}

#[derive(Clone, Debug)]
pub struct RuleGroup<'a> {
    pub rule_id: &'a str,
    /// What the rule checks, in one line; empty for a rule this version does not know.
    pub summary: String,
    pub anchor: String,
    pub severity: Severity,
    pub compliance: String,
    /// Every open finding of the rule, worst first, then by user and key.
    pub findings: Vec<&'a EvaluatedFinding>,
    pub total: usize,
    /// How many of them the HTML page holds: the rule's share of [`FINDINGS_IN_PAGE`].
    pub in_page: usize,
    /// The count in words, per severity when the rule's findings differ in severity:
    /// "3 findings", or "27 findings: 20 medium, 7 low".
    pub count_label: String,
}

/// Inventory rows the HTML shows at once; the page offers to show the rest of its rows.
pub const KEY_ROWS_SHOWN: usize = 500;

/// Inventory rows the HTML page holds at most, worst first; `keys.csv` lists every key.
///
/// Above the largest account IAM allows by default (5,000 users with two keys each, and
/// the root user's two), so an ordinary account's page lists every key; the 5,000-user,
/// 10,004-key benchmark account filters in 3 ms in Chromium. A page of 100,000 rows is
/// hundreds of megabytes that a browser opens slowly, if at all.
pub const KEY_ROWS_IN_PAGE: usize = 15_000;

/// Findings shown per rule before the rest are folded away in the HTML.
pub const FINDINGS_SHOWN_PER_RULE: usize = 25;

/// Open findings the HTML page holds at most; `findings.csv` and `report.json` list every
/// finding. Beyond it, each rule gets an equal share of the page, worst findings first (a
/// rule with fewer findings than its share leaves the rest to the others), so every rule
/// stays represented.
///
/// An ordinary account's page lists every finding: the 5,000-user, 10,004-key benchmark
/// account has 10,947. A finding card weighs about 1.2 KB of HTML, so the findings of any
/// account fit in about 25 MB of page.
pub const FINDINGS_IN_PAGE: usize = 20_000;

/// Suppressed findings the HTML page lists at most (a suppression may match every user).
pub const SUPPRESSED_IN_PAGE: usize = 5_000;

impl<'a> RuleGroup<'a> {
    /// The first findings, always shown.
    pub fn shown(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        let end = self.in_page.min(FINDINGS_SHOWN_PER_RULE);
        self.findings[..end].iter().map(|ef| finding_view(ef))
    }

    /// How many findings the page folds behind a "show more" toggle.
    pub fn folded_count(&self) -> usize {
        self.in_page.saturating_sub(FINDINGS_SHOWN_PER_RULE)
    }

    /// The findings folded behind the toggle.
    pub fn folded(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        let start = self.in_page.min(FINDINGS_SHOWN_PER_RULE);
        self.findings[start..self.in_page]
            .iter()
            .map(|ef| finding_view(ef))
    }

    /// Findings of the rule that are not in the HTML page.
    pub fn not_in_page(&self) -> usize {
        self.findings.len() - self.in_page
    }
}

/// One finding as the reports show it: the finding itself (its fields read through
/// `Deref`, e.g. `view.message`) and what the reports derive from it.
#[derive(Clone, Debug)]
pub struct FindingView<'a> {
    pub finding: &'a Finding,
    pub suppression: Option<SuppressionView>,
    // Display strings.
    /// The key's id or "access key N"; empty for user- and account-level findings.
    pub key_label: &'a str,
    pub facts: Vec<String>,
    pub compliance_label: String,
    /// Remediation lines that form a shell script (AWS CLI commands and `#` comments), in
    /// order, to copy as one block.
    pub commands: Vec<CommandLine<'a>>,
    /// Remediation lines that are instructions (console steps), in order.
    pub steps: Vec<&'a str>,
    /// The steps carry their own numbers; the HTML lists them without adding any.
    pub steps_numbered: bool,
}

impl std::ops::Deref for FindingView<'_> {
    type Target = Finding;

    fn deref(&self) -> &Finding {
        self.finding
    }
}

#[derive(Clone, Debug)]
pub struct CommandLine<'a> {
    pub text: &'a str,
    /// A `#` comment explaining the next command.
    pub comment: bool,
}

#[derive(Clone, Debug)]
pub struct SuppressionView {
    pub reason: String,
    pub expires: Option<NaiveDate>,
    pub expires_label: String,
}

#[derive(Clone, Debug)]
pub struct NoticeView {
    pub rule: String,
    pub user: String,
    pub access_key_id: Option<String>,
    pub key_label: String,
    pub reason: String,
    pub expires: Option<NaiveDate>,
    pub expires_label: String,
    pub location: String,
}

/// One access key of the inventory, as the model keeps it: where it is in the inventory,
/// its worst open finding, and where its findings are. [`ReportModel::key_row`] turns it
/// into a [`KeyRow`] when a renderer needs one.
#[derive(Clone, Copy, Debug)]
pub struct KeyEntry<'a> {
    key: KeyRef<'a>,
    /// The worst unsuppressed finding about the key.
    pub worst: Option<Severity>,
    /// The key's findings, a range of [`ReportModel::key_findings`].
    findings: (u32, u32),
}

#[derive(Clone, Copy, Debug)]
enum KeyRef<'a> {
    User { user: &'a User, key: &'a AccessKey },
    Root { arn: &'a str, key: &'a RootKey },
}

impl KeyEntry<'_> {
    pub fn status(&self) -> KeyStatus {
        match self.key {
            KeyRef::User { key, .. } => key.status,
            KeyRef::Root { key, .. } if key.active => KeyStatus::Active,
            KeyRef::Root { .. } => KeyStatus::Inactive,
        }
    }

    /// When the key was created (a root key: last rotated), when known.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        match self.key {
            KeyRef::User { key, .. } => Some(key.created),
            KeyRef::Root { key, .. } => key.last_rotated,
        }
    }
}

/// One row of the key inventory, built from a [`KeyEntry`] when a renderer reaches it. It
/// borrows names and rule ids from the inventory and the findings.
#[derive(Clone, Debug)]
pub struct KeyRow<'a> {
    pub user_name: &'a str,
    pub user_path: &'a str,
    pub user_arn: &'a str,
    pub is_root: bool,
    /// The key id, when the source knows it.
    pub access_key_id: Option<String>,
    /// The key id or "access key N".
    pub key_label: String,
    pub status: KeyStatus,
    pub created: Option<DateTime<Utc>>,
    pub age_days: Option<i64>,
    /// `used`, `never` or `unknown`.
    pub last_use_state: &'static str,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_display: String,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    pub last_used_where: String,
    pub days_since_last_use: Option<i64>,
    pub description: Option<&'a str>,
    pub password_enabled: Option<bool>,
    pub mfa_active: Option<bool>,
    pub login_display: &'static str,
    /// `risk` for a console password without MFA, otherwise empty; for styling.
    pub login_state: &'static str,
    /// Rules that fired on the key and are not suppressed, worst first.
    pub rules: Vec<KeyRule<'a>>,
    /// Rules that fired on the key but are suppressed.
    pub suppressed_rules: Vec<&'a str>,
    pub worst: Option<Severity>,
    /// 0 when nothing fired, 1 (low) to 4 (critical); used by the HTML sort and filter.
    pub severity_rank: u8,
    /// Beyond the first [`KEY_ROWS_SHOWN`] rows: rendered hidden until "show all". Only
    /// the rows of [`ReportModel::page_key_rows`] are ever folded.
    pub folded: bool,
    // Pre-formatted sort values for the HTML table; empty when unknown.
    pub age_sort: String,
    pub idle_sort: String,
    pub last_used_sort: String,
}

#[derive(Clone, Debug)]
pub struct KeyRule<'a> {
    pub rule_id: &'a str,
    pub severity: Severity,
}

#[derive(Clone, Debug)]
pub struct AgeHistogram {
    pub buckets: Vec<AgeBucket>,
    /// Keys with no creation date (root keys never rotated), not in any bucket.
    pub undated: usize,
    /// The chart, as SVG markup built from the numbers above.
    pub svg: String,
}

#[derive(Clone, Debug)]
pub struct AgeBucket {
    pub label: &'static str,
    pub active: usize,
    pub inactive: usize,
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
            account_id: inv.account_id.clone(),
            account_label: inv
                .account_id
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            as_of,
            as_of_text: rfc3339(as_of),
            as_of_display: display_time(as_of),
            collected_at_text: rfc3339(inv.collected_at),
            collected_at_display: display_time(inv.collected_at),
            source: source_view(&inv.source, run.saved_inventory, inv.collected_at),
            policy_file: run.policy_file.map(|p| p.display().to_string()),
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
            page_limits,
            open,
            keys,
            key_findings,
            histogram,
        }
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
        match entry.key {
            KeyRef::Root { arn, key } => key_row(
                fired,
                self.as_of,
                ROOT_USER_NAME,
                "",
                arn,
                true,
                None,
                root_key_label(key),
                entry.status(),
                key.last_rotated,
                &key.last_used,
                None,
                None,
            ),
            KeyRef::User { user, key } => key_row(
                fired,
                self.as_of,
                &user.name,
                &user.path,
                &user.arn,
                false,
                key.id.clone(),
                AccessKey::label(key),
                key.status,
                Some(key.created),
                &key.last_used,
                key.description.as_deref(),
                Some(user),
            ),
        }
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

fn root_key_label(key: &RootKey) -> String {
    format!("access key {}", key.slot)
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

/// Where the data came from. A saved inventory says so, with when and how it was collected:
/// its crawl statistics are those of that earlier run.
fn source_view(
    source: &SourceInfo,
    saved_inventory: Option<&std::path::Path>,
    collected_at: DateTime<Utc>,
) -> SourceView {
    let (kind, endpoint, file, origin) = match source {
        SourceInfo::Live { endpoint } => (
            "live",
            endpoint.clone(),
            None,
            match endpoint {
                Some(e) => format!("live crawl of the IAM API at {e}"),
                None => "live crawl of the IAM API".to_string(),
            },
        ),
        SourceInfo::CredentialReport { file } => (
            "credential-report",
            None,
            Some(file.clone()),
            format!("credential report file {file}"),
        ),
    };
    let saved_inventory = saved_inventory.map(|p| p.display().to_string());
    let label = match &saved_inventory {
        Some(saved) => format!(
            "saved inventory {saved}, collected {} by a {origin}",
            display_time(collected_at)
        ),
        None => origin,
    };
    SourceView {
        kind,
        endpoint,
        file,
        saved_inventory,
        label,
    }
}

fn coverage_view(inv: &Inventory) -> CoverageView {
    let c = inv.compute_coverage();
    let label = if c.complete {
        format!(
            "complete: {}, {}",
            plural(c.users_listed, "user", "users"),
            plural(c.keys, "user access key", "user access keys")
        )
    } else {
        format!(
            "INCOMPLETE: {} ({} of {} users fully audited, last use known for {} of {} keys)",
            plural(c.gaps, "gap", "gaps"),
            c.users_fully_audited,
            c.users_listed,
            c.keys_with_last_use,
            c.keys
        )
    };
    CoverageView {
        complete: c.complete,
        users_listed: c.users_listed,
        users_fully_audited: c.users_fully_audited,
        keys: c.keys,
        keys_with_last_use: c.keys_with_last_use,
        label,
        gaps: inv.gaps.iter().map(gap_view).collect(),
        gaps_not_in_banner: inv.gaps.len().saturating_sub(GAPS_IN_BANNER),
        removed: inv.removed_during_crawl.iter().map(removed_view).collect(),
    }
}

fn gap_view(g: &CoverageGap) -> GapView {
    let scope = match (&g.user, &g.access_key_id) {
        (Some(u), Some(k)) => format!("{u} / {k}"),
        (Some(u), None) => u.clone(),
        (None, Some(k)) => k.clone(),
        (None, None) => "account".to_string(),
    };
    GapView {
        user: g.user.clone(),
        access_key_id: g.access_key_id.clone(),
        scope,
        operation: g.operation.clone(),
        error_code: g.error_code.clone(),
        impact: g.impact.clone(),
    }
}

fn removed_view(r: &Removed) -> RemovedView {
    RemovedView {
        user: r.user.clone(),
        access_key_id: r.access_key_id.clone(),
        operation: r.operation.clone(),
    }
}

fn root_view(root: &RootKeys, source: &SourceInfo) -> RootView {
    match root {
        RootKeys::CredentialReport { keys, .. } => {
            let active = keys.iter().filter(|k| k.active).count();
            RootView {
                source: "credential-report",
                keys_present: Some(active > 0),
                active_keys: active,
                label: if active == 0 {
                    "no active root access keys".to_string()
                } else {
                    format!(
                        "{} ACTIVE",
                        plural(active, "root access key", "root access keys")
                    )
                },
                state: if active == 0 { "ok" } else { "bad" },
            }
        }
        RootKeys::AccountSummary { keys_present } => RootView {
            source: "account-summary",
            keys_present: Some(*keys_present),
            active_keys: usize::from(*keys_present),
            label: if *keys_present {
                "root access keys PRESENT (account summary)".to_string()
            } else {
                "no root access keys (account summary)".to_string()
            },
            state: if *keys_present { "bad" } else { "ok" },
        },
        RootKeys::Unknown => RootView {
            source: "unknown",
            keys_present: None,
            active_keys: 0,
            label: match source {
                SourceInfo::CredentialReport { .. } => {
                    "unknown: the credential report has no <root_account> row"
                }
                SourceInfo::Live { .. } => {
                    "unknown: neither the credential report nor the account summary could be read"
                }
            }
            .to_string(),
            state: "unknown",
        },
    }
}

fn stats_view(inv: &Inventory) -> StatsView {
    let s = &inv.stats;
    StatsView {
        calls: s.calls.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        total_calls: s.total_calls(),
        retries: s.retries,
        throttled: s.throttled,
        failed_calls: s.failed_calls,
        wall_ms: s.wall_ms,
        label: format!(
            "{} API calls, {} retries, {} throttled, {} failed, {:.1} s",
            s.total_calls(),
            s.retries,
            s.throttled,
            s.failed_calls,
            s.wall_ms as f64 / 1000.0
        ),
    }
}

/// Whether instructions carry their own numbers ("1. …"), so the HTML should not add any.
fn steps_are_numbered(steps: &[&str]) -> bool {
    steps.iter().any(|s| {
        let digits = s.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && s[digits..].starts_with(". ")
    })
}

/// Splits remediation lines into a shell script (AWS CLI commands with their `#` comments)
/// and instructions for a person (console steps). A list without any AWS CLI command is all
/// instructions.
fn split_remediation(lines: &[String]) -> (Vec<CommandLine<'_>>, Vec<&str>) {
    let is_cli = |l: &str| l.starts_with("aws ");
    if !lines.iter().any(|l| is_cli(l)) {
        // Instructions written as shell comments read better without the `#`.
        let steps = lines
            .iter()
            .map(|l| l.strip_prefix('#').map_or(l.as_str(), str::trim_start))
            .filter(|l| !l.is_empty())
            .collect();
        return (Vec::new(), steps);
    }
    let mut commands = Vec::new();
    let mut steps = Vec::new();
    for line in lines {
        if is_cli(line) {
            commands.push(CommandLine {
                text: line,
                comment: false,
            });
        } else if line.starts_with('#') {
            commands.push(CommandLine {
                text: line,
                comment: true,
            });
        } else {
            steps.push(line.as_str());
        }
    }
    (commands, steps)
}

fn suppression_view(s: &crate::findings::AppliedSuppression) -> SuppressionView {
    SuppressionView {
        reason: s.reason.clone(),
        expires: s.expires,
        expires_label: expires_label(s.expires),
    }
}

fn expires_label(expires: Option<NaiveDate>) -> String {
    expires.map_or_else(
        || "no expiry".to_string(),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

fn finding_view(ef: &EvaluatedFinding) -> FindingView<'_> {
    let f: &Finding = &ef.finding;
    let mut facts = Vec::new();
    if let Some(status) = f.key_status {
        facts.push(status.as_str().to_string());
    }
    if let Some(age) = f.key_age_days {
        facts.push(format!("created {} ago", days(age)));
    }
    match (f.last_used_date, f.days_since_last_use) {
        (Some(date), Some(n)) => facts.push(format!(
            "last used {} ({})",
            display_date(date),
            if n == 0 {
                "today".to_string()
            } else {
                format!("{} ago", days(n))
            }
        )),
        (Some(date), None) => facts.push(format!("last used {}", display_date(date))),
        (None, Some(n)) => facts.push(format!("unused for {}", days(n))),
        (None, None) => {}
    }
    let service: Vec<&str> = [&f.last_used_service, &f.last_used_region]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !service.is_empty() {
        facts.push(service.join(", "));
    }
    let (commands, steps) = split_remediation(&f.remediation);
    FindingView {
        finding: f,
        suppression: ef.suppressed.as_ref().map(suppression_view),
        key_label: f.access_key_id.as_deref().unwrap_or_default(),
        facts,
        compliance_label: f.compliance.join(", "),
        commands,
        steps_numbered: steps_are_numbered(&steps),
        steps,
    }
}

/// Anchors are built from rule ids (kebab-case); anything else is replaced, so the id is
/// always a valid fragment.
fn anchor(rule_id: &str) -> String {
    let clean: String = rule_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("rule-{clean}")
}

fn rule_summary(rule_id: &str) -> String {
    crate::rules::find(rule_id)
        .map(|r| r.info().summary.to_string())
        .unwrap_or_default()
}

fn merge_compliance(findings: &[&Finding]) -> String {
    let mut refs: Vec<&str> = Vec::new();
    for f in findings {
        for c in &f.compliance {
            if !refs.contains(&c.as_str()) {
                refs.push(c);
            }
        }
    }
    refs.join(", ")
}

/// Open findings grouped by rule (worst rule first), all open findings and the suppressed
/// ones, each list in report order whatever order the findings arrived in.
type FindingLists<'a> = (
    Vec<RuleGroup<'a>>,
    Vec<&'a EvaluatedFinding>,
    Vec<&'a EvaluatedFinding>,
);

fn finding_groups(findings: &[EvaluatedFinding]) -> FindingLists<'_> {
    let (mut open, mut suppressed): (Vec<&EvaluatedFinding>, Vec<&EvaluatedFinding>) =
        findings.iter().partition(|f| f.suppressed.is_none());
    open.sort_by(|a, b| a.finding.report_order(&b.finding));
    suppressed.sort_by(|a, b| a.finding.report_order(&b.finding));
    let mut by_rule: BTreeMap<&str, Vec<&EvaluatedFinding>> = BTreeMap::new();
    for ef in &open {
        by_rule.entry(&ef.finding.rule_id).or_default().push(ef);
    }
    let mut groups: Vec<RuleGroup> = by_rule
        .into_iter()
        .map(|(rule_id, list)| {
            let plain: Vec<&Finding> = list.iter().map(|f| &f.finding).collect();
            RuleGroup {
                rule_id,
                summary: rule_summary(rule_id),
                anchor: anchor(rule_id),
                severity: plain
                    .iter()
                    .map(|f| f.severity)
                    .max()
                    .unwrap_or(Severity::Low),
                compliance: merge_compliance(&plain),
                total: list.len(),
                in_page: list.len(),
                count_label: group_count_label(&plain),
                findings: list,
            }
        })
        .collect();
    groups.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(b.rule_id)));
    let totals: Vec<usize> = groups.iter().map(|g| g.total).collect();
    for (group, in_page) in groups
        .iter_mut()
        .zip(page_shares(&totals, FINDINGS_IN_PAGE))
    {
        group.in_page = in_page;
    }
    (groups, open, suppressed)
}

/// Splits `budget` places between lists of the given lengths: each list gets an equal
/// share, and a list shorter than its share leaves the rest to the longer ones (the longest
/// list gets what a division leaves over). The shares add up to at most `budget`, and to
/// the total length when that fits.
fn page_shares(lengths: &[usize], budget: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut shares = vec![0; lengths.len()];
    let mut left = budget;
    for (done, &i) in order.iter().enumerate() {
        let lists_left = lengths.len() - done;
        let share = left / lists_left;
        shares[i] = lengths[i].min(share);
        left -= shares[i];
    }
    shares
}

/// "3 findings", or "27 findings: 20 medium, 7 low" when the findings differ in severity.
fn group_count_label(findings: &[&Finding]) -> String {
    let total = plural(findings.len(), "finding", "findings");
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    if counts.len() > 1 {
        format!("{total}: {}", counts.join(", "))
    } else {
        total
    }
}

fn notice_view(n: &SuppressionNotice) -> NoticeView {
    NoticeView {
        rule: n.rule.clone(),
        user: n.user.clone(),
        access_key_id: n.access_key_id.clone(),
        key_label: n
            .access_key_id
            .clone()
            .unwrap_or_else(|| "any key".to_string()),
        reason: n.reason.clone(),
        expires: n.expires,
        expires_label: expires_label(n.expires),
        location: n.location.clone(),
    }
}

fn severity_rank(s: Option<Severity>) -> u8 {
    match s {
        None => 0,
        Some(Severity::Low) => 1,
        Some(Severity::Medium) => 2,
        Some(Severity::High) => 3,
        Some(Severity::Critical) => 4,
    }
}

struct LastUseParts {
    state: &'static str,
    date: Option<DateTime<Utc>>,
    service: Option<String>,
    region: Option<String>,
}

fn last_use_parts(l: &LastUse) -> LastUseParts {
    match l {
        LastUse::Used {
            date,
            service,
            region,
        } => LastUseParts {
            state: "used",
            date: Some(*date),
            service: service.clone(),
            region: region.clone(),
        },
        LastUse::Never => LastUseParts {
            state: "never",
            date: None,
            service: None,
            region: None,
        },
        LastUse::Unknown => LastUseParts {
            state: "unknown",
            date: None,
            service: None,
            region: None,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn key_row<'a>(
    fired: &[&'a EvaluatedFinding],
    as_of: DateTime<Utc>,
    user_name: &'a str,
    user_path: &'a str,
    user_arn: &'a str,
    is_root: bool,
    access_key_id: Option<String>,
    key_label: String,
    status: KeyStatus,
    created: Option<DateTime<Utc>>,
    last_used: &LastUse,
    description: Option<&'a str>,
    user: Option<&User>,
) -> KeyRow<'a> {
    let lu = last_use_parts(last_used);
    let age_days = created.map(|c| whole_days(as_of - c));
    let days_since_last_use = lu.date.map(|d| whole_days(as_of - d));
    let mut rules: Vec<KeyRule<'a>> = Vec::new();
    let mut suppressed_rules: Vec<&'a str> = Vec::new();
    for &ef in fired {
        let f = &ef.finding;
        if ef.suppressed.is_some() {
            if !suppressed_rules.contains(&f.rule_id.as_str()) {
                suppressed_rules.push(&f.rule_id);
            }
        } else if let Some(existing) = rules.iter_mut().find(|r| r.rule_id == f.rule_id) {
            existing.severity = existing.severity.max(f.severity);
        } else {
            rules.push(KeyRule {
                rule_id: &f.rule_id,
                severity: f.severity,
            });
        }
    }
    rules.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(b.rule_id)));
    suppressed_rules.sort();
    let worst = rules.iter().map(|r| r.severity).max();
    let login = user.and_then(|u| u.login.as_ref());
    let login_display = match login {
        None if is_root => "root user",
        None => "unknown",
        Some(l) if !l.password_enabled => "no password",
        Some(l) if l.mfa_active => "password, MFA",
        Some(_) => "password, NO MFA",
    };
    let last_used_display = match lu.state {
        "used" => lu.date.map(display_date).unwrap_or_default(),
        other => other.to_string(),
    };
    let last_used_where = [&lu.service, &lu.region]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" · ");
    KeyRow {
        user_name,
        user_path,
        user_arn,
        is_root,
        access_key_id,
        key_label,
        status,
        created,
        age_days,
        last_use_state: lu.state,
        last_used: lu.date,
        last_used_display,
        last_used_service: lu.service,
        last_used_region: lu.region,
        last_used_where,
        days_since_last_use,
        description,
        password_enabled: login.map(|l| l.password_enabled),
        mfa_active: login.map(|l| l.mfa_active),
        login_display,
        login_state: if login.is_some_and(|l| l.password_enabled && !l.mfa_active) {
            "risk"
        } else {
            ""
        },
        rules,
        suppressed_rules,
        worst,
        severity_rank: severity_rank(worst),
        folded: false,
        age_sort: age_days.map(|d| d.to_string()).unwrap_or_default(),
        idle_sort: days_since_last_use
            .map(|d| d.to_string())
            .unwrap_or_default(),
        last_used_sort: lu
            .date
            .map(|c| c.timestamp().to_string())
            .unwrap_or_default(),
    }
}

/// Every key of the inventory with its worst open finding, flagged keys first, worst first
/// (the inventory's order otherwise: root keys, then users by name), and the findings about
/// keys, ordered so that each entry's findings are one range.
fn key_entries<'a>(
    inv: &'a Inventory,
    findings: &'a [EvaluatedFinding],
) -> (Vec<KeyEntry<'a>>, Vec<&'a EvaluatedFinding>) {
    let mut key_findings: Vec<&EvaluatedFinding> = findings
        .iter()
        .filter(|ef| ef.finding.access_key_id.is_some())
        .collect();
    key_findings.sort_by(|a, b| {
        (&a.finding.user_name, &a.finding.access_key_id)
            .cmp(&(&b.finding.user_name, &b.finding.access_key_id))
    });
    fn of<'f>(ef: &&'f EvaluatedFinding) -> (&'f str, &'f str) {
        (
            ef.finding.user_name.as_str(),
            ef.finding.access_key_id.as_deref().unwrap_or_default(),
        )
    }
    let range = |user: &str, label: &str| {
        let start = key_findings.partition_point(|ef| of(ef) < (user, label));
        let end = start + key_findings[start..].partition_point(|ef| of(ef) == (user, label));
        (start, end)
    };
    let entry = |key: KeyRef<'a>, user: &str, label: &str| {
        let (start, end) = range(user, label);
        let worst = key_findings[start..end]
            .iter()
            .filter(|ef| ef.suppressed.is_none())
            .map(|ef| ef.finding.severity)
            .max();
        KeyEntry {
            key,
            worst,
            findings: (index_u32(start), index_u32(end)),
        }
    };
    let mut entries = Vec::with_capacity(inv.key_count() + 2);
    if let RootKeys::CredentialReport { arn, keys } = &inv.root {
        let arn = arn.as_deref().unwrap_or_default();
        for key in keys {
            entries.push(entry(
                KeyRef::Root { arn, key },
                ROOT_USER_NAME,
                &root_key_label(key),
            ));
        }
    }
    for user in &inv.users {
        for key in &user.keys {
            entries.push(entry(
                KeyRef::User { user, key },
                &user.name,
                &AccessKey::label(key),
            ));
        }
    }
    // A stable sort: keys with the same worst severity keep the inventory's order.
    entries.sort_by_key(|e| std::cmp::Reverse(e.worst));
    (entries, key_findings)
}

/// A position in the model's lists, which hold fewer than 2^32 items (IAM's quotas allow
/// far fewer users and keys).
fn index_u32(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 findings")
}

fn summary_view(
    run: &RunInfo<'_>,
    groups: &[RuleGroup],
    keys: &[KeyEntry],
    coverage: &CoverageView,
) -> SummaryView {
    let findings = &run.findings.findings;
    let by_severity: Vec<SeverityCount> = Severity::ALL
        .iter()
        .map(|&severity| SeverityCount {
            severity,
            active: findings
                .iter()
                .filter(|f| f.suppressed.is_none() && f.finding.severity == severity)
                .count(),
            suppressed: findings
                .iter()
                .filter(|f| f.suppressed.is_some() && f.finding.severity == severity)
                .count(),
        })
        .collect();
    let by_rule = rule_summaries(findings, groups);
    let total_active = by_severity.iter().map(|s| s.active).sum();
    let total_suppressed = by_severity.iter().map(|s| s.suppressed).sum();
    let worst = run.findings.worst();
    let fails_threshold = run.fail_on.is_some_and(|t| worst.is_some_and(|w| w >= t));
    let keys_flagged = keys.iter().filter(|k| k.worst.is_some()).count();
    let mut users: Vec<&str> = findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| f.finding.user_name.as_str())
        .collect();
    users.sort_unstable();
    users.dedup();
    let users_flagged = users.len();
    let mut verdict = verdict(
        coverage,
        &by_severity,
        total_active,
        keys_flagged,
        users_flagged,
        keys.len(),
    );
    if let Some(threshold) = run.fail_on {
        verdict.threshold_state = if fails_threshold { "fail" } else { "pass" };
        verdict.threshold_label = format!(
            "fail-on {}: {}",
            threshold.as_str(),
            if fails_threshold {
                "reached"
            } else {
                "not reached"
            }
        );
    }
    let by_rule_split = by_rule.windows(2).any(|w| w[0].rule_id == w[1].rule_id);
    SummaryView {
        by_severity,
        by_rule_split,
        by_rule,
        total_active,
        total_suppressed,
        worst,
        fails_threshold,
        keys_flagged,
        users_flagged,
        verdict,
    }
}

/// One row per rule and severity that has findings, so the rows add up to the severity
/// totals: a rule whose findings differ in severity (`user-two-active-keys` is low while a
/// rotation is under way) has a row for each. A rule's rows stay together: rules by their
/// worst severity, then by id; a rule's rows worst first.
fn rule_summaries(findings: &[EvaluatedFinding], groups: &[RuleGroup]) -> Vec<RuleSummary> {
    struct Pair<'f> {
        active: usize,
        suppressed: usize,
        compliance: Vec<&'f str>,
    }
    let mut pairs: BTreeMap<(&str, Severity), Pair<'_>> = BTreeMap::new();
    let mut worst: BTreeMap<&str, Severity> = BTreeMap::new();
    for ef in findings {
        let f = &ef.finding;
        let pair = pairs.entry((&f.rule_id, f.severity)).or_insert(Pair {
            active: 0,
            suppressed: 0,
            compliance: Vec::new(),
        });
        if ef.suppressed.is_some() {
            pair.suppressed += 1;
        } else {
            pair.active += 1;
        }
        for c in &f.compliance {
            if !pair.compliance.contains(&c.as_str()) {
                pair.compliance.push(c);
            }
        }
        let w = worst.entry(&f.rule_id).or_insert(f.severity);
        *w = (*w).max(f.severity);
    }
    let mut rows: Vec<(Severity, RuleSummary)> = pairs
        .into_iter()
        .map(|((rule_id, severity), pair)| {
            (
                worst[rule_id],
                RuleSummary {
                    rule_id: rule_id.to_string(),
                    summary: rule_summary(rule_id),
                    severity,
                    active: pair.active,
                    suppressed: pair.suppressed,
                    anchor: if groups.iter().any(|g| g.rule_id == rule_id) {
                        anchor(rule_id)
                    } else {
                        String::new()
                    },
                    compliance: pair.compliance.join(", "),
                },
            )
        })
        .collect();
    rows.sort_by(|(wa, a), (wb, b)| {
        wb.cmp(wa)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| b.severity.cmp(&a.severity))
    });
    rows.into_iter().map(|(_, row)| row).collect()
}

fn verdict(
    coverage: &CoverageView,
    by_severity: &[SeverityCount],
    total_active: usize,
    keys_flagged: usize,
    users_flagged: usize,
    keys: usize,
) -> Verdict {
    let counts: Vec<String> = by_severity
        .iter()
        .filter(|s| s.active > 0)
        .map(|s| format!("{} {}", s.active, s.severity.as_str()))
        .collect();
    let findings_text = if total_active == 0 {
        "No open findings".to_string()
    } else {
        format!(
            "{}: {}",
            plural(total_active, "open finding", "open findings"),
            counts.join(", ")
        )
    };
    let detail = format!(
        "{} of {} flagged, across {}.",
        plural(keys_flagged, "access key", "access keys"),
        keys,
        plural(users_flagged, "user", "users")
    );
    if !coverage.complete {
        Verdict {
            state: "incomplete",
            headline: format!(
                "Coverage is incomplete ({}). {findings_text} in what could be read.",
                plural(coverage.gaps.len(), "gap", "gaps")
            ),
            detail,
            threshold_label: String::new(),
            threshold_state: "",
        }
    } else if total_active == 0 {
        Verdict {
            state: "clean",
            headline: format!("{findings_text}. Every access key passed every rule."),
            detail: format!(
                "{} audited with complete coverage.",
                plural(keys, "access key", "access keys")
            ),
            threshold_label: String::new(),
            threshold_state: "",
        }
    } else {
        Verdict {
            state: "findings",
            headline: format!("{findings_text}."),
            detail,
            threshold_label: String::new(),
            threshold_state: "",
        }
    }
}

fn histogram(keys: &[KeyEntry], as_of: DateTime<Utc>) -> AgeHistogram {
    let mut buckets: Vec<AgeBucket> = AGE_BUCKETS
        .iter()
        .map(|(label, _)| AgeBucket {
            label,
            active: 0,
            inactive: 0,
        })
        .collect();
    let mut undated = 0;
    for k in keys {
        let Some(age) = k.created().map(|c| whole_days(as_of - c)) else {
            undated += 1;
            continue;
        };
        let i = AGE_BUCKETS
            .iter()
            .position(|(_, max)| max.is_none_or(|m| age <= m))
            .unwrap_or(AGE_BUCKETS.len() - 1);
        match k.status() {
            KeyStatus::Active => buckets[i].active += 1,
            KeyStatus::Inactive => buckets[i].inactive += 1,
        }
    }
    let svg = histogram_svg(&buckets);
    AgeHistogram {
        buckets,
        undated,
        svg,
    }
}

/// A stacked bar chart of key ages. Only numbers and the fixed bucket labels go into it.
fn histogram_svg(buckets: &[AgeBucket]) -> String {
    use std::fmt::Write;
    const W: u32 = 640;
    const H: u32 = 240;
    const LEFT: u32 = 48;
    const RIGHT: u32 = 16;
    const TOP: u32 = 28;
    const BOTTOM: u32 = 44;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max = buckets
        .iter()
        .map(|b| b.active + b.inactive)
        .max()
        .unwrap_or(0);
    let scale_max = nice_ceiling(max.max(1));
    let slot = plot_w as f64 / buckets.len() as f64;
    let bar_w = slot * 0.56;
    let y_of = |n: usize| TOP as f64 + plot_h as f64 * (1.0 - n as f64 / scale_max as f64);
    let mut s = String::new();
    let total: usize = buckets.iter().map(|b| b.active + b.inactive).sum();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="age-chart-title"><title id="age-chart-title">Access key age distribution: {total} keys by age, active and inactive</title>"#
    );
    for i in 0..=4u32 {
        let n = scale_max * i as usize / 4;
        let y = y_of(n);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{n}</text>"#,
            W - RIGHT,
            LEFT - 8,
            y + 4.0
        );
    }
    for (i, b) in buckets.iter().enumerate() {
        let x = LEFT as f64 + slot * i as f64 + (slot - bar_w) / 2.0;
        let y_active = y_of(b.active);
        let y_total = y_of(b.active + b.inactive);
        let base = y_of(0);
        if b.active > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-active" x="{x:.1}" y="{y_active:.1}" width="{bar_w:.1}" height="{:.1}"><title>{}: {} active</title></rect>"#,
                base - y_active,
                b.label,
                b.active
            );
        }
        if b.inactive > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-inactive" x="{x:.1}" y="{y_total:.1}" width="{bar_w:.1}" height="{:.1}"><title>{}: {} inactive</title></rect>"#,
                y_active - y_total,
                b.label,
                b.inactive
            );
        }
        let cx = x + bar_w / 2.0;
        let _ = write!(
            s,
            r#"<text class="value" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="label" x="{cx:.1}" y="{}" text-anchor="middle">{}</text>"#,
            y_total - 6.0,
            b.active + b.inactive,
            H - BOTTOM + 18,
            b.label
        );
    }
    let _ = write!(
        s,
        r#"<line class="baseline" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
        W - RIGHT,
        y_of(0),
        y_of(0)
    );
    let ly = H - 10;
    let _ = write!(
        s,
        r#"<rect class="bar-active" x="{LEFT}" y="{}" width="12" height="12"/><text class="legend" x="{}" y="{ly}">Active</text><rect class="bar-inactive" x="{}" y="{}" width="12" height="12"/><text class="legend" x="{}" y="{ly}">Inactive</text></svg>"#,
        ly - 10,
        LEFT + 18,
        LEFT + 80,
        ly - 10,
        LEFT + 98
    );
    s
}

/// The smallest "round" number (1, 2, 5 × 10^n, or a multiple of 4 below 10) at or above `n`,
/// so the four gridlines land on whole numbers.
fn nice_ceiling(n: usize) -> usize {
    if n <= 4 {
        return 4;
    }
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            let candidate = 4 * m * step;
            if candidate >= n {
                return candidate;
            }
        }
        step *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
