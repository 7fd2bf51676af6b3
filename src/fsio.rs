//! Reading input files and writing output files, safely.
//!
//! Every file keyhygiene reads may be hostile: huge, endless (`/dev/zero`), a FIFO that
//! never delivers, a symbolic link planted in a folder to lead elsewhere. [`read_limited`]
//! reads only regular files, up to a documented size; [`read_limited_in_dir`] also refuses
//! a symbolic link, for the files keyhygiene finds inside a folder it was given.
//!
//! Every directory keyhygiene writes to may be shared (a cron job's output folder). Files are
//! never opened by a predictable name: each is written to a temporary file created
//! exclusively (`O_CREAT|O_EXCL`, so a planted symlink is never followed) under an
//! unpredictable name in the target directory, then renamed over the target. A
//! [`FileSet`] swaps several files in together: all of them are written first, and if one
//! cannot be moved into place, the ones already moved are put back as they were.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::{Builder, NamedTempFile};

/// The largest saved inventory or credential report keyhygiene reads: far above any real
/// account (IAM allows 5,000 users per account; such an inventory is about 10 MiB), and
/// enough for a 100,000-row credential report.
pub const MAX_DATA_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The largest policy file keyhygiene reads (100,000 suppressions take about 15 MiB).
pub const MAX_POLICY_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// An input file that could not be read. Displays as one line naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "{file}: cannot read the {what}: {source} (check the path and that the file is readable)"
    )]
    Io {
        file: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "{file}: the {what} is {kind}, not a regular file (save it to a regular file first and pass that)"
    )]
    NotRegular {
        file: String,
        what: &'static str,
        kind: &'static str,
    },
    #[error(
        "{file}: the {what} is a symbolic link; inside a folder keyhygiene reads only the folder's own regular files (replace the link with the file it points to)"
    )]
    Link { file: String, what: &'static str },
    #[error(
        "{file}: the {what} is larger than {limit_mib} MiB, the most keyhygiene reads (is it the right file?)"
    )]
    TooLarge {
        file: String,
        what: &'static str,
        limit_mib: u64,
    },
}

/// Reads the whole of `path`, which must be a regular file of at most `limit` bytes.
/// `what` names the file's role in messages ("saved inventory", "policy file").
///
/// The file is opened without blocking (a FIFO would otherwise block the open itself) and
/// checked through the open handle, so it cannot be swapped between the check and the read.
pub fn read_limited(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_opened(path, what, limit, Follow::Links)
}

/// [`read_limited`] for a file found inside a folder: a symbolic link there is refused, not
/// followed (`O_NOFOLLOW`), so a link planted in a shared folder cannot lead the read to a
/// file outside it.
pub fn read_limited_in_dir(
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    read_opened(path, what, limit, Follow::NoLinks)
}

/// Whether a read follows a symbolic link at the path itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// A path the user gave: it may be a link.
    Links,
    /// A file found inside a folder: a link is refused.
    NoLinks,
}

fn read_opened(
    path: &Path,
    what: &'static str,
    limit: u64,
    follow: Follow,
) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_regular(path, what, follow)?;
    let file_name = path.display().to_string();
    let io_error = |source| ReadError::Io {
        file: file_name.clone(),
        what,
        source,
    };
    let too_large = || ReadError::TooLarge {
        file: file_name.clone(),
        what,
        limit_mib: limit / (1024 * 1024),
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: never read past the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The first `n` bytes of a regular file found inside a folder (all of it when shorter),
/// with the checks of [`read_limited_in_dir`]: for a header that sits at the start of a
/// larger document.
pub fn read_prefix_in_dir(path: &Path, what: &'static str, n: u64) -> Result<Vec<u8>, ReadError> {
    let (file, _) = open_regular(path, what, Follow::NoLinks)?;
    let mut bytes = Vec::new();
    file.take(n)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            file: path.display().to_string(),
            what,
            source,
        })?;
    Ok(bytes)
}

