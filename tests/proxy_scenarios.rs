//! The crawler behind keyhygiene-iam-proxy: throttling (scenario B, also at a high
//! `--concurrency`), random transient faults (C), a persistent AccessDenied (D) and a
//! retryable fault that never clears (E), against a direct crawl of the same account (A).
//! Correctness only: these tests never assert on time (scripts/bench measures it).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Utc};
use keyhygiene::inventory::{CrawlStats, Inventory, SourceInfo};
use serde_json::Value;
use support::{FaultProxy, Moto, audit_saving, stderr};

const NOW: &str = "2026-06-01T12:00:00Z";
const USERS: usize = 100;

struct Crawl {
    inventory: Inventory,
    report: Value,
    output: Output,
    out_dir: std::path::PathBuf,
}

/// One `keyhygiene audit` against `endpoint`, its saved inventory and its report.json.
fn crawl(endpoint: &str, dir: &Path, name: &str) -> Crawl {
    crawl_with(endpoint, dir, name, &[])
}

/// [`crawl`] with extra flags. The scenarios fault and throttle every kind of call, so they
/// use the full call plan, which makes every kind once per user or key.
fn crawl_with(endpoint: &str, dir: &Path, name: &str, extra: &[&str]) -> Crawl {
    let inventory = dir.join(format!("{name}.inventory.json"));
    let out_dir = dir.join(format!("{name}-report"));
    let mut flags = vec!["--fail-on", "none", "--quiet", "--call-plan", "full"];
    flags.extend_from_slice(extra);
    let output = audit_saving(endpoint, NOW, &inventory, &out_dir, &flags);
    let inventory = Inventory::from_json_file(&inventory).unwrap_or_else(|e| {
        panic!(
            "scenario {name}: no saved inventory ({e}); stderr:\n{}",
            stderr(&output)
        )
    });
    let report = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("report.json")).expect("report.json"),
    )
    .expect("report.json is JSON");
    Crawl {
        inventory,
        report,
        output,
        out_dir,
    }
}

/// The inventory without what legitimately differs between two crawls of the same account:
/// when and through which endpoint it was collected, and how the calls went.
fn comparable(inv: &Inventory) -> Inventory {
    let mut inv = inv.clone();
    inv.collected_at = DateTime::<Utc>::UNIX_EPOCH;
    inv.source = SourceInfo::Live { endpoint: None };
    inv.stats = CrawlStats::default();
    inv.coverage = None;
    inv
}

/// The direct crawl (scenario A): complete, and the baseline for the others.
fn direct(moto: &Moto) -> Crawl {
    let a = crawl(&moto.endpoint, moto.dir.path(), "a");
    assert_eq!(a.output.status.code(), Some(0), "{}", stderr(&a.output));
    assert!(a.inventory.is_complete(), "gaps: {:?}", a.inventory.gaps);
    assert_eq!(a.inventory.users.len(), USERS + 2);
    a
}

fn seeded(seed: u64) -> (Moto, Value) {
    let moto = Moto::start();
    let manifest = moto.seed_generated(USERS, seed, NOW);
    (moto, manifest)
}

/// Asserts a scenario's crawl is complete and identical, key by key, to the direct one.
fn assert_same_as_direct(a: &Crawl, x: &Crawl, scenario: &str) {
    assert_eq!(
        x.output.status.code(),
        Some(0),
        "scenario {scenario}: a complete crawl with --fail-on none exits 0; stderr:\n{}",
        stderr(&x.output)
    );
    assert!(
        x.inventory.is_complete(),
        "scenario {scenario}: gaps {:?}",
        x.inventory.gaps
    );
    assert_eq!(x.inventory.stats.gaps, 0, "scenario {scenario}");
    let coverage = x.inventory.compute_coverage();
    assert_eq!(coverage.users_listed, coverage.users_fully_audited);
    assert_eq!(coverage.keys, coverage.keys_with_last_use);
    let (a_inv, x_inv) = (comparable(&a.inventory), comparable(&x.inventory));
    for (ua, ux) in a_inv.users.iter().zip(&x_inv.users) {
        assert_eq!(ua, ux, "scenario {scenario}: user {}", ua.name);
    }
    assert_eq!(a_inv, x_inv, "scenario {scenario}: the whole inventory");
    assert_eq!(
        a.report["findings"], x.report["findings"],
        "scenario {scenario}: findings in report.json"
    );
}

