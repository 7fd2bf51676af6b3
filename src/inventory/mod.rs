//! The plain data model of one account's access keys.
//!
//! Every source (a live crawl, a saved snapshot, a credential report CSV) produces an
//! [`Inventory`]; rules and renderers only ever see this type. No SDK type appears here.
//! The JSON form of this struct is the saved-inventory snapshot (`--save-inventory`), so
//! every field is owned, plain and explicitly versioned by [`SCHEMA_VERSION`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod checks;
mod snapshot;

pub use checks::DataError;
pub use snapshot::InventoryFileError;

/// Version of the saved-inventory JSON document. Bump it on any change to its shape.
///
/// Version 2: `credential_report.generated_at` may be `null` (a credential report CSV whose
/// generation time is unknown). Version 3: `stats.bytes_received`. Version 4:
/// `stats.attempts_cut`. Earlier documents still load: every one is a valid version-4
/// document, so reading one only updates the number.
pub const SCHEMA_VERSION: u32 = 4;

/// Schema versions this keyhygiene reads.
pub const READABLE_SCHEMA_VERSIONS: [u32; 4] = [1, 2, 3, 4];

/// The user name the credential report gives the root user's row, and that findings and
/// reports use for the root user.
pub const ROOT_USER_NAME: &str = "<root_account>";

/// IAM regenerates a credential report older than this when asked; an older report's
/// facts may be out of date.
pub const CREDENTIAL_REPORT_MAX_AGE_HOURS: i64 = 4;

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
    pub account_id: Option<crate::ident::AccountId>,
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
    /// Users that were listed but not crawled: the scope of the run that collected the
    /// inventory left them out by name or path, so their keys were never read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_crawled: Vec<UserRef>,
    /// How the crawl went: calls, retries, throttling, wall time.
    pub stats: CrawlStats,
    /// When keys' last use comes from the credential report: the instants at which
    /// evaluating those values gives the findings GetAccessKeyLastUsed would have given
    /// (the crawl confirmed every key whose finding could differ). `None` when no key's
    /// last use comes from the report of a live crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use_settled: Option<SettledWindow>,
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
    /// Where [`AccessKey::last_used`] came from.
    #[serde(default)]
    pub last_used_source: LastUseSource,
    /// The console's description of the key: the user tag whose key is the access key id.
    pub description: Option<String>,
}

/// Which source gave a key's last use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LastUseSource {
    /// GetAccessKeyLastUsed, at the time of the crawl.
    #[default]
    Api,
    /// The credential report, as of its generation time: the key was used at least that
    /// recently, perhaps more recently since.
    CredentialReport,
}

impl LastUseSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LastUseSource::Api => "api",
            LastUseSource::CredentialReport => "credential-report",
        }
    }
}

/// The instants (inclusive) at which an inventory's report-sourced last-use values give
/// exactly the findings that GetAccessKeyLastUsed values would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettledWindow {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl SettledWindow {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at <= self.until
    }
}

impl RootKey {
    /// How reports name a root key: "access key N", by its slot of the credential report.
    pub fn label(&self) -> String {
        format!("access key {}", self.slot)
    }
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

/// A user named by ListUsers, without anything else about it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    pub name: String,
    pub path: String,
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
    /// Calls that still failed after every retry (or whose answer could not be used): each
    /// left a coverage gap, and this counts the inventory's gaps. Saved as `failed_calls`.
    #[serde(rename = "failed_calls")]
    pub gaps: u64,
    pub wall_ms: u64,
    /// Response bytes received (version 3; 0 in older inventories and offline sources).
    #[serde(default)]
    pub bytes_received: u64,
    /// Attempts cut before the default attempt timeout because they ran far past what the
    /// operation usually takes, and sent again (version 4; 0 before).
    #[serde(default)]
    pub attempts_cut: u64,
}

impl CrawlStats {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    /// API calls per access key (every request, retries included); `None` without keys.
    pub fn calls_per_key(&self, keys: usize) -> Option<f64> {
        (keys > 0).then(|| self.total_calls() as f64 / keys as f64)
    }
}

/// How much of the account the inventory covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub complete: bool,
    pub users_listed: usize,
    /// Users with no coverage gap of their own.
    pub users_fully_audited: usize,
    /// Every access key the data lists one by one: the IAM users' keys and the root user's
    /// keys of the credential report's `<root_account>` row. (A root key known only from the
    /// account summary, which says "present" without a count, is not counted: see
    /// [`RootKeys`].) Every output that says "keys" counts these.
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
            not_crawled: Vec::new(),
            stats: CrawlStats::default(),
            last_use_settled: None,
            coverage: None,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    pub fn compute_coverage(&self) -> Coverage {
        let users_with_gaps: std::collections::BTreeSet<&str> =
            self.gaps.iter().filter_map(|g| g.user.as_deref()).collect();
        let last_uses = self
            .users
            .iter()
            .flat_map(|u| &u.keys)
            .map(|k| &k.last_used)
            .chain(self.root_keys().iter().map(|k| &k.last_used));
        Coverage {
            complete: self.is_complete(),
            users_listed: self.users.len(),
            users_fully_audited: self
                .users
                .iter()
                .filter(|u| !users_with_gaps.contains(u.name.as_str()))
                .count(),
            keys: last_uses.clone().count(),
            keys_with_last_use: last_uses.filter(|u| **u != LastUse::Unknown).count(),
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
        self.not_crawled.sort();
        self.coverage = Some(self.compute_coverage());
    }

    /// The IAM users' keys, without the root user's ([`Coverage::keys`] counts both).
    pub fn user_key_count(&self) -> usize {
        self.users.iter().map(|u| u.keys.len()).sum()
    }

    /// The root user's keys the credential report lists one by one; none otherwise.
    pub fn root_keys(&self) -> &[RootKey] {
        match &self.root {
            RootKeys::CredentialReport { keys, .. } => keys,
            _ => &[],
        }
    }

    /// Keys of a live crawl whose last use is the credential report's (the economical call
    /// plan left them unconfirmed: no finding depends on the difference).
    pub fn last_use_from_report(&self) -> usize {
        if !matches!(self.source, SourceInfo::Live { .. }) {
            return 0;
        }
        let users = self
            .users
            .iter()
            .flat_map(|u| &u.keys)
            .filter(|k| {
                k.last_used_source == LastUseSource::CredentialReport
                    && k.last_used != LastUse::Unknown
            })
            .count();
        // The root user's keys are known from the report alone.
        users + self.root_keys().len()
    }
}
