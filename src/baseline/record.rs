//! A history record: one run's summary and, per finding, its id, status, severity,
//! first-seen date and what it is about; never the report. The baseline of the next run and
//! a point of the trend.
//!
//! A record is checked when it is read. From version 2 it holds what each finding's id is
//! computed from (the user's ARN, which gives the partition; the key's label, which gives a
//! root key's slot; the key's creation time), so every id is computed again and must match,
//! and the head's counts are computed again from the findings with the writer's own
//! function ([`summarize`]). A version-1 record is read without these checks, with a
//! warning.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::findings::id::IdFields;
use crate::findings::{FindingSet, ID_SCHEME, IdSource, PastFinding, Severity};
use crate::ident::AccountId;

use super::checks::{Ids, check_findings, check_scheme};
use super::{Audited, Baseline, Origin, RunIdentity};

/// The `kind` of a history record.
pub const RECORD_KIND: &str = "keyhygiene-history";

/// The version of the history record. Bump it on any change to its shape.
///
/// Version 2: every finding has `user_arn` and `key_created`, and the record's ids and
/// counts are checked when it is read.
pub const HISTORY_SCHEMA_VERSION: u32 = 2;

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
    pub finding_ids: Ids,
    pub run: RunRecord,
    pub complete: bool,
    pub summary: SummaryRecord,
    pub findings: Vec<FindingRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// `account` or `organization`.
    pub kind: String,
    pub account_id: Option<AccountId>,
    pub organization_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRecord {
    pub open: SeverityCounts,
    pub suppressed: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub resolved: usize,
    pub not_assessed: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The user's ARN (version 2; empty in version 1).
    #[serde(default)]
    pub user_arn: String,
    pub user_id: Option<String>,
    pub access_key_id: Option<String>,
    /// The key's creation time, for a finding about a key (version 2).
    #[serde(default)]
    pub key_created: Option<DateTime<Utc>>,
}

impl FindingRecord {
    fn id_fields(&self) -> IdFields<'_> {
        IdFields {
            account_id: self.account_id.as_deref(),
            rule_id: &self.rule,
            user_name: &self.user_name,
            user_arn: &self.user_arn,
            user_id: self.user_id.as_deref(),
            access_key_id: self.access_key_id.as_deref(),
            key_created: self.key_created,
        }
    }

    fn carried(&self) -> bool {
        self.status == NOT_ASSESSED
    }
}

/// The status of a finding carried from an earlier run.
const NOT_ASSESSED: &str = "not-assessed";

/// The partitions a version-1 record's finding may have been in: its id says which, when
/// its ARN was not recorded.
const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The counts of a record's head, from its findings (and the run's resolved count, which
/// the findings do not list): the writer writes these and the reader checks them.
pub fn summarize(findings: &[FindingRecord], resolved: usize) -> SummaryRecord {
    let mut s = SummaryRecord {
        resolved,
        ..SummaryRecord::default()
    };
    for f in findings {
        if f.carried() {
            s.not_assessed += 1;
            continue;
        }
        match f.status.as_str() {
            "new" => s.new += 1,
            "updated" => s.updated += 1,
            _ => s.unchanged += 1,
        }
        if f.suppressed {
            s.suppressed += 1;
            continue;
        }
        match f.severity {
            Severity::Critical => s.open.critical += 1,
            Severity::High => s.open.high += 1,
            Severity::Medium => s.open.medium += 1,
            Severity::Low => s.open.low += 1,
        }
    }
    s
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
            let hex = crate::ident::hex(&digest[..8]);
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
                    user_arn: Some(f.user_arn).filter(|a| !a.is_empty()),
                    user_id: f.user_id,
                    access_key_id: f.access_key_id,
                    key_created: f.key_created,
                    first_seen: f.first_seen,
                    suppressed: f.suppressed,
                })
                .collect(),
        }
    }
}

/// Parses and checks one record (`name` names it in messages): its shape, its version,
/// its id scheme and statuses, and from version 2 its ids and counts ([`Record::check`]).
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
    check_scheme(&record.finding_ids, name)?;
    let statuses = ["new", "unchanged", "updated", NOT_ASSESSED];
    if let Some(f) = record
        .findings
        .iter()
        .find(|f| !statuses.contains(&f.status.as_str()))
    {
        return Err(format!(
            "{name}: finding {} has status \"{}\" (one of {}); remove the damaged file",
            crate::text::shown(&f.id, 40),
            crate::text::shown(&f.status, 40),
            statuses.join(", ")
        ));
    }
    check_findings(
        &record
            .clone()
            .into_baseline(name.to_string(), Origin::History),
    )?;
    if record.schema_version >= 2 {
        record.check().map_err(|problem| {
            format!(
                "{name}: {problem}: the record was changed by hand or damaged (remove it, or move it out of the history folder)"
            )
        })?;
    } else {
        tracing::warn!(
            "{name}: a version-1 history record: its ids and counts are not checked (the records this version writes are checked)"
        );
    }
    Ok(record)
}

