//! Findings: what a rule reports, and the set of findings after the policy was applied.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::KeyStatus;

/// How bad a finding is. Ordered, so thresholds are plain comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem a rule found. Built by rules through [`crate::rules::FindingBuilder`], so a
/// finding always has the fields every output needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub account_id: Option<String>,
    /// The IAM user name, or `<root_account>` for the root user.
    pub user_name: String,
    pub user_arn: String,
    /// The key's id or, for keys from a credential report, "access key N".
    /// `None` for user- and account-level findings.
    pub access_key_id: Option<String>,
    pub key_status: Option<KeyStatus>,
    pub key_created: Option<DateTime<Utc>>,
    pub key_age_days: Option<i64>,
    pub last_used_date: Option<DateTime<Utc>>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    pub days_since_last_use: Option<i64>,
    /// The key's description tag.
    pub description: Option<String>,
    /// A sentence a reviewer understands without docs.
    pub message: String,
    /// Compliance references, e.g. "CIS 1.14", "AWS Security Hub IAM.3".
    pub compliance: Vec<String>,
    /// What to do, in order: exact AWS CLI commands, or console steps for root.
    pub remediation: Vec<String>,
}

impl Finding {
    /// The order of findings in every output: severity descending, then rule id, user, key
    /// and message, so the order never depends on how the findings were produced.
    pub fn report_order(&self, other: &Finding) -> std::cmp::Ordering {
        other
            .severity
            .cmp(&self.severity)
            .then_with(|| self.rule_id.cmp(&other.rule_id))
            .then_with(|| self.user_name.cmp(&other.user_name))
            .then_with(|| self.access_key_id.cmp(&other.access_key_id))
            .then_with(|| self.message.cmp(&other.message))
    }
}

/// A suppression that matched a finding, as shown next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedSuppression {
    pub reason: String,
    pub expires: Option<NaiveDate>,
}

/// A finding after the policy was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluatedFinding {
    pub finding: Finding,
    /// `Some` when an unexpired suppression matched: the finding stays in every output
    /// but does not count toward the exit code.
    pub suppressed: Option<AppliedSuppression>,
}

/// A `[[suppress]]` entry that did not do its job, listed so stale exceptions get noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressionNotice {
    pub rule: String,
    pub user: String,
    pub access_key_id: Option<String>,
    /// The account the entry is limited to; `None` for an entry that applies everywhere.
    pub account: Option<String>,
    pub reason: String,
    pub expires: Option<NaiveDate>,
    /// Where the entry is, `file:line`.
    pub location: String,
}

/// All findings of one run, with the policy applied, in a stable order
/// (severity descending, then rule id, user, key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingSet {
    pub findings: Vec<EvaluatedFinding>,
    /// Suppressions whose expiry date has passed; they suppressed nothing.
    pub expired_suppressions: Vec<SuppressionNotice>,
    /// Unexpired suppressions that matched no finding.
    pub unused_suppressions: Vec<SuppressionNotice>,
}

impl FindingSet {
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| &f.finding)
    }

    pub fn suppressed(&self) -> impl Iterator<Item = &EvaluatedFinding> {
        self.findings.iter().filter(|f| f.suppressed.is_some())
    }

    /// The highest severity among unsuppressed findings.
    pub fn worst(&self) -> Option<Severity> {
        self.active().map(|f| f.severity).max()
    }
}
