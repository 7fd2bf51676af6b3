//! `summary.md`: the run in at most [`MAX_LINES`] lines of Markdown, for a CI job's summary
//! page (`--summary-to "$GITHUB_STEP_SUMMARY"`) or a merge request comment.
//!
//! It says, in order: the verdict and what the exit code means, the open findings by
//! severity, the changes since the baseline, the worst ten new findings with their user and
//! key, the coverage gaps, and where the full report is. Every string that comes from AWS
//! or from a saved file is escaped ([`text`]): it renders as the same text, and can never
//! become a link, an image, HTML, a heading, a table cell of its own or an @mention.
//!
//! The writers feed a [`Digest`] one account at a time (bounded: the worst ten new
//! findings and the first gaps), and render it with the run's figures at the end.

use std::cmp::Ordering;
use std::io::{self, Write};

use crate::findings::{EvaluatedFinding, Severity, Status, Totals};

use super::model::{GapView, TrackingView, page_order};

/// The summary's hard limit, in lines.
pub const MAX_LINES: usize = 60;
/// New findings listed.
const WORST: usize = 10;
/// Gaps listed (the rest are counted).
const GAPS: usize = 8;
/// The longest value shown in a cell, in characters.
const CELL: usize = 64;

/// One new finding of the summary's table.
#[derive(Clone, Debug)]
struct Row {
    finding: crate::findings::Finding,
}

/// What the summary keeps of the accounts handed over: bounded, whatever the run's size.
#[derive(Debug, Default)]
pub struct Digest {
    worst: Vec<Row>,
    new_open: usize,
    gaps: Vec<String>,
    gaps_total: usize,
}

impl Digest {
    /// One account's open findings and coverage gaps.
    pub fn add<'a>(
        &mut self,
        open: impl IntoIterator<Item = &'a EvaluatedFinding>,
        gaps: &[GapView],
        account: Option<&str>,
    ) {
        for ef in open {
            if ef.suppressed.is_some() || ef.tracking.status != Status::New {
                continue;
            }
            self.new_open += 1;
            self.worst.push(Row {
                finding: ef.finding.clone(),
            });
            if self.worst.len() > WORST * 4 {
                self.trim();
            }
        }
        for g in gaps {
            self.gaps_total += 1;
            if self.gaps.len() < GAPS {
                let whose = account
                    .map(|a| format!("account {a}: "))
                    .unwrap_or_default();
                self.gaps.push(format!(
                    "{whose}{}: {} failed with {}: {}",
                    text(&g.scope),
                    text(&g.operation),
                    text(&g.error_code),
                    text(&g.impact)
                ));
            }
        }
    }

    /// An account that was not audited at all: a gap of its own.
    pub fn unreachable(&mut self, account: &str, operation: &str, code: &str) {
        self.gaps_total += 1;
        if self.gaps.len() < GAPS {
            self.gaps.push(format!(
                "account {}: not audited: {} failed with {}",
                text(account),
                text(operation),
                text(code)
            ));
        }
    }

    fn trim(&mut self) {
        self.worst.sort_by(|a, b| order(&a.finding, &b.finding));
        self.worst.truncate(WORST);
    }
}

/// Worst first: severity, then the figure the rule judges, then the account, user and key.
fn order(a: &crate::findings::Finding, b: &crate::findings::Finding) -> Ordering {
    page_order(a, b).then_with(|| a.account_id.cmp(&b.account_id))
}

/// What the summary says about the run as a whole.
pub struct Run<'a> {
    /// What was audited: `account 123456789012 (prod)`, `organization o-… (n accounts)`.
    pub audited: &'a str,
    pub as_of: &'a str,
    pub totals: &'a Totals,
    pub fail_on: Option<Severity>,
    pub fail_on_new: bool,
    pub tracking: &'a TrackingView,
    /// An organization run lists accounts: the column and the accounts line.
    pub organization: bool,
    /// The files of the report set, beside this one.
    pub files: &'a [&'a str],
}

