//! `findings.csv` and `keys.csv`: flat tables for spreadsheets.
//!
//! UTF-8, RFC 4180 quoting and CRLF line ends. Dates are RFC 3339 in UTC, an empty cell means
//! "none", booleans are `true`/`false`. Every text cell that a spreadsheet would read as a
//! formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with
//! `'`, because IAM user names, tags and descriptions may legally start with those characters.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::findings::EvaluatedFinding;

use super::model::{KeyRow, ReportModel, rfc3339};

/// The header of `findings.csv`. The column order is part of the format: append, never reorder.
pub const FINDINGS_HEADER: [&str; 18] = [
    "account_id",
    "rule_id",
    "severity",
    "user_name",
    "user_arn",
    "access_key_id",
    "key_status",
    "key_created",
    "key_age_days",
    "last_used_date",
    "last_used_service",
    "last_used_region",
    "days_since_last_use",
    "suppressed",
    "suppression_reason",
    "message",
    "remediation",
    "compliance",
];

/// The header of `keys.csv`. The column order is part of the format: append, never reorder.
pub const KEYS_HEADER: [&str; 19] = [
    "account_id",
    "user_name",
    "user_path",
    "user_arn",
    "access_key_id",
    "key_status",
    "key_created",
    "key_age_days",
    "last_used_state",
    "last_used_date",
    "last_used_service",
    "last_used_region",
    "days_since_last_use",
    "description",
    "password_enabled",
    "mfa_active",
    "worst_severity",
    "rule_ids",
    "suppressed_rule_ids",
];

/// Makes a text cell safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets a `'` in front, so the cell is shown as text and never evaluated.
pub fn neutralise(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn text(s: &str) -> String {
    neutralise(s)
}

fn opt_text(s: Option<&str>) -> String {
    s.map(neutralise).unwrap_or_default()
}

fn date(d: Option<DateTime<Utc>>) -> String {
    d.map(rfc3339).unwrap_or_default()
}

fn number(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn boolean(b: Option<bool>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out)
}

fn finding_record(account: &str, ef: &EvaluatedFinding) -> Vec<String> {
    let f = &ef.finding;
    vec![
        text(f.account_id.as_deref().unwrap_or(account)),
        text(&f.rule_id),
        f.severity.as_str().to_string(),
        text(&f.user_name),
        text(&f.user_arn),
        opt_text(f.access_key_id.as_deref()),
        f.key_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        date(f.key_created),
        number(f.key_age_days),
        date(f.last_used_date),
        opt_text(f.last_used_service.as_deref()),
        opt_text(f.last_used_region.as_deref()),
        number(f.days_since_last_use),
        ef.suppressed.is_some().to_string(),
        opt_text(ef.suppressed.as_ref().map(|s| s.reason.as_str())),
        text(&f.message),
        text(&f.remediation.join("\n")),
        text(&f.compliance.join("; ")),
    ]
}

/// `findings.csv`: one row per finding, suppressed ones included, worst first.
pub fn write_findings_csv(m: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out);
    let account = m.account_id.as_deref().unwrap_or_default();
    w.write_record(FINDINGS_HEADER)?;
    // Open findings worst first, then the suppressed ones.
    for f in m.open.iter().chain(&m.suppressed) {
        w.write_record(finding_record(account, f))?;
    }
    w.flush()
}

fn key_record(account: &str, k: &KeyRow) -> Vec<String> {
    let rule_ids: Vec<&str> = k.rules.iter().map(|r| r.rule_id).collect();
    vec![
        text(account),
        text(k.user_name),
        text(k.user_path),
        text(k.user_arn),
        text(&k.key_label),
        k.status.as_str().to_string(),
        date(k.created),
        number(k.age_days),
        k.last_use_state.to_string(),
        date(k.last_used),
        opt_text(k.last_used_service.as_deref()),
        opt_text(k.last_used_region.as_deref()),
        number(k.days_since_last_use),
        opt_text(k.description),
        boolean(k.password_enabled),
        boolean(k.mfa_active),
        k.worst.map(|s| s.as_str().to_string()).unwrap_or_default(),
        text(&rule_ids.join(";")),
        text(&k.suppressed_rules.join(";")),
    ]
}

/// `keys.csv`: one row per access key in the account, flagged or not.
pub fn write_keys_csv(m: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out);
    let account = m.account_id.as_deref().unwrap_or_default();
    w.write_record(KEYS_HEADER)?;
    for k in m.key_rows() {
        w.write_record(key_record(account, &k))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_prefixes_are_neutralised() {
        for bad in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for fine in ["alice", "", "a=b", "'quoted", " =x"] {
            assert_eq!(neutralise(fine), fine);
        }
    }
}
