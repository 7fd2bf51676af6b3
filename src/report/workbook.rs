//! `keyhygiene.xlsx` (`--format xlsx`): the run for a spreadsheet, where the CSVs lose
//! data (an account id read as a number loses its leading zero, text without a byte-order
//! mark turns into mojibake, dates come out half as text).
//!
//! Sheets: Summary (as-of, coverage, counts by severity and rule, changes since the
//! baseline), Findings and Keys (the CSVs' columns in the same order, built from the very
//! rows the CSVs hold), and Accounts in an organization run. Cells are typed by column:
//! ids, names and every other string are text cells (leading zeros kept, nothing
//! evaluated: a user named `=1+2` is the text `=1+2`), dates and times are date cells with
//! a visible format, day counts are numbers, flags the words `true` and `false`. Each sheet has a frozen
//! header row, an autofilter and column widths computed from its content. The document is
//! dated by the run's as-of, so the same run gives the same bytes.
//!
//! The rows are read twice from a temporary copy of each CSV (widths first, then cells)
//! and each sheet streams to disk as it is written (rust_xlsxwriter's constant-memory
//! mode), so memory does not grow with the number of findings. Excel's limits: a sheet
//! holds 1,048,576 rows, so rows past 1,048,575 findings or keys are left out of their
//! sheet and the Summary says how many (the CSVs hold them all); a cell holds 32,767
//! characters, so a longer value is cut, ending with `…`.

use std::io::{self, Seek, SeekFrom, Write};

use chrono::{DateTime, NaiveDate, Utc};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::findings::{Severity, Totals};

use super::model::{AccountView, TrackingView};

/// The workbook's file name.
pub const FILE: &str = "keyhygiene.xlsx";
/// Data rows a sheet holds besides its header.
pub const MAX_ROWS: u64 = 1_048_575;
/// Characters a cell holds.
const MAX_CELL: usize = 32_767;
/// The widest column, in characters.
const MAX_WIDTH: usize = 60;

/// How a column's values become cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    /// RFC 3339 UTC instant.
    DateTime,
    /// YYYY-MM-DD.
    Date,
    Number,
}

fn kind(column: &str) -> Kind {
    match column {
        "key_created" | "last_used_date" | "last_used_source_time" => Kind::DateTime,
        "first_seen" => Kind::Date,
        "key_age_days" | "days_since_last_use" => Kind::Number,
        // Flags stay the words `true` and `false`: LibreOffice keeps a boolean cell as the
        // formula `=TRUE()`, and the workbook has no formula.
        _ => Kind::Text,
    }
}

/// What the Summary sheet says about the run.
#[derive(Clone, Copy)]
pub struct Summary<'a> {
    pub audited: &'a str,
    pub as_of: DateTime<Utc>,
    pub totals: &'a Totals,
    pub tracking: &'a TrackingView,
    /// The organization's accounts, for the Accounts sheet.
    pub accounts: Option<&'a [AccountView]>,
    /// One owner's workbook (`--split-by-owner`): its Summary counts its own rows only.
    pub owner: Option<&'a str>,
}

/// Writes the workbook to `out`. `findings` and `keys` write the complete `findings.csv`
/// and `keys.csv` (header included) into the writer they are given.
pub fn write(
    summary: &Summary<'_>,
    findings: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    keys: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    out: &mut dyn Write,
) -> io::Result<()> {
    build(summary, findings, keys, out).map_err(|e| match e {
        Error::Io(e) => e,
        Error::Xlsx(e) => io::Error::other(e.to_string()),
    })
}

enum Error {
    Io(io::Error),
    Xlsx(XlsxError),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<XlsxError> for Error {
    fn from(e: XlsxError) -> Self {
        Error::Xlsx(e)
    }
}

impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Self {
        Error::Io(io::Error::other(e))
    }
}

