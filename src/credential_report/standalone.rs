//! A whole inventory from a report downloaded from the console (`--from-credential-report`).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::parse::HINT_DOWNLOAD;
use super::{CredentialReport, CredentialReportError, merge_into, parse};
use crate::inventory::{AccessKey, Inventory, KeyStatus, LastUseSource, SourceInfo, User};

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
pub(super) fn inventory_from_report(
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
