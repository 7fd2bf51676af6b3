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
//! unpredictable name in the target directory, then renamed over the target. A run's files
//! are committed together, across folders, all or none ([`commit`]); an output folder is
//! written by one run at a time ([`lock`]); SIGINT and SIGTERM roll a run back
//! ([`interrupt`]).

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub mod commit;
pub mod interrupt;
pub mod lock;

pub use commit::{FileSet, clean_debris, recover};

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

/// Opens `path` to append to it, as a CI job's summary file is written
/// (`$GITHUB_STEP_SUMMARY`): created if missing (mode 0644), never through a symbolic link
/// (`O_NOFOLLOW`), and only if it is a regular file (a FIFO or a device is refused without
/// blocking).
pub fn open_append(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Writes a new file atomically; fails, changing nothing, if `path` already exists.
pub fn write_new(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let (dir, name) = split(path)?;
    let mut set = FileSet::new(dir)?;
    set.stage_new(name, write)?;
    set.commit().map(|_| ())
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
