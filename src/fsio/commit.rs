//! Committing a run's files: all of them or none, across every folder the run writes,
//! whatever happens to the process.
//!
//! A [`FileSet`] stages the files of one folder: each is written to a temporary file
//! created exclusively under an unpredictable name (`.keyhygiene-*.tmp`; a planted symlink
//! is never followed) and flushed to disk. [`commit`] then swaps the staged files of
//! several folders in as one change:
//!
//! 1. a journal is written into each folder (`.keyhygiene-commit-<id>.json`, the first
//!    folder's first: it is the transaction's commit point), naming every file to replace,
//!    create or remove and the name its previous version will take;
//! 2. each file's previous version gets a hard link (`.keyhygiene-previous-*`), then the
//!    staged file is renamed over it (a removed file is renamed to its backup);
//! 3. the first folder's journal is removed: from that instant the new files are the run's;
//!    then the other journals and the backups are removed.
//!
//! If anything fails before the commit point (a rename, a full disk, SIGINT or SIGTERM),
//! every file is put back from its backup, and the folders hold their previous files. If
//! the process dies instead (SIGKILL, a power loss), the journals stay: the next run that
//! writes one of these folders calls [`recover`] first, which puts the previous files back
//! (before the commit point) or finishes the clean-up (after it). A journal is locked
//! (`flock`) by the run that writes it, so a recovery never touches a live commit.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tempfile::{Builder, NamedTempFile};

use super::{WriteError, interrupt, write_error};

/// The prefix of every temporary file keyhygiene stages.
pub const STAGED_PREFIX: &str = ".keyhygiene-";
/// The prefix of the hard links that keep a replaced file until the commit is done.
pub const BACKUP_PREFIX: &str = ".keyhygiene-previous-";
/// The prefix of a commit's journal.
pub const JOURNAL_PREFIX: &str = ".keyhygiene-commit-";

/// Files written together into one directory and committed together ([`commit`], or
/// [`FileSet::commit`] for this folder alone). Dropping a set that was not committed
/// removes its temporary files and changes nothing.
pub struct FileSet {
    dir: PathBuf,
    staged: Vec<Staged>,
    removals: Vec<String>,
}

/// A staged file: its final name and its temporary file.
struct Staged {
    name: String,
    tmp: Option<NamedTempFile>,
    /// The file must not exist yet (a history record): the commit fails rather than
    /// replace one.
    new: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            interrupt::unstaged(tmp.path());
        }
    }
}

impl FileSet {
    /// A set of files for `dir`, which is created if needed.
    pub fn new(dir: &Path) -> Result<FileSet, WriteError> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::create_dir_all(dir).map_err(write_error(dir))?;
        Ok(FileSet {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
            removals: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of the files staged so far, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.staged.iter().map(|s| s.name.as_str())
    }

    /// Writes the file `name` of the set into a fresh temporary file in the directory.
    /// Nothing is visible under `name` until the set is committed; a file of that name is
    /// replaced then.
    pub fn stage(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), WriteError> {
        self.stage_file(name, false, write)
    }

    /// [`FileSet::stage`] for a file that must not exist yet: the commit fails rather than
    /// replace one.
    pub fn stage_new(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), WriteError> {
        self.stage_file(name, true, write)
    }

    fn stage_file(
        &mut self,
        name: &str,
        new: bool,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), WriteError> {
        let target = self.dir.join(name);
        let mut tmp = Builder::new()
            .prefix(STAGED_PREFIX)
            .suffix(".tmp")
            // The mode a plain create would give (umask applies), not tempfile's 0600: the
            // reports are meant to be read by whoever reads the directory.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(&self.dir)
            .map_err(write_error(&target))?;
        interrupt::staged(tmp.path().to_path_buf());
        let written = (|| {
            let mut out = io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
            write(&mut out).and_then(|()| out.flush())?;
            drop(out);
            tmp.as_file().sync_all()
        })();
        // Forgotten by the signal handler when dropped (and removed, if not committed).
        let staged = Staged {
            name: name.to_string(),
            tmp: Some(tmp),
            new,
        };
        written.map_err(write_error(&target))?;
        self.staged.push(staged);
        Ok(())
    }

    /// Calls `read` with the staged content of `name`, in chunks (to sign a staged file).
    pub fn read_staged(&self, name: &str, mut read: impl FnMut(&[u8])) -> io::Result<()> {
        use std::io::Read;
        let staged = self
            .staged
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.tmp.as_ref())
            .ok_or_else(|| io::Error::other(format!("{name} is not staged")))?;
        let mut file = File::open(staged.path())?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            read(&buf[..n]);
        }
    }

    /// Removes the file `name` with the commit (an earlier run's file this run replaces
    /// with nothing); nothing happens if there is no such file then.
    pub fn remove(&mut self, name: &str) {
        self.removals.push(name.to_string());
    }

    /// Commits this folder's files alone; see [`commit`].
    pub fn commit(self) -> Result<Vec<PathBuf>, WriteError> {
        commit(vec![self])
    }
}

