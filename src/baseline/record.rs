//! A history record: one run's summary and, per finding, its id, status, severity,
//! first-seen date and what it is about; never the report. The baseline of the next run and
//! a point of the trend.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::findings::{FindingSet, ID_SCHEME, IdSource, PastFinding, Severity};
use crate::ident::AccountId;

use super::{Audited, Baseline, Changes, Origin, RunIdentity};

/// The `kind` of a history record.
pub const RECORD_KIND: &str = "keyhygiene-history";

/// The version of the history record. Bump it on any change to its shape.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// One point of the trend: a run's open findings by severity, critical first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrendPoint {
    pub as_of: DateTime<Utc>,
    pub open: [usize; 4],
    pub complete: bool,
}

impl TrendPoint {
    pub fn total(&self) -> usize {
        self.open.iter().sum()
    }
}

/// One run's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub kind: String,
    pub schema_version: u32,
    pub key: String,
    pub as_of: DateTime<Utc>,
    pub tool_version: String,
    pub finding_ids: IdsRecord,
    pub run: RunRecord,
    pub complete: bool,
    pub summary: SummaryRecord,
    pub findings: Vec<FindingRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdsRecord {
    pub scheme: String,
    pub source: IdSource,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// `account` or `organization`.
    pub kind: String,
    pub account_id: Option<AccountId>,
    pub organization_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SummaryRecord {
    pub open: SeverityCounts,
    pub suppressed: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub resolved: usize,
    pub not_assessed: usize,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingRecord {
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    /// `new`, `unchanged`, `updated`, or `not-assessed` for a finding carried from an
    /// earlier run.
    pub status: String,
    pub first_seen: NaiveDate,
    pub suppressed: bool,
    pub account_id: Option<AccountId>,
    pub user_name: String,
    pub user_id: Option<String>,
    pub access_key_id: Option<String>,
}

/// The key of a run's records: what was audited, the shard of a sharded run, the kind of
/// source.
pub fn key_for(identity: &RunIdentity, accounts: &[AccountId]) -> String {
    let base = match &identity.audited {
        Audited::Account(Some(id)) => format!("account-{id}"),
        Audited::Account(None) => "account-unknown".to_string(),
        Audited::Organization(Some(id)) => format!("organization-{id}"),
        Audited::Organization(None) => {
            let mut ids: Vec<&str> = accounts.iter().map(AccountId::as_str).collect();
            ids.sort_unstable();
            let digest = Sha256::digest(ids.join(",").as_bytes());
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("accounts-{hex}")
        }
    };
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let sliced = match &identity.slice {
        Some(slice) => format!("{safe}-{slice}"),
        None => safe,
    };
    match identity.id_source {
        IdSource::Api => sliced,
        IdSource::CredentialReport => format!("{sliced}-credential-report"),
    }
}

impl Record {
    /// The record of a run whose findings (all accounts together) were compared.
    pub fn of_run(
        key: &str,
        identity: &RunIdentity,
        as_of: DateTime<Utc>,
        complete: bool,
        set: &FindingSet,
    ) -> Record {
        let mut builder = RecordBuilder::new(as_of);
        builder.add(set);
        builder.finish(key, identity, complete)
    }

    pub fn trend_point(&self) -> TrendPoint {
        let o = &self.summary.open;
        TrendPoint {
            as_of: self.as_of,
            open: [o.critical, o.high, o.medium, o.low],
            complete: self.complete,
        }
    }

    pub(super) fn into_baseline(self, file: String, origin: Origin) -> Baseline {
        let audited = match self.run.kind.as_str() {
            "organization" => Audited::Organization(self.run.organization_id),
            _ => Audited::Account(self.run.account_id),
        };
        Baseline {
            file,
            origin,
            as_of: self.as_of,
            audited,
            id_source: self.finding_ids.source,
            findings: self
                .findings
                .into_iter()
                .map(|f| PastFinding {
                    finding_id: f.id,
                    rule_id: f.rule,
                    severity: f.severity,
                    account_id: f.account_id,
                    user_name: f.user_name,
                    user_id: f.user_id,
                    access_key_id: f.access_key_id,
                    first_seen: f.first_seen,
                    suppressed: f.suppressed,
                })
                .collect(),
        }
    }
}

/// Parses and checks one record.
pub(super) fn parse_record(bytes: &[u8], name: &str) -> Result<Record, String> {
    let record: Record = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "{name}:{}:{}: not a valid history record: {e} (remove the file, or move it out of the history folder)",
            e.line(),
            e.column()
        )
    })?;
    if record.schema_version > HISTORY_SCHEMA_VERSION {
        return Err(format!(
            "{name}: history record schema_version {} is newer than this keyhygiene reads ({HISTORY_SCHEMA_VERSION}); upgrade keyhygiene",
            record.schema_version
        ));
    }
    super::load::check_scheme(
        &super::load::Ids {
            scheme: record.finding_ids.scheme.clone(),
            source: record.finding_ids.source,
        },
        name,
    )?;
    let statuses = ["new", "unchanged", "updated", "not-assessed"];
    if let Some(f) = record
        .findings
        .iter()
        .find(|f| !statuses.contains(&f.status.as_str()))
    {
        return Err(format!(
            "{name}: finding {} has status \"{}\" (one of {}); remove the damaged file",
            f.id,
            f.status,
            statuses.join(", ")
        ));
    }
    super::load::check_findings(
        &record
            .clone()
            .into_baseline(name.to_string(), Origin::History),
    )?;
    Ok(record)
}

