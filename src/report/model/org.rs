//! The organization view: one row per account, the organization's totals, and each audited
//! account's own [`ReportModel`] (its page, and its rows in the CSV and JSON files).

use std::collections::BTreeMap;

use crate::findings::{FindingSet, IdSource};
use crate::org::{AccessProblem, Account, AccountRecord, Outcome};

use super::*;
use crate::report::OrgRunInfo;

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

/// One account's row in the overview.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub id: String,
    pub name: Option<String>,
    pub ou_path: Option<String>,
    /// As Organizations spells it (`ACTIVE`, `CLOSED`…); `NOT_LISTED` when named by id.
    pub state: String,
    /// `audited`, `not active`, `excluded`, `out of scope`, `not audited`.
    pub outcome: &'static str,
    /// `ok` (audited, complete), `gap` (audited with gaps, or not audited), `na` (not
    /// assessed on purpose), for styling and filtering.
    pub kind: &'static str,
    /// Why an active account was not audited.
    pub problem: Option<AccessProblem>,
    /// The account's coverage in words.
    pub coverage_label: String,
    pub users: usize,
    pub keys: usize,
    pub gaps: usize,
    /// Open findings, critical first (four counts).
    pub open: [usize; 4],
    pub suppressed: usize,
    /// Keys with at least one open finding.
    pub keys_flagged: usize,
    /// Open findings new since the baseline.
    pub new: usize,
    pub worst: Option<Severity>,
    /// The account's page (`account-<id>.html`), when it was audited.
    pub page: Option<String>,
    /// Audited: it has a page, and its rows are in the CSV and JSON files.
    pub audited: bool,
}

impl AccountView {
    /// 4 critical … 1 low, 0 none: the overview's severity sort and filter.
    pub fn severity_rank(&self) -> u8 {
        self.worst.map_or(0, |s| s as u8 + 1)
    }

    pub fn open_total(&self) -> usize {
        self.open.iter().sum()
    }

    /// The overview's "worst" order: not audited first, then by worst severity, then by
    /// the number of open findings.
    pub fn worst_rank(&self) -> u64 {
        if self.problem.is_some() {
            return 9_000_000_000;
        }
        u64::from(self.severity_rank()) * 1_000_000_000 + self.open_total() as u64
    }

