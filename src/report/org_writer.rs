//! An organization's reports, written one account at a time.
//!
//! Each audited account is handed over once, when the run is done with it: its page is
//! staged in the output directory at once, and its rows of `findings.csv`, `keys.csv` and
//! `report.json` go to a spill file ([`crate::spill::Spill`]). Only the account's row in
//! the overview and the organization's sums stay in memory, so a run holds one account's
//! model at a time, whatever the organization's size. [`OrgWriter::finish`] writes the
//! overview and copies the rows into the shared files in the overview's order (worst
//! account first), then swaps every file in together, like a single account's reports.

use std::cell::RefCell;
use std::io::{self, Write};

use serde::Serialize;

use crate::findings::FindingSet;
use crate::fsio::FileSet;
use crate::inventory::Inventory;
use crate::org::AccountRecord;
use crate::spill::Spill;

use super::model::{
    AccountView, OrgModel, OrgSums, PageContext, ReportModel, account_model, account_page,
    audited_view, other_view,
};
use super::{Format, OrgRunInfo, ReportError, ReportFile, csv, files, html, json};

/// The parts of the shared files one account contributes, by spill key prefix.
#[derive(Clone, Copy)]
pub enum Part {
    FindingsCsv,
    KeysCsv,
    OpenFindings,
    SuppressedFindings,
    Account,
    Gaps,
    Removed,
}

impl Part {
    fn key(self, account_id: &str) -> String {
        let prefix = match self {
            Part::FindingsCsv => "findings.csv",
            Part::KeysCsv => "keys.csv",
            Part::OpenFindings => "open",
            Part::SuppressedFindings => "suppressed",
            Part::Account => "account",
            Part::Gaps => "gaps",
            Part::Removed => "removed",
        };
        format!("{prefix}:{account_id}")
    }
}

pub struct OrgWriter {
    set: FileSet,
    formats: Vec<Format>,
    files: Vec<ReportFile>,
    context: PageContext,
    spill: Spill,
    views: Vec<AccountView>,
    sums: OrgSums,
}

impl OrgWriter {
    pub fn new(
        out_dir: &std::path::Path,
        formats: &[Format],
        context: PageContext,
    ) -> Result<OrgWriter, ReportError> {
        Ok(OrgWriter {
            set: FileSet::new(out_dir).map_err(ReportError::Write)?,
            formats: formats.to_vec(),
            files: files(formats),
            context,
            spill: Spill::new().map_err(spill_error)?,
            views: Vec::new(),
            sums: OrgSums::default(),
        })
    }

    /// Writes an audited account: its page, and its rows into the spill file.
    pub fn add_audited(
        &mut self,
        record: &AccountRecord,
        inventory: &Inventory,
        findings: &FindingSet,
        scope: Option<&crate::policy::ScopeOutcome>,
    ) -> Result<(), ReportError> {
        let m = account_model(&self.context, &record.account, inventory, findings, scope);
        let view = audited_view(record, &m);
        let id = record.account.id.as_str();
        let name = record.account.name.as_deref();
        let spill = &mut self.spill;
        for file in &self.files {
            match file {
                ReportFile::Html => self
                    .set
                    .stage(&account_page(id), |out| html::write_report_html(&m, out))
                    .map_err(ReportError::Write)?,
                ReportFile::FindingsCsv => {
                    let rows = csv::finding_rows_bytes(&m, name).map_err(spill_error)?;
                    append(spill, Part::FindingsCsv, id, &rows)?;
                }
                ReportFile::KeysCsv => {
                    let rows = csv::key_rows_bytes(&m, name).map_err(spill_error)?;
                    append(spill, Part::KeysCsv, id, &rows)?;
                }
                ReportFile::Json => spill_json(spill, &view, &m)?,
            }
        }
        self.sums.add(&m, findings);
        self.views.push(view);
        Ok(())
    }

