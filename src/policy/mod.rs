//! The policy file (`--config FILE`, TOML): per-rule settings, scope, suppressions, and who
//! owns a user (`[report]`).
//!
//! [`load`] validates the whole file before any AWS call and reports every problem at once,
//! each as `file:line:column: problem (fix)`. [`apply`] is the one place the policy takes
//! effect on findings: scope filters, then suppressions, then the stable order.

use std::path::Path;

use chrono::NaiveDate;
use globset::GlobBuilder;

use crate::inventory::User;
pub use crate::rules::RuleConfig;
use crate::rules::{RuleSettings, default_settings, find};

mod apply;
mod checker;
mod glob;
mod parse;
mod scope;
mod template;

pub use apply::{Applier, apply};
pub use scope::ScopeOutcome;

/// A validated policy. `Policy::default()` behaves exactly like no file at all: every rule
/// enabled with its default severity and thresholds, everyone in scope, no suppressions.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The effective settings of every registered rule, by rule id.
    pub rules: RuleSettings,
    pub scope: Scope,
    /// `[[suppress]]` entries, in file order (the first matching entry is the one shown).
    pub suppressions: Vec<Suppression>,
    /// `[report]`: the tags that name a user's owner.
    pub owners: Owners,
}

/// Who owns a user: the value of the first of `tags` the user carries (`[report]
/// owner-tags`), else `fallback` (`owner-fallback`, default `unowned`). The root user and
/// a user without any of the tags belong to the fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owners {
    pub tags: Vec<String>,
    pub fallback: String,
}

/// The owner of users no owner tag names.
pub const DEFAULT_OWNER: &str = "unowned";

impl Default for Owners {
    fn default() -> Self {
        Owners {
            tags: Vec::new(),
            fallback: DEFAULT_OWNER.to_string(),
        }
    }
}

impl Owners {
    /// The owner of a user with `tags`: the first owner tag present with a value that is not
    /// blank, else the fallback.
    pub fn of<'a>(&'a self, tags: &'a [crate::inventory::Tag]) -> &'a str {
        self.tags
            .iter()
            .find_map(|key| {
                tags.iter()
                    .find(|t| &t.key == key && !t.value.trim().is_empty())
                    .map(|t| t.value.as_str())
            })
            .unwrap_or(&self.fallback)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rules: default_settings(),
            scope: Scope::default(),
            suppressions: Vec::new(),
            owners: Owners::default(),
        }
    }
}

impl Policy {
    /// The effective settings of rule `id` (its defaults when the policy does not set it).
    pub fn rule(&self, id: &str) -> Option<RuleConfig> {
        match self.rules.get(id) {
            Some(config) => Some(config.clone()),
            None => find(id).map(|rule| RuleConfig::defaults(rule.info())),
        }
    }
}

/// Which accounts and IAM users are audited. A user is in scope when it matches every
/// non-empty `include` list (any entry of that list) and no `exclude` entry. The root user
/// is always in scope. The `accounts` lists decide which accounts are audited at all, see
/// [`Scope::includes_account`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub include: UserFilter,
    pub exclude: UserFilter,
    /// `accounts` of `[scope.include]` and `[scope.exclude]`.
    pub accounts: AccountFilter,
}

/// Which accounts are audited: those in `include` (every account when it is empty) and
/// not in `exclude`. Each entry is a 12-digit account id, checked when the file is loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountFilter {
    pub include: Vec<crate::ident::AccountId>,
    pub exclude: Vec<crate::ident::AccountId>,
}

impl AccountFilter {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserFilter {
    /// User name globs (case-insensitive, like IAM user names).
    pub users: Vec<Pattern>,
    /// IAM path prefixes, e.g. `/service-accounts/`.
    pub paths: Vec<String>,
    /// `key=value` tags; the value may be a glob.
    pub tags: Vec<TagFilter>,
}

impl UserFilter {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.paths.is_empty() && self.tags.is_empty()
    }

