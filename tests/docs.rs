//! The README and the pages in docs/ checked against what a test can know: every flag they
//! name exists, the read-only API lists are the ones the recorder tests hold the runs to,
//! every relative link leads to a file and every anchor to a heading, and the README's
//! contents list every section. No network is involved.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use support::keyhygiene;

/// Flags the pages name that belong to other commands than `keyhygiene audit` and
/// `keyhygiene init-config`, with the command each comes from. Keep it short: a flag of
/// keyhygiene's own is never listed here.
const OTHER_FLAGS: [(&str, &str); 8] = [
    ("--path", "cargo install --path ."),
    ("--release", "cargo build --release"),
    (
        "--features",
        "cargo's --features iam-proxy, which builds the test proxy",
    ),
    ("--check", "cargo fmt --check, which scripts/test runs"),
    (
        "--weeks",
        "scripts/demo --weeks 3: three weekly runs of the demo",
    ),
    ("--users", "scripts/demo --users N: the demo's size"),
    (
        "--prowler",
        "scripts/bench --prowler: the Prowler comparison",
    ),
    (
        "--org-pages",
        "scripts/bench --org-pages 100: the organization pages' timing",
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pages whose claims are checked: README.md and every page in docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A page cut into what the checks read: the lines of its fenced code blocks, and its prose
/// paragraphs (table rows and headings included), each with the line it starts on.
struct Page {
    code: Vec<(usize, String)>,
    prose: Vec<(usize, String)>,
    /// Each heading's level (the number of `#`) and text.
    headings: Vec<(usize, String)>,
}

fn parse(text: &str) -> Page {
    let mut page = Page {
        code: Vec::new(),
        prose: Vec::new(),
        headings: Vec::new(),
    };
    let mut in_code = false;
    let mut paragraph: Option<(usize, String)> = None;
    let mut pending = String::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim_start().starts_with("```") {
            page.prose.extend(paragraph.take());
            in_code = !in_code;
            continue;
        }
        if in_code {
            // A shell command continued with `\` is one command.
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
            } else {
                pending.push_str(line);
                page.code.push((number, std::mem::take(&mut pending)));
            }
            continue;
        }
        if line.starts_with('#') {
            let text = line.trim_start_matches('#');
            page.headings
                .push((line.len() - text.len(), text.trim().to_string()));
        }
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with('|') {
            page.prose.extend(paragraph.take());
        }
        if line.trim().is_empty() {
            continue;
        }
        match &mut paragraph {
            Some((_, text)) => {
                text.push(' ');
                text.push_str(line.trim());
            }
            None => paragraph = Some((number, line.trim().to_string())),
        }
        if line.starts_with('#') || line.starts_with('|') {
            page.prose.extend(paragraph.take());
        }
    }
    page.prose.extend(paragraph);
    page
}

/// The inline code spans of a prose paragraph, and the text around them.
fn spans(text: &str) -> (Vec<&str>, String) {
    let mut spans = Vec::new();
    let mut rest = String::new();
    for (i, piece) in text.split('`').enumerate() {
        if i % 2 == 1 {
            spans.push(piece);
        } else {
            rest.push_str(piece);
            rest.push(' ');
        }
    }
    (spans, rest)
}

/// Every `--flag` in a piece of text: two dashes not inside a word, then a lowercase letter.
fn flags(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("--").map(|at| at + i) {
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'-');
        let name_end = text[at + 2..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .map_or(text.len(), |n| n + at + 2);
        let name = text[at + 2..name_end].trim_end_matches('-');
        if before_ok && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push(format!("--{name}"));
        }
        i = name_end.max(at + 2);
    }
    out
}

/// A command as the pages write one: the program (after any `NAME=value` settings), the
/// keyhygiene subcommand if it is one, the flags it is given, and the flags named after
/// a `#` comment.
struct Command {
    program: String,
    subcommand: Option<String>,
    flags: Vec<String>,
    comment_flags: Vec<String>,
}

fn command(text: &str) -> Command {
    let (command, comment) = match text.find(" #") {
        Some(at) => (&text[..at], &text[at..]),
        None if text.trim_start().starts_with('#') => ("", text),
        None => (text, ""),
    };
    let mut words = command
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'));
    let program = words.next().unwrap_or_default().to_string();
    let subcommand = (program == "keyhygiene")
        .then(|| words.next().map(str::to_string))
        .flatten();
    Command {
        program,
        subcommand,
        flags: flags(command),
        comment_flags: flags(comment),
    }
}

