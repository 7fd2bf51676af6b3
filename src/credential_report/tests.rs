//! The credential report's parser, its merge into a crawl and the inventory built from it.

use super::*;
use crate::inventory::{
    AccessKey, CredentialReportInfo, Inventory, KeyStatus, LastUseSource, Removed, SourceInfo, User,
};

const REPORT: &str = include_str!("../../tests/fixtures/credential-report.csv");
const NO_ROOT: &str = include_str!("../../tests/fixtures/credential-report-no-root.csv");
const REORDERED: &str = include_str!("../../tests/fixtures/credential-report-reordered.csv");
const MISSING_COLUMN: &str =
    include_str!("../../tests/fixtures/credential-report-missing-column.csv");
const BAD_DATE: &str = include_str!("../../tests/fixtures/credential-report-bad-date.csv");
const BAD_BOOLEAN: &str = include_str!("../../tests/fixtures/credential-report-bad-boolean.csv");
const TRUNCATED: &str = include_str!("../../tests/fixtures/credential-report-truncated.csv");
const EMPTY: &str = include_str!("../../tests/fixtures/credential-report-empty.csv");
const NO_ROTATION: &str = include_str!("../../tests/fixtures/credential-report-no-rotation.csv");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn err(text: &str) -> String {
    parse(text.as_bytes(), "report.csv")
        .expect_err("the file is malformed")
        .to_string()
}

fn row<'a>(report: &'a CredentialReport, user: &str) -> &'a ReportRow {
    report.users.iter().find(|r| r.user == user).unwrap()
}

fn empty_slot(slot: u8) -> KeySlot {
    KeySlot {
        slot,
        active: false,
        last_rotated: None,
        last_used_date: None,
        last_used_region: None,
        last_used_service: None,
    }
}

#[test]
fn a_byte_order_mark_before_the_header_is_ignored() {
    let with_bom = format!("\u{feff}{REPORT}");
    assert_eq!(
        parse(with_bom.as_bytes(), "report.csv").unwrap(),
        parse(REPORT.as_bytes(), "report.csv").unwrap()
    );
}

#[test]
fn parses_the_root_row() {
    let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
    let root = report.root.as_ref().unwrap();
    assert_eq!(root.line, 2);
    assert_eq!(root.arn, "arn:aws:iam::123456789012:root");
    // not_supported for the root user's password reads as false.
    assert!(!root.password_enabled);
    assert!(root.mfa_active);
    assert_eq!(
        root.keys,
        [
            KeySlot {
                slot: 1,
                active: true,
                last_rotated: Some(at("2020-05-01T12:00:00+00:00")),
                last_used_date: Some(at("2025-12-24T17:00:00+00:00")),
                last_used_region: Some("us-east-1".into()),
                last_used_service: Some("s3".into()),
            },
            KeySlot {
                slot: 2,
                active: false,
                last_rotated: Some(at("2021-07-07T07:07:07+00:00")),
                last_used_date: None,
                last_used_region: None,
                last_used_service: None,
            },
        ]
    );
    assert_eq!(
        report.root_keys(),
        Some(RootKeys::CredentialReport {
            arn: Some("arn:aws:iam::123456789012:root".into()),
            keys: vec![
                RootKey {
                    slot: 1,
                    active: true,
                    last_rotated: Some(at("2020-05-01T12:00:00+00:00")),
                    last_used: LastUse::Used {
                        date: at("2025-12-24T17:00:00+00:00"),
                        service: Some("s3".into()),
                        region: Some("us-east-1".into()),
                    },
                },
                RootKey {
                    slot: 2,
                    active: false,
                    last_rotated: Some(at("2021-07-07T07:07:07+00:00")),
                    last_used: LastUse::Never,
                },
            ],
        })
    );
}

