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
    let findings = &run.findings.findings;
    let by_severity: Vec<SeverityCount> = Severity::ALL
        .iter()
        .map(|&severity| SeverityCount {
            severity,
            active: findings
                .iter()
                .filter(|f| f.suppressed.is_none() && f.finding.severity == severity)
                .count(),
            suppressed: findings
                .iter()
                .filter(|f| f.suppressed.is_some() && f.finding.severity == severity)
                .count(),
        })
        .collect();
    let by_rule = rule_summaries(findings, groups);
    let total_active = by_severity.iter().map(|s| s.active).sum();
    let total_suppressed = by_severity.iter().map(|s| s.suppressed).sum();
    let worst = run.findings.worst();
    let gate = if run.fail_on_new {
        run.findings.worst_regression()
    } else {
        worst
    };
    let fails_threshold = Severity::reaches(gate, run.fail_on);
    let keys_flagged = keys.iter().filter(|k| k.worst.is_some()).count();
    let mut users: Vec<&str> = findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| f.finding.user_name.as_str())
        .collect();
    users.sort_unstable();
    users.dedup();
    let users_flagged = users.len();
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
        worst,
        fails_threshold,
        keys_flagged,
        users_flagged,
        verdict,
    }
}

/// One row per rule and severity that has findings, so the rows add up to the severity
/// totals: a rule whose findings differ in severity (`user-two-active-keys` is low while a
/// rotation is under way) has a row for each. A rule's rows stay together: rules by their
/// worst severity, then by id; a rule's rows worst first.
pub(super) fn rule_summaries(
    findings: &[EvaluatedFinding],
    groups: &[RuleGroup],
) -> Vec<RuleSummary> {
    struct Pair<'f> {
        active: usize,
        suppressed: usize,
        compliance: Vec<&'f str>,
    }
    let mut pairs: BTreeMap<(&str, Severity), Pair<'_>> = BTreeMap::new();
    let mut worst: BTreeMap<&str, Severity> = BTreeMap::new();
    for ef in findings {
        let f = &ef.finding;
        let pair = pairs.entry((&f.rule_id, f.severity)).or_insert(Pair {
            active: 0,
            suppressed: 0,
            compliance: Vec::new(),
        });
        if ef.suppressed.is_some() {
            pair.suppressed += 1;
        } else {
            pair.active += 1;
        }
        for c in &f.compliance {
            if !pair.compliance.contains(&c.as_str()) {
                pair.compliance.push(c);
            }
        }
        let w = worst.entry(&f.rule_id).or_insert(f.severity);
        *w = (*w).max(f.severity);
    }
    let mut rows: Vec<(Severity, RuleSummary)> = pairs
        .into_iter()
        .map(|((rule_id, severity), pair)| {
            (
                worst[rule_id],
                RuleSummary {
                    rule_id: rule_id.to_string(),
                    summary: rule_summary(rule_id),
                    severity,
                    active: pair.active,
                    suppressed: pair.suppressed,
                    anchor: if groups.iter().any(|g| g.rule_id == rule_id) {
                        anchor(rule_id)
                    } else {
                        String::new()
                    },
                    compliance: pair.compliance.join(", "),
                },
            )
        })
        .collect();
    rows.sort_by(|(wa, a), (wb, b)| {
        wb.cmp(wa)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| b.severity.cmp(&a.severity))
    });
    rows.into_iter().map(|(_, row)| row).collect()
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