impl Record {
    /// Every finding's id follows from its fields, and the head's counts from the findings.
    pub fn check(&self) -> Result<(), String> {
        for f in &self.findings {
            let expected = f.id_fields().id_like(&f.id);
            if expected.as_deref() != Some(f.id.as_str()) {
                return Err(format!(
                    "finding {} ({} of {}) does not have the id its fields give",
                    crate::text::shown(&f.id, 40),
                    crate::text::shown(&f.rule, 40),
                    crate::text::shown(&f.user_name, 64)
                ));
            }
        }
        let counted = summarize(&self.findings, self.summary.resolved);
        if counted != self.summary {
            return Err(format!(
                "its summary says {} open ({} new) but its findings give {} open ({} new)",
                open_total(&self.summary),
                self.summary.new,
                open_total(&counted),
                counted.new
            ));
        }
        Ok(())
    }
}

fn open_total(s: &SummaryRecord) -> usize {
    s.open.critical + s.open.high + s.open.medium + s.open.low
}

/// A run's record built one batch of findings at a time (an organization run's accounts,
/// each in turn), holding only each finding's short record.
pub struct RecordBuilder {
    as_of: DateTime<Utc>,
    resolved: usize,
    current: Vec<FindingRecord>,
    carried: Vec<FindingRecord>,
    /// Carried findings of a version-1 baseline whose subject could not be recovered.
    dropped: usize,
}

impl RecordBuilder {
    pub fn new(as_of: DateTime<Utc>) -> RecordBuilder {
        RecordBuilder {
            as_of,
            resolved: 0,
            current: Vec::new(),
            carried: Vec::new(),
            dropped: 0,
        }
    }

    /// Adds a compared set: its findings, and the baseline findings it carries as not
    /// assessed (its resolved ones are only counted).
    pub fn add(&mut self, set: &FindingSet) {
        let today = self.as_of.date_naive();
        self.resolved += set.resolved.len();
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
                user_arn: f.user_arn.clone(),
                user_id: f.user_id.clone(),
                access_key_id: f.access_key_id.clone(),
                key_created: f.key_created,
            }
        }));
        for n in &set.not_assessed {
            match carried(&n.finding) {
                Some(record) => self.carried.push(record),
                None => self.dropped += 1,
            }
        }
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
        if self.dropped > 0 {
            tracing::warn!(
                "history: {} not-assessed finding(s) carried from a version-1 record are left out of this run's record: their user ARN cannot be recovered from it",
                self.dropped
            );
        }
        let summary = summarize(&findings, self.resolved);
        Record {
            kind: RECORD_KIND.to_string(),
            schema_version: HISTORY_SCHEMA_VERSION,
            key: key.to_string(),
            as_of: self.as_of,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            finding_ids: Ids {
                scheme: ID_SCHEME.to_string(),
                source: identity.id_source,
            },
            run: RunRecord {
                kind: kind.to_string(),
                account_id,
                organization_id,
            },
            complete,
            summary,
            findings,
        }
    }
}

/// A baseline finding carried as not assessed, as this run's record keeps it. Its user ARN
/// comes from the baseline; a version-1 record has none, and then the ARN is the one whose
/// partition gives the finding's id (a credential report's id needs the whole ARN, with
/// its path: `None` when it is not recovered).
fn carried(p: &PastFinding) -> Option<FindingRecord> {
    let record = |user_arn: String| FindingRecord {
        id: p.finding_id.clone(),
        rule: p.rule_id.clone(),
        severity: p.severity,
        status: NOT_ASSESSED.to_string(),
        first_seen: p.first_seen,
        suppressed: p.suppressed,
        account_id: p.account_id.clone(),
        user_name: p.user_name.clone(),
        user_arn,
        user_id: p.user_id.clone(),
        access_key_id: p.access_key_id.clone(),
        key_created: p.key_created,
    };
    if let Some(arn) = &p.user_arn {
        return Some(record(arn.clone()));
    }
    let account = p.account_id.as_deref().unwrap_or_default();
    PARTITIONS.iter().find_map(|partition| {
        let arn = if p.user_name == crate::inventory::ROOT_USER_NAME {
            format!("arn:{partition}:iam::{account}:root")
        } else {
            format!("arn:{partition}:iam::{account}:user/{}", p.user_name)
        };
        let candidate = record(arn);
        (candidate.id_fields().id_like(&candidate.id).as_deref() == Some(p.finding_id.as_str()))
            .then_some(candidate)
    })
}
