//! What keyhygiene remembers and writes, attacked as a hostile user, a broken disk and an
//! impatient operator would: no false "nothing new" from a forged history, no half-replaced
//! report folder, no two runs mixing their sets. Each test failed before its fix. Offline.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keyhygiene::findings::id::IdFields;
use serde_json::{Value, json};
use support::saved::{AS_OF, inventory, report, save};
use support::{keyhygiene, stderr, stdout};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A week after the fixtures' instant: a second run's as-of.
const WEEK_LATER: &str = "2026-06-08T12:00:00Z";

/// `keyhygiene audit` over saved inventories, as of the fixtures' instant.
fn audit_with(args: &[&str], key: Option<&str>) -> Output {
    audit_at_time(AS_OF, args, key)
}

/// `keyhygiene audit` over saved inventories, as of `as_of`.
fn audit_at_time(as_of: &str, args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = keyhygiene();
    cmd.args(["audit", "--as-of", as_of]).args(args);
    if let Some(key) = key {
        cmd.env("KEYHYGIENE_HISTORY_KEY", key);
    }
    cmd.output().expect("run keyhygiene")
}

/// The history folder's records, oldest first.
fn records(history: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(history)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    all.sort();
    all
}

/// A record's JSON (its first line) and its signature line, if any.
fn read_record(path: &Path) -> (Value, Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let record = serde_json::from_str(lines.next().unwrap()).unwrap();
    (record, lines.next().map(str::to_string))
}

fn write_record(path: &Path, record: &Value, signature: Option<&str>) {
    let mut text = format!("{record}\n");
    if let Some(line) = signature {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// `finding` (a record's finding) about another key of the same user, with the id its
/// fields give: what a forger who knows the id scheme writes.
fn forged_like(finding: &Value, key_id: &str) -> Value {
    let mut forged = finding.clone();
    forged["access_key_id"] = json!(key_id);
    let id = IdFields {
        account_id: finding["account_id"].as_str(),
        rule_id: finding["rule"].as_str().unwrap(),
        user_name: finding["user_name"].as_str().unwrap(),
        user_arn: finding["user_arn"].as_str().unwrap(),
        user_id: finding["user_id"].as_str(),
        access_key_id: Some(key_id),
        key_created: None,
    }
    .id_like(finding["id"].as_str().unwrap())
    .unwrap();
    forged["id"] = json!(id);
    forged
}

/// Two runs' inventories of one account: the first with alice's old key, the second with
/// bob's old key as well (a new finding).
fn two_runs(dir: &Path) -> (PathBuf, PathBuf) {
    let first = save(dir, "first.json", &inventory("111111111111", "alice", 200));
    let mut inv = inventory("111111111111", "alice", 200);
    let bob = inventory("111111111111", "bob", 300);
    let mut bob_user = bob.users[0].clone();
    bob_user.user_id = "AIDABOB".into();
    bob_user.keys[0].id = Some("AKIABOBKEY000001".into());
    inv.users.push(bob_user);
    inv.normalize();
    let second = save(dir, "second.json", &inv);
    (first, second)
}

// Item 1: a finding appended to the newest record (with a correctly computed id) made the
// next run call it "unchanged", and --fail-on-new exited 0.
#[test]
fn a_record_changed_by_hand_is_refused_or_with_a_key_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path());
    for key in [None, Some(KEY)] {
        let history = dir.path().join(format!("history-{}", key.is_some()));
        let out = dir.path().join("out");
        let run = |inv: &Path, as_of: &str| {
            audit_at_time(
                as_of,
                &[
                    "--from-inventory",
                    path_str(inv),
                    "--history",
                    path_str(&history),
                    "--out-dir",
                    path_str(&out),
                    "--fail-on-new",
                ],
                key,
            )
        };
        let output = run(&first, AS_OF);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let record = &records(&history)[0];
        let (mut doc, signature) = read_record(record);
        assert_eq!(signature.is_some(), key.is_some());
        // bob's finding of the second run, planted as if it had been seen before.
        let bob = json!({"id": "", "rule": "key-not-rotated", "severity": "medium",
            "status": "new", "first_seen": "2026-05-01", "suppressed": false,
            "account_id": "111111111111", "user_name": "bob",
            "user_arn": "arn:aws:iam::111111111111:user/bob", "user_id": "AIDABOB",
            "access_key_id": "AKIABOBKEY000001", "key_created": null});
        let planted = forged_like(&bob, "AKIABOBKEY000001");
        doc["findings"].as_array_mut().unwrap().push(planted);
        write_record(record, &doc, signature.as_deref());
        let output = run(&second, WEEK_LATER);
        match key {
            None => {
                // The counts no longer follow from the findings: refused, naming the file.
                assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
                let err = stderr(&output);
                assert!(err.contains(&record.display().to_string()), "{err}");
                assert!(err.contains("its summary says 1 open"), "{err}");
            }
            Some(_) => {
                // Signed: the changed record is skipped with a warning, so bob's finding is
                // new and --fail-on-new reaches the threshold.
                assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
                let err = stderr(&output);
                assert!(
                    err.contains("is skipped: its signature does not match"),
                    "{err}"
                );
                assert!(
                    stdout(&output).contains("no earlier run"),
                    "{}",
                    stdout(&output)
                );
            }
        }
        // Counts fixed too: without a key the record is believed (the folder must be
        // writable only by the jobs that write it); with one it is not.
        if key.is_none() {
            doc["summary"]["open"]["medium"] = json!(2);
            doc["summary"]["new"] = json!(2);
            write_record(record, &doc, None);
            let output = run(&second, WEEK_LATER);
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        }
    }
}

