//! History, reports and saved inventories in S3, end to end on moto's S3: three runs with a
//! change between them, every flag that takes a folder given as `s3://`; two runs writing
//! one history prefix at once; a history prefix past one listing page, pruned; a missing
//! bucket (one line, exit 2, nothing published).

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{Moto, s3, spec_key, spec_user, stderr, stdout};

const NOW1: &str = "2026-06-01T12:00:00Z";
const NOW2: &str = "2026-06-08T12:00:00Z";
const NOW3: &str = "2026-06-15T12:00:00Z";

fn plan() -> Value {
    json!({"now": NOW1, "users": [
        spec_user("stale", 300, vec![spec_key(200, "Active", Some((1, "s3", "eu-west-1")))]),
        spec_user("fresh", 300, vec![spec_key(10, "Active", Some((1, "s3", "eu-west-1")))]),
        spec_user("unused", 300, vec![spec_key(150, "Active", None)]),
    ]})
}

/// A moto server with the plan's account seeded, and the seeding manifest.
fn seeded() -> (Moto, Value) {
    let moto = Moto::start();
    let file = moto.dir.path().join("plan.json");
    std::fs::write(&file, plan().to_string()).unwrap();
    let manifest = moto.seed_spec(&file);
    (moto, manifest)
}

fn keys(moto: &Moto, bucket: &str, prefix: &str) -> BTreeSet<String> {
    s3::keys(&moto.endpoint, bucket, prefix)
}