/// What one journal entry does to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Action {
    /// Renamed over an existing file, whose previous version is the backup.
    Replace,
    /// A file that did not exist.
    Create,
    /// An existing file, moved to the backup.
    Remove,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    action: Action,
    /// The staged temporary file (replace, create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    staged: Option<String>,
    /// The previous version's name while the commit runs (replace, remove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// A journal, as written into each folder of a commit.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    keyhygiene_commit: u32,
    /// The first folder's journal: the commit point.
    primary: PathBuf,
    /// The other folders' journals (in the primary journal).
    #[serde(default)]
    others: Vec<PathBuf>,
    entries: Vec<Entry>,
}

const JOURNAL_VERSION: u32 = 1;

/// One folder of a commit, under way.
struct Folder {
    dir: PathBuf,
    staged: Vec<Staged>,
    entries: Vec<Entry>,
    journal: Option<(PathBuf, File)>,
    /// Entries applied so far (their renames done).
    applied: usize,
}

/// Commits the staged files of `sets` as one change (see the module's documentation):
/// when it returns `Ok`, every file is in place; when it returns `Err`, every folder holds
/// its previous files. Returns the paths written, in order.
pub fn commit(sets: Vec<FileSet>) -> Result<Vec<PathBuf>, WriteError> {
    interrupt::committing(true);
    let result = commit_inner(sets);
    interrupt::committing(false);
    if let Some(signal) = interrupt::received() {
        // The files are as the result says (all new or all previous): end as asked.
        interrupt::exit_for(signal);
    }
    result
}

