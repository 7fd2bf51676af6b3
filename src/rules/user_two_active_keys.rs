//! `user-two-active-keys`: a user with two active keys.
//!
//! Two active keys are normal for a short while during a rotation (create the new key, move
//! applications, retire the old one). When the newer key is at most `rotation-grace-days`
//! old the finding says a rotation appears under way and is only low.

use crate::findings::{Finding, Severity};
use crate::inventory::{AccessKey, KeyStatus, LastUse};

use super::remediation::shell_quote;
use super::{Context, FindingBuilder, Rule, RuleConfig, RuleInfo, Threshold, days};

pub struct UserTwoActiveKeys;

/// The rule's one threshold.
const ROTATION_GRACE_DAYS: Threshold = Threshold {
    name: "rotation-grace-days",
    default: 7,
    meaning: "while the newer key is at most this many whole days old, the finding is low (rotation under way)",
};

static INFO: RuleInfo = RuleInfo {
    id: "user-two-active-keys",
    default_severity: Severity::Medium,
    summary: "User with two active access keys. When the newer key is at most rotation-grace-days old, a rotation appears under way and the finding is low.",
    thresholds: &[ROTATION_GRACE_DAYS],
    compliance: &["CIS 1.13"],
};

impl Rule for UserTwoActiveKeys {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        let grace = config.value(&ROTATION_GRACE_DAYS);
        let mut out = Vec::new();
        for user in &ctx.inventory.users {
            let mut keys: Vec<&AccessKey> = user
                .keys
                .iter()
                .filter(|k| k.status == KeyStatus::Active)
                .collect();
            if keys.len() < 2 {
                continue;
            }
            keys.sort_by_key(|k| (k.created, k.label()));
            let older = keys[0];
            let newer = keys[keys.len() - 1];
            let newer_age = ctx.days_since(newer.created);
            let described: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{} (created {}, {}{})",
                        k.label(),
                        k.created.format("%Y-%m-%d"),
                        usage(ctx, &k.last_used),
                        ctx.last_use_label(k)
                    )
                })
                .collect();
            let rotating = newer_age <= grace;
            let message = if rotating {
                format!(
                    "User {} has {} active access keys: {}. The newer key is {} old, within the {grace}-day rotation grace period, so a rotation appears under way: finish it by retiring {}.",
                    user.name,
                    keys.len(),
                    described.join("; "),
                    days(newer_age),
                    older.label(),
                )
            } else {
                format!(
                    "User {} has {} active access keys: {}. A user should have one active key; two make rotation and incident response harder. Keep the one in use and retire the other.",
                    user.name,
                    keys.len(),
                    described.join("; "),
                )
            };
            let mut builder = FindingBuilder::for_user(ctx, &INFO, config, user);
            if rotating {
                builder = builder.severity(Severity::Low);
            }
            out.push(builder.build(message, steps(&user.name, older, newer, rotating)));
        }
        out
    }
}

fn usage(ctx: &Context<'_>, last_used: &LastUse) -> String {
    match last_used {
        LastUse::Used { date, .. } => format!(
            "last used {}, {} ago",
            date.format("%Y-%m-%d"),
            days(ctx.days_since(*date))
        ),
        LastUse::Never => "never used".to_string(),
        LastUse::Unknown => "last use unknown".to_string(),
    }
}

fn key_arg(key: &AccessKey) -> String {
    match &key.id {
        Some(id) => shell_quote(id),
        None => format!(
            "\"$ID_OF_{}\"",
            key.label().replace(' ', "_").to_uppercase()
        ),
    }
}

