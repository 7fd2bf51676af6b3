//! The saved form of an organization run: `--save-inventory DIR` (one inventory per
//! audited account and `manifest.json`), and `--from-inventory` reading files and such
//! directories back. Every file read may be hostile: a manifest may only name files in its
//! own directory, an account may appear once, and each file must hold the account it is
//! named for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::fsio::FileSet;
use crate::inventory::Inventory;
use crate::org::{
    AccessProblem, Account, AccountRecord, MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, Manifest,
    Outcome, Selection, Shard, inventory_file_name,
};

use super::org::Collected;
use super::org::store::InventoryStore;

/// The largest `manifest.json` read.
const MANIFEST_LIMIT: u64 = 64 * 1024 * 1024;

/// Stages one audited account's inventory into the `--save-inventory` set and notes its
/// file in the account's record; nothing is visible until the set is committed, after the
/// reports.
pub(super) fn stage_inventory(
    set: &mut FileSet,
    record: &mut AccountRecord,
    inventory: &mut Inventory,
) -> Result<(), String> {
    let name = inventory_file_name(&record.account.id);
    set.stage(&name, |out| inventory.write_json(out))
        .map_err(|e| e.to_string())?;
    if let Outcome::Audited { file } = &mut record.result {
        *file = Some(name);
    }
    Ok(())
}

/// Stages the run's manifest into the `--save-inventory` set, after its inventories.
pub(super) fn stage_manifest(set: &mut FileSet, manifest: &Manifest) -> Result<(), String> {
    // Each shard of a sharded run writes its own manifest, so shards can share a folder.
    set.stage(&Shard::manifest_file(manifest.selection.shard), |out| {
        serde_json::to_writer_pretty(&mut *out, manifest)?;
        out.write_all(b"\n")
    })
    .map_err(|e| e.to_string())
}