fn commit_inner(sets: Vec<FileSet>) -> Result<Vec<PathBuf>, WriteError> {
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let mut folders: Vec<Folder> = Vec::new();
    for set in sets {
        let FileSet {
            dir,
            staged,
            removals,
        } = set;
        let mut entries = Vec::new();
        for s in &staged {
            let target = dir.join(&s.name);
            let exists = std::fs::symlink_metadata(&target).is_ok();
            if exists && s.new {
                return Err(WriteError {
                    path: target.display().to_string(),
                    source: io::Error::new(io::ErrorKind::AlreadyExists, "the file exists"),
                });
            }
            if std::fs::metadata(&target).is_ok_and(|m| m.is_dir()) {
                return Err(WriteError {
                    path: target.display().to_string(),
                    source: io::Error::new(
                        io::ErrorKind::IsADirectory,
                        "a directory is in the way",
                    ),
                });
            }
            let staged_name = s
                .tmp
                .as_ref()
                .and_then(|t| t.path().file_name())
                .map(|n| n.to_string_lossy().into_owned());
            entries.push(Entry {
                name: s.name.clone(),
                action: if exists {
                    Action::Replace
                } else {
                    Action::Create
                },
                staged: staged_name,
                backup: exists.then(backup_name),
            });
        }
        for name in removals {
            if std::fs::symlink_metadata(dir.join(&name)).is_ok()
                && !entries.iter().any(|e| e.name == name)
            {
                entries.push(Entry {
                    name,
                    action: Action::Remove,
                    staged: None,
                    backup: Some(backup_name()),
                });
            }
        }
        folders.push(Folder {
            dir,
            staged,
            entries,
            journal: None,
            applied: 0,
        });
    }
    if let Some(signal) = interrupt::received() {
        drop(folders);
        interrupt::exit_for(signal);
    }
    // 1. The journals: the primary (first) folder's first.
    let ids: Vec<String> = folders.iter().map(|_| journal_name()).collect();
    let paths: Vec<PathBuf> = folders
        .iter()
        .zip(&ids)
        .map(|(f, id)| absolute(&f.dir).join(id))
        .collect();
    let primary = paths[0].clone();
    for (i, folder) in folders.iter_mut().enumerate() {
        let journal = Journal {
            keyhygiene_commit: JOURNAL_VERSION,
            primary: primary.clone(),
            others: if i == 0 {
                paths[1..].to_vec()
            } else {
                Vec::new()
            },
            entries: folder.entries.clone(),
        };
        match write_journal(&folder.dir, &ids[i], &journal) {
            Ok(file) => folder.journal = Some((folder.dir.join(&ids[i]), file)),
            Err(e) => {
                roll_back(&mut folders);
                return Err(e);
            }
        }
    }
    // 2. The swap, file by file.
    for i in 0..folders.len() {
        while folders[i].applied < folders[i].entries.len() {
            let folder = &folders[i];
            let entry = &folder.entries[folder.applied];
            if let Err(e) = apply(&folder.dir, entry) {
                roll_back(&mut folders);
                return Err(e);
            }
            folders[i].applied += 1;
            test_pause();
            #[cfg(test)]
            if tests::crash_now(folders.iter().map(|f| f.applied).sum()) {
                return Err(tests::crashed(folders));
            }
            if let Some(signal) = interrupt::received() {
                roll_back(&mut folders);
                interrupt::exit_for(signal);
            }
        }
    }
    for folder in &folders {
        sync_dir(&folder.dir);
    }
    // 3. The commit point: the primary journal goes (while still locked).
    let (primary_path, primary_lock) = folders[0].journal.take().expect("the primary journal");
    if let Err(source) = std::fs::remove_file(&primary_path) {
        folders[0].journal = Some((primary_path, primary_lock));
        roll_back(&mut folders);
        return Err(WriteError {
            path: folders[0].dir.display().to_string(),
            source,
        });
    }
    drop(primary_lock);
    sync_dir(&folders[0].dir);
    #[cfg(test)]
    if tests::crash_after_commit_point() {
        return Err(tests::crashed(folders));
    }
    let mut written = Vec::new();
    for mut folder in folders {
        if let Some((path, _)) = folder.journal.take() {
            let _ = std::fs::remove_file(path);
        }
        for entry in &folder.entries {
            if let Some(backup) = &entry.backup {
                let _ = std::fs::remove_file(folder.dir.join(backup));
            }
            if entry.action != Action::Remove {
                written.push(folder.dir.join(&entry.name));
            }
        }
        for s in &mut folder.staged {
            // Renamed away: nothing left to remove.
            if let Some(tmp) = s.tmp.take() {
                interrupt::unstaged(tmp.path());
                let _ = tmp.into_temp_path().keep();
            }
        }
    }
    Ok(written)
}

/// One entry's change.
fn apply(dir: &Path, entry: &Entry) -> Result<(), WriteError> {
    let target = dir.join(&entry.name);
    let fail = |source| WriteError {
        path: target.display().to_string(),
        source,
    };
    match entry.action {
        Action::Replace => {
            let backup = dir.join(entry.backup.as_deref().expect("a replace has a backup"));
            std::fs::hard_link(&target, &backup).map_err(fail)?;
            let staged = dir.join(entry.staged.as_deref().expect("a staged file"));
            std::fs::rename(staged, &target).map_err(fail)
        }
        Action::Create => {
            // Never over a file that appeared meanwhile: link, then drop the staged name.
            let staged = dir.join(entry.staged.as_deref().expect("a staged file"));
            std::fs::hard_link(&staged, &target).map_err(fail)?;
            let _ = std::fs::remove_file(staged);
            Ok(())
        }
        Action::Remove => {
            let backup = dir.join(entry.backup.as_deref().expect("a remove has a backup"));
            std::fs::rename(&target, backup).map_err(fail)
        }
    }
}

