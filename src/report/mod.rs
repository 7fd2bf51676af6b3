//! The reports: HTML, CSV and JSON, all from one view model.
//!
//! [`model::ReportModel`] is computed once from a [`RunInfo`]; `html`, `csv` and `json` only
//! format it. Output is byte-stable for a given inventory, finding set and as-of time: no wall
//! clock, no random ids and no paths other than the ones the user passed appear in it, so
//! `keyhygiene audit --from-inventory FILE --as-of T --out-dir DIR` regenerates identical
//! files, and [`render`] gives the same bytes without touching the disk.

pub mod csv;
pub mod html;
pub mod json;
pub mod model;
pub mod org_writer;
pub mod set;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::findings::{FindingSet, Severity};
use crate::fsio::{FileSet, WriteError};
use crate::inventory::Inventory;

pub use model::{OrgModel, PageContext, ReportModel, org_title};
pub use org_writer::OrgWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Html,
    Csv,
    Json,
}

impl Format {
    /// The files one format produces, in the order they are written.
    pub fn files(self) -> &'static [ReportFile] {
        match self {
            Format::Html => &[ReportFile::Html],
            Format::Csv => &[ReportFile::FindingsCsv, ReportFile::KeysCsv],
            Format::Json => &[ReportFile::Json],
        }
    }
}

/// One report file: its name in the output directory and its renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportFile {
    Html,
    FindingsCsv,
    KeysCsv,
    Json,
}

impl ReportFile {
    pub fn name(self) -> &'static str {
        match self {
            ReportFile::Html => "report.html",
            ReportFile::FindingsCsv => "findings.csv",
            ReportFile::KeysCsv => "keys.csv",
            ReportFile::Json => "report.json",
        }
    }

    /// Streams this file of the report into `out`.
    fn write(self, model: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
        match self {
            ReportFile::Html => html::write_report_html(model, out),
            ReportFile::FindingsCsv => csv::write_findings_csv(model, out),
            ReportFile::KeysCsv => csv::write_keys_csv(model, out),
            ReportFile::Json => json::write_report_json(model, out),
        }
    }
}

/// Everything one run knows, as the renderers need it.
pub struct RunInfo<'a> {
    pub inventory: &'a Inventory,
    pub findings: &'a FindingSet,
    pub as_of: DateTime<Utc>,
    /// `None` means `--fail-on none`.
    pub fail_on: Option<Severity>,
    /// The policy file, when one was given.
    pub policy_file: Option<&'a Path>,
    /// The saved inventory this run audited (`--from-inventory`), when it read one.
    pub saved_inventory: Option<&'a Path>,
    /// What the policy's scope left out, when it left anything out.
    pub scope: Option<&'a crate::policy::ScopeOutcome>,
    /// `--fail-on-new`: only new and worse findings reach the threshold.
    pub fail_on_new: bool,
    /// The comparison with an earlier run, when there was one (or a history folder).
    pub tracking: Option<&'a crate::baseline::RunTracking>,
}

/// What an organization run knows at its end, as the overview needs it (each audited
/// account was handed to the [`OrgWriter`] before).
pub struct OrgRunInfo<'a> {
    pub manifest: &'a crate::org::Manifest,
    /// The run's expired and unused suppressions (they belong to no one account), and
    /// every account's resolved and not-assessed baseline findings.
    pub findings_notices: &'a FindingSet,
    pub as_of: DateTime<Utc>,
    pub fail_on: Option<Severity>,
    pub policy_file: Option<&'a Path>,
    /// The saved inventories this run read, when it read any.
    pub saved_inventories: &'a [PathBuf],
    pub fail_on_new: bool,
    pub tracking: Option<&'a crate::baseline::RunTracking>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{path}: cannot render the report: {message}")]
    Render { path: String, message: String },
}

/// One rendered report file: its name inside the output directory and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// Renders the chosen formats in memory, in the order given (each format once).
///
/// This is what [`write_reports`] writes; a drift check over committed sample reports can
/// compare these bytes with the files on disk.
pub fn render(formats: &[Format], run: &RunInfo<'_>) -> Result<Vec<RenderedFile>, ReportError> {
    let model = ReportModel::build(run);
    render_model(formats, &model)
}

/// Renders the chosen formats from an already built model.
pub fn render_model(
    formats: &[Format],
    model: &ReportModel,
) -> Result<Vec<RenderedFile>, ReportError> {
    files(formats)
        .into_iter()
        .map(|file| {
            let mut bytes = Vec::new();
            file.write(model, &mut bytes)
                .map_err(|e| ReportError::Render {
                    path: file.name().to_string(),
                    message: e.to_string(),
                })?;
            Ok(RenderedFile {
                name: file.name(),
                bytes,
            })
        })
        .collect()
}

/// The files the chosen formats produce, each format once, in the order given.
fn files(formats: &[Format]) -> Vec<ReportFile> {
    let mut files: Vec<ReportFile> = Vec::new();
    for format in formats {
        for file in format.files() {
            if !files.contains(file) {
                files.push(*file);
            }
        }
    }
    files
}

