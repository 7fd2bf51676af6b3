//! Owners (`[report] owner-tags`, `owner-fallback`): every finding and key carries its
//! user's owner in both CSVs and report.json, and report.html's by-owner table counts the
//! open findings of each owner, worst first; checked against the CSV, read independently.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

const AS_OF: &str = "2026-11-23T08:00:00Z";

/// The sample inventory as `account`, its users' own owner tags replaced: `team` on every third user,
/// `owner` on every other one (the team wins where both are), a hostile team name on one.
fn tagged_inventory(account: &str) -> Value {
    let mut inv = support::saved::sample_as(account);
    for (i, user) in inv["users"].as_array_mut().unwrap().iter_mut().enumerate() {
        let tags = user["tags"].as_array_mut().unwrap();
        tags.retain(|t| t["key"] != "team" && t["key"] != "owner");
        if i % 3 == 0 {
            let team = if i == 3 {
                "=cmd|' /C calc'!A0 <b>x</b>"
            } else {
                "payments"
            };
            tags.push(json!({"key": "team", "value": team}));
        }
        if i % 2 == 0 {
            tags.push(json!({"key": "owner", "value": "alice"}));
        }
        if i == 1 {
            // A blank owner tag counts as absent.
            tags.push(json!({"key": "owner", "value": "  "}));
        }
    }
    inv
}