/// Undoes the entries applied so far, newest first, and removes the journals.
fn roll_back(folders: &mut [Folder]) {
    for folder in folders.iter_mut().rev() {
        for entry in folder.entries[..folder.applied].iter().rev() {
            undo(&folder.dir, entry);
        }
        folder.applied = 0;
    }
    for folder in folders.iter_mut() {
        sync_dir(&folder.dir);
    }
    // The primary journal last: until it goes, a recovery would roll back the others too.
    for folder in folders.iter_mut().rev() {
        if let Some((path, _)) = folder.journal.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Puts one entry's file back as it was before the commit. Safe to repeat, and safe on an
/// entry whose change was only partly made (a recovery does not know how far it got).
fn undo(dir: &Path, entry: &Entry) {
    let target = dir.join(&entry.name);
    let result = match entry.action {
        Action::Replace | Action::Remove => {
            let backup = dir.join(entry.backup.as_deref().unwrap_or_default());
            if std::fs::symlink_metadata(&backup).is_err() {
                Ok(())
            } else if same_file(&backup, &target) {
                // Linked, not yet replaced: the target is the previous file already (a
                // rename between two links of one file would leave both names).
                std::fs::remove_file(&backup)
            } else {
                std::fs::rename(&backup, &target)
            }
        }
        Action::Create => {
            let staged = entry.staged.as_deref().map(|s| dir.join(s));
            match staged {
                // Not linked yet, or linked and its staged name still there.
                Some(staged) if std::fs::symlink_metadata(&staged).is_ok() => {
                    let linked = same_file(&staged, &target);
                    let _ = std::fs::remove_file(&staged);
                    if linked {
                        std::fs::remove_file(&target)
                    } else {
                        Ok(())
                    }
                }
                // Linked and its staged name gone: the file at the target is this commit's.
                _ => match std::fs::remove_file(&target) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    other => other,
                },
            }
        }
    };
    if let Err(e) = result {
        tracing::warn!(
            "{}: could not put the previous file back: {e}",
            target.display()
        );
    }
    if let Some(staged) = &entry.staged {
        let _ = std::fs::remove_file(dir.join(staged));
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `path` still names the file open as `file`.
fn same_file_handle(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn backup_name() -> String {
    format!("{BACKUP_PREFIX}{}", random_part())
}

fn journal_name() -> String {
    format!("{JOURNAL_PREFIX}{}.json", random_part())
}

/// 16 random hex digits (the process, the clock and a counter, hashed).
fn random_part() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{}:{nanos}:{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    crate::ident::hex(&Sha256::digest(seed.as_bytes())[..8])
}

fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Writes a journal and locks it for as long as the commit runs: it is written and locked
/// under a temporary name first (created exclusively, never through a link), then linked
/// under its own name, so a recovery never sees a journal half-written or not yet locked.
fn write_journal(dir: &Path, name: &str, journal: &Journal) -> Result<File, WriteError> {
    let path = dir.join(name);
    let fail = |e| write_error(&path)(e);
    let tmp = Builder::new()
        .prefix(STAGED_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    let (mut file, tmp_path) = tmp.into_parts();
    // SAFETY: flock on a descriptor this function owns; a fresh file is never contended.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    serde_json::to_writer(&mut file, journal)
        .map_err(io::Error::other)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&tmp_path, &path))
        .map_err(fail)?;
    // The temporary name goes with `tmp_path`; the lock stays with the file.
    drop(tmp_path);
    sync_dir(dir);
    Ok(file)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A test hook (debug builds only): `KEYHYGIENE_TEST_COMMIT_PAUSE_MS` pauses after each
/// file of a commit, so a test can stop the process half-way, deterministically.
fn test_pause() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("KEYHYGIENE_TEST_COMMIT_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("keyhygiene: test: committing, paused {ms} ms");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// What [`recover`] found and did in a folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Interrupted commits whose previous files were put back.
    pub rolled_back: usize,
    /// Commits that had reached their commit point, whose clean-up was finished.
    pub finished: usize,
    /// Files put back or cleaned up.
    pub files: usize,
}

/// Finishes what an interrupted run left in `dir`: each journal whose run is gone (its lock
/// is free) is rolled back, if its commit point was not reached (its primary journal is
/// still there), or finished. Journals are hostile input: an entry that names anything
/// but a plain file of this folder is refused.
pub fn recover(dir: &Path) -> Result<Recovered, WriteError> {
    let mut done = Recovered::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(done);
    };
    let mut journals: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(JOURNAL_PREFIX) && n.ends_with(".json"))
        })
        .collect();
    journals.sort();
    for path in journals {
        let Some((journal, _lock)) = open_journal(&path)? else {
            continue;
        };
        let is_primary = absolute(dir).join(path.file_name().expect("a name")) == journal.primary;
        let committed = !is_primary && std::fs::symlink_metadata(&journal.primary).is_err();
        if committed {
            for entry in &journal.entries {
                if let Some(backup) = &entry.backup {
                    let _ = std::fs::remove_file(dir.join(backup));
                }
            }
            done.finished += 1;
        } else {
            // Rolled back in the order a live commit would: the others, then this one.
            if is_primary {
                for other in &journal.others {
                    if let Some((theirs, _lock)) = open_journal(other)? {
                        let their_dir = other.parent().unwrap_or(Path::new("."));
                        for entry in theirs.entries.iter().rev() {
                            undo(their_dir, entry);
                        }
                        done.files += theirs.entries.len();
                        let _ = std::fs::remove_file(other);
                    }
                }
            } else if let Some((_, _primary_lock)) = open_journal(&journal.primary)? {
                // The commit's owner is gone; the primary journal's folder is rolled back
                // by whichever run recovers it.
            } else if std::fs::symlink_metadata(&journal.primary).is_ok() {
                // The primary journal is locked: its commit is alive.
                continue;
            }
            for entry in journal.entries.iter().rev() {
                undo(dir, entry);
            }
            done.rolled_back += 1;
        }
        done.files += journal.entries.len();
        sync_dir(dir);
        std::fs::remove_file(&path).map_err(write_error(&path))?;
        sync_dir(dir);
    }
    Ok(done)
}

