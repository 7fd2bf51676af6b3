//! summary.md (`--format md`) and `--summary-to`, read by an independent CommonMark
//! renderer (markdown-it-py, with GitHub's tables and autolinks, from the project's
//! virtualenv): its sections, its 60-line limit, and no link, image, HTML or @mention from
//! hostile names, in a single account's run and an organization's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const AS_OF: &str = "2026-11-23T08:00:00Z";

/// Names a hostile user could have (IAM allows `@` and `.`; a saved file allows anything).
const HOSTILE: [&str; 7] = [
    "[pwn](https://evil.example/x)",
    "![i](http://evil.example/i.png)",
    "<img src=x onerror=alert(1)>",
    "@octocat",
    "www.evil.example",
    "x|y",
    "ops@evil.example",
];

/// The sample inventory with every user renamed to a hostile name, as `account`.
fn hostile_inventory(account: &str) -> Value {
    let mut inv = support::saved::sample_as(account);
    for (i, user) in inv["users"].as_array_mut().unwrap().iter_mut().enumerate() {
        let name = format!("{}{i}", HOSTILE[i % HOSTILE.len()]);
        user["arn"] = Value::String(format!("arn:aws:iam::{account}:user/{name}"));
        user["name"] = Value::String(name);
    }
    inv
}

fn audit(args: &[&str], out: &Path) -> std::process::Output {
    support::keyhygiene()
        .args([
            "audit",
            "--as-of",
            AS_OF,
            "--fail-on",
            "medium",
            "--out-dir",
        ])
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

/// The summary rendered to HTML by markdown-it-py (CommonMark, tables, linkify).
fn render(markdown: &Path) -> String {
    let out = Command::new(support::venv_python())
        .args([
            "-c",
            "import sys\n\
             from markdown_it import MarkdownIt\n\
             md = MarkdownIt('commonmark', {'linkify': True, 'html': True}).enable(['table', 'linkify'])\n\
             sys.stdout.write(md.render(open(sys.argv[1], encoding='utf-8').read()))",
        ])
        .arg(markdown)
        .output()
        .expect("run the project's python (scripts/setup installs markdown-it-py)");
    assert!(
        out.status.success(),
        "markdown-it-py: {} (scripts/setup installs it)",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The checks every summary passes.
fn check(summary: &Path) -> (String, String) {
    let text = std::fs::read_to_string(summary).unwrap();
    assert!(
        text.lines().count() <= 60,
        "{} lines:\n{text}",
        text.lines().count()
    );
    let html = render(summary);
    for bad in ["<a ", "<img", "<script", "<strong>pwn", "<b>"] {
        assert!(
            !html.contains(bad),
            "{bad:?} in the rendered summary:\n{html}"
        );
    }
    // No @mention: an @ is never followed by a letter in the rendered text.
    assert!(
        !html
            .char_indices()
            .any(|(i, c)| c == '@' && html[i + 1..].starts_with(|n: char| n.is_alphanumeric())),
        "{html}"
    );
    for section in [
        "<h2>keyhygiene: ",
        "Exit ",
        "<th>severity</th>",
        "Worst new findings",
        "The full report",
    ] {
        assert!(html.contains(section), "{section:?} missing:\n{html}");
    }
    // The hostile names are there, as text.
    assert!(html.contains("octocat"), "{html}");
    (text, html)
}

#[test]
fn a_single_accounts_summary_is_short_and_inert() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.json");
    std::fs::write(&inventory, hostile_inventory("123456789012").to_string()).unwrap();
    let out = dir.path().join("out");
    // Without md, no summary.md.
    let output = audit(&["--from-inventory", inventory.to_str().unwrap()], &out);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::stderr(&output)
    );
    assert!(!out.join("summary.md").exists());

    let summary_file = dir.path().join("step-summary.md");
    std::fs::write(&summary_file, "# earlier step\n").unwrap();
    let output = audit(
        &[
            "--from-inventory",
            inventory.to_str().unwrap(),
            "--format",
            "html,csv,json,md",
            "--summary-to",
            summary_file.to_str().unwrap(),
        ],
        &out,
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::stderr(&output)
    );
    let (text, html) = check(&out.join("summary.md"));
    assert!(
        text.contains("**Exit 1: open findings at or above `medium`.**"),
        "{text}"
    );
    assert!(html.contains("Worst new findings (10 of "), "{html}");
    assert!(
        text.contains("`report.html`, `findings.csv`, `keys.csv`, `report.json`"),
        "{text}"
    );
    // --summary-to appended the same text after what the file held.
    let appended = std::fs::read_to_string(&summary_file).unwrap();
    assert_eq!(appended, format!("# earlier step\n{text}"));

    // A link or a FIFO is refused before anything is read, and nothing is written.
    let link = dir.path().join("link.md");
    std::os::unix::fs::symlink(&summary_file, &link).unwrap();
    let fifo = dir.path().join("fifo.md");
    support::make_fifo(&fifo);
    for bad in [&link, &fifo] {
        let out2 = dir.path().join("out2");
        let output = audit(
            &[
                "--from-inventory",
                inventory.to_str().unwrap(),
                "--summary-to",
                bad.to_str().unwrap(),
            ],
            &out2,
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}",
            support::stderr(&output)
        );
        assert!(
            support::stderr(&output).contains("cannot append the summary"),
            "{}",
            support::stderr(&output)
        );
        assert!(!out2.join("report.html").exists());
    }
    assert_eq!(std::fs::read_to_string(&summary_file).unwrap(), appended);
}

#[test]
fn an_organizations_summary_names_accounts_and_stays_within_60_lines() {
    let dir = tempfile::tempdir().unwrap();
    let saved: PathBuf = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    // 12 accounts, each with the hostile users, and gaps: more than the summary can list.
    for i in 0..12 {
        let account = format!("{:012}", 200000000000u64 + i);
        let mut inv = hostile_inventory(&account);
        inv["gaps"] = serde_json::json!([{
            "user": "@octocat0",
            "access_key_id": null,
            "operation": "ListAccessKeys",
            "error_code": "AccessDenied",
            "impact": "denied [x](https://evil.example) <b>bold</b>"
        }]);
        std::fs::write(
            saved.join(format!("account-{account}.json")),
            inv.to_string(),
        )
        .unwrap();
    }
    let out = dir.path().join("out");
    let output = audit(
        &[
            "--from-inventory",
            saved.to_str().unwrap(),
            "--format",
            "md,json",
        ],
        &out,
    );
    let (text, html) = check(&out.join("summary.md"));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let complete = doc["coverage"]["complete"].as_bool().unwrap_or(false);
    if complete {
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            support::stderr(&output)
        );
    } else {
        assert_eq!(
            output.status.code(),
            Some(3),
            "{}",
            support::stderr(&output)
        );
        assert!(
            text.contains("**Exit 3: coverage is incomplete.**"),
            "{text}"
        );
        assert!(html.contains("Coverage gaps ("), "{html}");
        assert!(text.contains("more (see the report)"), "{text}");
    }
    assert!(html.contains("<th>account</th>"), "{html}");
    assert!(text.contains("Accounts: 12 selected, 12 audited"), "{text}");
    assert!(
        !out.join("report.html").exists(),
        "only the formats asked for"
    );
}