/// Reads saved inventories: files, and directories written by an organization run's
/// `--save-inventory` (their manifest says which accounts were listed and what happened to
/// each; a directory without one contributes its `account-*.json` files).
pub(super) fn load_saved(paths: &[PathBuf]) -> Result<Collected, String> {
    let mut records: Vec<AccountRecord> = Vec::new();
    // Each inventory is read and checked here, then dropped: the store reads it again
    // when the run evaluates its account.
    let mut store = InventoryStore::new();
    let mut earliest: Option<chrono::DateTime<Utc>> = None;
    let mut from: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    // The shards whose manifests were read, and how many shards their run had.
    let mut shards: std::collections::BTreeSet<u32> = std::collections::BTreeSet::new();
    let mut shard_count: Option<u32> = None;
    let mut add = |inventory: Inventory,
                   file: &Path,
                   records: &mut Vec<AccountRecord>,
                   known: Option<Account>|
     -> Result<(), String> {
        let Some(id) = inventory.account_id.clone() else {
            return Err(format!(
                "{}: the inventory names no account; an organization report needs each account's id",
                file.display()
            ));
        };
        if let Some(earlier) = from.get(&id) {
            return Err(format!(
                "{}: account {id} is also in {earlier}; give each account once",
                file.display()
            ));
        }
        from.insert(id.clone(), file.display().to_string());
        let account = known.unwrap_or_else(|| Account::named(&id));
        records.retain(|r| r.account.id != id);
        records.push(AccountRecord {
            account,
            result: Outcome::Audited {
                file: Some(file.display().to_string()),
            },
        });
        store.put_file(&id, file, &inventory);
        earliest = Some(earliest.map_or(inventory.collected_at, |e| e.min(inventory.collected_at)));
        Ok(())
    };
    for path in paths {
        if !path.is_dir() {
            let inventory = Inventory::from_json_file(path).map_err(|e| e.to_string())?;
            add(inventory, path, &mut records, None)?;
            continue;
        }
        let manifests = manifest_files(path)?;
        for manifest_path in &manifests {
            let saved = read_manifest(manifest_path)?;
            if let Some(shard) = saved.selection.shard {
                shards.insert(shard.index);
                shard_count = shard_count.or(Some(shard.count));
            }
            for record in &saved.accounts {
                match &record.result {
                    Outcome::Audited { file } => {
                        let name = file.as_deref().unwrap_or_default();
                        if name.is_empty()
                            || name.contains('/')
                            || name.contains('\\')
                            || name.starts_with('.')
                        {
                            return Err(format!(
                                "{}: account {}: `{name}` is not a file name in the same directory; the manifest is damaged",
                                manifest_path.display(),
                                record.account.id
                            ));
                        }
                        let file = path.join(name);
                        let inventory =
                            Inventory::from_json_file(&file).map_err(|e| e.to_string())?;
                        if inventory.account_id.as_deref() != Some(record.account.id.as_str()) {
                            return Err(format!(
                                "{}: holds account {}, but {} says it holds account {}",
                                file.display(),
                                inventory.account_id.as_deref().unwrap_or("(none)"),
                                manifest_path.display(),
                                record.account.id
                            ));
                        }
                        add(inventory, &file, &mut records, Some(record.account.clone()))?;
                    }
                    _ => {
                        // A shard that audited or judged the account beats the shards
                        // that left it to another.
                        match records
                            .iter_mut()
                            .find(|r| r.account.id == record.account.id)
                        {
                            None => records.push(record.clone()),
                            Some(known) if known.result == Outcome::OtherShard => {
                                *known = record.clone()
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            manifest = match manifest {
                None => Some(saved),
                Some(first)
                    if first.organization_id.is_some()
                        && saved.organization_id.is_some()
                        && first.organization_id != saved.organization_id =>
                {
                    return Err(format!(
                        "{}: organization {}, but an earlier manifest is of organization {}; merge the saved inventories of one organization",
                        manifest_path.display(),
                        saved.organization_id.unwrap_or_default(),
                        first.organization_id.unwrap_or_default()
                    ));
                }
                Some(first) => Some(Manifest {
                    organization_id: first.organization_id.or(saved.organization_id),
                    management_account_id: first
                        .management_account_id
                        .or(saved.management_account_id),
                    ..first
                }),
            };
        }
        if manifests.is_empty() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: cannot read the directory: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("account-") && n.ends_with(".json"))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!(
                    "{}: no {MANIFEST_FILE} (or manifest-shard-*.json) and no account-*.json inventory in this directory",
                    path.display()
                ));
            }
            for file in files {
                let inventory = Inventory::from_json_file(&file).map_err(|e| e.to_string())?;
                add(inventory, &file, &mut records, None)?;
            }
        }
    }
    // Merging shards: an account every shard left to another was audited by none, so a
    // shard's output is missing. (One shard's folder alone stays that shard's view.)
    let merged_shards = shards.len() > 1;
    for record in records.iter_mut().filter(|_| merged_shards) {
        if record.result == Outcome::OtherShard {
            record.result = Outcome::Unreachable(AccessProblem {
                operation: "shard".into(),
                error_code: "NotCovered".into(),
                message: format!(
                    "no shard's saved inventory covers this account (it belongs to shard {}); run that shard again or add its folder",
                    shard_name(&record.account.id, shard_count)
                ),
                role_arn: None,
            });
        }
    }
    records.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    let origin = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let manifest = match manifest {
        Some(first) => Manifest {
            accounts: records,
            selection: Selection {
                shard: first.selection.shard.filter(|_| !merged_shards),
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
    Ok(Collected {
        manifest,
        store,
        origin,
    })
}

/// The manifests of a saved directory: `manifest.json`, and one `manifest-shard-K-of-N.json`
/// per shard of a sharded run, in name order. Other files (a shard's temporary files
/// among them) are ignored.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read the directory: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n == MANIFEST_FILE || (n.starts_with("manifest-shard-") && n.ends_with(".json"))
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// "K of N" for an account of a run split into `count` shards.
fn shard_name(account_id: &str, count: Option<u32>) -> String {
    match count {
        Some(n) => format!("{} of {n}", Shard::of(account_id, n)),
        None => "unknown".to_string(),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let text = crate::fsio::read_limited_text(path, "manifest", MANIFEST_LIMIT)
        .map_err(|e| e.to_string())?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a keyhygiene manifest: {e} (write it again with --save-inventory DIR)",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if manifest.schema_version > MANIFEST_SCHEMA_VERSION {
        return Err(format!(
            "{}: manifest schema_version {} is newer than this keyhygiene reads ({MANIFEST_SCHEMA_VERSION}); upgrade keyhygiene",
            path.display(),
            manifest.schema_version
        ));
    }
    Ok(manifest)
}
