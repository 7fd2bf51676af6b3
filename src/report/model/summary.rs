//! The summary: counts by severity and by (rule, severity), and the verdict.

use super::*;

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

pub(super) fn summary_view(
    run: &RunInfo<'_>,
    groups: &[RuleGroup],
    keys: &[KeyEntry],
    coverage: &CoverageView,
) -> SummaryView {
    let figures = run.figures;
    let by_severity = severity_counts(figures);
    let by_rule = rule_summaries(&figures.by_rule, |rule_id| {
        if groups.iter().any(|g| g.rule_id == rule_id) {
            anchor(rule_id)
        } else {
            String::new()
        }
    });
    let total_active = figures.open.total();
    let total_suppressed = figures.suppressed.total();
    let fails_threshold = figures.reach(run.fail_on, run.fail_on_new);
    let (keys_flagged, users_flagged) = (figures.keys_flagged, figures.users_flagged);
    debug_assert_eq!(
        keys_flagged,
        keys.iter().filter(|k| k.worst.is_some()).count(),
        "the figures and the key table flag the same keys"
    );
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
            "fail-on {}{}: {}",
            threshold.as_str(),
            if run.fail_on_new {
                " (new findings)"
            } else {
                ""
            },
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
        worst: figures.worst,
        fails_threshold,
        keys_flagged,
        users_flagged,
        verdict,
    }
}

/// The open and suppressed findings of each severity, critical first.
pub(crate) fn severity_counts(figures: &Figures) -> Vec<SeverityCount> {
    figures
        .open
        .iter()
        .map(|(severity, active)| SeverityCount {
            severity,
            active,
            suppressed: figures.suppressed.get(severity),
        })
        .collect()
}

/// The rows of the "by rule" table, one per rule and severity ([`RuleTally`]), in the
/// tallies' order; `anchor` gives the link to a rule's section ("" for none).
pub(crate) fn rule_summaries(
    tallies: &[RuleTally],
    anchor: impl Fn(&str) -> String,
) -> Vec<RuleSummary> {
    tallies
        .iter()
        .map(|t| RuleSummary {
            rule_id: t.rule_id.clone(),
            summary: rule_summary(&t.rule_id),
            severity: t.severity,
            active: t.open,
            suppressed: t.suppressed,
            anchor: anchor(&t.rule_id),
            compliance: t.compliance.join(", "),
        })
        .collect()
}

pub(super) fn verdict(
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
