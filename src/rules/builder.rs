//! The only way rules make findings, so that every finding carries every field the
//! reports need.

use chrono::{DateTime, Utc};

use crate::findings::id::{Subject, finding_id};
use crate::findings::{Finding, Severity};
use crate::inventory::{AccessKey, LastUse, ROOT_USER_NAME, RootKey, SourceInfo, User};

use super::{Context, RuleConfig, RuleInfo};

/// Builds one [`Finding`]. Start from the subject (a key, a user, the root user), adjust
/// what the rule needs, and finish with the message and the remediation.
#[derive(Clone, Debug)]
#[must_use]
pub struct FindingBuilder {
    finding: Finding,
    /// What the finding is about, for its id.
    about: About,
    /// Whether the inventory came from a credential report (the weaker ids).
    from_report: bool,
}

#[derive(Clone, Debug)]
enum About {
    User,
    Key {
        id: Option<String>,
        slot: Option<u8>,
        created: DateTime<Utc>,
    },
    Root {
        slot: Option<u8>,
    },
}

impl FindingBuilder {
    fn new(ctx: &Context<'_>, info: &RuleInfo, config: &RuleConfig) -> Self {
        FindingBuilder {
            about: About::User,
            from_report: matches!(ctx.inventory.source, SourceInfo::CredentialReport { .. }),
            finding: Finding {
                compliance: info.compliance.iter().map(|c| c.to_string()).collect(),
                ..Finding::new(info.id, config.severity, ctx.inventory.account_id.clone())
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
        b.about = About::Key {
            id: key.id.clone(),
            slot: key.slot,
            created: key.created,
        };
        let f = &mut b.finding;
        // A key without an id (a credential report) is named by its slot.
        f.access_key_id = Some(key.label());
        f.key_status = Some(key.status);
        f.key_created = Some(key.created);
        f.key_age_days = Some(ctx.days_since(key.created));
        f.description = key.description.clone();
        f.last_used_source = Some(key.last_used_source);
        b.last_use(ctx, &key.last_used)
    }

    /// A finding about an IAM user as a whole (no single key).
    pub fn for_user(ctx: &Context<'_>, info: &RuleInfo, config: &RuleConfig, user: &User) -> Self {
        let mut b = Self::new(ctx, info, config);
        b.finding.user_name = user.name.clone();
        b.finding.user_arn = user.arn.clone();
        b.finding.user_id = Some(user.user_id.clone()).filter(|id| !id.is_empty());
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
        b.about = About::Root { slot: None };
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
        self.about = About::Root {
            slot: Some(key.slot),
        };
        let f = &mut self.finding;
        f.access_key_id = Some(key.label());
        f.key_status = Some(if key.active {
            crate::inventory::KeyStatus::Active
        } else {
            crate::inventory::KeyStatus::Inactive
        });
        f.key_created = key.last_rotated;
        f.key_age_days = key.last_rotated.map(|t| ctx.days_since(t));
        f.last_used_source = Some(crate::inventory::LastUseSource::CredentialReport);
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
        self.finding.finding_id = self.id();
        self.finding
    }

    /// The finding's id ([`crate::findings::id`]).
    fn id(&self) -> String {
        let f = &self.finding;
        let arn = f.user_arn.as_str();
        let subject = match (&self.about, &f.user_id) {
            (About::Root { slot }, _) => Subject::Root { arn, slot: *slot },
            (
                About::Key {
                    id: Some(key_id), ..
                },
                _,
            ) if !self.from_report => Subject::Key { arn, key_id },
            (About::Key { slot, created, .. }, _) => Subject::ReportKey {
                arn,
                slot: *slot,
                created: *created,
            },
            (About::User, Some(user_id)) if !self.from_report => Subject::User { arn, user_id },
            (About::User, _) => Subject::ReportUser { arn },
        };
        finding_id(f.account_id.as_deref(), &f.rule_id, subject)
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::id::IdFields;
    use crate::inventory::Inventory;
    use crate::rules::RuleSettings;

    /// Every finding the rules give, with every rule on and low thresholds.
    fn findings(inv: &Inventory) -> Vec<crate::findings::Finding> {
        let rules = RuleSettings::default();
        crate::rules::evaluate(inv, &rules, "2026-06-01T12:00:00Z".parse().unwrap())
    }

    /// A finding's id follows from the fields every output records, whatever the subject:
    /// a history record checks its ids this way.
    #[test]
    fn every_id_follows_from_the_recorded_fields() {
        let live = Inventory::from_json_str(
            include_str!("../../tests/fixtures/demo-inventory-v1.json"),
            "demo",
        )
        .unwrap();
        let report = crate::credential_report::read_inventory(
            include_bytes!("../../tests/fixtures/credential-report.csv"),
            "report.csv",
            Some("2026-01-16T00:00:00Z".parse().unwrap()),
        )
        .unwrap();
        let mut no_user_ids = live.clone();
        for user in &mut no_user_ids.users {
            user.user_id.clear();
        }
        let mut seen = std::collections::BTreeSet::new();
        for inv in [&live, &report, &no_user_ids] {
            let all = findings(inv);
            assert!(!all.is_empty());
            for f in all {
                let fields = IdFields {
                    account_id: f.account_id.as_deref(),
                    rule_id: &f.rule_id,
                    user_name: &f.user_name,
                    user_arn: &f.user_arn,
                    user_id: f.user_id.as_deref(),
                    access_key_id: f.access_key_id.as_deref(),
                    key_created: f.key_created,
                };
                assert_eq!(
                    fields.id_like(&f.finding_id).as_deref(),
                    Some(f.finding_id.as_str()),
                    "{f:?}"
                );
                seen.insert((
                    f.finding_id.starts_with("kh1cr-"),
                    f.access_key_id.is_some(),
                ));
            }
        }
        // Keys and users, from the API and from a report, were all covered.
        assert_eq!(seen.len(), 4, "{seen:?}");
    }
}
