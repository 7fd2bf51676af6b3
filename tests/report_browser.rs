//! `report.html` in a real browser: headless Chromium opens the page with the filter and sort
//! given in the URL fragment, and the dumped DOM shows what the reader would see. A second
//! run takes a screenshot.
//!
//! Chromium is required. `scripts/test` installs it; by hand: `apt-get install chromium`.
//! Set `KEYHYGIENE_CHROMIUM` to use another binary.

mod support;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyhygiene::findings::{
    AppliedSuppression, EvaluatedFinding, Finding, FindingSet, Severity, SuppressionNotice,
};
use keyhygiene::inventory::{
    AccessKey, CredentialReportInfo, Inventory, KeyStatus, LastUse, LoginInfo, RootKey, RootKeys,
    SourceInfo, Tag, User,
};
use keyhygiene::report::{self, Format, RunInfo};
use scraper::{ElementRef, Html, Selector};
use support::run_chromium;

const ACCOUNT: &str = "210987654321";

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    as_of() - Duration::days(days)
}

struct KeySpec {
    user: &'static str,
    path: &'static str,
    id: &'static str,
    active: bool,
    age: i64,
    /// Days since last use; `None` for never used.
    idle: Option<i64>,
    service: &'static str,
    description: Option<&'static str>,
}

const KEYS: &[KeySpec] = &[
    KeySpec {
        user: "alice.nguyen",
        path: "/staff/",
        id: "AKIA4ALICE00000001",
        active: true,
        age: 412,
        idle: Some(1),
        service: "s3",
        description: Some("laptop CLI"),
    },
    KeySpec {
        user: "alice.nguyen",
        path: "/staff/",
        id: "AKIA4ALICE00000002",
        active: false,
        age: 95,
        idle: None,
        service: "",
        description: None,
    },
    KeySpec {
        user: "backup-agent",
        path: "/service/",
        id: "AKIA4BACKUP0000001",
        active: true,
        age: 731,
        idle: Some(0),
        service: "s3",
        description: Some("nightly RDS snapshot export"),
    },
    KeySpec {
        user: "ci-deploy",
        path: "/service/",
        id: "AKIA4CIDEPLOY00001",
        active: true,
        age: 38,
        idle: Some(0),
        service: "cloudformation",
        description: Some("GitHub Actions deploy"),
    },
    KeySpec {
        user: "ci-deploy",
        path: "/service/",
        id: "AKIA4CIDEPLOY00002",
        active: true,
        age: 301,
        idle: Some(120),
        service: "sts",
        description: Some("old Jenkins <script>alert(1)</script>"),
    },
    KeySpec {
        user: "data-export",
        path: "/service/",
        id: "AKIA4DATAEXP000001",
        active: true,
        age: 190,
        idle: None,
        service: "",
        description: None,
    },
    KeySpec {
        user: "grafana",
        path: "/service/",
        id: "AKIA4GRAFANA000001",
        active: true,
        age: 12,
        idle: Some(0),
        service: "cloudwatch",
        description: Some("dashboards"),
    },
    KeySpec {
        user: "legacy-etl",
        path: "/",
        id: "AKIA4LEGACYETL0001",
        active: true,
        age: 1204,
        idle: Some(388),
        service: "dynamodb",
        description: None,
    },
    KeySpec {
        user: "marco.rossi",
        path: "/staff/",
        id: "AKIA4MARCO00000001",
        active: true,
        age: 64,
        idle: Some(3),
        service: "ec2",
        description: None,
    },
    KeySpec {
        user: "priya.shah",
        path: "/staff/",
        id: "AKIA4PRIYA00000001",
        active: false,
        age: 250,
        idle: Some(200),
        service: "iam",
        description: None,
    },
    KeySpec {
        user: "terraform",
        path: "/service/",
        id: "AKIA4TERRAFORM0001",
        active: true,
        age: 160,
        idle: Some(2),
        service: "iam",
        description: Some("=cmd|' /C calc'!A0"),
    },
    KeySpec {
        user: "zoe.martin",
        path: "/staff/",
        id: "AKIA4ZOE0000000001",
        active: true,
        age: 20,
        idle: Some(9),
        service: "lambda",
        description: None,
    },
];