#[test]
fn scenario_b_throttled_crawl_equals_the_direct_crawl() {
    let (moto, _) = seeded(21);
    let a = direct(&moto);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &[
            "--latency-ms",
            "5",
            "--jitter-ms",
            "5",
            // Low enough that the crawl is throttled however slow the machine is: at 20 req/s
            // a crawl slowed by a loaded machine may never reach the limit.
            "--throttle-rps",
            "5",
            "--throttle-burst",
            "2",
            "--seed",
            "2",
        ],
    );
    let b = crawl(&proxy.endpoint, moto.dir.path(), "b");
    assert_same_as_direct(&a, &b, "B");

    let stats = proxy.stats();
    assert!(
        stats["throttled"].as_u64().unwrap() > 0,
        "the scenario throttled nothing: {stats}"
    );
    assert!(b.inventory.stats.throttled > 0);
    // Every user's keys and tags were listed, and every key's last use read, successfully
    // once each: throttled attempts were retried, not dropped or repeated after success.
    let users = a.inventory.users.len() as u64;
    let keys = a.inventory.compute_coverage().keys as u64;
    assert_eq!(stats["actions"]["ListAccessKeys"]["forwarded"], users);
    assert_eq!(stats["actions"]["ListUserTags"]["forwarded"], users);
    assert_eq!(stats["actions"]["GetAccessKeyLastUsed"]["forwarded"], keys);
    assert_eq!(stats["faulted"], 0);
    // A throttled answer is fast: no attempt is cut, so none adds load to a throttled API.
    assert_eq!(b.inventory.stats.attempts_cut, 0);
}

#[test]
fn scenario_c_crawl_with_random_faults_equals_the_direct_crawl() {
    let (moto, _) = seeded(22);
    let a = direct(&moto);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &[
            "--latency-ms",
            "5",
            "--fault-rate",
            "0.05",
            "--fault-kinds",
            "service-failure,reset,slow,slow-body",
            "--seed",
            "7",
        ],
    );
    let c = crawl(&proxy.endpoint, moto.dir.path(), "c");
    assert_same_as_direct(&a, &c, "C");

    let stats = proxy.stats();
    let faulted = stats["faulted"].as_u64().unwrap();
    assert!(faulted > 0, "the scenario injected no fault: {stats}");
    // Held answers and trickling bodies met once an operation's times were learned were
    // cut at its learned timeout, before the default.
    assert!(
        c.inventory.stats.attempts_cut > 0,
        "{:?}",
        c.inventory.stats
    );
    for kind in ["service_failure", "reset", "slow", "slow_body"] {
        assert!(
            stats["faults"][kind].as_u64().unwrap() > 0,
            "no {kind} fault was injected: {stats}"
        );
    }
    // Each fault cost one retry and nothing else.
    assert_eq!(c.inventory.stats.retries, faulted, "{stats}");
    assert_eq!(
        c.inventory.stats.total_calls(),
        stats["requests"].as_u64().unwrap()
    );
}

#[test]
fn scenario_d_access_denied_for_one_user_is_a_coverage_gap_in_every_output() {
    let (moto, manifest) = seeded(23);
    let a = direct(&moto);
    // The first user, by name, with at least one key.
    let denied = manifest["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| !u["keys"].as_array().unwrap().is_empty())
        .map(|u| u["name"].as_str().unwrap())
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        })
        .min()
        .expect("a user with keys")
        .to_string();
    let rule = format!("ListAccessKeys:UserName={denied}");
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--latency-ms", "5", "--deny", &rule, "--seed", "3"],
    );
    let d = crawl(&proxy.endpoint, moto.dir.path(), "d");

    assert_eq!(
        d.output.status.code(),
        Some(3),
        "incomplete coverage exits 3; stderr:\n{}",
        stderr(&d.output)
    );
    // The saved inventory: exactly one gap, for that user's keys.
    let inv = &d.inventory;
    assert!(!inv.is_complete());
    assert_eq!(inv.gaps.len(), 1, "gaps: {:?}", inv.gaps);
    let gap = &inv.gaps[0];
    assert_eq!(gap.user.as_deref(), Some(denied.as_str()));
    assert_eq!(gap.operation, "ListAccessKeys");
    assert_eq!(gap.error_code, "AccessDenied");
    let coverage = inv.compute_coverage();
    assert_eq!(coverage.users_listed, a.inventory.users.len());
    assert_eq!(coverage.users_fully_audited, coverage.users_listed - 1);

    // report.json says the same.
    let report_gaps = d.report["coverage"]["gaps"].as_array().unwrap();
    assert_eq!(d.report["coverage"]["complete"], false);
    assert_eq!(report_gaps.len(), 1, "{report_gaps:?}");
    assert_eq!(report_gaps[0]["user"], denied.as_str());
    assert_eq!(report_gaps[0]["operation"], "ListAccessKeys");
    assert_eq!(report_gaps[0]["error_code"], "AccessDenied");
    // So does the HTML report.
    let html = std::fs::read_to_string(d.out_dir.join("report.html")).expect("report.html");
    assert!(html.contains("AccessDenied") && html.contains(&denied));

    // Everything else is identical to the direct crawl.
    let without = |inv: &Inventory| {
        let mut inv = comparable(inv);
        inv.users.retain(|u| u.name != denied);
        inv.gaps.clear();
        inv
    };
    assert_eq!(without(&a.inventory), without(&d.inventory));
    let findings = |report: &Value| -> BTreeSet<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["user_name"] != denied.as_str())
            .map(|f| f.to_string())
            .collect()
    };
    assert_eq!(findings(&a.report), findings(&d.report));
    let stats = proxy.stats();
    assert_eq!(stats["denied"], 1, "{stats}");
}

