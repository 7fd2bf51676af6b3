//! `--history DIR`: one small record per run, the baseline of the next run and the points
//! of the trend chart.
//!
//! A record holds the run's summary and, per finding, its id, status, severity, first-seen
//! date and what it is about; never the report. Its name is
//! `<key>.<as-of, YYYYMMDDTHHMMSSZ>.<random>.json`, where the key names what the run
//! audited (`account-<id>`, `organization-<o-id>`, `accounts-<hash of the ids>`, with
//! `-credential-report` appended for runs read from a credential report), so jobs of
//! different accounts or organizations share one folder, and two runs at once never
//! write the same name. A record is a new file, committed with the run's reports; readers
//! skip names that start with `.` (temporary files) and names of other keys.
//!
//! What is read is checked ([`super::record`]), and with a key ([`HistoryKey`]) a record
//! whose signature does not verify is skipped with a warning naming it: it is never the
//! baseline nor a point of the trend (refusing the run would let whoever planted it block
//! the job). A record dated after this run's as-of is never the baseline, never counted
//! or removed by `--history-keep`, and named in one warning; after a run is recorded, only
//! the newest `--history-keep` records of its key up to its as-of are kept, its own always
//! among them.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};

use super::record::{HISTORY_SCHEMA_VERSION, RECORD_KIND, Record, SummaryRecord, parse_record};
use super::signing::{HistoryKey, split};
use super::{Baseline, Origin, TrendPoint};

/// Records kept per key by default: two years of weekly runs.
pub const DEFAULT_KEEP: usize = 104;

/// The largest history record read (a record is about 400 bytes per finding).
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// A history folder, for the runs of one key.
#[derive(Debug)]
pub struct History {
    pub dir: PathBuf,
    pub key: String,
    pub keep: usize,
    /// The key that signs and checks the records, when the folder is shared.
    pub signer: Option<HistoryKey>,
    /// The records already named in a warning (each is named once).
    warned: RefCell<BTreeSet<String>>,
}

impl History {
    pub fn new(dir: PathBuf, key: String, keep: usize, signer: Option<HistoryKey>) -> History {
        History {
            dir,
            key,
            keep,
            signer,
            warned: RefCell::default(),
        }
    }

    /// Checks `dir` before any network call: it must be a directory, or not exist yet.
    pub fn check_dir(dir: &Path) -> Result<(), String> {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(format!(
                "{}: --history needs a directory, and this is a file (pass a folder; it is created if missing)",
                dir.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!(
                "{}: cannot read the history folder: {e} (check the path and its permissions)",
                dir.display()
            )),
        }
    }