/// The long options a subcommand's `--help` lists.
fn help_flags(subcommand: &str) -> BTreeSet<String> {
    let out = keyhygiene()
        .args([subcommand, "--help"])
        .output()
        .expect("run keyhygiene");
    assert!(out.status.success(), "keyhygiene {subcommand} --help");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            // `  -q, --quiet   ...` or `      --profile <NAME>   ...`
            let line = line.trim_start();
            let option = match line.split_once(", ") {
                Some((short, long)) if short.len() == 2 && short.starts_with('-') => long,
                _ => line,
            };
            option
                .starts_with("--")
                .then(|| flags(option).into_iter().next())
                .flatten()
        })
        .collect()
}

#[test]
fn every_flag_the_pages_name_exists() {
    let audit = help_flags("audit");
    let init_config = help_flags("init-config");
    assert!(audit.contains("--fail-on") && init_config.contains("--force"));
    let ours: BTreeSet<String> = audit.union(&init_config).cloned().collect();
    let others: BTreeSet<&str> = OTHER_FLAGS.iter().map(|(flag, _)| *flag).collect();
    for (flag, _) in OTHER_FLAGS {
        assert!(
            !ours.contains(flag),
            "{flag} is keyhygiene's own: take it out of OTHER_FLAGS"
        );
    }

    let mut wrong = Vec::new();
    let mut count = 0;
    let mut used = BTreeSet::new();
    for path in pages() {
        let page = parse(&read(&path));
        let mut commands: Vec<(usize, Command)> = Vec::new();
        let mut loose: Vec<(usize, String)> = Vec::new();
        for (line, text) in &page.code {
            commands.push((*line, command(text)));
        }
        for (line, text) in &page.prose {
            let (spans, rest) = spans(text);
            commands.extend(spans.into_iter().map(|s| (*line, command(s))));
            loose.extend(flags(&rest).into_iter().map(|f| (*line, f)));
        }
        for (line, c) in commands {
            // The AWS CLI's own flags (`aws iam update-access-key --status`) are AWS's.
            if c.program == "aws" {
                continue;
            }
            let known = match c.subcommand.as_deref() {
                Some("audit") => Some(&audit),
                Some("init-config") => Some(&init_config),
                _ => None,
            };
            for flag in c.flags {
                count += usize::from(known.is_some());
                match known {
                    Some(known) if !known.contains(&flag) => wrong.push(format!(
                        "{}:{line}: keyhygiene {} has no {flag}",
                        shown(&path),
                        c.subcommand.as_deref().unwrap_or_default()
                    )),
                    Some(_) => {}
                    None => loose.push((line, flag)),
                }
            }
            loose.extend(c.comment_flags.into_iter().map(|f| (line, f)));
        }
        count += loose.len();
        for (line, flag) in loose {
            if !ours.contains(&flag) && others.contains(flag.as_str()) {
                used.insert(flag);
            } else if !ours.contains(&flag) {
                wrong.push(format!(
                    "{}:{line}: {flag} is neither in `keyhygiene audit --help` nor in \
                     `keyhygiene init-config --help` (nor in OTHER_FLAGS)",
                    shown(&path)
                ));
            }
        }
    }
    assert!(
        count > 100,
        "only {count} flags found: is the parser reading the pages?"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let unused: Vec<&&str> = others.iter().filter(|f| !used.contains(**f)).collect();
    assert!(
        unused.is_empty(),
        "OTHER_FLAGS lists {unused:?}, which no page names: take them out"
    );
}

/// The README section `heading` (up to the next heading), as lines.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "README has no {heading:?}");
    lines.take_while(|l| !l.starts_with('#')).collect()
}

/// The first cells' backticked `service:Action` names of each table in `lines`.
fn table_actions(lines: &[&str]) -> Vec<Vec<String>> {
    let mut tables: Vec<Vec<String>> = Vec::new();
    let mut in_table = false;
    for line in lines {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table {
            tables.push(Vec::new());
            in_table = true;
        }
        let first = line.trim_matches('|').split(" | ").next().unwrap();
        let (spans, _) = spans(first);
        tables.last_mut().unwrap().extend(
            spans
                .into_iter()
                .filter(|s| s.contains(':'))
                .map(str::to_string),
        );
    }
    tables
}

