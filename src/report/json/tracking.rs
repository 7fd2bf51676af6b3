//! The run-to-run part of `report.json`: how the finding ids were made, the comparison
//! with the baseline, the resolved and not-assessed findings, and the history's trend.

use serde::Serialize;

use super::super::model::{PastView, TrackingView, rfc3339};

#[derive(Serialize)]
pub struct FindingIds {
    pub scheme: &'static str,
    pub source: &'static str,
}

#[derive(Serialize)]
pub struct Comparison<'a> {
    /// `baseline` (--baseline) or `history` (the last run in --history).
    pub origin: &'a str,
    pub baseline_file: &'a str,
    /// The baseline's as-of date.
    pub since: &'a str,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub resolved: usize,
    pub not_assessed: usize,
}

/// A baseline finding that is not among this run's findings.
#[derive(Serialize)]
pub struct PastEntry<'a> {
    pub finding_id: &'a str,
    pub rule_id: &'a str,
    /// The severity it had in the baseline.
    pub severity: &'a str,
    pub account_id: Option<&'a str>,
    pub user_name: &'a str,
    /// Added later: the user's ARN, when the baseline recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_arn: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    /// Added later: the key's creation time, when the baseline recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_created: Option<String>,
    pub first_seen: String,
    /// Whether it was suppressed in the baseline.
    pub suppressed: bool,
    /// `resolved` or `not assessed`.
    pub status: &'a str,
    /// Why it was not assessed; `null` for a resolved finding.
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
pub struct HistoryEntry<'a> {
    pub dir: &'a str,
    /// Open findings per run, oldest first, this run last.
    pub trend: Vec<TrendEntry>,
}

#[derive(Serialize)]
pub struct TrendEntry {
    pub as_of: String,
    pub complete: bool,
    pub open: BySeverityOpen,
}

#[derive(Serialize)]
pub struct BySeverityOpen {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

/// The run-to-run fields of a document.
pub struct Tracked<'a> {
    pub finding_ids: FindingIds,
    pub comparison: Option<Comparison<'a>>,
    pub resolved: Vec<PastEntry<'a>>,
    pub not_assessed: Vec<PastEntry<'a>>,
    pub history: Option<HistoryEntry<'a>>,
}

/// The run-to-run part of a document, from the run's tracking view.
pub(super) fn tracked<'t>(t: &'t TrackingView, source: crate::findings::IdSource) -> Tracked<'t> {
    let past = |v: &'t PastView, status: &'static str| {
        let p = &v.finding;
        PastEntry {
            finding_id: &p.finding_id,
            rule_id: &p.rule_id,
            severity: p.severity.as_str(),
            account_id: p.account_id.as_deref(),
            user_name: &p.user_name,
            user_arn: p.user_arn.as_deref(),
            user_id: p.user_id.as_deref(),
            access_key_id: p.access_key_id.as_deref().filter(|k| !k.is_empty()),
            key_created: p.key_created.map(rfc3339),
            first_seen: v.first_seen(),
            suppressed: p.suppressed,
            status,
            reason: (status == "not assessed").then_some(v.note.as_str()),
        }
    };
    Tracked {
        finding_ids: FindingIds {
            scheme: crate::findings::ID_SCHEME,
            source: source.as_str(),
        },
        comparison: t.comparison.as_ref().map(|c| Comparison {
            origin: c.origin.as_str(),
            baseline_file: &c.file,
            since: &c.since_text,
            new: t.changes.new,
            updated: t.changes.updated,
            unchanged: t.changes.unchanged,
            resolved: t.changes.resolved,
            not_assessed: t.changes.not_assessed,
        }),
        resolved: t.resolved.iter().map(|p| past(p, "resolved")).collect(),
        not_assessed: t
            .not_assessed
            .iter()
            .map(|p| past(p, "not assessed"))
            .collect(),
        history: t.history_dir.as_deref().map(|dir| HistoryEntry {
            dir,
            trend: t
                .trend_points
                .iter()
                .map(|p| TrendEntry {
                    as_of: rfc3339(p.as_of),
                    complete: p.complete,
                    open: BySeverityOpen {
                        critical: p.open[0],
                        high: p.open[1],
                        medium: p.open[2],
                        low: p.open[3],
                    },
                })
                .collect(),
        }),
    }
}
