//! `findings.csv` and `keys.csv`: flat tables for spreadsheets.
//!
//! UTF-8, RFC 4180 quoting and CRLF line ends. Dates are RFC 3339 in UTC, an empty cell means
//! "none", booleans are `true`/`false`. Every text cell that a spreadsheet would read as a
//! formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with
//! `'`, because IAM user names, tags and descriptions may legally start with those characters.

use std::io::{self, Write};

use serde::Serialize;

use chrono::{DateTime, NaiveDate, Utc};

use crate::findings::EvaluatedFinding;

use super::model::{KeyRow, ReportModel, rfc3339};

/// The header of `findings.csv`. The column order is part of the format: append, never reorder.
pub const FINDINGS_HEADER: [&str; 23] = [
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
    "account_name",
    "finding_id",
    "status",
    "first_seen",
    "owner",
];

/// The header of `keys.csv`. The column order is part of the format: append, never reorder.
pub const KEYS_HEADER: [&str; 23] = [
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
    "account_name",
    "last_used_source",
    "last_used_source_time",
    "owner",
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

/// The header is written from the `*_HEADER` constants, so a file with no row has one too.
fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out)
}

/// One row of `findings.csv`; the fields are the columns, in [`FINDINGS_HEADER`] order (a
/// test checks that they agree).
#[derive(Serialize)]
struct FindingRow {
    account_id: String,
    rule_id: String,
    severity: &'static str,
    user_name: String,
    user_arn: String,
    access_key_id: String,
    key_status: &'static str,
    key_created: String,
    key_age_days: String,
    last_used_date: String,
    last_used_service: String,
    last_used_region: String,
    days_since_last_use: String,
    suppressed: bool,
    suppression_reason: String,
    message: String,
    remediation: String,
    compliance: String,
    account_name: String,
    finding_id: String,
    status: &'static str,
    first_seen: String,
    owner: String,
}

impl FindingRow {
    fn new(
        account: &str,
        account_name: Option<&str>,
        ef: &EvaluatedFinding,
        today: NaiveDate,
        owner: &str,
    ) -> FindingRow {
        let f = &ef.finding;
        FindingRow {
            account_id: text(f.account_id.as_deref().unwrap_or(account)),
            rule_id: text(&f.rule_id),
            severity: f.severity.as_str(),
            user_name: text(&f.user_name),
            user_arn: text(&f.user_arn),
            access_key_id: opt_text(f.access_key_id.as_deref()),
            key_status: f.key_status.map(|s| s.as_str()).unwrap_or_default(),
            key_created: date(f.key_created),
            key_age_days: number(f.key_age_days),
            last_used_date: date(f.last_used_date),
            last_used_service: opt_text(f.last_used_service.as_deref()),
            last_used_region: opt_text(f.last_used_region.as_deref()),
            days_since_last_use: number(f.days_since_last_use),
            suppressed: ef.suppressed.is_some(),
            suppression_reason: opt_text(ef.suppressed.as_ref().map(|s| s.reason.as_str())),
            message: text(&f.message),
            remediation: text(&f.remediation.join("\n")),
            compliance: text(&f.compliance.join("; ")),
            account_name: opt_text(account_name),
            finding_id: text(&f.finding_id),
            status: ef.tracking.status.as_str(),
            first_seen: ef.tracking.first_seen_text(today),
            owner: text(owner),
        }
    }
}

/// `findings.csv`: one row per finding, suppressed ones included, worst first.
pub fn write_findings_csv(m: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out);
    w.write_record(FINDINGS_HEADER)?;
    finding_rows(&mut w, m, None)?;
    w.flush()
}

/// The header line of `findings.csv`.
pub fn findings_header() -> String {
    header_line(&FINDINGS_HEADER)
}

/// An account's rows of an organization's `findings.csv` (no header).
pub fn finding_rows_bytes(m: &ReportModel, account_name: Option<&str>) -> io::Result<Vec<u8>> {
    let mut w = writer(Vec::new());
    finding_rows(&mut w, m, account_name)?;
    w.into_inner().map_err(|e| e.into_error())
}

/// One account's findings: the open ones worst first, then the suppressed ones.
fn finding_rows<W: Write>(
    w: &mut csv::Writer<W>,
    m: &ReportModel,
    account_name: Option<&str>,
) -> io::Result<()> {
    let account = m.account_id.as_deref().unwrap_or_default();
    let today = m.as_of.date_naive();
    for f in m.open.iter().chain(&m.suppressed) {
        let owner = m.owner(&f.finding.user_name);
        w.serialize(FindingRow::new(account, account_name, f, today, owner))?;
    }
    Ok(())
}

