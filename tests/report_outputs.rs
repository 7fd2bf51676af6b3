//! The reports written from a hand-built inventory and finding set: CSV layout, quoting and
//! formula neutralisation, JSON against its schema and byte-stability, and the HTML parsed
//! as a DOM.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use keyhygiene::findings::{
    AppliedSuppression, EvaluatedFinding, Finding, FindingSet, Severity, SuppressionNotice,
};
use keyhygiene::inventory::{
    AccessKey, CoverageGap, CrawlStats, CredentialReportInfo, Inventory, KeyStatus, LastUse,
    LoginInfo, RootKey, RootKeys, SourceInfo, Tag, User,
};
use keyhygiene::report::{self, Format, RunInfo};
use scraper::{Html, Selector};

const ACCOUNT: &str = "123456789012";
const HOSTILE: &str = "<script>alert(1)</script>";
const FINDINGS_HEADER: &str = "account_id,rule_id,severity,user_name,user_arn,access_key_id,key_status,key_created,key_age_days,last_used_date,last_used_service,last_used_region,days_since_last_use,suppressed,suppression_reason,message,remediation,compliance,account_name,finding_id,status,first_seen,owner";

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    as_of() - Duration::days(days)
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn key(id: &str, status: KeyStatus, age: i64, last_used: LastUse, desc: Option<&str>) -> AccessKey {
    AccessKey {
        id: Some(id.to_string()),
        slot: None,
        status,
        created: days_ago(age),
        last_used_source: Default::default(),
        last_used,
        description: desc.map(str::to_string),
    }
}

fn used(days: i64, service: &str, region: &str) -> LastUse {
    LastUse::Used {
        date: days_ago(days),
        service: Some(service.to_string()),
        region: Some(region.to_string()),
    }
}

fn user(name: &str, path: &str, keys: Vec<AccessKey>, login: Option<LoginInfo>) -> User {
    let tags = keys
        .iter()
        .filter_map(|k| {
            Some(Tag {
                key: k.id.clone()?,
                value: k.description.clone()?,
            })
        })
        .collect();
    User {
        name: name.to_string(),
        arn: arn(name),
        path: path.to_string(),
        user_id: String::new(),
        created: Some(days_ago(900)),
        tags,
        keys,
        login,
    }
}

/// An account with five users, six keys (one of them root's), one coverage gap and a stale
/// credential report. User names and tags include formula and markup payloads.
fn inventory() -> Inventory {
    let mut inv = Inventory::new(
        SourceInfo::Live { endpoint: None },
        as_of() - Duration::hours(1),
    );
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    inv.users = vec![
        user(
            "alice",
            "/",
            vec![
                key(
                    "AKIAALICE000000001",
                    KeyStatus::Active,
                    400,
                    used(2, "s3", "us-east-1"),
                    Some("CI deploy, \"prod\""),
                ),
                key(
                    "AKIAALICE000000002",
                    KeyStatus::Inactive,
                    120,
                    LastUse::Never,
                    None,
                ),
            ],
            Some(LoginInfo {
                password_enabled: true,
                password_last_used: None,
                mfa_active: true,
            }),
        ),
        user(
            "=1+2",
            "/",
            vec![key(
                "AKIAFORMULA0000001",
                KeyStatus::Active,
                10,
                used(1, "sts", "eu-west-1"),
                Some("@SUM(A1)"),
            )],
            Some(LoginInfo {
                password_enabled: true,
                password_last_used: None,
                mfa_active: false,
            }),
        ),
        user(
            "mallory",
            "/contractors/",
            vec![key(
                "AKIAMALLORY0000001",
                KeyStatus::Active,
                200,
                LastUse::Unknown,
                Some(HOSTILE),
            )],
            None,
        ),
        user(
            "bob",
            "/ops/",
            vec![key(
                "AKIABOB00000000001",
                KeyStatus::Active,
                50,
                used(0, "ec2", "us-west-2"),
                None,
            )],
            Some(LoginInfo {
                password_enabled: false,
                password_last_used: None,
                mfa_active: false,
            }),
        ),
        user("carol", "/", Vec::new(), None),
    ];
    inv.root = RootKeys::CredentialReport {
        arn: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
        keys: vec![RootKey {
            slot: 1,
            active: true,
            last_rotated: Some(days_ago(800)),
            last_used: used(30, "iam", "us-east-1"),
        }],
    };
    inv.credential_report = Some(CredentialReportInfo {
        generated_at: Some(as_of() - Duration::hours(6)),
        has_root_row: true,
    });
    inv.gaps = vec![CoverageGap {
        user: Some("mallory".to_string()),
        access_key_id: Some("AKIAMALLORY0000001".to_string()),
        operation: "GetAccessKeyLastUsed".to_string(),
        error_code: "AccessDenied".to_string(),
        impact: "last use of the key is unknown".to_string(),
    }];
    inv.stats = CrawlStats {
        calls: BTreeMap::from([
            ("ListUsers".to_string(), 1),
            ("ListAccessKeys".to_string(), 5),
        ]),
        retries: 1,
        throttled: 1,
        gaps: 1,
        attempts_cut: 0,
        wall_ms: 1234,
        bytes_received: 4096,
    };
    inv.normalize();
    inv
}

