//! `key-inactive-not-deleted`: an inactive key that is still there.

use crate::findings::{Finding, Severity};
use crate::inventory::{KeyStatus, LastUse};

use super::{
    Context, FindingBuilder, Rule, RuleConfig, RuleInfo, Threshold, days, key_phrase, remediation,
};

pub struct KeyInactiveNotDeleted;

/// The rule's one threshold.
const MIN_DAYS_INACTIVE: Threshold = Threshold {
    name: "min-days-inactive",
    default: 0,
    meaning: "an inactive key is reported once its last activity is more than this many whole days ago",
};

static INFO: RuleInfo = RuleInfo {
    id: "key-inactive-not-deleted",
    default_severity: Severity::Low,
    summary: "Inactive access key still present, once its last activity (last use, else creation) is more than min-days-inactive ago. Keys whose last use could not be read are not judged.",
    thresholds: &[MIN_DAYS_INACTIVE],
    compliance: &[],
};

impl Rule for KeyInactiveNotDeleted {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        let min = config.value(&MIN_DAYS_INACTIVE);
        let mut out = Vec::new();
        for user in &ctx.inventory.users {
            for key in user.keys.iter().filter(|k| k.status == KeyStatus::Inactive) {
                let (since, what) = match &key.last_used {
                    LastUse::Used { date, .. } => (*date, "last used"),
                    LastUse::Never => (key.created, "created, and never used,"),
                    LastUse::Unknown => continue,
                };
                let idle = ctx.days_since(since);
                if idle <= min {
                    continue;
                }
                let message = format!(
                    "Access key {} of user {} is inactive but not deleted; it was {what} {} ago ({}). Anyone allowed iam:UpdateAccessKey can turn it back on: delete it.",
                    key_phrase(key).trim_start_matches("access key "),
                    user.name,
                    days(idle),
                    since.format("%Y-%m-%d"),
                );
                out.push(
                    FindingBuilder::for_key(ctx, &INFO, config, user, key)
                        .build(message, remediation::delete_inactive(user, key)),
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
    fn default_threshold_zero_is_strict() {
        let inv = inventory(vec![user(
            "frank",
            vec![
                key(
                    "AKIA0",
                    KeyStatus::Inactive,
                    days_ago(100),
                    used(days_ago(0)),
                ),
                key(
                    "AKIA1",
                    KeyStatus::Inactive,
                    days_ago(100),
                    used(days_ago(1)),
                ),
                key("AKIANEW", KeyStatus::Inactive, days_ago(1), LastUse::Never),
                active("AKIAACTIVE", days_ago(100), used(days_ago(50))),
            ],
        )]);
        let f = run(&KeyInactiveNotDeleted, &inv);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA1"));
        assert_eq!(f[0].severity, Severity::Low);
        assert_eq!(f[0].key_status, Some(KeyStatus::Inactive));
        assert!(f[0].compliance.is_empty());
        assert_eq!(
            f[0].message,
            "Access key AKIA1 of user frank is inactive but not deleted; it was last used 1 day \
             ago (2026-01-30). Anyone allowed iam:UpdateAccessKey can turn it back on: delete it."
        );
        assert_eq!(
            f[0].remediation,
            vec![
                "aws iam get-access-key-last-used --access-key-id AKIA1",
                "# The key is already inactive; if LastUsedDate is from before it was deactivated, delete it.",
                "aws iam delete-access-key --user-name frank --access-key-id AKIA1",
            ]
        );
        assert_eq!(f[1].access_key_id.as_deref(), Some("AKIANEW"));
        assert!(f[1].message.contains("created, and never used, 1 day ago"));
    }

    #[test]
    fn configured_threshold_boundary() {
        let inv = inventory(vec![user(
            "frank",
            vec![
                key(
                    "AKIA30",
                    KeyStatus::Inactive,
                    days_ago(100),
                    used(days_ago(30)),
                ),
                key("AKIA31", KeyStatus::Inactive, days_ago(31), LastUse::Never),
                key(
                    "AKIAU",
                    KeyStatus::Inactive,
                    days_ago(900),
                    LastUse::Unknown,
                ),
            ],
        )]);
        let mut cfg = config("key-inactive-not-deleted");
        cfg.thresholds.insert("min-days-inactive".to_string(), 30);
        let f = run_with(&KeyInactiveNotDeleted, &inv, &cfg);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA31"));
    }
}
