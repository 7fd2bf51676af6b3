//! Findings as the reports show them: grouped by rule, within the page's limits, with their remediation split into commands and steps.

use super::*;

#[derive(Clone, Debug)]
pub struct RuleGroup<'a> {
    pub rule_id: &'a str,
    /// What the rule checks, in one line; empty for a rule this version does not know.
    pub summary: String,
    pub anchor: String,
    pub severity: Severity,
    pub compliance: String,
    /// Every open finding of the rule, in the page's order ([`page_order`]): worst first,
    /// then the figure the rule judges, largest first, then by user and key.
    pub findings: Vec<&'a EvaluatedFinding>,
    pub total: usize,
    /// How many of them the HTML page holds: the rule's share of [`FINDINGS_IN_PAGE`].
    pub in_page: usize,
    /// The count in words, per severity when the rule's findings differ in severity:
    /// "3 findings", or "27 findings: 20 medium, 7 low".
    pub count_label: String,
}

/// Inventory rows the HTML shows at once; the page offers to show the rest of its rows.
pub const KEY_ROWS_SHOWN: usize = 500;

/// Inventory rows the HTML page holds at most, worst first; `keys.csv` lists every key.
///
/// Above the largest account IAM allows by default (5,000 users with two keys each, and
/// the root user's two), so an ordinary account's page lists every key; the 5,000-user,
/// 10,004-key benchmark account filters in 3 ms in Chromium. A page of 100,000 rows is
/// hundreds of megabytes that a browser opens slowly, if at all.
pub const KEY_ROWS_IN_PAGE: usize = 15_000;

/// Findings shown per rule before the rest are folded away in the HTML.
pub const FINDINGS_SHOWN_PER_RULE: usize = 25;

/// Open findings the HTML page holds at most; `findings.csv` and `report.json` list every
/// finding. Beyond it, each rule gets an equal share of the page, worst findings first (a
/// rule with fewer findings than its share leaves the rest to the others), so every rule
/// stays represented.
///
/// An ordinary account's page lists every finding: the 5,000-user, 10,004-key benchmark
/// account has 10,947. A finding card weighs about 1.2 KB of HTML, so the findings of any
/// account fit in about 25 MB of page.
pub const FINDINGS_IN_PAGE: usize = 20_000;

/// Suppressed findings the HTML page lists at most (a suppression may match every user).
pub const SUPPRESSED_IN_PAGE: usize = 5_000;

impl<'a> RuleGroup<'a> {
    /// The first findings, always shown.
    pub fn shown(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        let end = self.in_page.min(FINDINGS_SHOWN_PER_RULE);
        self.findings[..end].iter().map(|ef| finding_view(ef))
    }

    /// How many findings the page folds behind a "show more" toggle.
    pub fn folded_count(&self) -> usize {
        self.in_page.saturating_sub(FINDINGS_SHOWN_PER_RULE)
    }

    /// The findings folded behind the toggle.
    pub fn folded(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        let start = self.in_page.min(FINDINGS_SHOWN_PER_RULE);
        self.findings[start..self.in_page]
            .iter()
            .map(|ef| finding_view(ef))
    }

    /// Findings of the rule that are not in the HTML page.
    pub fn not_in_page(&self) -> usize {
        self.findings.len() - self.in_page
    }
}

/// One finding as the reports show it: the finding itself (its fields read through
/// `Deref`, e.g. `view.message`) and what the reports derive from it.
#[derive(Clone, Debug)]
pub struct FindingView<'a> {
    pub finding: &'a Finding,
    pub suppression: Option<SuppressionView>,
    // Display strings.
    /// The key's id or "access key N"; empty for user- and account-level findings.
    pub key_label: &'a str,
    pub facts: Vec<String>,
    pub compliance_label: String,
    /// Remediation lines that form a shell script (AWS CLI commands and `#` comments), in
    /// order, to copy as one block.
    pub commands: Vec<CommandLine<'a>>,
    /// Remediation lines that are instructions (console steps), in order.
    pub steps: Vec<&'a str>,
    /// The steps carry their own numbers; the HTML lists them without adding any.
    pub steps_numbered: bool,
    /// `new`, `unchanged` or `updated`.
    pub status: &'static str,
    /// "new", "updated: was medium", or empty for an unchanged finding.
    pub status_label: String,
    /// "open since 2026-05-01" for a finding an earlier run already had.
    pub since_label: Option<String>,
    /// "no longer suppressed" or "suppressed since the baseline".
    pub suppression_change: Option<&'static str>,
}

impl std::ops::Deref for FindingView<'_> {
    type Target = Finding;

    fn deref(&self) -> &Finding {
        self.finding
    }
}

