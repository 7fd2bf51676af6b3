//! A single account's reports: `report.html` is the account's page, the CSV and JSON files
//! hold its rows. The account is kept until the run ends, since its page shows what only
//! the whole run knows (the trend, the suppressions' notices).

use std::path::{Path, PathBuf};

use super::{Finished, JudgedAccount, RunEnd, Writer};
use crate::org::AccountRecord;
use crate::report::model::{ReportModel, RunContext};
use crate::report::{
    Format, ReportError, ReportFile, RunInfo, csv, markdown, stage_reports, summary, workbook,
};

pub struct AccountWriter {
    out_dir: PathBuf,
    formats: Vec<Format>,
    context: RunContext,
    account: Option<Held>,
}

struct Held {
    inventory: crate::inventory::Inventory,
    findings: crate::findings::FindingSet,
    scope: crate::policy::ScopeOutcome,
    figures: crate::findings::Figures,
}

impl AccountWriter {
    pub fn new(out_dir: &Path, formats: &[Format], context: RunContext) -> AccountWriter {
        AccountWriter {
            out_dir: out_dir.to_path_buf(),
            formats: formats.to_vec(),
            context,
            account: None,
        }
    }
}

fn render_error(e: std::io::Error) -> ReportError {
    ReportError::Render {
        path: crate::report::by_owner::BY_OWNER.to_string(),
        message: e.to_string(),
    }
}

/// The error of a run that does not hand this layout exactly one audited account.
fn not_one_account() -> ReportError {
    ReportError::Render {
        path: "report.html".to_string(),
        message: "a single account's report needs exactly one audited account".to_string(),
    }
}

impl Writer for AccountWriter {
    fn audited(&mut self, account: JudgedAccount<'_>) -> Result<(), ReportError> {
        if self.account.is_some() {
            return Err(not_one_account());
        }
        self.account = Some(Held {
            inventory: account.inventory,
            findings: account.findings,
            scope: account.scope,
            figures: account.figures,
        });
        Ok(())
    }

    fn other(&mut self, _record: &AccountRecord) -> Result<(), ReportError> {
        Err(not_one_account())
    }

    fn finish(self: Box<Self>, end: RunEnd<'_>) -> Result<Finished, ReportError> {
        let AccountWriter {
            out_dir,
            formats,
            context,
            account,
        } = *self;
        let Held {
            inventory,
            mut findings,
            scope,
            figures,
        } = account.ok_or_else(not_one_account)?;
        // The run's notices are the account's: its page lists them.
        let notices = end.notices;
        findings.resolved = notices.resolved;
        findings.not_assessed = notices.not_assessed;
        findings.expired_suppressions = notices.expired_suppressions;
        findings.unused_suppressions = notices.unused_suppressions;
        let mut model = ReportModel::build(&RunInfo {
            inventory: &inventory,
            findings: &findings,
            as_of: context.as_of,
            fail_on: context.fail_on,
            policy_file: context.policy_file.as_deref(),
            saved_inventory: context.saved_inventories.first().map(|p| p.as_path()),
            scope: Some(&scope),
            fail_on_new: context.fail_on_new,
            tracking: Some(end.tracking),
            figures: &figures,
        });
        model.set_owners(&context.owners, &inventory);
        let mut digest = markdown::Digest::default();
        digest.add(model.open.iter().copied(), &model.coverage.gaps, None);
        let audited = format!("account {}", model.account_label);
        let names = super::other_files(&formats);
        let md = super::summary_md(
            &markdown::Run {
                audited: &audited,
                as_of: &model.as_of_text,
                totals: end.totals,
                fail_on: context.fail_on,
                fail_on_new: context.fail_on_new,
                tracking: &model.tracking,
                organization: false,
                files: &names,
            },
            digest,
        )?;
        let book = workbook::Summary {
            audited: &audited,
            as_of: model.as_of,
            totals: end.totals,
            tracking: &model.tracking,
            accounts: None,
            owner: None,
        };
        let set = stage_reports(&out_dir, &formats, &model, end.signer, &mut |set| {
            if formats.contains(&Format::Md) {
                set.stage(ReportFile::SummaryMd.name(), |out| out.write_all(&md))
                    .map_err(ReportError::Write)?;
            }
            if formats.contains(&Format::Xlsx) {
                set.stage(workbook::FILE, |out| {
                    workbook::write(
                        &book,
                        &mut |w| csv::write_findings_csv(&model, w),
                        &mut |w| csv::write_keys_csv(&model, w),
                        out,
                    )
                })
                .map_err(ReportError::Write)?;
            }
            Ok(())
        })?;
        let split = if context.split_by_owner {
            let mut split = crate::report::by_owner::OwnerSplit::new().map_err(render_error)?;
            super::split_rows(&mut split, &model, None).map_err(render_error)?;
            Some(split)
        } else {
            None
        };
        Ok(Finished {
            set,
            summary: summary::account(&model),
            markdown: md,
            by_owner: super::finish_split(split, &out_dir, &formats, &book)?,
        })
    }
}
