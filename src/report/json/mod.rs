//! `report.json`: the document scheduled jobs read.
//!
//! These are the output's own types, version 4 (`schema_version`), described by
//! `schema/report.schema.json`. They are filled from the view model, never from the internal
//! structs, so a refactor inside keyhygiene cannot change what a parser sees. Add optional
//! fields freely; anything else needs a new schema version.
//!
//! One shape serves both kinds of run (`kind`): a single account's document is an
//! organization document of one account. The top-level coverage, statistics, summary and
//! findings cover the whole run; `accounts` has one entry per account with its own
//! coverage and summary; the account-level fields (`account_id`, `credential_report`,
//! `root_access_keys`) are `null` in an organization's document.

mod findings;
mod org;
mod tracking;

pub use findings::*;
pub use org::{spill_account, spill_other, write_org_json};
pub use tracking::*;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::findings::{Figures, PerSeverity, RuleTally, Severity};
use crate::inventory::CrawlStats;

use super::model::{AccountView, GapView, NoticeView, RemovedView, ReportModel};
use super::spilled::SpilledList;

/// The version of the `report.json` document.
///
/// Version 4: every finding has `finding_id`, `status`, `first_seen`, `previous_severity`,
/// `suppression_change` and `user_id`; the document has `finding_ids`, `comparison`,
/// `resolved`, `not_assessed` and `history`. Added since, as the schema allows: every
/// finding's `last_used_source`.
pub const REPORT_SCHEMA_VERSION: u32 = 4;

#[derive(Serialize)]
pub struct ReportDoc<'a> {
    pub schema_version: u32,
    /// `account` or `organization`.
    pub kind: &'a str,
    pub tool: Tool<'a>,
    pub as_of: &'a str,
    pub account_id: Option<&'a str>,
    pub source: Source<'a>,
    pub collected_at: &'a str,
    pub credential_report: Option<CredentialReport<'a>>,
    pub policy: Policy<'a>,
    pub coverage: Coverage<'a>,
    pub root_access_keys: Option<Root<'a>>,
    pub crawl_stats: Stats<'a>,
    pub summary: Summary<'a>,
    pub findings: FindingList<'a>,
    pub suppressed_findings: FindingList<'a>,
    pub expired_suppressions: Vec<Notice<'a>>,
    pub unused_suppressions: Vec<Notice<'a>>,
    pub organization: Option<Organization<'a>>,
    pub accounts: Items<'a, AccountEntry<'a>>,
    /// How `finding_id` was computed: scheme `kh1`, from the IAM API or a credential report.
    pub finding_ids: FindingIds,
    /// The baseline this run was compared with; `null` without one.
    pub comparison: Option<Comparison<'a>>,
    /// Baseline findings fixed since the baseline: their subject was assessed and the
    /// finding is gone.
    pub resolved: Vec<PastEntry<'a>>,
    /// Baseline findings this run could not judge (a coverage gap, the scope, an account
    /// not audited), carried with their `first_seen` so the next run still knows them.
    pub not_assessed: Vec<PastEntry<'a>>,
    /// The history folder and the trend over its runs, with `--history`.
    pub history: Option<HistoryEntry<'a>>,
}

#[derive(Serialize)]
pub struct Organization<'a> {
    pub id: Option<&'a str>,
    pub management_account_id: Option<&'a str>,
    pub caller_account_id: Option<&'a str>,
    pub listed_at: &'a str,
    pub selection: &'a crate::org::Selection,
    pub accounts_selected: usize,
    pub accounts_audited: usize,
    pub accounts_not_audited: usize,
    pub accounts_not_assessed: usize,
}