    /// The name, or the id when the account has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// The organization's totals.
#[derive(Clone, Debug, Default)]
pub struct OrgTotals {
    /// Accounts the run selected (listed, named, or read).
    pub selected: usize,
    pub audited: usize,
    /// Active accounts that could not be audited: coverage gaps.
    pub unreachable: usize,
    /// Not active, excluded or out of scope: not assessed on purpose.
    pub not_assessed: usize,
    pub users: usize,
    pub keys: usize,
    /// Gaps inside audited accounts.
    pub gaps: usize,
    /// Audited accounts with gaps.
    pub accounts_with_gaps: usize,
    /// Open findings, critical first.
    pub open: [usize; 4],
    pub suppressed: usize,
    pub keys_flagged: usize,
    pub worst: Option<Severity>,
}

impl OrgTotals {
    pub fn open_total(&self) -> usize {
        self.open.iter().sum()
    }
}

/// What an organization's reports add up over its audited accounts, gathered account by
/// account as each one is written ([`crate::report::OrgWriter`]), so no account's model is
/// kept for the overview.
#[derive(Clone, Debug, Default)]
pub struct OrgSums {
    /// Suppressed findings per severity, critical first.
    pub suppressed: [usize; 4],
    /// One row per rule and severity, in the order first met ([`OrgModel::by_rule`] is
    /// sorted).
    pub by_rule: Vec<RuleSummary>,
    pub users_listed: usize,
    pub users_fully_audited: usize,
    /// Keys in the accounts' coverage.
    pub keys: usize,
    pub keys_with_last_use: usize,
    pub users_flagged: usize,
    /// Calls per operation, over every account's crawl.
    pub calls: BTreeMap<String, u64>,
    pub total_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failed_calls: u64,
    /// The longest account's crawl.
    pub wall_ms: u64,
    pub bytes_received: u64,
    /// `credential-report` when any account's findings ids come from a credential report.
    pub id_source: IdSource,
    /// The endpoint of the first audited account that names one.
    pub endpoint: Option<String>,
    /// Findings new, updated and unchanged since the baseline.
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The worst new or worsened open finding (`--fail-on-new`).
    pub worst_regression: Option<Severity>,
}

impl OrgSums {
    /// Adds one audited account.
    pub fn add(&mut self, m: &ReportModel, findings: &FindingSet) {
        for (i, severity) in Severity::ALL.iter().enumerate() {
            self.suppressed[i] += m
                .summary
                .by_severity
                .iter()
                .filter(|c| c.severity == *severity)
                .map(|c| c.suppressed)
                .sum::<usize>();
        }
        for row in &m.summary.by_rule {
            match self
                .by_rule
                .iter_mut()
                .find(|r| r.rule_id == row.rule_id && r.severity == row.severity)
            {
                Some(r) => {
                    r.active += row.active;
                    r.suppressed += row.suppressed;
                }
                None => self.by_rule.push(RuleSummary {
                    // Anchors point into one account's page; the overview has none.
                    anchor: String::new(),
                    ..row.clone()
                }),
            }
        }
        self.users_listed += m.coverage.users_listed;
        self.users_fully_audited += m.coverage.users_fully_audited;
        self.keys += m.coverage.keys;
        self.keys_with_last_use += m.coverage.keys_with_last_use;
        self.users_flagged += m.summary.users_flagged;
        for (op, n) in &m.stats.calls {
            *self.calls.entry(op.clone()).or_default() += n;
        }
        self.total_calls += m.stats.total_calls;
        self.retries += m.stats.retries;
        self.throttled += m.stats.throttled;
        self.failed_calls += m.stats.failed_calls;
        self.wall_ms = self.wall_ms.max(m.stats.wall_ms);
        self.bytes_received += m.stats.bytes_received;
        if m.id_source == IdSource::CredentialReport {
            self.id_source = IdSource::CredentialReport;
        }
        if self.endpoint.is_none() {
            self.endpoint = m.source.endpoint.clone();
        }
        let c = crate::baseline::Changes::of(findings);
        self.new += c.new;
        self.updated += c.updated;
        self.unchanged += c.unchanged;
        self.worst_regression = self.worst_regression.max(findings.worst_regression());
    }
}

/// The whole organization report, ready to render.
#[derive(Clone, Debug)]
pub struct OrgModel {
    pub tool_version: &'static str,
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
    pub role_name: Option<String>,
    pub policy_file: Option<String>,
    pub fail_on: Option<Severity>,
    pub fail_on_label: String,
    pub fails_threshold: bool,
    /// `--fail-on-new`: only new and worse findings reach the threshold.
    pub fail_on_new: bool,
    /// Every selected active account audited, each with complete coverage.
    pub complete: bool,
    pub totals: OrgTotals,
    /// Worst first: not audited, then by open findings (critical first), then by id.
    pub accounts: Vec<AccountView>,
    pub expired_suppressions: Vec<NoticeView>,
    pub unused_suppressions: Vec<NoticeView>,
    /// Per-severity counts for the overview's cards, critical first.
    pub by_severity: Vec<SeverityCount>,
    /// One row per rule and severity over every audited account: worst severity first,
    /// then by rule id.
    pub by_rule: Vec<RuleSummary>,
    /// The comparison with an earlier run over every account, and the trend.
    pub tracking: TrackingView,
    /// The audited accounts' figures added up.
    pub sums: OrgSums,
}

/// The title of an organization's reports: "organization o-abc123" or "4 accounts".
pub fn org_title(manifest: &crate::org::Manifest) -> String {
    match &manifest.organization_id {
        Some(id) => format!("organization {id}"),
        None => plural(manifest.accounts.len(), "account", "accounts"),
    }
}

impl OrgModel {
    /// The overview of the run, from every account's row (in any order) and the audited
    /// accounts' sums.
    pub fn build(run: &OrgRunInfo<'_>, mut accounts: Vec<AccountView>, sums: OrgSums) -> OrgModel {
        let manifest = run.manifest;
        let title = org_title(manifest);
        let mut totals = OrgTotals::default();
        for view in &accounts {
            add_to_totals(view, &mut totals);
        }
        totals.keys_flagged = accounts.iter().map(|a| a.keys_flagged).sum();
        accounts.sort_by(|a, b| {
            let unreachable = |v: &AccountView| v.problem.is_some();
            unreachable(b)
                .cmp(&unreachable(a))
                .then_with(|| b.open.cmp(&a.open))
                .then_with(|| (b.gaps > 0).cmp(&(a.gaps > 0)))
                .then_with(|| a.id.cmp(&b.id))
        });
        totals.selected = manifest.accounts.len();
        let complete = totals.unreachable == 0 && totals.gaps == 0;
        let gate = if run.fail_on_new {
            sums.worst_regression
        } else {
            totals.worst
        };
        let fails_threshold = Severity::reaches(gate, run.fail_on);
        let mut tracking = tracking_view(run.tracking, run.findings_notices);
        tracking.changes.new += sums.new;
        tracking.changes.updated += sums.updated;
        tracking.changes.unchanged += sums.unchanged;
        tracking.line = run.tracking.and_then(|t| t.summary_line(tracking.changes));
        let by_severity = Severity::ALL
            .iter()
            .enumerate()
            .map(|(i, severity)| SeverityCount {
                severity: *severity,
                active: totals.open[i],
                suppressed: sums.suppressed[i],
            })
            .collect();
        let mut by_rule = sums.by_rule.clone();
        by_rule.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        let saved_inventories: Vec<String> = run
            .saved_inventories
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let source_label = if saved_inventories.is_empty() {
            format!(
                "live crawl; accounts listed {}",
                display_time(manifest.listed_at)
            )
        } else {
            format!("saved inventories: {}", saved_inventories.join(", "))
        };
        OrgModel {
            tool_version: TOOL_VERSION,
            as_of: run.as_of,
            as_of_text: rfc3339(run.as_of),
            as_of_display: display_time(run.as_of),
            listed_at_text: rfc3339(manifest.listed_at),
            listed_at_display: display_time(manifest.listed_at),
            organization_id: manifest.organization_id.clone(),
            management_account_id: manifest
                .management_account_id
                .as_ref()
                .map(|id| id.to_string()),
            caller_account_id: manifest.caller_account_id.as_ref().map(|id| id.to_string()),
            title,
            selection: manifest.selection.describe(),
            selection_data: manifest.selection.clone(),
            source_kind: if saved_inventories.is_empty() {
                "live"
            } else {
                "saved-inventory"
            },
            source_label,
            saved_inventories,
            role_name: manifest.selection.role_name.clone(),
            policy_file: run.policy_file.map(|p| p.display().to_string()),
            fail_on: run.fail_on,
            fail_on_label: run
                .fail_on
                .map_or_else(|| "none".to_string(), |s| s.as_str().to_string()),
            fails_threshold,
            fail_on_new: run.fail_on_new,
            complete,
            totals,
            accounts,
            tracking,
            expired_suppressions: run
                .findings_notices
                .expired_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            unused_suppressions: run
                .findings_notices
                .unused_suppressions
                .iter()
                .map(notice_view)
                .collect(),
            by_severity,
            by_rule,
            sums,
        }
    }