    /// Notes an account that was not audited: its row in the overview and in `report.json`.
    pub fn add_other(&mut self, record: &AccountRecord) -> Result<(), ReportError> {
        let view = other_view(record);
        if self.files.contains(&ReportFile::Json) {
            let entry = json::account_entry(Some(&view), None);
            let item = json::item_at_depth(&entry, 2).map_err(spill_error)?;
            append_item(&mut self.spill, Part::Account, &view.id, &item)?;
        }
        self.views.push(view);
        Ok(())
    }

    /// Builds the overview and stages the organization's files beside the pages: the set
    /// to commit with the run's other files ([`super::set::finish`] included).
    pub fn finish(
        self,
        run: &OrgRunInfo<'_>,
        signer: Option<&crate::baseline::signing::HistoryKey>,
    ) -> Result<(OrgModel, FileSet), ReportError> {
        let OrgWriter {
            mut set,
            formats,
            files,
            spill,
            views,
            sums,
            ..
        } = self;
        let model = OrgModel::build(run, views, sums);
        let spilled = Spilled {
            spill: RefCell::new(spill),
            model: &model,
        };
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
            })
            .map_err(ReportError::Write)?;
        }
        super::set::finish(&mut set, &formats, signer)?;
        Ok((model, set))
    }
}

/// The accounts' spilled rows, read back in the overview's order.
pub struct Spilled<'m> {
    spill: RefCell<Spill>,
    model: &'m OrgModel,
}

impl Spilled<'_> {
    /// Copies every account's `part`, in the overview's order.
    fn copy(&self, part: Part, out: &mut dyn Write) -> io::Result<()> {
        let mut spill = self.spill.borrow_mut();
        for account in &self.model.accounts {
            spill.copy_to(&part.key(&account.id), out)?;
        }
        Ok(())
    }

    /// A list of `report.json` items: every account's `part`, in the overview's order,
    /// each item written as it was rendered (an account that was not audited has only its
    /// entry in `accounts`).
    pub fn list(&self, part: Part) -> SpilledList<'_> {
        SpilledList {
            spilled: self,
            part,
        }
    }
}

pub struct SpilledList<'s> {
    spilled: &'s Spilled<'s>,
    part: Part,
}

impl Serialize for SpilledList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(None)?;
        let mut spill = self.spilled.spill.borrow_mut();
        for account in &self.spilled.model.accounts {
            let items = spill
                .items(&self.part.key(&account.id))
                .map_err(S::Error::custom)?;
            for item in items {
                let text = String::from_utf8(item).map_err(S::Error::custom)?;
                let raw =
                    serde_json::value::RawValue::from_string(text).map_err(S::Error::custom)?;
                seq.serialize_element(&raw)?;
            }
        }
        seq.end()
    }
}

/// An audited account's parts of `report.json`: its findings, gaps and entry.
fn spill_json(spill: &mut Spill, view: &AccountView, m: &ReportModel) -> Result<(), ReportError> {
    let id = view.id.as_str();
    for (part, items) in [
        (Part::OpenFindings, json::finding_items(m, view, false)),
        (Part::SuppressedFindings, json::finding_items(m, view, true)),
        (Part::Gaps, json::gap_items(m, view)),
        (Part::Removed, json::removed_items(m, view)),
    ] {
        for item in items.map_err(spill_error)? {
            append_item(spill, part, id, &item)?;
        }
    }
    let entry = json::account_entry(Some(view), Some(m));
    let item = json::item_at_depth(&entry, 2).map_err(spill_error)?;
    append_item(spill, Part::Account, id, &item)
}

fn append(spill: &mut Spill, part: Part, id: &str, bytes: &[u8]) -> Result<(), ReportError> {
    spill.append(&part.key(id), bytes).map_err(spill_error)
}

fn append_item(spill: &mut Spill, part: Part, id: &str, item: &[u8]) -> Result<(), ReportError> {
    spill.append_item(&part.key(id), item).map_err(spill_error)
}

fn spill_error(e: io::Error) -> ReportError {
    ReportError::Render {
        path: "(spill file)".to_string(),
        message: e.to_string(),
    }
}