// Item 1: a crafted record with three invented findings made them "resolved".
#[test]
fn with_a_key_an_unsigned_record_is_never_the_baseline_or_a_trend_point() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = two_runs(dir.path());
    let history = dir.path().join("history");
    let out = dir.path().join("out");
    let run = |as_of: &str| {
        let mut cmd = keyhygiene();
        cmd.args(["audit", "--as-of", as_of, "--from-inventory"])
            .arg(&first)
            .args(["--history", path_str(&history), "--out-dir", path_str(&out)])
            .env("KEYHYGIENE_HISTORY_KEY", KEY);
        cmd.output().unwrap()
    };
    let output = run(AS_OF);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // A record planted a day later, unsigned, with three findings nobody has.
    let (mut doc, _) = read_record(&records(&history)[0]);
    let real = doc["findings"][0].clone();
    let invented: Vec<Value> = (1..=3)
        .map(|i| forged_like(&real, &format!("AKIAINVENTED00000{i}")))
        .collect();
    doc["findings"] = json!(invented);
    doc["as_of"] = json!("2026-06-02T12:00:00Z");
    doc["summary"]["open"]["medium"] = json!(3);
    doc["summary"]["new"] = json!(3);
    let planted = history.join(format!(
        "{}.20260602T120000Z.abcdef.json",
        doc["key"].as_str().unwrap()
    ));
    write_record(&planted, &doc, None);
    let output = run("2026-06-03T12:00:00Z");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("is skipped: it is not signed"), "{err}");
    assert_eq!(err.matches("is skipped").count(), 1, "named once: {err}");
    let doc = report(&out);
    assert_eq!(
        doc["resolved"].as_array().unwrap().len(),
        0,
        "nothing invented is resolved"
    );
    assert_eq!(
        doc["comparison"]["unchanged"], 1,
        "the signed record is the baseline"
    );
    let trend = doc["history"]["trend"].as_array().unwrap();
    assert_eq!(
        trend.len(),
        2,
        "the planted record is not a point: {trend:?}"
    );
}

