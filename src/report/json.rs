//! `report.json`: the document scheduled jobs read.
//!
//! These are the output's own types, version 2 (`schema_version`), described by
//! `schema/report.schema.json`. They are filled from the view model, never from the internal
//! structs, so a refactor inside keyhygiene cannot change what a parser sees. Add optional
//! fields freely; anything else needs a new schema version.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::findings::{EvaluatedFinding, Severity};

use super::model::{GapView, NoticeView, RemovedView, ReportModel, RuleSummary, rfc3339};

/// The version of the `report.json` document.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
pub struct ReportV2<'a> {
    pub schema_version: u32,
    pub tool: Tool<'a>,
    pub as_of: &'a str,
    pub account_id: Option<&'a str>,
    pub source: Source<'a>,
    pub collected_at: &'a str,
    pub credential_report: Option<CredentialReport<'a>>,
    pub policy: Policy<'a>,
    pub coverage: Coverage<'a>,
    pub root_access_keys: Root<'a>,
    pub crawl_stats: Stats<'a>,
    pub summary: Summary<'a>,
    pub findings: FindingList<'a>,
    pub suppressed_findings: FindingList<'a>,
    pub expired_suppressions: Vec<Notice<'a>>,
    pub unused_suppressions: Vec<Notice<'a>>,
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
    pub gaps: Vec<Gap<'a>>,
    pub removed_during_crawl: Vec<Removed<'a>>,
}

#[derive(Serialize)]
pub struct Gap<'a> {
    pub user: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub operation: &'a str,
    pub error_code: &'a str,
    pub impact: &'a str,
}

#[derive(Serialize)]
pub struct Removed<'a> {
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

#[derive(Serialize)]
pub struct Stats<'a> {
    pub calls: BTreeMap<&'a str, u64>,
    pub total_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failed_calls: u64,
    pub wall_ms: u64,
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
#[derive(Serialize)]
pub struct BySeverity {
    pub critical: Counts,
    pub high: Counts,
    pub medium: Counts,
    pub low: Counts,
}

#[derive(Serialize)]
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
pub struct Finding<'a> {
    pub rule_id: &'a str,
    pub severity: &'a str,
    pub user_name: &'a str,
    pub user_arn: &'a str,
    pub access_key_id: Option<&'a str>,
    pub key_status: Option<&'a str>,
    pub key_created: Option<String>,
    pub key_age_days: Option<i64>,
    pub last_used_date: Option<String>,
    pub last_used_service: Option<&'a str>,
    pub last_used_region: Option<&'a str>,
    pub days_since_last_use: Option<i64>,
    pub description: Option<&'a str>,
    pub message: &'a str,
    pub remediation: &'a [String],
    pub compliance: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression<'a>>,
}

#[derive(Serialize)]
pub struct Suppression<'a> {
    pub reason: &'a str,
    /// `YYYY-MM-DD`, or null for no expiry.
    pub expires: Option<String>,
}

#[derive(Serialize)]
pub struct Notice<'a> {
    pub rule: &'a str,
    pub user: &'a str,
    pub access_key_id: Option<&'a str>,
    /// Present only for an entry limited to one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    pub reason: &'a str,
    pub expires: Option<String>,
    pub location: &'a str,
}

/// A list of findings, each turned into its output form only while it is written, so the
/// document streams out without a second copy of every finding.
pub struct FindingList<'a>(pub &'a [&'a EvaluatedFinding]);

impl Serialize for FindingList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|ef| finding(ef)))
    }
}

fn finding(ef: &EvaluatedFinding) -> Finding<'_> {
    let f = &ef.finding;
    Finding {
        rule_id: &f.rule_id,
        severity: f.severity.as_str(),
        user_name: &f.user_name,
        user_arn: &f.user_arn,
        access_key_id: f.access_key_id.as_deref(),
        key_status: f.key_status.map(|s| s.as_str()),
        key_created: f.key_created.map(rfc3339),
        key_age_days: f.key_age_days,
        last_used_date: f.last_used_date.map(rfc3339),
        last_used_service: f.last_used_service.as_deref(),
        last_used_region: f.last_used_region.as_deref(),
        days_since_last_use: f.days_since_last_use,
        description: f.description.as_deref(),
        message: &f.message,
        remediation: &f.remediation,
        compliance: &f.compliance,
        suppression: ef.suppressed.as_ref().map(|s| Suppression {
            reason: &s.reason,
            expires: s.expires.map(|d| d.format("%Y-%m-%d").to_string()),
        }),
    }
}

