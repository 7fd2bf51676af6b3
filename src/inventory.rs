//! The plain data model of one account's access keys.
//!
//! Every source (a live crawl, a saved snapshot, a credential report CSV) produces an
//! [`Inventory`]; rules and renderers only ever see this type. No SDK type appears here.
//! The JSON form of this struct is the saved-inventory snapshot (`--save-inventory`), so
//! every field is owned, plain and explicitly versioned by [`SCHEMA_VERSION`].

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Version of the saved-inventory JSON document. Bump it on any change to its shape.
///
/// Version 2: `credential_report.generated_at` may be `null` (a credential report CSV whose
/// generation time is unknown). Version 1 documents still load: every version-1 document is
/// a valid version-2 document, so reading one only updates the number.
pub const SCHEMA_VERSION: u32 = 2;

/// Schema versions this keyhygiene reads.
pub const READABLE_SCHEMA_VERSIONS: [u32; 2] = [1, 2];

/// The user name the credential report gives the root user's row, and that findings and
/// reports use for the root user.
pub const ROOT_USER_NAME: &str = "<root_account>";

/// How far a record may be dated after its own collection time before it is refused as
/// damaged: clocks of the machine and of AWS differ by a little.
pub const CLOCK_SKEW_MINUTES: i64 = 15;

/// No AWS record can be older than this (AWS opened in 2006; IAM in 2010): an earlier date
/// is a damaged record.
pub const EARLIEST_PLAUSIBLE_YEAR: i32 = 2006;

/// Everything keyhygiene knows about one account's long-term access keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub schema_version: u32,
    /// The 12-digit account id, when it could be learned.
    pub account_id: Option<String>,
    /// Where the data came from.
    pub source: SourceInfo,
    /// When the data was collected (end of the crawl, or the report's generated time).
    pub collected_at: DateTime<Utc>,
    /// Every IAM user that was listed, sorted by name.
    pub users: Vec<User>,
    /// The root user's access keys.
    pub root: RootKeys,
    /// The credential report that was merged in, if any.
    pub credential_report: Option<CredentialReportInfo>,
    /// Data that could not be collected. An empty list means complete coverage.
    pub gaps: Vec<CoverageGap>,
    /// Users and keys that disappeared while the crawl ran (NoSuchEntity).
    pub removed_during_crawl: Vec<Removed>,
    /// How the crawl went: calls, retries, throttling, wall time.
    pub stats: CrawlStats,
    /// Derived from the fields above when written; recomputed, never trusted, when read.
    #[serde(default)]
    pub coverage: Option<Coverage>,
}

/// Where an inventory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceInfo {
    /// A live crawl of the IAM API.
    Live {
        /// The endpoint override, when one was used (for example a local test endpoint).
        endpoint: Option<String>,
    },
    /// A credential report CSV downloaded from the console or the API.
    CredentialReport { file: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub arn: String,
    pub path: String,
    /// The stable IAM user id (`AIDA…`); empty when the source does not have it.
    #[serde(default)]
    pub user_id: String,
    pub created: Option<DateTime<Utc>>,
    /// Tags in the order IAM returned them.
    pub tags: Vec<Tag>,
    pub keys: Vec<AccessKey>,
    /// Console password and MFA state, from the credential report (context only).
    pub login: Option<LoginInfo>,
}

impl User {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// The access key id (`AKIA…`). `None` when the source has no ids (a credential
    /// report CSV), in which case [`AccessKey::slot`] names the key.
    pub id: Option<String>,
    /// The credential report slot (1 or 2), when the key came from a report.
    pub slot: Option<u8>,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
    pub last_used: LastUse,
    /// The console's description of the key: the user tag whose key is the access key id.
    pub description: Option<String>,
}