#[test]
fn parses_users_and_every_special_value() {
    let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
    let names: Vec<&str> = report.users.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);

    // Two keys; `Z` is accepted as well as `+00:00`.
    let alice = row(&report, "alice");
    assert_eq!(alice.line, 3);
    assert_eq!(
        alice.user_creation_time,
        Some(at("2021-02-03T04:05:06+00:00"))
    );
    assert!(alice.password_enabled);
    assert_eq!(
        alice.password_last_used,
        Some(at("2026-01-14T09:30:00+00:00"))
    );
    assert!(alice.mfa_active);
    assert_eq!(
        alice.keys[1],
        KeySlot {
            slot: 2,
            active: true,
            last_rotated: Some(at("2025-11-20T08:00:00Z")),
            last_used_date: None,
            last_used_region: None,
            last_used_service: None,
        }
    );

    // No keys, no password: n/a, No_Information, NOT_SUPPORTED and FALSE.
    let bob = row(&report, "bob");
    assert!(!bob.password_enabled);
    assert_eq!(bob.password_last_used, None);
    assert!(!bob.mfa_active);
    assert_eq!(bob.keys, [empty_slot(1), empty_slot(2)]);
    assert!(!bob.keys.iter().any(KeySlot::holds_key));

    // One inactive key that was never used (its date column says no_information).
    let carol = row(&report, "carol");
    assert_eq!(carol.arn, "arn:aws:iam::123456789012:user/eng/data/carol");
    assert!(carol.password_enabled);
    assert_eq!(carol.password_last_used, None);
    assert_eq!(
        carol.keys[0],
        KeySlot {
            slot: 1,
            active: false,
            last_rotated: Some(at("2022-01-01T00:00:00+00:00")),
            last_used_date: None,
            last_used_region: None,
            last_used_service: None,
        }
    );
    assert_eq!(carol.keys[0].last_use(), LastUse::Never);
    assert_eq!(carol.keys[1], empty_slot(2));

    // One key, in slot 2; booleans in upper case.
    let dave = row(&report, "dave");
    assert!(dave.mfa_active);
    assert_eq!(dave.keys[0], empty_slot(1));
    assert_eq!(
        dave.keys[1].last_use(),
        LastUse::Used {
            date: at("2026-01-02T03:04:05+00:00"),
            service: Some("sts".into()),
            region: Some("eu-central-1".into()),
        }
    );
    assert!(dave.keys[1].active);

    // A used key whose region and service IAM did not record.
    let erin = row(&report, "erin");
    assert_eq!(
        erin.keys[0].last_use(),
        LastUse::Used {
            date: at("2025-10-10T10:10:10+00:00"),
            service: None,
            region: None,
        }
    );
}

#[test]
fn columns_are_found_by_name() {
    let report = parse(REORDERED.as_bytes(), "report.csv").unwrap();
    let expected = parse(REPORT.as_bytes(), "report.csv").unwrap();
    assert_eq!(report.root, None);
    assert_eq!(report.users.len(), 1);
    let mut alice = row(&expected, "alice").clone();
    alice.line = 2;
    assert_eq!(report.users[0], alice);
}

#[test]
fn a_missing_column_is_named() {
    assert_eq!(
        err(MISSING_COLUMN),
        "report.csv:1: the header lacks the credential report column mfa_active \
         (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
    );
}

#[test]
fn a_bad_date_names_line_column_and_value() {
    assert_eq!(
        err(BAD_DATE),
        "report.csv:4: access_key_1_last_rotated is not a date: \"2024-13-45 noon\" \
         (dates are ISO 8601, like 2026-01-15T10:00:00+00:00; N/A, no_information and not_supported mean no value)"
    );
}

#[test]
fn a_bad_boolean_names_line_column_and_value() {
    assert_eq!(
        err(BAD_BOOLEAN),
        "report.csv:3: mfa_active is not a boolean: \"yes\" (expected true or false)"
    );
}

#[test]
fn a_truncated_row_names_its_line() {
    assert_eq!(
        err(TRUNCATED),
        "report.csv:4: the row has 9 fields but the header has 22; the file is truncated or was edited \
         (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
    );
}

#[test]
fn an_empty_file_is_an_error() {
    assert_eq!(
        err(EMPTY),
        "report.csv:1: the file is empty, not a credential report \
         (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
    );
    assert_eq!(err(""), err(EMPTY));
}