// Item 1: a --baseline report.json must carry a valid signature when a key is set.
#[test]
fn with_a_key_a_baseline_report_must_be_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path());
    let unsigned = dir.path().join("unsigned");
    let signed = dir.path().join("signed");
    for (out, key) in [(&unsigned, None), (&signed, Some(KEY))] {
        let output = audit_with(
            &[
                "--from-inventory",
                path_str(&first),
                "--out-dir",
                path_str(out),
            ],
            key,
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    }
    assert!(signed.join("report.json.sig").is_file());
    assert!(!unsigned.join("report.json.sig").exists());
    let compare = |baseline: &Path| {
        audit_with(
            &[
                "--from-inventory",
                path_str(&second),
                "--baseline",
                path_str(baseline),
                "--out-dir",
                path_str(&dir.path().join("out")),
            ],
            Some(KEY),
        )
    };
    let output = compare(&unsigned);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("it is not signed"),
        "{}",
        stderr(&output)
    );
    assert_eq!(compare(&signed).status.code(), Some(1));
    // A signed report changed afterwards.
    let json = signed.join("report.json");
    let text = std::fs::read_to_string(&json)
        .unwrap()
        .replace("\"medium\"", "\"low\"");
    std::fs::write(&json, text).unwrap();
    let output = compare(&signed);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("does not match its content"));
}

// Item 2: a record dated 2099 with --history-keep 1 made the run delete the record it had
// just written; the next run said "no earlier run".
#[test]
fn a_future_record_neither_eats_the_history_nor_is_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = two_runs(dir.path());
    let history = dir.path().join("history");
    let out = dir.path().join("out");
    let run = |as_of: &str| {
        keyhygiene()
            .args(["audit", "--as-of", as_of, "--from-inventory"])
            .arg(&first)
            .args(["--history", path_str(&history), "--history-keep", "1"])
            .args(["--out-dir", path_str(&out)])
            .output()
            .unwrap()
    };
    assert_eq!(run(AS_OF).status.code(), Some(1));
    let (mut doc, _) = read_record(&records(&history)[0]);
    doc["as_of"] = json!("2099-01-01T00:00:00Z");
    let future = history.join(format!(
        "{}.20990101T000000Z.0ddba11.json",
        doc["key"].as_str().unwrap()
    ));
    write_record(&future, &doc, None);
    let output = run("2026-06-08T12:00:00Z");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("dated after this run's as-of"), "{err}");
    assert!(err.contains("20990101T000000Z"), "{err}");
    let left = records(&history);
    assert_eq!(
        left.len(),
        2,
        "this run's record and the future one: {left:?}"
    );
    assert!(
        left.iter()
            .any(|p| p.to_string_lossy().contains("20260608T120000Z"))
    );
    let next = run("2026-06-15T12:00:00Z");
    assert!(
        stdout(&next).contains("since 2026-06-08"),
        "{}",
        stdout(&next)
    );
}

/// A folder no file can be created in, even by root.
fn unwritable(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let folder = dir.join("read-only");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(folder.join("probe"), "").is_err() {
        return folder;
    }
    // Root writes anywhere it may; sysfs refuses everyone.
    let _ = std::fs::remove_file(folder.join("probe"));
    let sys = PathBuf::from("/sys/kernel");
    assert!(
        std::fs::write(sys.join("keyhygiene-probe"), "").is_err(),
        "no folder on this machine refuses writes to this user: run the test as another user"
    );
    sys
}