    /// The accounts whose coverage is not complete: not audited, or audited with gaps.
    pub fn accounts_with_problems(&self) -> impl Iterator<Item = &AccountView> {
        self.accounts.iter().filter(|a| a.kind == "gap")
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
                plural(t.gaps, "gap", "gaps")
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

/// What an audited account's page needs besides its inventory and findings.
#[derive(Clone, Debug)]
pub struct PageContext {
    /// The organization's title ([`org_title`]).
    pub title: String,
    pub as_of: DateTime<Utc>,
    pub fail_on: Option<Severity>,
    pub policy_file: Option<std::path::PathBuf>,
    pub fail_on_new: bool,
    /// The baseline compared with: an account's page shows the comparison, the overview
    /// the trend.
    pub comparison: Option<crate::baseline::ComparisonInfo>,
}

/// An audited account's page model.
pub fn account_model<'a>(
    context: &'a PageContext,
    account: &Account,
    inventory: &'a Inventory,
    findings: &'a FindingSet,
    scope: Option<&'a crate::policy::ScopeOutcome>,
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
    });
    // An account's page compares the account; the trend is the overview's.
    let account_run = crate::baseline::RunTracking {
        comparison: context.comparison.clone(),
        trend: None,
        history_dir: None,
    };
    model.tracking = tracking_view(Some(&account_run), findings);
    model.org = Some(OrgContext {
        overview: "report.html",
        label: context.title.clone(),
        account_name: account.name.clone(),
        ou_path: account.ou_path.clone(),
    });
    model
}