/// Each of an account's `findings.csv` rows (with its line end), with its user's owner, in
/// the shared file's order: what `--split-by-owner` routes.
pub fn finding_rows_by_owner(
    m: &ReportModel,
    account_name: Option<&str>,
    mut each: impl FnMut(&str, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let account = m.account_id.as_deref().unwrap_or_default();
    let today = m.as_of.date_naive();
    let mut row = Vec::new();
    for f in m.open.iter().chain(&m.suppressed) {
        let owner = m.owner(&f.finding.user_name);
        row.clear();
        let mut w = writer(&mut row);
        w.serialize(FindingRow::new(account, account_name, f, today, owner))?;
        w.flush()?;
        drop(w);
        each(owner, &row)?;
    }
    Ok(())
}

/// Each of an account's `keys.csv` rows, with its user's owner ([`finding_rows_by_owner`]).
pub fn key_rows_by_owner(
    m: &ReportModel,
    account_name: Option<&str>,
    mut each: impl FnMut(&str, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let account = m.account_id.as_deref().unwrap_or_default();
    let mut row = Vec::new();
    for k in m.key_rows() {
        let owner = m.owner(k.user_name);
        row.clear();
        let mut w = writer(&mut row);
        w.serialize(KeyCsvRow::new(account, account_name, &k, owner))?;
        w.flush()?;
        drop(w);
        each(owner, &row)?;
    }
    Ok(())
}

/// One row of `keys.csv`; the fields are the columns, in [`KEYS_HEADER`] order (a test
/// checks that they agree).
#[derive(Serialize)]
struct KeyCsvRow {
    account_id: String,
    user_name: String,
    user_path: String,
    user_arn: String,
    access_key_id: String,
    key_status: &'static str,
    key_created: String,
    key_age_days: String,
    last_used_state: &'static str,
    last_used_date: String,
    last_used_service: String,
    last_used_region: String,
    days_since_last_use: String,
    description: String,
    password_enabled: String,
    mfa_active: String,
    worst_severity: &'static str,
    rule_ids: String,
    suppressed_rule_ids: String,
    account_name: String,
    last_used_source: &'static str,
    last_used_source_time: String,
    owner: String,
}

impl KeyCsvRow {
    fn new(account: &str, account_name: Option<&str>, k: &KeyRow, owner: &str) -> KeyCsvRow {
        let rule_ids: Vec<&str> = k.rules.iter().map(|r| r.rule_id).collect();
        KeyCsvRow {
            account_id: text(account),
            user_name: text(k.user_name),
            user_path: text(k.user_path),
            user_arn: text(k.user_arn),
            access_key_id: text(&k.key_label),
            key_status: k.status.as_str(),
            key_created: date(k.created),
            key_age_days: number(k.age_days),
            last_used_state: k.last_use_state,
            last_used_date: date(k.last_used),
            last_used_service: opt_text(k.last_used_service.as_deref()),
            last_used_region: opt_text(k.last_used_region.as_deref()),
            days_since_last_use: number(k.days_since_last_use),
            description: opt_text(k.description),
            password_enabled: boolean(k.password_enabled),
            mfa_active: boolean(k.mfa_active),
            worst_severity: k.worst.map(|s| s.as_str()).unwrap_or_default(),
            rule_ids: text(&rule_ids.join(";")),
            suppressed_rule_ids: text(&k.suppressed_rules.join(";")),
            account_name: opt_text(account_name),
            last_used_source: k.last_used_source,
            last_used_source_time: date(k.last_used_source_time),
            owner: text(owner),
        }
    }
}

/// `keys.csv`: one row per access key in the account, flagged or not.
pub fn write_keys_csv(m: &ReportModel, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out);
    w.write_record(KEYS_HEADER)?;
    key_rows(&mut w, m, None)?;
    w.flush()
}

/// The header line of `keys.csv`.
pub fn keys_header() -> String {
    header_line(&KEYS_HEADER)
}

/// An account's rows of an organization's `keys.csv` (no header).
pub fn key_rows_bytes(m: &ReportModel, account_name: Option<&str>) -> io::Result<Vec<u8>> {
    let mut w = writer(Vec::new());
    key_rows(&mut w, m, account_name)?;
    w.into_inner().map_err(|e| e.into_error())
}

fn header_line(header: &[&str]) -> String {
    let mut w = writer(Vec::new());
    // Writing into memory cannot fail.
    w.write_record(header).expect("in memory");
    String::from_utf8(w.into_inner().expect("in memory")).expect("the header is UTF-8")
}

fn key_rows<W: Write>(
    w: &mut csv::Writer<W>,
    m: &ReportModel,
    account_name: Option<&str>,
) -> io::Result<()> {
    let account = m.account_id.as_deref().unwrap_or_default();
    for k in m.key_rows() {
        let owner = m.owner(k.user_name);
        w.serialize(KeyCsvRow::new(account, account_name, &k, owner))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names of a serialised row, in order.
    fn columns(row: impl Serialize) -> String {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.serialize(row).unwrap();
        let bytes = w.into_inner().unwrap();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn row_structs_match_the_headers() {
        use crate::findings::{Finding, Severity};
        let ef = EvaluatedFinding {
            finding: Finding::new("", Severity::Low, None),
            suppressed: None,
            tracking: Default::default(),
        };
        assert_eq!(
            columns(FindingRow::new("", None, &ef, NaiveDate::MIN, "")),
            FINDINGS_HEADER.join(",")
        );
        let row = KeyCsvRow {
            account_id: String::new(),
            user_name: String::new(),
            user_path: String::new(),
            user_arn: String::new(),
            access_key_id: String::new(),
            key_status: "",
            key_created: String::new(),
            key_age_days: String::new(),
            last_used_state: "",
            last_used_date: String::new(),
            last_used_service: String::new(),
            last_used_region: String::new(),
            days_since_last_use: String::new(),
            description: String::new(),
            password_enabled: String::new(),
            mfa_active: String::new(),
            worst_severity: "",
            rule_ids: String::new(),
            suppressed_rule_ids: String::new(),
            account_name: String::new(),
            last_used_source: "",
            last_used_source_time: String::new(),
            owner: String::new(),
        };
        assert_eq!(columns(row), KEYS_HEADER.join(","));
    }

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
