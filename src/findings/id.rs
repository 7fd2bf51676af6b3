//! Finding ids: a fingerprint of what a finding is about, stable across runs.
//!
//! A baseline matches this run's findings with the last run's by id, so an id is made of
//! facts about the finding's subject that do not change while the problem lasts, and of
//! nothing else: no timestamp of the run, no Region, no user name (a user can be renamed),
//! no position in a list.
//!
//! Scheme 1 (`kh1`), the SHA-256 of the fields below, one per line, shown as the first 128
//! bits in hex after the prefix:
//!
//! | finding about | source | prefix | fields |
//! |---|---|---|---|
//! | an access key | IAM API | `kh1-` | `key`, partition, account id, rule id, access key id |
//! | a user (two active keys) | IAM API | `kh1-` | `user`, partition, account id, rule id, `UserId` (`AIDA…`) |
//! | a root access key | either | `kh1-` | `root`, partition, account id, rule id, key slot (`1`, `2`, or `any` when only presence is known) |
//! | an access key | credential report | `kh1cr-` | `cr-key`, user ARN, rule id, key slot, key creation time |
//! | a user | credential report | `kh1cr-` | `cr-user`, user ARN, rule id |
//!
//! A credential report names neither the key id nor the `UserId`, so its ids are weaker:
//! a renamed user or a rotated slot gets a new id. The two prefixes never match each
//! other, and a baseline written from one kind of source is not compared with a run from
//! the other ([`IdSource`]). A new scheme gets a new prefix and a documented migration.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The scheme this version writes.
pub const ID_SCHEME: &str = "kh1";

/// What a run's finding ids were computed from: a baseline is only compared with a run of
/// the same kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdSource {
    /// Key ids and user ids from the IAM API (a live crawl, or an inventory it saved).
    #[default]
    Api,
    /// A credential report CSV: user ARNs, key slots and creation times.
    CredentialReport,
}

impl IdSource {
    /// What an inventory's finding ids are computed from.
    pub fn of(inventory: &crate::inventory::Inventory) -> IdSource {
        match inventory.source {
            crate::inventory::SourceInfo::CredentialReport { .. } => IdSource::CredentialReport,
            crate::inventory::SourceInfo::Live { .. } => IdSource::Api,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdSource::Api => "api",
            IdSource::CredentialReport => "credential-report",
        }
    }
}

/// What a finding is about, as its id needs it.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// An IAM user's access key known by its id.
    Key { arn: &'a str, key_id: &'a str },
    /// An IAM user as a whole, known by its immutable id.
    User { arn: &'a str, user_id: &'a str },
    /// A root access key, by slot (`None` when only its presence is known).
    Root { arn: &'a str, slot: Option<u8> },
    /// A key from a credential report: the user's ARN, the slot and the creation time.
    ReportKey {
        arn: &'a str,
        slot: Option<u8>,
        created: DateTime<Utc>,
    },
    /// A user known only by its ARN (a credential report, or an old inventory without
    /// user ids).
    ReportUser { arn: &'a str },
}

/// The id of the finding of `rule_id` about `subject` in `account_id`.
pub fn finding_id(account_id: Option<&str>, rule_id: &str, subject: Subject<'_>) -> String {
    let account = account_id.unwrap_or("");
    let partition = |arn: &str| partition_of(arn).to_string();
    let (prefix, fields): (&str, Vec<String>) = match subject {
        Subject::Key { arn, key_id } => (
            "kh1",
            vec![
                "key".into(),
                partition(arn),
                account.into(),
                rule_id.into(),
                key_id.into(),
            ],
        ),
        Subject::User { arn, user_id } => (
            "kh1",
            vec![
                "user".into(),
                partition(arn),
                account.into(),
                rule_id.into(),
                user_id.into(),
            ],
        ),
        Subject::Root { arn, slot } => (
            "kh1",
            vec![
                "root".into(),
                partition(arn),
                account.into(),
                rule_id.into(),
                slot.map_or_else(|| "any".to_string(), |s| s.to_string()),
            ],
        ),
        Subject::ReportKey { arn, slot, created } => (
            "kh1cr",
            vec![
                "cr-key".into(),
                arn.into(),
                rule_id.into(),
                slot.map_or_else(String::new, |s| s.to_string()),
                created.to_rfc3339_opts(SecondsFormat::Secs, true),
            ],
        ),
        Subject::ReportUser { arn } => {
            ("kh1cr", vec!["cr-user".into(), arn.into(), rule_id.into()])
        }
    };
    let digest = Sha256::digest(fields.join("\n").as_bytes());
    let hex = crate::ident::hex(&digest[..16]);
    format!("{prefix}-{hex}")
}

/// The partition an ARN names (`aws`, `aws-cn`, `aws-us-gov`…); `aws` when the ARN is
/// missing or malformed.
fn partition_of(arn: &str) -> &str {
    crate::ident::Arn::parse(arn).map_or("aws", |arn| arn.partition)
}

/// What a finding records about its subject (a history record, a report): enough to
/// compute its id again, so a record whose ids do not follow from its fields is known to be
/// damaged or forged.
#[derive(Clone, Copy, Debug)]
pub struct IdFields<'a> {
    pub account_id: Option<&'a str>,
    pub rule_id: &'a str,
    /// `<root_account>` for the root user.
    pub user_name: &'a str,
    /// The user's (or the root user's) ARN: its partition is part of every id, and a
    /// credential report's ids hold all of it.
    pub user_arn: &'a str,
    pub user_id: Option<&'a str>,
    /// The key's id, or its label (`access key N`) for a root key or a key known from a
    /// credential report.
    pub access_key_id: Option<&'a str>,
    pub key_created: Option<DateTime<Utc>>,
}