/// One account of the run.
#[derive(Serialize)]
pub struct AccountEntry<'a> {
    pub account_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub ou_path: Option<&'a str>,
    /// Organizations' `State`; `NOT_LISTED` for an account named by id; `null` in a
    /// single-account run.
    pub state: Option<&'a str>,
    /// `audited`, `not active`, `excluded`, `out of scope` or `not audited`.
    pub outcome: &'a str,
    /// Why an active account was not audited.
    pub problem: Option<Problem<'a>>,
    pub collected_at: Option<&'a str>,
    pub coverage: Option<AccountCoverage>,
    pub root_access_keys: Option<Root<'a>>,
    pub credential_report: Option<CredentialReport<'a>>,
    pub summary: Option<AccountSummary<'a>>,
    pub crawl_stats: Option<Stats<'a>>,
}

#[derive(Serialize)]
pub struct Problem<'a> {
    pub operation: &'a str,
    pub error_code: &'a str,
    pub message: &'a str,
    pub role_arn: Option<&'a str>,
}

#[derive(Serialize)]
pub struct AccountCoverage {
    pub complete: bool,
    pub users_listed: usize,
    pub users_fully_audited: usize,
    pub keys: usize,
    pub keys_with_last_use: usize,
    pub gaps: usize,
}

#[derive(Serialize)]
pub struct AccountSummary<'a> {
    pub total: Counts,
    pub by_severity: BySeverity,
    pub worst_severity: Option<&'a str>,
    pub keys_flagged: usize,
    pub users_flagged: usize,
}

#[derive(Serialize)]
pub struct Tool<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

#[derive(Serialize)]
pub struct Source<'a> {
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_file: Option<&'a str>,
    /// The saved inventories (files and directories) an organization run read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_files: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
}

#[derive(Serialize)]
pub struct CredentialReport<'a> {
    pub generated_at: Option<&'a str>,
    pub age_minutes: Option<i64>,
    pub stale: bool,
    pub has_root_row: bool,
}

#[derive(Serialize)]
pub struct Policy<'a> {
    pub file: Option<&'a str>,
    pub fail_on: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope<'a>>,
}

#[derive(Serialize)]
pub struct Scope<'a> {
    pub description: &'a str,
    pub users_excluded: usize,
}

#[derive(Serialize)]
pub struct Coverage<'a> {
    pub complete: bool,
    pub users_listed: usize,
    pub users_fully_audited: usize,
    pub keys: usize,
    pub keys_with_last_use: usize,
    pub gaps: Items<'a, Gap<'a>>,
    pub removed_during_crawl: Items<'a, Removed<'a>>,
}

/// A list of the document: built in memory, or an organization's, spilled account by
/// account.
pub enum Items<'a, T> {
    Owned(Vec<T>),
    Spilled(SpilledList<'a>),
}

impl<T: Serialize> Serialize for Items<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Items::Owned(items) => items.serialize(serializer),
            Items::Spilled(list) => list.serialize(serializer),
        }
    }
}

#[derive(Serialize)]
pub struct Gap<'a> {
    pub account_id: Option<&'a str>,
    pub user: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub operation: &'a str,
    pub error_code: &'a str,
    pub impact: &'a str,
}

#[derive(Serialize)]
pub struct Removed<'a> {
    pub account_id: Option<&'a str>,
    pub user: &'a str,
    pub access_key_id: Option<&'a str>,
    pub operation: &'a str,
}

#[derive(Serialize)]
pub struct Root<'a> {
    /// `credential-report`, `account-summary` or `unknown`.
    pub source: &'a str,
    pub keys_present: Option<bool>,
    pub active_keys: usize,
}

#[derive(Serialize, Default)]
pub struct Stats<'a> {
    pub calls: BTreeMap<&'a str, u64>,
    pub total_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failed_calls: u64,
    pub wall_ms: u64,
    /// Response bytes received (0 when not measured: an offline source).
    pub bytes_received: u64,
    /// `total_calls` per access key; null without keys.
    pub calls_per_key: Option<f64>,
    /// Added later: attempts cut before the default attempt timeout, because they ran far
    /// past what the operation usually takes, and sent again.
    pub attempts_cut: u64,
}

