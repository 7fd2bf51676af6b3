//! What the reports show about earlier runs: the baseline compared with, each finding's
//! status, the resolved and not-assessed findings, and the trend.

use crate::baseline::{Changes, ComparisonInfo, RunTracking};
use crate::findings::{FindingSet, NotAssessed, PastFinding};

use super::trend::{TrendChart, trend_chart};
use super::*;

/// The run-to-run part of a report.
#[derive(Clone, Debug, Default)]
pub struct TrackingView {
    pub comparison: Option<ComparisonInfo>,
    pub changes: Changes,
    /// Baseline findings fixed since, worst first.
    pub resolved: Vec<PastView>,
    /// Baseline findings this run could not judge.
    pub not_assessed: Vec<PastView>,
    pub trend: Option<TrendChart>,
    /// The trend's numbers (empty without a history folder).
    pub trend_points: Vec<crate::baseline::TrendPoint>,
    pub history_dir: Option<String>,
    /// The summary's line, e.g. "4 new, 0 updated, 2 resolved, 251 unchanged, 0 not
    /// assessed since 2026-11-19 (baseline: last/report.json)".
    pub line: Option<String>,
}

/// Resolved or not-assessed findings the HTML page lists at most, each; report.json lists
/// them all.
pub const PAST_IN_PAGE: usize = 5_000;

impl TrackingView {
    pub fn resolved_in_page(&self) -> &[PastView] {
        &self.resolved[..self.resolved.len().min(PAST_IN_PAGE)]
    }

    pub fn not_assessed_in_page(&self) -> &[PastView] {
        &self.not_assessed[..self.not_assessed.len().min(PAST_IN_PAGE)]
    }

    /// Whether the run was compared with an earlier one.
    pub fn compared(&self) -> bool {
        self.comparison.is_some()
    }

    /// "since 2026-11-19", for headings.
    pub fn since_label(&self) -> String {
        self.comparison
            .as_ref()
            .map(|c| format!("since {}", c.since_text))
            .unwrap_or_default()
    }
}

/// A baseline finding that is not among this run's findings, as the report lists it.
#[derive(Clone, Debug)]
pub struct PastView {
    pub finding: PastFinding,
    /// Why it was not assessed, or that it was suppressed when last seen.
    pub note: String,
}

impl PastView {
    /// The key as reports name it; empty for a finding about a user.
    pub fn key_label(&self) -> &str {
        self.finding.access_key_id.as_deref().unwrap_or_default()
    }

    /// `YYYY-MM-DD`.
    pub fn first_seen(&self) -> String {
        self.finding.first_seen.format("%Y-%m-%d").to_string()
    }
}

fn past_view(p: &PastFinding, note: String) -> PastView {
    PastView {
        finding: p.clone(),
        note,
    }
}

/// The view of `set`'s comparison, for a run described by `run`.
pub fn tracking_view(run: Option<&RunTracking>, set: &FindingSet) -> TrackingView {
    let Some(run) = run else {
        return TrackingView::default();
    };
    let changes = Changes::of(set);
    let mut resolved: Vec<PastView> = set
        .resolved
        .iter()
        .map(|p| {
            let note = if p.suppressed {
                "was suppressed".to_string()
            } else {
                String::new()
            };
            past_view(p, note)
        })
        .collect();
    resolved.sort_by(|a, b| {
        let (x, y) = (&a.finding, &b.finding);
        (y.severity, &x.rule_id, &x.user_name, a.key_label()).cmp(&(
            x.severity,
            &y.rule_id,
            &y.user_name,
            b.key_label(),
        ))
    });
    let not_assessed = set
        .not_assessed
        .iter()
        .map(|NotAssessed { finding, reason }| past_view(finding, reason.clone()))
        .collect();
    TrackingView {
        comparison: run.comparison.clone(),
        changes,
        resolved,
        not_assessed,
        trend: run.trend.as_deref().map(trend_chart),
        trend_points: run.trend.clone().unwrap_or_default(),
        history_dir: run.history_dir.clone(),
        line: run.summary_line(changes),
    }
}

/// A finding's status as the HTML shows it, when the run was compared.
pub fn status_label(ef: &EvaluatedFinding) -> String {
    use crate::findings::Status;
    match ef.tracking.status {
        Status::New => "new".to_string(),
        Status::Unchanged => String::new(),
        Status::Updated => match ef.tracking.previous_severity {
            Some(p) => format!("updated: was {}", p.as_str()),
            None => "updated".to_string(),
        },
    }
}
