//! The findings of `report.json`, each turned into its output form only while it is
//! written.

use serde::{Serialize, Serializer};

use crate::findings::EvaluatedFinding;

use super::super::model::{ReportModel, rfc3339};
use crate::report::spilled::SpilledList;

#[derive(Serialize)]
pub struct Finding<'a> {
    pub account_id: Option<&'a str>,
    pub account_name: Option<&'a str>,
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
    /// `api` (GetAccessKeyLastUsed) or `credential-report`; `null` for user findings.
    pub last_used_source: Option<&'a str>,
    pub description: Option<&'a str>,
    pub message: &'a str,
    pub remediation: &'a [String],
    pub compliance: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression<'a>>,
    pub finding_id: &'a str,
    pub user_id: Option<&'a str>,
    /// `new`, `unchanged` or `updated` (compared with the baseline; `new` without one).
    pub status: &'a str,
    /// The as-of date of the first run that had the finding.
    pub first_seen: String,
    /// The baseline's severity, for an `updated` finding.
    pub previous_severity: Option<&'a str>,
    /// `now-suppressed` or `no-longer-suppressed` when that changed since the baseline.
    pub suppression_change: Option<&'a str>,
    /// Who owns the user (the policy's `[report]` owner tags, else its fallback).
    pub owner: &'a str,
}

#[derive(Serialize)]
pub struct Suppression<'a> {
    pub reason: &'a str,
    /// `YYYY-MM-DD`, or null for no expiry.
    pub expires: Option<String>,
}

/// A list of findings, each turned into its output form only while it is written, so the
/// document streams out without a second copy of every finding: one account's open or
/// suppressed findings, or every account's in turn.
pub enum FindingList<'a> {
    Account(&'a ReportModel<'a>, bool),
    /// An organization's findings, rendered account by account and spilled.
    Spilled(SpilledList<'a>),
}

impl Serialize for FindingList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn of<'m>(
            m: &'m ReportModel<'m>,
            name: Option<&'m str>,
            suppressed: bool,
        ) -> impl Iterator<Item = Finding<'m>> {
            let list = if suppressed { &m.suppressed } else { &m.open };
            let today = m.as_of.date_naive();
            list.iter()
                .map(move |ef| finding(ef, name, today, m.owner(&ef.finding.user_name)))
        }
        match self {
            FindingList::Account(m, suppressed) => serializer.collect_seq(of(m, None, *suppressed)),
            FindingList::Spilled(list) => list.serialize(serializer),
        }
    }
}

pub(super) fn finding<'a>(
    ef: &'a EvaluatedFinding,
    account_name: Option<&'a str>,
    today: chrono::NaiveDate,
    owner: &'a str,
) -> Finding<'a> {
    let f = &ef.finding;
    Finding {
        account_id: f.account_id.as_deref(),
        account_name,
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
        last_used_source: f.last_used_source.map(|s| s.as_str()),
        description: f.description.as_deref(),
        message: &f.message,
        remediation: &f.remediation,
        compliance: &f.compliance,
        suppression: ef.suppressed.as_ref().map(|s| Suppression {
            reason: &s.reason,
            expires: s.expires.map(|d| d.format("%Y-%m-%d").to_string()),
        }),
        finding_id: &f.finding_id,
        user_id: f.user_id.as_deref(),
        status: ef.tracking.status.as_str(),
        first_seen: ef.tracking.first_seen_text(today),
        previous_severity: ef.tracking.previous_severity.map(|s| s.as_str()),
        suppression_change: ef.tracking.suppression_change.map(|c| c.as_str()),
        owner,
    }
}