#[derive(Clone, Debug)]
pub struct CommandLine<'a> {
    pub text: &'a str,
    /// A `#` comment explaining the next command.
    pub comment: bool,
}

#[derive(Clone, Debug)]
pub struct SuppressionView {
    pub reason: String,
    pub expires: Option<NaiveDate>,
    pub expires_label: String,
}

#[derive(Clone, Debug)]
pub struct NoticeView {
    pub rule: String,
    pub user: String,
    pub access_key_id: Option<String>,
    /// The account the entry is limited to, if any.
    pub account: Option<String>,
    /// The finding id the entry is limited to, if any.
    pub finding_id: Option<String>,
    pub key_label: String,
    pub reason: String,
    pub expires: Option<NaiveDate>,
    pub expires_label: String,
    pub location: String,
}

/// Whether instructions carry their own numbers ("1. …"), so the HTML should not add any.
pub(super) fn steps_are_numbered(steps: &[&str]) -> bool {
    steps.iter().any(|s| {
        let digits = s.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && s[digits..].starts_with(". ")
    })
}

/// Splits remediation lines into a shell script (AWS CLI commands with their `#` comments)
/// and instructions for a person (console steps). A list without any AWS CLI command is all
/// instructions.
pub(super) fn split_remediation(lines: &[String]) -> (Vec<CommandLine<'_>>, Vec<&str>) {
    let is_cli = |l: &str| l.starts_with("aws ");
    if !lines.iter().any(|l| is_cli(l)) {
        // Instructions written as shell comments read better without the `#`.
        let steps = lines
            .iter()
            .map(|l| l.strip_prefix('#').map_or(l.as_str(), str::trim_start))
            .filter(|l| !l.is_empty())
            .collect();
        return (Vec::new(), steps);
    }
    let mut commands = Vec::new();
    let mut steps = Vec::new();
    for line in lines {
        if is_cli(line) {
            commands.push(CommandLine {
                text: line,
                comment: false,
            });
        } else if line.starts_with('#') {
            commands.push(CommandLine {
                text: line,
                comment: true,
            });
        } else {
            steps.push(line.as_str());
        }
    }
    (commands, steps)
}

pub(super) fn suppression_view(s: &crate::findings::AppliedSuppression) -> SuppressionView {
    SuppressionView {
        reason: s.reason.clone(),
        expires: s.expires,
        expires_label: expires_label(s.expires),
    }
}

pub(super) fn expires_label(expires: Option<NaiveDate>) -> String {
    expires.map_or_else(
        || "no expiry".to_string(),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

pub(super) fn finding_view(ef: &EvaluatedFinding) -> FindingView<'_> {
    let f: &Finding = &ef.finding;
    let mut facts = Vec::new();
    if let Some(status) = f.key_status {
        facts.push(status.as_str().to_string());
    }
    if let Some(age) = f.key_age_days {
        facts.push(format!("created {} ago", days(age)));
    }
    match (f.last_used_date, f.days_since_last_use) {
        (Some(date), Some(n)) => facts.push(format!(
            "last used {} ({})",
            display_date(date),
            if n == 0 {
                "today".to_string()
            } else {
                format!("{} ago", days(n))
            }
        )),
        (Some(date), None) => facts.push(format!("last used {}", display_date(date))),
        (None, Some(n)) => facts.push(format!("unused for {}", days(n))),
        (None, None) => {}
    }
    let service: Vec<&str> = [&f.last_used_service, &f.last_used_region]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !service.is_empty() {
        facts.push(service.join(", "));
    }
    let (commands, steps) = split_remediation(&f.remediation);
    FindingView {
        finding: f,
        suppression: ef.suppressed.as_ref().map(suppression_view),
        key_label: f.access_key_id.as_deref().unwrap_or_default(),
        facts,
        compliance_label: f.compliance.join(", "),
        commands,
        steps_numbered: steps_are_numbered(&steps),
        steps,
        status: ef.tracking.status.as_str(),
        status_label: status_label(ef),
        since_label: ef
            .tracking
            .first_seen
            .map(|d| format!("open since {}", d.format("%Y-%m-%d"))),
        suppression_change: ef.tracking.suppression_change.map(|c| c.label()),
    }
}

/// Anchors are built from rule ids (kebab-case); anything else is replaced, so the id is
/// always a valid fragment.
pub(super) fn anchor(rule_id: &str) -> String {
    let clean: String = rule_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("rule-{clean}")
}

pub(super) fn rule_summary(rule_id: &str) -> String {
    crate::rules::find(rule_id)
        .map(|r| r.info().summary.to_string())
        .unwrap_or_default()
}

pub(super) fn merge_compliance(findings: &[&Finding]) -> String {
    let mut refs: Vec<&str> = Vec::new();
    for f in findings {
        for c in &f.compliance {
            if !refs.contains(&c.as_str()) {
                refs.push(c);
            }
        }
    }
    refs.join(", ")
}

/// Open findings grouped by rule (worst rule first), all open findings and the suppressed
/// ones, each list in report order whatever order the findings arrived in.
type FindingLists<'a> = (
    Vec<RuleGroup<'a>>,
    Vec<&'a EvaluatedFinding>,
    Vec<&'a EvaluatedFinding>,
);

