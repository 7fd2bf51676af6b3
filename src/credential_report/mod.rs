//! The IAM credential report: a CSV with one row per IAM user, plus a `<root_account>`
//! row for the root user when the account has one.
//!
//! The crawler parses the report it fetched from IAM and merges console-login context and
//! the root user's keys into the inventory ([`merge_into`]). `--from-credential-report`
//! builds a whole inventory from a report downloaded from the console ([`load_inventory`]);
//! such a report has no key ids, so its keys are named by slot ("access key 1").
//!
//! Columns are looked up by name, so their order does not matter and extra columns are
//! ignored. `N/A`, `no_information` and `not_supported`, in any letter case, mean "no
//! value". Every problem in a file is reported as one line naming the file and the line.

use std::collections::HashMap;

mod slots;

pub use slots::{RowIndex, fill_last_use, fill_user};
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::inventory::{
    AccessKey, CredentialReportInfo, Inventory, KeyStatus, LastUse, LastUseSource, LoginInfo,
    RootKey, RootKeys, SourceInfo, User,
};

/// The user name IAM gives the root user's row.
pub use crate::inventory::ROOT_USER_NAME as ROOT_ROW_USER;

/// A parsed credential report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialReport {
    /// The IAM users' rows, in file order.
    pub users: Vec<ReportRow>,
    /// The `<root_account>` row, when the report has one.
    pub root: Option<ReportRow>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub user: String,
    pub arn: String,
    pub user_creation_time: Option<DateTime<Utc>>,
    /// `not_supported` (the root user's row) and the other special values read as false.
    pub password_enabled: bool,
    pub password_last_used: Option<DateTime<Utc>>,
    pub mfa_active: bool,
    /// Access key slots 1 and 2, in that order.
    pub keys: [KeySlot; 2],
}

/// One of the two access key slots of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySlot {
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used_date: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl KeySlot {
    /// Whether the slot holds a key: it is active, or it has a rotation date (an inactive
    /// key). An empty slot reads `false` and `N/A`.
    pub fn holds_key(&self) -> bool {
        self.active || self.last_rotated.is_some()
    }

    /// The key's last use; a slot without a last-used date was never used.
    pub fn last_use(&self) -> LastUse {
        match self.last_used_date {
            Some(date) => LastUse::Used {
                date,
                service: self.last_used_service.clone(),
                region: self.last_used_region.clone(),
            },
            None => LastUse::Never,
        }
    }
}

impl ReportRow {
    fn login(&self) -> LoginInfo {
        LoginInfo {
            password_enabled: self.password_enabled,
            password_last_used: self.password_last_used,
            mfa_active: self.mfa_active,
        }
    }

    fn slots_with_keys(&self) -> impl Iterator<Item = &KeySlot> {
        self.keys.iter().filter(|k| k.holds_key())
    }
}

impl CredentialReport {
    /// The root user's keys as the `<root_account>` row states them, if the report has one.
    pub fn root_keys(&self) -> Option<RootKeys> {
        self.root.as_ref().map(|row| RootKeys::CredentialReport {
            arn: Some(row.arn.clone()).filter(|a| !a.is_empty()),
            keys: row
                .slots_with_keys()
                .map(|k| RootKey {
                    slot: k.slot,
                    active: k.active,
                    last_rotated: k.last_rotated,
                    last_used: k.last_use(),
                })
                .collect(),
        })
    }
}

