//! Who owns what the report lists: each user's owner ([`crate::policy::Owners`]: the first
//! owner tag a user carries, else the fallback), and the open findings per owner for the
//! by-owner table, worst first.

use std::collections::{BTreeMap, HashMap};

use crate::findings::{EvaluatedFinding, Severity};
use crate::inventory::Inventory;
use crate::policy::Owners;

/// The owners of one account's users.
#[derive(Clone, Debug, Default)]
pub struct OwnerIndex {
    by_user: HashMap<String, String>,
    fallback: String,
}

impl OwnerIndex {
    /// The owners of `inventory`'s users under `owners`.
    pub fn of(owners: &Owners, inventory: &Inventory) -> OwnerIndex {
        OwnerIndex {
            by_user: inventory
                .users
                .iter()
                .map(|u| (u.name.clone(), owners.of(&u.tags).to_string()))
                .collect(),
            fallback: owners.fallback.clone(),
        }
    }

    /// The owner of the user named `user` (the fallback for the root user and for users
    /// the index does not know).
    pub fn owner(&self, user: &str) -> &str {
        self.by_user
            .get(user)
            .map(String::as_str)
            .unwrap_or(if self.fallback.is_empty() {
                crate::policy::DEFAULT_OWNER
            } else {
                &self.fallback
            })
    }
}

/// One owner's row of the by-owner table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRow {
    pub owner: String,
    /// Open findings by severity, critical first ([`Severity::index`]).
    pub open: [usize; 4],
}

impl OwnerRow {
    pub fn total(&self) -> usize {
        self.open.iter().sum()
    }
    pub fn critical(&self) -> usize {
        self.open[Severity::Critical.index()]
    }
    pub fn high(&self) -> usize {
        self.open[Severity::High.index()]
    }
    pub fn medium(&self) -> usize {
        self.open[Severity::Medium.index()]
    }
    pub fn low(&self) -> usize {
        self.open[Severity::Low.index()]
    }
}

/// Open findings per owner, added account by account.
#[derive(Clone, Debug, Default)]
pub struct OwnerTally {
    rows: BTreeMap<String, [usize; 4]>,
}

impl OwnerTally {
    /// Counts `open` (unsuppressed findings) under their users' owners.
    pub fn add<'a>(
        &mut self,
        index: &OwnerIndex,
        open: impl IntoIterator<Item = &'a EvaluatedFinding>,
    ) {
        for ef in open {
            let owner = index.owner(&ef.finding.user_name);
            let counts = match self.rows.get_mut(owner) {
                Some(counts) => counts,
                None => self.rows.entry(owner.to_string()).or_default(),
            };
            counts[ef.finding.severity.index()] += 1;
        }
    }

    /// Another tally's counts, added to this one.
    pub fn merge(&mut self, other: &[OwnerRow]) {
        for row in other {
            let counts = self.rows.entry(row.owner.clone()).or_default();
            for (c, n) in counts.iter_mut().zip(row.open) {
                *c += n;
            }
        }
    }

    /// The rows, worst first: most critical, then high, medium and low, then by owner.
    pub fn rows(&self) -> Vec<OwnerRow> {
        let mut rows: Vec<OwnerRow> = self
            .rows
            .iter()
            .map(|(owner, open)| OwnerRow {
                owner: owner.clone(),
                open: *open,
            })
            .collect();
        rows.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.owner.cmp(&b.owner)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_worst_first() {
        let mut t = OwnerTally::default();
        t.merge(&[
            OwnerRow {
                owner: "b".into(),
                open: [0, 3, 0, 0],
            },
            OwnerRow {
                owner: "a".into(),
                open: [1, 0, 0, 0],
            },
            OwnerRow {
                owner: "c".into(),
                open: [0, 3, 1, 0],
            },
        ]);
        let order: Vec<String> = t.rows().into_iter().map(|r| r.owner).collect();
        assert_eq!(order, ["a", "c", "b"]);
    }
}
