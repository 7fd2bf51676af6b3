//! `--split-by-owner`: `by-owner/<owner>/findings.csv` and `keys.csv`, each owner's rows of
//! the run's two CSVs, so a compliance run can send each team its own list.
//!
//! The rows are routed while the accounts are written: each row's bytes go to one spill
//! file, and memory keeps only where each owner's rows are (16 bytes a row). At the end
//! the owners' files are staged one owner at a time, reading their rows back from the
//! spill: one file open besides the spill, whatever the number of owners. Every row is in
//! exactly one owner's files, in the order of the shared file.
//!
//! An owner's name comes from a tag value and may be anything: it becomes a folder name
//! through [`folder_name`] (never a path, never a reserved device name, at most 64
//! bytes), and owners whose folder names collide get a short hash of the owner appended.
//! The folders are part of the run's committed set; a previous run's owner folders that
//! this run does not write again are emptied with it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::fsio::{FileSet, WriteError};

/// The folder under the output folder.
pub const BY_OWNER: &str = "by-owner";
/// The longest folder name, in bytes (before a collision suffix).
const MAX_NAME: usize = 64;
/// Windows' reserved device names, refused whatever their case or extension.
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Which of the two CSV files a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sheet {
    Findings,
    Keys,
}

/// The rows of the run, routed by owner.
pub struct OwnerSplit {
    spill: std::fs::File,
    at: u64,
    /// owner -> the places of its rows, in order.
    rows: BTreeMap<String, Vec<(Sheet, u64, u32)>>,
}

impl OwnerSplit {
    pub fn new() -> io::Result<OwnerSplit> {
        Ok(OwnerSplit {
            spill: tempfile::tempfile()?,
            at: 0,
            rows: BTreeMap::new(),
        })
    }

    /// One CSV row (with its line end) of `owner`.
    pub fn add(&mut self, owner: &str, sheet: Sheet, row: &[u8]) -> io::Result<()> {
        self.spill.write_all(row)?;
        let len = u32::try_from(row.len()).map_err(io::Error::other)?;
        let places = match self.rows.get_mut(owner) {
            Some(places) => places,
            None => self.rows.entry(owner.to_string()).or_default(),
        };
        places.push((sheet, self.at, len));
        self.at += row.len() as u64;
        Ok(())
    }

    /// Stages every owner's files under `out_dir/by-owner/`, one owner at a time, with the
    /// headers given; a previous run's owner folders not written again are emptied.
    /// Returns one set per folder, to commit with the run's other files.
    pub fn finish(
        mut self,
        out_dir: &Path,
        findings_header: &str,
        keys_header: &str,
        csv: bool,
        workbook: Option<&super::workbook::Summary<'_>>,
    ) -> Result<Vec<FileSet>, WriteError> {
        let root = out_dir.join(BY_OWNER);
        let owners: Vec<&String> = self.rows.keys().collect();
        let names = folder_names(&owners);
        let mut sets = Vec::new();
        let mut buf = Vec::new();
        let spill = std::cell::RefCell::new(&mut self.spill);
        let rows_of = |sheet: Sheet,
                       places: &[(Sheet, u64, u32)],
                       header: &str,
                       buf: &mut Vec<u8>,
                       out: &mut dyn Write|
         -> io::Result<()> {
            out.write_all(header.as_bytes())?;
            let mut spill = spill.borrow_mut();
            for &(_, offset, len) in places.iter().filter(|(s, _, _)| *s == sheet) {
                buf.resize(len as usize, 0);
                spill.seek(SeekFrom::Start(offset))?;
                spill.read_exact(buf)?;
                out.write_all(buf)?;
            }
            Ok(())
        };
        for (owner, places) in &self.rows {
            let dir = root.join(&names[owner]);
            let mut set = FileSet::new(&dir)?;
            // A format this run does not write leaves no file of an earlier run behind.
            let stale = [
                (!csv, "findings.csv"),
                (!csv, "keys.csv"),
                (workbook.is_none(), super::workbook::FILE),
            ];
            for (gone, file) in stale {
                if gone && dir.join(file).exists() {
                    set.remove(file);
                }
            }
            if csv {
                for (sheet, name, header) in [
                    (Sheet::Findings, "findings.csv", findings_header),
                    (Sheet::Keys, "keys.csv", keys_header),
                ] {
                    set.stage(name, |out| rows_of(sheet, places, header, &mut buf, out))?;
                }
            }
            if let Some(summary) = workbook {
                let summary = super::workbook::Summary {
                    owner: Some(owner),
                    accounts: None,
                    ..*summary
                };
                let mut other = Vec::new();
                set.stage(super::workbook::FILE, |out| {
                    super::workbook::write(
                        &summary,
                        &mut |w| rows_of(Sheet::Findings, places, findings_header, &mut buf, w),
                        &mut |w| rows_of(Sheet::Keys, places, keys_header, &mut other, w),
                        out,
                    )
                })?;
            }
            sets.push(set);
        }
        // The folders of a previous run's owners that have none now.
        let written: BTreeSet<&str> = names.values().map(String::as_str).collect();
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && !written.contains(name.as_str()) && !name.starts_with('.') {
                    let mut set = FileSet::new(&entry.path())?;
                    for file in ["findings.csv", "keys.csv", super::workbook::FILE] {
                        if entry.path().join(file).exists() {
                            set.remove(file);
                        }
                    }
                    sets.push(set);
                }
            }
        }
        Ok(sets)
    }
}

