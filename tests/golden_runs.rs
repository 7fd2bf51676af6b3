//! Whole runs, byte for byte: a fixed set of offline runs (an organization of saved
//! inventories with an unreachable and a suspended account and a policy with used, unused
//! and expired suppressions; the same with `--baseline`, with `--history` over three runs,
//! with `--fail-on-new`, with `--format csv,json`, with `--save-inventory`; one account
//! alone; a credential report; a sharded merge) give exactly the files, exit codes and
//! terminal output recorded in `tests/fixtures/golden-runs/`.
//!
//! Each run is recorded as its exit code, its stdout and stderr, and the SHA-256 and size of
//! every file it wrote (reports, set manifest, saved inventories, history records), after
//! the one random part of a run's output, a history record's name, is replaced with
//! `NONCE`. Every as-of is given (`--as-of`): a default as-of is the time of the run.
//!
//! After an intended change: `KEYHYGIENE_BLESS=1 cargo test --test golden_runs` (refused when
//! `CI` is set), review `git diff tests/fixtures/golden-runs`, and list the changed files in
//! CHANGELOG. When a run differs, its actual files are left in
//! `target/golden-runs/<run>/` to compare.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use keyhygiene::inventory::{AccessKey, Inventory, KeyStatus, LastUse, RootKeys, SourceInfo, User};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{ROOT, keyhygiene};

const T1: &str = "2026-06-01T12:00:00Z";
const T2: &str = "2026-06-08T12:00:00Z";
const T3: &str = "2026-06-15T12:00:00Z";

fn at(days_before: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap() - chrono::Duration::days(days_before)
}