/// Writes `summary.md`.
pub fn write(run: &Run<'_>, mut digest: Digest, out: &mut dyn Write) -> io::Result<()> {
    digest.trim();
    for line in lines(run, &digest) {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The summary's lines, at most [`MAX_LINES`].
fn lines(run: &Run<'_>, digest: &Digest) -> Vec<String> {
    let t = run.totals;
    let complete = t.complete();
    let fails = t.reach(run.fail_on, run.fail_on_new);
    let threshold = run
        .fail_on
        .map_or("none".to_string(), |s| s.as_str().to_string());
    let mut l = vec![
        format!("## keyhygiene: {}", text(run.audited)),
        String::new(),
    ];
    let (icon, verdict) = if !complete {
        (
            "⚠️",
            "**Exit 3: coverage is incomplete.** Some accounts, users or keys could not be read; the findings below are not the whole picture, and the gaps say what is missing.".to_string(),
        )
    } else if fails {
        let what = if run.fail_on_new {
            "new or worse findings"
        } else {
            "open findings"
        };
        (
            "❌",
            format!("**Exit 1: {what} at or above `{threshold}`.** Act on the findings below."),
        )
    } else if run.fail_on.is_none() {
        (
            "ℹ️",
            "**Exit 0: `--fail-on none`:** findings never fail this run; read them below."
                .to_string(),
        )
    } else {
        (
            "✅",
            format!(
                "**Exit 0: nothing at or above `{threshold}`{}.**",
                if run.fail_on_new { " is new" } else { "" }
            ),
        )
    };
    l.push(format!("{icon} {verdict} As of {}.", run.as_of));
    l.push(String::new());
    if run.organization {
        l.push(format!(
            "Accounts: {} selected, {} audited, {} not audited, {} not assessed; {} users, {} keys.",
            t.selected,
            t.audited,
            t.unreachable,
            t.not_assessed,
            t.users(),
            t.keys()
        ));
    } else {
        l.push(format!("{} users, {} keys.", t.users(), t.keys()));
    }
    l.push(String::new());
    let f = &t.figures;
    l.push("| severity | open | suppressed |".into());
    l.push("|---|---:|---:|".into());
    for s in Severity::ALL.iter() {
        l.push(format!(
            "| {} | {} | {} |",
            s.as_str(),
            f.open.get(*s),
            f.suppressed.get(*s)
        ));
    }
    l.push(format!(
        "| **all** | **{}** | {} |",
        f.open.total(),
        f.suppressed.total()
    ));
    l.push(String::new());
    match &run.tracking.comparison {
        Some(_) => {
            let c = &run.tracking.changes;
            l.push(format!(
                "**Since the baseline:** {} new, {} updated, {} resolved, {} unchanged, {} not assessed.",
                c.new, c.updated, c.resolved, c.unchanged, c.not_assessed
            ));
        }
        None => l.push(
            "**No baseline:** every finding is new (add `--history` or `--baseline` to see what changed)."
                .into(),
        ),
    }
    l.push(String::new());
    if digest.worst.is_empty() {
        l.push("No new open findings.".into());
    } else {
        let shown = digest.worst.len();
        l.push(format!(
            "### Worst new findings ({shown} of {})",
            digest.new_open
        ));
        l.push(String::new());
        if run.organization {
            l.push("| severity | rule | account | user | key | |".into());
            l.push("|---|---|---|---|---|---|".into());
        } else {
            l.push("| severity | rule | user | key | |".into());
            l.push("|---|---|---|---|---|".into());
        }
        for row in &digest.worst {
            let f = &row.finding;
            let account = f
                .account_id
                .as_ref()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default();
            let key = f.access_key_id.as_deref().map(text).unwrap_or_default();
            let cells = [
                f.severity.as_str().to_string(),
                format!("`{}`", f.rule_id),
                account,
                text(&f.user_name),
                if key.is_empty() { "-".into() } else { key },
                figure(f),
            ];
            let cells: Vec<&str> = cells
                .iter()
                .enumerate()
                .filter(|(i, _)| run.organization || *i != 2)
                .map(|(_, c)| c.as_str())
                .collect();
            l.push(format!("| {} |", cells.join(" | ")));
        }
    }
    l.push(String::new());
    if digest.gaps_total > 0 {
        l.push(format!("### Coverage gaps ({})", digest.gaps_total));
        l.push(String::new());
        for g in &digest.gaps {
            l.push(format!("- {g}"));
        }
        if digest.gaps_total > digest.gaps.len() {
            l.push(format!(
                "- … and {} more (see the report)",
                digest.gaps_total - digest.gaps.len()
            ));
        }
        l.push(String::new());
    }
    let files: Vec<String> = run.files.iter().map(|f| format!("`{f}`")).collect();
    l.push(format!(
        "The full report: {} in the same report set.",
        files.join(", ")
    ));
    if l.len() > MAX_LINES {
        l.truncate(MAX_LINES - 1);
        l.push("… (cut at 60 lines: see the full report)".into());
    }
    l
}

/// The figure the finding's rule judges, in words.
fn figure(f: &crate::findings::Finding) -> String {
    match (f.rule_id.as_str(), f.days_since_last_use, f.key_age_days) {
        ("key-unused" | "key-inactive-not-deleted", Some(d), _) => format!("unused {d} days"),
        (_, _, Some(age)) => format!("{age} days old"),
        _ => String::new(),
    }
}

/// The characters that can start Markdown syntax inside a line: emphasis, code, links and
/// images, HTML and entities, table cells, strikethrough, math, footnotes. (`#`, `-`, `+`,
/// `.` and `>` only matter at the start of a line, where no value is ever written; they are
/// escaped anyway where they could pair up.)
const SPECIAL: &str = "\\`*_[]()<>!#|~&{}$^";

/// A value from AWS or a saved file, as Markdown text: the characters that could start
/// Markdown syntax backslash-escaped (no emphasis, link, image, HTML, code or table cell can
/// start), control and bidirectional characters shown as escapes, and a zero-width space
/// after `@`, inside `://` and after `www` (GitHub's mentions and autolinks work on the text
/// itself). At most [`CELL`] characters are kept.
pub fn text(value: &str) -> String {
    let value = crate::text::for_terminal(value);
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    let mut count = 0;
    let mut w_run = 0;
    while let Some(c) = chars.next() {
        if count == CELL {
            out.push('…');
            break;
        }
        count += 1;
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
        match c {
            '@' => out.push('\u{200B}'),
            ':' if chars.peek() == Some(&'/') => out.push('\u{200B}'),
            _ => {}
        }
        // "www" (any case) in a row: GitHub would make the rest a link.
        w_run = if matches!(c, 'w' | 'W') { w_run + 1 } else { 0 };
        if w_run == 3 {
            out.push('\u{200B}');
            w_run = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_text() {
        let t = text(
            "[x](https://evil.example/a) ![i](http://e/i.png) <script>@admin www.e.com | # *b*",
        );
        for bad in ["](", "<script>", "@admin", "https://", "www.e", "\n"] {
            assert!(!t.contains(bad), "{bad:?} in {t}");
        }
        assert_eq!(text("x|y"), "x\\|y");
        assert_eq!(text("alice.dubois"), "alice.dubois");
        assert_eq!(text("a_b*c`d"), "a\\_b\\*c\\`d");
        assert_eq!(text(&"x".repeat(100)).chars().count(), CELL + 1);
        assert!(!text("a\nb").contains('\n'));
    }
}
