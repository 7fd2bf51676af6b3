//! The rule registry and the evaluation of a whole inventory.
//!
//! Each rule lives in its own file, named after its id (`key-not-rotated` is
//! `key_not_rotated.rs`, struct `KeyNotRotated`), and is listed once in [`RULES`]. A rule is
//! a pure function of the inventory, its settings and the as-of instant: it reads no clock,
//! does no I/O and never looks at suppressions or scope. [`evaluate`] runs the enabled
//! rules with their settings ([`RuleConfig`]); the policy (scope, suppressions) is applied
//! afterwards, by the caller, in one place.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::findings::{Finding, Severity};
use crate::inventory::Inventory;

mod builder;
pub mod remediation;

mod key_inactive_not_deleted;
mod key_never_used;
mod key_not_rotated;
mod key_unused;
mod root_access_key_present;
mod user_two_active_keys;

#[cfg(test)]
pub(crate) mod test_support;

pub use builder::FindingBuilder;
pub use key_inactive_not_deleted::KeyInactiveNotDeleted;
pub use key_never_used::KeyNeverUsed;
pub use key_not_rotated::KeyNotRotated;
pub use key_unused::KeyUnused;
pub use root_access_key_present::RootAccessKeyPresent;
pub use user_two_active_keys::UserTwoActiveKeys;

/// A number a rule compares against, set per rule in the policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// The key in the policy file, e.g. `max-age-days`.
    pub name: &'static str,
    /// The value used when the policy file does not set it.
    pub default: i64,
    /// What the number means, for `keyhygiene rules` and `init-config`.
    pub meaning: &'static str,
}

/// Everything about a rule that does not depend on the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Stable kebab-case id, used in findings, suppressions and the policy file.
    pub id: &'static str,
    pub default_severity: Severity,
    /// What the rule finds, in one line.
    pub summary: &'static str,
    pub thresholds: &'static [Threshold],
    /// The compliance controls the rule maps to, as printed by `keyhygiene rules`.
    pub compliance: &'static [&'static str],
}

/// One rule's effective settings: its defaults, changed by the policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleConfig {
    pub enabled: bool,
    /// The severity of the rule's findings (a rule may lower it for a reason it explains).
    pub severity: Severity,
    /// Threshold values that differ from, or restate, the rule's defaults, by the
    /// threshold's name in the policy file.
    pub thresholds: BTreeMap<String, i64>,
}

impl RuleConfig {
    /// The rule's own defaults: enabled, its default severity and thresholds.
    pub fn defaults(info: &RuleInfo) -> RuleConfig {
        RuleConfig {
            enabled: true,
            severity: info.default_severity,
            thresholds: info
                .thresholds
                .iter()
                .map(|t| (t.name.to_string(), t.default))
                .collect(),
        }
    }

    /// The value of one of the rule's own thresholds (its default unless set).
    pub fn value(&self, threshold: &Threshold) -> i64 {
        self.thresholds
            .get(threshold.name)
            .copied()
            .unwrap_or(threshold.default)
    }
}

/// The settings of every rule, by rule id; a rule not listed runs with its defaults.
pub type RuleSettings = BTreeMap<String, RuleConfig>;

/// The defaults of every registered rule.
pub fn default_settings() -> RuleSettings {
    RULES
        .iter()
        .map(|r| (r.info().id.to_string(), RuleConfig::defaults(r.info())))
        .collect()
}

/// One check over the inventory.
pub trait Rule: Sync {
    fn info(&self) -> &'static RuleInfo;
    /// The findings for this inventory. `config` holds the effective settings (defaults
    /// merged with the policy file); it is only called when the rule is enabled.
    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding>;
}

/// Every rule, in the order `keyhygiene rules` lists them. Adding a rule: write its file,
/// add it here, add its section to docs/rules.md.
pub static RULES: &[&dyn Rule] = &[
    &RootAccessKeyPresent,
    &KeyNotRotated,
    &KeyUnused,
    &KeyNeverUsed,
    &KeyInactiveNotDeleted,
    &UserTwoActiveKeys,
];