#[derive(Serialize)]
pub struct Summary<'a> {
    pub total: Counts,
    pub by_severity: BySeverity,
    pub by_rule: Vec<RuleCounts<'a>>,
    pub worst_severity: Option<&'a str>,
    pub fails_threshold: bool,
    pub keys_flagged: usize,
    pub users_flagged: usize,
}

/// Counts per severity, worst first.
#[derive(Serialize, Default)]
pub struct BySeverity {
    pub critical: Counts,
    pub high: Counts,
    pub medium: Counts,
    pub low: Counts,
}

#[derive(Serialize, Clone, Copy, Default)]
pub struct Counts {
    pub open: usize,
    pub suppressed: usize,
}

/// The findings of one rule at one severity. A rule whose findings differ in severity has
/// one entry per severity, so the entries add up to [`BySeverity`].
#[derive(Serialize)]
pub struct RuleCounts<'a> {
    pub rule_id: &'a str,
    pub severity: &'a str,
    pub open: usize,
    pub suppressed: usize,
}

#[derive(Serialize)]
pub struct Notice<'a> {
    pub rule: &'a str,
    pub user: &'a str,
    pub access_key_id: Option<&'a str>,
    /// Present only for an entry limited to one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    /// Present only for an entry limited to one finding id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_id: Option<&'a str>,
    pub reason: &'a str,
    pub expires: Option<String>,
    pub location: &'a str,
}

fn notice(n: &NoticeView) -> Notice<'_> {
    Notice {
        rule: &n.rule,
        user: &n.user,
        access_key_id: n.access_key_id.as_deref(),
        account: n.account.as_deref(),
        finding_id: n.finding_id.as_deref(),
        reason: &n.reason,
        expires: n.expires.map(|d| d.format("%Y-%m-%d").to_string()),
        location: &n.location,
    }
}

fn gap<'a>(account_id: Option<&'a str>, g: &'a GapView) -> Gap<'a> {
    Gap {
        account_id,
        user: g.user.as_deref(),
        access_key_id: g.access_key_id.as_deref(),
        operation: &g.operation,
        error_code: &g.error_code,
        impact: &g.impact,
    }
}

fn removed<'a>(account_id: Option<&'a str>, r: &'a RemovedView) -> Removed<'a> {
    Removed {
        account_id,
        user: &r.user,
        access_key_id: r.access_key_id.as_deref(),
        operation: &r.operation,
    }
}

/// The counts of each severity, open and suppressed.
fn by_severity(open: &PerSeverity, suppressed: &PerSeverity) -> BySeverity {
    let counts = |severity| Counts {
        open: open.get(severity),
        suppressed: suppressed.get(severity),
    };
    BySeverity {
        critical: counts(Severity::Critical),
        high: counts(Severity::High),
        medium: counts(Severity::Medium),
        low: counts(Severity::Low),
    }
}

fn rule_counts(t: &RuleTally) -> RuleCounts<'_> {
    RuleCounts {
        rule_id: &t.rule_id,
        severity: t.severity.as_str(),
        open: t.open,
        suppressed: t.suppressed,
    }
}

fn credential_report<'a>(m: &'a ReportModel) -> Option<CredentialReport<'a>> {
    m.credential_report.as_ref().map(|c| CredentialReport {
        generated_at: c.generated_at_text.as_deref(),
        age_minutes: c.age_minutes,
        stale: c.stale,
        has_root_row: c.has_root_row,
    })
}

fn root<'a>(m: &'a ReportModel) -> Root<'a> {
    Root {
        source: m.root.source,
        keys_present: m.root.keys_present,
        active_keys: m.root.active_keys,
    }
}