fn inventory() -> Inventory {
    let mut inv = Inventory::new(
        SourceInfo::Live { endpoint: None },
        as_of() - Duration::minutes(20),
    );
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    for spec in KEYS {
        if !inv.users.iter().any(|u| u.name == spec.user) {
            inv.users.push(User {
                name: spec.user.to_string(),
                arn: format!("arn:aws:iam::{ACCOUNT}:user{}{}", spec.path, spec.user),
                path: spec.path.to_string(),
                user_id: String::new(),
                created: Some(days_ago(1500)),
                tags: Vec::new(),
                keys: Vec::new(),
                login: Some(LoginInfo {
                    password_enabled: spec.path == "/staff/",
                    password_last_used: None,
                    mfa_active: spec.user != "marco.rossi",
                }),
            });
        }
        let user = inv.users.iter_mut().find(|u| u.name == spec.user).unwrap();
        if let Some(d) = spec.description {
            user.tags.push(Tag {
                key: spec.id.to_string(),
                value: d.to_string(),
            });
        }
        user.keys.push(AccessKey {
            id: Some(spec.id.to_string()),
            slot: None,
            status: if spec.active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created: days_ago(spec.age),
            last_used_source: Default::default(),
            last_used: match spec.idle {
                Some(idle) => LastUse::Used {
                    date: days_ago(idle),
                    service: (!spec.service.is_empty()).then(|| spec.service.to_string()),
                    region: Some("eu-west-1".to_string()),
                },
                None => LastUse::Never,
            },
            description: spec.description.map(str::to_string),
        });
    }
    inv.root = RootKeys::CredentialReport {
        arn: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
        keys: vec![RootKey {
            slot: 1,
            active: true,
            last_rotated: Some(days_ago(1900)),
            last_used: LastUse::Used {
                date: days_ago(44),
                service: Some("s3".into()),
                region: Some("us-east-1".into()),
            },
        }],
    };
    inv.credential_report = Some(CredentialReportInfo {
        generated_at: Some(as_of() - Duration::minutes(25)),
        has_root_row: true,
    });
    inv.normalize();
    inv
}

fn finding(
    inv: &Inventory,
    rule: &str,
    severity: Severity,
    key_id: &str,
    message: &str,
    compliance: &[&str],
) -> Finding {
    if key_id == "access key 1" {
        return Finding {
            rule_id: rule.into(),
            finding_id: support::test_finding_id(ACCOUNT, rule, "<root_account>", Some(key_id)),
            user_id: None,
            severity,
            account_id: Some(ACCOUNT.parse().unwrap()),
            user_name: "<root_account>".into(),
            user_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
            access_key_id: Some(key_id.into()),
            key_status: Some(KeyStatus::Active),
            key_created: Some(days_ago(1900)),
            key_age_days: Some(1900),
            last_used_date: Some(days_ago(44)),
            last_used_service: Some("s3".into()),
            last_used_region: Some("us-east-1".into()),
            last_used_source: None,
            days_since_last_use: Some(44),
            description: None,
            message: message.into(),
            compliance: compliance.iter().map(|s| s.to_string()).collect(),
            remediation: vec![
                "Sign in to the AWS Management Console as the root user.".into(),
                "Open Security credentials, find access key 1 and choose Delete.".into(),
                "Store the root credentials offline and use IAM roles for automation.".into(),
            ],
        };
    }
    let user = inv
        .users
        .iter()
        .find(|u| u.keys.iter().any(|k| k.id.as_deref() == Some(key_id)))
        .unwrap();
    let key = user
        .keys
        .iter()
        .find(|k| k.id.as_deref() == Some(key_id))
        .unwrap();
    let last = key.last_used.date();
    Finding {
        rule_id: rule.into(),
        finding_id: support::test_finding_id(ACCOUNT, rule, &user.name, Some(key_id)),
        user_id: None,
        severity,
        account_id: Some(ACCOUNT.parse().unwrap()),
        user_name: user.name.clone(),
        user_arn: user.arn.clone(),
        access_key_id: key.id.clone(),
        key_status: Some(key.status),
        key_created: Some(key.created),
        key_age_days: Some((as_of() - key.created).num_days()),
        last_used_date: last,
        last_used_service: match &key.last_used {
            LastUse::Used { service, .. } => service.clone(),
            _ => None,
        },
        last_used_region: None,
        last_used_source: None,
        days_since_last_use: last.map(|d| (as_of() - d).num_days()),
        description: key.description.clone(),
        message: message.into(),
        compliance: compliance.iter().map(|s| s.to_string()).collect(),
        remediation: vec![
            format!("aws iam create-access-key --user-name {}", user.name),
            format!(
                "aws iam update-access-key --user-name {} --access-key-id {key_id} --status Inactive",
                user.name
            ),
            format!(
                "aws iam delete-access-key --user-name {} --access-key-id {key_id}",
                user.name
            ),
        ],
    }
}

