//! `key-unused`: an active key not used for more than `max-unused-days`.
//!
//! A key that was never used counts from its creation date. Some scanners let never-used
//! keys pass this check; keyhygiene does not, since an idle credential is a risk whether or
//! not it was ever used.

use crate::findings::{Finding, Severity};
use crate::inventory::{KeyStatus, LastUse};

use super::{
    Context, FindingBuilder, Rule, RuleConfig, RuleInfo, Threshold, days, key_phrase, remediation,
};

pub struct KeyUnused;

/// The rule's one threshold.
const MAX_UNUSED_DAYS: Threshold = Threshold {
    name: "max-unused-days",
    default: 45,
    meaning: "an active key idle for more than this many whole days should be removed",
};

static INFO: RuleInfo = RuleInfo {
    id: "key-unused",
    default_severity: Severity::Medium,
    summary: "Active access key whose last use, or its creation if it was never used, is more than max-unused-days ago. Never-used keys count; keys whose last use could not be read are not judged.",
    thresholds: &[MAX_UNUSED_DAYS],
    compliance: &["CIS 1.12", "AWS Security Hub IAM.22"],
};

impl Rule for KeyUnused {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        let max = config.value(&MAX_UNUSED_DAYS);
        let mut out = Vec::new();
        for user in &ctx.inventory.users {
            for key in user.keys.iter().filter(|k| k.status == KeyStatus::Active) {
                let (since, what) = match &key.last_used {
                    LastUse::Used { date, .. } => (*date, "was last used"),
                    LastUse::Never => (key.created, "has never been used since it was created"),
                    // The data could not be collected: a coverage gap reports it.
                    LastUse::Unknown => continue,
                };
                let idle = ctx.days_since(since);
                if idle <= max {
                    continue;
                }
                let message = format!(
                    "Active {} of user {} {what} {} ago ({}), more than the {max}-day limit for unused keys. Nothing needs it: deactivate it, then delete it.",
                    key_phrase(key),
                    user.name,
                    days(idle),
                    since.format("%Y-%m-%d"),
                );
                out.push(
                    FindingBuilder::for_key(ctx, &INFO, config, user, key)
                        .build(message, remediation::deactivate_then_delete(user, key)),
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
    fn boundary_on_last_use() {
        let inv = inventory(vec![user(
            "bob",
            vec![
                active("AKIA45", days_ago(300), used(days_ago(45))),
                active("AKIA46", days_ago(300), used(days_ago(46))),
            ],
        )]);
        let f = run(&KeyUnused, &inv);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA46"));
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].days_since_last_use, Some(46));
        assert_eq!(f[0].key_age_days, Some(300));
        assert_eq!(f[0].compliance, vec!["CIS 1.12", "AWS Security Hub IAM.22"]);
        assert_eq!(
            f[0].message,
            "Active access key AKIA46 of user bob was last used 46 days ago (2025-12-16), more \
             than the 45-day limit for unused keys. Nothing needs it: deactivate it, then delete it."
        );
        assert_eq!(
            f[0].remediation,
            vec![
                "aws iam update-access-key --user-name bob --access-key-id AKIA46 --status Inactive",
                "# If nothing breaks while the key is inactive, delete it (reactivate it instead if something does).",
                "aws iam delete-access-key --user-name bob --access-key-id AKIA46",
            ]
        );
    }

    #[test]
    fn never_used_counts_from_creation() {
        let inv = inventory(vec![user(
            "bob",
            vec![
                active("AKIANEW45", days_ago(45), LastUse::Never),
                active("AKIANEW46", days_ago(46), LastUse::Never),
            ],
        )]);
        let f = run(&KeyUnused, &inv);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIANEW46"));
        assert_eq!(f[0].days_since_last_use, None);
        assert!(
            f[0].message
                .contains("has never been used since it was created 46 days ago")
        );
    }

    #[test]
    fn unknown_last_use_never_fires() {
        let inv = inventory(vec![user(
            "bob",
            vec![active("AKIAUNKNOWN", days_ago(900), LastUse::Unknown)],
        )]);
        assert!(run(&KeyUnused, &inv).is_empty());
    }

    #[test]
    fn inactive_keys_are_not_judged() {
        let inv = inventory(vec![user(
            "bob",
            vec![key("K", KeyStatus::Inactive, days_ago(900), LastUse::Never)],
        )]);
        assert!(run(&KeyUnused, &inv).is_empty());
    }

    #[test]
    fn description_tag_is_carried() {
        let mut k = active("AKIADESC", days_ago(100), used(days_ago(60)));
        k.description = Some("nightly backup job".to_string());
        let f = run(&KeyUnused, &inventory(vec![user("bob", vec![k])]));
        assert_eq!(f[0].description.as_deref(), Some("nightly backup job"));
        assert_eq!(f[0].last_used_service.as_deref(), Some("s3"));
        assert_eq!(f[0].last_used_date, Some(days_ago(60)));
    }
}
