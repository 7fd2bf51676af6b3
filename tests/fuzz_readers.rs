//! Every reader of a file keyhygiene may be given, over generated and mutated inputs: the
//! saved manifest, the saved inventory, the credential report, the policy file, the history
//! record and the baseline report.json, and the accounts file. Each input reads to `Ok` or
//! `Err`, never to a panic; then whole command-line runs over mutated saved folders exit
//! with 0 to 3, never with a crash, and an input error is one line on stderr.
//!
//! Inputs are valid documents of each kind, mutated (bytes flipped, cut, deleted,
//! repeated, and tokens of the format inserted: quotes, brackets, huge and negative
//! numbers, hostile account ids, control characters), and documents generated from the
//! format's own field names with random values.
//!
//! `KEYHYGIENE_FUZZ_CASES` sets the cases per reader: 256 in `scripts/test`, 100,000 in
//! the longer run of `scripts/fuzz`, which prints the counts.

mod support;

use std::path::Path;
use std::process::Stdio;

use chrono::{DateTime, Utc};
use keyhygiene::baseline::{Origin, parse_baseline};
use keyhygiene::inventory::Inventory;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Cases per reader.
fn cases() -> u32 {
    std::env::var("KEYHYGIENE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Inputs are generated in bulk; shrinking a failure is still useful.
        max_shrink_iters: 2_000,
        ..Config::default()
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(support::ROOT).join(name)).expect(name)
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

/// Tokens that mean something in the formats read: JSON and CSV syntax, values at the
/// edges of what a field takes, and hostile values.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "false",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "1e999",
    "-0.0",
    "\"\"",
    "\"x/../../ESCAPED\"",
    "\"<img src=x>\"",
    "\"=HYPERLINK(1)\"",
    "\"\\u0000\"",
    "\"\\u001b[2K\"",
    "\"\\u202e\"",
    "\n",
    "\r\n",
    "\t",
    "N/A",
    "no_information",
    "not_supported",
    "<root_account>",
    "\"ACTIVE\"",
    "\"CLOSED\"",
    "\"audited\"",
    "\"other-shard\"",
    "\"not-active\"",
    "\"2099-01-01T00:00:00Z\"",
    "\"1970-01-01T00:00:00Z\"",
    "2026-13-45T99:99:99Z",
    "\"kh1-00000000000000000000000000000000\"",
    "\"123456789012\"",
    "\"000000000000\"",
    "\u{feff}",
    "\u{fffd}",
    "\\",
    "#",
    "=",
    "[[",
    "]]",
    "'''",
    "\"\"\"",
    "\"count\": 0",
    "\"index\": 0",
    "\"schema_version\": 99",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Cut { at: usize },
    Delete { at: usize, len: usize },
    Repeat { at: usize, len: usize },
    Token { at: usize, token: usize },
    Bytes { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 1usize..256).prop_map(|(at, len)| Mutation::Repeat { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Token { at, token }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Bytes { at, bytes }),
    ]
}

fn apply(mut input: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize| {
            if input.is_empty() {
                0
            } else {
                i % (input.len() + 1)
            }
        };
        match m {
            Mutation::Flip { at: i, bit } if !input.is_empty() => {
                let i = i % input.len();
                input[i] ^= 1 << bit;
            }
            Mutation::Flip { .. } => {}
            Mutation::Cut { at: i } => {
                let i = at(*i);
                input.truncate(i);
            }
            Mutation::Delete { at: i, len } => {
                let i = at(*i);
                let end = (i + len).min(input.len());
                input.drain(i..end);
            }
            Mutation::Repeat { at: i, len } => {
                let i = at(*i);
                let end = (i + len).min(input.len());
                let copy = input[i..end].to_vec();
                input.splice(i..i, copy);
            }
            Mutation::Token { at: i, token } => {
                let i = at(*i);
                input.splice(i..i, TOKENS[*token].bytes());
            }
            Mutation::Bytes { at: i, bytes } => {
                let i = at(*i);
                input.splice(i..i, bytes.iter().copied());
            }
        }
    }
    input
}