pub(super) fn finding_groups(findings: &[EvaluatedFinding]) -> FindingLists<'_> {
    let (mut open, mut suppressed): (Vec<&EvaluatedFinding>, Vec<&EvaluatedFinding>) =
        findings.iter().partition(|f| f.suppressed.is_none());
    open.sort_by(|a, b| a.finding.report_order(&b.finding));
    suppressed.sort_by(|a, b| a.finding.report_order(&b.finding));
    let mut by_rule: BTreeMap<&str, Vec<&EvaluatedFinding>> = BTreeMap::new();
    for ef in &open {
        by_rule.entry(&ef.finding.rule_id).or_default().push(ef);
    }
    let mut groups: Vec<RuleGroup> = by_rule
        .into_iter()
        .map(|(rule_id, mut list)| {
            list.sort_by(|a, b| page_order(&a.finding, &b.finding));
            let plain: Vec<&Finding> = list.iter().map(|f| &f.finding).collect();
            RuleGroup {
                rule_id,
                summary: rule_summary(rule_id),
                anchor: anchor(rule_id),
                severity: plain
                    .iter()
                    .map(|f| f.severity)
                    .max()
                    .unwrap_or(Severity::Low),
                compliance: merge_compliance(&plain),
                total: list.len(),
                in_page: list.len(),
                count_label: group_count_label(&plain),
                findings: list,
            }
        })
        .collect();
    groups.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(b.rule_id)));
    let totals: Vec<usize> = groups.iter().map(|g| g.total).collect();
    for (group, in_page) in groups
        .iter_mut()
        .zip(page_shares(&totals, FINDINGS_IN_PAGE))
    {
        group.in_page = in_page;
    }
    (groups, open, suppressed)
}

/// The order of a rule's findings on the page, where a reviewer starts with the worst:
/// severity, then the figure the rule judges, largest first (days since last use for
/// `key-unused` and `key-inactive-not-deleted`, the key's age for the others), then user
/// name and key. The CSV and JSON files keep [`Finding::report_order`].
pub fn page_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    fn judged(f: &Finding) -> Option<i64> {
        match f.rule_id.as_str() {
            "key-unused" | "key-inactive-not-deleted" => f.days_since_last_use.or(f.key_age_days),
            _ => f.key_age_days,
        }
    }
    b.severity
        .cmp(&a.severity)
        .then_with(|| judged(b).cmp(&judged(a)))
        .then_with(|| a.user_name.cmp(&b.user_name))
        .then_with(|| a.access_key_id.cmp(&b.access_key_id))
        .then_with(|| a.report_order(b))
}

/// Splits `budget` places between lists of the given lengths: each list gets an equal
/// share, and a list shorter than its share leaves the rest to the longer ones (the longest
/// list gets what a division leaves over). The shares add up to at most `budget`, and to
/// the total length when that fits.
pub(super) fn page_shares(lengths: &[usize], budget: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut shares = vec![0; lengths.len()];
    let mut left = budget;
    for (done, &i) in order.iter().enumerate() {
        let lists_left = lengths.len() - done;
        let share = left / lists_left;
        shares[i] = lengths[i].min(share);
        left -= shares[i];
    }
    shares
}

/// "3 findings", or "27 findings: 20 medium, 7 low" when the findings differ in severity.
pub(super) fn group_count_label(findings: &[&Finding]) -> String {
    let total = plural(findings.len(), "finding", "findings");
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    if counts.len() > 1 {
        format!("{total}: {}", counts.join(", "))
    } else {
        total
    }
}

pub(super) fn notice_view(n: &SuppressionNotice) -> NoticeView {
    NoticeView {
        rule: n.rule.clone(),
        user: n.user.clone(),
        access_key_id: n.access_key_id.clone(),
        account: n.account.clone(),
        finding_id: n.finding_id.clone(),
        key_label: n
            .access_key_id
            .clone()
            .unwrap_or_else(|| "any key".to_string()),
        reason: n.reason.clone(),
        expires: n.expires,
        expires_label: expires_label(n.expires),
        location: n.location.clone(),
    }
}
