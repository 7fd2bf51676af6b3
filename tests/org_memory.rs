//! An organization run's memory is bounded by the accounts in flight, not by the number of
//! accounts: each account is read, evaluated and written (page staged, rows spilled)
//! before the next one is read. Counted by a global allocator (this test binary's own),
//! not timed: the heap's high-water mark for 16 accounts stays close to the one for 4.

mod support;

use std::path::Path;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: support::counting::Counting = support::counting::Counting;

const FIXTURE: &str = "tests/fixtures/demo-inventory-v1.json";
const FIXTURE_ACCOUNT: &str = "123456789012";
/// The findings of the fixture's account.
const FINDINGS_PER_ACCOUNT: usize = 257;

/// `n` accounts, each the demo account's saved inventory (302 users, 313 keys, 257
/// findings) under its own id.
fn saved_accounts(dir: &Path, n: usize) {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let id = format!("{:012}", 200_000_000_000u64 + i as u64);
        std::fs::write(
            dir.join(format!("account-{id}.json")),
            text.replace(FIXTURE_ACCOUNT, &id),
        )
        .unwrap();
    }
}

/// The heap's high-water mark, above what was live before, of one organization audit of
/// the saved accounts in `dir` with every report format.
fn peak_of_audit(dir: &Path, out: &Path, extra: &[&str]) -> usize {
    let mut args = vec![
        "keyhygiene",
        "audit",
        "--from-inventory",
        dir.to_str().unwrap(),
        "--as-of",
        "2026-11-23T09:00:00Z",
        "--out-dir",
        out.to_str().unwrap(),
        "--fail-on",
        "none",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let cli = keyhygiene::cli::Cli::parse_from(args);
    let before = support::counting::start();
    let code = keyhygiene::app::run(cli);
    assert_eq!(code, 0, "the audit of {} failed", dir.display());
    support::counting::peak_since(before)
}

#[test]
fn an_organization_four_times_larger_takes_about_the_same_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (small, large) = (tmp.path().join("small"), tmp.path().join("large"));
    saved_accounts(&small, 4);
    saved_accounts(&large, 16);
    let history = tmp.path().join("history");
    for (what, extra) in [
        ("plain", Vec::new()),
        (
            "with --history",
            vec!["--history", history.to_str().unwrap()],
        ),
    ] {
        let small_peak = peak_of_audit(&small, &tmp.path().join("out-small"), &extra);
        let large_peak = peak_of_audit(&large, &tmp.path().join("out-large"), &extra);
        let ratio = large_peak as f64 / small_peak as f64;
        eprintln!(
            "{what}: peak heap {:.3} MiB for 4 accounts, {:.3} MiB for 16 ({ratio:.2}x)",
            small_peak as f64 / 1048576.0,
            large_peak as f64 / 1048576.0
        );
        // Holding every account (as before) made it about 3.5x; one account at a time
        // leaves the overview's rows and, with a history, each finding's short record:
        // 12 accounts more may add those records, at most 512 bytes for each of their
        // findings, and nothing else.
        if extra.is_empty() {
            assert!(
                ratio < 1.15,
                "{what}: 16 accounts took {ratio:.2}x the memory of 4 (at most 1.15x expected)"
            );
        } else {
            let growth = large_peak.saturating_sub(small_peak);
            let per_finding = growth as f64 / (12 * FINDINGS_PER_ACCOUNT) as f64;
            assert!(
                per_finding <= 512.0,
                "{what}: 12 accounts more took {growth} bytes more, {per_finding:.0} per finding (at most 512 expected)"
            );
        }
    }
    let written = std::fs::read_dir(tmp.path().join("out-large"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(written, 16 + 4, "16 account pages and the four files");
}