/// The owner the policy gives a user of [`tagged_inventory`].
fn expected_owner(inv: &Value, user: &str) -> String {
    let Some(u) = inv["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == user)
    else {
        return "nobody".into(); // the root user
    };
    let tag = |key: &str| {
        u["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key && !t["value"].as_str().unwrap().trim().is_empty())
            .map(|t| t["value"].as_str().unwrap().to_string())
    };
    tag("team")
        .or_else(|| tag("owner"))
        .unwrap_or("nobody".into())
}

fn policy(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("policy.toml");
    std::fs::write(
        &file,
        "[report]\nowner-tags = [\"team\", \"owner\"]\nowner-fallback = \"nobody\"\n",
    )
    .unwrap();
    file
}

fn audit(dir: &Path, from: &Path, out: &Path) -> std::process::Output {
    audit_with(&policy(dir), from, out, &[])
}

fn audit_with(policy: &Path, from: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    support::keyhygiene()
        .args(["audit", "--as-of", AS_OF, "--fail-on", "none", "--config"])
        .arg(policy)
        .arg("--from-inventory")
        .arg(from)
        .arg("--out-dir")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// A saved organization folder of two accounts of [`tagged_inventory`].
fn tagged_org(dir: &Path) -> std::path::PathBuf {
    let saved = dir.join("saved");
    std::fs::create_dir(&saved).unwrap();
    for account in ["200000000001", "200000000002"] {
        std::fs::write(
            saved.join(format!("account-{account}.json")),
            tagged_inventory(account).to_string(),
        )
        .unwrap();
    }
    saved
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().next_back(),
        Some("owner"),
        "owner is the last column"
    );
    reader
        .records()
        .map(|r| {
            headers
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// owner -> open findings by severity (critical, high, medium, low), from findings.csv.
fn open_by_owner(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, [usize; 4]> {
    let mut out: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for r in rows.iter().filter(|r| r["suppressed"] == "false") {
        let i = ["critical", "high", "medium", "low"]
            .iter()
            .position(|s| *s == r["severity"])
            .unwrap();
        out.entry(r["owner"].clone()).or_default()[i] += 1;
    }
    out
}

/// owner -> counts, from report.html's by-owner table.
fn owner_table(html: &Path) -> BTreeMap<String, [usize; 4]> {
    let page = scraper::Html::parse_document(&std::fs::read_to_string(html).unwrap());
    let row = scraper::Selector::parse("#owner-summary tbody tr").unwrap();
    let cell = scraper::Selector::parse("td").unwrap();
    page.select(&row)
        .map(|tr| {
            let cells: Vec<String> = tr.select(&cell).map(|c| c.text().collect()).collect();
            let n = |i: usize| cells[i].parse::<usize>().unwrap();
            assert_eq!(n(1) + n(2) + n(3) + n(4), n(5), "{cells:?}");
            (cells[0].clone(), [n(1), n(2), n(3), n(4)])
        })
        .collect()
}

/// Undoes findings.csv's formula neutralising of one cell.
fn cell(value: &str) -> String {
    value.strip_prefix('\'').unwrap_or(value).to_string()
}

#[test]
fn every_finding_and_key_carries_its_owner_and_the_page_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let inv = tagged_inventory("123456789012");
    let file = dir.path().join("inventory.json");
    std::fs::write(&file, inv.to_string()).unwrap();
    let out = dir.path().join("out");
    let output = audit(dir.path(), &file, &out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );

    let findings = csv_rows(&out.join("findings.csv"));
    assert!(!findings.is_empty());
    for r in &findings {
        assert_eq!(
            cell(&r["owner"]),
            expected_owner(&inv, &cell(&r["user_name"])),
            "{r:?}"
        );
    }
    // The hostile team name is neutralised in the CSV and escaped in the page.
    assert!(
        findings
            .iter()
            .any(|r| r["owner"] == "'=cmd|' /C calc'!A0 <b>x</b>"),
        "the hostile owner is neutralised in findings.csv"
    );
    let keys = csv_rows(&out.join("keys.csv"));
    for r in &keys {
        assert_eq!(
            cell(&r["owner"]),
            expected_owner(&inv, &cell(&r["user_name"])),
            "{r:?}"
        );
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for f in doc["findings"].as_array().unwrap() {
        assert_eq!(
            f["owner"].as_str().unwrap(),
            expected_owner(&inv, f["user_name"].as_str().unwrap())
        );
    }

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<b>x</b>"), "owner names are escaped");
    let table = owner_table(&out.join("report.html"));
    let expected: BTreeMap<String, [usize; 4]> = open_by_owner(&findings)
        .into_iter()
        .map(|(o, c)| (cell(&o), c))
        .collect();
    assert_eq!(table, expected);
    // Worst first.
    let page = scraper::Html::parse_document(&html);
    let rows: Vec<[usize; 4]> = {
        let sel = scraper::Selector::parse("#owner-summary tbody tr").unwrap();
        let td = scraper::Selector::parse("td").unwrap();
        page.select(&sel)
            .map(|tr| {
                let c: Vec<usize> = tr
                    .select(&td)
                    .skip(1)
                    .take(4)
                    .map(|c| c.text().collect::<String>().parse().unwrap())
                    .collect();
                [c[0], c[1], c[2], c[3]]
            })
            .collect()
    };
    assert!(rows.windows(2).all(|w| w[0] >= w[1]), "{rows:?}");
}

#[test]
fn an_organizations_overview_adds_the_owners_of_every_account() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tagged_org(dir.path());
    let out = dir.path().join("out");
    let output = audit(dir.path(), &saved, &out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    let findings = csv_rows(&out.join("findings.csv"));
    let expected: BTreeMap<String, [usize; 4]> = open_by_owner(&findings)
        .into_iter()
        .map(|(o, c)| (cell(&o), c))
        .collect();
    assert_eq!(owner_table(&out.join("report.html")), expected);
    // Each account's page has its own.
    let page = owner_table(&out.join("account-200000000001.html"));
    let total: usize = page.values().flatten().sum();
    let all: usize = expected.values().flatten().sum();
    assert_eq!(total * 2, all);
}

#[test]
fn without_owner_tags_everyone_is_unowned_and_the_page_has_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = support::keyhygiene()
        .current_dir(support::ROOT)
        .args(["audit", "--from-inventory", "sample-reports/inventory.json"])
        .args(["--as-of", AS_OF, "--fail-on", "none", "--out-dir"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    assert!(
        csv_rows(&out.join("findings.csv"))
            .iter()
            .all(|r| r["owner"] == "unowned")
    );
    assert!(owner_table(&out.join("report.html")).is_empty());
}

#[test]
fn a_bad_report_section_is_one_line_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        (
            "[report]\nowner-tags = \"team\"\n",
            "policy.toml:2:14: \"report.owner-tags\" must be a list of strings",
        ),
        ("[report]\nowners = [\"team\"]\n", "policy.toml:2:1:"),
        (
            "[report]\nowner-fallback = \"  \"\n",
            "\"report.owner-fallback\" has 1 to 256 characters",
        ),
    ] {
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, text).unwrap();
        let output = support::keyhygiene()
            .current_dir(dir.path())
            .args(["audit", "--from-inventory"])
            .arg(Path::new(support::ROOT).join("sample-reports/inventory.json"))
            .args(["--config", "policy.toml", "--out-dir", "out"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        let err = support::stderr(&output);
        assert!(err.contains(expect), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Every data row of a CSV file (the header left out), as text.
fn data_rows(path: &Path) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().collect::<Vec<_>>().join("\u{1f}"))
        .collect()
}

/// The union of every owner folder's rows of `file`, and the folders.
fn owner_rows(out: &Path, file: &str) -> (Vec<String>, Vec<String>) {
    let mut rows = Vec::new();
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(out.join("by-owner")).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_dir(), "{:?}", entry.path());
        folders.push(entry.file_name().into_string().unwrap());
        rows.extend(data_rows(&entry.path().join(file)));
    }
    rows.sort();
    folders.sort();
    (rows, folders)
}

#[test]
fn split_by_owner_puts_every_row_in_exactly_one_safe_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = tagged_inventory("123456789012");
    // Hostile owners: a path, a device name, a long name, control characters, and two
    // names that make the same folder name.
    let hostile = [
        "../escape",
        "con",
        &"x".repeat(256),
        "tab\there\u{202e}",
        "team a",
        "team/a",
    ];
    for (i, user) in inv["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
        .take(hostile.len())
    {
        let tags = user["tags"].as_array_mut().unwrap();
        tags.retain(|t| t["key"] != "team");
        tags.insert(0, json!({"key": "team", "value": hostile[i]}));
    }
    let file = dir.path().join("inventory.json");
    std::fs::write(&file, inv.to_string()).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| audit_with(&policy(dir.path()), &file, &out, extra);
    let output = run(&["--split-by-owner"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    assert!(
        support::stdout(&output).contains("by owner: "),
        "{}",
        support::stdout(&output)
    );
    assert!(!dir.path().join("escape").exists() && !dir.path().join("by-owner").exists());

    for file in ["findings.csv", "keys.csv"] {
        let (mut union, folders) = owner_rows(&out, file);
        let mut whole = data_rows(&out.join(file));
        whole.sort();
        union.sort();
        assert_eq!(
            union, whole,
            "{file}: every row in exactly one owner's file"
        );
        for f in &folders {
            assert!(
                f.len() <= 64 + 9
                    && !f.starts_with('.')
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{f}"
            );
        }
        assert!(folders.contains(&"_con".to_string()), "{folders:?}");
        assert_eq!(
            folders.iter().filter(|f| f.starts_with("team_a-")).count(),
            2,
            "colliding names get a hash: {folders:?}"
        );
    }

    // The next run, without the split's owners (no owner tags), empties the old folders.
    std::fs::write(
        policy(dir.path()),
        "[report]\nowner-tags = []\nowner-fallback = \"nobody\"\n",
    )
    .unwrap();
    let output = audit_with(
        &dir.path().join("policy.toml"),
        &file,
        &out,
        &["--split-by-owner"],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    let (_, folders) = owner_rows(&out, "findings.csv");
    assert_eq!(folders, ["nobody"], "the previous owners' folders are gone");

    // Without csv among the formats it is a usage error, before anything is written.
    let output = run(&["--split-by-owner", "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(support::stderr(&output).contains("add csv or xlsx to --format"));
}

#[test]
fn an_organizations_rows_are_split_across_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tagged_org(dir.path());
    let out = dir.path().join("out");
    let output = audit_with(&policy(dir.path()), &saved, &out, &["--split-by-owner"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    for file in ["findings.csv", "keys.csv"] {
        let (union, _) = owner_rows(&out, file);
        let mut whole = data_rows(&out.join(file));
        whole.sort();
        assert_eq!(union, whole, "{file}");
    }
}
