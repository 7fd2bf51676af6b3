//! The committed sample reports are exactly what the current code renders from the committed
//! demo inventory: any change to the rules or the renderers shows up here as drift.
//! Regenerate them with `scripts/sample-reports`.

mod support;

use std::path::Path;

/// Must match AS_OF in scripts/sample-reports.
const AS_OF: &str = "2026-11-23T08:00:00Z";

#[test]
fn sample_reports_match_what_the_code_renders() {
    let samples = Path::new(support::ROOT).join("sample-reports");
    let out = tempfile::tempdir().unwrap();
    // Run from the project root with a relative path, as scripts/sample-reports does: the
    // reports name the saved inventory they read.
    let output = support::keyhygiene()
        .current_dir(support::ROOT)
        .args(["audit", "--from-inventory", "sample-reports/inventory.json"])
        .args([
            "--as-of",
            AS_OF,
            "--fail-on",
            "none",
            "--quiet",
            "--format",
            "html,csv,json,md,xlsx",
            "--out-dir",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    for file in [
        "report.html",
        "report.json",
        "findings.csv",
        "keys.csv",
        "summary.md",
        "keyhygiene.xlsx",
    ] {
        let committed = std::fs::read(samples.join(file))
            .unwrap_or_else(|e| panic!("sample-reports/{file}: {e}"));
        let rendered = std::fs::read(out.path().join(file)).unwrap();
        assert!(
            committed == rendered,
            "sample-reports/{file} drifted from what the code renders: run scripts/sample-reports and commit the result"
        );
    }
}

/// The sample inventory needs no `--as-of`: without one, a saved inventory is judged at the
/// latest instant its crawl settled its last uses for, which gives the committed reports;
/// `--as-of now` judges it today, and says which values it cannot judge any more.
#[test]
fn the_sample_inventory_is_judged_where_it_is_exact_without_an_as_of() {
    let run = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let output = support::keyhygiene()
            .current_dir(support::ROOT)
            .args(["audit", "--from-inventory", "sample-reports/inventory.json"])
            .args(["--fail-on", "none", "--out-dir"])
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap())
                .unwrap();
        (output, report)
    };
    let (output, report) = run(&[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    assert_eq!(report["as_of"], AS_OF);
    assert_eq!(report["coverage"]["complete"], true);
    let committed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(support::ROOT).join("sample-reports/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["summary"], committed["summary"]);

    let (output, report) = run(&["--as-of", "now"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "values no longer exact are gaps"
    );
    assert_ne!(report["as_of"], AS_OF);
    let gaps = report["coverage"]["gaps"].as_array().unwrap();
    assert!(
        !gaps.is_empty() && gaps.iter().all(|g| g["error_code"] == "NotConfirmed"),
        "{gaps:?}"
    );
}