    /// The names of this key's records, oldest first (names sort by as-of time).
    fn records(&self) -> Result<Vec<String>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(format!(
                    "{}: cannot list the history folder: {e} (check its permissions)",
                    self.dir.display()
                ));
            }
        };
        let prefix = format!("{}.", self.key);
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                n.starts_with(&prefix) && n.ends_with(".json") && parse_name(n, &self.key).is_some()
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// This key's records dated up to `as_of` (`upto`: `<=`, else `<`), oldest first. The
    /// records dated after it are named in one warning and left out.
    fn records_until(&self, as_of: DateTime<Utc>, upto: bool) -> Result<Vec<String>, String> {
        let limit = compact(as_of);
        let mut kept = Vec::new();
        let mut future = Vec::new();
        for name in self.records()? {
            let time = parse_name(&name, &self.key).expect("listed names parse");
            if time > limit.as_str() {
                future.push(name);
            } else if upto || time < limit.as_str() {
                kept.push(name);
            }
        }
        let new: Vec<&String> = future
            .iter()
            .filter(|n| self.warned.borrow_mut().insert((*n).clone()))
            .collect();
        if !new.is_empty() {
            tracing::warn!(
                "history: {} record(s) in {} are dated after this run's as-of {}: never a baseline, never counted or removed by --history-keep: {}",
                new.len(),
                self.dir.display(),
                as_of.format("%Y-%m-%dT%H:%M:%SZ"),
                new.iter()
                    .map(|n| crate::text::shown(n, 120))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(kept)
    }

    /// A record's bytes, without its signature line; `None` (with one warning naming it)
    /// when a key is set and its signature does not verify.
    fn read_signed(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.dir.join(name);
        let bytes = crate::fsio::read_limited_in_dir(&path, "history record", MAX_RECORD_BYTES)
            .map_err(|e| e.to_string())?;
        let (content, line) = split(&bytes);
        if let Some(key) = &self.signer
            && let Err(why) = key.verify(content, line)
        {
            if self.warned.borrow_mut().insert(name.to_string()) {
                tracing::warn!(
                    "history: {} is skipped: {why} (with a history key set, only records signed with it are believed; remove the file if it is not yours)",
                    path.display()
                );
            }
            return Ok(None);
        }
        Ok(Some(content.to_vec()))
    }

    /// A record's trend point, from its head; `None` when it is skipped.
    fn read_point(&self, name: &str) -> Result<Option<TrendPoint>, String> {
        let Some(bytes) = self.read_signed(name)? else {
            return Ok(None);
        };
        let shown = crate::storage::shown::path(&self.dir.join(name));
        let head: Head = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{shown}:{}:{}: not a valid history record: {e} (remove the file, or move it out of the history folder)",
                e.line(),
                e.column()
            )
        })?;
        if head.kind != RECORD_KIND
            || head.schema_version > HISTORY_SCHEMA_VERSION
            || head.key != self.key
            || Some(compact(head.as_of)) != parse_name(name, &self.key).map(str::to_string)
        {
            return Err(format!(
                "{shown}: not a history record of this folder's kind, version, key or time (remove the file)"
            ));
        }
        let o = &head.summary.open;
        Ok(Some(TrendPoint {
            as_of: head.as_of,
            open: [o.critical, o.high, o.medium, o.low],
            complete: head.complete,
        }))
    }

    /// A record, read and checked; `None` when it is skipped.
    fn read(&self, name: &str) -> Result<Option<Record>, String> {
        let Some(bytes) = self.read_signed(name)? else {
            return Ok(None);
        };
        let shown = crate::storage::shown::path(&self.dir.join(name));
        let record = parse_record(&bytes, &shown)?;
        if record.key != self.key
            || Some(compact(record.as_of)) != parse_name(name, &self.key).map(str::to_string)
        {
            return Err(format!(
                "{shown}: the record's key or as-of time does not match its file name (remove the file)"
            ));
        }
        Ok(Some(record))
    }

    /// The last run recorded before `as_of` whose record is believed, as a baseline;
    /// `None` when there is none. A record of the same instant (the same run repeated) is
    /// never its own baseline.
    pub fn latest(&self, as_of: DateTime<Utc>) -> Result<Option<Baseline>, String> {
        for name in self.records_until(as_of, false)?.iter().rev() {
            if let Some(record) = self.read(name)? {
                let file = crate::storage::shown::path(&self.dir.join(name));
                return Ok(Some(record.into_baseline(file, Origin::History)));
            }
        }
        Ok(None)
    }

    /// The trend over the recorded runs (the newest `keep` believed records before
    /// `current`'s time), with `current` last.
    pub fn trend(&self, current: TrendPoint) -> Result<Vec<TrendPoint>, String> {
        let mut points = Vec::new();
        for name in self.records_until(current.as_of, false)?.iter().rev() {
            if points.len() + 1 >= self.keep {
                break;
            }
            if let Some(point) = self.read_point(name)? {
                points.push(point);
            }
        }
        points.reverse();
        points.push(current);
        Ok(points)
    }

    /// Writes `record` as a file: its JSON, and its signature line when a key is set
    /// (computed as the JSON is written: a large record is never held as bytes).
    pub fn write_record(
        &self,
        record: &Record,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        struct Tee<'a> {
            out: &'a mut dyn std::io::Write,
            signer: Option<super::signing::Signer>,
        }
        impl std::io::Write for Tee<'_> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let n = self.out.write(buf)?;
                if let Some(s) = &mut self.signer {
                    s.update(&buf[..n]);
                }
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.out.flush()
            }
        }
        let mut tee = Tee {
            out,
            signer: self.signer.as_ref().map(HistoryKey::signer),
        };
        serde_json::to_writer(&mut tee, record)?;
        std::io::Write::write_all(&mut tee, b"\n")?;
        match tee.signer.take() {
            Some(signer) => tee.out.write_all(&signer.finish()),
            None => Ok(()),
        }
    }

    /// A new, unique file name for `record`.
    pub fn record_name(&self, record: &Record) -> String {
        format!("{}.{}.{}.json", self.key, compact(record.as_of), nonce(0))
    }

    /// Removes this key's oldest records beyond `keep`, among those dated up to `as_of`;
    /// `written`, this run's own record, is never removed, and records dated after `as_of`
    /// are not counted. Another run may remove the same file at the same time: a record
    /// already gone is not an error.
    pub fn prune(&self, as_of: DateTime<Utc>, written: &str) -> Result<(), String> {
        let names = self.records_until(as_of, true)?;
        let extra = names.len().saturating_sub(self.keep);
        for name in names[..extra].iter().filter(|n| n.as_str() != written) {
            let path = self.dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(format!(
                        "{}: cannot remove an old history record: {e} (check the folder's permissions)",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The fields of a record before its findings; the findings are skipped, not kept.
#[derive(Deserialize)]
struct Head {
    kind: String,
    schema_version: u32,
    key: String,
    as_of: DateTime<Utc>,
    complete: bool,
    summary: SummaryRecord,
    #[serde(default)]
    #[allow(dead_code)]
    findings: IgnoredAny,
}

/// `20261126T104500Z`: sorts like the time it names.
fn compact(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// True when `name` has a record's shape, `<key>.<as-of>.<nonce>.json`, whatever its key
/// (a run copies the records of a shared history prefix before it knows its key).
pub fn looks_like_record(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let Some(rest) = name.strip_suffix(".json") else {
        return false;
    };
    let mut parts = rest.rsplitn(3, '.');
    let (Some(_nonce), Some(time), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !key.is_empty() && parse_name(name, key).is_some_and(|t| t == time)
}

/// The as-of part of a record's name, when the name is `<key>.<as-of>.<nonce>.json`.
fn parse_name<'n>(name: &'n str, key: &str) -> Option<&'n str> {
    let rest = name
        .strip_prefix(key)?
        .strip_prefix('.')?
        .strip_suffix(".json")?;
    let (time, nonce) = rest.split_once('.')?;
    let time_ok =
        time.len() == 16 && chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ").is_ok();
    let nonce_ok = !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    (time_ok && nonce_ok).then_some(time)
}

/// Random enough that two runs at once never choose the same name: the process id, the
/// clock's nanoseconds and the attempt, hashed.
fn nonce(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{}:{nanos}:{attempt}", std::process::id());
    let digest = Sha256::digest(seed.as_bytes());
    crate::ident::hex(&digest[..6])
}

#[cfg(test)]
mod tests;