fn steps(user: &str, older: &AccessKey, newer: &AccessKey, rotating: bool) -> Vec<String> {
    let u = shell_quote(user);
    let (o, n) = (key_arg(older), key_arg(newer));
    let mut steps = Vec::new();
    if older.id.is_none() || newer.id.is_none() {
        steps.push(
            "# The credential report has no key ids: list them and set ID_OF_ACCESS_KEY_1 / ID_OF_ACCESS_KEY_2 by creation date."
                .to_string(),
        );
        steps.push(format!("aws iam list-access-keys --user-name {u}"));
    }
    if rotating {
        steps.push(format!(
            "# Finish moving every application from {} to {}.",
            older.label(),
            newer.label()
        ));
        steps.push(format!(
            "aws iam get-access-key-last-used --access-key-id {o}"
        ));
        steps
            .push("# Once LastUsedDate of the old key stops advancing, deactivate it.".to_string());
    } else {
        steps.push("# Find out which key is still in use.".to_string());
        steps.push(format!(
            "aws iam get-access-key-last-used --access-key-id {o}"
        ));
        steps.push(format!(
            "aws iam get-access-key-last-used --access-key-id {n}"
        ));
        steps.push(format!(
            "# Move everything to one key, then deactivate the other (shown here for the older key, {}).",
            older.label()
        ));
    }
    steps.push(format!(
        "aws iam update-access-key --user-name {u} --access-key-id {o} --status Inactive"
    ));
    steps.push(
        "# If nothing breaks while the key is inactive, delete it (reactivate it instead if something does)."
            .to_string(),
    );
    steps.push(format!(
        "aws iam delete-access-key --user-name {u} --access-key-id {o}"
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn two_keys(newer_days: i64) -> crate::inventory::Inventory {
        inventory(vec![user(
            "gina",
            vec![
                active("AKIAOLD", days_ago(200), used(days_ago(1))),
                active("AKIANEW", days_ago(newer_days), LastUse::Never),
            ],
        )])
    }

    #[test]
    fn rotation_grace_boundary() {
        let f = run(&UserTwoActiveKeys, &two_keys(7));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Low);
        assert!(f[0].message.contains("a rotation appears under way"));
        assert!(f[0].message.contains("The newer key is 7 days old"));
        assert_eq!(
            f[0].remediation[0],
            "# Finish moving every application from AKIAOLD to AKIANEW."
        );

        let f = run(&UserTwoActiveKeys, &two_keys(8));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(!f[0].message.contains("rotation appears"));
        assert_eq!(
            f[0].message,
            "User gina has 2 active access keys: AKIAOLD (created 2025-07-15, last used \
             2026-01-30, 1 day ago); AKIANEW (created 2026-01-23, never used). A user should \
             have one active key; two make rotation and incident response harder. Keep the \
             one in use and retire the other."
        );
    }

    #[test]
    fn user_level_fields() {
        let f = run(&UserTwoActiveKeys, &two_keys(30));
        let f = &f[0];
        assert_eq!(f.rule_id, "user-two-active-keys");
        assert_eq!(f.user_name, "gina");
        assert_eq!(f.access_key_id, None);
        assert_eq!(f.key_status, None);
        assert_eq!(f.compliance, vec!["CIS 1.13"]);
        assert!(f.remediation.contains(
            &"aws iam delete-access-key --user-name gina --access-key-id AKIAOLD".to_string()
        ));
    }

    #[test]
    fn one_active_key_or_one_inactive_is_fine() {
        let inv = inventory(vec![user(
            "hank",
            vec![
                active("AKIA1", days_ago(200), used(days_ago(1))),
                key("AKIA2", KeyStatus::Inactive, days_ago(100), LastUse::Never),
            ],
        )]);
        assert!(run(&UserTwoActiveKeys, &inv).is_empty());
    }

    #[test]
    fn severity_override_applies_outside_the_grace_period() {
        let mut cfg = config("user-two-active-keys");
        cfg.severity = Severity::High;
        assert_eq!(
            run_with(&UserTwoActiveKeys, &two_keys(30), &cfg)[0].severity,
            Severity::High
        );
        assert_eq!(
            run_with(&UserTwoActiveKeys, &two_keys(3), &cfg)[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn credential_report_keys_are_named_by_slot() {
        let mut k1 = active("x", days_ago(300), used(days_ago(2)));
        let mut k2 = active("y", days_ago(100), LastUse::Never);
        (k1.id, k1.slot, k2.id, k2.slot) = (None, Some(1), None, Some(2));
        let inv = inventory(vec![user("ivy", vec![k1, k2])]);
        let f = run(&UserTwoActiveKeys, &inv);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("access key 1 (created 2025-04-06"));
        assert!(
            f[0].message
                .contains("access key 2 (created 2025-10-23, never used)")
        );
        assert_eq!(
            f[0].remediation[1],
            "aws iam list-access-keys --user-name ivy"
        );
        assert!(f[0].remediation.contains(
            &"aws iam update-access-key --user-name ivy --access-key-id \"$ID_OF_ACCESS_KEY_1\" --status Inactive"
                .to_string()
        ));
    }
}
