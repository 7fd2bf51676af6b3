//! Reading a baseline: an earlier run's `report.json` (or its out-dir), or a history record.
//!
//! The file may be hostile: it is read only if it is a regular file of at most
//! [`crate::fsio::MAX_DATA_FILE_BYTES`], and refused with one line naming the file and the
//! fix when it is not a keyhygiene document, is newer than this version reads, names an
//! unknown id scheme, holds a malformed or repeated finding id, or dates a finding's first
//! sighting after its own run.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::findings::PastFinding;
use crate::ident::AccountId;

use super::checks::{Ids, check_findings, check_scheme};
use super::signing::{HistoryKey, SIGNATURE_SUFFIX, split};
use super::{Audited, Baseline, Origin};

/// The first `report.json` version with finding ids.
pub const FIRST_REPORT_SCHEMA_WITH_IDS: u32 = 4;

/// The newest `report.json` version this keyhygiene reads as a baseline: the one it writes
/// (a test in `report::json` keeps the two equal).
pub const NEWEST_REPORT_SCHEMA: u32 = 4;

/// Reads the baseline at `path`: a `report.json`, a directory holding one, or a history
/// record. With a history key, the baseline must carry a valid signature: a record its
/// last line, a `report.json` its `report.json.sig`.
pub fn load_baseline(
    path: &Path,
    origin: Origin,
    signer: Option<&HistoryKey>,
) -> Result<Baseline, String> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    // Named as the user gave it (an S3 object's copy by its object).
    let name = crate::storage::shown::path(&file);
    let bytes = crate::fsio::read_limited(&file, "baseline", crate::fsio::MAX_DATA_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let (content, line) = split(&bytes);
    if let Some(key) = signer {
        let detached;
        let (signature, where_) = match line {
            Some(line) => (Some(line), "its last line"),
            None => {
                let sig = PathBuf::from(format!("{}{SIGNATURE_SUFFIX}", file.display()));
                detached = crate::fsio::read_limited(&sig, "signature", 4096).ok();
                (
                    detached
                        .as_deref()
                        .map(|d| d.strip_suffix(b"\n").unwrap_or(d)),
                    "report.json.sig",
                )
            }
        };
        key.verify(content, signature).map_err(|why| {
            format!(
                "{name}: {why} ({where_}); with a history key set, a baseline must be signed with it: pass a report.json written by a run with the same key (it writes report.json.sig beside it), or a history record"
            )
        })?;
    }
    parse_baseline(content, &name, origin)
}

/// Reads a baseline from its bytes: a `report.json` or a history record (`name` names it in
/// messages); a record's signature line, if any, is left out. Errors are one line.
pub fn parse_baseline(bytes: &[u8], name: &str, origin: Origin) -> Result<Baseline, String> {
    let bytes = crate::fsio::strip_bom(bytes);
    let (bytes, _) = split(bytes);
    let not_ours = |detail: String| {
        format!(
            "{name}: not a keyhygiene report.json or history record ({detail}); pass the report.json of an earlier run, or its --out-dir"
        )
    };
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| not_ours(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    match head.kind.as_deref() {
        Some(super::record::RECORD_KIND) => super::record::parse_record(bytes, name)
            .map(|r| r.into_baseline(name.to_string(), origin)),
        Some("account" | "organization")
            if head.tool.as_ref().is_some_and(|t| t.name == "keyhygiene") =>
        {
            parse_report(bytes, name, head.schema_version, origin)
        }
        _ => Err(not_ours("no keyhygiene \"tool\" and \"kind\"".to_string())),
    }
}

#[derive(Deserialize)]
struct Head {
    schema_version: Option<u32>,
    kind: Option<String>,
    tool: Option<ToolHead>,
}

#[derive(Deserialize)]
struct ToolHead {
    name: String,
}

/// The parts of a `report.json` (version 4) a baseline needs; every other field is
/// ignored.
#[derive(Deserialize)]
struct ReportDoc {
    kind: String,
    as_of: DateTime<Utc>,
    account_id: Option<AccountId>,
    organization: Option<OrgHead>,
    finding_ids: Ids,
    findings: Vec<PastFinding>,
    suppressed_findings: Vec<PastFinding>,
    not_assessed: Vec<PastFinding>,
}

#[derive(Deserialize)]
struct OrgHead {
    id: Option<String>,
}

fn parse_report(
    bytes: &[u8],
    name: &str,
    version: Option<u32>,
    origin: Origin,
) -> Result<Baseline, String> {
    match version {
        Some(v) if v > NEWEST_REPORT_SCHEMA => {
            return Err(format!(
                "{name}: report.json schema_version {v} is newer than this keyhygiene reads ({NEWEST_REPORT_SCHEMA}); upgrade keyhygiene"
            ));
        }
        Some(v) if v >= FIRST_REPORT_SCHEMA_WITH_IDS => {}
        Some(v) => {
            return Err(format!(
                "{name}: report.json schema_version {v} has no finding ids (they start with schema_version {FIRST_REPORT_SCHEMA_WITH_IDS}); run once without --baseline and compare later runs with that report"
            ));
        }
        None => return Err(format!("{name}: report.json has no schema_version")),
    }
    let doc: ReportDoc = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "{name}:{}:{}: not a valid report.json: {e} (pass the unmodified report.json of an earlier run)",
            e.line(),
            e.column()
        )
    })?;
    check_scheme(&doc.finding_ids, name)?;
    let audited = match doc.kind.as_str() {
        "organization" => Audited::Organization(doc.organization.and_then(|o| o.id)),
        _ => Audited::Account(doc.account_id),
    };
    // An open finding is not suppressed, whatever it says; a suppressed one is.
    let open = doc.findings.into_iter().map(|f| PastFinding {
        suppressed: false,
        ..f
    });
    let suppressed = doc.suppressed_findings.into_iter().map(|f| PastFinding {
        suppressed: true,
        ..f
    });
    let findings = open.chain(suppressed).chain(doc.not_assessed).collect();
    let baseline = Baseline {
        file: name.to_string(),
        origin,
        as_of: doc.as_of,
        audited,
        id_source: doc.finding_ids.source,
        findings,
    };
    check_findings(&baseline)?;
    Ok(baseline)
}