/// A crawl's statistics (an account's, or the run's added up) over its `keys`.
fn stats(s: &CrawlStats, keys: usize) -> Stats<'_> {
    Stats {
        calls: s.calls.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
        total_calls: s.total_calls(),
        retries: s.retries,
        throttled: s.throttled,
        failed_calls: s.gaps,
        wall_ms: s.wall_ms,
        bytes_received: s.bytes_received,
        calls_per_key: s.calls_per_key(keys).map(round2),
        attempts_cut: s.attempts_cut,
    }
}

/// Two decimals, so the document stays byte-stable and readable.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn account_summary(f: &Figures) -> AccountSummary<'_> {
    AccountSummary {
        total: counts(f.open.total(), f.suppressed.total()),
        by_severity: by_severity(&f.open, &f.suppressed),
        worst_severity: f.worst.map(|w| w.as_str()),
        keys_flagged: f.keys_flagged,
        users_flagged: f.users_flagged,
    }
}

fn counts(open: usize, suppressed: usize) -> Counts {
    Counts { open, suppressed }
}

/// An account's entry (`view` is `None` in a single-account run).
pub fn account_entry<'a>(
    view: Option<&'a AccountView>,
    m: Option<&'a ReportModel<'a>>,
) -> AccountEntry<'a> {
    AccountEntry {
        account_id: view
            .map(|v| v.id.as_str())
            .or(m.and_then(|m| m.account_id.as_deref())),
        name: view.and_then(|v| v.name.as_deref()),
        ou_path: view.and_then(|v| v.ou_path.as_deref()),
        state: view.map(|v| v.state.as_str()),
        outcome: view.map_or("audited", |v| v.outcome),
        problem: view.and_then(|v| v.problem.as_ref()).map(|p| Problem {
            operation: &p.operation,
            error_code: &p.error_code,
            message: &p.message,
            role_arn: p.role_arn.as_deref(),
        }),
        collected_at: m.map(|m| m.collected_at_text.as_str()),
        coverage: m.map(|m| {
            let c = &m.figures.coverage;
            AccountCoverage {
                complete: c.complete,
                users_listed: c.users_listed,
                users_fully_audited: c.users_fully_audited,
                keys: c.keys,
                keys_with_last_use: c.keys_with_last_use,
                gaps: c.gaps,
            }
        }),
        root_access_keys: m.map(root),
        credential_report: m.and_then(credential_report),
        summary: m.map(|m| account_summary(&m.figures)),
        crawl_stats: m.map(|m| stats(&m.stats.crawl, m.figures.coverage.keys)),
    }
}

/// The figures at the top of a document: the run's aggregate (a single account's own).
pub struct RunFigures<'a> {
    pub figures: &'a Figures,
    pub stats: &'a CrawlStats,
    /// Every selected active account audited, each with complete coverage.
    pub complete: bool,
    pub fails_threshold: bool,
}

/// What the two kinds of document hold besides the run's figures.
pub struct Parts<'a> {
    pub kind: &'a str,
    pub tool_version: &'a str,
    pub as_of: &'a str,
    pub account_id: Option<&'a str>,
    pub source: Source<'a>,
    pub collected_at: &'a str,
    pub credential_report: Option<CredentialReport<'a>>,
    pub policy: Policy<'a>,
    pub gaps: Items<'a, Gap<'a>>,
    pub removed: Items<'a, Removed<'a>>,
    pub root_access_keys: Option<Root<'a>>,
    pub findings: FindingList<'a>,
    pub suppressed_findings: FindingList<'a>,
    pub expired_suppressions: &'a [NoticeView],
    pub unused_suppressions: &'a [NoticeView],
    pub organization: Option<Organization<'a>>,
    pub accounts: Items<'a, AccountEntry<'a>>,
    pub tracking: Tracked<'a>,
}