    fn user_matches(&self, name: &str) -> bool {
        self.users.iter().any(|p| p.is_match(name))
    }

    fn path_matches(&self, path: &str) -> bool {
        self.paths.iter().any(|p| path.starts_with(p.as_str()))
    }

    fn tag_matches(&self, user: &User) -> bool {
        self.tags.iter().any(|t| t.matches(user))
    }
}

impl Scope {
    pub fn includes(&self, user: &User) -> bool {
        let inc = &self.include;
        let included = (inc.users.is_empty() || inc.user_matches(&user.name))
            && (inc.paths.is_empty() || inc.path_matches(&user.path))
            && (inc.tags.is_empty() || inc.tag_matches(user));
        let ex = &self.exclude;
        included
            && !(ex.user_matches(&user.name) || ex.path_matches(&user.path) || ex.tag_matches(user))
    }
}

/// A compiled glob, compared by its text.
#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    matcher: glob::Matcher,
}

impl Pattern {
    /// Compiles a case-insensitive glob (`*`, `?`, `[abc]`, `{a,b}`).
    pub fn new(text: &str) -> Result<Pattern, globset::Error> {
        let matcher = match glob::Matcher::plain(text) {
            Some(matcher) => matcher,
            None => {
                let glob = GlobBuilder::new(text)
                    .case_insensitive(true)
                    .literal_separator(false)
                    .build()?;
                glob::Matcher::new(&glob)
            }
        };
        Ok(Pattern {
            text: text.to_string(),
            matcher,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_match(&self, candidate: &str) -> bool {
        self.matcher.is_match(candidate)
    }

    /// For a glob without wildcards: the one name it matches, in ASCII lower case. A name
    /// matches exactly when its ASCII lower case equals this.
    pub(crate) fn literal(&self) -> Option<&[u8]> {
        self.matcher.literal()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// A `key=value` tag condition.
#[derive(Clone, Debug, PartialEq)]
pub struct TagFilter {
    pub key: String,
    pub value: Pattern,
}

impl TagFilter {
    pub fn matches(&self, user: &User) -> bool {
        user.tag(&self.key).is_some_and(|v| self.value.is_match(v))
    }
}

/// One `[[suppress]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Suppression {
    /// A rule id, or `*` for every rule.
    pub rule: String,
    pub user: Pattern,
    /// When set, only the finding about this key (its id, or "access key N" for keys
    /// from a credential report) is suppressed.
    pub access_key_id: Option<String>,
    /// When set, only findings in this account (12 digits) are suppressed; otherwise the
    /// entry applies in every account.
    pub account: Option<crate::ident::AccountId>,
    /// When set, only the finding with this id ([`crate::findings::id`]) is suppressed.
    pub finding_id: Option<String>,
    pub reason: String,
    /// Valid through the whole of this day (UTC); from the next day on it suppresses nothing.
    pub expires: Option<NaiveDate>,
    /// `file:line` of the entry.
    pub location: String,
}

/// Every problem found in a policy file, each rendered as one `file:line:column: …` line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct PolicyError {
    pub problems: Vec<String>,
}

/// Reads and validates a policy file, reporting every problem at once. Only a regular file
/// of at most [`crate::fsio::MAX_POLICY_FILE_BYTES`] is read.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let file = path.display().to_string();
    let text =
        crate::fsio::read_limited_text(path, "policy file", crate::fsio::MAX_POLICY_FILE_BYTES)
            .map_err(|e| PolicyError {
                problems: vec![e.to_string()],
            })?;
    parse::parse(&text, &file)
}

/// Validates policy text; `file` names it in problems and suppression locations.
pub fn parse_str(text: &str, file: &str) -> Result<Policy, PolicyError> {
    parse::parse(text, file)
}

/// The commented policy file written by `keyhygiene init-config`.
pub fn init_config_text() -> String {
    template::init_config_text()
}

#[cfg(test)]
mod tests;
