//! A spill file: pieces of bytes written once under a key and read back later, so that an
//! organization run holds a finished account's rows on disk instead of in memory.
//!
//! The file has no name (it is unlinked from the start, in the system's temporary
//! directory), so no other process can open it, nothing predictable is created in a shared
//! directory, and nothing is left behind when the run ends, however it ends.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Separates the items of one piece ([`Spill::append_item`]). JSON text never holds it raw
/// (control characters inside strings are escaped) and CSV rows are written whole.
const ITEM_SEPARATOR: u8 = 0x1e;

pub struct Spill {
    file: File,
    /// Each key's pieces: (offset, length), in the order they were written.
    pieces: HashMap<String, Vec<(u64, u64)>>,
    end: u64,
}

impl Spill {
    pub fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: tempfile::tempfile()?,
            pieces: HashMap::new(),
            end: 0,
        })
    }

    /// Appends `bytes` to what `key` holds.
    pub fn append(&mut self, key: &str, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(bytes)?;
        let len = bytes.len() as u64;
        self.pieces
            .entry(key.to_string())
            .or_default()
            .push((self.end, len));
        self.end += len;
        Ok(())
    }

    /// Appends one item to `key`'s list ([`Spill::items`] gives them back one by one).
    pub fn append_item(&mut self, key: &str, item: &[u8]) -> io::Result<()> {
        if item.contains(&ITEM_SEPARATOR) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an item holds the spill file's separator",
            ));
        }
        let mut bytes = Vec::with_capacity(item.len() + 1);
        bytes.extend_from_slice(item);
        bytes.push(ITEM_SEPARATOR);
        self.append(key, &bytes)
    }

    /// Everything `key` holds, in the order it was appended (empty for an unknown key).
    pub fn read(&mut self, key: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for &(offset, len) in self.pieces.get(key).map(Vec::as_slice).unwrap_or(&[]) {
            self.file.seek(SeekFrom::Start(offset))?;
            (&mut self.file).take(len).read_to_end(&mut out)?;
        }
        if out.len() as u64 != self.len_of(key) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spill file is shorter than what was written to it",
            ));
        }
        Ok(out)
    }

    /// The items appended to `key`, in order.
    pub fn items(&mut self, key: &str) -> io::Result<Vec<Vec<u8>>> {
        let bytes = self.read(key)?;
        Ok(bytes
            .split(|b| *b == ITEM_SEPARATOR)
            .filter(|item| !item.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    /// Copies what `key` holds into `out`.
    pub fn copy_to(&mut self, key: &str, out: &mut dyn Write) -> io::Result<()> {
        let bytes = self.read(key)?;
        out.write_all(&bytes)
    }

    /// Forgets `key`; its bytes stay in the file until the file goes.
    pub fn forget(&mut self, key: &str) {
        self.pieces.remove(key);
    }

    fn len_of(&self, key: &str) -> u64 {
        self.pieces
            .get(key)
            .map_or(0, |p| p.iter().map(|(_, len)| len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_come_back_by_key_in_order() {
        let mut spill = Spill::new().unwrap();
        spill.append("a", b"one,").unwrap();
        spill.append("b", b"two").unwrap();
        spill.append("a", b"three").unwrap();
        assert_eq!(spill.read("a").unwrap(), b"one,three");
        assert_eq!(spill.read("b").unwrap(), b"two");
        assert!(spill.read("c").unwrap().is_empty());
        let mut out = Vec::new();
        spill.copy_to("a", &mut out).unwrap();
        assert_eq!(out, b"one,three");
        spill.forget("a");
        assert!(spill.read("a").unwrap().is_empty());
    }

    #[test]
    fn items_come_back_one_by_one() {
        let mut spill = Spill::new().unwrap();
        spill.append_item("x", b"{\n  \"a\": 1\n}").unwrap();
        spill.append_item("y", b"[]").unwrap();
        spill.append_item("x", b"2").unwrap();
        assert_eq!(
            spill.items("x").unwrap(),
            vec![b"{\n  \"a\": 1\n}".to_vec(), b"2".to_vec()]
        );
        assert!(spill.append_item("x", &[b'a', ITEM_SEPARATOR]).is_err());
    }
}
