//! The accounts of an organization run: which accounts were selected, what Organizations
//! said about them, and what happened to each.
//!
//! Plain data, like [`crate::inventory`]: the crawler fills it from Organizations (or from
//! an explicit `--accounts` list), the saved manifest stores it, and the reports read it.
//! No SDK type appears here.

use serde::{Deserialize, Serialize};

use crate::ident::AccountId;

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
    pub id: AccountId,
    /// The account's name in Organizations; `None` when it was named by id only.
    pub name: Option<String>,
    pub state: AccountState,
    /// The organizational units above the account, root first, as `Root/Prod/Payments`;
    /// `None` when Organizations was not asked.
    pub ou_path: Option<String>,
}

/// AWS's own limits on what an organization's listing holds: a longer value is not AWS's.
pub const MAX_ACCOUNT_NAME: usize = 50;
pub const MAX_OU_NAME: usize = 128;
/// Organizational units below the root.
pub const MAX_OU_DEPTH: usize = 5;

impl Account {
    /// Refuses an account no AWS listing holds: a name longer than 50 characters, an OU path
    /// deeper than five units below the root or with a unit name longer than 128, a state
    /// that is not Organizations' spelling of one.
    pub fn check(&self) -> Result<(), String> {
        let id = &self.id;
        if let Some(name) = &self.name
            && name.chars().count() > MAX_ACCOUNT_NAME
        {
            return Err(format!(
                "account {id}'s name has {} characters, more than AWS allows ({MAX_ACCOUNT_NAME})",
                name.chars().count()
            ));
        }
        if let Some(path) = &self.ou_path {
            let units: Vec<&str> = path.split('/').collect();
            if units.len() > MAX_OU_DEPTH + 1 {
                return Err(format!(
                    "account {id}'s OU path has {} units below the root, more than AWS allows ({MAX_OU_DEPTH})",
                    units.len() - 1
                ));
            }
            if let Some(long) = units.iter().find(|u| u.chars().count() > MAX_OU_NAME) {
                return Err(format!(
                    "account {id}'s OU path has a unit name of {} characters, more than AWS allows ({MAX_OU_NAME})",
                    long.chars().count()
                ));
            }
        }
        if let AccountState::Other(state) = &self.state
            && (!(1..=32).contains(&state.len())
                || !state.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        {
            return Err(format!(
                "account {id}'s state `{}` is not Organizations' spelling of a state",
                crate::text::shown(state, 40)
            ));
        }
        Ok(())
    }

    /// An account known by its id alone (named with `--accounts`, or read from a saved
    /// inventory without a manifest): no name, no OU path, not listed by Organizations.
    pub fn named(id: &AccountId) -> Account {
        Account {
            id: id.clone(),
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
    pub management_account_id: Option<AccountId>,
    /// Every account listed (for `--ou`: only those under the units asked for), sorted by id.
    pub accounts: Vec<Account>,
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
    pub accounts: Vec<AccountId>,
    #[serde(default)]
    pub exclude_accounts: Vec<AccountId>,
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
///
/// Read from a saved manifest, a shard goes through the checks of `--shard`
/// ([`Shard::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "ShardFields")]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A shard as a manifest spells it, before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardFields {
    index: u32,
    count: u32,
}

impl TryFrom<ShardFields> for Shard {
    type Error = String;

    fn try_from(f: ShardFields) -> Result<Shard, String> {
        Shard::new(f.index, f.count)
    }
}

/// The most shards a run can be split into.
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    /// Shard `index` of `count`: 1 <= index <= count <= 10,000.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS || index == 0 || index > count {
            return Err(format!(
                "shard {index}/{count}: K must be from 1 to N, and N from 1 to {MAX_SHARDS}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parses `K/N` (1 <= K <= N <= 10,000), as `--shard` and `--only-shard` take it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let fix = "write K/N, e.g. 2/8 for the second of eight shards";
        let shown = crate::text::shown(text, 40);
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{shown}: not K/N ({fix})"))?;
        let number = |t: &str| {
            t.trim().parse::<u32>().map_err(|_| {
                format!(
                    "{shown}: \"{}\" is not a whole number ({fix})",
                    crate::text::shown(t, 40)
                )
            })
        };
        let (index, count) = (number(k)?, number(n)?);
        Shard::new(index, count).map_err(|_| {
            format!("{shown}: K must be from 1 to N, and N from 1 to {MAX_SHARDS} ({fix})")
        })
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
    pub management_account_id: Option<AccountId>,
    /// The account keyhygiene ran from.
    pub caller_account_id: Option<AccountId>,
    pub selection: Selection,
    /// Every account listed, sorted by id.
    pub accounts: Vec<AccountRecord>,
}

impl Manifest {
    /// Refuses a manifest that contradicts itself: an account listed twice, an outcome
    /// its state does not allow (an ACTIVE account "not active", a CLOSED one audited), an
    /// inventory file that is not the account's own, or a shard's manifest that claims an
    /// account of another shard (or leaves one of its own to another).
    pub fn check(&self) -> Result<(), String> {
        if let Some(org) = &self.organization_id
            && !is_organization_id(org)
        {
            return Err(format!(
                "`{}` is not an organization id (o- and 10 to 32 lowercase letters and digits)",
                crate::text::shown(org, 40)
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.accounts.len());
        for record in &self.accounts {
            let id = &record.account.id;
            if !seen.insert(id) {
                return Err(format!("account {id} is listed twice"));
            }
            record.check()?;
            let claims = match &record.result {
                Outcome::Audited { .. } | Outcome::Unreachable(_) => Some(true),
                Outcome::OtherShard => Some(false),
                _ => None,
            };
            match (self.selection.shard, claims) {
                (Some(shard), Some(claims)) if shard.owns(id) != claims => {
                    return Err(format!(
                        "account {id} belongs to shard {} of {}, but the manifest of shard {shard} says it is {}",
                        Shard::of(id, shard.count),
                        shard.count,
                        record.result.label()
                    ));
                }
                (None, Some(false)) => {
                    return Err(format!(
                        "account {id} is said to be in another shard, but the manifest is not a shard's"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl AccountRecord {
    /// The outcome agrees with the account's state, and an audited account names its own
    /// inventory file.
    fn check(&self) -> Result<(), String> {
        self.account.check()?;
        let Account { id, state, .. } = &self.account;
        let audited_only_if_crawled = matches!(
            self.result,
            Outcome::Audited { .. } | Outcome::OtherShard | Outcome::Unreachable(_)
        );
        if audited_only_if_crawled && !state.is_crawled() {
            return Err(format!(
                "account {id} is {}, which is never audited, but the manifest says it is {}",
                state.as_str(),
                self.result.label()
            ));
        }
        if self.result == Outcome::NotActive && state.is_crawled() {
            return Err(format!(
                "account {id} is {}, but the manifest says it was not active",
                state.as_str()
            ));
        }
        if let Outcome::Audited { file } = &self.result
            && file.as_deref() != Some(inventory_file_name(id).as_str())
        {
            return Err(format!(
                "account {id}'s inventory is {}, not its own file {}",
                file.as_deref().map_or("not named".to_string(), |f| format!(
                    "`{}`",
                    crate::text::shown(f, 80)
                )),
                inventory_file_name(id)
            ));
        }
        Ok(())
    }
}

/// The largest `manifest.json` read (about 400 bytes an account: 160,000 accounts).
pub const MANIFEST_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads a saved manifest (`file` names it in messages): JSON of a version this keyhygiene
/// reads, consistent with itself ([`Manifest::check`]). Every account id in it went through
/// [`AccountId::parse`], every shard through [`Shard::new`]. Errors are one line.
pub fn parse_manifest(text: &str, file: &str) -> Result<Manifest, String> {
    let manifest: Manifest = serde_json::from_str(text).map_err(|e| {
        format!(
            "{file}:{}:{}: not a keyhygiene manifest: {e} (write it again with --save-inventory DIR)",
            e.line(),
            e.column()
        )
    })?;
    if manifest.schema_version > MANIFEST_SCHEMA_VERSION {
        return Err(format!(
            "{file}: manifest schema_version {} is newer than this keyhygiene reads ({MANIFEST_SCHEMA_VERSION}); upgrade keyhygiene",
            manifest.schema_version
        ));
    }
    manifest.check().map_err(|e| {
        format!(
            "{file}: {e}; the manifest contradicts itself (it was edited or damaged: save the inventories again with --save-inventory DIR)"
        )
    })?;
    Ok(manifest)
}

/// `o-` and 10 to 32 lowercase letters and digits, as Organizations names organizations.
pub fn is_organization_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The saved inventory file of one account in a saved organization directory.
pub fn inventory_file_name(account_id: &AccountId) -> String {
    format!("account-{account_id}.json")
}

/// The account ids of an `--accounts-file`: one id per line; `#` starts a comment; blank
/// lines and a leading byte-order mark (as Notepad and PowerShell write) are ignored. An
/// error names the file, the line and the fix.
pub fn parse_accounts_file(text: &str, file: &str) -> Result<Vec<AccountId>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ids = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        let id = AccountId::parse(id).map_err(|e| {
            format!(
                "{file}:{}: {e} (one id per line; # starts a comment)",
                number + 1
            )
        })?;
        ids.push(id);
    }
    Ok(ids)
}

/// The ids given to a flag such as `--accounts`, parsed.
pub fn parse_account_ids(flag: &str, ids: &[String]) -> Result<Vec<AccountId>, String> {
    ids.iter()
        .map(|id| {
            AccountId::parse(id).map_err(|e| {
                format!("{flag}: {e} (comma-separated, e.g. {flag} 111122223333,444455556666)")
            })
        })
        .collect()
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
            "a.txt:2: `1234` is not an AWS account id (12 digits, such as 111122223333) (one id per line; # starts a comment)"
        );
        // A byte-order mark, as Notepad and PowerShell write one, and CRLF line ends.
        assert_eq!(
            parse_accounts_file("\u{feff}111122223333\r\n444455556666\r\n", "a.txt").unwrap(),
            vec!["111122223333", "444455556666"]
        );
        assert!(parse_account_ids("--accounts", &["12345678901x".into()]).is_err());
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
            assert!(err.starts_with(&format!("{bad}: ")), "{err}");
        }
        // A manifest's shard goes through the same checks: a count of 0 once divided by
        // zero when shards were merged.
        for bad in [
            r#"{"index": 1, "count": 0}"#,
            r#"{"index": 0, "count": 2}"#,
            r#"{"index": 3, "count": 2}"#,
            r#"{"index": 1, "count": 10001}"#,
        ] {
            let err = serde_json::from_str::<Shard>(bad).unwrap_err().to_string();
            assert!(err.contains("K must be from 1 to N"), "{bad}: {err}");
        }
        assert_eq!(
            serde_json::from_str::<Shard>(r#"{"index": 2, "count": 3}"#).unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!(
            Shard::manifest_file(Some(Shard { index: 2, count: 8 })),
            "manifest-shard-2-of-8.json"
        );
        assert_eq!(Shard::manifest_file(None), "manifest.json");
    }
}
