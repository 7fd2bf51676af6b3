//! Defects found when keyhygiene was attacked with hostile files, planted symlinks and odd
//! data, each with the test that failed before its fix. Offline unless a test says
//! otherwise (the logging and endpoint tests crawl the local endpoint).

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::{AUDIT_KEY_ID, AUDIT_SECRET, FaultProxy, Moto, keyhygiene, stderr, stdout};

/// The demo account as an early keyhygiene saved it (schema version 1, every last use from
/// GetAccessKeyLastUsed).
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/demo-inventory-v1.json"
);
/// The sample's own as-of: between its newest record and its collection time.
const SAMPLE_AS_OF: &str = "2026-11-23T08:00:00Z";
const REPORT_FILES: [&str; 4] = ["report.html", "findings.csv", "keys.csv", "report.json"];

fn audit(args: &[&str]) -> Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    keyhygiene().args(&all).output().expect("run keyhygiene")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Audits a saved inventory into `out_dir` with `extra` flags.
fn audit_inventory(inventory: &Path, out_dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--from-inventory",
        path_str(inventory),
        "--out-dir",
        path_str(out_dir),
        "--fail-on",
        "none",
    ];
    args.extend_from_slice(extra);
    audit(&args)
}

fn sample() -> Value {
    serde_json::from_str(&std::fs::read_to_string(SAMPLE).unwrap()).unwrap()
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// Exit 2, one line on stderr that contains every one of `expect`, and no report written.
fn assert_refused(output: &Output, out_dir: &Path, expect: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for part in expect {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(!out_dir.join("report.json").exists(), "nothing is written");
}

fn report_json(out_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap()
}

// Item 1: a symlink planted in a shared output directory. Links sit at every name the
// writer ends with (the reports, an organization's account pages, the saved inventories
// and their manifest) and at its temporary files' name pattern; none is followed. (A link
// at a history record's own name is tested in baseline::history, which can choose the
// record's random name.)
#[test]
fn a_planted_symlink_in_the_output_directory_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let out = dir.path().join("shared");
    std::fs::create_dir(&out).unwrap();
    let plant = |at: &Path| std::os::unix::fs::symlink(&victim, at).unwrap();
    let mut planted = Vec::new();
    for name in REPORT_FILES
        .iter()
        .map(|n| n.to_string())
        .chain(["inventory.json".to_string()])
        .chain((0..8).map(|i| format!(".keyhygiene-{i:06}.tmp")))
        .chain((0..8).map(|i| format!(".keyhygiene-previous-{i:06}")))
    {
        plant(&out.join(&name));
        planted.push(name);
    }
    let saved = out.join("inventory.json");
    let output = audit_inventory(
        Path::new(SAMPLE),
        &out,
        &[
            "--as-of",
            SAMPLE_AS_OF,
            "--save-inventory",
            path_str(&saved),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for name in REPORT_FILES.iter().chain(&["inventory.json"]) {
        let meta = std::fs::symlink_metadata(out.join(name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is a regular file");
    }
    assert!(saved.is_file());

    // An organization: its account pages, and a saved folder's manifest and account files.
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for id in ["111111111111", "222222222222"] {
        let mut inv = sample();
        inv["account_id"] = Value::from(id);
        for u in inv["users"].as_array_mut().unwrap() {
            let arn = u["arn"].as_str().unwrap().replace("123456789012", id);
            u["arn"] = Value::from(arn);
        }
        files.push(write_json(dir.path(), &format!("{id}.json"), &inv));
        ids.push(id);
    }
    let org_saved = out.join("org-saved");
    std::fs::create_dir(&org_saved).unwrap();
    for id in &ids {
        plant(&out.join(format!("account-{id}.html")));
        plant(&org_saved.join(format!("account-{id}.json")));
    }
    plant(&org_saved.join("manifest.json"));
    let output = audit(&[
        "--from-inventory",
        path_str(&files[0]),
        path_str(&files[1]),
        "--as-of",
        SAMPLE_AS_OF,
        "--out-dir",
        path_str(&out),
        "--save-inventory",
        path_str(&org_saved),
        "--fail-on",
        "none",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for id in &ids {
        for file in [
            out.join(format!("account-{id}.html")),
            org_saved.join(format!("account-{id}.json")),
        ] {
            let meta = std::fs::symlink_metadata(&file).unwrap();
            assert!(
                meta.file_type().is_file(),
                "{} is a regular file",
                file.display()
            );
        }
    }
    assert!(
        std::fs::symlink_metadata(org_saved.join("manifest.json"))
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

    // The output folder's lock: a link at the lock file's name is refused (the folder
    // cannot be locked), one at its information file's name is replaced, never followed.
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    plant(&fresh.join(".keyhygiene-lock"));
    let run = |out: &Path| audit_inventory(Path::new(SAMPLE), out, &["--as-of", SAMPLE_AS_OF]);
    let output = run(&fresh);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(".keyhygiene-lock"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_file(fresh.join(".keyhygiene-lock")).unwrap();
    plant(&fresh.join(".keyhygiene-lock.info"));
    let output = run(&fresh);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        std::fs::symlink_metadata(fresh.join(".keyhygiene-lock.info"))
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

// Item 3: one file cannot be replaced: the previous set stays as it was.
#[test]
fn a_report_set_that_cannot_be_written_leaves_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let first = audit_inventory(Path::new(SAMPLE), &out, &["--as-of", SAMPLE_AS_OF]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let before: Vec<Vec<u8>> = ["report.html", "findings.csv", "keys.csv"]
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    // report.json, written last, cannot be replaced: a directory is in its way.
    std::fs::remove_file(out.join("report.json")).unwrap();
    std::fs::create_dir_all(out.join("report.json/keep")).unwrap();

    let second = audit_inventory(
        Path::new(SAMPLE),
        &out,
        &["--as-of", "2027-01-01T00:00:00Z"],
    );
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("report.json"),
        "{}",
        stderr(&second)
    );
    for (name, old) in ["report.html", "findings.csv", "keys.csv"]
        .iter()
        .zip(&before)
    {
        assert!(
            std::fs::read(out.join(name)).unwrap() == *old,
            "{name} was replaced although the set could not be completed"
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    // No temporary file or backup: the first run's set, its manifest and the folder's lock.
    assert_eq!(
        left,
        [
            ".keyhygiene-lock",
            ".keyhygiene-lock.info",
            ".keyhygiene-set.json",
            "findings.csv",
            "keys.csv",
            "report.html",
            "report.json"
        ]
    );

    // Formats not requested are left alone.
    std::fs::remove_dir_all(out.join("report.json")).unwrap();
    let csv_only = audit_inventory(
        Path::new(SAMPLE),
        &out,
        &["--as-of", "2027-01-01T00:00:00Z", "--format", "csv"],
    );
    assert_eq!(csv_only.status.code(), Some(0), "{}", stderr(&csv_only));
    assert!(std::fs::read(out.join("report.html")).unwrap() == before[0]);
    assert!(std::fs::read(out.join("keys.csv")).unwrap() != before[2]);
}

// Item 4: an unknown root user is a gap, for every source.
#[test]
fn an_unknown_root_user_is_a_coverage_gap_for_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/credential-report.csv"
    ))
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    let report = dir.path().join("header-only.csv");
    std::fs::write(&report, format!("{header}\n")).unwrap();
    let out = dir.path().join("cr");
    let output = audit(&[
        "--from-credential-report",
        path_str(&report),
        "--out-dir",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("coverage: INCOMPLETE")
            || stdout(&output).contains("coverage: incomplete"),
        "{}",
        stdout(&output)
    );
    let json = report_json(&out);
    assert_eq!(json["coverage"]["complete"], false);

    let mut inv = sample();
    inv["root"] = serde_json::json!({ "source": "unknown" });
    inv["gaps"] = serde_json::json!([]);
    let file = write_json(dir.path(), "root-unknown.json", &inv);
    let out = dir.path().join("inv");
    let output = audit_inventory(&file, &out, &["--as-of", SAMPLE_AS_OF]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(report_json(&out)["coverage"]["complete"], false);
}

// Item 6: impossible dates.
#[test]
fn an_as_of_before_the_data_and_impossible_dates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = audit_inventory(
        Path::new(SAMPLE),
        &out,
        &["--as-of", "2000-01-01T00:00:00Z"],
    );
    assert_refused(
        &output,
        &out,
        &[SAMPLE, "after --as-of 2000-01-01T00:00:00Z"],
    );

    for (field, date, expect) in [
        (
            "created",
            "9999-01-01T00:00:00Z",
            "after the data was collected",
        ),
        ("created", "0000-01-01T00:00:00Z", "before AWS existed"),
    ] {
        let mut inv = sample();
        inv["users"][1]["keys"][0][field] = Value::String(date.into());
        let file = write_json(dir.path(), "dated.json", &inv);
        let output = audit_inventory(&file, &out, &[]);
        assert_refused(
            &output,
            &out,
            &[
                "dated.json",
                "user alice.dubois's access key AKIARZPUZDIKGBRRUMSK",
                expect,
            ],
        );
    }
    // The sample's as-of lies between its newest record and its collection time: legal.
    let output = audit_inventory(Path::new(SAMPLE), &out, &["--as-of", SAMPLE_AS_OF]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

// Item 7: contradictions.
#[test]
fn duplicated_users_and_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut inv = sample();
    let users = inv["users"].as_array_mut().unwrap();
    let copy = users[1].clone();
    users.push(copy);
    let file = write_json(dir.path(), "user-twice.json", &inv);
    assert_refused(
        &audit_inventory(&file, &out, &[]),
        &out,
        &["user-twice.json", "user alice.dubois is listed twice"],
    );

    let mut inv = sample();
    let key = inv["users"][1]["keys"][0].clone();
    inv["users"][2]["keys"].as_array_mut().unwrap().push(key);
    let file = write_json(dir.path(), "key-twice.json", &inv);
    assert_refused(
        &audit_inventory(&file, &out, &[]),
        &out,
        &[
            "key-twice.json",
            "access key AKIARZPUZDIKGBRRUMSK is listed under user",
        ],
    );
}

// Item 8: coverage comes from the records, not from the file's gap list.
#[test]
fn a_hand_edited_inventory_cannot_hide_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = sample();
    inv["users"][1]["keys"][0]["last_used"] = serde_json::json!({ "state": "unknown" });
    inv["gaps"] = serde_json::json!([]);
    inv["coverage"]["complete"] = Value::Bool(true);
    let file = write_json(dir.path(), "edited.json", &inv);
    let out = dir.path().join("out");
    let output = audit_inventory(&file, &out, &["--as-of", SAMPLE_AS_OF]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let json = report_json(&out);
    assert_eq!(json["coverage"]["complete"], false);
    let gaps = json["coverage"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["access_key_id"], "AKIARZPUZDIKGBRRUMSK");
}

/// Runs keyhygiene, failing the test if it is still running after `limit`.
fn run_with_watchdog(mut cmd: std::process::Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyhygiene still ran after {limit:?}: it blocked on its input");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

// Item 9: endless or blocking inputs.
#[test]
fn devices_fifos_and_oversized_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fifo = dir.path().join("fifo");
    support::make_fifo(&fifo);
    for (flag, input, expect) in [
        ("--from-inventory", "/dev/zero", "character device"),
        ("--from-inventory", path_str(&fifo), "FIFO"),
        ("--from-credential-report", "/dev/zero", "character device"),
        ("--config", "/dev/zero", "character device"),
        ("--config", path_str(&fifo), "FIFO"),
    ] {
        let mut cmd = keyhygiene();
        cmd.args(["audit", flag, input, "--out-dir", path_str(&out)]);
        if flag == "--config" {
            cmd.args(["--from-inventory", SAMPLE]);
        }
        let output = run_with_watchdog(cmd, Duration::from_secs(30));
        assert_refused(&output, &out, &[input, expect]);
    }
    // A sparse file just past the limit: refused from its size, without reading it.
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(keyhygiene::fsio::MAX_DATA_FILE_BYTES + 1)
        .unwrap();
    let output = audit_inventory(&big, &out, &[]);
    assert_refused(&output, &out, &["big.json", "larger than 256 MiB"]);
}

// Item 14: a credential report file's age is unknown unless stated.
#[test]
fn a_credential_report_file_is_dated_only_by_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let report = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/credential-report.csv"
    );
    let out = dir.path().join("unknown");
    let output = audit(&[
        "--from-credential-report",
        report,
        "--out-dir",
        path_str(&out),
        "--fail-on",
        "none",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = report_json(&out);
    assert_eq!(json["credential_report"]["generated_at"], Value::Null);
    assert_eq!(json["credential_report"]["stale"], false);
    assert!(
        stdout(&output).contains("credential report: generated at an unknown time"),
        "{}",
        stdout(&output)
    );

    let out = dir.path().join("stated");
    let output = audit(&[
        "--from-credential-report",
        report,
        "--report-generated-at",
        "2026-01-16T00:00:00Z",
        "--as-of",
        "2026-01-16T06:00:00Z",
        "--out-dir",
        path_str(&out),
        "--fail-on",
        "none",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = report_json(&out);
    assert_eq!(
        json["credential_report"]["generated_at"],
        "2026-01-16T00:00:00Z"
    );
    assert_eq!(json["credential_report"]["age_minutes"], 360);
    assert_eq!(json["credential_report"]["stale"], true);
}

// Item 17: crawl-only flags with an offline source.
#[test]
fn crawl_flags_are_refused_with_offline_sources() {
    for flags in [
        ["--from-inventory", SAMPLE, "--max-rps", "5"],
        ["--from-inventory", SAMPLE, "--concurrency", "4"],
        ["--from-credential-report", SAMPLE, "--max-rps", "5"],
    ] {
        let output = audit(&flags);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flags:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("cannot be used with"),
            "{}",
            stderr(&output)
        );
    }
    let output = audit(&["--report-generated-at", "2026-01-01T00:00:00Z"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

// Versions: a version-1 inventory (the committed sample) loads and is saved as version 2.
#[test]
fn a_version_1_inventory_is_migrated_on_read() {
    assert_eq!(sample()["schema_version"], 1);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("v2.json");
    let output = audit_inventory(
        Path::new(SAMPLE),
        &dir.path().join("out"),
        &[
            "--as-of",
            SAMPLE_AS_OF,
            "--save-inventory",
            path_str(&saved),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let v2: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(v2["schema_version"], keyhygiene::inventory::SCHEMA_VERSION);
    let mut v1 = sample();
    v1["schema_version"] = v2["schema_version"].clone();
    // The one field version 4 added: a version-1 live crawl asked the API for every key.
    let mut v2 = v2;
    for user in v2["users"].as_array_mut().unwrap() {
        for key in user["keys"].as_array_mut().unwrap() {
            assert_eq!(key["last_used_source"], "api");
            key.as_object_mut().unwrap().remove("last_used_source");
        }
    }
    assert_eq!(
        v1["users"], v2["users"],
        "the records are carried over unchanged"
    );
}

/// A distinctive session token: it must never appear in any output.
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEKH-KEYHYGIENE-SESSION-TOKEN-MUST-NOT-LEAK-0123456789";

// Item 2: no log level prints a credential, a signature or a session token.
#[test]
fn no_log_level_prints_a_credential() {
    let moto = Moto::start();
    moto.seed_generated(5, 1, "2026-06-01T12:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    for level in ["trace", "debug"] {
        let output = keyhygiene()
            .args([
                "audit",
                "--endpoint-url",
                &moto.endpoint,
                "--fail-on",
                "none",
            ])
            .arg("--out-dir")
            .arg(dir.path().join(level))
            .env("AWS_ACCESS_KEY_ID", AUDIT_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", AUDIT_SECRET)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("KEYHYGIENE_LOG", level)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let all = format!("{}{}", stdout(&output), stderr(&output));
        for secret in [SESSION_TOKEN, AUDIT_SECRET, AUDIT_KEY_ID] {
            assert!(
                !all.contains(secret),
                "{level}: the output contains {secret}"
            );
        }
        // "authorization:" is the header; GetAccountAuthorizationDetails is an operation.
        for leak in [
            "Signature=",
            "authorization:",
            "authorization=",
            "x-amz-security-token",
        ] {
            assert!(
                !all.to_ascii_lowercase()
                    .contains(&leak.to_ascii_lowercase()),
                "{level}: the output contains {leak}"
            );
        }
    }
}

// Item 2: the endpoint's user:password never appears in a message or a file.
#[test]
fn endpoint_userinfo_is_never_shown_or_stored() {
    let moto = Moto::start();
    moto.seed_generated(3, 1, "2026-06-01T12:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let with_userinfo = moto.endpoint.replace("http://", "http://admin:s3cret-pw@");
    let saved = dir.path().join("inventory.json");
    let out = dir.path().join("out");
    let output = support::audit_saving(
        &with_userinfo,
        "2026-06-01T12:00:00Z",
        &saved,
        &out,
        &["--fail-on", "none"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let inventory: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(
        inventory["source"]["endpoint"],
        moto.endpoint.replace("http://", "http://***@")
    );
    let mut texts = vec![stdout(&output), stderr(&output)];
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let path = entry.path();
        let files: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect()
        } else {
            vec![path]
        };
        texts.extend(
            files
                .iter()
                .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()),
        );
    }
    for text in &texts {
        assert!(!text.contains("s3cret-pw"), "userinfo shown: {text:.300}");
    }
    // An unreachable endpoint's message does not repeat it either.
    let output = support::audit_at("http://admin:s3cret-pw@127.0.0.1:9", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("s3cret-pw"),
        "{}",
        stderr(&output)
    );
    let output = audit(&["--endpoint-url", "admin:s3cret-pw@127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("s3cret-pw"),
        "{}",
        stderr(&output)
    );
}

// Item 16 and the exit code split: a live run with a gap exits 3, and its warnings carry no
// terminal colour codes when stderr is not a terminal.
#[test]
fn an_incomplete_live_run_exits_3_with_plain_warnings() {
    let moto = Moto::start();
    let manifest = moto.seed_generated(5, 1, "2026-06-01T12:00:00Z");
    let user = manifest["users"][0]["name"].as_str().unwrap().to_string();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        &["--deny", &format!("ListAccessKeys:UserName={user}")],
    );
    let dir = tempfile::tempdir().unwrap();
    let output = support::audit_at(
        &proxy.endpoint,
        &["--out-dir", path_str(dir.path()), "--fail-on", "none"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("WARN"),
        "a warning about the denied call: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no ANSI escape codes: {err:?}");
    assert_eq!(report_json(dir.path())["coverage"]["complete"], false);
}

// Item 13: a report audited from a saved file says so: the file, when and where it was
// originally collected.
#[test]
fn a_report_from_a_saved_inventory_names_the_file_and_the_original_crawl() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = audit_inventory(Path::new(SAMPLE), &out, &["--as-of", SAMPLE_AS_OF]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let label = format!(
        "saved inventory {SAMPLE}, collected 2026-11-23 08:22 UTC by a live crawl of the IAM API at http://127.0.0.1:36907"
    );
    assert!(
        stdout(&output).contains(&format!("source: {label}")),
        "{}",
        stdout(&output)
    );
    let json = report_json(&out);
    assert_eq!(json["source"]["inventory_file"], SAMPLE);
    assert_eq!(json["source"]["kind"], "live");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    let text: String = doc.root_element().text().collect();
    assert!(
        text.contains(&label),
        "the HTML header names the saved file and the crawl"
    );
    assert!(
        text.contains("not of this run"),
        "the crawl figures are labelled"
    );
}

// Scope by name: excluded users' keys are never crawled, and a later audit of the saved
// inventory with everyone in scope shows them as gaps instead of as clean users.
#[test]
fn users_out_of_a_name_scope_are_not_crawled() {
    let moto = Moto::start();
    let manifest = moto.seed_generated(6, 1, "2026-06-01T12:00:00Z");
    let excluded = manifest["users"][0]["name"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("policy.toml");
    std::fs::write(
        &config,
        format!("[scope.exclude]\nusers = [\"{excluded}\"]\n"),
    )
    .unwrap();
    let saved = dir.path().join("inventory.json");
    let out = dir.path().join("out");
    let output = support::audit_saving(
        &moto.endpoint,
        "2026-06-01T12:00:00Z",
        &saved,
        &out,
        &["--fail-on", "none", "--config", path_str(&config)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "scope: 1 user left out (exclude users {excluded})"
        )),
        "{}",
        stdout(&output)
    );
    let json = report_json(&out);
    assert_eq!(json["policy"]["scope"]["users_excluded"], 1);
    assert_eq!(
        json["policy"]["scope"]["description"],
        format!("exclude users {excluded}")
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("scope: 1 user left out"),
        "the HTML header says what the scope left out"
    );
    let inv = keyhygiene::inventory::Inventory::from_json_file(&saved).unwrap();
    assert_eq!(inv.not_crawled.len(), 1);
    assert_eq!(inv.not_crawled[0].name, excluded);
    assert!(inv.users.iter().all(|u| u.name != excluded));
    assert_eq!(
        inv.stats.calls.get("ListAccessKeys").copied(),
        Some(inv.users.len() as u64),
        "one ListAccessKeys per crawled user, none for the excluded one"
    );
    let keys = std::fs::read_to_string(out.join("keys.csv")).unwrap();
    assert!(!keys.contains(&excluded));

    let again = dir.path().join("again");
    let output = audit_inventory(&saved, &again, &["--as-of", "2026-06-01T12:00:00Z"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let gaps = report_json(&again)["coverage"]["gaps"].clone();
    assert_eq!(gaps[0]["user"], excluded.as_str());
    assert_eq!(gaps[0]["error_code"], "NotCrawled");
}

// A saved inventory whose last-use values partly come from the credential report is exact
// only at the instants its crawl settled them for; judged later, a value that could now
// change a finding becomes a coverage gap instead of deciding the finding.
#[test]
fn report_values_of_a_saved_inventory_are_checked_again_at_a_later_as_of() {
    let sample = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-reports/inventory.json"
    ));
    let inventory = keyhygiene::inventory::Inventory::from_json_file(sample).unwrap();
    assert!(
        inventory.last_use_from_report() > 0,
        "the sample has report values"
    );
    let dir = tempfile::tempdir().unwrap();
    let settled = audit_inventory(
        sample,
        &dir.path().join("settled"),
        &["--as-of", SAMPLE_AS_OF],
    );
    assert_eq!(settled.status.code(), Some(0), "{}", stderr(&settled));

    let later = audit_inventory(
        sample,
        &dir.path().join("later"),
        &["--as-of", "2026-12-31T08:00:00Z"],
    );
    assert_eq!(later.status.code(), Some(3), "{}", stderr(&later));
    let json = report_json(&dir.path().join("later"));
    let gaps = json["coverage"]["gaps"].as_array().unwrap();
    assert!(!gaps.is_empty());
    for gap in gaps {
        assert_eq!(gap["error_code"], "NotConfirmed", "{gap}");
        let id = gap["access_key_id"].as_str().unwrap();
        let key = inventory
            .users
            .iter()
            .flat_map(|u| &u.keys)
            .find(|k| k.id.as_deref() == Some(id))
            .unwrap();
        assert_eq!(
            key.last_used_source,
            keyhygiene::inventory::LastUseSource::CredentialReport
        );
    }
    // Fewer than all report values: those no later use could change keep theirs.
    assert!(
        gaps.len() < inventory.last_use_from_report(),
        "{} gaps",
        gaps.len()
    );
}
