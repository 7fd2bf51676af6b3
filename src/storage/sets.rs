//! Copying between S3 and a run's private folder, and publishing a report set whole.
//!
//! A report set is published under `<prefix>runs/<run>/`, every file of it first; the
//! pointer `<prefix>current.json`, which names the set, is written last. A reader that
//! resolves the pointer (`--baseline s3://…/`, a person, a dashboard) sees the previous set
//! or this one, never a mix; a run that fails half-way leaves the pointer and the previous
//! set as they were. Old sets stay under `runs/` (an S3 lifecycle rule expires them).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{S3, S3Url, Write};

/// The pointer's name under the output prefix.
pub const POINTER: &str = "current.json";
/// The pointer's `kind`.
const POINTER_KIND: &str = "keyhygiene-report-set";
/// The largest pointer read.
const POINTER_LIMIT: u64 = 1 << 20;

/// `current.json`: the report set a reader should open.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    pub kind: String,
    /// The set's prefix, relative to the pointer's (`runs/<run>/`).
    pub set: String,
    /// The set's files, relative to its prefix.
    pub files: Vec<String>,
}

/// Copies the objects directly under `prefix` whose names `wanted` accepts into `dir`
/// (created), each at most `limit` bytes; returns their names. Names that could leave the
/// folder are never written.
pub fn fetch_prefix(
    s3: &S3,
    prefix: &S3Url,
    dir: &Path,
    wanted: &dyn Fn(&str) -> bool,
    limit: u64,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for listed in s3.list(prefix)? {
        if !safe_name(&listed.name) || !wanted(&listed.name) {
            continue;
        }
        let url = prefix.join(&listed.name);
        // A listed object deleted since (a pruning run) is simply not there.
        if let Some(object) = s3.get(&url, limit)? {
            write_local(&dir.join(&listed.name), &object.bytes)?;
            names.push(listed.name);
        }
    }
    Ok(names)
}

/// Copies the object `url` to `to`; false when there is no such object.
pub fn fetch_object(s3: &S3, url: &S3Url, to: &Path, limit: u64) -> Result<bool, String> {
    match s3.get(url, limit)? {
        Some(object) => {
            write_local(to, &object.bytes)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The set the pointer under `prefix` names; `None` when there is no pointer.
pub fn current(s3: &S3, prefix: &S3Url) -> Result<Option<S3Url>, String> {
    let url = prefix.join(POINTER);
    let Some(object) = s3.get(&url, POINTER_LIMIT)? else {
        return Ok(None);
    };
    let pointer: Pointer = serde_json::from_slice(&object.bytes).map_err(|e| {
        format!("{url}: not a keyhygiene report-set pointer: {e} (remove it, or name the report.json object)")
    })?;
    let set = &pointer.set;
    let ok = pointer.kind == POINTER_KIND
        && set.starts_with("runs/")
        && set.ends_with('/')
        && set[..set.len() - 1].split('/').all(safe_name);
    if !ok {
        return Err(format!(
            "{url}: not a keyhygiene report-set pointer (kind {:?}, set {:?}); remove it, or name the report.json object",
            pointer.kind, pointer.set
        ));
    }
    Ok(Some(prefix.join(set)))
}

/// A report set whose files are published, waiting for its pointer.
#[derive(Debug)]
pub struct Set {
    /// The set's prefix.
    pub prefix: S3Url,
    /// The set's prefix relative to the pointer's (`runs/<run>/`).
    name: String,
    files: Vec<String>,
}

/// Publishes the files of `dir` (recursively; names starting with `.` are the folder's
/// own bookkeeping and stay) under `prefix/runs/<run>/`. Nothing points at them yet.
pub fn publish_files(s3: &S3, prefix: &S3Url, dir: &Path, run: &str) -> Result<Set, String> {
    let name = format!("runs/{run}/");
    let target = prefix.join(&name);
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let puts: Vec<(S3Url, PathBuf)> = files
        .iter()
        .map(|(file, path)| (target.join(file), path.clone()))
        .collect();
    s3.put_files(&puts)?;
    Ok(Set {
        prefix: target,
        name,
        files: files.into_iter().map(|(file, _)| file).collect(),
    })
}

/// Writes the pointer under `prefix` that names `set`: the step that makes it current.
pub fn point(s3: &S3, prefix: &S3Url, set: &Set) -> Result<(), String> {
    let pointer = Pointer {
        kind: POINTER_KIND.into(),
        set: set.name.clone(),
        files: set.files.clone(),
    };
    let mut body = serde_json::to_vec_pretty(&pointer).map_err(|e| e.to_string())?;
    body.push(b'\n');
    s3.put(&prefix.join(POINTER), body, Write::Overwrite)?;
    Ok(())
}

/// Every regular file under `dir`, with its name relative to `root` (`/`-separated).
/// Symbolic links are never followed.
pub fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// A name that stays inside the folder it is written to.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\')
        && !name.chars().any(char::is_control)
        && name.len() <= 255
}

/// Writes a copy into the run's private folder (a new file: a name is never reused).
fn write_local(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: cannot write a copy: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_that_stay_in_their_folder_are_copied() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", &"x".repeat(256)] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        assert!(safe_name("account-012345678901.json"));
    }
}
