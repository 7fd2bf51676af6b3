//! The summary a run prints on stdout: what was audited, the findings, the comparison,
//! the coverage, the `--fail-on` outcome and the files written. The two layouts share every
//! line about the run's figures; a single account adds its rules and gaps, an organization
//! its accounts.

use std::fmt::Write;
use std::path::PathBuf;

use crate::findings::{Figures, Severity, Totals};

use super::model::{self, OrgModel, ReportModel, TrackingView};

/// A value for a line of a terminal: its control and bidirectional characters escaped
/// ([`crate::text::for_terminal`]). The summaries print names and messages from AWS and
/// from saved files; the files themselves keep the exact values.
fn term(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::for_terminal(text)
}

/// A single account's summary, up to its closing lines ([`closing`]).
pub fn account(m: &ReportModel) -> String {
    let mut out = head(&format!("account {}", m.account_label), &m.as_of_text);
    if m.source.saved_inventory.is_some() {
        let _ = writeln!(out, "source: {}", term(&m.source.label));
    }
    findings_line(&mut out, &m.figures);
    let s = &m.summary;
    let width = s
        .by_rule
        .iter()
        .map(|r| r.rule_id.chars().count())
        .max()
        .unwrap_or(0);
    for r in &s.by_rule {
        let suppressed = if r.suppressed > 0 {
            format!(" (+{} suppressed)", r.suppressed)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8}  {}{}",
            r.rule_id,
            r.severity.as_str(),
            r.active,
            suppressed
        );
    }
    changes_line(&mut out, &m.tracking);
    if let Some(scope) = &m.scope {
        let _ = writeln!(out, "scope: {}", term(&scope.label));
    }
    suppressions_line(
        &mut out,
        m.expired_suppressions.len(),
        m.unused_suppressions.len(),
    );
    let _ = writeln!(out, "coverage: {}", m.coverage.label);
    for g in m.coverage.gaps.iter().take(5) {
        let _ = writeln!(
            out,
            "  gap: {}: {} failed with {}: {}",
            term(&g.scope),
            term(&g.operation),
            term(&g.error_code),
            term(&g.impact)
        );
    }
    if m.coverage.gaps.len() > 5 {
        let _ = writeln!(out, "  … and {} more gaps", m.coverage.gaps.len() - 5);
    }
    if let Some(cr) = &m.credential_report {
        let _ = writeln!(
            out,
            "credential report: generated {} ({}){}",
            cr.generated_at_text
                .as_deref()
                .unwrap_or("at an unknown time"),
            cr.relation_label,
            if cr.stale {
                format!(
                    ", STALE: older than {} hours",
                    model::STALE_CREDENTIAL_REPORT_HOURS
                )
            } else {
                String::new()
            }
        );
    }
    out
}

/// An organization's summary, up to its closing lines ([`closing`]).
pub fn organization(m: &OrgModel) -> String {
    let t = &m.totals;
    let mut out = head(&m.title, &m.as_of_text);
    let _ = writeln!(
        out,
        "accounts: {} selected, {} audited, {} not audited, {} not assessed; {} users, {} keys",
        t.selected,
        t.audited,
        t.unreachable,
        t.not_assessed,
        t.users(),
        t.keys()
    );
    findings_line(&mut out, &t.figures);
    changes_line(&mut out, &m.tracking);
    for a in m
        .accounts
        .iter()
        .filter(|a| a.audited && (a.open_total() > 0 || a.gaps > 0))
        .take(10)
    {
        let _ = writeln!(
            out,
            "  {}{}  {} open{}",
            a.id,
            a.name
                .as_deref()
                .map(|n| format!(" ({})", term(n)))
                .unwrap_or_default(),
            a.open_total(),
            if a.gaps > 0 {
                format!(", {} gaps", a.gaps)
            } else {
                String::new()
            }
        );
    }
    suppressions_line(
        &mut out,
        m.expired_suppressions.len(),
        m.unused_suppressions.len(),
    );
    let _ = writeln!(out, "coverage: {}", m.coverage_label());
    for (a, p) in m
        .accounts
        .iter()
        .filter_map(|a| a.problem.as_ref().map(|p| (a, p)))
    {
        let _ = writeln!(
            out,
            "  not audited: account {}: {} failed with {}: {}{}",
            a.id,
            term(&p.operation),
            term(&p.error_code),
            term(&p.message),
            p.role_arn
                .as_deref()
                .map(|r| format!(" (role {})", term(r)))
                .unwrap_or_default()
        );
    }
    out
}

/// The first line: the version, what was audited, the as-of.
fn head(audited: &str, as_of: &str) -> String {
    format!(
        "keyhygiene {}: {}, as of {as_of}\n",
        model::TOOL_VERSION,
        term(audited)
    )
}

/// The open and suppressed findings, and the keys they flag.
fn findings_line(out: &mut String, f: &Figures) {
    let counts: Vec<String> = f
        .open
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "findings: {} open ({}), {} suppressed; {} of {} keys flagged",
        f.open.total(),
        counts.join(", "),
        f.suppressed.total(),
        f.keys_flagged,
        f.coverage.keys
    );
}

/// The comparison with the baseline, when there is one.
fn changes_line(out: &mut String, tracking: &TrackingView) {
    if let Some(line) = &tracking.line {
        let _ = writeln!(out, "changes: {}", term(line));
    }
}

/// The stale suppressions, when there are any.
fn suppressions_line(out: &mut String, expired: usize, unused: usize) {
    if expired > 0 || unused > 0 {
        let _ = writeln!(
            out,
            "suppressions: {expired} expired, {unused} unused (see the report)"
        );
    }
}

/// The summary's last lines: the `--fail-on` outcome and the files written (an
/// organization's account pages counted, not listed).
pub fn closing(fail_on: Option<Severity>, fails_threshold: bool, written: &[PathBuf]) -> String {
    let mut out = String::new();
    if let Some(threshold) = fail_on {
        let _ = writeln!(
            out,
            "fail-on {}: {}",
            threshold.as_str(),
            if fails_threshold {
                "reached"
            } else {
                "not reached"
            }
        );
    }
    if written.is_empty() {
        let _ = writeln!(out, "no report files written");
        return out;
    }
    let is_page = |p: &&PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("account-"))
    };
    let _ = writeln!(out, "wrote:");
    for p in written.iter().filter(|p| !is_page(p)) {
        let _ = writeln!(out, "  {}", term(&crate::storage::shown::path(p)));
    }
    let pages = written.iter().filter(is_page).count();
    if pages > 0 {
        let _ = writeln!(out, "  and {pages} account pages (account-<id>.html)");
    }
    out
}

/// The line on stderr of a run whose coverage is incomplete (exit code 3), from its
/// figures; `accounts` when the run's layout lists accounts.
pub fn incomplete(t: &Totals, accounts: bool) -> String {
    if accounts {
        format!(
            "keyhygiene: coverage is incomplete: {} of {} selected accounts not audited, {} gap(s) inside audited accounts; the reports say what is missing",
            t.unreachable,
            t.selected,
            t.gaps()
        )
    } else {
        format!(
            "keyhygiene: coverage is incomplete: {} gap(s); the reports list what could not be collected",
            t.gaps()
        )
    }
}