/// An audited account's row in the overview.
pub fn audited_view(record: &AccountRecord, m: &ReportModel) -> AccountView {
    let mut view = blank_view(record);
    view.audited = true;
    view.new = m
        .open
        .iter()
        .filter(|f| f.tracking.status == crate::findings::Status::New)
        .count();
    view.users = m.coverage.users_listed;
    view.keys = m.coverage.keys;
    view.gaps = m.coverage.gaps.len();
    for (i, severity) in Severity::ALL.iter().enumerate() {
        view.open[i] = m
            .summary
            .by_severity
            .iter()
            .find(|c| c.severity == *severity)
            .map_or(0, |c| c.active);
    }
    view.suppressed = m.summary.total_suppressed;
    view.keys_flagged = m.summary.keys_flagged;
    view.worst = m.summary.worst;
    view.kind = if m.coverage.complete { "ok" } else { "gap" };
    view.coverage_label = m.coverage.label.clone();
    view.page = Some(account_page(&record.account.id));
    view
}

/// The row of an account that was not audited: unreachable, or not assessed on purpose.
pub fn other_view(record: &AccountRecord) -> AccountView {
    let mut view = blank_view(record);
    match &record.result {
        Outcome::Unreachable(p) => {
            view.kind = "gap";
            view.coverage_label = format!("{} failed with {}", p.operation, p.error_code);
            view.problem = Some(p.clone());
        }
        Outcome::NotActive => {
            view.coverage_label = format!("not assessed: the account is {}", view.state)
        }
        Outcome::Excluded => {
            view.coverage_label = "not assessed: excluded with --exclude-accounts".to_string()
        }
        Outcome::OutOfScope => {
            view.coverage_label = "not assessed: out of the policy's scope".to_string()
        }
        Outcome::OtherShard => {
            view.coverage_label = "not assessed: audited by another shard".to_string()
        }
        Outcome::Audited { .. } => view.coverage_label = "not assessed: no inventory".to_string(),
    }
    view
}

fn blank_view(record: &AccountRecord) -> AccountView {
    let account = &record.account;
    AccountView {
        id: account.id.to_string(),
        name: account.name.clone(),
        ou_path: account.ou_path.clone(),
        state: account.state.as_str().to_string(),
        outcome: record.result.label(),
        kind: "na",
        problem: None,
        coverage_label: String::new(),
        users: 0,
        keys: 0,
        gaps: 0,
        open: [0; 4],
        suppressed: 0,
        keys_flagged: 0,
        new: 0,
        worst: None,
        page: None,
        audited: false,
    }
}

fn add_to_totals(view: &AccountView, totals: &mut OrgTotals) {
    if view.audited {
        totals.audited += 1;
        totals.users += view.users;
        totals.keys += view.keys;
        totals.gaps += view.gaps;
        totals.accounts_with_gaps += usize::from(view.gaps > 0);
        totals.suppressed += view.suppressed;
        for i in 0..4 {
            totals.open[i] += view.open[i];
        }
        totals.worst = totals.worst.max(view.worst);
    } else if view.problem.is_some() {
        totals.unreachable += 1;
    } else {
        totals.not_assessed += 1;
    }
}

/// The file name of an account's page in an organization report.
pub fn account_page(account_id: &str) -> String {
    format!("account-{account_id}.html")
}
