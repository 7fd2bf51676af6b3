//! `key-not-rotated`: an active key older than `max-age-days`.

use crate::findings::{Finding, Severity};
use crate::inventory::{KeyStatus, LastUse};

use super::{
    Context, FindingBuilder, Rule, RuleConfig, RuleInfo, Threshold, days, key_phrase, remediation,
};

pub struct KeyNotRotated;

/// The rule's one threshold.
const MAX_AGE_DAYS: Threshold = Threshold {
    name: "max-age-days",
    default: 90,
    meaning: "an active key older than this many whole days must be rotated",
};

static INFO: RuleInfo = RuleInfo {
    id: "key-not-rotated",
    default_severity: Severity::Medium,
    summary: "Active access key whose age in whole days is more than max-age-days.",
    thresholds: &[MAX_AGE_DAYS],
    compliance: &["CIS 1.14", "AWS Security Hub IAM.3"],
};

impl Rule for KeyNotRotated {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        let max = config.value(&MAX_AGE_DAYS);
        let mut out = Vec::new();
        for user in &ctx.inventory.users {
            for key in user.keys.iter().filter(|k| k.status == KeyStatus::Active) {
                let age = ctx.days_since(key.created);
                if age <= max {
                    continue;
                }
                let label = ctx.last_use_label(key);
                let usage = match &key.last_used {
                    LastUse::Used { date, .. } => format!(
                        "It was last used {} ({} ago){label}, so replace it before deactivating it.",
                        date.format("%Y-%m-%d"),
                        days(ctx.days_since(*date))
                    ),
                    LastUse::Never if !label.is_empty() => format!(
                        "It shows no use{label}, so nothing may depend on it: check its last use, then delete it rather than rotate it."
                    ),
                    LastUse::Never => {
                        "It has never been used, so nothing depends on it: delete it rather than rotate it."
                            .to_string()
                    }
                    LastUse::Unknown => {
                        "Its last use could not be read, so treat it as in use.".to_string()
                    }
                };
                let message = format!(
                    "Active {} of user {} was created {} ago ({}), more than the {max}-day rotation limit. {usage}",
                    key_phrase(key),
                    user.name,
                    days(age),
                    key.created.format("%Y-%m-%d"),
                );
                // A key that was never used has no application to move: no replacement needed.
                let fix = match key.last_used {
                    LastUse::Never => remediation::deactivate_then_delete(user, key),
                    _ => remediation::rotate(user, key),
                };
                out.push(
                    FindingBuilder::for_key(ctx, &INFO, config, user, key).build(message, fix),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn boundary_is_strict() {
        let inv = inventory(vec![user(
            "alice",
            vec![
                active("AKIAEXACTLY90", days_ago(90), used(days_ago(1))),
                active("AKIAPLUS91", days_ago(91), used(days_ago(1))),
            ],
        )]);
        let f = run(&KeyNotRotated, &inv);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.rule_id, "key-not-rotated");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.account_id.as_deref(), Some(ACCOUNT));
        assert_eq!(f.user_name, "alice");
        assert_eq!(f.user_arn, "arn:aws:iam::123456789012:user/alice");
        assert_eq!(f.access_key_id.as_deref(), Some("AKIAPLUS91"));
        assert_eq!(f.key_status, Some(KeyStatus::Active));
        assert_eq!(f.key_created, Some(days_ago(91)));
        assert_eq!(f.key_age_days, Some(91));
        assert_eq!(f.days_since_last_use, Some(1));
        assert_eq!(f.last_used_region.as_deref(), Some("us-east-1"));
        assert_eq!(f.compliance, vec!["CIS 1.14", "AWS Security Hub IAM.3"]);
        assert_eq!(
            f.message,
            "Active access key AKIAPLUS91 of user alice was created 91 days ago (2025-11-01), \
             more than the 90-day rotation limit. It was last used 2026-01-30 (1 day ago), \
             so replace it before deactivating it."
        );
        assert_eq!(
            f.remediation,
            vec![
                "# The user already has two keys, the most IAM allows: delete the other key first if it is not needed.",
                "aws iam create-access-key --user-name alice",
                "# Move every application that uses AKIAPLUS91 to the new key.",
                "aws iam get-access-key-last-used --access-key-id AKIAPLUS91",
                "# Repeat the check above until LastUsedDate stops advancing, then deactivate the old key.",
                "aws iam update-access-key --user-name alice --access-key-id AKIAPLUS91 --status Inactive",
                "# If nothing breaks while the key is inactive, delete it (reactivate it instead if something does).",
                "aws iam delete-access-key --user-name alice --access-key-id AKIAPLUS91",
            ]
        );
    }

    #[test]
    fn a_never_used_old_key_is_deleted_not_rotated() {
        let inv = inventory(vec![user(
            "bob",
            vec![active("AKIANEVER", days_ago(200), LastUse::Never)],
        )]);
        let f = run(&KeyNotRotated, &inv);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.ends_with("delete it rather than rotate it."));
        assert!(
            !f[0]
                .remediation
                .iter()
                .any(|l| l.contains("create-access-key")),
            "no replacement key for a key nothing uses: {:?}",
            f[0].remediation
        );
        assert_eq!(
            f[0].remediation.last().map(String::as_str),
            Some("aws iam delete-access-key --user-name bob --access-key-id AKIANEVER")
        );
    }

    #[test]
    fn one_second_short_of_91_days_is_90() {
        let created = days_ago(91) + chrono::TimeDelta::seconds(1);
        let inv = inventory(vec![user("a", vec![active("K", created, LastUse::Never)])]);
        assert!(run(&KeyNotRotated, &inv).is_empty());
    }

    #[test]
    fn inactive_keys_are_not_judged() {
        let inv = inventory(vec![user(
            "a",
            vec![key("K", KeyStatus::Inactive, days_ago(500), LastUse::Never)],
        )]);
        assert!(run(&KeyNotRotated, &inv).is_empty());
    }

    #[test]
    fn configured_threshold_and_slot_keys() {
        let mut k = active("x", days_ago(11), LastUse::Unknown);
        k.id = None;
        k.slot = Some(2);
        let inv = inventory(vec![user("svc+ci@corp", vec![k])]);
        let mut cfg = config("key-not-rotated");
        cfg.thresholds.insert("max-age-days".to_string(), 10);
        let f = run_with(&KeyNotRotated, &inv, &cfg);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].access_key_id.as_deref(), Some("access key 2"));
        assert!(f[0].message.contains("treat it as in use"));
        assert!(
            f[0].message
                .starts_with("Active access key 2 of user svc+ci@corp was created 11 days ago")
        );
        assert!(
            f[0].remediation
                .contains(&"aws iam list-access-keys --user-name svc+ci@corp".to_string())
        );
        assert!(f[0].remediation.contains(
            &"aws iam delete-access-key --user-name svc+ci@corp --access-key-id \"$ACCESS_KEY_ID\""
                .to_string()
        ));
        cfg.thresholds.insert("max-age-days".to_string(), 11);
        assert!(run_with(&KeyNotRotated, &inv, &cfg).is_empty());
    }
}
