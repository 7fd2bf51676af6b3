//! `--history DIR`: one small record per run, the baseline of the next run and the points
//! of the trend chart.
//!
//! A record holds the run's summary and, per finding, its id, status, severity, first-seen
//! date and what it is about; never the report. Its name is
//! `<key>.<as-of, YYYYMMDDTHHMMSSZ>.<random>.json`, where the key names what the run
//! audited (`account-<id>`, `organization-<o-id>`, `accounts-<hash of the ids>`, with
//! `-credential-report` appended for runs read from a credential report), so jobs of
//! different accounts or organizations share one folder, and two runs at once never
//! write the same name. Each record is written to an exclusive temporary file and
//! renamed into place; readers skip names that start with `.` (temporary files) and
//! names of other keys. After a run is recorded, only the newest `--history-keep`
//! records of its key are kept.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::record::{HISTORY_SCHEMA_VERSION, RECORD_KIND, Record, SummaryRecord, parse_record};
use super::{Baseline, Origin, TrendPoint};

/// Records kept per key by default: two years of weekly runs.
pub const DEFAULT_KEEP: usize = 104;

/// The largest history record read (a record is about 300 bytes per finding).
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// A history folder, for the runs of one key.
#[derive(Clone, Debug)]
pub struct History {
    pub dir: PathBuf,
    pub key: String,
    pub keep: usize,
}

impl History {
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

