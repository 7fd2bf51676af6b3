//! The scope, decided once per run: users out of scope leave the inventory before the rules
//! run, so they are absent from findings, keys.csv, every count and the exit decision, and
//! their coverage gaps do not fail the run. The reports say how many users were left out
//! and why.

use crate::inventory::{CoverageGap, Inventory};

use super::{Scope, UserFilter};

/// What the scope left out of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeOutcome {
    /// The scope in words, e.g. "include tags team=payments; exclude users break-glass-*";
    /// empty when everyone is in scope.
    pub description: String,
    /// Users left out, those whose keys were never crawled included.
    pub users_excluded: usize,
    /// Keys of excluded users that were crawled (the others were never read).
    pub keys_excluded: usize,
    /// Coverage gaps about excluded users, which no longer count.
    pub gaps_excluded: usize,
    /// The names of the users left out (a baseline's findings about them are not
    /// assessed, not resolved).
    pub excluded_users: std::collections::BTreeSet<String>,
    /// The immutable ids of the excluded users that were crawled.
    pub excluded_user_ids: std::collections::BTreeSet<String>,
}

impl Scope {
    /// Whether the account with this id is audited: it is in the `include` accounts list,
    /// or that list is empty, and it is not in the `exclude` accounts list. An account out
    /// of scope is not audited: its users are not crawled.
    pub fn includes_account(&self, account_id: &str) -> bool {
        let a = &self.accounts;
        (a.include.is_empty() || a.include.iter().any(|id| id == account_id))
            && !a.exclude.iter().any(|id| id == account_id)
    }

    /// The accounts part of the scope in words, e.g. "exclude accounts 111111111111,
    /// 222222222222"; `None` when every account is in scope.
    pub fn accounts_description(&self) -> Option<String> {
        let part = |verb: &str, ids: &[crate::ident::AccountId]| {
            let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
            (!ids.is_empty()).then(|| format!("{verb} accounts {}", ids.join(", ")))
        };
        let parts: Vec<String> = [
            part("include", &self.accounts.include),
            part("exclude", &self.accounts.exclude),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Whether every user of an audited account is in scope (the accounts lists aside).
    pub fn is_everyone(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether the scope depends only on user names and paths, which ListUsers gives: then
    /// an excluded user's keys need not be crawled at all.
    pub fn decided_by_name_and_path(&self) -> bool {
        self.include.tags.is_empty() && self.exclude.tags.is_empty()
    }

    /// Whether a user with this name and path can be in scope, before its tags are known:
    /// false only when the name or the path alone excludes it.
    pub fn may_include(&self, name: &str, path: &str) -> bool {
        let inc = &self.include;
        (inc.users.is_empty() || inc.user_matches(name))
            && (inc.paths.is_empty() || inc.path_matches(path))
            && !(self.exclude.user_matches(name) || self.exclude.path_matches(path))
    }

    /// The users part of the scope in words ([`Scope::accounts_description`] has the
    /// accounts part).
    pub fn describe(&self) -> String {
        let part = |verb: &str, f: &UserFilter| {
            let mut lists = Vec::new();
            if !f.users.is_empty() {
                let names: Vec<&str> = f.users.iter().map(|p| p.as_str()).collect();
                lists.push(format!("users {}", names.join(", ")));
            }
            if !f.paths.is_empty() {
                lists.push(format!("paths {}", f.paths.join(", ")));
            }
            if !f.tags.is_empty() {
                let tags: Vec<String> = f
                    .tags
                    .iter()
                    .map(|t| format!("{}={}", t.key, t.value.as_str()))
                    .collect();
                lists.push(format!("tags {}", tags.join(", ")));
            }
            (!lists.is_empty()).then(|| format!("{verb} {}", lists.join(" and ")))
        };
        [
            part("include", &self.include),
            part("exclude", &self.exclude),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }

    /// Removes the users out of scope, their keys and their coverage gaps from `inventory`.
    /// The accounts lists play no part here: whether the inventory's account is audited at
    /// all is the caller's decision, with [`Scope::includes_account`].
    ///
    /// A user whose tags could not be read (a ListUserTags gap) stays in scope when the
    /// scope looks at tags: its exclusion cannot be proven, and its gap must not vanish.
    /// A user the collecting run did not crawl (its scope left it out) but this scope
    /// includes is a coverage gap: its keys are unknown.
    pub fn restrict(&self, inventory: &mut Inventory) -> ScopeOutcome {
        let mut outcome = ScopeOutcome {
            description: self.describe(),
            ..ScopeOutcome::default()
        };
        for user in std::mem::take(&mut inventory.not_crawled) {
            if self.may_include(&user.name, &user.path) {
                inventory.gaps.push(CoverageGap {
                    user: Some(user.name.clone()),
                    access_key_id: None,
                    operation: "ListAccessKeys".into(),
                    error_code: "NotCrawled".into(),
                    impact: "the run that collected this inventory left the user out of its scope; its keys were not listed".into(),
                });
            } else {
                outcome.users_excluded += 1;
                outcome.excluded_users.insert(user.name.clone());
            }
        }
        if self.is_everyone() {
            inventory.gaps.sort();
            inventory.coverage = Some(inventory.compute_coverage());
            return outcome;
        }
        let tags_unknown: std::collections::BTreeSet<String> = inventory
            .gaps
            .iter()
            .filter(|g| g.operation == "ListUserTags")
            .filter_map(|g| g.user.clone())
            .collect();
        let uses_tags = !self.decided_by_name_and_path();
        let mut excluded = std::collections::BTreeSet::new();
        inventory.users.retain(|user| {
            let keep = self.includes(user)
                || (uses_tags
                    && tags_unknown.contains(&user.name)
                    && self.may_include(&user.name, &user.path));
            if !keep {
                outcome.users_excluded += 1;
                outcome.keys_excluded += user.keys.len();
                excluded.insert(user.name.clone());
                if !user.user_id.is_empty() {
                    outcome.excluded_user_ids.insert(user.user_id.clone());
                }
            }
            keep
        });
        let before = inventory.gaps.len();
        inventory
            .gaps
            .retain(|g| g.user.as_ref().is_none_or(|u| !excluded.contains(u)));
        outcome.gaps_excluded = before - inventory.gaps.len();
        outcome.excluded_users.extend(excluded.iter().cloned());
        inventory
            .removed_during_crawl
            .retain(|r| !excluded.contains(&r.user));
        inventory.coverage = Some(inventory.compute_coverage());
        outcome
    }
}
