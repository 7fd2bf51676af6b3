//! The accounts of an organization run: which accounts were selected, what Organizations
//! said about them, and what happened to each.
//!
//! Plain data, like [`crate::inventory`]: the crawler fills it from Organizations (or from
//! an explicit `--accounts` list), the saved manifest stores it, and the reports read it.
//! No SDK type appears here.

use serde::{Deserialize, Serialize};

/// An account's state in Organizations (`State`, or the retiring `Status` from an endpoint
/// that sends only that). Only [`AccountState::Active`] accounts are crawled.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum AccountState {
    Active,
    Suspended,
    PendingClosure,
    Closed,
    /// Named explicitly (`--accounts`), without asking Organizations: assumed reachable.
    NotListed,
    /// A state this keyhygiene does not know: not crawled, shown as Organizations spells it.
    Other(String),
}

impl From<String> for AccountState {
    fn from(text: String) -> Self {
        AccountState::parse(&text).unwrap_or(AccountState::Other(text))
    }
}

impl From<AccountState> for String {
    fn from(state: AccountState) -> Self {
        state.as_str().to_string()
    }
}

impl AccountState {
    /// Organizations' spelling (`ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`), and
    /// keyhygiene's own `NOT_LISTED`.
    pub fn parse(text: &str) -> Option<AccountState> {
        match text {
            "NOT_LISTED" => Some(AccountState::NotListed),
            "ACTIVE" => Some(AccountState::Active),
            "SUSPENDED" => Some(AccountState::Suspended),
            "PENDING_CLOSURE" => Some(AccountState::PendingClosure),
            "CLOSED" => Some(AccountState::Closed),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            AccountState::Active => "ACTIVE",
            AccountState::Suspended => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
            AccountState::Closed => "CLOSED",
            AccountState::NotListed => "NOT_LISTED",
            AccountState::Other(text) => text,
        }
    }

    /// Whether keyhygiene crawls an account in this state.
    pub fn is_crawled(&self) -> bool {
        matches!(self, AccountState::Active | AccountState::NotListed)
    }
}

/// One account as Organizations lists it (or as `--accounts` names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The 12-digit account id.
    pub id: String,
    /// The account's name in Organizations; `None` when it was named by id only.
    pub name: Option<String>,
    pub state: AccountState,
    /// The organizational units above the account, root first, as `Root/Prod/Payments`;
    /// `None` when Organizations was not asked.
    pub ou_path: Option<String>,
}

impl Account {
    /// An account known by its id alone (named with `--accounts`, or read from a saved
    /// inventory without a manifest): no name, no OU path, not listed by Organizations.
    pub fn named(id: &str) -> Account {
        Account {
            id: id.to_string(),
            name: None,
            state: AccountState::NotListed,
            ou_path: None,
        }
    }
}

/// What Organizations said about the organization and its accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgListing {
    /// `o-…`, from DescribeOrganization.
    pub organization_id: Option<String>,
    pub management_account_id: Option<String>,
    /// Every account listed (for `--ou`: only those under the units asked for), sorted by id.
    pub accounts: Vec<Account>,
}

/// Twelve digits: anything else is not an account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// What a run did with one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Outcome {
    /// Its keys were collected; in a saved manifest, `file` names its inventory.
    Audited {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// Not crawled because its state is not ACTIVE. Not a coverage gap: suspended and
    /// closed accounts stay listed for a while and cannot be audited.
    NotActive,
    /// Left out by `--exclude-accounts`.
    Excluded,
    /// Left out by the policy's scope.
    OutOfScope,
    /// Audited by another shard of a sharded run (`--shard K/N`): not this run's to audit.
    OtherShard,
    /// Selected, active, and not audited: a coverage gap.
    Unreachable(AccessProblem),
}

impl Outcome {
    /// Whether this outcome leaves the run's coverage incomplete.
    pub fn is_gap(&self) -> bool {
        matches!(self, Outcome::Unreachable(_))
    }