fn findings(inv: &Inventory) -> FindingSet {
    let open = |f| EvaluatedFinding {
        finding: f,
        suppressed: None,
        tracking: Default::default(),
    };
    let mut list = vec![
        open(finding(
            inv,
            "root-access-key",
            Severity::Critical,
            "access key 1",
            "The root user has an active access key, last used 44 days ago. Root keys cannot be limited by IAM policies.",
            &["CIS 1.4", "Security Hub IAM.4"],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::High,
            "AKIA4LEGACYETL0001",
            "Active key is 1204 days old, more than the 90-day rotation limit.",
            &["CIS 1.14", "Security Hub IAM.3"],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::High,
            "AKIA4BACKUP0000001",
            "Active key is 731 days old, more than the 90-day rotation limit.",
            &["CIS 1.14", "Security Hub IAM.3"],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::High,
            "AKIA4ALICE00000001",
            "Active key is 412 days old, more than the 90-day rotation limit.",
            &["CIS 1.14", "Security Hub IAM.3"],
        )),
        open(finding(
            inv,
            "key-age",
            Severity::Medium,
            "AKIA4TERRAFORM0001",
            "Active key is 160 days old, more than the 90-day rotation limit.",
            &["CIS 1.14"],
        )),
        open(finding(
            inv,
            "unused-key",
            Severity::Medium,
            "AKIA4LEGACYETL0001",
            "Active key has not been used for 388 days.",
            &["CIS 1.12"],
        )),
        open(finding(
            inv,
            "unused-key",
            Severity::Medium,
            "AKIA4DATAEXP000001",
            "Active key was created 190 days ago and has never been used.",
            &["CIS 1.12"],
        )),
        open(finding(
            inv,
            "multiple-active-keys",
            Severity::Low,
            "AKIA4CIDEPLOY00002",
            "User ci-deploy has two active keys; the older one was last used 120 days ago.",
            &["CIS 1.13"],
        )),
        open(finding(
            inv,
            "inactive-key",
            Severity::Low,
            "AKIA4PRIYA00000001",
            "Inactive key has been kept for 250 days; delete it.",
            &[],
        )),
    ];
    list.push(EvaluatedFinding {
        finding: finding(
            inv,
            "key-age",
            Severity::High,
            "AKIA4CIDEPLOY00002",
            "Active key is 301 days old, more than the 90-day rotation limit.",
            &["CIS 1.14"],
        ),
        suppressed: Some(AppliedSuppression {
            reason: "Jenkins decommissioning, ticket SEC-1432".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2026, 7, 15),
        }),
        tracking: Default::default(),
    });
    FindingSet {
        findings: list,
        expired_suppressions: vec![SuppressionNotice {
            rule: "unused-key".into(),
            user: "priya.shah".into(),
            access_key_id: None,
            account: None,
            finding_id: None,
            reason: "parental leave".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
            location: "keyhygiene.toml:18".into(),
        }],
        unused_suppressions: vec![],
        resolved: Vec::new(),
        not_assessed: Vec::new(),
    }
}

struct Page {
    _dir: tempfile::TempDir,
    file: PathBuf,
    keys: usize,
}

