//! The credential report's CSV: columns found by name, every value checked, every problem
//! one line naming the file and the line.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{CredentialReport, CredentialReportError, KeySlot, ROOT_ROW_USER, ReportRow};

pub(super) const HINT_DOWNLOAD: &str = "download the credential report again from the IAM console or with `aws iam get-credential-report`";
const HINT_DATE: &str = "dates are ISO 8601, like 2026-01-15T10:00:00+00:00; N/A, no_information and not_supported mean no value";
const HINT_BOOL: &str = "expected true or false";

/// The columns keyhygiene reads. Other columns (password rotation, certificates, anything
/// IAM adds later) are ignored.
const REQUIRED_COLUMNS: &[&str] = &[
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
];

/// Parses a credential report. `file` names it in error messages.
pub fn parse(bytes: &[u8], file: &str) -> Result<CredentialReport, CredentialReportError> {
    // A spreadsheet that saved the report may have put a byte-order mark before the header.
    let bytes = crate::fsio::strip_bom(bytes);
    let invalid = |line: u64, problem: String, hint: &'static str| CredentialReportError::Invalid {
        file: file.to_string(),
        line,
        problem,
        hint,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            1,
            "the file is empty, not a credential report".into(),
            HINT_DOWNLOAD,
        ));
    }

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let mut lines = LineCounter::new(bytes);
    let csv_error = |e: csv::Error, lines: &mut LineCounter| {
        let line = e.position().map_or(1, |p| lines.line_of(p));
        invalid(
            line,
            format!("not a readable CSV file: {}", csv_problem(&e)),
            HINT_DOWNLOAD,
        )
    };

    let header = reader
        .headers()
        .map_err(|e| csv_error(e, &mut lines))?
        .clone();
    let mut columns: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if columns.insert(name.trim(), i).is_some() {
            return Err(invalid(
                1,
                format!(
                    "the header has the column {} twice, so its value is ambiguous",
                    name.trim()
                ),
                HINT_DOWNLOAD,
            ));
        }
    }
    if !columns.contains_key("user") && !columns.contains_key("arn") {
        return Err(invalid(
            1,
            "not an IAM credential report: the first line is not the report's header (user,arn,user_creation_time,…)".into(),
            HINT_DOWNLOAD,
        ));
    }
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !columns.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(
            1,
            format!(
                "the header lacks the credential report column{} {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
            HINT_DOWNLOAD,
        ));
    }

    let mut report = CredentialReport {
        users: Vec::new(),
        root: None,
    };
    // Each user once (IAM user names are unique regardless of letter case), and every row
    // from the same account.
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut account: Option<(crate::ident::AccountId, u64)> = None;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(e, &mut lines))?;
        let line = record.position().map_or(0, |p| lines.line_of(p));
        if record.len() != header.len() {
            return Err(invalid(
                line,
                format!(
                    "the row has {} fields but the header has {}; the file is truncated or was edited",
                    record.len(),
                    header.len()
                ),
                HINT_DOWNLOAD,
            ));
        }
        let cells = Cells {
            record: &record,
            columns: &columns,
            line,
            file,
        };
        let row = cells.row()?;
        if let Some(first) = seen.insert(row.user.to_lowercase(), line) {
            return Err(invalid(
                line,
                format!("user {} is listed twice (also on line {first})", row.user),
                HINT_DOWNLOAD,
            ));
        }
        let arn = crate::ident::Arn::parse(&row.arn).map_err(|e| {
            invalid(
                line,
                format!("user {}'s arn: {e}", crate::text::shown(&row.user, 64)),
                HINT_DOWNLOAD,
            )
        })?;
        if let Some(id) = arn.account {
            match &account {
                Some((first, first_line)) if *first != id => {
                    return Err(invalid(
                        line,
                        format!(
                            "user {}'s arn is in account {id}, but line {first_line}'s is in account {first}: the file mixes two accounts' reports",
                            row.user
                        ),
                        HINT_DOWNLOAD,
                    ));
                }
                Some(_) => {}
                None => account = Some((id, line)),
            }
        }
        if row.user == ROOT_ROW_USER {
            report.root = Some(row);
        } else {
            report.users.push(row);
        }
    }
    Ok(report)
}