#[test]
fn scenario_b_at_a_high_concurrency_equals_the_direct_crawl() {
    // IAM's rate per action does not grow with the crawler's concurrency: more calls in
    // flight only means more of them throttled at once. The pace per operation, which
    // throttled retries wait for too, has to absorb that at any --concurrency.
    let (moto, _) = seeded(24);
    let a = direct(&moto);
    let users = a.inventory.users.len() as u64;
    let keys = a.inventory.compute_coverage().keys as u64;
    for concurrency in ["16", "32", "64"] {
        let proxy = FaultProxy::start(
            &moto.endpoint,
            &[
                "--latency-ms",
                "5",
                "--jitter-ms",
                "5",
                "--throttle-rps",
                "10",
                "--throttle-burst",
                "10",
                "--seed",
                "5",
            ],
        );
        let name = format!("b-c{concurrency}");
        let b = crawl_with(
            &proxy.endpoint,
            moto.dir.path(),
            &name,
            &["--concurrency", concurrency],
        );
        assert_same_as_direct(&a, &b, &name);
        let stats = proxy.stats();
        assert!(
            stats["throttled"].as_u64().unwrap() > 0,
            "{name}: the scenario throttled nothing: {stats}"
        );
        assert_eq!(
            b.inventory.stats.throttled,
            stats["throttled"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            stats["actions"]["ListAccessKeys"]["forwarded"], users,
            "{name}"
        );
        assert_eq!(
            stats["actions"]["ListUserTags"]["forwarded"], users,
            "{name}"
        );
        assert_eq!(
            stats["actions"]["GetAccessKeyLastUsed"]["forwarded"], keys,
            "{name}"
        );
    }
}

/// Attempts per call, the first one included (`AwsOptions::max_attempts`).
const MAX_ATTEMPTS: u64 = 8;

#[test]
fn scenario_e_a_call_that_always_fails_gets_every_attempt_for_every_user() {
    // ListUserTags answers HTTP 500 ServiceFailure (retryable) every time, for every user,
    // with 64 calls in flight: every user's call fails at once, through all its retries.
    // A smaller account keeps the test short: each call waits out all its backoffs.
    const E_USERS: usize = 40;
    let moto = Moto::start();
    moto.seed_generated(E_USERS, 25, NOW);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--latency-ms", "5", "--fail", "ListUserTags", "--seed", "6"],
    );
    let e = crawl_with(
        &proxy.endpoint,
        moto.dir.path(),
        "e",
        &["--concurrency", "64"],
    );
    assert_eq!(
        e.output.status.code(),
        Some(3),
        "incomplete coverage exits 3; stderr:\n{}",
        stderr(&e.output)
    );
    let inv = &e.inventory;
    let users = inv.users.len() as u64;
    assert_eq!(users, E_USERS as u64 + 2);

    // Exactly one gap per user, for its tags, with the error the service gave.
    let mut gapped: Vec<&str> = inv
        .gaps
        .iter()
        .map(|g| {
            assert_eq!(
                (g.operation.as_str(), g.error_code.as_str()),
                ("ListUserTags", "ServiceFailure"),
                "{g:?}"
            );
            g.user.as_deref().expect("a user's gap")
        })
        .collect();
    gapped.sort_unstable();
    gapped.dedup();
    assert_eq!(gapped.len() as u64, users, "gaps: {:?}", inv.gaps);
    assert_eq!(inv.gaps.len() as u64, users);
    assert_eq!(inv.stats.gaps, users);

    // Every call got every attempt. The SDK never makes more than MAX_ATTEMPTS for one
    // call, so a total of MAX_ATTEMPTS x users means each user's call got exactly
    // MAX_ATTEMPTS: none was cut short.
    let stats = proxy.stats();
    let tags = &stats["actions"]["ListUserTags"];
    assert_eq!(tags["requests"], MAX_ATTEMPTS * users, "{stats}");
    assert_eq!(tags["service_failure"], MAX_ATTEMPTS * users, "{stats}");
    assert_eq!(tags["forwarded"], 0, "{stats}");
    assert_eq!(inv.stats.calls["ListUserTags"], MAX_ATTEMPTS * users);
    assert_eq!(inv.stats.retries, (MAX_ATTEMPTS - 1) * users);
    // Nothing else failed: every user's keys and every key's last use are there.
    let coverage = inv.compute_coverage();
    assert_eq!(coverage.keys, coverage.keys_with_last_use);
    assert_eq!(stats["faulted"], MAX_ATTEMPTS * users, "{stats}");
}

