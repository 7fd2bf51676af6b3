//! One run at a time in an output folder.
//!
//! Two runs writing one `--out-dir` at once would mix their report sets. A run takes the
//! folder's lock before it writes anything there and holds it until it ends, however it
//! ends (the lock is the kernel's, `flock`, released with the process). The lock file,
//! `.keyhygiene-lock`, is opened without following a link and created if missing, never
//! truncated and never written: a file planted under its name is not changed. Who holds
//! the lock is written to `.keyhygiene-lock.info` (through a temporary file, like every
//! other file), so a run that finds the folder busy can say which run has it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::WriteError;

/// The lock file's name in the folder.
pub const LOCK_FILE: &str = ".keyhygiene-lock";
/// Who holds the lock: `pid N since T`.
pub const INFO_FILE: &str = ".keyhygiene-lock.info";

/// A held lock on a folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    dir: PathBuf,
}

impl FolderLock {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Why a folder's lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: is being written by another run ({holder}); wait for it to end, or pass --wait-lock DURATION to wait"
    )]
    Busy { dir: String, holder: String },
    #[error(transparent)]
    Io(#[from] WriteError),
}

/// Takes `dir`'s lock, waiting up to `wait` for another run to release it.
pub fn lock(dir: &Path, wait: Duration) -> Result<FolderLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source: std::io::Error| {
        LockError::Io(WriteError {
            path: path.display().to_string(),
            source,
        })
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(io(std::io::Error::other(
            "the lock file is not a regular file",
        )));
    }
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if taken {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io(error));
        }
        if Instant::now() >= deadline {
            return Err(LockError::Busy {
                dir: dir.display().to_string(),
                holder: holder(dir),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let info = format!(
        "pid {} since {}\n",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    super::write_atomic(&dir.join(INFO_FILE), |out| out.write_all(info.as_bytes()))
        .map_err(LockError::Io)?;
    Ok(FolderLock {
        _file: file,
        dir: dir.to_path_buf(),
    })
}

/// Who holds `dir`'s lock, as its info file says.
fn holder(dir: &Path) -> String {
    super::read_limited_in_dir(&dir.join(INFO_FILE), "lock information", 256)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|t| crate::text::shown(t.trim(), 80))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "pid unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_folder_is_refused_then_taken_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path(), Duration::ZERO).unwrap();
        let err = lock(dir.path(), Duration::from_millis(250)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("is being written by another run (pid "),
            "{text}"
        );
        assert!(
            text.contains(&format!("pid {} since ", std::process::id())),
            "{text}"
        );
        drop(first);
        lock(dir.path(), Duration::ZERO).unwrap();
    }

    #[test]
    fn a_planted_lock_file_is_neither_followed_nor_changed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(LOCK_FILE)).unwrap();
        assert!(lock(&out, Duration::ZERO).is_err());
        std::fs::remove_file(out.join(LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(INFO_FILE)).unwrap();
        let held = lock(&out, Duration::ZERO).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            std::fs::symlink_metadata(out.join(INFO_FILE))
                .unwrap()
                .file_type()
                .is_file()
        );
        drop(held);
    }
}
