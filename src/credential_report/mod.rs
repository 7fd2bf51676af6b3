//! The IAM credential report: a CSV with one row per IAM user, plus a `<root_account>`
//! row for the root user when the account has one.
//!
//! The crawler parses the report it fetched from IAM and merges console-login context and
//! the root user's keys into the inventory ([`merge_into`]). `--from-credential-report`
//! builds a whole inventory from a report downloaded from the console ([`load_inventory`]);
//! such a report has no key ids, so its keys are named by slot ("access key 1").
//!
//! Columns are looked up by name, so their order does not matter and extra columns are
//! ignored. `N/A`, `no_information` and `not_supported`, in any letter case, mean "no
//! value". Every problem in a file is reported as one line naming the file and the line.

mod merge;
mod parse;
mod slots;
mod standalone;

pub use merge::merge_into;
pub use parse::parse;
pub use slots::{RowIndex, fill_last_use, fill_user};
pub use standalone::{load_inventory, read_inventory};

use chrono::{DateTime, Utc};

use crate::inventory::{LastUse, LoginInfo, RootKey, RootKeys};

/// The user name IAM gives the root user's row.
pub use crate::inventory::ROOT_USER_NAME as ROOT_ROW_USER;

/// A parsed credential report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialReport {
    /// The IAM users' rows, in file order.
    pub users: Vec<ReportRow>,
    /// The `<root_account>` row, when the report has one.
    pub root: Option<ReportRow>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub user: String,
    pub arn: String,
    pub user_creation_time: Option<DateTime<Utc>>,
    /// `not_supported` (the root user's row) and the other special values read as false.
    pub password_enabled: bool,
    pub password_last_used: Option<DateTime<Utc>>,
    pub mfa_active: bool,
    /// Access key slots 1 and 2, in that order.
    pub keys: [KeySlot; 2],
}

/// One of the two access key slots of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySlot {
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used_date: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl KeySlot {
    /// Whether the slot holds a key: it is active, or it has a rotation date (an inactive
    /// key). An empty slot reads `false` and `N/A`.
    pub fn holds_key(&self) -> bool {
        self.active || self.last_rotated.is_some()
    }

    /// The key's last use; a slot without a last-used date was never used.
    pub fn last_use(&self) -> LastUse {
        match self.last_used_date {
            Some(date) => LastUse::Used {
                date,
                service: self.last_used_service.clone(),
                region: self.last_used_region.clone(),
            },
            None => LastUse::Never,
        }
    }
}

impl ReportRow {
    fn login(&self) -> LoginInfo {
        LoginInfo {
            password_enabled: self.password_enabled,
            password_last_used: self.password_last_used,
            mfa_active: self.mfa_active,
        }
    }

    fn slots_with_keys(&self) -> impl Iterator<Item = &KeySlot> {
        self.keys.iter().filter(|k| k.holds_key())
    }
}

impl CredentialReport {
    /// The root user's keys as the `<root_account>` row states them, if the report has one.
    pub fn root_keys(&self) -> Option<RootKeys> {
        self.root.as_ref().map(|row| RootKeys::CredentialReport {
            arn: Some(row.arn.clone()).filter(|a| !a.is_empty()),
            keys: row
                .slots_with_keys()
                .map(|k| RootKey {
                    slot: k.slot,
                    active: k.active,
                    last_rotated: k.last_rotated,
                    last_used: k.last_use(),
                })
                .collect(),
        })
    }
}

/// A credential report that could not be read. Displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum CredentialReportError {
    #[error(transparent)]
    Read(#[from] crate::fsio::ReadError),
    #[error(transparent)]
    Data(#[from] crate::inventory::DataError),
    #[error("{file}:{line}: {problem} ({hint})")]
    Invalid {
        file: String,
        /// 1-based; the header is line 1.
        line: u64,
        problem: String,
        hint: &'static str,
    },
}

#[cfg(test)]
mod tests;
