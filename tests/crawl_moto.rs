//! The crawler against a real IAM-compatible endpoint (moto's server), with data aged by
//! libfaketime: the saved inventory must equal what was seeded, key by key.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use keyhygiene::inventory::{Inventory, KeyStatus, LastUse, LastUseSource, RootKeys, SourceInfo};
use serde_json::Value;
use support::{Moto, stderr};

const NOW: &str = "2026-06-01T12:00:00Z";

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a date string"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn crawl(moto: &Moto, extra: &[&str]) -> (Inventory, std::process::Output) {
    crawl_into(moto, "run", extra)
}

/// A crawl whose inventory and reports go to `name.json` and `name/` in the test's folder.
fn crawl_into(moto: &Moto, name: &str, extra: &[&str]) -> (Inventory, std::process::Output) {
    let dir = moto.dir.path();
    let inventory = dir.join(format!("{name}.json"));
    let out_dir = dir.join(name);
    let mut args = vec!["--fail-on", "none"];
    args.extend_from_slice(extra);
    let output = support::audit_saving(&moto.endpoint, NOW, &inventory, &out_dir, &args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a complete crawl with --fail-on none exits 0; stderr:\n{}",
        stderr(&output)
    );
    (
        Inventory::from_json_file(&inventory).expect("the saved inventory reads back"),
        output,
    )
}

