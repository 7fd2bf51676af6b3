//! Findings: what a rule reports, and the set of findings after the policy was applied.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::KeyStatus;

pub mod figures;
pub mod id;

pub use figures::{Figures, PerSeverity, RuleTally, Totals};
pub use id::{ID_SCHEME, IdSource, finding_id, is_finding_id};

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
    /// Whether findings as bad as `worst` reach `--fail-on` (`None`: `--fail-on none`).
    pub fn reaches(worst: Option<Severity>, fail_on: Option<Severity>) -> bool {
        fail_on.is_some_and(|threshold| worst.is_some_and(|w| w >= threshold))
    }

    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    /// The severity's place in [`Severity::ALL`]: critical 0 … low 3.
    pub fn index(self) -> usize {
        3 - self as usize
    }

    /// The order of "worst" sorts and filters: 4 critical … 1 low, 0 for none.
    pub fn rank(severity: Option<Severity>) -> u8 {
        severity.map_or(0, |s| s as u8 + 1)
    }

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
    /// The finding's stable fingerprint ([`id`]): the same problem about the same key,
    /// user or root slot has the same id in every run.
    pub finding_id: String,
    pub rule_id: String,
    pub severity: Severity,
    pub account_id: Option<crate::ident::AccountId>,
    /// The IAM user name, or `<root_account>` for the root user.
    pub user_name: String,
    pub user_arn: String,
    /// The user's immutable id (`AIDA…`), when the source has it.
    pub user_id: Option<String>,
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
    /// Which source gave the key's last use; `None` for user-level findings.
    pub last_used_source: Option<crate::inventory::LastUseSource>,
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
    /// A finding of `rule_id` at `severity` in `account_id`, about no one yet: the rules'
    /// builder ([`crate::rules::FindingBuilder`]) fills in the subject and the words.
    pub fn new(
        rule_id: &str,
        severity: Severity,
        account_id: Option<crate::ident::AccountId>,
    ) -> Finding {
        Finding {
            finding_id: String::new(),
            rule_id: rule_id.to_string(),
            severity,
            account_id,
            user_name: String::new(),
            user_arn: String::new(),
            user_id: None,
            access_key_id: None,
            key_status: None,
            key_created: None,
            key_age_days: None,
            last_used_date: None,
            last_used_service: None,
            last_used_region: None,
            days_since_last_use: None,
            last_used_source: None,
            description: None,
            message: String::new(),
            compliance: Vec::new(),
            remediation: Vec::new(),
        }
    }

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
    /// How the finding compares with the baseline's.
    pub tracking: Tracking,
}

/// A current finding compared with the baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Not in the baseline (or there is no baseline).
    #[default]
    New,
    /// In the baseline with the same severity.
    Unchanged,
    /// In the baseline with another severity (shown with the previous one).
    Updated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Unchanged => "unchanged",
            Status::Updated => "updated",
        }
    }
}

/// A finding suppressed in one run and not in the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionChange {
    /// Open in the baseline, suppressed now.
    NowSuppressed,
    /// Suppressed in the baseline, open now (the entry expired or was removed).
    NoLongerSuppressed,
}

impl SuppressionChange {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionChange::NowSuppressed => "now-suppressed",
            SuppressionChange::NoLongerSuppressed => "no-longer-suppressed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SuppressionChange::NowSuppressed => "suppressed since the baseline",
            SuppressionChange::NoLongerSuppressed => "no longer suppressed",
        }
    }
}

/// A current finding's place in the run-to-run history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracking {
    pub status: Status,
    /// The as-of date of the first run that had the finding; `None` means this run.
    pub first_seen: Option<NaiveDate>,
    /// The baseline's severity, for an `Updated` finding.
    pub previous_severity: Option<Severity>,
    pub suppression_change: Option<SuppressionChange>,
}

impl Tracking {
    /// The first-seen date: the baseline's, or `today` (this run's as-of date).
    pub fn first_seen_or(&self, today: NaiveDate) -> NaiveDate {
        self.first_seen.unwrap_or(today)
    }