impl<'a> ReportDoc<'a> {
    /// The document of a run: its figures at the top, and the parts its kind holds.
    pub fn new(run: RunFigures<'a>, parts: Parts<'a>) -> Self {
        let f = run.figures;
        let c = &f.coverage;
        ReportDoc {
            schema_version: REPORT_SCHEMA_VERSION,
            kind: parts.kind,
            tool: Tool {
                name: "keyhygiene",
                version: parts.tool_version,
            },
            as_of: parts.as_of,
            account_id: parts.account_id,
            source: parts.source,
            collected_at: parts.collected_at,
            credential_report: parts.credential_report,
            policy: parts.policy,
            coverage: Coverage {
                complete: run.complete,
                users_listed: c.users_listed,
                users_fully_audited: c.users_fully_audited,
                keys: c.keys,
                keys_with_last_use: c.keys_with_last_use,
                gaps: parts.gaps,
                removed_during_crawl: parts.removed,
            },
            root_access_keys: parts.root_access_keys,
            crawl_stats: stats(run.stats, c.keys),
            summary: Summary {
                total: counts(f.open.total(), f.suppressed.total()),
                by_severity: by_severity(&f.open, &f.suppressed),
                by_rule: f.by_rule.iter().map(rule_counts).collect(),
                worst_severity: f.worst.map(|w| w.as_str()),
                fails_threshold: run.fails_threshold,
                keys_flagged: f.keys_flagged,
                users_flagged: f.users_flagged,
            },
            findings: parts.findings,
            suppressed_findings: parts.suppressed_findings,
            expired_suppressions: parts.expired_suppressions.iter().map(notice).collect(),
            unused_suppressions: parts.unused_suppressions.iter().map(notice).collect(),
            organization: parts.organization,
            accounts: parts.accounts,
            finding_ids: parts.tracking.finding_ids,
            comparison: parts.tracking.comparison,
            resolved: parts.tracking.resolved,
            not_assessed: parts.tracking.not_assessed,
            history: parts.tracking.history,
        }
    }

    /// The document of a single account's run.
    pub fn from_model(m: &'a ReportModel) -> Self {
        let account = m.account_id.as_deref();
        ReportDoc::new(
            RunFigures {
                figures: &m.figures,
                stats: &m.stats.crawl,
                complete: m.coverage.complete,
                fails_threshold: m.summary.fails_threshold,
            },
            Parts {
                kind: "account",
                tool_version: m.tool_version,
                as_of: &m.as_of_text,
                account_id: account,
                source: Source {
                    kind: m.source.kind,
                    inventory_file: m.source.saved_inventory.as_deref(),
                    inventory_files: None,
                    endpoint: m.source.endpoint.as_deref(),
                    file: m.source.file.as_deref(),
                },
                collected_at: &m.collected_at_text,
                credential_report: credential_report(m),
                policy: Policy {
                    file: m.policy_file.as_deref(),
                    fail_on: m.fail_on.map(|s| s.as_str()),
                    scope: m.scope.as_ref().map(|s| Scope {
                        description: &s.description,
                        users_excluded: s.users_excluded,
                    }),
                },
                gaps: Items::Owned(m.coverage.gaps.iter().map(|g| gap(account, g)).collect()),
                removed: Items::Owned(
                    m.coverage
                        .removed
                        .iter()
                        .map(|r| removed(account, r))
                        .collect(),
                ),
                root_access_keys: Some(root(m)),
                findings: FindingList::Account(m, false),
                suppressed_findings: FindingList::Account(m, true),
                expired_suppressions: &m.expired_suppressions,
                unused_suppressions: &m.unused_suppressions,
                organization: None,
                accounts: Items::Owned(vec![account_entry(None, Some(m))]),
                tracking: tracked(&m.tracking, m.id_source),
            },
        )
    }
}

/// `report.json`, pretty-printed, with a trailing newline.
pub fn write_report_json(m: &ReportModel, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportDoc::from_model(m))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_baseline_reads_the_version_this_writes() {
        assert_eq!(
            super::REPORT_SCHEMA_VERSION,
            crate::baseline::NEWEST_REPORT_SCHEMA
        );
    }
}