/// Compares the inventory with the seeding manifest, every user and every key.
fn assert_matches_manifest(inv: &Inventory, manifest: &Value) {
    let seeded = manifest["users"].as_array().expect("users");
    let crawled: BTreeMap<&str, _> = inv.users.iter().map(|u| (u.name.as_str(), u)).collect();
    let seeded_names: BTreeSet<&str> = seeded.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(
        crawled.keys().copied().collect::<BTreeSet<_>>(),
        seeded_names,
        "the crawl lists exactly the seeded users"
    );

    for s in seeded {
        let name = s["name"].as_str().unwrap();
        let user = crawled[name];
        assert_eq!(user.arn, s["arn"].as_str().unwrap(), "{name}: arn");
        assert_eq!(user.path, s["path"].as_str().unwrap(), "{name}: path");
        assert_eq!(user.created, Some(time(&s["created"])), "{name}: created");

        let mut expected_tags: BTreeMap<String, String> = s["tags"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        for k in s["keys"].as_array().unwrap() {
            if let Some(d) = k.get("description").and_then(Value::as_str) {
                expected_tags.insert(k["id"].as_str().unwrap().to_string(), d.to_string());
            }
        }
        let tags: BTreeMap<String, String> = user
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        assert_eq!(tags, expected_tags, "{name}: tags");

        let login = user
            .login
            .as_ref()
            .expect("login context from the credential report");
        assert_eq!(
            login.password_enabled,
            s["console_password"].as_bool().unwrap(),
            "{name}: console password"
        );
        assert_eq!(login.mfa_active, s["mfa"].as_bool().unwrap(), "{name}: MFA");

        let seeded_keys = s["keys"].as_array().unwrap();
        assert_eq!(user.keys.len(), seeded_keys.len(), "{name}: number of keys");
        for sk in seeded_keys {
            let id = sk["id"].as_str().unwrap();
            let key = user
                .keys
                .iter()
                .find(|k| k.id.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("{name}: key {id} missing"));
            let status = match sk["status"].as_str().unwrap() {
                "Active" => KeyStatus::Active,
                _ => KeyStatus::Inactive,
            };
            assert_eq!(key.status, status, "{name} {id}: status");
            assert_eq!(key.created, time(&sk["created"]), "{name} {id}: created");
            // The credential report gives the date; this endpoint's report has no service
            // or Region (`not_supported`), which only GetAccessKeyLastUsed gives.
            let from_api = key.last_used_source == LastUseSource::Api;
            let expected_use = match &sk["used"] {
                Value::Null => LastUse::Never,
                used => LastUse::Used {
                    date: time(&used["date"]),
                    service: Some(used["service"].as_str().unwrap().to_string())
                        .filter(|_| from_api),
                    region: Some(used["region"].as_str().unwrap().to_string()).filter(|_| from_api),
                },
            };
            assert_eq!(key.last_used, expected_use, "{name} {id}: last use");
            assert_eq!(
                key.description.as_deref(),
                sk.get("description").and_then(Value::as_str),
                "{name} {id}: description"
            );
        }
    }
}

#[test]
fn crawl_of_an_aged_account_equals_what_was_seeded() {
    let moto = Moto::start();
    let manifest = moto.seed_generated(320, 11, NOW);
    let (inv, output) = crawl(&moto, &["--concurrency", "12", "--call-plan", "full"]);
    assert!(
        inv.users
            .iter()
            .flat_map(|u| &u.keys)
            .all(|k| k.last_used_source == LastUseSource::Api),
        "the full plan asks GetAccessKeyLastUsed for every key"
    );

    assert_matches_manifest(&inv, &manifest);
    assert_eq!(inv.account_id.as_deref(), Some("123456789012"));
    assert!(
        matches!(inv.source, SourceInfo::Live { endpoint: Some(ref e) } if *e == moto.endpoint)
    );
    assert!(inv.is_complete(), "gaps: {:?}", inv.gaps);
    assert!(inv.removed_during_crawl.is_empty());
    let coverage = inv.compute_coverage();
    assert_eq!(coverage.users_listed, 322);
    assert_eq!(coverage.users_fully_audited, 322);
    assert_eq!(coverage.keys, coverage.keys_with_last_use);

    // Keys hundreds of days old, thanks to the endpoint's moved clock.
    let now = time(&Value::String(NOW.into()));
    let oldest = inv
        .users
        .iter()
        .flat_map(|u| &u.keys)
        .map(|k| (now - k.created).num_days())
        .max()
        .unwrap();
    assert!(oldest > 365, "the oldest key is {oldest} days old");

    // The endpoint's credential report has no <root_account> row: root comes from the
    // account summary, and the inventory says so.
    assert_eq!(
        inv.root,
        RootKeys::AccountSummary {
            keys_present: false
        }
    );
    let report = inv
        .credential_report
        .as_ref()
        .expect("credential report merged");
    assert!(!report.has_root_row);

    // The users came in several ListUsers pages, and every per-user and per-key call was
    // made exactly once.
    let calls = &inv.stats.calls;
    assert_eq!(
        calls["ListUsers"] as usize,
        322usize.div_ceil(support::LIST_USERS_PAGE_CAP),
        "ListUsers calls: {calls:?}"
    );
    assert!(calls["ListUsers"] > 1);
    assert_eq!(calls["ListAccessKeys"], 322);
    assert_eq!(calls["ListUserTags"], 322);
    assert_eq!(calls["GetAccessKeyLastUsed"] as usize, coverage.keys);
    assert_eq!(inv.stats.gaps, 0);
    // Every answer's bytes are counted: at least a few hundred bytes per call.
    assert!(
        inv.stats.bytes_received > 200 * inv.stats.total_calls(),
        "{} bytes for {} calls",
        inv.stats.bytes_received,
        inv.stats.total_calls()
    );

    // The one-line crawl summary on stderr, with the calls per key and the bytes.
    let err = stderr(&output);
    assert!(
        err.contains("crawled 322 users") && err.contains("coverage complete"),
        "stderr: {err}"
    );
    let per_key = inv.stats.total_calls() as f64 / coverage.keys as f64;
    assert!(
        err.contains(&format!(", {per_key:.2} per key, ")) && err.contains(" KiB received"),
        "stderr: {err}"
    );
    assert!(
        !err.contains(support::AUDIT_SECRET),
        "a credential was printed"
    );

    // The economical plan, on the same account: the same users, tags and keys, each last
    // use the seeded one, for far fewer calls.
    let (cheap, output) = crawl_into(&moto, "economical", &["--concurrency", "12"]);
    assert_matches_manifest(&cheap, &manifest);
    assert!(cheap.is_complete(), "gaps: {:?}", cheap.gaps);
    let calls = &cheap.stats.calls;
    assert_eq!(
        calls["GetAccountAuthorizationDetails"] as usize,
        322usize.div_ceil(support::LIST_USERS_PAGE_CAP),
        "users and tags come in pages: {calls:?}"
    );
    assert!(!calls.contains_key("ListUsers") && !calls.contains_key("ListUserTags"));
    assert_eq!(calls["ListAccessKeys"], 322);
    let from_report = cheap.last_use_from_report();
    assert!(
        from_report > coverage.keys / 2,
        "{from_report} of {} keys",
        coverage.keys
    );
    assert_eq!(
        calls["GetAccessKeyLastUsed"] as usize + from_report,
        coverage.keys,
        "every key's last use is either asked for or from the report"
    );
    assert!(
        cheap.stats.total_calls() * 2 < inv.stats.total_calls() + 322,
        "{} calls against the full plan's {}",
        cheap.stats.total_calls(),
        inv.stats.total_calls()
    );
    assert!(
        stderr(&output).contains(&format!(
            "last use of {from_report} of {} keys from the credential report",
            coverage.keys
        )),
        "{}",
        stderr(&output)
    );
}

/// The (rule, user, key, severity) of every finding in a run's report.json.
fn finding_set(dir: &std::path::Path) -> BTreeSet<(String, String, String, String)> {
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |field: &str| f[field].as_str().unwrap_or_default().to_string();
            (
                text("rule_id"),
                text("user_name"),
                text("access_key_id"),
                text("severity"),
            )
        })
        .collect()
}