    /// [`Tracking::first_seen_or`] as the reports write it, `YYYY-MM-DD`.
    pub fn first_seen_text(&self, today: NaiveDate) -> String {
        self.first_seen_or(today).format("%Y-%m-%d").to_string()
    }
}

impl EvaluatedFinding {
    /// Whether the finding is a regression `--fail-on-new` alerts on: open, and new or
    /// worse than in the baseline.
    pub fn is_regression(&self) -> bool {
        self.suppressed.is_none()
            && match self.tracking.status {
                Status::New => true,
                Status::Unchanged => false,
                Status::Updated => self
                    .tracking
                    .previous_severity
                    .is_none_or(|p| self.finding.severity > p),
            }
    }
}

/// A finding of an earlier run, as a baseline records it: enough to match it by id and to
/// tell whether its subject was assessed this run. Read as it is from a `report.json`'s
/// findings and not-assessed entries (a suppressed finding's `suppressed` is set by the
/// reader), and from a history record's findings ([`crate::baseline::record`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PastFinding {
    pub finding_id: String,
    pub rule_id: String,
    pub severity: Severity,
    pub account_id: Option<crate::ident::AccountId>,
    pub user_name: String,
    /// The user's ARN, when the baseline recorded it (history records from version 2,
    /// report.json findings).
    #[serde(default)]
    pub user_arn: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    pub access_key_id: Option<String>,
    /// The key's creation time, when the baseline recorded it.
    #[serde(default)]
    pub key_created: Option<DateTime<Utc>>,
    pub first_seen: NaiveDate,
    /// Set on a `report.json`'s not-assessed entries.
    #[serde(default)]
    pub suppressed: bool,
}

impl PastFinding {
    /// This run's finding as a later run's baseline will know it.
    pub fn of(f: &Finding, first_seen: NaiveDate, suppressed: bool) -> PastFinding {
        PastFinding {
            finding_id: f.finding_id.clone(),
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            account_id: f.account_id.clone(),
            user_name: f.user_name.clone(),
            user_arn: Some(f.user_arn.clone()),
            user_id: f.user_id.clone(),
            access_key_id: f.access_key_id.clone(),
            key_created: f.key_created,
            first_seen,
            suppressed,
        }
    }

    /// What the finding records about its subject, to compute its id again.
    pub fn id_fields(&self) -> Option<id::IdFields<'_>> {
        Some(id::IdFields {
            account_id: self.account_id.as_deref(),
            rule_id: &self.rule_id,
            user_name: &self.user_name,
            user_arn: self.user_arn.as_deref()?,
            user_id: self.user_id.as_deref(),
            access_key_id: self.access_key_id.as_deref(),
            key_created: self.key_created,
        })
    }
}

/// A baseline finding that this run could not judge, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAssessed {
    pub finding: PastFinding,
    /// Why, in words: "out of scope", "account not audited: AccessDenied"…
    pub reason: String,
}

/// A `[[suppress]]` entry that did not do its job, listed so stale exceptions get noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressionNotice {
    pub rule: String,
    pub user: String,
    pub access_key_id: Option<String>,
    /// The account the entry is limited to; `None` for an entry that applies everywhere.
    pub account: Option<String>,
    /// The finding id the entry is limited to.
    pub finding_id: Option<String>,
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
    /// Baseline findings gone this run although their subject was assessed: fixed.
    pub resolved: Vec<PastFinding>,
    /// Baseline findings whose subject this run did not assess (a coverage gap, the
    /// scope, an account not audited): neither open nor resolved, carried with their
    /// `first_seen`.
    pub not_assessed: Vec<NotAssessed>,
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

    /// The highest severity among unsuppressed findings that are new or worse than in
    /// the baseline ([`EvaluatedFinding::is_regression`]).
    pub fn worst_regression(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| f.is_regression())
            .map(|f| f.finding.severity)
            .max()
    }

    /// How many current findings have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.findings
            .iter()
            .filter(|f| f.tracking.status == status)
            .count()
    }
}
