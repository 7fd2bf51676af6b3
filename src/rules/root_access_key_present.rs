//! `root-access-key-present`: the root user has an access key, active or inactive.

use crate::findings::{Finding, Severity};
use crate::inventory::{LastUse, RootKeys};

use super::{Context, FindingBuilder, Rule, RuleConfig, RuleInfo, days, remediation};

pub struct RootAccessKeyPresent;

static INFO: RuleInfo = RuleInfo {
    id: "root-access-key-present",
    default_severity: Severity::Critical,
    summary: "The root user has an access key, active or inactive (from the credential report's root row, else the account summary).",
    thresholds: &[],
    compliance: &["CIS 1.4", "AWS Security Hub IAM.4"],
};

impl Rule for RootAccessKeyPresent {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn evaluate(&self, ctx: &Context<'_>, config: &RuleConfig) -> Vec<Finding> {
        match &ctx.inventory.root {
            RootKeys::CredentialReport { arn, keys } => keys
                .iter()
                .map(|key| {
                    let state = if key.active { "active" } else { "inactive" };
                    let rotated = match key.last_rotated {
                        Some(t) => format!(", created or last rotated {}", t.format("%Y-%m-%d")),
                        None => String::new(),
                    };
                    let usage = match &key.last_used {
                        LastUse::Used { date, service, .. } => format!(
                            "last used {} ({} ago){}",
                            date.format("%Y-%m-%d"),
                            days(ctx.days_since(*date)),
                            service
                                .as_deref()
                                .map(|s| format!(" with {s}"))
                                .unwrap_or_default()
                        ),
                        LastUse::Never => "never used".to_string(),
                        LastUse::Unknown => "last use unknown".to_string(),
                    };
                    let message = format!(
                        "The root user has an {state} access key ({}{rotated}; {usage}). Root keys have unrestricted access to the whole account and cannot be limited by any policy: delete it.",
                        key_name(key.slot)
                    );
                    FindingBuilder::for_root(ctx, &INFO, config, arn.as_deref())
                        .root_key(ctx, key)
                        .build(message, remediation::root_console_steps())
                })
                .collect(),
            RootKeys::AccountSummary { keys_present: true } => {
                let message = "The root user has at least one access key (the account summary says so; \
                     without a credential report it is not known whether the key is active or when it was used). \
                     Root keys have unrestricted access to the whole account: delete them."
                    .to_string();
                vec![
                    FindingBuilder::for_root(ctx, &INFO, config, None)
                        .build(message, remediation::root_console_steps()),
                ]
            }
            RootKeys::AccountSummary {
                keys_present: false,
            }
            | RootKeys::Unknown => Vec::new(),
        }
    }
}

fn key_name(slot: u8) -> String {
    format!("access key {slot}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{KeyStatus, RootKey};
    use crate::rules::test_support::*;

    fn root_row(keys: Vec<RootKey>) -> RootKeys {
        RootKeys::CredentialReport {
            arn: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
            keys,
        }
    }

    #[test]
    fn report_row_one_finding_per_key_active_or_inactive() {
        let mut inv = inventory(vec![]);
        inv.root = root_row(vec![
            RootKey {
                slot: 1,
                active: true,
                last_rotated: Some(days_ago(400)),
                last_used: used(days_ago(3)),
            },
            RootKey {
                slot: 2,
                active: false,
                last_rotated: Some(days_ago(10)),
                last_used: LastUse::Never,
            },
        ]);
        let f = run(&RootAccessKeyPresent, &inv);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].user_name, "<root_account>");
        assert_eq!(f[0].user_arn, "arn:aws:iam::123456789012:root");
        assert_eq!(f[0].access_key_id.as_deref(), Some("access key 1"));
        assert_eq!(f[0].key_status, Some(KeyStatus::Active));
        assert_eq!(f[0].key_age_days, Some(400));
        assert_eq!(f[0].days_since_last_use, Some(3));
        assert_eq!(f[0].last_used_service.as_deref(), Some("s3"));
        assert!(f[0].message.contains("an active access key (access key 1"));
        assert!(
            f[0].message
                .contains("last used 2026-01-28 (3 days ago) with s3")
        );
        assert_eq!(f[0].compliance, vec!["CIS 1.4", "AWS Security Hub IAM.4"]);
        assert!(
            f[0].remediation
                .iter()
                .any(|s| s.contains("Security credentials"))
        );
        assert_eq!(f[1].key_status, Some(KeyStatus::Inactive));
        assert!(
            f[1].message
                .contains("an inactive access key (access key 2")
        );
        assert!(f[1].message.contains("never used"));
        assert_eq!(f[1].days_since_last_use, None);
    }

    #[test]
    fn report_row_without_keys_is_clean() {
        let mut inv = inventory(vec![]);
        inv.root = root_row(vec![]);
        assert!(run(&RootAccessKeyPresent, &inv).is_empty());
    }

    #[test]
    fn summary_fallback() {
        let mut inv = inventory(vec![]);
        inv.root = RootKeys::AccountSummary { keys_present: true };
        let f = run(&RootAccessKeyPresent, &inv);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].user_arn, "arn:aws:iam::123456789012:root");
        assert_eq!(f[0].access_key_id, None);
        assert_eq!(f[0].key_status, None);
        assert!(f[0].message.contains("account summary"));

        inv.root = RootKeys::AccountSummary {
            keys_present: false,
        };
        assert!(run(&RootAccessKeyPresent, &inv).is_empty());
    }

    #[test]
    fn unknown_root_gives_no_finding() {
        let inv = inventory(vec![]);
        assert_eq!(inv.root, RootKeys::Unknown);
        assert!(run(&RootAccessKeyPresent, &inv).is_empty());
    }
}