// Item 3: a read-only --history folder failed after report.html was replaced, with no
// record written; read-only --out-dir and --save-inventory folders were found after the
// whole crawl.
#[test]
fn a_folder_that_cannot_be_written_stops_the_run_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path());
    let out = dir.path().join("out");
    let output = audit_with(
        &[
            "--from-inventory",
            path_str(&first),
            "--out-dir",
            path_str(&out),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let before = std::fs::read(out.join("report.html")).unwrap();
    let locked = unwritable(dir.path());
    for flag in ["--history", "--save-inventory"] {
        let target = if flag == "--save-inventory" {
            locked.join("inventory.json")
        } else {
            locked.clone()
        };
        let output = audit_with(
            &[
                "--from-inventory",
                path_str(&second),
                "--out-dir",
                path_str(&out),
                flag,
                path_str(&target),
            ],
            None,
        );
        assert_eq!(output.status.code(), Some(2), "{flag}: {}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("cannot write in this folder"), "{err}");
        assert_eq!(
            std::fs::read(out.join("report.html")).unwrap(),
            before,
            "{flag}"
        );
    }
    // An output folder that cannot be written: refused before the (unreachable) endpoint
    // is asked anything.
    let output = support::audit_at(
        "http://127.0.0.1:9",
        &["--out-dir", path_str(&locked.join("reports"))],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("connection refused"),
        "{}",
        stderr(&output)
    );
}

/// The files of a folder, by name (temporary files, backups and journals included).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .filter(|(n, _)| n != ".keyhygiene-lock.info")
        .collect();
    all.sort();
    all
}

/// A run over `inventory` into `out`, saving into `saved` and recording into `history`,
/// started with its commit paused after each file; returns once it paused the first time.
fn paused_run(inventory: &Path, out: &Path, saved: &Path, history: &Path) -> std::process::Child {
    let mut child = keyhygiene()
        .args(["audit", "--as-of", AS_OF, "--from-inventory"])
        .arg(inventory)
        .args(["--out-dir", path_str(out), "--history", path_str(history)])
        .args(["--save-inventory", path_str(saved), "--fail-on", "none"])
        .env("KEYHYGIENE_TEST_COMMIT_PAUSE_MS", "400")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the run ended before committing"
        );
        if line.contains("test: committing") {
            break;
        }
    }
    // Keep draining stderr so the child never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

fn kill(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

// Item 4: SIGINT during the swap left report.html and the account pages new, the CSVs and
// report.json old, temporary files and backups that later runs never cleaned, and in the
// saved-inventory folder a new account file beside the old manifest.
#[test]
fn a_run_stopped_during_its_commit_leaves_the_previous_set_whole() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 200),
    );
    let b = save(dir.path(), "b.json", &inventory("222222222222", "bob", 300));
    let (out, saved, history) = (
        dir.path().join("out"),
        dir.path().join("saved"),
        dir.path().join("history"),
    );
    let first = dir.path().join("first");
    std::fs::create_dir(&first).unwrap();
    std::fs::copy(&a, first.join("account-111111111111.json")).unwrap();
    let second = dir.path().join("second");
    std::fs::create_dir(&second).unwrap();
    std::fs::copy(&a, second.join("account-111111111111.json")).unwrap();
    std::fs::copy(&b, second.join("account-222222222222.json")).unwrap();
    let output = keyhygiene()
        .args(["audit", "--as-of", AS_OF, "--from-inventory"])
        .arg(&first)
        .args(["--out-dir", path_str(&out), "--history", path_str(&history)])
        .args(["--save-inventory", path_str(&saved), "--fail-on", "none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let before = [snapshot(&out), snapshot(&saved), snapshot(&history)];
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let child = paused_run(&second, &out, &saved, &history);
        kill(&child, signal);
        let status = child.wait_with_output().unwrap().status;
        assert_eq!(status.code(), Some(code), "{signal}");
        assert_eq!(
            [snapshot(&out), snapshot(&saved), snapshot(&history)],
            before,
            "after {signal}: the previous set, whole, and nothing else"
        );
    }
    // SIGKILL cannot be caught: the next run puts the previous set back before anything
    // else, and says so. (Its own run then stops on a bad as-of, leaving that set.)
    let child = paused_run(&second, &out, &saved, &history);
    kill(&child, "-KILL");
    child.wait_with_output().unwrap();
    assert_ne!(snapshot(&out), before[0], "killed half-way");
    let output = keyhygiene()
        .args([
            "audit",
            "--as-of",
            "2000-01-01T00:00:00Z",
            "--from-inventory",
        ])
        .arg(&second)
        .args(["--out-dir", path_str(&out), "--history", path_str(&history)])
        .args(["--save-inventory", path_str(&saved)])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("was interrupted while it replaced its files"),
        "{err}"
    );
    assert_eq!(
        [snapshot(&out), snapshot(&saved), snapshot(&history)],
        before
    );
    // A whole run then replaces the set: the new account's page is in it.
    let output = keyhygiene()
        .args(["audit", "--as-of", AS_OF, "--from-inventory"])
        .arg(&second)
        .args(["--out-dir", path_str(&out), "--fail-on", "none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(out.join("account-222222222222.html").is_file());
}

// Item 4: two runs writing one --out-dir at once mixed their sets.
#[test]
fn one_run_at_a_time_writes_an_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path());
    let out = dir.path().join("out");
    let (saved, history) = (dir.path().join("saved.json"), dir.path().join("history"));
    let child = paused_run(&first, &out, &saved, &history);
    let output = audit_with(
        &[
            "--from-inventory",
            path_str(&second),
            "--out-dir",
            path_str(&out),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("is being written by another run (pid "),
        "{err}"
    );
    assert!(err.contains(&format!("pid {} since ", child.id())), "{err}");
    // --wait-lock waits for it instead.
    let waiting = keyhygiene()
        .args(["audit", "--as-of", AS_OF, "--from-inventory"])
        .arg(&second)
        .args(["--out-dir", path_str(&out), "--wait-lock", "60s"])
        .output()
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(waiting.status.code(), Some(1), "{}", stderr(&waiting));
    // The second run's set is the one in place: bob's finding is in it.
    let doc = report(&out);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user_name"] == "bob")
    );
}