/// A seed with up to eight mutations, or random bytes.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    mutated(seeds, 8)
}

/// A seed with fewer than `most` mutations (often none), or random bytes.
fn mutated(seeds: Vec<Vec<u8>>, most: usize) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    prop_oneof![
        8 => (0..count, proptest::collection::vec(mutation(), 0..most))
            .prop_map(move |(i, muts)| apply(seeds[i].clone(), &muts)),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

/// A JSON value of `depth` levels whose object keys come from `keys` (a format's own field
/// names), so the readers' checks past the syntax are reached.
fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (0..TOKENS.len()).prop_map(|i| Value::from(TOKENS[i].trim_matches('"'))),
        "[a-zA-Z0-9 /<>=._-]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::vec((0..keys.len(), inner), 0..10).prop_map(move |fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (keys[k].to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Runs `read` over `cases` inputs; each must return, never panic. Returns how many read
/// to `Ok`, for the longer run's counts.
fn fuzz(
    name: &str,
    strategy: impl Strategy<Value = Vec<u8>>,
    read: impl Fn(&[u8]) -> bool,
) -> (u32, usize) {
    let cases = cases();
    let ok = std::cell::Cell::new(0usize);
    runner(cases)
        .run(&strategy, |input| {
            if read(&input) {
                ok.set(ok.get() + 1);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if std::env::var_os("KEYHYGIENE_FUZZ_REPORT").is_some() {
        eprintln!("fuzz {name}: {cases} cases, {} read as valid", ok.get());
    }
    (cases, ok.get())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------
// The readers
// ---------------------------------------------------------------------------------------

const MANIFEST_KEYS: &[&str] = &[
    "schema_version",
    "listed_at",
    "organization_id",
    "management_account_id",
    "caller_account_id",
    "selection",
    "accounts",
    "org",
    "ous",
    "exclude_accounts",
    "role_name",
    "shard",
    "index",
    "count",
    "account",
    "result",
    "id",
    "name",
    "state",
    "ou_path",
    "outcome",
    "file",
    "operation",
    "error_code",
    "message",
    "role_arn",
];

fn manifest_seeds() -> Vec<Vec<u8>> {
    let record = |id: &str, state: &str, result: Value| json!({"account": {"id": id, "name": "acct", "state": state, "ou_path": "Root/A"}, "result": result});
    let base = |shard: Option<Value>, accounts: Vec<Value>| {
        let mut selection = json!({"org": true, "ous": ["ou-ab12-cd34ef56"], "accounts": [], "exclude_accounts": ["333333333333"], "role_name": "keyhygiene-audit"});
        if let Some(s) = shard {
            selection["shard"] = s;
        }
        serde_json::to_vec_pretty(&json!({
            "schema_version": 1,
            "listed_at": "2026-06-01T11:00:00Z",
            "organization_id": "o-exampleorg",
            "management_account_id": "111111111111",
            "caller_account_id": "111111111111",
            "selection": selection,
            "accounts": accounts,
        }))
        .unwrap()
    };
    vec![
        base(
            None,
            vec![
                record(
                    "111111111111",
                    "ACTIVE",
                    json!({"outcome": "audited", "file": "account-111111111111.json"}),
                ),
                record(
                    "222222222222",
                    "SUSPENDED",
                    json!({"outcome": "not-active"}),
                ),
                record("333333333333", "ACTIVE", json!({"outcome": "excluded"})),
                record(
                    "444444444444",
                    "ACTIVE",
                    json!({"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied", "message": "denied", "role_arn": "arn:aws:iam::444444444444:role/x"}),
                ),
            ],
        ),
        base(
            Some(json!({"index": 1, "count": 3})),
            vec![
                record("123456789012", "ACTIVE", json!({"outcome": "other-shard"})),
                record(
                    "000000000001",
                    "NOT_LISTED",
                    json!({"outcome": "out-of-scope"}),
                ),
            ],
        ),
    ]
}

#[test]
fn manifests() {
    let mutated = inputs(manifest_seeds());
    fuzz("manifest", mutated, |b| {
        keyhygiene::org::parse_manifest(&text(b), "manifest.json").is_ok()
    });
    let generated = json_value(MANIFEST_KEYS).prop_map(|v| v.to_string().into_bytes());
    fuzz("manifest (generated)", generated, |b| {
        keyhygiene::org::parse_manifest(&text(b), "manifest.json").is_ok()
    });
}

const INVENTORY_KEYS: &[&str] = &[
    "schema_version",
    "account_id",
    "source",
    "kind",
    "endpoint",
    "file",
    "collected_at",
    "users",
    "name",
    "arn",
    "path",
    "user_id",
    "created",
    "tags",
    "key",
    "value",
    "keys",
    "id",
    "slot",
    "status",
    "last_used",
    "state",
    "date",
    "service",
    "region",
    "last_used_source",
    "description",
    "login",
    "password_enabled",
    "password_last_used",
    "mfa_active",
    "root",
    "credential_report",
    "generated_at",
    "has_root_row",
    "gaps",
    "user",
    "access_key_id",
    "operation",
    "error_code",
    "impact",
    "removed_during_crawl",
    "not_crawled",
    "stats",
    "calls",
    "retries",
    "throttled",
    "failed_calls",
    "wall_ms",
    "bytes_received",
    "attempts_cut",
    "last_use_settled",
    "from",
    "until",
    "coverage",
    "keys_present",
    "active",
    "last_rotated",
];

fn inventory_seeds() -> Vec<Vec<u8>> {
    let mut small = Vec::new();
    support::saved::inventory("111111111111", "alice", 200)
        .write_json(&mut small)
        .unwrap();
    vec![small, fixture("sample-reports/inventory.json")]
}

#[test]
fn saved_inventories() {
    let read = |b: &[u8]| Inventory::from_json_str(&text(b), "inventory.json").is_ok();
    fuzz("saved inventory", inputs(inventory_seeds()), read);
    let generated = json_value(INVENTORY_KEYS).prop_map(|v| v.to_string().into_bytes());
    fuzz("saved inventory (generated)", generated, read);
}

#[test]
fn credential_reports() {
    let seeds = [
        "tests/fixtures/credential-report.csv",
        "tests/fixtures/credential-report-no-root.csv",
        "tests/fixtures/credential-report-reordered.csv",
        "tests/fixtures/credential-report-no-rotation.csv",
    ]
    .iter()
    .map(|f| fixture(f))
    .collect();
    let at: DateTime<Utc> = "2026-01-16T00:00:00Z".parse().unwrap();
    fuzz("credential report", inputs(seeds), |b| {
        keyhygiene::credential_report::read_inventory(b, "report.csv", Some(at)).is_ok()
            | keyhygiene::credential_report::read_inventory(b, "report.csv", None).is_ok()
    });
}

#[test]
fn policy_files() {
    let seeds = vec![
        keyhygiene::policy::init_config_text().into_bytes(),
        b"[rules.key-not-rotated]\nmax-age-days = 90\nseverity = \"high\"\n\n\
          [scope.include]\nusers = [\"ci-*\"]\npaths = [\"/svc/\"]\ntags = [\"team=pay*\"]\n\
          accounts = [\"111111111111\"]\n\n[scope.exclude]\naccounts = [\"222222222222\"]\n\n\
          [[suppress]]\nrule = \"key-unused\"\nuser = \"bob\"\naccess-key-id = \"AKIAX\"\n\
          account = \"111111111111\"\nreason = \"break glass\"\nexpires = \"2026-12-31\"\n\n\
          [[suppress]]\nfinding-id = \"kh1-0123456789abcdef0123456789abcdef\"\nreason = \"r\"\n"
            .to_vec(),
    ];
    fuzz("policy file", inputs(seeds), |b| {
        keyhygiene::policy::parse_str(&text(b), "keyhygiene.toml").is_ok()
    });
}

const BASELINE_KEYS: &[&str] = &[
    "kind",
    "schema_version",
    "key",
    "as_of",
    "tool_version",
    "tool",
    "name",
    "version",
    "finding_ids",
    "scheme",
    "source",
    "run",
    "account_id",
    "organization_id",
    "organization",
    "id",
    "complete",
    "summary",
    "open",
    "critical",
    "high",
    "medium",
    "low",
    "suppressed",
    "new",
    "updated",
    "unchanged",
    "resolved",
    "not_assessed",
    "findings",
    "suppressed_findings",
    "rule",
    "rule_id",
    "severity",
    "status",
    "first_seen",
    "user_name",
    "user_id",
    "access_key_id",
    "finding_id",
];

/// A history record, as `--history` writes it, of a run with a few findings.
fn record_seed() -> Vec<u8> {
    json!({
        "kind": "keyhygiene-history", "schema_version": 1, "key": "account-123456789012",
        "as_of": "2026-06-01T12:00:00Z", "tool_version": "0.1.0",
        "finding_ids": {"scheme": "kh1", "source": "api"},
        "run": {"kind": "account", "account_id": "123456789012", "organization_id": null},
        "complete": true,
        "summary": {"open": {"critical": 0, "high": 1, "medium": 0, "low": 1}, "suppressed": 0,
                    "new": 1, "updated": 0, "unchanged": 1, "resolved": 0, "not_assessed": 0},
        "findings": [
            {"id": "kh1-0123456789abcdef0123456789abcdef", "rule": "key-not-rotated",
             "severity": "high", "status": "new", "first_seen": "2026-06-01", "suppressed": false,
             "account_id": "123456789012", "user_name": "alice", "user_id": "AIDAALICE",
             "access_key_id": "AKIAALICE"},
            {"id": "kh1-fedcba9876543210fedcba9876543210", "rule": "key-unused",
             "severity": "low", "status": "unchanged", "first_seen": "2026-01-01",
             "suppressed": false, "account_id": "123456789012", "user_name": "bob",
             "user_id": null, "access_key_id": "AKIABOB"}
        ]
    })
    .to_string()
    .into_bytes()
}

#[test]
fn baselines_and_history_records() {
    let seeds = vec![
        record_seed(),
        fixture("tests/fixtures/report-golden.json"),
        fixture("sample-reports/report.json"),
    ];
    let read = |b: &[u8]| parse_baseline(b, "baseline.json", Origin::Baseline).is_ok();
    fuzz("baseline and history record", inputs(seeds), read);
    let generated = json_value(BASELINE_KEYS).prop_map(|v| v.to_string().into_bytes());
    fuzz("baseline and history record (generated)", generated, read);
}

#[test]
fn accounts_files() {
    let seeds = vec![
        b"# production\n111111111111\n\n  222222222222  # payments\n".to_vec(),
        b"\xef\xbb\xbf333333333333\r\n444444444444\r\n".to_vec(),
    ];
    fuzz("accounts file", inputs(seeds), |b| {
        keyhygiene::org::parse_accounts_file(&text(b), "accounts.txt").is_ok()
    });
}

// ---------------------------------------------------------------------------------------
// Whole runs
// ---------------------------------------------------------------------------------------

/// A saved organization folder (a manifest and two account files) and a policy, each
/// possibly mutated.
#[derive(Clone, Debug)]
struct Folder {
    manifest: Vec<u8>,
    account: Vec<u8>,
    policy: Option<Vec<u8>>,
}

fn folders() -> impl Strategy<Value = Folder> {
    let mut manifest = json!({
        "schema_version": 1, "listed_at": "2026-06-01T11:00:00Z",
        "organization_id": "o-exampleorg", "management_account_id": "111111111111",
        "caller_account_id": "111111111111",
        "selection": {"org": true, "ous": [], "accounts": [], "exclude_accounts": [], "role_name": "r"},
        "accounts": [
            {"account": {"id": "111111111111", "name": "a", "state": "ACTIVE", "ou_path": "Root"},
             "result": {"outcome": "audited", "file": "account-111111111111.json"}},
            {"account": {"id": "222222222222", "name": "b", "state": "SUSPENDED", "ou_path": "Root"},
             "result": {"outcome": "not-active"}},
        ]
    });
    let complete = serde_json::to_vec_pretty(&manifest).unwrap();
    // The same organization with a third account whose role was denied (exit 3).
    manifest["accounts"].as_array_mut().unwrap().push(json!(
        {"account": {"id": "333333333333", "name": "c", "state": "ACTIVE", "ou_path": "Root"},
         "result": {"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied",
                    "message": "denied", "role_arn": "arn:aws:iam::333333333333:role/r"}}
    ));
    let unreachable = serde_json::to_vec_pretty(&manifest).unwrap();
    let mut account = Vec::new();
    support::saved::inventory("111111111111", "alice", 200)
        .write_json(&mut account)
        .unwrap();
    let policy = b"[rules.key-not-rotated]\nmax-age-days = 90\n\n[[suppress]]\nrule = \"*\"\n\
                   user = \"alice\"\nreason = \"r\"\n"
        .to_vec();
    // Each file is mutated one time in three, lightly: whole runs are a sample, and many
    // should get past the readers to the evaluation and the writers.
    let sometimes = |seeds: Vec<Vec<u8>>| {
        let intact = seeds.clone();
        prop_oneof![
            2 => (0..intact.len()).prop_map(move |i| intact[i].clone()),
            1 => mutated(seeds, 3),
        ]
    };
    (
        sometimes(vec![complete, unreachable]),
        sometimes(vec![account]),
        proptest::option::of(sometimes(vec![policy])),
    )
        .prop_map(|(manifest, account, policy)| Folder {
            manifest,
            account,
            policy,
        })
}

#[test]
fn whole_runs_exit_0_to_3() {
    // Each case starts the binary: a sample of what the readers' tests cover.
    let cases = (cases() / 8).clamp(24, 2_000);
    let exits = std::cell::RefCell::new(std::collections::BTreeMap::<i32, u32>::new());
    runner(cases)
        .run(&folders(), |folder| {
            let dir = tempfile::tempdir().unwrap();
            let saved = dir.path().join("saved");
            std::fs::create_dir(&saved).unwrap();
            std::fs::write(saved.join("manifest.json"), &folder.manifest).unwrap();
            std::fs::write(saved.join("account-111111111111.json"), &folder.account).unwrap();
            let out = dir.path().join("out");
            let mut cmd = support::keyhygiene();
            cmd.args([
                "audit",
                "--as-of",
                support::saved::AS_OF,
                "--from-inventory",
            ])
            .arg(&saved)
            .arg("--out-dir")
            .arg(&out)
            .stdout(Stdio::null());
            if let Some(policy) = &folder.policy {
                let file = dir.path().join("keyhygiene.toml");
                std::fs::write(&file, policy).unwrap();
                cmd.arg("--config").arg(file);
            }
            let output = cmd.output().unwrap();
            let code = output.status.code();
            *exits.borrow_mut().entry(code.unwrap_or(-1)).or_default() += 1;
            let err = String::from_utf8_lossy(&output.stderr);
            prop_assert!(matches!(code, Some(0..=3)), "exit {code:?}; stderr: {err}");
            if code == Some(2) {
                // An input error is one line per problem (a policy file reports all of its
                // problems at once), each naming what was refused.
                prop_assert!(
                    err.lines().all(|l| l.starts_with("keyhygiene: error: ")),
                    "stderr: {err}"
                );
                prop_assert!(!out.join("report.json").exists());
            }
            Ok(())
        })
        .unwrap();
    if std::env::var_os("KEYHYGIENE_FUZZ_REPORT").is_some() {
        eprintln!(
            "fuzz whole runs: {cases} runs, exit codes {:?}",
            exits.borrow()
        );
    }
}