/// The user created last, listed last: with one call at a time, every other user's
/// ListAccessKeys has answered (and taught its time) before its own.
fn last_created_user(manifest: &Value) -> String {
    manifest["users"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .min_by_key(|(i, u)| {
            (
                u["created_days_ago"].as_i64().unwrap(),
                std::cmp::Reverse(*i),
            )
        })
        .map(|(_, u)| u["name"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn an_answer_always_slower_than_the_learned_timeout_is_waited_for_by_a_later_attempt() {
    // One user's ListAccessKeys always takes 1.3 s, past the learned timeout (the floor,
    // 1 s, at this latency). Each cut doubles the call's next timeout, so its second
    // attempt (2 s) gets the answer: without the backoff, all 8 attempts would be cut at
    // 1 s and the user would be a coverage gap.
    let (moto, manifest) = seeded(23);
    let users = manifest["users"].as_array().unwrap();
    let last = last_created_user(&manifest);
    let held = format!("ListAccessKeys:UserName={last}");
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--latency-ms", "5", "--slow-ms", "1300", "--hold", &held],
    );
    let dir = moto.dir.path();
    let inventory = dir.join("slow.inventory.json");
    let output = audit_saving(
        &proxy.endpoint,
        NOW,
        &inventory,
        &dir.join("slow-report"),
        &["--fail-on", "none", "--quiet", "--concurrency", "1"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let inventory = Inventory::from_json_file(&inventory).unwrap();
    assert!(inventory.is_complete(), "{:?}", inventory.gaps);
    let cut = inventory.stats.attempts_cut;
    assert!((1..=2).contains(&cut), "cut {cut} times");
    let stats = proxy.stats();
    assert_eq!(
        stats["actions"]["ListAccessKeys"]["requests"]
            .as_u64()
            .unwrap(),
        users.len() as u64 + cut,
        "one more request per cut attempt: {stats}"
    );
}

/// One held answer, met once its operation's attempt times are learned, is cut at the
/// learned timeout and sent again; a slow credential report, which IAM may take seconds to
/// answer, is waited for. Counted, not timed: a cut is only counted when the attempt's
/// timeout was a learned one, shorter than the default.
#[test]
fn a_held_answer_is_cut_at_the_learned_timeout_and_a_slow_report_is_waited_for() {
    let (moto, manifest) = seeded(23);
    let users = manifest["users"].as_array().unwrap();
    let last = last_created_user(&manifest);
    let held = format!("ListAccessKeys:UserName={last}");
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &[
            "--latency-ms",
            "5",
            "--slow-ms",
            "3000",
            "--hold-once",
            &held,
            "--hold-once",
            "GetCredentialReport",
        ],
    );
    let dir = moto.dir.path();
    let inventory = dir.join("held.inventory.json");
    let out_dir = dir.join("held-report");
    let output = audit_saving(
        &proxy.endpoint,
        NOW,
        &inventory,
        &out_dir,
        &["--fail-on", "none", "--quiet", "--concurrency", "1"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let inventory = Inventory::from_json_file(&inventory).unwrap();
    assert!(inventory.is_complete(), "{:?}", inventory.gaps);
    let stats = proxy.stats();
    assert_eq!(stats["actions"]["ListAccessKeys"]["slow"], 1, "{stats}");
    assert_eq!(
        stats["actions"]["ListAccessKeys"]["requests"]
            .as_u64()
            .unwrap(),
        users.len() as u64 + 1,
        "the held call was sent once more"
    );
    assert_eq!(
        inventory.stats.attempts_cut, 1,
        "cut at the learned timeout (3 s is under the 10 s default)"
    );
    assert_eq!(
        stats["actions"]["GetCredentialReport"]["slow"], 1,
        "{stats}"
    );
    assert_eq!(
        stats["actions"]["GetCredentialReport"]["requests"], 1,
        "the slow credential report was waited for, not cut: {stats}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["crawl_stats"]["attempts_cut"], 1);
}