#[allow(clippy::too_many_arguments)]
fn finding(
    inv: &Inventory,
    rule: &str,
    severity: Severity,
    user_name: &str,
    key_id: Option<&str>,
    message: &str,
    remediation: &[&str],
) -> Finding {
    let found = inv
        .users
        .iter()
        .find(|u| u.name == user_name)
        .and_then(|u| {
            u.keys
                .iter()
                .find(|k| k.id.as_deref() == key_id)
                .map(|k| (u, k))
        });
    Finding {
        rule_id: rule.to_string(),
        finding_id: support::test_finding_id(ACCOUNT, rule, user_name, key_id),
        user_id: None,
        severity,
        account_id: Some(ACCOUNT.parse().unwrap()),
        user_name: user_name.to_string(),
        user_arn: if user_name == "<root_account>" {
            format!("arn:aws:iam::{ACCOUNT}:root")
        } else {
            arn(user_name)
        },
        access_key_id: key_id.map(str::to_string),
        key_status: found.map(|(_, k)| k.status),
        key_created: found.map(|(_, k)| k.created),
        key_age_days: found.map(|(_, k)| (as_of() - k.created).num_days()),
        last_used_date: found.and_then(|(_, k)| k.last_used.date()),
        last_used_service: None,
        last_used_region: None,
        last_used_source: None,
        days_since_last_use: found
            .and_then(|(_, k)| k.last_used.date())
            .map(|d| (as_of() - d).num_days()),
        description: found.and_then(|(_, k)| k.description.clone()),
        message: message.to_string(),
        compliance: vec!["CIS 1.14".to_string()],
        remediation: remediation.iter().map(|s| s.to_string()).collect(),
    }
}

fn open(f: Finding) -> EvaluatedFinding {
    EvaluatedFinding {
        finding: f,
        suppressed: None,
        tracking: Default::default(),
    }
}

fn findings(inv: &Inventory) -> FindingSet {
    let list = vec![
        open(finding(
            inv,
            "root-access-key",
            Severity::Critical,
            "<root_account>",
            Some("access key 1"),
            "The root user has an active access key.",
            &[
                "Sign in as the root user",
                "Open Security credentials and delete the access key",
            ],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::High,
            "alice",
            Some("AKIAALICE000000001"),
            "Key is 400 days old, over the 90-day limit; the message has a comma, a \"quote\"\nand a newline.",
            &[
                "aws iam create-access-key --user-name alice",
                "# Move the applications to the new key, then deactivate the old one.",
                "aws iam update-access-key --user-name alice --access-key-id AKIAALICE000000001 --status Inactive",
            ],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::Medium,
            "mallory",
            Some("AKIAMALLORY0000001"),
            &format!("Key described as {HOSTILE} is 200 days old."),
            &[
                "aws iam update-access-key --user-name mallory --access-key-id AKIAMALLORY0000001 --status Inactive",
            ],
        )),
        open(finding(
            inv,
            "console-without-mfa",
            Severity::Low,
            "=1+2",
            None,
            "=HYPERLINK(\"x\") the user signs in without MFA.",
            &["-- enable MFA for the user"],
        )),
        EvaluatedFinding {
            finding: finding(
                inv,
                "unused-key",
                Severity::Medium,
                "alice",
                Some("AKIAALICE000000002"),
                "Key was never used.",
                &["aws iam delete-access-key --user-name alice --access-key-id AKIAALICE000000002"],
            ),
            suppressed: Some(AppliedSuppression {
                reason: "break-glass key, reviewed quarterly".to_string(),
                expires: NaiveDate::from_ymd_opt(2026, 9, 30),
            }),
            tracking: Default::default(),
        },
    ];
    FindingSet {
        findings: list,
        expired_suppressions: vec![SuppressionNotice {
            rule: "key-age".to_string(),
            user: "bob".to_string(),
            access_key_id: None,
            account: None,
            finding_id: None,
            reason: "migration to roles".to_string(),
            expires: NaiveDate::from_ymd_opt(2026, 1, 31),
            location: "keyhygiene.toml:12".to_string(),
        }],
        unused_suppressions: vec![SuppressionNotice {
            rule: "unused-key".to_string(),
            user: "dave".to_string(),
            access_key_id: Some("AKIADAVE0000000001".to_string()),
            account: None,
            finding_id: None,
            reason: "<b>left</b> over".to_string(),
            expires: None,
            location: "keyhygiene.toml:20".to_string(),
        }],
        resolved: Vec::new(),
        not_assessed: Vec::new(),
    }
}

fn render(inv: &Inventory, set: &FindingSet) -> BTreeMap<&'static str, Vec<u8>> {
    let figures = keyhygiene::findings::Figures::of(inv, set);
    let run = RunInfo {
        inventory: inv,
        findings: set,
        as_of: as_of(),
        fail_on: Some(Severity::High),
        policy_file: Some(Path::new("keyhygiene.toml")),
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    report::render(&[Format::Html, Format::Csv, Format::Json], &run)
        .expect("reports render")
        .into_iter()
        .map(|f| (f.name, f.bytes))
        .collect()
}

fn fixture() -> BTreeMap<&'static str, Vec<u8>> {
    let inv = inventory();
    let set = findings(&inv);
    render(&inv, &set)
}

fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

// ---------------------------------------------------------------- CSV

