//! S3 locations of a run: `--history`, `--baseline`, `--out-dir`, `--save-inventory` and
//! `--from-inventory` given as `s3://…` ([`crate::storage`]).
//!
//! Before anything else, each S3 location is checked and its inputs copied into the run's
//! private temporary folder: the baseline (an object, or the report set the pointer of a
//! prefix names), the saved inventories, the history's records; an output prefix is
//! leased (one run at a time) and proved writable by a probe object
//! (`.keyhygiene-probe`, overwritten each run, never deleted). The flags then name the
//! temporary folders, and the pipeline runs as on a local disk. At the end of a run that
//! wrote its reports, what it wrote is published in order: saved inventories, the report
//! set under its own prefix, the history record (`If-None-Match: *`; the records
//! `--history-keep` pruned are deleted), then the set's pointer, last. A run that stops
//! with an error publishes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::AuditArgs;
use crate::storage::lease::{self, Lease};
use crate::storage::{Location, Moved, S3, S3Options, S3Url, Write, Written, sets, shown};

/// The largest file copied from S3: more than any file keyhygiene reads allows.
const FETCH_LIMIT: u64 = 512 << 20;
/// The probe object written under each output prefix before the crawl.
const PROBE: &str = ".keyhygiene-probe";

/// The run's S3 locations and their private folder.
pub(super) struct Remote {
    s3: S3,
    _temp: tempfile::TempDir,
    /// The report set's name under `runs/`: the run's start (UTC) and a random suffix.
    run: String,
    out: Option<(S3Url, PathBuf, Lease)>,
    /// The prefix or object saved inventories go to, and the local folder or file.
    save: Option<(S3Url, PathBuf)>,
    /// The history prefix, its local copy, and the names copied.
    history: Option<(S3Url, PathBuf, BTreeSet<String>)>,
}

/// What the run published.
pub(super) struct Published {
    pub lines: Vec<String>,
    pub moved: Moved,
}

impl Remote {
    /// Checks every S3 location of `args`, copies its inputs, leases and probes its
    /// outputs, and points the flags at the private folder. `None` when no flag names S3.
    pub fn prepare(args: &mut AuditArgs) -> Result<Option<Remote>, String> {
        let history = s3_of("--history", args.history.as_deref())?;
        let baseline = s3_of("--baseline", args.baseline.as_deref())?;
        let out = s3_of("--out-dir", Some(&args.out_dir))?;
        let save = s3_of("--save-inventory", args.save_inventory.as_deref())?;
        let mut from = Vec::new();
        for path in &args.from_inventory {
            from.push(s3_of("--from-inventory", Some(path))?);
        }
        if [&history, &baseline, &out, &save]
            .iter()
            .all(|l| l.is_none())
            && from.iter().all(Option::is_none)
        {
            return Ok(None);
        }
        for (flag, url) in [("--history", &history), ("--out-dir", &out)] {
            if let Some(url) = url
                && !url.is_prefix()
            {
                return Err(format!(
                    "{flag} {url}: name a prefix, ending with '/' (e.g. {url}/)"
                ));
            }
        }
        let temp = tempfile::Builder::new()
            .prefix("keyhygiene-s3-")
            .tempdir()
            .map_err(|e| format!("cannot create a private temporary folder: {e}"))?;
        let s3 = S3::connect(&S3Options {
            profile: args.profile.clone(),
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
            kms: args.s3_kms(),
        })?;
        let run = run_name();
        let root = temp.path().to_path_buf();

        // Inputs first: nothing is written anywhere until they all read.
        for (i, (url, path)) in from.iter().zip(args.from_inventory.iter_mut()).enumerate() {
            let Some(url) = url else { continue };
            let local = root.join(format!("from-{i}"));
            *path = fetch_inventory(&s3, url, &local)?;
            shown::register(path, url.to_string());
        }
        if let Some(url) = &baseline {
            let local = root.join("baseline");
            let (path, object) = fetch_baseline(&s3, url, &local)?;
            shown::register(&local, object.parent().to_string());
            args.baseline = Some(path);
        }
        let history = match history {
            Some(url) => {
                let local = root.join("history");
                let names = sets::fetch_prefix(
                    &s3,
                    &url,
                    &local,
                    &crate::baseline::history::looks_like_record,
                    FETCH_LIMIT,
                )?;
                shown::register(&local, url.to_string());
                args.history = Some(local.clone());
                Some((url, local, names.into_iter().collect()))
            }
            None => None,
        };

        // Outputs: probed, pointed at the private folder, and the output prefix leased
        // last (a run that stops before it holds no lease).
        if let Some(url) = &out {
            probe(&s3, url)?;
        }
        let save = match save {
            Some(url) => {
                let prefix = if url.is_prefix() {
                    url.clone()
                } else {
                    url.parent()
                };
                probe(&s3, &prefix)?;
                let local = if url.is_prefix() {
                    root.join("save")
                } else {
                    root.join("save-file").join(url.name())
                };
                shown::register(&local, url.to_string());
                args.save_inventory = Some(local.clone());
                Some((url, local))
            }
            None => None,
        };
        if let Some((url, _, _)) = &history {
            probe(&s3, url)?;
        }
        let out = match out {
            Some(url) => {
                let wait = args.wait_lock.unwrap_or(Duration::ZERO);
                let lease = lease::take(&s3, &url, &run, wait)?;
                let local = root.join("out");
                shown::register(&local, url.join(&format!("runs/{run}/")).to_string());
                args.out_dir = local.clone();
                Some((url, local, lease))
            }
            None => None,
        };
        Ok(Some(Remote {
            s3,
            _temp: temp,
            run,
            out,
            save,
            history,
        }))
    }

