//! What keyhygiene reads, attacked as a hostile user, a broken network and an unlucky
//! operator would: no false "complete" from a partial merge, an empty answer or a hostile
//! saved file. Each test failed before its fix. Offline, except the empty-answer test,
//! which crawls the local endpoint through the fault proxy.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use keyhygiene::org::Shard;
use serde_json::{Value, json};
use support::saved::{account, audit, inventory, manifest, report, save};
use support::{FaultProxy, Moto, stderr, stdout};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Exit 2, one line on stderr containing `expect`, and no report written.
fn assert_refused(output: &Output, out: &Path, expect: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expect), "expected {expect:?} in {err}");
    assert!(!out.join("report.json").exists(), "nothing is written");
}

/// An account id of shard `shard` of `count`, the `n`-th found.
fn id_in_shard(shard: u32, count: u32, n: usize) -> String {
    (0..)
        .map(|i: u64| format!("{:012}", 200_000_000_000 + i))
        .filter(|id| Shard::of(id, count) == shard)
        .nth(n)
        .unwrap()
}

/// A shard's `--save-inventory` folder over `ids`: its own accounts audited (a key of 10
/// days each), the others in another shard.
fn shard_folder(dir: &Path, shard: u32, count: u32, ids: &[String]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let records: Vec<Value> = ids
        .iter()
        .map(|id| {
            if Shard::of(id, count) == shard {
                save(
                    dir,
                    &format!("account-{id}.json"),
                    &inventory(id, "alice", 10),
                );
                account(
                    id,
                    "acct",
                    "ACTIVE",
                    json!({"outcome": "audited", "file": format!("account-{id}.json")}),
                )
            } else {
                account(id, "acct", "ACTIVE", json!({"outcome": "other-shard"}))
            }
        })
        .collect();
    let mut m = manifest(json!(records));
    m["selection"]["shard"] = json!({"index": shard, "count": count});
    std::fs::write(
        dir.join(format!("manifest-shard-{shard}-of-{count}.json")),
        m.to_string(),
    )
    .unwrap();
    dir.to_path_buf()
}

// Item 1: `audit --org --shard 1/2 --save-inventory sh`, shard 2 never ran, then
// `audit --from-inventory sh` said "coverage: complete" and exited 0.
#[test]
fn a_lone_shards_folder_is_not_a_complete_organization() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = [(1, 0), (1, 1), (2, 0), (2, 1)]
        .iter()
        .map(|&(s, n)| id_in_shard(s, 2, n))
        .collect();
    let sh = shard_folder(&dir.path().join("sh"), 1, 2, &ids);
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        path_str(&sh),
        "--out-dir",
        path_str(&out),
        "--fail-on",
        "none",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("coverage: INCOMPLETE: 2 of 4 active accounts audited"),
        "{text}"
    );
    for id in &ids[2..] {
        // Named in every output: stdout, the overview, report.json.
        assert!(
            text.contains(&format!(
                "not audited: account {id}: shard failed with NotCovered"
            )),
            "{text}"
        );
        let overview = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(overview.contains(id.as_str()));
    }
    let doc = report(&out);
    assert_eq!(doc["coverage"]["complete"], false);
    assert_eq!(doc["organization"]["accounts_not_audited"], 2);
    // Asked for explicitly, the folder is that shard's own report: the other shard's
    // accounts are not assessed, and the history of a shard is its own.
    let output = audit(&[
        "--from-inventory",
        path_str(&sh),
        "--only-shard",
        "1/2",
        "--out-dir",
        path_str(&out),
        "--fail-on",
        "none",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "coverage: complete: 2 accounts audited; 2 accounts not assessed (not active, excluded, out of scope or in another shard)"
        ),
        "{text}"
    );
    let doc = report(&out);
    assert_eq!(doc["organization"]["selection"]["shard"]["index"], 1);
    // --only-shard reads folders, of the shard it names.
    let output = audit(&[
        "--from-inventory",
        path_str(&sh),
        "--only-shard",
        "2/2",
        "--out-dir",
        path_str(&dir.path().join("out2")),
    ]);
    assert_refused(
        &output,
        &dir.path().join("out2"),
        "no manifest-shard-2-of-2.json here",
    );
}