#[test]
fn findings_csv_has_the_documented_header_and_worst_first_order() {
    let files = fixture();
    let text = String::from_utf8(files["findings.csv"].clone()).unwrap();
    assert_eq!(text.split("\r\n").next().unwrap(), FINDINGS_HEADER);
    assert!(text.ends_with("\r\n"));
    let (header, rows) = read_csv(text.as_bytes());
    assert_eq!(rows.len(), 5, "one row per finding, suppressed included");
    let sev = column(&header, "severity");
    let rule = column(&header, "rule_id");
    let suppressed = column(&header, "suppressed");
    let order: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[sev].as_str(), r[rule].as_str(), r[suppressed].as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("critical", "root-access-key", "false"),
            ("high", "key-age", "false"),
            ("medium", "key-age", "false"),
            ("low", "console-without-mfa", "false"),
            ("medium", "unused-key", "true"),
        ]
    );
    let alice = &rows[1];
    assert_eq!(alice[column(&header, "account_id")], ACCOUNT);
    assert_eq!(
        alice[column(&header, "access_key_id")],
        "AKIAALICE000000001"
    );
    assert_eq!(alice[column(&header, "key_status")], "Active");
    assert_eq!(
        alice[column(&header, "key_created")],
        "2025-04-27T12:00:00Z"
    );
    assert_eq!(alice[column(&header, "key_age_days")], "400");
    assert_eq!(
        alice[column(&header, "last_used_date")],
        "2026-05-30T12:00:00Z"
    );
    assert_eq!(alice[column(&header, "days_since_last_use")], "2");
    assert_eq!(alice[column(&header, "suppression_reason")], "");
    assert_eq!(alice[column(&header, "compliance")], "CIS 1.14");
    assert_eq!(
        alice[column(&header, "remediation")],
        "aws iam create-access-key --user-name alice\n# Move the applications to the new key, then deactivate the old one.\naws iam update-access-key --user-name alice --access-key-id AKIAALICE000000001 --status Inactive"
    );
    let user_level = &rows[3];
    for empty in [
        "access_key_id",
        "key_status",
        "key_created",
        "key_age_days",
        "last_used_date",
    ] {
        assert_eq!(
            user_level[column(&header, empty)],
            "",
            "{empty} is empty for a user-level finding"
        );
    }
    let suppressed_row = &rows[4];
    assert_eq!(
        suppressed_row[column(&header, "suppression_reason")],
        "break-glass key, reviewed quarterly"
    );
    assert_eq!(suppressed_row[column(&header, "days_since_last_use")], "");
}

#[test]
fn csv_quoting_follows_rfc_4180() {
    let files = fixture();
    let text = String::from_utf8(files["findings.csv"].clone()).unwrap();
    // A field with a comma, a quote and a newline is quoted, with the quote doubled.
    assert!(text.contains(
        "\"Key is 400 days old, over the 90-day limit; the message has a comma, a \"\"quote\"\"\nand a newline.\""
    ));
    let (header, rows) = read_csv(text.as_bytes());
    assert_eq!(
        rows[1][column(&header, "message")],
        "Key is 400 days old, over the 90-day limit; the message has a comma, a \"quote\"\nand a newline."
    );
    let keys = String::from_utf8(files["keys.csv"].clone()).unwrap();
    assert!(keys.contains(",\"CI deploy, \"\"prod\"\"\","));
}

#[test]
fn spreadsheet_formulas_are_neutralised_in_both_csvs() {
    let files = fixture();
    for name in ["findings.csv", "keys.csv"] {
        let (header, rows) = read_csv(&files[name]);
        for row in &rows {
            for (i, cell) in row.iter().enumerate() {
                let first = cell.chars().next();
                assert!(
                    !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                    "{name}: column {} starts a formula: {cell:?}",
                    header[i]
                );
            }
        }
    }
    let (header, rows) = read_csv(&files["findings.csv"]);
    let formula_user = rows
        .iter()
        .find(|r| r[column(&header, "rule_id")] == "console-without-mfa")
        .unwrap();
    assert_eq!(formula_user[column(&header, "user_name")], "'=1+2");
    assert_eq!(
        formula_user[column(&header, "message")],
        "'=HYPERLINK(\"x\") the user signs in without MFA."
    );
    assert_eq!(
        formula_user[column(&header, "remediation")],
        "'-- enable MFA for the user"
    );

    let (header, rows) = read_csv(&files["keys.csv"]);
    let row = rows
        .iter()
        .find(|r| r[column(&header, "access_key_id")] == "AKIAFORMULA0000001")
        .unwrap();
    assert_eq!(row[column(&header, "user_name")], "'=1+2");
    assert_eq!(row[column(&header, "description")], "'@SUM(A1)");
    assert_eq!(
        row[column(&header, "user_arn")],
        format!("arn:aws:iam::{ACCOUNT}:user/=1+2")
    );
}

#[test]
fn keys_csv_lists_every_key_with_the_rules_that_fired() {
    let files = fixture();
    let (header, rows) = read_csv(&files["keys.csv"]);
    assert_eq!(
        header.join(","),
        "account_id,user_name,user_path,user_arn,access_key_id,key_status,key_created,key_age_days,last_used_state,last_used_date,last_used_service,last_used_region,days_since_last_use,description,password_enabled,mfa_active,worst_severity,rule_ids,suppressed_rule_ids,account_name,last_used_source,last_used_source_time,owner"
    );
    assert_eq!(rows.len(), 6, "five user keys and one root key");
    let get = |id: &str| {
        rows.iter()
            .find(|r| r[column(&header, "access_key_id")] == id)
            .unwrap_or_else(|| panic!("no row for {id}"))
    };
    let root = get("access key 1");
    assert_eq!(root[column(&header, "user_name")], "<root_account>");
    assert_eq!(root[column(&header, "rule_ids")], "root-access-key");
    assert_eq!(root[column(&header, "worst_severity")], "critical");
    let alice1 = get("AKIAALICE000000001");
    assert_eq!(alice1[column(&header, "rule_ids")], "key-age");
    assert_eq!(alice1[column(&header, "last_used_state")], "used");
    assert_eq!(alice1[column(&header, "last_used_service")], "s3");
    assert_eq!(alice1[column(&header, "last_used_region")], "us-east-1");
    assert_eq!(alice1[column(&header, "password_enabled")], "true");
    assert_eq!(alice1[column(&header, "mfa_active")], "true");
    let alice2 = get("AKIAALICE000000002");
    assert_eq!(alice2[column(&header, "rule_ids")], "");
    assert_eq!(alice2[column(&header, "suppressed_rule_ids")], "unused-key");
    assert_eq!(alice2[column(&header, "last_used_state")], "never");
    assert_eq!(alice2[column(&header, "key_status")], "Inactive");
    let mallory = get("AKIAMALLORY0000001");
    assert_eq!(mallory[column(&header, "last_used_state")], "unknown");
    assert_eq!(mallory[column(&header, "user_path")], "/contractors/");
    assert_eq!(
        mallory[column(&header, "password_enabled")],
        "",
        "no login data means empty"
    );
    assert_eq!(mallory[column(&header, "description")], HOSTILE);
    let bob = get("AKIABOB00000000001");
    assert_eq!(bob[column(&header, "rule_ids")], "");
    assert_eq!(bob[column(&header, "days_since_last_use")], "0");
}