/// The rule with this id, if there is one.
pub fn find(id: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.info().id == id)
}

/// What a rule sees: the inventory and the instant the audit is evaluated at.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub as_of: DateTime<Utc>,
}

impl Context<'_> {
    /// Whole days from `t` to the as-of instant: floor((as_of − t) / 24 h).
    pub fn days_since(&self, t: DateTime<Utc>) -> i64 {
        whole_days(self.as_of - t)
    }

    /// How a message labels a key's last use: " per the credential report of 2026-11-26
    /// 09:00 UTC" when a live crawl took it from the report (the key may have been used
    /// since), and nothing otherwise (an inventory read from a credential report says so
    /// once, in its header).
    pub fn last_use_label(&self, key: &crate::inventory::AccessKey) -> String {
        let live = matches!(
            self.inventory.source,
            crate::inventory::SourceInfo::Live { .. }
        );
        if !live
            || key.last_used_source != crate::inventory::LastUseSource::CredentialReport
            || key.last_used == crate::inventory::LastUse::Unknown
        {
            return String::new();
        }
        match self
            .inventory
            .credential_report
            .as_ref()
            .and_then(|r| r.generated_at)
        {
            Some(at) => format!(
                " per the credential report of {}",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => " per the credential report".to_string(),
        }
    }
}

/// floor(d / 24 h), also for negative durations (a date after the as-of instant). The one
/// day count of rules and reports alike, so findings.csv and keys.csv always agree.
pub fn whole_days(d: TimeDelta) -> i64 {
    let mut seconds = d.num_seconds();
    if d < TimeDelta::seconds(seconds) {
        seconds -= 1;
    }
    seconds.div_euclid(86_400)
}

/// How messages name a key: "access key AKIA…", or "access key 1" when only the slot is known.
pub(crate) fn key_phrase(key: &crate::inventory::AccessKey) -> String {
    match &key.id {
        Some(id) => format!("access key {id}"),
        None => key.label(),
    }
}

/// "1 day", "2 days": for messages and reports.
pub fn days(n: i64) -> String {
    if n == 1 || n == -1 {
        format!("{n} day")
    } else {
        format!("{n} days")
    }
}

/// Runs every enabled rule with its settings, in registry order.
pub fn evaluate(
    inventory: &Inventory,
    settings: &RuleSettings,
    as_of: DateTime<Utc>,
) -> Vec<Finding> {
    let ctx = Context { inventory, as_of };
    let mut findings = Vec::new();
    for rule in RULES {
        let info = rule.info();
        let defaults;
        let config = match settings.get(info.id) {
            Some(config) => config,
            None => {
                defaults = RuleConfig::defaults(info);
                &defaults
            }
        };
        if config.enabled {
            findings.extend(rule.evaluate(&ctx, config));
        }
    }
    findings
}

