//! Scheduled runs that remember, end to end on an aged moto account: run, change the
//! account (delete a flagged key, add keys that break rules, start a rotation, rename a
//! user, deny one user's ListAccessKeys, leave a user out of scope, suppress a finding by
//! id), run again against the baseline, and check every finding's status exactly; then the
//! same through `--history` over more runs, the exit codes with and without
//! `--fail-on-new`, and the trend chart in headless Chromium.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use support::{FaultProxy, Moto, spec_key, spec_user, stderr, stdout};

const NOW1: &str = "2026-06-01T12:00:00Z";
const NOW2: &str = "2026-06-08T12:00:00Z";
const NOW3: &str = "2026-06-15T12:00:00Z";

fn plan() -> Value {
    json!({"now": NOW1, "users": [
        // A 200-day-old key, deleted before the second run: resolved.
        spec_user("stale", 300, vec![spec_key(200, "Active", Some((1, "s3", "eu-west-1")))]),
        // A fresh key; the second run finds a new, never-used second key beside it.
        spec_user("fresh", 300, vec![spec_key(10, "Active", Some((1, "s3", "eu-west-1")))]),
        // An old key; a rotation starts before the second run and is overdue by the third.
        spec_user("rotator", 300, vec![spec_key(200, "Active", Some((1, "s3", "eu-west-1")))]),
        // Two old, unused keys: five findings, all kept across the rename.
        spec_user("old-name", 300, vec![
            spec_key(200, "Active", Some((100, "s3", "eu-west-1"))),
            spec_key(150, "Active", Some((100, "sts", "us-east-1"))),
        ]),
        // Its keys cannot be listed in the second run.
        spec_user("denied", 300, vec![spec_key(200, "Active", Some((1, "s3", "eu-west-1")))]),
        // Left out of the second run's scope.
        spec_user("scoped-out", 300, vec![spec_key(200, "Active", Some((1, "s3", "eu-west-1")))]),
    ]})
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// (rule, user, key) → (status, first_seen, severity, previous severity, suppression change)
/// for every open and suppressed finding of a report.json.
type Row = (String, String, String, Option<String>, Option<String>);

fn statuses(doc: &Value) -> BTreeMap<(String, String, String), Row> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(doc["suppressed_findings"].as_array().unwrap())
        .map(|f| {
            (
                (
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["user_name"].as_str().unwrap().to_string(),
                    f["access_key_id"].as_str().unwrap_or("-").to_string(),
                ),
                (
                    f["status"].as_str().unwrap().to_string(),
                    f["first_seen"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                    text(&f["previous_severity"]),
                    text(&f["suppression_change"]),
                ),
            )
        })
        .collect()
}

/// (rule, user, key, reason) of the report's resolved or not-assessed list.
fn past(doc: &Value, list: &str) -> Vec<(String, String, String, String)> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["rule_id"].as_str().unwrap().to_string(),
                p["user_name"].as_str().unwrap().to_string(),
                p["access_key_id"].as_str().unwrap_or("-").to_string(),
                p["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn row(status: &str, first_seen: &str, severity: &str) -> Row {
    (
        status.to_string(),
        first_seen.to_string(),
        severity.to_string(),
        None,
        None,
    )
}

fn k(rule: &str, user: &str, key: &str) -> (String, String, String) {
    (rule.to_string(), user.to_string(), key.to_string())
}

fn findings_csv(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("findings.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn a_second_run_says_what_is_new_resolved_unchanged_and_not_assessed() {
    let moto = Moto::start();
    let seeded = moto.seed_spec(&{
        let file = moto.dir.path().join("plan.json");
        std::fs::write(&file, plan().to_string()).unwrap();
        file
    });
    let work = tempfile::tempdir().unwrap();
    let dir = |name: &str| work.path().join(name);
    let history = dir("history");
    let (h, r1, r2, r3, r4) = (
        history.to_str().unwrap(),
        dir("r1"),
        dir("r2"),
        dir("r3"),
        dir("r4"),
    );
    let (stale, rotator_old, old_1, old_2, denied, scoped) = (
        support::seeded_key_id(&seeded, "stale", 0),
        support::seeded_key_id(&seeded, "rotator", 0),
        support::seeded_key_id(&seeded, "old-name", 0),
        support::seeded_key_id(&seeded, "old-name", 1),
        support::seeded_key_id(&seeded, "denied", 0),
        support::seeded_key_id(&seeded, "scoped-out", 0),
    );

    // Run 1: the first in the history folder; every finding is new.
    let out = moto.audit(&[
        "--as-of",
        NOW1,
        "--out-dir",
        r1.to_str().unwrap(),
        "--history",
        h,
        "--fail-on-new",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("changes: no earlier run in"),
        "{}",
        stdout(&out)
    );
    let doc1 = report(&r1);
    assert!(doc1["comparison"].is_null());
    let first: Vec<&str> = doc1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(first.len(), 9, "{first:?}");
    assert!(first.iter().all(|s| *s == "new"));
    // The CSV always has the columns; without a baseline first_seen is the as-of date.
    let rows = findings_csv(&r1);
    assert!(rows.iter().all(|r| r["status"] == "new"
        && r["first_seen"] == "2026-06-01"
        && r["finding_id"].starts_with("kh1-")));
    let rotator_id = doc1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["user_name"] == "rotator")
        .unwrap()["finding_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Change the account as of a week later.
    let changed = moto.change(&json!({"now": NOW2, "changes": [
        {"op": "delete-key", "user": "stale", "key_id": stale},
        {"op": "create-key", "user": "fresh", "created_days_ago": 9, "status": "Active",
         "used": null, "label": "fresh-new"},
        {"op": "create-key", "user": "rotator", "created_days_ago": 3, "status": "Active",
         "used": {"days_ago": 1, "service": "s3", "region": "eu-west-1"}, "label": "rotator-new"},
        {"op": "rename-user", "user": "old-name", "new_name": "new-name"},
    ]}));
    let created = |label: &str| {
        changed["created_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"] == label)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (fresh_new, rotator_new) = (created("fresh-new"), created("rotator-new"));

    // Run 2, through a proxy that denies one user's ListAccessKeys, with a policy that
    // leaves one user out of scope and suppresses the rotating key's finding by its id.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--deny", "ListAccessKeys:UserName=denied"],
    );
    let policy = work.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[scope.exclude]\nusers = [\"scoped-out\"]\n\n[[suppress]]\nfinding-id = \"{rotator_id}\"\nreason = \"rotation under way, SEC-12\"\n"
        ),
    )
    .unwrap();
    // Run 2 reads its baseline from the history folder (run 1's record); run 2b, the same
    // audit, from run 1's report.json. Both must say the same.
    let second = |out: &Path, baseline: &[&str]| {
        let mut args = vec![
            "--as-of",
            NOW2,
            "--out-dir",
            out.to_str().unwrap(),
            "--config",
            policy.to_str().unwrap(),
        ];
        args.extend_from_slice(baseline);
        support::audit_at(&proxy.endpoint, &args)
    };
    let r2b = dir("r2b");
    let out = second(&r2b, &["--baseline", r1.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let via_report = report(&r2b);
    let out = second(&r2, &["--history", h]);
    // The denied user is a coverage gap: incomplete, whatever the findings.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc2 = report(&r2);
    let got = statuses(&doc2);
    let since1 = "2026-06-01";
    let since2 = "2026-06-08";
    let mut rotator_row = row("unchanged", since1, "medium");
    rotator_row.4 = Some("now-suppressed".to_string());
    let expected: BTreeMap<_, _> = [
        (
            k("key-never-used", "fresh", &fresh_new),
            row("new", since2, "low"),
        ),
        (
            k("user-two-active-keys", "fresh", "-"),
            row("new", since2, "medium"),
        ),
        (
            k("user-two-active-keys", "rotator", "-"),
            row("new", since2, "low"),
        ),
        (k("key-not-rotated", "rotator", &rotator_old), rotator_row),
        // The renamed user's findings keep their ids: unchanged, under the new name.
        (
            k("key-not-rotated", "new-name", &old_1),
            row("unchanged", since1, "medium"),
        ),
        (
            k("key-not-rotated", "new-name", &old_2),
            row("unchanged", since1, "medium"),
        ),
        (
            k("key-unused", "new-name", &old_1),
            row("unchanged", since1, "medium"),
        ),
        (
            k("key-unused", "new-name", &old_2),
            row("unchanged", since1, "medium"),
        ),
        (
            k("user-two-active-keys", "new-name", "-"),
            row("unchanged", since1, "medium"),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
    assert_eq!(
        past(&doc2, "resolved"),
        [k("key-not-rotated", "stale", &stale)]
            .into_iter()
            .map(|(a, b, c)| (a, b, c, String::new()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        past(&doc2, "not_assessed"),
        vec![
            (
                "key-not-rotated".to_string(),
                "denied".to_string(),
                denied.clone(),
                "coverage gap: ListAccessKeys failed with AccessDenied".to_string()
            ),
            (
                "key-not-rotated".to_string(),
                "scoped-out".to_string(),
                scoped.clone(),
                "out of scope".to_string()
            ),
        ]
    );
    let counts = json!({"new": 3, "updated": 0, "unchanged": 6, "resolved": 1, "not_assessed": 2});
    for (doc, origin) in [(&doc2, "history"), (&via_report, "baseline")] {
        assert_eq!(doc["comparison"]["origin"], origin);
        assert_eq!(doc["comparison"]["since"], since1);
        for (field, n) in counts.as_object().unwrap() {
            assert_eq!(&doc["comparison"][field], n, "{origin} {field}");
        }
    }
    assert_eq!(
        via_report["comparison"]["baseline_file"],
        r1.join("report.json").to_str().unwrap()
    );
    assert_eq!(statuses(&via_report), got);
    assert_eq!(past(&via_report, "resolved"), past(&doc2, "resolved"));
    assert_eq!(
        past(&via_report, "not_assessed"),
        past(&doc2, "not_assessed")
    );
    assert!(
        stdout(&out).contains(
            "changes: 3 new, 0 updated, 1 resolved, 6 unchanged, 2 not assessed since 2026-06-01 (history: "
        ),
        "{}",
        stdout(&out)
    );
    // The CSV agrees with the JSON.
    for r in findings_csv(&r2) {
        let key = k(
            &r["rule_id"],
            &r["user_name"],
            match r["access_key_id"].as_str() {
                "" => "-",
                other => other,
            },
        );
        assert_eq!(r["status"], got[&key].0, "{key:?}");
        assert_eq!(r["first_seen"], got[&key].1, "{key:?}");
    }
    drop(proxy);

    // Run 3, a week later, with the history folder alone: the baseline is run 2's record.
    // The denied and out-of-scope findings were carried, so they are unchanged (first seen
    // in run 1), not new; the rotation's grace ran out (updated); the suppression is gone.
    let out = moto.audit(&[
        "--as-of",
        NOW3,
        "--out-dir",
        r3.to_str().unwrap(),
        "--history",
        h,
        "--fail-on",
        "medium",
        "--fail-on-new",
    ]);
    // An update to a higher severity is a regression.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc3 = report(&r3);
    let got = statuses(&doc3);
    let mut updated = row("updated", since2, "medium");
    updated.3 = Some("low".to_string());
    assert_eq!(got[&k("user-two-active-keys", "rotator", "-")], updated);
    let mut unsuppressed = row("unchanged", since1, "medium");
    unsuppressed.4 = Some("no-longer-suppressed".to_string());
    assert_eq!(
        got[&k("key-not-rotated", "rotator", &rotator_old)],
        unsuppressed
    );
    assert_eq!(
        got[&k("key-not-rotated", "denied", &denied)],
        row("unchanged", since1, "medium")
    );
    assert_eq!(
        got[&k("key-not-rotated", "scoped-out", &scoped)],
        row("unchanged", since1, "medium")
    );
    assert_eq!(
        got[&k("key-never-used", "fresh", &fresh_new)],
        row("unchanged", since2, "low")
    );
    assert!(got.values().all(|r| r.0 != "new"), "{got:?}");
    // Run 2's page says the suppressed finding was suppressed since the baseline; run 3's
    // card says it no longer is.
    let page2 = std::fs::read_to_string(r2.join("report.html")).unwrap();
    assert!(page2.contains(&format!("data-finding-id=\"{rotator_id}\"")));
    assert!(page2.contains("suppressed since the baseline"));
    let page3 = std::fs::read_to_string(r3.join("report.html")).unwrap();
    assert!(page3.contains("no longer suppressed"));
    assert!(past(&doc3, "resolved").is_empty() && past(&doc3, "not_assessed").is_empty());
    assert_eq!(doc3["comparison"]["origin"], "history");
    let _ = rotator_new;

    // The history folder holds one small record per run, with no report text in it.
    let records: Vec<_> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
    for record in &records {
        let text = std::fs::read_to_string(record).unwrap();
        assert!(!text.contains("remediation") && !text.contains("aws iam"));
        assert!(
            record
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("account-123456789012.")
        );
    }
    assert_eq!(doc3["history"]["trend"].as_array().unwrap().len(), 3);

    // Run 4, nothing changed since run 3: the backlog alone fails --fail-on medium, and
    // passes with --fail-on-new. --history-keep 2 leaves the two newest records.
    let again = |extra: &[&str]| {
        let mut args = vec![
            "--as-of",
            NOW3,
            "--out-dir",
            r4.to_str().unwrap(),
            "--baseline",
            r3.to_str().unwrap(),
            "--fail-on",
            "medium",
        ];
        args.extend_from_slice(extra);
        moto.audit(&args)
    };
    let out = again(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = again(&["--fail-on-new", "--history", h, "--history-keep", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("fail-on medium: not reached"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_dir(&history).unwrap().count(), 2);

    // The trend over runs 1-3, drawn in run 3's page, in headless Chromium.
    check_page_in_chromium(&r3);
}

/// Run 3's page: the trend chart with the first and last values labelled, the "new only"
/// filter, no script error.
fn check_page_in_chromium(out: &Path) {
    use scraper::{Html, Selector};
    let sel = |s: &str| Selector::parse(s).unwrap();
    let open = |fragment: &str| support::open_in_chromium(&out.join("report.html"), fragment);
    let page = open("");
    let body = page.select(&sel("body")).next().unwrap();
    assert_eq!(body.value().attr("data-js-errors"), Some("0"));
    assert_eq!(body.value().attr("data-js-ready"), Some("1"));
    let lines: Vec<_> = page.select(&sel("#trend-chart polyline")).collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert_eq!(line.value().attr("points").unwrap().split(' ').count(), 3);
    }
    let labels: Vec<String> = page
        .select(&sel("#trend-chart text.trend-value"))
        .map(|t| t.text().collect())
        .collect();
    // Run 1: 9 open (8 medium, 1 low... the first values), run 3: this run's.
    assert_eq!(labels.len(), 8, "{labels:?}");
    assert!(labels.contains(&"0 critical".to_string()), "{labels:?}");
    let meta: String = page
        .select(&sel("#baseline-meta"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(meta.contains("history of 2026-06-08"), "{meta}");

    let shown = |doc: &Html| {
        doc.select(&sel("article.finding"))
            .filter(|a| {
                // Hidden by the filter's CSS: the article is not new while the section
                // carries the class.
                let section_filtered = doc.select(&sel("#findings.show-new-only")).next().is_some();
                !(section_filtered && a.value().attr("data-status") != Some("new"))
            })
            .count()
    };
    let all = shown(&page);
    assert!(all > 0);
    let filtered = open("new=1");
    assert!(
        filtered
            .select(&sel("#findings.show-new-only"))
            .next()
            .is_some()
    );
    assert_eq!(shown(&filtered), 0);
    // Nothing is new in run 3, and the page says so.
    assert!(
        filtered
            .select(&sel("#no-new"))
            .next()
            .unwrap()
            .value()
            .attr("hidden")
            .is_none()
    );
}