fn write_page() -> Page {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory();
    let set = findings(&inv);
    let figures = keyhygiene::findings::Figures::of(&inv, &set);
    let run = RunInfo {
        inventory: &inv,
        findings: &set,
        as_of: as_of(),
        fail_on: Some(Severity::High),
        policy_file: Some(Path::new("keyhygiene.toml")),
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    let written = report::write_reports(dir.path(), &[Format::Html], &run).unwrap();
    Page {
        file: written[0].clone(),
        keys: inv.user_key_count() + 1,
        _dir: dir,
    }
}

fn dump(page: &Page, fragment: &str) -> Html {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#{fragment}", page.file.display());
    let dom = run_chromium(profile.path(), &["--dump-dom".to_string()], &url);
    assert!(
        dom.contains("key-rows"),
        "chromium dumped no report: {dom:.200}"
    );
    Html::parse_document(&dom)
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn assert_ready(doc: &Html) {
    let body = doc.select(&sel("body")).next().unwrap();
    assert_eq!(
        body.value().attr("data-js-errors"),
        Some("0"),
        "the page raised JavaScript errors"
    );
    assert_eq!(
        body.value().attr("data-js-ready"),
        Some("1"),
        "the page script did not finish"
    );
}

fn visible_rows(doc: &Html) -> Vec<ElementRef<'_>> {
    doc.select(&sel("#key-rows > tr"))
        .filter(|r| r.value().attr("hidden").is_none())
        .collect()
}

fn cell(row: &ElementRef<'_>, index: usize) -> String {
    row.select(&sel("td"))
        .nth(index)
        .unwrap()
        .text()
        .collect::<String>()
        .trim()
        .to_string()
}

#[test]
fn the_report_runs_in_chromium_and_the_filter_and_sort_change_the_rows() {
    let page = write_page();

    let plain = dump(&page, "");
    assert_ready(&plain);
    assert_eq!(
        visible_rows(&plain).len(),
        page.keys,
        "every key is visible without a filter"
    );
    let count: String = plain
        .select(&sel("#key-count"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(count, format!("{0} of {0} keys", page.keys));

    let filtered = dump(&page, "filter=alice");
    assert_ready(&filtered);
    let rows = visible_rows(&filtered);
    assert_eq!(rows.len(), 2, "only alice's two keys match");
    assert!(rows.iter().all(|r| cell(r, 0).contains("alice.nguyen")));

    let severe = dump(&page, "severity=medium");
    assert_ready(&severe);
    let rows = visible_rows(&severe);
    // Keys with an open finding of medium or worse: root, legacy-etl, backup-agent,
    // alice's first key, terraform, data-export.
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|r| r.value().attr("data-sev").unwrap().parse::<u8>().unwrap() >= 2)
    );

    let both = dump(&page, "filter=service&severity=high");
    assert_ready(&both);
    assert_eq!(
        visible_rows(&both).len(),
        1,
        "only backup-agent is both high and under /service/"
    );

    let sorted = dump(&page, "sort=age-desc");
    assert_ready(&sorted);
    let ages: Vec<i64> = visible_rows(&sorted)
        .iter()
        .map(|r| r.value().attr("data-age").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ages.len(), page.keys);
    assert_eq!(ages[0], 1900, "the oldest key (root's) comes first");
    assert!(
        ages.windows(2).all(|w| w[0] >= w[1]),
        "ages descend: {ages:?}"
    );
    let header = sorted.select(&sel("th[data-sort=age]")).next().unwrap();
    assert_eq!(header.value().attr("aria-sort"), Some("descending"));

    let by_user = dump(&page, "sort=user-asc&severity=all");
    assert_ready(&by_user);
    let users: Vec<String> = visible_rows(&by_user).iter().map(|r| cell(r, 0)).collect();
    let mut expected = users.clone();
    expected.sort_by_key(|u| u.to_lowercase());
    assert_eq!(users, expected);
    assert_ne!(
        users,
        visible_rows(&plain)
            .iter()
            .map(|r| cell(r, 0))
            .collect::<Vec<_>>(),
        "the sort reordered the rows"
    );
}

#[test]
fn chromium_takes_a_screenshot_of_the_report() {
    let page = write_page();
    let profile = tempfile::tempdir().unwrap();
    // Kept under target/ so that a person can look at it after the test.
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let _ = std::fs::copy(&page.file, png.with_extension("html"));
    let url = format!("file://{}", page.file.display());
    run_chromium(
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,2000".to_string(),
            "--hide-scrollbars".to_string(),
        ],
        &url,
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG");
    assert!(
        bytes.len() > 20_000,
        "the screenshot is not blank ({} bytes)",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}

/// An account with more keys than the page shows at once: the first 500 are displayed, a
/// filter searches all of them, and `show=all` (the "Show all" button) lifts the limit.
#[test]
fn a_large_inventory_shows_the_first_rows_and_filters_all_of_them() {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    for i in 0..600 {
        let name = format!("svc-{i:04}");
        inv.users.push(User {
            name: name.clone(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            path: "/".to_string(),
            user_id: String::new(),
            created: None,
            tags: Vec::new(),
            keys: (0..2)
                .map(|k| AccessKey {
                    id: Some(format!("AKIA{i:08}{k:08}")),
                    slot: None,
                    status: KeyStatus::Active,
                    created: days_ago(((i * 13 + k * 50) % 700) as i64),
                    last_used_source: Default::default(),
                    last_used: LastUse::Never,
                    description: None,
                })
                .collect(),
            login: None,
        });
    }
    inv.normalize();
    let set = FindingSet::default();
    let dir = tempfile::tempdir().unwrap();
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
    let written = report::write_reports(dir.path(), &[Format::Html], &run).unwrap();
    let page = Page {
        file: written[0].clone(),
        keys: 1200,
        _dir: dir,
    };

    let plain = dump(&page, "");
    assert_ready(&plain);
    assert_eq!(visible_rows(&plain).len(), 500);
    let count: String = plain
        .select(&sel("#key-count"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(count, "500 shown of 1200 keys");

    // A filter searches every row, including the ones not on display.
    let filtered = dump(&page, "filter=svc-059");
    assert_ready(&filtered);
    assert_eq!(
        visible_rows(&filtered).len(),
        20,
        "svc-0590 to svc-0599, two keys each"
    );

    // Sorting picks the first 500 in the new order.
    let oldest = dump(&page, "sort=age-desc");
    assert_ready(&oldest);
    let ages: Vec<i64> = visible_rows(&oldest)
        .iter()
        .map(|r| r.value().attr("data-age").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ages.len(), 500);
    assert_eq!(ages[0], 699);
    assert!(ages.windows(2).all(|w| w[0] >= w[1]));

    let all = dump(&page, "show=all");
    assert_ready(&all);
    assert_eq!(visible_rows(&all).len(), page.keys);
    assert!(all.select(&sel("#show-all[hidden]")).next().is_some());
}

/// An account with more keys than the page holds: the page holds the first
/// `KEY_ROWS_IN_PAGE`, says that the others are in keys.csv, and a filter that matches only
/// keys left out of the page says where to look.
#[test]
fn a_page_beyond_its_key_limit_says_where_the_other_keys_are() {
    use keyhygiene::report::model::KEY_ROWS_IN_PAGE;
    let users = KEY_ROWS_IN_PAGE / 2 + 1;
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    for i in 0..users {
        let name = format!("svc-{i:05}");
        inv.users.push(User {
            name: name.clone(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            path: "/".to_string(),
            user_id: String::new(),
            created: None,
            tags: Vec::new(),
            keys: (0..2)
                .map(|k| AccessKey {
                    id: Some(format!("AKIA{i:08}{k:08}")),
                    slot: None,
                    status: KeyStatus::Active,
                    created: days_ago(30 + k),
                    last_used_source: Default::default(),
                    last_used: LastUse::Never,
                    description: None,
                })
                .collect(),
            login: None,
        });
    }
    inv.normalize();
    let keys = inv.user_key_count();
    let set = FindingSet::default();
    let dir = tempfile::tempdir().unwrap();
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
    let written = report::write_reports(dir.path(), &[Format::Html], &run).unwrap();
    let page = Page {
        file: written[0].clone(),
        keys,
        _dir: dir,
    };
    let text = |doc: &Html, selector: &str| -> String {
        doc.select(&sel(selector))
            .next()
            .unwrap_or_else(|| panic!("no {selector}"))
            .text()
            .collect()
    };

    let plain = dump(&page, "");
    assert_ready(&plain);
    assert_eq!(
        plain.select(&sel("#key-rows > tr")).count(),
        KEY_ROWS_IN_PAGE
    );
    assert_eq!(visible_rows(&plain).len(), 500);
    assert_eq!(
        text(&plain, "#key-count"),
        format!("500 shown of {KEY_ROWS_IN_PAGE} keys in this page; {keys} in keys.csv")
    );
    assert!(text(&plain, "#inventory-limit").contains("keys.csv"));
    assert!(text(&plain, "#page-limits").contains("keys.csv"));

    // The last user's keys are not in the page: the filter finds nothing and says why.
    let missing = dump(&page, &format!("filter=svc-{:05}", users - 1));
    assert_ready(&missing);
    assert!(visible_rows(&missing).is_empty());
    let no_match = missing.select(&sel("#no-match")).next().unwrap();
    assert!(no_match.value().attr("hidden").is_none());
    assert!(
        no_match.text().collect::<String>().contains("keys.csv"),
        "the empty result points to keys.csv"
    );
}

/// The page at a phone's width and at a desktop's: headless Chromium will not make a
/// window narrower than 500 px, so a harness page holds the report in iframes of the
/// widths to check, and reports what it measured into its own DOM.
const WIDTH_HARNESS: &str = r#"<!doctype html><html><body style="margin:0">
<div id="frames"></div>
<script>
const widths = [360, 420, 768, 1400];
const bytes = Uint8Array.from(atob(document.getElementById('report').dataset.b64), c => c.charCodeAt(0));
const report = new TextDecoder().decode(bytes);
let loaded = 0;
for (const w of widths) {
  const f = document.createElement('iframe');
  f.style.width = w + 'px'; f.style.height = '1200px'; f.style.border = '0';
  f.dataset.width = w;
  f.addEventListener('load', () => { if (++loaded === widths.length) setTimeout(measure, 300); });
  f.srcdoc = report;
  document.getElementById('frames').appendChild(f);
}
function overlap(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}
function measure() {
  const results = [];
  for (const f of document.querySelectorAll('iframe')) {
    const d = f.contentDocument, w = Number(f.dataset.width);
    const r = { width: w, scroll: d.documentElement.scrollWidth, covered: [], small: [], wide: [] };
    // What sticks out: the outermost elements wider than the page.
    for (const e of d.body.querySelectorAll('*')) {
      const box = e.getBoundingClientRect();
      if (box.right > w + 1 && !(e.parentElement.getBoundingClientRect().right > w + 1)) {
        r.wide.push(e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(box.width) + 'px');
      }
    }
    // A copy button must not sit on its commands' text.
    for (const b of d.querySelectorAll('button.copy')) {
      const box = b.getBoundingClientRect();
      if (box.width === 0) continue;
      const pre = b.parentElement.querySelector('pre');
      const walker = d.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const range = d.createRange(); range.selectNodeContents(n);
        for (const rect of range.getClientRects()) {
          if (overlap(rect, box)) { r.covered.push(n.textContent.slice(0, 40)); break; }
        }
      }
    }
    // Chart text as large as it is drawn, after the chart is scaled to the page.
    for (const svg of d.querySelectorAll('svg.chart')) {
      const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      for (const t of svg.querySelectorAll('text')) {
        const px = parseFloat(getComputedStyle(t).fontSize) * scale;
        if (px < 11) r.small.push(t.textContent + ' ' + px.toFixed(1) + 'px');
      }
    }
    results.push(r);
  }
  document.body.setAttribute('data-results', JSON.stringify(results));
}
</script></body></html>"#;

#[test]
fn the_page_fits_a_phone_and_a_desktop() {
    let page = write_page();
    let report = std::fs::read_to_string(&page.file).unwrap();
    // The report goes in base64, so nothing in it can end the harness's own markup.
    use base64::Engine;
    let harness = WIDTH_HARNESS.replace(
        "<div id=\"frames\">",
        &format!(
            "<div id=\"report\" data-b64=\"{}\"></div><div id=\"frames\">",
            base64::engine::general_purpose::STANDARD.encode(report.as_bytes())
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("widths.html");
    std::fs::write(&file, harness).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let dom = run_chromium(
        profile.path(),
        &[
            "--dump-dom".to_string(),
            "--window-size=1600,1400".to_string(),
        ],
        &format!("file://{}", file.display()),
    );
    let doc = Html::parse_document(&dom);
    let body = doc.select(&sel("body")).next().unwrap();
    let results = body
        .value()
        .attr("data-results")
        .unwrap_or_else(|| panic!("the harness measured nothing: {dom:.300}"));
    let results: serde_json::Value = serde_json::from_str(results).unwrap();
    eprintln!("{results}");
    let mut problems = Vec::new();
    for r in results.as_array().unwrap() {
        let width = r["width"].as_u64().unwrap();
        if r["scroll"].as_u64().unwrap() > width {
            problems.push(format!(
                "{width} px: the page is {} px wide ({})",
                r["scroll"], r["wide"]
            ));
        }
        for covered in r["covered"].as_array().unwrap() {
            problems.push(format!("{width} px: a Copy button covers {covered}"));
        }
        for small in r["small"].as_array().unwrap() {
            problems.push(format!("{width} px: chart text {small}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