/// Writes the chosen reports into `out_dir` (created if needed) and returns their paths:
/// [`stage_reports`], committed at once.
pub fn write_reports(
    out_dir: &Path,
    formats: &[Format],
    run: &RunInfo<'_>,
) -> Result<Vec<PathBuf>, ReportError> {
    let written = stage_reports(out_dir, formats, &ReportModel::build(run), None)?
        .commit()
        .map_err(ReportError::Write)?;
    // The reports a reader opens, not the set manifest.
    Ok(written
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect())
}

/// Stages the chosen reports of one account into `out_dir` (created if needed), to commit
/// with the run's other files.
///
/// Each file streams from the model straight to disk, one at a time, so memory does not
/// grow with the size of the reports. Every file is written to an exclusive temporary file;
/// nothing is visible until the set is committed ([`crate::fsio::commit`]), so a failed run
/// leaves the previous report set as it was and a reader never sees half a report. With a
/// history key, `report.json` is signed (`report.json.sig`); the set manifest is staged
/// last ([`set::finish`]). Files of formats not requested are left alone.
pub fn stage_reports(
    out_dir: &Path,
    formats: &[Format],
    model: &ReportModel,
    signer: Option<&crate::baseline::signing::HistoryKey>,
) -> Result<FileSet, ReportError> {
    let mut set = FileSet::new(out_dir).map_err(ReportError::Write)?;
    set::stage_files(&mut set, formats, model).map_err(ReportError::Write)?;
    set::finish(&mut set, formats, signer)?;
    Ok(set)
}

/// A value for a line of a terminal: its control and bidirectional characters escaped
/// ([`crate::text::for_terminal`]). The summaries print names and messages from AWS and
/// from saved files; the files themselves keep the exact values.
fn term(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::for_terminal(text)
}

/// The compact summary an organization run prints on stdout.
pub fn org_summary_text(m: &OrgModel, written: &[PathBuf]) -> String {
    use std::fmt::Write;
    let t = &m.totals;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "keyhygiene {}: {}, as of {}",
        m.tool_version,
        term(&m.title),
        m.as_of_text
    );
    let _ = writeln!(
        out,
        "accounts: {} selected, {} audited, {} not audited, {} not assessed; {} users, {} keys",
        t.selected, t.audited, t.unreachable, t.not_assessed, t.users, t.keys
    );
    let counts: Vec<String> = Severity::ALL
        .iter()
        .zip(t.open)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "findings: {} open ({}), {} suppressed; {} keys flagged",
        t.open_total(),
        counts.join(", "),
        t.suppressed,
        t.keys_flagged
    );
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
    closing_lines(&mut out, m.fail_on, m.fails_threshold, written);
    out
}

/// The compact summary printed on stdout after every run.
pub fn summary_text(m: &ReportModel, written: &[PathBuf]) -> String {
    use std::fmt::Write;
    let s = &m.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "keyhygiene {}: account {}, as of {}",
        m.tool_version,
        term(&m.account_label),
        m.as_of_text
    );
    if m.source.saved_inventory.is_some() {
        let _ = writeln!(out, "source: {}", term(&m.source.label));
    }
    let counts: Vec<String> = s
        .by_severity
        .iter()
        .map(|c| format!("{} {}", c.active, c.severity.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "findings: {} open ({}), {} suppressed; {} of {} keys flagged",
        s.total_active,
        counts.join(", "),
        s.total_suppressed,
        s.keys_flagged,
        m.coverage.keys
    );
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
    closing_lines(&mut out, m.fail_on, s.fails_threshold, written);
    out
}

/// The comparison with the baseline, when there is one.
fn changes_line(out: &mut String, tracking: &model::TrackingView) {
    use std::fmt::Write;
    if let Some(line) = &tracking.line {
        let _ = writeln!(out, "changes: {}", term(line));
    }
}

/// The stale suppressions, when there are any.
fn suppressions_line(out: &mut String, expired: usize, unused: usize) {
    use std::fmt::Write;
    if expired > 0 || unused > 0 {
        let _ = writeln!(
            out,
            "suppressions: {expired} expired, {unused} unused (see the report)"
        );
    }
}

/// The summary's last lines: the `--fail-on` outcome and the files written (an
/// organization's account pages counted, not listed).
fn closing_lines(
    out: &mut String,
    fail_on: Option<Severity>,
    fails_threshold: bool,
    written: &[PathBuf],
) {
    use std::fmt::Write;
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
        return;
    }
    let is_page = |p: &&PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("account-"))
    };
    let _ = writeln!(out, "wrote:");
    for p in written.iter().filter(|p| !is_page(p)) {
        let _ = writeln!(out, "  {}", term(&p.display().to_string()));
    }
    let pages = written.iter().filter(is_page).count();
    if pages > 0 {
        let _ = writeln!(out, "  and {pages} account pages (account-<id>.html)");
    }
}