/// The report.json the prefix's pointer names, with the set's CSVs and page beside it.
fn current_report(moto: &Moto, bucket: &str, prefix: &str) -> Value {
    let doc = s3::current_report(&moto.endpoint, bucket, prefix);
    let pointer: Value = serde_json::from_str(&s3::get(
        &moto.endpoint,
        bucket,
        &format!("{prefix}current.json"),
    ))
    .unwrap();
    for name in ["report.html", "findings.csv", "keys.csv"] {
        assert!(
            pointer["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == name),
            "{pointer}"
        );
    }
    doc
}

fn records(moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    keys(moto, bucket, prefix)
        .into_iter()
        .filter(|k| k.ends_with(".json") && k.contains("account-"))
        .collect()
}

#[test]
fn history_reports_and_inventories_live_in_s3() {
    let (moto, seeded) = seeded();
    s3::create_bucket(&moto.endpoint, "audit-bucket");
    let (h, r, inv) = (
        "s3://audit-bucket/keyhygiene/history/",
        "s3://audit-bucket/keyhygiene/reports/",
        "s3://audit-bucket/keyhygiene/inventory/latest.json",
    );

    // Run 1: every location in S3; every finding is new.
    let out = moto.audit(&[
        "--as-of",
        NOW1,
        "--history",
        h,
        "--out-dir",
        r,
        "--save-inventory",
        inv,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("s3://audit-bucket/keyhygiene/reports/runs/"),
        "{text}"
    );
    assert!(
        text.contains("inventory saved to s3://audit-bucket/keyhygiene/inventory/latest.json"),
        "{text}"
    );
    assert!(
        text.contains("history: recorded s3://audit-bucket/keyhygiene/history/account-"),
        "{text}"
    );
    assert!(text.contains("storage: s3,"), "{text}");
    assert!(
        !text.contains("keyhygiene-s3-"),
        "a temporary path was shown: {text}"
    );
    let doc1 = current_report(&moto, "audit-bucket", "keyhygiene/reports/");
    assert_eq!(doc1["coverage"]["complete"], true, "{doc1}");
    let first_findings = doc1["findings"].as_array().unwrap().len();
    assert!(first_findings >= 2, "{doc1}");
    assert_eq!(
        records(&moto, "audit-bucket", "keyhygiene/history/").len(),
        1
    );
    let all = keys(&moto, "audit-bucket", "keyhygiene/");
    assert!(all.contains("keyhygiene/inventory/latest.json"), "{all:?}");
    assert!(
        all.contains("keyhygiene/reports/.keyhygiene-probe"),
        "{all:?}"
    );
    assert!(
        !all.contains("keyhygiene/reports/.keyhygiene-lock"),
        "the lease is given back: {all:?}"
    );

    // The account changes: the stale key is deleted.
    let stale = support::seeded_key_id(&seeded, "stale", 0);
    moto.change(&json!({"now": NOW2, "changes": [
        {"op": "delete-key", "user": "stale", "key_id": stale},
    ]}));

    // Run 2: the baseline is run 1's record, read from S3; the new set becomes current,
    // encrypted with SSE-KMS as asked.
    let out = moto.audit(&[
        "--as-of",
        NOW2,
        "--history",
        h,
        "--out-dir",
        r,
        "--s3-sse",
        "aws:kms",
        "--s3-kms-key-id",
        "alias/keyhygiene",
        "--split-by-owner",
        "--format",
        "html,csv,json,md,xlsx",
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let doc2 = current_report(&moto, "audit-bucket", "keyhygiene/reports/");
    let pointer: Value = serde_json::from_str(&s3::get(
        &moto.endpoint,
        "audit-bucket",
        "keyhygiene/reports/current.json",
    ))
    .unwrap();
    let encryption = s3::s3py(
        &moto.endpoint,
        "h = s3.head_object(Bucket=a[0], Key=a[1])\n\
         print(h.get('ServerSideEncryption'), h.get('SSEKMSKeyId'))",
        &[
            "audit-bucket",
            &format!(
                "keyhygiene/reports/{}report.json",
                pointer["set"].as_str().unwrap()
            ),
        ],
    );
    assert!(
        encryption.starts_with("aws:kms") && encryption.contains("keyhygiene"),
        "{encryption}"
    );
    // The summary and the owners' folders are part of the published set.
    let files = pointer["files"].as_array().unwrap();
    for name in [
        "summary.md",
        "keyhygiene.xlsx",
        "by-owner/unowned/keyhygiene.xlsx",
        "by-owner/unowned/findings.csv",
        "by-owner/unowned/keys.csv",
    ] {
        assert!(files.iter().any(|f| f == name), "{name}: {pointer}");
    }
    assert_eq!(doc2["comparison"]["origin"], "history", "{doc2}");
    assert!(
        doc2["comparison"]["resolved"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            || doc2["resolved"].as_array().is_some_and(|r| !r.is_empty()),
        "the deleted key's findings are resolved: {doc2}"
    );
    assert_eq!(
        records(&moto, "audit-bucket", "keyhygiene/history/").len(),
        2
    );
    let sets: BTreeSet<String> = keys(&moto, "audit-bucket", "keyhygiene/reports/runs/")
        .into_iter()
        .filter_map(|k| k.split('/').nth(3).map(str::to_string))
        .collect();
    assert_eq!(
        sets.len(),
        2,
        "each run's set under a prefix of its own: {sets:?}"
    );

    // Run 3, offline: run 1's inventory read from S3, compared with the current set
    // (the pointer resolved), reports on local disk; the history keeps 1 record.
    let local = tempfile::tempdir().unwrap();
    let out = moto.audit(&[
        "--from-inventory",
        inv,
        "--as-of",
        NOW3,
        "--baseline",
        r,
        "--out-dir",
        local.path().to_str().unwrap(),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let doc3: Value =
        serde_json::from_str(&std::fs::read_to_string(local.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(doc3["comparison"]["origin"], "baseline", "{doc3}");
    let text = stdout(&out);
    assert!(!text.contains("keyhygiene-s3-"), "{text}");

    // Run 4: --history-keep 1 prunes run 1's record from S3, and only that.
    let out = moto.audit(&[
        "--as-of",
        NOW3,
        "--history",
        h,
        "--history-keep",
        "1",
        "--out-dir",
        r,
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert_eq!(
        records(&moto, "audit-bucket", "keyhygiene/history/").len(),
        1
    );
    assert!(
        keys(&moto, "audit-bucket", "keyhygiene/").contains("keyhygiene/inventory/latest.json")
    );
}

#[test]
fn two_runs_writing_one_history_prefix_at_once_keep_both_records() {
    let (moto, _) = seeded();
    s3::create_bucket(&moto.endpoint, "shared");
    // Two runs at once into one history and one output prefix: the second waits for the
    // first's lease; both records are kept, both sets published.
    let children: Vec<_> = (0..2)
        .map(|_| {
            support::audit_command(
                &moto.endpoint,
                &[
                    "--as-of",
                    NOW1,
                    "--history",
                    "s3://shared/h/",
                    "--out-dir",
                    "s3://shared/r/",
                    "--wait-lock",
                    "2m",
                    "--quiet",
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    assert_eq!(records(&moto, "shared", "h/").len(), 2);
    let sets: BTreeSet<String> = keys(&moto, "shared", "r/runs/")
        .into_iter()
        .filter_map(|k| k.split('/').nth(2).map(str::to_string))
        .collect();
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert!(!keys(&moto, "shared", "r/").contains("r/.keyhygiene-lock"));

    // A live lease of another run: exit 2 without --wait-lock, nothing published.
    let lease = |expires: &str| {
        s3::s3py(
            &moto.endpoint,
            "s3.put_object(Bucket=a[0], Key='r/.keyhygiene-lock', Body=json.dumps({'kind': 'keyhygiene-lease', 'run': 'other', 'expires': a[1]}).encode())",
            &["shared", expires],
        );
    };
    lease("2999-01-01T00:00:00Z");
    let pointer = s3::get(&moto.endpoint, "shared", "r/current.json");
    let out = moto.audit(&["--as-of", NOW2, "--out-dir", "s3://shared/r/"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("s3://shared/r/.keyhygiene-lock: another run is writing this prefix"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s3::get(&moto.endpoint, "shared", "r/current.json"), pointer);
    // An expired one (its run was killed) is taken over, and given back at the end.
    lease("2020-01-01T00:00:00Z");
    let out = moto.audit(&["--as-of", NOW2, "--out-dir", "s3://shared/r/"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_ne!(s3::get(&moto.endpoint, "shared", "r/current.json"), pointer);
    assert!(!keys(&moto, "shared", "r/").contains("r/.keyhygiene-lock"));
}

#[test]
fn a_history_prefix_past_one_listing_page_is_read_whole_and_pruned_by_key() {
    let (moto, _) = seeded();
    s3::create_bucket(&moto.endpoint, "many");
    let h = "s3://many/h/";
    let out = moto.audit(&["--as-of", NOW1, "--history", h, "--out-dir", "s3://many/r/"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // 1,001 objects that sort before the account's record: its record is on page two.
    s3::s3py(
        &moto.endpoint,
        "for i in range(1001): s3.put_object(Bucket=a[0], Key=f'h/0000-other-{i:04}.txt', Body=b'x')",
        &["many"],
    );
    let out = moto.audit(&[
        "--as-of",
        NOW2,
        "--history",
        h,
        "--history-keep",
        "1",
        "--out-dir",
        "s3://many/r/",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = current_report(&moto, "many", "r/");
    assert_eq!(doc["comparison"]["origin"], "history", "{doc}");
    let all = keys(&moto, "many", "h/");
    assert_eq!(
        records(&moto, "many", "h/").len(),
        1,
        "pruned to one record"
    );
    assert_eq!(
        all.iter()
            .filter(|k| k.starts_with("h/0000-other-"))
            .count(),
        1001,
        "objects that are not this key's records are never deleted"
    );
}

#[test]
fn a_missing_bucket_is_one_line_exit_2_before_the_crawl() {
    let (moto, _) = seeded();
    for flags in [
        vec!["--out-dir", "s3://no-such-bucket/r/"],
        vec!["--history", "s3://no-such-bucket/h/"],
        vec!["--baseline", "s3://no-such-bucket/r/"],
    ] {
        let mut args = vec!["--as-of", NOW1];
        args.extend(flags.iter().copied());
        let out = moto.audit(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("s3://no-such-bucket/"), "{err}");
        assert!(err.contains("NoSuchBucket"), "{err}");
        // Refused before the crawl: no summary, no report.
        assert_eq!(stdout(&out), "", "{flags:?}");
    }
    // A flag that needs a prefix is told so.
    let out = moto.audit(&["--history", "s3://bucket/h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ending with '/'"), "{}", stderr(&out));
    // Offline runs take S3 inputs; without one, the connection flags are still refused.
    let out = support::keyhygiene()
        .args([
            "audit",
            "--from-inventory",
            "sample-reports/inventory.json",
            "--region",
            "eu-west-1",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--region cannot be used"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_write_denied_half_way_through_a_set_leaves_the_previous_set_current_and_whole() {
    let (moto, _) = seeded();
    s3::create_bucket(&moto.endpoint, "audit-bucket");
    let (h, r) = ("s3://audit-bucket/h/", "s3://audit-bucket/r/");
    let out = moto.audit(&["--as-of", NOW1, "--history", h, "--out-dir", r]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let before = current_report(&moto, "audit-bucket", "r/");
    let pointer_before = s3::get(&moto.endpoint, "audit-bucket", "r/current.json");

    // One file of the set (report.json) is denied, whatever else of the set got through.
    let proxy =
        support::FaultProxy::start(&moto.endpoint, &["--deny", "PutObject:Name=report.json"]);
    let out = support::audit_at(
        &proxy.endpoint,
        &["--as-of", NOW2, "--history", h, "--out-dir", r],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("s3://audit-bucket/r/runs/"), "{err}");
    assert!(
        last.contains("report.json: cannot write (AccessDenied)"),
        "{err}"
    );
    assert!(last.contains("s3:PutObject"), "{err}");
    assert!(
        last.contains("the previous report set stays current"),
        "{err}"
    );
    let stats = proxy.stats();
    assert!(
        stats["actions"]["PutObject"]["denied"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{stats}"
    );
    // The pointer, the previous set and the history are as they were; the lease is back.
    assert_eq!(
        s3::get(&moto.endpoint, "audit-bucket", "r/current.json"),
        pointer_before
    );
    assert_eq!(current_report(&moto, "audit-bucket", "r/"), before);
    assert_eq!(
        records(&moto, "audit-bucket", "h/").len(),
        1,
        "no record of a run not published"
    );
    assert!(!keys(&moto, "audit-bucket", "r/").contains("r/.keyhygiene-lock"));

    // A write denied at the probe stops the run before the crawl: one line, exit 2.
    let proxy = support::FaultProxy::start(
        &moto.endpoint,
        &["--deny", "PutObject:Name=.keyhygiene-probe"],
    );
    let out = support::audit_at(
        &proxy.endpoint,
        &["--as-of", NOW2, "--history", h, "--out-dir", r],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(".keyhygiene-probe: cannot write (AccessDenied)"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    let stats = proxy.stats();
    assert!(
        stats["actions"]
            .get("GetAccountAuthorizationDetails")
            .is_none()
            && stats["actions"].get("ListUsers").is_none(),
        "nothing crawled: {stats}"
    );
    assert_eq!(
        s3::get(&moto.endpoint, "audit-bucket", "r/current.json"),
        pointer_before
    );
}

#[test]
fn objects_that_are_not_keyhygiene_files_are_refused_naming_bucket_and_key() {
    let (moto, _) = seeded();
    s3::create_bucket(&moto.endpoint, "odd");
    s3::s3py(
        &moto.endpoint,
        "s3.put_object(Bucket=a[0], Key='r/current.json', Body=b'hello')\n\
         s3.put_object(Bucket=a[0], Key='h/account-123456789012.20260101T000000Z.abcdef.json', Body=b'{}')\n\
         s3.put_object(Bucket=a[0], Key='inv/x.json', Body=b'[1, 2')",
        &["odd"],
    );
    for (flags, named, why) in [
        (
            vec!["--baseline", "s3://odd/r/"],
            "s3://odd/r/current.json",
            "not a keyhygiene report-set pointer",
        ),
        (
            vec!["--history", "s3://odd/h/"],
            "s3://odd/h/account-123456789012.20260101T000000Z.abcdef.json",
            "history record",
        ),
        (
            vec!["--from-inventory", "s3://odd/inv/x.json"],
            "s3://odd/inv/x.json",
            "",
        ),
    ] {
        let mut args = vec!["--as-of", NOW1, "--out-dir", "s3://odd/out/"];
        args.extend(flags.iter().copied());
        let out = moto.audit(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        // (A history record is read once the run knows what it audited: after the crawl.)
        let err = stderr(&out);
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("keyhygiene: error: "), "{err}");
        assert!(
            last.contains(named) && last.contains(why),
            "{flags:?}: {err}"
        );
        assert!(!err.contains("keyhygiene-s3-"), "{err}");
        assert!(
            !keys(&moto, "odd", "out/").contains("out/current.json"),
            "nothing published"
        );
    }
}
