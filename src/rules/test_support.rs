//! Small inventories for rule and policy tests.

use chrono::{DateTime, TimeDelta, Utc};

use crate::findings::Finding;
use crate::inventory::{AccessKey, Inventory, KeyStatus, LastUse, SourceInfo, User};

use super::{Context, Rule, RuleConfig};

pub const ACCOUNT: &str = "123456789012";

/// The as-of instant every test evaluates at.
pub fn as_of() -> DateTime<Utc> {
    "2026-01-31T12:00:00Z".parse().unwrap()
}

/// Exactly `n` days (of 24 h) before the as-of instant.
pub fn days_ago(n: i64) -> DateTime<Utc> {
    as_of() - TimeDelta::days(n)
}

pub fn inventory(users: Vec<User>) -> Inventory {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    inv.users = users;
    inv
}

pub fn user(name: &str, keys: Vec<AccessKey>) -> User {
    User {
        name: name.to_string(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        path: "/".to_string(),
        user_id: String::new(),
        created: Some(days_ago(1000)),
        tags: Vec::new(),
        keys,
        login: None,
    }
}

pub fn key(id: &str, status: KeyStatus, created: DateTime<Utc>, last_used: LastUse) -> AccessKey {
    AccessKey {
        id: Some(id.to_string()),
        slot: None,
        status,
        created,
        last_used,
        last_used_source: crate::inventory::LastUseSource::Api,
        description: None,
    }
}

/// A key whose last use a live crawl took from the credential report.
pub fn reported(mut key: AccessKey) -> AccessKey {
    key.last_used_source = crate::inventory::LastUseSource::CredentialReport;
    key
}

pub fn active(id: &str, created: DateTime<Utc>, last_used: LastUse) -> AccessKey {
    key(id, KeyStatus::Active, created, last_used)
}

pub fn used(date: DateTime<Utc>) -> LastUse {
    LastUse::Used {
        date,
        service: Some("s3".to_string()),
        region: Some("us-east-1".to_string()),
    }
}

pub fn config(id: &str) -> RuleConfig {
    RuleConfig::defaults(super::find(id).expect("a registered rule").info())
}

/// Runs one rule with its default settings.
pub fn run(rule: &dyn Rule, inv: &Inventory) -> Vec<Finding> {
    run_with(rule, inv, &config(rule.info().id))
}

pub fn run_with(rule: &dyn Rule, inv: &Inventory, config: &RuleConfig) -> Vec<Finding> {
    let ctx = Context {
        inventory: inv,
        as_of: as_of(),
    };
    rule.evaluate(&ctx, config)
}
