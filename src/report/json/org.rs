//! The `report.json` of an organization run: the same document shape, with the run's
//! totals at the top and one `accounts` entry per account. The accounts' findings, gaps
//! and entries were spilled when each account was written ([`spill_account`]) and come
//! back in the overview's order.

use super::*;
use crate::report::model::OrgModel;
use crate::report::spilled::{Part, Spilled};

impl<'a> ReportDoc<'a> {
    /// The document of an organization run.
    pub fn from_org(o: &'a OrgModel, spilled: &'a Spilled) -> Self {
        let t = &o.totals;
        ReportDoc::new(
            RunFigures {
                figures: &t.figures,
                stats: &t.stats,
                complete: o.complete,
                fails_threshold: o.fails_threshold,
            },
            Parts {
                kind: "organization",
                tool_version: o.tool_version,
                as_of: &o.as_of_text,
                account_id: None,
                source: Source {
                    kind: o.source_kind,
                    inventory_file: None,
                    inventory_files: (!o.saved_inventories.is_empty())
                        .then(|| o.saved_inventories.iter().map(String::as_str).collect()),
                    endpoint: o.endpoint.as_deref(),
                    file: None,
                },
                collected_at: &o.listed_at_text,
                credential_report: None,
                policy: Policy {
                    file: o.policy_file.as_deref(),
                    fail_on: o.fail_on.map(|s| s.as_str()),
                    scope: None,
                },
                gaps: Items::Spilled(spilled.list(Part::Gaps)),
                removed: Items::Spilled(spilled.list(Part::Removed)),
                root_access_keys: None,
                findings: FindingList::Spilled(spilled.list(Part::OpenFindings)),
                suppressed_findings: FindingList::Spilled(spilled.list(Part::SuppressedFindings)),
                expired_suppressions: &o.expired_suppressions,
                unused_suppressions: &o.unused_suppressions,
                organization: Some(Organization {
                    id: o.organization_id.as_deref(),
                    management_account_id: o.management_account_id.as_deref(),
                    caller_account_id: o.caller_account_id.as_deref(),
                    listed_at: &o.listed_at_text,
                    selection: &o.selection_data,
                    accounts_selected: t.selected,
                    accounts_audited: t.audited,
                    accounts_not_audited: t.unreachable,
                    accounts_not_assessed: t.not_assessed,
                }),
                accounts: Items::Spilled(spilled.list(Part::Account)),
                tracking: tracked(&o.tracking, o.id_source),
            },
        )
    }
}

/// An organization's `report.json`.
pub fn write_org_json(
    o: &OrgModel,
    spilled: &Spilled,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportDoc::from_org(o, spilled))?;
    out.write_all(b"\n")
}

/// An audited account's items of the document: its findings, gaps, removed keys and entry.
pub fn spill_account(
    spilled: &mut Spilled,
    view: &AccountView,
    m: &ReportModel,
) -> std::io::Result<()> {
    let id = view.id.as_str();
    let name = view.name.as_deref();
    let today = m.as_of.date_naive();
    for ef in &m.open {
        spilled.append_item(
            Part::OpenFindings,
            id,
            &finding(ef, name, today, m.owner(&ef.finding.user_name)),
        )?;
    }
    for ef in &m.suppressed {
        spilled.append_item(
            Part::SuppressedFindings,
            id,
            &finding(ef, name, today, m.owner(&ef.finding.user_name)),
        )?;
    }
    for g in &m.coverage.gaps {
        spilled.append_item(Part::Gaps, id, &gap(Some(id), g))?;
    }
    for r in &m.coverage.removed {
        spilled.append_item(Part::Removed, id, &removed(Some(id), r))?;
    }
    spilled.append_item(Part::Account, id, &account_entry(Some(view), Some(m)))
}

/// The entry of an account that was not audited.
pub fn spill_other(spilled: &mut Spilled, view: &AccountView) -> std::io::Result<()> {
    spilled.append_item(Part::Account, &view.id, &account_entry(Some(view), None))
}