    /// Checks what only the layout tells: an organization saves a folder (a prefix), a
    /// single account one file (an object).
    pub fn check_layout(&self, organization: bool) -> Result<(), String> {
        match &self.save {
            Some((url, _)) if organization && !url.is_prefix() => Err(format!(
                "--save-inventory {url}: an organization run saves a folder: name a prefix, ending with '/'"
            )),
            Some((url, _)) if !organization && url.is_prefix() => Err(format!(
                "--save-inventory {url}: a single account's inventory is one object: name it, e.g. {url}inventory.json"
            )),
            _ => Ok(()),
        }
    }

    /// Publishes what the run wrote, in order; the pointer last. The lease is given back
    /// whether or not the publication succeeded.
    pub fn publish(self) -> Result<Published, String> {
        let published = self.publish_all();
        let released = self.release();
        let published = published?;
        released?;
        Ok(published)
    }

    fn publish_all(&self) -> Result<Published, String> {
        let mut lines = Vec::new();
        if let Some((url, local)) = &self.save {
            if url.is_prefix() {
                let mut files = Vec::new();
                sets::walk(local, local, &mut files)?;
                // The manifests last: a reader of the prefix finds every file they name.
                let (manifests, accounts): (Vec<_>, Vec<_>) = files
                    .into_iter()
                    .map(|(name, path)| (url.join(&name), path))
                    .partition(|(key, _)| key.name().starts_with("manifest"));
                self.s3.put_files(&accounts)?;
                self.s3.put_files(&manifests)?;
            } else if local.is_file() {
                self.s3.put_file(url, local, Write::Overwrite)?;
            }
        }
        let set = match &self.out {
            Some((url, local, _)) => {
                Some((url, sets::publish_files(&self.s3, url, local, &self.run)?))
            }
            None => None,
        };
        if let Some((url, local, fetched)) = &self.history {
            let present: BTreeSet<String> = std::fs::read_dir(local)
                .map_err(|e| format!("{}: {e}", local.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            for name in present.difference(fetched) {
                let target = url.join(name);
                if self
                    .s3
                    .put_file(&target, &local.join(name), Write::IfAbsent)?
                    == Written::Conflict
                {
                    return Err(format!(
                        "{target}: another run wrote a record of this name (nothing replaced); try the run again"
                    ));
                }
            }
            for name in fetched.difference(&present) {
                self.s3.delete(&url.join(name))?;
            }
        }
        if let Some((url, target)) = set {
            sets::point(&self.s3, url, &target)?;
            lines.push(format!(
                "published: {} (current set: {})",
                target.prefix,
                url.join(sets::POINTER)
            ));
        }
        Ok(Published {
            lines,
            moved: self.s3.moved(),
        })
    }

    /// The run stopped with an error: nothing is published; the lease is given back.
    pub fn abandon(self) {
        let _ = self.release();
    }

    fn release(self) -> Result<(), String> {
        match self.out {
            Some((_, _, lease)) => lease.release(&self.s3),
            None => Ok(()),
        }
    }
}

/// The S3 location of `flag`, if it names one.
fn s3_of(flag: &str, path: Option<&Path>) -> Result<Option<S3Url>, String> {
    match path.map(|p| Location::parse(flag, p)).transpose()? {
        Some(Location::S3(url)) => Ok(Some(url)),
        _ => Ok(None),
    }
}

/// A write probe under `prefix`, and a read of the prefix: what can fail before the crawl
/// fails before it.
fn probe(s3: &S3, prefix: &S3Url) -> Result<(), String> {
    s3.list(prefix)?;
    s3.put(
        &prefix.join(PROBE),
        b"keyhygiene writes here; this object is overwritten by each run\n".to_vec(),
        Write::Overwrite,
    )?;
    Ok(())
}

/// Copies a saved inventory (an object) or a saved folder (a prefix) to `local`, and
/// returns what `--from-inventory` reads.
fn fetch_inventory(s3: &S3, url: &S3Url, local: &Path) -> Result<PathBuf, String> {
    if url.is_prefix() {
        let names = sets::fetch_prefix(s3, url, local, &|n| n.ends_with(".json"), FETCH_LIMIT)?;
        if names.is_empty() {
            return Err(format!(
                "--from-inventory {url}: no saved inventory under this prefix (check the prefix, or save one with --save-inventory {url})"
            ));
        }
        Ok(local.to_path_buf())
    } else {
        std::fs::create_dir_all(local).map_err(|e| format!("{}: {e}", local.display()))?;
        let path = local.join(url.name());
        if !sets::fetch_object(s3, url, &path, FETCH_LIMIT)? {
            return Err(format!("--from-inventory {url}: no such object"));
        }
        Ok(path)
    }
}

/// Copies the baseline's report.json (and its detached signature, if any) to `local`: the
/// object named, or the report set a prefix's pointer names. Returns the copy and the
/// object it came from.
fn fetch_baseline(s3: &S3, url: &S3Url, local: &Path) -> Result<(PathBuf, S3Url), String> {
    let object = baseline_object(s3, url)?;
    std::fs::create_dir_all(local).map_err(|e| format!("{}: {e}", local.display()))?;
    let path = local.join(object.name());
    if !sets::fetch_object(s3, &object, &path, FETCH_LIMIT)? {
        return Err(format!("--baseline {object}: no such object"));
    }
    let sig = object.parent().join(&format!("{}.sig", object.name()));
    sets::fetch_object(s3, &sig, &local.join(sig.name()), 1 << 20)?;
    Ok((path, object))
}

/// The report.json object a `--baseline` location stands for.
fn baseline_object(s3: &S3, url: &S3Url) -> Result<S3Url, String> {
    if !url.is_prefix() {
        return Ok(url.clone());
    }
    match sets::current(s3, url)? {
        Some(set) => Ok(set.join("report.json")),
        None => Err(format!(
            "--baseline {url}: no report set was published under this prefix ({} is missing); name a report.json object, or run once with --out-dir {url}",
            sets::POINTER
        )),
    }
}

/// The report set's name: the run's start, UTC, and a random suffix.
fn run_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{}:{nanos}", std::process::id());
    let digest = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        crate::ident::hex(&digest[..4])
    )
}
