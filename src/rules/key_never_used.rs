//! `key-never-used`: an active key that was never used and is older than `grace-days`.

use crate::findings::{Finding, Severity};
use crate::inventory::{KeyStatus, LastUse};

use super::{
    Context, FindingBuilder, Rule, RuleConfig, RuleInfo, Threshold, days, key_phrase, remediation,
};

pub struct KeyNeverUsed;

/// The rule's one threshold.
const GRACE_DAYS: Threshold = Threshold {
    name: "grace-days",
    default: 7,
    meaning: "a new key may stay unused for this many whole days before it is reported",
};

static INFO: RuleInfo = RuleInfo {
    id: "key-never-used",
    default_severity: Severity::Low,
    summary: "Active access key that was never used and is older than grace-days.",
    thresholds: &[GRACE_DAYS],
    compliance: &["CIS 1.11 (when the user has a console password)"],
};

impl Rule for KeyNeverUsed {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        let grace = config.value(&GRACE_DAYS);
        let mut out = Vec::new();
        for user in &ctx.inventory.users {
            let console = user.login.as_ref().is_some_and(|l| l.password_enabled);
            for key in &user.keys {
                if key.status != KeyStatus::Active || key.last_used != LastUse::Never {
                    continue;
                }
                let age = ctx.days_since(key.created);
                if age <= grace {
                    continue;
                }
                let mut message = format!(
                    "Active {} of user {} was created {} ago ({}) and has never been used, past the {grace}-day grace period.",
                    key_phrase(key),
                    user.name,
                    days(age),
                    key.created.format("%Y-%m-%d"),
                );
                let compliance = if console {
                    message.push_str(
                        " The user also signs in to the console with a password, and does not need a key for that.",
                    );
                    vec!["CIS 1.11".to_string()]
                } else {
                    Vec::new()
                };
                message.push_str(" Deactivate it, then delete it.");
                out.push(
                    FindingBuilder::for_key(ctx, &INFO, config, user, key)
                        .compliance(compliance)
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
    use crate::inventory::LoginInfo;
    use crate::rules::test_support::*;

    #[test]
    fn boundary_on_creation() {
        let inv = inventory(vec![user(
            "carol",
            vec![
                active("AKIA7", days_ago(7), LastUse::Never),
                active("AKIA8", days_ago(8), LastUse::Never),
            ],
        )]);
        let f = run(&KeyNeverUsed, &inv);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA8"));
        assert_eq!(f[0].severity, Severity::Low);
        assert_eq!(f[0].key_age_days, Some(8));
        assert!(f[0].compliance.is_empty());
        assert_eq!(
            f[0].message,
            "Active access key AKIA8 of user carol was created 8 days ago (2026-01-23) and has \
             never been used, past the 7-day grace period. Deactivate it, then delete it."
        );
    }

    #[test]
    fn console_users_map_to_cis_1_11() {
        let mut u = user("dave", vec![active("AKIA", days_ago(30), LastUse::Never)]);
        u.login = Some(LoginInfo {
            password_enabled: true,
            password_last_used: None,
            mfa_active: true,
        });
        let f = run(&KeyNeverUsed, &inventory(vec![u]));
        assert_eq!(f[0].compliance, vec!["CIS 1.11"]);
        assert!(f[0].message.contains("console"));
    }

    #[test]
    fn used_unknown_and_inactive_keys_do_not_fire() {
        let inv = inventory(vec![user(
            "erin",
            vec![
                active("USED", days_ago(30), used(days_ago(29))),
                active("UNKNOWN", days_ago(30), LastUse::Unknown),
                key(
                    "INACTIVE",
                    KeyStatus::Inactive,
                    days_ago(30),
                    LastUse::Never,
                ),
            ],
        )]);
        assert!(run(&KeyNeverUsed, &inv).is_empty());
    }
}
