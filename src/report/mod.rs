//! The reports: HTML, CSV, JSON and the Markdown summary, all from one view model.
//!
//! [`model::ReportModel`] is computed once from a [`RunInfo`]; `html`, `csv` and `json` only
//! format it. Output is byte-stable for a given inventory, finding set and as-of time: no wall
//! clock, no random ids and no paths other than the ones the user passed appear in it, so
//! `keyhygiene audit --from-inventory FILE --as-of T --out-dir DIR` regenerates identical
//! files, and [`render`] gives the same bytes without touching the disk.

pub mod by_owner;
pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod set;
pub mod spilled;
pub mod summary;
pub mod workbook;
pub mod writer;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::findings::{FindingSet, Severity};
use crate::fsio::{FileSet, WriteError};
use crate::inventory::Inventory;

pub use model::{OrgModel, ReportModel, RunContext, org_title};
pub use writer::{Finished, JudgedAccount, Layout, RunEnd, Writer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Html,
    Csv,
    Json,
    /// `summary.md`, written by the layout's writer from the run's figures.
    Md,
    /// `keyhygiene.xlsx`, written by the layout's writer from the CSVs' rows.
    Xlsx,
}

impl Format {
    /// The files one format produces, in the order they are written.
    pub fn files(self) -> &'static [ReportFile] {
        match self {
            Format::Html => &[ReportFile::Html],
            Format::Csv => &[ReportFile::FindingsCsv, ReportFile::KeysCsv],
            Format::Json => &[ReportFile::Json],
            Format::Md => &[ReportFile::SummaryMd],
            Format::Xlsx => &[ReportFile::Workbook],
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
    SummaryMd,
    Workbook,
}

impl ReportFile {
    pub fn name(self) -> &'static str {
        match self {
            ReportFile::Html => "report.html",
            ReportFile::FindingsCsv => "findings.csv",
            ReportFile::KeysCsv => "keys.csv",
            ReportFile::Json => "report.json",
            ReportFile::SummaryMd => "summary.md",
            ReportFile::Workbook => workbook::FILE,
        }
    }

    /// True for the files rendered from one account's model alone; `summary.md` needs the
    /// whole run and is staged by the layout's writer ([`writer`]).
    fn of_model(self) -> bool {
        !matches!(self, ReportFile::SummaryMd | ReportFile::Workbook)
    }

    /// Streams this file of the report into `out`.
    fn write(self, model: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
        match self {
            ReportFile::Html => html::write_report_html(model, out),
            ReportFile::FindingsCsv => csv::write_findings_csv(model, out),
            ReportFile::KeysCsv => csv::write_keys_csv(model, out),
            ReportFile::Json => json::write_report_json(model, out),
            ReportFile::SummaryMd | ReportFile::Workbook => Err(io::Error::other(
                "written by the run's writer, from the whole run",
            )),
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
    /// The account's figures ([`crate::findings::Figures::of`] of `inventory` and
    /// `findings`).
    pub figures: &'a crate::findings::Figures,
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
        .filter(|f| f.of_model())
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
    let written = stage_reports(
        out_dir,
        formats,
        &ReportModel::build(run),
        None,
        &mut |_| Ok(()),
    )?
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
/// last ([`set::finish`]). Files of formats not requested are left alone. `run_files`
/// stages what only the whole run gives (`summary.md`, the workbook) before the manifest.
pub fn stage_reports(
    out_dir: &Path,
    formats: &[Format],
    model: &ReportModel,
    signer: Option<&crate::baseline::signing::HistoryKey>,
    run_files: &mut dyn FnMut(&mut FileSet) -> Result<(), ReportError>,
) -> Result<FileSet, ReportError> {
    let mut set = FileSet::new(out_dir).map_err(ReportError::Write)?;
    set::stage_files(&mut set, formats, model).map_err(ReportError::Write)?;
    run_files(&mut set)?;
    set::finish(&mut set, formats, signer)?;
    Ok(set)
}