impl IdFields<'_> {
    /// The id of a finding with these fields, in the id family of `id` (`kh1-` from the
    /// IAM API, `kh1cr-` from a credential report); `None` when the fields cannot have
    /// given an id of that family.
    pub fn id_like(&self, id: &str) -> Option<String> {
        let arn = self.user_arn;
        let subject = if id.starts_with("kh1cr-") {
            match self.access_key_id {
                Some(label) => Subject::ReportKey {
                    arn,
                    slot: slot_of(label)?,
                    created: self.key_created?,
                },
                None => Subject::ReportUser { arn },
            }
        } else if self.user_name == crate::inventory::ROOT_USER_NAME {
            Subject::Root {
                arn,
                slot: match self.access_key_id {
                    Some(label) => slot_of(label)?,
                    None => None,
                },
            }
        } else if let Some(key_id) = self.access_key_id {
            Subject::Key { arn, key_id }
        } else {
            Subject::User {
                arn,
                user_id: self.user_id.filter(|id| !id.is_empty())?,
            }
        };
        Some(finding_id(self.account_id, self.rule_id, subject))
    }
}

/// The slot of a key label: `access key 2` is slot 2, `access key` no slot; `None` for
/// anything else.
fn slot_of(label: &str) -> Option<Option<u8>> {
    match label.strip_prefix("access key") {
        Some("") => Some(None),
        Some(rest) => rest.strip_prefix(' ')?.parse::<u8>().ok().map(Some),
        None => None,
    }
}

/// Whether `text` has the shape of a scheme-1 id (a suppression names one).
pub fn is_finding_id(text: &str) -> bool {
    let hex = text
        .strip_prefix("kh1-")
        .or_else(|| text.strip_prefix("kh1cr-"));
    hex.is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:iam::111122223333:user/alice";

    #[test]
    fn an_id_is_stable_and_documented() {
        // The value is part of the format: a baseline written by any earlier version must
        // keep matching. Changing it needs a new scheme and a migration.
        let id = finding_id(
            Some("111122223333"),
            "key-not-rotated",
            Subject::Key {
                arn: ARN,
                key_id: "AKIAIOSFODNN7EXAMPLE",
            },
        );
        let expected = Sha256::digest(
            b"key\naws\n111122223333\nkey-not-rotated\nAKIAIOSFODNN7EXAMPLE".as_slice(),
        );
        let hex: String = expected[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(id, format!("kh1-{hex}"));
        assert!(is_finding_id(&id));
    }

    #[test]
    fn a_user_id_ignores_the_name_and_two_keys_never_collide() {
        let user = |arn| {
            finding_id(
                Some("111122223333"),
                "user-two-active-keys",
                Subject::User {
                    arn,
                    user_id: "AIDAEXAMPLE",
                },
            )
        };
        assert_eq!(user(ARN), user("arn:aws:iam::111122223333:user/renamed"));
        let key = |key_id| {
            finding_id(
                Some("111122223333"),
                "key-unused",
                Subject::Key { arn: ARN, key_id },
            )
        };
        assert_ne!(key("AKIA1"), key("AKIA2"));
    }

    #[test]
    fn accounts_partitions_rules_and_sources_give_different_ids() {
        let key = |account, arn, rule| {
            finding_id(
                Some(account),
                rule,
                Subject::Key {
                    arn,
                    key_id: "AKIA1",
                },
            )
        };
        let base = key("111122223333", ARN, "key-unused");
        assert_ne!(base, key("444455556666", ARN, "key-unused"));
        assert_ne!(
            base,
            key(
                "111122223333",
                "arn:aws-cn:iam::111122223333:user/alice",
                "key-unused"
            )
        );
        assert_ne!(base, key("111122223333", ARN, "key-never-used"));
        let report = finding_id(
            Some("111122223333"),
            "key-unused",
            Subject::ReportKey {
                arn: ARN,
                slot: Some(1),
                created: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                    .unwrap()
                    .to_utc(),
            },
        );
        assert!(report.starts_with("kh1cr-") && is_finding_id(&report));
        assert!(!is_finding_id("kh1-xyz") && !is_finding_id("kh2-00"));
    }
}