#[test]
fn both_call_plans_find_exactly_the_same_problems() {
    let moto = Moto::start();
    moto.seed_generated(320, 17, NOW);
    let (full, _) = crawl_into(&moto, "full", &["--call-plan", "full"]);
    let (cheap, _) = crawl_into(&moto, "economical", &[]);
    let dir = moto.dir.path();
    let (full_findings, cheap_findings) = (
        finding_set(&dir.join("full")),
        finding_set(&dir.join("economical")),
    );
    assert!(
        full_findings.len() > 100,
        "{} findings",
        full_findings.len()
    );
    assert_eq!(full_findings, cheap_findings);

    // Each plan says where every last use came from, in keys.csv's two columns before the
    // owner.
    let keys_csv = std::fs::read_to_string(dir.join("economical/keys.csv")).unwrap();
    let mut rows = keys_csv.lines();
    assert!(
        rows.next()
            .unwrap()
            .ends_with(",account_name,last_used_source,last_used_source_time,owner")
    );
    let generated = cheap
        .credential_report
        .as_ref()
        .unwrap()
        .generated_at
        .unwrap();
    let mut sources = BTreeMap::<String, usize>::new();
    for row in rows {
        let cells: Vec<&str> = row.rsplitn(4, ',').collect();
        assert_eq!(cells[0], "unowned");
        *sources.entry(cells[2].to_string()).or_default() += 1;
        if cells[2] == "credential-report" {
            assert_eq!(cells[1], generated.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }
    assert_eq!(sources["credential-report"], cheap.last_use_from_report());
    assert_eq!(
        sources["api"],
        cheap.user_key_count() - cheap.last_use_from_report()
    );
    // A finding built from a report value says so.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("economical/report.json")).unwrap())
            .unwrap();
    let labelled = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["last_used_source"] == "credential-report")
        .inspect(|f| {
            let message = f["message"].as_str().unwrap();
            assert!(
                message.contains("per the credential report of")
                    || f["rule_id"] != "key-not-rotated",
                "{message}"
            );
        })
        .count();
    assert!(labelled > 0, "no finding quotes the report");

    let per_key = |inv: &Inventory| inv.stats.total_calls() as f64 / inv.user_key_count() as f64;
    assert!(
        per_key(&cheap) < 0.6 * per_key(&full),
        "{:.2} calls per key against the full plan's {:.2}",
        per_key(&cheap),
        per_key(&full)
    );
}

#[test]
fn the_crawl_sends_only_read_only_requests() {
    let moto = Moto::start_with(true);
    moto.seed_generated(40, 3, NOW);
    moto.control("/moto-api/recorder/reset-recording");
    moto.control("/moto-api/recorder/start-recording");
    let (inv, _) = crawl(&moto, &[]);
    moto.control("/moto-api/recorder/stop-recording");
    assert!(inv.is_complete());

    let mut actions = BTreeMap::<String, usize>::new();
    for (action, entry) in support::recorded_requests(moto.recording.as_ref().unwrap()) {
        *actions.entry(action).or_default() += 1;
        let auth = entry["headers"]["Authorization"]
            .as_str()
            .unwrap_or_default();
        assert!(
            auth.contains(support::AUDIT_KEY_ID),
            "every request is signed with the audit credentials"
        );
    }
    let allowed = support::apis::economical_plan();
    let sent: BTreeSet<&str> = actions.keys().map(String::as_str).collect();
    assert_eq!(
        sent, allowed,
        "the crawl sends exactly the documented read-only actions: {actions:?}"
    );
    assert_eq!(actions["GenerateCredentialReport"], 1);

    // The full plan, and the fallback when GetAccountAuthorizationDetails is refused, use
    // ListUsers and ListUserTags instead.
    moto.control("/moto-api/recorder/reset-recording");
    moto.control("/moto-api/recorder/start-recording");
    let (inv, _) = crawl(&moto, &["--call-plan", "full"]);
    moto.control("/moto-api/recorder/stop-recording");
    assert!(inv.is_complete());
    let sent: BTreeSet<String> = support::recorded_requests(moto.recording.as_ref().unwrap())
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    let full: BTreeSet<String> = support::apis::full_plan()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(sent, full);
}