    /// A record's trend point, read from the record's head (a trend reads up to `keep`
    /// records, each of a few hundred bytes per finding).
    fn read_point(&self, name: &str) -> Result<TrendPoint, String> {
        let path = self.dir.join(name);
        let shown = path.display().to_string();
        let head: Head = match read_head(&path)? {
            Some(head) => head,
            None => {
                let bytes =
                    crate::fsio::read_limited_in_dir(&path, "history record", MAX_RECORD_BYTES)
                        .map_err(|e| e.to_string())?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "{shown}:{}:{}: not a valid history record: {e} (remove the file, or move it out of the history folder)",
                        e.line(),
                        e.column()
                    )
                })?
            }
        };
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
        Ok(TrendPoint {
            as_of: head.as_of,
            open: [o.critical, o.high, o.medium, o.low],
            complete: head.complete,
        })
    }

    fn read(&self, name: &str) -> Result<Record, String> {
        let path = self.dir.join(name);
        let shown = path.display().to_string();
        let bytes = crate::fsio::read_limited_in_dir(&path, "history record", MAX_RECORD_BYTES)
            .map_err(|e| e.to_string())?;
        let record = parse_record(&bytes, &shown)?;
        if record.key != self.key
            || Some(compact(record.as_of)) != parse_name(name, &self.key).map(str::to_string)
        {
            return Err(format!(
                "{shown}: the record's key or as-of time does not match its file name (remove the file)"
            ));
        }
        Ok(record)
    }

    /// The last run recorded before `as_of`, as a baseline; `None` in an empty folder. A
    /// record of the same instant (the same run repeated) is never its own baseline.
    pub fn latest(&self, as_of: DateTime<Utc>) -> Result<Option<Baseline>, String> {
        let limit = compact(as_of);
        let names = self.records()?;
        let Some(name) = names
            .iter()
            .rev()
            .find(|n| parse_name(n, &self.key).is_some_and(|t| t < limit.as_str()))
        else {
            return Ok(None);
        };
        let record = self.read(name)?;
        let file = self.dir.join(name).display().to_string();
        Ok(Some(record.into_baseline(file, Origin::History)))
    }

    /// The trend over the recorded runs (the newest `keep`, before `current`'s time), with
    /// `current` last.
    pub fn trend(&self, current: TrendPoint) -> Result<Vec<TrendPoint>, String> {
        let limit = compact(current.as_of);
        let names: Vec<String> = self
            .records()?
            .into_iter()
            .filter(|n| parse_name(n, &self.key).is_some_and(|t| t < limit.as_str()))
            .collect();
        let skip = names.len().saturating_sub(self.keep.saturating_sub(1));
        let mut points = Vec::new();
        for name in &names[skip..] {
            points.push(self.read_point(name)?);
        }
        points.push(current);
        Ok(points)
    }

    /// Writes `record` under a new, unique name, then removes this key's records beyond
    /// the newest `keep`. Returns the record's path.
    pub fn write(&self, record: &Record) -> Result<PathBuf, String> {
        self.write_named(record, nonce)
    }

    /// [`History::write`] with the names' random part from `nonce` (one per attempt).
    fn write_named(
        &self,
        record: &Record,
        nonce: impl Fn(u32) -> String,
    ) -> Result<PathBuf, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            format!(
                "{}: cannot create the history folder: {e} (check the path and its permissions)",
                self.dir.display()
            )
        })?;
        let mut last_error = String::new();
        for attempt in 0..5u32 {
            let name = format!(
                "{}.{}.{}.json",
                self.key,
                compact(record.as_of),
                nonce(attempt)
            );
            let path = self.dir.join(&name);
            match crate::fsio::write_new(&path, |out| {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")
            }) {
                Ok(()) => {
                    self.prune()?;
                    return Ok(path);
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(last_error)
    }

    /// Removes this key's oldest records beyond `keep`. Another run may remove the same
    /// file at the same time: a record already gone is not an error.
    fn prune(&self) -> Result<(), String> {
        let names = self.records()?;
        let extra = names.len().saturating_sub(self.keep);
        for name in &names[..extra] {
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

/// The fields of a record that come before its findings.
#[derive(Deserialize)]
struct Head {
    kind: String,
    schema_version: u32,
    key: String,
    as_of: DateTime<Utc>,
    complete: bool,
    summary: SummaryRecord,
}

/// The head of a record as this version writes it (`{…,"summary":{…},"findings":[…]}`,
/// compact, findings last), parsed from the file's first bytes without reading the
/// findings; `None` when the file is not laid out that way (the caller then parses all of
/// it).
fn read_head(path: &Path) -> Result<Option<Head>, String> {
    const HEAD_BYTES: u64 = 16 * 1024;
    let bytes = crate::fsio::read_prefix_in_dir(path, "history record", HEAD_BYTES)
        .map_err(|e| e.to_string())?;
    let marker = b",\"findings\":[";
    let Some(at) = bytes.windows(marker.len()).position(|w| w == marker) else {
        return Ok(None);
    };
    let mut head = bytes[..at].to_vec();
    head.push(b'}');
    Ok(serde_json::from_slice(&head).ok())
}

/// `20261126T104500Z`: sorts like the time it names.
fn compact(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
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
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::record::key_for;
    use super::super::{Audited, RunIdentity};
    use super::*;
    use crate::findings::IdSource;

    #[test]
    fn record_names_carry_the_key_and_sort_by_time() {
        let key = "account-123456789012";
        assert_eq!(
            parse_name("account-123456789012.20261126T104500Z.0a1b2c.json", key),
            Some("20261126T104500Z")
        );
        for bad in [
            "account-123456789012.20261126T104500Z.json",
            "account-123456789012.2026112.0a1b2c.json",
            "account-123456789012.20261126T104500Z.xyz.json",
            "account-1234567890123.20261126T104500Z.0a1b2c.json",
            ".account-123456789012.20261126T104500Z.0a1b2c.json.tmp",
        ] {
            assert_eq!(parse_name(bad, key), None, "{bad}");
        }
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert!(compact(t("2026-01-02T00:00:00Z")) < compact(t("2026-01-10T00:00:00Z")));
        assert_ne!(nonce(0), nonce(1));
    }

    #[test]
    fn a_link_planted_at_a_record_s_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let history = History {
            dir: dir.path().join("history"),
            key: "account-123456789012".into(),
            keep: 10,
        };
        std::fs::create_dir(&history.dir).unwrap();
        let as_of = DateTime::parse_from_rfc3339("2026-11-26T10:45:00Z")
            .unwrap()
            .to_utc();
        let identity = RunIdentity {
            audited: Audited::Account(Some("123456789012".parse().unwrap())),
            id_source: IdSource::Api,
            slice: None,
        };
        let record = Record::of_run(
            &history.key,
            &identity,
            as_of,
            true,
            &crate::findings::FindingSet::default(),
        );
        // The exact name the first attempt will use is a link to the victim.
        let planted = history
            .dir
            .join("account-123456789012.20261126T104500Z.aaaaaa.json");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let names = ["aaaaaa", "bbbbbb"];
        let written = history
            .write_named(&record, |attempt| names[attempt as usize].to_string())
            .unwrap();
        assert!(written.ends_with("account-123456789012.20261126T104500Z.bbbbbb.json"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            std::fs::symlink_metadata(&planted)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(&written)
                .unwrap()
                .file_type()
                .is_file()
        );
    }

    #[test]
    fn keys_name_what_was_audited() {
        let id = |audited, id_source| RunIdentity {
            audited,
            id_source,
            slice: None,
        };
        assert_eq!(
            key_for(
                &id(
                    Audited::Account(Some("123456789012".parse().unwrap())),
                    IdSource::Api
                ),
                &[]
            ),
            "account-123456789012"
        );
        assert_eq!(
            key_for(
                &id(
                    Audited::Account(Some("123456789012".parse().unwrap())),
                    IdSource::CredentialReport
                ),
                &[]
            ),
            "account-123456789012-credential-report"
        );
        assert_eq!(
            key_for(
                &id(
                    Audited::Organization(Some("o-ab/../c".into())),
                    IdSource::Api
                ),
                &[]
            ),
            "organization-o-ab____c"
        );
        let accounts = |ids: &[&str]| {
            key_for(
                &id(Audited::Organization(None), IdSource::Api),
                &ids.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            accounts(&["222222222222", "111111111111"]),
            accounts(&["111111111111", "222222222222"])
        );
        assert_ne!(
            accounts(&["111111111111", "222222222222"]),
            accounts(&["111111111111", "333333333333"])
        );
        let shard = RunIdentity {
            slice: Some("shard-2-of-8".into()),
            ..id(Audited::Organization(Some("o-abc".into())), IdSource::Api)
        };
        assert_eq!(key_for(&shard, &[]), "organization-o-abc-shard-2-of-8");
    }
}