/// The text `keyhygiene rules` prints.
pub fn describe_rules() -> String {
    let mut out = String::new();
    for rule in RULES {
        let info = rule.info();
        out.push_str(&format!("{} ({})\n", info.id, info.default_severity));
        out.push_str(&format!("  {}\n", info.summary));
        if info.thresholds.is_empty() {
            out.push_str("  thresholds: none\n");
        } else {
            for t in info.thresholds {
                out.push_str(&format!(
                    "  {} = {} (default): {}\n",
                    t.name, t.default, t.meaning
                ));
            }
        }
        if info.compliance.is_empty() {
            out.push_str("  maps to: -\n");
        } else {
            out.push_str(&format!("  maps to: {}\n", info.compliance.join(", ")));
        }
        out.push('\n');
    }
    out.push_str(
        "Days are whole days: floor((as-of - date) / 24 h), and every threshold is strict \
         (\"more than N days\").\nChange a rule's severity, thresholds or turn it off under \
         [rules.<id>] in the policy file; `keyhygiene init-config` writes one with every default.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in RULES {
            let id = rule.info().id;
            assert!(seen.insert(id), "duplicate rule id {id}");
            assert!(
                !id.is_empty()
                    && !id.starts_with('-')
                    && !id.ends_with('-')
                    && !id.contains("--")
                    && id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "rule id {id} is not kebab-case"
            );
        }
    }

    #[test]
    fn thresholds_are_kebab_case_and_non_negative() {
        for rule in RULES {
            for t in rule.info().thresholds {
                assert!(t.default >= 0, "{}", t.name);
                assert!(
                    t.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                    "{}",
                    t.name
                );
            }
        }
    }

    #[test]
    fn whole_days_floors() {
        assert_eq!(whole_days(TimeDelta::hours(24)), 1);
        assert_eq!(whole_days(TimeDelta::hours(47)), 1);
        assert_eq!(
            whole_days(TimeDelta::hours(48) - TimeDelta::nanoseconds(1)),
            1
        );
        assert_eq!(whole_days(TimeDelta::zero()), 0);
        assert_eq!(whole_days(TimeDelta::seconds(-1)), -1);
        assert_eq!(whole_days(TimeDelta::nanoseconds(-1)), -1);
        assert_eq!(whole_days(TimeDelta::hours(-24)), -1);
    }

    #[test]
    fn describe_lists_every_rule_with_defaults() {
        let text = describe_rules();
        for rule in RULES {
            let info = rule.info();
            assert!(text.contains(&format!("{} ({})", info.id, info.default_severity)));
            for t in info.thresholds {
                assert!(text.contains(&format!("{} = {} (default)", t.name, t.default)));
            }
        }
        assert!(text.contains("maps to: CIS 1.14, AWS Security Hub IAM.3"));
    }

    #[test]
    fn docs_cover_every_rule_and_default() {
        let docs = include_str!("../../docs/rules.md");
        for rule in RULES {
            let info = rule.info();
            assert!(
                docs.contains(&format!("### `{}` ({})", info.id, info.default_severity)),
                "docs/rules.md has no section for {}",
                info.id
            );
            for t in info.thresholds {
                assert!(
                    docs.contains(&format!("`{}` ({})", t.name, t.default)),
                    "docs/rules.md does not give the default of {}",
                    t.name
                );
            }
            for c in info.compliance {
                assert!(docs.contains(c.split(" (").next().unwrap()), "{c}");
            }
        }
    }

    /// README's rule table is checked against the registry, so it cannot drift: one row per
    /// rule, in registry order, with its default severity and every threshold's default.
    #[test]
    fn readme_rule_table_matches_the_registry() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("\n## Rules\n").expect("a Rules section")..];
        let rows: Vec<Vec<&str>> = section
            .lines()
            .skip_while(|l| !l.starts_with("| id "))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r[0].trim_matches('`').to_string())
            .collect();
        let registry: Vec<&str> = RULES.iter().map(|r| r.info().id).collect();
        assert_eq!(
            ids, registry,
            "README's rule table lists exactly the registered rules"
        );
        for (row, rule) in rows.iter().zip(RULES) {
            let info = rule.info();
            assert!(
                row[1].starts_with(info.default_severity.as_str()),
                "README gives {} the severity {:?}",
                info.id,
                row[1]
            );
            let defaults: Vec<String> = info
                .thresholds
                .iter()
                .map(|t| t.default.to_string())
                .collect();
            let shown = if defaults.is_empty() {
                "—".to_string()
            } else {
                defaults.join(", ")
            };
            assert_eq!(row[3], shown, "README's default threshold of {}", info.id);
        }
    }

    #[test]
    fn find_by_id() {
        assert!(find("key-unused").is_some());
        assert!(find("nope").is_none());
    }
}