// Item 4: the set manifest says which account pages belong to the set: a page of an account
// the new run did not audit is removed only when the previous set listed it.
#[test]
fn pages_of_accounts_no_longer_audited_go_only_when_the_previous_set_listed_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 200),
    );
    let b = save(dir.path(), "b.json", &inventory("222222222222", "bob", 300));
    let c = save(
        dir.path(),
        "c.json",
        &inventory("333333333333", "carol", 10),
    );
    let out = dir.path().join("out");
    let run = |files: &[&Path]| {
        let mut cmd = keyhygiene();
        cmd.args([
            "audit",
            "--as-of",
            AS_OF,
            "--fail-on",
            "none",
            "--from-inventory",
        ]);
        cmd.args(files).args(["--out-dir", path_str(&out)]);
        cmd.output().unwrap()
    };
    assert_eq!(run(&[&a, &b, &c]).status.code(), Some(0));
    // A page someone else put there, not listed in the set.
    std::fs::write(out.join("account-444444444444.html"), "theirs").unwrap();
    assert_eq!(run(&[&a, &b]).status.code(), Some(0));
    assert!(out.join("account-111111111111.html").exists());
    assert!(
        !out.join("account-333333333333.html").exists(),
        "listed in the previous set"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("account-444444444444.html")).unwrap(),
        "theirs"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".keyhygiene-set.json")).unwrap())
            .unwrap();
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"account-222222222222.html") && files.contains(&"report.json"));
    assert!(!files.contains(&"account-333333333333.html"));
}

// Item 1: a record of version 1 (before ids and counts could be checked) is still read,
// unchecked, with one warning, and this run's record is version 2.
#[test]
fn a_version_1_record_is_read_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path());
    let history = dir.path().join("history");
    let out = dir.path().join("out");
    let args = |inv: &Path| {
        vec![
            "--from-inventory".to_string(),
            inv.display().to_string(),
            "--history".into(),
            history.display().to_string(),
            "--out-dir".into(),
            out.display().to_string(),
        ]
    };
    let first_args = args(&first);
    let first_args: Vec<&str> = first_args.iter().map(String::as_str).collect();
    assert_eq!(audit_with(&first_args, None).status.code(), Some(1));
    let record = &records(&history)[0];
    let (mut doc, _) = read_record(record);
    doc["schema_version"] = json!(1);
    for f in doc["findings"].as_array_mut().unwrap() {
        let f = f.as_object_mut().unwrap();
        f.remove("user_arn");
        f.remove("key_created");
    }
    write_record(record, &doc, None);
    let second_args = args(&second);
    let second_args: Vec<&str> = second_args.iter().map(String::as_str).collect();
    let output = audit_at_time(WEEK_LATER, &second_args, None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(
        err.matches("a version-1 history record").count(),
        1,
        "{err}"
    );
    assert!(
        stdout(&output).contains("1 new, 0 updated, 0 resolved, 1 unchanged"),
        "{}",
        stdout(&output)
    );
    let newest = records(&history).pop().unwrap();
    assert_eq!(read_record(&newest).0["schema_version"], 2);
}

