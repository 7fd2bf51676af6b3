//! Saved inventories read back for the organization layout: `--from-inventory` with
//! several files, or with folders written by `--save-inventory DIR` (one inventory per
//! audited account and `manifest.json`, or one `manifest-shard-K-of-N.json` per shard).
//!
//! Every file read may be hostile, and nothing a manifest says is taken on its word:
//! - a manifest must agree with itself ([`crate::org::Manifest::check`]);
//! - across the manifests merged, each account has at most one record that is not "in
//!   another shard", and every record of an account agrees on its state, its exclusion and
//!   its scope;
//! - the shards of one run agree on their number; the accounts of a shard whose folder is
//!   missing are not covered (a coverage gap), unless `--only-shard K/N` asks for that
//!   shard's own report;
//! - the files found inside a folder are opened without following links and must be
//!   regular files of that folder, each holding the account it is named for.
//!
//! Merging is linear in the records: accounts are kept in one map by id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ident::AccountId;
use crate::inventory::Inventory;
use crate::org::{
    AccessProblem, Account, AccountRecord, MANIFEST_FILE, MANIFEST_LIMIT, MANIFEST_SCHEMA_VERSION,
    Manifest, Outcome, Selection, Shard, parse_manifest,
};

use super::store::InventoryStore;
use super::{Collected, DefaultAsOf, Exact};

/// Reads saved inventories: files, and directories written by an organization run's
/// `--save-inventory` (their manifests say which accounts were listed and what happened to
/// each; a directory without one contributes its `account-*.json` files). With
/// `only_shard`, only that shard's manifests are read, and the report is that shard's own.
pub(super) fn load_saved(
    paths: &[PathBuf],
    only_shard: Option<Shard>,
) -> Result<Collected, String> {
    let mut merge = Merge::default();
    for path in paths {
        if path.is_dir() {
            merge.directory(path, only_shard)?;
        } else if let Some(shard) = only_shard {
            return Err(format!(
                "{}: --only-shard {shard} reads a shard's folder (its --save-inventory DIR), not a single inventory file",
                path.display()
            ));
        } else {
            let inventory = Inventory::from_json_file(path).map_err(|e| e.to_string())?;
            merge.audited(inventory, path, None)?;
        }
    }
    merge.finish(paths, only_shard)
}

/// An account met while merging: its deciding record, and where that record came from.
struct Merged {
    record: AccountRecord,
    /// The manifest or file that gave the record, for messages.
    from: String,
}

/// The saved inventories and manifests read so far.
#[derive(Default)]
struct Merge {
    accounts: BTreeMap<AccountId, Merged>,
    /// Each inventory is read and checked here, then dropped: the store reads it again
    /// when the run evaluates its account.
    store: InventoryStore,
    /// The first manifest read, for the organization's fields.
    first: Option<(Manifest, String)>,
    /// Whether the manifests read are shards' (`Some(count)`) or an unsharded run's.
    sharded: Option<(Option<Shard>, String)>,
    /// The shards whose manifests were read.
    shards: BTreeSet<u32>,
    earliest: Option<DateTime<Utc>>,
    /// When the inventories read are exact: the run's default as-of.
    exact: Exact,
}

impl Merge {
    fn directory(&mut self, dir: &Path, only_shard: Option<Shard>) -> Result<(), String> {
        let manifests = manifest_files(dir, only_shard)?;
        if manifests.is_empty() {
            if let Some(shard) = only_shard {
                return Err(format!(
                    "{}: no {} here; --only-shard {shard} reads that shard's folder",
                    dir.display(),
                    Shard::manifest_file(Some(shard))
                ));
            }
            return self.loose_files(dir);
        }
        for path in &manifests {
            let shown = path.display().to_string();
            let text = crate::fsio::read_limited_text_in_dir(path, "manifest", MANIFEST_LIMIT)
                .map_err(|e| e.to_string())?;
            let manifest = parse_manifest(&text, &shown)?;
            drop(text);
            self.manifest(dir, manifest, &shown)?;
        }
        Ok(())
    }

    /// A directory without a manifest: its `account-*.json` files.
    fn loose_files(&mut self, dir: &Path) -> Result<(), String> {
        let files = files_named(dir, |n| n.starts_with("account-") && n.ends_with(".json"))?;
        if files.is_empty() {
            return Err(format!(
                "{}: no {MANIFEST_FILE} (or manifest-shard-*.json) and no account-*.json inventory in this directory",
                dir.display()
            ));
        }
        for file in files {
            let inventory = read_inventory_in_dir(&file)?;
            self.audited(inventory, &file, None)?;
        }
        Ok(())
    }