    /// A short label for reports: `audited`, `not active`, `excluded`, `out of scope`,
    /// `in another shard`, `not audited`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Audited { .. } => "audited",
            Outcome::NotActive => "not active",
            Outcome::Excluded => "excluded",
            Outcome::OutOfScope => "out of scope",
            Outcome::OtherShard => "in another shard",
            Outcome::Unreachable(_) => "not audited",
        }
    }
}

/// Why an active account could not be audited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessProblem {
    /// `AssumeRole`, `crawl` (the account timed out), `ListAccounts` (not in the
    /// organization)…
    pub operation: String,
    pub error_code: String,
    pub message: String,
    /// The role ARN that was tried, when a role was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// One account of the run and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    pub account: Account,
    pub result: Outcome,
}

/// How the accounts of a run were chosen, as the command line said it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// `--org`: every account of the organization.
    #[serde(default)]
    pub org: bool,
    /// `--ou`: the accounts under these organizational units.
    #[serde(default)]
    pub ous: Vec<String>,
    /// `--accounts` and `--accounts-file`: these accounts.
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub exclude_accounts: Vec<String>,
    /// The role assumed in member accounts.
    #[serde(default)]
    pub role_name: Option<String>,
    /// `--shard K/N`: this run audited one slice of the selected accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// One slice of a sharded organization run: shard `index` of `count` (1-based).