// Item 5: when STS echoed the external id in an error, the secret landed in report.html,
// report.json, manifest.json, stdout and stderr.
#[test]
fn the_external_id_never_leaves_the_assume_role_request() {
    let moto = support::Moto::start();
    let proxy = support::FaultProxy::start(&moto.endpoint, &["--invalid", "AssumeRole"]);
    let secret = "Shared-Secret-4242";
    let dir = tempfile::tempdir().unwrap();
    let (out, saved) = (dir.path().join("out"), dir.path().join("saved"));
    let file = dir.path().join("external-id");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let base = [
        "--accounts",
        "111111111111",
        "--as-of",
        AS_OF,
        "--out-dir",
        path_str(&out),
        "--save-inventory",
        path_str(&saved),
    ];
    let from_file = ["--external-id-file", path_str(&file)];
    for source in ["file", "env", "flag"] {
        let mut cmd = support::audit_command(&proxy.endpoint, &base);
        match source {
            "file" => {
                cmd.args(from_file);
            }
            "env" => {
                cmd.env("KEYHYGIENE_EXTERNAL_ID", secret);
            }
            _ => {
                cmd.args(["--external-id", secret]);
            }
        }
        let output = cmd.output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(3),
            "{source}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        assert!(err.contains("ValidationError"), "{err}");
        for (what, text) in [("stdout", stdout(&output)), ("stderr", err.clone())] {
            assert!(
                !text.contains(secret),
                "{source}: the secret is in {what}: {text}"
            );
        }
        assert!(
            stdout(&output).contains("Value '***' at 'externalId'"),
            "{}",
            stdout(&output)
        );
        for file in [
            out.join("report.html"),
            out.join("report.json"),
            saved.join("manifest.json"),
        ] {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                !text.contains(secret),
                "{source}: the secret is in {}",
                file.display()
            );
        }
    }
    // Checked locally, and never repeated.
    for bad in ["has space", "x"] {
        let output = support::audit_at(
            &proxy.endpoint,
            &["--accounts", "111111111111", "--external-id", bad],
        );
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("the external id is not one STS accepts"));
        assert!(!stderr(&output).contains(bad) || bad.len() < 2);
    }
    // Role and session names by IAM's rules, before any call.
    let before = proxy.stats()["requests"].as_u64().unwrap();
    for (flag, bad) in [("--role-name", "has space"), ("--role-session-name", "k")] {
        let output = support::audit_at(&proxy.endpoint, &["--accounts", "111111111111", flag, bad]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("{flag} {bad}: not a")),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(
        proxy.stats()["requests"].as_u64().unwrap(),
        before,
        "no call was made"
    );
}

/// An account name that tries every trick a terminal falls for.
const HOSTILE_NAME: &str = "prod\u{1b}]0;pwned\u{7}\u{1b}[2K\nFAKE: all clear\u{202e}gnp.exe";

