//! The organization view: one row per account, the organization's totals, and each audited
//! account's own [`ReportModel`] (its page, and its rows in the CSV and JSON files).

use std::collections::BTreeMap;

use crate::findings::FindingSet;
use crate::org::{AccessProblem, AccountRecord, Outcome};

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
pub struct AccountView<'a> {
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
    pub problem: Option<&'a AccessProblem>,
    /// The account's coverage in words.
    pub coverage_label: String,
    pub users: usize,
    pub keys: usize,
    pub gaps: usize,
    /// Open findings, critical first (four counts).
    pub open: [usize; 4],
    pub suppressed: usize,
    /// Open findings new since the baseline.
    pub new: usize,
    pub worst: Option<Severity>,
    /// The account's page (`account-<id>.html`), when it was audited.
    pub page: Option<String>,
    /// The account's full report model, when it was audited.
    pub model: Option<ReportModel<'a>>,
}

impl AccountView<'_> {
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

/// The whole organization report, ready to render.
#[derive(Clone, Debug)]
pub struct OrgModel<'a> {
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
    pub accounts: Vec<AccountView<'a>>,
    pub expired_suppressions: Vec<NoticeView>,
    pub unused_suppressions: Vec<NoticeView>,
    /// Per-severity counts for the overview's cards, critical first.
    pub by_severity: Vec<SeverityCount>,
    /// One row per rule and severity over every audited account: worst severity first,
    /// then by rule id.
    pub by_rule: Vec<RuleSummary>,
    /// The comparison with an earlier run over every account, and the trend.
    pub tracking: TrackingView,
}

impl<'a> OrgModel<'a> {
    pub fn build(run: &OrgRunInfo<'a>) -> OrgModel<'a> {
        let manifest = run.manifest;
        let title = match &manifest.organization_id {
            Some(id) => format!("organization {id}"),
            None => plural(manifest.accounts.len(), "account", "accounts"),
        };
        let mut totals = OrgTotals::default();
        let mut accounts: Vec<AccountView<'a>> = manifest
            .accounts
            .iter()
            .map(|record| account_view(run, record, &title, &mut totals))
            .collect();
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
            run.findings
                .values()
                .filter_map(|f| f.worst_regression())
                .max()
        } else {
            totals.worst
        };
        let fails_threshold = run.fail_on.is_some_and(|t| gate.is_some_and(|w| w >= t));
        let mut tracking = tracking_view(run.tracking, run.findings_notices);
        for set in run.findings.values() {
            let c = crate::baseline::Changes::of(set);
            tracking.changes.new += c.new;
            tracking.changes.updated += c.updated;
            tracking.changes.unchanged += c.unchanged;
        }
        tracking.line = run.tracking.and_then(|t| t.summary_line(tracking.changes));
        let by_severity = Severity::ALL
            .iter()
            .enumerate()
            .map(|(i, severity)| SeverityCount {
                severity: *severity,
                active: totals.open[i],
                suppressed: accounts
                    .iter()
                    .filter_map(|a| a.model.as_ref())
                    .flat_map(|m| m.summary.by_severity.iter())
                    .filter(|c| c.severity == *severity)
                    .map(|c| c.suppressed)
                    .sum(),
            })
            .collect();
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
        let by_rule = org_rule_summary(&accounts);
        OrgModel {
            tool_version: TOOL_VERSION,
            as_of: run.as_of,
            as_of_text: rfc3339(run.as_of),
            as_of_display: display_time(run.as_of),
            listed_at_text: rfc3339(manifest.listed_at),
            listed_at_display: display_time(manifest.listed_at),
            organization_id: manifest.organization_id.clone(),
            management_account_id: manifest.management_account_id.clone(),
            caller_account_id: manifest.caller_account_id.clone(),
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
        }
    }

    /// The audited accounts' models, in the overview's order.
    pub fn account_models(&self) -> impl Iterator<Item = (&AccountView<'a>, &ReportModel<'a>)> {
        self.accounts
            .iter()
            .filter_map(|a| a.model.as_ref().map(|m| (a, m)))
    }