fn build(
    summary: &Summary<'_>,
    findings: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    keys: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut workbook = Workbook::new();
    let as_of = excel_time(summary.as_of)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title("keyhygiene report")
            .set_author("keyhygiene")
            .set_creation_datetime(&summary.as_of),
    );
    let bold = Format::new().set_bold();
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let formats = Formats {
        bold: &bold,
        when: &when,
        day: &day,
    };

    let mut findings_csv = tempfile::tempfile()?;
    findings(&mut findings_csv)?;
    let mut keys_csv = tempfile::tempfile()?;
    keys(&mut keys_csv)?;

    // The Summary says how many rows the data sheets leave out, so it counts them first.
    let counts = (count_rows(&mut findings_csv)?, count_rows(&mut keys_csv)?);
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name("Summary")?;
    summary_sheet(sheet, summary, &as_of, counts, &formats)?;
    data_sheet(
        workbook.add_worksheet_with_constant_memory()?,
        "Findings",
        &mut findings_csv,
        &formats,
    )?;
    data_sheet(
        workbook.add_worksheet_with_constant_memory()?,
        "Keys",
        &mut keys_csv,
        &formats,
    )?;
    if let Some(accounts) = summary.accounts {
        accounts_sheet(
            workbook.add_worksheet_with_constant_memory()?,
            accounts,
            &formats,
        )?;
    }
    let mut file = tempfile::tempfile()?;
    workbook.save_to_writer(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    io::copy(&mut file, out)?;
    Ok(())
}

struct Formats<'a> {
    bold: &'a Format,
    when: &'a Format,
    day: &'a Format,
}

fn excel_time(t: DateTime<Utc>) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_timestamp(t.timestamp())
}

/// Data rows of a CSV copy.
fn count_rows(csv_file: &mut std::fs::File) -> Result<u64, Error> {
    csv_file.seek(SeekFrom::Start(0))?;
    let mut reader = csv::Reader::from_reader(&mut *csv_file);
    let mut n = 0;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        n += 1;
    }
    Ok(n)
}

