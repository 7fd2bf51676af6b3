//! End to end on an aged account: seed moto (libfaketime) from a hand-written plan whose keys
//! sit exactly on and just past every default threshold, run the real CLI, and compare the
//! findings it writes with a hand-computed expected set, key by key.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use support::{Moto, stderr};

const NOW: &str = "2026-06-01T12:00:00Z";

/// (rule id, severity, user, index of the key in the plan; None for user-level findings)
type Expected = (&'static str, &'static str, &'static str, Option<usize>);

/// Worked out by hand from tests/fixtures/e2e-account.json with the default policy:
/// max-age-days 90, max-unused-days 45, grace-days 7, min-days-inactive 0,
/// rotation-grace-days 7; every threshold strict.
const EXPECTED: &[Expected] = &[
    // fresh (10 days, used yesterday), age-90, unused-45, never-7, inactive-today and
    // no-keys have no finding: each sits exactly on its threshold or below it.
    ("key-not-rotated", "medium", "age-91", Some(0)),
    ("key-unused", "medium", "unused-46", Some(0)),
    ("key-never-used", "low", "never-8", Some(0)),
    ("key-not-rotated", "medium", "never-old", Some(0)),
    ("key-unused", "medium", "never-old", Some(0)),
    ("key-never-used", "low", "never-old", Some(0)),
    ("key-inactive-not-deleted", "low", "inactive-old", Some(0)),
    // A second key 3 days old: a rotation appears under way, so the severity drops.
    ("key-not-rotated", "medium", "rotating", Some(0)),
    ("user-two-active-keys", "low", "rotating", None),
    ("key-not-rotated", "medium", "two-keys", Some(0)),
    ("user-two-active-keys", "medium", "two-keys", None),
    // Newer key exactly 7 days old: still inside the grace window, and not yet "never used"
    // past its own grace.
    ("key-not-rotated", "medium", "rotation-7", Some(0)),
    ("user-two-active-keys", "low", "rotation-7", None),
    ("key-not-rotated", "medium", "rotation-8", Some(0)),
    ("user-two-active-keys", "medium", "rotation-8", None),
    ("key-not-rotated", "medium", "svc-deploy", Some(0)),
    ("key-unused", "medium", "svc-deploy", Some(0)),
];

/// (rule id, severity, user, key id) rows of findings.csv.
fn findings_csv(path: &Path) -> BTreeSet<(String, String, String, String)> {
    let mut reader = csv::Reader::from_path(path).expect("findings.csv");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("findings.csv has a {name} column"))
    };
    let (rule, severity, user, key) = (
        col("rule_id"),
        col("severity"),
        col("user_name"),
        col("access_key_id"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV row");
            (
                r[rule].to_string(),
                r[severity].to_string(),
                r[user].to_string(),
                r[key].to_string(),
            )
        })
        .collect()
}

#[test]
fn findings_on_an_aged_account_equal_the_hand_computed_set() {
    let moto = Moto::start();
    let spec = Path::new(support::ROOT).join("tests/fixtures/e2e-account.json");
    let manifest = moto.seed_spec(&spec);
    let out_dir = moto.dir.path().join("report");
    let inventory = moto.dir.path().join("inventory.json");

    let output = support::audit_saving(&moto.endpoint, NOW, &inventory, &out_dir, &["--quiet"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "findings at or above the default --fail-on low exit 1; stderr:\n{}",
        stderr(&output)
    );

    let expected: BTreeSet<(String, String, String, String)> = EXPECTED
        .iter()
        .map(|(rule, severity, user, key)| {
            (
                rule.to_string(),
                severity.to_string(),
                user.to_string(),
                key.map(|i| support::seeded_key_id(&manifest, user, i))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let actual = findings_csv(&out_dir.join("findings.csv"));
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing findings: {missing:#?}\nunexpected findings: {unexpected:#?}"
    );

    // The same inventory, audited offline, gives the same findings; the exit code follows
    // --fail-on.
    let offline_dir = moto.dir.path().join("offline");
    let mut by_threshold = BTreeMap::new();
    for fail_on in ["low", "medium", "high", "critical", "none"] {
        let output = support::keyhygiene()
            .args(["audit", "--from-inventory"])
            .arg(&inventory)
            .args(["--as-of", NOW, "--quiet", "--fail-on", fail_on, "--out-dir"])
            .arg(&offline_dir)
            .output()
            .expect("run keyhygiene");
        by_threshold.insert(fail_on, output.status.code());
    }
    assert_eq!(
        by_threshold,
        BTreeMap::from([
            ("critical", Some(0)),
            ("high", Some(0)),
            ("low", Some(1)),
            ("medium", Some(1)),
            ("none", Some(0)),
        ])
    );
    assert_eq!(findings_csv(&offline_dir.join("findings.csv")), actual);
}
