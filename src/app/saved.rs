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
    Account, AccountRecord, MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, Manifest, Outcome, Selection,
    inventory_file_name,
};

use super::org::Collected;

/// The largest `manifest.json` read.
const MANIFEST_LIMIT: u64 = 64 * 1024 * 1024;

/// Stages the manifest and one inventory per audited account into `dir`; nothing is
/// visible until the set is committed, after the reports.
pub(super) fn stage_saved(
    dir: &Path,
    manifest: &mut Manifest,
    inventories: &mut BTreeMap<String, Inventory>,
) -> Result<FileSet, String> {
    let mut set = FileSet::new(dir).map_err(|e| e.to_string())?;
    for record in &mut manifest.accounts {
        if let (Outcome::Audited { file }, Some(inventory)) =
            (&mut record.result, inventories.get_mut(&record.account.id))
        {
            let name = inventory_file_name(&record.account.id);
            set.stage(&name, |out| inventory.write_json(out))
                .map_err(|e| e.to_string())?;
            *file = Some(name);
        }
    }
    set.stage(MANIFEST_FILE, |out| {
        serde_json::to_writer_pretty(&mut *out, &*manifest)?;
        out.write_all(b"\n")
    })
    .map_err(|e| e.to_string())?;
    Ok(set)
}

/// Reads saved inventories: files, and directories written by an organization run's
/// `--save-inventory` (their manifest says which accounts were listed and what happened to
/// each; a directory without one contributes its `account-*.json` files).
pub(super) fn load_saved(paths: &[PathBuf]) -> Result<Collected, String> {
    let mut records: Vec<AccountRecord> = Vec::new();
    let mut inventories: BTreeMap<String, Inventory> = BTreeMap::new();
    let mut from: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
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
        inventories.insert(id, inventory);
        Ok(())
    };
    for path in paths {
        if !path.is_dir() {
            let inventory = Inventory::from_json_file(path).map_err(|e| e.to_string())?;
            add(inventory, path, &mut records, None)?;
            continue;
        }
        let manifest_path = path.join(MANIFEST_FILE);
        if manifest_path.exists() {
            let saved = read_manifest(&manifest_path)?;
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
                        if !records.iter().any(|r| r.account.id == record.account.id) {
                            records.push(record.clone());
                        }
                    }
                }
            }
            manifest = match manifest {
                None => Some(saved),
                Some(first) => Some(Manifest {
                    organization_id: first.organization_id.or(saved.organization_id),
                    management_account_id: first
                        .management_account_id
                        .or(saved.management_account_id),
                    ..first
                }),
            };
        } else {
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
                    "{}: no {MANIFEST_FILE} and no account-*.json inventory in this directory",
                    path.display()
                ));
            }
            for file in files {
                let inventory = Inventory::from_json_file(&file).map_err(|e| e.to_string())?;
                add(inventory, &file, &mut records, None)?;
            }
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
            ..first
        },
        None => Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            listed_at: inventories
                .values()
                .map(|i| i.collected_at)
                .min()
                .unwrap_or_else(Utc::now),
            organization_id: None,
            management_account_id: None,
            caller_account_id: None,
            selection: Selection::default(),
            accounts: records,
        },
    };
    Ok(Collected {
        manifest,
        inventories,
        origin,
    })
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