/// A key: its id, age in days at T1, active or not, and days since its last use (`None`:
/// never used).
type KeySpec = (&'static str, i64, bool, Option<i64>);

/// An account's inventory: users with their keys.
fn account(id: &str, users: &[(&str, &[KeySpec])]) -> Inventory {
    let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, at(0));
    inv.account_id = Some(id.parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    for (n, (name, keys)) in users.iter().enumerate() {
        inv.users.push(User {
            name: name.to_string(),
            arn: format!("arn:aws:iam::{id}:user/{name}"),
            path: "/".into(),
            user_id: format!("AIDA{id}{n:04}"),
            created: Some(at(900)),
            tags: vec![],
            keys: keys
                .iter()
                .map(|(key, age, active, used)| AccessKey {
                    id: Some(key.to_string()),
                    slot: None,
                    status: if *active {
                        KeyStatus::Active
                    } else {
                        KeyStatus::Inactive
                    },
                    created: at(*age),
                    last_used: match used {
                        Some(days) => LastUse::Used {
                            date: at(*days),
                            service: Some("s3".into()),
                            region: Some("eu-west-1".into()),
                        },
                        None => LastUse::Never,
                    },
                    last_used_source: Default::default(),
                    description: None,
                })
                .collect(),
            login: None,
        });
    }
    inv.normalize();
    inv
}

/// The organization's audited accounts in one of three states (the runs of the history).
fn accounts(state: u8) -> Vec<Inventory> {
    let bob: &[KeySpec] = if state >= 2 {
        &[]
    } else {
        &[("AKIABOBKEY0000000001", 10, true, Some(1))]
    };
    let carol: &[KeySpec] = if state >= 2 {
        &[("AKIACAROLKEY00000002", 3, true, Some(1))]
    } else {
        &[("AKIACAROLKEY00000001", 400, true, Some(2))]
    };
    let dave: &[KeySpec] = if state >= 3 {
        &[
            ("AKIADAVEKEY000000001", 30, true, Some(1)),
            ("AKIADAVEKEY000000002", 1, true, None),
        ]
    } else {
        &[("AKIADAVEKEY000000001", 30, true, Some(1))]
    };
    vec![
        account(
            "111111111111",
            &[
                (
                    "alice",
                    &[
                        ("AKIAALICEKEY00000001", 200, true, Some(1)),
                        ("AKIAALICEKEY00000002", 300, false, Some(250)),
                    ],
                ),
                ("bob", bob),
                ("erin", &[("AKIAERINKEY000000001", 500, true, None)]),
            ],
        ),
        account("222222222222", &[("carol", carol)]),
        account("333333333333", &[("dave", dave)]),
    ]
}

fn manifest_record(id: &str, name: &str, state: &str, result: Value) -> Value {
    json!({"account": {"id": id, "name": name, "state": state, "ou_path": "Root/Workloads"}, "result": result})
}

/// A saved organization folder in `state`, as `--save-inventory DIR` writes one; with
/// `shard`, that shard's folder of a run in two shards.
fn saved_folder(dir: &Path, state: u8, shard: Option<u32>) {
    std::fs::create_dir_all(dir).unwrap();
    let names = ["prod", "payments", "sandbox"];
    let mut records = Vec::new();
    for (inv, name) in accounts(state).into_iter().zip(names) {
        let id = inv.account_id.clone().unwrap().to_string();
        let ours = shard.is_none_or(|k| keyhygiene::org::Shard::of(&id, 2) == k);
        if ours {
            let mut bytes = Vec::new();
            inv.clone().write_json(&mut bytes).unwrap();
            std::fs::write(dir.join(format!("account-{id}.json")), bytes).unwrap();
            records.push(manifest_record(
                &id,
                name,
                "ACTIVE",
                json!({"outcome": "audited", "file": format!("account-{id}.json")}),
            ));
        } else {
            records.push(manifest_record(
                &id,
                name,
                "ACTIVE",
                json!({"outcome": "other-shard"}),
            ));
        }
    }
    let locked = "444444444444";
    let locked_ours = shard.is_none_or(|k| keyhygiene::org::Shard::of(locked, 2) == k);
    records.push(manifest_record(
        locked,
        "locked",
        "ACTIVE",
        if locked_ours {
            json!({"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied",
                   "message": "User: arn:aws:iam::111111111111:user/auditor is not authorized to perform: sts:AssumeRole",
                   "role_arn": "arn:aws:iam::444444444444:role/keyhygiene-audit"})
        } else {
            json!({"outcome": "other-shard"})
        },
    ));
    records.push(manifest_record(
        "555555555555",
        "legacy",
        "SUSPENDED",
        json!({"outcome": "not-active"}),
    ));
    let mut selection = json!({"org": true, "ous": [], "accounts": [], "exclude_accounts": [],
                                "role_name": "keyhygiene-audit"});
    if let Some(k) = shard {
        selection["shard"] = json!({"index": k, "count": 2});
    }
    let manifest = json!({
        "schema_version": 1,
        "listed_at": "2026-06-01T11:00:00Z",
        "organization_id": "o-exampleorg",
        "management_account_id": "111111111111",
        "caller_account_id": "111111111111",
        "selection": selection,
        "accounts": records,
    });
    let name = match shard {
        Some(k) => format!("manifest-shard-{k}-of-2.json"),
        None => "manifest.json".into(),
    };
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

const POLICY: &str = r#"[rules.key-not-rotated]
max-age-days = 90

# Used: alice's old key is being replaced.
[[suppress]]
rule = "key-not-rotated"
user = "alice"
access-key-id = "AKIAALICEKEY00000001"
reason = "replacement under way, SEC-12"
expires = 2026-12-31

# Unused: nobody by that name.
[[suppress]]
rule = "*"
user = "mallory"
reason = "left over"

# Expired: carol's key.
[[suppress]]
rule = "key-not-rotated"
user = "carol"
reason = "vendor appliance"
expires = 2026-01-31
"#;

/// The working folder of the runs, with their inputs.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for state in 1..=3 {
            saved_folder(&p.join(format!("state-{state}")), state, None);
        }
        saved_folder(&p.join("shards"), 1, Some(1));
        saved_folder(&p.join("shards"), 1, Some(2));
        std::fs::write(p.join("policy.toml"), POLICY).unwrap();
        std::fs::copy(
            Path::new(ROOT).join("tests/fixtures/credential-report.csv"),
            p.join("credential-report.csv"),
        )
        .unwrap();
        Work { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `keyhygiene audit ARGS`, run in the working folder (relative paths everywhere, so the
    /// outputs name no temporary folder). Returns the run's record: exit code and output.
    fn run(&self, args: &[&str]) -> String {
        let output = keyhygiene()
            .current_dir(self.path())
            .arg("audit")
            .args(args)
            .output()
            .unwrap();
        format!(
            "$ keyhygiene audit {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            output
                .status
                .code()
                .map_or("none".to_string(), |c| c.to_string()),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        )
    }

    /// Every file of the folders `dirs` (relative to the working folder), by name, with its
    /// SHA-256 and size; the lock's information (a pid and a time) left out.
    fn files(&self, dirs: &[&str]) -> BTreeMap<String, Vec<u8>> {
        let mut all = BTreeMap::new();
        for dir in dirs {
            let full = self.path().join(dir);
            let Ok(entries) = std::fs::read_dir(&full) else {
                continue;
            };
            for entry in entries {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                if name == ".keyhygiene-lock.info" || entry.path().is_dir() {
                    continue;
                }
                all.insert(
                    format!("{dir}/{}", normalise(&name)),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
        all
    }
}

/// A history record's random part, as `NONCE`.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // <key>.<YYYYMMDDTHHMMSSZ>.<12 hex>.json
    while let Some(i) = rest.find("Z.") {
        let (head, tail) = rest.split_at(i + 2);
        out.push_str(head);
        let hex = tail.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex == 12 && tail[hex..].starts_with(".json") && head.len() >= 17 {
            out.push_str("NONCE");
            rest = &tail[hex..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The record of one run: its terminal output and its files' digests.
fn record(log: &str, files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = normalise(log);
    out.push_str("--- files\n");
    for (name, bytes) in files {
        let digest = Sha256::digest(normalise(&String::from_utf8_lossy(bytes)).as_bytes());
        out.push_str(&format!(
            "{}  {:>8}  {name}\n",
            keyhygiene::ident::hex(&digest),
            bytes.len()
        ));
    }
    out
}

/// Compares one run with its golden record (or writes it, when blessing).
fn check(name: &str, actual: &str, files: &BTreeMap<String, Vec<u8>>, failures: &mut Vec<String>) {
    let golden = Path::new(ROOT).join(format!("tests/fixtures/golden-runs/{name}.txt"));
    if support::bless() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    if expected != actual {
        let keep = Path::new(ROOT).join("target/golden-runs").join(name);
        let _ = std::fs::remove_dir_all(&keep);
        for (file, bytes) in files {
            let path = keep.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(keep.join("record.txt"), actual).unwrap();
        failures.push(format!(
            "{name}: differs from {} (actual files in {})",
            golden.display(),
            keep.display()
        ));
    }
}

#[test]
fn fixed_runs_give_the_recorded_outputs() {
    let work = Work::new();
    let mut failures = Vec::new();
    let mut go = |name: &str, runs: &[Vec<&str>], dirs: &[&str]| {
        let log: String = runs.iter().map(|args| work.run(args)).collect();
        let files = work.files(dirs);
        check(name, &record(&log, &files), &files, &mut failures);
    };
    let org = |out: &'static str, as_of: &'static str, state: &'static str| {
        vec![
            "--from-inventory",
            state,
            "--config",
            "policy.toml",
            "--as-of",
            as_of,
            "--out-dir",
            out,
        ]
    };
    go("organization", &[org("org", T1, "state-1")], &["org"]);
    let mut csv_json = org("org-csv-json", T1, "state-1");
    csv_json.extend(["--format", "csv,json"]);
    go("organization-csv-json", &[csv_json], &["org-csv-json"]);
    let mut save = org("org-save", T1, "state-1");
    save.extend(["--save-inventory", "resaved"]);
    go(
        "organization-save-inventory",
        &[save],
        &["org-save", "resaved"],
    );
    let mut baseline = org("org-baseline", T2, "state-2");
    baseline.extend(["--baseline", "org"]);
    go("organization-baseline", &[baseline], &["org-baseline"]);
    let history: Vec<Vec<&str>> = [(T1, "state-1"), (T2, "state-2"), (T3, "state-3")]
        .into_iter()
        .map(|(as_of, state)| {
            let mut args = org("org-history", as_of, state);
            args.extend([
                "--history",
                "history",
                "--fail-on-new",
                "--fail-on",
                "medium",
            ]);
            args
        })
        .collect();
    go(
        "organization-history",
        &history,
        &["org-history", "history"],
    );
    go(
        "single-account",
        &[vec![
            "--from-inventory",
            "state-1/account-111111111111.json",
            "--config",
            "policy.toml",
            "--as-of",
            T1,
            "--out-dir",
            "single",
            "--save-inventory",
            "single-saved/inventory.json",
            "--history",
            "single-history",
        ]],
        &["single", "single-saved", "single-history"],
    );
    go(
        "credential-report",
        &[vec![
            "--from-credential-report",
            "credential-report.csv",
            "--report-generated-at",
            "2026-01-16T00:00:00Z",
            "--as-of",
            "2026-01-31T12:00:00Z",
            "--out-dir",
            "cr",
        ]],
        &["cr"],
    );
    go(
        "sharded-merge",
        &[vec![
            "--from-inventory",
            "shards",
            "--as-of",
            T1,
            "--out-dir",
            "merged",
        ]],
        &["merged"],
    );
    assert!(
        failures.is_empty(),
        "{}\nif the change is intended: KEYHYGIENE_BLESS=1 cargo test --test golden_runs, then list the changed files in CHANGELOG",
        failures.join("\n")
    );
}

#[test]
fn a_history_record_s_random_part_is_normalised() {
    assert_eq!(
        normalise(
            "history: recorded history/organization-o-exampleorg.20260601T120000Z.0a1b2c3d4e5f.json"
        ),
        "history: recorded history/organization-o-exampleorg.20260601T120000Z.NONCE.json"
    );
    assert_eq!(
        normalise("as of 2026-06-01T12:00:00Z. done"),
        "as of 2026-06-01T12:00:00Z. done"
    );
}
