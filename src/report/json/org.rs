//! The `report.json` of an organization run: the same document shape, with totals over
//! every audited account and one `accounts` entry per account.

use super::*;

impl<'a> ReportDoc<'a> {
    /// The document of an organization run: totals over every audited account.
    pub fn from_org(o: &'a OrgModel<'a>) -> Self {
        let models: Vec<(&AccountView, &ReportModel)> = o.account_models().collect();
        let sum = |f: fn(&ReportModel) -> usize| models.iter().map(|(_, m)| f(m)).sum::<usize>();
        let mut crawl = Stats::default();
        for (_, m) in &models {
            for (op, n) in &m.stats.calls {
                *crawl.calls.entry(op.as_str()).or_default() += n;
            }
            crawl.total_calls += m.stats.total_calls;
            crawl.retries += m.stats.retries;
            crawl.throttled += m.stats.throttled;
            crawl.failed_calls += m.stats.failed_calls;
            crawl.wall_ms = crawl.wall_ms.max(m.stats.wall_ms);
            crawl.bytes_received += m.stats.bytes_received;
        }
        let keys = sum(|m| m.coverage.keys);
        crawl.calls_per_key = (keys > 0).then(|| round2(crawl.total_calls as f64 / keys as f64));
        let t = &o.totals;
        let source = if models
            .iter()
            .any(|(_, m)| m.id_source == crate::findings::IdSource::CredentialReport)
        {
            crate::findings::IdSource::CredentialReport
        } else {
            crate::findings::IdSource::Api
        };
        let (finding_ids, comparison, resolved, not_assessed, history) =
            tracking_fields(&o.tracking, source);
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
                endpoint: models
                    .first()
                    .and_then(|(_, m)| m.source.endpoint.as_deref()),
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
                users_listed: sum(|m| m.coverage.users_listed),
                users_fully_audited: sum(|m| m.coverage.users_fully_audited),
                keys: sum(|m| m.coverage.keys),
                keys_with_last_use: sum(|m| m.coverage.keys_with_last_use),
                gaps: models
                    .iter()
                    .flat_map(|(a, m)| m.coverage.gaps.iter().map(|g| gap(Some(a.id.as_str()), g)))
                    .collect(),
                removed_during_crawl: models
                    .iter()
                    .flat_map(|(a, m)| {
                        m.coverage
                            .removed
                            .iter()
                            .map(|r| removed(Some(a.id.as_str()), r))
                    })
                    .collect(),
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
                users_flagged: sum(|m| m.summary.users_flagged),
            },
            findings: FindingList::Organization(o, false),
            suppressed_findings: FindingList::Organization(o, true),
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
            accounts: o
                .accounts
                .iter()
                .map(|a| account_entry(Some(a), a.model.as_ref()))
                .collect(),
            finding_ids,
            comparison,
            resolved,
            not_assessed,
            history,
        }
    }
}

/// An organization's `report.json`.
pub fn write_org_json(o: &OrgModel, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportDoc::from_org(o))?;
    out.write_all(b"\n")
}