/// A run's record built one batch of findings at a time (an organization run's accounts,
/// each in turn), holding only each finding's short record.
pub struct RecordBuilder {
    as_of: DateTime<Utc>,
    open: SeverityCounts,
    suppressed: usize,
    changes: Changes,
    current: Vec<FindingRecord>,
    carried: Vec<FindingRecord>,
}

impl RecordBuilder {
    pub fn new(as_of: DateTime<Utc>) -> RecordBuilder {
        RecordBuilder {
            as_of,
            open: SeverityCounts::default(),
            suppressed: 0,
            changes: Changes::default(),
            current: Vec::new(),
            carried: Vec::new(),
        }
    }

    /// Adds a compared set: its findings, and the baseline findings it carries as not
    /// assessed (its resolved ones are only counted).
    pub fn add(&mut self, set: &FindingSet) {
        let today = self.as_of.date_naive();
        for f in set.active() {
            match f.severity {
                Severity::Critical => self.open.critical += 1,
                Severity::High => self.open.high += 1,
                Severity::Medium => self.open.medium += 1,
                Severity::Low => self.open.low += 1,
            }
        }
        self.suppressed += set.suppressed().count();
        let c = Changes::of(set);
        self.changes.new += c.new;
        self.changes.updated += c.updated;
        self.changes.unchanged += c.unchanged;
        self.changes.resolved += c.resolved;
        self.changes.not_assessed += c.not_assessed;
        self.current.extend(set.findings.iter().map(|ef| {
            let f = &ef.finding;
            FindingRecord {
                id: f.finding_id.clone(),
                rule: f.rule_id.clone(),
                severity: f.severity,
                status: ef.tracking.status.as_str().to_string(),
                first_seen: ef.tracking.first_seen_or(today),
                suppressed: ef.suppressed.is_some(),
                account_id: f.account_id.clone(),
                user_name: f.user_name.clone(),
                user_id: f.user_id.clone(),
                access_key_id: f.access_key_id.clone(),
            }
        }));
        self.carried.extend(set.not_assessed.iter().map(|n| {
            let p = &n.finding;
            FindingRecord {
                id: p.finding_id.clone(),
                rule: p.rule_id.clone(),
                severity: p.severity,
                status: "not-assessed".to_string(),
                first_seen: p.first_seen,
                suppressed: p.suppressed,
                account_id: p.account_id.clone(),
                user_name: p.user_name.clone(),
                user_id: p.user_id.clone(),
                access_key_id: p.access_key_id.clone(),
            }
        }));
    }

    pub fn finish(self, key: &str, identity: &RunIdentity, complete: bool) -> Record {
        let (kind, account_id, organization_id) = match &identity.audited {
            Audited::Account(id) => ("account", id.clone(), None),
            Audited::Organization(id) => ("organization", None, id.clone()),
        };
        // Batches arrive account by account: the record lists the run's findings worst
        // first, as one batch would, then the carried ones by account.
        let mut findings = self.current;
        findings.sort_by(|a, b| {
            (b.severity, &a.rule, &a.user_name, &a.access_key_id).cmp(&(
                a.severity,
                &b.rule,
                &b.user_name,
                &b.access_key_id,
            ))
        });
        let mut carried = self.carried;
        carried.sort_by(|a, b| {
            (
                &a.account_id,
                b.severity,
                &a.rule,
                &a.user_name,
                &a.access_key_id,
                &a.id,
            )
                .cmp(&(
                    &b.account_id,
                    a.severity,
                    &b.rule,
                    &b.user_name,
                    &b.access_key_id,
                    &b.id,
                ))
        });
        findings.extend(carried);
        Record {
            kind: RECORD_KIND.to_string(),
            schema_version: HISTORY_SCHEMA_VERSION,
            key: key.to_string(),
            as_of: self.as_of,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            finding_ids: IdsRecord {
                scheme: ID_SCHEME.to_string(),
                source: identity.id_source,
            },
            run: RunRecord {
                kind: kind.to_string(),
                account_id,
                organization_id,
            },
            complete,
            summary: SummaryRecord {
                open: self.open,
                suppressed: self.suppressed,
                new: self.changes.new,
                updated: self.changes.updated,
                unchanged: self.changes.unchanged,
                resolved: self.changes.resolved,
                not_assessed: self.changes.not_assessed,
            },
            findings,
        }
    }
}