fn summary_sheet(
    sheet: &mut Worksheet,
    s: &Summary<'_>,
    as_of: &ExcelDateTime,
    (findings, keys): (u64, u64),
    f: &Formats<'_>,
) -> Result<(), Error> {
    let t = s.totals;
    sheet.set_column_width(0, 34)?;
    sheet.set_column_width(1, 48)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 12)?;
    if let Some(owner) = s.owner {
        let rows: [(&str, Value<'_>); 6] = [
            ("keyhygiene", Value::Text(s.audited)),
            ("owner", Value::Text(owner)),
            ("as of (UTC)", Value::When(as_of)),
            ("findings", Value::Number(findings)),
            ("keys", Value::Number(keys)),
            (
                "the whole run",
                Value::Text("keyhygiene.xlsx of the report set (coverage, changes, rules)"),
            ),
        ];
        for (row, (label, value)) in rows.into_iter().enumerate() {
            sheet.write_string_with_format(row as u32, 0, label, f.bold)?;
            match value {
                Value::Text(v) => sheet.write_string(row as u32, 1, cell(v))?,
                Value::Number(n) => sheet.write_number(row as u32, 1, n as f64)?,
                Value::When(t) => sheet.write_datetime_with_format(row as u32, 1, t, f.when)?,
            };
        }
        return Ok(());
    }
    let mut row = 0;
    let mut line = |sheet: &mut Worksheet, label: &str, value: Value<'_>| -> Result<(), Error> {
        sheet.write_string_with_format(row, 0, label, f.bold)?;
        match value {
            Value::Text(v) => {
                sheet.write_string(row, 1, cell(v))?;
            }
            Value::Number(n) => {
                sheet.write_number(row, 1, n as f64)?;
            }
            Value::When(t) => {
                sheet.write_datetime_with_format(row, 1, t, f.when)?;
            }
        }
        row += 1;
        Ok(())
    };
    line(sheet, "keyhygiene", Value::Text(s.audited))?;
    line(sheet, "as of (UTC)", Value::When(as_of))?;
    let coverage = if t.complete() {
        "complete"
    } else {
        "incomplete: see the gaps in report.html or report.json"
    };
    line(sheet, "coverage", Value::Text(coverage))?;
    if s.accounts.is_some() {
        line(sheet, "accounts selected", Value::Number(t.selected as u64))?;
        line(sheet, "accounts audited", Value::Number(t.audited as u64))?;
        line(
            sheet,
            "accounts not audited",
            Value::Number(t.unreachable as u64),
        )?;
    }
    line(sheet, "users", Value::Number(t.users() as u64))?;
    line(sheet, "access keys", Value::Number(t.keys() as u64))?;
    for sev in Severity::ALL {
        line(
            sheet,
            &format!("open {}", sev.as_str()),
            Value::Number(t.figures.open.get(sev) as u64),
        )?;
    }
    line(
        sheet,
        "suppressed",
        Value::Number(t.figures.suppressed.total() as u64),
    )?;
    if s.tracking.comparison.is_some() {
        let c = &s.tracking.changes;
        for (label, n) in [
            ("new since the baseline", c.new),
            ("updated", c.updated),
            ("resolved", c.resolved),
            ("unchanged", c.unchanged),
            ("not assessed", c.not_assessed),
        ] {
            line(sheet, label, Value::Number(n as u64))?;
        }
    } else {
        line(
            sheet,
            "changes",
            Value::Text("no baseline: every finding is new"),
        )?;
    }
    for (what, n) in [("findings", findings), ("keys", keys)] {
        if n > MAX_ROWS {
            line(
                sheet,
                &format!("{what} left out of their sheet"),
                Value::Number(n - MAX_ROWS),
            )?;
        }
    }
    row += 1;
    for (col, head) in ["rule", "severity", "open", "suppressed"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(row, col as u16, *head, f.bold)?;
    }
    row += 1;
    for r in &t.figures.by_rule {
        sheet.write_string(row, 0, &r.rule_id)?;
        sheet.write_string(row, 1, r.severity.as_str())?;
        sheet.write_number(row, 2, r.open as f64)?;
        sheet.write_number(row, 3, r.suppressed as f64)?;
        row += 1;
    }
    Ok(())
}

enum Value<'a> {
    Text(&'a str),
    Number(u64),
    When(&'a ExcelDateTime),
}

/// A sheet of the rows of a CSV copy, typed by column, with widths from the content.
fn data_sheet(
    sheet: &mut Worksheet,
    name: &str,
    csv_file: &mut std::fs::File,
    f: &Formats<'_>,
) -> Result<(), Error> {
    sheet.set_name(name)?;
    // Pass 1: the widths.
    csv_file.seek(SeekFrom::Start(0))?;
    let mut reader = csv::Reader::from_reader(&mut *csv_file);
    let header = reader.headers()?.clone();
    let kinds: Vec<Kind> = header.iter().map(kind).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count() + 2).collect();
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while rows < MAX_ROWS && reader.read_record(&mut record)? {
        rows += 1;
        for (i, value) in record.iter().enumerate().take(widths.len()) {
            let w = match kinds[i] {
                Kind::DateTime => 19,
                Kind::Date => 10,
                _ => value.chars().count().min(MAX_WIDTH),
            };
            widths[i] = widths[i].max(w + 1);
        }
    }
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(i as u16, (*w).min(MAX_WIDTH + 2) as f64)?;
    }
    // Pass 2: the cells.
    for (col, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, h, f.bold)?;
    }
    csv_file.seek(SeekFrom::Start(0))?;
    let mut reader = csv::Reader::from_reader(&mut *csv_file);
    let mut row: u32 = 0;
    while u64::from(row) < rows && reader.read_record(&mut record)? {
        row += 1;
        for (i, value) in record.iter().enumerate().take(kinds.len()) {
            write_cell(sheet, row, i as u16, kinds[i], value, f)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, row, header.len().saturating_sub(1) as u16)?;
    Ok(())
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    kind: Kind,
    value: &str,
    f: &Formats<'_>,
) -> Result<(), Error> {
    if value.is_empty() {
        return Ok(());
    }
    match kind {
        Kind::DateTime => {
            if let Ok(t) = DateTime::parse_from_rfc3339(value) {
                let t = excel_time(t.with_timezone(&Utc))?;
                sheet.write_datetime_with_format(row, col, &t, f.when)?;
                return Ok(());
            }
        }
        Kind::Date => {
            if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                sheet.write_datetime_with_format(row, col, d, f.day)?;
                return Ok(());
            }
        }
        Kind::Number => {
            if let Ok(n) = value.parse::<i64>() {
                sheet.write_number(row, col, n as f64)?;
                return Ok(());
            }
        }
        Kind::Text => {}
    }
    sheet.write_string(row, col, cell(&unneutralised(value)))?;
    Ok(())
}

