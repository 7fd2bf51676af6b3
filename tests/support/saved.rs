//! Saved organizations built in the tests: inventories of one user and one key, the files
//! `--save-inventory DIR` writes, manifests, and runs of `keyhygiene audit` over them. No
//! network is involved.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use keyhygiene::inventory::{AccessKey, Inventory, KeyStatus, LastUse, RootKeys, SourceInfo, User};
use serde_json::{Value, json};

use super::keyhygiene;

/// The committed sample inventory (the demo account's 302 users), as `account`'s.
pub fn sample_as(account: &str) -> Value {
    let text =
        std::fs::read_to_string(Path::new(super::ROOT).join("sample-reports/inventory.json"))
            .expect("sample-reports/inventory.json")
            .replace("123456789012", account);
    serde_json::from_str(&text).expect("the sample inventory")
}

/// The as-of of every run over these inventories.
pub const AS_OF: &str = "2026-06-01T12:00:00Z";

pub fn t(days_before_june: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap() - chrono::Duration::days(days_before_june)
}

/// An account with one user whose one key is `key_age` days old and used yesterday.
pub fn inventory(account: &str, user: &str, key_age: i64) -> Inventory {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, t(0));
    inv.account_id = Some(account.parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    inv.users.push(User {
        name: user.into(),
        arn: format!("arn:aws:iam::{account}:user/{user}"),
        path: "/".into(),
        user_id: format!("AIDA{account}"),
        created: Some(t(400)),
        tags: vec![],
        keys: vec![AccessKey {
            id: Some(format!("AKIA{account}KEY1")),
            slot: None,
            status: KeyStatus::Active,
            created: t(key_age),
            last_used_source: Default::default(),
            last_used: LastUse::Used {
                date: t(1),
                service: Some("s3".into()),
                region: Some("eu-west-1".into()),
            },
            description: None,
        }],
        login: None,
    });
    inv.normalize();
    inv
}

pub fn save(dir: &Path, name: &str, inv: &Inventory) -> PathBuf {
    let mut out = Vec::new();
    inv.clone().write_json(&mut out).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

pub fn audit(args: &[&str]) -> std::process::Output {
    keyhygiene()
        .args(["audit", "--as-of", AS_OF])
        .args(args)
        .output()
        .expect("run keyhygiene")
}

/// The run's report.json, checked against the committed JSON Schema.
pub fn report(out_dir: &Path) -> Value {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json violates the schema:\n{}",
        errors.join("\n")
    );
    doc
}

pub fn manifest(accounts: Value) -> Value {
    json!({
        "schema_version": 1,
        "listed_at": "2026-06-01T11:00:00Z",
        "organization_id": "o-exampleorg",
        "management_account_id": "111111111111",
        "caller_account_id": "111111111111",
        "selection": {"org": true, "ous": [], "accounts": [], "exclude_accounts": [], "role_name": "OrganizationAccountAccessRole"},
        "accounts": accounts,
    })
}

pub fn account(id: &str, name: &str, state: &str, result: Value) -> Value {
    json!({"account": {"id": id, "name": name, "state": state, "ou_path": "Root/Workloads"}, "result": result})
}
