//! The only way rules make findings, so that every finding carries every field the
//! reports need.

use crate::findings::{Finding, Severity};
use crate::inventory::{AccessKey, LastUse, ROOT_USER_NAME, RootKey, User};

use super::{Context, RuleConfig, RuleInfo};

/// Builds one [`Finding`]. Start from the subject (a key, a user, the root user), adjust
/// what the rule needs, and finish with the message and the remediation.
#[derive(Clone, Debug)]
#[must_use]
pub struct FindingBuilder {
    finding: Finding,
}

impl FindingBuilder {
    fn new(ctx: &Context<'_>, info: &RuleInfo, config: &RuleConfig) -> Self {
        FindingBuilder {
            finding: Finding {
                rule_id: info.id.to_string(),
                severity: config.severity,
                account_id: ctx.inventory.account_id.clone(),
                user_name: String::new(),
                user_arn: String::new(),
                access_key_id: None,
                key_status: None,
                key_created: None,
                key_age_days: None,
                last_used_date: None,
                last_used_service: None,
                last_used_region: None,
                days_since_last_use: None,
                description: None,
                message: String::new(),
                compliance: info.compliance.iter().map(|c| c.to_string()).collect(),
                remediation: Vec::new(),
            },
        }
    }

    /// A finding about one access key of an IAM user.
    pub fn for_key(
        ctx: &Context<'_>,
        info: &RuleInfo,
        config: &RuleConfig,
        user: &User,
        key: &AccessKey,
    ) -> Self {
        let mut b = Self::for_user(ctx, info, config, user);
        let f = &mut b.finding;
        f.access_key_id = Some(key.label());
        f.key_status = Some(key.status);
        f.key_created = Some(key.created);
        f.key_age_days = Some(ctx.days_since(key.created));
        f.description = key.description.clone();
        b.last_use(ctx, &key.last_used)
    }

    /// A finding about an IAM user as a whole (no single key).
    pub fn for_user(ctx: &Context<'_>, info: &RuleInfo, config: &RuleConfig, user: &User) -> Self {
        let mut b = Self::new(ctx, info, config);
        b.finding.user_name = user.name.clone();
        b.finding.user_arn = user.arn.clone();
        b
    }

    /// A finding about the root user, with `arn` from the credential report when known.
    pub fn for_root(
        ctx: &Context<'_>,
        info: &RuleInfo,
        config: &RuleConfig,
        arn: Option<&str>,
    ) -> Self {
        let mut b = Self::new(ctx, info, config);
        b.finding.user_name = ROOT_USER_NAME.to_string();
        b.finding.user_arn = match (arn, &ctx.inventory.account_id) {
            (Some(arn), _) => arn.to_string(),
            (None, Some(account)) => format!("arn:aws:iam::{account}:root"),
            (None, None) => String::new(),
        };
        b
    }

    /// Fills the key fields from one slot of the credential report's root row.
    pub fn root_key(mut self, ctx: &Context<'_>, key: &RootKey) -> Self {
        let f = &mut self.finding;
        f.access_key_id = Some(format!("access key {}", key.slot));
        f.key_status = Some(if key.active {
            crate::inventory::KeyStatus::Active
        } else {
            crate::inventory::KeyStatus::Inactive
        });
        f.key_created = key.last_rotated;
        f.key_age_days = key.last_rotated.map(|t| ctx.days_since(t));
        self.last_use(ctx, &key.last_used)
    }

    fn last_use(mut self, ctx: &Context<'_>, last_used: &LastUse) -> Self {
        if let LastUse::Used {
            date,
            service,
            region,
        } = last_used
        {
            let f = &mut self.finding;
            f.last_used_date = Some(*date);
            f.last_used_service = service.clone();
            f.last_used_region = region.clone();
            f.days_since_last_use = Some(ctx.days_since(*date));
        }
        self
    }

    /// Replaces the configured severity (e.g. a rotation under way is only low).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.finding.severity = severity;
        self
    }

    /// Replaces the rule's compliance references for this finding.
    pub fn compliance(mut self, refs: Vec<String>) -> Self {
        self.finding.compliance = refs;
        self
    }

    /// Finishes the finding. The message must make sense without the docs; the
    /// remediation lists commands (or `# ` comment steps) in the order to follow.
    pub fn build(mut self, message: String, remediation: Vec<String>) -> Finding {
        debug_assert!(!message.is_empty(), "a finding needs a message");
        debug_assert!(!remediation.is_empty(), "a finding needs a remediation");
        self.finding.message = message;
        self.finding.remediation = remediation;
        self.finding
    }
}