#[test]
fn a_file_that_is_not_a_report_is_an_error() {
    let json = "{\n  \"schema_version\": 1,\n  \"users\": []\n}\n";
    assert_eq!(
        err(json),
        "report.csv:1: not an IAM credential report: the first line is not the report's header (user,arn,user_creation_time,…) \
         (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
    );
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_accepted() {
    let windows = format!("\u{feff}{}", REPORT.replace('\n', "\r\n"));
    assert_eq!(
        parse(windows.as_bytes(), "report.csv").unwrap(),
        parse(REPORT.as_bytes(), "report.csv").unwrap()
    );
    // Lines are still counted right in errors.
    let bad_date = format!("\u{feff}{}", BAD_DATE.replace('\n', "\r\n"));
    assert_eq!(err(&bad_date), err(BAD_DATE));
    assert_eq!(err(&TRUNCATED.replace('\n', "\r\n")), err(TRUNCATED));
}

#[test]
fn a_header_only_report_has_no_rows() {
    let header = REPORT.lines().next().unwrap();
    let report = parse(header.as_bytes(), "report.csv").unwrap();
    assert_eq!(
        report,
        CredentialReport {
            users: vec![],
            root: None
        }
    );
}

fn crawled_user(name: &str) -> User {
    User {
        name: name.into(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        path: "/".into(),
        user_id: format!("AIDA{name}"),
        created: None,
        tags: vec![],
        keys: vec![],
        login: None,
    }
}

#[test]
fn merge_sets_login_context_and_root_keys() {
    let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
    let generated = at("2026-01-16T00:00:00+00:00");
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, generated);
    inv.users = vec![
        crawled_user("alice"),
        crawled_user("bob"),
        crawled_user("zed"),
    ];
    merge_into(&mut inv, &report, Some(generated));

    assert_eq!(
        inv.users[0].login,
        Some(LoginInfo {
            password_enabled: true,
            password_last_used: Some(at("2026-01-14T09:30:00+00:00")),
            mfa_active: true,
        })
    );
    assert_eq!(
        inv.users[1].login,
        Some(LoginInfo {
            password_enabled: false,
            password_last_used: None,
            mfa_active: false,
        })
    );
    // A user the report does not list (created after it was generated) keeps no login.
    assert_eq!(inv.users[2].login, None);
    assert_eq!(
        inv.credential_report,
        Some(CredentialReportInfo {
            generated_at: Some(generated),
            has_root_row: true,
        })
    );
    assert_eq!(inv.root, report.root_keys().unwrap());
}

#[test]
fn merge_without_a_root_row_leaves_root_alone() {
    let report = parse(NO_ROOT.as_bytes(), "report.csv").unwrap();
    assert_eq!(report.root, None);
    let generated = at("2026-01-16T00:00:00+00:00");
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, generated);
    inv.root = RootKeys::AccountSummary { keys_present: true };
    merge_into(&mut inv, &report, Some(generated));
    assert_eq!(inv.root, RootKeys::AccountSummary { keys_present: true });
    assert_eq!(
        inv.credential_report,
        Some(CredentialReportInfo {
            generated_at: Some(generated),
            has_root_row: false,
        })
    );
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("credential-report")
        .suffix(".csv")
        .tempfile()
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();
    file
}

