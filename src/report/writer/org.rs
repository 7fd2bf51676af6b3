//! An organization's reports, written one account at a time.
//!
//! Each audited account is handed over once: its page is staged in the output directory
//! at once, and its rows of `findings.csv`, `keys.csv` and `report.json` go to a spill file
//! ([`Spilled`]). Only the account's row in the overview stays in memory, so a run holds
//! one account's model at a time, whatever the organization's size. [`Writer::finish`]
//! writes the overview and copies the rows into the shared files in the overview's order
//! (worst account first).

use std::path::Path;

use super::{Finished, JudgedAccount, RunEnd, Writer};
use crate::fsio::FileSet;
use crate::org::AccountRecord;
use crate::report::model::{
    AccountView, OrgModel, Overview, RunContext, account_model, account_page, audited_view,
    other_view,
};
use crate::report::spilled::{Part, Spilled};
use crate::report::{
    Format, ReportError, ReportFile, csv, files, html, json, markdown, summary, workbook,
};

pub struct OrgWriter {
    set: FileSet,
    formats: Vec<Format>,
    files: Vec<ReportFile>,
    context: RunContext,
    spilled: Spilled,
    views: Vec<AccountView>,
    /// The endpoint of the first audited account that names one.
    endpoint: Option<String>,
    /// The earliest and latest collection times of the audited accounts.
    collected: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// What `summary.md` keeps of the accounts (bounded).
    digest: markdown::Digest,
    /// Open findings per owner, over the accounts so far.
    owners: crate::report::model::OwnerTally,
    /// `--split-by-owner`: the rows routed by owner.
    split: Option<crate::report::by_owner::OwnerSplit>,
}

impl OrgWriter {
    pub fn new(
        out_dir: &Path,
        formats: &[Format],
        context: RunContext,
    ) -> Result<OrgWriter, ReportError> {
        let split = if context.split_by_owner {
            Some(crate::report::by_owner::OwnerSplit::new().map_err(spill_error)?)
        } else {
            None
        };
        Ok(OrgWriter {
            set: FileSet::new(out_dir).map_err(ReportError::Write)?,
            formats: formats.to_vec(),
            files: files(formats),
            context,
            spilled: Spilled::new().map_err(spill_error)?,
            views: Vec::new(),
            endpoint: None,
            collected: None,
            digest: markdown::Digest::default(),
            owners: Default::default(),
            split,
        })
    }
}

impl Writer for OrgWriter {
    /// Stages the account's page and spills its rows.
    fn audited(&mut self, account: JudgedAccount<'_>) -> Result<(), ReportError> {
        let record = account.record.ok_or_else(|| ReportError::Render {
            path: "report.html".to_string(),
            message: "an organization's account needs its record".to_string(),
        })?;
        let m = account_model(
            &self.context,
            &record.account,
            &account.inventory,
            &account.findings,
            Some(&account.scope),
            &account.figures,
        );
        let view = audited_view(record, &account.figures, &m.coverage.label);
        let id = record.account.id.as_str();
        let name = record.account.name.as_deref();
        for file in &self.files {
            match file {
                ReportFile::Html => self
                    .set
                    .stage(&account_page(id), |out| html::write_report_html(&m, out))
                    .map_err(ReportError::Write)?,
                // The workbook's rows are the CSVs' rows: spilled once for both.
                ReportFile::FindingsCsv => {}
                ReportFile::KeysCsv => {}
                ReportFile::Workbook => {}
                ReportFile::Json => {
                    json::spill_account(&mut self.spilled, &view, &m).map_err(spill_error)?
                }
                // The run's summary is written once, at the end.
                ReportFile::SummaryMd => {}
            }
        }
        if self.files.contains(&ReportFile::FindingsCsv)
            || self.files.contains(&ReportFile::Workbook)
        {
            let rows = csv::finding_rows_bytes(&m, name).map_err(spill_error)?;
            self.spilled
                .append(Part::FindingsCsv, id, &rows)
                .map_err(spill_error)?;
            let rows = csv::key_rows_bytes(&m, name).map_err(spill_error)?;
            self.spilled
                .append(Part::KeysCsv, id, &rows)
                .map_err(spill_error)?;
        }
        self.digest
            .add(m.open.iter().copied(), &m.coverage.gaps, Some(id));
        self.owners.merge(&m.by_owner);
        if let Some(split) = &mut self.split {
            super::split_rows(split, &m, name).map_err(spill_error)?;
        }
        if self.endpoint.is_none() {
            self.endpoint = m.source.endpoint.clone();
        }
        let at = account.inventory.collected_at;
        self.collected = Some(
            self.collected
                .map_or((at, at), |(a, b)| (a.min(at), b.max(at))),
        );
        self.views.push(view);
        Ok(())
    }