///
/// An account belongs to shard `1 + (h mod N)`, where `h` is the first 8 bytes, big-endian,
/// of the SHA-256 of its 12-digit id in ASCII: it depends on the id alone, so an account
/// stays in its shard when others are added or removed, whatever machine computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a run can be split into.
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    /// Parses `K/N` (1 <= K <= N <= 10,000).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let fix = "write K/N, e.g. --shard 2/8 for the second of eight shards";
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text}: not K/N ({fix})"))?;
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("--shard {text}: \"{t}\" is not a whole number ({fix})"))
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 || count > MAX_SHARDS || index == 0 || index > count {
            return Err(format!(
                "--shard {text}: K must be from 1 to N, and N from 1 to {MAX_SHARDS} ({fix})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard (1 to `count`) that audits `account_id`.
    pub fn of(account_id: &str, count: u32) -> u32 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(account_id.as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(head) % u64::from(count)) as u32 + 1
    }

    /// Whether this shard audits `account_id`.
    pub fn owns(&self, account_id: &str) -> bool {
        Shard::of(account_id, self.count) == self.index
    }

    /// The manifest's file name in a saved directory: shards of one run can save into
    /// one folder.
    pub fn manifest_file(shard: Option<Shard>) -> String {
        match shard {
            None => MANIFEST_FILE.to_string(),
            Some(s) => format!("manifest-shard-{}-of-{}.json", s.index, s.count),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Selection {
    /// The selection in words, for reports: "organization o-abc, OUs ou-1, excluding 1 account".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ous.is_empty() {
            parts.push(format!("accounts under {}", self.ous.join(", ")));
        } else if self.org {
            parts.push("every account of the organization".to_string());
        }
        if !self.accounts.is_empty() {
            parts.push(match self.accounts.len() {
                1 => "1 account named".to_string(),
                n => format!("{n} accounts named"),
            });
        }
        if !self.exclude_accounts.is_empty() {
            parts.push(format!("excluding {}", self.exclude_accounts.join(", ")));
        }
        if let Some(shard) = self.shard {
            parts.push(format!("shard {} of {}", shard.index, shard.count));
        }
        parts.join("; ")
    }
}

/// The version of the saved organization manifest (`manifest.json`).
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// The file name of the manifest in a saved organization inventory directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The saved record of an organization run: which accounts were listed, when, how they were
/// selected and what happened to each. With it, an offline audit can tell an account that
/// was never collected from one that had no keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    /// When the accounts were listed.
    pub listed_at: chrono::DateTime<chrono::Utc>,
    pub organization_id: Option<String>,
    pub management_account_id: Option<String>,
    /// The account keyhygiene ran from.
    pub caller_account_id: Option<String>,
    pub selection: Selection,
    /// Every account listed, sorted by id.
    pub accounts: Vec<AccountRecord>,
}

/// The saved inventory file of one account in a saved organization directory.
pub fn inventory_file_name(account_id: &str) -> String {
    format!("account-{account_id}.json")
}

/// The account ids of an `--accounts-file`: one id per line; `#` starts a comment; blank
/// lines are ignored. An error names the file, the line and the fix.
pub fn parse_accounts_file(text: &str, file: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        if !is_account_id(id) {
            return Err(format!(
                "{file}:{}: `{}` is not a 12-digit account id (one id per line; # starts a comment)",
                number + 1,
                id.chars().take(40).collect::<String>()
            ));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Checks the ids given to a flag such as `--accounts`.
pub fn check_account_ids(flag: &str, ids: &[String]) -> Result<(), String> {
    match ids.iter().find(|id| !is_account_id(id)) {
        Some(bad) => Err(format!(
            "{flag}: `{}` is not a 12-digit account id (comma-separated, e.g. {flag} 111122223333,444455556666)",
            bad.chars().take(40).collect::<String>()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_file_takes_ids_comments_and_blank_lines() {
        let text = "# production\n111122223333\n\n  444455556666  # payments\n";
        assert_eq!(
            parse_accounts_file(text, "a.txt").unwrap(),
            vec!["111122223333", "444455556666"]
        );
        assert_eq!(
            parse_accounts_file("111122223333\n1234\n", "a.txt").unwrap_err(),
            "a.txt:2: `1234` is not a 12-digit account id (one id per line; # starts a comment)"
        );
        assert!(check_account_ids("--accounts", &["12345678901x".into()]).is_err());
    }

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for text in [
            "ACTIVE",
            "SUSPENDED",
            "PENDING_CLOSURE",
            "CLOSED",
            "NOT_LISTED",
            "NEW",
        ] {
            let state = AccountState::from(text.to_string());
            assert_eq!(state.as_str(), text);
        }
        assert!(AccountState::Active.is_crawled());
        assert!(!AccountState::Other("NEW".into()).is_crawled());
        assert!(!AccountState::Closed.is_crawled());
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    #[test]
    fn an_account_s_shard_is_the_documented_hash_of_its_id() {
        // 1 + (first 8 bytes of SHA-256(id), big-endian) mod N: the same on every machine,
        // in every version (a CI matrix's jobs must agree).
        assert_eq!(Shard::of("123456789012", 3), 2);
        assert_eq!(Shard::of("000000000001", 3), 3);
        assert_eq!(Shard::of("123456789012", 8), 3);
        assert_eq!(Shard::of("123456789012", 1), 1);
        // Every account is in exactly one shard, and shards are about even.
        let ids: Vec<String> = (0..10_000u64)
            .map(|i| format!("{:012}", 200_000_000_000 + i))
            .collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let owners: Vec<u32> = (1..=4)
                .filter(|k| {
                    Shard {
                        index: *k,
                        count: 4,
                    }
                    .owns(id)
                })
                .collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0] as usize - 1] += 1;
        }
        assert!(
            sizes.iter().all(|n| (2_300..2_700).contains(n)),
            "{sizes:?}"
        );
    }

    #[test]
    fn shard_flags_are_checked() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(Shard::parse("1/1").unwrap().to_string(), "1/1");
        for bad in ["0/3", "4/3", "3", "a/3", "1/0", "1/10001", "-1/3"] {
            let err = Shard::parse(bad).unwrap_err();
            assert!(err.starts_with(&format!("--shard {bad}: ")), "{err}");
        }
        assert_eq!(
            Shard::manifest_file(Some(Shard { index: 2, count: 8 })),
            "manifest-shard-2-of-8.json"
        );
        assert_eq!(Shard::manifest_file(None), "manifest.json");
    }
}