/// A journal, locked, when its commit is not alive; `None` when it is (or is gone).
fn open_journal(path: &Path) -> Result<Option<(Journal, File)>, WriteError> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(write_error(path)(e)),
    };
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Ok(None);
    }
    // Its owner may have removed it (and released it) between the open and the lock: a
    // journal no longer under its name is a finished commit's.
    if !same_file_handle(&file, path) {
        return Ok(None);
    }
    let bytes =
        super::read_limited_in_dir(path, "commit journal", 16 * 1024 * 1024).map_err(|e| {
            WriteError {
                path: path.display().to_string(),
                source: io::Error::other(e.to_string()),
            }
        })?;
    let journal: Journal = serde_json::from_slice(&bytes)
        .ok()
        .filter(|j: &Journal| j.keyhygiene_commit == JOURNAL_VERSION && j.entries.iter().all(plain))
        .ok_or_else(|| WriteError {
            path: path.display().to_string(),
            source: io::Error::other(
                "not a keyhygiene commit journal (remove it if nothing of yours is half-written in this folder)",
            ),
        })?;
    Ok(Some((journal, file)))
}

/// Whether an entry names only plain files of its folder: no path, no parent, and
/// temporary names of keyhygiene's own shapes.
fn plain(entry: &Entry) -> bool {
    let file = |n: &str| !n.is_empty() && !n.contains('/') && n != "." && n != "..";
    file(&entry.name)
        && entry
            .staged
            .as_deref()
            .is_none_or(|s| file(s) && s.starts_with(STAGED_PREFIX))
        && entry
            .backup
            .as_deref()
            .is_none_or(|b| file(b) && b.starts_with(BACKUP_PREFIX))
}

/// Removes temporary files and backups an interrupted run left in `dir`: all of them in a
/// folder this run holds the lock of (`all`), else those not changed for `older_than`
/// (another run may be staging in a shared folder right now).
pub fn clean_debris(dir: &Path, all: bool, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let debris = (name.starts_with(STAGED_PREFIX) && name.ends_with(".tmp"))
            || name.starts_with(BACKUP_PREFIX);
        if !debris || name.starts_with(JOURNAL_PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= older_than);
        if (all || old) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests;
