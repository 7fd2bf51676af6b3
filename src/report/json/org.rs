//! The `report.json` of an organization run: the same document shape, with totals over
//! every audited account and one `accounts` entry per account. The accounts' findings,
//! gaps and entries were rendered when each account was written and come back from the
//! spill file in the overview's order.

use super::*;
use crate::report::org_writer::{Part, Spilled};

impl<'a> ReportDoc<'a> {
    /// The document of an organization run: totals over every audited account.
    pub fn from_org(o: &'a OrgModel, spilled: &'a Spilled<'a>) -> Self {
        let s = &o.sums;
        let t = &o.totals;
        let crawl = Stats {
            calls: s.calls.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            total_calls: s.total_calls,
            retries: s.retries,
            throttled: s.throttled,
            failed_calls: s.failed_calls,
            wall_ms: s.wall_ms,
            bytes_received: s.bytes_received,
            calls_per_key: (s.keys > 0).then(|| round2(s.total_calls as f64 / s.keys as f64)),
        };
        let (finding_ids, comparison, resolved, not_assessed, history) =
            tracking_fields(&o.tracking, s.id_source);
        let at = |s: Severity| {
            o.by_severity
                .iter()
                .find(|c| c.severity == s)
                .map_or_else(Counts::default, |c| counts(c.active, c.suppressed))
        };
        ReportDoc {
            schema_version: REPORT_SCHEMA_VERSION,
            kind: "organization",
            tool: Tool {
                name: "keyhygiene",
                version: o.tool_version,
            },
            as_of: &o.as_of_text,
            account_id: None,
            source: Source {
                kind: o.source_kind,
                inventory_file: None,
                inventory_files: (!o.saved_inventories.is_empty())
                    .then(|| o.saved_inventories.iter().map(String::as_str).collect()),
                endpoint: s.endpoint.as_deref(),
                file: None,
            },
            collected_at: &o.listed_at_text,
            credential_report: None,
            policy: Policy {
                file: o.policy_file.as_deref(),
                fail_on: o.fail_on.map(|s| s.as_str()),
                scope: None,
            },
            coverage: Coverage {
                complete: o.complete,
                users_listed: s.users_listed,
                users_fully_audited: s.users_fully_audited,
                keys: s.keys,
                keys_with_last_use: s.keys_with_last_use,
                gaps: Items::Spilled(spilled.list(Part::Gaps)),
                removed_during_crawl: Items::Spilled(spilled.list(Part::Removed)),
            },
            root_access_keys: None,
            crawl_stats: crawl,
            summary: Summary {
                total: counts(t.open_total(), t.suppressed),
                by_severity: BySeverity {
                    critical: at(Severity::Critical),
                    high: at(Severity::High),
                    medium: at(Severity::Medium),
                    low: at(Severity::Low),
                },
                by_rule: o.by_rule.iter().map(rule_counts).collect(),
                worst_severity: t.worst.map(|w| w.as_str()),
                fails_threshold: o.fails_threshold,
                keys_flagged: t.keys_flagged,
                users_flagged: s.users_flagged,
            },
            findings: FindingList::Spilled(spilled.list(Part::OpenFindings)),
            suppressed_findings: FindingList::Spilled(spilled.list(Part::SuppressedFindings)),
            expired_suppressions: o.expired_suppressions.iter().map(notice).collect(),
            unused_suppressions: o.unused_suppressions.iter().map(notice).collect(),
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
            finding_ids,
            comparison,
            resolved,
            not_assessed,
            history,
        }
    }
}

/// An organization's `report.json`.
pub fn write_org_json(
    o: &OrgModel,
    spilled: &Spilled<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportDoc::from_org(o, spilled))?;
    out.write_all(b"\n")
}

/// `value` pretty-printed as an element of a list `depth` levels into the document, so it
/// can be written later, as it is, where the document's own printer would have put it.
/// (A JSON string never holds a raw line break, so every line break is the printer's.)
pub fn item_at_depth(value: &impl Serialize, depth: usize) -> std::io::Result<Vec<u8>> {
    let text = serde_json::to_string_pretty(value)?;
    let indent = format!("\n{}", "  ".repeat(depth));
    Ok(text.replace('\n', &indent).into_bytes())
}

/// An account's open (or suppressed) findings as `report.json` items.
pub fn finding_items(
    m: &ReportModel,
    view: &AccountView,
    suppressed: bool,
) -> std::io::Result<Vec<Vec<u8>>> {
    let list = if suppressed { &m.suppressed } else { &m.open };
    let today = m.as_of.date_naive();
    list.iter()
        .map(|ef| item_at_depth(&finding(ef, view.name.as_deref(), today), 2))
        .collect()
}

/// An account's coverage gaps as items of the document's `coverage.gaps`.
pub fn gap_items(m: &ReportModel, view: &AccountView) -> std::io::Result<Vec<Vec<u8>>> {
    m.coverage
        .gaps
        .iter()
        .map(|g| item_at_depth(&gap(Some(view.id.as_str()), g), 3))
        .collect()
}

/// An account's keys removed during the crawl, as items of `coverage.removed_during_crawl`.
pub fn removed_items(m: &ReportModel, view: &AccountView) -> std::io::Result<Vec<Vec<u8>>> {
    m.coverage
        .removed
        .iter()
        .map(|r| item_at_depth(&removed(Some(view.id.as_str()), r), 3))
        .collect()
}