/// A credential report that could not be read. Displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum CredentialReportError {
    #[error(transparent)]
    Read(#[from] crate::fsio::ReadError),
    #[error(transparent)]
    Data(#[from] crate::inventory::DataError),
    #[error("{file}:{line}: {problem} ({hint})")]
    Invalid {
        file: String,
        /// 1-based; the header is line 1.
        line: u64,
        problem: String,
        hint: &'static str,
    },
}

const HINT_DOWNLOAD: &str = "download the credential report again from the IAM console or with `aws iam get-credential-report`";
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

/// Merges a report into a crawled inventory: console-login context for every user the
/// report lists, the report's generated time, and the root user's keys when the report
/// has a `<root_account>` row. Without that row `inv.root` is left as it is, so the caller
/// can fall back to the account summary.
pub fn merge_into(
    inv: &mut Inventory,
    report: &CredentialReport,
    generated_at: Option<DateTime<Utc>>,
) {
    let rows: HashMap<&str, &ReportRow> = report
        .users
        .iter()
        .map(|row| (row.user.as_str(), row))
        .collect();
    for user in &mut inv.users {
        if let Some(row) = rows.get(user.name.as_str()) {
            user.login = Some(row.login());
        }
    }
    inv.credential_report = Some(CredentialReportInfo {
        generated_at,
        has_root_row: report.root.is_some(),
    });
    if let Some(root) = report.root_keys() {
        inv.root = root;
    }
}

/// Reads a credential report CSV file into an inventory (`--from-credential-report`).
///
/// The file does not say when IAM generated it (a copy or a checkout changes its
/// modification time), so the generation time is `generated_at` when the user states it
/// (`--report-generated-at`) and unknown otherwise; the data then counts as collected when
/// the file is read. Only a regular file of at most [`crate::fsio::MAX_DATA_FILE_BYTES`] is
/// read, and a report that contradicts itself or holds impossible dates is refused.
pub fn load_inventory(
    path: &Path,
    generated_at: Option<DateTime<Utc>>,
) -> Result<Inventory, CredentialReportError> {
    let file = path.display().to_string();
    let bytes =
        crate::fsio::read_limited(path, "credential report", crate::fsio::MAX_DATA_FILE_BYTES)?;
    read_inventory(&bytes, &file, generated_at)
}

/// [`load_inventory`] from the file's bytes (`file` names it in messages).
pub fn read_inventory(
    bytes: &[u8],
    file: &str,
    generated_at: Option<DateTime<Utc>>,
) -> Result<Inventory, CredentialReportError> {
    let report = parse(bytes, file)?;
    let inv = inventory_from_report(&report, file, generated_at)?;
    inv.validate(file)?;
    Ok(inv)
}

/// Builds an inventory from a parsed report, generated at `generated_at` when known.
fn inventory_from_report(
    report: &CredentialReport,
    file: &str,
    generated_at: Option<DateTime<Utc>>,
) -> Result<Inventory, CredentialReportError> {
    let invalid = |line: u64, problem: String| CredentialReportError::Invalid {
        file: file.to_string(),
        line,
        problem,
        hint: HINT_DOWNLOAD,
    };
    let mut inv = Inventory::new(
        SourceInfo::CredentialReport {
            file: file.to_string(),
        },
        generated_at.unwrap_or_else(Utc::now),
    );
    for row in &report.users {
        let path = match crate::ident::Arn::iam_user(&row.arn) {
            Ok(arn) => arn.path,
            Err(e) => {
                return Err(invalid(
                    row.line,
                    format!("user {}'s arn: {e}", crate::text::shown(&row.user, 64)),
                ));
            }
        };
        let mut keys = Vec::new();
        for slot in row.slots_with_keys() {
            let Some(created) = slot.last_rotated else {
                return Err(invalid(
                    row.line,
                    format!(
                        "user {}'s access key {} is active but access_key_{}_last_rotated has no date",
                        row.user, slot.slot, slot.slot
                    ),
                ));
            };
            keys.push(AccessKey {
                id: None,
                slot: Some(slot.slot),
                status: if slot.active {
                    KeyStatus::Active
                } else {
                    KeyStatus::Inactive
                },
                created,
                last_used: slot.last_use(),
                last_used_source: LastUseSource::CredentialReport,
                description: None,
            });
        }
        inv.users.push(User {
            name: row.user.clone(),
            arn: row.arn.clone(),
            path,
            user_id: String::new(),
            created: row.user_creation_time,
            tags: Vec::new(),
            keys,
            login: None,
        });
    }
    inv.account_id = report
        .root
        .iter()
        .chain(&report.users)
        .find_map(|row| crate::ident::Arn::parse(&row.arn).ok()?.account);
    merge_into(&mut inv, report, generated_at);
    inv.normalize();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Removed;

    const REPORT: &str = include_str!("../../tests/fixtures/credential-report.csv");
    const NO_ROOT: &str = include_str!("../../tests/fixtures/credential-report-no-root.csv");
    const REORDERED: &str = include_str!("../../tests/fixtures/credential-report-reordered.csv");
    const MISSING_COLUMN: &str =
        include_str!("../../tests/fixtures/credential-report-missing-column.csv");
    const BAD_DATE: &str = include_str!("../../tests/fixtures/credential-report-bad-date.csv");
    const BAD_BOOLEAN: &str =
        include_str!("../../tests/fixtures/credential-report-bad-boolean.csv");
    const TRUNCATED: &str = include_str!("../../tests/fixtures/credential-report-truncated.csv");
    const EMPTY: &str = include_str!("../../tests/fixtures/credential-report-empty.csv");
    const NO_ROTATION: &str =
        include_str!("../../tests/fixtures/credential-report-no-rotation.csv");

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn err(text: &str) -> String {
        parse(text.as_bytes(), "report.csv")
            .expect_err("the file is malformed")
            .to_string()
    }

    fn row<'a>(report: &'a CredentialReport, user: &str) -> &'a ReportRow {
        report.users.iter().find(|r| r.user == user).unwrap()
    }

    fn empty_slot(slot: u8) -> KeySlot {
        KeySlot {
            slot,
            active: false,
            last_rotated: None,
            last_used_date: None,
            last_used_region: None,
            last_used_service: None,
        }
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let with_bom = format!("\u{feff}{REPORT}");
        assert_eq!(
            parse(with_bom.as_bytes(), "report.csv").unwrap(),
            parse(REPORT.as_bytes(), "report.csv").unwrap()
        );
    }

    #[test]
    fn parses_the_root_row() {
        let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
        let root = report.root.as_ref().unwrap();
        assert_eq!(root.line, 2);
        assert_eq!(root.arn, "arn:aws:iam::123456789012:root");
        // not_supported for the root user's password reads as false.
        assert!(!root.password_enabled);
        assert!(root.mfa_active);
        assert_eq!(
            root.keys,
            [
                KeySlot {
                    slot: 1,
                    active: true,
                    last_rotated: Some(at("2020-05-01T12:00:00+00:00")),
                    last_used_date: Some(at("2025-12-24T17:00:00+00:00")),
                    last_used_region: Some("us-east-1".into()),
                    last_used_service: Some("s3".into()),
                },
                KeySlot {
                    slot: 2,
                    active: false,
                    last_rotated: Some(at("2021-07-07T07:07:07+00:00")),
                    last_used_date: None,
                    last_used_region: None,
                    last_used_service: None,
                },
            ]
        );
        assert_eq!(
            report.root_keys(),
            Some(RootKeys::CredentialReport {
                arn: Some("arn:aws:iam::123456789012:root".into()),
                keys: vec![
                    RootKey {
                        slot: 1,
                        active: true,
                        last_rotated: Some(at("2020-05-01T12:00:00+00:00")),
                        last_used: LastUse::Used {
                            date: at("2025-12-24T17:00:00+00:00"),
                            service: Some("s3".into()),
                            region: Some("us-east-1".into()),
                        },
                    },
                    RootKey {
                        slot: 2,
                        active: false,
                        last_rotated: Some(at("2021-07-07T07:07:07+00:00")),
                        last_used: LastUse::Never,
                    },
                ],
            })
        );
    }

    #[test]
    fn parses_users_and_every_special_value() {
        let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
        let names: Vec<&str> = report.users.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);

        // Two keys; `Z` is accepted as well as `+00:00`.
        let alice = row(&report, "alice");
        assert_eq!(alice.line, 3);
        assert_eq!(
            alice.user_creation_time,
            Some(at("2021-02-03T04:05:06+00:00"))
        );
        assert!(alice.password_enabled);
        assert_eq!(
            alice.password_last_used,
            Some(at("2026-01-14T09:30:00+00:00"))
        );
        assert!(alice.mfa_active);
        assert_eq!(
            alice.keys[1],
            KeySlot {
                slot: 2,
                active: true,
                last_rotated: Some(at("2025-11-20T08:00:00Z")),
                last_used_date: None,
                last_used_region: None,
                last_used_service: None,
            }
        );

        // No keys, no password: n/a, No_Information, NOT_SUPPORTED and FALSE.
        let bob = row(&report, "bob");
        assert!(!bob.password_enabled);
        assert_eq!(bob.password_last_used, None);
        assert!(!bob.mfa_active);
        assert_eq!(bob.keys, [empty_slot(1), empty_slot(2)]);
        assert!(!bob.keys.iter().any(KeySlot::holds_key));

        // One inactive key that was never used (its date column says no_information).
        let carol = row(&report, "carol");
        assert_eq!(carol.arn, "arn:aws:iam::123456789012:user/eng/data/carol");
        assert!(carol.password_enabled);
        assert_eq!(carol.password_last_used, None);
        assert_eq!(
            carol.keys[0],
            KeySlot {
                slot: 1,
                active: false,
                last_rotated: Some(at("2022-01-01T00:00:00+00:00")),
                last_used_date: None,
                last_used_region: None,
                last_used_service: None,
            }
        );
        assert_eq!(carol.keys[0].last_use(), LastUse::Never);
        assert_eq!(carol.keys[1], empty_slot(2));

        // One key, in slot 2; booleans in upper case.
        let dave = row(&report, "dave");
        assert!(dave.mfa_active);
        assert_eq!(dave.keys[0], empty_slot(1));
        assert_eq!(
            dave.keys[1].last_use(),
            LastUse::Used {
                date: at("2026-01-02T03:04:05+00:00"),
                service: Some("sts".into()),
                region: Some("eu-central-1".into()),
            }
        );
        assert!(dave.keys[1].active);

        // A used key whose region and service IAM did not record.
        let erin = row(&report, "erin");
        assert_eq!(
            erin.keys[0].last_use(),
            LastUse::Used {
                date: at("2025-10-10T10:10:10+00:00"),
                service: None,
                region: None,
            }
        );
    }

    #[test]
    fn columns_are_found_by_name() {
        let report = parse(REORDERED.as_bytes(), "report.csv").unwrap();
        let expected = parse(REPORT.as_bytes(), "report.csv").unwrap();
        assert_eq!(report.root, None);
        assert_eq!(report.users.len(), 1);
        let mut alice = row(&expected, "alice").clone();
        alice.line = 2;
        assert_eq!(report.users[0], alice);
    }

    #[test]
    fn a_missing_column_is_named() {
        assert_eq!(
            err(MISSING_COLUMN),
            "report.csv:1: the header lacks the credential report column mfa_active \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        );
    }

    #[test]
    fn a_bad_date_names_line_column_and_value() {
        assert_eq!(
            err(BAD_DATE),
            "report.csv:4: access_key_1_last_rotated is not a date: \"2024-13-45 noon\" \
             (dates are ISO 8601, like 2026-01-15T10:00:00+00:00; N/A, no_information and not_supported mean no value)"
        );
    }

    #[test]
    fn a_bad_boolean_names_line_column_and_value() {
        assert_eq!(
            err(BAD_BOOLEAN),
            "report.csv:3: mfa_active is not a boolean: \"yes\" (expected true or false)"
        );
    }

    #[test]
    fn a_truncated_row_names_its_line() {
        assert_eq!(
            err(TRUNCATED),
            "report.csv:4: the row has 9 fields but the header has 22; the file is truncated or was edited \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        );
    }

    #[test]
    fn an_empty_file_is_an_error() {
        assert_eq!(
            err(EMPTY),
            "report.csv:1: the file is empty, not a credential report \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        );
        assert_eq!(err(""), err(EMPTY));
    }

    #[test]
    fn a_file_that_is_not_a_report_is_an_error() {
        let json = "{\n  \"schema_version\": 1,\n  \"users\": []\n}\n";
        assert_eq!(
            err(json),
            "report.csv:1: not an IAM credential report: the first line is not the report's header (user,arn,user_creation_time,…) \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        );
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_accepted() {
        let windows = format!("\u{feff}{}", REPORT.replace('\n', "\r\n"));
        assert_eq!(
            parse(windows.as_bytes(), "report.csv").unwrap(),
            parse(REPORT.as_bytes(), "report.csv").unwrap()
        );
        // Lines are still counted right in errors.
        let bad_date = format!("\u{feff}{}", BAD_DATE.replace('\n', "\r\n"));
        assert_eq!(err(&bad_date), err(BAD_DATE));
        assert_eq!(err(&TRUNCATED.replace('\n', "\r\n")), err(TRUNCATED));
    }

    #[test]
    fn a_header_only_report_has_no_rows() {
        let header = REPORT.lines().next().unwrap();
        let report = parse(header.as_bytes(), "report.csv").unwrap();
        assert_eq!(
            report,
            CredentialReport {
                users: vec![],
                root: None
            }
        );
    }

    fn crawled_user(name: &str) -> User {
        User {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:user/{name}"),
            path: "/".into(),
            user_id: format!("AIDA{name}"),
            created: None,
            tags: vec![],
            keys: vec![],
            login: None,
        }
    }

    #[test]
    fn merge_sets_login_context_and_root_keys() {
        let report = parse(REPORT.as_bytes(), "report.csv").unwrap();
        let generated = at("2026-01-16T00:00:00+00:00");
        let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, generated);
        inv.users = vec![
            crawled_user("alice"),
            crawled_user("bob"),
            crawled_user("zed"),
        ];
        merge_into(&mut inv, &report, Some(generated));

        assert_eq!(
            inv.users[0].login,
            Some(LoginInfo {
                password_enabled: true,
                password_last_used: Some(at("2026-01-14T09:30:00+00:00")),
                mfa_active: true,
            })
        );
        assert_eq!(
            inv.users[1].login,
            Some(LoginInfo {
                password_enabled: false,
                password_last_used: None,
                mfa_active: false,
            })
        );
        // A user the report does not list (created after it was generated) keeps no login.
        assert_eq!(inv.users[2].login, None);
        assert_eq!(
            inv.credential_report,
            Some(CredentialReportInfo {
                generated_at: Some(generated),
                has_root_row: true,
            })
        );
        assert_eq!(inv.root, report.root_keys().unwrap());
    }

    #[test]
    fn merge_without_a_root_row_leaves_root_alone() {
        let report = parse(NO_ROOT.as_bytes(), "report.csv").unwrap();
        assert_eq!(report.root, None);
        let generated = at("2026-01-16T00:00:00+00:00");
        let mut inv = Inventory::new(SourceInfo::Live { endpoint: None }, generated);
        inv.root = RootKeys::AccountSummary { keys_present: true };
        merge_into(&mut inv, &report, Some(generated));
        assert_eq!(inv.root, RootKeys::AccountSummary { keys_present: true });
        assert_eq!(
            inv.credential_report,
            Some(CredentialReportInfo {
                generated_at: Some(generated),
                has_root_row: false,
            })
        );
    }

    fn write_temp(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .prefix("credential-report")
            .suffix(".csv")
            .tempfile()
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.flush().unwrap();
        file
    }

    #[test]
    fn load_inventory_builds_users_and_slot_named_keys() {
        let file = write_temp(REPORT);
        let name = file.path().display().to_string();
        let generated = at("2026-01-16T00:00:00+00:00");
        let inv = load_inventory(file.path(), Some(generated)).unwrap();

        assert_eq!(inv.source, SourceInfo::CredentialReport { file: name });
        assert_eq!(inv.collected_at, generated);
        assert_eq!(inv.account_id.as_deref(), Some("123456789012"));
        assert_eq!(
            inv.credential_report,
            Some(CredentialReportInfo {
                generated_at: Some(generated),
                has_root_row: true,
            })
        );
        assert!(matches!(&inv.root, RootKeys::CredentialReport { keys, .. } if keys.len() == 2));
        assert!(inv.is_complete());
        assert_eq!(inv.removed_during_crawl, Vec::<Removed>::new());

        let names: Vec<&str> = inv.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);
        let paths: Vec<&str> = inv.users.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(paths, ["/", "/", "/eng/data/", "/ops/", "/"]);

        let alice = &inv.users[0];
        assert_eq!(alice.created, Some(at("2021-02-03T04:05:06+00:00")));
        assert_eq!(
            alice.keys,
            vec![
                AccessKey {
                    id: None,
                    slot: Some(1),
                    status: KeyStatus::Active,
                    created: at("2024-03-10T10:00:00+00:00"),
                    last_used: LastUse::Used {
                        date: at("2026-01-15T10:00:00+00:00"),
                        service: Some("iam".into()),
                        region: Some("eu-west-1".into()),
                    },
                    last_used_source: LastUseSource::CredentialReport,
                    description: None,
                },
                AccessKey {
                    id: None,
                    slot: Some(2),
                    status: KeyStatus::Active,
                    created: at("2025-11-20T08:00:00+00:00"),
                    last_used: LastUse::Never,
                    last_used_source: LastUseSource::CredentialReport,
                    description: None,
                },
            ]
        );
        assert_eq!(alice.keys[0].label(), "access key 1");
        assert_eq!(alice.keys[1].label(), "access key 2");
        assert!(inv.users[1].keys.is_empty());
        assert_eq!(
            inv.users[2].keys,
            vec![AccessKey {
                id: None,
                slot: Some(1),
                status: KeyStatus::Inactive,
                created: at("2022-01-01T00:00:00+00:00"),
                last_used: LastUse::Never,
                last_used_source: LastUseSource::CredentialReport,
                description: None,
            }]
        );
        assert_eq!(inv.users[3].keys.len(), 1);
        assert_eq!(inv.users[3].keys[0].slot, Some(2));
        assert_eq!(inv.users[3].keys[0].label(), "access key 2");
        assert_eq!(
            inv.users[3].login,
            Some(LoginInfo {
                password_enabled: false,
                password_last_used: None,
                mfa_active: true,
            })
        );
        let coverage = inv.coverage.as_ref().unwrap();
        // Five users' keys and the root user's two.
        assert_eq!((coverage.users_listed, coverage.keys), (5, 5 + 2));
        assert_eq!(coverage.keys_with_last_use, 5 + 2);
    }

    #[test]
    fn load_inventory_without_root_row_leaves_root_unknown_as_a_gap() {
        let file = write_temp(NO_ROOT);
        let inv = load_inventory(file.path(), None).unwrap();
        assert_eq!(inv.root, RootKeys::Unknown);
        assert_eq!(inv.account_id.as_deref(), Some("210987654321"));
        assert_eq!(
            inv.credential_report.as_ref().map(|c| c.has_root_row),
            Some(false)
        );
        assert!(!inv.is_complete(), "an unknown root user is a coverage gap");
        assert_eq!(inv.gaps.len(), 1);
        assert_eq!(inv.gaps[0].error_code, "NoRootRow");
    }

    #[test]
    fn a_header_only_report_is_not_complete() {
        let header = REPORT.lines().next().unwrap();
        let file = write_temp(&format!("{header}\n"));
        let inv = load_inventory(file.path(), None).unwrap();
        assert!(inv.users.is_empty());
        assert!(!inv.is_complete());
        assert_eq!(inv.compute_coverage().gaps, 1);
    }

    #[test]
    fn without_a_stated_time_the_generation_time_is_unknown() {
        let file = write_temp(REPORT);
        // A checkout or a copy gives the file any modification time: it is not used.
        let inv = load_inventory(file.path(), None).unwrap();
        assert_eq!(
            inv.credential_report.as_ref().map(|c| c.generated_at),
            Some(None)
        );
    }

    #[test]
    fn duplicated_columns_users_and_accounts_are_refused() {
        let mut lines: Vec<String> = REPORT.lines().map(str::to_string).collect();
        // A duplicated column (whatever its values) makes a row ambiguous.
        let dup_column = {
            let mut l = lines.clone();
            for line in &mut l {
                let last = line.rsplit(',').next().unwrap().to_string();
                line.push(',');
                line.push_str(&last);
            }
            l[0] = l[0].replace(
                ",cert_2_last_rotated,cert_2_last_rotated",
                ",cert_2_last_rotated,mfa_active",
            );
            l.join("\n")
        };
        assert_eq!(
            err(&dup_column),
            "report.csv:1: the header has the column mfa_active twice, so its value is ambiguous \
             (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
        );
        let twice = format!(
            "{}\n{}",
            lines.join("\n"),
            lines[2].replace("alice,", "Alice,")
        );
        assert!(
            err(&twice).starts_with("report.csv:8: user Alice is listed twice (also on line 3)"),
            "{}",
            err(&twice)
        );
        lines[3] = lines[3].replace("123456789012", "999999999999");
        let mixed = lines.join("\n");
        assert!(
            err(&mixed).starts_with(
                "report.csv:4: user bob's arn is in account 999999999999, but line 2's is in account 123456789012"
            ),
            "{}",
            err(&mixed)
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        let file =
            write_temp(&REPORT.replace("2026-01-15T10:00:00+00:00", "9999-01-15T10:00:00+00:00"));
        let message = load_inventory(file.path(), None).unwrap_err().to_string();
        assert!(
            message.contains("user alice's access key 1 last use is 9999-01-15T10:00:00Z, after the data was collected"),
            "{message}"
        );
        let file =
            write_temp(&REPORT.replace("2021-02-03T04:05:06+00:00", "0000-02-03T04:05:06+00:00"));
        let message = load_inventory(file.path(), None).unwrap_err().to_string();
        assert!(
            message
                .contains("user alice's creation date is 0000-02-03T04:05:06Z, before AWS existed"),
            "{message}"
        );
        // The stated generation time is the collection time: a row after it is refused.
        let file = write_temp(REPORT);
        let message = load_inventory(file.path(), Some(at("2025-01-01T00:00:00Z")))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("after the data was collected (2025-01-01T00:00:00Z)"),
            "{message}"
        );
    }

    #[test]
    fn load_inventory_rejects_a_key_without_rotation_date() {
        let file = write_temp(NO_ROTATION);
        let name = file.path().display().to_string();
        assert_eq!(
            load_inventory(file.path(), None).unwrap_err().to_string(),
            format!(
                "{name}:3: user frank's access key 1 is active but access_key_1_last_rotated has no date \
                 (download the credential report again from the IAM console or with `aws iam get-credential-report`)"
            )
        );
    }

    #[test]
    fn load_inventory_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.csv");
        let message = load_inventory(&path, None).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "{}: cannot read the credential report: ",
                path.display()
            )),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn errors_are_one_line() {
        for text in [MISSING_COLUMN, BAD_DATE, BAD_BOOLEAN, TRUNCATED, EMPTY] {
            assert!(!err(text).contains('\n'));
        }
    }

    #[test]
    fn an_arn_whose_account_is_not_an_account_id_is_refused() {
        // The account part of an ARN is read by the one account-id parser: a path, markup
        // or a formula there never becomes an account id (nor a file name).
        for account in ["x/../../ESCAPED", "<img src=x>", "=HYPERLINK(1)"] {
            let report = REPORT.replacen(":123456789012:user/", &format!(":{account}:user/"), 1);
            let e = err(&report);
            assert!(e.starts_with("report.csv:"), "{e}");
            assert!(e.contains("is not an ARN"), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let report = REPORT.replacen(":123456789012:user/", ":123456789012:role/", 1);
        let e = load_inventory_text(&report).unwrap_err().to_string();
        assert!(e.contains("is not an IAM user ARN"), "{e}");
    }

    fn load_inventory_text(text: &str) -> Result<Inventory, CredentialReportError> {
        let report = parse(text.as_bytes(), "report.csv")?;
        inventory_from_report(&report, "report.csv", None)
    }
}