/// A folder name for `owner`: ASCII letters, digits, `.`, `_` and `-` kept, anything else
/// `_`; no leading dot or hyphen; at most [`MAX_NAME`] bytes; a reserved device name (or
/// an empty result) prefixed with `_`.
pub fn folder_name(owner: &str) -> String {
    let mut name: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while name.starts_with(['.', '-']) {
        name.replace_range(..1, "_");
    }
    name.truncate(MAX_NAME);
    while name.ends_with('.') {
        name.pop();
        name.push('_');
    }
    let stem = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    if name.is_empty() || RESERVED.contains(&stem.as_str()) {
        name.insert(0, '_');
    }
    name
}

/// Each owner's folder: [`folder_name`], with `-` and 8 hex digits of the owner's SHA-256
/// appended to every name two owners share.
pub fn folder_names(owners: &[&String]) -> BTreeMap<String, String> {
    let mut by_name: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for owner in owners {
        by_name.entry(folder_name(owner)).or_default().push(owner);
    }
    let mut out = BTreeMap::new();
    for (name, owners) in by_name {
        for owner in &owners {
            let folder = if owners.len() > 1 {
                let digest = Sha256::digest(owner.as_bytes());
                format!("{name}-{}", crate::ident::hex(&digest[..4]))
            } else {
                name.clone()
            };
            out.insert((*owner).clone(), folder);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_become_folder_names_and_never_paths() {
        assert_eq!(folder_name("payments"), "payments");
        assert_eq!(folder_name("../x"), "_._x");
        assert_eq!(folder_name(".."), "__");
        assert_eq!(folder_name("a/b\\c"), "a_b_c");
        assert_eq!(folder_name("CON"), "_CON");
        assert_eq!(folder_name("nul.txt"), "_nul.txt");
        assert_eq!(folder_name(""), "_");
        assert_eq!(folder_name("x\u{0}\n\u{202e}y"), "x___y");
        assert_eq!(folder_name("équipe Müller"), "_quipe_M_ller");
        assert_eq!(folder_name(&"a".repeat(10_000)).len(), MAX_NAME);
        assert_eq!(folder_name("-rf"), "_rf");
        for name in ["../x", "..", "a/b", "CON", "", "."] {
            let f = folder_name(name);
            assert!(
                !f.contains('/') && f != "." && f != ".." && !f.is_empty(),
                "{f}"
            );
        }
    }

    #[test]
    fn colliding_names_get_a_hash_of_their_owner() {
        let (a, b, c) = (
            "team a".to_string(),
            "team/a".to_string(),
            "ops".to_string(),
        );
        let names = folder_names(&[&a, &b, &c]);
        assert_eq!(names[&c], "ops");
        assert!(names[&a].starts_with("team_a-") && names[&b].starts_with("team_a-"));
        assert_ne!(names[&a], names[&b]);
        assert_eq!(names[&a].len(), "team_a-".len() + 8);
    }
}