/// Opens `path` for reading without blocking (a FIFO never stalls the open) and refuses
/// anything but a regular file (and, with [`Follow::NoLinks`], a symbolic link).
fn open_regular(
    path: &Path,
    what: &'static str,
    follow: Follow,
) -> Result<(std::fs::File, std::fs::Metadata), ReadError> {
    let file_name = path.display().to_string();
    let io_error = |source| ReadError::Io {
        file: file_name.clone(),
        what,
        source,
    };
    let flags = match follow {
        Follow::Links => libc::O_NONBLOCK,
        Follow::NoLinks => libc::O_NONBLOCK | libc::O_NOFOLLOW,
    };
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(file) => file,
        // O_NOFOLLOW fails with ELOOP on a link.
        Err(e) if follow == Follow::NoLinks && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ReadError::Link {
                file: file_name,
                what,
            });
        }
        Err(e) => return Err(io_error(e)),
    };
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            file: file_name,
            what,
            kind: file_kind(&meta.file_type()),
        });
    }
    Ok((file, meta))
}

/// [`read_limited`] for text: invalid UTF-8 is an error naming the file. A leading UTF-8
/// byte-order mark (as Notepad, PowerShell and Excel write one) is dropped.
pub fn read_limited_text(path: &Path, what: &'static str, limit: u64) -> Result<String, ReadError> {
    text(path, what, read_limited(path, what, limit)?)
}

/// [`read_limited_in_dir`] for text, as [`read_limited_text`].
pub fn read_limited_text_in_dir(
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<String, ReadError> {
    text(path, what, read_limited_in_dir(path, what, limit)?)
}

/// The bytes without a leading byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

fn text(path: &Path, what: &'static str, mut bytes: Vec<u8>) -> Result<String, ReadError> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| ReadError::Io {
        file: path.display().to_string(),
        what,
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ),
    })
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// A file that could not be written. Displays as one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}")]
pub struct WriteError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

fn write_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.display().to_string(),
        source,
    }
}

/// Files written together into one directory and swapped in together ([`FileSet::commit`]).
/// Dropping a set that was not committed removes its temporary files and changes nothing.
pub struct FileSet {
    dir: PathBuf,
    staged: Vec<(PathBuf, NamedTempFile)>,
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
        })
    }

    /// Writes the file `name` of the set into a fresh temporary file in the directory.
    /// Nothing is visible under `name` until [`FileSet::commit`].
    pub fn stage(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), WriteError> {
        let target = self.dir.join(name);
        let mut tmp = Builder::new()
            .prefix(".keyhygiene-")
            .suffix(".tmp")
            // The mode a plain create would give (umask applies), not tempfile's 0600: the
            // reports are meant to be read by whoever reads the directory.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(&self.dir)
            .map_err(write_error(&target))?;
        {
            let mut out = io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
            write(&mut out)
                .and_then(|()| out.flush())
                .map_err(write_error(&target))?;
        }
        tmp.as_file().sync_all().map_err(write_error(&target))?;
        self.staged.push((target, tmp));
        Ok(())
    }

    /// Moves every staged file over its target and returns the targets' paths. If one
    /// cannot be moved, the files already moved are put back as they were (or removed, if
    /// they did not exist before), so the directory keeps its previous set.
    pub fn commit(self) -> Result<Vec<PathBuf>, WriteError> {
        let dir = self.dir;
        let mut done: Vec<(PathBuf, Option<tempfile::TempPath>)> = Vec::new();
        for (target, tmp) in self.staged {
            let swapped = backup(&dir, &target)
                .and_then(|saved| tmp.persist(&target).map(|_| saved).map_err(|e| e.error));
            match swapped {
                Ok(saved) => done.push((target, saved)),
                Err(source) => {
                    restore(done);
                    return Err(WriteError {
                        path: target.display().to_string(),
                        source,
                    });
                }
            }
        }
        // The backups delete themselves when dropped.
        Ok(done.into_iter().map(|(target, _)| target).collect())
    }
}

/// A hard link to the file now at `target`, under an unpredictable name, so it can be put
/// back; `None` when there is no file there yet.
fn backup(dir: &Path, target: &Path) -> io::Result<Option<tempfile::TempPath>> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "a directory is in the way",
        )),
        Ok(_) => Builder::new()
            .prefix(".keyhygiene-previous-")
            .make_in(dir, |path| std::fs::hard_link(target, path))
            .map(|linked| Some(linked.into_temp_path())),
    }
}

/// Puts back the files of a partly committed set, newest first.
fn restore(done: Vec<(PathBuf, Option<tempfile::TempPath>)>) {
    for (target, saved) in done.into_iter().rev() {
        let restored = match saved {
            Some(saved) => std::fs::rename(&saved, &target).map(|()| {
                // Renamed away: nothing left to delete.
                let _ = saved.keep();
            }),
            None => std::fs::remove_file(&target),
        };
        if let Err(e) = restored {
            tracing::warn!(
                "{}: could not restore the previous file: {e}",
                target.display()
            );
        }
    }
}

