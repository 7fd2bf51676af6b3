//! A report set as one unit in its folder: the files a run wrote, named in a set manifest
//! written last (`.keyhygiene-set.json`), `report.json`'s signature when the run has a
//! history key, and the files of the previous set this run replaces with nothing.
//!
//! An account page of an earlier, wider run (`account-<id>.html` of an account this run
//! did not audit) is removed only when the previous set manifest lists it; a file of a
//! format this run did not write is left alone, listed or not.

use serde::{Deserialize, Serialize};

use crate::baseline::signing::{HistoryKey, SIGNATURE_SUFFIX};
use crate::fsio::{FileSet, WriteError};

use super::{Format, ReportError, ReportFile};

/// The set manifest's file name.
pub const SET_MANIFEST: &str = ".keyhygiene-set.json";

/// The largest set manifest read (an organization of 100,000 accounts lists as many pages).
const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetManifest {
    keyhygiene_set: u32,
    /// The set's files, in the order they were written.
    files: Vec<String>,
}

/// The format a file of a report set belongs to; `None` for a name no report has.
fn format_of(name: &str) -> Option<Format> {
    let page = name
        .strip_prefix("account-")
        .and_then(|rest| rest.strip_suffix(".html"))
        .is_some_and(|id| crate::ident::AccountId::parse(id).is_ok());
    match name {
        _ if page => Some(Format::Html),
        "report.html" => Some(Format::Html),
        "findings.csv" | "keys.csv" => Some(Format::Csv),
        "report.json" => Some(Format::Json),
        "summary.md" => Some(Format::Md),
        super::workbook::FILE => Some(Format::Xlsx),
        _ if name == signature_name() => Some(Format::Json),
        _ => None,
    }
}

fn signature_name() -> String {
    format!("{}{SIGNATURE_SUFFIX}", ReportFile::Json.name())
}

/// Finishes a staged report set: signs `report.json` when there is a key, removes the files
/// of the previous set of formats this run wrote that it did not write again, and stages
/// the set manifest last.
pub fn finish(
    set: &mut FileSet,
    formats: &[Format],
    signer: Option<&HistoryKey>,
) -> Result<(), ReportError> {
    let json = ReportFile::Json.name();
    if let Some(key) = signer
        && set.names().any(|n| n == json)
    {
        let mut mac = key.signer();
        set.read_staged(json, |chunk| mac.update(chunk))
            .map_err(|e| ReportError::Render {
                path: json.to_string(),
                message: e.to_string(),
            })?;
        let line = mac.finish();
        set.stage(&signature_name(), |out| out.write_all(&line))
            .map_err(ReportError::Write)?;
    }
    let current: Vec<String> = set.names().map(str::to_string).collect();
    for old in previous(set) {
        if !current.contains(&old) && format_of(&old).is_some_and(|f| formats.contains(&f)) {
            set.remove(&old);
        }
    }
    let manifest = SetManifest {
        keyhygiene_set: 1,
        files: current,
    };
    set.stage(SET_MANIFEST, |out| {
        serde_json::to_writer_pretty(&mut *out, &manifest)?;
        out.write_all(b"\n")
    })
    .map_err(ReportError::Write)
}

/// The files the previous set manifest in the folder lists, those that name a report file;
/// nothing when there is none, or when it is not one (a warning says so).
fn previous(set: &FileSet) -> Vec<String> {
    let path = set.dir().join(SET_MANIFEST);
    let bytes = match crate::fsio::read_limited_in_dir(&path, "set manifest", MANIFEST_LIMIT) {
        Ok(bytes) => bytes,
        Err(crate::fsio::ReadError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Vec::new();
        }
        Err(e) => {
            tracing::warn!("{e}; files of earlier runs are left as they are");
            return Vec::new();
        }
    };
    match serde_json::from_slice::<SetManifest>(&bytes) {
        Ok(m) => m
            .files
            .into_iter()
            .filter(|n| format_of(n).is_some())
            .collect(),
        Err(e) => {
            tracing::warn!(
                "{}: not a keyhygiene set manifest ({e}); files of earlier runs are left as they are",
                path.display()
            );
            Vec::new()
        }
    }
}

/// Stages the chosen formats' files of a single account's report into `set`.
pub(super) fn stage_files(
    set: &mut FileSet,
    formats: &[Format],
    model: &super::ReportModel,
) -> Result<(), WriteError> {
    for file in super::files(formats).into_iter().filter(|f| f.of_model()) {
        set.stage(file.name(), |out| file.write(model, out))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_report_files_belong_to_a_format() {
        assert_eq!(format_of("account-111122223333.html"), Some(Format::Html));
        assert_eq!(format_of("report.json.sig"), Some(Format::Json));
        assert_eq!(format_of("keys.csv"), Some(Format::Csv));
        for other in [
            "account-../../x.html",
            "notes.txt",
            ".keyhygiene-lock",
            "account-1.html",
        ] {
            assert_eq!(format_of(other), None, "{other}");
        }
    }

    #[test]
    fn pages_of_the_previous_set_go_and_other_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "account-111111111111.html",
            "account-222222222222.html",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "old").unwrap();
        }
        std::fs::write(
            dir.path().join(SET_MANIFEST),
            r#"{"keyhygiene_set": 1, "files": ["report.html", "account-111111111111.html", "keys.csv"]}"#,
        )
        .unwrap();
        let mut set = FileSet::new(dir.path()).unwrap();
        set.stage("report.html", |w| w.write_all(b"new")).unwrap();
        finish(&mut set, &[Format::Html], None).unwrap();
        set.commit().unwrap();
        let left: std::collections::BTreeSet<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        // 111's page was the previous set's; 222's was not listed; CSV was not written.
        assert_eq!(
            left.into_iter().collect::<Vec<_>>(),
            [
                ".keyhygiene-set.json",
                "account-222222222222.html",
                "notes.txt",
                "report.html"
            ]
        );
    }
}