#[test]
fn load_inventory_builds_users_and_slot_named_keys() {
    let file = write_temp(REPORT);
    let name = file.path().display().to_string();
    let generated = at("2026-01-16T00:00:00+00:00");
    let inv = load_inventory(file.path(), Some(generated)).unwrap();

    assert_eq!(inv.source, SourceInfo::CredentialReport { file: name });
    assert_eq!(inv.collected_at, generated);
    assert_eq!(inv.account_id.as_deref(), Some("123456789012"));
    assert_eq!(
        inv.credential_report,
        Some(CredentialReportInfo {
            generated_at: Some(generated),
            has_root_row: true,
        })
    );
    assert!(matches!(&inv.root, RootKeys::CredentialReport { keys, .. } if keys.len() == 2));
    assert!(inv.is_complete());
    assert_eq!(inv.removed_during_crawl, Vec::<Removed>::new());

    let names: Vec<&str> = inv.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);
    let paths: Vec<&str> = inv.users.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(paths, ["/", "/", "/eng/data/", "/ops/", "/"]);

    let alice = &inv.users[0];
    assert_eq!(alice.created, Some(at("2021-02-03T04:05:06+00:00")));
    assert_eq!(
        alice.keys,
        vec![
            AccessKey {
                id: None,
                slot: Some(1),
                status: KeyStatus::Active,
                created: at("2024-03-10T10:00:00+00:00"),
                last_used: LastUse::Used {
                    date: at("2026-01-15T10:00:00+00:00"),
                    service: Some("iam".into()),
                    region: Some("eu-west-1".into()),
                },
                last_used_source: LastUseSource::CredentialReport,
                description: None,
            },
            AccessKey {
                id: None,
                slot: Some(2),
                status: KeyStatus::Active,
                created: at("2025-11-20T08:00:00+00:00"),
                last_used: LastUse::Never,
                last_used_source: LastUseSource::CredentialReport,
                description: None,
            },
        ]
    );
    assert_eq!(alice.keys[0].label(), "access key 1");
    assert_eq!(alice.keys[1].label(), "access key 2");
    assert!(inv.users[1].keys.is_empty());
    assert_eq!(
        inv.users[2].keys,
        vec![AccessKey {
            id: None,
            slot: Some(1),
            status: KeyStatus::Inactive,
            created: at("2022-01-01T00:00:00+00:00"),
            last_used: LastUse::Never,
            last_used_source: LastUseSource::CredentialReport,
            description: None,
        }]
    );
    assert_eq!(inv.users[3].keys.len(), 1);
    assert_eq!(inv.users[3].keys[0].slot, Some(2));
    assert_eq!(inv.users[3].keys[0].label(), "access key 2");
    assert_eq!(
        inv.users[3].login,
        Some(LoginInfo {
            password_enabled: false,
            password_last_used: None,
            mfa_active: true,
        })
    );
    let coverage = inv.coverage.as_ref().unwrap();
    // Five users' keys and the root user's two.
    assert_eq!((coverage.users_listed, coverage.keys), (5, 5 + 2));
    assert_eq!(coverage.keys_with_last_use, 5 + 2);
}

#[test]
fn load_inventory_without_root_row_leaves_root_unknown_as_a_gap() {
    let file = write_temp(NO_ROOT);
    let inv = load_inventory(file.path(), None).unwrap();
    assert_eq!(inv.root, RootKeys::Unknown);
    assert_eq!(inv.account_id.as_deref(), Some("210987654321"));
    assert_eq!(
        inv.credential_report.as_ref().map(|c| c.has_root_row),
        Some(false)
    );
    assert!(!inv.is_complete(), "an unknown root user is a coverage gap");
    assert_eq!(inv.gaps.len(), 1);
    assert_eq!(inv.gaps[0].error_code, "NoRootRow");
}

#[test]
fn a_header_only_report_is_not_complete() {
    let header = REPORT.lines().next().unwrap();
    let file = write_temp(&format!("{header}\n"));
    let inv = load_inventory(file.path(), None).unwrap();
    assert!(inv.users.is_empty());
    assert!(!inv.is_complete());
    assert_eq!(inv.compute_coverage().gaps, 1);
}

#[test]
fn without_a_stated_time_the_generation_time_is_unknown() {
    let file = write_temp(REPORT);
    // A checkout or a copy gives the file any modification time: it is not used.
    let inv = load_inventory(file.path(), None).unwrap();
    assert_eq!(
        inv.credential_report.as_ref().map(|c| c.generated_at),
        Some(None)
    );
}