// Item 3: a manifest's word was trusted.
#[test]
fn a_manifest_that_contradicts_itself_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    save(
        &saved,
        "account-111111111111.json",
        &inventory("111111111111", "alice", 10),
    );
    let audited = json!({"outcome": "audited", "file": "account-111111111111.json"});
    let run = |accounts: Value| {
        std::fs::write(saved.join("manifest.json"), manifest(accounts).to_string()).unwrap();
        audit(&[
            "--from-inventory",
            path_str(&saved),
            "--out-dir",
            path_str(&out),
        ])
    };
    // An ACTIVE account marked not active, its file deleted: once "complete".
    let output = run(json!([
        account("111111111111", "prod", "ACTIVE", audited.clone()),
        account(
            "222222222222",
            "payments",
            "ACTIVE",
            json!({"outcome": "not-active"})
        ),
    ]));
    assert_refused(
        &output,
        &out,
        "account 222222222222 is ACTIVE, but the manifest says it was not active",
    );
    // A record listed twice, excluded and audited: once accepted.
    let output = run(json!([
        account(
            "111111111111",
            "prod",
            "ACTIVE",
            json!({"outcome": "excluded"})
        ),
        account("111111111111", "prod", "ACTIVE", audited.clone()),
    ]));
    assert_refused(&output, &out, "account 111111111111 is listed twice");
    // An account file that is a link to a file outside its folder: once read.
    let outside = save(
        dir.path(),
        "outside.json",
        &inventory("111111111111", "eve", 900),
    );
    std::fs::remove_file(saved.join("account-111111111111.json")).unwrap();
    std::os::unix::fs::symlink(&outside, saved.join("account-111111111111.json")).unwrap();
    let output = run(json!([account("111111111111", "prod", "ACTIVE", audited)]));
    assert_refused(&output, &out, "is a symbolic link");
}

// Item 4: an account id was a path: `x/../../ESCAPED` wrote ESCAPED.html outside
// --out-dir, and markup and formulas became file names.
#[test]
fn an_account_id_is_twelve_digits_wherever_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/out");
    for hostile in [
        "x/../../ESCAPED",
        "<img src=x onerror=alert(1)>",
        "=HYPERLINK(\"http://x\")",
    ] {
        // In a saved inventory.
        let mut inv: Value = serde_json::to_value(inventory("111111111111", "alice", 10)).unwrap();
        inv["account_id"] = json!(hostile);
        let file = dir.path().join("inv.json");
        std::fs::write(&file, inv.to_string()).unwrap();
        let other = save(dir.path(), "b.json", &inventory("222222222222", "bob", 10));
        let output = audit(&[
            "--from-inventory",
            path_str(&file),
            path_str(&other),
            "--out-dir",
            path_str(&out),
        ]);
        assert_refused(&output, &out, "is not an AWS account id");
        // In a manifest.
        let saved = dir.path().join("saved");
        std::fs::create_dir_all(&saved).unwrap();
        let m = manifest(json!([account(
            hostile,
            "x",
            "ACTIVE",
            json!({"outcome": "excluded"})
        )]));
        std::fs::write(saved.join("manifest.json"), m.to_string()).unwrap();
        let output = audit(&[
            "--from-inventory",
            path_str(&saved),
            "--out-dir",
            path_str(&out),
        ]);
        assert_refused(&output, &out, "is not an AWS account id");
        // In an --accounts list and a policy file, before any network call.
        let output = support::keyhygiene()
            .args([
                "audit",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--accounts",
            ])
            .arg(hostile)
            .args(["--out-dir", path_str(&out)])
            .output()
            .unwrap();
        assert_refused(&output, &out, "--accounts: `");
    }
    assert!(!dir.path().join("ESCAPED.html").exists());
    assert!(!dir.path().join("a/ESCAPED.html").exists());
    let written: Vec<_> = walk(dir.path());
    assert!(
        written
            .iter()
            .all(|p| !p.contains("ESCAPED") && !p.contains('<') && !p.contains('=')),
        "{written:?}"
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(walk(&path));
        }
        all.push(path.display().to_string());
    }
    all
}

// Item 5: a manifest with a shard count of 0 panicked with a division by zero (exit 101).
#[test]
fn a_shard_count_of_zero_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    for index in [1, 2] {
        let mut m = manifest(json!([account(
            "333333333333",
            "x",
            "ACTIVE",
            json!({"outcome": "other-shard"})
        )]));
        m["selection"]["shard"] = json!({"index": index, "count": 0});
        std::fs::write(
            saved.join(format!("manifest-shard-{index}-of-0.json")),
            m.to_string(),
        )
        .unwrap();
    }
    let output = audit(&[
        "--from-inventory",
        path_str(&saved),
        "--out-dir",
        path_str(&out),
    ]);
    assert_refused(&output, &out, "K must be from 1 to N");
}