/// Writes one file atomically through the same mechanism as [`FileSet`].
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, WriteError> {
    let (dir, name) = split(path)?;
    let mut set = FileSet::new(dir)?;
    set.stage(name, write)?;
    Ok(set.commit()?.remove(0))
}

/// Writes a new file atomically; fails, changing nothing, if `path` already exists.
pub fn write_new(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let (dir, name) = split(path)?;
    let mut set = FileSet::new(dir)?;
    set.stage(name, write)?;
    let (target, tmp) = set.staged.pop().expect("one staged file");
    tmp.persist_noclobber(&target)
        .map(|_| ())
        .map_err(|e| WriteError {
            path: target.display().to_string(),
            source: e.error,
        })
}

fn split(path: &Path) -> Result<(&Path, &str), WriteError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| WriteError {
            path: path.display().to_string(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        })?;
    Ok((path.parent().unwrap_or(Path::new("")), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for name in [".report.html.tmp", "report.html.tmp"] {
            std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
        }
        write_atomic(&out.join("report.html"), |w| w.write_all(b"<html>")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(out.join("report.html")).unwrap(),
            "<html>"
        );
    }

    #[test]
    fn a_set_that_cannot_be_swapped_in_leaves_the_previous_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "old a").unwrap();
        // "c.txt" cannot be replaced: a directory is in its way.
        std::fs::create_dir(dir.path().join("c.txt")).unwrap();
        let mut set = FileSet::new(dir.path()).unwrap();
        for name in ["a.txt", "b.txt", "c.txt"] {
            set.stage(name, |w| w.write_all(b"new")).unwrap();
        }
        let err = set.commit().unwrap_err();
        assert!(err.path.ends_with("c.txt"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "old a"
        );
        assert!(!dir.path().join("b.txt").exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["a.txt", "c.txt"], "no temporary file is left behind");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = FileSet::new(dir.path()).unwrap();
        set.stage("a.txt", |w| w.write_all(b"new")).unwrap();
        let err = set
            .stage("b.txt", |_| Err(io::Error::other("renderer failed")))
            .unwrap_err();
        assert!(err.to_string().contains("renderer failed"));
        drop(set);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyhygiene.toml");
        std::fs::write(&path, "mine").unwrap();
        assert!(write_new(&path, |w| w.write_all(b"theirs")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_limited(dir.path(), "saved inventory", 10).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
        let err = read_limited(Path::new("/dev/zero"), "saved inventory", 10).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_limited(&fifo, "policy file", 10).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        let err = read_limited(&big, "policy file", 10).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
        std::fs::write(&big, [b'x'; 10]).unwrap();
        assert_eq!(read_limited(&big, "policy file", 10).unwrap().len(), 10);
    }

    #[test]
    fn a_link_inside_a_folder_is_refused_and_a_given_link_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.json");
        std::fs::write(&outside, "{}").unwrap();
        let folder = dir.path().join("saved");
        std::fs::create_dir(&folder).unwrap();
        let link = folder.join("account-111111111111.json");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let err = read_limited_in_dir(&link, "saved inventory", 10).unwrap_err();
        assert!(matches!(err, ReadError::Link { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A path the user names may be a link.
        assert_eq!(read_limited(&link, "saved inventory", 10).unwrap(), b"{}");
        // A link to a FIFO inside a folder is refused as a link, never opened.
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let to_fifo = folder.join("manifest.json");
        std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
        assert!(matches!(
            read_limited_in_dir(&to_fifo, "manifest", 10),
            Err(ReadError::Link { .. })
        ));
    }

    #[test]
    fn a_byte_order_mark_is_dropped_from_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.txt");
        std::fs::write(&path, b"\xef\xbb\xbf111122223333\r\n").unwrap();
        assert_eq!(
            read_limited_text(&path, "accounts file", 100).unwrap(),
            "111122223333\r\n"
        );
        assert_eq!(strip_bom(b"\xef\xbb\xbfuser,arn"), b"user,arn");
        assert_eq!(strip_bom(b"user,arn"), b"user,arn");
    }
}