fn notice(n: &NoticeView) -> Notice<'_> {
    Notice {
        rule: &n.rule,
        user: &n.user,
        access_key_id: n.access_key_id.as_deref(),
        account: n.account.as_deref(),
        reason: &n.reason,
        expires: n.expires.map(|d| d.format("%Y-%m-%d").to_string()),
        location: &n.location,
    }
}

fn gap(g: &GapView) -> Gap<'_> {
    Gap {
        user: g.user.as_deref(),
        access_key_id: g.access_key_id.as_deref(),
        operation: &g.operation,
        error_code: &g.error_code,
        impact: &g.impact,
    }
}

fn removed(r: &RemovedView) -> Removed<'_> {
    Removed {
        user: &r.user,
        access_key_id: r.access_key_id.as_deref(),
        operation: &r.operation,
    }
}

fn by_severity(m: &ReportModel) -> BySeverity {
    let counts = |severity: Severity| {
        m.summary
            .by_severity
            .iter()
            .find(|c| c.severity == severity)
            .map_or(
                Counts {
                    open: 0,
                    suppressed: 0,
                },
                |c| Counts {
                    open: c.active,
                    suppressed: c.suppressed,
                },
            )
    };
    BySeverity {
        critical: counts(Severity::Critical),
        high: counts(Severity::High),
        medium: counts(Severity::Medium),
        low: counts(Severity::Low),
    }
}

fn rule_counts(r: &RuleSummary) -> RuleCounts<'_> {
    RuleCounts {
        rule_id: &r.rule_id,
        severity: r.severity.as_str(),
        open: r.active,
        suppressed: r.suppressed,
    }
}

impl<'a> ReportV2<'a> {
    pub fn from_model(m: &'a ReportModel) -> Self {
        let s = &m.summary;
        ReportV2 {
            schema_version: REPORT_SCHEMA_VERSION,
            tool: Tool {
                name: "keyhygiene",
                version: m.tool_version,
            },
            as_of: &m.as_of_text,
            account_id: m.account_id.as_deref(),
            source: Source {
                kind: m.source.kind,
                inventory_file: m.source.saved_inventory.as_deref(),
                endpoint: m.source.endpoint.as_deref(),
                file: m.source.file.as_deref(),
            },
            collected_at: &m.collected_at_text,
            credential_report: m.credential_report.as_ref().map(|c| CredentialReport {
                generated_at: c.generated_at_text.as_deref(),
                age_minutes: c.age_minutes,
                stale: c.stale,
                has_root_row: c.has_root_row,
            }),
            policy: Policy {
                file: m.policy_file.as_deref(),
                fail_on: m.fail_on.map(|s| s.as_str()),
                scope: m.scope.as_ref().map(|s| Scope {
                    description: &s.description,
                    users_excluded: s.users_excluded,
                }),
            },
            coverage: Coverage {
                complete: m.coverage.complete,
                users_listed: m.coverage.users_listed,
                users_fully_audited: m.coverage.users_fully_audited,
                keys: m.coverage.keys,
                keys_with_last_use: m.coverage.keys_with_last_use,
                gaps: m.coverage.gaps.iter().map(gap).collect(),
                removed_during_crawl: m.coverage.removed.iter().map(removed).collect(),
            },
            root_access_keys: Root {
                source: m.root.source,
                keys_present: m.root.keys_present,
                active_keys: m.root.active_keys,
            },
            crawl_stats: Stats {
                calls: m
                    .stats
                    .calls
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect(),
                total_calls: m.stats.total_calls,
                retries: m.stats.retries,
                throttled: m.stats.throttled,
                failed_calls: m.stats.failed_calls,
                wall_ms: m.stats.wall_ms,
            },
            summary: Summary {
                total: Counts {
                    open: s.total_active,
                    suppressed: s.total_suppressed,
                },
                by_severity: by_severity(m),
                by_rule: s.by_rule.iter().map(rule_counts).collect(),
                worst_severity: s.worst.map(|w| w.as_str()),
                fails_threshold: s.fails_threshold,
                keys_flagged: s.keys_flagged,
                users_flagged: s.users_flagged,
            },
            findings: FindingList(&m.open),
            suppressed_findings: FindingList(&m.suppressed),
            expired_suppressions: m.expired_suppressions.iter().map(notice).collect(),
            unused_suppressions: m.unused_suppressions.iter().map(notice).collect(),
        }
    }
}

/// `report.json`, pretty-printed, with a trailing newline.
pub fn write_report_json(m: &ReportModel, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportV2::from_model(m))?;
    out.write_all(b"\n")
}