// Smaller: an --accounts-file with a byte-order mark (Notepad, PowerShell) was refused.
#[test]
fn an_accounts_file_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.txt");
    std::fs::write(&file, "\u{feff}111122223333\r\n444455556666\r\n").unwrap();
    // The list is read before any call: an unreachable endpoint shows it was accepted.
    let output = support::audit_at(
        "http://127.0.0.1:9",
        &[
            "--accounts-file",
            path_str(&file),
            "--out-dir",
            path_str(&dir.path().join("out")),
        ],
    );
    let err = stderr(&output);
    assert!(!err.contains("account id"), "{err}");
    assert!(err.contains("connection refused"), "{err}");
}

// Smaller: --account-timeout 5124095576030432h overflowed (a panic in debug builds, a
// silent 3,584 s in release builds).
#[test]
fn an_account_timeout_past_a_week_is_refused() {
    let output = support::keyhygiene()
        .args(["audit", "--accounts", "111122223333", "--account-timeout"])
        .arg("5124095576030432h")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("168h"), "{}", stderr(&output));
    let help = support::keyhygiene()
        .args(["audit", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&help).contains("at most 168h"));
}

// Item 2: a well-formed GetAccountAuthorizationDetails answer with an empty result gave
// "0 users, complete, exit 0", although the credential report fetched in the same run
// listed every user.
#[test]
fn an_empty_listing_is_not_an_empty_account() {
    let moto = Moto::start();
    let seeded = moto.seed_generated(12, 7, "2026-06-01T12:00:00Z");
    let users = seeded["users"].as_array().unwrap().len();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--empty", "GetAccountAuthorizationDetails"],
    );
    let out = moto.dir.path().join("out");
    let output = support::audit_at(
        &proxy.endpoint,
        &["--out-dir", path_str(&out), "--fail-on", "none"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&out);
    assert_eq!(doc["coverage"]["complete"], false);
    let gaps = doc["coverage"]["gaps"].as_array().unwrap();
    let missing: Vec<&Value> = gaps
        .iter()
        .filter(|g| g["error_code"] == "MissingFromListing")
        .collect();
    assert_eq!(missing.len(), users, "{gaps:#?}");
    for g in missing {
        assert_eq!(g["operation"], "GetAccountAuthorizationDetails");
        let impact = g["impact"].as_str().unwrap();
        assert!(
            impact.contains("the credential report of")
                && impact.contains("but GetAccountAuthorizationDetails did not"),
            "{impact}"
        );
    }
    assert!(proxy.stats()["emptied"].as_u64().unwrap() >= 1);
}

/// An account whose credential report lists one active root key beside its user's key.
fn with_root_key(id: &str, user: &str) -> keyhygiene::inventory::Inventory {
    use keyhygiene::inventory::{CredentialReportInfo, LastUse, RootKey, RootKeys};
    let mut inv = inventory(id, user, 10);
    inv.root = RootKeys::CredentialReport {
        arn: Some(format!("arn:aws:iam::{id}:root")),
        keys: vec![RootKey {
            slot: 1,
            active: true,
            last_rotated: Some(support::saved::t(500)),
            last_used: LastUse::Never,
        }],
    };
    inv.credential_report = Some(CredentialReportInfo {
        generated_at: Some(support::saved::t(0)),
        has_root_row: true,
    });
    inv.normalize();
    inv
}

// Smaller: the organization's key count disagreed with itself when accounts had root keys
// (stdout 628 keys, report.json coverage.keys 626). Keys count the root user's keys the
// credential report lists, in every output.
#[test]
fn every_output_counts_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &with_root_key("111111111111", "alice"),
    );
    let b = save(dir.path(), "b.json", &with_root_key("222222222222", "bob"));
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        path_str(&a),
        path_str(&b),
        "--out-dir",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("; 2 users, 4 keys"), "{text}");
    let doc = report(&out);
    assert_eq!(doc["coverage"]["keys"], 4);
    assert_eq!(doc["coverage"]["keys_with_last_use"], 4);
    // The root keys are flagged: flagged keys are among the keys counted.
    assert_eq!(doc["summary"]["keys_flagged"], 2);
    assert!(text.contains("2 of 4 keys flagged"), "{text}");
    for entry in doc["accounts"].as_array().unwrap() {
        assert_eq!(entry["coverage"]["keys"], 2);
    }
    let calls_per_key = doc["crawl_stats"]["calls_per_key"].clone();
    assert!(calls_per_key.is_null() || calls_per_key.is_number());
    // One account alone: the summary line and report.json agree too.
    let output = audit(&[
        "--from-inventory",
        path_str(&a),
        "--out-dir",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("1 of 2 keys flagged"),
        "{}",
        stdout(&output)
    );
    assert_eq!(report(&out)["coverage"]["keys"], 2);
}