// ---------------------------------------------------------------- JSON

fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json violates the schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn report_json_validates_against_the_committed_schema() {
    let validator = schema_validator();
    let files = fixture();
    let doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    assert_valid(&validator, &doc);
    assert_eq!(doc["schema_version"], 4);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 4);
    assert_eq!(doc["suppressed_findings"].as_array().unwrap().len(), 1);
    assert_eq!(doc["summary"]["by_severity"]["critical"]["open"], 1);
    assert_eq!(doc["summary"]["by_severity"]["medium"]["suppressed"], 1);
    assert_eq!(doc["summary"]["fails_threshold"], true);
    assert_eq!(doc["coverage"]["complete"], false);
    assert_eq!(doc["credential_report"]["stale"], true);
    assert_eq!(doc["expired_suppressions"][0]["expires"], "2026-01-31");
    assert_eq!(
        doc["unused_suppressions"][0]["expires"],
        serde_json::Value::Null
    );

    // An empty account with complete coverage and no credential report is valid too.
    let mut empty = Inventory::new(
        SourceInfo::CredentialReport {
            file: "report.csv".to_string(),
        },
        as_of(),
    );
    empty.normalize();
    let files = render(&empty, &FindingSet::default());
    let doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    assert_valid(&validator, &doc);
    assert_eq!(doc["account_id"], serde_json::Value::Null);
    assert_eq!(doc["summary"]["worst_severity"], serde_json::Value::Null);
}

#[test]
fn the_schema_rejects_a_document_that_breaks_the_format() {
    let validator = schema_validator();
    let files = fixture();
    let mut doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    doc["findings"][0]["severity"] = "urgent".into();
    assert!(!validator.is_valid(&doc));
    let mut doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    doc["as_of"] = "2026-06-01 12:00".into();
    assert!(!validator.is_valid(&doc));
}

#[test]
fn a_suppression_limited_to_an_account_is_listed_with_it() {
    let inv = inventory();
    let mut set = findings(&inv);
    set.unused_suppressions[0].account = Some("210987654321".to_string());
    let files = render(&inv, &set);

    let doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    assert_valid(&schema_validator(), &doc);
    assert_eq!(doc["unused_suppressions"][0]["account"], "210987654321");
    assert!(
        doc["expired_suppressions"][0].get("account").is_none(),
        "an entry for every account has no account field"
    );
    let mut bad = doc.clone();
    bad["unused_suppressions"][0]["account"] = "2109-8765-4321".into();
    assert!(!schema_validator().is_valid(&bad));

    let page = Html::parse_document(&String::from_utf8(files["report.html"].clone()).unwrap());
    let user_cell = |table: &str| -> String {
        page.select(&sel(&format!("#{table} tbody tr td:nth-child(2)")))
            .next()
            .unwrap()
            .text()
            .collect()
    };
    assert_eq!(
        user_cell("unused-suppressions"),
        "dave in account 210987654321"
    );
    assert_eq!(user_cell("expired-suppressions"), "bob");
}