impl AccessKey {
    /// How reports name the key: its id, or "access key N" when only the slot is known.
    pub fn label(&self) -> String {
        match (&self.id, self.slot) {
            (Some(id), _) => id.clone(),
            (None, Some(slot)) => format!("access key {slot}"),
            (None, None) => "access key".to_string(),
        }
    }
}

/// What is known about a key's last use.
///
/// `Never` (IAM says the key has no recorded use) and `Unknown` (the call that would have
/// told us failed) are different facts: only the first may be judged by the rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LastUse {
    Used {
        date: DateTime<Utc>,
        service: Option<String>,
        region: Option<String>,
    },
    Never,
    Unknown,
}

impl LastUse {
    pub fn date(&self) -> Option<DateTime<Utc>> {
        match self {
            LastUse::Used { date, .. } => Some(*date),
            _ => None,
        }
    }
}

/// Console-login context for a user, from the credential report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInfo {
    pub password_enabled: bool,
    /// Last console sign-in; `None` when never used or not recorded.
    pub password_last_used: Option<DateTime<Utc>>,
    pub mfa_active: bool,
}

/// The root user's access keys, and how we know about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RootKeys {
    /// From the credential report's `<root_account>` row: full detail per slot.
    CredentialReport {
        arn: Option<String>,
        /// Only the slots that hold a key (access_key_N_active true, or a rotation date).
        keys: Vec<RootKey>,
    },
    /// From GetAccountSummary `AccountAccessKeysPresent`: presence only.
    AccountSummary { keys_present: bool },
    /// Neither source could be read; a coverage gap says why.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    pub slot: u8,
    pub active: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: LastUse,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialReportInfo {
    /// When IAM generated the report; `None` when unknown (a CSV file given without
    /// `--report-generated-at`).
    pub generated_at: Option<DateTime<Utc>>,
    /// Whether the report had a `<root_account>` row.
    pub has_root_row: bool,
}

/// The operations whose account-level gap explains an unknown root user: the account
/// summary (the live fallback) and the credential report's missing root row.
const ROOT_GAP_OPERATIONS: [&str; 2] = ["GetAccountSummary", "CredentialReport"];

/// The error code of a gap that the records imply but no failure explains.
const NOT_RECORDED: &str = "NotRecorded";

/// Something that could not be collected. Every gap is shown in every output, and a run
/// with gaps never passes as clean.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageGap {
    /// The user whose data is missing; `None` for account-level data.
    pub user: Option<String>,
    /// The access key whose data is missing, when the gap is about one key.
    pub access_key_id: Option<String>,
    /// The API operation that failed, e.g. `ListAccessKeys`.
    pub operation: String,
    /// The AWS error code (`AccessDenied`, `Throttling`…) or a transport error kind.
    pub error_code: String,
    /// What is missing because of it, in words.
    pub impact: String,
}

/// A user or key that was listed but deleted before the crawl reached it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removed {
    pub user: String,
    pub access_key_id: Option<String>,
    pub operation: String,
}

/// Figures about the crawl itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlStats {
    /// Requests sent, per API operation, retries included.
    pub calls: BTreeMap<String, u64>,
    /// Requests that were retries of an earlier attempt.
    pub retries: u64,
    /// Responses that said the caller was throttled.
    pub throttled: u64,
    /// Operations that still failed after every retry.
    pub failed_calls: u64,
    pub wall_ms: u64,
}

impl CrawlStats {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// How much of the account the inventory covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub complete: bool,
    pub users_listed: usize,
    /// Users with no coverage gap of their own.
    pub users_fully_audited: usize,
    pub keys: usize,
    /// Keys whose last use is known (used or never used).
    pub keys_with_last_use: usize,
    pub gaps: usize,
}