#[test]
fn duplicated_columns_users_and_accounts_are_refused() {
    let mut lines: Vec<String> = REPORT.lines().map(str::to_string).collect();
    // A duplicated column (whatever its values) makes a row ambiguous.
    let dup_column = {
        let mut l = lines.clone();
        for line in &mut l {
            let last = line.rsplit(',').next().unwrap().to_string();
            line.push(',');
            line.push_str(&last);
        }
        l[0] = l[0].replace(
            ",cert_2_last_rotated,cert_2_last_rotated",
            ",cert_2_last_rotated,mfa_active",
        );
        l.join("\n")
    };
    assert_eq!(
        err(&dup_column),
        "report.csv:1: the header has the column mfa_active twice, so its value is ambiguous \
         (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
    );
    let twice = format!(
        "{}\n{}",
        lines.join("\n"),
        lines[2].replace("alice,", "Alice,")
    );
    assert!(
        err(&twice).starts_with("report.csv:8: user Alice is listed twice (also on line 3)"),
        "{}",
        err(&twice)
    );
    lines[3] = lines[3].replace("123456789012", "999999999999");
    let mixed = lines.join("\n");
    assert!(
        err(&mixed).starts_with(
            "report.csv:4: user bob's arn is in account 999999999999, but line 2's is in account 123456789012"
        ),
        "{}",
        err(&mixed)
    );
}

#[test]
fn impossible_dates_are_refused() {
    let file =
        write_temp(&REPORT.replace("2026-01-15T10:00:00+00:00", "9999-01-15T10:00:00+00:00"));
    let message = load_inventory(file.path(), None).unwrap_err().to_string();
    assert!(
        message.contains("user alice's access key 1 last use is 9999-01-15T10:00:00Z, after the data was collected"),
        "{message}"
    );
    let file =
        write_temp(&REPORT.replace("2021-02-03T04:05:06+00:00", "0000-02-03T04:05:06+00:00"));
    let message = load_inventory(file.path(), None).unwrap_err().to_string();
    assert!(
        message.contains("user alice's creation date is 0000-02-03T04:05:06Z, before AWS existed"),
        "{message}"
    );
    // The stated generation time is the collection time: a row after it is refused.
    let file = write_temp(REPORT);
    let message = load_inventory(file.path(), Some(at("2025-01-01T00:00:00Z")))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("after the data was collected (2025-01-01T00:00:00Z)"),
        "{message}"
    );
}

#[test]
fn load_inventory_rejects_a_key_without_rotation_date() {
    let file = write_temp(NO_ROTATION);
    let name = file.path().display().to_string();
    assert_eq!(
        load_inventory(file.path(), None).unwrap_err().to_string(),
        format!(
            "{name}:3: user frank's access key 1 is active but access_key_1_last_rotated has no date \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        )
    );
}

#[test]
fn load_inventory_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.csv");
    let message = load_inventory(&path, None).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "{}: cannot read the credential report: ",
            path.display()
        )),
        "{message}"
    );
    assert!(!message.contains('\n'));
}

#[test]
fn errors_are_one_line() {
    for text in [MISSING_COLUMN, BAD_DATE, BAD_BOOLEAN, TRUNCATED, EMPTY] {
        assert!(!err(text).contains('\n'));
    }
}

#[test]
fn an_arn_whose_account_is_not_an_account_id_is_refused() {
    // The account part of an ARN is read by the one account-id parser: a path, markup
    // or a formula there never becomes an account id (nor a file name).
    for account in ["x/../../ESCAPED", "<img src=x>", "=HYPERLINK(1)"] {
        let report = REPORT.replacen(":123456789012:user/", &format!(":{account}:user/"), 1);
        let e = err(&report);
        assert!(e.starts_with("report.csv:"), "{e}");
        assert!(e.contains("is not an ARN"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    let report = REPORT.replacen(":123456789012:user/", ":123456789012:role/", 1);
    let e = load_inventory_text(&report).unwrap_err().to_string();
    assert!(e.contains("is not an IAM user ARN"), "{e}");
}

fn load_inventory_text(text: &str) -> Result<Inventory, CredentialReportError> {
    let report = parse(text.as_bytes(), "report.csv")?;
    super::standalone::inventory_from_report(&report, "report.csv", None)
}
