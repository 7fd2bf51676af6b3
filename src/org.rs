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