/// The value before the CSVs' formula neutralising (a `'` put before a leading `=`, `+`,
/// `-`, `@`, tab or carriage return): a text cell is never evaluated, so it holds the
/// exact value.
fn unneutralised(value: &str) -> std::borrow::Cow<'_, str> {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.into(),
        _ => value.into(),
    }
}

/// A value cut to what a cell holds.
fn cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.chars().count() <= MAX_CELL {
        return value.into();
    }
    let mut cut: String = value.chars().take(MAX_CELL - 1).collect();
    cut.push('…');
    cut.into()
}

/// The Accounts sheet of an organization run: one row per selected account.
fn accounts_sheet(
    sheet: &mut Worksheet,
    accounts: &[AccountView],
    f: &Formats<'_>,
) -> Result<(), Error> {
    sheet.set_name("Accounts")?;
    let header = [
        "account_id",
        "account_name",
        "ou_path",
        "state",
        "outcome",
        "coverage",
        "users",
        "keys",
        "gaps",
        "open_critical",
        "open_high",
        "open_medium",
        "open_low",
        "suppressed",
        "keys_flagged",
        "new",
    ];
    let widths = [16, 28, 28, 12, 20, 40, 8, 8, 8, 14, 12, 14, 10, 12, 14, 8];
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(i as u16, *w)?;
    }
    for (col, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, f.bold)?;
    }
    let mut row: u32 = 0;
    for a in accounts {
        row += 1;
        sheet.write_string(row, 0, &a.id)?;
        sheet.write_string(row, 1, cell(a.name.as_deref().unwrap_or("")))?;
        sheet.write_string(row, 2, cell(a.ou_path.as_deref().unwrap_or("")))?;
        sheet.write_string(row, 3, &a.state)?;
        sheet.write_string(row, 4, a.outcome)?;
        sheet.write_string(row, 5, cell(&a.coverage_label))?;
        let numbers = [
            a.users,
            a.keys,
            a.gaps,
            a.open[0],
            a.open[1],
            a.open[2],
            a.open[3],
            a.suppressed,
            a.keys_flagged,
            a.new,
        ];
        for (i, n) in numbers.iter().enumerate() {
            sheet.write_number(row, 6 + i as u16, *n as f64)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, row, header.len() as u16 - 1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralised_values_are_restored_and_long_ones_cut() {
        assert_eq!(unneutralised("'=1+2"), "=1+2");
        assert_eq!(unneutralised("'@SUM(A1)"), "@SUM(A1)");
        assert_eq!(unneutralised("'quoted"), "'quoted");
        assert_eq!(unneutralised("plain"), "plain");
        let long = "x".repeat(40_000);
        let c = cell(&long);
        assert_eq!(c.chars().count(), MAX_CELL);
        assert!(c.ends_with('…'));
    }
}
