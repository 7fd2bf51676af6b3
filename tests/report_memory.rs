//! The memory the reports take beyond the inventory and the finding set, counted by a
//! global allocator (this test binary's own), not timed: building the report model and
//! writing every report costs a few dozen bytes per key and per finding, however long the
//! findings' messages and remediation are. The display form of a finding or a key lives
//! only while it is written.

mod support;

use std::io;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyhygiene::findings::{EvaluatedFinding, Finding, FindingSet, Severity};
use keyhygiene::inventory::{AccessKey, Inventory, KeyStatus, LastUse, RootKeys, SourceInfo, User};
use keyhygiene::report::{ReportModel, RunInfo, csv, html, json};

/// Counts the bytes allocated and not yet freed, and their high-water mark.
#[global_allocator]
static ALLOCATOR: support::counting::Counting = support::counting::Counting;

const ACCOUNT: &str = "123456789012";

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// `users` users with two keys each, every key with two findings of realistic length.
fn account(users: usize) -> (Inventory, FindingSet) {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, as_of());
    inv.account_id = Some(ACCOUNT.parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    for i in 0..users {
        let name = format!("service-account-{i:06}");
        inv.users.push(User {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/service/{name}"),
            path: "/service/".to_string(),
            user_id: format!("AIDA{i:016}"),
            created: Some(as_of() - Duration::days(2000)),
            tags: Vec::new(),
            keys: (0..2)
                .map(|k| AccessKey {
                    id: Some(format!("AKIA{i:08}{k:08}")),
                    slot: None,
                    status: KeyStatus::Active,
                    created: as_of() - Duration::days(300 + k),
                    last_used_source: Default::default(),
                    last_used: LastUse::Used {
                        date: as_of() - Duration::days(100),
                        service: Some("s3".to_string()),
                        region: Some("eu-west-1".to_string()),
                    },
                    description: Some("nightly export job on the reporting cluster".to_string()),
                })
                .collect(),
            login: None,
            name,
        });
    }
    inv.normalize();
    let mut findings = Vec::new();
    for u in &inv.users {
        for k in &u.keys {
            let id = k.id.clone().unwrap();
            for (rule, severity) in [
                ("key-not-rotated", Severity::Medium),
                ("key-unused", Severity::Low),
            ] {
                findings.push(EvaluatedFinding {
                    finding: Finding {
                        rule_id: rule.to_string(),
                        finding_id: support::test_finding_id(ACCOUNT, rule, &u.name, Some(&id)),
                        user_id: None,
                        severity,
                        account_id: Some(ACCOUNT.parse().unwrap()),
                        user_name: u.name.clone(),
                        user_arn: u.arn.clone(),
                        access_key_id: Some(id.clone()),
                        key_status: Some(k.status),
                        key_created: Some(k.created),
                        key_age_days: Some(300),
                        last_used_date: k.last_used.date(),
                        last_used_service: Some("s3".to_string()),
                        last_used_region: Some("eu-west-1".to_string()),
                        last_used_source: None,
                        days_since_last_use: Some(100),
                        description: k.description.clone(),
                        message: format!(
                            "Access key {id} of {} is 300 days old and was last used 100 days ago; rotate it or delete it.",
                            u.name
                        ),
                        compliance: vec!["CIS 1.14".to_string(), "Security Hub IAM.3".to_string()],
                        remediation: vec![
                            format!("aws iam create-access-key --user-name {}", u.name),
                            "# Move every application to the new key, then deactivate the old one.".to_string(),
                            format!("aws iam update-access-key --user-name {} --access-key-id {id} --status Inactive", u.name),
                            format!("aws iam delete-access-key --user-name {} --access-key-id {id}", u.name),
                        ],
                    },
                    suppressed: None,
                    tracking: Default::default(),
                });
            }
        }
    }
    (
        inv,
        FindingSet {
            findings,
            ..FindingSet::default()
        },
    )
}

/// Bytes the report model and every report take at their peak, beyond what was allocated
/// before. The reports go to a sink: what a file costs on its way to disk is the
/// [`io::BufWriter`] the writer puts in front of it.
fn report_peak(inv: &Inventory, set: &FindingSet) -> usize {
    let figures = keyhygiene::findings::Figures::of(inv, set);
    let run = RunInfo {
        inventory: inv,
        findings: set,
        as_of: as_of(),
        fail_on: Some(Severity::High),
        policy_file: None,
        saved_inventory: None,
        scope: None,
        fail_on_new: false,
        tracking: None,
        figures: &figures,
    };
    let before = support::counting::start();
    let model = ReportModel::build(&run);
    let mut sink = io::sink();
    html::write_report_html(&model, &mut sink).unwrap();
    csv::write_findings_csv(&model, &mut sink).unwrap();
    csv::write_keys_csv(&model, &mut sink).unwrap();
    json::write_report_json(&model, &mut sink).unwrap();
    drop(model);
    support::counting::peak_since(before)
}

#[test]
fn the_reports_take_a_few_dozen_bytes_per_key_and_finding() {
    let (inv, set) = account(2_500);
    let items = inv.user_key_count() + set.findings.len();
    let inputs = support::counting::live();
    let peak = report_peak(&inv, &set);
    eprintln!(
        "{} keys, {} findings ({} MiB of inventory and findings): the reports peaked at {} KiB more, {} bytes per key and finding",
        inv.user_key_count(),
        set.findings.len(),
        inputs / (1 << 20),
        peak / 1024,
        peak / items
    );
    // The page's own fixed costs (the chart, the CSS and script, the writers' buffers)
    // stay well under 1 MiB; the rest is the order of the findings and keys.
    let budget = 128 * items + (1 << 20);
    assert!(
        peak <= budget,
        "the reports took {peak} bytes beyond their inputs, more than {budget} ({} per key and finding)",
        peak / items
    );
}