impl Inventory {
    /// An empty inventory for `source`, to be filled by a crawler or a parser.
    pub fn new(source: SourceInfo, collected_at: DateTime<Utc>) -> Self {
        Inventory {
            schema_version: SCHEMA_VERSION,
            account_id: None,
            source,
            collected_at,
            users: Vec::new(),
            root: RootKeys::Unknown,
            credential_report: None,
            gaps: Vec::new(),
            removed_during_crawl: Vec::new(),
            stats: CrawlStats::default(),
            coverage: None,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    pub fn compute_coverage(&self) -> Coverage {
        let users_with_gaps: std::collections::BTreeSet<&str> =
            self.gaps.iter().filter_map(|g| g.user.as_deref()).collect();
        let keys = self.users.iter().flat_map(|u| &u.keys);
        Coverage {
            complete: self.is_complete(),
            users_listed: self.users.len(),
            users_fully_audited: self
                .users
                .iter()
                .filter(|u| !users_with_gaps.contains(u.name.as_str()))
                .count(),
            keys: keys.clone().count(),
            keys_with_last_use: keys.filter(|k| k.last_used != LastUse::Unknown).count(),
            gaps: self.gaps.len(),
        }
    }

    /// Puts users, keys and gaps in a canonical order so that two crawls of the same
    /// account produce identical documents, whatever order the responses arrived in.
    pub fn normalize(&mut self) {
        // An endpoint's user:password is never stored, even if an older file holds one.
        if let SourceInfo::Live {
            endpoint: Some(endpoint),
        } = &mut self.source
        {
            *endpoint = crate::redact::redact_userinfo(endpoint);
        }
        self.users.sort_by(|a, b| a.name.cmp(&b.name));
        for user in &mut self.users {
            user.keys
                .sort_by(|a, b| (a.created, &a.id, a.slot).cmp(&(b.created, &b.id, b.slot)));
        }
        self.reconcile_gaps();
        self.gaps.sort();
        self.gaps.dedup();
        self.removed_during_crawl.sort();
        self.coverage = Some(self.compute_coverage());
    }

    /// Adds a coverage gap for every fact the records leave unknown that no recorded gap
    /// explains: the root user's keys, a key's last use. Coverage is derived from the records
    /// themselves, so a source that states unknowns (a credential report without a
    /// `<root_account>` row, a hand-edited inventory whose gap list was emptied) can never
    /// pass as complete.
    fn reconcile_gaps(&mut self) {
        let root_explained = self
            .gaps
            .iter()
            .any(|g| g.user.is_none() && ROOT_GAP_OPERATIONS.contains(&g.operation.as_str()));
        if self.root == RootKeys::Unknown && !root_explained {
            let gap = match self.source {
                SourceInfo::CredentialReport { .. } => CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: ROOT_GAP_OPERATIONS[1].into(),
                    error_code: "NoRootRow".into(),
                    impact: format!(
                        "the credential report has no {ROOT_USER_NAME} row: whether the root user has access keys is unknown"
                    ),
                },
                SourceInfo::Live { .. } => CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: ROOT_GAP_OPERATIONS[0].into(),
                    error_code: NOT_RECORDED.into(),
                    impact: "whether the root user has access keys is unknown, and the inventory records no reason".into(),
                },
            };
            self.gaps.push(gap);
        }
        let mut implied = Vec::new();
        for user in &self.users {
            for key in user.keys.iter().filter(|k| k.last_used == LastUse::Unknown) {
                let label = key.label();
                let explained = self.gaps.iter().any(|g| {
                    g.user.as_deref() == Some(user.name.as_str())
                        && g.access_key_id.as_deref().is_none_or(|id| id == label)
                });
                if !explained {
                    implied.push(CoverageGap {
                        user: Some(user.name.clone()),
                        access_key_id: Some(label),
                        operation: "GetAccessKeyLastUsed".into(),
                        error_code: NOT_RECORDED.into(),
                        impact: "the key's last use is unknown, and the inventory records no reason; rules that need it were not applied".into(),
                    });
                }
            }
        }
        self.gaps.extend(implied);
    }