    fn manifest(&mut self, dir: &Path, mut manifest: Manifest, shown: &str) -> Result<(), String> {
        let shard = manifest.selection.shard;
        let file_name = Path::new(shown)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file_name != Shard::manifest_file(shard) {
            return Err(format!(
                "{shown}: holds the manifest of {}, which is saved as {}; the file was renamed (save the inventories again with --save-inventory DIR)",
                shard.map_or("an unsharded run".to_string(), |s| format!("shard {s}")),
                Shard::manifest_file(shard)
            ));
        }
        match &self.sharded {
            None => self.sharded = Some((shard, shown.to_string())),
            Some((earlier, from)) => {
                let count = |s: &Option<Shard>| s.map(|s| s.count);
                if count(earlier) != count(&shard) {
                    let what = |s: &Option<Shard>| {
                        s.map_or("an unsharded run".to_string(), |s| {
                            format!("a run of {} shards", s.count)
                        })
                    };
                    return Err(format!(
                        "{shown}: is the manifest of {}, but {from} is of {}; merge the folders of one run",
                        what(&shard),
                        what(earlier)
                    ));
                }
            }
        }
        if let Some(s) = shard {
            self.shards.insert(s.index);
        }
        for record in std::mem::take(&mut manifest.accounts) {
            if let Outcome::Audited { file } = &record.result {
                // Manifest::check made sure the file is the account's own.
                let file = dir.join(file.as_deref().unwrap_or_default());
                let inventory = read_inventory_in_dir(&file)?;
                if inventory.account_id.as_ref() != Some(&record.account.id) {
                    return Err(format!(
                        "{}: holds account {}, but {shown} says it holds account {}",
                        file.display(),
                        inventory
                            .account_id
                            .as_ref()
                            .map_or("(none)", |id| id.as_str()),
                        record.account.id
                    ));
                }
                self.audited(inventory, &file, Some(record.account))?;
            } else {
                self.record(record, shown)?;
            }
        }
        self.first = match self.first.take() {
            None => Some((manifest, shown.to_string())),
            Some((first, from)) => {
                if let (Some(a), Some(b)) = (&first.organization_id, &manifest.organization_id)
                    && a != b
                {
                    return Err(format!(
                        "{shown}: organization {}, but {from} is of organization {}; merge the saved inventories of one organization",
                        crate::text::shown(b, 40),
                        crate::text::shown(a, 40)
                    ));
                }
                Some((
                    Manifest {
                        organization_id: first.organization_id.or(manifest.organization_id),
                        management_account_id: first
                            .management_account_id
                            .or(manifest.management_account_id),
                        ..first
                    },
                    from,
                ))
            }
        };
        Ok(())
    }

    /// An audited account: its inventory was read and checked.
    fn audited(
        &mut self,
        inventory: Inventory,
        file: &Path,
        known: Option<Account>,
    ) -> Result<(), String> {
        let Some(id) = inventory.account_id.clone() else {
            return Err(format!(
                "{}: the inventory names no account; an organization report needs each account's id",
                file.display()
            ));
        };
        let account = known.unwrap_or_else(|| Account::named(&id));
        self.store.put_file(&id, file, &inventory);
        self.exact.add(&inventory, &file.display().to_string());
        self.earliest = Some(
            self.earliest
                .map_or(inventory.collected_at, |e| e.min(inventory.collected_at)),
        );
        let record = AccountRecord {
            account,
            result: Outcome::Audited {
                file: Some(file.display().to_string()),
            },
        };
        self.record(record, &file.display().to_string())
    }

