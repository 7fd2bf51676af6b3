//! Where a run writes, made ready before its first network call.
//!
//! Every folder the run will write (the output folder, the saved inventories' folder, the
//! history folder) is created if missing, rid of what an interrupted run left there (its
//! commit put back or finished, [`crate::fsio::recover`]; its temporary files removed),
//! and proved writable by creating and removing an exclusive temporary file in it. The
//! output folder is locked for the whole run. A folder that cannot be written stops the
//! run there, with one line and exit 2, before anything is crawled or written; the folders
//! the run created are removed again when it stops with an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::AuditArgs;
use crate::fsio::lock::FolderLock;

/// How long a temporary file in a shared folder (saved inventories, history) must be left
/// alone before it counts as debris: another run may be writing it. A run stops after
/// `--account-timeout` (at most a week) and its other phases.
const SHARED_DEBRIS_AGE: Duration = Duration::from_secs(8 * 24 * 3600);

/// The folders of a run, ready to write.
pub(super) struct Outputs {
    /// The output folder's lock, held until the run ends.
    _lock: FolderLock,
    /// Folders this run created, deepest last.
    created: Vec<PathBuf>,
}

impl Outputs {
    /// Prepares the folders `args` names. `save_dir` is the folder of `--save-inventory`
    /// (the file's folder in a single-account run).
    pub fn prepare(args: &AuditArgs, save_dir: Option<&Path>) -> Result<Outputs, String> {
        let mut created = Vec::new();
        let result = (|| {
            create(&args.out_dir, &mut created)?;
            let lock =
                crate::fsio::lock::lock(&args.out_dir, args.wait_lock.unwrap_or(Duration::ZERO))
                    .map_err(|e| e.to_string())?;
            ready(&args.out_dir, true)?;
            // Owner folders of an earlier run: recovered and cleaned like the folder.
            let owners = args.out_dir.join(crate::report::by_owner::BY_OWNER);
            for entry in std::fs::read_dir(&owners).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    ready(&entry.path(), true)?;
                }
            }
            for shared in [save_dir, args.history.as_deref()].into_iter().flatten() {
                create(shared, &mut created)?;
                ready(shared, false)?;
            }
            if let Some(path) = &args.summary_to {
                crate::fsio::open_append(path).map_err(|e| summary_error(path, &e))?;
            }
            Ok(lock)
        })();
        match result {
            Ok(lock) => Ok(Outputs {
                _lock: lock,
                created,
            }),
            Err(message) => {
                remove_empty(&created);
                Err(message)
            }
        }
    }

    /// The run stopped with an error: the folders it created go again, if still empty.
    pub fn abandon(self) {
        remove_empty(&self.created);
    }
}

/// The error line of a `--summary-to` file that cannot be appended to.
pub(super) fn summary_error(path: &Path, e: &std::io::Error) -> String {
    format!(
        "{}: cannot append the summary to it: {e} (--summary-to takes a regular file, not a link; check the path and its permissions)",
        super::terminal_path(path)
    )
}

/// The folder that holds the file `path`.
pub(super) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and any missing parent, noting each one created.
fn create(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    create_missing(dir, missing, created)
}

/// Creates the folders `missing` (deepest first) found missing on the way to `dir`; one
/// that another process created since is fine.
fn create_missing(
    dir: &Path,
    missing: Vec<PathBuf>,
    created: &mut Vec<PathBuf>,
) -> Result<(), String> {
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(&d) {
            Ok(()) => created.push(d),
            // Another run (a shard sharing the folder) created it at the same moment: it
            // is there, and it is not this run's to remove.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => {
                return Err(format!(
                    "{}: cannot create the folder: {e} (check the path and its parent's permissions; nothing was written)",
                    d.display()
                ));
            }
        }
    }
    if !dir.is_dir() {
        return Err(format!(
            "{}: not a folder (pass a directory; it is created if missing)",
            dir.display()
        ));
    }
    Ok(())
}

/// Recovers what an interrupted run left in `dir` and proves it writable. `locked`: this
/// run holds the folder's lock, so every temporary file left there is debris.
fn ready(dir: &Path, locked: bool) -> Result<(), String> {
    let recovered = crate::fsio::recover(dir).map_err(|e| e.to_string())?;
    if recovered.rolled_back > 0 {
        eprintln!(
            "keyhygiene: {}: a run was interrupted while it replaced its files: its {} file(s) were put back as they were before it",
            crate::text::for_terminal(&dir.display().to_string()),
            recovered.files
        );
    }
    if recovered.finished > 0 {
        eprintln!(
            "keyhygiene: {}: a run was interrupted after its files were in place: its clean-up was finished",
            crate::text::for_terminal(&dir.display().to_string())
        );
    }
    let age = if locked {
        Duration::ZERO
    } else {
        SHARED_DEBRIS_AGE
    };
    crate::fsio::clean_debris(dir, locked, age);
    tempfile::Builder::new()
        .prefix(crate::fsio::commit::STAGED_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            format!(
                "{}: cannot write in this folder: {e} (check its permissions and free space; nothing was written)",
                dir.display()
            )
        })
}

fn remove_empty(created: &[PathBuf]) {
    use crate::fsio::lock::{INFO_FILE, LOCK_FILE};
    for dir in created.iter().rev() {
        // The lock's files are this run's own in a folder it created.
        for name in [INFO_FILE, LOCK_FILE] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        // Only an empty folder is removed.
        let _ = std::fs::remove_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three shards sharing a saved folder start at once: each finds the folder missing,
    /// and one creates it before another does. The others go on, and do not count it as
    /// theirs (they would remove it on an error).
    #[test]
    fn a_folder_another_run_created_meanwhile_is_used_not_refused() {
        let root = tempfile::tempdir().unwrap();
        let shared = root.path().join("a").join("shared");
        let missing = vec![shared.clone(), root.path().join("a")];
        std::fs::create_dir_all(&shared).unwrap();
        let mut created = Vec::new();
        create_missing(&shared, missing, &mut created).unwrap();
        assert!(created.is_empty(), "{created:?}");
        // A file in the way is still refused.
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = create_missing(&file, vec![file.clone()], &mut created).unwrap_err();
        assert!(err.contains("cannot create the folder"), "{err}");
    }
}