// Item 6: an account name with escape sequences, a newline or U+202E was printed raw in
// stdout's summary and stderr's progress lines.
#[test]
fn names_reach_the_terminal_escaped_and_the_files_exact() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    save(
        &saved,
        "account-111111111111.json",
        &inventory("111111111111", "alice", 200),
    );
    let m = support::saved::manifest(json!([
        support::saved::account(
            "111111111111",
            HOSTILE_NAME,
            "ACTIVE",
            json!({"outcome": "audited", "file": "account-111111111111.json"})
        ),
        support::saved::account(
            "222222222222",
            "other",
            "ACTIVE",
            json!({"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied",
                   "message": "denied\u{1b}[31m\nkeyhygiene: coverage: complete", "role_arn": null})
        ),
    ]));
    std::fs::write(saved.join("manifest.json"), m.to_string()).unwrap();
    let out = dir.path().join("out");
    let output = audit_with(
        &[
            "--from-inventory",
            path_str(&saved),
            "--out-dir",
            path_str(&out),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    for (what, text) in [("stdout", stdout(&output)), ("stderr", stderr(&output))] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{what}: {text:?}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("FAKE") || l.trim() == "keyhygiene: coverage: complete"),
            "{what}: {text}"
        );
    }
    let text = stdout(&output);
    assert!(
        text.contains("prod\\u{1b}]0;pwned\\u{7}\\u{1b}[2K\\nFAKE: all clear\\u{202e}gnp.exe"),
        "{text}"
    );
    // The files keep the exact value (JSON escapes it its own way; HTML escapes markup).
    let doc = report(&out);
    let names: Vec<&str> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&HOSTILE_NAME), "{names:?}");
}

// Item 6: names over AWS's limits in a saved file were truncated at best: a 10 MB account
// name grew the outputs to 254 MB.
#[test]
fn names_over_aws_limits_in_a_saved_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    save(
        &saved,
        "account-111111111111.json",
        &inventory("111111111111", "alice", 200),
    );
    let audited = json!({"outcome": "audited", "file": "account-111111111111.json"});
    let huge = "n".repeat(10 * 1024 * 1024);
    for (name, ou, expect) in [
        (
            huge.as_str(),
            "Root/A",
            "name has 10485760 characters, more than AWS allows (50)",
        ),
        (
            "ok",
            "Root/A/B/C/D/E/F",
            "6 units below the root, more than AWS allows (5)",
        ),
        (
            "ok",
            &format!("Root/{}", "u".repeat(129)),
            "unit name of 129 characters",
        ),
    ] {
        let mut m = support::saved::manifest(json!([support::saved::account(
            "111111111111",
            name,
            "ACTIVE",
            audited.clone()
        )]));
        m["accounts"][0]["account"]["ou_path"] = json!(ou);
        std::fs::write(saved.join("manifest.json"), m.to_string()).unwrap();
        let output = audit_with(
            &[
                "--from-inventory",
                path_str(&saved),
                "--out-dir",
                path_str(&out),
            ],
            None,
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}",
            &stderr(&output)[..200.min(stderr(&output).len())]
        );
        assert!(
            stderr(&output).len() < 1000,
            "the refusal does not repeat the value"
        );
        assert!(stderr(&output).contains(expect), "{}", stderr(&output));
    }
    let refused = |inv: &keyhygiene::inventory::Inventory, expect: &str| {
        let file = save(dir.path(), "over.json", inv);
        let output = audit_with(
            &[
                "--from-inventory",
                path_str(&file),
                "--out-dir",
                path_str(&out),
            ],
            None,
        );
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(expect), "{}", stderr(&output));
    };
    let mut inv = inventory("111111111111", "alice", 200);
    inv.users[0].name = "u".repeat(65);
    inv.users[0].arn = format!("arn:aws:iam::111111111111:user/{}", inv.users[0].name);
    refused(
        &inv,
        "has a name of 65 characters, more than IAM allows (64)",
    );
    let mut inv = inventory("111111111111", "alice", 200);
    inv.users[0].tags.push(keyhygiene::inventory::Tag {
        key: "team".into(),
        value: "v".repeat(257),
    });
    refused(&inv, "tag value of 257 characters");
    assert!(!out.join("report.json").exists());
}