/// Line numbers from the byte offsets the CSV reader reports. (Its own line count is off
/// by one per line in files with CRLF line ends, as Windows tools save them.)
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Newlines counted in `bytes[..counted]`.
    counted: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted: 0,
            newlines: 0,
        }
    }

    /// The 1-based line of a record. The reader reports the offset of the record's first
    /// byte, or of the `\n` of the CRLF before it, so the byte at the offset is counted too.
    /// Records come in file order, so counting carries on from the previous record.
    fn line_of(&mut self, position: &csv::Position) -> u64 {
        let end = usize::try_from(position.byte())
            .map_or(self.bytes.len(), |b| b.saturating_add(1))
            .min(self.bytes.len());
        if end < self.counted {
            self.counted = 0;
            self.newlines = 0;
        }
        self.newlines += self.bytes[self.counted..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.counted = end;
        self.newlines + 1
    }
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not UTF-8 text", err.field() + 1),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// Typed access to the cells of one row.
struct Cells<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<&'a str, usize>,
    line: u64,
    file: &'a str,
}

impl Cells<'_> {
    fn raw(&self, column: &str) -> &str {
        // Every column read here was checked to be in the header, and every row has as
        // many fields as the header.
        self.record[self.columns[column]].trim()
    }

    /// The cell's text, or `None` for an empty cell or one of the special values.
    fn value(&self, column: &str) -> Option<&str> {
        let raw = self.raw(column);
        let special = raw.is_empty()
            || ["N/A", "no_information", "not_supported"]
                .iter()
                .any(|s| raw.eq_ignore_ascii_case(s));
        (!special).then_some(raw)
    }

    fn error(&self, problem: String, hint: &'static str) -> CredentialReportError {
        CredentialReportError::Invalid {
            file: self.file.to_string(),
            line: self.line,
            problem,
            hint,
        }
    }

    fn date(&self, column: &str) -> Result<Option<DateTime<Utc>>, CredentialReportError> {
        let Some(text) = self.value(column) else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(text)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| self.error(format!("{column} is not a date: {text:?}"), HINT_DATE))
    }

    /// A boolean column; the special values read as false.
    fn flag(&self, column: &str) -> Result<bool, CredentialReportError> {
        match self.value(column) {
            None => Ok(false),
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            Some(t) => Err(self.error(format!("{column} is not a boolean: {t:?}"), HINT_BOOL)),
        }
    }

    fn text(&self, column: &str) -> Option<String> {
        self.value(column).map(str::to_string)
    }

    fn slot(&self, slot: u8) -> Result<KeySlot, CredentialReportError> {
        let column = |suffix: &str| format!("access_key_{slot}_{suffix}");
        Ok(KeySlot {
            slot,
            active: self.flag(&column("active"))?,
            last_rotated: self.date(&column("last_rotated"))?,
            last_used_date: self.date(&column("last_used_date"))?,
            last_used_region: self.text(&column("last_used_region")),
            last_used_service: self.text(&column("last_used_service")),
        })
    }

    fn row(&self) -> Result<ReportRow, CredentialReportError> {
        let user = self.raw("user").to_string();
        if user.is_empty() {
            return Err(self.error("the user column is empty".into(), HINT_DOWNLOAD));
        }
        Ok(ReportRow {
            line: self.line,
            arn: self.raw("arn").to_string(),
            user_creation_time: self.date("user_creation_time")?,
            password_enabled: self.flag("password_enabled")?,
            password_last_used: self.date("password_last_used")?,
            mfa_active: self.flag("mfa_active")?,
            keys: [self.slot(1)?, self.slot(2)?],
            user,
        })
    }
}