/// Every `"service:Action"` string that a JSON policy in `text` grants.
fn policy_actions(text: &str) -> BTreeSet<String> {
    let page = parse(text);
    page.code
        .iter()
        .flat_map(|(_, line)| line.split('"'))
        .filter(|s| {
            s.split_once(':').is_some_and(|(service, action)| {
                ["iam", "sts", "organizations"].contains(&service)
                    && action.starts_with(|c: char| c.is_ascii_uppercase())
            })
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_api_lists_are_the_recorded_ones() {
    let readme = read(&root().join("README.md"));
    let tables = table_actions(&section(&readme, "### What it calls"));
    assert_eq!(
        tables.len(),
        2,
        "\"What it calls\" has two tables: a single-account run's actions, then what an \
         organization run adds"
    );
    let names = |table: &[String]| -> BTreeSet<String> {
        table
            .iter()
            .map(|a| a.split_once(':').unwrap().1.to_string())
            .collect()
    };
    let recorded =
        |list: &[&str]| -> BTreeSet<String> { list.iter().map(|a| a.to_string()).collect() };
    assert_eq!(
        names(&tables[0]),
        recorded(&support::apis::ACCOUNT_APIS),
        "README's single-account list against tests/support/apis.rs"
    );
    assert_eq!(
        names(&tables[1]),
        recorded(&support::apis::ORGANIZATION_APIS),
        "README's organization list against tests/support/apis.rs"
    );

    // The single-account policy grants exactly the single-account list, and no policy in
    // the pages grants an action outside the two lists.
    let account: BTreeSet<String> = tables[0].iter().cloned().collect();
    let every: BTreeSet<String> = tables.concat().into_iter().collect();
    let permissions = section(&readme, "## Permissions").join("\n");
    assert_eq!(
        policy_actions(&permissions),
        account,
        "the policy of README's Permissions"
    );
    for path in pages() {
        let granted = policy_actions(&read(&path));
        let extra: Vec<&String> = granted.difference(&every).collect();
        assert!(
            extra.is_empty(),
            "{} grants {extra:?}, which no run sends",
            shown(&path)
        );
    }
}

/// GitHub's anchor of a heading: lowercase, spaces to `-`, punctuation other than `-` and
/// `_` dropped.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings; a repeated heading gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    parse(text)
        .headings
        .iter()
        .map(|(_, h)| {
            let base = slug(h);
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            match *n {
                1 => base,
                n => format!("{base}-{}", n - 1),
            }
        })
        .collect()
}

/// The targets of the Markdown links (and images) in a piece of prose.
fn link_targets(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    // deploy/README.md links into the README: its links are checked too.
    let mut checked = pages();
    checked.push(root().join("deploy/README.md"));
    let mut broken = Vec::new();
    let mut count = 0;
    for path in checked {
        let page = parse(&read(&path));
        for (line, text) in &page.prose {
            let (_, outside_code) = spans(text);
            for target in link_targets(&outside_code) {
                if target.starts_with("http://")
                    || target.starts_with("https://")
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                count += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let resolved = if file.is_empty() {
                    path.clone()
                } else {
                    path.parent().unwrap().join(file)
                };
                let place = format!("{}:{line}: {target}", shown(&path));
                if !resolved.exists() {
                    broken.push(format!("{place}: no such file"));
                    continue;
                }
                if anchor.is_empty() {
                    continue;
                }
                if resolved.extension().is_none_or(|e| e != "md") {
                    broken.push(format!(
                        "{place}: an anchor into a file that is not Markdown"
                    ));
                } else if !anchors(&read(&resolved)).contains(anchor) {
                    broken.push(format!(
                        "{place}: {} has no heading with the anchor #{anchor}",
                        shown(&resolved)
                    ));
                }
            }
        }
    }
    assert!(
        count > 50,
        "only {count} links found: is the parser reading the pages?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_contents_list_every_section() {
    let readme = read(&root().join("README.md"));
    let contents = section(&readme, "## Contents").join("\n");
    let listed: BTreeSet<&str> = link_targets(&contents).into_iter().collect();
    let missing: Vec<String> = parse(&readme)
        .headings
        .iter()
        .filter(|(level, h)| *level == 2 && !["Contents", "License"].contains(&h.as_str()))
        .map(|(_, h)| format!("#{}", slug(h)))
        .filter(|anchor| !listed.contains(anchor.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README's contents leave out {missing:?}"
    );
}