    /// Refuses an inventory that contradicts itself or holds impossible dates: a user listed
    /// twice, a key id under two users, a date before AWS existed or after the data was
    /// collected (beyond [`CLOCK_SKEW_MINUTES`]). `origin` names the data in the message (a
    /// file, or the endpoint of a live crawl).
    pub fn validate(&self, origin: &str) -> Result<(), DataError> {
        let bad = |record: String, problem: String, fix: &'static str| DataError {
            origin: origin.to_string(),
            record,
            problem,
            fix,
        };
        let mut names = std::collections::HashMap::new();
        let mut ids = std::collections::HashMap::new();
        let mut keys = std::collections::HashMap::new();
        for user in &self.users {
            // IAM user names are unique regardless of letter case.
            if let Some(first) = names.insert(user.name.to_lowercase(), &user.name) {
                return Err(bad(
                    format!("user {}", user.name),
                    format!("is listed twice (also as {first})"),
                    FIX_DUPLICATE,
                ));
            }
            if !user.user_id.is_empty()
                && let Some(first) = ids.insert(user.user_id.as_str(), &user.name)
            {
                return Err(bad(
                    format!("user {}", user.name),
                    format!("has the same user id {} as user {first}", user.user_id),
                    FIX_DUPLICATE,
                ));
            }
            for key in &user.keys {
                if let Some(id) = &key.id
                    && let Some(first) = keys.insert(id.as_str(), &user.name)
                {
                    return Err(bad(
                        format!("access key {id}"),
                        format!(
                            "is listed under user {first} and again under user {}",
                            user.name
                        ),
                        FIX_DUPLICATE,
                    ));
                }
            }
        }
        let latest = self.collected_at + TimeDelta::minutes(CLOCK_SKEW_MINUTES);
        let earliest = earliest_plausible();
        for (record, date) in self.dated_records() {
            if date > latest {
                return Err(bad(
                    record,
                    format!(
                        "is {}, after the data was collected ({})",
                        date.to_rfc3339_opts(SecondsFormat::Secs, true),
                        self.collected_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    FIX_DATE,
                ));
            }
            if date < earliest {
                return Err(bad(
                    record,
                    format!(
                        "is {}, before AWS existed",
                        date.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    FIX_DATE,
                ));
            }
        }
        Ok(())
    }

    /// Refuses an as-of instant earlier than a date the data holds: ages would come out
    /// negative and findings wrong. Any instant from the newest date in the data on is legal.
    pub fn check_as_of(&self, as_of: DateTime<Utc>, origin: &str) -> Result<(), DataError> {
        match self.dated_records().max_by_key(|(_, date)| *date) {
            Some((record, newest)) if newest > as_of => Err(DataError {
                origin: origin.to_string(),
                record,
                problem: format!(
                    "is {}, after --as-of {}",
                    newest.to_rfc3339_opts(SecondsFormat::Secs, true),
                    as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                fix: "pass an --as-of at or after the newest date in the data, or none to evaluate as of now",
            }),
            _ => Ok(()),
        }
    }

    /// Every date the records hold, with the record it belongs to, in words.
    fn dated_records(&self) -> impl Iterator<Item = (String, DateTime<Utc>)> + '_ {
        let users = self.users.iter().flat_map(|u| {
            let created = u
                .created
                .map(|d| (format!("user {}'s creation date", u.name), d));
            let login = u
                .login
                .as_ref()
                .and_then(|l| l.password_last_used)
                .map(|d| (format!("user {}'s last console sign-in", u.name), d));
            let keys = u.keys.iter().flat_map(move |k| {
                let what = match &k.id {
                    Some(id) => format!("user {}'s access key {id}", u.name),
                    None => format!("user {}'s {}", u.name, k.label()),
                };
                [
                    Some((format!("{what} creation date"), k.created)),
                    k.last_used.date().map(|d| (format!("{what} last use"), d)),
                ]
                .into_iter()
                .flatten()
            });
            created.into_iter().chain(login).chain(keys)
        });
        let root_keys = match &self.root {
            RootKeys::CredentialReport { keys, .. } => keys.as_slice(),
            _ => &[],
        };
        let root = root_keys.iter().flat_map(|k| {
            let what = format!("the root user's access key {}", k.slot);
            [
                k.last_rotated.map(|d| (format!("{what} rotation date"), d)),
                k.last_used.date().map(|d| (format!("{what} last use"), d)),
            ]
            .into_iter()
            .flatten()
        });
        users.chain(root)
    }

    pub fn key_count(&self) -> usize {
        self.users.iter().map(|u| u.keys.len()).sum()
    }

    /// The snapshot written by `--save-inventory`.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.clone()
            .write_json(&mut out)
            .expect("writing to memory cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Streams the snapshot written by `--save-inventory` into `out`, with its coverage
    /// brought up to date first. Streaming keeps a large account's snapshot out of memory.
    pub fn write_json(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.coverage = Some(self.compute_coverage());
        serde_json::to_writer_pretty(&mut *out, self)?;
        Ok(())
    }

    /// Reads a snapshot written by `--save-inventory`. Errors name the file and the line.
    /// Only a regular file of at most [`crate::fsio::MAX_DATA_FILE_BYTES`] is read.
    pub fn from_json_file(path: &Path) -> Result<Self, InventoryFileError> {
        let text = crate::fsio::read_limited_text(
            path,
            "saved inventory",
            crate::fsio::MAX_DATA_FILE_BYTES,
        )?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    pub fn from_json_str(text: &str, file: &str) -> Result<Self, InventoryFileError> {
        // Look at the version first, so that a newer document gets a clear message
        // instead of a complaint about some field it added.
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<serde_json::Value>,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|e| InventoryFileError::Syntax {
                file: file.to_string(),
                line: e.line(),
                column: e.column(),
                message: strip_position(&e.to_string()),
            })?;
        match version.schema_version {
            Some(serde_json::Value::Number(n))
                if n.as_u64()
                    .is_some_and(|v| READABLE_SCHEMA_VERSIONS.iter().any(|r| *r as u64 == v)) => {}
            Some(other) => {
                return Err(InventoryFileError::Version {
                    file: file.to_string(),
                    found: other.to_string(),
                });
            }
            None => {
                return Err(InventoryFileError::Version {
                    file: file.to_string(),
                    found: "none".to_string(),
                });
            }
        }
        let mut inv: Inventory =
            serde_json::from_str(text).map_err(|e| InventoryFileError::Syntax {
                file: file.to_string(),
                line: e.line(),
                column: e.column(),
                message: strip_position(&e.to_string()),
            })?;
        // Migration: a version-1 document is a valid version-2 document.
        inv.schema_version = SCHEMA_VERSION;
        inv.normalize();
        inv.validate(file)?;
        Ok(inv)
    }
}

const FIX_DUPLICATE: &str =
    "the data contradicts itself; collect it again rather than editing it by hand";
const FIX_DATE: &str = "the record is damaged or a clock was wrong; collect the data again rather than editing it by hand";

fn earliest_plausible() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(EARLIEST_PLAUSIBLE_YEAR, 1, 1)
        .expect("a valid date")
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// Data that contradicts itself or holds an impossible date. Displays as one line.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {record} {problem} ({fix})")]
pub struct DataError {
    pub origin: String,
    pub record: String,
    pub problem: String,
    pub fix: &'static str,
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryFileError {
    #[error(transparent)]
    Read(#[from] crate::fsio::ReadError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(
        "{file}:{line}:{column}: not a valid keyhygiene inventory: {message} (write a fresh one with `keyhygiene audit --save-inventory FILE`)"
    )]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}:1: unsupported inventory schema_version {found}; this keyhygiene reads versions 1 and {SCHEMA_VERSION} (re-save the inventory with this version)"
    )]
    Version { file: String, found: String },
}