/// The golden copy of `report.json` for the fixture. Regenerate it with
/// `KEYHYGIENE_BLESS=1 cargo test --test report_outputs` after an intended change.
#[test]
fn report_json_is_stable_for_a_fixed_input() {
    let files = fixture();
    // The tool version is the one field that changes without a format change.
    let actual = String::from_utf8(files["report.json"].clone())
        .unwrap()
        .replacen(
            &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"version\": \"VERSION\"",
            1,
        );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-golden.json");
    if support::bless() {
        std::fs::write(&golden, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("tests/fixtures/report-golden.json exists (KEYHYGIENE_BLESS=1 writes it)");
    assert_eq!(
        actual, expected,
        "report.json changed; if intended, rerun with KEYHYGIENE_BLESS=1"
    );
}

#[test]
fn a_golden_test_never_blesses_itself_under_ci() {
    use std::ffi::OsStr;
    let on = Some(OsStr::new("1"));
    assert_eq!(support::bless_decision(on, None), Ok(true));
    assert_eq!(support::bless_decision(None, on), Ok(false));
    assert_eq!(
        support::bless_decision(Some(OsStr::new("0")), None),
        Ok(false)
    );
    let refused = support::bless_decision(on, Some(OsStr::new("true"))).unwrap_err();
    assert!(refused.contains("refused when CI is set"), "{refused}");
}

#[test]
fn every_output_is_byte_stable_whatever_order_findings_arrive_in() {
    let inv = inventory();
    let set = findings(&inv);
    let first = render(&inv, &set);
    let mut shuffled = set.clone();
    shuffled.findings.reverse();
    let second = render(&inv, &shuffled);
    assert_eq!(
        first.keys().copied().collect::<Vec<&str>>(),
        vec!["findings.csv", "keys.csv", "report.html", "report.json"]
    );
    for (name, bytes) in &first {
        assert!(bytes == &second[name], "{name} differs between two renders");
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(env!("CARGO_MANIFEST_DIR")),
            "{name} contains a machine path"
        );
    }
}

// ---------------------------------------------------------------- HTML

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn page() -> Html {
    Html::parse_document(&String::from_utf8(fixture()["report.html"].clone()).unwrap())
}

#[test]
fn html_has_one_row_per_finding_and_per_key() {
    let doc = page();
    assert_eq!(
        doc.select(&sel("article.finding")).count(),
        4,
        "open findings"
    );
    assert_eq!(
        doc.select(&sel("tr.suppressed-finding")).count(),
        1,
        "suppressed findings"
    );
    assert_eq!(
        doc.select(&sel("#key-rows > tr")).count(),
        6,
        "inventory rows"
    );
    assert_eq!(
        doc.select(&sel("section.rule")).count(),
        3,
        "one section per rule with open findings"
    );
    assert_eq!(
        doc.select(&sel("#rule-summary tbody tr")).count(),
        5,
        "every rule and severity in the summary: key-age has a high and a medium row"
    );
    assert_eq!(
        doc.select(&sel("#expired-suppressions tbody tr")).count(),
        1
    );
    assert_eq!(doc.select(&sel("#unused-suppressions tbody tr")).count(), 1);
    // Commands are copyable; console steps are a list.
    assert_eq!(
        doc.select(&sel("article.finding .remediation button.copy"))
            .count(),
        2
    );
    let root_steps: Vec<String> = doc
        .select(&sel("#rule-root-access-key ol.steps li"))
        .map(|li| li.text().collect())
        .collect();
    assert_eq!(root_steps.len(), 2);
    let script: String = doc
        .select(&sel("#rule-key-age .remediation code"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(
        script,
        "aws iam create-access-key --user-name alice\n\
         # Move the applications to the new key, then deactivate the old one.\n\
         aws iam update-access-key --user-name alice --access-key-id AKIAALICE000000001 --status Inactive",
        "the copied text is the script, comments included, in order"
    );
    assert_eq!(
        doc.select(&sel("#rule-key-age .remediation .comment"))
            .count(),
        1
    );
    // Severity tiles carry the counts.
    let tiles: Vec<String> = doc
        .select(&sel(".tile .tile-count"))
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(tiles, vec!["1", "1", "1", "1"]);
    let body = doc.select(&sel("body")).next().unwrap();
    assert_eq!(body.value().attr("data-js-errors"), Some("0"));
}

#[test]
fn html_shows_coverage_gaps_and_a_stale_credential_report() {
    let doc = page();
    let banner: String = doc
        .select(&sel("#coverage-banner"))
        .next()
        .expect("red banner for incomplete coverage")
        .text()
        .collect();
    assert!(banner.contains("GetAccessKeyLastUsed"));
    assert!(banner.contains("AccessDenied"));
    assert!(doc.select(&sel("#stale-banner")).next().is_some());

    let mut clean = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    clean.account_id = Some(ACCOUNT.parse().unwrap());
    clean.credential_report = Some(CredentialReportInfo {
        generated_at: Some(as_of() - Duration::hours(3)),
        has_root_row: true,
    });
    clean.root = RootKeys::CredentialReport {
        arn: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
        keys: Vec::new(),
    };
    clean.normalize();
    let html =
        String::from_utf8(render(&clean, &FindingSet::default())["report.html"].clone()).unwrap();
    let doc = Html::parse_document(&html);
    assert!(doc.select(&sel("#coverage-banner")).next().is_none());
    assert!(doc.select(&sel("#stale-banner")).next().is_none());
    assert_eq!(doc.select(&sel("#key-rows > tr")).count(), 0);
}

#[test]
fn hostile_text_from_aws_is_shown_as_text() {
    let doc = page();
    let scripts: Vec<_> = doc.select(&sel("script")).collect();
    assert_eq!(scripts.len(), 1, "only the report's own script");
    assert!(
        scripts[0].value().attrs().next().is_none(),
        "the report's script is inline"
    );
    assert_eq!(
        doc.select(&sel("b")).count(),
        0,
        "markup in a suppression reason is not rendered"
    );
    let inventory_text: String = doc
        .select(&sel("#key-rows"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(inventory_text.contains(HOSTILE));
    let findings_text: String = doc
        .select(&sel("#findings"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(findings_text.contains(&format!("Key described as {HOSTILE} is 200 days old.")));
    let unused: String = doc
        .select(&sel("#unused-suppressions"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(unused.contains("<b>left</b> over"));
}

#[test]
fn html_loads_nothing_from_the_network() {
    let html = String::from_utf8(fixture()["report.html"].clone()).unwrap();
    let doc = Html::parse_document(&html);
    for element in doc.select(&sel("*")) {
        for (name, value) in element.value().attrs() {
            let v = value.trim().to_ascii_lowercase();
            if matches!(
                name,
                "src"
                    | "href"
                    | "srcset"
                    | "action"
                    | "poster"
                    | "data"
                    | "xlink:href"
                    | "formaction"
            ) {
                assert!(
                    !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")),
                    "<{}> loads {value}",
                    element.value().name()
                );
            }
            assert!(
                !name.starts_with("on"),
                "<{}> has an inline event handler {name}",
                element.value().name()
            );
        }
    }
    for forbidden in ["<link", "<img", "<iframe", "@import", "url(", "@font-face"] {
        assert!(!html.contains(forbidden), "the page contains {forbidden}");
    }
    let csp = doc
        .select(&sel("meta[http-equiv=\"Content-Security-Policy\"]"))
        .next()
        .expect("a content security policy");
    assert!(
        csp.value()
            .attr("content")
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

// ---------------------------------------------------------------- files and summary

#[test]
fn write_reports_writes_every_file_and_the_summary_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let inv = inventory();
    let set = findings(&inv);
    let figures = keyhygiene::findings::Figures::of(&inv, &set);
    let run = RunInfo {
        inventory: &inv,
        findings: &set,
        as_of: as_of(),
        fail_on: Some(Severity::High),
        policy_file: None,
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    let written =
        report::write_reports(&out, &[Format::Json, Format::Csv, Format::Json], &run).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["report.json", "findings.csv", "keys.csv"]);
    for p in &written {
        assert!(p.is_file());
    }
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".keyhygiene-set.json",
            "findings.csv",
            "keys.csv",
            "report.json"
        ],
        "no temporary files left; the set manifest names the set"
    );
    let summary = summary_text(&report::ReportModel::build(&run), &written);
    assert!(
        summary.contains("4 open (1 critical, 1 high, 1 medium, 1 low), 1 suppressed"),
        "{summary}"
    );
    assert!(summary.contains("key-age"));
    assert!(summary.contains("INCOMPLETE"));
    assert!(summary.contains("STALE"));
    assert!(summary.contains("fail-on high: reached"));
    for p in &written {
        assert!(summary.contains(&p.display().to_string()));
    }
}

#[test]
fn an_unwritable_directory_is_one_line_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let inv = inventory();
    let set = findings(&inv);
    let figures = keyhygiene::findings::Figures::of(&inv, &set);
    let run = RunInfo {
        inventory: &inv,
        findings: &set,
        as_of: as_of(),
        fail_on: None,
        policy_file: None,
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    let err = report::write_reports(&blocker.join("out"), &[Format::Json], &run).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&blocker.join("out").display().to_string()),
        "{text}"
    );
    assert!(!text.contains('\n'));
}

// ---------------------------------------------------------------- by-rule summary

/// `user-two-active-keys` is medium, or low while a rotation is under way: one rule at two
/// severities. Two medium and one low open finding, and one suppressed low one.
fn two_severity_findings(inv: &Inventory) -> FindingSet {
    let two_keys = |user: &str, severity: Severity| {
        finding(
            inv,
            "user-two-active-keys",
            severity,
            user,
            None,
            &format!("User {user} has two active access keys."),
            &["aws iam list-access-keys --user-name someone"],
        )
    };
    let mut set = findings(inv);
    set.findings.push(open(two_keys("alice", Severity::Medium)));
    set.findings.push(open(two_keys("bob", Severity::Medium)));
    set.findings.push(open(two_keys("mallory", Severity::Low)));
    set.findings.push(EvaluatedFinding {
        finding: two_keys("carol", Severity::Low),
        suppressed: Some(AppliedSuppression {
            reason: "rotation ticket SEC-9".to_string(),
            expires: None,
        }),
        tracking: Default::default(),
    });
    set
}

/// Sums (open, suppressed) per severity over by-rule rows given as (rule, severity, open,
/// suppressed).
fn sums_by_severity(rows: &[(String, String, usize, usize)]) -> BTreeMap<String, (usize, usize)> {
    let mut sums: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (_, severity, open, suppressed) in rows {
        let entry = sums.entry(severity.clone()).or_default();
        entry.0 += open;
        entry.1 += suppressed;
    }
    sums
}

#[test]
fn by_rule_rows_add_up_to_the_severity_totals_in_every_output() {
    let inv = inventory();
    let set = two_severity_findings(&inv);
    let figures = keyhygiene::findings::Figures::of(&inv, &set);
    let run = RunInfo {
        inventory: &inv,
        findings: &set,
        as_of: as_of(),
        fail_on: Some(Severity::High),
        policy_file: None,
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    let files: BTreeMap<&str, Vec<u8>> = report::render(&[Format::Html, Format::Json], &run)
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.bytes))
        .collect();
    // What each severity holds, counted from the finding set itself.
    let mut expected: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in &set.findings {
        let entry = expected
            .entry(f.finding.severity.as_str().to_string())
            .or_default();
        if f.suppressed.is_some() {
            entry.1 += 1;
        } else {
            entry.0 += 1;
        }
    }

    // report.json
    let doc: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    assert_valid(&schema_validator(), &doc);
    let rows: Vec<(String, String, usize, usize)> = doc["summary"]["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_str().unwrap().to_string(),
                r["severity"].as_str().unwrap().to_string(),
                r["open"].as_u64().unwrap() as usize,
                r["suppressed"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(sums_by_severity(&rows), expected, "report.json: {rows:?}");
    for (severity, (open, suppressed)) in &expected {
        assert_eq!(doc["summary"]["by_severity"][severity]["open"], *open);
        assert_eq!(
            doc["summary"]["by_severity"][severity]["suppressed"],
            *suppressed
        );
    }
    let two: Vec<&(String, String, usize, usize)> = rows
        .iter()
        .filter(|r| r.0 == "user-two-active-keys")
        .collect();
    assert_eq!(
        two,
        vec![
            &(
                "user-two-active-keys".to_string(),
                "medium".to_string(),
                2,
                0
            ),
            &("user-two-active-keys".to_string(), "low".to_string(), 1, 1),
        ]
    );

    // report.html: the by-rule table against the severity tiles.
    let doc = Html::parse_document(&String::from_utf8(files["report.html"].clone()).unwrap());
    let rows: Vec<(String, String, usize, usize)> = doc
        .select(&sel("#rule-summary tbody tr"))
        .map(|tr| {
            let cells: Vec<String> = tr
                .select(&sel("td"))
                .map(|td| td.text().collect::<String>().trim().to_string())
                .collect();
            (
                cells[0].clone(),
                cells[1].clone(),
                cells[2].parse().unwrap(),
                cells[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(sums_by_severity(&rows), expected, "report.html: {rows:?}");
    let tiles: BTreeMap<String, usize> = doc
        .select(&sel(".tile"))
        .map(|t| {
            let text = |s: &str| t.select(&sel(s)).next().unwrap().text().collect::<String>();
            (text(".tile-label"), text(".tile-count").parse().unwrap())
        })
        .collect();
    for (severity, (open, _)) in &expected {
        assert_eq!(tiles[severity], *open, "the {severity} tile");
    }

    // The stdout summary: one line per rule and severity under the totals line.
    let summary = summary_text(&report::ReportModel::build(&run), &[]);
    let rows: Vec<(String, String, usize, usize)> = summary
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with("gap:"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let suppressed = l
                .split("(+")
                .nth(1)
                .map_or(0, |s| s.split(' ').next().unwrap().parse().unwrap());
            (
                words[0].to_string(),
                words[1].to_string(),
                words[2].parse().unwrap(),
                suppressed,
            )
        })
        .collect();
    assert_eq!(sums_by_severity(&rows), expected, "stdout:\n{summary}");
}

// ---------------------------------------------------------------- scale

/// 5,000 users with 10,000 keys: every report renders, with one inventory row per key.
/// The time is printed, never asserted (benchmarks live elsewhere).
#[test]
fn a_large_account_renders_all_reports() {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    let mut list = Vec::new();
    for i in 0..5000 {
        let name = format!("user-{i:05}");
        let keys = (0..2)
            .map(|k| {
                key(
                    &format!("AKIA{i:08}{k:08}"),
                    if k == 0 {
                        KeyStatus::Active
                    } else {
                        KeyStatus::Inactive
                    },
                    (i * 7 + k * 100) as i64 % 900,
                    if i % 3 == 0 {
                        LastUse::Never
                    } else {
                        used((i % 400) as i64, "s3", "us-east-1")
                    },
                    Some("batch job"),
                )
            })
            .collect();
        inv.users.push(user(&name, "/", keys, None));
    }
    inv.normalize();
    for u in &inv.users {
        for k in &u.keys {
            if (as_of() - k.created).num_days() > 365 {
                list.push(open(Finding {
                    rule_id: "key-age".to_string(),
                    finding_id: support::test_finding_id(ACCOUNT, "key-age", &u.name, k.id.as_deref()),
                    user_id: None,
                    severity: Severity::High,
                    account_id: Some(ACCOUNT.parse().unwrap()),
                    user_name: u.name.clone(),
                    user_arn: u.arn.clone(),
                    access_key_id: k.id.clone(),
                    key_status: Some(k.status),
                    key_created: Some(k.created),
                    key_age_days: Some((as_of() - k.created).num_days()),
                    last_used_date: None,
                    last_used_service: None,
                    last_used_region: None,
                    last_used_source: None,
                    days_since_last_use: None,
                    description: k.description.clone(),
                    message: "Key is older than 365 days.".to_string(),
                    compliance: vec![],
                    remediation: vec![format!(
                        "aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
                        u.name,
                        k.id.as_deref().unwrap()
                    )],
                }));
            }
        }
    }
    let set = FindingSet {
        findings: list,
        ..FindingSet::default()
    };
    let started = std::time::Instant::now();
    let files = render(&inv, &set);
    eprintln!(
        "rendered 5,000 users / 10,000 keys / {} findings in {:?} (debug build)",
        set.findings.len(),
        started.elapsed()
    );
    let html = String::from_utf8(files["report.html"].clone()).unwrap();
    eprintln!("report.html is {} KiB", html.len() / 1024);
    // Kept for trying the page's filter and sort by hand on a large account.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("large-report.html"),
        &html,
    );
    let doc = Html::parse_document(&html);
    assert_eq!(doc.select(&sel("#key-rows > tr")).count(), 10_000);
    assert!(
        doc.select(&sel("details.more article.finding")).count() > 0,
        "long rule sections fold"
    );
    assert_eq!(
        doc.select(&sel("#key-rows > tr:not([hidden])")).count(),
        500,
        "the page shows the first 500 keys and offers the rest"
    );
    assert!(doc.select(&sel("#show-all:not([hidden])")).next().is_some());
    assert_eq!(
        doc.select(&sel("article.finding")).count(),
        set.findings.len()
    );
    assert!(
        doc.select(&sel("#page-limits, .page-limit"))
            .next()
            .is_none(),
        "an account of IAM's default size is shown in full"
    );
    let (_, rows) = read_csv(&files["keys.csv"]);
    assert_eq!(rows.len(), 10_000);
}

/// More keys, findings, suppressed findings and gaps than the HTML page holds: the page
/// holds as many as its limits allow, worst first, and says what it leaves out and where
/// to find it; the CSV and JSON files hold everything.
#[test]
fn a_page_beyond_its_limits_lists_the_worst_and_says_what_it_leaves_out() {
    use keyhygiene::report::model::{
        FINDINGS_IN_PAGE, GAPS_IN_PAGE, KEY_ROWS_IN_PAGE, SUPPRESSED_IN_PAGE,
    };
    let users = KEY_ROWS_IN_PAGE / 2 + 1;
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    for i in 0..users {
        let keys = (0..2)
            .map(|k| {
                key(
                    &format!("AKIA{i:08}{k:08}"),
                    KeyStatus::Active,
                    100 + (i % 500) as i64,
                    LastUse::Never,
                    None,
                )
            })
            .collect();
        inv.users
            .push(user(&format!("user-{i:05}"), "/", keys, None));
    }
    inv.gaps = (0..=GAPS_IN_PAGE)
        .map(|i| CoverageGap {
            user: Some(format!("user-{i:05}")),
            access_key_id: None,
            operation: "ListUserTags".to_string(),
            error_code: "Throttling".to_string(),
            impact: "the key descriptions are unknown".to_string(),
        })
        .collect();
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    inv.normalize();
    let keys = inv.user_key_count();
    assert!(keys > KEY_ROWS_IN_PAGE);
    let short = |u: &User, k: &AccessKey, rule: &str, severity: Severity| Finding {
        rule_id: rule.to_string(),
        finding_id: support::test_finding_id(ACCOUNT, rule, &u.name, k.id.as_deref()),
        user_id: None,
        severity,
        account_id: Some(ACCOUNT.parse().unwrap()),
        user_name: u.name.clone(),
        user_arn: u.arn.clone(),
        access_key_id: k.id.clone(),
        key_status: Some(k.status),
        key_created: Some(k.created),
        key_age_days: None,
        last_used_date: None,
        last_used_service: None,
        last_used_region: None,
        last_used_source: None,
        days_since_last_use: None,
        description: None,
        message: "m".to_string(),
        compliance: vec![],
        remediation: vec![],
    };
    // Every key is old (a third of them high), every first key unused, and the second key
    // of the first users never used but suppressed.
    let mut list = Vec::new();
    for (i, u) in inv.users.iter().enumerate() {
        let severity = if i % 3 == 0 {
            Severity::High
        } else {
            Severity::Medium
        };
        list.push(open(short(u, &u.keys[0], "key-not-rotated", severity)));
        list.push(open(short(u, &u.keys[1], "key-not-rotated", severity)));
        list.push(open(short(u, &u.keys[0], "key-unused", Severity::Low)));
        if i <= SUPPRESSED_IN_PAGE {
            list.push(EvaluatedFinding {
                finding: short(u, &u.keys[1], "key-never-used", Severity::Low),
                suppressed: Some(AppliedSuppression {
                    reason: "batch keys".to_string(),
                    expires: None,
                }),
                tracking: Default::default(),
            });
        }
    }
    let set = FindingSet {
        findings: list,
        ..FindingSet::default()
    };
    let open_count = set.active().count();
    let suppressed_count = set.suppressed().count();
    assert!(open_count > FINDINGS_IN_PAGE && suppressed_count > SUPPRESSED_IN_PAGE);
    let files = render(&inv, &set);

    // The CSV and JSON files hold everything.
    assert_eq!(read_csv(&files["keys.csv"]).1.len(), keys);
    assert_eq!(
        read_csv(&files["findings.csv"]).1.len(),
        open_count + suppressed_count
    );
    let json: serde_json::Value = serde_json::from_slice(&files["report.json"]).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), open_count);
    assert_eq!(
        json["suppressed_findings"].as_array().unwrap().len(),
        suppressed_count
    );
    assert_eq!(
        json["coverage"]["gaps"].as_array().unwrap().len(),
        GAPS_IN_PAGE + 1
    );

    let html = String::from_utf8(files["report.html"].clone()).unwrap();
    let doc = Html::parse_document(&html);
    let text = |selector: &str| -> String {
        doc.select(&sel(selector))
            .next()
            .unwrap_or_else(|| panic!("no {selector}"))
            .text()
            .collect()
    };
    // The inventory: the worst keys, and a note that points to keys.csv.
    let ranks: Vec<u8> = doc
        .select(&sel("#key-rows > tr"))
        .map(|tr| tr.value().attr("data-sev").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ranks.len(), KEY_ROWS_IN_PAGE);
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "worst first");
    let high_keys = 2 * users.div_ceil(3);
    assert_eq!(
        ranks.iter().filter(|&&r| r == 3).count(),
        high_keys,
        "every high key is in the page"
    );
    let note = text("#inventory-limit");
    assert!(
        note.contains(&format!("Showing {KEY_ROWS_IN_PAGE} of {keys} keys"))
            && note.contains("keys.csv"),
        "{note}"
    );
    // The findings: the page's share, each capped rule saying where the rest are.
    assert_eq!(
        doc.select(&sel("article.finding")).count(),
        FINDINGS_IN_PAGE
    );
    // key-unused fits in its share and is whole; key-not-rotated takes the rest.
    for (rule, capped) in [("key-not-rotated", true), ("key-unused", false)] {
        let cards = doc
            .select(&sel(&format!("#rule-{rule} article.finding")))
            .count();
        let total = set.active().filter(|f| f.rule_id == rule).count();
        let note: Option<String> = doc
            .select(&sel(&format!("#rule-{rule} .page-limit")))
            .next()
            .map(|n| n.text().collect());
        if capped {
            assert!(cards < total);
            let note = note.expect("a capped rule says so");
            assert!(
                note.contains(&format!("{} more", total - cards)) && note.contains("findings.csv"),
                "{note}"
            );
        } else {
            assert_eq!((cards, note), (total, None));
        }
    }
    // The counts still cover everything.
    let tiles: usize = doc
        .select(&sel(".tile-count"))
        .map(|t| t.text().collect::<String>().parse::<usize>().unwrap())
        .sum();
    assert_eq!(tiles, open_count);
    // Suppressed findings and gaps.
    assert_eq!(
        doc.select(&sel("tr.suppressed-finding")).count(),
        SUPPRESSED_IN_PAGE
    );
    assert!(text("#suppressions .page-limit").contains("1 more"));
    assert_eq!(doc.select(&sel("#gaps tbody tr")).count(), GAPS_IN_PAGE);
    assert!(text("#coverage .page-limit").contains("report.json"));
    // One banner at the top sums it all up.
    assert_eq!(doc.select(&sel("#page-limits li")).count(), 4);
    let banner = text("#page-limits");
    for file in ["keys.csv", "findings.csv", "report.json"] {
        assert!(banner.contains(file), "{banner}");
    }
}

#[test]
fn a_long_list_of_gaps_is_summarised_in_the_banner_and_listed_in_full() {
    let mut inv = inventory();
    // Mallory's gap stays: it explains her key's unknown last use.
    inv.gaps.extend((0..25).map(|i| CoverageGap {
        user: Some(format!("user-{i:02}")),
        access_key_id: None,
        operation: "ListAccessKeys".to_string(),
        error_code: "Throttling".to_string(),
        impact: "the user's keys are unknown".to_string(),
    }));
    inv.normalize();
    let set = findings(&inv);
    let html = String::from_utf8(render(&inv, &set)["report.html"].clone()).unwrap();
    let doc = Html::parse_document(&html);
    assert_eq!(doc.select(&sel("#coverage-banner li")).count(), 10);
    let banner: String = doc
        .select(&sel("#coverage-banner"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(banner.contains("and 16 more"), "{banner}");
    assert_eq!(doc.select(&sel("#gaps tbody tr")).count(), 26);
}

/// The summary a single account's run prints on stdout.
fn summary_text(m: &report::ReportModel, written: &[std::path::PathBuf]) -> String {
    report::summary::account(m)
        + &report::summary::closing(m.fail_on, m.summary.fails_threshold, written)
}