    /// Notes an account that was not audited: its row in the overview and in `report.json`.
    fn other(&mut self, record: &AccountRecord) -> Result<(), ReportError> {
        if let crate::org::Outcome::Unreachable(p) = &record.result {
            self.digest
                .unreachable(record.account.id.as_str(), &p.operation, &p.error_code);
        }
        let view = other_view(record);
        if self.files.contains(&ReportFile::Json) {
            json::spill_other(&mut self.spilled, &view).map_err(spill_error)?;
        }
        self.views.push(view);
        Ok(())
    }

    /// Builds the overview and stages the organization's files beside the pages.
    fn finish(self: Box<Self>, end: RunEnd<'_>) -> Result<Finished, ReportError> {
        let OrgWriter {
            mut set,
            formats,
            files,
            context,
            mut spilled,
            views,
            endpoint,
            collected,
            digest,
            owners,
            split,
        } = *self;
        let manifest = end.manifest.ok_or_else(|| ReportError::Render {
            path: "report.html".to_string(),
            message: "an organization's report needs its manifest".to_string(),
        })?;
        let mut model = OrgModel::build(Overview {
            context: &context,
            manifest,
            totals: end.totals,
            accounts: views,
            notices: &end.notices,
            tracking: end.tracking,
            id_source: end.id_source,
            endpoint,
            collected,
        });
        model.by_owner = owners.rows();
        spilled.set_order(model.accounts.iter().map(|a| a.id.clone()).collect());
        let book = workbook::Summary {
            audited: &model.title,
            as_of: model.as_of,
            totals: end.totals,
            tracking: &model.tracking,
            accounts: Some(&model.accounts),
            owner: None,
        };
        let names = super::other_files(&formats);
        let md = super::summary_md(
            &markdown::Run {
                audited: &model.title,
                as_of: &model.as_of_text,
                totals: end.totals,
                fail_on: context.fail_on,
                fail_on_new: context.fail_on_new,
                tracking: &model.tracking,
                organization: true,
                files: &names,
            },
            digest,
        )?;
        for file in files {
            set.stage(file.name(), |out| match file {
                ReportFile::Html => html::write_org_html(&model, out),
                ReportFile::FindingsCsv => {
                    out.write_all(csv::findings_header().as_bytes())?;
                    spilled.copy(Part::FindingsCsv, out)
                }
                ReportFile::KeysCsv => {
                    out.write_all(csv::keys_header().as_bytes())?;
                    spilled.copy(Part::KeysCsv, out)
                }
                ReportFile::Json => json::write_org_json(&model, &spilled, out),
                ReportFile::SummaryMd => out.write_all(&md),
                ReportFile::Workbook => workbook::write(
                    &book,
                    &mut |w| {
                        w.write_all(csv::findings_header().as_bytes())?;
                        spilled.copy(Part::FindingsCsv, w)
                    },
                    &mut |w| {
                        w.write_all(csv::keys_header().as_bytes())?;
                        spilled.copy(Part::KeysCsv, w)
                    },
                    out,
                ),
            })
            .map_err(ReportError::Write)?;
        }
        crate::report::set::finish(&mut set, &formats, end.signer)?;
        let by_owner = super::finish_split(split, set.dir(), &formats, &book)?;
        Ok(Finished {
            set,
            summary: summary::organization(&model),
            markdown: md,
            by_owner,
        })
    }
}

fn spill_error(e: std::io::Error) -> ReportError {
    ReportError::Render {
        path: "(spill file)".to_string(),
        message: e.to_string(),
    }
}