    /// The accounts whose coverage is not complete: not audited, or audited with gaps.
    pub fn accounts_with_problems(&self) -> impl Iterator<Item = &AccountView<'a>> {
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

fn account_view<'a>(
    run: &OrgRunInfo<'a>,
    record: &'a AccountRecord,
    title: &str,
    totals: &mut OrgTotals,
) -> AccountView<'a> {
    let account = &record.account;
    let inventory = run.inventories.get(&account.id);
    let findings = run.findings.get(&account.id);
    let (model, problem) = match (&record.result, inventory, findings) {
        (Outcome::Audited { .. }, Some(inventory), Some(findings)) => {
            let mut model = ReportModel::build(&crate::report::RunInfo {
                inventory,
                findings,
                as_of: run.as_of,
                fail_on: run.fail_on,
                policy_file: run.policy_file,
                saved_inventory: None,
                scope: run.scopes.get(&account.id),
                fail_on_new: run.fail_on_new,
                tracking: None,
            });
            // An account's page compares the account; the trend is the overview's.
            if let Some(t) = run.tracking {
                let account_run = crate::baseline::RunTracking {
                    comparison: t.comparison.clone(),
                    trend: None,
                    history_dir: None,
                };
                model.tracking = tracking_view(Some(&account_run), findings);
            }
            model.org = Some(OrgContext {
                overview: "report.html",
                label: title.to_string(),
                account_name: account.name.clone(),
                ou_path: account.ou_path.clone(),
            });
            (Some(model), None)
        }
        (Outcome::Unreachable(problem), _, _) => (None, Some(problem)),
        _ => (None, None),
    };
    let mut view = AccountView {
        id: account.id.clone(),
        name: account.name.clone(),
        ou_path: account.ou_path.clone(),
        state: account.state.as_str().to_string(),
        outcome: record.result.label(),
        kind: "na",
        problem,
        coverage_label: String::new(),
        users: 0,
        keys: 0,
        gaps: 0,
        open: [0; 4],
        suppressed: 0,
        new: 0,
        worst: None,
        page: None,
        model: None,
    };
    match (&model, problem) {
        (Some(m), _) => {
            view.new = m
                .open
                .iter()
                .filter(|f| f.tracking.status == crate::findings::Status::New)
                .count();
            view.users = m.coverage.users_listed;
            view.keys = m.keys.len();
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
            view.worst = m.summary.worst;
            view.kind = if m.coverage.complete { "ok" } else { "gap" };
            view.coverage_label = m.coverage.label.clone();
            view.page = Some(account_page(&account.id));
            totals.audited += 1;
            totals.users += view.users;
            totals.keys += view.keys;
            totals.gaps += view.gaps;
            totals.accounts_with_gaps += usize::from(view.gaps > 0);
            totals.suppressed += view.suppressed;
            totals.keys_flagged += m.summary.keys_flagged;
            for i in 0..4 {
                totals.open[i] += view.open[i];
            }
            totals.worst = totals.worst.max(view.worst);
        }
        (None, Some(p)) => {
            view.kind = "gap";
            view.coverage_label = format!("{} failed with {}", p.operation, p.error_code);
            totals.unreachable += 1;
        }
        (None, None) => {
            view.coverage_label = match &record.result {
                Outcome::NotActive => format!("not assessed: the account is {}", view.state),
                Outcome::Excluded => "not assessed: excluded with --exclude-accounts".to_string(),
                Outcome::OutOfScope => "not assessed: out of the policy's scope".to_string(),
                Outcome::OtherShard => "not assessed: audited by another shard".to_string(),
                _ => "not assessed: no inventory".to_string(),
            };
            totals.not_assessed += 1;
        }
    }
    view.model = model;
    view
}

/// The accounts' rule rows added up per rule and severity.
fn org_rule_summary(accounts: &[AccountView]) -> Vec<RuleSummary> {
    let mut rows: Vec<RuleSummary> = Vec::new();
    for row in accounts
        .iter()
        .filter_map(|a| a.model.as_ref())
        .flat_map(|m| &m.summary.by_rule)
    {
        match rows
            .iter_mut()
            .find(|r| r.rule_id == row.rule_id && r.severity == row.severity)
        {
            Some(r) => {
                r.active += row.active;
                r.suppressed += row.suppressed;
            }
            None => rows.push(RuleSummary {
                // Anchors point into one account's page; the overview has none.
                anchor: String::new(),
                ..row.clone()
            }),
        }
    }
    rows.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    rows
}

/// The file name of an account's page in an organization report.
pub fn account_page(account_id: &str) -> String {
    format!("account-{account_id}.html")
}

/// Splits the run's findings by account. Findings without an account id go nowhere: an
/// organization run only reads inventories that name their account.
///
/// The second set keeps what belongs to the run as a whole: the expired and unused
/// suppressions, and every account's resolved and not-assessed baseline findings (also
/// split by account, for the account pages), since an account that was not audited has
/// no page of its own.
pub fn split_by_account(findings: FindingSet) -> (BTreeMap<String, FindingSet>, FindingSet) {
    let mut by_account: BTreeMap<String, FindingSet> = BTreeMap::new();
    let FindingSet {
        findings,
        expired_suppressions,
        unused_suppressions,
        resolved,
        not_assessed,
    } = findings;
    let account = |id: &Option<String>| id.clone().unwrap_or_default();
    for finding in findings {
        let id = account(&finding.finding.account_id);
        by_account.entry(id).or_default().findings.push(finding);
    }
    for past in &resolved {
        let id = account(&past.account_id);
        by_account
            .entry(id)
            .or_default()
            .resolved
            .push(past.clone());
    }
    for past in &not_assessed {
        let id = account(&past.finding.account_id);
        by_account
            .entry(id)
            .or_default()
            .not_assessed
            .push(past.clone());
    }
    (
        by_account,
        FindingSet {
            findings: Vec::new(),
            expired_suppressions,
            unused_suppressions,
            resolved,
            not_assessed,
        },
    )
}
