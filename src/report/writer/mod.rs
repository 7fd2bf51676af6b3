//! The report set of a run, written one account at a time. The two layouts differ here
//! alone:
//! - a single account's `report.html` is the account's own page ([`AccountWriter`]);
//! - an organization's is the overview, beside one page per audited account, with every
//!   account's rows in the shared CSV and JSON files ([`OrgWriter`]).
//!
//! The run hands each account over once, when it is done with it ([`Writer::audited`],
//! [`Writer::other`]), then what only the whole run knows ([`RunEnd`]): the writer stages
//! every file, to be committed with the run's other files.

mod account;
mod org;

pub use account::AccountWriter;
pub use org::OrgWriter;

use std::path::Path;

use crate::baseline::RunTracking;
use crate::baseline::signing::HistoryKey;
use crate::findings::{Figures, FindingSet, IdSource, Totals};
use crate::fsio::FileSet;
use crate::inventory::Inventory;
use crate::org::{AccountRecord, Manifest};
use crate::policy::ScopeOutcome;

use super::model::RunContext;
use super::{Format, ReportError};

/// Which reports a run writes: one account's, or an organization's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A plain run: one account, whose page is `report.html`.
    Account,
    /// `--org`, `--ou`, `--accounts`, `--accounts-file`, or saved folders: the overview
    /// and a page per audited account, even for one account.
    Organization,
}

/// An audited account, judged and compared, as the run hands it to the writer.
pub struct JudgedAccount<'r> {
    /// The account's record, in the organization layout.
    pub record: Option<&'r AccountRecord>,
    /// The inventory the rules judged (after the scope).
    pub inventory: Inventory,
    pub findings: FindingSet,
    pub scope: ScopeOutcome,
    pub figures: Figures,
}

/// What only the whole run knows, once every account was handed over.
pub struct RunEnd<'a> {
    /// The run's figures.
    pub totals: &'a Totals,
    /// What belongs to the run as a whole: the suppressions' notices, and every baseline
    /// finding resolved or not assessed (in [`crate::baseline::past_order`]).
    pub notices: FindingSet,
    /// The organization layout's manifest.
    pub manifest: Option<&'a Manifest>,
    pub tracking: &'a RunTracking,
    pub id_source: IdSource,
    /// Signs `report.json` when the run has a history key.
    pub signer: Option<&'a HistoryKey>,
}

/// The staged report set, and the summary for the terminal.
pub struct Finished {
    pub set: FileSet,
    /// The summary's lines up to the closing ones ([`super::summary::closing`]).
    pub summary: String,
    /// The run's `summary.md` (in the set with `--format md`; `--summary-to` appends it).
    pub markdown: Vec<u8>,
    /// `--split-by-owner`: one set per owner folder, committed with the report set.
    pub by_owner: Vec<FileSet>,
}

/// Routes an account's CSV rows to their owners (`--split-by-owner`).
fn split_rows(
    split: &mut super::by_owner::OwnerSplit,
    m: &super::ReportModel<'_>,
    account_name: Option<&str>,
) -> std::io::Result<()> {
    use super::by_owner::Sheet;
    super::csv::finding_rows_by_owner(m, account_name, |owner, row| {
        split.add(owner, Sheet::Findings, row)
    })?;
    super::csv::key_rows_by_owner(m, account_name, |owner, row| {
        split.add(owner, Sheet::Keys, row)
    })
}

/// Stages the owners' folders.
fn finish_split(
    split: Option<super::by_owner::OwnerSplit>,
    out_dir: &Path,
    formats: &[Format],
    workbook: &super::workbook::Summary<'_>,
) -> Result<Vec<FileSet>, ReportError> {
    match split {
        Some(split) => split
            .finish(
                out_dir,
                &super::csv::findings_header(),
                &super::csv::keys_header(),
                formats.contains(&Format::Csv),
                formats.contains(&Format::Xlsx).then_some(workbook),
            )
            .map_err(ReportError::Write),
        None => Ok(Vec::new()),
    }
}

/// The writer of one layout.
pub trait Writer {
    /// An audited account.
    fn audited(&mut self, account: JudgedAccount<'_>) -> Result<(), ReportError>;
    /// A selected account that was not audited (the organization layout's rows).
    fn other(&mut self, record: &AccountRecord) -> Result<(), ReportError>;
    /// Stages every file of the set.
    fn finish(self: Box<Self>, end: RunEnd<'_>) -> Result<Finished, ReportError>;
}

/// The run's `summary.md`, rendered from what the writer kept of its accounts.
fn summary_md(
    run: &super::markdown::Run<'_>,
    digest: super::markdown::Digest,
) -> Result<Vec<u8>, ReportError> {
    let mut md = Vec::new();
    super::markdown::write(run, digest, &mut md).map_err(|e| ReportError::Render {
        path: super::ReportFile::SummaryMd.name().into(),
        message: e.to_string(),
    })?;
    Ok(md)
}

/// The files of the set a reader opens besides `summary.md`, for its last line.
fn other_files(formats: &[Format]) -> Vec<&'static str> {
    super::files(formats)
        .into_iter()
        .filter(|f| *f != super::ReportFile::SummaryMd)
        .map(|f| f.name())
        .collect()
}

/// The writer of `layout`, staging into `out_dir` (created if needed).
pub fn writer(
    layout: Layout,
    out_dir: &Path,
    formats: &[Format],
    context: RunContext,
) -> Result<Box<dyn Writer>, ReportError> {
    Ok(match layout {
        Layout::Account => Box::new(AccountWriter::new(out_dir, formats, context)),
        Layout::Organization => Box::new(OrgWriter::new(out_dir, formats, context)?),
    })
}