    /// Adds one record of an account, or checks it against the record already met: they
    /// agree on the account's state, on its exclusion and scope, and at most one of them is
    /// not "in another shard".
    fn record(&mut self, record: AccountRecord, from: &str) -> Result<(), String> {
        use std::collections::btree_map::Entry;
        let id = record.account.id.clone();
        let known = match self.accounts.entry(id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(Merged {
                    record,
                    from: from.to_string(),
                });
                return Ok(());
            }
            Entry::Occupied(slot) => slot.into_mut(),
        };
        let (a, b) = (&known.record, &record);
        let decided_alike = |o: &Outcome| {
            matches!(
                o,
                Outcome::NotActive | Outcome::Excluded | Outcome::OutOfScope
            )
        };
        let both_audited = matches!(a.result, Outcome::Audited { .. })
            && matches!(b.result, Outcome::Audited { .. });
        let agree = a.account.state == b.account.state
            && match (&a.result, &b.result) {
                (Outcome::OtherShard, other) | (other, Outcome::OtherShard) => {
                    !decided_alike(other)
                }
                (x, y) if decided_alike(x) || decided_alike(y) => x == y,
                _ => false,
            };
        if !agree {
            let said =
                |r: &AccountRecord| format!("{} ({})", r.result.label(), r.account.state.as_str());
            return Err(if both_audited {
                format!(
                    "{from}: account {id} is also in {}; give each account once",
                    known.from
                )
            } else {
                format!(
                    "{from}: account {id} is {}, but {} says {}; each account is audited by one shard, and every shard records its state, exclusion and scope alike (merge the folders of one run)",
                    said(b),
                    known.from,
                    said(a)
                )
            });
        }
        if known.record.result == Outcome::OtherShard {
            *known = Merged {
                record,
                from: from.to_string(),
            };
        }
        Ok(())
    }

    fn finish(self, paths: &[PathBuf], only_shard: Option<Shard>) -> Result<Collected, String> {
        let Merge {
            accounts,
            store,
            first,
            sharded,
            shards,
            earliest,
            exact,
        } = self;
        let shard_count = sharded
            .as_ref()
            .and_then(|(s, _)| s.map(|s| s.count))
            .unwrap_or(1);
        let mut records: Vec<AccountRecord> = accounts.into_values().map(|m| m.record).collect();
        // An account every manifest left to another shard was audited by none: its shard's
        // folder is missing (or it was listed after its shard ran). Unless the user asked
        // for one shard's own report, it is not covered.
        if only_shard.is_none() {
            for record in records.iter_mut() {
                if record.result == Outcome::OtherShard {
                    let shard = Shard::of(&record.account.id, shard_count);
                    let why = if shards.contains(&shard) {
                        format!(
                            "no shard's saved inventory covers this account: shard {shard} of {shard_count} did not list it (it joined the organization after that shard ran); run that shard again"
                        )
                    } else {
                        format!(
                            "no shard's saved inventory covers this account: it belongs to shard {shard} of {shard_count}, whose folder was not given; add that shard's folder, or pass --only-shard to report one shard alone"
                        )
                    };
                    record.result = Outcome::Unreachable(AccessProblem {
                        operation: "shard".into(),
                        error_code: "NotCovered".into(),
                        message: why,
                        role_arn: None,
                    });
                }
            }
        }
        let origin = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let manifest = match first {
            Some((first, _)) => Manifest {
                accounts: records,
                selection: Selection {
                    shard: only_shard,
                    ..first.selection
                },
                ..first
            },
            None => Manifest {
                schema_version: MANIFEST_SCHEMA_VERSION,
                listed_at: earliest.unwrap_or_else(Utc::now),
                organization_id: None,
                management_account_id: None,
                caller_account_id: None,
                selection: Selection::default(),
                accounts: records,
            },
        };
        Ok(Collected::organization(
            manifest,
            store,
            origin,
            DefaultAsOf::Saved(exact),
        ))
    }
}

/// A saved inventory found inside a folder: a regular file of that folder, not a link.
fn read_inventory_in_dir(file: &Path) -> Result<Inventory, String> {
    let text = crate::fsio::read_limited_text_in_dir(
        file,
        "saved inventory",
        crate::fsio::MAX_DATA_FILE_BYTES,
    )
    .map_err(|e| e.to_string())?;
    Inventory::from_json_str(&text, &file.display().to_string()).map_err(|e| e.to_string())
}

/// The manifests of a saved directory: `manifest.json`, and one `manifest-shard-K-of-N.json`
/// per shard of a sharded run, in name order (with `only_shard`, that shard's alone). Other
/// files (a shard's temporary files among them) are ignored.
fn manifest_files(dir: &Path, only_shard: Option<Shard>) -> Result<Vec<PathBuf>, String> {
    let wanted = only_shard.map(|s| Shard::manifest_file(Some(s)));
    files_named(dir, |n| match &wanted {
        Some(name) => n == name,
        None => n == MANIFEST_FILE || (n.starts_with("manifest-shard-") && n.ends_with(".json")),
    })
}

/// The files of `dir` whose names `wanted` takes, in name order.
fn files_named(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read the directory: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&wanted))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests;
