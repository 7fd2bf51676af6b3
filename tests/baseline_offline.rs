//! Baselines and history folders offline, from the demo account's saved inventory: finding
//! ids that do not change between runs, every hostile or mismatched baseline refused with
//! one line before anything is written, history records written safely when runs share a
//! folder at the same time, and the flags' usage errors.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{keyhygiene, stderr, stdout};

const AS_OF: &str = "2026-11-23T08:00:00Z";
const LATER: &str = "2026-12-07T08:00:00Z";

fn inventory() -> PathBuf {
    // A saved inventory whose every last use came from GetAccessKeyLastUsed: judged at any
    // as-of without report values to re-check.
    Path::new(support::ROOT).join("tests/fixtures/demo-inventory-v1.json")
}

fn audit(args: &[&str]) -> Output {
    keyhygiene()
        .arg("audit")
        .arg("--from-inventory")
        .arg(inventory())
        .args(args)
        .output()
        .expect("run keyhygiene")
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// A run of the demo inventory as of `as_of`, recorded in `history`, reports in `out`.
fn history_run(as_of: &str, history: &Path, out: &Path) -> Output {
    audit(&[
        "--as-of",
        as_of,
        "--history",
        history.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ])
}

/// A run of the demo inventory as of `as_of`, compared with `baseline`, reports in `out`.
fn baseline_run(as_of: &str, baseline: &Path, out: &Path) -> Output {
    audit(&[
        "--as-of",
        as_of,
        "--out-dir",
        out.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ])
}

/// A first run's report.json, to derive baselines from.
fn first_run(work: &Path) -> PathBuf {
    let out = work.join("first");
    let output = audit(&["--as-of", AS_OF, "--out-dir", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    out.join("report.json")
}

#[test]
fn finding_ids_are_unique_and_the_same_in_every_run() {
    let work = tempfile::tempdir().unwrap();
    let ids = |dir: &Path| -> Vec<String> {
        report(dir)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["finding_id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = first_run(work.path());
    let a = ids(first.parent().unwrap());
    let mut unique = a.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.len(), "two findings share an id");
    assert!(a.len() > 200);
    // A later run: every finding that is still there keeps its id, and is unchanged or
    // updated, with the first run's date.
    let later = work.path().join("later");
    let output = baseline_run(LATER, &first, &later);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc = report(&later);
    for f in doc["findings"].as_array().unwrap() {
        let id = f["finding_id"].as_str().unwrap();
        if a.iter().any(|x| x == id) {
            assert_ne!(f["status"], "new", "{id}");
            assert_eq!(f["first_seen"], "2026-11-23", "{id}");
        } else {
            assert_eq!(f["status"], "new", "{id}");
            assert_eq!(f["first_seen"], "2026-12-07", "{id}");
        }
    }
    let c = &doc["comparison"];
    assert!(c["new"].as_u64().unwrap() > 0, "{c}");
    // Nothing was deleted: the same inventory, later. Nothing is resolved, but severities
    // can only grow with age.
    assert_eq!(c["resolved"], 0, "{c}");
    assert_eq!(c["not_assessed"], 0, "{c}");
}

#[test]
fn a_bad_baseline_is_refused_with_one_line_and_nothing_is_written() {
    let work = tempfile::tempdir().unwrap();
    let first = first_run(work.path());
    let doc: Value = serde_json::from_slice(&std::fs::read(&first).unwrap()).unwrap();
    let write = |name: &str, value: &Value| {
        let path = work.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    };
    let edited = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = doc.clone();
        edit(&mut v);
        write(name, &v)
    };
    let garbage = work.path().join("garbage.json");
    std::fs::write(&garbage, "{\"schema_version\": 4, \"findings\": [").unwrap();
    let fifo = work.path().join("fifo.json");
    support::make_fifo(&fifo);
    let first_id = doc["findings"][0]["finding_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(PathBuf, String)> = vec![
        (garbage.clone(), "not a keyhygiene report.json".into()),
        (fifo.clone(), "not a regular file".into()),
        (
            write("other.json", &serde_json::json!({"hello": "world"})),
            "not a keyhygiene report.json".into(),
        ),
        (
            edited("v3.json", &|v| v["schema_version"] = 3.into()),
            "has no finding ids".into(),
        ),
        (
            edited("v99.json", &|v| v["schema_version"] = 99.into()),
            "newer than this keyhygiene reads".into(),
        ),
        (
            edited("account.json", &|v| v["account_id"] = "999999999999".into()),
            "the baseline is a run of account 999999999999, this run audits account 123456789012"
                .into(),
        ),
        (
            edited("org.json", &|v| v["kind"] = "organization".into()),
            "the baseline is a run of a list of accounts, this run audits account 123456789012"
                .into(),
        ),
        (
            edited("source.json", &|v| {
                v["finding_ids"]["source"] = "credential-report".into()
            }),
            "the baseline's finding ids come from a credential report, this run's from the IAM API"
                .into(),
        ),
        (
            edited("scheme.json", &|v| {
                v["finding_ids"]["scheme"] = "kh9".into()
            }),
            "finding ids of scheme \"kh9\"".into(),
        ),
        (
            edited("twice.json", &|v| {
                let f = v["findings"][0].clone();
                v["findings"].as_array_mut().unwrap().push(f);
            }),
            format!("finding {first_id} appears twice"),
        ),
        (
            edited("future.json", &|v| {
                v["findings"][0]["first_seen"] = "2030-01-01".into()
            }),
            format!(
                "finding {first_id} was first seen 2030-01-01, after the run's own as-of date 2026-11-23"
            ),
        ),
        (
            edited("badid.json", &|v| {
                v["findings"][0]["finding_id"] = "AKIA1".into()
            }),
            "\"AKIA1\" is not a finding id".into(),
        ),
        (
            edited("missing.json", &|v| {
                v.as_object_mut().unwrap().remove("not_assessed");
            }),
            "not a valid report.json".into(),
        ),
    ];
    for (path, expected) in cases {
        let out = work.path().join("out");
        let output = baseline_run(LATER, &path, &out);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{}: {err}", path.display());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&*path.to_string_lossy()), "{err}");
        assert!(err.contains(&expected), "{}: {err}", path.display());
        assert!(!out.exists(), "{}: reports were written", path.display());
    }
}

#[test]
fn the_flags_refuse_what_cannot_work() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let output = audit(&["--fail-on-new", "--out-dir", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        "keyhygiene: error: --fail-on-new needs a run to compare with: add --baseline FILE or --history DIR"
    );
    let output = audit(&["--history-keep", "3"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--history"), "{}", stderr(&output));
    let output = audit(&["--history", "x", "--history-keep", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let file = work.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let output = audit(&["--history", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--history needs a directory"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
}

/// The history folder's records of this account, by name.
fn records(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("account-123456789012."))
        .collect();
    names.sort();
    names
}

#[test]
fn runs_sharing_a_history_folder_never_clash() {
    let work = tempfile::tempdir().unwrap();
    let history = work.path().join("history");
    std::fs::create_dir(&history).unwrap();
    // Another job's record, and files that are not records, are left alone and ignored.
    std::fs::write(
        history.join("account-111111111111.20261101T000000Z.abcdef.json"),
        "{}",
    )
    .unwrap();
    std::fs::write(history.join("notes.txt"), "hello").unwrap();
    std::fs::write(history.join(".account-123456789012.tmpXYZ"), "partial").unwrap();
    // Two runs at once, of two different as-of times, into one folder.
    let spawn = |as_of: &str, out: &str| {
        keyhygiene()
            .arg("audit")
            .arg("--from-inventory")
            .arg(inventory())
            .args(["--as-of", as_of, "--quiet", "--history"])
            .arg(&history)
            .arg("--out-dir")
            .arg(work.path().join(out))
            .spawn()
            .unwrap()
    };
    let mut a = spawn(AS_OF, "a");
    let mut b = spawn("2026-11-30T08:00:00Z", "b");
    assert_eq!(a.wait().unwrap().code(), Some(1));
    assert_eq!(b.wait().unwrap().code(), Some(1));
    let names = records(&history);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("account-123456789012.20261123T080000Z."));
    assert!(names[1].starts_with("account-123456789012.20261130T080000Z."));
    // A third run compares with the newest record before it.
    let out = work.path().join("c");
    let output = history_run(LATER, &history, &out);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "since 2026-11-30 (history: {})",
            history.join(&names[1]).display()
        )),
        "{}",
        stdout(&output)
    );
    let doc = report(&out);
    assert_eq!(doc["history"]["trend"].as_array().unwrap().len(), 3);
    assert_eq!(
        std::fs::read_to_string(history.join("notes.txt")).unwrap(),
        "hello"
    );
    assert!(
        history
            .join("account-111111111111.20261101T000000Z.abcdef.json")
            .exists()
    );

    // A damaged record of this account is named, with the fix; nothing is written.
    std::fs::write(history.join(&names[1]), "{\"kind\": \"keyhygiene-history\"").unwrap();
    let out = work.path().join("d");
    let output = history_run(LATER, &history, &out);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(&names[1]) && err.contains("remove the file"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_credential_report_run_keeps_a_history_of_its_own() {
    let work = tempfile::tempdir().unwrap();
    let history = work.path().join("history");
    let report_csv = Path::new(support::ROOT).join("tests/fixtures/credential-report.csv");
    let run = |as_of: &str, out: &str| {
        keyhygiene()
            .arg("audit")
            .arg("--from-credential-report")
            .arg(&report_csv)
            .args(["--as-of", as_of, "--history"])
            .arg(&history)
            .arg("--out-dir")
            .arg(work.path().join(out))
            .output()
            .unwrap()
    };
    let first = run("2026-06-01T00:00:00Z", "one");
    assert!(
        matches!(first.status.code(), Some(0 | 1)),
        "{}",
        stderr(&first)
    );
    let doc = report(&work.path().join("one"));
    assert_eq!(doc["finding_ids"]["source"], "credential-report");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["user_name"] != "<root_account>")
            .all(|f| f["finding_id"].as_str().unwrap().starts_with("kh1cr-"))
    );
    let second = run("2026-06-08T00:00:00Z", "two");
    assert!(
        stdout(&second).contains("since 2026-06-01 (history: "),
        "{}",
        stdout(&second)
    );
    let names: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().all(|n| n.contains("-credential-report.")),
        "{names:?}"
    );
    // An API run of the same account in the same folder does not take it as its baseline.
    let out = work.path().join("api");
    let output = history_run(AS_OF, &history, &out);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no earlier run in"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn the_baseline_can_be_the_out_dir_the_run_replaces() {
    // A job that writes to one folder every week compares with what is there, then
    // replaces it.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("report");
    let output = audit(&["--as-of", AS_OF, "--out-dir", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let output = audit(&[
        "--as-of",
        LATER,
        "--out-dir",
        out.to_str().unwrap(),
        "--baseline",
        out.to_str().unwrap(),
        "--fail-on-new",
        "--fail-on",
        "high",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = report(&out);
    assert_eq!(doc["as_of"], LATER);
    assert_eq!(doc["comparison"]["since"], "2026-11-23");
    assert!(doc["comparison"]["unchanged"].as_u64().unwrap() > 200);
}
