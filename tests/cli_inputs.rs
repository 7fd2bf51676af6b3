//! The command line with offline inputs: saved inventories, credential report files, bad
//! files and bad flags. No network is involved.

mod support;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use keyhygiene::inventory::{
    AccessKey, CoverageGap, Inventory, KeyStatus, LastUse, RootKeys, SourceInfo, User,
};
use support::{keyhygiene, stderr};

fn t(days_before_june: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap() - chrono::Duration::days(days_before_june)
}

fn inventory(gaps: Vec<CoverageGap>) -> Inventory {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, t(0));
    inv.account_id = Some("123456789012".parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    inv.users.push(User {
        name: "alice".into(),
        arn: "arn:aws:iam::123456789012:user/alice".into(),
        path: "/".into(),
        user_id: "AIDAEXAMPLE".into(),
        created: Some(t(400)),
        tags: vec![],
        keys: vec![AccessKey {
            id: Some("AKIAEXAMPLEALICE0001".into()),
            slot: None,
            status: KeyStatus::Active,
            created: t(10),
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
    inv.gaps = gaps;
    inv.normalize();
    inv
}

/// The snapshot `--save-inventory` writes.
fn to_json(inv: &Inventory) -> String {
    let mut out = Vec::new();
    inv.clone().write_json(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// One line on stderr, no report written, exit code 2.
fn assert_rejected(output: &std::process::Output, out_dir: &Path, expect: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    assert!(!out_dir.exists(), "no partial output is written");
}

#[test]
fn a_clean_saved_inventory_exits_0_and_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let inv = write(dir.path(), "inv.json", &to_json(&inventory(vec![])));
    let out_dir = dir.path().join("out");
    let output = keyhygiene()
        .args([
            "audit",
            "--as-of",
            "2026-06-01T12:00:00Z",
            "--from-inventory",
        ])
        .arg(&inv)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    for file in ["report.html", "findings.csv", "keys.csv", "report.json"] {
        assert!(out_dir.join(file).exists(), "{file} written");
    }
}

#[test]
fn coverage_gaps_exit_3_after_writing_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let gap = CoverageGap {
        user: Some("bob".into()),
        access_key_id: None,
        operation: "ListAccessKeys".into(),
        error_code: "AccessDenied".into(),
        impact: "the user's access keys were not listed".into(),
    };
    let inv = write(dir.path(), "inv.json", &to_json(&inventory(vec![gap])));
    let out_dir = dir.path().join("out");
    // Gaps beat findings and --fail-on none alike: an incomplete run never looks normal.
    for fail_on in ["low", "none"] {
        let output = keyhygiene()
            .args([
                "audit",
                "--as-of",
                "2026-06-01T12:00:00Z",
                "--fail-on",
                fail_on,
            ])
            .arg("--from-inventory")
            .arg(&inv)
            .arg("--out-dir")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
        assert!(stderr(&output).contains("coverage is incomplete"));
        let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
        assert!(json.contains("AccessDenied"), "the gap is in report.json");
        let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
        assert!(html.contains("AccessDenied"), "the gap is in report.html");
    }
}

#[test]
fn a_truncated_inventory_is_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let json = to_json(&inventory(vec![]));
    let inv = write(dir.path(), "inv.json", &json[..json.len() / 2]);
    let out_dir = dir.path().join("out");
    let output = keyhygiene()
        .args(["audit", "--from-inventory"])
        .arg(&inv)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_rejected(&output, &out_dir, &format!("{}:", inv.display()));
    assert!(stderr(&output).contains("not a valid keyhygiene inventory"));
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let current = format!(
        "\"schema_version\": {}",
        keyhygiene::inventory::SCHEMA_VERSION
    );
    let json = to_json(&inventory(vec![])).replacen(&current, "\"schema_version\": 99", 1);
    assert!(json.contains("\"schema_version\": 99"));
    let inv = write(dir.path(), "inv.json", &json);
    let out_dir = dir.path().join("out");
    let output = keyhygiene()
        .args(["audit", "--from-inventory"])
        .arg(&inv)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_rejected(&output, &out_dir, "unsupported inventory schema_version 99");
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

#[test]
fn a_credential_report_file_is_audited_by_key_slot() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "{REPORT_HEADER}\n\
         <root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-05-01T00:00:00+00:00,not_supported,not_supported,true,true,2021-01-01T00:00:00+00:00,2026-05-30T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
         carol,arn:aws:iam::123456789012:user/staff/carol,2024-01-01T00:00:00+00:00,true,2026-05-30T00:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,false,true,2025-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    );
    let report = write(dir.path(), "report.csv", &csv);
    let out_dir = dir.path().join("out");
    let output = keyhygiene()
        .args([
            "audit",
            "--as-of",
            "2026-06-01T12:00:00Z",
            "--from-credential-report",
        ])
        .arg(&report)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let findings = std::fs::read_to_string(out_dir.join("findings.csv")).unwrap();
    assert!(findings.contains("root-access-key-present"), "{findings}");
    assert!(
        findings.contains("access key 1"),
        "keys are named by slot: {findings}"
    );
}

#[test]
fn a_malformed_credential_report_is_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv =
        format!("{REPORT_HEADER}\ncarol,arn:aws:iam::123456789012:user/carol,yesterday,true\n");
    let report = write(dir.path(), "report.csv", &csv);
    let out_dir = dir.path().join("out");
    let output = keyhygiene()
        .args(["audit", "--from-credential-report"])
        .arg(&report)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_rejected(&output, &out_dir, &format!("{}:2", report.display()));
}

#[test]
fn a_bad_policy_file_fails_before_any_network_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "policy.toml",
        "[rules.key-not-rotated]\nmax-age-dayz = 90\n",
    );
    let out_dir = dir.path().join("out");
    // Nothing listens on port 9: had the crawl started, the error would be a network one.
    let output = keyhygiene()
        .args(["audit", "--endpoint-url", "http://127.0.0.1:9", "--config"])
        .arg(&config)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(&format!("{}:2:", config.display())), "{err}");
    assert!(
        !err.contains("GetCallerIdentity") && !err.contains("ListUsers"),
        "{err}"
    );
    assert!(!out_dir.exists());
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        vec!["audit", "--as-of", "yesterday"],
        vec!["audit", "--concurrency", "0"],
        vec!["audit", "--endpoint-url", "localhost:5000"],
        vec![
            "audit",
            "--from-inventory",
            "a.json",
            "--endpoint-url",
            "http://x",
        ],
        vec!["audit", "--fail-on", "severe"],
    ] {
        let output = keyhygiene().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn missing_credentials_fail_at_once_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // keyhygiene() clears every AWS credential variable and points the config files at
    // /dev/null, so the credential chain finds nothing.
    let output = keyhygiene()
        .args(["audit", "--endpoint-url", "http://127.0.0.1:9", "--out-dir"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_rejected(&output, &out_dir, "no AWS credentials");
    assert!(stderr(&output).contains("--profile"), "the fix is named");
}

/// The help of every command as an 80-column terminal gets it.
fn help(args: &[&str]) -> String {
    let output = keyhygiene()
        .env("COLUMNS", "80")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_fits_an_80_column_terminal_and_dash_h_is_a_summary() {
    for args in [
        vec!["--help"],
        vec!["-h"],
        vec!["audit", "--help"],
        vec!["audit", "-h"],
        vec!["init-config", "--help"],
        vec!["rules", "--help"],
    ] {
        let text = help(&args);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{args:?}: a line of {} characters: {line:?}",
                line.chars().count()
            );
        }
    }
    let (short, long) = (help(&["audit", "-h"]), help(&["audit", "--help"]));
    assert!(
        short.lines().count() * 2 < long.lines().count(),
        "-h is a summary"
    );
    // The groups, in the README's order.
    let groups = [
        "What to audit:",
        "Where: AWS connection and member accounts:",
        "How fast:",
        "Policy:",
        "Comparing with earlier runs:",
        "Outputs:",
    ];
    let mut at = 0;
    for group in groups {
        let found = short[at..]
            .find(group)
            .unwrap_or_else(|| panic!("{group} after position {at}:\n{short}"));
        at += found + group.len();
    }
    // Every flag of --help is in -h, with one line of text (two when it wraps).
    // A flag's own line: `      --name <VALUE>` or `  -q, --quiet`; its text is indented
    // further.
    let flag = |line: &str| {
        let name = line
            .strip_prefix("      --")
            .or_else(|| line.strip_prefix("  -q, --"))?;
        Some(format!("--{}", name.split([' ', '<']).next().unwrap()))
    };
    let long_flags: Vec<String> = long.lines().filter_map(flag).collect();
    let short_flags: Vec<String> = short.lines().filter_map(flag).collect();
    assert_eq!(long_flags, short_flags);
    assert!(long_flags.len() > 30, "{long_flags:?}");
    // Every default is stated.
    for name in [
        "--org",
        "--exclude-accounts",
        "--shard",
        "--report-generated-at",
        "--profile",
        "--region",
        "--endpoint-url",
        "--role-name",
        "--external-id",
        "--role-session-name",
        "--concurrency",
        "--max-rps",
        "--call-plan",
        "--account-concurrency",
        "--account-timeout",
        "--config",
        "--as-of",
        "--fail-on",
        "--baseline",
        "--history-keep",
        "--history-key-file",
        "--out-dir",
        "--format",
        "--save-inventory",
        "--wait-lock",
    ] {
        let start = long
            .lines()
            .position(|l| flag(l).as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is in --help"));
        let block: Vec<&str> = long
            .lines()
            .skip(start)
            .take_while(|l| !l.trim().is_empty() || l.starts_with("          "))
            .take(12)
            .collect();
        let block = block.join(" ").to_lowercase();
        assert!(
            block.contains("default"),
            "{name} states its default: {block}"
        );
    }
    assert!(long.contains("[default: html,csv,json]"), "{long}");
}
